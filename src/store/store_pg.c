/* store_pg.c: the PostgreSQL store backend, for several bellhop nodes sharing one database.
 *
 * Concurrency model. A libpq connection must not be used by two threads at once, so the store
 * keeps a pool, as the SQLite backend does: a thread-pool thread checks a connection out for one
 * operation (or one chat transaction) and back in afterwards. Connections are opened lazily up to
 * pool_max (default: UV_THREADPOOL_SIZE, so no store call ever waits for a connection while
 * another thread of the same pool sits idle). A connection found broken (PQstatus
 * CONNECTION_BAD) is reset with PQreset on its next checkout; the operation that met the break
 * fails with BH_ESTORE.
 *
 * Nothing here assumes it is the only process: ids come from sequences (RETURNING id), "create if
 * absent" is INSERT ... ON CONFLICT, stream heads move with GREATEST inside the upsert, and where
 * SQLite relies on its single write lock (BEGIN IMMEDIATE) to serialise a read-then-write, the
 * transaction takes an advisory lock instead (pg_int.h PG_LOCK_*), which every node honours.
 *
 * Statements. Static SQL with $n parameters only, prepared once per connection (the cache is
 * keyed by the SQL string's address) and run with PQexecPrepared. Text columns are compared and
 * ordered with COLLATE "C" where the order is visible, so answers match SQLite's byte order
 * whatever the database's locale.
 *
 * Configuration. The url is libpq's (postgres:// or postgresql://, every libpq parameter works).
 * Three query parameters are ours and are removed before libpq sees the url: pool_max (1..64),
 * statement_timeout_ms (default 30000) and lock_timeout_ms (default 5000, SQLite's busy timeout:
 * a write that waits longer for another's lock fails with BH_ESTORE); 0 disables a limit. The url
 * is never logged: it may carry a password. */
#include "store/pg_int.h"
#include "store/store_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store/migration.h"

#include <assert.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_DEFAULT 8
#define POOL_LIMIT 64
#define STATEMENT_TIMEOUT_DEFAULT_MS 30000
/* SQLite's busy timeout: how long a write waits for another's lock before BH_ESTORE. */
#define LOCK_TIMEOUT_DEFAULT_MS 5000
#define STMT_CACHE_MAX 160

/* ---------------------------------------------------------------------------------------------
 * Connections and the pool */

struct pg_conn_s {
    PGconn *db;
    /* Prepared statements of this session: stmt i is named "bh<i>". Emptied by a reset, which
     * starts a new session. */
    const char *stmt_sql[STMT_CACHE_MAX];
    int n_stmt;
};

typedef struct pg_store_s {
    store_t super; /* first: a store_t * is a pg_store_t * */
    char *conninfo; /* the url without our own parameters; never logged */
    int pool_max;
    int64_t statement_timeout_ms;
    int64_t lock_timeout_ms;
    uv_mutex_t lock; /* guards the fields below */
    uv_cond_t cond;  /* signalled when a connection is checked in or a slot frees up */
    pg_conn_t **idle;
    int n_idle; /* idle[0..n_idle) are free to check out */
    int n_open; /* n_idle <= n_open <= pool_max */
} pg_store_t;

static const struct store_vtable pg_vtable;

/* libpq prints notices (e.g. "relation already exists, skipping") on stderr by default; they
 * belong in our log, at debug. */
static void on_notice(void *arg, const char *message)
{
    char q[256];
    (void)arg;
    LOG_D("store_notice", "backend=postgres msg=%s", log_quote(q, sizeof q, message));
}

static void log_conn_error(const char *what, PGconn *db)
{
    char q[512];
    /* libpq's messages name host, port, user and database, never the password. */
    LOG_E(what, "backend=postgres err=%s",
          log_quote(q, sizeof q, db ? PQerrorMessage(db) : "out of memory"));
}

/* Sets the session's time limits (milliseconds; 0: none). */
static int set_timeouts(pg_conn_t *c, int64_t statement_ms, int64_t lock_ms)
{
    char a[24], b[24];
    pg_params_t p;
    snprintf(a, sizeof a, "%lld", (long long)statement_ms);
    snprintf(b, sizeof b, "%lld", (long long)lock_ms);
    store__pg_params_init(&p);
    store__pg_param_text(&p, a);
    store__pg_param_text(&p, b);
    PGresult *r = PQexecParams(c->db,
                               "SELECT set_config('statement_timeout', $1, false), "
                               "set_config('lock_timeout', $2, false)",
                               p.n, p.types, p.values, p.lengths, p.formats, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok) log_conn_error("store_setup_failed", c->db);
    return ok ? 0 : BH_ESTORE;
}

/* Per-session settings, applied after every connect and reset (a new session: no prepared
 * statements yet). */
static int conn_setup(pg_store_t *s, pg_conn_t *c)
{
    c->n_stmt = 0;
    PQsetNoticeProcessor(c->db, on_notice, NULL);
    return set_timeouts(c, s->statement_timeout_ms, s->lock_timeout_ms);
}

static void conn_free(pg_conn_t *c)
{
    if (c == NULL) return;
    PQfinish(c->db);
    free(c);
}

static int conn_open(pg_store_t *s, pg_conn_t **out)
{
    /* expand_dbname: the url in "dbname" is parsed as a whole connection string; the keywords
     * after it add what the url cannot override, those before it are defaults the url may
     * override. The defaults bound how long a vanished server can hold a pool thread (and so
     * a drain): connecting, and data the server never acknowledges, give up within seconds;
     * keepalives find a silent peer while a query waits. */
    const char *const keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
                                "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                                "dbname", "client_encoding", "fallback_application_name", NULL};
    const char *const vals[] = {"5", "1", "10", "5", "3", "15000", s->conninfo, "UTF8", "bellhop",
                                NULL};
    pg_conn_t *c = xcalloc(1, sizeof *c);
    c->db = PQconnectdbParams(keys, vals, 1);
    if (c->db == NULL || PQstatus(c->db) != CONNECTION_OK) {
        log_conn_error("store_open_failed", c->db);
        conn_free(c);
        return BH_ESTORE;
    }
    if (conn_setup(s, c) != 0) {
        conn_free(c);
        return BH_ESTORE;
    }
    *out = c;
    return 0;
}

/* Brings a broken connection back (a server restart, a dropped socket). */
static int conn_revive(pg_store_t *s, pg_conn_t *c)
{
    if (PQstatus(c->db) == CONNECTION_OK) return 0;
    PQreset(c->db);
    if (PQstatus(c->db) != CONNECTION_OK) {
        log_conn_error("store_reconnect_failed", c->db);
        return BH_ESTORE;
    }
    LOG_W("store_reconnected", "backend=postgres");
    return conn_setup(s, c);
}

static int checkout(pg_store_t *s, pg_conn_t **out)
{
    uv_mutex_lock(&s->lock);
    while (s->n_idle == 0 && s->n_open == s->pool_max)
        uv_cond_wait(&s->cond, &s->lock);
    if (s->n_idle > 0) {
        pg_conn_t *c = s->idle[--s->n_idle];
        uv_mutex_unlock(&s->lock);
        if (conn_revive(s, c) != 0) {
            /* Back in the pool (still broken): the next checkout tries again. */
            uv_mutex_lock(&s->lock);
            s->idle[s->n_idle++] = c;
            uv_cond_signal(&s->cond);
            uv_mutex_unlock(&s->lock);
            return BH_ESTORE;
        }
        *out = c;
        return 0;
    }
    /* Reserve the slot, then connect outside the lock: connecting waits on the network. */
    s->n_open++;
    uv_mutex_unlock(&s->lock);
    int rc = conn_open(s, out);
    if (rc != 0) {
        uv_mutex_lock(&s->lock);
        s->n_open--;
        uv_cond_signal(&s->cond);
        uv_mutex_unlock(&s->lock);
    }
    return rc;
}

