/* uploads.c: the WebSocket upload stream, GET /v2/documents/upload/stream (docs/PROTOCOL.md,
 * "Document uploads"), the checks both upload protocols share, and the routes of the feature.
 *
 * A session is one connection. It runs at most one upload at a time (upload_sess_t in
 * upload/machine.h says which message is allowed when); the writer (upload/upload.h) does the
 * disk work on the thread pool. Flow control: when the writer's buffer is full, the session stops
 * reading the socket (ws_conn_pause) until the writer drains. Lifetime: the session lives until
 * the WebSocket is closed and no thread-pool operation that calls back into it is in flight. */
#include "handlers/uploads.h"

#include "auth/jwt.h"
#include "handlers/admit.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "upload/docnum.h"
#include "upload/name.h"
#include "ws/frame.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Close codes of the upload stream (docs/PROTOCOL.md). */
enum {
    UP_CLOSE_INVALID = 4400,       /* not JSON, or not an object */
    UP_CLOSE_TOKEN_EXPIRED = 4401, /* the token expired while connected */
    UP_CLOSE_START_TIMEOUT = 4408, /* no start or resume in time */
    UP_CLOSE_SLOW = 4429,          /* more than BELLHOP_WS_MAX_OUTBUF queued for the client */
};

/* ---- checks shared with tus ---------------------------------------------------------------------
 */

