/* flags.c: GET/POST /feature-flags, GET /v2/realtime/config, and the long-polling fallback
 * GET /v1/realtime/{service}/poll. */
#include "handlers/handlers.h"

#include "broker/broker.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_ADMINS (ROLE_BIT(ROLE_OWNER) | ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_SERVICE))
#define HISTORY_SHOWN 20

/* Authenticates and checks the role; answers and returns non-zero on failure. */
static int admit(http_req_t *req, auth_claims_t *c, unsigned roles, const char *what)
{
    if (handlers_authenticate(req, c) != 0) return -1;
    if (!handlers_require_role(req, c, roles, what)) return -1;
    return 0;
}

/* ---- GET /feature-flags ------------------------------------------------------------------------ */

typedef struct flags_get_s {
    http_req_t *req;
    json_t *history;
    int rc;
} flags_get_t;

static void flags_get_work(store_t *st, void *data)
{
    flags_get_t *g = data;
    g->rc = store_flags_history(st, HISTORY_SHOWN, &g->history);
}

static void flags_get_done(void *data, int status)
{
    flags_get_t *g = data;
    hctx_t *h = http_req_app(g->req);
    if (status != 0 || g->rc != 0) {
        http_respond_error(g->req, 503, "store_unavailable", "the flag history could not be read");
    } else {
        http_resp_header(g->req, "Cache-Control", "no-store");
        http_respond_json(g->req, 200,
                          json_pack("{s:o,s:o}", "flags", rt_flags_to_json(h->flags), "history",
                                    g->history));
        g->history = NULL;
    }
    json_decref(g->history);
    free(g);
}

static void on_flags_get(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    auth_claims_t c;
    int rc = admit(req, &c, FLAG_ADMINS, "read feature flags");
    auth_claims_dispose(&c);
    if (rc != 0) return;
    flags_get_t *g = xcalloc(1, sizeof *g);
    g->req = req;
    if (store_submit(h->store, http_req_loop(req), flags_get_work, flags_get_done, g) != 0)
        flags_get_done(g, UV_ECANCELED);
}

/* ---- POST /feature-flags ----------------------------------------------------------------------- */

typedef struct flags_post_s {
    http_req_t *req;
    json_t *update;
    store_flag_change_t *changes;
    size_t n;
    store_flag_actor_t by;
    char role[24];
    int rc;
} flags_post_t;

static void flags_post_work(store_t *st, void *data)
{
    flags_post_t *p = data;
    p->rc = store_flags_save(st, p->changes, p->n, &p->by);
}

static void flags_post_done(void *data, int status)
{
    flags_post_t *p = data;
    hctx_t *h = http_req_app(p->req);
    if (status != 0 || p->rc != 0) {
        http_respond_error(p->req, 503, "store_unavailable",
                           "the change could not be stored; nothing was changed");
    } else {
        /* Stored first, then live: a change the store refused never takes effect. */
        char err[256];
        json_t *changed = NULL;
        rt_flags_apply_json(h->flags, p->update, err, sizeof err, &changed);
        char names[512];
        char *list = json_dumps(changed, JSON_COMPACT);
        LOG_I("flags_changed", "by_user=%lld by_org=%lld by_role=%s changed=%s",
              (long long)p->by.user_id, (long long)p->by.org_id, p->role,
              log_quote(names, sizeof names, list ? list : "[]"));
        free(list);
        if (json_array_size(changed)) rt_server_flags_changed(h->rt);
        /* Other nodes reload from the store (app/server.c); one node: declined, nobody to tell. */
        broker_t *bk = h->hub ? rt_hub_broker(h->hub) : NULL;
        if (bk && broker_sequences(bk) &&
            broker_bus_send(bk, RT_FLAGS_BUS_MESSAGE, strlen(RT_FLAGS_BUS_MESSAGE)) != 0)
            LOG_W("flags_announce_failed", "reason=broker_down");
        http_respond_json(p->req, 200,
                          json_pack("{s:o,s:o}", "flags", rt_flags_to_json(h->flags), "changed",
                                    changed ? changed : json_array()));
    }
    for (size_t i = 0; i < p->n; i++) json_decref(p->changes[i].old_value);
    free(p->changes);
    json_decref(p->update);
    free(p);
}

static void on_flags_post(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    auth_claims_t c;
    if (admit(req, &c, FLAG_ADMINS, "change feature flags") != 0) {
        auth_claims_dispose(&c);
        return;
    }
    json_t *body = http_req_json_object(req);
    if (body == NULL) {
        auth_claims_dispose(&c);
        return;
    }
    /* Validate against a scratch set: names and values are checked the same way as the live
     * set will apply them, before anything is stored. */
    char err[256];
    json_t *ignored = NULL;
    rt_flags_t *scratch = rt_flags_new();
    int rc = rt_flags_apply_json(scratch, body, err, sizeof err, &ignored);
    rt_flags_free(scratch);
    json_decref(ignored);
    if (rc != 0) {
        http_respond_error(req, 400, "invalid_flag", "%s", err);
        json_decref(body);
        auth_claims_dispose(&c);
        return;
    }
    flags_post_t *p = xcalloc(1, sizeof *p);
    p->req = req;
    p->update = body;
    p->n = json_object_size(body);
    p->changes = xcalloc(p->n, sizeof *p->changes);
    size_t i = 0;
    const char *name;
    json_t *value;
    json_object_foreach(body, name, value)
    {
        p->changes[i].name = name;
        p->changes[i].old_value = rt_flags_get_json(h->flags, name);
        p->changes[i].new_value = value;
        i++;
    }
    p->by.user_id = c.sub;
    p->by.org_id = c.org_id;
    snprintf(p->role, sizeof p->role, "%s", auth_role_name(c.role));
    p->by.role = p->role;
    auth_claims_dispose(&c);
    if (store_submit(h->store, http_req_loop(req), flags_post_work, flags_post_done, p) != 0)
        flags_post_done(p, UV_ECANCELED);
}

