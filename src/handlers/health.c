/* health.c: GET /health. Cheap by design: it reads the state the background check keeps
 * (see app/server.c), never the store itself. */
#include "handlers/handlers.h"

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
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond(req, ok ? 200 : 503, "application/json", body, (size_t)n);
}
