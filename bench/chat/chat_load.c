/*
 * chat_load: load generator for chat rooms, for bellhop's collaboration stream and, to compare,
 * a socket.io rooms server (bench/chat/socketio_rooms.js).
 *
 * It opens N WebSocket clients, one user each; user i joins room i mod R. Then the clients
 * themselves send messages at a fixed total rate for T seconds: message k goes out from user
 * k mod N into that user's room, its text "ts=<CLOCK_REALTIME ns> seq=<k> xxx..." padded to
 * --size bytes. Every other member of the room should receive it once: a delivery. The latency
 * of a delivery is the time of the read() that completed it minus ts. Loss = expected - received
 * deliveries, where a message is expected by the room's members joined when it was sent, counted
 * until everything arrived or --drain seconds after sending stopped.
 *
 * Protocols:
 *   bellhop   GET /v2/collaboration/chat/stream with a bearer token (minted here with --secret,
 *             HS256, for users --user-base + i of --org); "ready" -> join -> "joined"; messages
 *             {"type":"message",...}; the sender gets an "ack" once the message is stored.
 *   socketio  Engine.IO 4 over WebSocket: "0{...}" -> "40" -> "40{...}" -> 42["join",room] ->
 *             42["joined"]; 42["msg",{room,text}] out, 42["msg",{...}] in, 42["ack",seq] back
 *             to the sender; server pings "2" are answered "3".
 *
 * One process, one epoll loop, everything bounded: a connect-phase deadline, a join deadline, the
 * drain, and a whole-run alarm. The last line is "RESULT key=value ...".
 *
 * Build: make -C bench/chat. Usage: chat_load --help.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { PROTO_BELLHOP, PROTO_SOCKETIO };
enum { C_CONNECTING, C_UPGRADING, C_OPEN, C_JOINING, C_JOINED, C_DEAD };

static struct {
    int proto;
    int n, rooms, rate, secs, size, connects_in_flight, drain_s, org, user_base;
    const char *secret, *label, *room_list, *host, *path;
    int port, server_pid;
    bool quiet;
} O = {.proto = PROTO_BELLHOP, .n = 100, .rooms = 10, .rate = 100, .secs = 10, .size = 100,
       .connects_in_flight = 256, .drain_s = 5, .org = 1, .user_base = 100000,
       .label = "chat"};

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "chat_load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int64_t now_rt_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* ---- growable buffer --------------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap, off; /* off: consumed prefix (for output) */
} buf_t;

static void buf_add(buf_t *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) die("out of memory");
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

/* ---- latency histogram: 64 sub-buckets per power of two of microseconds ------------------------- */

#define HSUB 64
#define HBUCKETS (40 * HSUB)
static uint64_t hist[HBUCKETS];
static uint64_t hist_n, hist_max_us;

static void hist_add(uint64_t us)
{
    unsigned i;
    if (us < HSUB) {
        i = (unsigned)us;
    } else {
        unsigned e = 63 - (unsigned)__builtin_clzll(us); /* >= 6 */
        unsigned sub = (unsigned)((us >> (e - 6)) & (HSUB - 1));
        i = (e - 5) * HSUB + sub;
        if (i >= HBUCKETS) i = HBUCKETS - 1;
    }
    hist[i]++;
    hist_n++;
    if (us > hist_max_us) hist_max_us = us;
}

static double hist_upper_us(unsigned i)
{
    if (i < HSUB) return i + 1;
    unsigned e = i / HSUB + 5, sub = i % HSUB;
    return (double)(((uint64_t)(HSUB + sub + 1)) << (e - 6));
}

static double hist_q_ms(double q)
{
    if (hist_n == 0) return 0;
    uint64_t want = (uint64_t)ceil(q * (double)hist_n), acc = 0;
    for (unsigned i = 0; i < HBUCKETS; i++) {
        acc += hist[i];
        if (acc >= want) {
            double u = hist_upper_us(i);
            return (u > (double)hist_max_us ? (double)hist_max_us : u) / 1000.0;
        }
    }
    return (double)hist_max_us / 1000.0;
}

/* ---- connections ---------------------------------------------------------------------------------- */

typedef struct conn {
    int fd, state, room, id;
    buf_t in, out;
    char *token;
} conn_t;

