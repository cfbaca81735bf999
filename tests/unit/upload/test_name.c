/* Tests for upload/name.c: file names that could be paths are refused; the rest are quoted
 * safely for Content-Disposition. */
#include "test.h"

#include "upload/name.h"

TEST(paths_and_junk_are_refused)
{
    char out[UPLOAD_NAME_MAX + 1];
    static const char *const bad[] = {
        "../../etc/passwd",
        "..",
        ".",
        "a/b.pdf",
        "/abs.pdf",
        "..\\..\\boot.ini",
        "c:\\x.pdf",
        "",
        "   ",
        "tab\there",
        "nl\nhere",
        "del\x7f",
        "\xff\xfe.pdf",
        "\xC0\xAF.pdf",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT(upload_name_check(bad[i], out, sizeof out) != NULL);
        ASSERT_EQ_STR("", out);
    }
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    ASSERT(upload_name_check(longname, out, sizeof out) != NULL);
    longname[255] = '\0';
    ASSERT(upload_name_check(longname, out, sizeof out) == NULL);
}

TEST(names_are_kept_trimmed)
{
    char out[UPLOAD_NAME_MAX + 1];
    ASSERT(upload_name_check("  passport scan.pdf ", out, sizeof out) == NULL);
    ASSERT_EQ_STR("passport scan.pdf", out);
    ASSERT(upload_name_check("..hidden", out, sizeof out) == NULL);
    ASSERT(upload_name_check("आधार.jpg", out, sizeof out) == NULL);
    ASSERT_EQ_STR("आधार.jpg", out);
}

TEST(content_disposition_is_safe)
{
    char out[3 * UPLOAD_NAME_MAX + 64];
    upload_content_disposition("a.pdf", out, sizeof out);
    ASSERT_EQ_STR("attachment; filename=\"a.pdf\"; filename*=UTF-8''a.pdf", out);
    upload_content_disposition("Pässe \"alt\"; x%.pdf", out, sizeof out);
    ASSERT_EQ_STR("attachment; filename=\"P_sse _alt_; x_.pdf\"; "
                  "filename*=UTF-8''P%C3%A4sse%20%22alt%22%3B%20x%25.pdf",
                  out);
    upload_content_disposition("आ.jpg", out, sizeof out);
    ASSERT_EQ_STR("attachment; filename=\"_.jpg\"; filename*=UTF-8''%E0%A4%86.jpg", out);
    /* Never a CR or LF, whatever the name. */
    upload_content_disposition("x\r\nSet-Cookie: a=b", out, sizeof out);
    ASSERT(strpbrk(out, "\r\n") == NULL);
    /* A small buffer truncates, still terminated. */
    char small[24];
    upload_content_disposition("abcdefghijklmnop.pdf", small, sizeof small);
    ASSERT(strlen(small) < sizeof small);
}

TEST_MAIN(TEST_ENTRY(paths_and_junk_are_refused), TEST_ENTRY(names_are_kept_trimmed),
          TEST_ENTRY(content_disposition_is_safe))
