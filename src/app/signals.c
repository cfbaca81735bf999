#include "app/signals.h"

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "net/limit.h"
#include "store/flags.h"

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* How often the drain looks at the connection count: a drain of an idle server ends within this. */
#define DRAIN_POLL_MS 20

static void stop_now(app_signals_t *s)
{
    if (s->_stopped) return;
    s->_stopped = 1;
    uv_timer_stop(&s->_timer);
    s->on_stop(s, s->data);
}

static void on_drain_timer(uv_timer_t *t)
{
    app_signals_t *s = t->data;
    size_t left = net_limit_conn_total();
    uint64_t now = uv_now(s->loop);
    if (left == 0) {
        LOG_I("drained", "left=0");
        stop_now(s);
    } else if (now >= s->_deadline) {
        LOG_W("drain_timeout", "left=%zu timeout_ms=%u", left, s->drain_timeout_ms);
        stop_now(s);
    }
}

void app_signals_drain(app_signals_t *s)
{
    if (s->_draining || s->_stopped) return;
    s->_draining = 1;
    LOG_I("draining", "connections=%zu timeout_ms=%u", net_limit_conn_total(),
          s->drain_timeout_ms);
    /* Streams first, so that their sessions send their own close frames (and stop taking
     * events); then the workers close their listeners and end what is quiet. Tasks run in
     * posting order on each worker. */
    if (s->on_drain) s->on_drain(s, s->data);
    for (int i = 0; i < s->n_workers; i++) net_worker_drain(&s->workers[i]);
    s->_deadline = uv_now(s->loop) + s->drain_timeout_ms;
    uv_timer_start(&s->_timer, on_drain_timer, DRAIN_POLL_MS, DRAIN_POLL_MS);
}

/* ---- SIGHUP: reopen the log, reload the flags ---------------------------------------------------- */

typedef struct reload_s {
    app_signals_t *s;
    json_t *changed; /* names that changed, from the work */
    int conflict;    /* the flags changed here while the store was read: read again */
    char err[256];
} reload_t;

/* Thread pool: env then stored values (the same precedence as at start) into a fresh set, then
 * one all-or-nothing update of the live flags, so readers never see a half-reloaded state. */
static void reload_work(store_t *st, void *data)
{
    reload_t *r = data;
    rt_flag_values_t seen;
    rt_flags_snapshot(r->s->flags, &seen);
    rt_flags_t *fresh = rt_flags_new();
    if (rt_flags_load_env(fresh, NULL, NULL, r->err, sizeof r->err) != 0) {
        rt_flags_free(fresh);
        return;
    }
    json_t *stored = NULL;
    if (store_flags_load(st, &stored) == 0) {
        const char *name;
        json_t *value;
        json_object_foreach(stored, name, value)
        {
            json_t *one = json_pack("{s:O}", name, value), *ch = NULL;
            char e[256];
            if (rt_flags_apply_json(fresh, one, e, sizeof e, &ch) != 0) {
                char q[300];
                LOG_W("stored_flag_ignored", "reason=%s", log_quote(q, sizeof q, e));
            }
            json_decref(ch);
            json_decref(one);
        }
        json_decref(stored);
    } else {
        snprintf(r->err, sizeof r->err, "the store could not be read");
    }
    json_t *all = rt_flags_to_json(fresh);
    /* Only over what was there before the store was read: a change applied meanwhile (the API,
     * on a worker) is newer than what was read, and must not be put back. */
    char e[256];
    int rc = r->err[0] ? 0 : rt_flags_apply_json_if(r->s->flags, all, seen.version, e, sizeof e,
                                                     &r->changed);
    if (rc == BH_ECONFLICT) r->conflict = 1;
    else if (rc != 0) snprintf(r->err, sizeof r->err, "%s", e);
    json_decref(all);
    rt_flags_free(fresh);
}

static void reload_done(void *data, int status)
{
    reload_t *r = data;
    app_signals_t *s = r->s;
    s->_reload_in_flight = 0;
    int again = s->_reload_again || r->conflict;
    s->_reload_again = 0;
    char q[300];
    if (status != 0) {
        LOG_W("flags_reload_failed", "err=%s", err_str(status));
    } else if (r->err[0]) {
        LOG_W("flags_reload_failed", "reason=%s", log_quote(q, sizeof q, r->err));
    } else if (r->conflict) {
        LOG_I("flags_reload_retry", "reason=changed_meanwhile");
    } else {
        size_t n = json_array_size(r->changed);
        LOG_I("flags_reloaded", "changed=%zu", n);
        if (n && s->rt && !s->_draining && !s->_stopped) rt_server_flags_changed(s->rt);
    }
    json_decref(r->changed);
    free(r);
    /* Asked again while this one read the store: it may have read too early. */
    if (again && !s->_closed) app_signals_reload_flags(s);
}

void app_signals_reload_flags(app_signals_t *s)
{
    if (s->flags == NULL || s->store == NULL) return;
    if (s->_reload_in_flight) {
        s->_reload_again = 1;
        return;
    }
    reload_t *r = xcalloc(1, sizeof *r);
    r->s = s;
    s->_reload_in_flight = 1;
    if (store_submit(s->store, s->loop, reload_work, reload_done, r) != 0) {
        s->_reload_in_flight = 0;
        free(r);
    }
}

static void reload(app_signals_t *s)
{
    int rc = log_reopen();
    if (rc != 0)
        LOG_E("log_reopen_failed", "err=%s", err_str(rc));
    else
        LOG_I("log_reopened", NULL);
    app_signals_reload_flags(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app_signals_t *s = h->data;
    LOG_I("signal", "signum=%d", signum);
    if (signum == SIGHUP) {
        reload(s);
    } else if (s->_draining) {
        stop_now(s); /* asked twice: no more waiting */
    } else if (s->drain_timeout_ms == 0) {
        stop_now(s);
    } else {
        app_signals_drain(s);
    }
}

int app_signals_start(app_signals_t *s)
{
    int rc;
    uv_timer_init(s->loop, &s->_timer);
    s->_timer.data = s;
    uv_signal_t *hs[3] = {&s->_sigint, &s->_sigterm, &s->_sighup};
    int nums[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(s->loop, hs[i]);
        hs[i]->data = s;
        if ((rc = uv_signal_start(hs[i], on_signal, nums[i])) != 0) return rc;
    }
    return 0;
}

void app_signals_close(app_signals_t *s)
{
    if (s->_closed) return;
    s->_closed = 1;
    uv_close((uv_handle_t *)&s->_sigint, NULL);
    uv_close((uv_handle_t *)&s->_sigterm, NULL);
    uv_close((uv_handle_t *)&s->_sighup, NULL);
    uv_close((uv_handle_t *)&s->_timer, NULL);
}
