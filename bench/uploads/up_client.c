/* up_client.c: the load side of the upload benchmark (bench/uploads/run.sh).
 *
 *   up_client ws  HOST PORT TOKEN GUEST_ID PROPERTY_ID SIZE CHUNK   upload over the WebSocket
 * stream up_client tcp HOST PORT SIZE CHUNK                               the same bytes over plain
 * TCP
 *
 * Both send SIZE bytes of generated CSV text (a 1 MiB block repeated, so generation costs nothing
 * measurable) in CHUNK-byte writes. ws: a raw RFC 6455 client, each chunk one masked binary frame
 * (random key per frame) of an 8-byte big-endian offset and the data; the clock runs from the
 * start message to the "completed" answer (the server has synced, hashed, verified and stored
 * the document by then). tcp: the clock runs from connect to the sink's one-byte answer, which it
 * sends after its fdatasync. Prints one line: mode bytes seconds MB/s. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1u << 20)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "up_client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0) die("getaddrinfo");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) die("connect");
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        c += k;
        n -= (size_t)k;
    }
}

/* CSV text: "row,guest name,room\n" lines, so the server's type check passes. */
static char *make_block(void)
{
    char *b = malloc(BLOCK);
    size_t o = 0;
    for (unsigned i = 0; o < BLOCK; i++) {
        char line[64];
        int n =
            snprintf(line, sizeof line, "%u,Guest %u,%u\n", i, i * 7919u % 100000u, 100 + i % 400);
        size_t take = (size_t)n < BLOCK - o ? (size_t)n : BLOCK - o;
        memcpy(b + o, line, take);
        o += take;
    }
    return b;
}

/* ---- WebSocket ---- */

static uint32_t rng = 0x9E3779B9u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return rng;
}

