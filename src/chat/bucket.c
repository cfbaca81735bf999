/* bucket.c: the token bucket. */
#include "chat/bucket.h"

#include "core/err.h"

void chat_bucket_init(chat_bucket_t *b, unsigned burst, uint64_t now_ms)
{
    b->milli = (int64_t)burst * 1000;
    b->last_ms = now_ms;
}

int chat_bucket_take(chat_bucket_t *b, unsigned rate, unsigned burst, uint64_t now_ms,
                     uint64_t *retry_ms)
{
    int64_t cap = (int64_t)burst * 1000;
    if (now_ms > b->last_ms) {
        /* rate tokens a second is rate thousandths a millisecond. Cap the elapsed time first so
         * that a bucket idle for years cannot overflow. */
        uint64_t dt = now_ms - b->last_ms;
        if (dt > 1000000000u) dt = 1000000000u;
        b->milli += (int64_t)dt * (int64_t)rate;
        b->last_ms = now_ms;
    }
    if (b->milli > cap) b->milli = cap;
    if (b->milli >= 1000) {
        b->milli -= 1000;
        return 0;
    }
    if (retry_ms) {
        int64_t missing = 1000 - b->milli;
        uint64_t wait = (uint64_t)((missing + rate - 1) / rate);
        *retry_ms = wait ? wait : 1;
    }
    return BH_EAGAIN;
}
