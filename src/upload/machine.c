/* machine.c: offsets, sync cadence and session rules of an upload (see machine.h). */
#include "upload/machine.h"

#include <stddef.h>

static uint64_t next_multiple(uint64_t off, uint64_t step)
{
    return (off / step + 1) * step;
}

void upload_sm_init(upload_sm_t *m, uint64_t size, uint64_t offset, uint64_t ack_every)
{
    m->size = size;
    m->accepted = m->written = m->durable = offset;
    m->ack_every = ack_every ? ack_every : 1;
    m->next_ack = next_multiple(offset, m->ack_every);
}

int upload_sm_check(const upload_sm_t *m, int64_t offset, uint64_t len)
{
    if (offset < 0) return UPLOAD_CHUNK_NEGATIVE;
    if ((uint64_t)offset != m->accepted) return UPLOAD_CHUNK_MISMATCH;
    if (len == 0) return UPLOAD_CHUNK_EMPTY;
    if (len > m->size - m->accepted) return UPLOAD_CHUNK_OVERFLOW;
    return UPLOAD_CHUNK_OK;
}

void upload_sm_accept(upload_sm_t *m, uint64_t len)
{
    m->accepted += len;
}

int upload_sm_sync_due(const upload_sm_t *m, uint64_t off)
{
    return off >= m->next_ack || off == m->size;
}

int upload_sm_written(upload_sm_t *m, uint64_t off, int synced)
{
    m->written = off;
    return synced ? upload_sm_durable(m, off) : 0;
}

int upload_sm_durable(upload_sm_t *m, uint64_t off)
{
    if (off <= m->durable && off != m->size) return 0;
    if (off > m->durable) m->durable = off;
    if (off >= m->next_ack || off == m->size) {
        m->next_ack = next_multiple(off, m->ack_every);
        return 1;
    }
    return 0;
}

void upload_sm_rewind(upload_sm_t *m, uint64_t off)
{
    m->accepted = m->written = m->durable = off;
    m->next_ack = next_multiple(off, m->ack_every);
}

int upload_sm_complete(const upload_sm_t *m)
{
    return m->accepted == m->size;
}

double upload_sm_percent(const upload_sm_t *m)
{
    if (m->size == 0) return 100.0;
    uint64_t permille = m->durable * 1000 / m->size;
    return (double)permille / 10.0;
}

const char *upload_sess_check(upload_sess_t s, upload_msg_t msg)
{
    switch (msg) {
    case UPLOAD_MSG_START:
    case UPLOAD_MSG_RESUME_ID:
        if (s == UPLOAD_SESS_IDLE) return NULL;
        return "upload_in_progress";
    case UPLOAD_MSG_RESUME:
        if (s == UPLOAD_SESS_PAUSED) return NULL;
        if (s == UPLOAD_SESS_IDLE) return "no_upload";
        return s == UPLOAD_SESS_ACTIVE ? "not_paused" : "busy";
    case UPLOAD_MSG_PAUSE:
        if (s == UPLOAD_SESS_ACTIVE) return NULL;
        if (s == UPLOAD_SESS_IDLE) return "no_upload";
        return s == UPLOAD_SESS_PAUSED ? "paused" : "busy";
    case UPLOAD_MSG_CANCEL:
        if (s == UPLOAD_SESS_ACTIVE || s == UPLOAD_SESS_PAUSED) return NULL;
        return s == UPLOAD_SESS_IDLE ? "no_upload" : "busy";
    case UPLOAD_MSG_CHUNK:
        if (s == UPLOAD_SESS_ACTIVE) return NULL;
        if (s == UPLOAD_SESS_PAUSED) return "paused";
        return s == UPLOAD_SESS_IDLE ? "no_upload" : "busy";
    }
    return "busy";
}
