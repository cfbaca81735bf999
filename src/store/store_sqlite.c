/* store_sqlite.c: the SQLite store backend.
 *
 * Concurrency model. One sqlite3 connection must not be used by two threads at once, and a single
 * shared connection would serialise every reader behind every writer. So the store keeps a small
 * pool: a thread checks a connection out for one operation and back in afterwards. Connections are
 * opened lazily up to POOL_MAX; each is opened with SQLITE_OPEN_NOMUTEX because the pool already
 * guarantees one user at a time, which spares SQLite's per-call mutex. With WAL, readers never
 * block the writer and vice versa; writers queue on the database lock through busy_timeout.
 *
 * Statements. Every statement is static SQL with ? parameters, prepared once per connection with
 * SQLITE_PREPARE_PERSISTENT and cached in the connection (stmt_sql[] below). A statement is
 * always reset and its bindings cleared before the connection goes back to the pool, so text
 * bound with SQLITE_STATIC never outlives the caller's buffer.
 *
 * Transactions. Single-statement writes run in autocommit. Writes of several statements use
 * BEGIN IMMEDIATE, which takes the write lock up front: a deferred transaction that reads first
 * and writes later can fail with SQLITE_BUSY_SNAPSHOT in WAL mode, without the busy handler
 * being consulted. Reads that need a consistent view of several tables use a plain BEGIN. */
#include "store/store_int.h"
#include "store/sqlite_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store/migration.h"

#include <assert.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_MAX 8
#define BUSY_TIMEOUT_MS 5000

/* ---------------------------------------------------------------------------------------------
 * Cached statements */

typedef enum {
    STMT_PING,
    STMT_BEGIN,
    STMT_BEGIN_IMMEDIATE,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_ORG_INSERT,
    STMT_ORG_GET,
    STMT_PROPERTY_INSERT,
    STMT_PROPERTY_GET,
    STMT_PROPERTY_LIST,
    STMT_PROPERTY_EXISTS,
    STMT_ROOM_INSERT,
    STMT_ROOM_LIST,
    STMT_USER_INSERT,
    STMT_USER_PROPERTY_INSERT,
    STMT_USER_GET,
    STMT_USER_BY_EMAIL,
    STMT_USER_PROPERTIES,
    STMT_REVENUE_INSERT,
    STMT_REVENUE_LIST,
    STMT_EXPENSE_INSERT,
    STMT_EXPENSE_GET,
    STMT_EXPENSE_DECIDE,
    STMT_EXPENSE_LIST,
    STMT_GUEST_INSERT,
    STMT_GUEST_GET,
    STMT_GUEST_CHECKOUT,
    STMT_GUEST_LIST,
    STMT_USER_IN_ORG,
    STMT_TASK_INSERT,
    STMT_TASK_GET,
    STMT_TASK_ASSIGN,
    STMT_TASK_STATUS,
    STMT_TASK_LIST,
    STMT_PROPERTY_UPDATE,
    STMT_USER_UPDATE,
    STMT_USER_PROPERTIES_CLEAR,
    STMT_USER_LIST,
    STMT_EVENT_INSERT,
    STMT_STREAM_UPSERT,
    STMT_STREAMS_LOAD,
    STMT_EVENTS_SCAN,
    STMT_EVENTS_PRUNE,
    STMT__COUNT
} stmt_id_t;

#define PROPERTY_COLS "id, org_id, name, address, city, country, timezone, created_at, updated_at"
#define ROOM_COLS "id, org_id, property_id, number, type, status, floor"
#define USER_COLS                                                                                  \
    "id, org_id, email, name, role, password_hash, all_properties, created_at, updated_at"

#define REVENUE_COLS                                                                               \
    "id, org_id, property_id, amount_cents, currency, source, description, occurred_at, "          \
    "created_by, created_at"
#define EXPENSE_COLS                                                                               \
    "id, org_id, property_id, amount_cents, currency, category, description, status, note, "       \
    "decided_by, decided_at, created_by, created_at, updated_at"
#define GUEST_COLS                                                                                 \
    "id, org_id, property_id, name, email, phone, room_number, nights, status, checked_in_at, "    \
    "checked_out_at, created_by, created_at, updated_at"
#define TASK_COLS                                                                                  \
    "id, org_id, property_id, title, description, assignee_id, priority, status, due_at, "         \
    "created_by, created_at, updated_at"

/* Every domain list binds the same parameters (see bind_query): ?1 org, ?2 property or 0, ?3 the
 * caller's property scope as a JSON array or NULL for all, ?4 status or NULL, ?5 the paging
 * cursor or 0, ?6 the limit; tasks add ?7, the assignee or 0. json_each turns the scope into a
 * table, so one prepared statement serves any number of properties. */
#define LIST_WHERE                                                                                 \
    " WHERE org_id = ?1 AND (?2 = 0 OR property_id = ?2)"                                          \
    " AND (?3 IS NULL OR property_id IN (SELECT value FROM json_each(?3)))"                        \
    " AND (?5 = 0 OR id < ?5)"
#define LIST_STATUS " AND (?4 IS NULL OR status = ?4)"
#define LIST_ORDER " ORDER BY id DESC LIMIT ?6"

