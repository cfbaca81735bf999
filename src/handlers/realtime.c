/* realtime.c: the stream endpoint, the publish endpoint for other services, and metrics. */
#include "handlers/handlers.h"

#include "handlers/admit.h"
#include "net/limit.h"

#include "broker/broker.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "chat/chat.h"
#include "upload/upload.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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
    char key[STORE_IDEM_KEY_MAX + 1]; /* Idempotency-Key, "" when none */
    json_t *data;
    int64_t offset;
    int rc;
} publish_t;

/* 1 for an Idempotency-Key we accept: 1 to STORE_IDEM_KEY_MAX of [A-Za-z0-9._:-] (a UUID, a
 * ULID, "order-123:revenue"). */
static int idem_key_valid(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++) {
        char c = k[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= STORE_IDEM_KEY_MAX;
}

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
    } else if (p->rc == BH_EAGAIN) {
        /* Redis (the cross-node broker) is unreachable: nothing was acknowledged, retry. */
        http_resp_header(p->req, "Retry-After", "1");
        http_respond_error(p->req, 503, "broker_unavailable",
                           "the event broker is unreachable; the event was not acknowledged: retry");
    } else if (p->rc != 0 && p->rc != BH_EEXIST) {
        http_respond_error(p->req, 503, "store_unavailable", "the event could not be stored");
    } else {
        int64_t head;
        char epoch[RT_EPOCH_LEN + 1];
        rt_hub_position(p->h->hub, p->ev.org_id, p->ev.service, &head, epoch);
        json_t *j = json_pack("{s:s,s:I,s:s,s:I,s:s}", "service", rt_service_name(p->ev.service),
                              "orgId", (json_int_t)p->ev.org_id, "type", p->type, "offset",
                              (json_int_t)p->offset, "epoch", epoch);
        /* A retry of a publish already in the history: the original's offset, nothing new. */
        if (p->rc == BH_EEXIST) {
            json_object_set_new(j, "duplicate", json_true());
            http_resp_header(p->req, "Idempotent-Replayed", "true");
        }
        http_respond_json(p->req, p->rc == BH_EEXIST ? 200 : 201, j);
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
    const char *key = http_req_header(req, "idempotency-key");
    if (!err && key != NULL && !idem_key_valid(key))
        err = "Idempotency-Key: 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'";
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
        if (key) {
            snprintf(p->key, sizeof p->key, "%s", key);
            p->ev.idem_key = p->key;
        }
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

/* The cross-node broker's state and counters (docs/ARCHITECTURE.md, "Scale-out"). */
static json_t *broker_json(rt_hub_t *hub)
{
    broker_t *bk = hub ? rt_hub_broker(hub) : NULL;
    broker_stats_t st;
    if (bk) broker_stats(bk, &st);
    else memset(&st, 0, sizeof st);
    return json_pack("{s:s,s:s,s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "backend",
                     bk ? broker_name(bk) : "local", "state", broker_state_name(st.state),
                     "synced", st.synced || st.state == BROKER_STATE_LOCAL, "reason", st.reason,
                     "stateSinceMs", (json_int_t)st.state_since_ms, "published",
                     (json_int_t)st.published, "publishFailed", (json_int_t)st.publish_failed,
                     "received", (json_int_t)st.received,
                     "gaps", (json_int_t)st.gaps, "fills", (json_int_t)st.fills, "filled",
                     (json_int_t)st.filled, "reconnects", (json_int_t)st.reconnects, "busSent",
                     (json_int_t)st.bus_sent, "busReceived", (json_int_t)st.bus_received);
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
    json_object_set_new(body, "broker", broker_json(h->hub));
    free(m);
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond_json(req, 200, body);
}

static void prom_counter(buf_t *b, const char *name, const char *help, uint64_t v)
{
    rt_prom_family(b, name, "counter", help);
    buf_appendf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void prom_gauge(buf_t *b, const char *name, const char *help, double v)
{
    rt_prom_family(b, name, "gauge", help);
    buf_appendf(b, "%s %.17g\n", name, v);
}

static void prom_chat(buf_t *b, chat_server_t *chat)
{
    chat_metrics_t *m = xcalloc(1, sizeof *m);
    chat_totals_t t;
    chat_server_metrics(chat, m, &t);
    prom_gauge(b, "bellhop_chat_connections", "Open chat connections.",
               (double)atomic_load(&m->connections));
    prom_counter(b, "bellhop_chat_connections_total", "Chat connections accepted.",
                 atomic_load(&m->connections_total));
    prom_counter(b, "bellhop_chat_messages_in_total", "Client messages received on chat streams.",
                 atomic_load(&m->messages_in));
    prom_counter(b, "bellhop_chat_messages_out_total", "Server messages sent on chat streams.",
                 atomic_load(&m->messages_out));
    prom_counter(b, "bellhop_chat_bytes_out_total", "Bytes of chat messages sent.",
                 atomic_load(&m->bytes_out));
    prom_counter(b, "bellhop_chat_deliveries_total",
                 "Chat messages written to members' sockets (acks included).",
                 atomic_load(&m->deliveries));
    prom_counter(b, "bellhop_chat_rate_limited_total", "Chat messages refused by the rate limit.",
                 atomic_load(&m->rate_limited));
    prom_counter(b, "bellhop_chat_slow_consumer_closes_total",
                 "Chat connections closed as slow consumers.",
                 atomic_load(&m->slow_consumer_closes));
    prom_counter(b, "bellhop_chat_messages_stored_total", "Chat messages persisted.", t.stored);
    prom_counter(b, "bellhop_chat_writer_batches_total", "Chat writer transactions.", t.batches);
    prom_counter(b, "bellhop_chat_store_errors_total", "Failed chat writer transactions.",
                 t.store_errors);
    rt_prom_hist(b, "bellhop_chat_latency_seconds",
                 "Chat message arrival to write to a member's socket.", &m->latency);
    free(m);
}

static void prom_uploads(buf_t *b, upload_srv_t *up)
{
    upload_stats_t u;
    upload_srv_stats(up, &u);
    prom_gauge(b, "bellhop_uploads_active", "Uploads being written now.", (double)u.writers);
    prom_counter(b, "bellhop_uploads_started_total", "Uploads created.", u.created);
    prom_counter(b, "bellhop_upload_bytes_total", "Bytes written to upload files.", u.bytes);
    prom_counter(b, "bellhop_uploads_completed_total", "Uploads verified and stored as documents.",
                 u.completed);
    rt_prom_family(b, "bellhop_uploads_rejected_total", "counter",
                   "Uploads discarded at completion, by reason.");
    buf_appendf(b,
                "bellhop_uploads_rejected_total{reason=\"size_mismatch\"} %llu\n"
                "bellhop_uploads_rejected_total{reason=\"checksum_mismatch\"} %llu\n"
                "bellhop_uploads_rejected_total{reason=\"type_mismatch\"} %llu\n",
                (unsigned long long)u.rejected_size, (unsigned long long)u.rejected_checksum,
                (unsigned long long)u.rejected_type);
    prom_counter(b, "bellhop_uploads_cancelled_total", "Uploads deleted by their client.",
                 u.cancelled);
    prom_counter(b, "bellhop_uploads_expired_total", "Uploads deleted by the expiry sweep.",
                 u.expired);
}

static void prom_broker(buf_t *b, rt_hub_t *hub)
{
    broker_t *bk = rt_hub_broker(hub);
    if (bk == NULL) return;
    broker_stats_t st;
    broker_stats(bk, &st);
    rt_prom_family(b, "bellhop_broker_up", "gauge",
                   "1 while the cross-node broker is usable (always 1 in-process).");
    buf_appendf(b, "bellhop_broker_up{backend=\"%s\"} %d\n", broker_name(bk),
                st.state == BROKER_STATE_LOCAL || st.state == BROKER_STATE_UP);
    prom_counter(b, "bellhop_broker_published_total", "Events published through the broker.",
                 st.published);
    prom_counter(b, "bellhop_broker_publish_failures_total",
                 "Publishes refused (503) because the broker was unreachable or slow.",
                 st.publish_failed);
    prom_counter(b, "bellhop_broker_received_total", "Event notifications received.", st.received);
    prom_counter(b, "bellhop_broker_gaps_total", "Gaps detected in the notifications.", st.gaps);
    prom_counter(b, "bellhop_broker_fills_total", "History fills from the broker (gaps, resyncs).",
                 st.fills);
    prom_counter(b, "bellhop_broker_filled_events_total", "Events recovered by fills.", st.filled);
    prom_counter(b, "bellhop_broker_reconnects_total", "Broker connections re-established.",
                 st.reconnects);
    prom_counter(b, "bellhop_broker_bus_sent_total",
                 "Messages sent to the other nodes (chat fan-out, presence).", st.bus_sent);
    prom_counter(b, "bellhop_broker_bus_received_total", "Messages received from other nodes.",
                 st.bus_received);
}

/* The usual process_* families (as client libraries export them), for sizing against limits.
 * Reads /proc, which never waits on a disk. */
static void prom_process(buf_t *b, const hctx_t *h)
{
    prom_gauge(b, "process_start_time_seconds", "Start time of the process, Unix seconds.",
               (double)h->started_ms / 1000.0);
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages_total = 0, pages_rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &pages_total, &pages_rss) != 2) pages_rss = 0;
        fclose(f);
        prom_gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
                   (double)pages_rss * (double)sysconf(_SC_PAGESIZE));
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        while (readdir(d) != NULL) n++;
        closedir(d);
        /* ".", ".." and the descriptor of d itself. */
        prom_gauge(b, "process_open_fds", "Open file descriptors.", (double)(n > 3 ? n - 3 : 0));
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        prom_gauge(b, "process_max_fds", "Limit of open file descriptors.",
                   rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double)rl.rlim_cur);
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
    COUNTER("bellhop_stream_events_joined_total",
            "Events that joined a fan-out round already under way (sent at once to the "
            "subscribers it had not reached).",
            atomic_load(&m->events_joined));
    GAUGE("bellhop_polls_held", "Long-polls waiting for events.", atomic_load(&m->polls_held));
    COUNTER("bellhop_poll_requests_total", "Long-polls answered (with events, or none at timeout).",
            atomic_load(&m->polls_answered));
    COUNTER("bellhop_poll_events_total", "Events sent in long-poll answers.",
            atomic_load(&m->poll_events));
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
    rt_prom_hist(&b, "bellhop_delivery_latency_seconds",
                 "Publish to socket write, per delivered event.", &m->latency);
    if (h->chat) prom_chat(&b, h->chat);
    if (h->uploads) prom_uploads(&b, h->uploads);
    if (h->hub) prom_broker(&b, h->hub);
    prom_process(&b, h);
    /* Admission limits (net/limit.h): process-wide. */
    GAUGE("bellhop_connections", "Open TCP connections, every kind, all workers.",
          net_limit_conn_total());
    GAUGE("bellhop_outbuf_bytes", "Bytes queued for clients, all workers (BELLHOP_OUTBUF_BUDGET).",
          net_limit_outbuf_total());
    buf_appends(&b, "# HELP bellhop_limit_refusals_total Connections refused or closed by a limit.\n"
                    "# TYPE bellhop_limit_refusals_total counter\n");
    for (int e = 0; e < NET_LIMIT__COUNT; e++)
        buf_appendf(&b, "bellhop_limit_refusals_total{limit=\"%s\"} %llu\n",
                    net_limit_event_name((net_limit_event_t)e),
                    (unsigned long long)net_limit_count((net_limit_event_t)e));
#undef COUNTER
#undef GAUGE
    free(m);
    size_t len;
    char *text = buf_steal(&b, &len);
    http_respond_owned(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
