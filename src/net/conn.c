#include "net/conn.h"

#include "core/alloc.h"
#include "core/blob.h"
#include "core/err.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct write_req_s {
    uv_write_t req;
    char *data;   /* owned storage of the tail, or NULL */
    blob_t *blob; /* a reference to the tail's blob, or NULL */
    size_t len;   /* bytes this request queued (counted in the connection's _queued) */
    char head[];  /* the unwritten part of the head, copied */
} write_req_t;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    net_conn_t *c = h->data;
    /* One read at a time per loop, and on_data consumes or copies what it keeps before the next
     * read, so every connection on the worker can borrow the same buffer. */
    *buf = uv_buf_init(c->worker->_readbuf, sizeof c->worker->_readbuf);
}

static void on_handle_closed(uv_handle_t *h)
{
    net_conn_t *c = h->data;
    c->_handle_closed = 1;
    c->_closing = 1;
    net_conn_ref(c);
    c->proto->on_close(c);
    net_conn_unref(c);
    net_conn_unref(c); /* the handle's own reference */
}

static const char *refusal;

void net_conn_set_refusal(const char *bytes)
{
    refusal = bytes;
}

static void close_now(net_conn_t *c)
{
    if (c->_handle_closed || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    queue_remove(&c->_node);
    c->worker->_n_conns--;
    net__conn_total_add(-1);
    /* The socket is gone for the peer's purposes: its address and user may connect again. */
    net_limit_ip_release(c->_ip);
    net_limit_user_release(c->_user);
    c->_ip = NULL;
    c->_user = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    net_conn_t *c = s->data;
    (void)buf;
    if (nread == 0) return;
    if (c->_lingering) {
        if (nread < 0) close_now(c); /* the peer has read our answer and closed: done */
        return;
    }
    if (c->_closing) return;
    if (nread < 0) {
        c->proto->on_eof(c, (int)nread);
        return;
    }
    /* The protocol may drop its last other reference while handling the bytes; hold one so the
     * object outlives the callback (freed after it, never inside it). */
    net_conn_ref(c);
    c->proto->on_data(c, buf->base, (size_t)nread);
    net_conn_unref(c);
}

int net_conn_accept(net_worker_t *w, net_conn_t *c, const net_conn_proto_t *proto)
{
    int rc;
    c->proto = proto;
    c->worker = w;
    c->deadline = 0;
    c->_refs = 1; /* the handle's */
    c->_pending_writes = 0;
    c->_queued = 0;
    c->_ip = NULL;
    c->_user = NULL;
    c->_closing = c->_lingering = c->_handle_closed = c->_reading = 0;
    queue_init(&c->_node);
    if ((rc = uv_tcp_init(&w->loop, &c->tcp)) != 0) {
        proto->on_free(c);
        return rc;
    }
    c->tcp.data = c;
    queue_insert_tail(&w->_conns, &c->_node);
    w->_n_conns++;
    net__conn_total_add(1);
    if ((rc = uv_accept((uv_stream_t *)&w->_listener, (uv_stream_t *)&c->tcp)) != 0) {
        /* The handle is live on the loop, so c goes away through its close callback. */
        c->_closing = 1;
        close_now(c);
        return rc;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    c->peer[0] = '\0';
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        char ip[INET6_ADDRSTRLEN] = "";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
        if (net_limit_ip_acquire((struct sockaddr *)&ss, &c->_ip) != 0) {
            /* Over the per-IP limit: answer and close without handing c to the protocol, which
             * sees only its close and free callbacks. */
            LOG_D("conn_refused", "peer=%s reason=per_ip_limit", c->peer);
            if (refusal) net_conn_write_owned(c, xstrdup(refusal), strlen(refusal));
            net_conn_close(c, 1, 1000);
            return BH_EAGAIN;
        }
    }
    return 0;
}

int net_conn_read_start(net_conn_t *c)
{
    if (c->_reading || c->_handle_closed || uv_is_closing((uv_handle_t *)&c->tcp)) return 0;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc == 0) c->_reading = 1;
    return rc;
}

