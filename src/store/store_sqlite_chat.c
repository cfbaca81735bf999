/* store_sqlite_chat.c: SQLite tables of the chat feature (migrations/sqlite/0005_chat.sql).
 *
 * A chat transaction holds one pooled connection from begin to commit or rollback. Statements
 * are static SQL with ? parameters, prepared once per connection (store__sqlite_prepare caches
 * them by the string's address) and always released, so text bound with SQLITE_STATIC never
 * outlives the caller's buffer. */
#include "store/chat.h"
#include "store/sqlite_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sqlite_chat_tx_s {
    store_chat_tx_t base; /* first: a store_chat_tx_t * is a sqlite_chat_tx_t * */
    sqlite_conn_t *c;
} sqlite_chat_tx_t;

#define CONN(tx) (((sqlite_chat_tx_t *)(tx))->c)

#define ROOM_COLS "id, org_id, kind, key, property_id, task_id, created_at"
#define MSG_COLS                                                                                   \
    "id, room_id, user_id, user_name, client_msg_id, text, created_at, edited_at, deleted_at, "    \
    "deleted_by"

static const char SQL_TARGET_ORG[] = "SELECT 0 FROM organisations WHERE id = ?1";
static const char SQL_TARGET_PROPERTY[] = "SELECT id FROM properties WHERE org_id = ?1 AND id = ?2";
static const char SQL_TARGET_TASK[] = "SELECT property_id FROM tasks WHERE org_id = ?1 AND id = ?2";
static const char SQL_TARGET_USER[] = "SELECT 0 FROM users WHERE org_id = ?1 AND id = ?2";
static const char SQL_ROOM_GET[] =
    "SELECT " ROOM_COLS " FROM chat_rooms WHERE org_id = ?1 AND key = ?2";
static const char SQL_ROOM_INSERT[] =
    "INSERT INTO chat_rooms (org_id, key, kind, property_id, task_id, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (org_id, key) DO NOTHING";
static const char SQL_MEMBER_INSERT[] =
    "INSERT INTO chat_reads (room_id, user_id, last_read_id, updated_at) VALUES (?1, ?2, 0, ?3) "
    "ON CONFLICT (room_id, user_id) DO NOTHING";
/* Names come from the room's organisation only: a user id of another organisation (it cannot
 * join, but a stale row could exist) reads as nameless. */
static const char SQL_MEMBERS[] =
    "SELECT r.user_id, r.last_read_id, COALESCE(u.name, '') FROM chat_reads r "
    "LEFT JOIN users u ON u.id = r.user_id AND u.org_id = ?2 "
    "WHERE r.room_id = ?1 ORDER BY r.user_id LIMIT ?3";
static const char SQL_MSG_BY_CLIENT[] =
    "SELECT " MSG_COLS
    " FROM chat_messages WHERE room_id = ?1 AND user_id = ?2 AND client_msg_id = ?3";
static const char SQL_MSG_GET[] =
    "SELECT " MSG_COLS " FROM chat_messages WHERE room_id = ?1 AND id = ?2";
static const char SQL_MSG_INSERT[] =
    "INSERT INTO chat_messages (room_id, user_id, user_name, client_msg_id, text, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_MSG_EDIT[] =
    "UPDATE chat_messages SET text = ?3, edited_at = ?4 "
    "WHERE room_id = ?1 AND id = ?2 AND deleted_at IS NULL RETURNING " MSG_COLS;
static const char SQL_MSG_DELETE[] =
    "UPDATE chat_messages SET text = '', deleted_at = ?4, deleted_by = ?3 "
    "WHERE room_id = ?1 AND id = ?2 AND deleted_at IS NULL RETURNING " MSG_COLS;
/* A plain range on the (room_id, id) index, walked backwards: no OR in the WHERE clause, so a
 * deep page costs what a first page costs. "From the newest" binds INT64_MAX. */
static const char SQL_HISTORY[] = "SELECT " MSG_COLS " FROM chat_messages "
                                  "WHERE room_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3";
/* The position only moves forwards: the conflict update applies only to a larger id, and then
 * sqlite3_changes() says whether it moved. */
static const char SQL_READ_UPSERT[] =
    "INSERT INTO chat_reads (room_id, user_id, last_read_id, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (room_id, user_id) DO UPDATE SET last_read_id = excluded.last_read_id, "
    "updated_at = excluded.updated_at WHERE excluded.last_read_id > chat_reads.last_read_id";
