/*
 * bh_load: load generator for bellhop's realtime stream (GET /v2/realtime/stream).
 *
 * It opens N WebSocket subscribers (bearer token on the upgrade, JSON handshake, wait for the
 * ack) and then either holds them (--mode hold: connections held, server RSS per connection) or
 * publishes events over HTTP and measures their fan-out (--mode fanout: a fixed rate, or a closed
 * loop with -r 0). Every received text message is scanned for `ts=<CLOCK_REALTIME ns>` markers:
 * each marker is one delivery (an events message batches several events), its latency is the
 * time of the read() that completed the message minus the marker. The `seq=<n>` after a marker
 * names the published event, which gives per-event delivery counts and so the loss.
 *
 * Processes: the parent coordinates and is the HTTP publisher; P forked workers own the
 * subscribers (P > 1 only when N does not fit one process's descriptor limit, or with -j). They
 * share one anonymous MAP_SHARED mapping: a phase word, per-worker counters (one writer each),
 * per-worker latency histograms, and one slot per published event (expected and received
 * counts). An eventfd created before the fork lets the worker that completes an event wake the
 * parent, which is what the closed loop waits on.
 *
 * Everything is bounded: per-connection handshake deadlines, a connect-phase deadline, publish
 * request timeouts, a drain deadline, and a whole-run alarm() that kills the workers and exits 3.
 * Exit status: 0 done (check the counters), 1 setup failure, 2 usage, 3 watchdog.
 *
 * Build: make -C bench/loadgen.  Usage: bh_load --help.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define BL_MAX_PROCS 32
#define BL_MAX_HEADERS 16
#define BL_MAX_TARGETS 16 /* --targets: subscriber ports (several nodes on one host) */
#define BL_MAX_MSG (16u << 20) /* largest server message accepted */
#define BL_RDBUF (256u << 10)  /* per-process read buffer */
#define BL_HDR_MAX 8192        /* largest upgrade / publish response head */
#define BL_PUB_IN 16384        /* publish response buffer (head + body) */
#define BL_PUB_TIMEOUT_MS 5000 /* a publish request unanswered this long is an error */
#define BL_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------- */

enum { MODE_HOLD, MODE_FANOUT };

typedef struct bl_opts {
    char host[64], path[1024];
    uint16_t port;
    uint16_t ports[BL_MAX_TARGETS]; /* subscriber i connects to ports[i % nports] */
    int nports;
    char pub_host[64], pub_path[1024];
    uint16_t pub_port;
    int n, k, procs, connects;
    const char *token, *pub_token, *service, *pub_body, *label;
    const char *headers[BL_MAX_HEADERS], *pub_headers[BL_MAX_HEADERS];
    int nheaders, npub_headers;
    char *handshake; /* NULL: built from --service; "": none (open at the upgrade) */
    long org;
    int mode, window, pub_conns, size;
    double duration, rate, drain, settle, warmup, connect_timeout, hs_timeout, ev_timeout;
    pid_t server_pid;
    bool quiet, check_seq;
} bl_opts_t;

static bl_opts_t O = {
    .n = 100,
    .connects = 256,
    .service = "finance",
    .org = 1,
    .mode = MODE_HOLD,
    .window = 16,
    .pub_conns = 4,
    .size = 200,
    .duration = 5,
    .rate = 20,
    .drain = 5,
    .settle = 0.5,
    .warmup = 5,
    .connect_timeout = 30,
    .hs_timeout = 10,
    .ev_timeout = 1,
    .label = "-",
};

/* ---------------------------------------------------------------------------------------------
 * Small utilities
 * ------------------------------------------------------------------------------------------- */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bh_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int64_t rt_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t rng_state;

/* xorshift64*: masking keys and WebSocket keys need no cryptographic quality here. */
static uint64_t rng64(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static void rng_seed(void)
{
    if (getrandom(&rng_state, sizeof rng_state, 0) != sizeof rng_state)
        rng_state = (uint64_t)rt_ns() ^ ((uint64_t)getpid() << 32);
    rng_state |= 1;
}

/* A growable byte buffer. Invariant: len <= cap; p is NULL iff cap is 0. */
typedef struct bl_buf {
    char *p;
    uint32_t len, cap;
} bl_buf_t;

static void buf_reserve(bl_buf_t *b, size_t need)
{
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) die("out of memory");
    b->p = p;
    b->cap = (uint32_t)cap;
}

static void buf_append(bl_buf_t *b, const void *data, size_t n)
{
    buf_reserve(b, b->len + n);
    memcpy(b->p + b->len, data, n);
    b->len += (uint32_t)n;
}

static void buf_free(bl_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Relaxed increments of counters that have exactly one writer (their worker). */
#define CTR_ADD(x, v)                                                                              \
    atomic_store_explicit(&(x), atomic_load_explicit(&(x), memory_order_relaxed) + (v),            \
                          memory_order_relaxed)
#define CTR_INC(x) CTR_ADD(x, 1)
#define CTR_GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* /proc readers: -1 when the process or field is not there. */
static long proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static long long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL) return -1;
    unsigned long long ut, st;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

static void machine_cpu(unsigned long long *busy, unsigned long long *total)
{
    unsigned long long v[8] = {0};
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) == 8) {
        for (int i = 0; i < 8; i++)
            *total += v[i];
        *busy = *total - v[3] - v[4]; /* minus idle and iowait */
    }
    fclose(f);
}

/* ---------------------------------------------------------------------------------------------
 * Latency histogram: log-linear in microseconds. Values below 256 us get their own bucket;
 * above, each power of two is split into 128 buckets, so a bucket is at most 1/128 (0.8 %) wide.
 * ------------------------------------------------------------------------------------------- */

#define HIST_SUB 128
#define HIST_MAXE 41 /* 2^42 us, about 51 days: anything above lands in the last bucket */
#define HIST_N (2 * HIST_SUB + (HIST_MAXE - 7) * HIST_SUB)

static unsigned hist_index(uint64_t us)
{
    if (us < 2 * HIST_SUB) return (unsigned)us;
    unsigned e = 63 - (unsigned)__builtin_clzll(us); /* us in [2^e, 2^(e+1)), e >= 8 */
    if (e > HIST_MAXE) return HIST_N - 1;
    return 2 * HIST_SUB + (e - 8) * HIST_SUB + (unsigned)((us >> (e - 7)) - HIST_SUB);
}

static uint64_t hist_lower(unsigned i)
{
    if (i < 2 * HIST_SUB) return i;
    unsigned j = i - 2 * HIST_SUB, e = j / HIST_SUB + 8;
    return (uint64_t)(j % HIST_SUB + HIST_SUB) << (e - 7);
}

/* The value at quantile q, as the middle of its bucket, in microseconds; -1 when empty. */
static double hist_quantile(const uint64_t *h, uint64_t total, double q)
{
    if (total == 0) return -1;
    uint64_t want = (uint64_t)(q * (double)total + 0.5), acc = 0;
    if (want < 1) want = 1;
    for (unsigned i = 0; i < HIST_N; i++) {
        acc += h[i];
        if (acc >= want) {
            if (i < 2 * HIST_SUB || i + 1 >= HIST_N) return (double)hist_lower(i);
            return ((double)hist_lower(i) + (double)hist_lower(i + 1)) / 2;
        }
    }
    return (double)hist_lower(HIST_N - 1);
}

/* ---------------------------------------------------------------------------------------------
 * Shared memory between the parent and its workers
 * ------------------------------------------------------------------------------------------- */

enum { PHASE_CONNECT, PHASE_RUN, PHASE_STOP };

/* Per-worker counters. Only the owning worker writes them; the parent reads them at any time
 * (relaxed: they are statistics) and finally after waitpid(). */
typedef struct bl_wstat {
    _Atomic uint64_t attempted, open, acked, fail_connect, fail_upgrade, fail_hs, fail_timeout;
    _Atomic uint64_t closed, frames, deliveries, extra, foreign, seq_errs, pings, bytes_in;
    _Atomic uint64_t lat_sum_us, lat_max_us;
    _Atomic int64_t last_delivery_ns;
    _Atomic int ready;
    char pad_[64];
} bl_wstat_t;

typedef struct bl_shared {
    _Atomic int phase;
    bl_wstat_t w[BL_MAX_PROCS];
} bl_shared_t;

/* One slot per published event, indexed by its seq (slot 0 unused). The parent writes expected
 * and then flags (release) before the publish request leaves; workers read flags (acquire) and
 * count received. */
typedef struct bl_event {
    _Atomic uint32_t expected, received, flags, pad_;
} bl_event_t;

enum { EV_PUBLISHED = 1, EV_WARM = 2, EV_FAILED = 4 };

static bl_shared_t *S;
static uint64_t *HIST; /* [procs][HIST_N] */
static bl_event_t *EV;
static uint32_t EV_CAP;
static int EFD = -1;
static int NPROCS;
static pid_t WPID[BL_MAX_PROCS];

static uint64_t open_now(void)
{
    uint64_t n = 0;
    for (int i = 0; i < NPROCS; i++)
        n += CTR_GET(S->w[i].open);
    return n;
}

#define SUM_W(field)                                                                               \
    ({                                                                                             \
        uint64_t s_ = 0;                                                                           \
        for (int i_ = 0; i_ < NPROCS; i_++) {                                                      \
            s_ += CTR_GET(S->w[i_].field);                                                         \
        }                                                                                          \
        s_;                                                                                        \
    })

/* ---------------------------------------------------------------------------------------------
 * Worker: the subscribers
 * ------------------------------------------------------------------------------------------- */

