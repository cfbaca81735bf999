/* store_pg_chat.c: PostgreSQL tables of the chat feature (migrations/postgres/0005_chat.sql; the
 * SQLite twin is store_sqlite_chat.c).
 *
 * A chat transaction holds one pooled connection from begin to commit or rollback. A write
 * transaction first takes a transaction-scoped advisory lock that every node sharing the
 * database honours: message ids come from a sequence, and only one writer at a time keeps "ids
 * increase in commit order" (store/chat.h) true across nodes, as SQLite's write lock does in one
 * process. Reads take no lock.
 *
 * Unlike SQLite, PostgreSQL aborts a transaction at its first failed statement. The chat writer
 * only refuses ops before their writes or on reads that find nothing (store/chat.h), which are
 * not statement failures, so that difference does not reach it; a real failure fails the batch
 * either way. */
#include "store/chat.h"
#include "store/pg_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pg_chat_tx_s {
    store_chat_tx_t base; /* first: a store_chat_tx_t * is a pg_chat_tx_t * */
    pg_conn_t *c;
} pg_chat_tx_t;

#define CONN(tx) (((pg_chat_tx_t *)(tx))->c)

#define ROOM_COLS "id, org_id, kind, key, property_id, task_id, created_at"
#define MSG_COLS                                                                                   \
    "id, room_id, user_id, user_name, client_msg_id, text, created_at, edited_at, deleted_at, "    \
    "deleted_by"

static const char SQL_TARGET_ORG[] = "SELECT 0 FROM organisations WHERE id = $1";
static const char SQL_TARGET_PROPERTY[] = "SELECT id FROM properties WHERE org_id = $1 AND id = $2";
static const char SQL_TARGET_TASK[] = "SELECT property_id FROM tasks WHERE org_id = $1 AND id = $2";
static const char SQL_TARGET_USER[] = "SELECT 0 FROM users WHERE org_id = $1 AND id = $2";
static const char SQL_ROOM_GET[] =
    "SELECT " ROOM_COLS " FROM chat_rooms WHERE org_id = $1 AND key = $2";
static const char SQL_ROOM_INSERT[] =
    "INSERT INTO chat_rooms (org_id, key, kind, property_id, task_id, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, key) DO NOTHING";
static const char SQL_MEMBER_INSERT[] =
    "INSERT INTO chat_reads (room_id, user_id, last_read_id, updated_at) VALUES ($1, $2, 0, $3) "
    "ON CONFLICT (room_id, user_id) DO NOTHING";
/* Names come from the room's organisation only (see the SQLite twin). */
static const char SQL_MEMBERS[] =
    "SELECT r.user_id, r.last_read_id, COALESCE(u.name, '') FROM chat_reads r "
    "LEFT JOIN users u ON u.id = r.user_id AND u.org_id = $2 "
    "WHERE r.room_id = $1 ORDER BY r.user_id LIMIT $3";
static const char SQL_MSG_BY_CLIENT[] =
    "SELECT " MSG_COLS
    " FROM chat_messages WHERE room_id = $1 AND user_id = $2 AND client_msg_id = $3";
static const char SQL_MSG_GET[] =
    "SELECT " MSG_COLS " FROM chat_messages WHERE room_id = $1 AND id = $2";
static const char SQL_MSG_INSERT[] =
    "INSERT INTO chat_messages (room_id, user_id, user_name, client_msg_id, text, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
static const char SQL_MSG_EDIT[] =
    "UPDATE chat_messages SET text = $3, edited_at = $4 "
    "WHERE room_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING " MSG_COLS;
static const char SQL_MSG_DELETE[] =
    "UPDATE chat_messages SET text = '', deleted_at = $4, deleted_by = $3 "
    "WHERE room_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING " MSG_COLS;
/* "From the newest" binds INT64_MAX: one plain range on the (room_id, id) index. */
static const char SQL_HISTORY[] = "SELECT " MSG_COLS " FROM chat_messages "
                                  "WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
/* The position only moves forwards: the conflict update applies only to a larger id, and the
 * row count says whether it moved. */
static const char SQL_READ_UPSERT[] =
    "INSERT INTO chat_reads (room_id, user_id, last_read_id, updated_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (room_id, user_id) DO UPDATE SET last_read_id = excluded.last_read_id, "
    "updated_at = excluded.updated_at WHERE excluded.last_read_id > chat_reads.last_read_id";
static const char SQL_READ_GET[] =
    "SELECT last_read_id FROM chat_reads WHERE room_id = $1 AND user_id = $2";
