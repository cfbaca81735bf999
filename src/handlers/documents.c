/* documents.c: guest documents, the records completed uploads become (docs/PROTOCOL.md).
 *
 *   GET    /v2/documents?guestId=&propertyId=&limit=&before=
 *   GET    /v2/documents/{id}
 *   GET    /v2/documents/{id}/content    the file, streamed
 *   DELETE /v2/documents/{id}            -> document_deleted (guest)
 *
 * Downloads are streamed: after the store lookup the connection is taken over from HTTP (the
 * answer's head says Connection: close), and the file goes out in FILE_CHUNK pieces, each read on
 * the thread pool and written once the previous one has left, so a download holds one piece in
 * memory whatever the file's size. */
#include "handlers/uploads.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "net/conn.h"
#include "upload/name.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_CHUNK (256 * 1024)
#define DL_IDLE_MS 60000 /* a download whose client takes no bytes for this long is dropped */

json_t *handlers_document_json(const store_document_t *d)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:I,s:s,s:o,s:I,s:o}", "id", (json_int_t)d->id,
                     "orgId", (json_int_t)d->org_id, "propertyId", (json_int_t)d->property_id,
                     "guestId", (json_int_t)d->guest_id, "documentType", d->document_type,
                     "fileName", d->file_name, "mimeType", d->mime_type, "size",
                     (json_int_t)d->size, "sha256", d->sha256, "documentNumber",
                     domain_json_text(d->document_number), "createdBy", (json_int_t)d->created_by,
                     "createdAt", domain_json_time(d->created_at));
}

void handlers_document_published(void *data, const store_document_t *doc)
{
    hctx_t *h = data;
    if (h->hub == NULL) return;
    json_t *j = handlers_document_json(doc);
    rt_event_in_t ev = {.org_id = doc->org_id,
                        .service = RT_SVC_GUEST,
                        .type = "document_uploaded",
                        .property_id = doc->property_id,
                        .data = j};
    int64_t offset;
    int rc = rt_hub_publish(h->hub, &ev, &offset);
    if (rc != 0)
        LOG_E("event_publish_failed", "service=guest type=document_uploaded org=%lld err=%s",
              (long long)doc->org_id, err_str(rc));
    json_decref(j);
}

typedef struct doc_op_s {
    domain_op_t op;
    store_document_t d;
    int64_t id;
    store_query_t q;
    int64_t guest_id;
} doc_op_t;

/* ---- GET /v2/documents
 * ------------------------------------------------------------------------------ */

static void list_work(store_t *st, domain_op_t *op)
{
    doc_op_t *o = (doc_op_t *)op;
    store_document_t *arr = NULL;
    size_t n = 0;
    int rc = store_document_list(st, &o->q, o->guest_id, &arr, &n);
    if (rc != 0) {
        domain_fail_store(op, rc, "documents", 0);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, handlers_document_json(&arr[i]));
    free(arr);
    domain_answer_list(op, items, o->q.limit - 1);
}

void handlers_documents_list(http_req_t *req)
{
    doc_op_t *o = domain_op_new(req, sizeof *o, UPLOAD_ROLES, "read guest documents");
    if (o == NULL) return;
    validate_t v;
    validate_init(&v, NULL);
    validate_query_id(&v, req, "guestId", &o->guest_id);
    if (!domain_list_query(&o->op, &v, &o->q, NULL, NULL)) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, list_work);
}

/* ---- GET /v2/documents/{id}
 * ----------------------------------------------------------------------- */

static int load(store_t *st, doc_op_t *o)
{
    int rc = store_document_get(st, o->op.claims.org_id, o->id, &o->d);
    if (rc != 0) {
        domain_fail_store(&o->op, rc, "document", o->id);
        return 0;
    }
    if (!domain_allows(&o->op, o->d.property_id)) {
        domain_fail_property(&o->op, o->d.property_id);
        return 0;
    }
    return 1;
}

static void get_work(store_t *st, domain_op_t *op)
{
    doc_op_t *o = (doc_op_t *)op;
    if (load(st, o))
        domain_answer(op, 200, json_pack("{s:o}", "document", handlers_document_json(&o->d)));
}

static void by_id(http_req_t *req, const char *what, domain_work_cb work)
{
    doc_op_t *o = domain_op_new(req, sizeof *o, UPLOAD_ROLES, what);
    if (o == NULL) return;
    if (domain_path_id(req, &o->id) != 0) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, work);
}

