/* Hub: offsets, epochs, the history window (count and age), since() answers, reload. */
#include "core/err.h"
#include "core/log.h"
#include "realtime/hub.h"
#include "store/store.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[64];

static store_t *open_store(void)
{
    store_t *st = NULL;
    if (store_open(NULL, dir, &st) != 0) return NULL;
    if (store_migrate(st, NULL, NULL) != 0) {
        store_close(st);
        return NULL;
    }
    return st;
}

static int publish(rt_hub_t *hub, int64_t org, rt_service_t svc, int64_t prop, int64_t *off)
{
    json_t *data = json_pack("{s:I}", "n", (json_int_t)org);
    rt_event_in_t ev = {org, svc, "thing_happened", prop, data, NULL};
    int rc = rt_hub_publish(hub, &ev, off);
    json_decref(data);
    return rc;
}

typedef struct {
    int n;
    int64_t last;
} sink_t;

static void on_sink(void *data, rt_event_t *ev)
{
    sink_t *s = data;
    s->n++;
    s->last = ev->offset;
    rt_event_unref(ev);
}

static void free_events(rt_event_t **ev, size_t n)
{
    for (size_t i = 0; i < n; i++) rt_event_unref(ev[i]);
    free(ev);
}

TEST(offsets_are_per_stream_and_consecutive)
{
    store_t *st = open_store();
    ASSERT(st != NULL);
    rt_hub_config_t cfg = {100, 3600 * 1000};
    rt_hub_t *hub = rt_hub_new(st, &cfg);
    sink_t sink = {0, 0};
    rt_hub_set_sink(hub, on_sink, &sink);
    int64_t off = 0;
    for (int i = 1; i <= 5; i++) {
        ASSERT_EQ_INT(0, publish(hub, 1, RT_SVC_FINANCE, 0, &off));
        ASSERT_EQ_INT(i, off);
    }
    ASSERT_EQ_INT(0, publish(hub, 2, RT_SVC_FINANCE, 0, &off));
    ASSERT_EQ_INT(1, off); /* another org: its own stream */
    ASSERT_EQ_INT(0, publish(hub, 1, RT_SVC_TASKS, 0, &off));
    ASSERT_EQ_INT(1, off);
    ASSERT_EQ_INT(7, sink.n);
    rt_event_in_t bad = {1, RT_SVC_FINANCE, "Bad Type", 0, NULL, NULL};
    ASSERT_EQ_INT(BH_EINVAL, rt_hub_publish(hub, &bad, &off));
    rt_hub_free(hub);
    store_close(st);
}

TEST(since_replays_exactly_and_detects_gaps)
{
    store_t *st = open_store();
    rt_hub_config_t cfg = {5, 3600 * 1000};
    rt_hub_t *hub = rt_hub_new(st, &cfg);
    int64_t off, head;
    char epoch[RT_EPOCH_LEN + 1];
    for (int i = 0; i < 8; i++) publish(hub, 3, RT_SVC_GUEST, 0, &off);
    rt_hub_position(hub, 3, RT_SVC_GUEST, &head, epoch);
    ASSERT_EQ_INT(8, head);
    rt_event_t **ev;
    size_t n;
    int more;
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(hub, 3, RT_SVC_GUEST, epoch, 5, 100, &ev, &n, &more,
                                            &head));
    ASSERT_EQ_INT(3, n);
    ASSERT_EQ_INT(6, ev[0]->offset);
    ASSERT_EQ_INT(8, ev[2]->offset);
    free_events(ev, n);
    /* The window holds 4..8: resuming after 3 is fine, after 2 is not. */
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(hub, 3, RT_SVC_GUEST, epoch, 3, 100, &ev, &n, &more,
                                            &head));
    ASSERT_EQ_INT(5, n);
    free_events(ev, n);
    ASSERT_EQ_INT(RT_SINCE_TOO_OLD, rt_hub_since(hub, 3, RT_SVC_GUEST, epoch, 2, 100, &ev, &n,
                                                 &more, &head));
    ASSERT_EQ_INT(RT_SINCE_FUTURE, rt_hub_since(hub, 3, RT_SVC_GUEST, epoch, 9, 100, &ev, &n,
                                                &more, &head));
    ASSERT_EQ_INT(RT_SINCE_EPOCH, rt_hub_since(hub, 3, RT_SVC_GUEST, "0000000000000000", 5, 100,
                                               &ev, &n, &more, &head));
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(hub, 3, RT_SVC_GUEST, epoch, 4, 2, &ev, &n, &more,
                                            &head));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_INT(1, more);
    free_events(ev, n);
    /* Up to date: nothing, no error. */
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(hub, 3, RT_SVC_GUEST, epoch, 8, 100, &ev, &n, &more,
                                            &head));
    ASSERT_EQ_INT(0, n);
    rt_hub_free(hub);
    store_close(st);
}

