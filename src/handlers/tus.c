/* tus.c: the tus 1.0 resumable upload protocol at /v2/documents/uploads/ (core, creation,
 * creation-with-upload, termination, checksum with sha256, expiration), over the same uploads and
 * the same completion as the WebSocket stream (uploads.c). See docs/PROTOCOL.md.
 *
 *   OPTIONS /v2/documents/uploads/        capabilities (and CORS preflights)
 *   POST    /v2/documents/uploads/        create (Upload-Length, Upload-Metadata), maybe with data
 *   HEAD    /v2/documents/uploads/{id}    the durable offset
 *   PATCH   /v2/documents/uploads/{id}    data at Upload-Offset (Upload-Checksum optional)
 *   DELETE  /v2/documents/uploads/{id}    terminate
 *
 * POST and PATCH are HTTP_ROUTE_STREAM_BODY routes: the handler runs at the headers, opens the
 * writer on the thread pool, and only then starts the body, whose pieces go to the writer; while
 * the writer's buffer is full the body is paused (http_req_body_pause), so a fast client cannot
 * make the server buffer more than the writer's bound. A request cut short keeps what it brought
 * (resumable), unless it carried an Upload-Checksum, which can then not be verified: its bytes
 * are discarded. */
#include "handlers/uploads.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "upload/tus.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TUS_PATH "/v2/documents/uploads/"
#define OCTET_STREAM "application/offset+octet-stream"
#define EXPOSE                                                                                     \
    "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Tus-Resumable, "     \
    "Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, X-Document-Id"

typedef struct tus_op_s {
    http_req_t *req;
    hctx_t *h;
    auth_claims_t claims; /* owned; borrowed by the writer while it opens */
    upload_t *up;
    store_upload_t row;
    int create;
    int has_checksum;
    uint8_t digest[32];
    int64_t offset;  /* PATCH: Upload-Offset */
    int body_paused; /* we paused the body for the writer */
    int too_much;    /* the body went past the upload's size */
    int ended;       /* on_end has run */
    int end_status;
    upload_err_t err;  /* set when the answer is an error */
    int answer_status; /* else the success status (201, 204) */
    int64_t doc_id;
} tus_op_t;

static void op_free(tus_op_t *op)
{
    auth_claims_dispose(&op->claims);
    free(op);
}

static void add_common(http_req_t *req)
{
    http_resp_header(req, "Tus-Resumable", UPLOAD_TUS_VERSION);
    http_resp_header(req, "Access-Control-Expose-Headers", EXPOSE);
    http_resp_header(req, "Cache-Control", "no-store");
}

static void respond_err(http_req_t *req, const upload_err_t *e)
{
    http_respond_error(req, e->status, e->code, "%s", e->message);
}

/* Tus-Resumable, then the token and the role. Returns 1 to go on. */
static int preamble(http_req_t *req, auth_claims_t *c)
{
    add_common(req);
    const char *v = http_req_header(req, "tus-resumable");
    if (v == NULL || strcmp(v, UPLOAD_TUS_VERSION) != 0) {
        http_resp_header(req, "Tus-Version", UPLOAD_TUS_VERSION);
        http_respond_error(req, 412, "unsupported_tus_version",
                           "send Tus-Resumable: " UPLOAD_TUS_VERSION);
        return 0;
    }
    if (handlers_authenticate(req, c) != 0) return 0;
    return handlers_require_role(req, c, UPLOAD_ROLES, "upload guest documents");
}

static const char *path_id(http_req_t *req)
{
    const char *id = http_req_param(req, "uploadId");
    if (id == NULL || strlen(id) != STORE_UPLOAD_ID_LEN) return NULL;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return NULL;
    return id;
}

static void expires_header(http_req_t *req, int64_t expires_at)
{
    char d[40];
    if (expires_at <= 0) return;
    upload_http_date(expires_at, d, sizeof d);
    http_resp_header(req, "Upload-Expires", d);
}