static const char SQL_READ_GET[] =
    "SELECT last_read_id FROM chat_reads WHERE room_id = ?1 AND user_id = ?2";
static const char SQL_UNREAD[] =
    "WITH p(pos) AS (SELECT COALESCE((SELECT last_read_id FROM chat_reads "
    "WHERE room_id = ?1 AND user_id = ?2), 0)) "
    "SELECT p.pos, (SELECT COUNT(*) FROM chat_messages WHERE room_id = ?1 AND id > p.pos "
    "AND user_id <> ?2 AND deleted_at IS NULL) FROM p";
static const char SQL_ROOMS[] =
    "SELECT r.id, r.org_id, r.kind, r.key, r.property_id, r.task_id, r.created_at, m.last_read_id, "
    "(SELECT MAX(id) FROM chat_messages WHERE room_id = r.id), "
    "(SELECT COUNT(*) FROM chat_messages c WHERE c.room_id = r.id AND c.id > m.last_read_id "
    "AND c.user_id <> ?2 AND c.deleted_at IS NULL) "
    "FROM chat_reads m JOIN chat_rooms r ON r.id = m.room_id "
    "WHERE m.user_id = ?2 AND r.org_id = ?1 ORDER BY r.id LIMIT ?3";

static const char *const kind_names[] = {"org", "property", "task", "dm"};

/* ---- helpers ----------------------------------------------------------------------------------
 */

/* 0 binds NULL: the column's "none". */
static void bind_opt_id(sqlite3_stmt *s, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK) *rc = v > 0 ? sqlite3_bind_int64(s, i, v) : sqlite3_bind_null(s, i);
}

static void read_room(sqlite3_stmt *s, store_chat_room_t *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->org_id = sqlite3_column_int64(s, 1);
    const char *kind = (const char *)sqlite3_column_text(s, 2);
    r->kind = STORE_CHAT_ORG;
    for (int k = 0; kind && k < 4; k++)
        if (strcmp(kind, kind_names[k]) == 0) r->kind = (store_chat_kind_t)k;
    store__sqlite_column_copy(s, 3, r->key, sizeof r->key);
    r->property_id = sqlite3_column_int64(s, 4); /* NULL reads as 0: none */
    r->task_id = sqlite3_column_int64(s, 5);
    r->created_at = sqlite3_column_int64(s, 6);
}

static void read_msg(sqlite3_stmt *s, store_chat_msg_t *m)
{
    m->id = sqlite3_column_int64(s, 0);
    m->room_id = sqlite3_column_int64(s, 1);
    m->user_id = sqlite3_column_int64(s, 2);
    store__sqlite_column_copy(s, 3, m->user_name, sizeof m->user_name);
    store__sqlite_column_copy(s, 4, m->client_msg_id, sizeof m->client_msg_id);
    const char *text = (const char *)sqlite3_column_text(s, 5);
    m->text = xstrndup(text ? text : "", text ? (size_t)sqlite3_column_bytes(s, 5) : 0);
    m->created_at = sqlite3_column_int64(s, 6);
    m->edited_at = sqlite3_column_int64(s, 7);
    m->deleted_at = sqlite3_column_int64(s, 8);
    m->deleted_by = sqlite3_column_int64(s, 9);
}

static int prepare(store_chat_tx_t *tx, const char *sql, sqlite3_stmt **q)
{
    return store__sqlite_prepare(CONN(tx), sql, q);
}

/* Steps q once and reads a message row into *out. BH_ENOTFOUND when there is no row. Releases
 * q on every path. */
static int step_msg(store_chat_tx_t *tx, sqlite3_stmt *q, int src, store_chat_msg_t *out,
                    const char *op)
{
    if (src == SQLITE_OK) src = sqlite3_step(q);
    int rc;
    if (src == SQLITE_ROW) {
        read_msg(q, out);
        rc = 0;
    } else if (src == SQLITE_DONE) {
        rc = BH_ENOTFOUND;
    } else {
        rc = store__sqlite_error(CONN(tx), src, op);
    }
    store__sqlite_release(q);
    return rc;
}

/* Runs a statement that returns no rows; *changes (may be NULL) gets the rows it changed. */
static int step_done(store_chat_tx_t *tx, sqlite3_stmt *q, int src, int *changes, const char *op)
{
    if (src == SQLITE_OK) src = sqlite3_step(q);
    if (changes) *changes = sqlite3_changes(store__sqlite_db(CONN(tx)));
    int rc = src == SQLITE_DONE ? 0 : store__sqlite_error(CONN(tx), src, op);
    store__sqlite_release(q);
    return rc;
}

