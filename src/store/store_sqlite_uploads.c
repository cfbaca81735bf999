/* store_sqlite_uploads.c: SQLite tables of the uploads feature (uploads, guest_documents; see
 * migrations/sqlite/0004_uploads.sql and store/uploads.h). Static SQL with parameters only,
 * prepared once per connection through store__sqlite_prepare. */
#include "store/uploads.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "store/sqlite_int.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UPLOAD_COLS                                                                                \
    "id, org_id, property_id, guest_id, document_type, file_name, mime_type, size, sha256, "       \
    "document_number, protocol, status, COALESCE(document_id, 0), created_by, created_at, "        \
    "updated_at, expires_at"
#define DOC_COLS                                                                                   \
    "id, org_id, property_id, guest_id, document_type, file_name, mime_type, size, sha256, "       \
    "document_number, storage_key, created_by, created_at"

static const char sql_count_active[] =
    "SELECT count(*) FROM uploads WHERE org_id = ?1 AND created_by = ?2 AND status = 'uploading'";
/* Inserting from guests makes the guest, its organisation and its property one check. */
static const char sql_insert[] =
    "INSERT INTO uploads (id, org_id, property_id, guest_id, document_type, file_name, mime_type, "
    "size, sha256, document_number, protocol, status, created_by, created_at, updated_at, "
    "expires_at) SELECT ?1, org_id, property_id, id, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'uploading', "
    "?12, ?13, ?13, ?14 FROM guests WHERE id = ?4 AND org_id = ?2 AND property_id = ?3";
static const char sql_get[] =
    "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?1 AND (?2 = 0 OR org_id = ?2)";
static const char sql_touch[] = "UPDATE uploads SET updated_at = ?2, expires_at = ?3 WHERE id = ?1";
static const char sql_remove[] = "DELETE FROM uploads WHERE id = ?1";
static const char sql_doc_insert[] =
    "INSERT INTO guest_documents (org_id, property_id, guest_id, document_type, file_name, "
    "mime_type, size, sha256, document_number, storage_key, created_by, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char sql_mark_completed[] =
    "UPDATE uploads SET status = 'completed', document_id = ?2, updated_at = ?3 "
    "WHERE id = ?1 AND status = 'uploading'";
static const char sql_expired[] =
    "SELECT " UPLOAD_COLS " FROM uploads WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2";
static const char sql_doc_get[] =
    "SELECT " DOC_COLS " FROM guest_documents WHERE org_id = ?1 AND id = ?2";
static const char sql_doc_list[] =
    "SELECT " DOC_COLS " FROM guest_documents WHERE org_id = ?1 AND (?2 = 0 OR property_id = ?2)"
    " AND (?3 IS NULL OR property_id IN (SELECT value FROM json_each(?3)))"
    " AND (?4 = 0 OR guest_id = ?4) AND (?5 = 0 OR id < ?5) ORDER BY id DESC LIMIT ?6";
static const char sql_doc_delete[] =
    "DELETE FROM guest_documents WHERE org_id = ?1 AND id = ?2 RETURNING " DOC_COLS;

/* ---- helpers ----------------------------------------------------------------------------------
 */

static void read_upload(sqlite3_stmt *s, store_upload_t *u)
{
    memset(u, 0, sizeof *u);
    store__sqlite_column_copy(s, 0, u->id, sizeof u->id);
    u->org_id = sqlite3_column_int64(s, 1);
    u->property_id = sqlite3_column_int64(s, 2);
    u->guest_id = sqlite3_column_int64(s, 3);
    store__sqlite_column_copy(s, 4, u->document_type, sizeof u->document_type);
    store__sqlite_column_copy(s, 5, u->file_name, sizeof u->file_name);
    store__sqlite_column_copy(s, 6, u->mime_type, sizeof u->mime_type);
    u->size = sqlite3_column_int64(s, 7);
    store__sqlite_column_copy(s, 8, u->sha256, sizeof u->sha256);
    store__sqlite_column_copy(s, 9, u->document_number, sizeof u->document_number);
    store__sqlite_column_copy(s, 10, u->protocol, sizeof u->protocol);
    store__sqlite_column_copy(s, 11, u->status, sizeof u->status);
    u->document_id = sqlite3_column_int64(s, 12);
    u->created_by = sqlite3_column_int64(s, 13);
    u->created_at = sqlite3_column_int64(s, 14);
    u->updated_at = sqlite3_column_int64(s, 15);
    u->expires_at = sqlite3_column_int64(s, 16);
}

