/* Tests for handlers/validate.c: the ISO-8601 parser and the body field rules (no HTTP needed:
 * the body checks read a json_t and record their first failure). */
#include "test.h"

#include "core/err.h"
#include "handlers/validate.h"

#include <stdlib.h>

static int64_t parse(const char *s)
{
    int64_t ms = -1;
    return validate_iso8601_parse(s, &ms) == 0 ? ms : -1;
}

TEST(iso8601_accepts_dates_and_zoned_date_times)
{
    ASSERT_EQ_INT(0 + 86400000LL, parse("1970-01-02"));
    ASSERT_EQ_INT(1795737600000LL, parse("2026-11-27"));
    ASSERT_EQ_INT(1795789800000LL, parse("2026-11-27T14:30:00Z"));
    ASSERT_EQ_INT(1795789800000LL, parse("2026-11-27t14:30z"));
    ASSERT_EQ_INT(1795789800000LL, parse("2026-11-27 20:00:00+05:30"));
    ASSERT_EQ_INT(1795789800000LL, parse("2026-11-27T09:30:00-0500"));
    ASSERT_EQ_INT(1795789800123LL, parse("2026-11-27T14:30:00.123Z"));
    ASSERT_EQ_INT(1795789800120LL, parse("2026-11-27T14:30:00.12Z"));
    ASSERT_EQ_INT(1795789800123LL, parse("2026-11-27T14:30:00.123456789Z")); /* truncated */
    ASSERT_EQ_INT(1709164800000LL, parse("2024-02-29"));                     /* leap day */
    ASSERT_EQ_INT(951782400000LL, parse("2000-02-29"));                      /* 400-year leap */
    ASSERT_EQ_INT(253402300799000LL, parse("9999-12-31T23:59:59Z"));
}

TEST(iso8601_refuses_the_rest)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "2026-11-27T14:30:00", /* no zone */
        "2026-11-27T14:30",    /* no zone */
        "2026-13-01",          /* month */
        "2026-00-10",
        "2026-02-29", /* not a leap year */
        "1900-02-29", /* century, not leap */
        "2026-04-31",
        "2026-11-27T24:00:00Z", /* hour */
        "2026-11-27T12:60:00Z",
        "2026-11-27T12:00:60Z", /* no leap seconds */
        "2026-11-27T12:00:00+24:00",
        "2026-11-27T12:00:00.Z", /* empty fraction */
        "2026-11-27T12:00:00.1234567890Z",
        "2026-11-27Z",
        "2026-11-27T12:00:00Zjunk",
        "26-11-27",
        "2026/11/27",
        "1969-12-31", /* before the epoch */
        "1970-01-01T00:30:00+01:00",
        " 2026-11-27",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        if (validate_iso8601_parse(bad[i], &ms) != BH_EINVAL)
            TEST_FAIL_("accepted \"%s\" as %lld", bad[i], (long long)ms);
        ASSERT_EQ_INT(42, ms);
    }
}

/* Runs one check against a body parsed from text. */
static json_t *body(const char *text)
{
    return json_loads(text, JSON_ALLOW_NUL, NULL);
}

TEST(strings_count_characters_and_name_the_field)
{
    char out[64];
    validate_t v;
    json_t *b = body("{\"a\":\"\xc3\xa9\xc3\xa9\xc3\xa9\",\"blank\":\"  \",\"ctl\":\"x\\ty\","
                     "\"nul\":\"x\\u0000y\",\"n\":5}");
    ASSERT(b != NULL);

    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_SET, validate_string(&v, "a", VALIDATE_REQUIRED, 1, 3, out, sizeof out));
    ASSERT_EQ_STR("\xc3\xa9\xc3\xa9\xc3\xa9", out);
    ASSERT_EQ_INT(0, v.failed);
    /* Three characters, six bytes: over a 4-byte limit, within 3 characters. */
    ASSERT_EQ_INT(VALIDATE_ABSENT, validate_string(&v, "a", VALIDATE_REQUIRED | VALIDATE_BYTES, 1,
                                                   4, out, sizeof out));
    ASSERT_EQ_STR("a: must be 1 to 4 bytes", v.msg);

    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_ABSENT, validate_string(&v, "a", 0, 0, 2, out, sizeof out));
    ASSERT_EQ_STR("a: must be at most 2 characters", v.msg);
    validate_init(&v, b);
    validate_string(&v, "a", 0, 0, 10, out, 4); /* fits the count, not the array */
    ASSERT_EQ_STR("a: must be at most 3 bytes of UTF-8", v.msg);
    validate_init(&v, b);
    validate_string(&v, "blank", VALIDATE_REQUIRED, 1, 10, out, sizeof out);
    ASSERT_EQ_STR("blank: must not be blank", v.msg);
    validate_init(&v, b);
    validate_string(&v, "ctl", 0, 0, 10, out, sizeof out);
    ASSERT_EQ_STR("ctl: must not contain control characters", v.msg);
    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_SET,
                  validate_string(&v, "ctl", VALIDATE_MULTILINE, 0, 10, out, sizeof out));
    validate_init(&v, b);
    validate_string(&v, "nul", 0, 0, 10, out, sizeof out);
    ASSERT_EQ_STR("nul: must not contain NUL characters", v.msg);
    validate_init(&v, b);
    validate_string(&v, "n", 0, 0, 10, out, sizeof out);
    ASSERT_EQ_STR("n: must be a string", v.msg);

    /* Absent: optional is fine and empties out; required fails. The first failure wins. */
    validate_init(&v, b);
    snprintf(out, sizeof out, "stale");
    ASSERT_EQ_INT(VALIDATE_ABSENT, validate_string(&v, "missing", 0, 0, 10, out, sizeof out));
    ASSERT_EQ_STR("", out);
    ASSERT_EQ_INT(0, v.failed);
    validate_string(&v, "missing", VALIDATE_REQUIRED, 1, 10, out, sizeof out);
    validate_string(&v, "n", 0, 0, 10, out, sizeof out);
    ASSERT_EQ_STR("missing: is required", v.msg);
    json_decref(b);
}

