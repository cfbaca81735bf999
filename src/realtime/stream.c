/* stream.c: sessions of the unified realtime stream, and per-worker fan-out. */
#include "realtime/stream.h"
#include "realtime/stream_int.h"

#include "auth/jwt.h"
#include "core/alloc.h"
#include "core/blob.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/queue.h"
#include "ws/frame.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ws_handler_t stream_handler;

/* ---- the per-worker subscription index ----------------------------------------------------------- */

org_subs_t *rt__org_find(rt_worker_t *rw, int64_t org, int create)
{
    size_t h = (size_t)((uint64_t)org * 0x9E3779B97F4A7C15ull >> 40) & (rw->n_buckets - 1);
    org_subs_t *o = rw->buckets[h];
    while (o && o->org_id != org) o = o->next;
    if (o || !create) return o;
    o = xcalloc(1, sizeof *o);
    o->org_id = org;
    for (int s = 0; s < RT_SVC__COUNT; s++) {
        queue_init(&o->subs[s]);
        queue_init(&o->polls[s]);
    }
    o->next = rw->buckets[h];
    rw->buckets[h] = o;
    if (++rw->n_orgs > rw->n_buckets * 2) {
        size_t n = rw->n_buckets * 4;
        org_subs_t **b = xcalloc(n, sizeof *b);
        for (size_t i = 0; i < rw->n_buckets; i++) {
            for (org_subs_t *x = rw->buckets[i], *next; x; x = next) {
                next = x->next;
                size_t k = (size_t)((uint64_t)x->org_id * 0x9E3779B97F4A7C15ull >> 40) & (n - 1);
                x->next = b[k];
                b[k] = x;
            }
        }
        free(rw->buckets);
        rw->buckets = b;
        rw->n_buckets = n;
    }
    return o;
}

static void sub_add(session_t *s, rt_service_t svc, int64_t delivered)
{
    sub_t *sub = &s->subs[svc];
    sub->delivered = delivered;
    sub->sess = s;
    if (sub->active) return;
    org_subs_t *o = rt__org_find(s->rw, s->org_id, 1);
    queue_insert_tail(&o->subs[svc], &sub->node);
    o->n++;
    sub->active = 1;
}

static void sub_remove(session_t *s, rt_service_t svc)
{
    sub_t *sub = &s->subs[svc];
    if (!sub->active) return;
    queue_remove(&sub->node);
    sub->active = 0;
    org_subs_t *o = rt__org_find(s->rw, s->org_id, 0);
    if (o) o->n--;
}

/* ---- sending --------------------------------------------------------------------------------------- */

static int session_allows(const session_t *s, int64_t property_id)
{
    if (property_id == 0 || s->all_properties) return 1;
    for (size_t i = 0; i < s->n_properties; i++)
        if (s->property_ids[i] == property_id) return 1;
    return 0;
}

static void count_out(session_t *s, size_t bytes)
{
    RT_INC(s->rw->m.messages_out, 1);
    RT_INC(s->rw->m.bytes_out, bytes);
}

/* Sends a JSON control message, adding "seq". Steals msg. */
static void send_json(session_t *s, json_t *msg)
{
    json_object_set_new(msg, "seq", json_integer((json_int_t)s->seq++));
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text == NULL) return;
    size_t len = strlen(text);
    if (ws_send(s->ws, 1, text, len) == 0) count_out(s, len);
    free(text);
}