static conn_t *C;
static int EP;
static int *room_joined; /* members joined per room */
static char **room_name;
static uint32_t *expected, *received; /* per message seq */
static uint64_t n_sent, n_acked, n_errors, n_received, n_expected, n_dup, n_closed;
static int n_open, n_joined, n_inflight, next_connect;
static int64_t cap_msgs;
static volatile sig_atomic_t stop_flag;
static int first_errors_printed;

static void conn_arm(conn_t *c)
{
    struct epoll_event ev = {.events = EPOLLIN | (c->out.len > c->out.off ? EPOLLOUT : 0) |
                                       (c->state == C_CONNECTING ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)c->id};
    epoll_ctl(EP, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_dead(conn_t *c, const char *why)
{
    if (c->state == C_DEAD) return;
    if (c->state == C_JOINED) room_joined[c->room]--;
    if (c->state >= C_OPEN) n_open--;
    if (c->state == C_CONNECTING || c->state == C_UPGRADING) n_inflight--;
    if (!O.quiet && n_closed < 5) fprintf(stderr, "chat_load: conn %d closed: %s\n", c->id, why);
    n_closed++;
    c->state = C_DEAD;
    close(c->fd);
    c->fd = -1;
}

static void conn_flush(conn_t *c)
{
    while (c->out.off < c->out.len) {
        ssize_t w = write(c->fd, c->out.p + c->out.off, c->out.len - c->out.off);
        if (w < 0) {
            if (errno == EAGAIN) break;
            conn_dead(c, strerror(errno));
            return;
        }
        c->out.off += (size_t)w;
    }
    if (c->out.off == c->out.len) c->out.off = c->out.len = 0;
    conn_arm(c);
}

/* A masked client frame (RFC 6455 5.3). */
static void send_frame(conn_t *c, int op, const char *p, size_t n)
{
    if (c->state == C_DEAD) return;
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | op);
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint32_t key = rnd32();
    memcpy(h + hl, &key, 4);
    hl += 4;
    bool idle = c->out.len == c->out.off;
    buf_add(&c->out, h, hl);
    size_t at = c->out.len;
    buf_add(&c->out, p, n);
    uint8_t *m = (uint8_t *)c->out.p + at, *k = (uint8_t *)&key;
    for (size_t i = 0; i < n; i++) m[i] ^= k[i & 3];
    if (idle) conn_flush(c);
}

static void send_text(conn_t *c, const char *s)
{
    send_frame(c, 1, s, strlen(s));
}

/* ---- tokens (bellhop) ----------------------------------------------------------------------------- */

static size_t b64url(const uint8_t *in, size_t n, char *out)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = T[v >> 18 & 63];
        out[o++] = T[v >> 12 & 63];
        out[o++] = T[v >> 6 & 63];
        out[o++] = T[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = T[v >> 18 & 63];
        out[o++] = T[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = T[v >> 18 & 63];
        out[o++] = T[v >> 12 & 63];
        out[o++] = T[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static char *mint(int user)
{
    char payload[256], h64[64], p64[400], sig64[64], msg[600];
    const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    long now = (long)time(NULL);
    int pl = snprintf(payload, sizeof payload,
                      "{\"sub\":%d,\"orgId\":%d,\"role\":\"staff\",\"name\":\"user %d\","
                      "\"iat\":%ld,\"exp\":%ld}",
                      user, O.org, user, now, now + 86400);
    b64url((const uint8_t *)header, strlen(header), h64);
    b64url((const uint8_t *)payload, (size_t)pl, p64);
    int ml = snprintf(msg, sizeof msg, "%s.%s", h64, p64);
    uint8_t mac[32];
    unsigned ml2 = 0;
    HMAC(EVP_sha256(), O.secret, (int)strlen(O.secret), (const uint8_t *)msg, (size_t)ml, mac,
         &ml2);
    b64url(mac, ml2, sig64);
    char *t = malloc(strlen(msg) + strlen(sig64) + 2);
    sprintf(t, "%s.%s", msg, sig64);
    return t;
}

/* ---- messages in ---------------------------------------------------------------------------------- */

static void on_delivery(const char *p, size_t n, double t_ns)
{
    const char *ts = memmem(p, n, "ts=", 3);
    if (!ts) return;
    int64_t sent = strtoll(ts + 3, NULL, 10);
    const char *sq = memmem(ts, n - (size_t)(ts - p), "seq=", 4);
    if (!sq) return;
    int64_t seq = strtoll(sq + 4, NULL, 10);
    if (seq < 0 || seq >= cap_msgs) return;
    received[seq]++;
    if (received[seq] > expected[seq]) n_dup++;
    n_received++;
    if (t_ns > (double)sent) hist_add((uint64_t)((t_ns - (double)sent) / 1000.0));
}

static void join_room(conn_t *c)
{
    char b[128];
    if (O.proto == PROTO_BELLHOP)
        snprintf(b, sizeof b, "{\"type\":\"join\",\"roomId\":\"%s\"}", room_name[c->room]);
    else
        snprintf(b, sizeof b, "42[\"join\",\"%s\"]", room_name[c->room]);
    c->state = C_JOINING;
    send_text(c, b);
}

static void joined(conn_t *c)
{
    if (c->state != C_JOINING) return;
    c->state = C_JOINED;
    room_joined[c->room]++;
    n_joined++;
}

static void on_error_msg(const char *p, size_t n)
{
    n_errors++;
    if (first_errors_printed++ < 5) fprintf(stderr, "chat_load: error: %.*s\n", (int)(n > 300 ? 300 : n), p);
}

static void on_text(conn_t *c, const char *p, size_t n, double t_ns)
{
    if (O.proto == PROTO_BELLHOP) {
        const char *t = memmem(p, n > 40 ? 40 : n, "\"type\":\"", 8);
        if (!t) return;
        t += 8;
        size_t rest = n - (size_t)(t - p);
        if (rest >= 8 && !memcmp(t, "message\"", 8))
            on_delivery(t, rest, t_ns);
        else if (rest >= 4 && !memcmp(t, "ack\"", 4))
            n_acked++;
        else if (rest >= 6 && !memcmp(t, "ready\"", 6))
            join_room(c);
        else if (rest >= 7 && !memcmp(t, "joined\"", 7))
            joined(c);
        else if (rest >= 6 && !memcmp(t, "error\"", 6))
            on_error_msg(p, n);
        return;
    }
    /* socket.io */
    if (n >= 1 && p[0] == '2' && n == 1) {
        send_text(c, "3");
    } else if (n >= 1 && p[0] == '0') {
        send_text(c, "40");
    } else if (n >= 2 && p[0] == '4' && p[1] == '0') {
        join_room(c);
    } else if (n >= 8 && !memcmp(p, "42[\"msg\"", 8)) {
        on_delivery(p, n, t_ns);
    } else if (n >= 8 && !memcmp(p, "42[\"ack\"", 8)) {
        n_acked++;
    } else if (n >= 11 && !memcmp(p, "42[\"joined\"", 11)) {
        joined(c);
    } else if (n >= 2 && p[0] == '4' && p[1] == '4') {
        on_error_msg(p, n);
    }
}

/* Parses complete server frames from c->in. */
static void consume(conn_t *c, double t_ns)
{
    size_t off = 0;
    char *p = c->in.p;
    while (c->in.len - off >= 2) {
        uint8_t b0 = (uint8_t)p[off], b1 = (uint8_t)p[off + 1];
        size_t hl = 2;
        uint64_t len = b1 & 127;
        if (len == 126) {
            if (c->in.len - off < 4) break;
            len = (uint64_t)(uint8_t)p[off + 2] << 8 | (uint8_t)p[off + 3];
            hl = 4;
        } else if (len == 127) {
            if (c->in.len - off < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | (uint8_t)p[off + 2 + i];
            hl = 10;
        }
        if (c->in.len - off < hl + len) break;
        int op = b0 & 15;
        char *pl = p + off + hl;
        if (op == 1 || op == 2) {
            on_text(c, pl, (size_t)len, t_ns);
        } else if (op == 9) {
            send_frame(c, 10, pl, (size_t)len);
        } else if (op == 8) {
            conn_dead(c, "close frame");
            return;
        }
        if (c->state == C_DEAD) return;
        off += hl + (size_t)len;
    }
    if (off) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
    }
}

static void on_readable(conn_t *c)
{
    char tmp[65536];
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r == 0) {
            conn_dead(c, "eof");
            return;
        }
        if (r < 0) {
            if (errno != EAGAIN) conn_dead(c, strerror(errno));
            return;
        }
        double t_ns = (double)now_rt_ns();
        buf_add(&c->in, tmp, (size_t)r);
        if (c->state == C_UPGRADING) {
            char *e = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
            if (!e) continue;
            if (c->in.len < 12 || memcmp(c->in.p + 9, "101", 3) != 0) {
                fprintf(stderr, "chat_load: upgrade refused: %.*s\n", (int)(c->in.len > 200 ? 200 : c->in.len), c->in.p);
                conn_dead(c, "upgrade refused");
                return;
            }
            size_t hl = (size_t)(e + 4 - c->in.p);
            memmove(c->in.p, c->in.p + hl, c->in.len - hl);
            c->in.len -= hl;
            c->state = C_OPEN;
            n_inflight--;
            n_open++;
        }
        consume(c, t_ns);
        if (c->state == C_DEAD) return;
        if ((size_t)r < sizeof tmp) return;
    }
}

static void start_connect(conn_t *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct linger lg = {1, 0}; /* reset on exit: no TIME_WAIT pile-up between runs */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)O.port)};
    inet_pton(AF_INET, O.host, &sa.sin_addr);
    c->state = C_CONNECTING;
    n_inflight++;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)c->id};
    epoll_ctl(EP, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)
        conn_dead(c, strerror(errno));
}

