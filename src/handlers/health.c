/* health.c: GET /health. Cheap by design: it reads the state the background check keeps
 * (see app/server.c), never the store itself. */
#include "handlers/handlers.h"

#include "broker/broker.h"
#include "core/clock.h"

#include <stdio.h>
#include <string.h>

void handlers_health_get(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    int ok = atomic_load(&h->store_ok);
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"version\":\"%s\",\"store\":{\"backend\":\"%s\","
                     "\"ok\":%s},\"uptimeS\":%lld}",
                     ok ? "ok" : "unavailable", BELLHOP_VERSION, store_backend(h->store),
                     ok ? "true" : "false",
                     (long long)((clock_unix_ms() - h->started_ms) / 1000));
    broker_t *bk = h->hub ? rt_hub_broker(h->hub) : NULL;
    if (ok && bk && broker_sequences(bk)) {
        /* Several nodes: a node without Redis still serves its own clients (200), but says it is
         * degraded and why, so that operators (and load balancers that read bodies) see it. */
        broker_stats_t st;
        broker_stats(bk, &st);
        int up = st.state == BROKER_STATE_UP;
        json_t *j = json_pack("{s:s,s:s,s:{s:s,s:b},s:{s:s,s:s,s:b,s:s},s:I}", "status",
                              up ? "ok" : "degraded", "version", BELLHOP_VERSION, "store",
                              "backend", store_backend(h->store), "ok", 1, "broker", "backend",
                              broker_name(bk), "state", broker_state_name(st.state), "synced",
                              st.synced, "reason", st.reason, "uptimeS",
                              (json_int_t)((clock_unix_ms() - h->started_ms) / 1000));
        http_resp_header(req, "Cache-Control", "no-store");
        http_respond_json(req, 200, j);
        return;
    }
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond(req, ok ? 200 : 503, "application/json", body, (size_t)n);
}
