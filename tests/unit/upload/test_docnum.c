/* Tests for upload/docnum.c: Verhoeff against published examples, Aadhaar, PAN, masking. */
#include "test.h"

#include "core/err.h"
#include "upload/docnum.h"

static int check(upload_doctype_t t, const char *n, char *masked)
{
    const char *why = NULL;
    int rc = upload_docnum_check(t, n, masked, UPLOAD_DOCNUM_MAX + 1, &why);
    if (rc != 0 && why == NULL) return 99; /* a refusal must say why */
    return rc;
}

TEST(verhoeff_published_examples)
{
    /* Wikipedia's worked examples and UIDAI's sandbox test numbers. */
    ASSERT(upload_verhoeff_valid("2363", 4));
    ASSERT(upload_verhoeff_valid("758722", 6));
    ASSERT(upload_verhoeff_valid("123451", 6));
    ASSERT(upload_verhoeff_valid("999999990019", 12));
    ASSERT(upload_verhoeff_valid("999941057058", 12));
    ASSERT_EQ_INT('3', upload_verhoeff_digit("236", 3));
    ASSERT_EQ_INT('2', upload_verhoeff_digit("75872", 5));
    ASSERT_EQ_INT('1', upload_verhoeff_digit("12345", 5));
    ASSERT(!upload_verhoeff_valid("2364", 4));
    ASSERT(!upload_verhoeff_valid("758723", 6));
}

TEST(verhoeff_catches_every_single_digit_error_and_adjacent_swap)
{
    char n[13] = "23456789012";
    n[11] = upload_verhoeff_digit(n, 11);
    n[12] = '\0';
    ASSERT(upload_verhoeff_valid(n, 12));
    for (int i = 0; i < 12; i++) {
        for (char d = '0'; d <= '9'; d++) {
            char m[13];
            memcpy(m, n, 13);
            if (m[i] == d) continue;
            m[i] = d;
            ASSERT(!upload_verhoeff_valid(m, 12));
        }
        if (i < 11 && n[i] != n[i + 1]) {
            char m[13];
            memcpy(m, n, 13);
            m[i] = n[i + 1];
            m[i + 1] = n[i];
            ASSERT(!upload_verhoeff_valid(m, 12));
        }
    }
}

TEST(aadhaar_valid_numbers_are_masked_to_the_last_four)
{
    char m[UPLOAD_DOCNUM_MAX + 1];
    ASSERT_EQ_INT(0, check(UPLOAD_DOC_AADHAAR, "999941057058", m));
    ASSERT_EQ_STR("XXXXXXXX7058", m);
    ASSERT_EQ_INT(0, check(UPLOAD_DOC_AADHAAR, "2345 6789 0124", m));
    ASSERT_EQ_STR("XXXXXXXX0124", m);
    ASSERT_EQ_INT(0, check(UPLOAD_DOC_AADHAAR, "4968-5824-5152", m));
    ASSERT_EQ_STR("XXXXXXXX5152", m);
}

TEST(aadhaar_invalid_numbers)
{
    char m[UPLOAD_DOCNUM_MAX + 1];
    static const char *const bad[] = {
        "234567890123",  /* wrong check digit */
        "123456789012",  /* starts with 1 */
        "034567890128",  /* starts with 0 */
        "23456789012",   /* 11 digits */
        "2345678901245", /* 13 digits */
        "23456789O124",  /* a letter O */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ_INT(BH_EINVAL, check(UPLOAD_DOC_AADHAAR, bad[i], m));
        ASSERT_EQ_STR("", m);
    }
    /* Valid Verhoeff, but a leading 0 or 1 is not an Aadhaar number. */
    char n[13] = "0345678901";
    n[10] = '2';
    n[11] = upload_verhoeff_digit(n, 11);
    n[12] = '\0';
    ASSERT(upload_verhoeff_valid(n, 12));
    ASSERT_EQ_INT(BH_EINVAL, check(UPLOAD_DOC_AADHAAR, n, m));
}

TEST(pan_pattern)
{
    char m[UPLOAD_DOCNUM_MAX + 1];
    ASSERT_EQ_INT(0, check(UPLOAD_DOC_PAN_CARD, "ABCPE1234F", m));
    ASSERT_EQ_STR("XXXXXX234F", m);
    ASSERT_EQ_INT(0, check(UPLOAD_DOC_PAN_CARD, "abcpe1234f", m));
    ASSERT_EQ_STR("XXXXXX234F", m);
    static const char *const bad[] = {
        "ABCDE1234", "ABCD51234F", "12345ABCDE", "ABCDE12345", "ABCDE1234FG", "ABC-E1234F", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ_INT(BH_EINVAL, check(UPLOAD_DOC_PAN_CARD, bad[i], m));
}

TEST(other_documents_take_a_generic_number)
{
    char m[UPLOAD_DOCNUM_MAX + 1];
    ASSERT_EQ_INT(0, check(UPLOAD_DOC_PASSPORT, "k1234567", m));
    ASSERT_EQ_STR("XXXX4567", m);
    ASSERT_EQ_INT(0, check(UPLOAD_DOC_DRIVING_LICENSE, "MH12 2011 0012345", m));
    ASSERT_EQ_STR("XXXXXXXXXXX2345", m);
    ASSERT_EQ_INT(0, check(UPLOAD_DOC_VISA, "AB", m));
    ASSERT_EQ_STR("AB", m);
    ASSERT_EQ_INT(BH_EINVAL, check(UPLOAD_DOC_PASSPORT, "K12;DROP", m));
    ASSERT_EQ_INT(BH_EINVAL, check(UPLOAD_DOC_PASSPORT, "123456789012345678901234567890123", m));
}

TEST_MAIN(TEST_ENTRY(verhoeff_published_examples),
          TEST_ENTRY(verhoeff_catches_every_single_digit_error_and_adjacent_swap),
          TEST_ENTRY(aadhaar_valid_numbers_are_masked_to_the_last_four),
          TEST_ENTRY(aadhaar_invalid_numbers), TEST_ENTRY(pan_pattern),
          TEST_ENTRY(other_documents_take_a_generic_number))
