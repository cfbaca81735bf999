/* signals.h: the control loop's signal handling: graceful drain and reload.
 *
 *   SIGTERM, SIGINT  drain: every worker stops accepting (its listener closes), streams get a
 *                    close frame (1001, "server shutting down" / "server draining"), idle HTTP
 *                    connections close, busy ones close after their answer (Connection: close),
 *                    uploads keep their durable (fdatasync'd) offset. Once no connection is left,
 *                    or after drain_timeout_ms, on_stop runs (the hard stop: close what is left,
 *                    join the workers, exit 0). A second signal during the drain stops at once.
 *   SIGHUP           reopens the log file (BELLHOP_LOG_FILE) and reloads the feature flags from
 *                    the environment and the store (on the thread pool), telling the streams if
 *                    any changed.
 *
 * Everything runs on the control loop; the store is only touched through store_submit(). */
#ifndef BH_APP_SIGNALS_H
#define BH_APP_SIGNALS_H

#include "net/worker.h"
#include "realtime/flags.h"
#include "realtime/stream.h"
#include "store/store.h"

#include <stdint.h>
#include <uv.h>

typedef struct app_signals_s app_signals_t;
typedef void (*app_signals_cb)(app_signals_t *s, void *data);

struct app_signals_s {
    /* set by the caller before app_signals_start; all borrowed */
    uv_loop_t *loop;
    net_worker_t *workers;
    int n_workers;
    unsigned drain_timeout_ms;
    store_t *store;
    rt_flags_t *flags;
    rt_server_t *rt;
    app_signals_cb on_drain; /* the drain begins: shut the streams (close frames) */
    app_signals_cb on_stop;  /* the drain is over (or skipped): stop everything */
    void *data;

    /* private */
    uv_signal_t _sigint, _sigterm, _sighup;
    uv_timer_t _timer;
    uint64_t _deadline;
    int _draining;
    int _stopped;
    int _reload_in_flight;
    int _reload_again; /* a reload was asked for while one was in flight */
    int _closed;
};

/* Installs the handlers on s->loop. Returns 0 or UV_E*. */
int app_signals_start(app_signals_t *s);
/* Reloads the flags as SIGHUP does (without the log reopen): from the environment and the store,
 * on the thread pool, then tells the streams if any changed. Asked while a reload is in flight,
 * runs once more after it. Control loop only. */
void app_signals_reload_flags(app_signals_t *s);
/* Starts a drain as SIGTERM would (idempotent). */
void app_signals_drain(app_signals_t *s);
/* Closes the handles (from on_stop, or when the server ends otherwise). Idempotent. */
void app_signals_close(app_signals_t *s);

#endif