static const char SQL_UNREAD[] =
    "WITH p(pos) AS (SELECT COALESCE((SELECT last_read_id FROM chat_reads "
    "WHERE room_id = $1 AND user_id = $2), 0)) "
    "SELECT p.pos, (SELECT COUNT(*) FROM chat_messages WHERE room_id = $1 AND id > p.pos "
    "AND user_id <> $2 AND deleted_at IS NULL) FROM p";
static const char SQL_ROOMS[] =
    "SELECT r.id, r.org_id, r.kind, r.key, r.property_id, r.task_id, r.created_at, m.last_read_id, "
    "(SELECT MAX(id) FROM chat_messages WHERE room_id = r.id), "
    "(SELECT COUNT(*) FROM chat_messages c WHERE c.room_id = r.id AND c.id > m.last_read_id "
    "AND c.user_id <> $2 AND c.deleted_at IS NULL) "
    "FROM chat_reads m JOIN chat_rooms r ON r.id = m.room_id "
    "WHERE m.user_id = $2 AND r.org_id = $1 ORDER BY r.id LIMIT $3";

static const char *const kind_names[] = {"org", "property", "task", "dm"};

/* ---- helpers ----------------------------------------------------------------------------------
 */

#define I64(col) store__pg_get_int64(r, row, (col))

static void read_room(const PGresult *r, int row, store_chat_room_t *m)
{
    const char *kind = PQgetvalue(r, row, 2);
    m->id = I64(0);
    m->org_id = I64(1);
    m->kind = STORE_CHAT_ORG;
    for (int k = 0; k < 4; k++)
        if (strcmp(kind, kind_names[k]) == 0) m->kind = (store_chat_kind_t)k;
    store__pg_get_text(r, row, 3, m->key, sizeof m->key);
    m->property_id = I64(4); /* NULL reads as 0: none */
    m->task_id = I64(5);
    m->created_at = I64(6);
}

static void read_msg(const PGresult *r, int row, store_chat_msg_t *m)
{
    m->id = I64(0);
    m->room_id = I64(1);
    m->user_id = I64(2);
    store__pg_get_text(r, row, 3, m->user_name, sizeof m->user_name);
    store__pg_get_text(r, row, 4, m->client_msg_id, sizeof m->client_msg_id);
    m->text = xstrndup(PQgetvalue(r, row, 5), (size_t)PQgetlength(r, row, 5));
    m->created_at = I64(6);
    m->edited_at = I64(7);
    m->deleted_at = I64(8);
    m->deleted_by = I64(9);
}

#undef I64

/* Runs sql in the transaction; *r (new, PQclear) on success. */
static int run(store_chat_tx_t *tx, const char *sql, const pg_params_t *p, PGresult **r,
               const char *op)
{
    return store__pg_exec(CONN(tx), sql, p, r, op);
}

/* Runs a statement that yields at most one message row into *out; BH_ENOTFOUND for none. */
static int one_msg(store_chat_tx_t *tx, const char *sql, const pg_params_t *p,
                   store_chat_msg_t *out, const char *op)
{
    PGresult *r;
    int rc = run(tx, sql, p, &r, op);
    if (rc != 0) return rc;
    if (PQntuples(r) > 0) {
        free(out->text); /* a caller may reuse out between two reads */
        read_msg(r, 0, out);
    } else {
        rc = BH_ENOTFOUND;
    }
    PQclear(r);
    return rc;
}

static void params2(pg_params_t *p, int64_t a, int64_t b)
{
    store__pg_params_init(p);
    store__pg_param_int64(p, a);
    store__pg_param_int64(p, b);
}

/* ---- transactions -----------------------------------------------------------------------------
 */

static int chat_begin(store_t *st, int write, store_chat_tx_t **out)
{
    pg_conn_t *c;
    int rc = store__pg_checkout(st, &c);
    if (rc != 0) return rc;
    if ((rc = store__pg_begin(c)) == 0 && write) rc = store__pg_xact_lock(c, PG_LOCK_CHAT);
    if (rc != 0) {
        store__pg_rollback(c);
        store__pg_checkin(st, c);
        return rc;
    }
    pg_chat_tx_t *tx = xmalloc(sizeof *tx);
    tx->base.st = st;
    tx->c = c;
    *out = &tx->base;
    return 0;
}

static int chat_commit(store_chat_tx_t *tx)
{
    pg_chat_tx_t *t = (pg_chat_tx_t *)tx;
    int rc = store__pg_commit(t->c);
    if (rc != 0) store__pg_rollback(t->c);
    store__pg_checkin(tx->st, t->c);
    free(t);
    return rc;
}

