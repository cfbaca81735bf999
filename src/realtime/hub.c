#include "realtime/hub.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct stream_s {
    struct stream_s *next; /* hash chain */
    int64_t org_id;
    rt_service_t service;
    /* Two locks, so that loops never wait on the disk: wlock serialises publishers across the
     * store write; lock guards the in-memory state and is held only for memory work. */
    uv_mutex_t wlock;
    uv_mutex_t lock;
    char epoch[RT_EPOCH_LEN + 1];
    int64_t head;
    /* History ring: offsets ring[first..first+count) are consecutive, oldest first. It grows by
     * doubling up to history_max_events. */
    rt_event_t **ring;
    size_t cap, first, count;
} stream_t;

struct rt_hub_s {
    store_t *store;
    rt_hub_config_t cfg;
    uv_mutex_t lock; /* the map; streams are never removed */
    stream_t **buckets;
    size_t n_buckets, n_streams;
    rt_sink_cb sink;
    void *sink_data;
};

static size_t hash(int64_t org, rt_service_t s, size_t n)
{
    uint64_t h = (uint64_t)org * 0x9E3779B97F4A7C15ull ^ (uint64_t)s * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 29)) & (n - 1);
}

static void new_epoch(char out[RT_EPOCH_LEN + 1])
{
    uint8_t raw[RT_EPOCH_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        /* Not secret, only unique: the clock is an acceptable fallback. */
        uint64_t t = clock_mono_ns() ^ (uint64_t)clock_unix_ms();
        memcpy(raw, &t, sizeof raw < sizeof t ? sizeof raw : sizeof t);
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void rehash(rt_hub_t *hub)
{
    size_t n = hub->n_buckets * 2;
    stream_t **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < hub->n_buckets; i++) {
        stream_t *s = hub->buckets[i];
        while (s) {
            stream_t *next = s->next;
            size_t h = hash(s->org_id, s->service, n);
            s->next = b[h];
            b[h] = s;
            s = next;
        }
    }
    free(hub->buckets);
    hub->buckets = b;
    hub->n_buckets = n;
}

/* Finds or (create != 0) creates a stream. Returns NULL only when not found and not creating. */
static stream_t *lookup(rt_hub_t *hub, int64_t org, rt_service_t svc, int create,
                        const char *epoch, int64_t head)
{
    uv_mutex_lock(&hub->lock);
    size_t h = hash(org, svc, hub->n_buckets);
    stream_t *s = hub->buckets[h];
    while (s && !(s->org_id == org && s->service == svc)) s = s->next;
    if (s == NULL && create) {
        s = xcalloc(1, sizeof *s);
        s->org_id = org;
        s->service = svc;
        uv_mutex_init(&s->lock);
        uv_mutex_init(&s->wlock);
        if (epoch)
            snprintf(s->epoch, sizeof s->epoch, "%.16s", epoch);
        else
            new_epoch(s->epoch);
        s->head = head;
        s->next = hub->buckets[h];
        hub->buckets[h] = s;
        if (++hub->n_streams > hub->n_buckets) rehash(hub);
    }
    uv_mutex_unlock(&hub->lock);
    return s;
}

rt_hub_t *rt_hub_new(store_t *st, const rt_hub_config_t *cfg)
{
    rt_hub_t *hub = xcalloc(1, sizeof *hub);
    hub->store = st;
    hub->cfg = *cfg;
    if (hub->cfg.history_max_events < 1) hub->cfg.history_max_events = 1;
    uv_mutex_init(&hub->lock);
    hub->n_buckets = 64;
    hub->buckets = xcalloc(hub->n_buckets, sizeof *hub->buckets);
    return hub;
}

void rt_hub_free(rt_hub_t *hub)
{
    if (hub == NULL) return;
    for (size_t i = 0; i < hub->n_buckets; i++) {
        stream_t *s = hub->buckets[i];
        while (s) {
            stream_t *next = s->next;
            for (size_t k = 0; k < s->count; k++) rt_event_unref(s->ring[(s->first + k) % s->cap]);
            free(s->ring);
            uv_mutex_destroy(&s->lock);
            uv_mutex_destroy(&s->wlock);
            free(s);
            s = next;
        }
    }
    free(hub->buckets);
    uv_mutex_destroy(&hub->lock);
    free(hub);
}

void rt_hub_set_sink(rt_hub_t *hub, rt_sink_cb cb, void *data)
{
    hub->sink = cb;
    hub->sink_data = data;
}

/* ---- the history ring (stream lock held) --------------------------------------------------------- */

static void ring_drop_oldest(stream_t *s)
{
    rt_event_unref(s->ring[s->first]);
    s->ring[s->first] = NULL;
    s->first = (s->first + 1) % s->cap;
    s->count--;
}

static void ring_push(rt_hub_t *hub, stream_t *s, rt_event_t *e)
{
    size_t max = hub->cfg.history_max_events;
    if (s->count == max) ring_drop_oldest(s);
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        if (cap > max) cap = max;
        rt_event_t **r = xmalloc(cap * sizeof *r);
        for (size_t k = 0; k < s->count; k++) r[k] = s->ring[(s->first + k) % s->cap];
        free(s->ring);
        s->ring = r;
        s->cap = cap;
        s->first = 0;
    }
    s->ring[(s->first + s->count) % s->cap] = e;
    s->count++;
}

