/* Broker, the sans-I/O parts: Redis URLs, key names, notifications (every split point of a valid
 * one is invalid), gap decisions, the event JSON in parts, and the scripts' SHA-1. */
#include "broker/broker.h"
#include "broker/proto.h"
#include "core/err.h"
#include "realtime/event.h"
#include "realtime/hub.h"
#include "test.h"

#include <stdlib.h>

TEST(url_full)
{
    broker_url_t u;
    ASSERT_EQ_INT(0, broker_url_parse("redis://:s3cret@cache.internal:6380/2", &u));
    ASSERT_EQ_STR("cache.internal", u.host);
    ASSERT_EQ_INT(6380, u.port);
    ASSERT_EQ_INT(2, u.db);
    ASSERT_EQ_STR("s3cret", u.password);
}

TEST(url_defaults)
{
    broker_url_t u;
    ASSERT_EQ_INT(0, broker_url_parse("redis://127.0.0.1", &u));
    ASSERT_EQ_STR("127.0.0.1", u.host);
    ASSERT_EQ_INT(6379, u.port);
    ASSERT_EQ_INT(0, u.db);
    ASSERT_EQ_STR("", u.password);
    ASSERT_EQ_INT(0, broker_url_parse("redis://localhost:7000/", &u));
    ASSERT_EQ_INT(7000, u.port);
}

TEST(url_invalid)
{
    broker_url_t u;
    const char *bad[] = {NULL, "", "http://x", "redis://", "redis://:6379", "redis://h:0",
                         "redis://h:65536", "redis://h:12x", "redis://h/abc", "redis://user@h",
                         "redis://h:1/2/3", "rediss://h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (broker_url_parse(bad[i], &u) != BH_EINVAL) TEST_FAIL_("accepted %s", bad[i]);
}

TEST(keys)
{
    char k[64];
    ASSERT_EQ_INT(20, broker_key_stream(k, sizeof k, "bh", 42, "finance", 'm'));
    ASSERT_EQ_STR("bh:rt:{42:finance}:m", k);
    broker_key_stream(k, sizeof k, "bh", 42, "finance", 'x');
    ASSERT_EQ_STR("bh:rt:{42:finance}:x", k);
    broker_key_global(k, sizeof k, "p1", "streams");
    ASSERT_EQ_STR("p1:rt:streams", k);
    ASSERT_EQ_INT(-1, broker_key_stream(k, 10, "bh", 42, "finance", 'm'));
    int64_t org;
    char svc[BROKER_SERVICE_MAX + 1];
    ASSERT_EQ_INT(0, broker_member_parse("42:finance", 10, &org, svc));
    ASSERT_EQ_INT(42, org);
    ASSERT_EQ_STR("finance", svc);
    ASSERT_EQ_INT(BH_EINVAL, broker_member_parse("42", 2, &org, svc));
    ASSERT_EQ_INT(BH_EINVAL, broker_member_parse("x:finance", 9, &org, svc));
    ASSERT_EQ_INT(BH_EINVAL, broker_member_parse("0:finance", 9, &org, svc));
    ASSERT_EQ_INT(BH_EINVAL, broker_member_parse("4:", 2, &org, svc));
}

static const char NOTE[] = "7 guest 0 12 1764201600000 1764201600000123 0123456789abcdef\n"
                           "{\"id\":\"0123456789abcdef-12\",\"offset\":12}";

TEST(note_parse)
{
    broker_event_t e;
    ASSERT_EQ_INT(0, broker_note_parse(NOTE, sizeof NOTE - 1, &e));
    ASSERT_EQ_INT(7, e.org_id);
    ASSERT_EQ_STR("guest", e.service);
    ASSERT_EQ_INT(0, e.property_id);
    ASSERT_EQ_INT(12, e.offset);
    ASSERT_EQ_INT(1764201600000LL, e.ts_ms);
    ASSERT_EQ_INT(1764201600000123LL, e.pub_us);
    ASSERT_EQ_STR("0123456789abcdef", e.epoch);
    ASSERT_EQ_INT(sizeof NOTE - 1 - (size_t)(e.json - NOTE), e.json_len);
    ASSERT(e.json[0] == '{');
}

TEST(note_every_truncation_is_invalid)
{
    broker_event_t e;
    /* Cut anywhere before the JSON starts: never accepted, never read past the end. */
    const char *json = strchr(NOTE, '{');
    for (size_t n = 0; n <= (size_t)(json - NOTE); n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, NOTE, n);
        if (broker_note_parse(copy, n, &e) == 0) TEST_FAIL_("accepted a %zu-byte prefix", n);
        free(copy);
    }
}

