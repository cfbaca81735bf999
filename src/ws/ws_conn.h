/* ws_conn.h: a WebSocket connection (RFC 6455, server side) on a net_conn_t.
 *
 * Created by ws_accept() from an HTTP upgrade request. Delivers whole messages (fragments joined,
 * control frames answered, text checked for UTF-8) to its handler, and sends text messages and
 * shared, pre-encoded payloads. Everything runs on the owning worker's loop.
 *
 * Lifetime: the connection owns the ws_conn_t. handler->on_close is the last callback; after it
 * returns, the ws_conn_t is freed (later, from the loop) and must not be used. */
#ifndef BH_WS_WS_CONN_H
#define BH_WS_WS_CONN_H

#include "core/blob.h"
#include "http/http.h"
#include "net/conn.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ws_conn_s ws_conn_t;

typedef struct ws_handler_s {
    /* A complete text or binary message. data is writable, lent for the call only. */
    void (*on_message)(ws_conn_t *ws, int opcode, uint8_t *data, size_t len);
    /* ws->deadline passed (see ws_conn_set_deadline). */
    void (*on_timeout)(ws_conn_t *ws);
    /* The connection is gone: code is the close code received or sent (1006 when none). */
    void (*on_close)(ws_conn_t *ws, int code);
    /* Optional. A big binary message (one frame of at least WS_PART_MIN bytes) that has not all
     * arrived yet is handed over in parts as its bytes come in, rather than joined in a buffer
     * first: data[0..len) is the part (unmasked, writable, lent for the call), off its place in
     * the message and total the message's length. Parts come in order, the first holds at least
     * WS_PART_FIRST bytes, the last ends at total; a message that arrives whole still goes to
     * on_message. Return nonzero to drop the rest of the message. If the connection ends first,
     * on_close follows a partial message. */
    int (*on_part)(ws_conn_t *ws, uint8_t *data, size_t len, uint64_t off, uint64_t total);
} ws_handler_t;

#define WS_PART_MIN (64u * 1024)
#define WS_PART_FIRST 64u

typedef struct ws_limits_s {
    size_t max_message;       /* bytes; bigger: close 1009 */
    size_t max_outbuf;        /* bytes queued for the socket; beyond: the handler is told (slow) */
    unsigned heartbeat_ms;    /* ping after this much silence; close after twice as much */
    const char *allowed_origins; /* "*" or a comma-separated list; NULL/"" = same-host only */
    unsigned msg_rate;  /* messages a second a client may send (token bucket); 0: no limit */
    unsigned msg_burst; /* messages at once; beyond the bucket: close 1008 */
} ws_limits_t;

/* Validates an upgrade request (GET, Upgrade: websocket, Connection: upgrade, version 13, a
 * 16-byte key, an allowed Origin). On failure answers it (400, 403 origin_not_allowed, or 426
 * with Sec-WebSocket-Version: 13) and returns BH_EINVAL; else returns 0 without answering. */
int ws_check_upgrade(http_req_t *req, const ws_limits_t *lim);
/* 1 if the request's Origin is absent, names the request's own Host, or is listed in allowed
 * explicitly ("*" does not count). A cookie is sent by the browser whatever page opens the
 * socket, so a cookie credential is only honoured from such an Origin. */
int ws_origin_trusted(const http_req_t *req, const char *allowed);

/* Answers 101 and turns the request's connection into a WebSocket with handler h and user data
 * udata. Returns the new connection, or NULL if the client has gone (nothing to clean up). */
ws_conn_t *ws_accept(http_req_t *req, const ws_handler_t *h, void *udata,
                     const ws_limits_t *lim);

void *ws_conn_udata(const ws_conn_t *ws);
net_worker_t *ws_conn_worker(const ws_conn_t *ws);
const char *ws_conn_peer(const ws_conn_t *ws);

/* Sends one text (or binary) message; p is copied. Returns 0, UV_ECANCELED when closing. */
int ws_send(ws_conn_t *ws, int opcode, const void *p, size_t len);
/* Sends one text message made of prefix[0..prefix_len) (copied) followed by b's bytes (shared,
 * not copied). Returns 0 or UV_ECANCELED. */
int ws_send_shared(ws_conn_t *ws, const char *prefix, size_t prefix_len, blob_t *b);
/* Bytes waiting for the socket. */
size_t ws_conn_outbuf(const ws_conn_t *ws);
/* 1 once over lim->max_outbuf, or when the process is over BELLHOP_OUTBUF_BUDGET and this
 * connection holds more than its share: the caller should stop sending and close (slow consumer). */
int ws_conn_is_slow(const ws_conn_t *ws);

/* Starts the closing handshake with code and reason (<= 123 bytes), then ends the connection once
 * the close frame is out (or after a grace period). on_close follows. Idempotent. */
void ws_conn_close(ws_conn_t *ws, int code, const char *reason);
int ws_conn_is_closing(const ws_conn_t *ws);

/* Sets a deadline ms from now (0: back to the heartbeat). */
void ws_conn_set_deadline(ws_conn_t *ws, unsigned ms);
/* Heartbeat step for on_timeout handlers that have no deadline of their own: pings a silent peer,
 * and closes (1001, "ping timeout") one that stayed silent after a ping. */
void ws_conn_heartbeat(ws_conn_t *ws);
/* Stops / resumes reading (flow control for uploads). */
void ws_conn_pause(ws_conn_t *ws);
void ws_conn_resume(ws_conn_t *ws);

#endif
