/* users.c: the process-wide chat user table. */
#include "chat/users.h"

#include "core/alloc.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct chat_users_s {
    uv_mutex_t lock;
    chat_user_t **buckets;
    size_t n_buckets, n;
    unsigned burst;
    chat_presence_cb cb;
    void *cb_data;
};

static size_t hash(int64_t org, int64_t user, size_t n)
{
    uint64_t h = (uint64_t)org * 0x9E3779B97F4A7C15ull ^ (uint64_t)user * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 31)) & (n - 1);
}

chat_users_t *chat_users_new(chat_presence_cb cb, void *data, unsigned burst)
{
    chat_users_t *t = xcalloc(1, sizeof *t);
    uv_mutex_init(&t->lock);
    t->n_buckets = 256;
    t->buckets = xcalloc(t->n_buckets, sizeof *t->buckets);
    t->burst = burst;
    t->cb = cb;
    t->cb_data = data;
    return t;
}

void chat_users_free(chat_users_t *t)
{
    if (t == NULL) return;
    for (size_t i = 0; i < t->n_buckets; i++) {
        for (chat_user_t *u = t->buckets[i], *next; u; u = next) {
            next = u->next;
            free(u->rooms);
            free(u);
        }
    }
    free(t->buckets);
    uv_mutex_destroy(&t->lock);
    free(t);
}