TEST(note_invalid_fields)
{
    broker_event_t e;
    const char *bad[] = {
        "0 guest 0 1 1 1 0123456789abcdef\n{}",   /* org 0 */
        "7 guest 0 0 1 1 0123456789abcdef\n{}",   /* offset 0 */
        "7 guest -1 1 1 1 0123456789abcdef\n{}",  /* property < 0 */
        "7 guest 0 1 1 1 0123456789abcde\n{}",    /* short epoch */
        "7 guest 0 1 1 1 0123456789abcdef\n[]",   /* not an object */
        "7 guest 0 x 1 1 0123456789abcdef\n{}",   /* not a number */
        "7 abcdefghijklmnopqrstuvwxyzabcdefg 0 1 1 1 0123456789abcdef\n{}", /* service too long */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (broker_note_parse(bad[i], strlen(bad[i]), &e) == 0) TEST_FAIL_("accepted %s", bad[i]);
}

TEST(gap_in_order_and_duplicates)
{
    broker_gap_t g = {0};
    ASSERT_EQ_INT(BROKER_APPLY, broker_gap_on_note(&g, 4, 5));
    ASSERT_EQ_INT(BROKER_DUP, broker_gap_on_note(&g, 5, 5));
    ASSERT_EQ_INT(BROKER_DUP, broker_gap_on_note(&g, 5, 3));
    ASSERT_EQ_INT(0, g.filling);
}

TEST(gap_fill_once_and_remember_dropped)
{
    broker_gap_t g = {0};
    ASSERT_EQ_INT(BROKER_FILL, broker_gap_on_note(&g, 5, 9));
    ASSERT_EQ_INT(1, g.filling);
    /* While filling, later notes do not start another fill, but are remembered. */
    ASSERT_EQ_INT(BROKER_DUP, broker_gap_on_note(&g, 5, 10));
    ASSERT_EQ_INT(BROKER_DUP, broker_gap_on_note(&g, 5, 11));
    /* The next in order can still be applied meanwhile. */
    ASSERT_EQ_INT(BROKER_APPLY, broker_gap_on_note(&g, 5, 6));
    /* The fill read Redis before 11 was published: head 10 of remote 10, yet 11 was seen. */
    ASSERT_EQ_INT(1, broker_gap_after_fill(&g, 10, 10));
    ASSERT_EQ_INT(1, g.filling);
    /* A fill that stopped at its batch size: more to fetch. */
    ASSERT_EQ_INT(1, broker_gap_after_fill(&g, 11, 20));
    ASSERT_EQ_INT(0, broker_gap_after_fill(&g, 20, 20));
    ASSERT_EQ_INT(0, g.filling);
    ASSERT_EQ_INT(0, g.dropped_max);
    ASSERT_EQ_INT(BROKER_APPLY, broker_gap_on_note(&g, 20, 21));
}

TEST(event_parts_make_the_same_json)
{
    json_t *data = json_pack("{s:I,s:s}", "amountCents", (json_int_t)125000, "note", "a \"b\" c");
    for (int prop = 0; prop < 2; prop++) {
        rt_event_in_t in = {.org_id = 3, .service = RT_SVC_FINANCE, .type = "revenue_created",
                            .property_id = prop ? 17 : 0, .data = data};
        rt_event_t *e = rt_event_new(&in, "00112233aabbccdd", 42, 1764201600123LL);
        char *a, *b, *c;
        ASSERT_EQ_INT(0, rt__hub_event_parts(&in, 1764201600123LL, &a, &b, &c));
        char joined[1024];
        snprintf(joined, sizeof joined, "%s%s-%d%s%d%s", a, "00112233aabbccdd", 42, b, 42, c);
        ASSERT_EQ_STR(e->json, joined);
        free(a);
        free(b);
        free(c);
        rt_event_unref(e);
    }
    json_decref(data);
}

TEST(script_sha)
{
    char sha[41];
    broker_script_sha("return 1", sha);
    /* sha1("return 1"), as `redis-cli SCRIPT LOAD "return 1"` answers. */
    ASSERT_EQ_STR("e0e1f9fabfc9d4800c877a703b823ac0578ff8db", sha);
}

TEST(local_backend)
{
    char err[128];
    broker_config_t cfg = {.url = ""};
    broker_t *b = broker_new(&cfg, err, sizeof err);
    ASSERT(b != NULL);
    ASSERT_EQ_STR("local", broker_name(b));
    ASSERT_EQ_INT(0, broker_sequences(b));
    broker_stats_t st;
    broker_stats(b, &st);
    ASSERT_EQ_INT(BROKER_STATE_LOCAL, st.state);
    broker_free(b);
    cfg.url = "redis://";
    ASSERT(broker_new(&cfg, err, sizeof err) == NULL);
    ASSERT(strstr(err, "Redis") != NULL);
}

TEST_MAIN(TEST_ENTRY(url_full), TEST_ENTRY(url_defaults), TEST_ENTRY(url_invalid), TEST_ENTRY(keys),
          TEST_ENTRY(note_parse), TEST_ENTRY(note_every_truncation_is_invalid),
          TEST_ENTRY(note_invalid_fields), TEST_ENTRY(gap_in_order_and_duplicates),
          TEST_ENTRY(gap_fill_once_and_remember_dropped), TEST_ENTRY(event_parts_make_the_same_json),
          TEST_ENTRY(script_sha), TEST_ENTRY(local_backend))
