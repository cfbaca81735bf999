/* users.h: the process-wide table of chat users: presence, message rate, and rooms.
 *
 * A user's connections may sit on different workers, and presence is about the user, not a
 * connection: so each user has one entry here, shared by every worker, under one mutex that is
 * held only for a few memory operations. The entry counts the user's connections (and how many
 * are active) for the presence state machine (presence.h), holds the user's token bucket (the
 * rate limit is per user, across tabs and workers), and counts the user's joined rooms, which
 * is where presence changes are announced.
 *
 * Announcements: every change of a user's status, and every room the user newly joins, calls the
 * table's callback WITH THE LOCK HELD, so that one user's announcements reach the callback, and
 * whatever it posts to the workers, in the order they happened (a stale "online" can never
 * overtake an "away"). The callback must only copy what it needs and hand it on (post it); it
 * must not call back into the table.
 *
 * Entries are never freed before the table: a user who went offline keeps their last-active
 * time. All functions are thread-safe. */
#ifndef BH_CHAT_USERS_H
#define BH_CHAT_USERS_H

#include "auth/auth.h"
#include "chat/bucket.h"
#include "chat/presence.h"
#include "chat/room.h"

#include <stddef.h>
#include <stdint.h>

typedef struct chat_users_s chat_users_t;

typedef struct chat_user_room_s {
    char key[CHAT_ROOM_KEY_MAX];
    unsigned count; /* the user's connections joined to it; 0: left by a closed connection, kept
                     * until the next announcement so that it still reaches that room */
} chat_user_room_t;

/* The fields below are guarded by the table's lock: read them only in the callback. */
typedef struct chat_user_s {
    struct chat_user_s *next; /* hash chain */
    int64_t org_id, user_id;
    char name[AUTH_NAME_MAX];
    chat_presence_t pres;
    chat_bucket_t bucket;
    chat_user_room_t *rooms;
    size_t n_rooms, cap_rooms;
} chat_user_t;

/* Called under the lock: room NULL, u's status changed (u->pres.status is the new one; tell u's
 * rooms and the organisation); room not NULL, u is newly in that room (tell that room). */
typedef void (*chat_presence_cb)(void *data, const chat_user_t *u, const char *room);

/* A new table; burst is the size of a new user's (full) token bucket. */
chat_users_t *chat_users_new(chat_presence_cb cb, void *data, unsigned burst);
void chat_users_free(chat_users_t *t);

/* The entry of (org, user), created (offline) if new. Stable until chat_users_free. */
chat_user_t *chat_users_get(chat_users_t *t, int64_t org_id, int64_t user_id);

/* Sets the user's display name (ignored when empty). */
void chat_users_set_name(chat_users_t *t, chat_user_t *u, const char *name);
/* A connection opened (active). name, if not empty, becomes the user's display name. */
void chat_users_connect(chat_users_t *t, chat_user_t *u, const char *name, int64_t now_unix_ms);
/* A connection closed. Returns 1 when a grace period started: the caller must call
 * chat_users_tick for this user once now_ms + grace_ms has passed. */
int chat_users_disconnect(chat_users_t *t, chat_user_t *u, int was_active, uint64_t now_ms,
                          unsigned grace_ms);
/* One connection switches to away (away 1) or back to active (away 0). */
void chat_users_set_away(chat_users_t *t, chat_user_t *u, int away, int64_t now_unix_ms);
/* Activity: moves the last-active time only. */
void chat_users_touch(chat_users_t *t, chat_user_t *u, int64_t now_unix_ms);
/* Ends an expired grace period (announcing offline). Returns 1 while a grace period is still
 * running (call again later), else 0. */
int chat_users_tick(chat_users_t *t, chat_user_t *u, uint64_t now_ms);

/* A connection of u joined / left the room key. prune removes a room whose count drops to 0 at
 * once (an explicit leave); without it the room stays listed (count 0) until the next
 * announcement, which is how a user's last "offline" still reaches the rooms they were in. */
/* room_add returns the user's connection count in that room afterwards; at 1 (newly there) it
 * announces the user's presence to the room. */
unsigned chat_users_room_add(chat_users_t *t, chat_user_t *u, const char *key);
void chat_users_room_del(chat_users_t *t, chat_user_t *u, const char *key, int prune);

/* Takes one token of u's bucket: 0, or BH_EAGAIN with *retry_ms. See bucket.h. */
int chat_users_take(chat_users_t *t, chat_user_t *u, unsigned rate, unsigned burst, uint64_t now_ms,
                    uint64_t *retry_ms);

/* Presence of users ids[0..n) of org_id: status[i] and last_active[i] (0: never seen). Users
 * without an entry read as offline. */
void chat_users_lookup(chat_users_t *t, int64_t org_id, const int64_t *ids, size_t n,
                       chat_status_t *status, int64_t *last_active);

#endif