static void *grow(void *arr, size_t *cap, size_t size)
{
    *cap = *cap ? *cap * 2 : 16;
    return xrealloc(arr, *cap * size);
}

/* ---- transactions -----------------------------------------------------------------------------
 */

/* SQLite's own threshold, restored when a chat write transaction gives its connection back: the
 * pool's connections are shared, and the other features keep the default behaviour. */
#define DEFAULT_AUTOCHECKPOINT 1000

static int chat_begin(store_t *st, int write, store_chat_tx_t **out)
{
    sqlite_conn_t *c;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    if ((rc = store__sqlite_begin(c, write)) != 0) {
        store__sqlite_checkin(st, c);
        return rc;
    }
    /* No checkpoint inside this transaction's COMMIT: see store_chat_checkpoint. */
    if (write) sqlite3_wal_autocheckpoint(store__sqlite_db(c), 0);
    sqlite_chat_tx_t *tx = xmalloc(sizeof *tx);
    tx->base.st = st;
    tx->c = c;
    *out = &tx->base;
    return 0;
}

static int chat_commit(store_chat_tx_t *tx)
{
    sqlite_chat_tx_t *t = (sqlite_chat_tx_t *)tx;
    int rc = store__sqlite_commit(t->c);
    if (rc != 0) store__sqlite_rollback(t->c);
    sqlite3_wal_autocheckpoint(store__sqlite_db(t->c), DEFAULT_AUTOCHECKPOINT);
    store__sqlite_checkin(tx->st, t->c);
    free(t);
    return rc;
}

static void chat_rollback(store_chat_tx_t *tx)
{
    sqlite_chat_tx_t *t = (sqlite_chat_tx_t *)tx;
    store__sqlite_rollback(t->c);
    sqlite3_wal_autocheckpoint(store__sqlite_db(t->c), DEFAULT_AUTOCHECKPOINT);
    store__sqlite_checkin(tx->st, t->c);
    free(t);
}

/* PASSIVE: copies the frames no reader still needs, takes no write lock, never waits; the writer
 * keeps appending meanwhile. When a pass leaves nothing uncopied, the next write transaction
 * starts the log over from its beginning, so the file stops growing. */
static int chat_checkpoint(store_t *st, int *log_frames, int *done_frames)
{
    sqlite_conn_t *c;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    int src = sqlite3_wal_checkpoint_v2(store__sqlite_db(c), NULL, SQLITE_CHECKPOINT_PASSIVE,
                                        log_frames, done_frames);
    /* BUSY: another checkpoint holds the checkpoint lock; it does the same work. */
    rc =
        src == SQLITE_OK || src == SQLITE_BUSY ? 0 : store__sqlite_error(c, src, "chat_checkpoint");
    if (*log_frames < 0) *log_frames = 0; /* -1: not in WAL mode */
    if (*done_frames < 0) *done_frames = 0;
    store__sqlite_checkin(st, c);
    return rc;
}

/* ---- rooms and members ------------------------------------------------------------------------
 */

static int chat_target(store_chat_tx_t *tx, int64_t org_id, store_chat_kind_t kind, int64_t id,
                       int64_t *property_id)
{
    const char *sql = kind == STORE_CHAT_ORG        ? SQL_TARGET_ORG
                      : kind == STORE_CHAT_PROPERTY ? SQL_TARGET_PROPERTY
                      : kind == STORE_CHAT_TASK     ? SQL_TARGET_TASK
                                                    : SQL_TARGET_USER;
    sqlite3_stmt *q;
    int rc = prepare(tx, sql, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    if (kind != STORE_CHAT_ORG) store__sqlite_bind_int64(q, 2, id, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        *property_id = sqlite3_column_int64(q, 0);
        rc = 0;
    } else {
        rc = src == SQLITE_DONE ? BH_ENOTFOUND : store__sqlite_error(CONN(tx), src, "chat_target");
    }
    store__sqlite_release(q);
    return rc;
}

static int chat_room_get(store_chat_tx_t *tx, int64_t org_id, const char *key,
                         store_chat_room_t *out)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_ROOM_GET, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    store__sqlite_bind_text(q, 2, key, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        read_room(q, out);
        rc = 0;
    } else {
        rc =
            src == SQLITE_DONE ? BH_ENOTFOUND : store__sqlite_error(CONN(tx), src, "chat_room_get");
    }
    store__sqlite_release(q);
    return rc;
}

