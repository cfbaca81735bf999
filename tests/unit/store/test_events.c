/* Tests for the realtime event history of the store (store_event_append, store_streams_load,
 * store_events_scan, store_events_prune) on the SQLite backend, each in a fresh directory. */
#include "test.h"

#include "core/clock.h"
#include "core/err.h"
#include "store/store.h"

#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Fixtures */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int fixture_open(char dir[64], store_t **st)
{
    snprintf(dir, 64, "/tmp/bellhop-events-XXXXXX");
    if (mkdtemp(dir) == NULL) return -1;
    int rc = store_open(NULL, dir, st);
    if (rc != 0) return rc;
    return store_migrate(*st, NULL, NULL);
}

static void fixture_close(char dir[64], store_t *st)
{
    store_close(st);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Appends one event whose JSON names its stream and offset, so scans can check the bytes. */
static int append(store_t *st, int64_t org, const char *service, const char *epoch, int64_t off,
                  int64_t ts)
{
    char json[128];
    int n = snprintf(json, sizeof json, "{\"org\":%lld,\"service\":\"%s\",\"offset\":%lld}",
                     (long long)org, service, (long long)off);
    store_event_t e = {.org_id = org,
                       .service = service,
                       .epoch = epoch,
                       .offset = off,
                       .property_id = off % 2 ? 7 : 0,
                       .ts_ms = ts,
                       .type = "thing_happened",
                       .json = json,
                       .json_len = (size_t)n};
    return store_event_append(st, &e);
}

/* A scan collected into arrays. */
typedef struct seen_s {
    size_t n;
    int64_t org[64];
    char service[64][STORE_SERVICE_MAX];
    char epoch[64][STORE_EPOCH_MAX];
    int64_t offset[64];
    int64_t property_id[64];
    int64_t ts[64];
    char type[64][32];
    char json[64][128];
    size_t stop_after; /* 0: never stop */
} seen_t;

static int collect(const store_event_t *e, void *data)
{
    seen_t *s = data;
    if (s->n == 64) return -1;
    size_t i = s->n++;
    s->org[i] = e->org_id;
    snprintf(s->service[i], sizeof s->service[i], "%s", e->service);
    snprintf(s->epoch[i], sizeof s->epoch[i], "%s", e->epoch);
    s->offset[i] = e->offset;
    s->property_id[i] = e->property_id;
    s->ts[i] = e->ts_ms;
    snprintf(s->type[i], sizeof s->type[i], "%s", e->type);
    snprintf(s->json[i], sizeof s->json[i], "%.*s", (int)e->json_len, e->json);
    return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static const store_stream_t *find_stream(const store_stream_t *arr, size_t n, int64_t org,
                                         const char *service)
{
    for (size_t i = 0; i < n; i++)
        if (arr[i].org_id == org && strcmp(arr[i].service, service) == 0) return &arr[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Append and heads */

TEST(append_creates_stream_and_moves_head)
{
    char dir[64];
    store_t *st = NULL;
    store_stream_t *streams = NULL;
    size_t n = 99;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    /* A fresh store has no streams, and says so with NULL. */
    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(0, n);
    ASSERT(streams == NULL);

    /* No organisation rows exist: the history does not need them. */
    for (int64_t off = 1; off <= 3; off++)
        ASSERT_EQ_INT(0, append(st, 1, "finance", "aaaaaaaaaaaaaaaa", off, 1000 + off));
    ASSERT_EQ_INT(0, append(st, 1, "guest", "bbbbbbbbbbbbbbbb", 1, 1000));
    ASSERT_EQ_INT(0, append(st, 2, "finance", "cccccccccccccccc", 5, 1000));

    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(3, n);
    /* Ordered by (org, service). */
    ASSERT_EQ_INT(1, streams[0].org_id);
    ASSERT_EQ_STR("finance", streams[0].service);
    ASSERT_EQ_STR("aaaaaaaaaaaaaaaa", streams[0].epoch);
    ASSERT_EQ_INT(3, streams[0].head);
    ASSERT_EQ_STR("guest", streams[1].service);
    ASSERT_EQ_INT(1, streams[1].head);
    ASSERT_EQ_INT(2, streams[2].org_id);
    ASSERT_EQ_INT(5, streams[2].head);
    free(streams);

    /* Appending below the head stores the event but never moves the head back. */
    ASSERT_EQ_INT(0, append(st, 2, "finance", "cccccccccccccccc", 4, 1000));
    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(5, find_stream(streams, n, 2, "finance")->head);
    free(streams);
    fixture_close(dir, st);
}

TEST(append_with_another_epoch_is_refused_and_stores_nothing)
{
    char dir[64];
    store_t *st = NULL;
    store_stream_t *streams = NULL;
    size_t n = 0;
    seen_t seen = {0};
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, append(st, 1, "tasks", "epoch-one", 1, 1000));
    ASSERT_EQ_INT(BH_EINVAL, append(st, 1, "tasks", "epoch-two", 2, 1000));
    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_STR("epoch-one", streams[0].epoch);
    ASSERT_EQ_INT(1, streams[0].head);
    free(streams);
    /* The event insert was rolled back with the head. */
    ASSERT_EQ_INT(0, store_events_scan(st, 0, SIZE_MAX, collect, &seen));
    ASSERT_EQ_INT(1, seen.n);
    ASSERT_EQ_INT(1, seen.offset[0]);
    /* The right epoch still works afterwards: the connection was left clean. */
    ASSERT_EQ_INT(0, append(st, 1, "tasks", "epoch-one", 2, 1000));
    fixture_close(dir, st);
}

TEST(duplicate_offset_is_eexist_and_keeps_the_first)
{
    char dir[64];
    store_t *st = NULL;
    store_stream_t *streams = NULL;
    size_t n = 0;
    seen_t seen = {0};
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, append(st, 1, "users", "e", 1, 1000));
    ASSERT_EQ_INT(0, append(st, 1, "users", "e", 2, 1000));
    store_event_t dup = {.org_id = 1,
                         .service = "users",
                         .epoch = "e",
                         .offset = 1,
                         .ts_ms = 5,
                         .type = "other",
                         .json = "{}",
                         .json_len = 2};
    ASSERT_EQ_INT(BH_EEXIST, store_event_append(st, &dup));
    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(2, streams[0].head);
    free(streams);
    ASSERT_EQ_INT(0, store_events_scan(st, 0, 10, collect, &seen));
    ASSERT_EQ_INT(2, seen.n);
    ASSERT_EQ_STR("thing_happened", seen.type[0]);
    ASSERT_EQ_STR("{\"org\":1,\"service\":\"users\",\"offset\":1}", seen.json[0]);
    fixture_close(dir, st);
}

TEST(append_argument_checks)
{
    char dir[64];
    store_t *st = NULL;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    store_event_t ok = {.org_id = 1,
                        .service = "finance",
                        .epoch = "0123456789abcdef",
                        .offset = 1,
                        .ts_ms = 1,
                        .type = "t",
                        .json = "{}",
                        .json_len = 2};
    store_event_t e;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, NULL));
    e = ok, e.org_id = 0;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.service = NULL;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.service = "";
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.service = "sixteen-chars-xx"; /* 16 bytes: no room for the NUL */
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.epoch = "";
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.epoch = "0123456789abcdef0123456789abcdef0"; /* 33 bytes */
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.offset = 0;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.offset = -3;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.property_id = -1;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.type = NULL;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.json = NULL;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    e = ok, e.json_len = 0;
    ASSERT_EQ_INT(BH_EINVAL, store_event_append(st, &e));
    /* The longest names that fit. */
    e = ok, e.service = "fifteen-chars-x", e.epoch = "0123456789abcdef0123456789abcdef";
    ASSERT_EQ_INT(0, store_event_append(st, &e));

    store_stream_t *streams = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(BH_EINVAL, store_streams_load(st, NULL, &n));
    ASSERT_EQ_INT(BH_EINVAL, store_streams_load(st, &streams, NULL));
    ASSERT_EQ_INT(BH_EINVAL, store_events_scan(st, 0, 1, NULL, NULL));
    fixture_close(dir, st);
}