static void send_error(session_t *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void send_error(session_t *s, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    send_json(s, json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", msg));
}

static void fail(session_t *s, int close_code, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(session_t *s, int close_code, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->state == SESS_HANDSHAKE) RT_INC(s->rw->m.handshakes_failed, 1);
    send_json(s, json_pack("{s:s,s:s,s:s,s:i}", "type", "error", "code", code, "message", msg,
                           "closeCode", close_code));
    ws_conn_close(s->ws, close_code, code);
}

/* Encodes the shared body of an events message for the events of chunk selected by mask:
 *   "service":"finance","events":[{...},{...}]}
 * The per-connection prefix {"type":"events","seq":N, completes it. */
static blob_t *encode_body(rt_service_t svc, rt_event_t *const *chunk, size_t n, uint64_t mask)
{
    size_t len = 32 + strlen(rt_service_name(svc));
    for (size_t k = 0; k < n; k++)
        if (mask >> k & 1) len += chunk[k]->json_len + 1;
    blob_t *b = blob_new(len);
    int w = snprintf(b->data, len, "\"service\":\"%s\",\"events\":[", rt_service_name(svc));
    size_t o = (size_t)w;
    int first = 1;
    for (size_t k = 0; k < n; k++) {
        if (!(mask >> k & 1)) continue;
        if (!first) b->data[o++] = ',';
        first = 0;
        memcpy(b->data + o, chunk[k]->json, chunk[k]->json_len);
        o += chunk[k]->json_len;
    }
    b->data[o++] = ']';
    b->data[o++] = '}';
    b->len = o;
    return b;
}

static blob_t *cached_body(body_cache_t *c, rt_service_t svc, rt_event_t *const *chunk, size_t n,
                           uint64_t mask, int *fresh)
{
    for (int i = 0; i < c->n; i++)
        if (c->mask[i] == mask) return c->blob[i];
    blob_t *b = encode_body(svc, chunk, n, mask);
    if (c->n < 8) {
        c->mask[c->n] = mask;
        c->blob[c->n++] = b;
        *fresh = 0;
    } else {
        *fresh = 1; /* not cached: the caller drops it after use */
    }
    return b;
}

static void cache_clear(body_cache_t *c)
{
    for (int i = 0; i < c->n; i++) blob_unref(c->blob[i]);
    c->n = 0;
}

/* What a fan-out pass wrote, added to the worker's metrics once per group of connections rather
 * than per connection: the clock is read and the latency histogram touched once per group (the
 * connections of a group are written within microseconds of each other). */
typedef struct fan_acc_s {
    uint64_t msgs, bytes, dropped;
    uint32_t copies[RT_BATCH_MAX]; /* of chunk[k] */
} fan_acc_t;

static void acc_flush(rt_worker_t *rw, fan_acc_t *a, rt_service_t svc, rt_event_t *const *chunk,
                      size_t n)
{
    uint64_t now = clock_mono_ns(), total = 0;
    for (size_t k = 0; k < n; k++) {
        if (a->copies[k] == 0) continue;
        if (chunk[k]->pub_ns && now > chunk[k]->pub_ns)
            rt_hist_record_n(&rw->m.latency, (now - chunk[k]->pub_ns) / 1000, a->copies[k]);
        total += a->copies[k];
        a->copies[k] = 0;
    }
    RT_INC(rw->m.events_delivered[svc], total);
    RT_INC(rw->m.messages_out, a->msgs);
    RT_INC(rw->m.bytes_out, a->bytes);
    RT_INC(rw->m.events_dropped, a->dropped);
    a->msgs = a->bytes = a->dropped = 0;
}

/* Writes the per-connection start of an events message, {"type":"events","seq":N, into out
 * (>= 48 bytes); returns its length. (snprintf cost more than the rest of a delivery's user
 * time.) */
static size_t events_prefix(char *out, uint64_t seq)
{
    static const char head[] = "{\"type\":\"events\",\"seq\":";
    size_t o = sizeof head - 1;
    memcpy(out, head, o);
    char d[20];
    int k = 0;
    do {
        d[k++] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq);
    while (k) out[o++] = d[--k];
    out[o++] = ',';
    return o;
}

/* Sends the events of chunk[0..n) (one stream, ascending offsets) that s has not had and may see,
 * counting into acc. Returns 1 if s was closed as a slow consumer. */
static int send_chunk(session_t *s, rt_service_t svc, rt_event_t *const *chunk, size_t n,
                      body_cache_t *cache, fan_acc_t *acc)
{
    sub_t *sub = &s->subs[svc];
    uint64_t mask = 0;
    for (size_t k = 0; k < n; k++)
        if (chunk[k]->offset > sub->delivered && session_allows(s, chunk[k]->property_id))
            mask |= 1ull << k;
    if (n) sub->delivered = chunk[n - 1]->offset > sub->delivered ? chunk[n - 1]->offset
                                                                  : sub->delivered;
    if (mask == 0) return 0;
    int fresh = 0;
    blob_t *body = cached_body(cache, svc, chunk, n, mask, &fresh);
    char prefix[48];
    size_t pl = events_prefix(prefix, s->seq++);
    int rc = ws_send_shared(s->ws, prefix, pl, body);
    if (rc == 0) {
        acc->msgs++;
        acc->bytes += pl + body->len;
        for (uint64_t m = mask; m; m &= m - 1) acc->copies[__builtin_ctzll(m)]++;
    }
    if (fresh) blob_unref(body);
    if (rc == UV_ECANCELED) { /* closing already (counted then, if slow): it resumes from its offsets */
        acc->dropped += (uint64_t)__builtin_popcountll(mask);
        return 0;
    }
    if (ws_conn_is_slow(s->ws)) {
        RT_INC(s->rw->m.slow_consumer_closes, 1);
        LOG_I("slow_consumer", "conn=%s peer=%s outbuf=%zu", s->id, ws_conn_peer(s->ws),
              ws_conn_outbuf(s->ws));
        ws_conn_close(s->ws, RT_CLOSE_SLOW_CONSUMER, "slow consumer: resume from your offsets");
        return 1;
    }
    return 0;
}

/* ---- fan-out of published events --------------------------------------------------------------------- */

/* Loop time one fan-out pass may take before the loop polls its other sockets again. Everything
 * else on the loop waits meanwhile: a publisher's HTTP answer, the next events, pings. Measured
 * (docs/BENCHMARKS.md, max1k): 3 ms slices held a closed-loop publisher to ~0.6M deliveries/s,
 * 0.25 ms slices let it reach ~1.1M; the extra loop passes cost one non-blocking epoll_wait each. */
#define RT_SLICE_NS (250 * 1000)
#define RT_SLICE_CHECK 16 /* connections written between looks at the clock */

static void on_idle(uv_idle_t *h)
{
    (void)h; /* its presence alone keeps the poll phase from blocking */
}

/* Sends rw's current chunk to the subscribers of its stream, from the cursor if a previous slice
 * stopped there. Returns 1 when every subscriber had it, 0 when the slice ran out (the cursor
 * then sits before the next subscriber). Subscribers that join meanwhile are appended and reached
 * too; they skip what they already have by offset. */
static int fan_out_slice(rt_worker_t *rw, uint64_t deadline)
{
    rt_event_t *const *chunk = rw->chunk;
    size_t n = rw->n_chunk;
    org_subs_t *o = rt__org_find(rw, chunk[0]->org_id, 0);
    if (o == NULL) return 1;
    rt_service_t svc = chunk[0]->service;
    queue_t *head = &o->subs[svc];
    queue_t *q = head->next;
    if (rw->cursor_linked) {
        q = rw->cursor.node.next;
        queue_remove(&rw->cursor.node);
        rw->cursor_linked = 0;
    }
    unsigned k = 0;
    fan_acc_t acc = {0};
    while (q != head) {
        sub_t *sub = QUEUE_DATA(q, sub_t, node);
        q = q->next;
        if (sub->sess == NULL) continue;
        send_chunk(sub->sess, svc, chunk, n, &rw->cache, &acc);
        if (++k % RT_SLICE_CHECK == 0) {
            acc_flush(rw, &acc, svc, chunk, n);
            if (q != head && uv_hrtime() > deadline) {
                queue_insert_tail(q, &rw->cursor.node); /* i.e. just before q */
                rw->cursor_linked = 1;
                return 0;
            }
        }
    }
    acc_flush(rw, &acc, svc, chunk, n);
    return 1;
}

/* Takes the next chunk from the pending events: the oldest one's stream, with the later events
 * of the same stream in order, at most RT_BATCH_MAX. Returns 0 when nothing is pending. */
static int take_chunk(rt_worker_t *rw)
{
    while (rw->pend_head < rw->n_pending && rw->pending[rw->pend_head] == NULL) rw->pend_head++;
    if (rw->pend_head == rw->n_pending) {
        rw->pend_head = rw->n_pending = 0;
        return 0;
    }
    rt_event_t *first = rw->pending[rw->pend_head];
    size_t c = 0;
    for (size_t j = rw->pend_head; j < rw->n_pending && c < RT_BATCH_MAX; j++) {
        rt_event_t *e = rw->pending[j];
        if (e == NULL || e->org_id != first->org_id || e->service != first->service) continue;
        rw->chunk[c++] = e;
        rw->pending[j] = NULL;
    }
    rw->n_chunk = c;
    return 1;
}

/* Newer events of the chunk's stream join it while a round is under way (up to RT_BATCH_MAX), if
 * they are the oldest pending (other streams are not overtaken): the subscribers the round has
 * not reached yet get them in the same write instead of waiting a whole round, and those it
 * passed get them in the next round (a round over a large audience takes as long as several
 * events' interval). A chunk only grows at its end, so the cached bodies stay valid. */
static void extend_chunk(rt_worker_t *rw)
{
    rt_event_t *first = rw->chunk[0];
    while (rw->n_chunk < RT_BATCH_MAX && rw->pend_head < rw->n_pending) {
        rt_event_t *e = rw->pending[rw->pend_head];
        if (e != NULL && (e->org_id != first->org_id || e->service != first->service)) break;
        if (e != NULL) rw->chunk[rw->n_chunk++] = e;
        rw->pending[rw->pend_head++] = NULL;
    }
    if (rw->pend_head == rw->n_pending) rw->pend_head = rw->n_pending = 0;
}

/* A round is over: chunk[0..n_round) has been offered to every subscriber (long-polls are woken
 * and the references dropped); what joined mid-round stays as the next round's chunk. */
static void finish_round(rt_worker_t *rw)
{
    size_t done = rw->n_round, rest = rw->n_chunk - done;
    cache_clear(&rw->cache);
    if (done) rt__poll_wake(rw, rw->chunk, done);
    for (size_t k = 0; k < done; k++) rt_event_unref(rw->chunk[k]);
    memmove(rw->chunk, rw->chunk + done, rest * sizeof *rw->chunk);
    rw->n_chunk = rest;
    rw->n_round = 0;
}

static void on_flush(uv_check_t *h)
{
    rt_worker_t *rw = h->data;
    uint64_t deadline = uv_hrtime() + RT_SLICE_NS;
    for (;;) {
        if (rw->n_chunk == 0 && !take_chunk(rw)) break;
        size_t before = rw->n_chunk;
        extend_chunk(rw);
        if (!rw->cursor_linked) /* a round starts */
            rw->n_round = rw->n_chunk;
        else
            RT_INC(rw->m.events_joined, rw->n_chunk - before);
        if (!fan_out_slice(rw, deadline)) break;
        finish_round(rw);
        if (uv_hrtime() > deadline) break;
    }
    if (rw->n_chunk == 0 && rw->pend_head == rw->n_pending) {
        uv_check_stop(&rw->flush);
        uv_idle_stop(&rw->idle);
        rw->flush_active = 0;
    } else {
        /* More to send: go round the loop (polling I/O without blocking) and continue. */
        uv_idle_start(&rw->idle, on_idle);
    }
}

static void on_event_task(net_worker_t *w, void *data)
{
    rt_worker_t *rw = w->ext;
    rt_event_t *ev = data;
    if (rw->stopping) {
        rt_event_unref(ev);
        return;
    }
    if (rw->n_pending == rw->cap_pending) {
        rw->cap_pending = rw->cap_pending ? rw->cap_pending * 2 : 64;
        rw->pending = xrealloc(rw->pending, rw->cap_pending * sizeof *rw->pending);
    }
    rw->pending[rw->n_pending++] = ev;
    /* Fan out once this loop pass has taken in everything that arrived: events published
     * together leave together, one message per stream and connection. */
    if (!rw->flush_active) {
        uv_check_start(&rw->flush, on_flush);
        rw->flush_active = 1;
    }
}

/* The hub's sink: one reference per worker, then the hub's own is dropped. */
static void on_published(void *data, rt_event_t *ev)
{
    rt_server_t *srv = data;
    atomic_fetch_add_explicit(&srv->published[ev->service], 1, memory_order_relaxed);
    for (int i = 0; i < srv->n_workers; i++) {
        rt_event_t *ref = rt_event_ref(ev);
        if (net_worker_post(srv->rw[i].w, on_event_task, ref) != 0) rt_event_unref(ref);
    }
    rt_event_unref(ev);
}

/* ---- sessions ------------------------------------------------------------------------------------------- */

static void session_free(session_t *s)
{
    for (int svc = 0; svc < RT_SVC__COUNT; svc++) sub_remove(s, (rt_service_t)svc);
    queue_remove(&s->node);
    free(s->property_ids);
    free(s);
}

/* The positions answered in an ack; heads[i] gets the offset reported for svcs[i]. */
static json_t *positions_json(session_t *s, const rt_service_t *svcs, size_t n, int64_t *heads)
{
    json_t *pos = json_object();
    for (size_t i = 0; i < n; i++) {
        char epoch[RT_EPOCH_LEN + 1];
        rt_hub_position(s->rw->srv->hub, s->org_id, svcs[i], &heads[i], epoch);
        json_object_set_new(pos, rt_service_name(svcs[i]),
                            json_pack("{s:I,s:s}", "offset", (json_int_t)heads[i], "epoch", epoch));
    }
    return pos;
}

/* Subscribes s to svc, replaying from a resume position if given, or starting live after
 * `acked`, the head the answer reported: reading the head again here would skip an event
 * published between the answer and now (the client may already have caused it). */
static void subscribe(session_t *s, rt_service_t svc, json_t *resume, int64_t acked)
{
    rt_server_t *srv = s->rw->srv;
    if (resume == NULL) {
        sub_add(s, svc, acked);
        return;
    }
    const char *epoch = json_string_value(json_object_get(resume, "epoch"));
    int64_t after = json_integer_value(json_object_get(resume, "offset"));
    rt_event_t **ev = NULL;
    size_t n = 0;
    int more = 0;
    int64_t head = 0;
    rt_since_t r = rt_hub_since(srv->hub, s->org_id, svc, epoch, after, srv->lim.replay_max, &ev,
                                &n, &more, &head);
    if (r == RT_SINCE_OK && more) r = RT_SINCE_TOO_OLD; /* more than we replay: refetch instead */
    if (r != RT_SINCE_OK) {
        for (size_t i = 0; i < n; i++) rt_event_unref(ev[i]);
        free(ev);
        char cur[RT_EPOCH_LEN + 1];
        rt_hub_position(srv->hub, s->org_id, svc, &head, cur);
        sub_add(s, svc, head);
        RT_INC(s->rw->m.resets, 1);
        const char *reason = r == RT_SINCE_EPOCH      ? "epoch_changed"
                             : r == RT_SINCE_FUTURE ? "offset_ahead"
                                                    : "history_window_exceeded";
        send_json(s, json_pack("{s:s,s:s,s:s,s:I,s:s}", "type", "reset", "service",
                               rt_service_name(svc), "epoch", cur, "offset", (json_int_t)head,
                               "reason", reason));
        return;
    }
    RT_INC(s->rw->m.resumes, 1);
    sub_add(s, svc, after);
    body_cache_t cache = {.n = 0};
    fan_acc_t acc = {0};
    for (size_t i = 0; i < n; i += RT_BATCH_MAX) {
        size_t c = n - i < RT_BATCH_MAX ? n - i : RT_BATCH_MAX;
        send_chunk(s, svc, ev + i, c, &cache, &acc);
        acc_flush(s->rw, &acc, svc, ev + i, c);
        cache_clear(&cache);
    }
    for (size_t i = 0; i < n; i++) rt_event_unref(ev[i]);
    free(ev);
}

/* Parses "services" into svcs; answers and closes on error. Returns the count or -1. */
static int parse_services(session_t *s, json_t *arr, rt_service_t *svcs)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > RT_SVC__COUNT) {
        fail(s, RT_CLOSE_INVALID, "invalid_handshake",
             "\"services\" must be a non-empty array of at most %d service names", RT_SVC__COUNT);
        return -1;
    }
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        rt_service_t svc;
        if (!json_is_string(v)) {
            fail(s, RT_CLOSE_INVALID, "invalid_handshake", "services[%zu] is not a string", i);
            return -1;
        }
        if (rt_service_parse(json_string_value(v), &svc) != 0) {
            fail(s, RT_CLOSE_UNKNOWN_SERVICE, "unknown_service",
                 "unknown service '%.64s'; known: finance, guest, staff, tasks, properties, "
                 "users, dashboard, branding, analytics, reports",
                 json_string_value(v));
            return -1;
        }
        if (!rt_policy_allows(&s->rw->srv->policy, svc, s->role)) {
            fail(s, RT_CLOSE_FORBIDDEN, "service_forbidden", "role %s may not read %s",
                 auth_role_name(s->role), rt_service_name(svc));
            return -1;
        }
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= svcs[k] == svc;
        if (!dup) svcs[n++] = svc;
    }
    return n;
}

