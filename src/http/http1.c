/* http1.c: the HTTP/1.1 protocol handler on a net_conn_t, on top of http-parser.
 *
 * One request at a time per connection: when a message is complete the parser is paused, reading
 * stops, and the request goes to its handler. The answer (now or later) resumes parsing of any
 * pipelined bytes already buffered, so answers always leave in request order (RFC 9112 9.3.2).
 *
 * Limits are enforced inside the parser callbacks (header bytes and count, body bytes) and by the
 * connection deadline (header, body and keep-alive idle timeouts), so a slow or hostile client can
 * hold neither memory nor a connection beyond what the configuration allows. */
#include "http/http.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "http/router.h"
#include "http/url.h"
#include "net/conn.h"

#include <ctype.h>
#include <http_parser.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_server_s {
    const http_router_t *router;
    http_handler_cb fallback;
    http_limits_t limits;
    http_cors_t cors;
    http_log_cb log_cb;
    void *app;
};

typedef struct http_conn_s http_conn_t;

typedef enum {
    CONN_IDLE = 0,  /* between requests */
    CONN_HEADERS,   /* receiving the request line and headers */
    CONN_BODY,      /* receiving the body */
    CONN_HANDLING,  /* the handler has it */
} conn_state_t;

struct http_req_s {
    http_conn_t *conn; /* NULL once the client has gone (orphaned) */
    http_server_t *server;
    net_worker_t *worker;
    http_method_t method;
    /* Request line and headers as NUL-terminated strings in hbuf; offsets while it can still
     * grow, pointers once the headers are complete. */
    buf_t hbuf;
    size_t url_off, url_len;
    size_t n_headers;
    size_t *hoff; /* 2 * max_headers offsets: name, value */
    const char **hname, **hvalue;
    int last_was_value;
    const char *path, *query;
    buf_t body;
    http_route_match_t match;
    char *params[ROUTER_MAX_PARAMS]; /* decoded, lazily */
    buf_t resp_headers;
    void *data;
    uint64_t start_ns;
    char id[32];
    int answered;
    int http_minor;
    int keep_alive;
    int route_rc; /* of the route match made when the headers completed */
    long long content_length;
    /* streamed bodies (HTTP_ROUTE_STREAM_BODY) */
    int streaming;
    int expect_continue;
    int body_paused;
    int body_ended;
    http_body_data_cb body_data;
    http_body_end_cb body_end;
    void *body_ctx;
};

struct http_conn_s {
    net_conn_t super;
    http_server_t *server;
    http_parser parser;
    conn_state_t state;
    http_req_t *req;      /* the request being received or handled */
    buf_t in;             /* unparsed input (pipelined bytes, or a read's tail) */
    int error_status;     /* set by a callback that rejected the request */
    const char *error_code;
    const char *error_message;
    int dispatching;      /* inside a handler call: answers must not re-enter process() */
    int upgraded;         /* handed over to another protocol: HTTP is done with it */
    int message_done;
    int headers_dispatch; /* a streaming route's handler is due now, before the body */
    uint64_t n_requests;
};

static http_parser_settings parser_settings;
static _Thread_local uint64_t request_seq; /* per worker thread */

static void send_error_and_close(http_conn_t *hc, int status, const char *code, const char *msg);

/* ---- helpers ---------------------------------------------------------------------------------- */