/* ---------------------------------------------------------------------------------------------
 * Scan */

TEST(scan_orders_and_limits_per_stream)
{
    char dir[64];
    store_t *st = NULL;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    /* Interleaved appends across three streams, with time running forwards. */
    int64_t ts = 10000;
    for (int64_t off = 1; off <= 5; off++) {
        ASSERT_EQ_INT(0, append(st, 2, "finance", "e2", off, ts++));
        ASSERT_EQ_INT(0, append(st, 1, "tasks", "e1t", off, ts++));
        ASSERT_EQ_INT(0, append(st, 1, "finance", "e1f", off, ts++));
    }

    seen_t all = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 0, SIZE_MAX, collect, &all));
    ASSERT_EQ_INT(15, all.n);
    /* (org, service, offset) ascending. */
    ASSERT_EQ_INT(1, all.org[0]);
    ASSERT_EQ_STR("finance", all.service[0]);
    ASSERT_EQ_STR("e1f", all.epoch[0]);
    ASSERT_EQ_INT(1, all.offset[0]);
    ASSERT_EQ_INT(5, all.offset[4]);
    ASSERT_EQ_STR("tasks", all.service[5]);
    ASSERT_EQ_STR("e1t", all.epoch[5]);
    ASSERT_EQ_INT(2, all.org[10]);
    ASSERT_EQ_INT(5, all.offset[14]);
    /* Event fields survive the round trip; property 0 reads back as 0. */
    ASSERT_EQ_INT(7, all.property_id[0]);
    ASSERT_EQ_INT(0, all.property_id[1]);
    ASSERT_EQ_STR("thing_happened", all.type[3]);
    ASSERT_EQ_STR("{\"org\":1,\"service\":\"tasks\",\"offset\":3}", all.json[7]);

    /* The two newest of each stream, still ascending. */
    seen_t two = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 0, 2, collect, &two));
    ASSERT_EQ_INT(6, two.n);
    for (size_t i = 0; i < 6; i += 2) {
        ASSERT_EQ_INT(4, two.offset[i]);
        ASSERT_EQ_INT(5, two.offset[i + 1]);
    }

    /* Age cut: the tasks stream of org 1 got ts 10001, 10004, ... 10013; from 10010 only the
     * events at 10010 (offset 4) and 10013 (offset 5) remain. */
    seen_t recent = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 10010, SIZE_MAX, collect, &recent));
    size_t tasks = 0;
    for (size_t i = 0; i < recent.n; i++) {
        ASSERT(recent.ts[i] >= 10010);
        if (strcmp(recent.service[i], "tasks") == 0) tasks++;
    }
    ASSERT_EQ_INT(2, tasks);
    ASSERT_EQ_INT(5, recent.n); /* 10010..10014 */

    /* A window of zero events reads nothing. */
    seen_t none = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 0, 0, collect, &none));
    ASSERT_EQ_INT(0, none.n);
    fixture_close(dir, st);
}

