/* server.c: the process layout.
 *
 *   main thread:  a control loop for signals and the background store check
 *   N workers:    one event loop each, sharing the port with SO_REUSEPORT (net/worker.c)
 *   thread pool:  libuv's, for every disk, store and password operation
 */
#include "app/server.h"

#include "app/signals.h"

#include "broker/broker.h"
#include "chat/chat.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "handlers/handlers.h"
#include "handlers/uploads.h"
#include "http/http.h"
#include "http/router.h"
#include "net/conn.h"
#include "net/limit.h"
#include "net/worker.h"
#include "realtime/flags.h"
#include "realtime/hub.h"
#include "store/flags.h"
#include "realtime/stream.h"
#include "upload/upload.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct server_s {
    const config_t *cfg;
    hctx_t hctx;
    uv_loop_t loop; /* control loop */
    app_signals_t sig; /* SIGTERM/SIGINT drain, SIGHUP reload (signals.c) */
    int streams_shut;
    uv_timer_t health_timer;
    int health_in_flight;
    uv_timer_t prune_timer;
    int prune_in_flight;
    uv_timer_t upload_timer; /* expiry sweep of incomplete uploads */
    int upload_sweep_in_flight;
    rt_hub_t *hub;
    broker_t *broker; /* in-process, or Redis for several nodes */
    rt_server_t *rt;
    chat_server_t *chat;
    rt_flags_t *flags;
    net_worker_t *workers;
    int n_workers;
    int stopping;
    /* Several nodes: the broker thread asks the control loop to reload the flags. */
    int flags_sync;
    uv_async_t flags_async;
    uv_mutex_t flags_mu; /* guards flags_async_open against the broker thread */
    int flags_async_open;
} server_t;

static void log_request(http_req_t *req, int status, size_t body_len, double ms)
{
    if (!log_enabled(LOG_INFO)) return;
    char path[256];
    log_quote(path, sizeof path, http_req_path(req));
    log_write(LOG_INFO, "request", "req=%s method=%s path=%s status=%d bytes=%zu dur_ms=%.3f peer=%s",
              http_req_id(req), http_req_method_str(req), path, status, body_len, ms,
              http_req_peer(req));
}

/* ---- background store check -------------------------------------------------------------------- */

typedef struct ping_s {
    server_t *srv;
    int rc;
} ping_t;

static void ping_work(store_t *st, void *data)
{
    ping_t *p = data;
    p->rc = store_ping(st);
}

static void ping_done(void *data, int status)
{
    ping_t *p = data;
    server_t *srv = p->srv;
    int ok = status == 0 && p->rc == 0;
    int was = atomic_exchange(&srv->hctx.store_ok, ok);
    atomic_store(&srv->hctx.store_checked_ms, clock_unix_ms());
    if (was != ok) {
        if (ok) LOG_I("store_up", "backend=%s", store_backend(srv->hctx.store));
        else LOG_E("store_down", "backend=%s err=%s", store_backend(srv->hctx.store),
                   err_str(status ? status : p->rc));
    }
    srv->health_in_flight = 0;
    free(p);
}

static void on_health_timer(uv_timer_t *t)
{
    server_t *srv = t->data;
    if (srv->health_in_flight) return; /* a hung store shows as a stale check, not a pile-up */
    ping_t *p = xmalloc(sizeof *p);
    p->srv = srv;
    p->rc = 0;
    srv->health_in_flight = 1;
    if (store_submit(srv->hctx.store, &srv->loop, ping_work, ping_done, p) != 0) {
        srv->health_in_flight = 0;
        free(p);
    }
}

/* ---- history retention ---------------------------------------------------------------------------- */

static void prune_work(store_t *st, void *data)
{
    (void)st;
    server_t *srv = data;
    rt_hub_prune(srv->hub);
}

static void prune_done(void *data, int status)
{
    (void)status;
    server_t *srv = data;
    srv->prune_in_flight = 0;
}

static void on_prune_timer(uv_timer_t *t)
{
    server_t *srv = t->data;
    if (srv->prune_in_flight) return;
    srv->prune_in_flight = 1;
    if (store_submit(srv->hctx.store, &srv->loop, prune_work, prune_done, srv) != 0)
        srv->prune_in_flight = 0;
}

/* ---- uploads: limits from the config, and the expiry sweep ------------------------------------------ */

