#include "net/worker.h"

#include "core/alloc.h"
#include "core/log.h"
#include "net/conn.h"
#include "net/limit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct task_s {
    queue_t node;
    net_task_cb cb;
    void *data;
} task_t;

/* The sweep runs often enough for sub-second timeouts in tests while costing next to nothing:
 * a pass over 20,000 connections is a few microseconds. */
#define SWEEP_INTERVAL_MS 100

static void update_date(net_worker_t *w)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(w->_http_date, sizeof w->_http_date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void on_datetick(uv_timer_t *t)
{
    update_date(t->data);
}

static void on_sweep(uv_timer_t *t)
{
    net_worker_t *w = t->data;
    net__conn_sweep(w, uv_now(&w->loop));
    /* Idle per-IP entries whose handshake bucket has refilled: one worker tidies for all. */
    if (w->index == 0 && ++w->_sweeps % 50 == 0) net_limit_prune(uv_hrtime() / 1000000u);
}

static void on_async(uv_async_t *a)
{
    net_worker_t *w = a->data;
    queue_t tasks;
    queue_init(&tasks);
    uv_mutex_lock(&w->_inbox_lock);
    queue_move(&w->_inbox, &tasks);
    uv_mutex_unlock(&w->_inbox_lock);
    while (!queue_empty(&tasks)) {
        queue_t *q = tasks.next;
        queue_remove(q);
        task_t *t = QUEUE_DATA(q, task_t, node);
        t->cb(w, t->data);
        free(t);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    net_worker_t *w = server->data;
    if (status < 0) {
        LOG_W("accept_failed", "worker=%d err=%s", w->index, uv_strerror(status));
        return;
    }
    w->on_accept(w);
}

int net_worker_init(net_worker_t *w, int index, void *data, net_accept_cb on_accept)
{
    int rc;
    memset(w, 0, sizeof *w);
    w->index = index;
    w->data = data;
    w->on_accept = on_accept;
    queue_init(&w->_inbox);
    queue_init(&w->_conns);
    if ((rc = uv_loop_init(&w->loop)) != 0) return rc;
    w->loop.data = w;
    if ((rc = uv_mutex_init(&w->_inbox_lock)) != 0) goto err_loop;
    if ((rc = uv_async_init(&w->loop, &w->_async, on_async)) != 0) goto err_mutex;
    w->_async.data = w;
    uv_timer_init(&w->loop, &w->_sweep);
    uv_timer_init(&w->loop, &w->_datetick);
    w->_sweep.data = w->_datetick.data = w;
    update_date(w);
    return 0;

err_mutex:
    uv_mutex_destroy(&w->_inbox_lock);
err_loop:
    uv_loop_close(&w->loop);
    return rc;
}

int net_worker_listen(net_worker_t *w, const char *host, int *port, int backlog)
{
    struct sockaddr_storage ss;
    int rc;
    if (strchr(host, ':') != NULL)
        rc = uv_ip6_addr(host, *port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(host, *port, (struct sockaddr_in *)&ss);
    if (rc != 0) return rc;

    /* libuv 1.44 has no SO_REUSEPORT flag, so the socket is made here and handed to uv_tcp_open. */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return uv_translate_sys_error(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) goto sys_err;
    socklen_t slen = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&ss, slen) != 0) goto sys_err;
    if (*port == 0) {
        if (getsockname(fd, (struct sockaddr *)&ss, &slen) != 0) goto sys_err;
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    }
    if ((rc = uv_tcp_init(&w->loop, &w->_listener)) != 0) {
        close(fd);
        return rc;
    }
    w->_listener.data = w;
    if ((rc = uv_tcp_open(&w->_listener, fd)) != 0) {
        close(fd);
        uv_close((uv_handle_t *)&w->_listener, NULL);
        return rc;
    }
    w->_listening = 1;
    return uv_listen((uv_stream_t *)&w->_listener, backlog, on_connection);

sys_err:
    rc = uv_translate_sys_error(errno);
    close(fd);
    return rc;
}

static void worker_main(void *arg)
{
    net_worker_t *w = arg;
    uv_timer_start(&w->_sweep, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    uv_timer_start(&w->_datetick, on_datetick, 1000, 1000);
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

int net_worker_start(net_worker_t *w)
{
    int rc = uv_thread_create(&w->_thread, worker_main, w);
    if (rc == 0) w->_started = 1;
    return rc;
}

static void on_stop(net_worker_t *w, void *data)
{
    (void)data;
    /* Closing every handle lets uv_run return once in-flight thread-pool work has come back. */
    if (w->_listening) uv_close((uv_handle_t *)&w->_listener, NULL);
    w->_listening = 0;
    net__conn_close_all(w);
    uv_close((uv_handle_t *)&w->_sweep, NULL);
    uv_close((uv_handle_t *)&w->_datetick, NULL);
    uv_close((uv_handle_t *)&w->_async, NULL);
}

void net_worker_stop(net_worker_t *w)
{
    task_t *t = xmalloc(sizeof *t);
    t->cb = on_stop;
    t->data = NULL;
    uv_mutex_lock(&w->_inbox_lock);
    int already = w->_stopping;
    w->_stopping = 1;
    if (!already) queue_insert_tail(&w->_inbox, &t->node);
    uv_mutex_unlock(&w->_inbox_lock);
    if (already) {
        free(t);
        return;
    }
    uv_async_send(&w->_async);
}

static void on_drain(net_worker_t *w, void *data)
{
    (void)data;
    if (w->_listening) uv_close((uv_handle_t *)&w->_listener, NULL);
    w->_listening = 0;
    queue_t *q = w->_conns.next;
    while (q != &w->_conns) {
        net_conn_t *c = QUEUE_DATA(q, net_conn_t, _node);
        q = q->next; /* the callback may unlink c */
        if (c->_closing || c->proto->on_drain == NULL) continue;
        net_conn_ref(c);
        c->proto->on_drain(c);
        net_conn_unref(c);
    }
}

int net_worker_drain(net_worker_t *w)
{
    atomic_store(&w->_draining, 1);
    return net_worker_post(w, on_drain, NULL);
}

int net_worker_is_draining(const net_worker_t *w)
{
    return atomic_load(&((net_worker_t *)w)->_draining);
}

int net_worker_post(net_worker_t *w, net_task_cb cb, void *data)
{
    task_t *t = xmalloc(sizeof *t);
    t->cb = cb;
    t->data = data;
    uv_mutex_lock(&w->_inbox_lock);
    if (w->_stopping) {
        uv_mutex_unlock(&w->_inbox_lock);
        free(t);
        return UV_ECANCELED;
    }
    queue_insert_tail(&w->_inbox, &t->node);
    uv_mutex_unlock(&w->_inbox_lock);
    uv_async_send(&w->_async);
    return 0;
}

int net_worker_join(net_worker_t *w)
{
    if (w->_started)
        uv_thread_join(&w->_thread);
    else
        uv_run(&w->loop, UV_RUN_DEFAULT); /* never started: just run the stop and the closes */
    /* Tasks posted after the stop task never ran; their data is the poster's to reclaim, and
     * posting is refused once stopping, so the inbox can only hold leftovers of a race. */
    while (!queue_empty(&w->_inbox)) {
        queue_t *q = w->_inbox.next;
        queue_remove(q);
        free(QUEUE_DATA(q, task_t, node));
    }
    int rc = uv_loop_close(&w->loop);
    if (rc != 0) LOG_E("worker_leak", "worker=%d err=%s", w->index, uv_strerror(rc));
    return rc;
}

void net_worker_dispose(net_worker_t *w)
{
    uv_mutex_destroy(&w->_inbox_lock);
}

const char *net_worker_http_date(const net_worker_t *w)
{
    return w->_http_date;
}

size_t net_worker_conn_count(const net_worker_t *w)
{
    return w->_n_conns;
}