static void ring_trim_age(rt_hub_t *hub, stream_t *s, int64_t now_ms)
{
    int64_t min_ts = now_ms - hub->cfg.history_max_age_ms;
    while (s->count > 0 && s->ring[s->first]->ts_ms < min_ts) ring_drop_oldest(s);
}

/* ---- load --------------------------------------------------------------------------------------- */

static int on_loaded_event(const store_event_t *e, void *data)
{
    rt_hub_t *hub = data;
    rt_service_t svc;
    if (rt_service_parse(e->service, &svc) != 0) return 0; /* a service this build lacks */
    stream_t *s = lookup(hub, e->org_id, svc, 1, e->epoch, e->offset);
    uv_mutex_lock(&s->lock);
    /* Only a consecutive run can be served; a hole (should not happen) restarts the run. */
    if (s->count > 0 && s->ring[(s->first + s->count - 1) % s->cap]->offset + 1 != e->offset)
        while (s->count) ring_drop_oldest(s);
    ring_push(hub, s,
              rt_event_from_json(e->org_id, svc, e->property_id, e->offset, e->ts_ms, e->json,
                                 e->json_len));
    uv_mutex_unlock(&s->lock);
    return 0;
}

int rt_hub_load(rt_hub_t *hub)
{
    store_stream_t *streams = NULL;
    size_t n = 0;
    int rc = store_streams_load(hub->store, &streams, &n);
    if (rc != 0) return rc;
    for (size_t i = 0; i < n; i++) {
        rt_service_t svc;
        if (rt_service_parse(streams[i].service, &svc) != 0) continue;
        stream_t *s = lookup(hub, streams[i].org_id, svc, 1, streams[i].epoch, streams[i].head);
        s->head = streams[i].head;
        snprintf(s->epoch, sizeof s->epoch, "%.16s", streams[i].epoch);
    }
    free(streams);
    int64_t min_ts = clock_unix_ms() - hub->cfg.history_max_age_ms;
    rc = store_events_scan(hub->store, min_ts, hub->cfg.history_max_events, on_loaded_event, hub);
    LOG_I("history_loaded", "streams=%zu", n);
    return rc;
}

/* ---- publish ------------------------------------------------------------------------------------ */