static void offset_header(http_req_t *req, const char *name, uint64_t v)
{
    char n[24];
    snprintf(n, sizeof n, "%" PRIu64, v);
    http_resp_header(req, name, n);
}

/* ---- OPTIONS
 * -------------------------------------------------------------------------------------- */

void handlers_tus_options(http_req_t *req)
{
    if (!handlers_uploads_available(req)) return;
    hctx_t *h = http_req_app(req);
    const upload_limits_t *lim = upload_srv_limits(h->uploads);
    uint64_t max = 0;
    for (int i = 0; i < UPLOAD_CLASS__COUNT; i++)
        if (lim->max_size[i] > max) max = lim->max_size[i];
    add_common(req);
    http_resp_header(req, "Tus-Version", UPLOAD_TUS_VERSION);
    http_resp_header(req, "Tus-Extension", UPLOAD_TUS_EXTENSIONS);
    http_resp_header(req, "Tus-Checksum-Algorithm", "sha256");
    offset_header(req, "Tus-Max-Size", max);
    if (http_req_header(req, "origin") && http_req_header(req, "access-control-request-method")) {
        /* A CORS preflight (the Allow-Origin header, if the origin is allowed, is added by the
         * HTTP layer): browsers must be allowed to send the tus headers. */
        http_resp_header(req, "Access-Control-Allow-Methods", "POST, HEAD, PATCH, DELETE, OPTIONS");
        http_resp_header(req, "Access-Control-Allow-Headers",
                         "Authorization, Content-Type, Tus-Resumable, Upload-Length, "
                         "Upload-Metadata, Upload-Offset, Upload-Checksum, Upload-Defer-Length, "
                         "Upload-Concat, X-HTTP-Method-Override, X-Requested-With");
        http_resp_header(req, "Access-Control-Max-Age", "600");
    }
    http_respond(req, 204, NULL, NULL, 0);
}

/* ---- answering POST and PATCH
 * --------------------------------------------------------------------- */

static void answer(tus_op_t *op)
{
    http_req_t *req = op->req;
    if (op->err.code != NULL) {
        respond_err(req, &op->err);
    } else {
        if (op->create) {
            char loc[128];
            snprintf(loc, sizeof loc, TUS_PATH "%s", op->row.id);
            http_resp_header(req, "Location", loc);
        }
        offset_header(req, "Upload-Offset", (uint64_t)op->offset);
        if (op->doc_id) {
            char d[24];
            snprintf(d, sizeof d, "%" PRId64, op->doc_id);
            http_resp_header(req, "X-Document-Id", d);
        } else {
            expires_header(req, clock_unix_ms() + upload_srv_limits(op->h->uploads)->expiry_ms);
        }
        http_respond(req, op->answer_status, NULL, NULL, 0);
    }
    op_free(op);
}

static void on_finished(int status, const store_document_t *doc, void *ud)
{
    tus_op_t *op = ud;
    op->up = NULL;
    if (status == 0) {
        op->doc_id = doc->id;
        op->offset = op->row.size;
    } else {
        handlers_upload_error(status, &op->row, &op->err);
    }
    answer(op);
}

static void on_detached(upload_t *u, int status, void *ud)
{
    (void)u;
    tus_op_t *op = ud;
    op->up = NULL;
    if (status != 0 && op->err.code == NULL) handlers_upload_error(status, &op->row, &op->err);
    answer(op);
}

static void end_writer(tus_op_t *op)
{
    upload_t *u = op->up;
    if (op->err.code == NULL && !op->too_much && op->end_status == 0 &&
        upload_sm_complete(upload_sm(u))) {
        upload_finish(u, on_finished);
        return;
    }
    op->offset = (int64_t)upload_sm(u)->accepted;
    upload_detach(u, on_detached);
}

static void on_rolled_back(upload_t *u, int status, void *ud)
{
    (void)status;
    tus_op_t *op = ud;
    op->offset = (int64_t)upload_sm(u)->accepted;
    end_writer(op);
}

