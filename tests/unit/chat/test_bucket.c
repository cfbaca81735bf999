/* The token bucket of the chat message rate: exact answers for given times. */
#include "test.h"

#include "chat/bucket.h"
#include "core/err.h"

TEST(burst_then_empty)
{
    chat_bucket_t b;
    uint64_t retry = 0;
    chat_bucket_init(&b, 3, 1000);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(0, chat_bucket_take(&b, 2, 3, 1000, &retry));
    ASSERT_EQ_INT(BH_EAGAIN, chat_bucket_take(&b, 2, 3, 1000, &retry));
    ASSERT_EQ_INT(500, retry); /* 2 a second: one token per 500 ms */
}

TEST(refills_at_the_rate)
{
    chat_bucket_t b;
    uint64_t retry = 0;
    chat_bucket_init(&b, 1, 0);
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 4, 1, 0, &retry));
    ASSERT_EQ_INT(BH_EAGAIN, chat_bucket_take(&b, 4, 1, 100, &retry));
    ASSERT_EQ_INT(150, retry); /* 400 of 1000 thousandths after 100 ms at 4/s */
    ASSERT_EQ_INT(BH_EAGAIN, chat_bucket_take(&b, 4, 1, 249, &retry));
    ASSERT_EQ_INT(1, retry);
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 4, 1, 250, &retry));
    ASSERT_EQ_INT(BH_EAGAIN, chat_bucket_take(&b, 4, 1, 250, &retry));
    ASSERT_EQ_INT(250, retry);
}

TEST(never_holds_more_than_burst)
{
    chat_bucket_t b;
    chat_bucket_init(&b, 2, 0);
    /* An hour idle refills two tokens, not 3600 * rate. */
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 1, 2, 3600000, NULL));
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 1, 2, 3600000, NULL));
    ASSERT_EQ_INT(BH_EAGAIN, chat_bucket_take(&b, 1, 2, 3600000, NULL));
    /* Years idle: no overflow. */
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 100000, 2, UINT64_MAX / 2, NULL));
}

TEST(clock_going_backwards_refills_nothing)
{
    chat_bucket_t b;
    uint64_t retry;
    chat_bucket_init(&b, 1, 5000);
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 1, 1, 5000, &retry));
    ASSERT_EQ_INT(BH_EAGAIN, chat_bucket_take(&b, 1, 1, 1000, &retry));
    ASSERT_EQ_INT(1000, retry);
    ASSERT_EQ_INT(BH_EAGAIN, chat_bucket_take(&b, 1, 1, 5999, &retry));
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 1, 1, 6000, &retry));
}

TEST(lower_burst_caps_stored_tokens)
{
    chat_bucket_t b;
    chat_bucket_init(&b, 10, 0);
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 1, 2, 0, NULL));
    ASSERT_EQ_INT(0, chat_bucket_take(&b, 1, 2, 0, NULL));
    ASSERT_EQ_INT(BH_EAGAIN, chat_bucket_take(&b, 1, 2, 0, NULL));
}

TEST(recovers_after_the_retry_time)
{
    chat_bucket_t b;
    uint64_t retry, now = 0;
    chat_bucket_init(&b, 5, now);
    int sent = 0, refused = 0;
    /* A client that honours retryAfterMs sends at exactly the rate after the burst. */
    for (int i = 0; i < 20; i++) {
        if (chat_bucket_take(&b, 10, 5, now, &retry) == 0) {
            sent++;
        } else {
            refused++;
            now += retry;
            ASSERT_EQ_INT(0, chat_bucket_take(&b, 10, 5, now, &retry));
            sent++;
        }
    }
    ASSERT_EQ_INT(20, sent);
    ASSERT_EQ_INT(15, refused);
    ASSERT_EQ_INT(1500, now); /* 15 tokens at 10 a second */
}

TEST_MAIN(TEST_ENTRY(burst_then_empty), TEST_ENTRY(refills_at_the_rate),
          TEST_ENTRY(never_holds_more_than_burst),
          TEST_ENTRY(clock_going_backwards_refills_nothing),
          TEST_ENTRY(lower_burst_caps_stored_tokens), TEST_ENTRY(recovers_after_the_retry_time))
