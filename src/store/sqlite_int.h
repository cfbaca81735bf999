/* sqlite_int.h: what the SQLite backend's files share (store_sqlite.c is the core: pool,
 * migrations, organisations, users, domain records, events; store_sqlite_<feature>.c add the
 * tables of one feature each, behind that feature's ops table in store_int.h).
 *
 * Every function here runs on a thread-pool thread, like the store operations themselves. */
#ifndef BH_STORE_SQLITE_INT_H
#define BH_STORE_SQLITE_INT_H

#include "store/store.h"

#include <sqlite3.h>

typedef struct sqlite_conn_s sqlite_conn_t;

/* Takes a connection from the pool, waiting while all are busy. Returns 0 or BH_ESTORE. */
int store__sqlite_checkout(store_t *st, sqlite_conn_t **out);
/* Returns it; an open transaction is rolled back. */
void store__sqlite_checkin(store_t *st, sqlite_conn_t *c);
sqlite3 *store__sqlite_db(sqlite_conn_t *c);
/* A prepared statement for sql, cached on c by the string's ADDRESS (pass string literals or
 * other static strings only). Returns 0 or BH_ESTORE. Reset it with store__sqlite_release. */
int store__sqlite_prepare(sqlite_conn_t *c, const char *sql, sqlite3_stmt **out);
void store__sqlite_release(sqlite3_stmt *s);
/* Maps an SQLite result code: unique/primary key -> BH_EEXIST, foreign key -> BH_ENOTFOUND,
 * check/not null -> BH_EINVAL, anything else -> BH_ESTORE (logged with op). */
int store__sqlite_error(sqlite_conn_t *c, int rc, const char *op);
/* Transactions: BEGIN IMMEDIATE (immediate != 0, for writes) or BEGIN; COMMIT; ROLLBACK (no-op
 * outside a transaction). */
int store__sqlite_begin(sqlite_conn_t *c, int immediate);
int store__sqlite_commit(sqlite_conn_t *c);
void store__sqlite_rollback(sqlite_conn_t *c);

/* Binding and reading helpers shared by every SQLite file. The bind helpers do nothing once *rc
 * holds an error, so a row of binds needs one check at the end. */
static inline void store__sqlite_bind_text(sqlite3_stmt *s, int i, const char *v, int *rc)
{
    if (*rc == SQLITE_OK) *rc = sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static inline void store__sqlite_bind_int64(sqlite3_stmt *s, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK) *rc = sqlite3_bind_int64(s, i, v);
}

/* Copies a text column into dst (cap bytes, always NUL-terminated). Values longer than the array
 * are cut at a UTF-8 character boundary so the result is still valid text. */
void store__sqlite_column_copy(sqlite3_stmt *s, int col, char *dst, size_t cap);

/* Feature ops tables (defined in store_sqlite_<feature>.c). */
extern const struct store_upload_ops store__sqlite_upload_ops;
extern const struct store_chat_ops store__sqlite_chat_ops;
extern const struct store_flag_ops store__sqlite_flag_ops;

#endif
