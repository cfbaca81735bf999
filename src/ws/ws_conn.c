#include "ws/ws_conn.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "ws/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ws_conn_s {
    net_conn_t *c;
    const ws_handler_t *h;
    void *udata;
    ws_limits_t lim;
    buf_t in;     /* bytes of an incomplete frame */
    buf_t msg;    /* a fragmented message being joined */
    int msg_op;   /* its opcode; 0 when none in progress */
    int alive;    /* a frame arrived since the last heartbeat check */
    int pinged;   /* a ping is out and unanswered */
    int close_sent;
    int close_code;
    int closed; /* on_close delivered */
    /* A message being handed to h->on_part as it arrives (part_total > 0): no reassembly. */
    int part_skip; /* the handler dropped it: discard the rest */
    uint8_t part_mask[4];
    uint64_t part_off, part_total;
    net_bucket_t rate; /* messages from the client (lim.msg_rate) */
};

#define CLOSE_GRACE_MS 2000

/* ---- handshake ---------------------------------------------------------------------------------- */

static int header_has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (p && *p) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0) return 1;
        p = e;
    }
    return 0;
}

/* 1 if origin is one of the comma-separated entries of list ("*" is not an entry here). */
static int origin_listed(const char *origin, const char *list)
{
    size_t ol = strlen(origin);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if ((size_t)(e - p) == ol && strncasecmp(p, origin, ol) == 0) return 1;
        p = e;
    }
    return 0;
}

static int origin_same_host(const http_req_t *req, const char *origin)
{
    const char *host = http_req_header(req, "host");
    const char *sep = strstr(origin, "://");
    return host && sep && strcasecmp(sep + 3, host) == 0;
}

static int origin_ok(const http_req_t *req, const char *allowed)
{
    const char *origin = http_req_header(req, "origin");
    if (origin == NULL) return 1; /* not a browser: Origin protects browsers only */
    if (allowed && strcmp(allowed, "*") == 0) return 1;
    if (allowed && *allowed) return origin_listed(origin, allowed);
    return origin_same_host(req, origin);
}

int ws_origin_trusted(const http_req_t *req, const char *allowed)
{
    const char *origin = http_req_header(req, "origin");
    if (origin == NULL) return 1;
    return origin_same_host(req, origin) || origin_listed(origin, allowed);
}