static void on_flushed(upload_t *u, int status, void *ud)
{
    tus_op_t *op = ud;
    if (status != 0) {
        handlers_upload_error(status, &op->row, &op->err);
        end_writer(op);
        return;
    }
    if (op->has_checksum && (op->end_status != 0 || !upload_segment_matches(u, op->digest))) {
        /* Unverifiable (cut short) or wrong: none of this request's bytes are kept. */
        if (op->end_status == 0) {
            op->err.status = 460;
            op->err.code = "checksum_mismatch";
            snprintf(op->err.message, sizeof op->err.message,
                     "the Upload-Checksum does not match this request's data; none of it was "
                     "kept");
        }
        upload_segment_rollback(u, on_rolled_back);
        return;
    }
    end_writer(op);
}

static void on_body_data(http_req_t *req, const char *data, size_t len, void *ctx)
{
    tus_op_t *op = ctx;
    if (op->too_much) return;
    const upload_sm_t *m = upload_sm(op->up);
    if (len > m->size - m->accepted) {
        /* More than the upload can take: stop here, keep what fits, answer 413 at the end of
         * the writer (never from this callback). */
        op->too_much = 1;
        snprintf(op->err.message, sizeof op->err.message,
                 "the data goes past Upload-Length %" PRIu64, m->size);
        op->err.status = 413;
        op->err.code = "too_large";
        http_req_body_pause(req);
        op->body_paused = 1;
        upload_flush(op->up, on_flushed);
        return;
    }
    if (upload_write(op->up, data, len) == BH_EAGAIN && !op->body_paused) {
        op->body_paused = 1;
        http_req_body_pause(req);
    }
}

static void on_body_end(http_req_t *req, int status, void *ctx)
{
    (void)req;
    tus_op_t *op = ctx;
    op->ended = 1;
    op->end_status = status;
    if (op->too_much) return; /* already flushing */
    if (status == UV_ETIMEDOUT && op->err.code == NULL) {
        op->err.status = 408;
        op->err.code = "request_timeout";
        snprintf(op->err.message, sizeof op->err.message, "the request body took too long");
    }
    upload_flush(op->up, on_flushed);
}

static void on_writer_drain(upload_t *u, void *ud)
{
    (void)u;
    tus_op_t *op = ud;
    if (op->body_paused && !op->too_much && !op->ended) {
        op->body_paused = 0;
        http_req_body_resume(op->req);
    }
}

static const upload_events_t tus_events = {NULL, on_writer_drain};

static void on_opened(upload_t *u, int status, const store_upload_t *row, void *ud)
{
    tus_op_t *op = ud;
    if (status != 0) {
        op->row = *row;
        handlers_upload_error(status, row, &op->err);
        if (status == BH_ECONFLICT) op->err.status = 409;
        answer(op);
        return;
    }
    op->up = u;
    op->row = *row;
    const upload_sm_t *m = upload_sm(u);
    if (!op->create && (uint64_t)op->offset != m->accepted) {
        op->err.status = 409;
        op->err.code = "offset_mismatch";
        snprintf(op->err.message, sizeof op->err.message,
                 "Upload-Offset is %" PRId64 ", but the upload continues at %" PRIu64, op->offset,
                 m->accepted);
        op->offset = (int64_t)m->accepted;
        upload_detach(u, on_detached);
        return;
    }
    if (op->has_checksum) upload_segment_begin(u);
    http_req_body_stream(op->req, on_body_data, on_body_end, op);
}

/* Content-Type must announce tus data when there is a body. Returns 1 to go on. */
static int body_type_ok(http_req_t *req, int required)
{
    long long cl = http_req_content_length(req);
    const char *te = http_req_header(req, "transfer-encoding");
    int has_body = cl > 0 || (cl < 0 && te != NULL);
    if (!has_body && !required) return 1;
    const char *ct = http_req_header(req, "content-type");
    if (ct == NULL || strncasecmp(ct, OCTET_STREAM, strlen(OCTET_STREAM)) != 0) {
        http_respond_error(req, 415, "unsupported_media_type",
                           "upload data needs Content-Type: " OCTET_STREAM);
        return 0;
    }
    return 1;
}