static void checkin(pg_store_t *s, pg_conn_t *c)
{
    /* An open transaction would leak into the next user's operation; every path should have
     * ended it, and this keeps a missed one from poisoning the pool. A session that cannot even
     * roll back is started afresh (a new session, so its prepared statements go too). */
    store__pg_rollback(c);
    if (PQstatus(c->db) == CONNECTION_OK && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        LOG_W("store_session_reset", "backend=postgres reason=%s", "transaction_not_ended");
        PQreset(c->db);
        if (PQstatus(c->db) == CONNECTION_OK) (void)conn_setup(s, c);
    }
    uv_mutex_lock(&s->lock);
    assert(s->n_idle < s->n_open);
    s->idle[s->n_idle++] = c;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------------------------------------
 * Parameters, statements, results */

static void param_add(pg_params_t *p, unsigned int type, const char *v, int len, int fmt)
{
    assert(p->n < PG_PARAMS_MAX);
    p->types[p->n] = type;
    p->values[p->n] = v;
    p->lengths[p->n] = len;
    p->formats[p->n] = fmt;
    p->n++;
}

void store__pg_param_int64(pg_params_t *p, int64_t v)
{
    assert(p->n < PG_PARAMS_MAX);
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
    param_add(p, PG_OID_INT8, p->num[p->n], 0, 0);
}

void store__pg_param_opt_int64(pg_params_t *p, int64_t v)
{
    if (v != 0)
        store__pg_param_int64(p, v);
    else
        param_add(p, PG_OID_INT8, NULL, 0, 0);
}

void store__pg_param_text(pg_params_t *p, const char *v)
{
    param_add(p, PG_OID_TEXT, v, 0, 0);
}

void store__pg_param_bytes(pg_params_t *p, const char *v, size_t len)
{
    /* The binary form of text is its bytes; store.c bounds lengths by INT_MAX. */
    param_add(p, PG_OID_TEXT, v, (int)len, 1);
}

void store__pg_param_int64_array(pg_params_t *p, const int64_t *v, size_t n, char *buf,
                                 size_t cap)
{
    size_t len = 0;
    if (v == NULL) {
        param_add(p, PG_OID_INT8_ARRAY, NULL, 0, 0);
        return;
    }
    assert(cap >= 3 + n * 21);
    buf[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? "," : "", (long long)v[i]);
    buf[len++] = '}';
    buf[len] = '\0';
    param_add(p, PG_OID_INT8_ARRAY, buf, 0, 0);
}

/* Maps a failed result; logs what is not a constraint answer. */
static int result_error(pg_conn_t *c, const PGresult *r, const char *op)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state != NULL) {
        if (strcmp(state, "23505") == 0) return BH_EEXIST;
        /* The row refers to an organisation, property or guest that does not exist. */
        if (strcmp(state, "23503") == 0) return BH_ENOTFOUND;
        if (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0) return BH_EINVAL;
    }
    char q[512];
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    LOG_E("store_error", "backend=postgres op=%s sqlstate=%s err=%s", op, state ? state : "none",
          log_quote(q, sizeof q, msg ? msg : PQerrorMessage(c->db)));
    return BH_ESTORE;
}

/* The cached statement name for sql, preparing it on first use with p's types. */
static int stmt_name(pg_conn_t *c, const char *sql, const pg_params_t *p, char name[16],
                     const char *op)
{
    int i;
    for (i = 0; i < c->n_stmt; i++)
        if (c->stmt_sql[i] == sql) break;
    if (i == STMT_CACHE_MAX) {
        /* A bug (more distinct statements than slots), not a runtime condition. */
        LOG_E("store_stmt_cache_full", "backend=postgres");
        return BH_ESTORE;
    }
    snprintf(name, 16, "bh%d", i);
    if (i < c->n_stmt) return 0;
    PGresult *r = PQprepare(c->db, name, sql, p ? p->n : 0, p ? p->types : NULL);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : result_error(c, r, op);
    PQclear(r);
    if (rc == 0) c->stmt_sql[c->n_stmt++] = sql;
    return rc;
}

int store__pg_exec(pg_conn_t *c, const char *sql, const pg_params_t *p, PGresult **res,
                   const char *op)
{
    char name[16];
    PGresult *r = NULL;
    int rc = stmt_name(c, sql, p, name, op);
    if (rc == 0) {
        r = PQexecPrepared(c->db, name, p ? p->n : 0, p ? p->values : NULL,
                           p ? p->lengths : NULL, p ? p->formats : NULL, 0);
        ExecStatusType st = PQresultStatus(r);
        rc = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? 0 : result_error(c, r, op);
    }
    if (rc != 0 || res == NULL) {
        PQclear(r);
        r = NULL;
    }
    /* The socket broke under us: the session (and its transaction) is gone. Whatever SQLSTATE
     * the failure carried, the caller sees a store failure; the next checkout resets. */
    if (PQstatus(c->db) == CONNECTION_BAD) {
        PQclear(r);
        r = NULL;
        rc = BH_ESTORE;
    }
    if (res) *res = r;
    return rc;
}

int store__pg_write(pg_conn_t *c, const char *sql, const pg_params_t *p, int64_t *changes,
                    const char *op)
{
    PGresult *r;
    int rc = store__pg_exec(c, sql, p, &r, op);
    if (rc == 0 && changes) *changes = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

int store__pg_begin(pg_conn_t *c)
{
    static const char sql[] = "BEGIN";
    return store__pg_write(c, sql, NULL, NULL, "begin");
}

int store__pg_commit(pg_conn_t *c)
{
    static const char sql[] = "COMMIT";
    PGresult *r;
    int rc = store__pg_exec(c, sql, NULL, &r, "commit");
    /* COMMIT of a transaction that failed earlier "succeeds" with tag ROLLBACK. */
    if (rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) rc = BH_ESTORE;
    PQclear(r);
    return rc;
}

void store__pg_rollback(pg_conn_t *c)
{
    static const char sql[] = "ROLLBACK";
    if (PQtransactionStatus(c->db) != PQTRANS_IDLE && PQstatus(c->db) == CONNECTION_OK)
        (void)store__pg_write(c, sql, NULL, NULL, "rollback");
}

int store__pg_xact_lock(pg_conn_t *c, int64_t key)
{
    static const char sql[] = "SELECT pg_advisory_xact_lock($1)";
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, key);
    return store__pg_write(c, sql, &p, NULL, "xact_lock");
}

int64_t store__pg_get_int64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void store__pg_get_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    const unsigned char *src = (const unsigned char *)PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col);
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

/* Parses an int8[] in text form ("{1,2,3}") into a new array (NULL when empty). */
static int64_t *parse_ids(const char *s, size_t *n)
{
    int64_t *ids = NULL;
    size_t cap = 0;
    *n = 0;
    if (*s == '{') s++;
    while (*s && *s != '}') {
        char *end;
        int64_t v = strtoll(s, &end, 10);
        if (end == s) break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            ids = xrealloc(ids, cap * sizeof *ids);
        }
        ids[(*n)++] = v;
        s = *end == ',' ? end + 1 : end;
    }
    return ids;
}

/* ---------------------------------------------------------------------------------------------
 * SQL */

#define PROPERTY_COLS "id, org_id, name, address, city, country, timezone, created_at, updated_at"
#define ROOM_COLS "id, org_id, property_id, number, type, status, floor"
/* The property list rides along as an array, so a user and its list come from one snapshot. */
#define USER_COLS                                                                                  \
    "id, org_id, email, name, role, password_hash, all_properties, created_at, updated_at, "       \
    "ARRAY(SELECT property_id FROM user_properties WHERE user_id = users.id ORDER BY property_id)"
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

/* Every domain list binds the same parameters (see bind_query): $1 org, $2 property or 0, $3 the
 * caller's property scope as an int8[] or NULL for all, $4 status or NULL, $5 the paging cursor
 * or 0, $6 the limit; tasks add $7, the assignee or 0. */
#define LIST_WHERE                                                                                 \
    " WHERE org_id = $1 AND ($2 = 0 OR property_id = $2)"                                          \
    " AND ($3 IS NULL OR property_id = ANY ($3)) AND ($5 = 0 OR id < $5)"
#define LIST_STATUS " AND ($4 IS NULL OR status = $4)"
#define LIST_ORDER " ORDER BY id DESC LIMIT $6"

static const char SQL_PING[] = "SELECT 1";
static const char SQL_ORG_INSERT[] =
    "INSERT INTO organisations (id, name, created_at) "
    "VALUES (COALESCE($1, nextval(pg_get_serial_sequence('organisations', 'id'))), $2, $3) "
    "RETURNING id";
/* A given id does not move the sequence: move it past the id, never backwards (GREATEST), so
 * the next chosen id cannot collide. */
static const char SQL_ORG_SEQ[] =
    "SELECT setval(pg_get_serial_sequence('organisations', 'id'), "
    "GREATEST($1, (SELECT last_value FROM organisations_id_seq)))";
static const char SQL_ORG_GET[] = "SELECT id, name, created_at FROM organisations WHERE id = $1";
static const char SQL_PROPERTY_INSERT[] =
    "INSERT INTO properties (org_id, name, address, city, country, timezone, created_at, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id";
static const char SQL_PROPERTY_GET[] =
    "SELECT " PROPERTY_COLS " FROM properties WHERE org_id = $1 AND id = $2";