static void rehash(chat_users_t *t)
{
    size_t n = t->n_buckets * 2;
    chat_user_t **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < t->n_buckets; i++) {
        for (chat_user_t *u = t->buckets[i], *next; u; u = next) {
            next = u->next;
            size_t h = hash(u->org_id, u->user_id, n);
            u->next = b[h];
            b[h] = u;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = n;
}

static chat_user_t *find(chat_users_t *t, int64_t org, int64_t user)
{
    chat_user_t *u = t->buckets[hash(org, user, t->n_buckets)];
    while (u && !(u->org_id == org && u->user_id == user))
        u = u->next;
    return u;
}

chat_user_t *chat_users_get(chat_users_t *t, int64_t org_id, int64_t user_id)
{
    uv_mutex_lock(&t->lock);
    chat_user_t *u = find(t, org_id, user_id);
    if (u == NULL) {
        u = xcalloc(1, sizeof *u);
        u->org_id = org_id;
        u->user_id = user_id;
        chat_presence_init(&u->pres);
        chat_bucket_init(&u->bucket, t->burst, clock_mono_ms());
        size_t h = hash(org_id, user_id, t->n_buckets);
        u->next = t->buckets[h];
        t->buckets[h] = u;
        if (++t->n > t->n_buckets) rehash(t);
    }
    uv_mutex_unlock(&t->lock);
    return u;
}

/* Rooms left by closed connections are kept for one announcement only. */
static void prune_rooms(chat_user_t *u)
{
    size_t k = 0;
    for (size_t i = 0; i < u->n_rooms; i++)
        if (u->rooms[i].count > 0) u->rooms[k++] = u->rooms[i];
    u->n_rooms = k;
}

/* Lock held. */
static void announce(chat_users_t *t, chat_user_t *u, int changed)
{
    if (!changed) return;
    if (t->cb) t->cb(t->cb_data, u, NULL);
    prune_rooms(u);
}

void chat_users_set_name(chat_users_t *t, chat_user_t *u, const char *name)
{
    if (name == NULL || name[0] == '\0') return;
    uv_mutex_lock(&t->lock);
    snprintf(u->name, sizeof u->name, "%s", name);
    uv_mutex_unlock(&t->lock);
}

void chat_users_connect(chat_users_t *t, chat_user_t *u, const char *name, int64_t now_unix_ms)
{
    uv_mutex_lock(&t->lock);
    if (name && name[0]) snprintf(u->name, sizeof u->name, "%s", name);
    int changed = chat_presence_connect(&u->pres, now_unix_ms);
    announce(t, u, changed);
    /* A reconnect within the grace period announces nothing: the rooms the last connection
     * left need no farewell any more. */
    prune_rooms(u);
    uv_mutex_unlock(&t->lock);
}

int chat_users_disconnect(chat_users_t *t, chat_user_t *u, int was_active, uint64_t now_ms,
                          unsigned grace_ms)
{
    uv_mutex_lock(&t->lock);
    announce(t, u, chat_presence_disconnect(&u->pres, was_active, now_ms, grace_ms));
    int pending = u->pres.conns == 0 && u->pres.offline_at != 0;
    uv_mutex_unlock(&t->lock);
    return pending;
}

void chat_users_set_away(chat_users_t *t, chat_user_t *u, int away, int64_t now_unix_ms)
{
    uv_mutex_lock(&t->lock);
    announce(t, u, chat_presence_set_away(&u->pres, away, now_unix_ms));
    uv_mutex_unlock(&t->lock);
}

void chat_users_touch(chat_users_t *t, chat_user_t *u, int64_t now_unix_ms)
{
    uv_mutex_lock(&t->lock);
    chat_presence_touch(&u->pres, now_unix_ms);
    uv_mutex_unlock(&t->lock);
}

int chat_users_tick(chat_users_t *t, chat_user_t *u, uint64_t now_ms)
{
    uv_mutex_lock(&t->lock);
    announce(t, u, chat_presence_tick(&u->pres, now_ms));
    int pending = u->pres.conns == 0 && u->pres.offline_at != 0;
    uv_mutex_unlock(&t->lock);
    return pending;
}

unsigned chat_users_room_add(chat_users_t *t, chat_user_t *u, const char *key)
{
    uv_mutex_lock(&t->lock);
    size_t i = 0;
    while (i < u->n_rooms && strcmp(u->rooms[i].key, key) != 0)
        i++;
    if (i == u->n_rooms) {
        if (u->n_rooms == u->cap_rooms) {
            u->cap_rooms = u->cap_rooms ? u->cap_rooms * 2 : 4;
            u->rooms = xrealloc(u->rooms, u->cap_rooms * sizeof *u->rooms);
        }
        snprintf(u->rooms[i].key, sizeof u->rooms[i].key, "%s", key);
        u->rooms[i].count = 0;
        u->n_rooms++;
    }
    unsigned count = ++u->rooms[i].count;
    if (count == 1 && t->cb) t->cb(t->cb_data, u, key);
    uv_mutex_unlock(&t->lock);
    return count;
}

void chat_users_room_del(chat_users_t *t, chat_user_t *u, const char *key, int prune)
{
    uv_mutex_lock(&t->lock);
    for (size_t i = 0; i < u->n_rooms; i++) {
        if (strcmp(u->rooms[i].key, key) != 0) continue;
        if (u->rooms[i].count > 0) u->rooms[i].count--;
        if (prune && u->rooms[i].count == 0) u->rooms[i] = u->rooms[--u->n_rooms];
        break;
    }
    uv_mutex_unlock(&t->lock);
}

int chat_users_take(chat_users_t *t, chat_user_t *u, unsigned rate, unsigned burst, uint64_t now_ms,
                    uint64_t *retry_ms)
{
    uv_mutex_lock(&t->lock);
    int rc = chat_bucket_take(&u->bucket, rate, burst, now_ms, retry_ms);
    uv_mutex_unlock(&t->lock);
    return rc;
}

void chat_users_lookup(chat_users_t *t, int64_t org_id, const int64_t *ids, size_t n,
                       chat_status_t *status, int64_t *last_active)
{
    uv_mutex_lock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        chat_user_t *u = find(t, org_id, ids[i]);
        status[i] = u ? u->pres.status : CHAT_OFFLINE;
        last_active[i] = u ? u->pres.last_active_ms : 0;
    }
    uv_mutex_unlock(&t->lock);
}
