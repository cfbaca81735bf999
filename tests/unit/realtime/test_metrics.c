/* Latency histogram: bucket bounds are monotonic and every value lands in its bucket. */
#include "realtime/metrics.h"
#include "test.h"

#include <stdlib.h>

TEST(bucket_bounds_are_increasing)
{
    for (int i = 1; i < RT_HIST_BUCKETS; i++)
        ASSERT(rt_hist_bucket_upper(i) > rt_hist_bucket_upper(i - 1));
}

TEST(quantiles_are_within_a_bucket)
{
    rt_hist_t *h = calloc(1, sizeof *h);
    for (uint64_t us = 1; us <= 100000; us++) rt_hist_record(h, us);
    uint64_t p50 = rt_hist_quantile(h, 0.5), p99 = rt_hist_quantile(h, 0.99);
    ASSERT(p50 >= 50000 && p50 <= 50000 * 5 / 4 + 1);
    ASSERT(p99 >= 99000 && p99 <= 100000);
    ASSERT_EQ_INT(100000, atomic_load(&h->count));
    ASSERT_EQ_INT(100000, atomic_load(&h->max_us));
    free(h);
}

TEST(every_value_lands_in_its_bucket)
{
    for (uint64_t us = 1; us < 5000000; us = us * 9 / 8 + 1) {
        rt_hist_t *h = calloc(1, sizeof *h);
        rt_hist_record(h, us);
        int found = -1;
        for (int i = 0; i < RT_HIST_BUCKETS; i++)
            if (atomic_load(&h->buckets[i])) found = i;
        ASSERT(found >= 0);
        ASSERT(rt_hist_bucket_upper(found) >= us);
        ASSERT(found == 0 || rt_hist_bucket_upper(found - 1) < us);
        free(h);
    }
}

TEST_MAIN(TEST_ENTRY(bucket_bounds_are_increasing), TEST_ENTRY(quantiles_are_within_a_bucket),
          TEST_ENTRY(every_value_lands_in_its_bucket))
