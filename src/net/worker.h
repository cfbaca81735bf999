/* worker.h: one event loop on its own thread, accepting on a shared port.
 *
 * bellhop runs N workers (default: one per core). Each opens its own listening socket on the same
 * address with SO_REUSEPORT, so the kernel spreads connections over the workers without a shared
 * accept lock, and each connection lives its whole life on one loop. Work for another worker's
 * connections (a broadcast, a shutdown) is handed over with net_worker_post(), which is the only
 * thread-safe call here. */
#ifndef BH_NET_WORKER_H
#define BH_NET_WORKER_H

#include "core/queue.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct net_worker_s net_worker_t;
typedef struct net_conn_s net_conn_t;

/* Called on the worker's loop for each accepted connection. The callback owns the new uv_tcp_t
 * side of things: it allocates its connection object, calls net_conn_init() and net_conn_accept().*/
typedef void (*net_accept_cb)(net_worker_t *w);
/* A task posted to a worker; runs on that worker's loop thread. */
typedef void (*net_task_cb)(net_worker_t *w, void *data);

#define NET_READ_BUF_SIZE (64 * 1024)

struct net_worker_s {
    uv_loop_t loop;
    int index;
    void *data; /* the server's, borrowed */
    void *ext;  /* per-worker state of a layer above (the realtime streams), borrowed */
    net_accept_cb on_accept;

    /* private */
    uv_thread_t _thread;
    uv_tcp_t _listener;
    uv_async_t _async;
    uv_mutex_t _inbox_lock;
    queue_t _inbox;       /* posted tasks, under _inbox_lock */
    uv_timer_t _sweep;    /* one timer checks every connection's deadline */
    uv_timer_t _datetick; /* refreshes the cached Date header */
    queue_t _conns;       /* every live net_conn_t on this loop */
    size_t _n_conns;
    int _stopping;
    _Atomic int _draining; /* set by the drain task; read by any thread */
    unsigned _sweeps;
    int _started;
    int _listening;
    char _readbuf[NET_READ_BUF_SIZE]; /* lent to reads; one read at a time per loop */
    char _http_date[40];              /* "Fri, 27 Nov 2026 11:00:00 GMT" */
};

/* Prepares w (loop, handles) on the calling thread; does not start a thread. Returns 0 or UV_E*. */
int net_worker_init(net_worker_t *w, int index, void *data, net_accept_cb on_accept);
/* Binds and listens on host:port with SO_REUSEPORT. *port may be 0 (any); it is updated to the
 * port bound, so that the next workers can share it. Returns 0 or UV_E*. */
int net_worker_listen(net_worker_t *w, const char *host, int *port, int backlog);
/* Starts the worker's thread, which runs the loop until net_worker_stop(). */
int net_worker_start(net_worker_t *w);
/* Thread-safe: asks the worker to stop accepting, close every connection and leave its loop. */
void net_worker_stop(net_worker_t *w);
/* Waits for the thread to end (or, for a worker never started, runs its loop here until the stop
 * has closed everything), then closes the loop. Returns 0 or UV_EBUSY (a handle leaked). */
int net_worker_join(net_worker_t *w);
/* Frees what join left for late posters: once EVERY worker is joined (no thread-pool work can
 * post any more), call this for each. Until then net_worker_post on a joined worker is safe and
 * returns UV_ECANCELED. */
void net_worker_dispose(net_worker_t *w);
/* Thread-safe: starts a graceful drain: the worker stops accepting (its listener closes) and asks
 * every connection to end at its next quiet point (net_conn_proto_t.on_drain). The loop keeps
 * running until net_worker_stop(). Returns 0 or UV_ECANCELED (already stopping). */
int net_worker_drain(net_worker_t *w);
/* 1 once a drain has begun. Thread-safe. */
int net_worker_is_draining(const net_worker_t *w);
/* Thread-safe: runs task(w, data) on w's loop soon. Returns 0, or UV_ECANCELED if w is stopping
 * (task will not run; data stays the caller's). */
int net_worker_post(net_worker_t *w, net_task_cb task, void *data);
/* The worker's cached RFC 7231 date, updated once a second. Loop thread only. */
const char *net_worker_http_date(const net_worker_t *w);
size_t net_worker_conn_count(const net_worker_t *w);

#endif
