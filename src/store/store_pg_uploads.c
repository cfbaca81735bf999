/* store_pg_uploads.c: PostgreSQL tables of the uploads feature (uploads, guest_documents; see
 * migrations/postgres/0004_uploads.sql and store/uploads.h). The SQLite twin is
 * store_sqlite_uploads.c; the SQL is the same but for $n parameters and int8[] scopes. */
#include "store/uploads.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "store/pg_int.h"
#include "store/store_int.h"

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
    "SELECT count(*) FROM uploads WHERE org_id = $1 AND created_by = $2 AND status = 'uploading'";
/* Inserting from guests makes the guest, its organisation and its property one check. */
static const char sql_insert[] =
    "INSERT INTO uploads (id, org_id, property_id, guest_id, document_type, file_name, mime_type, "
    "size, sha256, document_number, protocol, status, created_by, created_at, updated_at, "
    "expires_at) SELECT $1, org_id, property_id, id, $5, $6, $7, $8, $9, $10, $11, 'uploading', "
    "$12, $13, $13, $14 FROM guests WHERE id = $4 AND org_id = $2 AND property_id = $3";
static const char sql_get[] =
    "SELECT " UPLOAD_COLS " FROM uploads WHERE id = $1 AND ($2 = 0 OR org_id = $2)";
static const char sql_touch[] = "UPDATE uploads SET updated_at = $2, expires_at = $3 WHERE id = $1";
static const char sql_remove[] = "DELETE FROM uploads WHERE id = $1";
static const char sql_doc_insert[] =
    "INSERT INTO guest_documents (org_id, property_id, guest_id, document_type, file_name, "
    "mime_type, size, sha256, document_number, storage_key, created_by, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";
static const char sql_mark_completed[] =
    "UPDATE uploads SET status = 'completed', document_id = $2, updated_at = $3 "
    "WHERE id = $1 AND status = 'uploading'";
static const char sql_expired[] =
    "SELECT " UPLOAD_COLS " FROM uploads WHERE expires_at < $1 ORDER BY expires_at LIMIT $2";
static const char sql_doc_get[] =
    "SELECT " DOC_COLS " FROM guest_documents WHERE org_id = $1 AND id = $2";
static const char sql_doc_list[] =
    "SELECT " DOC_COLS " FROM guest_documents WHERE org_id = $1 AND ($2 = 0 OR property_id = $2)"
    " AND ($3 IS NULL OR property_id = ANY ($3))"
    " AND ($4 = 0 OR guest_id = $4) AND ($5 = 0 OR id < $5) ORDER BY id DESC LIMIT $6";
static const char sql_doc_delete[] =
    "DELETE FROM guest_documents WHERE org_id = $1 AND id = $2 RETURNING " DOC_COLS;

/* ---- helpers ----------------------------------------------------------------------------------
 */

#define I64(col) store__pg_get_int64(r, row, (col))
#define TXT(col, dst) store__pg_get_text(r, row, (col), (dst), sizeof(dst))

static void read_upload(const PGresult *r, int row, void *out)
{
    store_upload_t *u = out;
    memset(u, 0, sizeof *u);
    TXT(0, u->id);
    u->org_id = I64(1);
    u->property_id = I64(2);
    u->guest_id = I64(3);
    TXT(4, u->document_type);
    TXT(5, u->file_name);
    TXT(6, u->mime_type);
    u->size = I64(7);
    TXT(8, u->sha256);
    TXT(9, u->document_number);
    TXT(10, u->protocol);
    TXT(11, u->status);
    u->document_id = I64(12);
    u->created_by = I64(13);
    u->created_at = I64(14);
    u->updated_at = I64(15);
    u->expires_at = I64(16);
}

static void read_document(const PGresult *r, int row, void *out)
{
    store_document_t *d = out;
    memset(d, 0, sizeof *d);
    d->id = I64(0);
    d->org_id = I64(1);
    d->property_id = I64(2);
    d->guest_id = I64(3);
    TXT(4, d->document_type);
    TXT(5, d->file_name);
    TXT(6, d->mime_type);
    d->size = I64(7);
    TXT(8, d->sha256);
    TXT(9, d->document_number);
    TXT(10, d->storage_key);
    d->created_by = I64(11);
    d->created_at = I64(12);
}

