/* Percent-decoding, query and cookie lookup. */
#include "core/err.h"
#include "http/url.h"
#include "test.h"

TEST(decodes_escapes_and_plus)
{
    char out[64];
    ASSERT_EQ_INT(4, url_decode("a%2Fb+", 6, out, sizeof out, 0));
    ASSERT_EQ_STR("a/b+", out);
    ASSERT_EQ_INT(4, url_decode("a%2fb+", 6, out, sizeof out, 1));
    ASSERT_EQ_STR("a/b ", out);
}

TEST(rejects_bad_escapes_and_nul)
{
    char out[64];
    ASSERT_EQ_INT(BH_EINVAL, url_decode("%", 1, out, sizeof out, 0));
    ASSERT_EQ_INT(BH_EINVAL, url_decode("%4", 2, out, sizeof out, 0));
    ASSERT_EQ_INT(BH_EINVAL, url_decode("%zz", 3, out, sizeof out, 0));
    ASSERT_EQ_INT(BH_EINVAL, url_decode("a%00b", 5, out, sizeof out, 0));
}

TEST(reports_overflow)
{
    char out[4];
    ASSERT_EQ_INT(BH_ETOOBIG, url_decode("abcd", 4, out, sizeof out, 0));
    ASSERT_EQ_INT(3, url_decode("abc", 3, out, sizeof out, 0));
}

TEST(query_lookup)
{
    char out[64];
    const char *q = "since=41&timeout=25&name=a%20b+c&flag&empty=";
    ASSERT_EQ_INT(2, url_query_get(q, "since", out, sizeof out));
    ASSERT_EQ_STR("41", out);
    ASSERT_EQ_INT(5, url_query_get(q, "name", out, sizeof out));
    ASSERT_EQ_STR("a b c", out);
    ASSERT_EQ_INT(0, url_query_get(q, "flag", out, sizeof out));
    ASSERT_EQ_INT(0, url_query_get(q, "empty", out, sizeof out));
    ASSERT_EQ_INT(BH_ENOTFOUND, url_query_get(q, "sinc", out, sizeof out));
    ASSERT_EQ_INT(BH_ENOTFOUND, url_query_get("", "a", out, sizeof out));
}

TEST(cookie_lookup)
{
    char out[64];
    const char *h = "theme=dark; bellhop_token=abc.def.ghi ;  q=\"quoted\"";
    ASSERT_EQ_INT(11, url_cookie_get(h, "bellhop_token", out, sizeof out));
    ASSERT_EQ_STR("abc.def.ghi", out);
    ASSERT_EQ_INT(6, url_cookie_get(h, "q", out, sizeof out));
    ASSERT_EQ_STR("quoted", out);
    ASSERT_EQ_INT(BH_ENOTFOUND, url_cookie_get(h, "bellhop", out, sizeof out));
    ASSERT_EQ_INT(BH_ETOOBIG, url_cookie_get(h, "bellhop_token", out, 4));
}

TEST_MAIN(TEST_ENTRY(decodes_escapes_and_plus), TEST_ENTRY(rejects_bad_escapes_and_nul),
          TEST_ENTRY(reports_overflow), TEST_ENTRY(query_lookup), TEST_ENTRY(cookie_lookup))
