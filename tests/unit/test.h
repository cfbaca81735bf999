/* test.h: a tiny TAP test registry for the C unit tests.
 *
 * Each test file defines its tests with TEST(name) and lists them once:
 *
 *   TEST(parses_simple) { ASSERT_EQ_INT(1, 1); }
 *   TEST_MAIN(TEST_ENTRY(parses_simple))
 *
 * The runner prints TAP ("ok 1 - parses_simple") and exits non-zero if any test failed, which is
 * what ctest reads. A failing ASSERT returns from the test at once. */
#ifndef BH_TEST_H
#define BH_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct test_entry_s {
    const char *name;
    void (*fn)(int *failed);
} test_entry_t;

#define TEST(name) static void test_##name(int *test_failed_)
#define TEST_ENTRY(name) {#name, test_##name}

#define TEST_FAIL_(fmt, ...)                                                                      \
    do {                                                                                          \
        printf("#   %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);                          \
        *test_failed_ = 1;                                                                        \
        return;                                                                                   \
    } while (0)

#define ASSERT(cond)                                                                              \
    do {                                                                                          \
        if (!(cond)) TEST_FAIL_("assertion failed: %s", #cond);                                   \
    } while (0)

#define ASSERT_EQ_INT(expect, actual)                                                             \
    do {                                                                                          \
        long long e_ = (long long)(expect), a_ = (long long)(actual);                             \
        if (e_ != a_) TEST_FAIL_("%s == %s: expected %lld, got %lld", #expect, #actual, e_, a_);  \
    } while (0)

#define ASSERT_EQ_STR(expect, actual)                                                             \
    do {                                                                                          \
        const char *e_ = (expect), *a_ = (actual);                                                \
        if (a_ == NULL || strcmp(e_, a_) != 0)                                                    \
            TEST_FAIL_("%s: expected \"%s\", got \"%s\"", #actual, e_, a_ ? a_ : "(null)");       \
    } while (0)

/* Defines test_run_all(), which runs the listed tests and returns the failure count; for files
 * that need set-up around the run (a temporary directory, say) and write their own main(). */
#define TEST_RUN(...)                                                                             \
    static int test_run_all(void)                                                                 \
    {                                                                                             \
        static const test_entry_t tests_[] = {__VA_ARGS__};                                       \
        int n_ = (int)(sizeof tests_ / sizeof tests_[0]), failures_ = 0;                          \
        setvbuf(stdout, NULL, _IONBF, 0);                                                         \
        printf("1..%d\n", n_);                                                                    \
        for (int i_ = 0; i_ < n_; i_++) {                                                         \
            int failed_ = 0;                                                                      \
            tests_[i_].fn(&failed_);                                                              \
            printf("%s %d - %s\n", failed_ ? "not ok" : "ok", i_ + 1, tests_[i_].name);           \
            failures_ += failed_;                                                                 \
        }                                                                                         \
        printf("# %d passed, %d failed\n", n_ - failures_, failures_);                            \
        return failures_;                                                                         \
    }

#define TEST_MAIN(...)                                                                            \
    TEST_RUN(__VA_ARGS__)                                                                         \
    int main(void)                                                                                \
    {                                                                                             \
        return test_run_all() ? 1 : 0;                                                            \
    }

#endif
