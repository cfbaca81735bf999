/* conn.h: a TCP connection on a worker's loop, the base every protocol handler embeds.
 *
 * A protocol embeds net_conn_t as its first member ("super") and supplies a net_conn_proto_t.
 * The base owns the socket, the read path, writes, a deadline checked by the worker's sweep timer,
 * and the object's lifetime:
 *   - refs counts users of the object (the socket itself holds one until its handle closes;
 *     an asynchronous request in flight holds another). proto->on_free runs when it reaches 0,
 *     never inside a protocol callback of this connection.
 *   - net_conn_close() is the one way to end a connection; it is idempotent. */
#ifndef BH_NET_CONN_H
#define BH_NET_CONN_H

#include "core/queue.h"
#include "net/limit.h"
#include "net/worker.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct net_conn_proto_s {
    /* Bytes arrived. data is lent (and writable, e.g. to unmask in place) for the duration of the
     * call only. */
    void (*on_data)(net_conn_t *c, char *data, size_t len);
    /* The peer closed its side (status UV_EOF) or reading failed. Usually: net_conn_close(). */
    void (*on_eof)(net_conn_t *c, int status);
    /* c->deadline passed. */
    void (*on_timeout)(net_conn_t *c);
    /* The socket is closed (after net_conn_close or a worker stop): drop what refers to c. */
    void (*on_close)(net_conn_t *c);
    /* The last reference went away: free the protocol object. */
    void (*on_free)(net_conn_t *c);
    /* Optional: the worker is draining (SIGTERM). End the connection as soon as it is between
     * requests or messages: idle ones now, busy ones after their answer. NULL: left alone until
     * the drain ends or the worker stops. */
    void (*on_drain)(net_conn_t *c);
} net_conn_proto_t;

struct net_conn_s {
    uv_tcp_t tcp; /* tcp.data points back to this struct */
    const net_conn_proto_t *proto;
    net_worker_t *worker;
    uint64_t deadline; /* monotonic ms; 0: none */
    char peer[64];     /* "ip:port" of the remote end */
    void *data;        /* the current protocol's state, when it is not the container itself */

    /* private */
    queue_t _node; /* in worker->_conns */
    unsigned _refs;
    unsigned _pending_writes;
    size_t _queued;   /* bytes handed to uv_write and not yet written (the global budget's share) */
    net_ip_t *_ip;     /* this peer address's counters (limit.h), or NULL */
    net_user_t *_user; /* the authenticated user's connection count, once admitted, or NULL */
    uv_shutdown_t _shutdown;
    unsigned _closing : 1;   /* no more protocol callbacks but on_free */
    unsigned _lingering : 1; /* FIN sent, discarding input until EOF or the deadline */
    unsigned _handle_closed : 1;
    unsigned _reading : 1;
};

/* Initialises c's socket on w's loop and accepts the pending connection from the listener.
 * Returns 0 or UV_E*. On failure c is freed through proto->on_free (now or from the loop): the
 * caller must not touch it again. Returns BH_EAGAIN when the peer's address is over
 * BELLHOP_MAX_CONNS_PER_IP: the refusal (net_conn_set_refusal) is written, the connection closes
 * gracefully on its own and is freed the same way. */
int net_conn_accept(net_worker_t *w, net_conn_t *c, const net_conn_proto_t *proto);
int net_conn_read_start(net_conn_t *c);
void net_conn_read_stop(net_conn_t *c);
/* Writes data[0..len) and takes ownership of data (a malloc'ed buffer, freed on every path).
 * Tries a direct write first; what the socket does not take at once is queued. Returns 0 or UV_E*
 * (then the connection is being closed). */
int net_conn_write_owned(net_conn_t *c, char *data, size_t len);
/* Writes head[0..head_len) (copied if it must wait) followed by b->data[off..off+len), without
 * copying the blob: a reference is held until the bytes are written. Returns 0 or UV_E*. */
typedef struct blob_s blob_t;
int net_conn_write_blob(net_conn_t *c, const void *head, size_t head_len, blob_t *b, size_t off,
                        size_t len);
/* Bytes queued in the kernel's stead, waiting for the socket. */
size_t net_conn_write_queue_size(const net_conn_t *c);
/* Ends the connection. graceful: let queued writes go out, send FIN, and discard input for at most
 * linger_ms before closing (so that a client still sending its body reads our error response
 * instead of a reset). Not graceful: close now, dropping queued writes. */
void net_conn_close(net_conn_t *c, int graceful, unsigned linger_ms);
void net_conn_ref(net_conn_t *c);
void net_conn_unref(net_conn_t *c);
/* The bytes written to a connection refused at accept (an HTTP 429 with a JSON body): borrowed,
 * must stay valid while workers run. Set once before they start. */
void net_conn_set_refusal(const char *bytes);
/* Counts c as a connection of (org, user) until it closes. Returns 0, or BH_EAGAIN when the user
 * is at BELLHOP_MAX_CONNS_PER_USER (nothing counted). At most once per connection. */
int net_conn_limit_user(net_conn_t *c, int64_t org_id, int64_t user_id);
/* One WebSocket handshake from c's address: 0, or BH_EAGAIN with *retry_ms (per-IP rate). */
int net_conn_limit_handshake(net_conn_t *c, unsigned *retry_ms);
/* One password login from c's address: 0, or BH_EAGAIN with *retry_ms (per-IP login rate). */
int net_conn_limit_login(net_conn_t *c, unsigned *retry_ms);
/* 1 when the process is over BELLHOP_OUTBUF_BUDGET and c holds more than its share of it. */
int net_conn_over_budget(const net_conn_t *c);
static inline int net_conn_is_closing(const net_conn_t *c)
{
    return c->_closing;
}

/* Called by the worker's sweep timer; closes or times out connections whose deadline passed. */
void net__conn_sweep(net_worker_t *w, uint64_t now_ms);
/* Called by the worker when it stops: closes every connection at once. */
void net__conn_close_all(net_worker_t *w);

#endif
