#include "handlers/admit.h"

#include "core/err.h"
#include "core/log.h"
#include "net/conn.h"
#include "net/limit.h"

#include <stdio.h>

int handlers_ws_admit_ip(http_req_t *req)
{
    if (net_worker_is_draining(http_req_worker(req))) {
        http_resp_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable",
                           "the server is draining: reconnect (another instance will answer)");
        return BH_EAGAIN;
    }
    net_conn_t *c = http_req_conn(req);
    unsigned retry_ms = 0;
    if (c && net_conn_limit_handshake(c, &retry_ms) != 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", (retry_ms + 999) / 1000);
        http_resp_header(req, "Retry-After", ra);
        const net_limits_t *l = net_limits_get();
        LOG_I("handshake_rate_limited", "peer=%s", http_req_peer(req));
        http_respond_error(req, 429, "too_many_handshakes",
                           "more than %u WebSocket handshakes a second (burst %u) from this "
                           "address: retry in %u ms",
                           l->handshake_rate, l->handshake_burst, retry_ms);
        return BH_EAGAIN;
    }
    return 0;
}

int handlers_ws_admit_user(http_req_t *req, const auth_claims_t *claims)
{
    net_conn_t *c = http_req_conn(req);
    if (c == NULL) return 0; /* the client has gone: the upgrade will find that out */
    if (net_conn_limit_user(c, claims->org_id, claims->sub) != 0) {
        LOG_I("user_conn_limited", "org=%lld user=%lld peer=%s", (long long)claims->org_id,
              (long long)claims->sub, http_req_peer(req));
        http_respond_error(req, 429, "too_many_connections",
                           "user %lld already holds %u stream connections (the limit)",
                           (long long)claims->sub, net_limits_get()->max_conns_per_user);
        return BH_EAGAIN;
    }
    return 0;
}