TEST(scan_stops_when_the_callback_says_so)
{
    char dir[64];
    store_t *st = NULL;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    for (int64_t off = 1; off <= 4; off++)
        ASSERT_EQ_INT(0, append(st, 1, "guest", "e", off, 1000));
    seen_t seen = {.stop_after = 2};
    ASSERT_EQ_INT(42, store_events_scan(st, 0, 100, collect, &seen));
    ASSERT_EQ_INT(2, seen.n);
    /* The statement was reset: the store is still usable, including for a new scan. */
    ASSERT_EQ_INT(0, append(st, 1, "guest", "e", 5, 1000));
    seen_t again = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 0, 100, collect, &again));
    ASSERT_EQ_INT(5, again.n);
    fixture_close(dir, st);
}

TEST(json_bytes_are_stored_exactly)
{
    char dir[64];
    store_t *st = NULL;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    /* Not NUL-terminated at json_len: the trailing bytes must not be stored. */
    const char buf[] = "{\"a\":\"caf\xc3\xa9\"}GARBAGE";
    store_event_t e = {.org_id = 3,
                       .service = "branding",
                       .epoch = "e",
                       .offset = 1,
                       .ts_ms = 1,
                       .type = "logo_changed",
                       .json = buf,
                       .json_len = sizeof buf - 1 - 7};
    ASSERT_EQ_INT(0, store_event_append(st, &e));
    seen_t seen = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 0, 1, collect, &seen));
    ASSERT_EQ_INT(1, seen.n);
    ASSERT_EQ_STR("{\"a\":\"caf\xc3\xa9\"}", seen.json[0]);
    fixture_close(dir, st);
}