static const char SQL_PROPERTY_LIST[] =
    "SELECT " PROPERTY_COLS " FROM properties WHERE org_id = $1 ORDER BY id";
static const char SQL_PROPERTY_EXISTS[] = "SELECT 1 FROM properties WHERE org_id = $1 AND id = $2";
/* Taking org_id and property_id from the properties row makes the insert a no-op (no row) when
 * the property is not the caller's organisation's, in one atomic statement. */
static const char SQL_ROOM_INSERT[] =
    "INSERT INTO rooms (org_id, property_id, number, type, status, floor) "
    "SELECT org_id, id, $3, $4, $5, $6 FROM properties WHERE org_id = $1 AND id = $2 RETURNING id";
static const char SQL_ROOM_LIST[] =
    "SELECT " ROOM_COLS " FROM rooms WHERE org_id = $1 AND property_id = $2 ORDER BY id";
static const char SQL_USER_INSERT[] =
    "INSERT INTO users (org_id, email, name, role, password_hash, all_properties, created_at, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id";
static const char SQL_USER_PROPERTY_INSERT[] =
    "INSERT INTO user_properties (user_id, property_id) "
    "SELECT $1, id FROM properties WHERE org_id = $2 AND id = $3";
static const char SQL_USER_GET[] = "SELECT " USER_COLS " FROM users WHERE org_id = $1 AND id = $2";
static const char SQL_USER_BY_EMAIL[] = "SELECT " USER_COLS " FROM users WHERE email = $1";
static const char SQL_REVENUE_INSERT[] =
    "INSERT INTO revenues (org_id, property_id, amount_cents, currency, source, description, "
    "occurred_at, created_by, created_at) "
    "SELECT org_id, id, $3, $4, $5, $6, $7, $8, $9 FROM properties WHERE org_id = $1 AND id = $2 "
    "RETURNING id";
static const char SQL_REVENUE_LIST[] = "SELECT " REVENUE_COLS " FROM revenues" LIST_WHERE
                                       LIST_ORDER;
static const char SQL_EXPENSE_INSERT[] =
    "INSERT INTO expenses (org_id, property_id, amount_cents, currency, category, description, "
    "status, created_by, created_at, updated_at) "
    "SELECT org_id, id, $3, $4, $5, $6, 'pending', $7, $8, $8 FROM properties "
    "WHERE org_id = $1 AND id = $2 RETURNING id";
static const char SQL_EXPENSE_GET[] =
    "SELECT " EXPENSE_COLS " FROM expenses WHERE org_id = $1 AND id = $2";
/* The state check is part of the write, so two concurrent decisions cannot both succeed. */
static const char SQL_EXPENSE_DECIDE[] =
    "UPDATE expenses SET status = $3, note = $4, decided_by = $5, decided_at = $6, "
    "updated_at = $6 WHERE org_id = $1 AND id = $2 AND status = 'pending' "
    "RETURNING " EXPENSE_COLS;
static const char SQL_EXPENSE_LIST[] = "SELECT " EXPENSE_COLS " FROM expenses" LIST_WHERE
                                       LIST_STATUS LIST_ORDER;
static const char SQL_GUEST_INSERT[] =
    "INSERT INTO guests (org_id, property_id, name, email, phone, room_number, nights, status, "
    "checked_in_at, created_by, created_at, updated_at) "
    "SELECT org_id, id, $3, $4, $5, $6, $7, 'checked_in', $9, $8, $9, $9 FROM properties "
    "WHERE org_id = $1 AND id = $2 RETURNING id";
static const char SQL_GUEST_GET[] =
    "SELECT " GUEST_COLS " FROM guests WHERE org_id = $1 AND id = $2";
static const char SQL_GUEST_CHECKOUT[] =
    "UPDATE guests SET status = 'checked_out', checked_out_at = $3, updated_at = $3 "
    "WHERE org_id = $1 AND id = $2 AND status = 'checked_in' RETURNING " GUEST_COLS;
static const char SQL_GUEST_LIST[] = "SELECT " GUEST_COLS " FROM guests" LIST_WHERE LIST_STATUS
                                     LIST_ORDER;
static const char SQL_USER_IN_ORG[] = "SELECT 1 FROM users WHERE org_id = $1 AND id = $2";
static const char SQL_TASK_INSERT[] =
    "INSERT INTO tasks (org_id, property_id, title, description, assignee_id, priority, "
    "status, due_at, created_by, created_at, updated_at) "
    "SELECT org_id, id, $3, $4, $5, $6, $7, $8, $9, $10, $10 FROM properties "
    "WHERE org_id = $1 AND id = $2 RETURNING id";
static const char SQL_TASK_GET[] = "SELECT " TASK_COLS " FROM tasks WHERE org_id = $1 AND id = $2";
static const char SQL_TASK_ASSIGN[] = "UPDATE tasks SET assignee_id = $3, updated_at = $4 "
                                      "WHERE org_id = $1 AND id = $2 RETURNING " TASK_COLS;
static const char SQL_TASK_STATUS[] = "UPDATE tasks SET status = $3, updated_at = $4 "
                                      "WHERE org_id = $1 AND id = $2 RETURNING " TASK_COLS;
static const char SQL_TASK_LIST[] = "SELECT " TASK_COLS " FROM tasks" LIST_WHERE LIST_STATUS
                                    " AND ($7 = 0 OR assignee_id = $7)" LIST_ORDER;
/* NULL parameters keep the stored value: one statement for every partial update. */
static const char SQL_PROPERTY_UPDATE[] =
    "UPDATE properties SET name = COALESCE($3, name), address = COALESCE($4, address), "
    "city = COALESCE($5, city), country = COALESCE($6, country), "
    "timezone = COALESCE($7, timezone), updated_at = $8 "
    "WHERE org_id = $1 AND id = $2 RETURNING " PROPERTY_COLS;
static const char SQL_USER_UPDATE[] =
    "UPDATE users SET name = COALESCE($3, name), role = COALESCE($4, role), "
    "all_properties = COALESCE($5, all_properties), updated_at = $6 "
    "WHERE org_id = $1 AND id = $2";
static const char SQL_USER_PROPERTIES_CLEAR[] = "DELETE FROM user_properties WHERE user_id = $1";
/* A user matches a property filter if it may see that property: every all_properties user
 * does. */
static const char SQL_USER_LIST[] =
    "SELECT " USER_COLS " FROM users WHERE org_id = $1"
    " AND ($2 = 0 OR all_properties = 1 OR EXISTS (SELECT 1 FROM user_properties AS up"
    " WHERE up.user_id = users.id AND up.property_id = $2))"
    " AND ($3 IS NULL OR all_properties = 1 OR EXISTS (SELECT 1 FROM user_properties AS up"
    " WHERE up.user_id = users.id AND up.property_id = ANY ($3)))"
    " AND ($4 IS NULL OR role = $4) AND ($5 = 0 OR id < $5)" LIST_ORDER;
/* One statement, so one round trip and its own transaction: the event and the head move together
 * or not at all. The upsert's WHERE makes a stream that exists under another epoch change nothing
 * (the caller's offsets belong to a different history); then the event is not inserted either
 * (zero rows: BH_EINVAL) unless its offset is taken, which, as on SQLite, is BH_EEXIST first (the
 * unique violation undoes the whole statement). GREATEST keeps heads monotonic, also when two
 * nodes append to one stream at once (the conflicting row is locked and re-read). */
static const char SQL_EVENT_APPEND[] =
    "WITH up AS (INSERT INTO streams (org_id, service, epoch, head) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (org_id, service) DO UPDATE SET head = GREATEST(streams.head, excluded.head) "
    "WHERE streams.epoch = excluded.epoch RETURNING 1) "
    "INSERT INTO events (org_id, service, \"offset\", property_id, ts_ms, type, json, idem_key) "
    "SELECT $1, $2, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM up) OR EXISTS (SELECT 1 "
    "FROM events WHERE org_id = $1 AND service = $2 AND \"offset\" = $4)";
static const char SQL_STREAMS_LOAD[] =
    "SELECT org_id, service, epoch, head FROM streams ORDER BY org_id, service COLLATE \"C\"";
/* Ranked over every event of the stream, then cut by age, so that the scan returns exactly what
 * SQL_EVENTS_PRUNE with the same arguments keeps. */
static const char SQL_EVENTS_SCAN[] =
    "SELECT e.org_id, e.service, s.epoch, e.\"offset\", e.property_id, e.ts_ms, e.type, e.json, "
    "e.idem_key FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY org_id, service "
    "ORDER BY \"offset\" DESC) AS rn FROM events) AS e "
    "JOIN streams AS s ON s.org_id = e.org_id AND s.service = e.service "
    "WHERE e.rn <= $2 AND e.ts_ms >= $1 ORDER BY e.org_id, e.service COLLATE \"C\", e.\"offset\"";