static void read_document(sqlite3_stmt *s, store_document_t *d)
{
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(s, 0);
    d->org_id = sqlite3_column_int64(s, 1);
    d->property_id = sqlite3_column_int64(s, 2);
    d->guest_id = sqlite3_column_int64(s, 3);
    store__sqlite_column_copy(s, 4, d->document_type, sizeof d->document_type);
    store__sqlite_column_copy(s, 5, d->file_name, sizeof d->file_name);
    store__sqlite_column_copy(s, 6, d->mime_type, sizeof d->mime_type);
    d->size = sqlite3_column_int64(s, 7);
    store__sqlite_column_copy(s, 8, d->sha256, sizeof d->sha256);
    store__sqlite_column_copy(s, 9, d->document_number, sizeof d->document_number);
    store__sqlite_column_copy(s, 10, d->storage_key, sizeof d->storage_key);
    d->created_by = sqlite3_column_int64(s, 11);
    d->created_at = sqlite3_column_int64(s, 12);
}

/* Steps a statement that writes (no rows); releases it. Returns 0 with *changes set, or an error.
 */
static int step_write(sqlite_conn_t *c, sqlite3_stmt *q, int src, int *changes, const char *op)
{
    if (src == SQLITE_OK) src = sqlite3_step(q);
    int rc = src == SQLITE_DONE ? 0 : store__sqlite_error(c, src, op);
    if (rc == 0 && changes) *changes = sqlite3_changes(store__sqlite_db(c));
    store__sqlite_release(q);
    return rc;
}

/* ---- uploads ----------------------------------------------------------------------------------
 */