/* Upload-Checksum, if any. Returns 1 to go on. */
static int checksum_header(http_req_t *req, tus_op_t *op)
{
    const char *v = http_req_header(req, "upload-checksum");
    if (v == NULL) return 1;
    int rc = upload_tus_checksum_parse(v, op->digest);
    if (rc == BH_EDECLINED) {
        http_resp_header(req, "Tus-Checksum-Algorithm", "sha256");
        http_respond_error(req, 400, "checksum_algorithm", "only sha256 checksums are supported");
        return 0;
    }
    if (rc != 0) {
        http_respond_error(req, 400, "invalid_field",
                           "Upload-Checksum: \"sha256 <base64 of the 32-byte digest>\"");
        return 0;
    }
    op->has_checksum = 1;
    return 1;
}

static int64_t meta_int(const char *v)
{
    int64_t x;
    if (v == NULL) return -1;
    return upload_tus_parse_uint(v, &x) == 0 ? x : -2;
}

/* ---- POST (creation, creation-with-upload)
 * -------------------------------------------------------- */

void handlers_tus_create(http_req_t *req)
{
    if (!handlers_uploads_available(req)) return;
    hctx_t *h = http_req_app(req);
    tus_op_t *op = xcalloc(1, sizeof *op);
    op->req = req;
    op->h = h;
    op->create = 1;
    op->answer_status = 201;
    if (!preamble(req, &op->claims)) goto out;
    if (http_req_header(req, "upload-defer-length")) {
        http_respond_error(req, 400, "invalid_field",
                           "Upload-Length is required: deferred lengths are not supported");
        goto out;
    }
    int64_t length;
    if (upload_tus_parse_uint(http_req_header(req, "upload-length"), &length) != 0) {
        http_respond_error(req, 400, "invalid_field",
                           "Upload-Length: the size in bytes, a non-negative integer");
        goto out;
    }
    upload_tus_meta_t *meta = xmalloc(sizeof *meta);
    if (upload_tus_meta_parse(http_req_header(req, "upload-metadata"), meta) != 0) {
        free(meta);
        http_respond_error(req, 400, "invalid_field",
                           "Upload-Metadata: comma-separated \"key base64value\" pairs");
        goto out;
    }
    static const char *const k_type[] = {"documentType", NULL};
    static const char *const k_guest[] = {"guestId", NULL};
    static const char *const k_prop[] = {"propertyId", NULL};
    static const char *const k_name[] = {"fileName", "filename", "name", NULL};
    static const char *const k_mime[] = {"mimeType", "filetype", "type", NULL};
    static const char *const k_sha[] = {"sha256", NULL};
    static const char *const k_num[] = {"documentNumber", NULL};
    int bad = 0;
    upload_start_t in = {
        .document_type = upload_tus_meta_get(meta, k_type, &bad),
        .file_name = upload_tus_meta_get(meta, k_name, &bad),
        .mime_type = upload_tus_meta_get(meta, k_mime, &bad),
        .sha256 = upload_tus_meta_get(meta, k_sha, &bad),
        .document_number = upload_tus_meta_get(meta, k_num, &bad),
        .guest_id = meta_int(upload_tus_meta_get(meta, k_guest, &bad)),
        .property_id = meta_int(upload_tus_meta_get(meta, k_prop, &bad)),
        .size = length,
    };
    upload_err_t e;
    int rc = bad ? BH_EINVAL : handlers_upload_prepare(h, &op->claims, &in, "tus", &op->row, &e);
    free(meta);
    if (bad) {
        http_respond_error(req, 400, "invalid_field", "Upload-Metadata: a value holds a NUL byte");
        goto out;
    }
    if (rc != 0) {
        respond_err(req, &e);
        goto out;
    }
    if (!body_type_ok(req, 0) || !checksum_header(req, op)) goto out;
    upload_open(h->uploads, http_req_loop(req), op->claims.org_id, NULL, &op->row, &op->claims,
                &tus_events, op, on_opened);
    return;
out:
    op_free(op);
}