static void chat_rollback(store_chat_tx_t *tx)
{
    pg_chat_tx_t *t = (pg_chat_tx_t *)tx;
    store__pg_rollback(t->c);
    store__pg_checkin(tx->st, t->c);
    free(t);
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
    pg_params_t p;
    PGresult *r;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, org_id);
    if (kind != STORE_CHAT_ORG) store__pg_param_int64(&p, id);
    int rc = run(tx, sql, &p, &r, "chat_target");
    if (rc != 0) return rc;
    if (PQntuples(r) > 0)
        *property_id = store__pg_get_int64(r, 0, 0);
    else
        rc = BH_ENOTFOUND;
    PQclear(r);
    return rc;
}

static int chat_room_get(store_chat_tx_t *tx, int64_t org_id, const char *key,
                         store_chat_room_t *out)
{
    pg_params_t p;
    PGresult *r;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, org_id);
    store__pg_param_text(&p, key);
    int rc = run(tx, SQL_ROOM_GET, &p, &r, "chat_room_get");
    if (rc != 0) return rc;
    if (PQntuples(r) > 0)
        read_room(r, 0, out);
    else
        rc = BH_ENOTFOUND;
    PQclear(r);
    return rc;
}

static int chat_room_ensure(store_chat_tx_t *tx, store_chat_room_t *room)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, room->org_id);
    store__pg_param_text(&p, room->key);
    store__pg_param_text(&p, kind_names[room->kind]);
    store__pg_param_opt_int64(&p, room->property_id > 0 ? room->property_id : 0);
    store__pg_param_opt_int64(&p, room->task_id > 0 ? room->task_id : 0);
    store__pg_param_int64(&p, clock_unix_ms());
    int rc = store__pg_write(CONN(tx), SQL_ROOM_INSERT, &p, NULL, "chat_room_insert");
    if (rc != 0) return rc;
    store_chat_room_t got;
    memset(&got, 0, sizeof got);
    if ((rc = chat_room_get(tx, room->org_id, room->key, &got)) != 0) return rc;
    *room = got;
    return 0;
}

static int chat_member_ensure(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t now)
{
    pg_params_t p;
    params2(&p, room_id, user_id);
    store__pg_param_int64(&p, now);
    return store__pg_write(CONN(tx), SQL_MEMBER_INSERT, &p, NULL, "chat_member_insert");
}

static int chat_members(store_chat_tx_t *tx, int64_t org_id, int64_t room_id, size_t max,
                        store_chat_member_t **out, size_t *n)
{
    pg_params_t p;
    PGresult *r;
    params2(&p, room_id, org_id);
    store__pg_param_int64(&p, (int64_t)max);
    int rc = run(tx, SQL_MEMBERS, &p, &r, "chat_members");
    if (rc != 0) return rc;
    int rows = PQntuples(r);
    store_chat_member_t *arr = rows > 0 ? xcalloc((size_t)rows, sizeof *arr) : NULL;
    for (int i = 0; i < rows; i++) {
        arr[i].user_id = store__pg_get_int64(r, i, 0);
        arr[i].last_read_id = store__pg_get_int64(r, i, 1);
        store__pg_get_text(r, i, 2, arr[i].name, sizeof arr[i].name);
    }
    PQclear(r);
    *out = arr;
    *n = (size_t)rows;
    return 0;
}

/* ---- messages ---------------------------------------------------------------------------------
 */

static int chat_msg_by_client(store_chat_tx_t *tx, int64_t room_id, int64_t user_id,
                              const char *client_msg_id, store_chat_msg_t *out)
{
    pg_params_t p;
    params2(&p, room_id, user_id);
    store__pg_param_text(&p, client_msg_id);
    return one_msg(tx, SQL_MSG_BY_CLIENT, &p, out, "chat_msg_by_client");
}

static int chat_msg_get(store_chat_tx_t *tx, int64_t room_id, int64_t id, store_chat_msg_t *out)
{
    pg_params_t p;
    params2(&p, room_id, id);
    return one_msg(tx, SQL_MSG_GET, &p, out, "chat_msg_get");
}

static int chat_msg_insert(store_chat_tx_t *tx, store_chat_msg_t *m)
{
    pg_params_t p;
    PGresult *r;
    if (m->created_at == 0) m->created_at = clock_unix_ms();
    params2(&p, m->room_id, m->user_id);
    store__pg_param_text(&p, m->user_name);
    store__pg_param_text(&p, m->client_msg_id);
    store__pg_param_text(&p, m->text);
    store__pg_param_int64(&p, m->created_at);
    int rc = run(tx, SQL_MSG_INSERT, &p, &r, "chat_msg_insert");
    if (rc != 0) return rc;
    m->id = store__pg_get_int64(r, 0, 0);
    PQclear(r);
    m->edited_at = m->deleted_at = m->deleted_by = 0;
    return 0;
}

