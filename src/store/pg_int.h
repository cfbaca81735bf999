/* pg_int.h: what the PostgreSQL backend's files share (store_pg.c is the core: pool, migrations,
 * organisations, users, domain records, events; store_pg_<feature>.c add one feature each, behind
 * that feature's ops table in store_int.h). The SQLite twin is sqlite_int.h.
 *
 * Every function here runs on a thread-pool thread, like the store operations themselves: libpq
 * calls block, and the event loops never make them.
 *
 * Statements are static SQL with $n parameters, prepared once per connection (cached by the SQL
 * string's ADDRESS, so pass string literals or other static strings only) and executed with
 * PQexecPrepared. Parameters travel in text format except byte strings (store__pg_param_bytes);
 * each carries its type, so PostgreSQL never has to guess one from the SQL. */
#ifndef BH_STORE_PG_INT_H
#define BH_STORE_PG_INT_H

#include "store/store.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pg_conn_s pg_conn_t;

/* Type OIDs of the parameters we send (pg_type.h is a server header; these never change). */
#define PG_OID_INT8 20
#define PG_OID_TEXT 25
#define PG_OID_INT8_ARRAY 1016

#define PG_PARAMS_MAX 20

/* One statement's parameters, $1..$n in the order they are added. Storage for numbers is inside
 * the struct, so a pg_params_t lives on the caller's stack; text values are borrowed until the
 * statement has run. */
typedef struct pg_params_s {
    int n;
    unsigned int types[PG_PARAMS_MAX];
    const char *values[PG_PARAMS_MAX];
    int lengths[PG_PARAMS_MAX];
    int formats[PG_PARAMS_MAX];
    char num[PG_PARAMS_MAX][24];
} pg_params_t;

static inline void store__pg_params_init(pg_params_t *p)
{
    p->n = 0;
}

/* Adding more than PG_PARAMS_MAX parameters is a bug in the caller's SQL (an assert). */
void store__pg_param_int64(pg_params_t *p, int64_t v);
/* 0 is sent as NULL: the "none" of optional ids and timestamps. */
void store__pg_param_opt_int64(pg_params_t *p, int64_t v);
/* NULL is sent as SQL NULL. */
void store__pg_param_text(pg_params_t *p, const char *v);
/* len bytes that need not be NUL-terminated, as text (binary format). */
void store__pg_param_bytes(pg_params_t *p, const char *v, size_t len);
/* An int8[] for "= ANY($n)"; buf (cap bytes) holds its text form and must outlive the statement.
 * cap must be at least 3 + n * 21. v NULL sends SQL NULL (buf unused). */
void store__pg_param_int64_array(pg_params_t *p, const int64_t *v, size_t n, char *buf,
                                 size_t cap);

/* Takes a connection from the pool, waiting while all are busy; a broken one is reset first.
 * Returns 0 or BH_ESTORE (could not connect; logged). */
int store__pg_checkout(store_t *st, pg_conn_t **out);
/* Returns it; an open transaction is rolled back. */
void store__pg_checkin(store_t *st, pg_conn_t *c);

/* Runs sql with p (NULL: no parameters). On success *res (may be NULL: then cleared here) is a
 * new result with PGRES_TUPLES_OK or PGRES_COMMAND_OK, to PQclear. Errors: SQLSTATE 23505
 * (unique) -> BH_EEXIST, 23503 (foreign key) -> BH_ENOTFOUND, 23514/23502 (check, not null) ->
 * BH_EINVAL, anything else -> BH_ESTORE, logged with op; a connection found broken is reset and
 * the call fails with BH_ESTORE (the caller's transaction, if any, is gone). */
int store__pg_exec(pg_conn_t *c, const char *sql, const pg_params_t *p, PGresult **res,
                   const char *op);
/* store__pg_exec for statements without rows to read: *changes (may be NULL) gets the row count
 * of the command (PQcmdTuples). */
int store__pg_write(pg_conn_t *c, const char *sql, const pg_params_t *p, int64_t *changes,
                    const char *op);

/* Transactions (READ COMMITTED). rollback is a no-op outside a transaction. */
int store__pg_begin(pg_conn_t *c);
int store__pg_commit(pg_conn_t *c);
void store__pg_rollback(pg_conn_t *c);
/* Takes a transaction-scoped advisory lock: key names what it serialises across every node
 * sharing the database (PG_LOCK_* below). Inside a transaction only. */
int store__pg_xact_lock(pg_conn_t *c, int64_t key);

/* Advisory lock keys ("bh" and a small number: unlikely to collide with another application's). */
#define PG_LOCK_MIGRATE 0x6268000000000001LL
#define PG_LOCK_UPLOADS 0x6268000000000002LL
#define PG_LOCK_CHAT 0x6268000000000003LL

/* Column readers. A NULL reads as 0 / "". Text longer than the array is cut at a UTF-8 character
 * boundary and always NUL-terminated. */
int64_t store__pg_get_int64(const PGresult *r, int row, int col);
void store__pg_get_text(const PGresult *r, int row, int col, char *dst, size_t cap);

/* Shapes of operation on a pooled connection of their own. read fills one record from row
 * `row`. one: the first row (if any) to read, BH_ENOTFOUND for none. list: every row into a new
 * array of elem-sized records (free(); NULL when *n is 0). */
typedef void (*pg_row_read_cb)(const PGresult *r, int row, void *out);
int store__pg_get_one(store_t *st, const char *sql, const pg_params_t *p, pg_row_read_cb read,
                      void *out, const char *op);
int store__pg_get_list(store_t *st, const char *sql, const pg_params_t *p, size_t elem,
                       pg_row_read_cb read, void **out, size_t *n, const char *op);

/* Feature ops tables (defined in store_pg_<feature>.c). */
extern const struct store_upload_ops store__pg_upload_ops;
extern const struct store_chat_ops store__pg_chat_ops;
extern const struct store_flag_ops store__pg_flag_ops;

#endif