/* Writes one masked frame of payload head[0..hn) + body[0..bn) into out; returns its length. */
static size_t frame(uint8_t *out, int opcode, const void *head, size_t hn, const void *body,
                    size_t bn)
{
    size_t len = hn + bn, o = 0;
    out[o++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[o++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        out[o++] = 0x80 | 126;
        out[o++] = (uint8_t)(len >> 8);
        out[o++] = (uint8_t)len;
    } else {
        out[o++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[o++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint32_t key = next_rand();
    uint8_t k[4];
    memcpy(k, &key, 4);
    memcpy(out + o, k, 4);
    o += 4;
    uint8_t *p = out + o;
    const uint8_t *h = head, *b = body;
    for (size_t i = 0; i < hn; i++)
        p[i] = h[i] ^ k[i & 3];
    /* Copy and mask in one pass, 8 bytes at a time (hn is 0 or 8, so the key stays aligned to
     * the payload: the 4-byte key repeats within the 8-byte word). */
    uint64_t k8;
    memcpy(&k8, k, 4);
    memcpy((uint8_t *)&k8 + 4, k, 4);
    uint8_t *d = p + hn;
    size_t i = 0;
    for (; i + 8 <= bn; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        w ^= k8;
        memcpy(d + i, &w, 8);
    }
    for (; i < bn; i++)
        d[i] = b[i] ^ k[(hn + i) & 3];
    return o + len;
}

/* Reads one server frame's payload into buf (NUL-terminated). Returns its opcode. */
static int read_frame(int fd, char *buf, size_t cap)
{
    uint8_t h[10];
    size_t got = 0;
    while (got < 2) {
        ssize_t k = read(fd, h + got, 2 - got);
        if (k <= 0) die("read frame");
        got += (size_t)k;
    }
    uint64_t len = h[1] & 127;
    size_t ext = len == 126 ? 2 : len == 127 ? 8 : 0;
    while (got < 2 + ext) {
        ssize_t k = read(fd, h + got, 2 + ext - got);
        if (k <= 0) die("read frame");
        got += (size_t)k;
    }
    if (ext) {
        len = 0;
        for (size_t i = 0; i < ext; i++)
            len = len << 8 | h[2 + i];
    }
    if (len >= cap) {
        fprintf(stderr, "up_client: frame too big\n");
        exit(1);
    }
    size_t n = 0;
    while (n < len) {
        ssize_t k = read(fd, buf + n, len - n);
        if (k <= 0) die("read payload");
        n += (size_t)k;
    }
    buf[n] = '\0';
    return h[0] & 15;
}

static int run_ws(char **argv)
{
    const char *host = argv[0], *port = argv[1], *token = argv[2];
    long long guest = atoll(argv[3]), property = atoll(argv[4]);
    uint64_t size = strtoull(argv[5], NULL, 10);
    size_t chunk = strtoull(argv[6], NULL, 10);
    char *block = make_block();
    int fd = dial(host, port);
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "GET /v2/documents/upload/stream HTTP/1.1\r\nHost: %s:%s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Authorization: Bearer %s\r\n\r\n",
                     host, port, token);
    write_all(fd, req, (size_t)n);
    char resp[4096];
    size_t got = 0;
    while (got < 4 || memcmp(resp + got - 4, "\r\n\r\n", 4) != 0) {
        if (got + 1 >= sizeof resp || read(fd, resp + got, 1) != 1) die("handshake");
        got++;
    }
    resp[got] = '\0';
    if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "up_client: upgrade refused:\n%s\n", resp);
        return 1;
    }
    uint8_t *out = malloc(chunk + 64);
    char msg[65536];
    double t0 = now_s();
    n = snprintf(
        msg, sizeof msg,
        "{\"type\":\"start\",\"documentType\":\"csv\",\"guestId\":%lld,\"propertyId\":%lld,"
        "\"fileName\":\"bench.csv\",\"size\":%llu,\"mimeType\":\"text/csv\"}",
        guest, property, (unsigned long long)size);
    size_t fl = frame(out, 1, NULL, 0, msg, (size_t)n);
    write_all(fd, out, fl);
    read_frame(fd, msg, sizeof msg);
    if (strstr(msg, "\"ready\"") == NULL) {
        fprintf(stderr, "up_client: %s\n", msg);
        return 1;
    }
    for (uint64_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? (size_t)(size - off) : chunk;
        uint8_t oh[8];
        for (int i = 0; i < 8; i++)
            oh[i] = (uint8_t)(off >> (56 - 8 * i));
        /* The block repeats; a chunk that straddles its end takes two pieces. */
        size_t bo = (size_t)(off % BLOCK);
        if (bo + len <= BLOCK) {
            fl = frame(out, 2, oh, 8, block + bo, len);
        } else {
            static char *tmp;
            if (!tmp) tmp = malloc(chunk);
            for (size_t i = 0; i < len; i++)
                tmp[i] = block[(bo + i) % BLOCK];
            fl = frame(out, 2, oh, 8, tmp, len);
        }
        write_all(fd, out, fl);
    }
    for (;;) {
        int op = read_frame(fd, msg, sizeof msg);
        if (op == 8) die("closed");
        if (strstr(msg, "\"completed\"") || strstr(msg, "\"error\"")) break;
    }
    double dt = now_s() - t0;
    if (strstr(msg, "\"error\"")) {
        fprintf(stderr, "up_client: %s\n", msg);
        return 1;
    }
    printf("ws %llu %.3f %.1f\n", (unsigned long long)size, dt, (double)size / dt / 1e6);
    close(fd);
    free(out);
    free(block);
    return 0;
}

static int run_tcp(char **argv)
{
    uint64_t size = strtoull(argv[2], NULL, 10);
    size_t chunk = strtoull(argv[3], NULL, 10);
    char *block = make_block();
    char *tmp = malloc(chunk);
    double t0 = now_s();
    int fd = dial(argv[0], argv[1]);
    for (uint64_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? (size_t)(size - off) : chunk;
        size_t bo = (size_t)(off % BLOCK);
        if (bo + len <= BLOCK) {
            write_all(fd, block + bo, len);
        } else {
            for (size_t i = 0; i < len; i++)
                tmp[i] = block[(bo + i) % BLOCK];
            write_all(fd, tmp, len);
        }
    }
    shutdown(fd, SHUT_WR);
    char ack;
    if (read(fd, &ack, 1) != 1) die("sink answer");
    double dt = now_s() - t0;
    printf("tcp %llu %.3f %.1f\n", (unsigned long long)size, dt, (double)size / dt / 1e6);
    close(fd);
    free(tmp);
    free(block);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 9 && strcmp(argv[1], "ws") == 0) return run_ws(argv + 2);
    if (argc == 6 && strcmp(argv[1], "tcp") == 0) return run_tcp(argv + 2);
    fprintf(stderr, "usage: up_client ws HOST PORT TOKEN GUEST PROPERTY SIZE CHUNK\n"
                    "       up_client tcp HOST PORT SIZE CHUNK\n");
    return 2;
}