/* 16 bytes in base64 are 22 significant characters and "==" (RFC 6455 4.1). */
static int valid_key(const char *key)
{
    if (key == NULL || strlen(key) != 24 || key[22] != '=' || key[23] != '=') return 0;
    for (int i = 0; i < 22; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

int ws_check_upgrade(http_req_t *req, const ws_limits_t *lim)
{
    const char *upgrade = http_req_header(req, "upgrade");
    const char *connection = http_req_header(req, "connection");
    const char *version = http_req_header(req, "sec-websocket-version");
    const char *key = http_req_header(req, "sec-websocket-key");
    if (upgrade == NULL || !header_has_token(upgrade, "websocket") || connection == NULL ||
        !header_has_token(connection, "upgrade")) {
        http_resp_header(req, "Upgrade", "websocket");
        http_respond_error(req, 426, "upgrade_required",
                           "this endpoint speaks WebSocket: send an Upgrade: websocket request");
        return BH_EINVAL;
    }
    if (http_req_method(req) != HTTP_M_GET) {
        http_respond_error(req, 400, "bad_upgrade", "a WebSocket upgrade must be a GET");
        return BH_EINVAL;
    }
    if (version == NULL || strcmp(version, "13") != 0) {
        http_resp_header(req, "Sec-WebSocket-Version", "13");
        http_respond_error(req, 426, "unsupported_websocket_version",
                           "only WebSocket version 13 is supported");
        return BH_EINVAL;
    }
    if (!valid_key(key)) {
        http_respond_error(req, 400, "bad_upgrade", "Sec-WebSocket-Key must be 16 bytes in base64");
        return BH_EINVAL;
    }
    if (!origin_ok(req, lim->allowed_origins)) {
        http_respond_error(req, 403, "origin_not_allowed", "origin %s is not allowed",
                           http_req_header(req, "origin"));
        return BH_EINVAL;
    }
    return 0;
}

/* ---- the connection ------------------------------------------------------------------------------ */

static void deliver_close(ws_conn_t *ws)
{
    if (ws->closed) return;
    ws->closed = 1;
    ws->h->on_close(ws, ws->close_code ? ws->close_code : 1006);
}

static void on_net_close(net_conn_t *c)
{
    deliver_close(c->data);
}

static void on_net_free(net_conn_t *c)
{
    ws_conn_t *ws = c->data;
    buf_dispose(&ws->in);
    buf_dispose(&ws->msg);
    free(ws);
    free(c); /* the storage HTTP allocated; see http_req_takeover */
}

static void on_net_eof(net_conn_t *c, int status)
{
    (void)status;
    net_conn_close(c, 0, 0);
}

static void on_net_timeout(net_conn_t *c)
{
    ws_conn_t *ws = c->data;
    ws->h->on_timeout(ws);
}

static int send_frame(ws_conn_t *ws, int opcode, const void *p, size_t len)
{
    char *out = xmalloc(len + 10);
    size_t h = ws_frame_header((uint8_t *)out, opcode, 1, len);
    if (len) memcpy(out + h, p, len);
    return net_conn_write_owned(ws->c, out, h + len);
}

/* Ends the connection now with a close frame (best effort) and no further reading. */
static void fail(ws_conn_t *ws, int code, const char *reason)
{
    LOG_D("ws_protocol_error", "peer=%s code=%d reason=%s", ws->c->peer, code, reason);
    ws_conn_close(ws, code, reason);
}

static void handle_control(ws_conn_t *ws, int op, uint8_t *p, size_t len)
{
    if (op == WS_OP_PING) {
        if (!ws->close_sent) send_frame(ws, WS_OP_PONG, p, len);
    } else if (op == WS_OP_PONG) {
        ws->pinged = 0;
    } else if (op == WS_OP_CLOSE) {
        int code = 1005;
        if (len == 1) {
            fail(ws, WS_CLOSE_PROTOCOL, "bad close frame");
            return;
        }
        if (len >= 2) {
            code = (p[0] << 8) | p[1];
            int valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                        (code >= 3000 && code <= 4999);
            if (!valid || !ws_utf8_valid(p + 2, len - 2)) {
                fail(ws, WS_CLOSE_PROTOCOL, "bad close frame");
                return;
            }
        }
        if (!ws->close_code) ws->close_code = code;
        /* Echo the code (RFC 6455 5.5.1), then finish. */
        ws_conn_close(ws, code == 1005 ? WS_CLOSE_NORMAL : code, "");
    }
}

/* A client over its message rate is closed (1008) rather than slowed: a well-behaved client never
 * gets near the limit, and a flooding one would otherwise cost every other socket on the loop. */
static int rate_ok(ws_conn_t *ws)
{
    if (ws->lim.msg_rate == 0) return 1;
    if (net_bucket_take(&ws->rate, ws->lim.msg_rate, ws->lim.msg_burst,
                        uv_now(&ws->c->worker->loop), NULL) == 0)
        return 1;
    LOG_I("ws_rate_limited", "peer=%s rate=%u burst=%u", ws->c->peer, ws->lim.msg_rate,
          ws->lim.msg_burst);
    net_limit_note(NET_LIMIT_CLOSED_MSG_RATE);
    /* The three streams share the error message shape: say why before the close frame. */
    char msg[192];
    int n = snprintf(msg, sizeof msg,
                     "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"more than %u "
                     "messages a second (burst %u): closing with 1008\"}",
                     ws->lim.msg_rate, ws->lim.msg_burst);
    ws_send(ws, WS_OP_TEXT, msg, (size_t)n);
    ws_conn_close(ws, WS_CLOSE_POLICY, "message rate exceeded");
    return 0;
}

static void handle_data(ws_conn_t *ws, const ws_frame_t *f, uint8_t *p)
{
    size_t len = (size_t)f->len;
    if (f->opcode != WS_OP_CONT) {
        if (ws->msg_op) {
            fail(ws, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
            return;
        }
        if (f->fin) { /* the common case: a whole message in one frame, no copy */
            if (f->opcode == WS_OP_TEXT && !ws_utf8_valid(p, len)) {
                fail(ws, WS_CLOSE_INVALID_DATA, "text is not UTF-8");
                return;
            }
            if (rate_ok(ws)) ws->h->on_message(ws, f->opcode, p, len);
            return;
        }
        ws->msg_op = f->opcode;
        buf_reset(&ws->msg);
    } else if (!ws->msg_op) {
        fail(ws, WS_CLOSE_PROTOCOL, "continuation without a message");
        return;
    }
    if (ws->msg.len + len > ws->lim.max_message) {
        fail(ws, WS_CLOSE_TOO_BIG, "message too big");
        return;
    }
    buf_append(&ws->msg, p, len);
    if (!f->fin) return;
    int op = ws->msg_op;
    ws->msg_op = 0;
    if (op == WS_OP_TEXT && !ws_utf8_valid((uint8_t *)ws->msg.data, ws->msg.len)) {
        fail(ws, WS_CLOSE_INVALID_DATA, "text is not UTF-8");
        return;
    }
    if (rate_ok(ws)) ws->h->on_message(ws, op, (uint8_t *)ws->msg.data, ws->msg.len);
    if (ws->msg.cap > 64 * 1024) buf_dispose(&ws->msg); /* do not keep a big buffer idle */
}

/* Hands p[0..n) of the message in progress to h->on_part. */
static void part(ws_conn_t *ws, uint8_t *p, size_t n)
{
    uint64_t off = ws->part_off;
    ws_unmask(p, n, ws->part_mask, (size_t)(off & 3));
    ws->part_off += n;
    ws->alive = 1;
    if (!ws->part_skip && ws->h->on_part(ws, p, n, off, ws->part_total) != 0) ws->part_skip = 1;
    if (ws->part_off == ws->part_total) {
        ws->part_total = ws->part_off = 0;
        ws->part_skip = 0;
    }
}

/* 1 if the incomplete frame f, with avail payload bytes at hand, is handed over in parts. */
static int streams(const ws_conn_t *ws, const ws_frame_t *f, size_t avail)
{
    return ws->h->on_part && f->opcode == WS_OP_BINARY && f->fin && !ws->msg_op &&
           f->len >= WS_PART_MIN && avail >= WS_PART_FIRST;
}

/* Parses and handles every complete frame in p[0..len); returns the bytes consumed. */
static size_t process(ws_conn_t *ws, uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len && !ws->close_sent) {
        ws_frame_t f;
        f.header_len = 0;
        long n = ws_frame_parse(p + off, len - off, 1, ws->lim.max_message, &f);
        if (n == 0) {
            size_t avail = len - off - f.header_len;
            if (f.header_len == 0 || !streams(ws, &f, avail)) break;
            /* The rest of the input is this message's first part. */
            if (!rate_ok(ws)) return len;
            memcpy(ws->part_mask, f.mask, 4);
            ws->part_total = f.len;
            part(ws, p + off + f.header_len, avail);
            return len;
        }
        if (n < 0) {
            fail(ws, (int)-n, n == -WS_CLOSE_TOO_BIG ? "message too big" : "protocol error");
            return len;
        }
        uint8_t *payload = p + off + f.header_len;
        ws_unmask(payload, (size_t)f.len, f.mask, 0);
        ws->alive = 1;
        if (f.opcode >= 0x8)
            handle_control(ws, f.opcode, payload, (size_t)f.len);
        else
            handle_data(ws, &f, payload);
        off += (size_t)n;
    }
    return ws->close_sent ? len : off;
}

static void on_net_data(net_conn_t *c, char *data, size_t len)
{
    ws_conn_t *ws = c->data;
    if (ws->close_sent) return; /* draining after our close frame */
    if (ws->part_total) { /* a message in parts: its bytes go straight to the handler */
        uint64_t left = ws->part_total - ws->part_off;
        size_t n = left < len ? (size_t)left : len;
        part(ws, (uint8_t *)data, n);
        data += n;
        len -= n;
        if (len == 0 || ws->close_sent) return;
    }
    if (ws->in.len == 0) {
        size_t n = process(ws, (uint8_t *)data, len);
        if (n < len && !ws->close_sent) buf_append(&ws->in, data + n, len - n);
        return;
    }
    buf_append(&ws->in, data, len);
    size_t n = process(ws, (uint8_t *)ws->in.data, ws->in.len);
    buf_consume(&ws->in, n);
    /* Give back a buffer bigger than this connection's messages need (idle streams stay small),
     * but keep one sized for its largest message: an upload reuses it for every chunk instead
     * of growing a fresh one each time. */
    if (ws->in.len == 0 && ws->in.cap > 64 * 1024 && ws->in.cap > 2 * ws->lim.max_message + 64)
        buf_dispose(&ws->in);
}

/* The server drains (SIGTERM): streams that did not close themselves first are told to go. */
static void on_net_drain(net_conn_t *c)
{
    ws_conn_close(c->data, WS_CLOSE_GOING_AWAY, "server draining: reconnect");
}

static const net_conn_proto_t ws_proto = {on_net_data, on_net_eof,  on_net_timeout,
                                          on_net_close, on_net_free, on_net_drain};

ws_conn_t *ws_accept(http_req_t *req, const ws_handler_t *h, void *udata, const ws_limits_t *lim)
{
    const char *key = http_req_header(req, "sec-websocket-key");
    char accept[32];
    ws_accept_key(key, strlen(key), accept);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    buf_t extra = BUF_INIT;
    net_conn_t *c = http_req_takeover(req, head, (size_t)n, 101, &extra);
    if (c == NULL) {
        buf_dispose(&extra);
        return NULL;
    }
    ws_conn_t *ws = xcalloc(1, sizeof *ws);
    ws->c = c;
    ws->h = h;
    ws->udata = udata;
    ws->lim = *lim;
    c->data = ws;
    c->proto = &ws_proto;
    ws_conn_set_deadline(ws, 0);
    if (extra.len) on_net_data(c, extra.data, extra.len);
    buf_dispose(&extra);
    if (!ws->close_sent) net_conn_read_start(c);
    return ws;
}

void *ws_conn_udata(const ws_conn_t *ws)
{
    return ws->udata;
}

net_worker_t *ws_conn_worker(const ws_conn_t *ws)
{
    return ws->c->worker;
}

const char *ws_conn_peer(const ws_conn_t *ws)
{
    return ws->c->peer;
}

int ws_send(ws_conn_t *ws, int opcode, const void *p, size_t len)
{
    if (ws->close_sent || net_conn_is_closing(ws->c)) return UV_ECANCELED;
    return send_frame(ws, opcode, p, len);
}

int ws_send_shared(ws_conn_t *ws, const char *prefix, size_t prefix_len, blob_t *b)
{
    if (ws->close_sent || net_conn_is_closing(ws->c)) return UV_ECANCELED;
    char head[10 + 128];
    if (prefix_len > 128) return BH_EINVAL;
    size_t h = ws_frame_header((uint8_t *)head, WS_OP_TEXT, 1, prefix_len + b->len);
    memcpy(head + h, prefix, prefix_len);
    return net_conn_write_blob(ws->c, head, h + prefix_len, b, 0, b->len);
}

size_t ws_conn_outbuf(const ws_conn_t *ws)
{
    return net_conn_write_queue_size(ws->c);
}

int ws_conn_is_slow(const ws_conn_t *ws)
{
    return net_conn_write_queue_size(ws->c) > ws->lim.max_outbuf || net_conn_over_budget(ws->c);
}

void ws_conn_close(ws_conn_t *ws, int code, const char *reason)
{
    if (ws->close_sent || net_conn_is_closing(ws->c)) return;
    uint8_t p[125];
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 123) rl = 123;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    if (rl) memcpy(p + 2, reason, rl);
    send_frame(ws, WS_OP_CLOSE, p, rl + 2);
    ws->close_sent = 1;
    if (!ws->close_code) ws->close_code = code;
    /* FIN after the close frame; the peer's close frame or EOF ends it, or the grace period. */
    net_conn_close(ws->c, 1, CLOSE_GRACE_MS);
}

int ws_conn_is_closing(const ws_conn_t *ws)
{
    return ws->close_sent || net_conn_is_closing(ws->c);
}

void ws_conn_set_deadline(ws_conn_t *ws, unsigned ms)
{
    if (ms == 0) ms = ws->lim.heartbeat_ms;
    ws->c->deadline = uv_now(&ws->c->worker->loop) + ms;
}

void ws_conn_heartbeat(ws_conn_t *ws)
{
    if (ws->alive) { /* heard from the peer this period: nothing to check */
        ws->alive = 0;
        ws->pinged = 0;
        ws_conn_set_deadline(ws, 0);
        return;
    }
    if (ws->pinged) {
        ws_conn_close(ws, WS_CLOSE_GOING_AWAY, "ping timeout");
        return;
    }
    ws->pinged = 1;
    send_frame(ws, WS_OP_PING, NULL, 0);
    ws_conn_set_deadline(ws, 0);
}

void ws_conn_pause(ws_conn_t *ws)
{
    net_conn_read_stop(ws->c);
}

void ws_conn_resume(ws_conn_t *ws)
{
    if (!ws->close_sent) net_conn_read_start(ws->c);
}
