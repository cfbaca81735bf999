/* Unit tests for the process-wide admission counters (src/net/limit.c). */
#include "core/err.h"
#include "net/limit.h"
#include "test.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <uv.h>

static struct sockaddr_in addr4(const char *ip)
{
    struct sockaddr_in a;
    uv_ip4_addr(ip, 1234, &a);
    return a;
}

TEST(bucket_starts_full_and_refills)
{
    net_bucket_t b = {0};
    unsigned retry = 0;
    for (int i = 0; i < 3; i++) ASSERT_EQ_INT(0, net_bucket_take(&b, 2, 3, 1000, &retry));
    ASSERT_EQ_INT(BH_EAGAIN, net_bucket_take(&b, 2, 3, 1000, &retry));
    ASSERT(retry >= 400 && retry <= 501); /* 2 a second: the next in 500 ms */
    ASSERT_EQ_INT(BH_EAGAIN, net_bucket_take(&b, 2, 3, 1400, NULL));
    ASSERT_EQ_INT(0, net_bucket_take(&b, 2, 3, 1600, NULL));
    /* Long idle refills to the burst, never beyond. */
    for (int i = 0; i < 3; i++) ASSERT_EQ_INT(0, net_bucket_take(&b, 2, 3, 100000, NULL));
    ASSERT_EQ_INT(BH_EAGAIN, net_bucket_take(&b, 2, 3, 100000, NULL));
    /* Rate 0: unlimited. */
    net_bucket_t u = {0};
    for (int i = 0; i < 1000; i++) ASSERT_EQ_INT(0, net_bucket_take(&u, 0, 1, 5, NULL));
}

TEST(conns_per_ip)
{
    net_limits_t l = {.max_conns_per_ip = 2};
    net_limits_configure(&l);
    struct sockaddr_in a = addr4("10.0.0.1"), b = addr4("10.0.0.2");
    net_ip_t *e1, *e2, *e3, *f;
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&a, &e1));
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&a, &e2));
    ASSERT(e1 == e2);
    ASSERT_EQ_INT(BH_EAGAIN, net_limit_ip_acquire((struct sockaddr *)&a, &e3));
    ASSERT(e3 == NULL);
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&b, &f)); /* another address */
    net_limit_ip_release(e1);
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&a, &e3));
    net_limit_ip_release(e2);
    net_limit_ip_release(e3);
    net_limit_ip_release(f);
    net_limit_reset();
}

TEST(handshakes_per_ip_survive_reconnects)
{
    net_limits_t l = {.handshake_rate = 1, .handshake_burst = 2};
    net_limits_configure(&l);
    struct sockaddr_in a = addr4("10.0.0.3");
    uint64_t now = uv_hrtime() / 1000000u;
    net_ip_t *e;
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&a, &e));
    ASSERT_EQ_INT(0, net_limit_ip_handshake(e, now, NULL));
    net_limit_ip_release(e); /* the bucket is not full: the entry stays */
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&a, &e));
    ASSERT_EQ_INT(0, net_limit_ip_handshake(e, now, NULL));
    unsigned retry = 0;
    ASSERT_EQ_INT(BH_EAGAIN, net_limit_ip_handshake(e, now, &retry));
    ASSERT(retry > 0 && retry <= 1001);
    net_limit_ip_release(e);
    net_limit_prune(now + 10000); /* refilled by then: pruned */
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&a, &e));
    ASSERT_EQ_INT(0, net_limit_ip_handshake(e, now + 10000, NULL));
    net_limit_ip_release(e);
    net_limit_reset();
}

/* The login bucket counts a minute: 2 a minute, burst 2, so the third try waits ~30 s and the
 * entry (not refilled) survives its last connection until then. */
TEST(logins_per_ip_count_a_minute)
{
    net_limits_t l = {.login_per_min = 2, .login_burst = 2};
    net_limits_configure(&l);
    struct sockaddr_in a = addr4("10.0.0.4");
    uint64_t now = uv_hrtime() / 1000000u;
    net_ip_t *e;
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&a, &e));
    ASSERT_EQ_INT(0, net_limit_ip_login(e, now, NULL));
    ASSERT_EQ_INT(0, net_limit_ip_login(e, now, NULL));
    unsigned retry = 0;
    ASSERT_EQ_INT(BH_EAGAIN, net_limit_ip_login(e, now, &retry));
    ASSERT(retry >= 29000 && retry <= 31000);
    ASSERT_EQ_INT(0, net_limit_ip_handshake(e, now, NULL)); /* other buckets are untouched */
    net_limit_ip_release(e);
    net_limit_prune(now + 5000); /* not refilled yet: kept, so reconnecting does not reset it */
    ASSERT_EQ_INT(0, net_limit_ip_acquire((struct sockaddr *)&a, &e));
    ASSERT_EQ_INT(BH_EAGAIN, net_limit_ip_login(e, now + 5000, NULL));
    ASSERT_EQ_INT(0, net_limit_ip_login(e, now + 31000, NULL));
    net_limit_ip_release(e);
    net_limit_reset();
}

TEST(conns_per_user)
{
    net_limits_t l = {.max_conns_per_user = 2};
    net_limits_configure(&l);
    net_user_t *u1, *u2, *u3, *v;
    ASSERT_EQ_INT(0, net_limit_user_acquire(1, 7, &u1));
    ASSERT_EQ_INT(0, net_limit_user_acquire(1, 7, &u2));
    ASSERT_EQ_INT(BH_EAGAIN, net_limit_user_acquire(1, 7, &u3));
    ASSERT_EQ_INT(0, net_limit_user_acquire(2, 7, &v)); /* same id, other organisation */
    ASSERT_EQ_INT(2, net_limit_user_count(1, 7));
    net_limit_user_release(u1);
    net_limit_user_release(u2);
    ASSERT_EQ_INT(0, net_limit_user_count(1, 7));
    net_limit_user_release(v);
    net_limit_reset();
}

TEST(outbuf_victims_hold_more_than_their_share)
{
    net_limits_t l = {.outbuf_budget = 1000000};
    net_limits_configure(&l);
    ASSERT_EQ_INT(0, net_limit_outbuf_victim(900000)); /* nothing queued in total yet */
    net__outbuf_queued_conns(3);
    net__outbuf_add(1500000); /* e.g. 1.2 MB, 200 KB, 100 KB */
    ASSERT_EQ_INT(1, net_limit_outbuf_victim(1200000));
    ASSERT_EQ_INT(0, net_limit_outbuf_victim(200000)); /* under the mean of 500 KB */
    ASSERT_EQ_INT(0, net_limit_outbuf_victim(1000)); /* tiny queues never */
    net__outbuf_add(-1200000);
    net__outbuf_queued_conns(-1);
    ASSERT_EQ_INT(0, net_limit_outbuf_victim(200000)); /* under budget again */
    net__outbuf_add(-300000);
    net__outbuf_queued_conns(-2);
    ASSERT_EQ_INT(0, (long long)net_limit_outbuf_total());
    net_limits_t off = {0};
    net_limits_configure(&off);
}

TEST_MAIN(TEST_ENTRY(bucket_starts_full_and_refills), TEST_ENTRY(conns_per_ip),
          TEST_ENTRY(handshakes_per_ip_survive_reconnects),
          TEST_ENTRY(logins_per_ip_count_a_minute), TEST_ENTRY(conns_per_user),
          TEST_ENTRY(outbuf_victims_hold_more_than_their_share))
