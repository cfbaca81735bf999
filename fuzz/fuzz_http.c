/* fuzz_http: raw bytes on one HTTP/1.1 connection, through the server's own request path.
 *
 * http1.c (http-parser glue, limits, pipelining, Expect, CORS and OPTIONS, streamed bodies,
 * error answers, timeouts), the router with {param} segments, url.c (query, cookie and path
 * decoding) and the request accessors handlers use, on a real worker loop (harness.h). The
 * routes mirror the shapes of routes.c; their handlers read everything a real handler reads and
 * answer now, later (a pending answer resumes pipelined input, or is orphaned by a close), or
 * refuse a streamed body. Input: byte 0 picks the read size, the rest is the byte stream.
 * Limits are small so that every 413/414/431 path is reachable. */
#include "harness.h"

#include "core/err.h"
#include "ws/ws_conn.h"

#include <stdlib.h>
#include <string.h>

static fz_net_t net;
static http_router_t *router;
static http_req_t *pending[4]; /* requests answered after the input, or after the close */
static size_t n_pending;

static void read_all(http_req_t *req)
{
    char out[64];
    int64_t id;
    (void)http_req_method_str(req);
    (void)http_req_path(req);
    (void)http_req_query(req);
    (void)http_req_param(req, "id");
    (void)http_req_param(req, "name");
    (void)http_req_param_id(req, "id", &id);
    (void)http_req_query_get(req, "since", out, sizeof out);
    (void)http_req_query_get(req, "limit", out, 4);
    (void)http_req_cookie_get(req, "bellhop_token", out, sizeof out);
    (void)http_req_header(req, "authorization");
    (void)http_req_header(req, "content-type");
    (void)http_req_content_length(req);
    size_t n;
    (void)http_req_body(req, &n);
}

static void on_item(http_req_t *req)
{
    read_all(req);
    if (http_req_method(req) == HTTP_M_POST || http_req_method(req) == HTTP_M_PUT) {
        json_t *j = http_req_json_object(req); /* answers 400/415 itself */
        if (j == NULL) return;
        http_respond_json(req, 201, j);
        return;
    }
    http_respond_error(req, 404, "not_found", "item %s", http_req_param(req, "id"));
}

static void on_health(http_req_t *req)
{
    read_all(req);
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond(req, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

static void on_later(http_req_t *req)
{
    read_all(req);
    if (n_pending < sizeof pending / sizeof pending[0]) pending[n_pending++] = req;
    else http_respond(req, 204, NULL, NULL, 0);
}

/* ---- a streamed body, as the tus PATCH route takes it -------------------------------------- */

static size_t stream_bytes;

static void on_body_data(http_req_t *req, const char *data, size_t len, void *ctx)
{
    (void)ctx;
    (void)data;
    stream_bytes += len;
}

static void on_body_end(http_req_t *req, int status, void *ctx)
{
    (void)ctx;
    if (status != 0) http_respond_error(req, 408, "request_timeout", "body: %d", status);
    else http_respond(req, 204, NULL, NULL, 0);
}

static void on_stream(http_req_t *req)
{
    read_all(req);
    const char *off = http_req_header(req, "upload-offset");
    if (off && strcmp(off, "refuse") == 0) {
        http_respond_error(req, 409, "offset_mismatch", "refused before the body");
        return;
    }
    stream_bytes = 0;
    http_req_body_stream(req, on_body_data, on_body_end, NULL);
}

/* ---- an upgrade, as the three streams take it ---------------------------------------------- */

static void ws_on_message(ws_conn_t *ws, int opcode, uint8_t *data, size_t len)
{
    if (len >= 5 && memcmp(data, "close", 5) == 0) ws_conn_close(ws, 1000, "bye");
    else ws_send(ws, opcode, data, len);
}

static void ws_on_timeout(ws_conn_t *ws)
{
    ws_conn_heartbeat(ws);
}

static void ws_on_close(ws_conn_t *ws, int code)
{
    (void)ws;
    (void)code;
}

static const ws_handler_t echo = {ws_on_message, ws_on_timeout, ws_on_close, NULL};

static void on_ws(http_req_t *req)
{
    ws_limits_t lim = {.max_message = 4096, .max_outbuf = 65536, .heartbeat_ms = 1000,
                       .allowed_origins = "https://app.example"};
    if (ws_check_upgrade(req, &lim) != 0) return;
    ws_accept(req, &echo, NULL, &lim);
}

static void on_fallback(http_req_t *req)
{
    read_all(req);
    http_respond(req, 200, "text/plain", "static", 6);
}

static void setup(void)
{
    router = http_router_new();
    http_router_add(router, HTTP_M_GET, "/health", on_health);
    http_router_add(router, HTTP_M_GET, "/v2/items/{id}", on_item);
    http_router_add(router, HTTP_M_POST, "/v2/items/{id}", on_item);
    http_router_add(router, HTTP_M_PUT, "/v2/items/{id}/tags/{name}", on_item);
    http_router_add(router, HTTP_M_DELETE, "/v2/items/{id}", on_later);
    http_router_add(router, HTTP_M_GET, "/v1/realtime/{name}/poll", on_later);
    http_router_add_flags(router, HTTP_M_PATCH, "/v2/documents/uploads/{id}", on_stream,
                          HTTP_ROUTE_STREAM_BODY);
    http_router_add_flags(router, HTTP_M_POST, "/v2/documents/uploads/", on_stream,
                          HTTP_ROUTE_STREAM_BODY);
    http_router_add(router, HTTP_M_GET, "/v2/realtime/stream", on_ws);
    http_limits_t lim = {.max_header_bytes = 2048, .max_headers = 16, .max_body = 4096,
                         .header_timeout_ms = 1000, .body_timeout_ms = 1000,
                         .idle_timeout_ms = 1000, .linger_ms = 10};
    fz_net_init(&net, router, on_fallback, &lim, "https://app.example, https://b.example", NULL);
}

int fuzz_http_one(const uint8_t *data, size_t size);
int fuzz_http_one(const uint8_t *data, size_t size)
{
    if (router == NULL) setup();
    if (size < 1) return 0;
    net_conn_t *c = fz_net_open(&net);
    fz_net_feed(&net, c, data + 1, size - 1, fz_chunk_from(data[0]));
    /* Half of the held requests are answered while the client is still there (resuming any
     * pipelined bytes), the rest after the close (orphaned answers are dropped). */
    size_t keep = n_pending / 2;
    for (size_t i = keep; i < n_pending; i++) http_respond(pending[i], 200, "text/plain", "x", 1);
    n_pending = keep;
    fz_net_pump(&net);
    fz_net_end(&net, c);
    for (size_t i = 0; i < n_pending; i++) http_respond(pending[i], 200, "text/plain", "y", 1);
    n_pending = 0;
    fz_net_pump(&net);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_http_one(data, size);
}
#endif