/* Checks the "resume" object: {service: {offset: int >= 0, epoch: string}}. */
static int check_resume(session_t *s, json_t *resume)
{
    if (resume == NULL) return 0;
    if (!json_is_object(resume)) {
        fail(s, RT_CLOSE_INVALID, "invalid_handshake", "\"resume\" must be an object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(resume, key, v)
    {
        rt_service_t svc;
        json_t *off = json_object_get(v, "offset"), *ep = json_object_get(v, "epoch");
        if (rt_service_parse(key, &svc) != 0 || !json_is_object(v) || !json_is_integer(off) ||
            json_integer_value(off) < 0 || (ep && !json_is_string(ep))) {
            fail(s, RT_CLOSE_INVALID, "invalid_handshake",
                 "resume.%.32s must be {\"offset\": integer >= 0, \"epoch\": string}", key);
            return -1;
        }
    }
    return 0;
}

/* {"transport":"polling","url":"/v1/realtime/<svc>/poll","offset":N,"epoch":"..."}: where and
 * from what position to continue a service by long-polling. */
static json_t *fallback_json(session_t *s, rt_service_t svc, int64_t offset,
                             const char *client_epoch)
{
    int64_t head;
    char epoch[RT_EPOCH_LEN + 1], url[64];
    rt_hub_position(s->rw->srv->hub, s->org_id, svc, &head, epoch);
    /* A resume position belongs to the epoch it came with: hand that epoch back, so that the
     * poll answers epoch_changed instead of silently continuing in another history. */
    if (offset >= 0 && client_epoch && *client_epoch) snprintf(epoch, sizeof epoch, "%.16s", client_epoch);
    snprintf(url, sizeof url, "/v1/realtime/%s/poll", rt_service_name(svc));
    return json_pack("{s:s,s:s,s:I,s:s}", "transport", "polling", "url", url, "offset",
                     (json_int_t)(offset >= 0 ? offset : head), "epoch", epoch);
}

/* Refuses streaming to a user the flags send to polling (close 4503). fb lists the services and
 * the offsets to poll from (stolen). */
static void refuse_streaming(session_t *s, json_t *fb)
{
    if (s->state == SESS_HANDSHAKE) RT_INC(s->rw->m.handshakes_failed, 1);
    send_json(s, json_pack("{s:s,s:s,s:s,s:i,s:o}", "type", "error", "code",
                           "fallback_to_polling", "message",
                           "streaming is turned off for you: continue with long-polling from "
                           "the given offsets",
                           "closeCode", RT_CLOSE_FALLBACK, "fallback", fb));
    ws_conn_close(s->ws, RT_CLOSE_FALLBACK, "fallback_to_polling");
}

static void do_subscribe(session_t *s, json_t *msg, int handshake)
{
    rt_service_t svcs[RT_SVC__COUNT];
    int n = parse_services(s, json_object_get(msg, "services"), svcs);
    if (n < 0) return;
    json_t *resume = json_object_get(msg, "resume");
    if (check_resume(s, resume) != 0) return;
    /* Feature flags: the user may not stream at all, or some services are back on polling. */
    rt_flag_values_t fv;
    rt_flags_snapshot(s->rw->srv->flags, &fv);
    json_t *fb = json_object();
    int streamed = 0;
    int user_streams = rt_flags_user_streams(&fv, s->org_id, s->user_id);
    for (int i = 0; i < n; i++) {
        if (user_streams && rt_flags_service_streams(&fv, s->org_id, s->user_id, svcs[i])) {
            svcs[streamed++] = svcs[i];
            continue;
        }
        json_t *pos = resume ? json_object_get(resume, rt_service_name(svcs[i])) : NULL;
        json_t *r = json_object_get(pos, "offset");
        json_object_set_new(fb, rt_service_name(svcs[i]),
                            fallback_json(s, svcs[i], r ? json_integer_value(r) : -1,
                                          json_string_value(json_object_get(pos, "epoch"))));
    }
    if (streamed == 0) {
        refuse_streaming(s, fb);
        return;
    }
    n = streamed;
    json_t *names = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(names, json_string(rt_service_name(svcs[i])));
    char ts[32];
    clock_iso8601(ts, sizeof ts);
    /* The answer goes first, with positions as of now; replays and resets follow in order. */
    json_t *ack;
    int64_t heads[RT_SVC__COUNT];
    if (handshake) {
        ack = json_pack("{s:s,s:s,s:i,s:s,s:o,s:o,s:i}", "type", "ack", "timestamp", ts,
                        "version", RT_PROTOCOL_VERSION, "connectionId", s->id, "services", names,
                        "positions", positions_json(s, svcs, (size_t)n, heads), "heartbeatMs",
                        (int)s->rw->srv->lim.ws.heartbeat_ms);
    } else {
        ack = json_pack("{s:s,s:s,s:o,s:o}", "type", "subscribed", "timestamp", ts, "services",
                        names, "positions", positions_json(s, svcs, (size_t)n, heads));
    }
    if (json_object_size(fb)) json_object_set(ack, "fallback", fb);
    json_decref(fb);
    send_json(s, ack);
    if (handshake) {
        s->state = SESS_ACTIVE;
        ws_conn_set_deadline(s->ws, 0);
    }
    for (int i = 0; i < n; i++)
        subscribe(s, svcs[i], resume ? json_object_get(resume, rt_service_name(svcs[i])) : NULL,
                  heads[i]);
}

static void do_unsubscribe(session_t *s, json_t *msg)
{
    json_t *arr = json_object_get(msg, "services");
    if (!json_is_array(arr)) {
        send_error(s, "invalid_message", "\"services\" must be an array of service names");
        return;
    }
    json_t *names = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        rt_service_t svc;
        if (!json_is_string(v) || rt_service_parse(json_string_value(v), &svc) != 0) {
            json_decref(names);
            send_error(s, "unknown_service", "services[%zu] is not a known service", i);
            return;
        }
        sub_remove(s, svc);
        json_array_append_new(names, json_string(rt_service_name(svc)));
    }
    send_json(s, json_pack("{s:s,s:o}", "type", "unsubscribed", "services", names));
}

static void on_message(ws_conn_t *ws, int opcode, uint8_t *data, size_t len)
{
    session_t *s = ws_conn_udata(ws);
    s->ws = ws;
    RT_INC(s->rw->m.messages_in, 1);
    if (opcode != 1) {
        fail(s, 1003, "binary_not_supported", "the stream accepts JSON text messages only");
        return;
    }
    json_error_t jerr;
    json_t *msg = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (msg == NULL || !json_is_object(msg)) {
        json_decref(msg);
        if (s->state == SESS_HANDSHAKE)
            fail(s, RT_CLOSE_INVALID, "invalid_handshake", "expected a JSON object: %s",
                 msg ? "not an object" : jerr.text);
        else
            send_error(s, "invalid_message", "expected a JSON object: %s", jerr.text);
        return;
    }
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (s->state == SESS_HANDSHAKE) {
        json_t *ver = json_object_get(msg, "version");
        if (type && strcmp(type, "handshake") != 0) {
            fail(s, RT_CLOSE_INVALID, "invalid_handshake",
                 "the first message must be the handshake, not '%.32s'", type);
        } else if (!json_is_integer(ver)) {
            fail(s, RT_CLOSE_INVALID, "invalid_handshake", "\"version\" must be an integer");
        } else if (json_integer_value(ver) != RT_PROTOCOL_VERSION) {
            fail(s, RT_CLOSE_VERSION, "unsupported_version",
                 "version %lld is not supported; use %d", (long long)json_integer_value(ver),
                 RT_PROTOCOL_VERSION);
        } else {
            do_subscribe(s, msg, 1);
        }
    } else if (type == NULL) {
        send_error(s, "invalid_message", "\"type\" is required");
    } else if (strcmp(type, "subscribe") == 0) {
        do_subscribe(s, msg, 0);
    } else if (strcmp(type, "unsubscribe") == 0) {
        do_unsubscribe(s, msg);
    } else if (strcmp(type, "ping") == 0) {
        char ts[32];
        clock_iso8601(ts, sizeof ts);
        send_json(s, json_pack("{s:s,s:s}", "type", "pong", "timestamp", ts));
    } else {
        send_error(s, "unknown_type", "unknown message type '%.32s'", type);
    }
    json_decref(msg);
}

static void on_timeout(ws_conn_t *ws)
{
    session_t *s = ws_conn_udata(ws);
    s->ws = ws;
    if (s->state == SESS_HANDSHAKE) {
        fail(s, RT_CLOSE_HANDSHAKE_TIMEOUT, "handshake_timeout",
             "no handshake within %u ms", s->rw->srv->lim.handshake_timeout_ms);
        return;
    }
    if (s->exp && clock_unix_s() >= s->exp + JWT_LEEWAY_S) {
        fail(s, RT_CLOSE_TOKEN_EXPIRED, "token_expired",
             "the token expired: reconnect with a fresh one and resume from your offsets");
        return;
    }
    ws_conn_heartbeat(ws);
}

static void on_close(ws_conn_t *ws, int code)
{
    session_t *s = ws_conn_udata(ws);
    LOG_D("stream_closed", "conn=%s code=%d", s->id, code);
    RT_INC(s->rw->m.connections, -1);
    s->state = SESS_CLOSED;
    session_free(s);
}

static const ws_handler_t stream_handler = {on_message, on_timeout, on_close, NULL};

void rt_stream_accept(rt_server_t *srv, http_req_t *req, auth_claims_t *claims)
{
    net_worker_t *w = http_req_worker(req);
    rt_worker_t *rw = &srv->rw[w->index];
    session_t *s = xcalloc(1, sizeof *s);
    s->rw = rw;
    s->user_id = claims->sub;
    s->org_id = claims->org_id;
    s->role = claims->role;
    s->exp = claims->exp;
    s->all_properties = claims->all_properties;
    s->n_properties = claims->n_properties;
    s->property_ids = claims->property_ids; /* stolen */
    claims->property_ids = NULL;
    claims->n_properties = 0;
    auth_claims_dispose(claims);
    snprintf(s->id, sizeof s->id, "w%d-%" PRIu64, w->index, ++rw->next_session);
    queue_insert_tail(&rw->sessions, &s->node);
    RT_INC(rw->m.connections, 1);
    RT_INC(rw->m.connections_total, 1);
    ws_conn_t *ws = ws_accept(req, &stream_handler, s, &srv->lim.ws);
    if (ws == NULL) {
        RT_INC(rw->m.connections, -1);
        session_free(s);
        return;
    }
    s->ws = ws;
    /* The handshake may already have arrived with the upgrade; only wait for it if not. */
    if (s->state == SESS_HANDSHAKE && !ws_conn_is_closing(ws))
        ws_conn_set_deadline(ws, srv->lim.handshake_timeout_ms);
}

/* ---- the server -------------------------------------------------------------------------------------- */

rt_server_t *rt_server_new(rt_hub_t *hub, const rt_policy_t *policy, rt_flags_t *flags,
                           const rt_limits_t *lim, net_worker_t *workers, int n_workers)
{
    rt_server_t *srv = xcalloc(1, sizeof *srv);
    srv->hub = hub;
    srv->flags = flags;
    srv->policy = *policy;
    srv->lim = *lim;
    srv->n_workers = n_workers;
    srv->rw = xcalloc((size_t)n_workers, sizeof *srv->rw);
    for (int i = 0; i < n_workers; i++) {
        rt_worker_t *rw = &srv->rw[i];
        rw->srv = srv;
        rw->w = &workers[i];
        workers[i].ext = rw;
        queue_init(&rw->sessions);
        queue_init(&rw->polls);
        rw->n_buckets = 64;
        rw->buckets = xcalloc(rw->n_buckets, sizeof *rw->buckets);
        uv_check_init(&workers[i].loop, &rw->flush);
        rw->flush.data = rw;
        uv_idle_init(&workers[i].loop, &rw->idle);
        rw->idle.data = rw;
        queue_init(&rw->cursor.node);
    }
    rt_hub_set_sink(hub, on_published, srv);
    return srv;
}

static void on_shutdown_task(net_worker_t *w, void *data)
{
    (void)data;
    rt_worker_t *rw = w->ext;
    rw->stopping = 1;
    queue_t *q = rw->sessions.next;
    while (q != &rw->sessions) {
        session_t *s = QUEUE_DATA(q, session_t, node);
        q = q->next;
        if (s->ws) ws_conn_close(s->ws, WS_CLOSE_GOING_AWAY, "server shutting down");
    }
    for (size_t i = rw->pend_head; i < rw->n_pending; i++) rt_event_unref(rw->pending[i]);
    free(rw->pending);
    rw->pending = NULL;
    rw->n_pending = rw->cap_pending = rw->pend_head = 0;
    if (rw->cursor_linked) queue_remove(&rw->cursor.node);
    rw->cursor_linked = 0;
    cache_clear(&rw->cache);
    for (size_t k = 0; k < rw->n_chunk; k++) rt_event_unref(rw->chunk[k]);
    rw->n_chunk = rw->n_round = 0;
    rt__poll_cancel_all(rw);
    uv_close((uv_handle_t *)&rw->flush, NULL);
    uv_close((uv_handle_t *)&rw->idle, NULL);
}

void rt_server_shutdown(rt_server_t *srv)
{
    rt_hub_set_sink(srv->hub, NULL, NULL);
    for (int i = 0; i < srv->n_workers; i++) {
        if (net_worker_post(srv->rw[i].w, on_shutdown_task, NULL) != 0) {
            /* The worker is already stopping: its loop will not run the task. */
            srv->rw[i].stopping = 1;
        }
    }
}

void rt_server_free(rt_server_t *srv)
{
    if (srv == NULL) return;
    for (int i = 0; i < srv->n_workers; i++) {
        rt_worker_t *rw = &srv->rw[i];
        for (size_t b = 0; b < rw->n_buckets; b++) {
            for (org_subs_t *o = rw->buckets[b], *next; o; o = next) {
                next = o->next;
                free(o);
            }
        }
        free(rw->buckets);
        for (size_t k = rw->pend_head; k < rw->n_pending; k++) rt_event_unref(rw->pending[k]);
        free(rw->pending);
        for (size_t k = 0; k < rw->n_chunk; k++) rt_event_unref(rw->chunk[k]);
        cache_clear(&rw->cache);
    }
    free(srv->rw);
    free(srv);
}

void rt_server_metrics(rt_server_t *srv, rt_metrics_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < srv->n_workers; i++) rt_metrics_add(out, &srv->rw[i].m);
    for (int s = 0; s < RT_SVC__COUNT; s++)
        atomic_store(&out->events_published[s], atomic_load(&srv->published[s]));
}