TEST(history_and_epoch_survive_a_reload)
{
    store_t *st = open_store();
    rt_hub_config_t cfg = {100, 3600 * 1000};
    rt_hub_t *hub = rt_hub_new(st, &cfg);
    int64_t off, head;
    char epoch[RT_EPOCH_LEN + 1], epoch2[RT_EPOCH_LEN + 1];
    for (int i = 0; i < 4; i++) publish(hub, 4, RT_SVC_STAFF, 0, &off);
    rt_hub_position(hub, 4, RT_SVC_STAFF, &head, epoch);
    rt_hub_free(hub);
    store_close(st);

    st = open_store();
    hub = rt_hub_new(st, &cfg);
    ASSERT_EQ_INT(0, rt_hub_load(hub));
    rt_hub_position(hub, 4, RT_SVC_STAFF, &head, epoch2);
    ASSERT_EQ_INT(4, head);
    ASSERT_EQ_STR(epoch, epoch2);
    rt_event_t **ev;
    size_t n;
    int more;
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(hub, 4, RT_SVC_STAFF, epoch, 1, 100, &ev, &n, &more,
                                            &head));
    ASSERT_EQ_INT(3, n);
    ASSERT_EQ_INT(2, ev[0]->offset);
    free_events(ev, n);
    ASSERT_EQ_INT(0, publish(hub, 4, RT_SVC_STAFF, 0, &off));
    ASSERT_EQ_INT(5, off);
    rt_hub_free(hub);
    store_close(st);
}

static int publish_key(rt_hub_t *hub, int64_t org, const char *key, int64_t *off)
{
    json_t *data = json_object();
    rt_event_in_t ev = {org, RT_SVC_FINANCE, "revenue_created", 0, data, key};
    int rc = rt_hub_publish(hub, &ev, off);
    json_decref(data);
    return rc;
}

/* A retried publish (same Idempotency-Key, same stream) is recognised, also after a restart;
 * another stream or another key is a new event. */
TEST(idempotency_keys_dedupe_within_the_window_and_across_a_reload)
{
    store_t *st = open_store();
    rt_hub_config_t cfg = {100, 3600 * 1000};
    rt_hub_t *hub = rt_hub_new(st, &cfg);
    sink_t sink = {0, 0};
    rt_hub_set_sink(hub, on_sink, &sink);
    int64_t off = 0;
    ASSERT_EQ_INT(0, publish_key(hub, 5, "k-1", &off));
    ASSERT_EQ_INT(1, off);
    ASSERT_EQ_INT(0, publish_key(hub, 5, "k-2", &off));
    ASSERT_EQ_INT(0, publish_key(hub, 5, NULL, &off));
    ASSERT_EQ_INT(3, off);
    off = 0;
    ASSERT_EQ_INT(BH_EEXIST, publish_key(hub, 5, "k-1", &off));
    ASSERT_EQ_INT(1, off); /* the original's offset */
    ASSERT_EQ_INT(3, sink.n); /* nothing was published again */
    ASSERT_EQ_INT(0, publish_key(hub, 6, "k-1", &off)); /* another org's stream */
    ASSERT_EQ_INT(1, off);
    rt_hub_free(hub);
    store_close(st);

    st = open_store();
    hub = rt_hub_new(st, &cfg);
    ASSERT_EQ_INT(0, rt_hub_load(hub));
    ASSERT_EQ_INT(BH_EEXIST, publish_key(hub, 5, "k-2", &off));
    ASSERT_EQ_INT(2, off);
    ASSERT_EQ_INT(0, publish_key(hub, 5, "k-3", &off));
    ASSERT_EQ_INT(4, off);
    rt_hub_free(hub);
    store_close(st);
}

TEST(age_window_drops_old_events)
{
    store_t *st = open_store();
    rt_hub_config_t cfg = {100, 50}; /* 50 ms */
    rt_hub_t *hub = rt_hub_new(st, &cfg);
    int64_t off, head;
    char epoch[RT_EPOCH_LEN + 1];
    publish(hub, 5, RT_SVC_TASKS, 0, &off);
    publish(hub, 5, RT_SVC_TASKS, 0, &off);
    rt_hub_position(hub, 5, RT_SVC_TASKS, &head, epoch);
    usleep(120 * 1000); /* the window is a wall-clock age: it must pass for real */
    rt_event_t **ev;
    size_t n;
    int more;
    ASSERT_EQ_INT(RT_SINCE_TOO_OLD, rt_hub_since(hub, 5, RT_SVC_TASKS, epoch, 0, 100, &ev, &n,
                                                 &more, &head));
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(hub, 5, RT_SVC_TASKS, epoch, 2, 100, &ev, &n, &more,
                                            &head));
    ASSERT_EQ_INT(0, rt_hub_prune(hub));
    rt_hub_free(hub);
    store_close(st);
}

TEST(untouched_stream_accepts_offset_zero_with_any_epoch)
{
    store_t *st = open_store();
    rt_hub_config_t cfg = {100, 3600 * 1000};
    rt_hub_t *hub = rt_hub_new(st, &cfg);
    rt_event_t **ev;
    size_t n;
    int more;
    int64_t head;
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(hub, 6, RT_SVC_REPORTS, "ffffffffffffffff", 0, 10,
                                            &ev, &n, &more, &head));
    ASSERT_EQ_INT(0, n);
    rt_hub_free(hub);
    store_close(st);
}

TEST_RUN(TEST_ENTRY(offsets_are_per_stream_and_consecutive),
          TEST_ENTRY(since_replays_exactly_and_detects_gaps),
          TEST_ENTRY(history_and_epoch_survive_a_reload),
          TEST_ENTRY(idempotency_keys_dedupe_within_the_window_and_across_a_reload),
          TEST_ENTRY(age_window_drops_old_events),
          TEST_ENTRY(untouched_stream_accepts_offset_zero_with_any_epoch))
int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/bellhop-hub-XXXXXX");
    if (mkdtemp(dir) == NULL) return 1;
    log_set_level(LOG_WARN);
    int rc = test_run_all() ? 1 : 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return rc;
}