enum { CS_IDLE, CS_CONNECTING, CS_UPGRADING, CS_HANDSHAKING, CS_OPEN, CS_DONE };
enum { END_IO, END_PROTO, END_TIMEOUT, END_REFUSED, END_STOP };

typedef struct bl_conn {
    int fd;
    uint8_t state;
    uint8_t frag_op; /* opcode of the fragmented message being joined in msg; 0 = none */
    uint8_t epout;   /* EPOLLOUT is armed */
    uint32_t idx;    /* global connection index: picks the source address */
    int64_t deadline_ms;
    int64_t next_seq; /* the "seq" the next server message must carry; -1 = not checked */
    bl_buf_t in;      /* unparsed bytes (a partial frame or response head); empty when idle */
    bl_buf_t msg;     /* fragments of the current message */
    bl_buf_t out;     /* bytes the socket did not take yet */
    char accept[29];  /* expected Sec-WebSocket-Accept */
} bl_conn_t;

enum {
    SAY_SOCKET = 1,
    SAY_CONNECT = 2,
    SAY_UPGRADE = 4,
    SAY_HS = 8,
    SAY_CLOSE = 16,
    SAY_PROTO = 32,
    SAY_TIMEOUT = 64,
    SAY_LOST = 128,
    SAY_FOREIGN = 256
};

typedef struct bl_worker {
    int id, ep;
    bl_conn_t *conns;
    uint32_t n, next, pending, pending_max;
    bool no_more_starts;
    bl_wstat_t *st;
    uint64_t *hist;
    char *rd;       /* the read buffer lent to whichever connection is readable */
    int64_t now_ns; /* CLOCK_REALTIME of the last read() */
    unsigned said;  /* SAY_* bits already printed */
    char *upgrade;  /* request head up to "Sec-WebSocket-Key: " */
    size_t upgrade_len;
    const EVP_MD *sha1;
} bl_worker_t;

static void say_once(bl_worker_t *w, unsigned bit, const char *fmt, ...)
{
    if (w->said & bit) return;
    w->said |= bit;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bh_load[w%d]: ", w->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static bool stopping(void)
{
    return atomic_load_explicit(&S->phase, memory_order_relaxed) == PHASE_STOP;
}

static void conn_epoll(bl_worker_t *w, bl_conn_t *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - w->conns)};
    epoll_ctl(w->ep, op, c->fd, &ev);
}

/* Ends a connection for good and accounts for it by the state it was in. */
static void conn_end(bl_worker_t *w, bl_conn_t *c, int why)
{
    if (c->state == CS_IDLE || c->state == CS_DONE) return;
    if (c->state == CS_OPEN) {
        atomic_fetch_sub_explicit(&w->st->open, 1, memory_order_relaxed);
        if (why != END_STOP) CTR_INC(w->st->closed);
    } else {
        w->pending--;
        if (why == END_TIMEOUT)
            CTR_INC(w->st->fail_timeout);
        else if (c->state == CS_CONNECTING)
            CTR_INC(w->st->fail_connect);
        else if (c->state == CS_UPGRADING)
            CTR_INC(w->st->fail_upgrade);
        else if (why != END_STOP)
            CTR_INC(w->st->fail_hs);
    }
    if (c->fd >= 0) {
        if (why == END_STOP) {
            /* Reset instead of FIN so thousands of sockets do not sit in TIME_WAIT. */
            struct linger l = {1, 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        close(c->fd);
    }
    c->fd = -1;
    buf_free(&c->in);
    buf_free(&c->msg);
    buf_free(&c->out);
    c->state = CS_DONE;
}

/* Writes at once what the socket takes and queues the rest behind EPOLLOUT. */
static void conn_write(bl_worker_t *w, bl_conn_t *c, const void *data, size_t n)
{
    const char *p = data;
    if (c->out.len == 0) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                conn_end(w, c, END_IO);
                return;
            }
            k = 0;
        }
        p += k;
        n -= (size_t)k;
        if (n == 0) return;
    }
    buf_append(&c->out, p, n);
    if (!c->epout) {
        c->epout = 1;
        conn_epoll(w, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
    }
}

static void conn_flush(bl_worker_t *w, bl_conn_t *c)
{
    if (c->out.len) {
        ssize_t k = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) conn_end(w, c, END_IO);
            return;
        }
        memmove(c->out.p, c->out.p + k, c->out.len - (size_t)k);
        c->out.len -= (uint32_t)k;
    }
    if (c->out.len == 0) {
        buf_free(&c->out);
        c->epout = 0;
        conn_epoll(w, c, EPOLLIN, EPOLL_CTL_MOD);
    }
}