static void set_err(upload_err_t *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_err(upload_err_t *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

static int valid_mime(const char *s)
{
    /* type "/" subtype, RFC 9110 token characters, optional parameters after ';'. */
    size_t n = strcspn(s, ";");
    const char *slash = memchr(s, '/', n);
    if (n == 0 || n >= STORE_MIME_MAX || slash == NULL || slash == s || slash == s + n - 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$&-^_.+/", c)))
            return 0;
    }
    return strlen(s) < STORE_MIME_MAX;
}

int handlers_upload_prepare(hctx_t *h, const auth_claims_t *c, const upload_start_t *in,
                            const char *protocol, store_upload_t *row, upload_err_t *err)
{
    upload_srv_t *us = h->uploads;
    upload_doctype_t t;
    const char *why;
    memset(row, 0, sizeof *row);
    if (in->document_type == NULL || upload_doctype_parse(in->document_type, &t) != 0) {
        set_err(err, 400, "invalid_field", "documentType: one of " UPLOAD_DOCTYPE_NAMES);
        return BH_EINVAL;
    }
    if (in->guest_id <= 0) {
        set_err(err, 400, "invalid_field", "guestId: must be a positive integer id");
        return BH_EINVAL;
    }
    if (in->property_id <= 0) {
        set_err(err, 400, "invalid_field", "propertyId: must be a positive integer id");
        return BH_EINVAL;
    }
    if (in->file_name == NULL) {
        set_err(err, 400, "invalid_field", "fileName: is required");
        return BH_EINVAL;
    }
    if ((why = upload_name_check(in->file_name, row->file_name, sizeof row->file_name)) != NULL) {
        set_err(err, 400, "invalid_field", "fileName: %s", why);
        return BH_EINVAL;
    }
    uint64_t max = upload_srv_max_size(us, t);
    if (in->size < 0) {
        set_err(err, 400, "invalid_field", "size: must be an integer of bytes, 0 or more");
        return BH_EINVAL;
    }
    if ((uint64_t)in->size > max) {
        set_err(err, 413, "too_large",
                "size: %" PRId64 " bytes is over the %" PRIu64 " byte limit for %s", in->size, max,
                upload_doctype_name(t));
        return BH_EINVAL;
    }
    const char *mime = in->mime_type && *in->mime_type ? in->mime_type : "application/octet-stream";
    if (!valid_mime(mime)) {
        set_err(err, 400, "invalid_field", "mimeType: a MIME type such as image/jpeg");
        return BH_EINVAL;
    }
    if (in->sha256 != NULL) {
        size_t n = strlen(in->sha256);
        int ok = n == 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = (in->sha256[i] >= '0' && in->sha256[i] <= '9') ||
                 ((in->sha256[i] | 0x20) >= 'a' && (in->sha256[i] | 0x20) <= 'f');
        if (!ok) {
            set_err(err, 400, "invalid_field", "sha256: 64 hexadecimal characters");
            return BH_EINVAL;
        }
        for (size_t i = 0; i < n; i++)
            row->sha256[i] = (char)(in->sha256[i] | 0x20);
        row->sha256[n] = '\0';
    }
    if (in->document_number != NULL && *in->document_number) {
        if (t == UPLOAD_DOC_IMAGE || t == UPLOAD_DOC_CSV || t == UPLOAD_DOC_EXCEL) {
            set_err(err, 400, "invalid_field", "documentNumber: only identity documents have one");
            return BH_EINVAL;
        }
        if (upload_docnum_check(t, in->document_number, row->document_number,
                                sizeof row->document_number, &why) != 0) {
            set_err(err, 400, "invalid_field", "documentNumber: %s", why);
            return BH_EINVAL;
        }
    }
    if (!auth_claims_has_property(c, in->property_id)) {
        set_err(err, 403, "property_forbidden", "no access to property %" PRId64, in->property_id);
        return BH_EINVAL;
    }
    upload_new_id(row->id);
    row->org_id = c->org_id;
    row->property_id = in->property_id;
    row->guest_id = in->guest_id;
    snprintf(row->document_type, sizeof row->document_type, "%s", upload_doctype_name(t));
    snprintf(row->mime_type, sizeof row->mime_type, "%s", mime);
    row->size = in->size;
    snprintf(row->protocol, sizeof row->protocol, "%s", protocol);
    row->created_by = c->sub;
    row->expires_at = clock_unix_ms() + upload_srv_limits(us)->expiry_ms;
    return 0;
}

int handlers_uploads_available(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    if (h->uploads != NULL) return 1;
    http_respond_error(req, 503, "unavailable", "uploads are not available: see the server log");
    return 0;
}

void handlers_upload_error(int status, const store_upload_t *row, upload_err_t *err)
{
    switch (status) {
    case BH_ENOTFOUND:
        set_err(err, 404, "not_found", "no such upload (or guest)");
        break;
    case BH_EINVAL:
        set_err(err, 400, "invalid_field", "propertyId: guest %" PRId64 " is at another property",
                row->guest_id);
        break;
    case BH_EFORBIDDEN:
        set_err(err, 403, "property_forbidden", "no access to property %" PRId64, row->property_id);
        break;
    case BH_EAGAIN:
        set_err(err, 423, "upload_busy", "another connection is writing this upload; retry");
        break;
    case BH_ECONFLICT:
        set_err(err, 409, "already_completed", "upload %s is complete: document %" PRId64, row->id,
                row->document_id);
        break;
    case BH_ETOOBIG:
        set_err(err, 429, "too_many_uploads",
                "too many uploads in progress: finish or cancel one first");
        break;
    case UPLOAD_ECHECKSUM:
        set_err(err, 460, "checksum_mismatch",
                "the SHA-256 of the received bytes is not the declared sha256; nothing was kept");
        break;
    case UPLOAD_ETYPE:
        set_err(err, 415, "type_mismatch",
                "the file's bytes are not a type that %s (or its mimeType) allows; nothing was "
                "kept",
                row->document_type);
        break;
    case UPLOAD_ESIZE:
        set_err(err, 400, "size_mismatch", "the file's length is not the declared size");
        break;
    case BH_ESTORE:
        set_err(err, 503, "store_unavailable", "the store could not be reached");
        break;
    case UV_ECANCELED:
        set_err(err, 503, "unavailable", "the server is shutting down");
        break;
    default:
        set_err(err, 500, "io_error", "the upload could not be written: %s", err_str(status));
        break;
    }
}

/* ---- the WebSocket session ---------------------------------------------------------------------
 */

typedef struct wsu_s {
    ws_conn_t *ws;
    hctx_t *h;
    auth_claims_t claims; /* owned */
    upload_sess_t state;
    upload_t *up;       /* the writer while an upload is open */
    int closed;         /* on_close has run */
    int pending;        /* thread-pool operations in flight that call back here */
    int started;        /* a start or resume has come */
    int input_paused;   /* we stopped reading for the writer */
    int pause_flushing; /* a pause is being made durable */
    int resume_after;   /* a resume came during that */
    char conn_id[24];
    char cancel_id[STORE_UPLOAD_ID_LEN + 1];
} wsu_t;

static const ws_handler_t upload_ws_handler;
static _Atomic uint64_t next_conn;

static void sess_maybe_free(wsu_t *s)
{
    if (!s->closed || s->pending || s->up) return;
    auth_claims_dispose(&s->claims);
    free(s);
}

/* Sends msg (stolen). */
static void send_msg(wsu_t *s, json_t *msg)
{
    if (s->closed) {
        json_decref(msg);
        return;
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text == NULL) return;
    ws_send(s->ws, WS_OP_TEXT, text, strlen(text));
    free(text);
    /* A client that floods bad chunks without reading the errors must not grow our queue. */
    if (ws_conn_is_slow(s->ws) && !ws_conn_is_closing(s->ws))
        ws_conn_close(s->ws, UP_CLOSE_SLOW, "slow consumer: reconnect and resume");
}

static void send_error(wsu_t *s, const char *code, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void send_error(wsu_t *s, const char *code, json_t *extra, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *m = json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", msg);
    if (extra) json_object_update(m, extra);
    json_decref(extra);
    send_msg(s, m);
}

static void send_upload_error(wsu_t *s, const upload_err_t *e, const char *upload_id)
{
    send_error(s, e->code, upload_id ? json_pack("{s:s}", "uploadId", upload_id) : NULL, "%s",
               e->message);
}

static json_t *position(const upload_t *u)
{
    const upload_sm_t *m = upload_sm(u);
    return json_pack("{s:s,s:I,s:I,s:f}", "uploadId", upload_row(u)->id, "offset",
                     (json_int_t)m->durable, "size", (json_int_t)m->size, "percent",
                     upload_sm_percent(m));
}

static void on_progress(upload_t *u, uint64_t durable, void *ud)
{
    (void)durable;
    wsu_t *s = ud;
    json_t *m = position(u);
    json_object_set_new(m, "type", json_string("progress"));
    send_msg(s, m);
}

static void on_drain(upload_t *u, void *ud)
{
    (void)u;
    wsu_t *s = ud;
    if (s->input_paused && !s->closed) {
        s->input_paused = 0;
        ws_conn_resume(s->ws);
    }
}

static const upload_events_t writer_events = {on_progress, on_drain};

static void on_opened(upload_t *u, int status, const store_upload_t *row, void *ud)
{
    wsu_t *s = ud;
    s->pending--;
    if (s->closed) {
        if (u) upload_detach(u, NULL);
        sess_maybe_free(s);
        return;
    }
    if (status != 0) {
        upload_err_t e;
        handlers_upload_error(status, row, &e);
        s->state = UPLOAD_SESS_IDLE;
        /* Only a resume's id means something to the client; a failed start's id never existed. */
        send_upload_error(s, &e, status == BH_EAGAIN || status == BH_ECONFLICT ? row->id : NULL);
        return;
    }
    s->up = u;
    s->state = UPLOAD_SESS_ACTIVE;
    const upload_limits_t *lim = upload_srv_limits(s->h->uploads);
    char exp[32];
    clock_iso8601_ms(row->expires_at, exp, sizeof exp);
    json_t *m = position(u);
    json_object_set_new(m, "type", json_string("ready"));
    json_object_set_new(m, "chunkMax", json_integer((json_int_t)lim->chunk_max));
    json_object_set_new(m, "ackBytes", json_integer((json_int_t)lim->ack_bytes));
    json_object_set_new(m, "expiresAt", json_string(exp));
    send_msg(s, m);
    LOG_D("upload_opened", "conn=%s upload=%s offset=%" PRIu64, s->conn_id, row->id,
          upload_sm(u)->accepted);
}

static void on_finished(int status, const store_document_t *doc, void *ud)
{
    wsu_t *s = ud;
    s->pending--;
    s->state = UPLOAD_SESS_IDLE;
    if (!s->closed) {
        if (status == 0) {
            send_msg(s, json_pack("{s:s,s:s,s:o}", "type", "completed", "uploadId",
                                  doc->storage_key, "document", handlers_document_json(doc)));
        } else {
            upload_err_t e;
            store_upload_t row;
            memset(&row, 0, sizeof row);
            snprintf(row.document_type, sizeof row.document_type, "%s", doc->document_type);
            handlers_upload_error(status, &row, &e);
            send_error(s, e.code, NULL, "%s", e.message);
        }
        if (s->input_paused) {
            s->input_paused = 0;
            ws_conn_resume(s->ws);
        }
    }
    sess_maybe_free(s);
}

static void on_cancelled(upload_t *u, int status, void *ud)
{
    (void)u;
    wsu_t *s = ud;
    s->pending--;
    s->state = UPLOAD_SESS_IDLE;
    if (status == 0) {
        send_msg(s, json_pack("{s:s,s:s}", "type", "cancelled", "uploadId", s->cancel_id));
    } else {
        upload_err_t e;
        store_upload_t row;
        memset(&row, 0, sizeof row);
        handlers_upload_error(status, &row, &e);
        send_upload_error(s, &e, s->cancel_id);
    }
    if (s->input_paused && !s->closed) {
        s->input_paused = 0;
        ws_conn_resume(s->ws);
    }
    sess_maybe_free(s);
}

static void on_removed(int status, const store_upload_t *row, uint64_t offset, void *ud)
{
    (void)row;
    (void)offset;
    on_cancelled(NULL, status, ud);
}

static void on_pause_flushed(upload_t *u, int status, void *ud)
{
    wsu_t *s = ud;
    s->pause_flushing = 0;
    if (status != 0) {
        send_error(s, "io_error", NULL, "the upload could not be written: %s", err_str(status));
        return;
    }
    json_t *m = position(u);
    json_object_set_new(m, "type", json_string("paused"));
    send_msg(s, m);
    if (s->resume_after) {
        s->resume_after = 0;
        s->state = UPLOAD_SESS_ACTIVE;
        m = position(u);
        json_object_set_new(m, "type", json_string("resumed"));
        send_msg(s, m);
    }
}

/* ---- client messages ---- */

static int64_t int_field(json_t *msg, const char *name)
{
    json_t *j = json_object_get(msg, name);
    if (j == NULL || json_is_null(j)) return -1;
    if (!json_is_integer(j)) return -2;
    return json_integer_value(j);
}

static const char *str_field(json_t *msg, const char *name, int *bad)
{
    json_t *j = json_object_get(msg, name);
    if (j == NULL || json_is_null(j)) return NULL;
    if (!json_is_string(j)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(j);
}

static void do_start(wsu_t *s, json_t *msg)
{
    int bad = 0;
    upload_start_t in = {
        .document_type = str_field(msg, "documentType", &bad),
        .file_name = str_field(msg, "fileName", &bad),
        .mime_type = str_field(msg, "mimeType", &bad),
        .sha256 = str_field(msg, "sha256", &bad),
        .document_number = str_field(msg, "documentNumber", &bad),
        .guest_id = int_field(msg, "guestId"),
        .property_id = int_field(msg, "propertyId"),
        .size = int_field(msg, "size"),
    };
    if (bad) {
        send_error(s, "invalid_field", NULL,
                   "documentType, fileName, mimeType, sha256 and documentNumber are strings");
        return;
    }
    if (in.size == -1) {
        send_error(s, "invalid_field", NULL, "size: is required");
        return;
    }
    store_upload_t row;
    upload_err_t e;
    if (handlers_upload_prepare(s->h, &s->claims, &in, "ws", &row, &e) != 0) {
        send_error(s, e.code, NULL, "%s", e.message);
        return;
    }
    s->state = UPLOAD_SESS_OPENING;
    s->pending++;
    upload_open(s->h->uploads, &ws_conn_worker(s->ws)->loop, s->claims.org_id, NULL, &row,
                &s->claims, &writer_events, s, on_opened);
}

static int parse_upload_id(json_t *msg, char out[STORE_UPLOAD_ID_LEN + 1])
{
    int bad = 0;
    const char *id = str_field(msg, "uploadId", &bad);
    if (id == NULL || strlen(id) != STORE_UPLOAD_ID_LEN) return bad ? -1 : (id ? -1 : 0);
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return -1;
    memcpy(out, id, STORE_UPLOAD_ID_LEN + 1);
    return 1;
}

static void do_resume(wsu_t *s, json_t *msg)
{
    char id[STORE_UPLOAD_ID_LEN + 1];
    int has = parse_upload_id(msg, id);
    if (has < 0) {
        /* Not the shape of any upload id: the same answer as an unknown one. */
        send_error(s, "not_found", NULL, "no such upload");
        return;
    }
    if (s->state == UPLOAD_SESS_IDLE) {
        if (!has) {
            send_error(s, "no_upload", NULL, "resume needs the uploadId of the upload to resume");
            return;
        }
        s->started = 1;
        s->state = UPLOAD_SESS_OPENING;
        s->pending++;
        upload_open(s->h->uploads, &ws_conn_worker(s->ws)->loop, s->claims.org_id, id, NULL,
                    &s->claims, &writer_events, s, on_opened);
        return;
    }
    if (has && s->up && strcmp(id, upload_row(s->up)->id) != 0) {
        send_error(s, "upload_in_progress", NULL, "this connection is uploading %s",
                   upload_row(s->up)->id);
        return;
    }
    const char *err = upload_sess_check(s->state, UPLOAD_MSG_RESUME);
    if (err != NULL) {
        send_error(s, err, NULL, "resume is for a paused upload");
        return;
    }
    if (s->pause_flushing) {
        s->resume_after = 1; /* "paused" has not gone out yet: keep the order */
        return;
    }
    s->state = UPLOAD_SESS_ACTIVE;
    json_t *m = position(s->up);
    json_object_set_new(m, "type", json_string("resumed"));
    send_msg(s, m);
}

static void do_pause(wsu_t *s)
{
    const char *err = upload_sess_check(s->state, UPLOAD_MSG_PAUSE);
    if (err != NULL) {
        send_error(s, err, NULL, "pause is for an upload in progress");
        return;
    }
    s->state = UPLOAD_SESS_PAUSED;
    s->pause_flushing = 1;
    upload_flush(s->up, on_pause_flushed);
}

static void do_cancel(wsu_t *s, json_t *msg)
{
    char id[STORE_UPLOAD_ID_LEN + 1];
    int has = parse_upload_id(msg, id);
    if (s->state == UPLOAD_SESS_IDLE && has > 0) {
        snprintf(s->cancel_id, sizeof s->cancel_id, "%s", id);
        s->state = UPLOAD_SESS_CLOSING;
        s->pending++;
        upload_remove_by_id(s->h->uploads, &ws_conn_worker(s->ws)->loop, s->claims.org_id, id,
                            &s->claims, on_removed, s);
        return;
    }
    const char *err = upload_sess_check(s->state, UPLOAD_MSG_CANCEL);
    if (err != NULL) {
        send_error(s, err, NULL, "cancel needs an upload (or an uploadId)");
        return;
    }
    snprintf(s->cancel_id, sizeof s->cancel_id, "%s", upload_row(s->up)->id);
    s->state = UPLOAD_SESS_CLOSING;
    s->pending++;
    upload_t *u = s->up;
    s->up = NULL;
    s->pause_flushing = s->resume_after = 0;
    upload_cancel(u, on_cancelled);
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | p[i];
    return x;
}

/* A chunk is an 8-byte big-endian offset and its data: checks it against the session and the
 * upload from its first bytes (head[0..8)) and its length, before any data is taken. Returns 0,
 * or -1 after answering with the error. */
static int chunk_begin(wsu_t *s, const uint8_t *head, uint64_t len)
{
    const char *err = upload_sess_check(s->state, UPLOAD_MSG_CHUNK);
    if (err != NULL) {
        send_error(s, err, NULL,
                   strcmp(err, "paused") == 0 ? "the upload is paused: send resume first"
                   : strcmp(err, "no_upload") == 0
                       ? "a chunk needs an upload: send start or resume first"
                       : "wait for the answer to your last message");
        return -1;
    }
    if (len < 8) {
        send_error(s, "invalid_chunk", NULL,
                   "a chunk is an 8-byte big-endian offset followed by the data");
        return -1;
    }
    const upload_sm_t *m = upload_sm(s->up);
    int64_t off = (int64_t)be64(head);
    uint64_t n = len - 8;
    switch (upload_sm_check(m, off, n)) {
    case UPLOAD_CHUNK_OK:
        return 0;
    case UPLOAD_CHUNK_NEGATIVE:
        send_error(s, "invalid_offset",
                   json_pack("{s:I}", "expectedOffset", (json_int_t)m->accepted),
                   "offset %" PRId64 " is negative", off);
        return -1;
    case UPLOAD_CHUNK_MISMATCH:
        send_error(s, "offset_mismatch",
                   json_pack("{s:I}", "expectedOffset", (json_int_t)m->accepted),
                   "chunk at %" PRId64 ", but the upload continues at %" PRIu64, off, m->accepted);
        return -1;
    case UPLOAD_CHUNK_EMPTY:
        send_error(s, "invalid_chunk", NULL, "a chunk must carry data");
        return -1;
    default:
        send_error(s, "too_large", json_pack("{s:I}", "expectedOffset", (json_int_t)m->accepted),
                   "chunk ends at %" PRIu64 ", past the declared size %" PRIu64, (uint64_t)off + n,
                   m->size);
        return -1;
    }
}

/* Takes data of the chunk begun; returns 0, or -1 once the upload has failed (answered). */
static int chunk_data(wsu_t *s, const uint8_t *data, size_t n)
{
    if (n == 0) return 0;
    int rc = upload_write(s->up, data, n);
    if (rc == BH_EAGAIN) {
        if (!s->input_paused) ws_conn_pause(s->ws);
        s->input_paused = 1;
    } else if (rc != 0) {
        send_error(s, "io_error", NULL, "the upload could not be written: %s", err_str(rc));
        s->state = UPLOAD_SESS_IDLE;
        upload_t *u = s->up;
        s->up = NULL;
        upload_detach(u, NULL);
        return -1;
    }
    return 0;
}

/* After a chunk's last byte: the upload finishes once it has all its bytes. */
static void chunk_end(wsu_t *s)
{
    if (upload_sm_complete(upload_sm(s->up))) {
        s->state = UPLOAD_SESS_CLOSING;
        s->pending++;
        upload_t *u = s->up;
        s->up = NULL;
        upload_finish(u, on_finished);
    }
}

static void do_chunk(wsu_t *s, const uint8_t *data, size_t len)
{
    if (chunk_begin(s, data, len) == 0 && chunk_data(s, data + 8, len - 8) == 0) chunk_end(s);
}

/* A big chunk as it arrives (ws_handler_t.on_part): checked on its first part, then each part
 * goes to the upload's write buffer without being joined first. */
static int on_part(ws_conn_t *ws, uint8_t *data, size_t len, uint64_t off, uint64_t total)
{
    wsu_t *s = ws_conn_udata(ws);
    s->ws = ws;
    int last = off + len == total;
    if (off == 0) {
        if (chunk_begin(s, data, total) != 0) return -1;
        data += 8; /* WS_PART_FIRST covers the offset */
        len -= 8;
    }
    if (chunk_data(s, data, len) != 0) return -1;
    if (last) chunk_end(s);
    return 0;
}

static void on_message(ws_conn_t *ws, int opcode, uint8_t *data, size_t len)
{
    wsu_t *s = ws_conn_udata(ws);
    /* Messages sent together with the upgrade request arrive inside ws_accept(), before
     * handlers_upload_stream has stored s->ws (found by fuzz/fuzz_upload_ws). */
    s->ws = ws;
    if (opcode == WS_OP_BINARY) {
        do_chunk(s, data, len);
        return;
    }
    json_error_t jerr;
    json_t *msg = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (msg == NULL || !json_is_object(msg)) {
        json_decref(msg);
        send_error(s, "invalid_message", json_pack("{s:i}", "closeCode", UP_CLOSE_INVALID),
                   "expected a JSON object: %s", msg ? "not an object" : jerr.text);
        ws_conn_close(ws, UP_CLOSE_INVALID, "invalid_message");
        return;
    }
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (type == NULL && !s->started) type = "start";
    if (type == NULL) {
        send_error(s, "invalid_message", NULL, "\"type\" is required");
    } else if (strcmp(type, "start") == 0) {
        const char *err = upload_sess_check(s->state, UPLOAD_MSG_START);
        s->started = 1;
        if (err)
            send_error(s, err, NULL, "finish, pause or cancel the current upload first");
        else
            do_start(s, msg);
    } else if (strcmp(type, "resume") == 0) {
        do_resume(s, msg);
    } else if (strcmp(type, "pause") == 0) {
        do_pause(s);
    } else if (strcmp(type, "cancel") == 0) {
        do_cancel(s, msg);
    } else if (strcmp(type, "ping") == 0) {
        char ts[32];
        clock_iso8601(ts, sizeof ts);
        send_msg(s, json_pack("{s:s,s:s}", "type", "pong", "timestamp", ts));
    } else {
        send_error(s, "unknown_type", NULL, "unknown message type '%.32s'", type);
    }
    json_decref(msg);
}

static void on_timeout(ws_conn_t *ws)
{
    wsu_t *s = ws_conn_udata(ws);
    if (!s->started) {
        send_error(s, "start_timeout", json_pack("{s:i}", "closeCode", UP_CLOSE_START_TIMEOUT),
                   "no start or resume message in time");
        ws_conn_close(ws, UP_CLOSE_START_TIMEOUT, "start_timeout");
        return;
    }
    if (s->claims.exp && clock_unix_s() >= s->claims.exp + JWT_LEEWAY_S) {
        send_error(s, "token_expired", json_pack("{s:i}", "closeCode", UP_CLOSE_TOKEN_EXPIRED),
                   "the token expired: reconnect with a fresh one and resume");
        ws_conn_close(ws, UP_CLOSE_TOKEN_EXPIRED, "token_expired");
        return;
    }
    ws_conn_heartbeat(ws);
}

static void on_close(ws_conn_t *ws, int code)
{
    wsu_t *s = ws_conn_udata(ws);
    LOG_D("upload_stream_closed", "conn=%s code=%d", s->conn_id, code);
    s->closed = 1;
    if (s->up) {
        /* What was received is kept: a later connection resumes from the durable offset. */
        upload_t *u = s->up;
        s->up = NULL;
        upload_detach(u, NULL);
    }
    sess_maybe_free(s);
}

static const ws_handler_t upload_ws_handler = {on_message, on_timeout, on_close, on_part};

void handlers_upload_stream(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    if (!handlers_uploads_available(req)) return;
    if (handlers_ws_admit_ip(req) != 0) return;
    const rt_limits_t *rl = rt_server_limits(h->rt);
    if (ws_check_upgrade(req, &rl->ws) != 0) return;
    wsu_t *s = xcalloc(1, sizeof *s);
    if (handlers_authenticate_any(req, &s->claims) != 0 ||
        !handlers_require_role(req, &s->claims, UPLOAD_ROLES, "upload guest documents") ||
        handlers_ws_admit_user(req, &s->claims) != 0) {
        auth_claims_dispose(&s->claims);
        free(s);
        return;
    }
    s->h = h;
    s->state = UPLOAD_SESS_IDLE;
    snprintf(s->conn_id, sizeof s->conn_id, "u%d-%" PRIu64, http_req_worker(req)->index,
             ++next_conn);
    const upload_limits_t *ul = upload_srv_limits(h->uploads);
    ws_limits_t lim = rl->ws;
    lim.max_message = ul->chunk_max + 8;
    ws_conn_t *ws = ws_accept(req, &upload_ws_handler, s, &lim);
    if (ws == NULL) {
        auth_claims_dispose(&s->claims);
        free(s);
        return;
    }
    s->ws = ws;
    if (!s->started && !ws_conn_is_closing(ws)) ws_conn_set_deadline(ws, rl->handshake_timeout_ms);
}

/* ---- routes
 * ---------------------------------------------------------------------------------------- */

int handlers_register_uploads(http_router_t *r)
{
    static const struct {
        http_method_t method;
        const char *pattern;
        http_handler_cb handler;
        unsigned flags;
    } routes[] = {
        /* Before /v2/documents/{id}/content, which the same path would match. */
        {HTTP_M_GET, "/v2/documents/upload/stream", handlers_upload_stream, 0},
        {HTTP_M_OPTIONS, "/v2/documents/uploads", handlers_tus_options, 0},
        {HTTP_M_POST, "/v2/documents/uploads", handlers_tus_create, HTTP_ROUTE_STREAM_BODY},
        {HTTP_M_OPTIONS, "/v2/documents/uploads/{uploadId}", handlers_tus_options, 0},
        {HTTP_M_HEAD, "/v2/documents/uploads/{uploadId}", handlers_tus_head, 0},
        {HTTP_M_PATCH, "/v2/documents/uploads/{uploadId}", handlers_tus_patch,
         HTTP_ROUTE_STREAM_BODY},
        {HTTP_M_DELETE, "/v2/documents/uploads/{uploadId}", handlers_tus_delete, 0},
        {HTTP_M_GET, "/v2/documents", handlers_documents_list, 0},
        {HTTP_M_GET, "/v2/documents/{id}", handlers_documents_get, 0},
        {HTTP_M_GET, "/v2/documents/{id}/content", handlers_documents_content, 0},
        {HTTP_M_DELETE, "/v2/documents/{id}", handlers_documents_delete, 0},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = http_router_add_flags(r, routes[i].method, routes[i].pattern, routes[i].handler,
                                       routes[i].flags);
        if (rc != 0) return rc;
    }
    return 0;
}