#undef I64
#undef TXT

/* ---- uploads ----------------------------------------------------------------------------------
 */

static int insert_upload(pg_conn_t *c, store_upload_t *u, int max_active)
{
    pg_params_t p;
    PGresult *r;
    int rc;
    if (max_active > 0) {
        store__pg_params_init(&p);
        store__pg_param_int64(&p, u->org_id);
        store__pg_param_int64(&p, u->created_by);
        if ((rc = store__pg_exec(c, sql_count_active, &p, &r, "upload_count")) != 0) return rc;
        int64_t active = store__pg_get_int64(r, 0, 0);
        PQclear(r);
        if (active >= max_active) return BH_ETOOBIG;
    }
    u->created_at = u->updated_at = clock_unix_ms();
    store__pg_params_init(&p);
    store__pg_param_text(&p, u->id);
    store__pg_param_int64(&p, u->org_id);
    store__pg_param_int64(&p, u->property_id);
    store__pg_param_int64(&p, u->guest_id);
    store__pg_param_text(&p, u->document_type);
    store__pg_param_text(&p, u->file_name);
    store__pg_param_text(&p, u->mime_type);
    store__pg_param_int64(&p, u->size);
    store__pg_param_text(&p, u->sha256);
    store__pg_param_text(&p, u->document_number);
    store__pg_param_text(&p, u->protocol);
    store__pg_param_int64(&p, u->created_by);
    store__pg_param_int64(&p, u->created_at);
    store__pg_param_int64(&p, u->expires_at);
    int64_t changes = 0;
    if ((rc = store__pg_write(c, sql_insert, &p, &changes, "upload_create")) != 0) return rc;
    return changes == 1 ? 0 : BH_ENOTFOUND;
}

static int pg_upload_create(store_t *st, store_upload_t *u, int max_active)
{
    pg_conn_t *c;
    int rc = store__pg_checkout(st, &c);
    if (rc != 0) return rc;
    /* Count and insert under one lock that every node takes (SQLite's write lock does this
     * there), so two creations cannot both pass the limit. */
    if ((rc = store__pg_begin(c)) == 0) {
        if (max_active > 0) rc = store__pg_xact_lock(c, PG_LOCK_UPLOADS);
        if (rc == 0) rc = insert_upload(c, u, max_active);
        if (rc == 0) rc = store__pg_commit(c);
        if (rc != 0) store__pg_rollback(c);
    }
    store__pg_checkin(st, c);
    return rc;
}

static int pg_upload_get(store_t *st, int64_t org_id, const char *id, store_upload_t *out)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_text(&p, id);
    store__pg_param_int64(&p, org_id);
    return store__pg_get_one(st, sql_get, &p, read_upload, out, "upload_get");
}

/* Runs one single-statement write on id; no row changed is BH_ENOTFOUND. */
static int write_one(store_t *st, const char *sql, const pg_params_t *p, const char *op)
{
    pg_conn_t *c;
    int64_t changes = 0;
    int rc = store__pg_checkout(st, &c);
    if (rc != 0) return rc;
    rc = store__pg_write(c, sql, p, &changes, op);
    if (rc == 0 && changes == 0) rc = BH_ENOTFOUND;
    store__pg_checkin(st, c);
    return rc;
}

static int pg_upload_touch(store_t *st, const char *id, int64_t now, int64_t expires_at)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_text(&p, id);
    store__pg_param_int64(&p, now);
    store__pg_param_int64(&p, expires_at);
    return write_one(st, sql_touch, &p, "upload_touch");
}

static int pg_upload_remove(store_t *st, const char *id)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_text(&p, id);
    return write_one(st, sql_remove, &p, "upload_remove");
}