static upload_srv_t *uploads_new(const config_t *cfg, store_t *st, hctx_t *h)
{
    upload_limits_t lim = {
        .max_size = {[UPLOAD_CLASS_ID] = cfg->upload_max_id_document,
                     [UPLOAD_CLASS_IMAGE] = cfg->upload_max_image,
                     [UPLOAD_CLASS_CSV] = cfg->upload_max_csv,
                     [UPLOAD_CLASS_EXCEL] = cfg->upload_max_excel},
        .chunk_max = cfg->upload_chunk_max,
        .buffer = cfg->upload_buffer,
        .ack_bytes = cfg->upload_ack_bytes,
        .expiry_ms = (int64_t)cfg->upload_expiry_s * 1000,
        .max_active = cfg->upload_max_active,
        .direct_io = cfg->upload_direct_io,
    };
    return upload_srv_new(st, cfg->data_dir, &lim, handlers_document_published, h);
}

static void upload_sweep_work(store_t *st, void *data)
{
    (void)st;
    server_t *srv = data;
    upload_srv_sweep(srv->hctx.uploads, clock_unix_ms());
}

static void upload_sweep_done(void *data, int status)
{
    (void)status;
    server_t *srv = data;
    srv->upload_sweep_in_flight = 0;
}

static void on_upload_timer(uv_timer_t *t)
{
    server_t *srv = t->data;
    if (srv->upload_sweep_in_flight) return;
    srv->upload_sweep_in_flight = 1;
    if (store_submit(srv->hctx.store, &srv->loop, upload_sweep_work, upload_sweep_done, srv) != 0)
        srv->upload_sweep_in_flight = 0;
}

/* ---- chat: limits from the config ------------------------------------------------------------------ */

static chat_server_t *chat_new(const config_t *cfg, store_t *st, net_worker_t *workers, int n)
{
    chat_limits_t lim = {
        .ws = {.max_message = cfg->ws_max_message,
               .max_outbuf = cfg->ws_max_outbuf,
               .heartbeat_ms = (unsigned)cfg->heartbeat_ms,
               .allowed_origins = cfg->allowed_origins,
               .msg_rate = (unsigned)cfg->ws_msg_rate,
               .msg_burst = (unsigned)cfg->ws_msg_burst},
        .history = (unsigned)cfg->chat_history,
        .max_length = (unsigned)cfg->chat_max_length,
        .rate = (unsigned)cfg->chat_rate,
        .burst = (unsigned)cfg->chat_burst,
        .max_rooms = (unsigned)cfg->chat_max_rooms,
        .typing_timeout_ms = (unsigned)cfg->chat_typing_timeout_ms,
        .away_ms = (unsigned)cfg->chat_away_ms,
        .offline_grace_ms = (unsigned)cfg->chat_offline_grace_ms,
    };
    return chat_server_new(st, &lim, workers, n);
}

/* The broker's thread calls into the hub: it stops first. */
static void hub_free(server_t *srv)
{
    broker_free(srv->broker);
    srv->broker = NULL;
    rt_hub_free(srv->hub);
}

/* ---- flags across nodes --------------------------------------------------------------------------- */

/* A node that changes a flag stores it, applies it and says so on the bus (handlers/flags.c);
 * the others reload every flag from the shared store on the thread pool, as SIGHUP does, and
 * apply the difference as a local change is applied. The message carries no values: the store
 * is the truth, and a reload reads whatever is newest. */

/* Broker thread. */
static void flags_wake(server_t *srv)
{
    uv_mutex_lock(&srv->flags_mu);
    if (srv->flags_async_open) uv_async_send(&srv->flags_async);
    uv_mutex_unlock(&srv->flags_mu);
}

static void on_flags_bus(void *data, const char *node, const char *payload, size_t len)
{
    if (len > 64) return; /* chat traffic: ours is a few bytes */
    json_t *m = json_loadb(payload, len, 0, NULL);
    const char *k = json_string_value(json_object_get(m, "k"));
    if (k && strcmp(k, RT_FLAGS_BUS_KIND) == 0) {
        LOG_I("flags_changed_remote", "node=%s", node);
        flags_wake(data);
    }
    json_decref(m);
}

/* Broker thread, after each connect: a change may have gone unheard while Redis was away, so
 * reload; and after a reconnect, one made here may have gone untold, so tell the others. */
static void on_flags_up(void *data)
{
    server_t *srv = data;
    broker_stats_t st;
    broker_stats(srv->broker, &st);
    if (st.reconnects > 0)
        broker_bus_send(srv->broker, RT_FLAGS_BUS_MESSAGE, strlen(RT_FLAGS_BUS_MESSAGE));
    flags_wake(srv);
}