static const char *const stmt_sql[STMT__COUNT] = {
    [STMT_PING] = "SELECT 1",
    [STMT_BEGIN] = "BEGIN",
    [STMT_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    /* A NULL id lets SQLite choose the next rowid. */
    [STMT_ORG_INSERT] = "INSERT INTO organisations (id, name, created_at) VALUES (?1, ?2, ?3)",
    [STMT_ORG_GET] = "SELECT id, name, created_at FROM organisations WHERE id = ?1",
    [STMT_PROPERTY_INSERT] =
        "INSERT INTO properties (org_id, name, address, city, country, timezone, created_at, "
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    [STMT_PROPERTY_GET] = "SELECT " PROPERTY_COLS " FROM properties WHERE org_id = ?1 AND id = ?2",
    [STMT_PROPERTY_LIST] = "SELECT " PROPERTY_COLS " FROM properties WHERE org_id = ?1 ORDER BY id",
    [STMT_PROPERTY_EXISTS] = "SELECT 1 FROM properties WHERE org_id = ?1 AND id = ?2",
    /* Taking org_id and property_id from the properties row makes the insert a no-op (zero
     * changes) when the property is not the caller's organisation's, in one atomic statement. */
    [STMT_ROOM_INSERT] =
        "INSERT INTO rooms (org_id, property_id, number, type, status, floor) "
        "SELECT org_id, id, ?3, ?4, ?5, ?6 FROM properties WHERE org_id = ?1 AND id = ?2",
    [STMT_ROOM_LIST] =
        "SELECT " ROOM_COLS " FROM rooms WHERE org_id = ?1 AND property_id = ?2 ORDER BY id",
    [STMT_USER_INSERT] =
        "INSERT INTO users (org_id, email, name, role, password_hash, all_properties, created_at, "
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    /* Same trick as rooms: a property of another organisation inserts nothing. */
    [STMT_USER_PROPERTY_INSERT] = "INSERT INTO user_properties (user_id, property_id) "
                                  "SELECT ?1, id FROM properties WHERE org_id = ?2 AND id = ?3",
    [STMT_USER_GET] = "SELECT " USER_COLS " FROM users WHERE org_id = ?1 AND id = ?2",
    [STMT_USER_BY_EMAIL] = "SELECT " USER_COLS " FROM users WHERE email = ?1",
    [STMT_USER_PROPERTIES] =
        "SELECT property_id FROM user_properties WHERE user_id = ?1 ORDER BY property_id",
    /* Inserts select from properties, as rooms do: a property of another organisation inserts
     * nothing, and org_id always matches the property's. */
    [STMT_REVENUE_INSERT] =
        "INSERT INTO revenues (org_id, property_id, amount_cents, currency, source, description, "
        "occurred_at, created_by, created_at) "
        "SELECT org_id, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM properties WHERE org_id = ?1 AND id = "
        "?2",
    [STMT_REVENUE_LIST] = "SELECT " REVENUE_COLS " FROM revenues" LIST_WHERE LIST_ORDER,
    [STMT_EXPENSE_INSERT] =
        "INSERT INTO expenses (org_id, property_id, amount_cents, currency, category, description, "
        "status, created_by, created_at, updated_at) "
        "SELECT org_id, id, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?8 FROM properties "
        "WHERE org_id = ?1 AND id = ?2",
    [STMT_EXPENSE_GET] = "SELECT " EXPENSE_COLS " FROM expenses WHERE org_id = ?1 AND id = ?2",
    /* The state check is part of the write, so two concurrent decisions cannot both succeed. */
    [STMT_EXPENSE_DECIDE] =
        "UPDATE expenses SET status = ?3, note = ?4, decided_by = ?5, decided_at = ?6, "
        "updated_at = ?6 WHERE org_id = ?1 AND id = ?2 AND status = 'pending' "
        "RETURNING " EXPENSE_COLS,
    [STMT_EXPENSE_LIST] = "SELECT " EXPENSE_COLS " FROM expenses" LIST_WHERE LIST_STATUS LIST_ORDER,
    [STMT_GUEST_INSERT] =
        "INSERT INTO guests (org_id, property_id, name, email, phone, room_number, nights, status, "
        "checked_in_at, created_by, created_at, updated_at) "
        "SELECT org_id, id, ?3, ?4, ?5, ?6, ?7, 'checked_in', ?9, ?8, ?9, ?9 FROM properties "
        "WHERE org_id = ?1 AND id = ?2",
    [STMT_GUEST_GET] = "SELECT " GUEST_COLS " FROM guests WHERE org_id = ?1 AND id = ?2",
    [STMT_GUEST_CHECKOUT] =
        "UPDATE guests SET status = 'checked_out', checked_out_at = ?3, updated_at = ?3 "
        "WHERE org_id = ?1 AND id = ?2 AND status = 'checked_in' RETURNING " GUEST_COLS,
    [STMT_GUEST_LIST] = "SELECT " GUEST_COLS " FROM guests" LIST_WHERE LIST_STATUS LIST_ORDER,
    [STMT_USER_IN_ORG] = "SELECT 1 FROM users WHERE org_id = ?1 AND id = ?2",
    [STMT_TASK_INSERT] =
        "INSERT INTO tasks (org_id, property_id, title, description, assignee_id, priority, "
        "status, due_at, created_by, created_at, updated_at) "
        "SELECT org_id, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10 FROM properties "
        "WHERE org_id = ?1 AND id = ?2",
    [STMT_TASK_GET] = "SELECT " TASK_COLS " FROM tasks WHERE org_id = ?1 AND id = ?2",
    [STMT_TASK_ASSIGN] = "UPDATE tasks SET assignee_id = ?3, updated_at = ?4 "
                         "WHERE org_id = ?1 AND id = ?2 RETURNING " TASK_COLS,
    [STMT_TASK_STATUS] = "UPDATE tasks SET status = ?3, updated_at = ?4 "
                         "WHERE org_id = ?1 AND id = ?2 RETURNING " TASK_COLS,
    [STMT_TASK_LIST] = "SELECT " TASK_COLS " FROM tasks" LIST_WHERE LIST_STATUS
                       " AND (?7 = 0 OR assignee_id = ?7)" LIST_ORDER,
    /* NULL parameters keep the stored value: one statement for every partial update. */
    [STMT_PROPERTY_UPDATE] =
        "UPDATE properties SET name = COALESCE(?3, name), address = COALESCE(?4, address), "
        "city = COALESCE(?5, city), country = COALESCE(?6, country), "
        "timezone = COALESCE(?7, timezone), updated_at = ?8 "
        "WHERE org_id = ?1 AND id = ?2 RETURNING " PROPERTY_COLS,
    [STMT_USER_UPDATE] = "UPDATE users SET name = COALESCE(?3, name), role = COALESCE(?4, role), "
                         "all_properties = COALESCE(?5, all_properties), updated_at = ?6 "
                         "WHERE org_id = ?1 AND id = ?2",
    [STMT_USER_PROPERTIES_CLEAR] = "DELETE FROM user_properties WHERE user_id = ?1",
    /* A user matches a property filter if it may see that property: every all_properties user
     * does. */
    [STMT_USER_LIST] =
        "SELECT " USER_COLS " FROM users WHERE org_id = ?1"
        " AND (?2 = 0 OR all_properties = 1 OR EXISTS (SELECT 1 FROM user_properties AS up"
        " WHERE up.user_id = users.id AND up.property_id = ?2))"
        " AND (?3 IS NULL OR all_properties = 1 OR EXISTS (SELECT 1 FROM user_properties AS up"
        " WHERE up.user_id = users.id AND up.property_id IN (SELECT value FROM json_each(?3))))"
        " AND (?4 IS NULL OR role = ?4) AND (?5 = 0 OR id < ?5)" LIST_ORDER,
    [STMT_EVENT_INSERT] = "INSERT INTO events (org_id, service, \"offset\", property_id, ts_ms, "
                          "type, json, idem_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* The WHERE makes a stream that exists under another epoch change nothing (zero changes):
     * the caller's offsets belong to a different history. max() keeps heads monotonic. */
    [STMT_STREAM_UPSERT] =
        "INSERT INTO streams (org_id, service, epoch, head) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (org_id, service) DO UPDATE SET head = max(streams.head, excluded.head) "
        "WHERE streams.epoch = excluded.epoch",
    [STMT_STREAMS_LOAD] =
        "SELECT org_id, service, epoch, head FROM streams ORDER BY org_id, service",
    /* Ranked over every event of the stream, then cut by age, so that the scan returns exactly
     * what STMT_EVENTS_PRUNE with the same arguments keeps. */
    [STMT_EVENTS_SCAN] =
        "SELECT e.org_id, e.service, s.epoch, e.\"offset\", e.property_id, e.ts_ms, e.type, e.json, "
        "e.idem_key FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY org_id, service "
        "ORDER BY \"offset\" DESC) AS rn FROM events) AS e "
        "JOIN streams AS s ON s.org_id = e.org_id AND s.service = e.service "
        "WHERE e.rn <= ?2 AND e.ts_ms >= ?1 ORDER BY e.org_id, e.service, e.\"offset\"",
    [STMT_EVENTS_PRUNE] =
        "DELETE FROM events WHERE ts_ms < ?1 OR (org_id, service, \"offset\") IN ("
        "SELECT org_id, service, \"offset\" FROM (SELECT org_id, service, \"offset\", "
        "ROW_NUMBER() OVER (PARTITION BY org_id, service ORDER BY \"offset\" DESC) AS rn "
        "FROM events) WHERE rn > ?2)",
};

/* ---------------------------------------------------------------------------------------------
 * Connections and the pool */

#define EXTRA_STMTS_MAX 128

struct sqlite_conn_s {
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT__COUNT]; /* NULL until first use */
    /* Statements of the feature files (store_sqlite_*.c), keyed by their SQL's address. */
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } extra[EXTRA_STMTS_MAX];
    int n_extra;
};

typedef struct sqlite_store_s {
    store_t super; /* first: a store_t * is a sqlite_store_t * */
    char *path;
    uv_mutex_t lock; /* guards the fields below */
    uv_cond_t cond;  /* signalled when a connection is checked in or a slot frees up */
    sqlite_conn_t *idle[POOL_MAX];
    int n_idle; /* idle[0..n_idle) are free to check out */
    int n_open; /* connections that exist, idle or checked out; n_idle <= n_open <= POOL_MAX */
} sqlite_store_t;

static const struct store_vtable sqlite_vtable;

/* Logs err with the connection's message and returns BH_ESTORE. Constraint failures are not
 * store failures: they are mapped to the codes callers act on, and logged at debug only. */
static int db_error(sqlite_conn_t *c, int rc, const char *op)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return BH_EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        /* The row refers to an organisation or property that does not exist. */
        return BH_ENOTFOUND;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return BH_EINVAL;
    default:
        break;
    }
    char q[512];
    LOG_E("store_error", "backend=sqlite op=%s rc=%d err=%s", op, rc,
          log_quote(q, sizeof q, c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc)));
    return BH_ESTORE;
}

static int stmt_get(sqlite_conn_t *c, stmt_id_t id, sqlite3_stmt **out)
{
    if (c->stmts[id] == NULL) {
        int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->stmts[id], NULL);
        if (rc != SQLITE_OK) {
            c->stmts[id] = NULL;
            return db_error(c, rc, "prepare");
        }
    }
    *out = c->stmts[id];
    return 0;
}

/* Makes s reusable. The step's error (if any) was already handled, so reset's copy of it is
 * deliberately ignored. */
static void stmt_release(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no rows (BEGIN, COMMIT, ...). */
static int exec_stmt(sqlite_conn_t *c, stmt_id_t id, const char *op)
{
    sqlite3_stmt *s = NULL;
    int rc = stmt_get(c, id, &s);
    if (rc != 0) return rc;
    rc = sqlite3_step(s);
    stmt_release(s);
    return rc == SQLITE_DONE ? 0 : db_error(c, rc, op);
}

/* Rolls back if a transaction is open. A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction
 * open, and some errors roll back by themselves, so the autocommit flag is the only reliable
 * witness. */
static void rollback(sqlite_conn_t *c)
{
    if (!sqlite3_get_autocommit(c->db)) (void)exec_stmt(c, STMT_ROLLBACK, "rollback");
}

static void conn_free(sqlite_conn_t *c)
{
    if (c == NULL) return;
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(c->stmts[i]);
    for (int i = 0; i < c->n_extra; i++)
        sqlite3_finalize(c->extra[i].stmt);
    if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK) {
        char q[256];
        LOG_E("store_close_failed", "backend=sqlite err=%s",
              log_quote(q, sizeof q, sqlite3_errmsg(c->db)));
    }
    free(c);
}

/* Runs a PRAGMA and, if want is not NULL, checks the first column of its answer. */
static int pragma(sqlite_conn_t *c, const char *sql, const char *want)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) return db_error(c, rc, "pragma");
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && want != NULL) {
        const char *got = (const char *)sqlite3_column_text(s, 0);
        if (got == NULL || sqlite3_stricmp(got, want) != 0) {
            char q[128];
            /* Not fatal: e.g. a file system without shared memory refuses WAL, and the store still
             * works, only with less concurrency. */
            LOG_W("store_pragma_ignored", "backend=sqlite pragma=%s got=%s", want,
                  log_quote(q, sizeof q, got ? got : "(null)"));
        }
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_finalize(s);
        return db_error(c, rc, "pragma");
    }
    sqlite3_finalize(s);
    return 0;
}