static int chat_room_ensure(store_chat_tx_t *tx, store_chat_room_t *r)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_ROOM_INSERT, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, r->org_id, &src);
    store__sqlite_bind_text(q, 2, r->key, &src);
    store__sqlite_bind_text(q, 3, kind_names[r->kind], &src);
    bind_opt_id(q, 4, r->property_id, &src);
    bind_opt_id(q, 5, r->task_id, &src);
    store__sqlite_bind_int64(q, 6, clock_unix_ms(), &src);
    if ((rc = step_done(tx, q, src, NULL, "chat_room_insert")) != 0) return rc;
    store_chat_room_t got;
    memset(&got, 0, sizeof got);
    if ((rc = chat_room_get(tx, r->org_id, r->key, &got)) != 0) return rc;
    *r = got;
    return 0;
}

static int chat_member_ensure(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t now)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_MEMBER_INSERT, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, user_id, &src);
    store__sqlite_bind_int64(q, 3, now, &src);
    return step_done(tx, q, src, NULL, "chat_member_insert");
}

static int chat_members(store_chat_tx_t *tx, int64_t org_id, int64_t room_id, size_t max,
                        store_chat_member_t **out, size_t *n)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_MEMBERS, &q);
    if (rc != 0) return rc;
    store_chat_member_t *arr = NULL;
    size_t len = 0, cap = 0;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, org_id, &src);
    store__sqlite_bind_int64(q, 3, (int64_t)max, &src);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(q)) != SQLITE_ROW) break;
        if (len == cap) arr = grow(arr, &cap, sizeof *arr);
        store_chat_member_t *m = &arr[len++];
        m->user_id = sqlite3_column_int64(q, 0);
        m->last_read_id = sqlite3_column_int64(q, 1);
        store__sqlite_column_copy(q, 2, m->name, sizeof m->name);
    }
    rc = src == SQLITE_DONE ? 0 : store__sqlite_error(CONN(tx), src, "chat_members");
    store__sqlite_release(q);
    if (rc != 0) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

/* ---- messages ---------------------------------------------------------------------------------
 */

static int chat_msg_by_client(store_chat_tx_t *tx, int64_t room_id, int64_t user_id,
                              const char *client_msg_id, store_chat_msg_t *out)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_MSG_BY_CLIENT, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, user_id, &src);
    store__sqlite_bind_text(q, 3, client_msg_id, &src);
    return step_msg(tx, q, src, out, "chat_msg_by_client");
}

static int chat_msg_get(store_chat_tx_t *tx, int64_t room_id, int64_t id, store_chat_msg_t *out)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_MSG_GET, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, id, &src);
    return step_msg(tx, q, src, out, "chat_msg_get");
}

static int chat_msg_insert(store_chat_tx_t *tx, store_chat_msg_t *m)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_MSG_INSERT, &q);
    if (rc != 0) return rc;
    if (m->created_at == 0) m->created_at = clock_unix_ms();
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, m->room_id, &src);
    store__sqlite_bind_int64(q, 2, m->user_id, &src);
    store__sqlite_bind_text(q, 3, m->user_name, &src);
    store__sqlite_bind_text(q, 4, m->client_msg_id, &src);
    store__sqlite_bind_text(q, 5, m->text, &src);
    store__sqlite_bind_int64(q, 6, m->created_at, &src);
    if ((rc = step_done(tx, q, src, NULL, "chat_msg_insert")) != 0) return rc;
    m->id = sqlite3_last_insert_rowid(store__sqlite_db(CONN(tx)));
    m->edited_at = m->deleted_at = m->deleted_by = 0;
    return 0;
}

static int chat_msg_edit(store_chat_tx_t *tx, int64_t room_id, int64_t id, const char *text,
                         int64_t now, store_chat_msg_t *out)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_MSG_EDIT, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, id, &src);
    store__sqlite_bind_text(q, 3, text, &src);
    store__sqlite_bind_int64(q, 4, now, &src);
    return step_msg(tx, q, src, out, "chat_msg_edit");
}

static int chat_msg_delete(store_chat_tx_t *tx, int64_t room_id, int64_t id, int64_t by,
                           int64_t now, store_chat_msg_t *out)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_MSG_DELETE, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, id, &src);
    store__sqlite_bind_int64(q, 3, by, &src);
    store__sqlite_bind_int64(q, 4, now, &src);
    rc = step_msg(tx, q, src, out, "chat_msg_delete");
    /* No row changed: the message is missing, or already deleted (which is success). */
    if (rc == BH_ENOTFOUND) rc = chat_msg_get(tx, room_id, id, out);
    return rc;
}