/* ---------------------------------------------------------------------------------------------
 * Prune */

TEST(prune_by_count_keeps_heads)
{
    char dir[64];
    store_t *st = NULL;
    store_stream_t *streams = NULL;
    size_t n = 0;
    int64_t deleted = -1;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    for (int64_t off = 1; off <= 6; off++)
        ASSERT_EQ_INT(0, append(st, 1, "finance", "e", off, 1000 + off));
    for (int64_t off = 1; off <= 2; off++)
        ASSERT_EQ_INT(0, append(st, 1, "guest", "g", off, 1000 + off));

    ASSERT_EQ_INT(0, store_events_prune(st, 0, 3, &deleted));
    ASSERT_EQ_INT(3, deleted); /* finance 1..3; guest has only 2 */
    seen_t seen = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 0, SIZE_MAX, collect, &seen));
    ASSERT_EQ_INT(5, seen.n);
    ASSERT_EQ_INT(4, seen.offset[0]);
    ASSERT_EQ_INT(6, seen.offset[2]);
    ASSERT_EQ_STR("guest", seen.service[3]);

    /* Idempotent, and NULL is fine for the count. */
    ASSERT_EQ_INT(0, store_events_prune(st, 0, 3, NULL));
    ASSERT_EQ_INT(0, store_events_prune(st, 0, 3, &deleted));
    ASSERT_EQ_INT(0, deleted);

    /* Zero keeps nothing, but the heads and epochs stay, so offsets are never reused. */
    ASSERT_EQ_INT(0, store_events_prune(st, 0, 0, &deleted));
    ASSERT_EQ_INT(5, deleted);
    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_INT(6, find_stream(streams, n, 1, "finance")->head);
    ASSERT_EQ_STR("e", find_stream(streams, n, 1, "finance")->epoch);
    ASSERT_EQ_INT(2, find_stream(streams, n, 1, "guest")->head);
    free(streams);
    ASSERT_EQ_INT(BH_EINVAL, append(st, 1, "finance", "new-epoch", 7, 2000));
    ASSERT_EQ_INT(0, append(st, 1, "finance", "e", 7, 2000));
    fixture_close(dir, st);
}

