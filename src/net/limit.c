#include "net/limit.h"

#include "core/alloc.h"
#include "core/err.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* 64 shards of 256 chains: two connections from different addresses rarely share a mutex, and the
 * heads cost 128 KiB per table. Chains stay short until hundreds of thousands of addresses. */
#define N_SHARDS 64
#define N_CHAINS 256

struct net_ip_s {
    net_ip_t *next;
    uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d, so both families share one key space */
    unsigned conns;
    unsigned shard;
    net_bucket_t hs;    /* WebSocket handshakes */
    net_bucket_t login; /* password logins, on a clock running 60 times slow (see ip_login) */
};

struct net_user_s {
    net_user_t *next;
    int64_t org_id, user_id;
    unsigned conns;
    unsigned shard;
};

typedef struct shard_s {
    uv_mutex_t lock;
    net_ip_t *ips[N_CHAINS];
    net_user_t *users[N_CHAINS];
} shard_t;

static shard_t shards[N_SHARDS];
static uv_once_t once = UV_ONCE_INIT;
static net_limits_t limits;
static _Atomic long long outbuf_total;
static _Atomic int outbuf_conns;
static _Atomic long long conn_total;
static _Atomic uint64_t events[NET_LIMIT__COUNT];

void net_limit_note(net_limit_event_t e)
{
    atomic_fetch_add_explicit(&events[e], 1, memory_order_relaxed);
}

uint64_t net_limit_count(net_limit_event_t e)
{
    return atomic_load_explicit(&events[e], memory_order_relaxed);
}

const char *net_limit_event_name(net_limit_event_t e)
{
    static const char *const names[NET_LIMIT__COUNT] = {"per_ip", "per_user", "handshake_rate",
                                                        "message_rate", "login_rate"};
    return names[e];
}

static void init_once(void)
{
    for (int i = 0; i < N_SHARDS; i++) uv_mutex_init(&shards[i].lock);
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull; /* FNV-1a */
    }
    return h;
}

int net_bucket_take(net_bucket_t *b, unsigned rate, unsigned burst, uint64_t now_ms,
                    unsigned *retry_ms)
{
    if (rate == 0) return 0;
    if (burst == 0) burst = 1;
    if (b->last_ms == 0) {
        b->tokens = burst;
    } else if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
        if (b->tokens > burst) b->tokens = burst;
    }
    b->last_ms = now_ms ? now_ms : 1;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    if (retry_ms) *retry_ms = (unsigned)((1.0 - b->tokens) * 1000.0 / rate) + 1;
    return BH_EAGAIN;
}

/* 1 when the bucket would be full at now_ms: forgetting it changes nothing. */
static int bucket_full(const net_bucket_t *b, unsigned rate, unsigned burst, uint64_t now_ms)
{
    if (b->last_ms == 0 || rate == 0) return 1;
    double t = b->tokens + (double)(now_ms > b->last_ms ? now_ms - b->last_ms : 0) * rate / 1000.0;
    return t >= (double)(burst ? burst : 1);
}

/* The login bucket counts per minute: it runs on a clock 60 times slower than now_ms, so its
 * "per second" rate is a rate a minute. */
static uint64_t login_clock(uint64_t now_ms)
{
    return now_ms / 60 + 1;
}

/* 1 when forgetting e's buckets changes nothing (both would be full now). */
static int ip_settled(const net_ip_t *e, uint64_t now_ms)
{
    return bucket_full(&e->hs, limits.handshake_rate, limits.handshake_burst, now_ms) &&
           bucket_full(&e->login, limits.login_per_min, limits.login_burst, login_clock(now_ms));
}

void net_limits_configure(const net_limits_t *l)
{
    uv_once(&once, init_once);
    limits = *l;
}

const net_limits_t *net_limits_get(void)
{
    return &limits;
}

/* ---- per IP ------------------------------------------------------------------------------------ */

static void addr_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

static uint64_t now_ms_mono(void)
{
    return uv_hrtime() / 1000000u;
}