void handlers_documents_get(http_req_t *req)
{
    by_id(req, "read guest documents", get_work);
}

/* ---- DELETE /v2/documents/{id}
 * --------------------------------------------------------------------- */

static void delete_work(store_t *st, domain_op_t *op)
{
    doc_op_t *o = (doc_op_t *)op;
    if (!load(st, o)) return;
    store_document_t gone;
    int rc = store_document_delete(st, op->claims.org_id, o->id, &gone);
    if (rc != 0) {
        domain_fail_store(op, rc, "document", o->id);
        return;
    }
    /* The row is gone first: a crash now leaves an unreferenced file, never a dangling row. */
    char *path = upload_srv_document_path(op->h->uploads, gone.org_id, gone.storage_key);
    if (unlink(path) != 0 && errno != ENOENT)
        LOG_W("document_unlink_failed", "document=%lld err=%s", (long long)gone.id,
              strerror(errno));
    free(path);
    domain_publish_answer(op, 200, RT_SVC_GUEST, "document_deleted", gone.property_id, "document",
                          handlers_document_json(&gone));
}

void handlers_documents_delete(http_req_t *req)
{
    if (!handlers_uploads_available(req)) return;
    by_id(req, "delete guest documents", delete_work);
}

/* ---- GET /v2/documents/{id}/content
 * ------------------------------------------------------------------ */

typedef struct dl_s {
    doc_op_t o;
    int fd;
    int rc; /* of the open or the last read */
    uint64_t size, sent;
    net_conn_t *c; /* after the takeover */
    int gone;      /* the connection closed */
    int reading;   /* a read job is in flight */
    int writing;   /* a write is in flight */
    char *chunk;
    size_t chunk_len;
    uv_write_t wreq;
} dl_t;

static void content_work(store_t *st, domain_op_t *op)
{
    dl_t *d = (dl_t *)op;
    if (!load(st, &d->o)) return;
    char *path = upload_srv_document_path(op->h->uploads, d->o.d.org_id, d->o.d.storage_key);
    d->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    struct stat sb;
    if (d->fd < 0 || fstat(d->fd, &sb) != 0) {
        LOG_E("document_file_missing", "document=%lld err=%s", (long long)d->o.d.id,
              strerror(errno));
        domain_fail(op, 410, "gone", "the file of document %lld is missing", (long long)d->o.id);
        return;
    }
    d->size = (uint64_t)sb.st_size;
}

static void content_work_cb(store_t *st, void *data)
{
    content_work(st, data);
}

static void dl_free(dl_t *d)
{
    if (d->fd >= 0) close(d->fd);
    free(d->chunk);
    domain_op_free(&d->o.op);
}

static void dl_maybe_end(dl_t *d)
{
    if (d->reading || d->writing) return;
    if (d->c) {
        net_conn_t *c = d->c;
        d->c = NULL;
        c->data = NULL;
        /* Let the last bytes out, then FIN. */
        if (!d->gone) net_conn_close(c, 1, 2000);
        net_conn_unref(c);
    }
    dl_free(d);
}

static void dl_next(dl_t *d);

static void on_written(uv_write_t *w, int status)
{
    dl_t *d = w->data;
    d->writing = 0;
    if (d->c && !d->gone) d->c->deadline = uv_now(&d->c->worker->loop) + DL_IDLE_MS;
    if (status != 0) d->gone = 1;
    if (d->gone || d->sent >= d->size) {
        dl_maybe_end(d);
        return;
    }
    dl_next(d);
}

static void on_read_work(uv_work_t *w)
{
    dl_t *d = w->data;
    size_t want = d->size - d->sent < FILE_CHUNK ? (size_t)(d->size - d->sent) : FILE_CHUNK;
    ssize_t n;
    do
        n = pread(d->fd, d->chunk, want, (off_t)d->sent);
    while (n < 0 && errno == EINTR);
    d->rc = n > 0 ? 0 : (n == 0 ? UV_EIO : uv_translate_sys_error(errno));
    d->chunk_len = n > 0 ? (size_t)n : 0;
}

static void on_read_done(uv_work_t *w, int status)
{
    dl_t *d = w->data;
    free(w);
    d->reading = 0;
    if (status != 0 || d->rc != 0 || d->gone) {
        if (d->rc != 0) LOG_W("document_read_failed", "document=%lld", (long long)d->o.d.id);
        d->gone = 1;
        dl_maybe_end(d);
        return;
    }
    d->sent += d->chunk_len;
    uv_buf_t b = uv_buf_init(d->chunk, (unsigned)d->chunk_len);
    d->wreq.data = d;
    if (uv_write(&d->wreq, (uv_stream_t *)&d->c->tcp, &b, 1, on_written) != 0) {
        d->gone = 1;
        dl_maybe_end(d);
        return;
    }
    d->writing = 1;
}