/* Client frames are always masked (RFC 6455 5.3), with a fresh key per frame. */
static void conn_send_frame(bl_worker_t *w, bl_conn_t *c, unsigned op, const void *data, size_t n)
{
    uint8_t small[256], *f = n + 14 <= sizeof small ? small : malloc(n + 14);
    if (f == NULL) die("out of memory");
    const uint8_t *p = data;
    size_t hl = 2;
    f[0] = (uint8_t)(0x80 | op);
    if (n < 126) {
        f[1] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        f[1] = 0x80 | 126;
        f[2] = (uint8_t)(n >> 8);
        f[3] = (uint8_t)n;
        hl = 4;
    } else {
        f[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            f[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    uint32_t key = (uint32_t)rng64();
    memcpy(f + hl, &key, 4);
    for (size_t i = 0; i < n; i++)
        f[hl + 4 + i] = p[i] ^ f[hl + (i & 3)];
    conn_write(w, c, f, hl + 4 + n);
    if (f != small) free(f);
}

static void conn_opened(bl_worker_t *w, bl_conn_t *c)
{
    c->state = CS_OPEN;
    w->pending--;
    CTR_INC(w->st->open);
    CTR_INC(w->st->acked);
}

/* The "seq" of a bellhop server message. It sits near the start of acks and events
 * ({"type":"events","seq":N,...}), but error messages carry it last. */
static int64_t json_seq(const char *p, size_t n)
{
    const char *q = memmem(p, n < 64 ? n : 64, "\"seq\":", 6);
    if (q == NULL) q = memmem(p, n, "\"seq\":", 6);
    if (q == NULL) return -1;
    q += 6;
    const char *end = p + n;
    int64_t v = 0;
    int d = 0;
    while (q < end && *q >= '0' && *q <= '9' && d < 18) {
        v = v * 10 + (*q++ - '0');
        d++;
    }
    return d ? v : -1;
}

static void record_delivery(bl_worker_t *w, int64_t ts, int64_t seq)
{
    if (seq <= 0 || seq >= (int64_t)EV_CAP) {
        CTR_INC(w->st->foreign);
        return;
    }
    bl_event_t *e = &EV[seq];
    uint32_t fl = atomic_load_explicit(&e->flags, memory_order_acquire);
    if (!(fl & EV_PUBLISHED)) {
        CTR_INC(w->st->foreign);
        say_once(w, SAY_FOREIGN, "a marker names seq=%" PRId64 ", which was never published", seq);
        return;
    }
    uint32_t exp = atomic_load_explicit(&e->expected, memory_order_relaxed);
    uint32_t prev = atomic_fetch_add_explicit(&e->received, 1, memory_order_relaxed);
    if (prev + 1 == exp) {
        uint64_t one = 1; /* this worker completed the event: wake the parent's closed loop */
        if (write(EFD, &one, sizeof one) < 0) {
        }
    }
    if (fl & EV_WARM) return;
    if (prev >= exp) CTR_INC(w->st->extra);
    CTR_INC(w->st->deliveries);
    int64_t d = w->now_ns - ts;
    uint64_t us = d > 0 ? (uint64_t)d / 1000 : 0;
    w->hist[hist_index(us)]++;
    CTR_ADD(w->st->lat_sum_us, us);
    if (us > CTR_GET(w->st->lat_max_us))
        atomic_store_explicit(&w->st->lat_max_us, us, memory_order_relaxed);
    atomic_store_explicit(&w->st->last_delivery_ns, w->now_ns, memory_order_relaxed);
}

static bool is_word(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

/* One complete server message. */
static void conn_message(bl_worker_t *w, bl_conn_t *c, unsigned op, const char *p, size_t n)
{
    CTR_INC(w->st->frames);
    if (c->state == CS_HANDSHAKING) {
        if (op == 1 && memmem(p, n, "\"type\":\"ack\"", 12)) {
            int64_t s = json_seq(p, n);
            c->next_seq = O.check_seq && s >= 0 ? s + 1 : -1;
            conn_opened(w, c);
            return;
        }
        say_once(w, SAY_HS, "handshake answered with: %.*s", (int)(n < 300 ? n : 300), p);
        conn_end(w, c, END_REFUSED);
        return;
    }
    if (op != 1) return;
    if (c->next_seq >= 0) {
        int64_t s = json_seq(p, n);
        if (s >= 0) {
            if (s != c->next_seq) CTR_INC(w->st->seq_errs);
            c->next_seq = s + 1;
        }
    }
    /* Each `ts=` not glued to a preceding word is a marker: `ts=<ns>[ seq=<n>]`. */
    const char *q = p, *end = p + n;
    while ((q = memmem(q, (size_t)(end - q), "ts=", 3)) != NULL) {
        bool glued = q > p && is_word(q[-1]);
        q += 3;
        if (glued) continue;
        int64_t ts = 0, seq = -1;
        int d = 0;
        while (q < end && *q >= '0' && *q <= '9' && d < 19) {
            ts = ts * 10 + (*q++ - '0');
            d++;
        }
        if (d == 0) continue;
        if (end - q > 5 && memcmp(q, " seq=", 5) == 0) {
            q += 5;
            seq = 0;
            for (d = 0; q < end && *q >= '0' && *q <= '9' && d < 10; d++)
                seq = seq * 10 + (*q++ - '0');
            if (d == 0) seq = -1;
        }
        record_delivery(w, ts, seq);
    }
}

/* One frame (RFC 6455 5.2): control frames are answered, data frames joined into messages. */
static void conn_frame(bl_worker_t *w, bl_conn_t *c, uint8_t b0, char *p, size_t n)
{
    unsigned op = b0 & 0x0f;
    bool fin = (b0 & 0x80) != 0;
    switch (op) {
    case 0x9: /* ping: echo the payload in a pong */
        CTR_INC(w->st->pings);
        conn_send_frame(w, c, 0xA, p, n);
        return;
    case 0xA:
        return;
    case 0x8: {
        unsigned code = n >= 2 ? ((unsigned)(uint8_t)p[0] << 8 | (uint8_t)p[1]) : 1005;
        if (!stopping())
            say_once(w, SAY_CLOSE, "server closed a stream (state %d): code %u \"%.*s\"", c->state,
                     code, (int)(n > 2 ? (n - 2 > 120 ? 120 : n - 2) : 0), p + 2);
        uint8_t echo[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        conn_send_frame(w, c, 0x8, echo, code == 1005 ? 0 : 2);
        conn_end(w, c, END_IO);
        return;
    }
    case 0x1:
    case 0x2:
        if (c->frag_op) {
            say_once(w, SAY_PROTO, "protocol: new message inside a fragmented one");
            conn_end(w, c, END_PROTO);
            return;
        }
        if (fin) {
            conn_message(w, c, op, p, n);
            return;
        }
        c->frag_op = (uint8_t)op;
        buf_append(&c->msg, p, n);
        return;
    case 0x0:
        if (!c->frag_op || c->msg.len + n > BL_MAX_MSG) {
            say_once(w, SAY_PROTO, "protocol: stray or oversized continuation frame");
            conn_end(w, c, END_PROTO);
            return;
        }
        buf_append(&c->msg, p, n);
        if (fin) {
            unsigned mop = c->frag_op;
            c->frag_op = 0;
            conn_message(w, c, mop, c->msg.p, c->msg.len);
            if (c->state != CS_DONE) buf_free(&c->msg);
        }
        return;
    default:
        say_once(w, SAY_PROTO, "protocol: unknown opcode %u", op);
        conn_end(w, c, END_PROTO);
    }
}

/* Checks the 101 answer: status line and Sec-WebSocket-Accept (RFC 6455 4.2.2). */
static bool upgrade_ok(bl_worker_t *w, bl_conn_t *c, const char *p, size_t hl)
{
    char head[BL_HDR_MAX + 1];
    memcpy(head, p, hl);
    head[hl] = 0;
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        char *eol = strstr(head, "\r\n");
        say_once(w, SAY_UPGRADE, "upgrade refused: %.*s", (int)(eol ? eol - head : 80), head);
        return false;
    }
    char *a = strcasestr(head, "\r\nsec-websocket-accept:");
    if (a == NULL) {
        say_once(w, SAY_UPGRADE, "upgrade answer without Sec-WebSocket-Accept");
        return false;
    }
    a += 23;
    while (*a == ' ' || *a == '\t')
        a++;
    if (strncmp(a, c->accept, 28) != 0 || (a[28] != '\r' && a[28] != ' ')) {
        say_once(w, SAY_UPGRADE, "wrong Sec-WebSocket-Accept: %.28s, expected %s", a, c->accept);
        return false;
    }
    return true;
}

/* Parses what the server sent; returns the bytes consumed (the rest is an incomplete frame or
 * response head). May end the connection: callers check for CS_DONE. */
static size_t conn_consume(bl_worker_t *w, bl_conn_t *c, char *p, size_t len)
{
    size_t off = 0;
    if (c->state == CS_UPGRADING) {
        char *e = memmem(p, len, "\r\n\r\n", 4);
        if (e == NULL) {
            if (len > BL_HDR_MAX) {
                say_once(w, SAY_UPGRADE, "upgrade answer head over %d bytes", BL_HDR_MAX);
                conn_end(w, c, END_PROTO);
            }
            return 0;
        }
        off = (size_t)(e + 4 - p);
        if (off > BL_HDR_MAX || !upgrade_ok(w, c, p, off)) {
            conn_end(w, c, END_REFUSED);
            return len;
        }
        if (O.handshake[0]) {
            c->state = CS_HANDSHAKING;
            conn_send_frame(w, c, 0x1, O.handshake, strlen(O.handshake));
        } else {
            conn_opened(w, c);
        }
        if (c->state == CS_DONE) return len;
    }
    while (len - off >= 2) {
        uint8_t *f = (uint8_t *)p + off;
        size_t avail = len - off, hl = 2;
        uint64_t plen = f[1] & 0x7f;
        if (plen == 126) {
            if (avail < 4) break;
            plen = (uint64_t)f[2] << 8 | f[3];
            hl = 4;
        } else if (plen == 127) {
            if (avail < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | f[2 + i];
            hl = 10;
        }
        bool masked = (f[1] & 0x80) != 0;
        if (masked) hl += 4;
        if (plen > BL_MAX_MSG) {
            say_once(w, SAY_PROTO, "protocol: frame of %" PRIu64 " bytes", plen);
            conn_end(w, c, END_PROTO);
            return len;
        }
        if (avail < hl + plen) break;
        char *pl = (char *)f + hl;
        if (masked) /* servers must not mask, but unmasking costs nothing */
            for (uint64_t i = 0; i < plen; i++)
                pl[i] ^= (char)f[hl - 4 + (i & 3)];
        off += hl + (size_t)plen;
        conn_frame(w, c, f[0], pl, (size_t)plen);
        if (c->state == CS_DONE) return len;
    }
    return off;
}

static void conn_readable(bl_worker_t *w, bl_conn_t *c)
{
    /* A few reads per wakeup at most, so one busy socket cannot starve the others. */
    for (int round = 0; round < 4; round++) {
        char *base;
        size_t have, room;
        if (c->in.len) {
            buf_reserve(&c->in, (size_t)c->in.len + 65536);
            base = c->in.p;
            have = c->in.len;
            room = c->in.cap - have;
        } else {
            base = w->rd;
            have = 0;
            room = BL_RDBUF;
        }
        ssize_t n = read(c->fd, base + have, room);
        if (n == 0) {
            if (c->state == CS_OPEN && !stopping())
                say_once(w, SAY_LOST,
                         "server closed a stream's TCP connection without a close frame");
            conn_end(w, c, END_IO);
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                if (!stopping()) say_once(w, SAY_LOST, "read: %s", strerror(errno));
                conn_end(w, c, END_IO);
            }
            return;
        }
        w->now_ns = rt_ns();
        CTR_ADD(w->st->bytes_in, (uint64_t)n);
        size_t total = have + (size_t)n;
        size_t used = conn_consume(w, c, base, total);
        if (c->state == CS_DONE) return;
        size_t rest = total - used;
        if (base == c->in.p) {
            memmove(c->in.p, c->in.p + used, rest);
            c->in.len = (uint32_t)rest;
            if (rest == 0) buf_free(&c->in);
        } else if (rest) {
            buf_append(&c->in, base + used, rest);
        }
        if ((size_t)n < room) return;
    }
}

static void conn_start(bl_worker_t *w, bl_conn_t *c)
{
    c->state = CS_CONNECTING;
    c->fd = -1;
    c->next_seq = -1;
    c->deadline_ms = mono_ms() + (int64_t)(O.hs_timeout * 1000);
    w->pending++;
    CTR_INC(w->st->attempted);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        say_once(w, SAY_SOCKET, "socket: %s", strerror(errno));
        if (errno == EMFILE || errno == ENFILE) w->no_more_starts = true;
        conn_end(w, c, END_IO);
        return;
    }
    c->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Defer the port choice to connect(), so each source address reaches the whole ephemeral
     * range per destination instead of sharing it across destinations. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(0x7f000001u + c->idx % (uint32_t)O.k)};
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        say_once(w, SAY_SOCKET, "bind 127.0.0.%u: %s", 1 + c->idx % (uint32_t)O.k, strerror(errno));
        conn_end(w, c, END_IO);
        return;
    }
    /* With --targets, subscribers are spread round-robin over the nodes' ports. */
    uint16_t port = O.nports ? O.ports[c->idx % (uint32_t)O.nports] : O.port;
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, O.host, &dst.sin_addr);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        say_once(w, SAY_CONNECT, "connect: %s%s", strerror(errno),
                 errno == EADDRNOTAVAIL ? " (source ports exhausted: raise -k)" : "");
        conn_end(w, c, END_IO);
        return;
    }
    c->epout = 1;
    conn_epoll(w, c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void conn_connected(bl_worker_t *w, bl_conn_t *c)
{
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        say_once(w, SAY_CONNECT, "connect: %s", strerror(err));
        conn_end(w, c, END_IO);
        return;
    }
    c->state = CS_UPGRADING;
    c->epout = 0;
    conn_epoll(w, c, EPOLLIN, EPOLL_CTL_MOD);

    unsigned char raw[16], key[25], digest[20];
    char cat[24 + 36];
    uint64_t r0 = rng64(), r1 = rng64();
    memcpy(raw, &r0, 8);
    memcpy(raw + 8, &r1, 8);
    EVP_EncodeBlock(key, raw, 16);
    memcpy(cat, key, 24);
    memcpy(cat + 24, BL_WS_GUID, 36);
    if (!EVP_Digest(cat, sizeof cat, digest, NULL, w->sha1, NULL)) die("SHA-1 failed");
    EVP_EncodeBlock((unsigned char *)c->accept, digest, 20);

    char req[4096];
    if (w->upgrade_len + 24 + 4 > sizeof req) die("upgrade request too long");
    memcpy(req, w->upgrade, w->upgrade_len);
    memcpy(req + w->upgrade_len, key, 24);
    memcpy(req + w->upgrade_len + 24, "\r\n\r\n", 4);
    conn_write(w, c, req, w->upgrade_len + 28);
}