static int conn_open(const char *path, sqlite_conn_t **out)
{
    sqlite_conn_t *c = xcalloc(1, sizeof *c);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        char q[256], p[256];
        LOG_E("store_open_failed", "backend=sqlite path=%s err=%s", log_quote(p, sizeof p, path),
              log_quote(q, sizeof q, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc)));
        conn_free(c);
        return BH_ESTORE;
    }
    sqlite3_extended_result_codes(c->db, 1);
    /* busy_timeout first: switching to WAL needs a lock that another connection may hold. */
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    if ((rc = pragma(c, "PRAGMA journal_mode=WAL", "wal")) != 0 ||
        (rc = pragma(c, "PRAGMA synchronous=NORMAL", NULL)) != 0 ||
        (rc = pragma(c, "PRAGMA foreign_keys=ON", NULL)) != 0) {
        conn_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Takes an idle connection, or opens one if the pool has room, or waits for a check-in. */
static int checkout(sqlite_store_t *s, sqlite_conn_t **out)
{
    uv_mutex_lock(&s->lock);
    while (s->n_idle == 0 && s->n_open == POOL_MAX)
        uv_cond_wait(&s->cond, &s->lock);
    if (s->n_idle > 0) {
        *out = s->idle[--s->n_idle];
        uv_mutex_unlock(&s->lock);
        return 0;
    }
    /* Reserve the slot, then open outside the lock: opening touches the disk. */
    s->n_open++;
    uv_mutex_unlock(&s->lock);
    int rc = conn_open(s->path, out);
    if (rc != 0) {
        uv_mutex_lock(&s->lock);
        s->n_open--;
        uv_cond_signal(&s->cond);
        uv_mutex_unlock(&s->lock);
    }
    return rc;
}

static void checkin(sqlite_store_t *s, sqlite_conn_t *c)
{
    /* An open transaction would leak into the next user's operation. Every path should have
     * ended it already; this keeps a missed path from poisoning the pool. */
    assert(sqlite3_get_autocommit(c->db));
    rollback(c);
    uv_mutex_lock(&s->lock);
    assert(s->n_idle < s->n_open);
    s->idle[s->n_idle++] = c;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------------------------------------
 * Row helpers */

/* Copies column col of s into dst (cap bytes, always NUL-terminated). Values longer than the
 * array are cut at a UTF-8 character boundary so the result is still valid text. */
void store__sqlite_column_copy(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
    const unsigned char *src = sqlite3_column_text(s, col);
    size_t n = src ? (size_t)sqlite3_column_bytes(s, col) : 0;
    if (n >= cap) {
        n = cap - 1;
        /* src[n] is the first byte dropped; if it continues a character, drop that whole
         * character by backing up to its lead byte. */
        while (n > 0 && (src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > 0) memcpy(dst, src, n);
    dst[n] = '\0';
}

static void bind_null(sqlite3_stmt *s, int i, int *rc)
{
    if (*rc == SQLITE_OK) *rc = sqlite3_bind_null(s, i);
}

static void read_org(sqlite3_stmt *s, store_org_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(s, 0);
    store__sqlite_column_copy(s, 1, o->name, sizeof o->name);
    o->created_at = sqlite3_column_int64(s, 2);
}

static void read_property(sqlite3_stmt *s, store_property_t *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(s, 0);
    p->org_id = sqlite3_column_int64(s, 1);
    store__sqlite_column_copy(s, 2, p->name, sizeof p->name);
    store__sqlite_column_copy(s, 3, p->address, sizeof p->address);
    store__sqlite_column_copy(s, 4, p->city, sizeof p->city);
    store__sqlite_column_copy(s, 5, p->country, sizeof p->country);
    store__sqlite_column_copy(s, 6, p->timezone, sizeof p->timezone);
    p->created_at = sqlite3_column_int64(s, 7);
    p->updated_at = sqlite3_column_int64(s, 8);
}

static void read_room(sqlite3_stmt *s, store_room_t *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    r->org_id = sqlite3_column_int64(s, 1);
    r->property_id = sqlite3_column_int64(s, 2);
    store__sqlite_column_copy(s, 3, r->number, sizeof r->number);
    store__sqlite_column_copy(s, 4, r->type, sizeof r->type);
    store__sqlite_column_copy(s, 5, r->status, sizeof r->status);
    r->floor = sqlite3_column_int(s, 6);
}

/* Fills the scalar fields of u from a USER_COLS row. Returns 0 or BH_ESTORE if the role column
 * holds a name this binary does not know (the CHECK constraint should make that impossible). */
static int read_user(sqlite3_stmt *s, store_user_t *u)
{
    char role[32];
    u->id = sqlite3_column_int64(s, 0);
    u->org_id = sqlite3_column_int64(s, 1);
    store__sqlite_column_copy(s, 2, u->email, sizeof u->email);
    store__sqlite_column_copy(s, 3, u->name, sizeof u->name);
    store__sqlite_column_copy(s, 4, role, sizeof role);
    store__sqlite_column_copy(s, 5, u->password_hash, sizeof u->password_hash);
    u->all_properties = sqlite3_column_int(s, 6) != 0;
    u->created_at = sqlite3_column_int64(s, 7);
    u->updated_at = sqlite3_column_int64(s, 8);
    if (auth_role_parse(role, &u->role) != 0) {
        char q[64];
        LOG_E("store_bad_row", "backend=sqlite table=users id=%lld role=%s", (long long)u->id,
              log_quote(q, sizeof q, role));
        return BH_ESTORE;
    }
    return 0;
}

/* Grows a list by doubling; *cap is in elements. */
static void *grow(void *arr, size_t *cap, size_t elem)
{
    *cap = *cap ? *cap * 2 : 8;
    return xrealloc(arr, *cap * elem);
}

/* ---------------------------------------------------------------------------------------------
 * Migrations */

/* Highest version recorded, 0 for a fresh database. */
static int schema_version(sqlite_conn_t *c, int *version)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) return db_error(c, rc, "migrate_version");
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : db_error(c, rc, "migrate_version");
}

static int record_migration(sqlite_conn_t *c, const migration_t *m)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(
        c->db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)", -1,
        &s, NULL);
    if (rc != SQLITE_OK) return db_error(c, rc, "migrate_record");
    store__sqlite_bind_int64(s, 1, m->version, &rc);
    store__sqlite_bind_text(s, 2, m->name, &rc);
    store__sqlite_bind_int64(s, 3, clock_unix_ms(), &rc);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    int err = rc == SQLITE_DONE ? 0 : db_error(c, rc, "migrate_record");
    sqlite3_finalize(s);
    return err;
}

/* 1 if version is recorded as applied, 0 if not, or a negative error. */
static int migration_recorded(sqlite_conn_t *c, int version)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1, &s,
                                NULL);
    if (rc != SQLITE_OK) return db_error(c, rc, "migrate_recorded");
    sqlite3_bind_int(s, 1, version);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : db_error(c, rc, "migrate_recorded");
}

/* Applies one migration in its own transaction unless it is recorded already. Each version is
 * checked on its own (not against the highest applied) so that a migration merged with a lower
 * number than one already applied in a development database is still applied. *applied stays 0
 * when it was there, or another process applied it between our check and our write lock. */
static int apply_migration(sqlite_conn_t *c, const migration_t *m, int *applied)
{
    char q[256];
    int rc;
    *applied = 0;
    if ((rc = exec_stmt(c, STMT_BEGIN_IMMEDIATE, "migrate_begin")) != 0) return rc;
    /* Checked under the write lock: two processes may run `migrate` at once. */
    if ((rc = migration_recorded(c, m->version)) != 0) {
        rollback(c);
        return rc < 0 ? rc : 0;
    }
    char *msg = NULL;
    int src = sqlite3_exec(c->db, m->sql, NULL, NULL, &msg);
    if (src != SQLITE_OK) {
        LOG_E("store_migration_failed", "backend=sqlite version=%d name=%s err=%s", m->version,
              m->name, log_quote(q, sizeof q, msg ? msg : sqlite3_errstr(src)));
        sqlite3_free(msg);
        rc = BH_ESTORE;
        goto fail;
    }
    if ((rc = record_migration(c, m)) != 0) goto fail;
    if ((rc = exec_stmt(c, STMT_COMMIT, "migrate_commit")) != 0) goto fail;
    *applied = 1;
    LOG_I("store_migration_applied", "backend=sqlite version=%d name=%s", m->version, m->name);
    return 0;
fail:
    rollback(c);
    return rc;
}

static int sqlite_migrate(store_t *st, int *applied, int *version)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    int rc, current = 0, latest = 0;
    *applied = 0;
    *version = 0;
    for (const migration_t *m = migrations_sqlite; m->name != NULL; m++)
        latest = m->version;

    if ((rc = checkout(s, &c)) != 0) return rc;
    /* Bootstrapping table: outside the numbered migrations because it records them. */
    char *msg = NULL;
    rc = sqlite3_exec(c->db,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                      "applied_at BIGINT NOT NULL)",
                      NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        char q[256];
        LOG_E("store_error", "backend=sqlite op=migrate_bootstrap err=%s",
              log_quote(q, sizeof q, msg ? msg : sqlite3_errstr(rc)));
        sqlite3_free(msg);
        rc = BH_ESTORE;
        goto out;
    }
    if ((rc = schema_version(c, &current)) != 0) goto out;
    if (current > latest) {
        /* A newer binary migrated this file. Running old code against a newer schema could
         * corrupt data in ways neither version checks for, so refuse. */
        LOG_E("store_schema_too_new",
              "backend=sqlite db_version=%d binary_version=%d hint=upgrade_bellhop", current,
              latest);
        rc = BH_ESTORE;
        goto out;
    }
    for (const migration_t *m = migrations_sqlite; m->name != NULL; m++) {
        int one = 0;
        if ((rc = apply_migration(c, m, &one)) != 0) goto out;
        *applied += one;
    }
    rc = schema_version(c, version);
