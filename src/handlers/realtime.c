/* realtime.c: the stream endpoint, the publish endpoint for other services, and metrics. */
#include "handlers/handlers.h"

#include "handlers/admit.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void handlers_realtime_stream(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    if (handlers_ws_admit_ip(req) != 0) return;
    if (ws_check_upgrade(req, &rt_server_limits(h->rt)->ws) != 0) return;
    auth_claims_t c;
    if (handlers_authenticate_any(req, &c) != 0 || handlers_ws_admit_user(req, &c) != 0) {
        auth_claims_dispose(&c);
        return;
    }
    rt_stream_accept(h->rt, req, &c);
}

/* ---- POST /v2/realtime/publish ------------------------------------------------------------------ */

typedef struct publish_s {
    http_req_t *req;
    hctx_t *h;
    rt_event_in_t ev;
    char type[RT_TYPE_MAX + 1];
    json_t *data;
    int64_t offset;
    int rc;
} publish_t;

static void publish_work(store_t *st, void *arg)
{
    (void)st;
    publish_t *p = arg;
    p->rc = rt_hub_publish(p->h->hub, &p->ev, &p->offset);
}

static void publish_done(void *arg, int status)
{
    publish_t *p = arg;
    if (status != 0) {
        http_respond_error(p->req, 503, "unavailable", "the server is shutting down");
    } else if (p->rc != 0) {
        http_respond_error(p->req, 503, "store_unavailable", "the event could not be stored");
    } else {
        int64_t head;
        char epoch[RT_EPOCH_LEN + 1];
        rt_hub_position(p->h->hub, p->ev.org_id, p->ev.service, &head, epoch);
        http_respond_json(p->req, 201,
                          json_pack("{s:s,s:I,s:s,s:I,s:s}", "service",
                                    rt_service_name(p->ev.service), "orgId",
                                    (json_int_t)p->ev.org_id, "type", p->type, "offset",
                                    (json_int_t)p->offset, "epoch", epoch));
    }
    json_decref(p->data);
    free(p);
}

void handlers_realtime_publish(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    auth_claims_t c;
    if (handlers_authenticate(req, &c) != 0) {
        auth_claims_dispose(&c);
        return;
    }
    unsigned publishers = ROLE_BIT(ROLE_SERVICE) | ROLE_BIT(ROLE_OWNER) | ROLE_BIT(ROLE_ADMIN);
    if (!handlers_require_role(req, &c, publishers, "publish events")) {
        auth_claims_dispose(&c);
        return;
    }
    json_t *body = http_req_json_object(req);
    if (body == NULL) {
        auth_claims_dispose(&c);
        return;
    }
    json_t *org = json_object_get(body, "orgId"), *svc = json_object_get(body, "service");
    json_t *type = json_object_get(body, "type"), *prop = json_object_get(body, "propertyId");
    json_t *data = json_object_get(body, "data");
    rt_service_t s;
    const char *err = NULL;
    int64_t org_id = c.org_id;
    if (org != NULL && (!json_is_integer(org) || json_integer_value(org) <= 0))
        err = "orgId: a positive integer";
    else if (org != NULL)
        org_id = json_integer_value(org);
    if (!err && (!json_is_string(svc) || rt_service_parse(json_string_value(svc), &s) != 0))
        err = "service: one of finance, guest, staff, tasks, properties, users, dashboard, "
              "branding, analytics, reports";
    if (!err && (!json_is_string(type) || !rt_event_type_valid(json_string_value(type))))
        err = "type: 1 to 64 characters of a-z, 0-9, '_' and '.'";
    if (!err && prop != NULL && !json_is_null(prop) &&
        (!json_is_integer(prop) || json_integer_value(prop) <= 0))
        err = "propertyId: a positive integer or null";
    if (!err && data != NULL && !json_is_object(data)) err = "data: a JSON object";
    if (err) {
        http_respond_error(req, 400, "invalid_field", "%s", err);
    } else if (c.role != ROLE_SERVICE && org_id != c.org_id) {
        /* Only machine publishers act across organisations. */
        http_respond_error(req, 403, "forbidden", "you may only publish to your organisation");
    } else {
        publish_t *p = xcalloc(1, sizeof *p);
        p->req = req;
        p->h = h;
        snprintf(p->type, sizeof p->type, "%s", json_string_value(type));
        p->data = data ? json_incref(data) : json_object();
        p->ev.org_id = org_id;
        p->ev.service = s;
        p->ev.type = p->type;
        p->ev.property_id = json_is_integer(prop) ? json_integer_value(prop) : 0;
        p->ev.data = p->data;
        int rc = store_submit(h->store, http_req_loop(req), publish_work, publish_done, p);
        if (rc != 0) publish_done(p, rc);
    }
    json_decref(body);
    auth_claims_dispose(&c);
}