static void worker_event(bl_worker_t *w, uint32_t i, uint32_t events)
{
    bl_conn_t *c = &w->conns[i];
    if (c->state == CS_DONE || c->state == CS_IDLE) return;
    if (c->state == CS_CONNECTING) {
        conn_connected(w, c);
        return;
    }
    if ((events & EPOLLOUT) && c->epout) conn_flush(w, c);
    if (c->state != CS_DONE && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) conn_readable(w, c);
}

static void worker_sweep(bl_worker_t *w, int64_t now)
{
    for (uint32_t i = 0; i < w->next; i++) {
        bl_conn_t *c = &w->conns[i];
        if (c->state >= CS_CONNECTING && c->state < CS_OPEN && now >= c->deadline_ms) {
            say_once(w, SAY_TIMEOUT, "no ack within %.1f s (state %d)", O.hs_timeout, c->state);
            conn_end(w, c, END_TIMEOUT);
        }
    }
}

static void build_upgrade(bl_worker_t *w)
{
    bl_buf_t b = {0};
    char line[2048];
    int n = snprintf(line, sizeof line,
                     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
                     O.path, O.host, O.port);
    buf_append(&b, line, (size_t)n);
    if (O.token) {
        buf_append(&b, "Authorization: Bearer ", 22);
        buf_append(&b, O.token, strlen(O.token));
        buf_append(&b, "\r\n", 2);
    }
    for (int i = 0; i < O.nheaders; i++) {
        buf_append(&b, O.headers[i], strlen(O.headers[i]));
        buf_append(&b, "\r\n", 2);
    }
    buf_append(&b, "Sec-WebSocket-Key: ", 19);
    w->upgrade = b.p;
    w->upgrade_len = b.len;
}

static void worker_main(int id)
{
    bl_worker_t wk = {.id = id}, *w = &wk;
    signal(SIGINT, SIG_IGN); /* the parent coordinates the stop */
    signal(SIGTERM, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    rng_seed();
    w->st = &S->w[id];
    w->hist = HIST + (size_t)id * HIST_N;
    w->n = (uint32_t)(O.n / NPROCS + (id < O.n % NPROCS));
    w->conns = calloc(w->n ? w->n : 1, sizeof *w->conns);
    w->rd = malloc(BL_RDBUF);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (!w->conns || !w->rd || w->ep < 0 || !w->sha1) die("worker %d: setup failed", id);
    for (uint32_t i = 0; i < w->n; i++) {
        w->conns[i].fd = -1;
        w->conns[i].idx = (uint32_t)id + i * (uint32_t)NPROCS;
    }
    w->pending_max = (uint32_t)(O.connects / NPROCS > 0 ? O.connects / NPROCS : 1);
    build_upgrade(w);

    struct epoll_event evs[512];
    int64_t deadline = mono_ms() + (int64_t)(O.connect_timeout * 1000), last_sweep = 0;
    bool ready = false;
    pid_t parent = getppid();
    while (!stopping()) {
        int64_t now = mono_ms();
        if (!ready) {
            while (w->pending < w->pending_max && w->next < w->n && !w->no_more_starts &&
                   now < deadline)
                conn_start(w, &w->conns[w->next++]);
            if (now - last_sweep >= 100) {
                worker_sweep(w, now);
                last_sweep = now;
            }
            if (now >= deadline && w->pending) {
                say_once(w, SAY_TIMEOUT, "connect phase over (%.0f s): dropping %u pending",
                         O.connect_timeout, w->pending);
                for (uint32_t i = 0; i < w->next; i++)
                    if (w->conns[i].state < CS_OPEN) conn_end(w, &w->conns[i], END_TIMEOUT);
            }
            if (w->pending == 0 && (w->next == w->n || w->no_more_starts || now >= deadline)) {
                ready = true;
                atomic_store(&w->st->ready, 1);
            }
        }
        int n = epoll_wait(w->ep, evs, 512, ready ? 50 : 10);
        for (int i = 0; i < n; i++)
            worker_event(w, evs[i].data.u32, evs[i].events);
        if (getppid() != parent) break;
    }
    for (uint32_t i = 0; i < w->next; i++)
        conn_end(w, &w->conns[i], END_STOP);
    _exit(0);
}

/* ---------------------------------------------------------------------------------------------
 * Parent: the HTTP publisher
 * ------------------------------------------------------------------------------------------- */

enum { PS_CLOSED, PS_CONNECTING, PS_IDLE, PS_BUSY };

typedef struct bl_pub {
    int fd, state;
    uint32_t seq; /* event of the request in flight */
    bool warm;
    int64_t sent_ms, retry_ms;
    bl_buf_t out;
    uint32_t out_off;
    char in[BL_PUB_IN];
    size_t in_len;
} bl_pub_t;

static struct {
    bl_pub_t *pubs;
    int ep, tfd, rr;
    uint32_t next_seq;
    uint64_t ticks, published, pub_ok, pub_errs, skipped, expected_total, warm_sent;
    int64_t first_pub_ns;
    bool capacity_said, said_status, said_closed, said_timeout, said_connect;
    char *head; /* request head up to "Content-Length: " */
    size_t head_len;
    const char *body_pre, *body_post; /* the body template around {PAYLOAD} */
    size_t pre_len, post_len;
    volatile sig_atomic_t stop;
} G;

static void pub_close(bl_pub_t *pc)
{
    if (pc->fd >= 0) close(pc->fd);
    pc->fd = -1;
    pc->state = PS_CLOSED;
    pc->in_len = 0;
    buf_free(&pc->out);
    pc->out_off = 0;
    pc->retry_ms = mono_ms() + 100;
}

/* The request in flight failed: the event stays expected (it shows up as loss) but is done. */
static void pub_failed(bl_pub_t *pc)
{
    if (pc->state != PS_BUSY) return;
    atomic_fetch_or(&EV[pc->seq].flags, EV_FAILED);
    if (!pc->warm) G.pub_errs++;
}

static void pub_connect(bl_pub_t *pc)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        pc->retry_ms = mono_ms() + 100;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(O.pub_port)};
    inet_pton(AF_INET, O.pub_host, &dst.sin_addr);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        if (!G.said_connect) fprintf(stderr, "bh_load: publisher connect: %s\n", strerror(errno));
        G.said_connect = true;
        close(fd);
        pc->retry_ms = mono_ms() + 100;
        return;
    }
    pc->fd = fd;
    pc->state = PS_CONNECTING;
    pc->sent_ms = mono_ms();
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)(pc - G.pubs)};
    epoll_ctl(G.ep, EPOLL_CTL_ADD, fd, &ev);
}

static void pub_flush(bl_pub_t *pc)
{
    while (pc->out_off < pc->out.len) {
        ssize_t k = send(pc->fd, pc->out.p + pc->out_off, pc->out.len - pc->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            pub_failed(pc);
            pub_close(pc);
            return;
        }
        pc->out_off += (uint32_t)k;
    }
    struct epoll_event ev = {.events = EPOLLIN | (pc->out_off < pc->out.len ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)(pc - G.pubs)};
    epoll_ctl(G.ep, EPOLL_CTL_MOD, pc->fd, &ev);
}

static bl_pub_t *pub_idle(void)
{
    for (int i = 0; i < O.pub_conns; i++) {
        bl_pub_t *pc = &G.pubs[(G.rr + i) % O.pub_conns];
        if (pc->state == PS_IDLE) {
            G.rr = (G.rr + i + 1) % O.pub_conns;
            return pc;
        }
    }
    return NULL;
}

/* Publishes one event on an idle connection; returns its seq, or 0 when the event table is full.
 * expected is fixed here: the subscribers open now. */
static uint32_t pub_event(bl_pub_t *pc, bool warm)
{
    if (G.next_seq >= EV_CAP) {
        if (!G.capacity_said)
            fprintf(stderr, "bh_load: event table full (%u): publishing stops\n", EV_CAP);
        G.capacity_said = true;
        return 0;
    }
    uint32_t seq = G.next_seq++;
    uint32_t expect = (uint32_t)open_now();
    bl_event_t *e = &EV[seq];
    atomic_store_explicit(&e->expected, expect, memory_order_relaxed);
    atomic_store_explicit(&e->flags, EV_PUBLISHED | (warm ? EV_WARM : 0), memory_order_release);

    char payload_head[64];
    int64_t ts = rt_ns();
    int ph = snprintf(payload_head, sizeof payload_head, "ts=%" PRId64 " seq=%u ", ts, seq);
    size_t plen = (size_t)O.size > (size_t)ph ? (size_t)O.size : (size_t)ph;
    size_t body_len = G.pre_len + plen + G.post_len;
    char cl[32];
    int cll = snprintf(cl, sizeof cl, "%zu\r\n\r\n", body_len);

    pc->out.len = 0;
    pc->out_off = 0;
    buf_reserve(&pc->out, G.head_len + (size_t)cll + body_len);
    buf_append(&pc->out, G.head, G.head_len);
    buf_append(&pc->out, cl, (size_t)cll);
    buf_append(&pc->out, G.body_pre, G.pre_len);
    buf_append(&pc->out, payload_head, (size_t)ph);
    buf_reserve(&pc->out, pc->out.len + plen - (size_t)ph);
    memset(pc->out.p + pc->out.len, 'x', plen - (size_t)ph);
    pc->out.len += (uint32_t)(plen - (size_t)ph);
    buf_append(&pc->out, G.body_post, G.post_len);

    pc->state = PS_BUSY;
    pc->seq = seq;
    pc->warm = warm;
    pc->sent_ms = mono_ms();
    if (warm) {
        G.warm_sent++;
    } else {
        G.published++;
        G.expected_total += expect;
        if (G.first_pub_ns == 0) G.first_pub_ns = ts;
    }
    pub_flush(pc);
    return seq;
}