int rt_hub_publish(rt_hub_t *hub, const rt_event_in_t *in, int64_t *offset)
{
    if ((unsigned)in->service >= RT_SVC__COUNT || !rt_event_type_valid(in->type) ||
        !json_is_object(in->data) || in->org_id <= 0 || in->property_id < 0)
        return BH_EINVAL;
    stream_t *s = lookup(hub, in->org_id, in->service, 1, NULL, 0);
    uv_mutex_lock(&s->wlock);
    /* Only publishers change head and epoch, and they hold wlock: reading them needs no lock. */
    int64_t now = clock_unix_ms();
    rt_event_t *e = rt_event_new(in, s->epoch, s->head + 1, now);
    if (e == NULL) {
        uv_mutex_unlock(&s->wlock);
        return BH_EINVAL;
    }
    store_event_t se = {
        .org_id = in->org_id,
        .service = rt_service_name(in->service),
        .epoch = s->epoch,
        .offset = e->offset,
        .property_id = in->property_id,
        .ts_ms = now,
        .type = in->type,
        .json = e->json,
        .json_len = e->json_len,
    };
    /* Durable before visible: wlock is held across the write so that no later offset of this
     * stream can reach a subscriber before this one, and none before it is stored. */
    int rc = store_event_append(hub->store, &se);
    if (rc != 0) {
        uv_mutex_unlock(&s->wlock);
        rt_event_unref(e);
        LOG_E("publish_failed", "org=%lld service=%s err=%s", (long long)in->org_id,
              rt_service_name(in->service), err_str(rc));
        return BH_ESTORE;
    }
    uv_mutex_lock(&s->lock);
    s->head = e->offset;
    ring_trim_age(hub, s, now);
    ring_push(hub, s, rt_event_ref(e));
    if (hub->sink) hub->sink(hub->sink_data, rt_event_ref(e));
    uv_mutex_unlock(&s->lock);
    uv_mutex_unlock(&s->wlock);
    *offset = e->offset;
    rt_event_unref(e);
    return 0;
}

void rt_hub_position(rt_hub_t *hub, int64_t org_id, rt_service_t svc, int64_t *head,
                     char epoch[RT_EPOCH_LEN + 1])
{
    stream_t *s = lookup(hub, org_id, svc, 1, NULL, 0);
    uv_mutex_lock(&s->lock);
    *head = s->head;
    memcpy(epoch, s->epoch, RT_EPOCH_LEN + 1);
    uv_mutex_unlock(&s->lock);
}

rt_since_t rt_hub_since(rt_hub_t *hub, int64_t org_id, rt_service_t svc, const char *epoch,
                        int64_t after, size_t max, rt_event_t ***out, size_t *n, int *more,
                        int64_t *head)
{
    *out = NULL;
    *n = 0;
    *more = 0;
    stream_t *s = lookup(hub, org_id, svc, 1, NULL, 0);
    uv_mutex_lock(&s->lock);
    *head = s->head;
    rt_since_t r = RT_SINCE_OK;
    if (after == 0 && s->head == 0) {
        /* Nothing was ever published: no epoch can be wrong, nothing can be missed. */
    } else if (epoch && *epoch && strcmp(epoch, s->epoch) != 0) {
        r = RT_SINCE_EPOCH;
    } else if (after > s->head || after < 0) {
        r = RT_SINCE_FUTURE;
    } else if (after < s->head) {
        ring_trim_age(hub, s, clock_unix_ms());
        int64_t oldest = s->count ? s->ring[s->first]->offset : s->head + 1;
        if (after + 1 < oldest) {
            r = RT_SINCE_TOO_OLD;
        } else {
            size_t skip = (size_t)(after + 1 - oldest);
            size_t avail = s->count - skip;
            size_t take = avail < max ? avail : max;
            *more = avail > take;
            if (take) {
                *out = xmalloc(take * sizeof **out);
                for (size_t k = 0; k < take; k++)
                    (*out)[k] = rt_event_ref(s->ring[(s->first + skip + k) % s->cap]);
            }
            *n = take;
        }
    }
    uv_mutex_unlock(&s->lock);
    return r;
}

int rt_hub_prune(rt_hub_t *hub)
{
    int64_t deleted = 0;
    int rc = store_events_prune(hub->store, clock_unix_ms() - hub->cfg.history_max_age_ms,
                                hub->cfg.history_max_events, &deleted);
    if (rc == 0 && deleted > 0) LOG_D("history_pruned", "events=%lld", (long long)deleted);
    return rc;
}