/* ---- metrics ---------------------------------------------------------------------------------- */

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

void handlers_realtime_metrics(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    auth_claims_t c;
    if (handlers_authenticate(req, &c) != 0) {
        auth_claims_dispose(&c);
        return;
    }
    unsigned readers = ROLE_BIT(ROLE_OWNER) | ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_SERVICE);
    int ok = handlers_require_role(req, &c, readers, "read metrics");
    auth_claims_dispose(&c);
    if (!ok) return;
    rt_metrics_t *m = xcalloc(1, sizeof *m);
    rt_server_metrics(h->rt, m);
    json_t *by = json_object(), *pub = json_object();
    uint64_t delivered = 0;
    for (int s = 0; s < RT_SVC__COUNT; s++) {
        uint64_t d = atomic_load(&m->events_delivered[s]);
        delivered += d;
        json_object_set_new(by, rt_service_name((rt_service_t)s), json_integer((json_int_t)d));
        json_object_set_new(pub, rt_service_name((rt_service_t)s),
                            json_integer((json_int_t)atomic_load(&m->events_published[s])));
    }
    uint64_t n = atomic_load(&m->latency.count);
    double avg = n ? ms(atomic_load(&m->latency.sum_us)) / (double)n : 0.0;
    json_t *body = json_pack(
        "{s:I,s:I,s:I,s:o,s:o,s:f,s:{s:f,s:f,s:f,s:f},s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "activeConnections", (json_int_t)atomic_load(&m->connections), "connectionsTotal",
        (json_int_t)atomic_load(&m->connections_total), "eventsDelivered", (json_int_t)delivered,
        "eventsByService", by, "eventsPublishedByService", pub, "avgLatencyMs", avg,
        "latencyMs", "p50", ms(rt_hist_quantile(&m->latency, 0.50)), "p95",
        ms(rt_hist_quantile(&m->latency, 0.95)), "p99", ms(rt_hist_quantile(&m->latency, 0.99)),
        "max", ms(atomic_load(&m->latency.max_us)), "messagesOut",
        (json_int_t)atomic_load(&m->messages_out), "bytesOut",
        (json_int_t)atomic_load(&m->bytes_out), "messagesIn",
        (json_int_t)atomic_load(&m->messages_in), "resumes", (json_int_t)atomic_load(&m->resumes),
        "resets", (json_int_t)atomic_load(&m->resets), "slowConsumerCloses",
        (json_int_t)atomic_load(&m->slow_consumer_closes), "handshakesFailed",
        (json_int_t)atomic_load(&m->handshakes_failed));
    free(m);
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond_json(req, 200, body);
}

/* Prometheus text exposition format 0.0.4. Unauthenticated, like most scrape targets: it holds
 * counts only, never an organisation's data. */