static void dl_next(dl_t *d)
{
    uv_work_t *w = xmalloc(sizeof *w);
    w->data = d;
    d->reading = 1;
    if (uv_queue_work(&d->c->worker->loop, w, on_read_work, on_read_done) != 0) {
        free(w);
        d->reading = 0;
        d->gone = 1;
        dl_maybe_end(d);
    }
}

/* The taken-over connection's protocol: input is ignored, and closing ends the download. */
static void dl_on_data(net_conn_t *c, char *data, size_t len)
{
    (void)c;
    (void)data;
    (void)len;
}

static void dl_on_eof(net_conn_t *c, int status)
{
    (void)status;
    net_conn_close(c, 0, 0);
}

static void dl_on_timeout(net_conn_t *c)
{
    net_conn_close(c, 0, 0);
}

static void dl_on_close(net_conn_t *c)
{
    dl_t *d = c->data;
    if (d) d->gone = 1;
}

static void dl_on_free(net_conn_t *c)
{
    free(c); /* the storage HTTP allocated (see http_req_takeover) */
}

/* A download in progress is left to finish while the server drains (on_drain NULL). */
static const net_conn_proto_t dl_proto = {dl_on_data,  dl_on_eof,  dl_on_timeout,
                                          dl_on_close, dl_on_free, NULL};

static void content_done(void *data, int status)
{
    dl_t *d = data;
    http_req_t *req = d->o.op.req;
    if (status != 0 || d->o.op.code != NULL) {
        if (status != 0)
            http_respond_error(req, 503, "unavailable", "the server is shutting down");
        else
            http_respond_error(req, d->o.op.status, d->o.op.code, "%s", d->o.op.message);
        dl_free(d);
        return;
    }
    char disp[3 * UPLOAD_NAME_MAX + 128];
    upload_content_disposition(d->o.d.file_name, disp, sizeof disp);
    if (http_req_method(req) == HTTP_M_HEAD || d->size == 0) {
        http_resp_header(req, "Content-Disposition", disp);
        http_resp_header(req, "X-Content-Type-Options", "nosniff");
        http_resp_header(req, "Cache-Control", "private, no-store");
        /* HEAD: the head of the GET answer; the length is the file's, no body follows. */
        http_respond_owned(req, 200, d->o.d.mime_type, NULL, d->size);
        dl_free(d);
        return;
    }
    buf_t head = BUF_INIT;
    buf_appendf(&head,
                "HTTP/1.1 200 OK\r\nServer: bellhop\r\nContent-Type: %s\r\nContent-Length: %" PRIu64
                "\r\nContent-Disposition: %s\r\nX-Content-Type-Options: nosniff\r\n"
                "Cache-Control: private, no-store\r\nETag: \"%s\"\r\nConnection: close\r\n\r\n",
                d->o.d.mime_type, d->size, disp, d->o.d.sha256);
    buf_t extra = BUF_INIT;
    net_conn_t *c = http_req_takeover(req, head.data, head.len, 200, &extra);
    buf_dispose(&head);
    buf_dispose(&extra); /* pipelined requests after a download are not served */
    if (c == NULL) {
        dl_free(d);
        return;
    }
    c->proto = &dl_proto;
    c->data = d;
    c->deadline = uv_now(&c->worker->loop) + DL_IDLE_MS;
    net_conn_ref(c); /* held until the download ends (dl_maybe_end) */
    d->c = c;
    d->chunk = xmalloc(FILE_CHUNK);
    net_conn_read_start(c);
    dl_next(d);
}

void handlers_documents_content(http_req_t *req)
{
    if (!handlers_uploads_available(req)) return;
    dl_t *d = domain_op_new(req, sizeof *d, UPLOAD_ROLES, "read guest documents");
    if (d == NULL) return;
    d->fd = -1;
    if (domain_path_id(req, &d->o.id) != 0) {
        dl_free(d);
        return;
    }
    if (store_submit(d->o.op.h->store, http_req_loop(req), content_work_cb, content_done, d) != 0) {
        http_respond_error(req, 503, "unavailable", "the server is shutting down");
        dl_free(d);
    }
}