int net_limit_ip_acquire(const struct sockaddr *sa, net_ip_t **out)
{
    uv_once(&once, init_once);
    uint8_t key[16];
    addr_key(sa, key);
    uint64_t h = hash_bytes(key, 16, 14695981039346656037ull);
    unsigned si = (unsigned)(h % N_SHARDS), ci = (unsigned)((h / N_SHARDS) % N_CHAINS);
    shard_t *s = &shards[si];
    unsigned max = limits.max_conns_per_ip;
    uv_mutex_lock(&s->lock);
    net_ip_t *e = s->ips[ci];
    while (e && memcmp(e->addr, key, 16) != 0) e = e->next;
    if (e && max && e->conns >= max) {
        uv_mutex_unlock(&s->lock);
        *out = NULL;
        net_limit_note(NET_LIMIT_REFUSED_IP);
        return BH_EAGAIN;
    }
    if (e == NULL) {
        e = xcalloc(1, sizeof *e);
        memcpy(e->addr, key, 16);
        e->shard = si;
        e->next = s->ips[ci];
        s->ips[ci] = e;
    }
    e->conns++;
    uv_mutex_unlock(&s->lock);
    *out = e;
    return 0;
}

static void ip_unlink(shard_t *s, net_ip_t *e)
{
    uint64_t h = hash_bytes(e->addr, 16, 14695981039346656037ull);
    net_ip_t **pp = &s->ips[(h / N_SHARDS) % N_CHAINS];
    while (*pp != e) pp = &(*pp)->next;
    *pp = e->next;
    free(e);
}

void net_limit_ip_release(net_ip_t *e)
{
    if (e == NULL) return;
    shard_t *s = &shards[e->shard];
    uv_mutex_lock(&s->lock);
    if (--e->conns == 0 && ip_settled(e, now_ms_mono())) ip_unlink(s, e);
    uv_mutex_unlock(&s->lock);
}

int net_limit_ip_handshake(net_ip_t *e, uint64_t now_ms, unsigned *retry_ms)
{
    if (e == NULL || limits.handshake_rate == 0) return 0;
    shard_t *s = &shards[e->shard];
    uv_mutex_lock(&s->lock);
    int rc = net_bucket_take(&e->hs, limits.handshake_rate, limits.handshake_burst, now_ms,
                             retry_ms);
    uv_mutex_unlock(&s->lock);
    if (rc != 0) net_limit_note(NET_LIMIT_REFUSED_HANDSHAKE);
    return rc;
}

int net_limit_ip_login(net_ip_t *e, uint64_t now_ms, unsigned *retry_ms)
{
    if (e == NULL || limits.login_per_min == 0) return 0;
    shard_t *s = &shards[e->shard];
    unsigned retry = 0;
    uv_mutex_lock(&s->lock);
    int rc = net_bucket_take(&e->login, limits.login_per_min, limits.login_burst,
                             login_clock(now_ms), &retry);
    uv_mutex_unlock(&s->lock);
    if (rc != 0) {
        net_limit_note(NET_LIMIT_REFUSED_LOGIN);
        if (retry_ms) *retry_ms = retry * 60u;
    }
    return rc;
}

/* ---- per user ---------------------------------------------------------------------------------- */

static uint64_t user_hash(int64_t org, int64_t user)
{
    int64_t k[2] = {org, user};
    return hash_bytes(k, sizeof k, 14695981039346656037ull);
}

int net_limit_user_acquire(int64_t org_id, int64_t user_id, net_user_t **out)
{
    uv_once(&once, init_once);
    uint64_t h = user_hash(org_id, user_id);
    unsigned si = (unsigned)(h % N_SHARDS), ci = (unsigned)((h / N_SHARDS) % N_CHAINS);
    shard_t *s = &shards[si];
    unsigned max = limits.max_conns_per_user;
    uv_mutex_lock(&s->lock);
    net_user_t *u = s->users[ci];
    while (u && (u->org_id != org_id || u->user_id != user_id)) u = u->next;
    if (u && max && u->conns >= max) {
        uv_mutex_unlock(&s->lock);
        *out = NULL;
        net_limit_note(NET_LIMIT_REFUSED_USER);
        return BH_EAGAIN;
    }
    if (u == NULL) {
        u = xcalloc(1, sizeof *u);
        u->org_id = org_id;
        u->user_id = user_id;
        u->shard = si;
        u->next = s->users[ci];
        s->users[ci] = u;
    }
    u->conns++;
    uv_mutex_unlock(&s->lock);
    *out = u;
    return 0;
}

