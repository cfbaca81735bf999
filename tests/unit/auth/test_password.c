/* test_password.c: argon2id hashing through libsodium.
 *
 * Each hash costs 64 MiB and tens of milliseconds, so the whole file computes two and reuses
 * them; the length checks run before any hashing and cost nothing. */
#include "test.h"

#include "auth/password.h"
#include "core/err.h"

#include <pthread.h>
#include <stdlib.h>

static void *init_thread(void *arg)
{
    *(int *)arg = password_global_init();
    return NULL;
}

TEST(global_init_is_idempotent_and_thread_safe)
{
    pthread_t t[4];
    int rc[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(0, pthread_create(&t[i], NULL, init_thread, &rc[i]));
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(0, pthread_join(t[i], NULL));
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(0, rc[i]);
    ASSERT_EQ_INT(0, password_global_init());
}

TEST(hash_and_verify)
{
    char h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];
    ASSERT_EQ_INT(0, password_hash("correct horse battery staple", h1));
    ASSERT(strncmp(h1, "$argon2id$v=19$", 15) == 0);
    ASSERT(memchr(h1, '\0', PASSWORD_HASH_MAX) != NULL);
    ASSERT_EQ_INT(1, password_verify(h1, "correct horse battery staple"));
    ASSERT_EQ_INT(0, password_verify(h1, "correct horse battery stapl"));
    ASSERT_EQ_INT(0, password_verify(h1, "correct horse battery staple "));
    ASSERT_EQ_INT(0, password_verify(h1, "Correct horse battery staple"));
    ASSERT_EQ_INT(0, password_verify(h1, ""));

    /* The shortest allowed password; and a fresh salt, so the same input never hashes alike. */
    ASSERT_EQ_INT(0, password_hash("12345678", h2));
    ASSERT(strcmp(h1, h2) != 0);
    ASSERT_EQ_INT(1, password_verify(h2, "12345678"));
    ASSERT_EQ_INT(0, password_verify(h2, "correct horse battery staple"));
}

TEST(length_limits)
{
    char h[PASSWORD_HASH_MAX];
    ASSERT_EQ_INT(BH_EINVAL, password_hash("", h));
    ASSERT_EQ_INT(BH_EINVAL, password_hash("1234567", h));
    char *long_pw = malloc(PASSWORD_MAX_LEN + 2);
    ASSERT(long_pw != NULL);
    memset(long_pw, 'x', PASSWORD_MAX_LEN + 1);
    long_pw[PASSWORD_MAX_LEN + 1] = '\0';
    int rc = password_hash(long_pw, h);
    /* A verify with an over-long candidate is refused without hashing it. */
    int v = password_verify("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA", long_pw);
    free(long_pw);
    ASSERT_EQ_INT(BH_EINVAL, rc);
    ASSERT_EQ_INT(0, v);
}

TEST(verify_rejects_garbage_hashes)
{
    ASSERT_EQ_INT(0, password_verify("", "12345678"));
    ASSERT_EQ_INT(0, password_verify("$argon2id$garbage", "12345678"));
    ASSERT_EQ_INT(0, password_verify("plaintext-password", "plaintext-password"));
    ASSERT_EQ_INT(0, password_verify(NULL, "12345678"));
    ASSERT_EQ_INT(0, password_verify("$argon2id$", NULL));
    /* Not terminated within crypto_pwhash_STRBYTES: refused without reading past it. */
    char *unterminated = malloc(PASSWORD_HASH_MAX);
    ASSERT(unterminated != NULL);
    memset(unterminated, 'a', PASSWORD_HASH_MAX);
    int v = password_verify(unterminated, "12345678");
    free(unterminated);
    ASSERT_EQ_INT(0, v);
}

TEST_MAIN(TEST_ENTRY(global_init_is_idempotent_and_thread_safe), TEST_ENTRY(hash_and_verify),
          TEST_ENTRY(length_limits), TEST_ENTRY(verify_rejects_garbage_hashes))