/* Reads answers: any 2xx is a success. Only Content-Length bodies are understood. */
static void pub_readable(bl_pub_t *pc)
{
    ssize_t n = read(pc->fd, pc->in + pc->in_len, sizeof pc->in - pc->in_len - 1);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (pc->state == PS_BUSY && !G.said_closed)
            fprintf(stderr,
                    "bh_load: server closed a publish connection with a request in flight\n");
        if (pc->state == PS_BUSY) G.said_closed = true;
        pub_failed(pc);
        pub_close(pc);
        return;
    }
    pc->in_len += (size_t)n;
    pc->in[pc->in_len] = 0;
    char *e = strstr(pc->in, "\r\n\r\n");
    if (e == NULL) {
        if (pc->in_len >= BL_HDR_MAX) {
            pub_failed(pc);
            pub_close(pc);
        }
        return;
    }
    size_t hl = (size_t)(e + 4 - pc->in);
    *e = 0;
    int status = 0;
    sscanf(pc->in, "HTTP/1.%*d %d", &status);
    char *cl = strcasestr(pc->in, "\r\ncontent-length:");
    bool chunked = strcasestr(pc->in, "\r\ntransfer-encoding:") != NULL;
    bool close_after = strcasestr(pc->in, "\r\nconnection: close") != NULL;
    size_t clen = cl ? strtoul(cl + 17, NULL, 10) : 0;
    *e = '\r';
    if (chunked || hl + clen >= sizeof pc->in) {
        fprintf(stderr, "bh_load: publish answer not understood (chunked or too long)\n");
        pub_failed(pc);
        pub_close(pc);
        return;
    }
    if (pc->in_len < hl + clen) return;
    if (pc->state != PS_BUSY) {
        pub_close(pc);
        return;
    }
    if (status >= 200 && status < 300) {
        if (!pc->warm) G.pub_ok++;
    } else {
        if (!G.said_status) {
            char *eol = strstr(pc->in, "\r\n");
            fprintf(stderr, "bh_load: publish answered %.*s: %.*s\n", (int)(eol - pc->in), pc->in,
                    (int)(clen > 200 ? 200 : clen), pc->in + hl);
        }
        G.said_status = true;
        pub_failed(pc);
    }
    pc->state = PS_IDLE;
    memmove(pc->in, pc->in + hl + clen, pc->in_len - hl - clen);
    pc->in_len -= hl + clen;
    if (close_after) pub_close(pc);
}

/* One round of the parent's loop: publisher I/O, timer ticks, wake-ups, timeouts, reconnects. */
static void parent_poll(int timeout_ms)
{
    if (G.pubs == NULL) { /* hold mode: no publisher, just wait */
        usleep((useconds_t)timeout_ms * 1000);
        return;
    }
    struct epoll_event evs[64];
    int n = epoll_wait(G.ep, evs, 64, timeout_ms);
    for (int i = 0; i < n; i++) {
        uint32_t id = evs[i].data.u32;
        if (id == (uint32_t)O.pub_conns) {
            uint64_t k;
            if (read(G.tfd, &k, sizeof k) == sizeof k) G.ticks += k;
            continue;
        }
        if (id == (uint32_t)O.pub_conns + 1) {
            uint64_t k;
            if (read(EFD, &k, sizeof k) < 0) {
            }
            continue;
        }
        bl_pub_t *pc = &G.pubs[id];
        if (pc->fd < 0) continue;
        if (pc->state == PS_CONNECTING) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(pc->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) {
                if (!G.said_connect)
                    fprintf(stderr, "bh_load: publisher connect: %s\n", strerror(err));
                G.said_connect = true;
                pub_close(pc);
                continue;
            }
            pc->state = PS_IDLE;
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = id};
            epoll_ctl(G.ep, EPOLL_CTL_MOD, pc->fd, &ev);
            continue;
        }
        if (evs[i].events & EPOLLOUT) pub_flush(pc);
        if (pc->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) pub_readable(pc);
    }
    int64_t now = mono_ms();
    for (int i = 0; i < O.pub_conns; i++) {
        bl_pub_t *pc = &G.pubs[i];
        if ((pc->state == PS_BUSY || pc->state == PS_CONNECTING) &&
            now - pc->sent_ms > BL_PUB_TIMEOUT_MS) {
            if (!G.said_timeout)
                fprintf(stderr, "bh_load: a publish %s took over %d ms\n",
                        pc->state == PS_BUSY ? "request" : "connect", BL_PUB_TIMEOUT_MS);
            G.said_timeout = true;
            pub_failed(pc);
            pub_close(pc);
        }
        if (pc->state == PS_CLOSED && now >= pc->retry_ms) pub_connect(pc);
    }
}

static int pubs_in_state(int state)
{
    int n = 0;
    for (int i = 0; i < O.pub_conns; i++)
        n += G.pubs[i].state == state;
    return n;
}

static bool event_done(uint32_t seq)
{
    bl_event_t *e = &EV[seq];
    return (atomic_load(&e->flags) & EV_FAILED) ||
           atomic_load(&e->received) >= atomic_load(&e->expected);
}

static void parent_sleep(double s)
{
    int64_t end = mono_ms() + (int64_t)(s * 1000);
    while (!G.stop && mono_ms() < end)
        parent_poll(10);
}

/* ---------------------------------------------------------------------------------------------
 * Parent: setup, phases, report
 * ------------------------------------------------------------------------------------------- */

static void on_stop_signal(int sig)
{
    (void)sig;
    G.stop = 1;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bh_load: watchdog: run exceeded its time budget, killing workers\n";
    for (int i = 0; i < NPROCS; i++)
        if (WPID[i] > 0) kill(WPID[i], SIGKILL);
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(3);
}

static void stop_workers(void)
{
    atomic_store(&S->phase, PHASE_STOP);
    int64_t end = mono_ms() + 5000;
    int left = NPROCS;
    while (left > 0 && mono_ms() < end) {
        for (int i = 0; i < NPROCS; i++)
            if (WPID[i] > 0 && waitpid(WPID[i], NULL, WNOHANG) == WPID[i]) {
                WPID[i] = 0;
                left--;
            }
        if (left) usleep(10000);
    }
    for (int i = 0; i < NPROCS; i++)
        if (WPID[i] > 0) {
            kill(WPID[i], SIGKILL);
            waitpid(WPID[i], NULL, 0);
            WPID[i] = 0;
        }
}

static bool parse_hostport(const char *s, char *host, size_t hsz, uint16_t *port, char *path,
                           size_t psz)
{
    const char *colon = strchr(s, ':'), *slash = strchr(s, '/');
    if (colon == NULL || (slash && slash < colon) || (size_t)(colon - s) >= hsz) return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1) return false;
    long p = strtol(colon + 1, NULL, 10);
    if (p <= 0 || p > 65535) return false;
    *port = (uint16_t)p;
    snprintf(path, psz, "%s", slash ? slash : "/");
    return true;
}

static void usage(FILE *f)
{
    fputs(
        "usage: bh_load [options] ws://127.0.0.1:PORT/v2/realtime/stream\n"
        "Subscribers:\n"
        "  -n, --conns N            WebSocket subscribers (100)\n"
        "  -k, --sources K          source addresses 127.0.0.1..127.0.0.K (1 + N/10000)\n"
        "  -j, --procs P            worker processes (as many as the descriptor limit needs)\n"
        "  -c, --connects C         connects/handshakes in flight (256)\n"
        "  -t, --token JWT          Authorization: Bearer JWT on the upgrade\n"
        "  -H, --header 'N: v'      extra upgrade header (repeatable)\n"
        "      --service NAME       service subscribed and published to (finance)\n"
        "      --handshake JSON     first message (default "
        "{\"services\":[SERVICE],\"version\":1});\n"
        "                           '' = none, the stream is open at the upgrade\n"
        "      --no-seq-check       do not check the per-connection message \"seq\"\n"
        "Run:\n"
        "  -m, --mode hold|fanout   hold: connect, hold, measure RSS; fanout: publish (hold)\n"
        "  -T, --duration S         hold time or publishing time (5)\n"
        "  -r, --rate R             events/s offered; 0 = closed loop (20)\n"
        "  -W, --window W           closed loop: events in flight (16)\n"
        "  -e, --event-timeout S    closed loop: an event is done after this long (1)\n"
        "  -s, --size B             payload bytes: 'ts=<ns> seq=<n> ' padded with x (200)\n"
        "Publisher:\n"
        "  -S, --pub-token JWT      Authorization: Bearer JWT on publish requests\n"
        "  -M, --pub-conns M        keep-alive publish connections, one request each (4)\n"
        "      --pub URL            http://HOST:PORT/PATH (same host:port, /v2/realtime/publish)\n"
        "      --targets P1,P2,...  spread subscribers round-robin over these ports of the URL's\n"
        "                           host (several nodes; the URL's own port is then unused)\n"
        "      --pub-body TEMPLATE  body; {PAYLOAD} is replaced (bellhop event JSON)\n"
        "      --pub-header 'N: v'  extra publish header (repeatable)\n"
        "      --org ID             orgId in the default body (1)\n"
        "Limits and measurement:\n"
        "      --connect-timeout S  connect phase cap (30)   --hs-timeout S  per connection (10)\n"
        "      --settle S (0.5)  --warmup S (5)  --drain S (5)\n"
        "  -p, --server-pid PID     for RSS and CPU\n"
        "      --label S  -q, --quiet  -h, --help\n"
        "Prints human-readable lines and a final `RESULT key=value ...` line.\n",
        f);
}