static const char SQL_EVENTS_PRUNE[] =
    "DELETE FROM events WHERE ts_ms < $1 OR (org_id, service, \"offset\") IN ("
    "SELECT org_id, service, \"offset\" FROM (SELECT org_id, service, \"offset\", "
    "ROW_NUMBER() OVER (PARTITION BY org_id, service ORDER BY \"offset\" DESC) AS rn "
    "FROM events) AS ranked WHERE rn > $2)";

/* ---------------------------------------------------------------------------------------------
 * Row readers */

typedef pg_row_read_cb row_read_cb;

#define I64(col) store__pg_get_int64(r, row, (col))
#define TXT(col, dst) store__pg_get_text(r, row, (col), (dst), sizeof(dst))

static void read_org(const PGresult *r, int row, void *out)
{
    store_org_t *o = out;
    memset(o, 0, sizeof *o);
    o->id = I64(0);
    TXT(1, o->name);
    o->created_at = I64(2);
}

static void read_property(const PGresult *r, int row, void *out)
{
    store_property_t *p = out;
    memset(p, 0, sizeof *p);
    p->id = I64(0);
    p->org_id = I64(1);
    TXT(2, p->name);
    TXT(3, p->address);
    TXT(4, p->city);
    TXT(5, p->country);
    TXT(6, p->timezone);
    p->created_at = I64(7);
    p->updated_at = I64(8);
}

static void read_room(const PGresult *r, int row, void *out)
{
    store_room_t *m = out;
    memset(m, 0, sizeof *m);
    m->id = I64(0);
    m->org_id = I64(1);
    m->property_id = I64(2);
    TXT(3, m->number);
    TXT(4, m->type);
    TXT(5, m->status);
    m->floor = (int)I64(6);
}

/* Fills u (init'ed) from a USER_COLS row, property list included. Returns 0 or BH_ESTORE if the
 * role column holds a name this binary does not know (the CHECK should make that impossible). */
static int read_user(const PGresult *r, int row, store_user_t *u)
{
    char role[32];
    u->id = I64(0);
    u->org_id = I64(1);
    TXT(2, u->email);
    TXT(3, u->name);
    TXT(4, role);
    TXT(5, u->password_hash);
    u->all_properties = I64(6) != 0;
    u->created_at = I64(7);
    u->updated_at = I64(8);
    if (!u->all_properties) u->property_ids = parse_ids(PQgetvalue(r, row, 9), &u->n_properties);
    if (auth_role_parse(role, &u->role) != 0) {
        char q[64];
        LOG_E("store_bad_row", "backend=postgres table=users id=%lld role=%s", (long long)u->id,
              log_quote(q, sizeof q, role));
        return BH_ESTORE;
    }
    return 0;
}

static void read_revenue(const PGresult *r, int row, void *out)
{
    store_revenue_t *v = out;
    memset(v, 0, sizeof *v);
    v->id = I64(0);
    v->org_id = I64(1);
    v->property_id = I64(2);
    v->amount_cents = I64(3);
    TXT(4, v->currency);
    TXT(5, v->source);
    TXT(6, v->description);
    v->occurred_at = I64(7);
    v->created_by = I64(8);
    v->created_at = I64(9);
}

static void read_expense(const PGresult *r, int row, void *out)
{
    store_expense_t *e = out;
    memset(e, 0, sizeof *e);
    e->id = I64(0);
    e->org_id = I64(1);
    e->property_id = I64(2);
    e->amount_cents = I64(3);
    TXT(4, e->currency);
    TXT(5, e->category);
    TXT(6, e->description);
    TXT(7, e->status);
    TXT(8, e->note);
    e->decided_by = I64(9); /* NULL reads as 0 */
    e->decided_at = I64(10);
    e->created_by = I64(11);
    e->created_at = I64(12);
    e->updated_at = I64(13);
}

static void read_guest(const PGresult *r, int row, void *out)
{
    store_guest_t *g = out;
    memset(g, 0, sizeof *g);
    g->id = I64(0);
    g->org_id = I64(1);
    g->property_id = I64(2);
    TXT(3, g->name);
    TXT(4, g->email);
    TXT(5, g->phone);
    TXT(6, g->room_number);
    g->nights = (int)I64(7);
    TXT(8, g->status);
    g->checked_in_at = I64(9);
    g->checked_out_at = I64(10);
    g->created_by = I64(11);
    g->created_at = I64(12);
    g->updated_at = I64(13);
}

static void read_task(const PGresult *r, int row, void *out)
{
    store_task_t *t = out;
    memset(t, 0, sizeof *t);
    t->id = I64(0);
    t->org_id = I64(1);
    t->property_id = I64(2);
    TXT(3, t->title);
    TXT(4, t->description);
    t->assignee_id = I64(5);
    TXT(6, t->priority);
    TXT(7, t->status);
    t->due_at = I64(8);
    t->created_by = I64(9);
    t->created_at = I64(10);
    t->updated_at = I64(11);
}

#undef I64
#undef TXT

/* ---------------------------------------------------------------------------------------------
 * Shapes of operation: one row, a list, an insert */

/* Runs sql on c; the first row (if any) goes to read. BH_ENOTFOUND for no row. */
static int conn_one(pg_conn_t *c, const char *sql, const pg_params_t *p, row_read_cb read,
                    void *out, const char *op)
{
    PGresult *r;
    int rc = store__pg_exec(c, sql, p, &r, op);
    if (rc != 0) return rc;
    if (PQntuples(r) > 0)
        read(r, 0, out);
    else
        rc = BH_ENOTFOUND;
    PQclear(r);
    return rc;
}

static int get_one(store_t *st, const char *sql, const pg_params_t *p, row_read_cb read, void *out,
                   const char *op)
{
    pg_conn_t *c;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    rc = conn_one(c, sql, p, read, out, op);
    checkin((pg_store_t *)st, c);
    return rc;
}

/* Runs sql and reads every row into a new array of elem-sized records (NULL when empty). */
static int get_list(store_t *st, const char *sql, const pg_params_t *p, size_t elem,
                    row_read_cb read, void **out, size_t *n, const char *op)
{
    pg_conn_t *c;
    PGresult *r;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    rc = store__pg_exec(c, sql, p, &r, op);
    checkin((pg_store_t *)st, c);
    if (rc != 0) return rc;
    int rows = PQntuples(r);
    char *arr = rows > 0 ? xmalloc((size_t)rows * elem) : NULL;
    for (int i = 0; i < rows; i++)
        read(r, i, arr + (size_t)i * elem);
    PQclear(r);
    *out = arr;
    *n = (size_t)rows;
    return 0;
}

/* An INSERT ... RETURNING id: *id gets it; no row (the insert selected nothing: a property that
 * is not the organisation's) is BH_ENOTFOUND. */
static int conn_insert(pg_conn_t *c, const char *sql, const pg_params_t *p, int64_t *id,
                       const char *op)
{
    PGresult *r;
    int rc = store__pg_exec(c, sql, p, &r, op);
    if (rc != 0) return rc;
    if (PQntuples(r) == 1)
        *id = store__pg_get_int64(r, 0, 0);
    else
        rc = BH_ENOTFOUND;
    PQclear(r);
    return rc;
}