static void on_flags_async(uv_async_t *a)
{
    server_t *srv = a->data;
    if (!srv->stopping) app_signals_reload_flags(&srv->sig);
}

/* Control loop, once the signals are set up. Nothing on one node. */
static void flags_sync_start(server_t *srv)
{
    if (!broker_sequences(srv->broker)) return;
    srv->flags_sync = 1;
    uv_mutex_init(&srv->flags_mu);
    uv_async_init(&srv->loop, &srv->flags_async, on_flags_async);
    srv->flags_async.data = srv;
    srv->flags_async_open = 1;
    broker_bus_hooks_t h = {.data = srv, .on_message = on_flags_bus, .on_up = on_flags_up};
    broker_bus_hooks(srv->broker, BROKER_BUS_FLAGS, &h);
    /* The broker connected before the hooks were set: catch up once. */
    app_signals_reload_flags(&srv->sig);
}

static void flags_sync_stop(server_t *srv)
{
    if (!srv->flags_sync || !srv->flags_async_open) return;
    broker_bus_hooks(srv->broker, BROKER_BUS_FLAGS, NULL);
    uv_mutex_lock(&srv->flags_mu);
    srv->flags_async_open = 0; /* a hook call still under way sends nothing more */
    uv_mutex_unlock(&srv->flags_mu);
    uv_close((uv_handle_t *)&srv->flags_async, NULL);
}

/* ---- signals ------------------------------------------------------------------------------------ */

/* Streams send their close frames (1001) and stop taking events; once per process. */
static void shut_streams(server_t *srv)
{
    if (srv->streams_shut) return;
    srv->streams_shut = 1;
    rt_server_shutdown(srv->rt);
    chat_server_shutdown(srv->chat);
}

static void stop(server_t *srv)
{
    if (srv->stopping) return;
    srv->stopping = 1;
    LOG_I("stopping", "workers=%d connections=%zu", srv->n_workers, net_limit_conn_total());
    /* Streams first (close frames with 1001), then the workers: tasks run in posting order. */
    shut_streams(srv);
    for (int i = 0; i < srv->n_workers; i++) net_worker_stop(&srv->workers[i]);
    app_signals_close(&srv->sig);
    flags_sync_stop(srv);
    uv_close((uv_handle_t *)&srv->health_timer, NULL);
    uv_close((uv_handle_t *)&srv->prune_timer, NULL);
    uv_close((uv_handle_t *)&srv->upload_timer, NULL);
}

static void on_drain_begin(app_signals_t *s, void *data)
{
    (void)s;
    shut_streams(data);
}

static void on_stop(app_signals_t *s, void *data)
{
    (void)s;
    stop(data);
}

/* Flags: the environment gives the starting values, values changed through the API (stored)
 * win over them, so that a rollback survives a restart. */
