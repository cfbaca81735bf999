#include "realtime/hub.h"

#include "broker/broker.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <time.h>
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
    /* khash[i]: hash of ring[i]'s Idempotency-Key (0: none), so that a keyed publish scans a
     * contiguous array instead of touching every event (the lock is held meanwhile). */
    uint64_t *khash;
    size_t cap, first, count;
    /* With a sequencing broker (Redis) only: the broker thread's delivery state (under lock),
     * and publishers waiting for their own event to come back (read-your-writes). */
    broker_gap_t gap;
    uv_cond_t applied;
} stream_t;

struct rt_hub_s {
    store_t *store;
    rt_hub_config_t cfg;
    uv_mutex_t lock; /* the map; streams are never removed */
    stream_t **buckets;
    size_t n_buckets, n_streams;
    rt_sink_cb sink;
    void *sink_data;
    broker_t *broker; /* borrowed; NULL or local: this process sequences */
    char gen[64];     /* the Redis data set's generation (under lock); "" until known */
    int sync_wait_ms;
};

static int remote(const rt_hub_t *hub)
{
    return hub->broker != NULL && broker_sequences(hub->broker);
}

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

/* With Redis, a stream nobody has published to yet must show the same epoch on every node, or a
 * client that read it on one node would be reset on another: it is derived from the data set's
 * generation, which changes only when Redis loses its data (exactly when epochs must change). */