out:
    checkin(s, c);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Operations */

static int sqlite_ping(store_t *st)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_PING, &q)) == 0) {
        int src = sqlite3_step(q);
        rc = src == SQLITE_ROW ? 0 : db_error(c, src, "ping");
        stmt_release(q);
    }
    checkin(s, c);
    return rc;
}

static int sqlite_org_create(store_t *st, int64_t id, const char *name, int64_t *id_out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_ORG_INSERT, &q)) == 0) {
        int src = SQLITE_OK;
        if (id > 0)
            store__sqlite_bind_int64(q, 1, id, &src);
        else
            bind_null(q, 1, &src);
        store__sqlite_bind_text(q, 2, name, &src);
        store__sqlite_bind_int64(q, 3, clock_unix_ms(), &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        if (src == SQLITE_DONE) {
            /* Per connection, and this connection is ours until checkin. */
            *id_out = sqlite3_last_insert_rowid(c->db);
            rc = 0;
        } else {
            rc = db_error(c, src, "org_create");
        }
        stmt_release(q);
    }
    checkin(s, c);
    return rc;
}

static int sqlite_org_get(store_t *st, int64_t id, store_org_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_ORG_GET, &q)) == 0) {
        int src = sqlite3_bind_int64(q, 1, id);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        if (src == SQLITE_ROW) {
            read_org(q, out);
            rc = 0;
        } else {
            rc = src == SQLITE_DONE ? BH_ENOTFOUND : db_error(c, src, "org_get");
        }
        stmt_release(q);
    }
    checkin(s, c);
    return rc;
}

static int sqlite_property_create(store_t *st, store_property_t *p)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int64_t now = clock_unix_ms();
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_PROPERTY_INSERT, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, p->org_id, &src);
        store__sqlite_bind_text(q, 2, p->name, &src);
        store__sqlite_bind_text(q, 3, p->address, &src);
        store__sqlite_bind_text(q, 4, p->city, &src);
        store__sqlite_bind_text(q, 5, p->country, &src);
        store__sqlite_bind_text(q, 6, p->timezone, &src);
        store__sqlite_bind_int64(q, 7, now, &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        if (src == SQLITE_DONE) {
            p->id = sqlite3_last_insert_rowid(c->db);
            p->created_at = p->updated_at = now;
            rc = 0;
        } else {
            rc = db_error(c, src, "property_create");
        }
        stmt_release(q);
    }
    checkin(s, c);
    return rc;
}

static int sqlite_property_get(store_t *st, int64_t org_id, int64_t id, store_property_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_PROPERTY_GET, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, org_id, &src);
        store__sqlite_bind_int64(q, 2, id, &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        if (src == SQLITE_ROW) {
            read_property(q, out);
            rc = 0;
        } else {
            rc = src == SQLITE_DONE ? BH_ENOTFOUND : db_error(c, src, "property_get");
        }
        stmt_release(q);
    }
    checkin(s, c);
    return rc;
}

static int sqlite_property_list(store_t *st, int64_t org_id, store_property_t **out, size_t *n)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    store_property_t *arr = NULL;
    size_t len = 0, cap = 0;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_PROPERTY_LIST, &q)) == 0) {
        int src = sqlite3_bind_int64(q, 1, org_id);
        while (src == SQLITE_OK || src == SQLITE_ROW) {
            if ((src = sqlite3_step(q)) != SQLITE_ROW) break;
            if (len == cap) arr = grow(arr, &cap, sizeof *arr);
            read_property(q, &arr[len++]);
        }
        rc = src == SQLITE_DONE ? 0 : db_error(c, src, "property_list");
        stmt_release(q);
    }
    checkin(s, c);
    if (rc != 0) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

static int sqlite_room_create(store_t *st, store_room_t *r)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_ROOM_INSERT, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, r->org_id, &src);
        store__sqlite_bind_int64(q, 2, r->property_id, &src);
        store__sqlite_bind_text(q, 3, r->number, &src);
        store__sqlite_bind_text(q, 4, r->type, &src);
        store__sqlite_bind_text(q, 5, r->status, &src);
        store__sqlite_bind_int64(q, 6, r->floor, &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        if (src == SQLITE_DONE && sqlite3_changes(c->db) == 1) {
            r->id = sqlite3_last_insert_rowid(c->db);
            rc = 0;
        } else if (src == SQLITE_DONE) {
            rc = BH_ENOTFOUND; /* no such property in this organisation */
        } else {
            rc = db_error(c, src, "room_create");
        }
        stmt_release(q);
    }
    checkin(s, c);
    return rc;
}

/* 0 if the property exists in the organisation, else BH_ENOTFOUND or BH_ESTORE. */
static int property_exists(sqlite_conn_t *c, int64_t org_id, int64_t id)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_get(c, STMT_PROPERTY_EXISTS, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    store__sqlite_bind_int64(q, 2, id, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    rc = src == SQLITE_ROW    ? 0
         : src == SQLITE_DONE ? BH_ENOTFOUND
                              : db_error(c, src, "property_exists");
    stmt_release(q);
    return rc;
}

static int sqlite_room_list(store_t *st, int64_t org_id, int64_t property_id, store_room_t **out,
                            size_t *n)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    store_room_t *arr = NULL;
    size_t len = 0, cap = 0;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_ROOM_LIST, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, org_id, &src);
        store__sqlite_bind_int64(q, 2, property_id, &src);
        while (src == SQLITE_OK || src == SQLITE_ROW) {
            if ((src = sqlite3_step(q)) != SQLITE_ROW) break;
            if (len == cap) arr = grow(arr, &cap, sizeof *arr);
            read_room(q, &arr[len++]);
        }
        rc = src == SQLITE_DONE ? 0 : db_error(c, src, "room_list");
        stmt_release(q);
    }
    /* Only an empty list needs telling apart "no rooms yet" from "no such property"; rooms are
     * never moved between properties, so the two reads need no shared snapshot. */
    if (rc == 0 && len == 0) rc = property_exists(c, org_id, property_id);
    checkin(s, c);
    if (rc != 0) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

/* Inserts the user's property list, skipping repeats. Runs inside the caller's transaction. */
static int insert_user_properties(sqlite_conn_t *c, const store_user_t *u)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_get(c, STMT_USER_PROPERTY_INSERT, &q);
    if (rc != 0) return rc;
    for (size_t i = 0; i < u->n_properties; i++) {
        int dup = 0;
        /* Quadratic, but n is bounded by AUTH_MAX_PROPERTIES and this runs once per user. */
        for (size_t j = 0; j < i && !dup; j++)
            dup = u->property_ids[j] == u->property_ids[i];
        if (dup) continue;
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, u->id, &src);
        store__sqlite_bind_int64(q, 2, u->org_id, &src);
        store__sqlite_bind_int64(q, 3, u->property_ids[i], &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        int changed = sqlite3_changes(c->db);
        stmt_release(q);
        if (src != SQLITE_DONE) return db_error(c, src, "user_create_properties");
        /* A property outside the user's organisation is bad input, not a missing resource. */
        if (changed != 1) return BH_EINVAL;
    }
    return 0;
}

static int sqlite_user_create(store_t *st, store_user_t *u)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int64_t now = clock_unix_ms();
    int src = SQLITE_OK;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = exec_stmt(c, STMT_BEGIN_IMMEDIATE, "user_create_begin")) != 0) goto out;
    if ((rc = stmt_get(c, STMT_USER_INSERT, &q)) != 0) goto fail;
    store__sqlite_bind_int64(q, 1, u->org_id, &src);
    store__sqlite_bind_text(q, 2, u->email, &src);
    store__sqlite_bind_text(q, 3, u->name, &src);
    store__sqlite_bind_text(q, 4, auth_role_name(u->role), &src);
    store__sqlite_bind_text(q, 5, u->password_hash, &src);
    store__sqlite_bind_int64(q, 6, u->all_properties, &src);
    store__sqlite_bind_int64(q, 7, now, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    stmt_release(q);
    if (src != SQLITE_DONE) {
        rc = db_error(c, src, "user_create");
        goto fail;
    }
    u->id = sqlite3_last_insert_rowid(c->db);
    if (!u->all_properties && (rc = insert_user_properties(c, u)) != 0) goto fail;
    if ((rc = exec_stmt(c, STMT_COMMIT, "user_create_commit")) != 0) goto fail;
    u->created_at = u->updated_at = now;
    goto out;
fail:
    rollback(c);
    u->id = 0;
out:
    checkin(s, c);
    return rc;
}

/* Runs a user query (STMT_USER_GET or STMT_USER_BY_EMAIL, already bound) and loads the user's
 * property list, inside one read transaction so the two agree. */
static int load_user(sqlite_conn_t *c, sqlite3_stmt *q, store_user_t *out, const char *op)
{
    int src = sqlite3_step(q);
    int rc = src == SQLITE_ROW    ? read_user(q, out)
             : src == SQLITE_DONE ? BH_ENOTFOUND
                                  : db_error(c, src, op);
    stmt_release(q);
    if (rc != 0 || out->all_properties) return rc;

    sqlite3_stmt *p = NULL;
    size_t cap = 0;
    if ((rc = stmt_get(c, STMT_USER_PROPERTIES, &p)) != 0) return rc;
    src = sqlite3_bind_int64(p, 1, out->id);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(p)) != SQLITE_ROW) break;
        if (out->n_properties == cap)
            out->property_ids = grow(out->property_ids, &cap, sizeof *out->property_ids);
        out->property_ids[out->n_properties++] = sqlite3_column_int64(p, 0);
    }
    rc = src == SQLITE_DONE ? 0 : db_error(c, src, op);
    stmt_release(p);
    return rc;
}

