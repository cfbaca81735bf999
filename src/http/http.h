/* http.h: HTTP/1.1 requests and responses, as handlers see them.
 *
 * A handler gets an http_req_t and must answer it exactly once with one of the http_respond*
 * calls, either before returning or later from the same worker's loop (after store work, say).
 * Until it answers, the connection reads nothing more, so pipelined requests are answered in
 * order. If the client goes away first, the request stays valid and the answer is dropped.
 *
 * Strings returned by the accessors are borrowed from the request and live until it is answered. */
#ifndef BH_HTTP_HTTP_H
#define BH_HTTP_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_req_s http_req_t;
typedef struct http_server_s http_server_t;
typedef struct net_worker_s net_worker_t;

typedef enum {
    HTTP_M_OTHER = 0,
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_PATCH,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
} http_method_t;

typedef void (*http_handler_cb)(http_req_t *req);

/* Limits and timeouts for every connection of a server; all configurable (see app/config.h). */
typedef struct http_limits_s {
    size_t max_header_bytes; /* request line + headers */
    size_t max_headers;      /* header count */
    size_t max_body;         /* decoded body bytes (Content-Length or chunked) */
    unsigned header_timeout_ms; /* first byte of a request to the end of its headers */
    unsigned body_timeout_ms;   /* end of headers to the end of the body */
    unsigned idle_timeout_ms;   /* keep-alive: between requests */
    unsigned linger_ms;         /* after an error answer, how long to drain the client's input */
} http_limits_t;

/* CORS: origins is a comma-separated allow-list of exact origins, or "*" for any. */
typedef struct http_cors_s {
    const char *origins;
    unsigned max_age_s;
} http_cors_t;

/* Called once per answered request, after the answer is queued (for access logs, metrics). */
typedef void (*http_log_cb)(http_req_t *req, int status, size_t body_len, double duration_ms);

/* ---- server ---------------------------------------------------------------------------------- */

/* Creates a server context shared (read-only) by every worker. router may be NULL (everything
 * 404); fallback, if not NULL, gets GET/HEAD requests that no route matched (static files).
 * Strings and the router are borrowed and must outlive the server. Returns a new object. */
typedef struct http_router_s http_router_t;
http_server_t *http_server_new(const http_router_t *router, http_handler_cb fallback,
                               const http_limits_t *limits, const http_cors_t *cors,
                               http_log_cb log_cb, void *app);
void http_server_free(http_server_t *s);
/* net_accept_cb for workers whose data is an http_server_t (see net/worker.h). */
void http_server_on_accept(net_worker_t *w);

/* ---- request accessors ----------------------------------------------------------------------- */

http_method_t http_req_method(const http_req_t *req);
const char *http_req_method_str(const http_req_t *req);
/* Path without the query, still percent-encoded, e.g. "/v2/documents/12". */
const char *http_req_path(const http_req_t *req);
/* Raw query string without '?', or "" */
const char *http_req_query(const http_req_t *req);
/* First header with that name (case-insensitive), or NULL. */
const char *http_req_header(const http_req_t *req, const char *name);
/* The value of a {name} path parameter of the matched route, percent-decoded, or NULL. */
const char *http_req_param(const http_req_t *req, const char *name);
/* Parses a path parameter as a positive int64. Returns 0 or BH_EINVAL. */
int http_req_param_id(const http_req_t *req, const char *name, int64_t *out);
/* Copies the percent-decoded value of query parameter name into out (size n). Returns its length,
 * BH_ENOTFOUND if absent, BH_ETOOBIG if it does not fit. */
long http_req_query_get(const http_req_t *req, const char *name, char *out, size_t n);
/* Value of cookie name, copied into out (size n). Same returns as http_req_query_get. */
long http_req_cookie_get(const http_req_t *req, const char *name, char *out, size_t n);
const char *http_req_body(const http_req_t *req, size_t *len);
/* Parses the body as a JSON object. On failure answers 400 (or 415 for a non-JSON content type)
 * itself and returns NULL; the handler must then just return. Returns a new reference. */