static void derived_epoch(const char *gen, int64_t org, rt_service_t svc,
                          char out[RT_EPOCH_LEN + 1])
{
    char in[128];
    unsigned char d[SHA256_DIGEST_LENGTH];
    int n = snprintf(in, sizeof in, "%s:%lld:%s", gen, (long long)org, rt_service_name(svc));
    SHA256((const unsigned char *)in, (size_t)n, d);
    for (size_t i = 0; i < RT_EPOCH_LEN / 2; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
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
        uv_cond_init(&s->applied);
        if (epoch)
            snprintf(s->epoch, sizeof s->epoch, "%.16s", epoch);
        else if (hub->gen[0])
            derived_epoch(hub->gen, org, svc, s->epoch);
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
            free(s->khash);
            uv_mutex_destroy(&s->lock);
            uv_mutex_destroy(&s->wlock);
            uv_cond_destroy(&s->applied);
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

static uint64_t key_hash(const char *key)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (const char *p = key; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h ? h : 1;
}

static void ring_drop_oldest(stream_t *s)
{
    rt_event_unref(s->ring[s->first]);
    s->ring[s->first] = NULL;
    s->khash[s->first] = 0;
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
        uint64_t *kh = xmalloc(cap * sizeof *kh);
        for (size_t k = 0; k < s->count; k++) {
            r[k] = s->ring[(s->first + k) % s->cap];
            kh[k] = s->khash[(s->first + k) % s->cap];
        }
        free(s->ring);
        free(s->khash);
        s->ring = r;
        s->khash = kh;
        s->cap = cap;
        s->first = 0;
    }
    size_t at = (s->first + s->count) % s->cap;
    s->ring[at] = e;
    s->khash[at] = e->idem_key ? key_hash(e->idem_key) : 0;
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
    rt_event_t *ev = rt_event_from_json(e->org_id, svc, e->property_id, e->offset, e->ts_ms,
                                        e->json, e->json_len);
    rt_event_set_key(ev, e->idem_key);
    ring_push(hub, s, ev);
    uv_mutex_unlock(&s->lock);
    return 0;
}

static void start_broker(rt_hub_t *hub);

/* The offset of the event in s's history published with Idempotency-Key key, or 0. Newest
 * first: a retry comes soon after the original. Caller holds s->lock. */
static int64_t ring_find_key(const stream_t *s, const char *key)
{
    uint64_t h = key_hash(key);
    for (size_t i = s->count; i-- > 0;) {
        size_t at = (s->first + i) % s->cap;
        if (s->khash[at] != h) continue;
        const rt_event_t *e = s->ring[at];
        if (e->idem_key && strcmp(e->idem_key, key) == 0) return e->offset;
    }
    return 0;
}

int rt_hub_load(rt_hub_t *hub)
{
    if (remote(hub)) {
        /* Redis holds the history: the first resync loads it (see the broker section). */
        start_broker(hub);
        return 0;
    }
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

static int publish_remote(rt_hub_t *hub, stream_t *s, const rt_event_in_t *in, int64_t *offset);

int rt_hub_publish(rt_hub_t *hub, const rt_event_in_t *in, int64_t *offset)
{
    if ((unsigned)in->service >= RT_SVC__COUNT || !rt_event_type_valid(in->type) ||
        !json_is_object(in->data) || in->org_id <= 0 || in->property_id < 0)
        return BH_EINVAL;
    stream_t *s = lookup(hub, in->org_id, in->service, 1, NULL, 0);
    if (remote(hub)) return publish_remote(hub, s, in, offset);
    uv_mutex_lock(&s->wlock);
    if (in->idem_key && *in->idem_key) {
        /* Under wlock: a concurrent publish with the same key is either in the history already
         * or waits for this one. */
        uv_mutex_lock(&s->lock);
        int64_t dup = ring_find_key(s, in->idem_key);
        uv_mutex_unlock(&s->lock);
        if (dup > 0) {
            uv_mutex_unlock(&s->wlock);
            *offset = dup;
            return BH_EEXIST;
        }
    }
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
        .idem_key = e->idem_key,
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
    } else if (after > s->head && after >= 0 && remote(hub) && epoch && *epoch) {
        /* This node has not heard of offsets the client saw on another node yet (they are on
         * their way from Redis). The epoch matches, so the offset came from Redis: start the
         * client there; what follows reaches it live, nothing before it is sent twice. */
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
    if (remote(hub)) return 0; /* the publish script trims the Redis history */
    int64_t deleted = 0;
    int rc = store_events_prune(hub->store, clock_unix_ms() - hub->cfg.history_max_age_ms,
                                hub->cfg.history_max_events, &deleted);
    if (rc == 0 && deleted > 0) LOG_D("history_pruned", "events=%lld", (long long)deleted);
    return rc;
}

/* ---- the Redis broker ------------------------------------------------------------------------- *
 *
 * With a sequencing broker the hub no longer assigns offsets: the publish script does, in Redis,
 * and every node (this one included) applies events as the broker thread hears them, in offset
 * order per stream. The broker thread is the only writer of head, epoch and ring then; loops
 * read them under the stream's lock as before. */

void rt_hub_set_broker(rt_hub_t *hub, broker_t *b, int wait_ms)
{
    hub->broker = b;
    hub->sync_wait_ms = wait_ms > 0 ? wait_ms : 5000;
}

broker_t *rt_hub_broker(rt_hub_t *hub)
{
    return hub->broker;
}

static int64_t unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void ring_clear(stream_t *s)
{
    while (s->count) ring_drop_oldest(s);
}

/* Applies one event (offset == head + 1) and hands it to the sink. Stream lock held. */
static void apply_locked(rt_hub_t *hub, stream_t *s, const broker_event_t *b)
{
    rt_event_t *e = rt_event_from_json(s->org_id, s->service, b->property_id, b->offset, b->ts_ms,
                                       b->json, b->json_len);
    if (b->pub_us > 0) {
        /* Delivery latency across processes: the publisher's wall clock, mapped onto ours. */
        int64_t age_us = unix_us() - b->pub_us;
        uint64_t now = clock_mono_ns();
        if (age_us >= 0 && (uint64_t)age_us * 1000 < now) e->pub_ns = now - (uint64_t)age_us * 1000;
    }
    s->head = b->offset;
    ring_trim_age(hub, s, clock_unix_ms());
    ring_push(hub, s, rt_event_ref(e));
    if (hub->sink) hub->sink(hub->sink_data, rt_event_ref(e));
    rt_event_unref(e);
    uv_cond_broadcast(&s->applied);
}

static stream_t *stream_named(rt_hub_t *hub, int64_t org, const char *svc_name)
{
    rt_service_t svc;
    if (org <= 0 || rt_service_parse(svc_name, &svc) != 0) return NULL; /* not in this build */
    return lookup(hub, org, svc, 1, NULL, 0);
}

static void on_generation(void *data, const char *gen)
{
    rt_hub_t *hub = data;
    uv_mutex_lock(&hub->lock);
    snprintf(hub->gen, sizeof hub->gen, "%s", gen);
    /* Streams created before the generation was known and never published to take the epoch
     * every other node shows for them. */
    for (size_t i = 0; i < hub->n_buckets; i++)
        for (stream_t *s = hub->buckets[i]; s; s = s->next) {
            uv_mutex_lock(&s->lock);
            if (s->head == 0 && s->count == 0) derived_epoch(gen, s->org_id, s->service, s->epoch);
            uv_mutex_unlock(&s->lock);
        }
    uv_mutex_unlock(&hub->lock);
}

static int on_remote_event(void *data, const broker_event_t *ev, int64_t *after,
                           char epoch[BROKER_EPOCH_LEN + 1])
{
    rt_hub_t *hub = data;
    stream_t *s = stream_named(hub, ev->org_id, ev->service);
    if (s == NULL) return BROKER_DUP;
    uv_mutex_lock(&s->lock);
    int act;
    if (strcmp(s->epoch, ev->epoch) != 0) {
        /* Another epoch: our state is stale (Redis lost its data, or this stream was never
         * synced here). Only a fill can tell where to start. */
        if (s->gap.filling) {
            if (ev->offset > s->gap.dropped_max) s->gap.dropped_max = ev->offset;
            act = BROKER_DUP;
        } else {
            s->gap.filling = 1;
            s->gap.dropped_max = 0;
            act = BROKER_FILL;
        }
    } else {
        act = broker_gap_on_note(&s->gap, s->head, ev->offset);
        if (act == BROKER_APPLY) apply_locked(hub, s, ev);
    }
    if (act == BROKER_FILL) {
        *after = s->head;
        memcpy(epoch, s->epoch, RT_EPOCH_LEN + 1);
    }
    uv_mutex_unlock(&s->lock);
    return act;
}

static int on_fill_begin(void *data, int64_t org, const char *svc, int64_t *after,
                         char epoch[BROKER_EPOCH_LEN + 1])
{
    rt_hub_t *hub = data;
    stream_t *s = stream_named(hub, org, svc);
    if (s == NULL) return 0;
    uv_mutex_lock(&s->lock);
    int start = !s->gap.filling;
    if (start) {
        s->gap.filling = 1;
        s->gap.dropped_max = 0;
        *after = s->head;
        memcpy(epoch, s->epoch, RT_EPOCH_LEN + 1);
    }
    uv_mutex_unlock(&s->lock);
    return start;
}

static int on_fill_apply(void *data, int64_t org, const char *svc, int exists, const char *epoch,
                         int64_t remote_head, const broker_event_t *ev, size_t n, int64_t *after,
                         char epoch_out[BROKER_EPOCH_LEN + 1])
{
    rt_hub_t *hub = data;
    stream_t *s = stream_named(hub, org, svc);
    if (s == NULL) return 0;
    uv_mutex_lock(&s->lock);
    if (exists <= 0) {
        /* Aborted (disconnected) or not in Redis: nothing to apply, not filling any more. */
        s->gap.filling = 0;
        s->gap.dropped_max = 0;
        uv_mutex_unlock(&s->lock);
        return 0;
    }
    if (strcmp(s->epoch, epoch) != 0) {
        LOG_W("stream_epoch_adopted", "org=%lld service=%s old=%s new=%s", (long long)org, svc,
              s->epoch, epoch);
        ring_clear(s);
        snprintf(s->epoch, sizeof s->epoch, "%.16s", epoch);
        s->head = n ? ev[0].offset - 1 : remote_head;
    }
    for (size_t i = 0; i < n; i++) {
        if (ev[i].offset <= s->head) continue;
        if (ev[i].offset > s->head + 1) {
            /* Trimmed from Redis before this node could fetch them: a hole nobody can fill.
             * The ring restarts so that a resume across it is answered "too old". */
            LOG_W("stream_history_lost", "org=%lld service=%s from=%lld to=%lld", (long long)org,
                  svc, (long long)s->head + 1, (long long)ev[i].offset - 1);
            ring_clear(s);
            s->head = ev[i].offset - 1;
        }
        apply_locked(hub, s, &ev[i]);
    }
    if (n == 0 && s->head < remote_head) {
        LOG_W("stream_history_lost", "org=%lld service=%s from=%lld to=%lld", (long long)org, svc,
              (long long)s->head + 1, (long long)remote_head);
        ring_clear(s);
        s->head = remote_head;
        uv_cond_broadcast(&s->applied);
    }
    int again = broker_gap_after_fill(&s->gap, s->head, remote_head);
    if (again) {
        *after = s->head;
        memcpy(epoch_out, s->epoch, RT_EPOCH_LEN + 1);
    }
    uv_mutex_unlock(&s->lock);
    return again;
}

void rt__hub_broker_hooks(rt_hub_t *hub, broker_hooks_t *out)
{
    *out = (broker_hooks_t){
        .data = hub,
        .on_generation = on_generation,
        .on_event = on_remote_event,
        .fill_begin = on_fill_begin,
        .fill_apply = on_fill_apply,
    };
}

static void start_broker(rt_hub_t *hub)
{
    broker_hooks_t hooks;
    rt__hub_broker_hooks(hub, &hooks);
    int rc = broker_start(hub->broker, &hooks);
    if (rc != 0) {
        LOG_E("broker_start_failed", "err=%s", err_str(rc));
        return;
    }
    /* Start-up may load a long history: at least 5 s before serving from a partial ring. */
    int wait = hub->sync_wait_ms > 5000 ? hub->sync_wait_ms : 5000;
    if (broker_wait_synced(hub->broker, wait) != 0)
        LOG_W("broker_not_synced", "wait_ms=%d note=\"serving local clients; publishes answer 503 "
              "until Redis is reachable\"", wait);
}

/* The event JSON of rt_event_new, in the three parts around what only Redis knows (the epoch
 * and the offset): A EPOCH-OFFSET B OFFSET C. Returns 0 or BH_EINVAL. Parts are new strings. */
int rt__hub_event_parts(const rt_event_in_t *in, int64_t ts_ms, char **a, char **b, char **c)
{
    char ts[32];
    clock_iso8601_ms(ts_ms, ts, sizeof ts);
    json_t *mid = json_pack("{s:s,s:s,s:I,s:o}", "service", rt_service_name(in->service), "type",
                            in->type, "orgId", (json_int_t)in->org_id, "propertyId",
                            in->property_id ? json_integer(in->property_id) : json_null());
    json_t *tail = json_pack("{s:s,s:O}", "timestamp", ts, "data", in->data);
    char *m = mid ? json_dumps(mid, JSON_COMPACT) : NULL;
    char *t = tail ? json_dumps(tail, JSON_COMPACT) : NULL;
    json_decref(mid);
    json_decref(tail);
    if (m == NULL || t == NULL) {
        free(m);
        free(t);
        return BH_EINVAL;
    }
    /* m = {"service":...,"propertyId":X}  ->  ","service":...,"propertyId":X,"offset":
     * t = {"timestamp":...,"data":{...}}  ->  ,"timestamp":...,"data":{...}} */
    size_t ml = strlen(m);
    *a = xstrdup("{\"id\":\"");
    *b = xmalloc(ml + 16);
    snprintf(*b, ml + 16, "\",%.*s,\"offset\":", (int)(ml - 2), m + 1);
    *c = xmalloc(strlen(t) + 2);
    snprintf(*c, strlen(t) + 2, ",%s", t + 1);
    free(m);
    free(t);
    return 0;
}

static int publish_remote(rt_hub_t *hub, stream_t *s, const rt_event_in_t *in, int64_t *offset)
{
    int64_t now = clock_unix_ms();
    char *a, *b, *c;
    if (rt__hub_event_parts(in, now, &a, &b, &c) != 0) return BH_EINVAL;
    char fresh[RT_EPOCH_LEN + 1];
    uv_mutex_lock(&s->lock);
    int64_t head = s->head;
    memcpy(fresh, s->epoch, sizeof fresh);
    uv_mutex_unlock(&s->lock);
    /* Redis uses this epoch only for a stream it does not have. If this node has seen events of
     * the stream, Redis lost them (a restart without AOF, a flush): a new random epoch, so that
     * every node sees a new history rather than taking offsets 1, 2, ... as duplicates. */
    if (head > 0) new_epoch(fresh);
    broker_publish_t p = {
        .org_id = in->org_id,
        .service = rt_service_name(in->service),
        .property_id = in->property_id,
        .ts_ms = now,
        .min_ts_ms = now - hub->cfg.history_max_age_ms,
        .max_events = (int64_t)hub->cfg.history_max_events,
        .new_epoch = fresh,
        .json_a = a,
        .json_b = b,
        .json_c = c,
        .idem_key = in->idem_key && *in->idem_key ? in->idem_key : NULL,
        .idem_ttl_ms = hub->cfg.history_max_age_ms,
    };
    int64_t off = 0;
    char epoch[BROKER_EPOCH_LEN + 1];
    int rc = broker_publish(hub->broker, &p, &off, epoch);
    free(a);
    free(b);
    free(c);
    if (rc == BH_EEXIST) { /* a retry: the original's offset, nothing published */
        *offset = off;
        return BH_EEXIST;
    }
    if (rc != 0) {
        LOG_W("publish_failed", "org=%lld service=%s broker=redis err=%s", (long long)in->org_id,
              rt_service_name(in->service), err_str(rc));
        return rc == BH_EAGAIN ? BH_EAGAIN : BH_ESTORE;
    }
    /* Acknowledged by Redis. Wait (briefly) until this node has applied it, so that the answer's
     * position and an immediate resume here include it; on timeout it is still published. */
    uint64_t end = clock_mono_ns() + (uint64_t)hub->sync_wait_ms * 1000000ull;
    uv_mutex_lock(&s->lock);
    while (!(strcmp(s->epoch, epoch) == 0 && s->head >= off)) {
        uint64_t t = clock_mono_ns();
        if (t >= end || uv_cond_timedwait(&s->applied, &s->lock, end - t) != 0) break;
    }
    uv_mutex_unlock(&s->lock);
    *offset = off;
    return 0;
}
