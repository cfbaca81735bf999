/* bucket.h: a token bucket (sans-I/O), the chat message rate limit.
 *
 * The bucket holds up to `burst` tokens and refills at `rate` tokens a second; each message takes
 * one. Tokens are counted in thousandths, so the arithmetic is exact integer math on milliseconds
 * and a test can predict every answer. The caller supplies the (monotonic) time. */
#ifndef BH_CHAT_BUCKET_H
#define BH_CHAT_BUCKET_H

#include <stdint.h>

typedef struct chat_bucket_s {
    int64_t milli;    /* tokens available, in thousandths; 0..burst * 1000 */
    uint64_t last_ms; /* the time milli was brought up to date */
} chat_bucket_t;

/* A full bucket at now_ms. */
void chat_bucket_init(chat_bucket_t *b, unsigned burst, uint64_t now_ms);
/* Takes one token. Returns 0, or BH_EAGAIN when the bucket is empty: then *retry_ms (may be
 * NULL) gets the wait until a token is available, at least 1. rate and burst must be >= 1; they
 * may change between calls (a lower burst caps what is stored). A clock that goes backwards
 * refills nothing. */
int chat_bucket_take(chat_bucket_t *b, unsigned rate, unsigned burst, uint64_t now_ms,
                     uint64_t *retry_ms);

#endif
