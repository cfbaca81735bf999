/* presence.c: the presence state machine of one user. */
#include "chat/presence.h"

#include <assert.h>
#include <string.h>

void chat_presence_init(chat_presence_t *p)
{
    memset(p, 0, sizeof *p);
    p->status = CHAT_OFFLINE;
}

/* The status the connections call for. With none left, a running grace period keeps the last
 * announced status: that is the whole point of the grace period. */
static chat_status_t derive(const chat_presence_t *p)
{
    if (p->conns > 0) return p->active > 0 ? CHAT_ONLINE : CHAT_AWAY;
    return p->offline_at ? p->status : CHAT_OFFLINE;
}

static int settle(chat_presence_t *p)
{
    chat_status_t s = derive(p);
    if (s == p->status) return 0;
    p->status = s;
    return 1;
}

int chat_presence_connect(chat_presence_t *p, int64_t now_unix_ms)
{
    p->conns++;
    p->active++;
    p->offline_at = 0; /* a reconnect within the grace period: no offline at all */
    p->last_active_ms = now_unix_ms;
    return settle(p);
}

int chat_presence_disconnect(chat_presence_t *p, int was_active, uint64_t now_ms, unsigned grace_ms)
{
    assert(p->conns > 0 && (!was_active || p->active > 0));
    p->conns--;
    if (was_active) p->active--;
    if (p->conns == 0) p->offline_at = grace_ms ? now_ms + grace_ms : 0;
    return settle(p);
}

int chat_presence_set_away(chat_presence_t *p, int away, int64_t now_unix_ms)
{
    if (away) {
        assert(p->active > 0);
        p->active--;
    } else {
        assert(p->active < p->conns);
        p->active++;
        p->last_active_ms = now_unix_ms;
    }
    return settle(p);
}

void chat_presence_touch(chat_presence_t *p, int64_t now_unix_ms)
{
    p->last_active_ms = now_unix_ms;
}

int chat_presence_tick(chat_presence_t *p, uint64_t now_ms)
{
    if (p->conns > 0 || p->offline_at == 0 || now_ms < p->offline_at) return 0;
    p->offline_at = 0;
    return settle(p);
}

const char *chat_status_name(chat_status_t s)
{
    switch (s) {
    case CHAT_OFFLINE:
        return "offline";
    case CHAT_AWAY:
        return "away";
    case CHAT_ONLINE:
        return "online";
    }
    return "offline";
}