/* Shared tail of user_get and user_by_email: q is bound; on failure out is left disposed. */
static int fetch_user(sqlite_store_t *s, sqlite_conn_t *c, sqlite3_stmt *q, store_user_t *out,
                      const char *op)
{
    int rc = exec_stmt(c, STMT_BEGIN, op);
    if (rc != 0) {
        stmt_release(q);
    } else {
        rc = load_user(c, q, out, op);
        /* A read transaction has nothing to commit, so COMMIT cannot fail in a way that
         * matters; rollback() still guards against it staying open. */
        if (exec_stmt(c, STMT_COMMIT, op) != 0) rollback(c);
    }
    checkin(s, c);
    if (rc != 0) store_user_dispose(out);
    return rc;
}

static int sqlite_user_get(store_t *st, int64_t org_id, int64_t id, store_user_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_USER_GET, &q)) != 0) {
        checkin(s, c);
        return rc;
    }
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    store__sqlite_bind_int64(q, 2, id, &src);
    if (src != SQLITE_OK) {
        stmt_release(q);
        rc = db_error(c, src, "user_get");
        checkin(s, c);
        return rc;
    }
    return fetch_user(s, c, q, out, "user_get");
}

static int sqlite_user_by_email(store_t *st, const char *email, store_user_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q = NULL;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_USER_BY_EMAIL, &q)) != 0) {
        checkin(s, c);
        return rc;
    }
    int src = sqlite3_bind_text(q, 1, email, -1, SQLITE_STATIC);
    if (src != SQLITE_OK) {
        stmt_release(q);
        rc = db_error(c, src, "user_by_email");
        checkin(s, c);
        return rc;
    }
    return fetch_user(s, c, q, out, "user_by_email");
}

/* ---------------------------------------------------------------------------------------------
 * Domain records */

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v, int *rc)
{
    if (v != NULL)
        store__sqlite_bind_text(s, i, v, rc);
    else
        bind_null(s, i, rc);
}

/* Optional ids and timestamps: 0 is stored as NULL. */
static void bind_opt_int64(sqlite3_stmt *s, int i, int64_t v, int *rc)
{
    if (v != 0)
        store__sqlite_bind_int64(s, i, v, rc);
    else
        bind_null(s, i, rc);
}

typedef void (*row_read_cb)(sqlite3_stmt *s, void *out);

static void read_revenue(sqlite3_stmt *s, void *out)
{
    store_revenue_t *r = out;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    r->org_id = sqlite3_column_int64(s, 1);
    r->property_id = sqlite3_column_int64(s, 2);
    r->amount_cents = sqlite3_column_int64(s, 3);
    store__sqlite_column_copy(s, 4, r->currency, sizeof r->currency);
    store__sqlite_column_copy(s, 5, r->source, sizeof r->source);
    store__sqlite_column_copy(s, 6, r->description, sizeof r->description);
    r->occurred_at = sqlite3_column_int64(s, 7);
    r->created_by = sqlite3_column_int64(s, 8);
    r->created_at = sqlite3_column_int64(s, 9);
}

static void read_expense(sqlite3_stmt *s, void *out)
{
    store_expense_t *e = out;
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(s, 0);
    e->org_id = sqlite3_column_int64(s, 1);
    e->property_id = sqlite3_column_int64(s, 2);
    e->amount_cents = sqlite3_column_int64(s, 3);
    store__sqlite_column_copy(s, 4, e->currency, sizeof e->currency);
    store__sqlite_column_copy(s, 5, e->category, sizeof e->category);
    store__sqlite_column_copy(s, 6, e->description, sizeof e->description);
    store__sqlite_column_copy(s, 7, e->status, sizeof e->status);
    store__sqlite_column_copy(s, 8, e->note, sizeof e->note);
    e->decided_by = sqlite3_column_int64(s, 9); /* NULL reads as 0 */
    e->decided_at = sqlite3_column_int64(s, 10);
    e->created_by = sqlite3_column_int64(s, 11);
    e->created_at = sqlite3_column_int64(s, 12);
    e->updated_at = sqlite3_column_int64(s, 13);
}

static void read_guest(sqlite3_stmt *s, void *out)
{
    store_guest_t *g = out;
    memset(g, 0, sizeof *g);
    g->id = sqlite3_column_int64(s, 0);
    g->org_id = sqlite3_column_int64(s, 1);
    g->property_id = sqlite3_column_int64(s, 2);
    store__sqlite_column_copy(s, 3, g->name, sizeof g->name);
    store__sqlite_column_copy(s, 4, g->email, sizeof g->email);
    store__sqlite_column_copy(s, 5, g->phone, sizeof g->phone);
    store__sqlite_column_copy(s, 6, g->room_number, sizeof g->room_number);
    g->nights = sqlite3_column_int(s, 7);
    store__sqlite_column_copy(s, 8, g->status, sizeof g->status);
    g->checked_in_at = sqlite3_column_int64(s, 9);
    g->checked_out_at = sqlite3_column_int64(s, 10);
    g->created_by = sqlite3_column_int64(s, 11);
    g->created_at = sqlite3_column_int64(s, 12);
    g->updated_at = sqlite3_column_int64(s, 13);
}

static void read_task(sqlite3_stmt *s, void *out)
{
    store_task_t *t = out;
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(s, 0);
    t->org_id = sqlite3_column_int64(s, 1);
    t->property_id = sqlite3_column_int64(s, 2);
    store__sqlite_column_copy(s, 3, t->title, sizeof t->title);
    store__sqlite_column_copy(s, 4, t->description, sizeof t->description);
    t->assignee_id = sqlite3_column_int64(s, 5);
    store__sqlite_column_copy(s, 6, t->priority, sizeof t->priority);
    store__sqlite_column_copy(s, 7, t->status, sizeof t->status);
    t->due_at = sqlite3_column_int64(s, 8);
    t->created_by = sqlite3_column_int64(s, 9);
    t->created_at = sqlite3_column_int64(s, 10);
    t->updated_at = sqlite3_column_int64(s, 11);
}

static void read_property_row(sqlite3_stmt *s, void *out)
{
    read_property(s, out);
}

/* Steps a bound statement that yields at most one row (a get, or a write with RETURNING) and
 * releases it. src is the binding status. Returns 0 with *out filled, BH_ENOTFOUND for no row,
 * or a mapped error. A RETURNING write is stepped to SQLITE_DONE rather than reset after its
 * row, so that the autocommit transaction ends by completing, not by being cut short. */
static int step_one(sqlite_conn_t *c, sqlite3_stmt *q, int src, row_read_cb read, void *out,
                    const char *op)
{
    int rc;
    if (src == SQLITE_OK) src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        read(q, out);
        src = sqlite3_step(q);
        rc = src == SQLITE_DONE ? 0 : db_error(c, src, op);
    } else {
        rc = src == SQLITE_DONE ? BH_ENOTFOUND : db_error(c, src, op);
    }
    stmt_release(q);
    return rc;
}

/* Runs statement id with (org_id, id) as ?1 and ?2: the gets. */
static int get_by_id(sqlite_store_t *s, stmt_id_t id, int64_t org_id, int64_t row_id,
                     row_read_cb read, void *out, const char *op)
{
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, id, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, org_id, &src);
        store__sqlite_bind_int64(q, 2, row_id, &src);
        rc = step_one(c, q, src, read, out, op);
    }
    checkin(s, c);
    return rc;
}

/* The caller's property scope as a JSON array for json_each, or NULL when it is every property.
 * New (free()). */
static char *scope_json(const store_query_t *q)
{
    if (q->all_properties) return NULL;
    size_t cap = 2 + q->n_scope * 21 + 1, len = 0; /* 20 digits and a comma per id */
    char *j = xmalloc(cap);
    j[len++] = '[';
    for (size_t i = 0; i < q->n_scope; i++)
        len += (size_t)snprintf(j + len, cap - len, "%s%lld", i ? "," : "", (long long)q->scope[i]);
    j[len++] = ']';
    j[len] = '\0';
    return j;
}

/* Binds the common list parameters (see LIST_WHERE); scope is from scope_json and must outlive
 * the statement's use. */
static void bind_query(sqlite3_stmt *q, const store_query_t *qq, const char *scope, int *rc)
{
    store__sqlite_bind_int64(q, 1, qq->org_id, rc);
    store__sqlite_bind_int64(q, 2, qq->property_id, rc);
    bind_opt_text(q, 3, scope, rc);
    bind_opt_text(q, 4, qq->status, rc);
    store__sqlite_bind_int64(q, 5, qq->before_id, rc);
    store__sqlite_bind_int64(q, 6, (int64_t)qq->limit, rc);
}

/* Runs a list statement; returns the new array (NULL when empty), its length in *n, and the
 * status in *rc. elem is the size of one record. */