static void on_flags_task(net_worker_t *w, void *data)
{
    (void)data;
    rt_worker_t *rw = w->ext;
    rt_flag_values_t fv;
    rt_flags_snapshot(rw->srv->flags, &fv);
    queue_t *q;
    QUEUE_FOREACH(q, &rw->sessions)
    {
        session_t *s = QUEUE_DATA(q, session_t, node);
        if (s->state != SESS_ACTIVE || ws_conn_is_closing(s->ws)) continue;
        int user_streams = rt_flags_user_streams(&fv, s->org_id, s->user_id);
        json_t *fb = json_object();
        for (int svc = 0; svc < RT_SVC__COUNT; svc++) {
            sub_t *sub = &s->subs[svc];
            if (!sub->active) continue;
            if (user_streams && rt_flags_service_streams(&fv, s->org_id, s->user_id, svc))
                continue;
            /* Poll from exactly what this connection has had: nothing lost, nothing twice. */
            json_object_set_new(fb, rt_service_name(svc),
                                fallback_json(s, svc, sub->delivered, NULL));
            sub_remove(s, svc);
        }
        int any_left = 0;
        for (int svc = 0; svc < RT_SVC__COUNT; svc++) any_left |= s->subs[svc].active;
        if (!user_streams || (!any_left && json_object_size(fb))) {
            refuse_streaming(s, fb);
        } else if (json_object_size(fb)) {
            send_json(s, json_pack("{s:s,s:o}", "type", "fallback", "services", fb));
        } else {
            json_decref(fb);
        }
    }
}

void rt_server_flags_changed(rt_server_t *srv)
{
    for (int i = 0; i < srv->n_workers; i++)
        net_worker_post(srv->rw[i].w, on_flags_task, NULL);
}

const rt_limits_t *rt_server_limits(const rt_server_t *srv)
{
    return &srv->lim;
}