/* ---- GET /v2/realtime/config ------------------------------------------------------------------- */

static void on_config(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    auth_claims_t c;
    if (handlers_authenticate(req, &c) != 0) {
        auth_claims_dispose(&c);
        return;
    }
    rt_flag_values_t fv;
    rt_flags_snapshot(h->flags, &fv);
    int streams = rt_flags_user_streams(&fv, c.org_id, c.sub);
    json_t *services = json_object();
    for (int s = 0; s < RT_SVC__COUNT; s++) {
        if (!rt_policy_allows(&h->policy, (rt_service_t)s, c.role)) continue;
        int ws = rt_flags_service_streams(&fv, c.org_id, c.sub, (rt_service_t)s);
        char url[64];
        snprintf(url, sizeof url, "/v1/realtime/%s/poll", rt_service_name((rt_service_t)s));
        json_object_set_new(services, rt_service_name((rt_service_t)s),
                            json_pack("{s:s,s:s}", "transport", ws ? "websocket" : "polling",
                                      "url", ws ? "/v2/realtime/stream" : url));
    }
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond_json(
        req, 200,
        json_pack("{s:s,s:b,s:{s:s,s:i,s:i},s:{s:s,s:i,s:i},s:o,s:{s:i,s:i,s:b}}", "transport",
                  streams ? "websocket" : "polling", "streaming", streams, "stream", "url",
                  "/v2/realtime/stream", "version", RT_PROTOCOL_VERSION, "heartbeatMs",
                  (int)rt_server_limits(h->rt)->ws.heartbeat_ms, "polling", "urlTemplate",
                  "/v1/realtime/{service}/poll", "timeoutS", h->poll_timeout_s, "maxTimeoutS",
                  h->poll_max_timeout_s, "services", services, "rollout", "percent",
                  fv.rollout_percent, "bucket", rt_flags_bucket(c.sub), "enabled",
                  fv.streaming_v2));
    auth_claims_dispose(&c);
}

/* ---- GET /v1/realtime/{service}/poll ----------------------------------------------------------- */

static int query_int(http_req_t *req, const char *name, long long min, long long max,
                     long long *out)
{
    char v[32];
    long n = http_req_query_get(req, name, v, sizeof v);
    if (n == BH_ENOTFOUND) return 1;
    char *end;
    long long x = n > 0 ? strtoll(v, &end, 10) : 0;
    if (n <= 0 || *end || x < min || x > max) {
        http_respond_error(req, 400, "invalid_field", "%s: an integer from %lld to %lld", name,
                           min, max);
        return -1;
    }
    *out = x;
    return 0;
}

static void on_poll(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    auth_claims_t c;
    if (handlers_authenticate(req, &c) != 0) {
        auth_claims_dispose(&c);
        return;
    }
    rt_service_t svc;
    const char *name = http_req_param(req, "service");
    if (name == NULL || rt_service_parse(name, &svc) != 0) {
        http_respond_error(req, 404, "unknown_service", "unknown service '%.32s'",
                           name ? name : "");
        auth_claims_dispose(&c);
        return;
    }
    if (!rt_policy_allows(&h->policy, svc, c.role)) {
        http_respond_error(req, 403, "service_forbidden", "role %s may not read %s",
                           auth_role_name(c.role), rt_service_name(svc));
        auth_claims_dispose(&c);
        return;
    }
    long long since = -1, timeout = h->poll_timeout_s;
    int rc = query_int(req, "since", 0, INT64_MAX / 2, &since);
    if (rc >= 0) rc = query_int(req, "timeout", 0, h->poll_max_timeout_s, &timeout) < 0 ? -1 : 0;
    char epoch[RT_EPOCH_LEN + 2] = "";
    if (rc >= 0) {
        long n = http_req_query_get(req, "epoch", epoch, sizeof epoch);
        if (n != BH_ENOTFOUND && (n != RT_EPOCH_LEN)) {
            http_respond_error(req, 400, "invalid_field", "epoch: %d hex characters",
                               RT_EPOCH_LEN);
            rc = -1;
        }
    }
    if (rc < 0) {
        auth_claims_dispose(&c);
        return;
    }
    rt_poll(h->rt, req, &c, svc, since, epoch[0] ? epoch : NULL, (unsigned)timeout * 1000u);
}

int handlers_register_flags(http_router_t *r)
{
    int rc = http_router_add(r, HTTP_M_GET, "/feature-flags", on_flags_get);
    if (rc == 0) rc = http_router_add(r, HTTP_M_POST, "/feature-flags", on_flags_post);
    if (rc == 0) rc = http_router_add(r, HTTP_M_GET, "/v2/realtime/config", on_config);
    if (rc == 0) rc = http_router_add(r, HTTP_M_GET, "/v1/realtime/{service}/poll", on_poll);
    return rc;
}