static void *run_list(sqlite_store_t *s, stmt_id_t id, const store_query_t *qq, size_t elem,
                      row_read_cb read, size_t *n, int *rc, const char *op)
{
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    char *arr = NULL;
    size_t len = 0, cap = 0;
    char *scope = scope_json(qq);
    *n = 0;
    if ((*rc = checkout(s, &c)) != 0) {
        free(scope);
        return NULL;
    }
    if ((*rc = stmt_get(c, id, &q)) == 0) {
        int src = SQLITE_OK;
        bind_query(q, qq, scope, &src);
        if (id == STMT_TASK_LIST) store__sqlite_bind_int64(q, 7, qq->assignee_id, &src);
        while (src == SQLITE_OK || src == SQLITE_ROW) {
            if ((src = sqlite3_step(q)) != SQLITE_ROW) break;
            if (len == cap) arr = grow(arr, &cap, elem);
            read(q, arr + len++ * elem);
        }
        *rc = src == SQLITE_DONE ? 0 : db_error(c, src, op);
        stmt_release(q);
    }
    checkin(s, c);
    free(scope);
    if (*rc != 0) {
        free(arr);
        return NULL;
    }
    *n = len;
    return arr;
}

/* The tail of every insert-from-properties: step, then zero rows means the property is not the
 * organisation's. Releases q; *id gets the new rowid. */
static int step_insert(sqlite_conn_t *c, sqlite3_stmt *q, int src, int64_t *id, const char *op)
{
    int rc;
    if (src == SQLITE_OK) src = sqlite3_step(q);
    if (src == SQLITE_DONE && sqlite3_changes(c->db) == 1) {
        *id = sqlite3_last_insert_rowid(c->db);
        rc = 0;
    } else if (src == SQLITE_DONE) {
        rc = BH_ENOTFOUND;
    } else {
        rc = db_error(c, src, op);
    }
    stmt_release(q);
    return rc;
}

static int sqlite_revenue_create(store_t *st, store_revenue_t *r)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int64_t now = clock_unix_ms();
    int64_t occurred = r->occurred_at ? r->occurred_at : now;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_REVENUE_INSERT, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, r->org_id, &src);
        store__sqlite_bind_int64(q, 2, r->property_id, &src);
        store__sqlite_bind_int64(q, 3, r->amount_cents, &src);
        store__sqlite_bind_text(q, 4, r->currency, &src);
        store__sqlite_bind_text(q, 5, r->source, &src);
        store__sqlite_bind_text(q, 6, r->description, &src);
        store__sqlite_bind_int64(q, 7, occurred, &src);
        store__sqlite_bind_int64(q, 8, r->created_by, &src);
        store__sqlite_bind_int64(q, 9, now, &src);
        if ((rc = step_insert(c, q, src, &r->id, "revenue_create")) == 0) {
            r->occurred_at = occurred;
            r->created_at = now;
        }
    }
    checkin(s, c);
    return rc;
}

static int sqlite_revenue_list(store_t *st, const store_query_t *q, store_revenue_t **out,
                               size_t *n)
{
    int rc;
    *out = run_list((sqlite_store_t *)st, STMT_REVENUE_LIST, q, sizeof **out, read_revenue, n, &rc,
                    "revenue_list");
    return rc;
}

static int sqlite_expense_create(store_t *st, store_expense_t *e)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int64_t now = clock_unix_ms();
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_EXPENSE_INSERT, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, e->org_id, &src);
        store__sqlite_bind_int64(q, 2, e->property_id, &src);
        store__sqlite_bind_int64(q, 3, e->amount_cents, &src);
        store__sqlite_bind_text(q, 4, e->currency, &src);
        store__sqlite_bind_text(q, 5, e->category, &src);
        store__sqlite_bind_text(q, 6, e->description, &src);
        store__sqlite_bind_int64(q, 7, e->created_by, &src);
        store__sqlite_bind_int64(q, 8, now, &src);
        if ((rc = step_insert(c, q, src, &e->id, "expense_create")) == 0)
            e->created_at = e->updated_at = now;
    }
    checkin(s, c);
    return rc;
}

static int sqlite_expense_get(store_t *st, int64_t org_id, int64_t id, store_expense_t *out)
{
    return get_by_id((sqlite_store_t *)st, STMT_EXPENSE_GET, org_id, id, read_expense, out,
                     "expense_get");
}

static int sqlite_expense_decide(store_t *st, int64_t org_id, int64_t id, const char *status,
                                 int64_t by, const char *note, store_expense_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_EXPENSE_DECIDE, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, org_id, &src);
        store__sqlite_bind_int64(q, 2, id, &src);
        store__sqlite_bind_text(q, 3, status, &src);
        store__sqlite_bind_text(q, 4, note, &src);
        store__sqlite_bind_int64(q, 5, by, &src);
        store__sqlite_bind_int64(q, 6, clock_unix_ms(), &src);
        rc = step_one(c, q, src, read_expense, out, "expense_decide");
    }
    checkin(s, c);
    /* Nothing updated: missing, or already decided. Pending is never re-entered, so reading the
     * row afterwards without a transaction still tells the two apart correctly. */
    if (rc == BH_ENOTFOUND) {
        rc = sqlite_expense_get(st, org_id, id, out);
        if (rc == 0) rc = BH_ECONFLICT;
    }
    return rc;
}

static int sqlite_expense_list(store_t *st, const store_query_t *q, store_expense_t **out,
                               size_t *n)
{
    int rc;
    *out = run_list((sqlite_store_t *)st, STMT_EXPENSE_LIST, q, sizeof **out, read_expense, n, &rc,
                    "expense_list");
    return rc;
}

static int sqlite_guest_create(store_t *st, store_guest_t *g)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int64_t now = clock_unix_ms();
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_GUEST_INSERT, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, g->org_id, &src);
        store__sqlite_bind_int64(q, 2, g->property_id, &src);
        store__sqlite_bind_text(q, 3, g->name, &src);
        store__sqlite_bind_text(q, 4, g->email, &src);
        store__sqlite_bind_text(q, 5, g->phone, &src);
        store__sqlite_bind_text(q, 6, g->room_number, &src);
        bind_opt_int64(q, 7, g->nights, &src);
        store__sqlite_bind_int64(q, 8, g->created_by, &src);
        store__sqlite_bind_int64(q, 9, now, &src);
        if ((rc = step_insert(c, q, src, &g->id, "guest_create")) == 0)
            g->checked_in_at = g->created_at = g->updated_at = now;
    }
    checkin(s, c);
    return rc;
}

static int sqlite_guest_get(store_t *st, int64_t org_id, int64_t id, store_guest_t *out)
{
    return get_by_id((sqlite_store_t *)st, STMT_GUEST_GET, org_id, id, read_guest, out,
                     "guest_get");
}

static int sqlite_guest_checkout(store_t *st, int64_t org_id, int64_t id, store_guest_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_GUEST_CHECKOUT, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, org_id, &src);
        store__sqlite_bind_int64(q, 2, id, &src);
        store__sqlite_bind_int64(q, 3, clock_unix_ms(), &src);
        rc = step_one(c, q, src, read_guest, out, "guest_checkout");
    }
    checkin(s, c);
    /* As for expenses: checked_in is never re-entered, so a later read is conclusive. */
    if (rc == BH_ENOTFOUND) {
        rc = sqlite_guest_get(st, org_id, id, out);
        if (rc == 0) rc = BH_ECONFLICT;
    }
    return rc;
}

static int sqlite_guest_list(store_t *st, const store_query_t *q, store_guest_t **out, size_t *n)
{
    int rc;
    *out = run_list((sqlite_store_t *)st, STMT_GUEST_LIST, q, sizeof **out, read_guest, n, &rc,
                    "guest_list");
    return rc;
}

/* 0 if user_id is a user of org_id, BH_EINVAL if not (a bad reference in the caller's input),
 * or a store error. */
static int user_in_org(sqlite_conn_t *c, int64_t org_id, int64_t user_id)
{
    sqlite3_stmt *q =
        NULL; /* stmt_get sets it; gcc 12 -O2 cannot see that (-Wmaybe-uninitialized) */
    int rc = stmt_get(c, STMT_USER_IN_ORG, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    store__sqlite_bind_int64(q, 2, user_id, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    rc = src == SQLITE_ROW ? 0 : src == SQLITE_DONE ? BH_EINVAL : db_error(c, src, "user_in_org");
    stmt_release(q);
    return rc;
}

static int sqlite_task_create(store_t *st, store_task_t *t)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int64_t now = clock_unix_ms();
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    /* Users are never deleted or moved between organisations, so the check needs no
     * transaction around it and the insert. */
    if (t->assignee_id > 0 && (rc = user_in_org(c, t->org_id, t->assignee_id)) != 0) goto out;
    if ((rc = stmt_get(c, STMT_TASK_INSERT, &q)) != 0) goto out;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, t->org_id, &src);
    store__sqlite_bind_int64(q, 2, t->property_id, &src);
    store__sqlite_bind_text(q, 3, t->title, &src);
    store__sqlite_bind_text(q, 4, t->description, &src);
    bind_opt_int64(q, 5, t->assignee_id, &src);
    store__sqlite_bind_text(q, 6, t->priority, &src);
    store__sqlite_bind_text(q, 7, t->status, &src);
    bind_opt_int64(q, 8, t->due_at, &src);
    store__sqlite_bind_int64(q, 9, t->created_by, &src);
    store__sqlite_bind_int64(q, 10, now, &src);
    if ((rc = step_insert(c, q, src, &t->id, "task_create")) == 0)
        t->created_at = t->updated_at = now;
out:
    checkin(s, c);
    return rc;
}

static int sqlite_task_get(store_t *st, int64_t org_id, int64_t id, store_task_t *out)
{
    return get_by_id((sqlite_store_t *)st, STMT_TASK_GET, org_id, id, read_task, out, "task_get");
}

