/* limit.h: process-wide admission limits shared by every worker.
 *
 * The workers share the port with SO_REUSEPORT, so one client's connections land on several
 * threads: the counters here are process-wide. They are kept cheap: a table of per-IP entries and
 * one of per-user entries, each split into shards with a mutex apiece (held for a few memory
 * operations, never across I/O), plus a few atomics for the outgoing-buffer budget.
 *
 *   - connections per IP: counted from accept to handle close (net_conn_accept refuses beyond);
 *   - connections per user: counted from a successful WebSocket admission to handle close;
 *   - WebSocket handshakes per IP: a token bucket;
 *   - bytes queued for sockets across all workers: when over the budget, the connections with
 *     more than their fair share queued report themselves slow (net_limit_outbuf_victim), so the
 *     slowest consumers are closed and nobody else stalls.
 *
 * Entries are referenced by the connections counted in them; an IP entry outlives its last
 * connection while its bucket refills (else reconnecting would reset the rate), and
 * net_limit_prune() drops it later. Limits of 0 mean "no limit". */
#ifndef BH_NET_LIMIT_H
#define BH_NET_LIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct net_limits_s {
    unsigned max_conns_per_ip;   /* 0: none */
    unsigned max_conns_per_user; /* 0: none */
    unsigned handshake_rate;     /* WebSocket upgrades a second per IP; 0: none */
    unsigned handshake_burst;    /* upgrades at once per IP */
    size_t outbuf_budget;        /* bytes queued for sockets, all workers together; 0: none */
    unsigned login_per_min;      /* password logins a minute per IP; 0: none */
    unsigned login_burst;        /* logins at once per IP */
} net_limits_t;

/* A token bucket: `tokens` refills at rate per second up to burst. Not thread-safe on its own. */
typedef struct net_bucket_s {
    double tokens;
    uint64_t last_ms; /* 0: never used (starts full) */
} net_bucket_t;

/* Takes one token at now_ms. Returns 0, or BH_EAGAIN with *retry_ms (if not NULL) set to when one
 * will be available. rate 0 means unlimited. */
int net_bucket_take(net_bucket_t *b, unsigned rate, unsigned burst, uint64_t now_ms,
                    unsigned *retry_ms);

typedef struct net_ip_s net_ip_t;
typedef struct net_user_s net_user_t;

/* Sets the limits (copied). Call before workers start; later calls change the numbers only. */
void net_limits_configure(const net_limits_t *l);
const net_limits_t *net_limits_get(void);

/* Counts one more connection from sa's address. Returns 0 and *out (a reference: release it with
 * net_limit_ip_release), or BH_EAGAIN when the address is at its limit (*out is NULL). */
int net_limit_ip_acquire(const struct sockaddr *sa, net_ip_t **out);
void net_limit_ip_release(net_ip_t *e);
/* One WebSocket handshake from e's address: 0, or BH_EAGAIN (*retry_ms until the next token). */
int net_limit_ip_handshake(net_ip_t *e, uint64_t now_ms, unsigned *retry_ms);
/* One password login from e's address: 0, or BH_EAGAIN (*retry_ms until the next token). Each
 * attempt costs an argon2id hash, so guessing is bounded per address before any work. */
int net_limit_ip_login(net_ip_t *e, uint64_t now_ms, unsigned *retry_ms);

/* Counts one more connection of (org, user). Returns 0 and *out (release it with
 * net_limit_user_release), or BH_EAGAIN at the limit (*out is NULL). */
int net_limit_user_acquire(int64_t org_id, int64_t user_id, net_user_t **out);
void net_limit_user_release(net_user_t *u);
/* Connections counted for (org, user) now (tests, metrics). */
unsigned net_limit_user_count(int64_t org_id, int64_t user_id);

/* Bytes queued for sockets across the process: net__conn keeps it. delta may be negative. */
void net__outbuf_add(long long delta);
/* A connection's queue went from empty to not (+1) or back (-1). */
void net__outbuf_queued_conns(int delta);
size_t net_limit_outbuf_total(void);
/* 1 when the process is over its budget and a connection with `queued` bytes waiting holds more
 * than its fair share (the mean of the non-empty queues, and at least 64 KiB): it should be closed
 * as a slow consumer. */
int net_limit_outbuf_victim(size_t queued);

/* Refusals and closes by limit, since start (for /metrics). */
typedef enum {
    NET_LIMIT_REFUSED_IP = 0,    /* connection refused at accept: per-IP limit */
    NET_LIMIT_REFUSED_USER,      /* upgrade refused: per-user limit */
    NET_LIMIT_REFUSED_HANDSHAKE, /* upgrade refused: handshake rate */
    NET_LIMIT_CLOSED_MSG_RATE,   /* stream closed: message rate (1008) */
    NET_LIMIT_REFUSED_LOGIN,     /* login refused: per-IP login rate */
    NET_LIMIT__COUNT
} net_limit_event_t;
void net_limit_note(net_limit_event_t e);
uint64_t net_limit_count(net_limit_event_t e);
const char *net_limit_event_name(net_limit_event_t e); /* "per_ip", "per_user", ... */

/* Live connections across all workers (accepted, handle not yet closed). */
size_t net_limit_conn_total(void);
void net__conn_total_add(int delta);

/* Frees idle IP entries whose bucket has refilled. Thread-safe; cheap to call every second. */
void net_limit_prune(uint64_t now_ms);
/* Frees every entry (tests; after all workers have stopped). */
void net_limit_reset(void);

#endif
