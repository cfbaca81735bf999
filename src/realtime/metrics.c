#include "realtime/metrics.h"

#include <string.h>

/* Bucket i holds values in (upper(i-1), upper(i)] microseconds: 1..8 one by one, then four
 * equal steps per power of two (about 25 % resolution), up to about half an hour. */
uint64_t rt_hist_bucket_upper(int i)
{
    if (i < 8) return (uint64_t)i + 1;
    int octave = i / 4 + 1, step = i % 4;
    uint64_t base = 1ull << octave;
    return base + (base / 4) * (uint64_t)(step + 1);
}

static int bucket_of(uint64_t us)
{
    if (us <= 8) return us == 0 ? 0 : (int)us - 1;
    int octave = 63 - __builtin_clzll(us - 1); /* 2^octave < us <= 2^(octave+1) */
    uint64_t base = 1ull << octave, quarter = base / 4;
    int step = (int)((us - base + quarter - 1) / quarter) - 1;
    int i = (octave - 1) * 4 + step;
    return i < RT_HIST_BUCKETS ? i : RT_HIST_BUCKETS - 1;
}

void rt_hist_record(rt_hist_t *h, uint64_t us)
{
    rt_hist_record_n(h, us, 1);
}

void rt_hist_record_n(rt_hist_t *h, uint64_t us, uint64_t n)
{
    int b = bucket_of(us);
    RT_INC(h->buckets[b], n);
    RT_INC(h->count, n);
    RT_INC(h->sum_us, us * n);
    if (us > atomic_load_explicit(&h->max_us, memory_order_relaxed))
        atomic_store_explicit(&h->max_us, us, memory_order_relaxed);
}

uint64_t rt_hist_quantile(const rt_hist_t *h, double q)
{
    uint64_t n = atomic_load_explicit(&h->count, memory_order_relaxed);
    if (n == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)n + 0.5), seen = 0;
    if (want < 1) want = 1;
    for (int i = 0; i < RT_HIST_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (seen >= want) {
            uint64_t up = rt_hist_bucket_upper(i);
            uint64_t max = atomic_load_explicit(&h->max_us, memory_order_relaxed);
            return up < max ? up : max;
        }
    }
    return atomic_load_explicit(&h->max_us, memory_order_relaxed);
}

#define ADD(f) atomic_store(&out->f, atomic_load(&out->f) + atomic_load(&in->f))

void rt_metrics_add(rt_metrics_t *out, const rt_metrics_t *in)
{
    ADD(connections);
    ADD(connections_total);
    ADD(handshakes_failed);
    ADD(messages_out);
    ADD(bytes_out);
    ADD(messages_in);
    for (int s = 0; s < RT_SVC__COUNT; s++) {
        ADD(events_delivered[s]);
        ADD(events_published[s]);
    }
    ADD(resumes);
    ADD(resets);
    ADD(slow_consumer_closes);
    ADD(events_dropped);
    ADD(events_joined);
    ADD(polls_answered);
    ADD(poll_events);
    ADD(polls_held);
    for (int i = 0; i < RT_HIST_BUCKETS; i++) ADD(latency.buckets[i]);
    ADD(latency.count);
    ADD(latency.sum_us);
    uint64_t m = atomic_load(&in->latency.max_us);
    if (m > atomic_load(&out->latency.max_us)) atomic_store(&out->latency.max_us, m);
}

/* ---- Prometheus text format --------------------------------------------------------------------- */

void rt_prom_family(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void rt_prom_hist(buf_t *b, const char *name, const char *help, const rt_hist_t *h)
{
    /* The internal histogram is finer; fold it into conventional bounds. A bound takes the
     * internal buckets whose upper edge is at or below it, so counts are never overstated. */
    static const double bounds_ms[] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
                                       5000};
    rt_prom_family(b, name, "histogram", help);
    uint64_t cum = 0;
    int bi = 0;
    for (size_t k = 0; k < sizeof bounds_ms / sizeof bounds_ms[0]; k++) {
        uint64_t le_us = (uint64_t)(bounds_ms[k] * 1000);
        while (bi < RT_HIST_BUCKETS && rt_hist_bucket_upper(bi) <= le_us)
            cum += atomic_load(&h->buckets[bi++]);
        buf_appendf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds_ms[k] / 1000.0,
                    (unsigned long long)cum);
    }
    /* _count is read after the buckets: a record landing meanwhile can only make +Inf larger
     * than the last bound, never smaller. */
    uint64_t n = atomic_load(&h->count);
    if (n < cum) n = cum;
    buf_appendf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)n);
    buf_appendf(b, "%s_sum %.6f\n", name, (double)atomic_load(&h->sum_us) / 1e6);
    buf_appendf(b, "%s_count %llu\n", name, (unsigned long long)n);
}