/* Shared by assign and set_status: ?3 is the new value, ?4 the time. */
static int task_update(sqlite_conn_t *c, stmt_id_t id, int64_t org_id, int64_t task_id,
                       int64_t ival, const char *sval, store_task_t *out, const char *op)
{
    sqlite3_stmt *q;
    int rc = stmt_get(c, id, &q);
    if (rc != 0) return rc;
    int src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    store__sqlite_bind_int64(q, 2, task_id, &src);
    if (sval != NULL)
        store__sqlite_bind_text(q, 3, sval, &src);
    else
        bind_opt_int64(q, 3, ival, &src);
    store__sqlite_bind_int64(q, 4, clock_unix_ms(), &src);
    return step_one(c, q, src, read_task, out, op);
}

static int sqlite_task_assign(store_t *st, int64_t org_id, int64_t id, int64_t assignee_id,
                              store_task_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if (assignee_id == 0 || (rc = user_in_org(c, org_id, assignee_id)) == 0)
        rc = task_update(c, STMT_TASK_ASSIGN, org_id, id, assignee_id, NULL, out, "task_assign");
    checkin(s, c);
    return rc;
}

static int sqlite_task_set_status(store_t *st, int64_t org_id, int64_t id, const char *status,
                                  store_task_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    rc = task_update(c, STMT_TASK_STATUS, org_id, id, 0, status, out, "task_set_status");
    checkin(s, c);
    return rc;
}

static int sqlite_task_list(store_t *st, const store_query_t *q, store_task_t **out, size_t *n)
{
    int rc;
    *out = run_list((sqlite_store_t *)st, STMT_TASK_LIST, q, sizeof **out, read_task, n, &rc,
                    "task_list");
    return rc;
}

static int sqlite_property_update(store_t *st, int64_t org_id, int64_t id,
                                  const store_property_patch_t *patch, store_property_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_PROPERTY_UPDATE, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, org_id, &src);
        store__sqlite_bind_int64(q, 2, id, &src);
        bind_opt_text(q, 3, patch->name, &src);
        bind_opt_text(q, 4, patch->address, &src);
        bind_opt_text(q, 5, patch->city, &src);
        bind_opt_text(q, 6, patch->country, &src);
        bind_opt_text(q, 7, patch->timezone, &src);
        store__sqlite_bind_int64(q, 8, clock_unix_ms(), &src);
        rc = step_one(c, q, src, read_property_row, out, "property_update");
    }
    checkin(s, c);
    return rc;
}

static int sqlite_user_update(store_t *st, int64_t org_id, int64_t id,
                              const store_user_patch_t *patch, store_user_t *out)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int src = SQLITE_OK;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    /* One write transaction: the row, its property list and the read-back must agree. */
    if ((rc = exec_stmt(c, STMT_BEGIN_IMMEDIATE, "user_update_begin")) != 0) goto out;
    if ((rc = stmt_get(c, STMT_USER_UPDATE, &q)) != 0) goto fail;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    store__sqlite_bind_int64(q, 2, id, &src);
    bind_opt_text(q, 3, patch->name, &src);
    bind_opt_text(q, 4, patch->set_role ? auth_role_name(patch->role) : NULL, &src);
    if (patch->set_properties)
        store__sqlite_bind_int64(q, 5, patch->all_properties != 0, &src);
    else
        bind_null(q, 5, &src);
    store__sqlite_bind_int64(q, 6, clock_unix_ms(), &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    int changed = sqlite3_changes(c->db);
    stmt_release(q);
    if (src != SQLITE_DONE) {
        rc = db_error(c, src, "user_update");
        goto fail;
    }
    if (changed != 1) {
        rc = BH_ENOTFOUND;
        goto fail;
    }
    if (patch->set_properties) {
        if ((rc = stmt_get(c, STMT_USER_PROPERTIES_CLEAR, &q)) != 0) goto fail;
        src = sqlite3_bind_int64(q, 1, id);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        stmt_release(q);
        if (src != SQLITE_DONE) {
            rc = db_error(c, src, "user_update_properties");
            goto fail;
        }
        if (!patch->all_properties) {
            /* insert_user_properties reads only these fields; the ids stay borrowed. */
            store_user_t u = {.id = id,
                              .org_id = org_id,
                              .property_ids = (int64_t *)patch->property_ids,
                              .n_properties = patch->n_properties};
            if ((rc = insert_user_properties(c, &u)) != 0) goto fail;
        }
    }
    if ((rc = stmt_get(c, STMT_USER_GET, &q)) != 0) goto fail;
    src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, org_id, &src);
    store__sqlite_bind_int64(q, 2, id, &src);
    if (src != SQLITE_OK) {
        stmt_release(q);
        rc = db_error(c, src, "user_update_read");
        goto fail;
    }
    if ((rc = load_user(c, q, out, "user_update_read")) != 0) goto fail;
    if ((rc = exec_stmt(c, STMT_COMMIT, "user_update_commit")) != 0) goto fail;
    goto out;
fail:
    rollback(c);
    store_user_dispose(out);
out:
    checkin(s, c);
    return rc;
}

/* Loads the property lists of users[0..n) that are not all_properties. Inside the caller's read
 * transaction. */
static int load_user_properties(sqlite_conn_t *c, store_user_t *users, size_t n)
{
    sqlite3_stmt *p;
    int rc = stmt_get(c, STMT_USER_PROPERTIES, &p);
    if (rc != 0) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        store_user_t *u = &users[i];
        if (u->all_properties) continue;
        size_t cap = 0;
        int src = sqlite3_bind_int64(p, 1, u->id);
        while (src == SQLITE_OK || src == SQLITE_ROW) {
            if ((src = sqlite3_step(p)) != SQLITE_ROW) break;
            if (u->n_properties == cap)
                u->property_ids = grow(u->property_ids, &cap, sizeof *u->property_ids);
            u->property_ids[u->n_properties++] = sqlite3_column_int64(p, 0);
        }
        rc = src == SQLITE_DONE ? 0 : db_error(c, src, "user_list_properties");
        stmt_release(p);
    }
    return rc;
}

static int sqlite_user_list(store_t *st, const store_query_t *qq, store_user_t **out, size_t *n)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    store_user_t *arr = NULL;
    size_t len = 0, cap = 0;
    char *scope = scope_json(qq);
    int rc = checkout(s, &c);
    if (rc != 0) {
        free(scope);
        return rc;
    }
    /* A read transaction, so that the property lists belong to the same snapshot as the rows. */
    if ((rc = exec_stmt(c, STMT_BEGIN, "user_list_begin")) != 0) goto out;
    if ((rc = stmt_get(c, STMT_USER_LIST, &q)) == 0) {
        int src = SQLITE_OK;
        bind_query(q, qq, scope, &src);
        while (rc == 0 && (src == SQLITE_OK || src == SQLITE_ROW)) {
            if ((src = sqlite3_step(q)) != SQLITE_ROW) break;
            if (len == cap) arr = grow(arr, &cap, sizeof *arr);
            store_user_init(&arr[len]);
            rc = read_user(q, &arr[len++]);
        }
        if (rc == 0) rc = src == SQLITE_DONE ? 0 : db_error(c, src, "user_list");
        stmt_release(q);
    }
    if (rc == 0) rc = load_user_properties(c, arr, len);
    if (exec_stmt(c, STMT_COMMIT, "user_list_commit") != 0) rollback(c);
out:
    checkin(s, c);
    free(scope);
    if (rc != 0) {
        store_user_list_free(arr, len);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Realtime event history */

/* SQLite integers are signed 64-bit; a window "as large as possible" must not wrap negative. */
static int64_t clamp_count(size_t n)
{
    return n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

static int sqlite_event_append(store_t *st, const store_event_t *e)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int src = SQLITE_OK;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    /* IMMEDIATE: the event and the head must move together, and a deferred transaction could
     * fail its upgrade to a write lock without consulting the busy handler. */
    if ((rc = exec_stmt(c, STMT_BEGIN_IMMEDIATE, "event_append_begin")) != 0) goto out;

    if ((rc = stmt_get(c, STMT_EVENT_INSERT, &q)) != 0) goto fail;
    store__sqlite_bind_int64(q, 1, e->org_id, &src);
    store__sqlite_bind_text(q, 2, e->service, &src);
    store__sqlite_bind_int64(q, 3, e->offset, &src);
    if (e->property_id > 0)
        store__sqlite_bind_int64(q, 4, e->property_id, &src);
    else
        bind_null(q, 4, &src);
    store__sqlite_bind_int64(q, 5, e->ts_ms, &src);
    store__sqlite_bind_text(q, 6, e->type, &src);
    /* json is not NUL-terminated: bind exactly its bytes. store.c bounded json_len by INT_MAX. */
    if (src == SQLITE_OK) src = sqlite3_bind_text(q, 7, e->json, (int)e->json_len, SQLITE_STATIC);
    store__sqlite_bind_text(q, 8, e->idem_key && *e->idem_key ? e->idem_key : NULL, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    stmt_release(q);
    if (src != SQLITE_DONE) {
        rc = db_error(c, src, "event_append");
        goto fail;
    }

    if ((rc = stmt_get(c, STMT_STREAM_UPSERT, &q)) != 0) goto fail;
    src = SQLITE_OK;
    store__sqlite_bind_int64(q, 1, e->org_id, &src);
    store__sqlite_bind_text(q, 2, e->service, &src);
    store__sqlite_bind_text(q, 3, e->epoch, &src);
    store__sqlite_bind_int64(q, 4, e->offset, &src);
    if (src == SQLITE_OK) src = sqlite3_step(q);
    int changed = sqlite3_changes(c->db);
    stmt_release(q);
    if (src != SQLITE_DONE) {
        rc = db_error(c, src, "event_append_head");
        goto fail;
    }
    if (changed != 1) {
        char q1[64], q2[64];
        LOG_W("store_epoch_mismatch", "backend=sqlite org=%lld service=%s epoch=%s",
              (long long)e->org_id, log_quote(q1, sizeof q1, e->service),
              log_quote(q2, sizeof q2, e->epoch));
        rc = BH_EINVAL;
        goto fail;
    }
    if ((rc = exec_stmt(c, STMT_COMMIT, "event_append_commit")) != 0) goto fail;
    goto out;
fail:
    rollback(c);
out:
    checkin(s, c);
    return rc;
}

static int sqlite_streams_load(store_t *st, store_stream_t **out, size_t *n)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    store_stream_t *arr = NULL;
    size_t len = 0, cap = 0;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_STREAMS_LOAD, &q)) == 0) {
        int src;
        while ((src = sqlite3_step(q)) == SQLITE_ROW) {
            if (len == cap) arr = grow(arr, &cap, sizeof *arr);
            store_stream_t *r = &arr[len++];
            memset(r, 0, sizeof *r);
            r->org_id = sqlite3_column_int64(q, 0);
            store__sqlite_column_copy(q, 1, r->service, sizeof r->service);
            store__sqlite_column_copy(q, 2, r->epoch, sizeof r->epoch);
            r->head = sqlite3_column_int64(q, 3);
        }
        rc = src == SQLITE_DONE ? 0 : db_error(c, src, "streams_load");
        stmt_release(q);
    }
    checkin(s, c);
    if (rc != 0) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