static int complete_tx(pg_conn_t *c, const char *id, store_document_t *d)
{
    pg_params_t p;
    PGresult *r;
    int rc;
    int64_t changes = 0;
    d->created_at = clock_unix_ms();
    store__pg_params_init(&p);
    store__pg_param_int64(&p, d->org_id);
    store__pg_param_int64(&p, d->property_id);
    store__pg_param_int64(&p, d->guest_id);
    store__pg_param_text(&p, d->document_type);
    store__pg_param_text(&p, d->file_name);
    store__pg_param_text(&p, d->mime_type);
    store__pg_param_int64(&p, d->size);
    store__pg_param_text(&p, d->sha256);
    store__pg_param_text(&p, d->document_number);
    store__pg_param_text(&p, d->storage_key);
    store__pg_param_int64(&p, d->created_by);
    store__pg_param_int64(&p, d->created_at);
    if ((rc = store__pg_exec(c, sql_doc_insert, &p, &r, "document_insert")) != 0) return rc;
    d->id = store__pg_get_int64(r, 0, 0);
    PQclear(r);
    store__pg_params_init(&p);
    store__pg_param_text(&p, id);
    store__pg_param_int64(&p, d->id);
    store__pg_param_int64(&p, d->created_at);
    if ((rc = store__pg_write(c, sql_mark_completed, &p, &changes, "upload_complete")) != 0)
        return rc;
    return changes == 1 ? 0 : BH_ECONFLICT;
}

static int pg_upload_complete(store_t *st, const char *id, store_document_t *doc)
{
    pg_conn_t *c;
    int rc = store__pg_checkout(st, &c);
    if (rc != 0) return rc;
    if ((rc = store__pg_begin(c)) == 0) {
        rc = complete_tx(c, id, doc);
        if (rc == 0) rc = store__pg_commit(c);
        if (rc != 0) store__pg_rollback(c);
    }
    store__pg_checkin(st, c);
    return rc;
}

static int pg_uploads_expired(store_t *st, int64_t now, size_t max, store_upload_t **out,
                              size_t *n)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, now);
    store__pg_param_int64(&p, (int64_t)max);
    return store__pg_get_list(st, sql_expired, &p, sizeof **out, read_upload, (void **)out, n,
                              "uploads_expired");
}

/* ---- documents --------------------------------------------------------------------------------
 */

static int pg_document_get(store_t *st, int64_t org_id, int64_t id, store_document_t *out)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, org_id);
    store__pg_param_int64(&p, id);
    return store__pg_get_one(st, sql_doc_get, &p, read_document, out, "document_get");
}

static int pg_document_delete(store_t *st, int64_t org_id, int64_t id, store_document_t *out)
{
    pg_params_t p;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, org_id);
    store__pg_param_int64(&p, id);
    return store__pg_get_one(st, sql_doc_delete, &p, read_document, out, "document_delete");
}

static int pg_document_list(store_t *st, const store_query_t *q, int64_t guest_id,
                            store_document_t **out, size_t *n)
{
    pg_params_t p;
    size_t cap = q->all_properties ? 1 : 3 + q->n_scope * 21;
    char *buf = xmalloc(cap);
    store__pg_params_init(&p);
    store__pg_param_int64(&p, q->org_id);
    store__pg_param_int64(&p, q->property_id);
    /* A non-NULL pointer for an empty scope: it matches nothing, which NULL (all) would not. */
    static const int64_t none[1];
    store__pg_param_int64_array(&p, q->all_properties ? NULL : q->scope ? q->scope : none,
                                q->n_scope, buf, cap);
    store__pg_param_int64(&p, guest_id);
    store__pg_param_int64(&p, q->before_id);
    store__pg_param_int64(&p, (int64_t)q->limit);
    int rc = store__pg_get_list(st, sql_doc_list, &p, sizeof **out, read_document, (void **)out, n,
                                "document_list");
    free(buf);
    return rc;
}

const struct store_upload_ops store__pg_upload_ops = {
    .create = pg_upload_create,
    .get = pg_upload_get,
    .touch = pg_upload_touch,
    .remove = pg_upload_remove,
    .complete = pg_upload_complete,
    .expired = pg_uploads_expired,
    .document_get = pg_document_get,
    .document_list = pg_document_list,
    .document_delete = pg_document_delete,
};