static int insert_one(store_t *st, const char *sql, const pg_params_t *p, int64_t *id,
                      const char *op)
{
    pg_conn_t *c;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    rc = conn_insert(c, sql, p, id, op);
    checkin((pg_store_t *)st, c);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Migrations */

static const char SQL_MIGRATE_LOCK[] = "SELECT pg_advisory_lock($1)";
static const char SQL_MIGRATE_UNLOCK[] = "SELECT pg_advisory_unlock($1)";
static const char SQL_MIGRATE_BOOTSTRAP[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
static const char SQL_MIGRATE_VERSION[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
static const char SQL_MIGRATE_RECORDED[] = "SELECT 1 FROM schema_migrations WHERE version = $1";
static const char SQL_MIGRATE_RECORD[] =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)";

static int schema_version(pg_conn_t *c, int *version)
{
    PGresult *r;
    int rc = store__pg_exec(c, SQL_MIGRATE_VERSION, NULL, &r, "migrate_version");
    if (rc != 0) return rc;
    *version = (int)store__pg_get_int64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* Applies one migration in its own transaction unless it is recorded already. Each version is
 * checked on its own (as the SQLite backend does), so a late lower number is still applied. */
static int apply_migration(pg_conn_t *c, const migration_t *m, int *applied)
{
    pg_params_t p;
    PGresult *r;
    int rc;
    *applied = 0;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, m->version);
    if ((rc = store__pg_exec(c, SQL_MIGRATE_RECORDED, &p, &r, "migrate_recorded")) != 0) return rc;
    int recorded = PQntuples(r) > 0;
    PQclear(r);
    if (recorded) return 0;
    if ((rc = store__pg_begin(c)) != 0) return rc;
    /* Several statements, no parameters: the simple query protocol runs them all, inside our
     * transaction. Migration SQL is compiled into the binary, never built from input. */
    r = PQexec(c->db, m->sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        char q[512];
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        LOG_E("store_migration_failed", "backend=postgres version=%d name=%s err=%s", m->version,
              m->name, log_quote(q, sizeof q, msg ? msg : PQerrorMessage(c->db)));
        PQclear(r);
        rc = BH_ESTORE;
        goto fail;
    }
    PQclear(r);
    store__pg_params_init(&p);
    store__pg_param_int64(&p, m->version);
    store__pg_param_text(&p, m->name);
    store__pg_param_int64(&p, clock_unix_ms());
    if ((rc = store__pg_write(c, SQL_MIGRATE_RECORD, &p, NULL, "migrate_record")) != 0) goto fail;
    if ((rc = store__pg_commit(c)) != 0) goto fail;
    *applied = 1;
    LOG_I("store_migration_applied", "backend=postgres version=%d name=%s", m->version, m->name);
    return 0;
fail:
    store__pg_rollback(c);
    return rc;
}

static int pg_migrate(store_t *st, int *applied, int *version)
{
    pg_store_t *s = (pg_store_t *)st;
    pg_conn_t *c;
    pg_params_t lock;
    int rc, current = 0, latest = 0;
    *applied = 0;
    *version = 0;
    for (const migration_t *m = migrations_postgres; m->name != NULL; m++)
        latest = m->version;
    if ((rc = checkout(s, &c)) != 0) return rc;
    /* Nodes starting together all migrate: a session advisory lock makes them take turns, the
     * bootstrap table included (CREATE TABLE IF NOT EXISTS itself races in the catalog). The
     * lock dies with the session if we do. */
    store__pg_params_init(&lock);
    store__pg_param_int64(&lock, PG_LOCK_MIGRATE);
    /* Another node's migration may take longer than our usual limits: wait it out, and give
     * migrations themselves no limit either (a big table's new index). */
    if ((rc = set_timeouts(c, 0, 0)) != 0) goto out;
    if ((rc = store__pg_write(c, SQL_MIGRATE_LOCK, &lock, NULL, "migrate_lock")) != 0) goto out;
    if ((rc = store__pg_write(c, SQL_MIGRATE_BOOTSTRAP, NULL, NULL, "migrate_bootstrap")) != 0)
        goto unlock;
    if ((rc = schema_version(c, &current)) != 0) goto unlock;
    if (current > latest) {
        /* A newer binary migrated this database: refuse rather than run old code on it. */
        LOG_E("store_schema_too_new",
              "backend=postgres db_version=%d binary_version=%d hint=upgrade_bellhop", current,
              latest);
        rc = BH_ESTORE;
        goto unlock;
    }
    for (const migration_t *m = migrations_postgres; m->name != NULL; m++) {
        int one = 0;
        if ((rc = apply_migration(c, m, &one)) != 0) goto unlock;
        *applied += one;
    }
    rc = schema_version(c, version);
unlock:
    (void)store__pg_write(c, SQL_MIGRATE_UNLOCK, &lock, NULL, "migrate_unlock");
out:
    if (PQstatus(c->db) == CONNECTION_OK &&
        set_timeouts(c, s->statement_timeout_ms, s->lock_timeout_ms) != 0 && rc == 0)
        rc = BH_ESTORE;
    checkin(s, c);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Organisations, properties, rooms */

static int pg_ping(store_t *st)
{
    pg_conn_t *c;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    rc = store__pg_write(c, SQL_PING, NULL, NULL, "ping");
    checkin((pg_store_t *)st, c);
    return rc;
}

static int pg_org_create(store_t *st, int64_t id, const char *name, int64_t *id_out)
{
    pg_params_t p;
    pg_conn_t *c;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    store__pg_params_init(&p);
    store__pg_param_opt_int64(&p, id);
    store__pg_param_text(&p, name);
    store__pg_param_int64(&p, clock_unix_ms());
    if (id > 0 && (rc = store__pg_begin(c)) != 0) goto out;
    if ((rc = conn_insert(c, SQL_ORG_INSERT, &p, id_out, "org_create")) != 0) goto fail;
    if (id > 0) {
        store__pg_params_init(&p);
        store__pg_param_int64(&p, id);
        if ((rc = store__pg_write(c, SQL_ORG_SEQ, &p, NULL, "org_create_seq")) != 0) goto fail;
        if ((rc = store__pg_commit(c)) != 0) goto fail;
    }
    goto out;
fail:
    store__pg_rollback(c);
out:
    checkin((pg_store_t *)st, c);
    return rc;
}

static int pg_org_get(store_t *st, int64_t id, store_org_t *out)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, id);
    return get_one(st, SQL_ORG_GET, &p, read_org, out, "org_get");
}

static int pg_property_create(store_t *st, store_property_t *pr)
{
    pg_params_t p;
    int64_t now = clock_unix_ms();
    store__pg_params_init(&p);
    store__pg_param_int64(&p, pr->org_id);
    store__pg_param_text(&p, pr->name);
    store__pg_param_text(&p, pr->address);
    store__pg_param_text(&p, pr->city);
    store__pg_param_text(&p, pr->country);
    store__pg_param_text(&p, pr->timezone);
    store__pg_param_int64(&p, now);
    int rc = insert_one(st, SQL_PROPERTY_INSERT, &p, &pr->id, "property_create");
    if (rc == 0) pr->created_at = pr->updated_at = now;
    return rc;
}

static void params_org_id(pg_params_t *p, int64_t org_id, int64_t id)
{
    store__pg_params_init(p);
    store__pg_param_int64(p, org_id);
    store__pg_param_int64(p, id);
}

static int pg_property_get(store_t *st, int64_t org_id, int64_t id, store_property_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    return get_one(st, SQL_PROPERTY_GET, &p, read_property, out, "property_get");
}

static int pg_property_list(store_t *st, int64_t org_id, store_property_t **out, size_t *n)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, org_id);
    return get_list(st, SQL_PROPERTY_LIST, &p, sizeof **out, read_property, (void **)out, n,
                    "property_list");
}

static int pg_room_create(store_t *st, store_room_t *r)
{
    pg_params_t p;
    params_org_id(&p, r->org_id, r->property_id);
    store__pg_param_text(&p, r->number);
    store__pg_param_text(&p, r->type);
    store__pg_param_text(&p, r->status);
    store__pg_param_int64(&p, r->floor);
    return insert_one(st, SQL_ROOM_INSERT, &p, &r->id, "room_create");
}

static void read_nothing(const PGresult *r, int row, void *out)
{
    (void)r;
    (void)row;
    (void)out;
}

static int pg_room_list(store_t *st, int64_t org_id, int64_t property_id, store_room_t **out,
                        size_t *n)
{
    pg_params_t p;
    params_org_id(&p, org_id, property_id);
    int rc = get_list(st, SQL_ROOM_LIST, &p, sizeof **out, read_room, (void **)out, n, "room_list");
    /* Only an empty list needs telling apart "no rooms yet" from "no such property"; rooms are
     * never moved between properties, so the two reads need no shared snapshot. */
    if (rc == 0 && *n == 0)
        rc = get_one(st, SQL_PROPERTY_EXISTS, &p, read_nothing, NULL, "property_exists");
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Users */

/* Inserts the user's property list, skipping repeats. Runs inside the caller's transaction. */
static int insert_user_properties(pg_conn_t *c, int64_t user_id, int64_t org_id,
                                  const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        /* Quadratic, but n is bounded by AUTH_MAX_PROPERTIES and this runs once per user. */
        for (size_t j = 0; j < i && !dup; j++)
            dup = ids[j] == ids[i];
        if (dup) continue;
        pg_params_t p;
        int64_t changed = 0;
        params_org_id(&p, user_id, org_id);
        store__pg_param_int64(&p, ids[i]);
        int rc = store__pg_write(c, SQL_USER_PROPERTY_INSERT, &p, &changed, "user_properties");
        if (rc != 0) return rc;
        /* A property outside the user's organisation is bad input, not a missing resource. */
        if (changed != 1) return BH_EINVAL;
    }
    return 0;
}

