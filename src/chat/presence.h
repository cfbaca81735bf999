/* presence.h: one user's presence across all of their connections (sans-I/O).
 *
 * A user is online while any connection is active, away while every connection is away (the
 * client said so, or it was idle too long), and offline only once the last connection has been
 * gone for a grace period: a page reload closes and reopens within the grace period, so nobody
 * sees the user blink offline. `status` is what was last announced; every call below returns 1
 * when it changed (the caller then broadcasts it), else 0.
 *
 * The caller keeps the per-connection facts (is this connection away?) and passes them in, and
 * supplies the times: monotonic ms for deadlines, wall-clock ms for "last active". The
 * process-wide table that holds one of these per user, under a lock, is chat/users.h. */
#ifndef BH_CHAT_PRESENCE_H
#define BH_CHAT_PRESENCE_H

#include <stdint.h>

typedef enum { CHAT_OFFLINE = 0, CHAT_AWAY, CHAT_ONLINE } chat_status_t;

typedef struct chat_presence_s {
    unsigned conns;         /* connections open */
    unsigned active;        /* of which not away; active <= conns */
    chat_status_t status;   /* as last announced */
    uint64_t offline_at;    /* with no connection left: when the user goes offline (mono ms) */
    int64_t last_active_ms; /* wall clock of the last activity; 0: never */
} chat_presence_t;

/* An offline user who was never seen. */
void chat_presence_init(chat_presence_t *p);
/* A new connection, active. */
int chat_presence_connect(chat_presence_t *p, int64_t now_unix_ms);
/* A connection closed; was_active says whether it counted as active. With grace_ms 0 the user
 * goes offline at once when it was the last one; otherwise the status holds until
 * chat_presence_tick sees the grace period over. */
int chat_presence_disconnect(chat_presence_t *p, int was_active, uint64_t now_ms,
                             unsigned grace_ms);
/* A connection switches between active (away 0) and away (away 1). The caller only calls it for
 * a real switch of that connection. Becoming active is activity (last_active_ms moves). */
int chat_presence_set_away(chat_presence_t *p, int away, int64_t now_unix_ms);
/* Activity that changes no status (a message, typing): only moves last_active_ms. */
void chat_presence_touch(chat_presence_t *p, int64_t now_unix_ms);
/* Ends a grace period that is over. offline_at is 0 afterwards unless one is still running. */
int chat_presence_tick(chat_presence_t *p, uint64_t now_ms);

/* "offline", "away", "online". */
const char *chat_status_name(chat_status_t s);

#endif