static int chat_msg_edit(store_chat_tx_t *tx, int64_t room_id, int64_t id, const char *text,
                         int64_t now, store_chat_msg_t *out)
{
    pg_params_t p;
    params2(&p, room_id, id);
    store__pg_param_text(&p, text);
    store__pg_param_int64(&p, now);
    return one_msg(tx, SQL_MSG_EDIT, &p, out, "chat_msg_edit");
}

static int chat_msg_delete(store_chat_tx_t *tx, int64_t room_id, int64_t id, int64_t by,
                           int64_t now, store_chat_msg_t *out)
{
    pg_params_t p;
    params2(&p, room_id, id);
    store__pg_param_int64(&p, by);
    store__pg_param_int64(&p, now);
    int rc = one_msg(tx, SQL_MSG_DELETE, &p, out, "chat_msg_delete");
    /* No row changed: the message is missing, or already deleted (which is success). */
    if (rc == BH_ENOTFOUND) rc = chat_msg_get(tx, room_id, id, out);
    return rc;
}

static int chat_history(store_chat_tx_t *tx, int64_t room_id, int64_t before_id, size_t limit,
                        store_chat_msg_t **out, size_t *n)
{
    pg_params_t p;
    PGresult *r;
    params2(&p, room_id, before_id > 0 ? before_id : INT64_MAX);
    store__pg_param_int64(&p, (int64_t)limit);
    int rc = run(tx, SQL_HISTORY, &p, &r, "chat_history");
    if (rc != 0) return rc;
    int rows = PQntuples(r);
    store_chat_msg_t *arr = rows > 0 ? xmalloc((size_t)rows * sizeof *arr) : NULL;
    for (int i = 0; i < rows; i++) {
        store_chat_msg_init(&arr[i]);
        read_msg(r, i, &arr[i]);
    }
    PQclear(r);
    *out = arr;
    *n = (size_t)rows;
    return 0;
}

/* ---- read positions ---------------------------------------------------------------------------
 */

static int chat_read_set(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t msg_id,
                         int64_t now, int64_t *pos, int *moved)
{
    pg_params_t p;
    PGresult *r;
    int64_t changes = 0;
    params2(&p, room_id, user_id);
    store__pg_param_int64(&p, msg_id);
    store__pg_param_int64(&p, now);
    int rc = store__pg_write(CONN(tx), SQL_READ_UPSERT, &p, &changes, "chat_read_set");
    if (rc != 0) return rc;
    *moved = changes > 0;
    if (*moved) {
        *pos = msg_id;
        return 0;
    }
    params2(&p, room_id, user_id);
    if ((rc = run(tx, SQL_READ_GET, &p, &r, "chat_read_get")) != 0) return rc;
    *pos = PQntuples(r) > 0 ? store__pg_get_int64(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

static int chat_unread(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t *count,
                       int64_t *last_read_id)
{
    pg_params_t p;
    PGresult *r;
    params2(&p, room_id, user_id);
    int rc = run(tx, SQL_UNREAD, &p, &r, "chat_unread");
    if (rc != 0) return rc;
    *last_read_id = store__pg_get_int64(r, 0, 0);
    *count = store__pg_get_int64(r, 0, 1);
    PQclear(r);
    return 0;
}

static int chat_rooms(store_chat_tx_t *tx, int64_t org_id, int64_t user_id, store_chat_room_t **out,
                      size_t *n)
{
    pg_params_t p;
    PGresult *r;
    params2(&p, org_id, user_id);
    store__pg_param_int64(&p, STORE_CHAT_PAGE_MAX);
    int rc = run(tx, SQL_ROOMS, &p, &r, "chat_rooms");
    if (rc != 0) return rc;
    int rows = PQntuples(r);
    store_chat_room_t *arr = rows > 0 ? xcalloc((size_t)rows, sizeof *arr) : NULL;
    for (int i = 0; i < rows; i++) {
        read_room(r, i, &arr[i]);
        arr[i].last_read_id = store__pg_get_int64(r, i, 7);
        arr[i].last_message_id = store__pg_get_int64(r, i, 8);
        arr[i].unread = store__pg_get_int64(r, i, 9);
    }
    PQclear(r);
    *out = arr;
    *n = (size_t)rows;
    return 0;
}

/* No checkpoint op: PostgreSQL runs its own checkpoints, off every COMMIT's path. */
const struct store_chat_ops store__pg_chat_ops = {
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
    .checkpoint = NULL,
};