static int pg_user_create(store_t *st, store_user_t *u)
{
    pg_params_t p;
    pg_conn_t *c;
    int64_t now = clock_unix_ms();
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, u->org_id);
    store__pg_param_text(&p, u->email);
    store__pg_param_text(&p, u->name);
    store__pg_param_text(&p, auth_role_name(u->role));
    store__pg_param_text(&p, u->password_hash);
    store__pg_param_int64(&p, u->all_properties);
    store__pg_param_int64(&p, now);
    if ((rc = store__pg_begin(c)) != 0) goto out;
    /* A missing organisation fails the foreign key: BH_ENOTFOUND, as in SQLite. */
    if ((rc = conn_insert(c, SQL_USER_INSERT, &p, &u->id, "user_create")) != 0) goto fail;
    if (!u->all_properties &&
        (rc = insert_user_properties(c, u->id, u->org_id, u->property_ids, u->n_properties)) != 0)
        goto fail;
    if ((rc = store__pg_commit(c)) != 0) goto fail;
    u->created_at = u->updated_at = now;
    goto out;
fail:
    store__pg_rollback(c);
    u->id = 0;
out:
    checkin((pg_store_t *)st, c);
    return rc;
}

/* Runs a user query on c; on failure out is left disposed. */
static int conn_user(pg_conn_t *c, const char *sql, const pg_params_t *p, store_user_t *out,
                     const char *op)
{
    PGresult *r;
    int rc = store__pg_exec(c, sql, p, &r, op);
    if (rc != 0) return rc;
    rc = PQntuples(r) > 0 ? read_user(r, 0, out) : BH_ENOTFOUND;
    PQclear(r);
    if (rc != 0) store_user_dispose(out);
    return rc;
}

static int fetch_user(store_t *st, const char *sql, const pg_params_t *p, store_user_t *out,
                      const char *op)
{
    pg_conn_t *c;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    rc = conn_user(c, sql, p, out, op);
    checkin((pg_store_t *)st, c);
    return rc;
}

static int pg_user_get(store_t *st, int64_t org_id, int64_t id, store_user_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    return fetch_user(st, SQL_USER_GET, &p, out, "user_get");
}

static int pg_user_by_email(store_t *st, const char *email, store_user_t *out)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_text(&p, email);
    return fetch_user(st, SQL_USER_BY_EMAIL, &p, out, "user_by_email");
}