void net_limit_user_release(net_user_t *u)
{
    if (u == NULL) return;
    shard_t *s = &shards[u->shard];
    uv_mutex_lock(&s->lock);
    if (--u->conns == 0) {
        net_user_t **pp = &s->users[(user_hash(u->org_id, u->user_id) / N_SHARDS) % N_CHAINS];
        while (*pp != u) pp = &(*pp)->next;
        *pp = u->next;
        free(u);
    }
    uv_mutex_unlock(&s->lock);
}

unsigned net_limit_user_count(int64_t org_id, int64_t user_id)
{
    uv_once(&once, init_once);
    uint64_t h = user_hash(org_id, user_id);
    shard_t *s = &shards[h % N_SHARDS];
    uv_mutex_lock(&s->lock);
    net_user_t *u = s->users[(h / N_SHARDS) % N_CHAINS];
    while (u && (u->org_id != org_id || u->user_id != user_id)) u = u->next;
    unsigned n = u ? u->conns : 0;
    uv_mutex_unlock(&s->lock);
    return n;
}

/* ---- outgoing buffers ---------------------------------------------------------------------------- */

void net__outbuf_add(long long delta)
{
    atomic_fetch_add_explicit(&outbuf_total, delta, memory_order_relaxed);
}

void net__outbuf_queued_conns(int delta)
{
    atomic_fetch_add_explicit(&outbuf_conns, delta, memory_order_relaxed);
}

size_t net_limit_outbuf_total(void)
{
    long long t = atomic_load_explicit(&outbuf_total, memory_order_relaxed);
    return t > 0 ? (size_t)t : 0;
}

#define VICTIM_MIN_BYTES (64 * 1024)

int net_limit_outbuf_victim(size_t queued)
{
    size_t budget = limits.outbuf_budget;
    if (budget == 0 || queued < VICTIM_MIN_BYTES) return 0;
    size_t total = net_limit_outbuf_total();
    if (total <= budget) return 0;
    int n = atomic_load_explicit(&outbuf_conns, memory_order_relaxed);
    size_t fair = total / (size_t)(n > 0 ? n : 1);
    return queued >= fair;
}

size_t net_limit_conn_total(void)
{
    long long t = atomic_load_explicit(&conn_total, memory_order_relaxed);
    return t > 0 ? (size_t)t : 0;
}

void net__conn_total_add(int delta)
{
    atomic_fetch_add_explicit(&conn_total, delta, memory_order_relaxed);
}

/* ---- housekeeping -------------------------------------------------------------------------------- */

void net_limit_prune(uint64_t now_ms)
{
    uv_once(&once, init_once);
    for (int i = 0; i < N_SHARDS; i++) {
        shard_t *s = &shards[i];
        uv_mutex_lock(&s->lock);
        for (int c = 0; c < N_CHAINS; c++) {
            net_ip_t **pp = &s->ips[c];
            while (*pp) {
                net_ip_t *e = *pp;
                if (e->conns == 0 && ip_settled(e, now_ms)) {
                    *pp = e->next;
                    free(e);
                } else {
                    pp = &e->next;
                }
            }
        }
        uv_mutex_unlock(&s->lock);
    }
}

void net_limit_reset(void)
{
    uv_once(&once, init_once);
    for (int i = 0; i < N_SHARDS; i++) {
        shard_t *s = &shards[i];
        uv_mutex_lock(&s->lock);
        for (int c = 0; c < N_CHAINS; c++) {
            for (net_ip_t *e = s->ips[c], *n; e; e = n) {
                n = e->next;
                free(e);
            }
            for (net_user_t *u = s->users[c], *n; u; u = n) {
                n = u->next;
                free(u);
            }
            s->ips[c] = NULL;
            s->users[c] = NULL;
        }
        uv_mutex_unlock(&s->lock);
    }
}