static rt_flags_t *load_flags(store_t *st)
{
    char err[256];
    rt_flags_t *f = rt_flags_new();
    if (rt_flags_load_env(f, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bellhop: %s\n", err);
        rt_flags_free(f);
        return NULL;
    }
    json_t *stored = NULL;
    if (store_flags_load(st, &stored) == 0) {
        const char *name;
        json_t *value;
        json_object_foreach(stored, name, value)
        {
            json_t *one = json_pack("{s:O}", name, value), *changed = NULL;
            char q[300];
            if (rt_flags_apply_json(f, one, err, sizeof err, &changed) != 0)
                LOG_W("stored_flag_ignored", "reason=%s", log_quote(q, sizeof q, err));
            else if (json_array_size(changed))
                LOG_I("stored_flag_applied", "name=%s", log_quote(q, sizeof q, name));
            json_decref(changed);
            json_decref(one);
        }
        json_decref(stored);
    }
    return f;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int server_run(const config_t *cfg, store_t *st, const uint8_t *key, size_t keylen)
{
    server_t srv;
    memset(&srv, 0, sizeof srv);
    srv.cfg = cfg;
    srv.hctx.store = st;
    srv.hctx.jwt_key = key;
    srv.hctx.jwt_key_len = keylen;
    srv.hctx.token_ttl_s = cfg->token_ttl_s;
    srv.hctx.web_dir = cfg->web_dir;
    srv.hctx.started_ms = clock_unix_ms();
    atomic_init(&srv.hctx.store_ok, store_ping(st) == 0);
    atomic_init(&srv.hctx.store_checked_ms, clock_unix_ms());

    signal(SIGPIPE, SIG_IGN);
    /* Over RLIMIT_FSIZE a write must fail (EFBIG, answered as io_error), not kill the server. */
    signal(SIGXFSZ, SIG_IGN);
    raise_nofile();

    rt_policy_default(&srv.hctx.policy);
    char perr[256];
    if (cfg->service_roles[0] && rt_policy_parse(&srv.hctx.policy, cfg->service_roles, perr,
                                                 sizeof perr) != 0) {
        fprintf(stderr, "bellhop: BELLHOP_SERVICE_ROLES: %s\n", perr);
        return BH_ECONFIG;
    }
    rt_hub_config_t hub_cfg = {.history_max_events = (size_t)cfg->history_max_events,
                               .history_max_age_ms = (int64_t)cfg->history_max_age_s * 1000};
    broker_config_t bcfg = {.url = cfg->redis_url,
                            .prefix = cfg->redis_prefix,
                            .timeout_ms = cfg->redis_timeout_ms,
                            .reconnect_max_ms = cfg->redis_reconnect_max_ms,
                            .node_ttl_ms = cfg->redis_node_ttl_ms};
    char berr[256];
    if ((srv.broker = broker_new(&bcfg, berr, sizeof berr)) == NULL) {
        fprintf(stderr, "bellhop: BELLHOP_REDIS_URL: %s\n", berr);
        return BH_ECONFIG;
    }
    srv.hub = rt_hub_new(st, &hub_cfg);
    rt_hub_set_broker(srv.hub, srv.broker, cfg->redis_timeout_ms);
    int hrc = rt_hub_load(srv.hub);
    if (hrc != 0) {
        LOG_E("history_load_failed", "err=%s", err_str(hrc));
        hub_free(&srv);
        return hrc;
    }
    srv.hctx.hub = srv.hub;
    if ((srv.flags = load_flags(st)) == NULL) {
        hub_free(&srv);
        return BH_ECONFIG;
    }
    srv.hctx.flags = srv.flags;
    srv.hctx.poll_timeout_s = cfg->poll_timeout_s;
    srv.hctx.poll_max_timeout_s = cfg->poll_max_timeout_s;
    srv.hctx.allowed_origins = cfg->allowed_origins;

    http_router_t *router = http_router_new();
    if (handlers_register(router) != 0) {
        LOG_E("routes_invalid", NULL);
        http_router_free(router);
        hub_free(&srv);
        rt_flags_free(srv.flags);
        return BH_EINTERNAL;
    }
    srv.hctx.uploads = uploads_new(cfg, st, &srv.hctx); /* NULL: logged; the routes answer 503 */
    http_limits_t limits = {
        .max_header_bytes = cfg->max_header_bytes,
        .max_headers = (size_t)cfg->max_headers,
        .max_body = cfg->max_body,
        .header_timeout_ms = (unsigned)cfg->header_timeout_ms,
        .body_timeout_ms = (unsigned)cfg->body_timeout_ms,
        .idle_timeout_ms = (unsigned)cfg->idle_timeout_ms,
        .linger_ms = (unsigned)cfg->linger_ms,
    };
    http_cors_t cors = {.origins = cfg->allowed_origins, .max_age_s = 600};
    http_server_t *http = http_server_new(router, handlers_static, &limits, &cors, log_request,
                                          &srv.hctx);

    net_limits_t nl = {.max_conns_per_ip = (unsigned)cfg->max_conns_per_ip,
                       .max_conns_per_user = (unsigned)cfg->max_conns_per_user,
                       .handshake_rate = (unsigned)cfg->handshake_rate,
                       .handshake_burst = (unsigned)cfg->handshake_burst,
                       .login_per_min = (unsigned)cfg->login_rate,
                       .login_burst = (unsigned)cfg->login_burst,
                       .outbuf_budget = cfg->outbuf_budget};
    net_limits_configure(&nl);
    net_conn_set_refusal(
        "HTTP/1.1 429 Too Many Requests\r\nServer: bellhop\r\nContent-Type: application/json\r\n"
        "Content-Length: 92\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
        "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many connections from "
        "this address\"}}");
    srv.n_workers = cfg->workers > 0 ? cfg->workers : (int)uv_available_parallelism();
    if (srv.n_workers < 1) srv.n_workers = 1;
    srv.hctx.workers = srv.n_workers;
    srv.workers = xcalloc((size_t)srv.n_workers, sizeof *srv.workers);
    int port = cfg->port, rc = 0, started = 0;
    for (int i = 0; i < srv.n_workers && rc == 0; i++) {
        if ((rc = net_worker_init(&srv.workers[i], i, http, http_server_on_accept)) != 0) break;
        started = i + 1;
        rc = net_worker_listen(&srv.workers[i], cfg->bind, &port, cfg->backlog);
    }
    rt_limits_t rl = {
        .handshake_timeout_ms = (unsigned)cfg->handshake_timeout_ms,
        .ws = {.max_message = cfg->ws_max_message,
               .max_outbuf = cfg->ws_max_outbuf,
               .heartbeat_ms = (unsigned)cfg->heartbeat_ms,
               .allowed_origins = cfg->allowed_origins,
               .msg_rate = (unsigned)cfg->ws_msg_rate,
               .msg_burst = (unsigned)cfg->ws_msg_burst},
        .replay_max = (size_t)cfg->replay_max,
    };
    srv.rt = rt_server_new(srv.hub, &srv.hctx.policy, srv.flags, &rl, srv.workers, started);
    srv.hctx.rt = srv.rt;
    srv.chat = chat_new(cfg, st, srv.workers, started);
    chat_server_set_broker(srv.chat, srv.broker);
    srv.hctx.chat = srv.chat;
    if (rc != 0) {
        rt_server_shutdown(srv.rt);
        chat_server_shutdown(srv.chat);
        LOG_E("listen_failed", "bind=%s port=%d err=%s", cfg->bind, cfg->port, uv_strerror(rc));
        fprintf(stderr, "bellhop: cannot listen on %s:%d: %s\n", cfg->bind, cfg->port,
                uv_strerror(rc));
    }
    uv_loop_init(&srv.loop);
    for (int i = 0; i < started; i++) {
        if (rc == 0) {
            net_worker_start(&srv.workers[i]);
        } else {
            net_worker_stop(&srv.workers[i]);
            net_worker_join(&srv.workers[i]);
        }
    }
    if (rc == 0) {
        LOG_I("listening", "bind=%s port=%d workers=%d store=%s version=%s", cfg->bind, port,
              srv.n_workers, store_backend(st), BELLHOP_VERSION);
        srv.sig = (app_signals_t){.loop = &srv.loop,
                                  .workers = srv.workers,
                                  .n_workers = srv.n_workers,
                                  .drain_timeout_ms = (unsigned)cfg->drain_timeout_ms,
                                  .store = st,
                                  .flags = srv.flags,
                                  .rt = srv.rt,
                                  .on_drain = on_drain_begin,
                                  .on_stop = on_stop,
                                  .data = &srv};
        app_signals_start(&srv.sig);
        flags_sync_start(&srv);
        uv_timer_init(&srv.loop, &srv.health_timer);
        srv.health_timer.data = &srv;
        uv_timer_start(&srv.health_timer, on_health_timer, (uint64_t)cfg->health_interval_ms,
                       (uint64_t)cfg->health_interval_ms);
        uv_timer_init(&srv.loop, &srv.prune_timer);
        srv.prune_timer.data = &srv;
        uv_timer_start(&srv.prune_timer, on_prune_timer, 60000, 60000);
        uv_timer_init(&srv.loop, &srv.upload_timer);
        srv.upload_timer.data = &srv;
        if (srv.hctx.uploads)
            uv_timer_start(&srv.upload_timer, on_upload_timer, (uint64_t)cfg->upload_sweep_ms,
                           (uint64_t)cfg->upload_sweep_ms);
        uv_run(&srv.loop, UV_RUN_DEFAULT);
        for (int i = 0; i < srv.n_workers; i++) net_worker_join(&srv.workers[i]);
        LOG_I("stopped", NULL);
    }
    uv_run(&srv.loop, UV_RUN_DEFAULT); /* close callbacks and the last health check */
    uv_loop_close(&srv.loop);
    broker_free(srv.broker); /* its thread hands events to the workers: before they go */
    srv.broker = NULL;
    if (srv.flags_sync) uv_mutex_destroy(&srv.flags_mu); /* no broker thread calls in any more */
    /* Only now can no thread-pool job post to a worker any more (see net_worker_dispose). */
    for (int i = 0; i < started; i++) net_worker_dispose(&srv.workers[i]);
    net_limit_reset(); /* address entries still refilling their handshake buckets */
    rt_server_free(srv.rt);
    chat_server_free(srv.chat);
    hub_free(&srv);
    rt_flags_free(srv.flags);
    upload_srv_free(srv.hctx.uploads);
    free(srv.workers);
    http_server_free(http);
    http_router_free(router);
    return rc;
}