static void parse_args(int argc, char **argv)
{
    enum {
        O_SERVICE = 256,
        O_HANDSHAKE,
        O_PUB,
        O_PUB_BODY,
        O_PUB_HEADER,
        O_ORG,
        O_CT,
        O_HT,
        O_SETTLE,
        O_WARMUP,
        O_DRAIN,
        O_LABEL,
        O_NOSEQ,
        O_TARGETS
    };
    static const struct option lo[] = {{"conns", 1, 0, 'n'},
                                       {"sources", 1, 0, 'k'},
                                       {"procs", 1, 0, 'j'},
                                       {"connects", 1, 0, 'c'},
                                       {"token", 1, 0, 't'},
                                       {"header", 1, 0, 'H'},
                                       {"mode", 1, 0, 'm'},
                                       {"duration", 1, 0, 'T'},
                                       {"rate", 1, 0, 'r'},
                                       {"window", 1, 0, 'W'},
                                       {"event-timeout", 1, 0, 'e'},
                                       {"size", 1, 0, 's'},
                                       {"pub-token", 1, 0, 'S'},
                                       {"pub-conns", 1, 0, 'M'},
                                       {"server-pid", 1, 0, 'p'},
                                       {"quiet", 0, 0, 'q'},
                                       {"help", 0, 0, 'h'},
                                       {"service", 1, 0, O_SERVICE},
                                       {"handshake", 1, 0, O_HANDSHAKE},
                                       {"pub", 1, 0, O_PUB},
                                       {"pub-body", 1, 0, O_PUB_BODY},
                                       {"pub-header", 1, 0, O_PUB_HEADER},
                                       {"org", 1, 0, O_ORG},
                                       {"connect-timeout", 1, 0, O_CT},
                                       {"hs-timeout", 1, 0, O_HT},
                                       {"settle", 1, 0, O_SETTLE},
                                       {"warmup", 1, 0, O_WARMUP},
                                       {"drain", 1, 0, O_DRAIN},
                                       {"label", 1, 0, O_LABEL},
                                       {"no-seq-check", 0, 0, O_NOSEQ},
                                       {"targets", 1, 0, O_TARGETS},
                                       {0, 0, 0, 0}};
    const char *pub = NULL;
    bool noseq = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "n:k:j:c:t:H:m:T:r:W:e:s:S:M:p:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            O.n = atoi(optarg);
            break;
        case 'k':
            O.k = atoi(optarg);
            break;
        case 'j':
            O.procs = atoi(optarg);
            break;
        case 'c':
            O.connects = atoi(optarg);
            break;
        case 't':
            O.token = optarg;
            break;
        case 'H':
            if (O.nheaders == BL_MAX_HEADERS) die("too many -H");
            O.headers[O.nheaders++] = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "hold") == 0)
                O.mode = MODE_HOLD;
            else if (strcmp(optarg, "fanout") == 0)
                O.mode = MODE_FANOUT;
            else {
                usage(stderr);
                exit(2);
            }
            break;
        case 'T':
            O.duration = atof(optarg);
            break;
        case 'r':
            O.rate = atof(optarg);
            break;
        case 'W':
            O.window = atoi(optarg);
            break;
        case 'e':
            O.ev_timeout = atof(optarg);
            break;
        case 's':
            O.size = atoi(optarg);
            break;
        case 'S':
            O.pub_token = optarg;
            break;
        case 'M':
            O.pub_conns = atoi(optarg);
            break;
        case 'p':
            O.server_pid = (pid_t)atoi(optarg);
            break;
        case 'q':
            O.quiet = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case O_SERVICE:
            O.service = optarg;
            break;
        case O_HANDSHAKE:
            O.handshake = optarg;
            break;
        case O_PUB:
            pub = optarg;
            break;
        case O_PUB_BODY:
            O.pub_body = optarg;
            break;
        case O_PUB_HEADER:
            if (O.npub_headers == BL_MAX_HEADERS) die("too many --pub-header");
            O.pub_headers[O.npub_headers++] = optarg;
            break;
        case O_ORG:
            O.org = atol(optarg);
            break;
        case O_CT:
            O.connect_timeout = atof(optarg);
            break;
        case O_HT:
            O.hs_timeout = atof(optarg);
            break;
        case O_SETTLE:
            O.settle = atof(optarg);
            break;
        case O_WARMUP:
            O.warmup = atof(optarg);
            break;
        case O_DRAIN:
            O.drain = atof(optarg);
            break;
        case O_LABEL:
            O.label = optarg;
            break;
        case O_NOSEQ:
            noseq = true;
            break;
        case O_TARGETS: {
            char *save = NULL, *list = strdup(optarg);
            for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                long p = strtol(t, NULL, 10);
                if (p <= 0 || p > 65535 || O.nports == BL_MAX_TARGETS) {
                    fprintf(stderr, "bh_load: --targets wants up to %d ports, got %s\n",
                            BL_MAX_TARGETS, optarg);
                    exit(2);
                }
                O.ports[O.nports++] = (uint16_t)p;
            }
            free(list);
            break;
        }
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        exit(2);
    }
    const char *url = argv[optind];
    if (strncmp(url, "ws://", 5) != 0 ||
        !parse_hostport(url + 5, O.host, sizeof O.host, &O.port, O.path, sizeof O.path)) {
        fprintf(stderr, "bh_load: the URL must be ws://IPv4:PORT/PATH, got %s\n", url);
        exit(2);
    }
    if (pub) {
        if (strncmp(pub, "http://", 7) != 0 ||
            !parse_hostport(pub + 7, O.pub_host, sizeof O.pub_host, &O.pub_port, O.pub_path,
                            sizeof O.pub_path)) {
            fprintf(stderr, "bh_load: --pub must be http://IPv4:PORT/PATH, got %s\n", pub);
            exit(2);
        }
    } else {
        snprintf(O.pub_host, sizeof O.pub_host, "%s", O.host);
        O.pub_port = O.port;
        snprintf(O.pub_path, sizeof O.pub_path, "/v2/realtime/publish");
    }
    if (O.n < 1 || O.connects < 1 || O.duration < 0 || O.rate < 0 || O.window < 1 ||
        O.pub_conns < 1 || O.pub_conns > 256 || O.size < 0 || O.size > (1 << 20) || O.k < 0 ||
        O.k > 254 || O.procs < 0 || O.procs > BL_MAX_PROCS) {
        fprintf(stderr, "bh_load: an option is out of range\n");
        exit(2);
    }
    if (O.k == 0) O.k = 1 + O.n / 10000;
    if (O.k > 254) O.k = 254;
    if (O.handshake == NULL) {
        static char hs[512];
        snprintf(hs, sizeof hs, "{\"services\":[\"%s\"],\"version\":1}", O.service);
        O.handshake = hs;
    }
    O.check_seq = !noseq && O.handshake[0] != 0;
}

static void setup_publisher(void)
{
    static char defbody[512];
    const char *tpl = O.pub_body;
    if (tpl == NULL) {
        snprintf(defbody, sizeof defbody,
                 "{\"orgId\":%ld,\"service\":\"%s\",\"type\":\"bench\",\"data\":{\"note\":\"{"
                 "PAYLOAD}\"}}",
                 O.org, O.service);
        tpl = defbody;
    }
    const char *ph = strstr(tpl, "{PAYLOAD}");
    if (ph == NULL) die("--pub-body needs {PAYLOAD}");
    G.body_pre = tpl;
    G.pre_len = (size_t)(ph - tpl);
    G.body_post = ph + 9;
    G.post_len = strlen(G.body_post);

    bl_buf_t b = {0};
    char line[1200];
    int n = snprintf(line, sizeof line, "POST %s HTTP/1.1\r\nHost: %s:%u\r\n", O.pub_path,
                     O.pub_host, O.pub_port);
    buf_append(&b, line, (size_t)n);
    if (O.pub_token) {
        buf_append(&b, "Authorization: Bearer ", 22);
        buf_append(&b, O.pub_token, strlen(O.pub_token));
        buf_append(&b, "\r\n", 2);
    }
    bool has_ct = false;
    for (int i = 0; i < O.npub_headers; i++) {
        has_ct |= strncasecmp(O.pub_headers[i], "content-type:", 13) == 0;
        buf_append(&b, O.pub_headers[i], strlen(O.pub_headers[i]));
        buf_append(&b, "\r\n", 2);
    }
    if (!has_ct) buf_append(&b, "Content-Type: application/json\r\n", 32);
    buf_append(&b, "Content-Length: ", 16);
    G.head = b.p;
    G.head_len = b.len;

    G.pubs = calloc((size_t)O.pub_conns, sizeof *G.pubs);
    G.ep = epoll_create1(EPOLL_CLOEXEC);
    G.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (G.pubs == NULL || G.ep < 0 || G.tfd < 0) die("publisher setup failed");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)O.pub_conns};
    epoll_ctl(G.ep, EPOLL_CTL_ADD, G.tfd, &ev);
    ev.data.u32 = (uint32_t)O.pub_conns + 1;
    epoll_ctl(G.ep, EPOLL_CTL_ADD, EFD, &ev);
    G.next_seq = 1;
    for (int i = 0; i < O.pub_conns; i++) {
        G.pubs[i].fd = -1;
        pub_connect(&G.pubs[i]);
    }
}

