/* machine.h: the upload state machine, sans-I/O: which chunk may come next, when written bytes
 * must be made durable and acknowledged, and which client message is allowed in which state.
 *
 * Offsets: every byte of an upload passes three marks, in order.
 *   accepted   taken from the client (buffered in memory or already written)
 *   written    in the file (the write returned)
 *   durable    fdatasync'ed after it was written; only this is ever reported to the client
 * so durable <= written <= accepted <= size. A sync is due whenever written crosses the next
 * multiple of ack_every, and at the end; the progress acknowledgement follows that sync. */
#ifndef BH_UPLOAD_MACHINE_H
#define BH_UPLOAD_MACHINE_H

#include <stdint.h>

typedef struct upload_sm_s {
    uint64_t size;
    uint64_t accepted;
    uint64_t written;
    uint64_t durable;
    uint64_t ack_every;
    uint64_t next_ack; /* the next durable offset that earns a progress message */
} upload_sm_t;

/* Chunk verdicts. */
enum {
    UPLOAD_CHUNK_OK = 0,
    UPLOAD_CHUNK_NEGATIVE = 1, /* a negative offset */
    UPLOAD_CHUNK_MISMATCH = 2, /* not at `accepted`: overlapping or leaving a gap */
    UPLOAD_CHUNK_OVERFLOW = 3, /* would end past the declared size */
    UPLOAD_CHUNK_EMPTY = 4,    /* no data */
};

/* Starts at offset (what the file already holds, all of it durable). */
void upload_sm_init(upload_sm_t *m, uint64_t size, uint64_t offset, uint64_t ack_every);
/* Judges a chunk of len bytes claimed to start at offset. */
int upload_sm_check(const upload_sm_t *m, int64_t offset, uint64_t len);
void upload_sm_accept(upload_sm_t *m, uint64_t len);
/* 1 when a write that brings `written` to off must be followed by a sync. */
int upload_sm_sync_due(const upload_sm_t *m, uint64_t off);
/* Records a finished write (written = off) and, if synced, the new durable mark. Returns 1 when a
 * progress message is due (durable passed next_ack, or reached the size). */
int upload_sm_written(upload_sm_t *m, uint64_t off, int synced);
/* Records a finished sync that covered [0, off): durable moves up to off (never back). Returns 1
 * when a progress message is due. */
int upload_sm_durable(upload_sm_t *m, uint64_t off);
/* Rewinds every mark to off (a rejected tus request is cut off). */
void upload_sm_rewind(upload_sm_t *m, uint64_t off);
int upload_sm_complete(const upload_sm_t *m);
/* durable as a percentage of size with one decimal (100 for an empty file). */
double upload_sm_percent(const upload_sm_t *m);

/* ---- the WebSocket session ---------------------------------------------------------------------
 * States of one upload stream connection, and the client messages each accepts. */
typedef enum {
    UPLOAD_SESS_IDLE = 0, /* no upload: "start" or "resume" with an uploadId */
    UPLOAD_SESS_OPENING,  /* the server is preparing an upload: wait for "ready" */
    UPLOAD_SESS_ACTIVE,   /* chunks flow */
    UPLOAD_SESS_PAUSED,   /* after "pause": "resume" or "cancel" */
    UPLOAD_SESS_CLOSING,  /* completing or cancelling: wait for the answer */
} upload_sess_t;

typedef enum {
    UPLOAD_MSG_START = 0,
    UPLOAD_MSG_RESUME_ID, /* "resume" naming an upload (a new connection) */
    UPLOAD_MSG_RESUME,    /* "resume" of this connection's paused upload */
    UPLOAD_MSG_PAUSE,
    UPLOAD_MSG_CANCEL,
    UPLOAD_MSG_CHUNK,
} upload_msg_t;

/* Returns NULL when msg is allowed in state s (the caller then moves on), or the error code to
 * answer with: "upload_in_progress", "no_upload", "paused", "not_paused", "busy". */
const char *upload_sess_check(upload_sess_t s, upload_msg_t msg);

#endif