static int chat_history(store_chat_tx_t *tx, int64_t room_id, int64_t before_id, size_t limit,
                        store_chat_msg_t **out, size_t *n)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_HISTORY, &q);
    if (rc != 0) return rc;
    store_chat_msg_t *arr = NULL;
    size_t len = 0, cap = 0;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, before_id > 0 ? before_id : INT64_MAX, &src);
    store__sqlite_bind_int64(q, 3, (int64_t)limit, &src);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(q)) != SQLITE_ROW) break;
        if (len == cap) arr = grow(arr, &cap, sizeof *arr);
        store_chat_msg_init(&arr[len]);
        read_msg(q, &arr[len++]);
    }
    rc = src == SQLITE_DONE ? 0 : store__sqlite_error(CONN(tx), src, "chat_history");
    store__sqlite_release(q);
    if (rc != 0) {
        store_chat_msgs_free(arr, len);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

/* ---- read positions ---------------------------------------------------------------------------
 */

static int read_pos(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t *pos)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_READ_GET, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, user_id, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        *pos = sqlite3_column_int64(q, 0);
        rc = 0;
    } else if (src == SQLITE_DONE) {
        *pos = 0;
        rc = 0;
    } else {
        rc = store__sqlite_error(CONN(tx), src, "chat_read_get");
    }
    store__sqlite_release(q);
    return rc;
}

static int chat_read_set(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t msg_id,
                         int64_t now, int64_t *pos, int *moved)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_READ_UPSERT, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK, changes = 0;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, user_id, &src);
    store__sqlite_bind_int64(q, 3, msg_id, &src);
    store__sqlite_bind_int64(q, 4, now, &src);
    if ((rc = step_done(tx, q, src, &changes, "chat_read_set")) != 0) return rc;
    *moved = changes > 0;
    if (*moved) {
        *pos = msg_id;
        return 0;
    }
    return read_pos(tx, room_id, user_id, pos);
}

static int chat_unread(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t *count,
                       int64_t *last_read_id)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_UNREAD, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, room_id, &src);
    store__sqlite_bind_int64(q, 2, user_id, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        *last_read_id = sqlite3_column_int64(q, 0);
        *count = sqlite3_column_int64(q, 1);
        rc = 0;
    } else {
        rc = store__sqlite_error(CONN(tx), src, "chat_unread");
    }
    store__sqlite_release(q);
    return rc;
}

static int chat_rooms(store_chat_tx_t *tx, int64_t org_id, int64_t user_id, store_chat_room_t **out,
                      size_t *n)
{
    sqlite3_stmt *q;
    int rc = prepare(tx, SQL_ROOMS, &q);
    if (rc != 0) return rc;
    store_chat_room_t *arr = NULL;
    size_t len = 0, cap = 0;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    store__sqlite_bind_int64(q, 2, user_id, &src);
    store__sqlite_bind_int64(q, 3, STORE_CHAT_PAGE_MAX, &src);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(q)) != SQLITE_ROW) break;
        if (len == cap) arr = grow(arr, &cap, sizeof *arr);
        store_chat_room_t *r = &arr[len++];
        memset(r, 0, sizeof *r);
        read_room(q, r);
        r->last_read_id = sqlite3_column_int64(q, 7);
        r->last_message_id = sqlite3_column_int64(q, 8);
        r->unread = sqlite3_column_int64(q, 9);
    }
    rc = src == SQLITE_DONE ? 0 : store__sqlite_error(CONN(tx), src, "chat_rooms");
    store__sqlite_release(q);
    if (rc != 0) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

const struct store_chat_ops store__sqlite_chat_ops = {
    .begin = chat_begin,
    .commit = chat_commit,
    .rollback = chat_rollback,
    .target = chat_target,
    .room_get = chat_room_get,
    .room_ensure = chat_room_ensure,
    .member_ensure = chat_member_ensure,
    .members = chat_members,
    .msg_by_client = chat_msg_by_client,
    .msg_get = chat_msg_get,
    .msg_insert = chat_msg_insert,
    .msg_edit = chat_msg_edit,
    .msg_delete = chat_msg_delete,
    .history = chat_history,
    .read_set = chat_read_set,
    .unread = chat_unread,
    .rooms = chat_rooms,
    .checkpoint = chat_checkpoint,
};