static int sqlite_events_scan(store_t *st, int64_t min_ts_ms, size_t per_stream_max,
                              store_event_cb cb, void *data)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_EVENTS_SCAN, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, min_ts_ms, &src);
        store__sqlite_bind_int64(q, 2, clamp_count(per_stream_max), &src);
        while (src == SQLITE_OK || src == SQLITE_ROW) {
            if ((src = sqlite3_step(q)) != SQLITE_ROW) break;
            store_event_t e;
            e.org_id = sqlite3_column_int64(q, 0);
            e.service = (const char *)sqlite3_column_text(q, 1);
            e.epoch = (const char *)sqlite3_column_text(q, 2);
            e.offset = sqlite3_column_int64(q, 3);
            e.property_id = sqlite3_column_int64(q, 4); /* NULL reads as 0: none */
            e.ts_ms = sqlite3_column_int64(q, 5);
            e.type = (const char *)sqlite3_column_text(q, 6);
            e.json = (const char *)sqlite3_column_text(q, 7);
            e.json_len = (size_t)sqlite3_column_bytes(q, 7);
            e.idem_key = (const char *)sqlite3_column_text(q, 8); /* NULL: none */
            /* Text columns are NULL only when SQLite ran out of memory converting them. */
            if (e.service == NULL || e.epoch == NULL || e.type == NULL || e.json == NULL) {
                src = SQLITE_NOMEM;
                break;
            }
            if ((rc = cb(&e, data)) != 0) break;
        }
        if (rc == 0) rc = src == SQLITE_DONE ? 0 : db_error(c, src, "events_scan");
        stmt_release(q);
    }
    checkin(s, c);
    return rc;
}

static int sqlite_events_prune(store_t *st, int64_t min_ts_ms, size_t per_stream_max,
                               int64_t *deleted)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = checkout(s, &c);
    if (rc != 0) return rc;
    if ((rc = stmt_get(c, STMT_EVENTS_PRUNE, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, min_ts_ms, &src);
        store__sqlite_bind_int64(q, 2, clamp_count(per_stream_max), &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        if (src == SQLITE_DONE) {
            *deleted = sqlite3_changes64(c->db);
            rc = 0;
        } else {
            rc = db_error(c, src, "events_prune");
        }
        stmt_release(q);
    }
    checkin(s, c);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Open and close */

static void sqlite_close(store_t *st)
{
    sqlite_store_t *s = (sqlite_store_t *)st;
    /* Closing with a connection still checked out is a use-after-free in the making. */
    assert(s->n_idle == s->n_open);
    for (int i = 0; i < s->n_idle; i++)
        conn_free(s->idle[i]);
    uv_cond_destroy(&s->cond);
    uv_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

int store__sqlite_open(const char *path, store_t **out)
{
    char q[256];
    *out = NULL;
    /* Every pooled connection to ":memory:" would get its own empty database. */
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) {
        LOG_E("store_config", "backend=sqlite path=%s reason=%s", log_quote(q, sizeof q, path),
              "need_a_database_file");
        return BH_ECONFIG;
    }
    /* NOMUTEX connections rely on the library being built thread-safe (Debian's is). */
    if (!sqlite3_threadsafe()) {
        LOG_E("store_config", "backend=sqlite reason=%s", "sqlite_built_without_threads");
        return BH_ESTORE;
    }
    sqlite_store_t *s = xcalloc(1, sizeof *s);
    sqlite_conn_t *c = NULL;
    int rc = BH_ESTORE, have_mutex, have_cond;
    s->super.vt = &sqlite_vtable;
    s->path = xstrdup(path);
    have_mutex = uv_mutex_init(&s->lock) == 0;
    have_cond = have_mutex && uv_cond_init(&s->cond) == 0;
    if (!have_cond) {
        LOG_E("store_open_failed", "backend=sqlite reason=%s", "pool_lock_init");
        goto err;
    }
    /* The database holds password hashes and guest data: a new one is created owner-only
     * (SQLite would use 0644 less the umask; its -wal and -shm files copy the database's mode).
     * docs/SECURITY.md F3. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    /* Open one connection now so that a bad path fails at start-up, not on the first request. */
    if ((rc = conn_open(path, &c)) != 0) goto err;
    s->idle[s->n_idle++] = c;
    s->n_open = 1;
    *out = &s->super;
    return 0;

err:
    if (have_cond) uv_cond_destroy(&s->cond);
    if (have_mutex) uv_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Shared with the feature files (sqlite_int.h) */

int store__sqlite_checkout(store_t *st, sqlite_conn_t **out)
{
    return checkout((sqlite_store_t *)st, out);
}

void store__sqlite_checkin(store_t *st, sqlite_conn_t *c)
{
    checkin((sqlite_store_t *)st, c);
}

sqlite3 *store__sqlite_db(sqlite_conn_t *c)
{
    return c->db;
}

int store__sqlite_prepare(sqlite_conn_t *c, const char *sql, sqlite3_stmt **out)
{
    for (int i = 0; i < c->n_extra; i++) {
        if (c->extra[i].sql == sql) {
            *out = c->extra[i].stmt;
            return 0;
        }
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(
        c->db, sql, -1, c->n_extra < EXTRA_STMTS_MAX ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL);
    if (rc != SQLITE_OK) return db_error(c, rc, "prepare");
    if (c->n_extra == EXTRA_STMTS_MAX) {
        /* A bug (more distinct statements than slots), not a runtime condition. */
        sqlite3_finalize(s);
        LOG_E("store_stmt_cache_full", "backend=sqlite");
        return BH_ESTORE;
    }
    c->extra[c->n_extra].sql = sql;
    c->extra[c->n_extra].stmt = s;
    c->n_extra++;
    *out = s;
    return 0;
}

void store__sqlite_release(sqlite3_stmt *s)
{
    stmt_release(s);
}

int store__sqlite_error(sqlite_conn_t *c, int rc, const char *op)
{
    return db_error(c, rc, op);
}

int store__sqlite_begin(sqlite_conn_t *c, int immediate)
{
    return exec_stmt(c, immediate ? STMT_BEGIN_IMMEDIATE : STMT_BEGIN, "begin");
}

int store__sqlite_commit(sqlite_conn_t *c)
{
    return exec_stmt(c, STMT_COMMIT, "commit");
}

void store__sqlite_rollback(sqlite_conn_t *c)
{
    rollback(c);
}

static const struct store_vtable sqlite_vtable = {
    .name = "sqlite",
    .uploads = &store__sqlite_upload_ops,
    .chat = &store__sqlite_chat_ops,
    .flags = &store__sqlite_flag_ops,
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .ping = sqlite_ping,
    .org_create = sqlite_org_create,
    .org_get = sqlite_org_get,
    .property_create = sqlite_property_create,
    .property_get = sqlite_property_get,
    .property_list = sqlite_property_list,
    .room_create = sqlite_room_create,
    .room_list = sqlite_room_list,
    .user_create = sqlite_user_create,
    .user_get = sqlite_user_get,
    .user_by_email = sqlite_user_by_email,
    .revenue_create = sqlite_revenue_create,
    .revenue_list = sqlite_revenue_list,
    .expense_create = sqlite_expense_create,
    .expense_get = sqlite_expense_get,
    .expense_decide = sqlite_expense_decide,
    .expense_list = sqlite_expense_list,
    .guest_create = sqlite_guest_create,
    .guest_get = sqlite_guest_get,
    .guest_checkout = sqlite_guest_checkout,
    .guest_list = sqlite_guest_list,
    .task_create = sqlite_task_create,
    .task_get = sqlite_task_get,
    .task_assign = sqlite_task_assign,
    .task_set_status = sqlite_task_set_status,
    .task_list = sqlite_task_list,
    .property_update = sqlite_property_update,
    .user_update = sqlite_user_update,
    .user_list = sqlite_user_list,
    .event_append = sqlite_event_append,
    .streams_load = sqlite_streams_load,
    .events_scan = sqlite_events_scan,
    .events_prune = sqlite_events_prune,
};