static http_method_t map_method(unsigned m)
{
    switch (m) {
    case HTTP_GET: return HTTP_M_GET;
    case HTTP_HEAD: return HTTP_M_HEAD;
    case HTTP_POST: return HTTP_M_POST;
    case HTTP_PUT: return HTTP_M_PUT;
    case HTTP_PATCH: return HTTP_M_PATCH;
    case HTTP_DELETE: return HTTP_M_DELETE;
    case HTTP_OPTIONS: return HTTP_M_OPTIONS;
    default: return HTTP_M_OTHER;
    }
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 460: return "Checksum Mismatch";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static http_req_t *req_new(http_conn_t *hc)
{
    http_req_t *r = xcalloc(1, sizeof *r);
    r->conn = hc;
    r->server = hc->server;
    r->worker = hc->super.worker;
    r->hoff = xmalloc(2 * (hc->server->limits.max_headers + 1) * sizeof *r->hoff);
    r->start_ns = clock_mono_ns();
    hc->n_requests++;
    snprintf(r->id, sizeof r->id, "w%d-%" PRIu64, hc->super.worker->index, ++request_seq);
    net_conn_ref(&hc->super);
    return r;
}

static void req_free(http_req_t *r)
{
    buf_dispose(&r->hbuf);
    buf_dispose(&r->body);
    buf_dispose(&r->resp_headers);
    for (size_t i = 0; i < ROUTER_MAX_PARAMS; i++) free(r->params[i]);
    free(r->hoff);
    free(r->hname);
    free(r->hvalue);
    if (r->conn) net_conn_unref(&r->conn->super);
    free(r);
}

/* Limits: a callback that fails records why and returns non-zero, which stops the parser. */
static int reject(http_conn_t *hc, int status, const char *code, const char *msg)
{
    hc->error_status = status;
    hc->error_code = code;
    hc->error_message = msg;
    /* -1, not 1: from on_headers_complete, 1 would mean "no body", not "stop". */
    return -1;
}

/* ---- parser callbacks ------------------------------------------------------------------------- */

static int on_message_begin(http_parser *p)
{
    http_conn_t *hc = p->data;
    if (hc->req == NULL) hc->req = req_new(hc);
    hc->state = CONN_HEADERS;
    hc->super.deadline = uv_now(&hc->super.worker->loop) + hc->server->limits.header_timeout_ms;
    return 0;
}

static int header_room(http_conn_t *hc, size_t more)
{
    return hc->req->hbuf.len + more <= hc->server->limits.max_header_bytes;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    http_conn_t *hc = p->data;
    http_req_t *r = hc->req;
    if (!header_room(hc, len)) return reject(hc, 414, "uri_too_long", "request target too long");
    buf_append(&r->hbuf, at, len);
    r->url_len += len;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    http_conn_t *hc = p->data;
    http_req_t *r = hc->req;
    if (!header_room(hc, len + 2))
        return reject(hc, 431, "headers_too_large", "request headers too large");
    if (r->n_headers == 0 && r->hbuf.len == r->url_len) buf_appendc(&r->hbuf, '\0'); /* end URL */
    if (r->last_was_value || r->n_headers == 0) {
        if (r->n_headers > 0) buf_appendc(&r->hbuf, '\0'); /* end the previous value */
        if (r->n_headers == hc->server->limits.max_headers)
            return reject(hc, 431, "too_many_headers", "too many request headers");
        r->hoff[2 * r->n_headers] = r->hbuf.len;
        r->hoff[2 * r->n_headers + 1] = 0;
        r->n_headers++;
        r->last_was_value = 0;
    }
    buf_append(&r->hbuf, at, len);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    http_conn_t *hc = p->data;
    http_req_t *r = hc->req;
    if (!header_room(hc, len + 2))
        return reject(hc, 431, "headers_too_large", "request headers too large");
    if (!r->last_was_value) {
        buf_appendc(&r->hbuf, '\0'); /* end the name */
        r->hoff[2 * (r->n_headers - 1) + 1] = r->hbuf.len;
        r->last_was_value = 1;
    }
    buf_append(&r->hbuf, at, len);
    return 0;
}

/* Turns the offsets into pointers and splits the URL, once the header block can no longer grow. */
static int finish_headers(http_conn_t *hc)
{
    http_req_t *r = hc->req;
    if (r->n_headers == 0) buf_appendc(&r->hbuf, '\0'); /* end the URL */
    else if (r->last_was_value) buf_appendc(&r->hbuf, '\0');
    else {
        buf_appendc(&r->hbuf, '\0'); /* a name without a value (parser allows empty value) */
        r->hoff[2 * (r->n_headers - 1) + 1] = r->hbuf.len - 1;
    }
    r->hname = xmalloc((r->n_headers + 1) * sizeof *r->hname);
    r->hvalue = xmalloc((r->n_headers + 1) * sizeof *r->hvalue);
    for (size_t i = 0; i < r->n_headers; i++) {
        r->hname[i] = r->hbuf.data + r->hoff[2 * i];
        size_t vo = r->hoff[2 * i + 1];
        r->hvalue[i] = vo ? r->hbuf.data + vo : "";
        /* Trim trailing whitespace of the value (leading is skipped by the parser). */
        char *v = r->hbuf.data + (vo ? vo : 0);
        if (vo) {
            size_t l = strlen(v);
            while (l && (v[l - 1] == ' ' || v[l - 1] == '\t')) v[--l] = '\0';
        }
    }
    char *url = r->hbuf.data + r->url_off;
    if (url[0] != '/') {
        /* Absolute-form ("http://host/path") is for proxies; "*" only for server-wide OPTIONS. */
        if (!(url[0] == '*' && url[1] == '\0'))
            return reject(hc, 400, "bad_request_target", "request target must start with '/'");
    }
    char *q = strchr(url, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    } else {
        r->query = "";
    }
    char *frag = strchr(r->query, '#');
    if (frag) *frag = '\0';
    r->path = url;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    http_conn_t *hc = p->data;
    http_req_t *r = hc->req;
    const http_limits_t *lim = &hc->server->limits;
    r->method = map_method(p->method);
    r->http_minor = p->http_minor;
    if (p->http_major != 1)
        return reject(hc, 505, "http_version", "only HTTP/1.x is supported");
    if (finish_headers(hc) != 0) return -1;
    hc->state = CONN_BODY;
    hc->super.deadline = uv_now(&hc->super.worker->loop) + lim->body_timeout_ms;
    r->content_length = (p->flags & F_CONTENTLENGTH) ? (long long)p->content_length : -1;
    r->route_rc = BH_ENOTFOUND;
    if (r->server->router)
        r->route_rc = http_router_match(r->server->router, r->method, r->path, strlen(r->path),
                                        &r->match);
    r->streaming = r->route_rc == 0 && (r->match.flags & HTTP_ROUTE_STREAM_BODY);
    if (!r->streaming && (p->flags & F_CONTENTLENGTH) && p->content_length > lim->max_body)
        return reject(hc, 413, "body_too_large", "request body exceeds the configured limit");
    const char *expect = http_req_header(r, "expect");
    if (expect != NULL) {
        if (strcasecmp(expect, "100-continue") != 0)
            return reject(hc, 417, "expectation_failed", "unsupported Expect header");
        r->expect_continue = p->http_minor >= 1;
    }
    if (r->streaming) {
        /* The handler decides on the body before any of it is read. */
        hc->headers_dispatch = 1;
        http_parser_pause(p, 1);
    } else if (r->expect_continue) {
        net_conn_write_owned(&hc->super, xstrdup("HTTP/1.1 100 Continue\r\n\r\n"), 25);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    http_conn_t *hc = p->data;
    http_req_t *r = hc->req;
    if (r->streaming) {
        if (!r->body_paused)
            hc->super.deadline =
                uv_now(&hc->super.worker->loop) + hc->server->limits.body_timeout_ms;
        /* Never pause the parser here: paused inside a body callback, http-parser cannot later
         * finish a message whose last byte it has already seen. Pausing stops the socket
         * instead, so the handler gets at most what is already buffered. */
        /* A resume from inside the callback must not re-enter the parser mid-parse. */
        int was = hc->dispatching;
        hc->dispatching = 1;
        r->body_data(r, at, len, r->body_ctx);
        hc->dispatching = was;
        return 0;
    }
    if (r->body.len + len > hc->server->limits.max_body)
        return reject(hc, 413, "body_too_large", "request body exceeds the configured limit");
    buf_append(&r->body, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_conn_t *hc = p->data;
    hc->message_done = 1;
    hc->req->keep_alive = http_should_keep_alive(p);
    /* Stop here: the bytes after this message wait until this request has its answer. */
    http_parser_pause(p, 1);
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

static int origin_allowed(const http_server_t *s, const char *origin)
{
    const char *list = s->cors.origins;
    if (list == NULL || *list == '\0') return 0;
    if (strcmp(list, "*") == 0) return 1;
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if ((size_t)(e - p) == olen && strncasecmp(p, origin, olen) == 0) return 1;
        p = e;
    }
    return 0;
}

static void add_cors_headers(http_req_t *r)
{
    const char *origin = http_req_header(r, "origin");
    if (origin == NULL || !origin_allowed(r->server, origin)) return;
    buf_appendf(&r->resp_headers, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin);
    /* Credentials (cookies) only for an explicit allow-list: reflecting any origin with
     * credentials would let every site act as the user. */
    if (strcmp(r->server->cors.origins, "*") != 0)
        buf_appends(&r->resp_headers, "Access-Control-Allow-Credentials: true\r\n");
}

static int valid_header_list(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("-_, ", *s))) return 0;
    return 1;
}

static void handle_options(http_req_t *r)
{
    const char *origin = http_req_header(r, "origin");
    const char *want = http_req_header(r, "access-control-request-method");
    char allow[128];
    http_route_match_t m;
    unsigned allowed = 0;
    int rc = http_router_match(r->server->router, HTTP_M_OPTIONS, r->path, strlen(r->path), &m);
    if (rc == BH_EDECLINED) allowed = m.allowed;
    if (allowed == 0 && r->server->fallback) allowed = (1u << HTTP_M_GET) | (1u << HTTP_M_HEAD);
    http_router_allow_str(allowed, allow, sizeof allow);
    if (origin == NULL || want == NULL) {
        http_resp_header(r, "Allow", allow);
        http_respond(r, 204, NULL, NULL, 0);
        return;
    }
    if (!origin_allowed(r->server, origin)) {
        http_respond_error(r, 403, "origin_not_allowed", "origin %s is not allowed", origin);
        return;
    }
    const char *want_headers = http_req_header(r, "access-control-request-headers");
    if (want_headers && !valid_header_list(want_headers)) want_headers = NULL;
    buf_appendf(&r->resp_headers,
                "Access-Control-Allow-Methods: %s\r\n"
                "Access-Control-Allow-Headers: %s\r\n"
                "Access-Control-Max-Age: %u\r\n",
                allow, want_headers ? want_headers : "Authorization, Content-Type",
                r->server->cors.max_age_s);
    http_respond(r, 204, NULL, NULL, 0);
}

static void dispatch(http_conn_t *hc)
{
    http_req_t *r = hc->req;
    hc->state = CONN_HANDLING;
    hc->super.deadline = 0; /* the handler may take as long as its store work takes */
    add_cors_headers(r);
    hc->dispatching = 1;
    http_route_match_t *m = &r->match;
    int rc = r->route_rc;
    if (rc == 0) {
        m->handler(r);
    } else if (r->method == HTTP_M_OPTIONS) {
        handle_options(r);
    } else if (rc == BH_EDECLINED) {
        char allow[128];
        http_router_allow_str(m->allowed, allow, sizeof allow);
        http_resp_header(r, "Allow", allow);
        http_respond_error(r, 405, "method_not_allowed", "%s is not allowed on %s",
                           http_req_method_str(r), r->path);
    } else if ((r->method == HTTP_M_GET || r->method == HTTP_M_HEAD) && r->server->fallback) {
        r->server->fallback(r);
    } else {
        http_respond_error(r, 404, "not_found", "no route for %s %s", http_req_method_str(r),
                           r->path);
    }
    hc->dispatching = 0;
}

/* ---- the input loop ---------------------------------------------------------------------------- */

static void reset_for_next(http_conn_t *hc)
{
    hc->req = NULL;
    hc->message_done = 0;
    hc->state = CONN_IDLE;
    hc->super.deadline = uv_now(&hc->super.worker->loop) + hc->server->limits.idle_timeout_ms;
    /* A parser in an error state asserts when (un)paused; such a connection is closing anyway. */
    if (HTTP_PARSER_ERRNO(&hc->parser) == HPE_PAUSED) http_parser_pause(&hc->parser, 0);
}

/* 0 while a streaming handler has paused its body: the socket stays unread. */
static int wants_input(const http_conn_t *hc)
{
    return !(hc->req && hc->req->streaming && hc->req->body_paused);
}

/* Feeds data to the parser; returns the bytes consumed. */
static size_t feed(http_conn_t *hc, const char *data, size_t len)
{
    size_t n = http_parser_execute(&hc->parser, &parser_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&hc->parser);
    if (e == HPE_OK || e == HPE_PAUSED) return n;
    if (hc->error_status == 0) {
        hc->error_status = 400;
        hc->error_code = "bad_request";
        hc->error_message = http_errno_description(e);
    }
    return len;
}

/* Parses what is buffered and dispatches complete requests, until it must wait for an answer or
 * for more bytes. data/len, if given, is a fresh read to parse before buffering its tail. */
static void process_input(http_conn_t *hc, const char *data, size_t len)
{
    for (;;) {
        if (net_conn_is_closing(&hc->super)) return;
        if (hc->req && hc->state == CONN_HANDLING) {
            /* Waiting for the handler: keep fresh bytes but read no more until it answers. */
            if (len) buf_append(&hc->in, data, len);
            net_conn_read_stop(&hc->super);
            return;
        }
        size_t n;
        if (hc->in.len) {
            if (len) {
                buf_append(&hc->in, data, len);
                len = 0;
            }
            n = feed(hc, hc->in.data, hc->in.len);
            buf_consume(&hc->in, n);
        } else if (len) {
            n = feed(hc, data, len);
            data += n;
            len -= n;
        } else {
            if (wants_input(hc)) net_conn_read_start(&hc->super);
            return;
        }
        if (hc->error_status) {
            send_error_and_close(hc, hc->error_status, hc->error_code, hc->error_message);
            return;
        }
        if (hc->headers_dispatch) {
            /* A streaming route: its handler runs now; the body waits in hc->in until it calls
             * http_req_body_stream(), which lets the loop go on. */
            hc->headers_dispatch = 0;
            if (len) buf_append(&hc->in, data, len);
            len = 0;
            dispatch(hc);
            if (hc->req == NULL || hc->upgraded || !hc->req->body_data) return;
            continue;
        }
        if (hc->message_done && hc->req && hc->req->streaming) {
            http_req_t *r = hc->req;
            hc->state = CONN_HANDLING;
            hc->super.deadline = 0;
            if (len) buf_append(&hc->in, data, len);
            len = 0;
            if (!r->body_ended) {
                r->body_ended = 1;
                hc->dispatching = 1;
                r->body_end(r, 0, r->body_ctx);
                hc->dispatching = 0;
            }
            continue; /* answered already (loop goes on) or waiting for the answer */
        }
        if (!hc->message_done) {
            /* Everything fed was consumed without finishing a message; wait for more. */
            if (len) buf_append(&hc->in, data, len);
            len = 0;
            if (hc->in.len == 0) {
                if (wants_input(hc)) net_conn_read_start(&hc->super);
                return;
            }
            continue;
        }
        if (hc->parser.upgrade) {
            /* Bytes after an upgrade request belong to the new protocol: keep them for a
             * takeover; if the handler answers with plain HTTP instead, the connection ends. */
            hc->req->keep_alive = 0;
            if (len) buf_append(&hc->in, data, len);
            len = 0;
        }
        dispatch(hc);
        if (hc->upgraded) return;
    }
}

static void on_data(net_conn_t *c, char *data, size_t len)
{
    http_conn_t *hc = (http_conn_t *)c;
    process_input(hc, data, len);
}

static void on_eof(net_conn_t *c, int status)
{
    (void)status;
    net_conn_close(c, 0, 0);
}

static void on_close(net_conn_t *c)
{
    http_conn_t *hc = (http_conn_t *)c;
    http_req_t *r = hc->req;
    if (r == NULL) return;
    hc->req = NULL;
    if (r->streaming && r->body_data && !r->body_ended && !r->answered) {
        /* Mid-body: tell the handler, then orphan the request; it must still answer. */
        r->body_ended = 1;
        r->conn = NULL;
        net_conn_unref(c);
        r->body_end(r, UV_ECONNRESET, r->body_ctx);
        return;
    }
    if ((hc->state == CONN_HANDLING || r->streaming) && !r->answered) {
        /* The handler still has it: orphan it, and its answer will be dropped. */
        r->conn = NULL;
        net_conn_unref(c);
    } else {
        req_free(r); /* half-received: nobody will ever answer it */
    }
}

static void on_timeout(net_conn_t *c)
{
    http_conn_t *hc = (http_conn_t *)c;
    http_req_t *r = hc->req;
    if (hc->state == CONN_BODY && r && r->streaming && r->body_data && !r->body_ended) {
        /* The handler owns the request: it answers (408 or otherwise), then we close. */
        r->keep_alive = 0;
        r->body_ended = 1;
        hc->state = CONN_HANDLING;
        hc->dispatching = 1;
        r->body_end(r, UV_ETIMEDOUT, r->body_ctx);
        hc->dispatching = 0;
        if (hc->req == NULL) net_conn_close(c, 1, hc->server->limits.linger_ms);
        return;
    }
    if (hc->state == CONN_HEADERS || hc->state == CONN_BODY) {
        LOG_D("request_timeout", "peer=%s state=%s", c->peer,
              hc->state == CONN_HEADERS ? "headers" : "body");
        send_error_and_close(hc, 408, "request_timeout",
                             hc->state == CONN_HEADERS ? "request headers took too long"
                                                       : "request body took too long");
        return;
    }
    net_conn_close(c, 0, 0); /* idle keep-alive connection */
}

static void on_free(net_conn_t *c)
{
    http_conn_t *hc = (http_conn_t *)c;
    buf_dispose(&hc->in);
    free(hc);
}

/* The server drains: an idle keep-alive connection closes now; one with a request in progress
 * closes after its answer (http_respond_owned sends Connection: close while draining). */
static void on_drain(net_conn_t *c)
{
    http_conn_t *hc = (http_conn_t *)c;
    if (hc->req == NULL && hc->in.len == 0 && hc->state == CONN_IDLE)
        net_conn_close(c, 1, hc->server->limits.linger_ms);
}

static const net_conn_proto_t http1_proto = {on_data,  on_eof,  on_timeout,
                                             on_close, on_free, on_drain};

http_server_t *http_server_new(const http_router_t *router, http_handler_cb fallback,
                               const http_limits_t *limits, const http_cors_t *cors,
                               http_log_cb log_cb, void *app)
{
    http_server_t *s = xcalloc(1, sizeof *s);
    s->router = router;
    s->fallback = fallback;
    s->limits = *limits;
    if (s->limits.max_headers == 0) s->limits.max_headers = 1;
    s->cors = *cors;
    s->log_cb = log_cb;
    s->app = app;
    http_parser_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
    return s;
}

void http_server_free(http_server_t *s)
{
    free(s);
}

void http_server_on_accept(net_worker_t *w)
{
    http_server_t *s = w->data;
    http_conn_t *hc = xcalloc(1, sizeof *hc);
    hc->server = s;
    if (net_conn_accept(w, &hc->super, &http1_proto) != 0) return;
    http_parser_init(&hc->parser, HTTP_REQUEST);
    hc->parser.data = hc;
    /* A fresh connection gets the header timeout to send its first request (slowloris). */
    hc->super.deadline = uv_now(&w->loop) + s->limits.header_timeout_ms;
    if (net_conn_read_start(&hc->super) != 0) net_conn_close(&hc->super, 0, 0);
}

/* ---- request accessors -------------------------------------------------------------------------- */

http_method_t http_req_method(const http_req_t *r)
{
    return r->method;
}

const char *http_req_method_str(const http_req_t *r)
{
    static const char *const names[] = {"OTHER", "GET",   "HEAD",   "POST",
                                        "PUT",   "PATCH", "DELETE", "OPTIONS"};
    return names[r->method];
}

const char *http_req_path(const http_req_t *r)
{
    return r->path;
}

const char *http_req_query(const http_req_t *r)
{
    return r->query;
}

const char *http_req_header(const http_req_t *r, const char *name)
{
    if (r->hname == NULL) return NULL;
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->hname[i], name) == 0) return r->hvalue[i];
    return NULL;
}