static int pg_user_update(store_t *st, int64_t org_id, int64_t id, const store_user_patch_t *patch,
                          store_user_t *out)
{
    pg_params_t p;
    pg_conn_t *c;
    int64_t changed = 0;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    /* One transaction: the row, its property list and the read-back must agree. */
    if ((rc = store__pg_begin(c)) != 0) goto out;
    params_org_id(&p, org_id, id);
    store__pg_param_text(&p, patch->name);
    store__pg_param_text(&p, patch->set_role ? auth_role_name(patch->role) : NULL);
    if (patch->set_properties)
        store__pg_param_int64(&p, patch->all_properties != 0);
    else
        store__pg_param_opt_int64(&p, 0);
    store__pg_param_int64(&p, clock_unix_ms());
    if ((rc = store__pg_write(c, SQL_USER_UPDATE, &p, &changed, "user_update")) != 0) goto fail;
    if (changed != 1) {
        rc = BH_ENOTFOUND;
        goto fail;
    }
    if (patch->set_properties) {
        store__pg_params_init(&p);
        store__pg_param_int64(&p, id);
        rc = store__pg_write(c, SQL_USER_PROPERTIES_CLEAR, &p, NULL, "user_update_properties");
        if (rc != 0) goto fail;
        if (!patch->all_properties &&
            (rc = insert_user_properties(c, id, org_id, patch->property_ids,
                                         patch->n_properties)) != 0)
            goto fail;
    }
    params_org_id(&p, org_id, id);
    if ((rc = conn_user(c, SQL_USER_GET, &p, out, "user_update_read")) != 0) goto fail;
    if ((rc = store__pg_commit(c)) != 0) goto fail;
    goto out;
fail:
    store__pg_rollback(c);
    store_user_dispose(out);
out:
    checkin((pg_store_t *)st, c);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Domain records */

/* The common list parameters (see LIST_WHERE). buf holds the scope array's text. */
static void bind_query(pg_params_t *p, const store_query_t *q, char *buf, size_t cap)
{
    store__pg_params_init(p);
    store__pg_param_int64(p, q->org_id);
    store__pg_param_int64(p, q->property_id);
    /* A non-NULL pointer for an empty scope: it matches nothing, which NULL (all) would not. */
    static const int64_t none[1];
    store__pg_param_int64_array(p, q->all_properties ? NULL : q->scope ? q->scope : none,
                                q->n_scope, buf, cap);
    store__pg_param_text(p, q->status);
    store__pg_param_int64(p, q->before_id);
    store__pg_param_int64(p, (int64_t)q->limit);
}

static int run_list(store_t *st, const char *sql, const store_query_t *q, size_t elem,
                    row_read_cb read, void **out, size_t *n, const char *op)
{
    pg_params_t p;
    size_t cap = q->all_properties ? 1 : 3 + q->n_scope * 21;
    char *buf = xmalloc(cap);
    bind_query(&p, q, buf, cap);
    if (sql == SQL_TASK_LIST) store__pg_param_int64(&p, q->assignee_id);
    int rc = get_list(st, sql, &p, elem, read, out, n, op);
    free(buf);
    return rc;
}

static int pg_revenue_create(store_t *st, store_revenue_t *v)
{
    pg_params_t p;
    int64_t now = clock_unix_ms();
    int64_t occurred = v->occurred_at ? v->occurred_at : now;
    params_org_id(&p, v->org_id, v->property_id);
    store__pg_param_int64(&p, v->amount_cents);
    store__pg_param_text(&p, v->currency);
    store__pg_param_text(&p, v->source);
    store__pg_param_text(&p, v->description);
    store__pg_param_int64(&p, occurred);
    store__pg_param_int64(&p, v->created_by);
    store__pg_param_int64(&p, now);
    int rc = insert_one(st, SQL_REVENUE_INSERT, &p, &v->id, "revenue_create");
    if (rc == 0) {
        v->occurred_at = occurred;
        v->created_at = now;
    }
    return rc;
}

static int pg_revenue_list(store_t *st, const store_query_t *q, store_revenue_t **out, size_t *n)
{
    return run_list(st, SQL_REVENUE_LIST, q, sizeof **out, read_revenue, (void **)out, n,
                    "revenue_list");
}

static int pg_expense_create(store_t *st, store_expense_t *e)
{
    pg_params_t p;
    int64_t now = clock_unix_ms();
    params_org_id(&p, e->org_id, e->property_id);
    store__pg_param_int64(&p, e->amount_cents);
    store__pg_param_text(&p, e->currency);
    store__pg_param_text(&p, e->category);
    store__pg_param_text(&p, e->description);
    store__pg_param_int64(&p, e->created_by);
    store__pg_param_int64(&p, now);
    int rc = insert_one(st, SQL_EXPENSE_INSERT, &p, &e->id, "expense_create");
    if (rc == 0) e->created_at = e->updated_at = now;
    return rc;
}

static int pg_expense_get(store_t *st, int64_t org_id, int64_t id, store_expense_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    return get_one(st, SQL_EXPENSE_GET, &p, read_expense, out, "expense_get");
}

static int pg_expense_decide(store_t *st, int64_t org_id, int64_t id, const char *status,
                             int64_t by, const char *note, store_expense_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    store__pg_param_text(&p, status);
    store__pg_param_text(&p, note);
    store__pg_param_int64(&p, by);
    store__pg_param_int64(&p, clock_unix_ms());
    int rc = get_one(st, SQL_EXPENSE_DECIDE, &p, read_expense, out, "expense_decide");
    /* Nothing updated: missing, or already decided. Pending is never re-entered, so reading the
     * row afterwards tells the two apart correctly. */
    if (rc == BH_ENOTFOUND) {
        rc = pg_expense_get(st, org_id, id, out);
        if (rc == 0) rc = BH_ECONFLICT;
    }
    return rc;
}

static int pg_expense_list(store_t *st, const store_query_t *q, store_expense_t **out, size_t *n)
{
    return run_list(st, SQL_EXPENSE_LIST, q, sizeof **out, read_expense, (void **)out, n,
                    "expense_list");
}

static int pg_guest_create(store_t *st, store_guest_t *g)
{
    pg_params_t p;
    int64_t now = clock_unix_ms();
    params_org_id(&p, g->org_id, g->property_id);
    store__pg_param_text(&p, g->name);
    store__pg_param_text(&p, g->email);
    store__pg_param_text(&p, g->phone);
    store__pg_param_text(&p, g->room_number);
    store__pg_param_opt_int64(&p, g->nights);
    store__pg_param_int64(&p, g->created_by);
    store__pg_param_int64(&p, now);
    int rc = insert_one(st, SQL_GUEST_INSERT, &p, &g->id, "guest_create");
    if (rc == 0) g->checked_in_at = g->created_at = g->updated_at = now;
    return rc;
}

static int pg_guest_get(store_t *st, int64_t org_id, int64_t id, store_guest_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    return get_one(st, SQL_GUEST_GET, &p, read_guest, out, "guest_get");
}

static int pg_guest_checkout(store_t *st, int64_t org_id, int64_t id, store_guest_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    store__pg_param_int64(&p, clock_unix_ms());
    int rc = get_one(st, SQL_GUEST_CHECKOUT, &p, read_guest, out, "guest_checkout");
    /* As for expenses: checked_in is never re-entered, so a later read is conclusive. */
    if (rc == BH_ENOTFOUND) {
        rc = pg_guest_get(st, org_id, id, out);
        if (rc == 0) rc = BH_ECONFLICT;
    }
    return rc;
}

static int pg_guest_list(store_t *st, const store_query_t *q, store_guest_t **out, size_t *n)
{
    return run_list(st, SQL_GUEST_LIST, q, sizeof **out, read_guest, (void **)out, n,
                    "guest_list");
}

/* 0 if user_id is a user of org_id, BH_EINVAL if not (a bad reference in the caller's input). */
static int user_in_org(pg_conn_t *c, int64_t org_id, int64_t user_id)
{
    pg_params_t p;
    params_org_id(&p, org_id, user_id);
    int rc = conn_one(c, SQL_USER_IN_ORG, &p, read_nothing, NULL, "user_in_org");
    return rc == BH_ENOTFOUND ? BH_EINVAL : rc;
}

static int pg_task_create(store_t *st, store_task_t *t)
{
    pg_params_t p;
    pg_conn_t *c;
    int64_t now = clock_unix_ms();
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    /* Users are never deleted or moved between organisations, so the check needs no
     * transaction around it and the insert. */
    if (t->assignee_id > 0 && (rc = user_in_org(c, t->org_id, t->assignee_id)) != 0) goto out;
    params_org_id(&p, t->org_id, t->property_id);
    store__pg_param_text(&p, t->title);
    store__pg_param_text(&p, t->description);
    store__pg_param_opt_int64(&p, t->assignee_id);
    store__pg_param_text(&p, t->priority);
    store__pg_param_text(&p, t->status);
    store__pg_param_opt_int64(&p, t->due_at);
    store__pg_param_int64(&p, t->created_by);
    store__pg_param_int64(&p, now);
    if ((rc = conn_insert(c, SQL_TASK_INSERT, &p, &t->id, "task_create")) == 0)
        t->created_at = t->updated_at = now;
out:
    checkin((pg_store_t *)st, c);
    return rc;
}

static int pg_task_get(store_t *st, int64_t org_id, int64_t id, store_task_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    return get_one(st, SQL_TASK_GET, &p, read_task, out, "task_get");
}

static int pg_task_assign(store_t *st, int64_t org_id, int64_t id, int64_t assignee_id,
                          store_task_t *out)
{
    pg_params_t p;
    pg_conn_t *c;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    if (assignee_id == 0 || (rc = user_in_org(c, org_id, assignee_id)) == 0) {
        params_org_id(&p, org_id, id);
        store__pg_param_opt_int64(&p, assignee_id);
        store__pg_param_int64(&p, clock_unix_ms());
        rc = conn_one(c, SQL_TASK_ASSIGN, &p, read_task, out, "task_assign");
    }
    checkin((pg_store_t *)st, c);
    return rc;
}

static int pg_task_set_status(store_t *st, int64_t org_id, int64_t id, const char *status,
                              store_task_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    store__pg_param_text(&p, status);
    store__pg_param_int64(&p, clock_unix_ms());
    return get_one(st, SQL_TASK_STATUS, &p, read_task, out, "task_set_status");
}

static int pg_task_list(store_t *st, const store_query_t *q, store_task_t **out, size_t *n)
{
    return run_list(st, SQL_TASK_LIST, q, sizeof **out, read_task, (void **)out, n, "task_list");
}

static int pg_property_update(store_t *st, int64_t org_id, int64_t id,
                              const store_property_patch_t *patch, store_property_t *out)
{
    pg_params_t p;
    params_org_id(&p, org_id, id);
    store__pg_param_text(&p, patch->name);
    store__pg_param_text(&p, patch->address);
    store__pg_param_text(&p, patch->city);
    store__pg_param_text(&p, patch->country);
    store__pg_param_text(&p, patch->timezone);
    store__pg_param_int64(&p, clock_unix_ms());
    return get_one(st, SQL_PROPERTY_UPDATE, &p, read_property, out, "property_update");
}

static int pg_user_list(store_t *st, const store_query_t *q, store_user_t **out, size_t *n)
{
    pg_params_t p;
    pg_conn_t *c;
    PGresult *r;
    size_t cap = q->all_properties ? 1 : 3 + q->n_scope * 21;
    char *buf = xmalloc(cap);
    int rc = checkout((pg_store_t *)st, &c);
    if (rc == 0) {
        bind_query(&p, q, buf, cap);
        /* One statement: the property lists come from the same snapshot as the rows. */
        rc = store__pg_exec(c, SQL_USER_LIST, &p, &r, "user_list");
        checkin((pg_store_t *)st, c);
    }
    free(buf);
    if (rc != 0) return rc;
    size_t rows = (size_t)PQntuples(r);
    store_user_t *arr = rows ? xmalloc(rows * sizeof *arr) : NULL;
    for (size_t i = 0; i < rows && rc == 0; i++) {
        store_user_init(&arr[i]);
        rc = read_user(r, (int)i, &arr[i]);
    }
    PQclear(r);
    if (rc != 0) {
        store_user_list_free(arr, rows);
        return rc;
    }
    *out = arr;
    *n = rows;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Realtime event history */

static int64_t clamp_count(size_t n)
{
    return n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

static int pg_event_append(store_t *st, const store_event_t *e)
{
    pg_params_t p;
    pg_conn_t *c;
    int64_t changed = 0;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, e->org_id);
    store__pg_param_text(&p, e->service);
    store__pg_param_text(&p, e->epoch);
    store__pg_param_int64(&p, e->offset);
    store__pg_param_opt_int64(&p, e->property_id > 0 ? e->property_id : 0);
    store__pg_param_int64(&p, e->ts_ms);
    store__pg_param_text(&p, e->type);
    /* json is not NUL-terminated: send exactly its bytes. */
    store__pg_param_bytes(&p, e->json, e->json_len);
    store__pg_param_text(&p, e->idem_key && *e->idem_key ? e->idem_key : NULL);
    rc = store__pg_write(c, SQL_EVENT_APPEND, &p, &changed, "event_append");
    checkin((pg_store_t *)st, c);
    if (rc == 0 && changed != 1) {
        char q1[64], q2[64];
        LOG_W("store_epoch_mismatch", "backend=postgres org=%lld service=%s epoch=%s",
              (long long)e->org_id, log_quote(q1, sizeof q1, e->service),
              log_quote(q2, sizeof q2, e->epoch));
        rc = BH_EINVAL;
    }
    return rc;
}

static void read_stream(const PGresult *r, int row, void *out)
{
    store_stream_t *s = out;
    memset(s, 0, sizeof *s);
    s->org_id = store__pg_get_int64(r, row, 0);
    store__pg_get_text(r, row, 1, s->service, sizeof s->service);
    store__pg_get_text(r, row, 2, s->epoch, sizeof s->epoch);
    s->head = store__pg_get_int64(r, row, 3);
}

static int pg_streams_load(store_t *st, store_stream_t **out, size_t *n)
{
    return get_list(st, SQL_STREAMS_LOAD, NULL, sizeof **out, read_stream, (void **)out, n,
                    "streams_load");
}

static int pg_events_scan(store_t *st, int64_t min_ts_ms, size_t per_stream_max,
                          store_event_cb cb, void *data)
{
    pg_params_t p;
    pg_conn_t *c;
    PGresult *r;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, min_ts_ms);
    store__pg_param_int64(&p, clamp_count(per_stream_max));
    rc = store__pg_exec(c, SQL_EVENTS_SCAN, &p, &r, "events_scan");
    checkin((pg_store_t *)st, c);
    if (rc != 0) return rc;
    /* The result is in our memory already: cb runs without holding a connection. */
    for (int i = 0, rows = PQntuples(r); i < rows && rc == 0; i++) {
        store_event_t e;
        e.org_id = store__pg_get_int64(r, i, 0);
        e.service = PQgetvalue(r, i, 1);
        e.epoch = PQgetvalue(r, i, 2);
        e.offset = store__pg_get_int64(r, i, 3);
        e.property_id = store__pg_get_int64(r, i, 4); /* NULL reads as 0: none */
        e.ts_ms = store__pg_get_int64(r, i, 5);
        e.type = PQgetvalue(r, i, 6);
        e.json = PQgetvalue(r, i, 7);
        e.json_len = (size_t)PQgetlength(r, i, 7);
        e.idem_key = PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8);
        rc = cb(&e, data);
    }
    PQclear(r);
    return rc;
}