void net_conn_read_stop(net_conn_t *c)
{
    if (!c->_reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->_reading = 0;
}

static void on_write(uv_write_t *req, int status)
{
    write_req_t *wr = (write_req_t *)req;
    net_conn_t *c = req->handle->data;
    free(wr->data);
    blob_unref(wr->blob);
    c->_queued -= wr->len;
    net__outbuf_add(-(long long)wr->len);
    free(wr);
    if (--c->_pending_writes == 0) net__outbuf_queued_conns(-1);
    if (status < 0 && status != UV_ECANCELED && !c->_closing) {
        LOG_D("write_failed", "peer=%s err=%s", c->peer, uv_strerror(status));
        net_conn_close(c, 0, 0);
    }
    net_conn_unref(c);
}

/* Writes head[0..hl) then tail[0..tl). The tail's storage stays alive until written through
 * owned (freed on every path) or blob (referenced while queued); what is left of the head is
 * copied if it must wait, so callers may pass stack memory there. */
static int write2(net_conn_t *c, const char *head, size_t hl, const char *tail, size_t tl,
                  char *owned, blob_t *blob)
{
    if (c->_closing || c->_handle_closed) {
        free(owned);
        return UV_ECANCELED;
    }
    uv_buf_t bufs[2] = {uv_buf_init((char *)head, (unsigned)hl),
                        uv_buf_init((char *)tail, (unsigned)tl)};
    size_t done = 0, total = hl + tl;
    /* Writing at once saves a write request and a loop pass; only queue what the socket refused.
     * Anything already queued must go first, so try only when the queue is empty. */
    if (c->_pending_writes == 0) {
        int n = uv_try_write((uv_stream_t *)&c->tcp, hl ? bufs : bufs + 1, hl ? 2 : 1);
        if (n >= 0) {
            done = (size_t)n;
        } else if (n != UV_EAGAIN) {
            free(owned);
            net_conn_close(c, 0, 0);
            return n;
        }
    }
    if (done == total) {
        free(owned);
        return 0;
    }
    size_t head_left = done < hl ? hl - done : 0, tail_done = done > hl ? done - hl : 0;
    write_req_t *wr = xmalloc(sizeof *wr + head_left);
    wr->data = owned;
    wr->blob = blob ? blob_ref(blob) : NULL;
    wr->len = total - done;
    uv_buf_t q[2];
    unsigned nq = 0;
    if (head_left) {
        memcpy(wr->head, head + done, head_left);
        q[nq++] = uv_buf_init(wr->head, (unsigned)head_left);
    }
    q[nq++] = uv_buf_init((char *)tail + tail_done, (unsigned)(tl - tail_done));
    int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, q, nq, on_write);
    if (rc != 0) {
        free(wr->data);
        blob_unref(wr->blob);
        free(wr);
        net_conn_close(c, 0, 0);
        return rc;
    }
    if (c->_pending_writes++ == 0) net__outbuf_queued_conns(1);
    c->_queued += wr->len;
    net__outbuf_add((long long)wr->len);
    net_conn_ref(c);
    return 0;
}

int net_conn_write_owned(net_conn_t *c, char *data, size_t len)
{
    return write2(c, NULL, 0, data, len, data, NULL);
}

int net_conn_write_blob(net_conn_t *c, const void *head, size_t head_len, blob_t *b, size_t off,
                        size_t len)
{
    return write2(c, head, head_len, b->data + off, len, NULL, b);
}

size_t net_conn_write_queue_size(const net_conn_t *c)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    net_conn_t *c = req->data;
    if (status < 0) close_now(c);
    /* Otherwise keep reading until the peer's EOF or the linger deadline (see on_read). */
    net_conn_unref(c);
}

void net_conn_close(net_conn_t *c, int graceful, unsigned linger_ms)
{
    if (c->_handle_closed) return;
    if (c->_closing) {
        if (!graceful) close_now(c);
        return;
    }
    c->_closing = 1;
    if (!graceful || uv_is_closing((uv_handle_t *)&c->tcp)) {
        close_now(c);
        return;
    }
    c->_lingering = 1;
    c->deadline = uv_now(&c->worker->loop) + linger_ms;
    c->_shutdown.data = c;
    if (uv_shutdown(&c->_shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        close_now(c);
        return;
    }
    net_conn_ref(c);
    if (net_conn_read_start(c) != 0) close_now(c);
}

int net_conn_limit_user(net_conn_t *c, int64_t org_id, int64_t user_id)
{
    /* After close_now nothing would release a count taken now. */
    if (c->_handle_closed || uv_is_closing((uv_handle_t *)&c->tcp)) return BH_EAGAIN;
    if (c->_user) return 0;
    return net_limit_user_acquire(org_id, user_id, &c->_user);
}

int net_conn_limit_handshake(net_conn_t *c, unsigned *retry_ms)
{
    return net_limit_ip_handshake(c->_ip, uv_hrtime() / 1000000u, retry_ms);
}

int net_conn_limit_login(net_conn_t *c, unsigned *retry_ms)
{
    return net_limit_ip_login(c->_ip, uv_hrtime() / 1000000u, retry_ms);
}

int net_conn_over_budget(const net_conn_t *c)
{
    return net_limit_outbuf_victim(net_conn_write_queue_size(c));
}

void net_conn_ref(net_conn_t *c)
{
    c->_refs++;
}

void net_conn_unref(net_conn_t *c)
{
    if (--c->_refs == 0) c->proto->on_free(c);
}

void net__conn_sweep(net_worker_t *w, uint64_t now_ms)
{
    queue_t *q = w->_conns.next;
    while (q != &w->_conns) {
        net_conn_t *c = QUEUE_DATA(q, net_conn_t, _node);
        q = q->next; /* the callbacks may unlink c */
        if (c->deadline == 0 || c->deadline > now_ms) continue;
        c->deadline = 0;
        if (c->_closing) {
            close_now(c); /* the linger or the shutdown took too long */
        } else {
            net_conn_ref(c);
            c->proto->on_timeout(c);
            net_conn_unref(c);
        }
    }
}

void net__conn_close_all(net_worker_t *w)
{
    while (!queue_empty(&w->_conns)) {
        net_conn_t *c = QUEUE_DATA(w->_conns.next, net_conn_t, _node);
        c->_closing = 1;
        close_now(c);
    }
}
