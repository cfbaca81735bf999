/* chat.c: argument checks and dispatch of the chat store operations (see chat.h). */
#include "store/chat.h"

#include "core/err.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define OPS(tx) ((tx)->st->vt->chat)

static int fits(const char *s, size_t cap)
{
    return s != NULL && strnlen(s, cap) < cap;
}

static int kind_valid(store_chat_kind_t k)
{
    return (unsigned)k <= STORE_CHAT_DM;
}

void store_chat_msg_init(store_chat_msg_t *m)
{
    memset(m, 0, sizeof *m);
}

void store_chat_msg_dispose(store_chat_msg_t *m)
{
    free(m->text);
    store_chat_msg_init(m);
}

void store_chat_msgs_free(store_chat_msg_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(msgs[i].text);
    free(msgs);
}

int store_chat_begin(store_t *st, int write, store_chat_tx_t **out)
{
    *out = NULL;
    if (st->vt->chat == NULL || st->vt->chat->begin == NULL) return BH_ECONFIG;
    return st->vt->chat->begin(st, write, out);
}

int store_chat_commit(store_chat_tx_t *tx)
{
    return OPS(tx)->commit(tx);
}

void store_chat_rollback(store_chat_tx_t *tx)
{
    if (tx) OPS(tx)->rollback(tx);
}

int store_chat_target(store_chat_tx_t *tx, int64_t org_id, store_chat_kind_t kind, int64_t id,
                      int64_t *property_id)
{
    int64_t dummy;
    if (property_id == NULL) property_id = &dummy;
    *property_id = 0;
    if (org_id <= 0 || !kind_valid(kind) || (kind != STORE_CHAT_ORG && id <= 0)) return BH_EINVAL;
    return OPS(tx)->target(tx, org_id, kind, id, property_id);
}

int store_chat_room_get(store_chat_tx_t *tx, int64_t org_id, const char *key,
                        store_chat_room_t *out)
{
    memset(out, 0, sizeof *out);
    if (org_id <= 0 || !fits(key, STORE_CHAT_KEY_MAX) || key[0] == '\0') return BH_EINVAL;
    return OPS(tx)->room_get(tx, org_id, key, out);
}

int store_chat_room_ensure(store_chat_tx_t *tx, store_chat_room_t *r)
{
    if (r->org_id <= 0 || !kind_valid(r->kind) || !fits(r->key, STORE_CHAT_KEY_MAX) ||
        r->key[0] == '\0' || r->property_id < 0 || r->task_id < 0)
        return BH_EINVAL;
    return OPS(tx)->room_ensure(tx, r);
}

int store_chat_member_ensure(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t now)
{
    if (room_id <= 0 || user_id <= 0) return BH_EINVAL;
    return OPS(tx)->member_ensure(tx, room_id, user_id, now);
}

int store_chat_members(store_chat_tx_t *tx, int64_t org_id, int64_t room_id, size_t max,
                       store_chat_member_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (room_id <= 0 || max == 0 || max > STORE_CHAT_PAGE_MAX) return BH_EINVAL;
    return OPS(tx)->members(tx, org_id, room_id, max, out, n);
}

int store_chat_msg_by_client(store_chat_tx_t *tx, int64_t room_id, int64_t user_id,
                             const char *client_msg_id, store_chat_msg_t *out)
{
    store_chat_msg_dispose(out);
    if (room_id <= 0 || user_id <= 0 || !fits(client_msg_id, STORE_CHAT_CLIENT_ID_MAX) ||
        client_msg_id[0] == '\0')
        return BH_EINVAL;
    return OPS(tx)->msg_by_client(tx, room_id, user_id, client_msg_id, out);
}

int store_chat_msg_get(store_chat_tx_t *tx, int64_t room_id, int64_t id, store_chat_msg_t *out)
{
    store_chat_msg_dispose(out);
    if (room_id <= 0 || id <= 0) return id <= 0 ? BH_ENOTFOUND : BH_EINVAL;
    return OPS(tx)->msg_get(tx, room_id, id, out);
}

int store_chat_msg_insert(store_chat_tx_t *tx, store_chat_msg_t *m)
{
    if (m->room_id <= 0 || m->user_id <= 0 || !fits(m->user_name, STORE_NAME_MAX) ||
        !fits(m->client_msg_id, STORE_CHAT_CLIENT_ID_MAX) || m->client_msg_id[0] == '\0' ||
        !fits(m->text, STORE_CHAT_TEXT_MAX) || m->text[0] == '\0')
        return BH_EINVAL;
    return OPS(tx)->msg_insert(tx, m);
}

int store_chat_msg_edit(store_chat_tx_t *tx, int64_t room_id, int64_t id, const char *text,
                        int64_t now, store_chat_msg_t *out)
{
    store_chat_msg_dispose(out);
    if (room_id <= 0 || !fits(text, STORE_CHAT_TEXT_MAX) || text[0] == '\0') return BH_EINVAL;
    if (id <= 0) return BH_ENOTFOUND;
    return OPS(tx)->msg_edit(tx, room_id, id, text, now, out);
}

int store_chat_msg_delete(store_chat_tx_t *tx, int64_t room_id, int64_t id, int64_t by, int64_t now,
                          store_chat_msg_t *out)
{
    store_chat_msg_dispose(out);
    if (room_id <= 0 || by <= 0) return BH_EINVAL;
    if (id <= 0) return BH_ENOTFOUND;
    return OPS(tx)->msg_delete(tx, room_id, id, by, now, out);
}

int store_chat_history(store_chat_tx_t *tx, int64_t room_id, int64_t before_id, size_t limit,
                       store_chat_msg_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (room_id <= 0 || before_id < 0 || limit == 0 || limit > STORE_CHAT_PAGE_MAX)
        return BH_EINVAL;
    return OPS(tx)->history(tx, room_id, before_id, limit, out, n);
}

int store_chat_read_set(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t msg_id,
                        int64_t now, int64_t *pos, int *moved)
{
    *pos = 0;
    *moved = 0;
    if (room_id <= 0 || user_id <= 0 || msg_id <= 0) return BH_EINVAL;
    return OPS(tx)->read_set(tx, room_id, user_id, msg_id, now, pos, moved);
}

int store_chat_unread(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t *count,
                      int64_t *last_read_id)
{
    int64_t dummy;
    if (last_read_id == NULL) last_read_id = &dummy;
    *count = *last_read_id = 0;
    if (room_id <= 0 || user_id <= 0) return BH_EINVAL;
    return OPS(tx)->unread(tx, room_id, user_id, count, last_read_id);
}

int store_chat_rooms(store_chat_tx_t *tx, int64_t org_id, int64_t user_id, store_chat_room_t **out,
                     size_t *n)
{
    *out = NULL;
    *n = 0;
    if (org_id <= 0 || user_id <= 0) return BH_EINVAL;
    return OPS(tx)->rooms(tx, org_id, user_id, out, n);
}

int store_chat_checkpoint(store_t *st, int *log_frames, int *done_frames)
{
    int a, b;
    if (log_frames == NULL) log_frames = &a;
    if (done_frames == NULL) done_frames = &b;
    *log_frames = *done_frames = 0;
    if (st->vt->chat == NULL || st->vt->chat->checkpoint == NULL) return 0;
    return st->vt->chat->checkpoint(st, log_frames, done_frames);
}