json_t *http_req_json_object(http_req_t *req);
const char *http_req_peer(const http_req_t *req);
/* A per-request id for logs ("w0-123"). */
const char *http_req_id(const http_req_t *req);
void *http_req_app(const http_req_t *req);
uv_loop_t *http_req_loop(const http_req_t *req);
net_worker_t *http_req_worker(const http_req_t *req);
/* The request's connection (borrowed), or NULL once the client has gone. For connection-wide
 * accounting (net_conn_limit_*), not for writing. */
struct net_conn_s *http_req_conn(const http_req_t *req);
/* A slot for the handler's own state across asynchronous steps (borrowed both ways). */
void http_req_set_data(http_req_t *req, void *data);
void *http_req_data(const http_req_t *req);
/* 1 if the client has gone; the answer will be dropped, but it must still be given. */
int http_req_is_orphaned(const http_req_t *req);

/* ---- answers (each ends the request; exactly one per request) -------------------------------- */

/* Adds a response header before the answer; name and value are copied. */
void http_resp_header(http_req_t *req, const char *name, const char *value);
/* Answers with body[0..len) (copied) and the given content type (may be NULL for no body). */
void http_respond(http_req_t *req, int status, const char *content_type, const void *body,
                  size_t len);
/* Answers with a JSON document, stealing the reference to body on every path. */
void http_respond_json(http_req_t *req, int status, json_t *body);
/* Answers {"error":{"code":code,"message":<formatted>}}. */
void http_respond_error(http_req_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers with a body the caller already allocated (stolen, free()d on every path). */
void http_respond_owned(http_req_t *req, int status, const char *content_type, char *body,
                        size_t len);

/* ---- streamed request bodies (routes with HTTP_ROUTE_STREAM_BODY) ---------------------------
 *
 * The handler of such a route runs when the headers are complete. It either answers at once
 * (refusing the body; the connection then closes) or calls http_req_body_stream(), now or later.
 * on_data gets the decoded body (chunked or not) piece by piece, lent for the call; it may call
 * http_req_body_pause() to stop reading the socket (e.g. while a disk write is pending) and, from
 * a later callback, http_req_body_resume(). Bytes already received still arrive while paused: at
 * most one read (64 KiB) plus what was buffered, so the handler must take them. on_data must
 * never answer the request; to cut a body short, pause and answer from a later callback (the
 * connection then closes). on_end runs once: status 0 when the body is complete, or a negative
 * code when the client went away or timed out mid-body (then the request is orphaned: answer it
 * anyway, the answer is dropped). If the client has already gone when http_req_body_stream() is
 * called, on_end runs before it returns, with UV_ECONNRESET: call it last. The request is
 * answered after on_end. */
typedef void (*http_body_data_cb)(http_req_t *req, const char *data, size_t len, void *ctx);
typedef void (*http_body_end_cb)(http_req_t *req, int status, void *ctx);
void http_req_body_stream(http_req_t *req, http_body_data_cb on_data, http_body_end_cb on_end,
                          void *ctx);
void http_req_body_pause(http_req_t *req);
void http_req_body_resume(http_req_t *req);
/* Content-Length of the request, or -1 when absent (chunked or no body). */
long long http_req_content_length(const http_req_t *req);

/* ---- protocol switch (WebSocket) ------------------------------------------------------------- */

typedef struct buf_s buf_t;
typedef struct net_conn_s net_conn_t;
/* Ends req by writing head[0..len) (a complete response head such as a 101, copied) and hands
 * the connection over: HTTP never touches it again. Bytes the client sent after the request are
 * appended to *extra for the new protocol. The caller then sets c->proto and c->data and starts
 * reading; the new protocol's on_free must free its own state and then free(c), the
 * connection's storage. Returns NULL if the client has already gone (req is finished anyway). */
net_conn_t *http_req_takeover(http_req_t *req, const char *head, size_t len, int status,
                              buf_t *extra);

/* Reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