const char *http_req_param(const http_req_t *r, const char *name)
{
    http_req_t *m = (http_req_t *)r; /* decoding is a cache, not a visible change */
    for (size_t i = 0; i < r->match.n_params; i++) {
        if (strcmp(r->match.names[i], name) != 0) continue;
        if (m->params[i] == NULL) {
            size_t n = r->match.value_lens[i] + 1;
            char *out = xmalloc(n);
            if (url_decode(r->match.values[i], r->match.value_lens[i], out, n, 0) < 0) {
                free(out);
                return NULL;
            }
            m->params[i] = out;
        }
        return m->params[i];
    }
    return NULL;
}

int http_req_param_id(const http_req_t *r, const char *name, int64_t *out)
{
    const char *v = http_req_param(r, name);
    if (v == NULL || *v == '\0' || strlen(v) > 18) return BH_EINVAL;
    int64_t x = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9') return BH_EINVAL;
        x = x * 10 + (*p - '0');
    }
    if (x <= 0) return BH_EINVAL;
    *out = x;
    return 0;
}

long http_req_query_get(const http_req_t *r, const char *name, char *out, size_t n)
{
    return url_query_get(r->query, name, out, n);
}

long http_req_cookie_get(const http_req_t *r, const char *name, char *out, size_t n)
{
    const char *h = http_req_header(r, "cookie");
    if (h == NULL) return BH_ENOTFOUND;
    return url_cookie_get(h, name, out, n);
}

