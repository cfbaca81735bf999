/* metrics.h: counters and latency histograms of the realtime streams.
 *
 * Each worker owns one rt_metrics_t and is its only writer, so counting costs a plain store (the
 * fields are atomics only so that a reader on another thread sees whole values). Readers add the
 * workers' sets together (rt_metrics_sum). */
#ifndef BH_REALTIME_METRICS_H
#define BH_REALTIME_METRICS_H

#include "core/buf.h"
#include "realtime/service.h"

#include <stdatomic.h>
#include <stdint.h>

#define RT_HIST_BUCKETS 120 /* log-linear: 4 per power of two, from 1 us */

typedef struct rt_hist_s {
    _Atomic uint64_t buckets[RT_HIST_BUCKETS];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
    _Atomic uint64_t max_us;
} rt_hist_t;

typedef struct rt_metrics_s {
    _Atomic int64_t connections;     /* stream connections open now (after the upgrade) */
    _Atomic uint64_t connections_total;
    _Atomic uint64_t handshakes_failed;
    _Atomic uint64_t messages_out;   /* WebSocket messages sent on streams */
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t messages_in;
    _Atomic uint64_t events_delivered[RT_SVC__COUNT]; /* event copies written to sockets */
    _Atomic uint64_t events_published[RT_SVC__COUNT];
    _Atomic uint64_t resumes;
    _Atomic uint64_t resets;
    _Atomic uint64_t slow_consumer_closes;
    _Atomic uint64_t events_dropped;  /* not sent to a connection that was closing */
    _Atomic uint64_t events_joined;   /* joined a fan-out round already under way */
    _Atomic uint64_t polls_answered;  /* long-polls answered 200 (events, or none at timeout) */
    _Atomic uint64_t poll_events;     /* events sent in long-poll answers */
    _Atomic int64_t polls_held;       /* long-polls waiting for events now */
    rt_hist_t latency;                /* publish -> socket write, per delivered event */
} rt_metrics_t;

/* Single-writer increment: a relaxed load and store (no locked instruction). */
#define RT_INC(field, n)                                                                          \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),   \
                          memory_order_relaxed)

void rt_hist_record(rt_hist_t *h, uint64_t us);
/* n observations of us at once. */
void rt_hist_record_n(rt_hist_t *h, uint64_t us, uint64_t n);
/* Value (us) at quantile q (0..1) of h, from bucket upper bounds. 0 when empty. */
uint64_t rt_hist_quantile(const rt_hist_t *h, double q);
/* Upper bound (us) of bucket i. */
uint64_t rt_hist_bucket_upper(int i);
/* out += in, field by field. */
void rt_metrics_add(rt_metrics_t *out, const rt_metrics_t *in);

/* Prometheus text exposition format 0.0.4, for GET /metrics. */
/* Appends the "# HELP" and "# TYPE" lines of a family; type is "counter", "gauge", ... */
void rt_prom_family(buf_t *b, const char *name, const char *type, const char *help);
/* Appends h as histogram family name (seconds): its internal buckets folded into conventional
 * bounds from 0.5 ms to 5 s, then +Inf, _sum and _count. */
void rt_prom_hist(buf_t *b, const char *name, const char *help, const rt_hist_t *h);

#endif