TEST(numbers_ids_enums_and_lists)
{
    validate_t v;
    int64_t x = 7, *ids = NULL;
    size_t n = 0;
    char cur[4], e[16];
    static const char *const names[] = {"low", "high", NULL};
    json_t *b = body("{\"i\":5,\"f\":5.0,\"neg\":-1,\"nul\":null,\"s\":\"low\",\"cur\":\"usd\","
                     "\"ids\":[3,1],\"dup\":[1,1],\"mixed\":[1,\"2\"]}");
    ASSERT(b != NULL);

    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_SET, validate_int(&v, "i", VALIDATE_REQUIRED, 1, 5, &x));
    ASSERT_EQ_INT(5, x);
    validate_int(&v, "i", 0, 6, 9, &x);
    ASSERT_EQ_STR("i: must be from 6 to 9", v.msg);
    validate_init(&v, b);
    validate_int(&v, "f", 0, 0, 9, &x);
    ASSERT_EQ_STR("f: must be an integer", v.msg);

    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_NULL, validate_id(&v, "nul", 0, &x));
    ASSERT_EQ_INT(0, x);
    ASSERT_EQ_INT(0, v.failed);
    validate_id(&v, "neg", 0, &x);
    ASSERT_EQ_STR("neg: must be a positive integer id", v.msg);
    validate_init(&v, b);
    validate_id(&v, "nul", VALIDATE_REQUIRED, &x);
    ASSERT_EQ_STR("nul: is required", v.msg);

    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_SET, validate_enum(&v, "s", 0, names, e, sizeof e));
    ASSERT_EQ_STR("low", e);
    validate_enum(&v, "i", 0, names, e, sizeof e);
    ASSERT_EQ_STR("i: must be one of: low, high", v.msg);

    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_ABSENT, validate_currency(&v, "nope", "INR", cur));
    ASSERT_EQ_STR("INR", cur);
    validate_currency(&v, "cur", "INR", cur);
    ASSERT(v.failed);

    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_SET, validate_id_list(&v, "ids", 8, &ids, &n));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_INT(3, ids[0]);
    free(ids);
    ASSERT_EQ_INT(VALIDATE_NULL, validate_id_list(&v, "nul", 8, &ids, &n));
    ASSERT_EQ_INT(VALIDATE_ABSENT, validate_id_list(&v, "missing", 8, &ids, &n));
    ASSERT_EQ_INT(0, v.failed);
    validate_id_list(&v, "ids", 1, &ids, &n);
    ASSERT_EQ_STR("ids: must be an array of at most 1 ids, or null", v.msg);
    validate_init(&v, b);
    validate_id_list(&v, "dup", 8, &ids, &n);
    ASSERT_EQ_STR("dup: id 1 is repeated", v.msg);
    ASSERT(ids == NULL);
    validate_init(&v, b);
    validate_id_list(&v, "mixed", 8, &ids, &n);
    ASSERT_EQ_STR("mixed: item 1 must be a positive integer id", v.msg);
    json_decref(b);
}

TEST(emails_phones_times)
{
    validate_t v;
    char out[64];
    int64_t ms = 0;
    json_t *b = body("{\"ok\":\"a@b.co\",\"two\":\"a@b@c\",\"space\":\"a b@c\",\"lead\":\"@b\","
                     "\"ph\":\"+91 (22) 1234-5678\",\"word\":\"call me\",\"t\":\"2026-11-27\","
                     "\"tz\":\"2026-11-27T10:00\"}");
    ASSERT(b != NULL);
    validate_init(&v, b);
    ASSERT_EQ_INT(VALIDATE_SET, validate_email(&v, "ok", 0, out, sizeof out));
    ASSERT_EQ_INT(VALIDATE_SET, validate_phone(&v, "ph", 0, out, sizeof out));
    ASSERT_EQ_INT(VALIDATE_SET, validate_time(&v, "t", 0, &ms));
    ASSERT_EQ_INT(1795737600000LL, ms);
    ASSERT_EQ_INT(0, v.failed);
    static const char *const bad_email[] = {"two", "space", "lead"};
    for (size_t i = 0; i < 3; i++) {
        validate_init(&v, b);
        validate_email(&v, bad_email[i], 0, out, sizeof out);
        ASSERT(v.failed);
        ASSERT_EQ_STR("", out);
    }
    validate_init(&v, b);
    validate_phone(&v, "word", 0, out, sizeof out);
    ASSERT(v.failed);
    validate_init(&v, b);
    validate_time(&v, "tz", 0, &ms);
    ASSERT(v.failed);
    json_decref(b);
}

TEST_MAIN(TEST_ENTRY(iso8601_accepts_dates_and_zoned_date_times),
          TEST_ENTRY(iso8601_refuses_the_rest),
          TEST_ENTRY(strings_count_characters_and_name_the_field),
          TEST_ENTRY(numbers_ids_enums_and_lists), TEST_ENTRY(emails_phones_times))