static void on_connected(conn_t *c)
{
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        conn_dead(c, strerror(err));
        return;
    }
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     O.path, O.host, O.port, c->token ? "Authorization: Bearer " : "",
                     c->token ? c->token : "", c->token ? "\r\n" : "");
    c->state = C_UPGRADING;
    buf_add(&c->out, req, (size_t)n);
    conn_flush(c);
}

static void on_event(conn_t *c, uint32_t events)
{
    if (c->state == C_DEAD) return;
    if (c->state == C_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
        return;
    }
    if (events & EPOLLIN) on_readable(c);
    if (c->state != C_DEAD && (events & EPOLLOUT)) conn_flush(c);
    if (c->state != C_DEAD && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
        conn_dead(c, "hangup");
}

/* ---- sending ------------------------------------------------------------------------------------- */

static char *pad;

static void send_message(int64_t seq)
{
    conn_t *c = &C[seq % O.n];
    if (c->state != C_JOINED) return;
    expected[seq] = (uint32_t)(room_joined[c->room] - 1);
    n_expected += expected[seq];
    char text[256];
    int tl = snprintf(text, sizeof text, "ts=%" PRId64 " seq=%" PRId64 " ", now_rt_ns(), seq);
    int padn = O.size > tl ? O.size - tl : 0;
    char *b = malloc((size_t)padn + 512);
    int n;
    if (O.proto == PROTO_BELLHOP)
        n = sprintf(b, "{\"type\":\"message\",\"roomId\":\"%s\",\"clientMsgId\":\"s%" PRId64
                       "\",\"text\":\"%s%.*s\"}",
                    room_name[c->room], seq, text, padn, pad);
    else
        n = sprintf(b, "42[\"msg\",{\"room\":\"%s\",\"seq\":%" PRId64 ",\"text\":\"%s%.*s\"}]",
                    room_name[c->room], seq, text, padn, pad);
    send_frame(c, 1, b, (size_t)n);
    free(b);
    n_sent++;
}

/* ---- process stats --------------------------------------------------------------------------------- */

static long status_kib(int pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) v = strtol(line + kl, NULL, 10);
    fclose(f);
    return v;
}