static const char *fmt_ms(char *buf, size_t n, double us)
{
    if (us < 0)
        snprintf(buf, n, "na");
    else if (us >= 100000)
        snprintf(buf, n, "%.0f", us / 1000);
    else if (us >= 10000)
        snprintf(buf, n, "%.1f", us / 1000);
    else
        snprintf(buf, n, "%.2f", us / 1000);
    return buf;
}

typedef struct bl_cpu {
    long long server, self, workers;
    unsigned long long mbusy, mtotal;
    int64_t ms;
} bl_cpu_t;

static void cpu_snap(bl_cpu_t *c)
{
    c->server = O.server_pid ? proc_cpu_ticks(O.server_pid) : -1;
    c->self = proc_cpu_ticks(getpid());
    c->workers = 0;
    for (int i = 0; i < NPROCS; i++)
        if (WPID[i] > 0) {
            long long t = proc_cpu_ticks(WPID[i]);
            c->workers += t > 0 ? t : 0;
        }
    machine_cpu(&c->mbusy, &c->mtotal);
    c->ms = mono_ms();
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    rng_seed();

    /* Descriptors: raise the soft limit to the hard one, then size the worker pool to it. */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    long per_proc = (long)rl.rlim_cur - 64;
    if (per_proc < 16) die("RLIMIT_NOFILE is %ld: too low", (long)rl.rlim_cur);
    NPROCS = O.procs ? O.procs : (int)((O.n + per_proc - 1) / per_proc);
    if (NPROCS > BL_MAX_PROCS)
        die("%d connections need %d processes (max %d)", O.n, NPROCS, BL_MAX_PROCS);
    if ((O.n + NPROCS - 1) / NPROCS > per_proc)
        die("%d connections in %d processes exceed RLIMIT_NOFILE %ld", O.n, NPROCS,
            (long)rl.rlim_cur);

    /* The event table: one slot per event the run can publish (closed loop: a generous cap;
     * untouched pages cost nothing). */
    double cap = O.mode == MODE_HOLD ? 16
                 : O.rate > 0        ? O.rate * (O.duration + 1) + 1024
                                     : 100000.0 * (O.duration + 1) + 1024;
    if (cap > 50e6) cap = 50e6;
    EV_CAP = (uint32_t)cap;
    size_t shsz = (sizeof(bl_shared_t) + 4095) & ~(size_t)4095;
    size_t hsz = ((size_t)NPROCS * HIST_N * sizeof(uint64_t) + 4095) & ~(size_t)4095;
    size_t esz = (size_t)EV_CAP * sizeof(bl_event_t);
    char *m = mmap(NULL, shsz + hsz + esz, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) die("mmap: %s", strerror(errno));
    S = (bl_shared_t *)m;
    HIST = (uint64_t *)(m + shsz);
    EV = (bl_event_t *)(m + shsz + hsz);
    EFD = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (EFD < 0) die("eventfd: %s", strerror(errno));

    if (O.server_pid && kill(O.server_pid, 0) != 0)
        die("server pid %d: %s", (int)O.server_pid, strerror(errno));
    long rss0 = O.server_pid ? proc_rss_kib(O.server_pid) : -1;
    if (!O.quiet)
        printf("bh_load %s: %d connections to ws://%s:%u%s, %d worker process%s, %d source "
               "address%s, nofile %ld\n",
               O.label, O.n, O.host, O.port, O.path, NPROCS, NPROCS > 1 ? "es" : "", O.k,
               O.k > 1 ? "es" : "", (long)rl.rlim_cur);

    /* The whole run is bounded: connect phase, settle, warm-up, publishing, drain, stop. */
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(O.connect_timeout + O.settle + O.warmup + O.duration + O.drain + 30));
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);

    int64_t t_conn = mono_ms();
    for (int i = 0; i < NPROCS; i++) {
        pid_t p = fork();
        if (p < 0) {
            for (int j = 0; j < i; j++)
                kill(WPID[j], SIGKILL);
            die("fork: %s", strerror(errno));
        }
        if (p == 0) worker_main(i);
        WPID[i] = p;
    }

    /* Connect phase: wait until every worker has settled each of its connections. */
    int64_t deadline = t_conn + (int64_t)(O.connect_timeout * 1000) + 3000, last_print = t_conn;
    bool all_ready = false, worker_died = false;
    while (!G.stop && !all_ready && mono_ms() < deadline) {
        usleep(10000);
        all_ready = true;
        for (int i = 0; i < NPROCS; i++) {
            all_ready &= atomic_load(&S->w[i].ready) != 0;
            if (waitpid(WPID[i], NULL, WNOHANG) == WPID[i]) {
                WPID[i] = 0;
                worker_died = true;
            }
        }
        if (worker_died) break;
        if (!O.quiet && mono_ms() - last_print >= 1000) {
            last_print = mono_ms();
            printf("  connecting: %" PRIu64 " open of %d\n", open_now(), O.n);
        }
    }
    double connect_s = (double)(mono_ms() - t_conn) / 1000;
    atomic_store(&S->phase, PHASE_RUN);
    uint64_t held = open_now();
    uint64_t f_conn = SUM_W(fail_connect), f_up = SUM_W(fail_upgrade), f_hs = SUM_W(fail_hs),
             f_to = SUM_W(fail_timeout);
    printf("connect: %" PRIu64 " of %d open in %.2f s; failed: tcp %" PRIu64 ", upgrade %" PRIu64
           ", handshake %" PRIu64 ", timeout %" PRIu64 "\n",
           held, O.n, connect_s, f_conn, f_up, f_hs, f_to);
    if (worker_died || held == 0) {
        fprintf(stderr, "bh_load: %s\n",
                worker_died ? "a worker process died" : "no subscriber connection opened");
        stop_workers();
        return 1;
    }

    long rss1 = O.server_pid ? proc_rss_kib(O.server_pid) : -1, rss_end = -1;
    bl_cpu_t c0 = {0}, c1 = {0};
    double pub_s = 0;
    uint64_t held_end = held;

    if (O.mode == MODE_HOLD) {
        cpu_snap(&c0);
        parent_sleep(O.duration);
        held_end = open_now();
        rss1 = O.server_pid ? proc_rss_kib(O.server_pid) : -1;
        cpu_snap(&c1);
    } else {
        setup_publisher();
        int64_t until = mono_ms() + 5000;
        while (!G.stop && pubs_in_state(PS_IDLE) < O.pub_conns && mono_ms() < until)
            parent_poll(10);
        if (pubs_in_state(PS_IDLE) == 0) {
            fprintf(stderr, "bh_load: cannot connect to the publish endpoint %s:%u\n", O.pub_host,
                    O.pub_port);
            stop_workers();
            return 1;
        }
        parent_sleep(O.settle);

        /* Warm-up: an event every 200 ms until one reaches every open subscriber. */
        int64_t wend = mono_ms() + (int64_t)(O.warmup * 1000), next = 0;
        bool warm = O.warmup <= 0;
        uint32_t wseq[64];
        int nw = 0;
        while (!G.stop && !warm && mono_ms() < wend) {
            if (mono_ms() >= next && nw < 64) {
                bl_pub_t *pc = pub_idle();
                uint32_t s = pc ? pub_event(pc, true) : 0;
                if (s) wseq[nw++] = s;
                next = mono_ms() + 200;
            }
            parent_poll(5);
            for (int i = 0; i < nw && !warm; i++)
                warm = atomic_load(&EV[wseq[i]].received) >= atomic_load(&EV[wseq[i]].expected) &&
                       !(atomic_load(&EV[wseq[i]].flags) & EV_FAILED);
        }
        if (!warm) {
            uint32_t got = 0;
            for (int i = 0; i < nw; i++)
                got += atomic_load(&EV[wseq[i]].received);
            fprintf(stderr,
                    "bh_load: warm-up: no event reached every subscriber within %.1f s "
                    "(%d published, %u deliveries)\n",
                    O.warmup, nw, got);
            if (got == 0 && O.warmup > 0) {
                fprintf(stderr, "bh_load: the publish -> subscriber path delivers nothing\n");
                stop_workers();
                return 1;
            }
        }
        /* Let warm-up requests finish so the measured phase starts with every connection idle. */
        until = mono_ms() + 2000;
        while (!G.stop && pubs_in_state(PS_BUSY) && mono_ms() < until)
            parent_poll(5);
        held = open_now();
        if (!O.quiet)
            printf("warm-up: %s after %" PRIu64 " event%s; %" PRIu64 " subscribers open\n",
                   warm ? "done" : "INCOMPLETE", G.warm_sent, G.warm_sent == 1 ? "" : "s", held);

        cpu_snap(&c0);
        int64_t t0 = mono_ms(), tend = t0 + (int64_t)(O.duration * 1000);
        if (O.rate > 0) {
            long long ns = (long long)(1e9 / O.rate);
            struct itimerspec its = {{ns / 1000000000, ns % 1000000000},
                                     {ns / 1000000000, ns % 1000000000}};
            timerfd_settime(G.tfd, 0, &its, NULL);
            G.ticks = 0;
            while (!G.stop && mono_ms() < tend) {
                parent_poll(5);
                for (; G.ticks > 0; G.ticks--) {
                    bl_pub_t *pc = pub_idle();
                    if (pc == NULL || pub_event(pc, false) == 0) G.skipped++;
                }
            }
            struct itimerspec off = {{0, 0}, {0, 0}};
            timerfd_settime(G.tfd, 0, &off, NULL);
        } else {
            /* Closed loop: at most W events in flight; done = all got it, or failed, or old. */
            uint32_t *fl = calloc((size_t)O.window, sizeof *fl);
            int64_t *fl_ms = calloc((size_t)O.window, sizeof *fl_ms);
            if (!fl || !fl_ms) die("out of memory");
            int nf = 0;
            int64_t ev_to = (int64_t)(O.ev_timeout * 1000);
            while (!G.stop && mono_ms() < tend) {
                int64_t now = mono_ms();
                for (int i = 0; i < nf;)
                    if (event_done(fl[i]) || now - fl_ms[i] >= ev_to) {
                        fl[i] = fl[nf - 1];
                        fl_ms[i] = fl_ms[--nf];
                    } else {
                        i++;
                    }
                bl_pub_t *pc;
                while (nf < O.window && (pc = pub_idle()) != NULL) {
                    uint32_t s = pub_event(pc, false);
                    if (s == 0) break;
                    fl[nf] = s;
                    fl_ms[nf++] = now;
                }
                parent_poll(nf < O.window && pub_idle() ? 0 : 2);
            }
            free(fl);
            free(fl_ms);
        }
        pub_s = (double)(mono_ms() - t0) / 1000;

        /* Drain: answers outstanding and deliveries still on their way, bounded by --drain. */
        int64_t dend = mono_ms() + (int64_t)(O.drain * 1000);
        while (!G.stop && mono_ms() < dend) {
            uint64_t got = SUM_W(deliveries) - SUM_W(extra);
            if (pubs_in_state(PS_BUSY) == 0 && got >= G.expected_total) break;
            parent_poll(10);
        }
        cpu_snap(&c1);
        held_end = open_now();
        rss_end = O.server_pid ? proc_rss_kib(O.server_pid) : -1;
    }
    stop_workers();

    /* ---- report ---- */
    uint64_t deliveries = SUM_W(deliveries), extra = SUM_W(extra), foreign = SUM_W(foreign),
             seq_errs = SUM_W(seq_errs), frames = SUM_W(frames), closed = SUM_W(closed),
             pings = SUM_W(pings), lat_sum = SUM_W(lat_sum_us);
    uint64_t lat_max = 0;
    int64_t last_ns = 0;
    for (int i = 0; i < NPROCS; i++) {
        if (CTR_GET(S->w[i].lat_max_us) > lat_max) lat_max = CTR_GET(S->w[i].lat_max_us);
        if (CTR_GET(S->w[i].last_delivery_ns) > last_ns)
            last_ns = CTR_GET(S->w[i].last_delivery_ns);
    }
    uint64_t *h = calloc(HIST_N, sizeof *h);
    if (h == NULL) die("out of memory");
    for (int i = 0; i < NPROCS; i++)
        for (unsigned j = 0; j < HIST_N; j++)
            h[j] += HIST[(size_t)i * HIST_N + j];
    uint64_t good = deliveries - extra;
    uint64_t loss = G.expected_total > good ? G.expected_total - good : 0;
    double loss_pct = G.expected_total ? 100.0 * (double)loss / (double)G.expected_total : 0;
    double span = O.duration;
    if (G.first_pub_ns && last_ns > G.first_pub_ns &&
        (double)(last_ns - G.first_pub_ns) / 1e9 > span)
        span = (double)(last_ns - G.first_pub_ns) / 1e9;
    double dps = span > 0 ? (double)deliveries / span : 0;
    double pub_rate = pub_s > 0 ? (double)G.published / pub_s : 0;

    double win_s = (double)(c1.ms - c0.ms) / 1000, hz = (double)sysconf(_SC_CLK_TCK);
    double srv_cpu = -1, lg_cpu = -1, m_cpu = -1;
    if (win_s > 0) {
        if (c0.server >= 0 && c1.server >= 0)
            srv_cpu = 100.0 * (double)(c1.server - c0.server) / hz / win_s;
        lg_cpu = 100.0 * (double)((c1.self - c0.self) + (c1.workers - c0.workers)) / hz / win_s;
        if (c1.mtotal > c0.mtotal)
            m_cpu = 100.0 * (double)sysconf(_SC_NPROCESSORS_ONLN) * (double)(c1.mbusy - c0.mbusy) /
                    (double)(c1.mtotal - c0.mtotal);
    }
    /* Hold: RSS after the hold over the connections still open. Fan-out: RSS after the drain
     * over the subscribers (the peers' loadgen does the same), so it includes what the run
     * itself left allocated; the value right after connecting is printed too. */
    double rss_per = -1, rss_conn_per = -1;
    long rss_last = O.mode == MODE_HOLD ? rss1 : rss_end;
    uint64_t rss_held = O.mode == MODE_HOLD ? held_end : held;
    if (rss0 >= 0 && rss_last >= 0 && rss_held > 0)
        rss_per = (double)(rss_last - rss0) / (double)rss_held;
    if (rss0 >= 0 && rss1 >= 0 && held > 0) rss_conn_per = (double)(rss1 - rss0) / (double)held;

    char p50[32], p90[32], p99[32], p999[32], mx[32], mean[32];
    fmt_ms(p50, sizeof p50, hist_quantile(h, deliveries, 0.50));
    fmt_ms(p90, sizeof p90, hist_quantile(h, deliveries, 0.90));
    fmt_ms(p99, sizeof p99, hist_quantile(h, deliveries, 0.99));
    fmt_ms(p999, sizeof p999, hist_quantile(h, deliveries, 0.999));
    fmt_ms(mx, sizeof mx, deliveries ? (double)lat_max : -1);
    fmt_ms(mean, sizeof mean, deliveries ? (double)lat_sum / (double)deliveries : -1);
    char rssb[32], scpu[32], lcpu[32], mcpu[32];
    snprintf(rssb, sizeof rssb, rss_per < 0 ? "na" : "%.2f", rss_per);
    snprintf(scpu, sizeof scpu, srv_cpu < 0 ? "na" : "%.0f", srv_cpu);
    snprintf(lcpu, sizeof lcpu, lg_cpu < 0 ? "na" : "%.0f", lg_cpu);
    snprintf(mcpu, sizeof mcpu, m_cpu < 0 ? "na" : "%.0f", m_cpu);

    if (rss0 >= 0 && O.mode == MODE_HOLD)
        printf("server rss: %ld KiB before connecting, %ld KiB after the hold: %s KiB per open "
               "connection\n",
               rss0, rss1, rssb);
    else if (rss0 >= 0)
        printf("server rss: %ld KiB before connecting, %ld KiB after connecting (%.2f KiB per "
               "subscriber), %ld KiB after the run (%s KiB per subscriber)\n",
               rss0, rss1, rss_conn_per, rss_end, rssb);
    if (O.mode == MODE_HOLD) {
        printf("hold: %" PRIu64 " open after %.1f s (%" PRIu64 " closed by the server, %" PRIu64
               " pings answered)\n",
               held_end, O.duration, closed, pings);
    } else {
        char offered[64];
        if (O.rate > 0)
            snprintf(offered, sizeof offered, "offered %g/s", O.rate);
        else
            snprintf(offered, sizeof offered, "closed loop, window %d", O.window);
        printf("publish: %" PRIu64 " events in %.2f s = %.1f/s (%s), %" PRIu64 " ok, %" PRIu64
               " errors, %" PRIu64 " skipped (all %d connections busy)\n",
               G.published, pub_s, pub_rate, offered, G.pub_ok, G.pub_errs, G.skipped, O.pub_conns);
        printf("deliveries: %" PRIu64 " of %" PRIu64 " expected, loss %" PRIu64 " (%.3f %%), "
               "%.0f/s; %" PRIu64 " duplicates, %" PRIu64 " unknown markers, %" PRIu64
               " messages, %" PRIu64 " seq errors, %" PRIu64 " closed, %" PRIu64 " pings\n",
               deliveries, G.expected_total, loss, loss_pct, dps, extra, foreign, frames, seq_errs,
               closed, pings);
        printf("latency ms: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n", p50, p90, p99,
               p999, mx, mean);
    }
    printf("cpu %%: server %s, loadgen %s, machine %s of %ld\n", scpu, lcpu, mcpu,
           100 * sysconf(_SC_NPROCESSORS_ONLN));
    printf("RESULT label=%s mode=%s conns=%d held=%" PRIu64 " rss_kib_per_conn=%s"
           " published=%" PRIu64 " pub_rate=%.1f deliveries=%" PRIu64 " deliveries_per_s=%.0f"
           " loss=%" PRIu64 " loss_pct=%.3f p50_ms=%s p99_ms=%s max_ms=%s server_cpu_pct=%s"
           " p90_ms=%s p999_ms=%s mean_ms=%s loadgen_cpu_pct=%s machine_cpu_pct=%s"
           " expected=%" PRIu64 " pub_errs=%" PRIu64 " skipped=%" PRIu64 " dups=%" PRIu64
           " seq_errs=%" PRIu64 " closed=%" PRIu64 " held_end=%" PRIu64 " failed=%" PRIu64
           " pings=%" PRIu64 " connect_s=%.2f rate=%g procs=%d sources=%d size=%d\n",
           O.label, O.mode == MODE_HOLD ? "hold" : "fanout", O.n, held, rssb, G.published, pub_rate,
           deliveries, dps, loss, loss_pct, p50, p99, mx, scpu, p90, p999, mean, lcpu, mcpu,
           G.expected_total, G.pub_errs, G.skipped, extra, seq_errs, closed, held_end,
           f_conn + f_up + f_hs + f_to, pings, connect_s, O.rate, NPROCS, O.k, O.size);
    free(h);
    return 0;
}
