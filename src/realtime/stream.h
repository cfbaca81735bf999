/* stream.h: the unified realtime stream, GET /v2/realtime/stream (see docs/PROTOCOL.md).
 *
 * One WebSocket per client multiplexes the services it subscribed to. Each worker keeps an index
 * of its own subscriptions by (org, service); a published event reaches every worker once (posted
 * by the hub's sink), and each worker writes it to its subscribers. Events that arrive together
 * are batched per stream into one message, whose body is encoded once per worker and shared by
 * every subscriber that may see all of it; only the per-connection "seq" prefix differs.
 *
 * Threads: rt_server_new/free and rt_server_shutdown run on the main thread; rt_stream_accept on
 * the worker that received the request; rt_server_metrics anywhere. */
#ifndef BH_REALTIME_STREAM_H
#define BH_REALTIME_STREAM_H

#include "auth/auth.h"
#include "http/http.h"
#include "net/worker.h"
#include "realtime/flags.h"
#include "realtime/hub.h"
#include "realtime/metrics.h"
#include "realtime/service.h"
#include "ws/ws_conn.h"

#include <stddef.h>

typedef struct rt_server_s rt_server_t;

/* Close codes of the stream (also in docs/PROTOCOL.md). */
enum {
    RT_CLOSE_INVALID = 4400,         /* malformed handshake or message */
    RT_CLOSE_TOKEN_EXPIRED = 4401,   /* the token expired while connected */
    RT_CLOSE_FORBIDDEN = 4403,       /* a service the role may not read */
    RT_CLOSE_UNKNOWN_SERVICE = 4404,
    RT_CLOSE_VERSION = 4406,         /* unsupported protocol version */
    RT_CLOSE_HANDSHAKE_TIMEOUT = 4408,
    RT_CLOSE_SLOW_CONSUMER = 4429,   /* outgoing buffer over its limit: resume from your offsets */
    RT_CLOSE_FALLBACK = 4503,        /* streaming is off for this user: long-poll instead */
};

#define RT_PROTOCOL_VERSION 1
#define RT_BATCH_MAX 64 /* events per message */

typedef struct rt_limits_s {
    unsigned handshake_timeout_ms;
    ws_limits_t ws;
    size_t replay_max; /* events replayed per service on resume (the rest: reset) */
} rt_limits_t;

/* workers[0..n) must be initialised (net_worker_init) but not started: each gets a check handle.
 * Installs itself as hub's sink. Borrowed: hub, policy, flags, workers. */
rt_server_t *rt_server_new(rt_hub_t *hub, const rt_policy_t *policy, rt_flags_t *flags,
                           const rt_limits_t *lim, net_worker_t *workers, int n_workers);
/* Re-checks every open stream against the current flags (any thread): users no longer allowed
 * to stream are closed with 4503 and told where to poll from; services forced to long-polling
 * are unsubscribed with a "fallback" message carrying the offsets to poll from. */
void rt_server_flags_changed(rt_server_t *srv);
/* Long-polling, GET /v1/realtime/{service}/poll (poll.c): answers req now or when events come.
 * claims is stolen. since < 0: from the current head. timeout_ms bounded by the caller. */
void rt_poll(rt_server_t *srv, http_req_t *req, auth_claims_t *claims, rt_service_t svc,
             int64_t since, const char *epoch, unsigned timeout_ms);
/* Posts to every worker: close each stream with 1001 "server shutting down" and release the
 * worker's handles. Call before net_worker_stop. */
void rt_server_shutdown(rt_server_t *srv);
/* After the workers are joined. */
void rt_server_free(rt_server_t *srv);

/* Upgrades req (already authenticated, upgrade headers checked) to a stream. claims is stolen
 * on every path. */
void rt_stream_accept(rt_server_t *srv, http_req_t *req, auth_claims_t *claims);

/* Sums every worker's metrics into *out (zeroed first). */
void rt_server_metrics(rt_server_t *srv, rt_metrics_t *out);
const rt_limits_t *rt_server_limits(const rt_server_t *srv);

#endif