static double cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* fields after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- main ---------------------------------------------------------------------------------------- */

static void usage(void)
{
    printf("usage: chat_load [options] ws://127.0.0.1:PORT/PATH\n"
           "  --proto bellhop|socketio   (bellhop)\n"
           "  -n USERS  -R ROOMS  -r MSGS_PER_S  -T SECONDS  --size TEXT_BYTES (100)\n"
           "  --rooms a,b,c      room ids (bellhop: e.g. task-4,task-5; default r0..rR-1)\n"
           "  --secret S         bellhop: HS256 secret to mint tokens (BELLHOP_JWT_SECRET)\n"
           "  --org N --user-base N   bellhop: token org and first user id (1, 100000)\n"
           "  --connects N       connects in flight (256)   --drain S (5)\n"
           "  --server-pid PID   report its RSS and CPU     --label S   -q\n");
}

static void on_signal(int s)
{
    (void)s;
    stop_flag = 1;
}

static void on_alarm(int s)
{
    (void)s;
    fprintf(stderr, "chat_load: watchdog: the run took too long\n");
    _exit(3);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"proto", 1, 0, 'P'},  {"size", 1, 0, 's'},       {"rooms", 1, 0, 'L'},
        {"secret", 1, 0, 'S'}, {"org", 1, 0, 'o'},        {"user-base", 1, 0, 'u'},
        {"connects", 1, 0, 'c'}, {"drain", 1, 0, 'd'},    {"server-pid", 1, 0, 'p'},
        {"label", 1, 0, 'l'},  {"help", 0, 0, 'h'},       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:R:r:T:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'P': O.proto = !strcmp(optarg, "socketio") ? PROTO_SOCKETIO : PROTO_BELLHOP; break;
        case 's': O.size = atoi(optarg); break;
        case 'L': O.room_list = optarg; break;
        case 'S': O.secret = optarg; break;
        case 'o': O.org = atoi(optarg); break;
        case 'u': O.user_base = atoi(optarg); break;
        case 'c': O.connects_in_flight = atoi(optarg); break;
        case 'd': O.drain_s = atoi(optarg); break;
        case 'p': O.server_pid = atoi(optarg); break;
        case 'l': O.label = optarg; break;
        case 'n': O.n = atoi(optarg); break;
        case 'R': O.rooms = atoi(optarg); break;
        case 'r': O.rate = atoi(optarg); break;
        case 'T': O.secs = atoi(optarg); break;
        case 'q': O.quiet = true; break;
        default: usage(); return ch == 'h' ? 0 : 2;
        }
    }
    if (optind != argc - 1 || O.n < 2 || O.rooms < 1 || O.rate < 1 || O.secs < 1) {
        usage();
        return 2;
    }
    static char host[64], path[512];
    int port = 0;
    if (sscanf(argv[optind], "ws://%63[^:]:%d%511s", host, &port, path) != 3) die("bad url");
    O.host = host;
    O.port = port;
    O.path = path;
    if (O.proto == PROTO_BELLHOP && !O.secret) die("--secret is needed to mint bellhop tokens");
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(O.secs + O.drain_s + 180));
    rng ^= (uint64_t)now_rt_ns();

    room_joined = calloc((size_t)O.rooms, sizeof *room_joined);
    room_name = calloc((size_t)O.rooms, sizeof *room_name);
    char *list = O.room_list ? strdup(O.room_list) : NULL, *save = NULL;
    for (int i = 0; i < O.rooms; i++) {
        char *tok = list ? strtok_r(i ? NULL : list, ",", &save) : NULL;
        if (list && !tok) die("--rooms names fewer than -R rooms");
        room_name[i] = malloc(64);
        if (tok)
            snprintf(room_name[i], 64, "%s", tok);
        else
            snprintf(room_name[i], 64, "r%d", i);
    }
    cap_msgs = (int64_t)O.rate * O.secs + 16;
    expected = calloc((size_t)cap_msgs, sizeof *expected);
    received = calloc((size_t)cap_msgs, sizeof *received);
    pad = malloc((size_t)O.size + 1);
    memset(pad, 'x', (size_t)O.size);
    C = calloc((size_t)O.n, sizeof *C);
    for (int i = 0; i < O.n; i++) {
        C[i].id = i;
        C[i].fd = -1;
        C[i].room = i % O.rooms;
        C[i].state = -1; /* not started */
        if (O.proto == PROTO_BELLHOP) C[i].token = mint(O.user_base + i);
    }
    EP = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[512];

    /* Phase 1: connect and join, bounded. */
    double t0 = now_mono();
    double server_cpu0 = 0;
    while (!stop_flag && n_joined + (int)n_closed < O.n && now_mono() - t0 < 60) {
        while (next_connect < O.n && n_inflight < O.connects_in_flight) start_connect(&C[next_connect++]);
        int k = epoll_wait(EP, evs, 512, 50);
        for (int i = 0; i < k; i++) on_event(&C[evs[i].data.u32], evs[i].events);
    }
    double connect_s = now_mono() - t0;
    if (!O.quiet)
        fprintf(stderr, "chat_load: %d of %d joined in %.1f s (%" PRIu64 " closed)\n", n_joined,
                O.n, connect_s, n_closed);
    long rss_joined = O.server_pid ? status_kib(O.server_pid, "VmRSS:") : -1;

    /* Phase 2: settle 1 s (joins' side effects, e.g. presence), then send at the rate. */
    double ts = now_mono();
    while (!stop_flag && now_mono() - ts < 1.0) {
        int k = epoll_wait(EP, evs, 512, 50);
        for (int i = 0; i < k; i++) on_event(&C[evs[i].data.u32], evs[i].events);
    }
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {.it_interval = {0, 1000000}, .it_value = {0, 1000000}};
    timerfd_settime(tfd, 0, &its, NULL);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(EP, EPOLL_CTL_ADD, tfd, &tev);
    if (O.server_pid) server_cpu0 = cpu_s(O.server_pid);
    double self_cpu0 = (double)clock() / CLOCKS_PER_SEC;
    double start = now_mono();
    int64_t seq = 0, total = (int64_t)O.rate * O.secs;
    double last_delivery = start;
    while (!stop_flag) {
        double now = now_mono();
        if (seq < total) {
            int64_t due = (int64_t)((now - start) * O.rate);
            if (due > total) due = total;
            while (seq < due) send_message(seq++);
        } else if ((n_received >= n_expected && n_acked + n_errors >= n_sent) ||
                   now - start > O.secs + O.drain_s) {
            break;
        }
        int k = epoll_wait(EP, evs, 512, 5);
        for (int i = 0; i < k; i++) {
            if (evs[i].data.u32 == UINT32_MAX) {
                uint64_t x;
                ssize_t r = read(tfd, &x, sizeof x);
                (void)r;
                continue;
            }
            uint64_t before = n_received;
            on_event(&C[evs[i].data.u32], evs[i].events);
            if (n_received != before) last_delivery = now_mono();
        }
    }
    double end = now_mono();
    double server_cpu = O.server_pid ? cpu_s(O.server_pid) - server_cpu0 : 0;
    double self_cpu = (double)clock() / CLOCKS_PER_SEC - self_cpu0;
    long rss = O.server_pid ? status_kib(O.server_pid, "VmRSS:") : -1;
    long hwm = O.server_pid ? status_kib(O.server_pid, "VmHWM:") : -1;
    double span = last_delivery - start > O.secs ? last_delivery - start : O.secs;
    uint64_t lost = 0;
    for (int64_t i = 0; i < seq; i++)
        if (received[i] < expected[i]) lost += expected[i] - received[i];
    printf("RESULT label=%s proto=%s users=%d rooms=%d rate=%d secs=%d size=%d joined=%d "
           "connect_s=%.1f sent=%" PRIu64 " acked=%" PRIu64 " errors=%" PRIu64
           " expected=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64 " loss_pct=%.4f dups=%" PRIu64
           " closed=%" PRIu64 " deliveries_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f "
           "p999_ms=%.2f max_ms=%.2f server_rss_joined_kib=%ld server_rss_kib=%ld "
           "server_hwm_kib=%ld server_cpu_pct=%.0f client_cpu_pct=%.0f run_s=%.1f\n",
           O.label, O.proto == PROTO_BELLHOP ? "bellhop" : "socketio", O.n, O.rooms, O.rate, O.secs,
           O.size, n_joined, connect_s, n_sent, n_acked, n_errors, n_expected, n_received, lost,
           n_expected ? 100.0 * (double)lost / (double)n_expected : 0.0, n_dup, n_closed,
           (double)n_received / span, hist_q_ms(0.50), hist_q_ms(0.90), hist_q_ms(0.99),
           hist_q_ms(0.999), (double)hist_max_us / 1000.0, rss_joined, rss, hwm,
           100.0 * server_cpu / (end - start), 100.0 * self_cpu / (end - start), end - start);
    return 0;
}
