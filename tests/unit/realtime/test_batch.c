/* Batching: one shared body per (stream, visible subset), events in offset order, masks. Reaches
 * stream.c's statics by including it (as h2o's unit tests do). */
#include "realtime/stream.c"
#include "test.h"

static rt_event_t *ev(int64_t offset, int64_t prop)
{
    json_t *data = json_pack("{s:I}", "n", (json_int_t)offset);
    rt_event_in_t in = {1, RT_SVC_FINANCE, "revenue_created", prop, data, NULL};
    rt_event_t *e = rt_event_new(&in, "00112233aabbccdd", offset, 1795000000000);
    json_decref(data);
    return e;
}

TEST(body_holds_the_masked_events_in_order)
{
    rt_event_t *chunk[3] = {ev(1, 1), ev(2, 2), ev(3, 0)};
    blob_t *all = encode_body(RT_SVC_FINANCE, chunk, 3, 0x7);
    char prefix[] = "{\"type\":\"events\",\"seq\":5,";
    char full[4096];
    snprintf(full, sizeof full, "%s%.*s", prefix, (int)all->len, all->data);
    json_error_t err;
    json_t *msg = json_loads(full, 0, &err);
    ASSERT(msg != NULL);
    ASSERT_EQ_STR("events", json_string_value(json_object_get(msg, "type")));
    ASSERT_EQ_STR("finance", json_string_value(json_object_get(msg, "service")));
    json_t *events = json_object_get(msg, "events");
    ASSERT_EQ_INT(3, json_array_size(events));
    for (size_t i = 0; i < 3; i++)
        ASSERT_EQ_INT((long long)i + 1,
                      json_integer_value(json_object_get(json_array_get(events, i), "offset")));
    json_decref(msg);

    blob_t *some = encode_body(RT_SVC_FINANCE, chunk, 3, 0x5); /* offsets 1 and 3 */
    snprintf(full, sizeof full, "%s%.*s", prefix, (int)some->len, some->data);
    msg = json_loads(full, 0, &err);
    ASSERT(msg != NULL);
    events = json_object_get(msg, "events");
    ASSERT_EQ_INT(2, json_array_size(events));
    ASSERT_EQ_INT(3, json_integer_value(json_object_get(json_array_get(events, 1), "offset")));
    json_decref(msg);
    blob_unref(all);
    blob_unref(some);
    for (int i = 0; i < 3; i++) rt_event_unref(chunk[i]);
}

TEST(body_cache_shares_one_blob_per_mask)
{
    rt_event_t *chunk[2] = {ev(1, 1), ev(2, 2)};
    body_cache_t cache = {.n = 0};
    int fresh = -1;
    blob_t *a = cached_body(&cache, RT_SVC_FINANCE, chunk, 2, 0x3, &fresh);
    ASSERT_EQ_INT(0, fresh);
    blob_t *b = cached_body(&cache, RT_SVC_FINANCE, chunk, 2, 0x3, &fresh);
    ASSERT(a == b); /* encoded once, shared */
    blob_t *c = cached_body(&cache, RT_SVC_FINANCE, chunk, 2, 0x1, &fresh);
    ASSERT(c != a);
    ASSERT_EQ_INT(2, cache.n);
    /* Past eight masks the cache stops growing and hands out fresh blobs. */
    for (uint64_t m = 2; m < 12; m++) {
        blob_t *x = cached_body(&cache, RT_SVC_FINANCE, chunk, 2, m << 2, &fresh);
        if (fresh) blob_unref(x);
    }
    ASSERT_EQ_INT(8, cache.n);
    cache_clear(&cache);
    ASSERT_EQ_INT(0, cache.n);
    for (int i = 0; i < 2; i++) rt_event_unref(chunk[i]);
}

TEST(property_scope_filters_events)
{
    session_t s;
    memset(&s, 0, sizeof s);
    int64_t props[] = {1, 3};
    s.property_ids = props;
    s.n_properties = 2;
    ASSERT(session_allows(&s, 0)); /* no property: everyone in the org */
    ASSERT(session_allows(&s, 3));
    ASSERT(!session_allows(&s, 2));
    s.all_properties = 1;
    ASSERT(session_allows(&s, 2));
}

TEST_MAIN(TEST_ENTRY(body_holds_the_masked_events_in_order),
          TEST_ENTRY(body_cache_shares_one_blob_per_mask), TEST_ENTRY(property_scope_filters_events))
