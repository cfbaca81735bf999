/* harness.c: see harness.h. */
#include "harness.h"

#include "core/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz harness: %s: %s\n", what, rc < 0 ? uv_strerror(rc) : strerror(errno));
    abort();
}

void fz_net_init(fz_net_t *h, const http_router_t *router, http_handler_cb fallback,
                 const http_limits_t *lim, const char *origins, void *app)
{
    static http_cors_t cors;
    cors.origins = origins;
    cors.max_age_s = 600;
    memset(h, 0, sizeof *h);
    h->peer_fd = -1;
    h->srv = http_server_new(router, fallback, lim, &cors, NULL, app);
    int rc = net_worker_init(&h->w, 0, h->srv, http_server_on_accept);
    if (rc != 0) die("net_worker_init", rc);
    int port = 0;
    /* A real listening socket, so that uv_accept's bookkeeping on it is valid; nothing ever
     * connects to it. */
    if ((rc = net_worker_listen(&h->w, "127.0.0.1", &port, 16)) != 0) die("listen", rc);
}

size_t fz_chunk_from(uint8_t b)
{
    if (b < 64) return 0;                /* one read */
    if (b < 128) return 1;               /* byte by byte */
    if (b < 192) return (size_t)(b & 15) + 1;
    return (size_t)(b - 191) * 7;        /* 7..455 */
}

static void drain(fz_net_t *h)
{
    char tmp[65536];
    if (h->peer_fd < 0) return;
    for (;;) {
        ssize_t n = read(h->peer_fd, tmp, sizeof tmp);
        if (n <= 0) break;
        if (h->n_out < sizeof h->out) {
            size_t k = sizeof h->out - h->n_out;
            if (k > (size_t)n) k = (size_t)n;
            memcpy(h->out + h->n_out, tmp, k);
        }
        h->n_out += (size_t)n;
    }
}

void fz_net_pump(fz_net_t *h)
{
    /* Store work runs on the thread pool and comes back through the loop; its answers and the
     * tasks it posts (fan-out, chat batches) need a few more passes after the last job. */
    int quiet = 0;
    for (int i = 0; i < 20000 && quiet < 4; i++) {
        uv_run(&h->w.loop, UV_RUN_NOWAIT);
        drain(h);
        if (h->w.loop.active_reqs.count == 0) {
            quiet++;
        } else {
            quiet = 0;
            usleep(100);
        }
    }
}

net_conn_t *fz_net_open(fz_net_t *h)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair", 0);
    h->peer_fd = sv[1];
    h->n_out = 0;
    /* What uv__server_io does when accept(2) returns a descriptor; then the worker's accept
     * callback runs as for a real connection. */
    h->w._listener.accepted_fd = sv[0];
    size_t before = net_worker_conn_count(&h->w);
    h->w.on_accept(&h->w);
    if (net_worker_conn_count(&h->w) != before + 1) die("accept", UV_EIO);
    net_conn_t *c = QUEUE_DATA(h->w._conns.prev, net_conn_t, _node);
    net_conn_ref(c);
    return c;
}

void fz_net_feed(fz_net_t *h, net_conn_t *c, const uint8_t *data, size_t n, size_t chunk)
{
    if (chunk == 0) chunk = n;
    while (n > 0 && !net_conn_is_closing(c)) {
        size_t k = n < chunk ? n : chunk;
        /* Lent and writable, like the worker's read buffer (WebSocket unmasks in place). */
        char *buf = xmalloc(k);
        memcpy(buf, data, k);
        net_conn_ref(c);
        c->proto->on_data(c, buf, k);
        net_conn_unref(c);
        free(buf);
        data += k;
        n -= k;
        fz_net_pump(h);
    }
    fz_net_pump(h);
}

void fz_net_end(fz_net_t *h, net_conn_t *c)
{
    /* Whatever waits on a deadline (headers, body, handshake, heartbeat) times out now. */
    net__conn_sweep(&h->w, UINT64_MAX / 2);
    fz_net_pump(h);
    net__conn_sweep(&h->w, UINT64_MAX / 2);
    fz_net_pump(h);
    net__conn_close_all(&h->w);
    for (int i = 0; i < 16 && !(c->_handle_closed && c->_refs == 1); i++) fz_net_pump(h);
    net_conn_unref(c);
    fz_net_pump(h);
    /* FUZZ_DEBUG=1: show what the server answered (when replaying one input by hand). */
    if (getenv("FUZZ_DEBUG")) {
        fprintf(stderr, "--- %zu bytes answered:\n", h->n_out);
        fwrite(h->out, 1, h->n_out < sizeof h->out ? h->n_out : sizeof h->out, stderr);
        fputc('\n', stderr);
    }
    if (h->peer_fd >= 0) close(h->peer_fd);
    h->peer_fd = -1;
}