void handlers_prometheus(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    rt_metrics_t *m = xcalloc(1, sizeof *m);
    rt_server_metrics(h->rt, m);
    buf_t b = BUF_INIT;
#define COUNTER(name, help, v)                                                                    \
    buf_appendf(&b, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n",         \
                (unsigned long long)(v))
#define GAUGE(name, help, v)                                                                      \
    buf_appendf(&b, "# HELP " name " " help "\n# TYPE " name " gauge\n" name " %lld\n",           \
                (long long)(v))
    GAUGE("bellhop_up", "1 while the store is reachable.", atomic_load(&h->store_ok));
    GAUGE("bellhop_stream_connections", "Open realtime stream connections.",
          atomic_load(&m->connections));
    COUNTER("bellhop_stream_connections_total", "Stream connections accepted.",
            atomic_load(&m->connections_total));
    COUNTER("bellhop_stream_handshake_failures_total", "Stream handshakes refused.",
            atomic_load(&m->handshakes_failed));
    COUNTER("bellhop_stream_messages_out_total", "WebSocket messages sent on streams.",
            atomic_load(&m->messages_out));
    COUNTER("bellhop_stream_bytes_out_total", "Bytes of stream messages sent.",
            atomic_load(&m->bytes_out));
    COUNTER("bellhop_stream_messages_in_total", "Messages received on streams.",
            atomic_load(&m->messages_in));
    COUNTER("bellhop_stream_resumes_total", "Subscriptions resumed with replay.",
            atomic_load(&m->resumes));
    COUNTER("bellhop_stream_resets_total", "Subscriptions answered with a reset.",
            atomic_load(&m->resets));
    COUNTER("bellhop_stream_slow_consumer_closes_total", "Streams closed as slow consumers.",
            atomic_load(&m->slow_consumer_closes));
    COUNTER("bellhop_stream_events_dropped_total", "Event copies not sent to closing streams.",
            atomic_load(&m->events_dropped));
    buf_appends(&b, "# HELP bellhop_events_published_total Events published, by service.\n"
                    "# TYPE bellhop_events_published_total counter\n");
    for (int s = 0; s < RT_SVC__COUNT; s++)
        buf_appendf(&b, "bellhop_events_published_total{service=\"%s\"} %llu\n",
                    rt_service_name((rt_service_t)s),
                    (unsigned long long)atomic_load(&m->events_published[s]));
    buf_appends(&b, "# HELP bellhop_events_delivered_total Event copies written to sockets.\n"
                    "# TYPE bellhop_events_delivered_total counter\n");
    for (int s = 0; s < RT_SVC__COUNT; s++)
        buf_appendf(&b, "bellhop_events_delivered_total{service=\"%s\"} %llu\n",
                    rt_service_name((rt_service_t)s),
                    (unsigned long long)atomic_load(&m->events_delivered[s]));
    /* The internal histogram is finer; fold it into conventional bounds. */
    static const double bounds_ms[] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
                                       5000};
    buf_appends(&b, "# HELP bellhop_delivery_latency_seconds Publish to socket write, per "
                    "delivered event.\n# TYPE bellhop_delivery_latency_seconds histogram\n");
    uint64_t cum = 0;
    int bi = 0;
    for (size_t k = 0; k < sizeof bounds_ms / sizeof bounds_ms[0]; k++) {
        uint64_t le_us = (uint64_t)(bounds_ms[k] * 1000);
        while (bi < RT_HIST_BUCKETS && rt_hist_bucket_upper(bi) <= le_us)
            cum += atomic_load(&m->latency.buckets[bi++]);
        buf_appendf(&b, "bellhop_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n",
                    bounds_ms[k] / 1000.0, (unsigned long long)cum);
    }
    buf_appendf(&b, "bellhop_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)atomic_load(&m->latency.count));
    buf_appendf(&b, "bellhop_delivery_latency_seconds_sum %.6f\n",
                (double)atomic_load(&m->latency.sum_us) / 1e6);
    buf_appendf(&b, "bellhop_delivery_latency_seconds_count %llu\n",
                (unsigned long long)atomic_load(&m->latency.count));
#undef COUNTER
#undef GAUGE
    free(m);
    size_t len;
    char *text = buf_steal(&b, &len);
    http_respond_owned(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