/* ---- PATCH
 * ---------------------------------------------------------------------------------------- */

void handlers_tus_patch(http_req_t *req)
{
    if (!handlers_uploads_available(req)) return;
    hctx_t *h = http_req_app(req);
    tus_op_t *op = xcalloc(1, sizeof *op);
    op->req = req;
    op->h = h;
    op->answer_status = 204;
    if (!preamble(req, &op->claims)) goto out;
    const char *id = path_id(req);
    if (id == NULL) {
        http_respond_error(req, 404, "not_found", "no such upload");
        goto out;
    }
    if (!body_type_ok(req, 1)) goto out;
    const char *off = http_req_header(req, "upload-offset");
    if (upload_tus_parse_uint(off, &op->offset) != 0) {
        http_respond_error(req, 400, "invalid_offset",
                           "Upload-Offset: a non-negative integer, the upload's current offset");
        goto out;
    }
    if (!checksum_header(req, op)) goto out;
    upload_open(h->uploads, http_req_loop(req), op->claims.org_id, id, NULL, &op->claims,
                &tus_events, op, on_opened);
    return;
out:
    op_free(op);
}

/* ---- HEAD and DELETE
 * ------------------------------------------------------------------------------ */

typedef struct tus_id_op_s {
    http_req_t *req;
    auth_claims_t claims;
} tus_id_op_t;

static void on_stat(int status, const store_upload_t *row, uint64_t offset, void *ud)
{
    tus_id_op_t *op = ud;
    http_req_t *req = op->req;
    if (status != 0) {
        upload_err_t e;
        handlers_upload_error(status, row, &e);
        /* A HEAD answer has no body: the status says it. */
        http_respond(req, e.status, NULL, NULL, 0);
    } else {
        offset_header(req, "Upload-Offset", offset);
        offset_header(req, "Upload-Length", (uint64_t)row->size);
        if (strcmp(row->status, "uploading") == 0) expires_header(req, row->expires_at);
        if (row->document_id) {
            char d[24];
            snprintf(d, sizeof d, "%" PRId64, row->document_id);
            http_resp_header(req, "X-Document-Id", d);
        }
        http_respond(req, 200, NULL, NULL, 0);
    }
    auth_claims_dispose(&op->claims);
    free(op);
}

static void on_removed(int status, const store_upload_t *row, uint64_t offset, void *ud)
{
    (void)offset;
    tus_id_op_t *op = ud;
    if (status != 0) {
        upload_err_t e;
        handlers_upload_error(status, row, &e);
        respond_err(op->req, &e);
    } else {
        http_respond(op->req, 204, NULL, NULL, 0);
    }
    auth_claims_dispose(&op->claims);
    free(op);
}

static void by_id(http_req_t *req, int remove)
{
    if (!handlers_uploads_available(req)) return;
    hctx_t *h = http_req_app(req);
    tus_id_op_t *op = xcalloc(1, sizeof *op);
    op->req = req;
    if (!preamble(req, &op->claims)) goto out;
    const char *id = path_id(req);
    if (id == NULL) {
        if (remove)
            http_respond_error(req, 404, "not_found", "no such upload");
        else
            http_respond(req, 404, NULL, NULL, 0);
        goto out;
    }
    if (remove)
        upload_remove_by_id(h->uploads, http_req_loop(req), op->claims.org_id, id, &op->claims,
                            on_removed, op);
    else
        upload_stat_by_id(h->uploads, http_req_loop(req), op->claims.org_id, id, &op->claims,
                          on_stat, op);
    return;
out:
    auth_claims_dispose(&op->claims);
    free(op);
}

void handlers_tus_head(http_req_t *req)
{
    by_id(req, 0);
}

void handlers_tus_delete(http_req_t *req)
{
    by_id(req, 1);
}