const char *http_req_body(const http_req_t *r, size_t *len)
{
    if (len) *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

json_t *http_req_json_object(http_req_t *r)
{
    const char *ct = http_req_header(r, "content-type");
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        http_respond_error(r, 415, "unsupported_media_type",
                           "expected Content-Type: application/json");
        return NULL;
    }
    if (r->body.len == 0) {
        http_respond_error(r, 400, "invalid_json", "request body is empty; expected a JSON object");
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) {
        http_respond_error(r, 400, "invalid_json", "malformed JSON at line %d column %d: %s",
                           err.line, err.column, err.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_respond_error(r, 400, "invalid_json", "expected a JSON object");
        return NULL;
    }
    return j;
}

long long http_req_content_length(const http_req_t *r)
{
    return r->content_length;
}

void http_req_body_stream(http_req_t *r, http_body_data_cb data_cb, http_body_end_cb end_cb,
                          void *ctx)
{
    r->body_data = data_cb;
    r->body_end = end_cb;
    r->body_ctx = ctx;
    http_conn_t *hc = r->conn;
    if (hc == NULL) { /* the client is gone already */
        r->body_ended = 1;
        end_cb(r, UV_ECONNRESET, ctx);
        return;
    }
    if (r->expect_continue)
        net_conn_write_owned(&hc->super, xstrdup("HTTP/1.1 100 Continue\r\n\r\n"), 25);
    hc->state = CONN_BODY;
    hc->super.deadline = uv_now(&hc->super.worker->loop) + hc->server->limits.body_timeout_ms;
    if (HTTP_PARSER_ERRNO(&hc->parser) == HPE_PAUSED) http_parser_pause(&hc->parser, 0);
    if (!hc->dispatching) process_input(hc, NULL, 0);
}

void http_req_body_pause(http_req_t *r)
{
    r->body_paused = 1;
    if (r->conn) {
        r->conn->super.deadline = 0; /* our own wait does not count against the client */
        net_conn_read_stop(&r->conn->super);
    }
}

void http_req_body_resume(http_req_t *r)
{
    if (!r->body_paused) return;
    r->body_paused = 0;
    http_conn_t *hc = r->conn;
    if (hc == NULL || r->body_ended) return;
    hc->super.deadline = uv_now(&hc->super.worker->loop) + hc->server->limits.body_timeout_ms;
    net_conn_read_start(&hc->super);
    if (!hc->dispatching) process_input(hc, NULL, 0);
}

const char *http_req_peer(const http_req_t *r)
{
    return r->conn ? r->conn->super.peer : "-";
}

const char *http_req_id(const http_req_t *r)
{
    return r->id;
}

void *http_req_app(const http_req_t *r)
{
    return r->server->app;
}

uv_loop_t *http_req_loop(const http_req_t *r)
{
    return &r->worker->loop;
}

struct net_conn_s *http_req_conn(const http_req_t *r)
{
    return r->conn ? &r->conn->super : NULL;
}

net_worker_t *http_req_worker(const http_req_t *r)
{
    return r->worker;
}

void http_req_set_data(http_req_t *r, void *data)
{
    r->data = data;
}

void *http_req_data(const http_req_t *r)
{
    return r->data;
}

int http_req_is_orphaned(const http_req_t *r)
{
    return r->conn == NULL;
}

/* ---- answers ------------------------------------------------------------------------------------ */

void http_resp_header(http_req_t *r, const char *name, const char *value)
{
    /* CR/LF in a value would split the response: drop such headers rather than trust callers. */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return;
    buf_appendf(&r->resp_headers, "%s: %s\r\n", name, value);
}

/* Called once the answer is queued (or dropped): logs, frees, and lets the connection go on. */
static void finish(http_req_t *r, int status, size_t body_len)
{
    double ms = (double)(clock_mono_ns() - r->start_ns) / 1e6;
    if (r->server->log_cb) r->server->log_cb(r, status, body_len, ms);
    http_conn_t *hc = r->conn;
    if (hc == NULL) {
        req_free(r); /* orphaned: nobody to answer */
        return;
    }
    int keep = r->keep_alive;
    req_free(r);
    reset_for_next(hc);
    if (!keep) {
        net_conn_close(&hc->super, 1, hc->server->limits.linger_ms);
        return;
    }
    if (!hc->dispatching) process_input(hc, NULL, 0);
}

void http_respond_owned(http_req_t *r, int status, const char *content_type, char *body,
                        size_t len)
{
    if (r->answered) {
        LOG_E("double_answer", "req=%s status=%d", r->id, status);
        free(body);
        return;
    }
    r->answered = 1;
    http_conn_t *hc = r->conn;
    if (hc == NULL || net_conn_is_closing(&hc->super)) {
        free(body);
        finish(r, status, len);
        return;
    }
    /* Errors that leave the request stream in doubt end the connection. */
    if (status == 400 || status == 408 || status == 413 || status == 414 || status == 431 ||
        status == 505 || hc->error_status || (r->streaming && !r->body_ended) ||
        net_worker_is_draining(r->worker))
        r->keep_alive = 0;
    int no_body = r->method == HTTP_M_HEAD || status == 204 || status == 304 || status < 200;
    buf_t out;
    buf_init(&out);
    buf_reserve(&out, 256 + r->resp_headers.len + (no_body ? 0 : len));
    buf_appendf(&out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: bellhop\r\n", status,
                http_status_text(status), net_worker_http_date(r->worker));
    if (content_type) buf_appendf(&out, "Content-Type: %s\r\n", content_type);
    if (status != 204 && status != 304) buf_appendf(&out, "Content-Length: %zu\r\n", len);
    if (!r->keep_alive)
        buf_appends(&out, "Connection: close\r\n");
    else if (r->http_minor == 0)
        buf_appends(&out, "Connection: keep-alive\r\n");
    buf_append(&out, r->resp_headers.data, r->resp_headers.len);
    buf_append(&out, "\r\n", 2);
    if (!no_body && len) buf_append(&out, body, len);
    free(body);
    size_t outlen;
    char *data = buf_steal(&out, &outlen);
    net_conn_write_owned(&hc->super, data, outlen);
    finish(r, status, len);
}

void http_respond(http_req_t *r, int status, const char *content_type, const void *body,
                  size_t len)
{
    char *copy = xmalloc(len + 1);
    if (len) memcpy(copy, body, len);
    http_respond_owned(r, status, content_type, copy, len);
}

void http_respond_json(http_req_t *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (s == NULL) {
        static const char fallback[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"could not encode the answer\"}}";
        http_respond(r, 500, "application/json", fallback, sizeof fallback - 1);
        return;
    }
    http_respond_owned(r, status, "application/json", s, strlen(s));
}

void http_respond_error(http_req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_respond_json(r, status,
                      json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

net_conn_t *http_req_takeover(http_req_t *r, const char *head, size_t len, int status,
                              buf_t *extra)
{
    http_conn_t *hc = r->conn;
    r->answered = 1;
    if (hc == NULL || net_conn_is_closing(&hc->super)) {
        finish(r, status, 0);
        return NULL;
    }
    net_conn_write_owned(&hc->super, xstrndup(head, len), len);
    double ms = (double)(clock_mono_ns() - r->start_ns) / 1e6;
    if (r->server->log_cb) r->server->log_cb(r, status, 0, ms);
    hc->upgraded = 1;
    hc->req = NULL;
    hc->state = CONN_IDLE;
    hc->super.deadline = 0;
    buf_append(extra, hc->in.data, hc->in.len);
    buf_dispose(&hc->in);
    req_free(r);
    return &hc->super;
}

static void send_error_and_close(http_conn_t *hc, int status, const char *code, const char *msg)
{
    http_req_t *r = hc->req;
    LOG_D("bad_request", "peer=%s status=%d code=%s", hc->super.peer, status, code);
    if (r == NULL) {
        hc->req = r = req_new(hc);
    }
    if (r->hname == NULL) {
        /* The headers never completed: there is nothing to route, only an answer to give. */
        r->path = "-";
        r->query = "";
    }
    r->keep_alive = 0;
    hc->state = CONN_HANDLING;
    hc->super.deadline = 0;
    hc->dispatching = 1;
    http_respond_error(r, status, code, "%s", msg);
    hc->dispatching = 0;
}