static int pg_events_prune(store_t *st, int64_t min_ts_ms, size_t per_stream_max,
                           int64_t *deleted)
{
    pg_params_t p;
    pg_conn_t *c;
    int rc = checkout((pg_store_t *)st, &c);
    if (rc != 0) return rc;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, min_ts_ms);
    store__pg_param_int64(&p, clamp_count(per_stream_max));
    rc = store__pg_write(c, SQL_EVENTS_PRUNE, &p, deleted, "events_prune");
    checkin((pg_store_t *)st, c);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Open and close */

static void pg_close(store_t *st)
{
    pg_store_t *s = (pg_store_t *)st;
    /* Closing with a connection still checked out is a use-after-free in the making. */
    assert(s->n_idle == s->n_open);
    for (int i = 0; i < s->n_idle; i++)
        conn_free(s->idle[i]);
    uv_cond_destroy(&s->cond);
    uv_mutex_destroy(&s->lock);
    free(s->idle);
    free(s->conninfo);
    free(s);
}

/* Parses a non-negative decimal number of at most 9 digits; -1 if it is not one. */
static int64_t parse_count(const char *v, size_t len)
{
    int64_t n = 0;
    if (len == 0 || len > 9) return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

/* Copies url into s->conninfo without our own query parameters, which it reads. Returns 0 or
 * BH_ECONFIG (a bad value; the parameter is named, the url is not logged). */
static int parse_url(pg_store_t *s, const char *url)
{
    const char *q = strchr(url, '?');
    size_t base = q ? (size_t)(q - url) : strlen(url);
    char *out = xmalloc(strlen(url) + 1);
    size_t len = base;
    memcpy(out, url, base);
    out[len] = '\0';
    for (const char *it = q ? q + 1 : NULL; it && *it;) {
        const char *amp = strchr(it, '&');
        size_t n = amp ? (size_t)(amp - it) : strlen(it);
        const char *eq = memchr(it, '=', n);
        size_t klen = eq ? (size_t)(eq - it) : n;
        const char *v = eq ? eq + 1 : it + n;
        size_t vlen = eq ? n - klen - 1 : 0;
        int64_t *dst = NULL, pool = -1;
        if (klen == 8 && memcmp(it, "pool_max", 8) == 0) dst = &pool;
        if (klen == 20 && memcmp(it, "statement_timeout_ms", 20) == 0)
            dst = &s->statement_timeout_ms;
        if (klen == 15 && memcmp(it, "lock_timeout_ms", 15) == 0) dst = &s->lock_timeout_ms;
        if (dst != NULL) {
            *dst = parse_count(v, vlen);
            if (*dst < 0 || (dst == &pool && (pool < 1 || pool > POOL_LIMIT))) {
                LOG_E("store_config", "backend=postgres param=%.*s reason=%s", (int)klen, it,
                      dst == &pool ? "want_1_to_64" : "want_milliseconds");
                free(out);
                return BH_ECONFIG;
            }
            if (dst == &pool) s->pool_max = (int)pool;
        } else {
            /* libpq's own parameter: keep it. */
            out[len] = len == base ? '?' : '&';
            len++;
            memcpy(out + len, it, n);
            len += n;
            out[len] = '\0';
        }
        it = amp ? amp + 1 : NULL;
    }
    s->conninfo = out;
    return 0;
}

int store__pg_open(const char *url, store_t **out)
{
    *out = NULL;
    if (!PQisthreadsafe()) {
        LOG_E("store_config", "backend=postgres reason=%s", "libpq_built_without_threads");
        return BH_ESTORE;
    }
    pg_store_t *s = xcalloc(1, sizeof *s);
    pg_conn_t *c = NULL;
    int rc, have_mutex = 0, have_cond = 0;
    s->super.vt = &pg_vtable;
    s->statement_timeout_ms = STATEMENT_TIMEOUT_DEFAULT_MS;
    s->lock_timeout_ms = LOCK_TIMEOUT_DEFAULT_MS;
    /* One connection per thread-pool thread: a store call never waits for a connection while
     * another pool thread could run it. UV_THREADPOOL_SIZE is libuv's own knob. */
    const char *tp = getenv("UV_THREADPOOL_SIZE");
    int64_t n = tp ? parse_count(tp, strlen(tp)) : -1;
    s->pool_max = n >= 1 && n <= POOL_LIMIT ? (int)n : POOL_DEFAULT;
    if ((rc = parse_url(s, url)) != 0) goto err;
    s->idle = xcalloc((size_t)s->pool_max, sizeof *s->idle);
    have_mutex = uv_mutex_init(&s->lock) == 0;
    have_cond = have_mutex && uv_cond_init(&s->cond) == 0;
    if (!have_cond) {
        LOG_E("store_open_failed", "backend=postgres reason=%s", "pool_lock_init");
        rc = BH_ESTORE;
        goto err;
    }
    /* Connect once now so that a bad url or an unreachable server fails at start-up. */
    if ((rc = conn_open(s, &c)) != 0) goto err;
    s->idle[s->n_idle++] = c;
    s->n_open = 1;
    LOG_D("store_open",
          "backend=postgres pool_max=%d statement_timeout_ms=%lld lock_timeout_ms=%lld",
          s->pool_max, (long long)s->statement_timeout_ms, (long long)s->lock_timeout_ms);
    *out = &s->super;
    return 0;
err:
    if (have_cond) uv_cond_destroy(&s->cond);
    if (have_mutex) uv_mutex_destroy(&s->lock);
    free(s->idle);
    free(s->conninfo);
    free(s);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Shared with the feature files (pg_int.h) */

int store__pg_get_one(store_t *st, const char *sql, const pg_params_t *p, pg_row_read_cb read,
                      void *out, const char *op)
{
    return get_one(st, sql, p, read, out, op);
}

int store__pg_get_list(store_t *st, const char *sql, const pg_params_t *p, size_t elem,
                       pg_row_read_cb read, void **out, size_t *n, const char *op)
{
    return get_list(st, sql, p, elem, read, out, n, op);
}

int store__pg_checkout(store_t *st, pg_conn_t **out)
{
    return checkout((pg_store_t *)st, out);
}

void store__pg_checkin(store_t *st, pg_conn_t *c)
{
    checkin((pg_store_t *)st, c);
}

static const struct store_vtable pg_vtable = {
    .name = "postgres",
    .uploads = &store__pg_upload_ops,
    .chat = &store__pg_chat_ops,
    .flags = &store__pg_flag_ops,
    .close = pg_close,
    .migrate = pg_migrate,
    .ping = pg_ping,
    .org_create = pg_org_create,
    .org_get = pg_org_get,
    .property_create = pg_property_create,
    .property_get = pg_property_get,
    .property_list = pg_property_list,
    .room_create = pg_room_create,
    .room_list = pg_room_list,
    .user_create = pg_user_create,
    .user_get = pg_user_get,
    .user_by_email = pg_user_by_email,
    .revenue_create = pg_revenue_create,
    .revenue_list = pg_revenue_list,
    .expense_create = pg_expense_create,
    .expense_get = pg_expense_get,
    .expense_decide = pg_expense_decide,
    .expense_list = pg_expense_list,
    .guest_create = pg_guest_create,
    .guest_get = pg_guest_get,
    .guest_checkout = pg_guest_checkout,
    .guest_list = pg_guest_list,
    .task_create = pg_task_create,
    .task_get = pg_task_get,
    .task_assign = pg_task_assign,
    .task_set_status = pg_task_set_status,
    .task_list = pg_task_list,
    .property_update = pg_property_update,
    .user_update = pg_user_update,
    .user_list = pg_user_list,
    .event_append = pg_event_append,
    .streams_load = pg_streams_load,
    .events_scan = pg_events_scan,
    .events_prune = pg_events_prune,
};