static int insert_upload(sqlite_conn_t *c, store_upload_t *u, int max_active)
{
    sqlite3_stmt *q;
    int rc, src = SQLITE_OK;
    if (max_active > 0) {
        if ((rc = store__sqlite_prepare(c, sql_count_active, &q)) != 0) return rc;
        store__sqlite_bind_int64(q, 1, u->org_id, &src);
        store__sqlite_bind_int64(q, 2, u->created_by, &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        int64_t active = src == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
        rc = src == SQLITE_ROW ? 0 : store__sqlite_error(c, src, "upload_count");
        store__sqlite_release(q);
        if (rc != 0) return rc;
        if (active >= max_active) return BH_ETOOBIG;
    }
    if ((rc = store__sqlite_prepare(c, sql_insert, &q)) != 0) return rc;
    src = SQLITE_OK;
    u->created_at = u->updated_at = clock_unix_ms();
    store__sqlite_bind_text(q, 1, u->id, &src);
    store__sqlite_bind_int64(q, 2, u->org_id, &src);
    store__sqlite_bind_int64(q, 3, u->property_id, &src);
    store__sqlite_bind_int64(q, 4, u->guest_id, &src);
    store__sqlite_bind_text(q, 5, u->document_type, &src);
    store__sqlite_bind_text(q, 6, u->file_name, &src);
    store__sqlite_bind_text(q, 7, u->mime_type, &src);
    store__sqlite_bind_int64(q, 8, u->size, &src);
    store__sqlite_bind_text(q, 9, u->sha256, &src);
    store__sqlite_bind_text(q, 10, u->document_number, &src);
    store__sqlite_bind_text(q, 11, u->protocol, &src);
    store__sqlite_bind_int64(q, 12, u->created_by, &src);
    store__sqlite_bind_int64(q, 13, u->created_at, &src);
    store__sqlite_bind_int64(q, 14, u->expires_at, &src);
    int changes = 0;
    if ((rc = step_write(c, q, src, &changes, "upload_create")) != 0) return rc;
    return changes == 1 ? 0 : BH_ENOTFOUND;
}

static int sqlite_upload_create(store_t *st, store_upload_t *u, int max_active)
{
    sqlite_conn_t *c;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    /* Count and insert under one write lock, so two creations cannot both pass the limit. */
    if ((rc = store__sqlite_begin(c, 1)) == 0) {
        rc = insert_upload(c, u, max_active);
        if (rc == 0) rc = store__sqlite_commit(c);
        if (rc != 0) store__sqlite_rollback(c);
    }
    store__sqlite_checkin(st, c);
    return rc;
}

static int sqlite_upload_get(store_t *st, int64_t org_id, const char *id, store_upload_t *out)
{
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    if ((rc = store__sqlite_prepare(c, sql_get, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_text(q, 1, id, &src);
        store__sqlite_bind_int64(q, 2, org_id, &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        if (src == SQLITE_ROW) {
            read_upload(q, out);
            rc = 0;
        } else {
            rc = src == SQLITE_DONE ? BH_ENOTFOUND : store__sqlite_error(c, src, "upload_get");
        }
        store__sqlite_release(q);
    }
    store__sqlite_checkin(st, c);
    return rc;
}

/* Runs one single-statement write on id. */
static int write_one(store_t *st, const char *sql, const char *id, int64_t a, int64_t b, int nargs,
                     const char *op)
{
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    if ((rc = store__sqlite_prepare(c, sql, &q)) == 0) {
        int src = SQLITE_OK, changes = 0;
        store__sqlite_bind_text(q, 1, id, &src);
        if (nargs > 0) store__sqlite_bind_int64(q, 2, a, &src);
        if (nargs > 1) store__sqlite_bind_int64(q, 3, b, &src);
        rc = step_write(c, q, src, &changes, op);
        if (rc == 0 && changes == 0) rc = BH_ENOTFOUND;
    }
    store__sqlite_checkin(st, c);
    return rc;
}

static int sqlite_upload_touch(store_t *st, const char *id, int64_t now, int64_t expires_at)
{
    return write_one(st, sql_touch, id, now, expires_at, 2, "upload_touch");
}

static int sqlite_upload_remove(store_t *st, const char *id)
{
    return write_one(st, sql_remove, id, 0, 0, 0, "upload_remove");
}

static int complete_tx(sqlite_conn_t *c, const char *id, store_document_t *d)
{
    sqlite3_stmt *q;
    int rc, src = SQLITE_OK, changes = 0;
    if ((rc = store__sqlite_prepare(c, sql_doc_insert, &q)) != 0) return rc;
    d->created_at = clock_unix_ms();
    store__sqlite_bind_int64(q, 1, d->org_id, &src);
    store__sqlite_bind_int64(q, 2, d->property_id, &src);
    store__sqlite_bind_int64(q, 3, d->guest_id, &src);
    store__sqlite_bind_text(q, 4, d->document_type, &src);
    store__sqlite_bind_text(q, 5, d->file_name, &src);
    store__sqlite_bind_text(q, 6, d->mime_type, &src);
    store__sqlite_bind_int64(q, 7, d->size, &src);
    store__sqlite_bind_text(q, 8, d->sha256, &src);
    store__sqlite_bind_text(q, 9, d->document_number, &src);
    store__sqlite_bind_text(q, 10, d->storage_key, &src);
    store__sqlite_bind_int64(q, 11, d->created_by, &src);
    store__sqlite_bind_int64(q, 12, d->created_at, &src);
    if ((rc = step_write(c, q, src, NULL, "document_insert")) != 0) return rc;
    d->id = sqlite3_last_insert_rowid(store__sqlite_db(c));
    if ((rc = store__sqlite_prepare(c, sql_mark_completed, &q)) != 0) return rc;
    src = SQLITE_OK;
    store__sqlite_bind_text(q, 1, id, &src);
    store__sqlite_bind_int64(q, 2, d->id, &src);
    store__sqlite_bind_int64(q, 3, d->created_at, &src);
    if ((rc = step_write(c, q, src, &changes, "upload_complete")) != 0) return rc;
    return changes == 1 ? 0 : BH_ECONFLICT;
}

static int sqlite_upload_complete(store_t *st, const char *id, store_document_t *doc)
{
    sqlite_conn_t *c;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    if ((rc = store__sqlite_begin(c, 1)) == 0) {
        rc = complete_tx(c, id, doc);
        if (rc == 0) rc = store__sqlite_commit(c);
        if (rc != 0) store__sqlite_rollback(c);
    }
    store__sqlite_checkin(st, c);
    return rc;
}

static int sqlite_uploads_expired(store_t *st, int64_t now, size_t max, store_upload_t **out,
                                  size_t *n)
{
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    if ((rc = store__sqlite_prepare(c, sql_expired, &q)) == 0) {
        int src = SQLITE_OK;
        size_t len = 0;
        store_upload_t *arr = xmalloc(max * sizeof *arr);
        store__sqlite_bind_int64(q, 1, now, &src);
        store__sqlite_bind_int64(q, 2, (int64_t)max, &src);
        while (src == SQLITE_OK || src == SQLITE_ROW) {
            if ((src = sqlite3_step(q)) != SQLITE_ROW || len == max) break;
            read_upload(q, &arr[len++]);
        }
        rc = src == SQLITE_DONE || src == SQLITE_ROW
                 ? 0
                 : store__sqlite_error(c, src, "uploads_expired");
        store__sqlite_release(q);
        if (rc == 0 && len > 0) {
            *out = arr;
            *n = len;
        } else {
            free(arr);
        }
    }
    store__sqlite_checkin(st, c);
    return rc;
}

/* ---- documents --------------------------------------------------------------------------------
 */

static int doc_one(store_t *st, const char *sql, int64_t org_id, int64_t id, store_document_t *out,
                   const char *op)
{
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    if ((rc = store__sqlite_prepare(c, sql, &q)) == 0) {
        int src = SQLITE_OK;
        store__sqlite_bind_int64(q, 1, org_id, &src);
        store__sqlite_bind_int64(q, 2, id, &src);
        if (src == SQLITE_OK) src = sqlite3_step(q);
        if (src == SQLITE_ROW) {
            read_document(q, out);
            /* A RETURNING write completes by stepping to the end, not by a reset. */
            src = sqlite3_step(q);
            rc = src == SQLITE_DONE ? 0 : store__sqlite_error(c, src, op);
        } else {
            rc = src == SQLITE_DONE ? BH_ENOTFOUND : store__sqlite_error(c, src, op);
        }
        store__sqlite_release(q);
    }
    store__sqlite_checkin(st, c);
    return rc;
}

static int sqlite_document_get(store_t *st, int64_t org_id, int64_t id, store_document_t *out)
{
    return doc_one(st, sql_doc_get, org_id, id, out, "document_get");
}

static int sqlite_document_delete(store_t *st, int64_t org_id, int64_t id, store_document_t *out)
{
    return doc_one(st, sql_doc_delete, org_id, id, out, "document_delete");
}

/* The caller's property scope as a JSON array for json_each, or NULL for every property. */
static char *scope_json(const store_query_t *q)
{
    if (q->all_properties) return NULL;
    size_t cap = 2 + q->n_scope * 21 + 1, len = 0;
    char *j = xmalloc(cap);
    j[len++] = '[';
    for (size_t i = 0; i < q->n_scope; i++)
        len += (size_t)snprintf(j + len, cap - len, "%s%lld", i ? "," : "", (long long)q->scope[i]);
    j[len++] = ']';
    j[len] = '\0';
    return j;
}

static int sqlite_document_list(store_t *st, const store_query_t *qq, int64_t guest_id,
                                store_document_t **out, size_t *n)
{
    sqlite_conn_t *c;
    sqlite3_stmt *q;
    char *scope = scope_json(qq);
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) {
        free(scope);
        return rc;
    }
    if ((rc = store__sqlite_prepare(c, sql_doc_list, &q)) == 0) {
        int src = SQLITE_OK;
        size_t len = 0;
        store_document_t *arr = xmalloc(qq->limit * sizeof *arr);
        store__sqlite_bind_int64(q, 1, qq->org_id, &src);
        store__sqlite_bind_int64(q, 2, qq->property_id, &src);
        if (src == SQLITE_OK)
            src =
                scope ? sqlite3_bind_text(q, 3, scope, -1, SQLITE_STATIC) : sqlite3_bind_null(q, 3);
        store__sqlite_bind_int64(q, 4, guest_id, &src);
        store__sqlite_bind_int64(q, 5, qq->before_id, &src);
        store__sqlite_bind_int64(q, 6, (int64_t)qq->limit, &src);
        while (src == SQLITE_OK || src == SQLITE_ROW) {
            if ((src = sqlite3_step(q)) != SQLITE_ROW || len == qq->limit) break;
            read_document(q, &arr[len++]);
        }
        rc = src == SQLITE_DONE || src == SQLITE_ROW ? 0
                                                     : store__sqlite_error(c, src, "document_list");
        store__sqlite_release(q);
        if (rc == 0 && len > 0) {
            *out = arr;
            *n = len;
        } else {
            free(arr);
        }
    }
    store__sqlite_checkin(st, c);
    free(scope);
    return rc;
}

const struct store_upload_ops store__sqlite_upload_ops = {
    .create = sqlite_upload_create,
    .get = sqlite_upload_get,
    .touch = sqlite_upload_touch,
    .remove = sqlite_upload_remove,
    .complete = sqlite_upload_complete,
    .expired = sqlite_uploads_expired,
    .document_get = sqlite_document_get,
    .document_list = sqlite_document_list,
    .document_delete = sqlite_document_delete,
};
