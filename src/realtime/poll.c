/* poll.c: long-polling, the v1 transport that streaming replaces, kept as the fallback.
 *
 * GET /v1/realtime/{service}/poll?since=<offset>&timeout=<s> answers from the same history as the
 * stream, or, when there is nothing after `since`, holds the request in its worker's
 * (org, service) index until events arrive or the timeout passes. A held poll costs one small
 * struct and one libuv timer: no thread, no busy loop. Events reach the index through the same
 * per-worker fan-out as stream subscribers (rt__poll_wake from stream.c), so a poll sees every
 * event exactly once and in order, and a client can switch between transports by offset. */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "realtime/stream_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_BATCH_MAX 500 /* events per answer; "more": true tells the client to ask again */

typedef struct poll_s {
    queue_t node;     /* in org_subs_t.polls[svc] */
    queue_t all;      /* in rt_worker_t.polls */
    http_req_t *req;
    rt_worker_t *rw;
    int64_t org_id;
    rt_service_t svc;
    int64_t since;
    int all_properties;
    size_t n_properties;
    int64_t *property_ids;
    uv_timer_t timer;
    int answered;
} poll_t;

static int allows(const poll_t *p, int64_t property_id)
{
    if (property_id == 0 || p->all_properties) return 1;
    for (size_t i = 0; i < p->n_properties; i++)
        if (p->property_ids[i] == property_id) return 1;
    return 0;
}

/* {"service":...,"epoch":...,"offset":N,"more":b,"events":[...]}: the events' JSON as stored,
 * the same bytes the stream sends. offset is the position to poll from next: the newest offset
 * examined, including events this caller may not see. */
static void answer(poll_t *p, rt_event_t *const *ev, size_t n, int more, int64_t offset)
{
    int64_t head;
    char epoch[RT_EPOCH_LEN + 1];
    rt_hub_position(p->rw->srv->hub, p->org_id, p->svc, &head, epoch);
    buf_t b = BUF_INIT;
    buf_appendf(&b, "{\"service\":\"%s\",\"epoch\":\"%s\",\"offset\":%" PRId64 ",\"more\":%s,"
                    "\"events\":[",
                rt_service_name(p->svc), epoch, offset, more ? "true" : "false");
    int first = 1;
    uint64_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (!allows(p, ev[i]->property_id)) continue;
        if (!first) buf_appendc(&b, ',');
        first = 0;
        buf_append(&b, ev[i]->json, ev[i]->json_len);
        sent++;
    }
    RT_INC(p->rw->m.polls_answered, 1);
    RT_INC(p->rw->m.poll_events, sent);
    buf_appends(&b, "]}");
    size_t len;
    char *body = buf_steal(&b, &len);
    http_resp_header(p->req, "Cache-Control", "no-store");
    http_respond_owned(p->req, 200, "application/json", body, len);
}

static void on_timer_closed(uv_handle_t *h)
{
    poll_t *p = h->data;
    free(p->property_ids);
    free(p);
}

/* Unlinks a held poll and frees it once its timer has closed. */
static void release(poll_t *p)
{
    RT_INC(p->rw->m.polls_held, -1);
    queue_remove(&p->node);
    queue_remove(&p->all);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

static void on_timeout(uv_timer_t *t)
{
    poll_t *p = t->data;
    answer(p, NULL, 0, 0, p->since);
    release(p);
}

void rt__poll_wake(rt_worker_t *rw, rt_event_t *const *chunk, size_t n)
{
    org_subs_t *o = rt__org_find(rw, chunk[0]->org_id, 0);
    if (o == NULL) return;
    queue_t *head = &o->polls[chunk[0]->service];
    queue_t *q = head->next;
    while (q != head) {
        poll_t *p = QUEUE_DATA(q, poll_t, node);
        q = q->next;
        size_t first = 0;
        while (first < n && chunk[first]->offset <= p->since) first++;
        if (first == n) continue;
        int visible = 0;
        for (size_t i = first; i < n; i++) visible |= allows(p, chunk[i]->property_id);
        if (!visible) {
            /* Nothing this caller may see: move its position on and keep waiting. */
            p->since = chunk[n - 1]->offset;
            continue;
        }
        answer(p, chunk + first, n - first, 0, chunk[n - 1]->offset);
        release(p);
    }
}

void rt__poll_cancel_all(rt_worker_t *rw)
{
    while (!queue_empty(&rw->polls)) {
        poll_t *p = QUEUE_DATA(rw->polls.next, poll_t, all);
        http_resp_header(p->req, "Retry-After", "1");
        http_respond_error(p->req, 503, "unavailable", "the server is shutting down");
        release(p);
    }
}

void rt_poll(rt_server_t *srv, http_req_t *req, auth_claims_t *claims, rt_service_t svc,
             int64_t since, const char *epoch, unsigned timeout_ms)
{
    net_worker_t *w = http_req_worker(req);
    rt_worker_t *rw = &srv->rw[w->index];
    poll_t *p = xcalloc(1, sizeof *p);
    p->req = req;
    p->rw = rw;
    p->org_id = claims->org_id;
    p->svc = svc;
    p->all_properties = claims->all_properties;
    p->n_properties = claims->n_properties;
    p->property_ids = claims->property_ids; /* stolen */
    claims->property_ids = NULL;
    claims->n_properties = 0;
    auth_claims_dispose(claims);

    int64_t head;
    char cur[RT_EPOCH_LEN + 1];
    rt_hub_position(srv->hub, p->org_id, svc, &head, cur);
    if (since < 0) since = head;
    rt_event_t **ev = NULL;
    size_t n = 0;
    int more = 0;
    rt_since_t r = rt_hub_since(srv->hub, p->org_id, svc, epoch, since, POLL_BATCH_MAX, &ev, &n,
                                &more, &head);
    if (r != RT_SINCE_OK) {
        const char *reason = r == RT_SINCE_EPOCH      ? "epoch_changed"
                             : r == RT_SINCE_FUTURE ? "offset_ahead"
                                                    : "history_window_exceeded";
        http_resp_header(req, "Cache-Control", "no-store");
        http_respond_json(req, 200,
                          json_pack("{s:s,s:s,s:I,s:b,s:s,s:[]}", "service", rt_service_name(svc),
                                    "epoch", cur, "offset", (json_int_t)head, "reset", 1,
                                    "reason", reason, "events"));
        free(p->property_ids);
        free(p);
        return;
    }
    int visible = 0;
    for (size_t i = 0; i < n; i++) visible |= allows(p, ev[i]->property_id);
    if (visible || more || timeout_ms == 0 || http_req_is_orphaned(req)) {
        p->since = since;
        answer(p, ev, n, more, n ? ev[n - 1]->offset : since);
        for (size_t i = 0; i < n; i++) rt_event_unref(ev[i]);
        free(ev);
        free(p->property_ids);
        free(p);
        return;
    }
    /* Nothing visible yet: skip what this caller may not see, then wait. Events published from
     * now on reach this worker's index after this callback, so none can slip between. */
    p->since = n ? ev[n - 1]->offset : since;
    for (size_t i = 0; i < n; i++) rt_event_unref(ev[i]);
    free(ev);
    org_subs_t *o = rt__org_find(rw, p->org_id, 1);
    queue_insert_tail(&o->polls[svc], &p->node);
    queue_insert_tail(&rw->polls, &p->all);
    RT_INC(rw->m.polls_held, 1);
    uv_timer_init(&w->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_timeout, timeout_ms, 0);
}