TEST(prune_by_age)
{
    char dir[64];
    store_t *st = NULL;
    int64_t deleted = -1;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    int64_t now = clock_unix_ms();
    ASSERT_EQ_INT(0, append(st, 1, "tasks", "e", 1, now - 3600 * 1000));
    ASSERT_EQ_INT(0, append(st, 1, "tasks", "e", 2, now - 120 * 1000));
    ASSERT_EQ_INT(0, append(st, 1, "tasks", "e", 3, now - 1000));
    ASSERT_EQ_INT(0, append(st, 2, "tasks", "e", 1, now - 7200 * 1000));
    /* Everything older than a minute goes; the count window is not the limit here. */
    ASSERT_EQ_INT(0, store_events_prune(st, now - 60 * 1000, SIZE_MAX, &deleted));
    ASSERT_EQ_INT(3, deleted);
    seen_t seen = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 0, SIZE_MAX, collect, &seen));
    ASSERT_EQ_INT(1, seen.n);
    ASSERT_EQ_INT(3, seen.offset[0]);

    store_stream_t *streams = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_INT(1, find_stream(streams, n, 2, "tasks")->head);
    free(streams);
    fixture_close(dir, st);
}

/* ---------------------------------------------------------------------------------------------
 * Durability and concurrency */

TEST(history_reloads_after_reopen)
{
    char dir[64];
    store_t *st = NULL;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    for (int64_t off = 1; off <= 3; off++)
        ASSERT_EQ_INT(0, append(st, 9, "properties", "feedfacefeedface", off, 5000 + off));
    store_close(st);
    st = NULL;

    ASSERT_EQ_INT(0, store_open(NULL, dir, &st));
    int applied = -1;
    ASSERT_EQ_INT(0, store_migrate(st, &applied, NULL));
    ASSERT_EQ_INT(0, applied);
    store_stream_t *streams = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(9, streams[0].org_id);
    ASSERT_EQ_STR("properties", streams[0].service);
    ASSERT_EQ_STR("feedfacefeedface", streams[0].epoch);
    ASSERT_EQ_INT(3, streams[0].head);
    free(streams);
    seen_t seen = {0};
    ASSERT_EQ_INT(0, store_events_scan(st, 0, 100, collect, &seen));
    ASSERT_EQ_INT(3, seen.n);
    ASSERT_EQ_INT(5003, seen.ts[2]);
    ASSERT_EQ_STR("feedfacefeedface", seen.epoch[2]);
    ASSERT_EQ_STR("{\"org\":9,\"service\":\"properties\",\"offset\":3}", seen.json[2]);
    fixture_close(dir, st);
}

typedef struct appender_s {
    store_t *st;
    int64_t org;
    int failures;
} appender_t;

static void *append_many(void *arg)
{
    appender_t *a = arg;
    for (int64_t off = 1; off <= 40; off++)
        if (append(a->st, a->org, "finance", "e", off, 1000) != 0) a->failures++;
    return NULL;
}

TEST(concurrent_appends_to_many_streams)
{
    char dir[64];
    store_t *st = NULL;
    pthread_t t[10];
    appender_t a[10];
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    /* More threads than pooled connections: some wait for a check-in, all take the write lock. */
    for (int i = 0; i < 10; i++) {
        a[i] = (appender_t){.st = st, .org = i + 1};
        ASSERT_EQ_INT(0, pthread_create(&t[i], NULL, append_many, &a[i]));
    }
    for (int i = 0; i < 10; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ_INT(0, a[i].failures);
    store_stream_t *streams = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(0, store_streams_load(st, &streams, &n));
    ASSERT_EQ_INT(10, n);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(40, streams[i].head);
    free(streams);
    fixture_close(dir, st);
}

TEST_MAIN(TEST_ENTRY(append_creates_stream_and_moves_head),
          TEST_ENTRY(append_with_another_epoch_is_refused_and_stores_nothing),
          TEST_ENTRY(duplicate_offset_is_eexist_and_keeps_the_first),
          TEST_ENTRY(append_argument_checks), TEST_ENTRY(scan_orders_and_limits_per_stream),
          TEST_ENTRY(scan_stops_when_the_callback_says_so),
          TEST_ENTRY(json_bytes_are_stored_exactly), TEST_ENTRY(prune_by_count_keeps_heads),
          TEST_ENTRY(prune_by_age), TEST_ENTRY(history_reloads_after_reopen),
          TEST_ENTRY(concurrent_appends_to_many_streams))
