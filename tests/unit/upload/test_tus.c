/* Tests for upload/tus.c: Upload-Offset/Length, Upload-Metadata, Upload-Checksum, base64, dates. */
#include "test.h"

#include "core/err.h"
#include "upload/tus.h"

#include <stdlib.h>

TEST(offsets_and_lengths)
{
    int64_t x = -1;
    ASSERT_EQ_INT(0, upload_tus_parse_uint("0", &x));
    ASSERT_EQ_INT(0, x);
    ASSERT_EQ_INT(0, upload_tus_parse_uint("536870912", &x));
    ASSERT_EQ_INT(536870912, x);
    static const char *const bad[] = {
        "", "-1", "+1", " 1", "1 ", "1.0", "0x10", "abc", "99999999999999999", "9007199254740993"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ_INT(BH_EINVAL, upload_tus_parse_uint(bad[i], &x));
    ASSERT_EQ_INT(BH_EINVAL, upload_tus_parse_uint(NULL, &x));
}

TEST(base64)
{
    uint8_t out[16];
    ASSERT_EQ_INT(5, upload_base64_decode("aGVsbG8=", 8, out, sizeof out));
    ASSERT(memcmp(out, "hello", 5) == 0);
    ASSERT_EQ_INT(4, upload_base64_decode("aGVsbA==", 8, out, sizeof out));
    ASSERT_EQ_INT(0, upload_base64_decode("", 0, out, sizeof out));
    ASSERT_EQ_INT(-1, upload_base64_decode("aGVsbG8", 7, out, sizeof out));  /* no padding */
    ASSERT_EQ_INT(-1, upload_base64_decode("aG=sbG8=", 8, out, sizeof out)); /* '=' inside */
    ASSERT_EQ_INT(-1, upload_base64_decode("aGVs!G8=", 8, out, sizeof out));
    ASSERT_EQ_INT(-1, upload_base64_decode("aGVsbG8=", 8, out, 4)); /* no room */
}

TEST(metadata)
{
    upload_tus_meta_t *m = malloc(sizeof *m);
    static const char *const name[] = {"fileName", "filename", NULL};
    static const char *const flag[] = {"is_confidential", NULL};
    int bad = 0;
    ASSERT_EQ_INT(0, upload_tus_meta_parse("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,"
                                           "is_confidential, documentType cGFzc3BvcnQ=",
                                           m));
    ASSERT_EQ_INT(3, m->n);
    ASSERT_EQ_STR("world_domination_plan.pdf", upload_tus_meta_get(m, name, &bad));
    ASSERT_EQ_STR("", upload_tus_meta_get(m, flag, &bad));
    ASSERT_EQ_INT(0, bad);
    ASSERT_EQ_INT(0, upload_tus_meta_parse(NULL, m));
    ASSERT_EQ_INT(0, m->n);
    ASSERT(upload_tus_meta_get(m, name, &bad) == NULL);
    /* A value with a NUL is reported, so that string checks cannot be fooled. */
    ASSERT_EQ_INT(0, upload_tus_meta_parse("fileName YQBi", m));
    ASSERT_EQ_STR("a", upload_tus_meta_get(m, name, &bad));
    ASSERT_EQ_INT(1, bad);
    static const char *const malformed[] = {
        "k notbase64!",
        "k YQ==,k Yg==", /* duplicate key */
        ",",
        "k YQ== extra",
        "k\x01 YQ==",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        ASSERT_EQ_INT(BH_EINVAL, upload_tus_meta_parse(malformed[i], m));
    free(m);
}

TEST(checksum)
{
    uint8_t d[32];
    /* SHA-256("") in base64. */
    ASSERT_EQ_INT(
        0, upload_tus_checksum_parse("sha256 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", d));
    ASSERT_EQ_INT(0xe3, d[0]);
    ASSERT_EQ_INT(0x55, d[31]);
    ASSERT_EQ_INT(BH_EDECLINED, upload_tus_checksum_parse("md5 1B2M2Y8AsgTpgAmY7PhCfg==", d));
    ASSERT_EQ_INT(BH_EDECLINED, upload_tus_checksum_parse("sha1 2jmj7l5rSw0yVb/vlWAYkK/YBwk=", d));
    ASSERT_EQ_INT(BH_EINVAL, upload_tus_checksum_parse("sha256", d));
    ASSERT_EQ_INT(BH_EINVAL, upload_tus_checksum_parse("sha256 AAAA", d));
    ASSERT_EQ_INT(BH_EINVAL, upload_tus_checksum_parse(" sha256 AAAA", d));
}

TEST(http_date)
{
    char d[40];
    upload_http_date(1795777200000LL, d, sizeof d);
    ASSERT_EQ_STR("Fri, 27 Nov 2026 11:00:00 GMT", d);
    upload_http_date(0, d, sizeof d);
    ASSERT_EQ_STR("Thu, 01 Jan 1970 00:00:00 GMT", d);
}

TEST_MAIN(TEST_ENTRY(offsets_and_lengths), TEST_ENTRY(base64), TEST_ENTRY(metadata),
          TEST_ENTRY(checksum), TEST_ENTRY(http_date))
