/* stream_int.h: what the stream (stream.c) and long-polling (poll.c) share: the per-worker
 * index of who waits for which (org, service) events. Everything here is touched only on its
 * worker's loop thread. */
#ifndef BH_REALTIME_STREAM_INT_H
#define BH_REALTIME_STREAM_INT_H

#include "core/blob.h"
#include "core/queue.h"
#include "realtime/flags.h"
#include "realtime/stream.h"

#include <uv.h>

typedef struct rt_worker_s rt_worker_t;
typedef struct session_s session_t;

/* A session's subscription to one service, linked in its worker's (org, service) list. */
typedef struct sub_s {
    queue_t node;
    session_t *sess;
    int64_t delivered; /* newest offset sent (or skipped as already known) on this connection */
    uint8_t active;
} sub_t;

typedef enum { SESS_HANDSHAKE = 0, SESS_ACTIVE, SESS_CLOSED } sess_state_t;

struct session_s {
    queue_t node; /* in the worker's session list */
    ws_conn_t *ws;
    rt_worker_t *rw;
    sess_state_t state;
    uint64_t seq; /* of the next message this connection gets */
    int64_t user_id, org_id, exp;
    auth_role_t role;
    int all_properties;
    size_t n_properties;
    int64_t *property_ids; /* owned */
    char id[24];
    sub_t subs[RT_SVC__COUNT];
};

/* Bodies of one chunk already encoded, by the mask of events they hold (shared by every
 * subscriber that sees the same subset). */
typedef struct body_cache_s {
    uint64_t mask[8];
    blob_t *blob[8];
    int n;
} body_cache_t;

/* The subscriptions of one org on one worker, one list per service. */
typedef struct org_subs_s {
    struct org_subs_s *next;
    int64_t org_id;
    size_t n;
    queue_t subs[RT_SVC__COUNT];
    queue_t polls[RT_SVC__COUNT]; /* held long-polls (poll.c), same keys */
} org_subs_t;

struct rt_worker_s {
    rt_server_t *srv;
    net_worker_t *w;
    uv_check_t flush; /* runs after the poll phase in which events arrived */
    uv_idle_t idle;   /* while a fan-out is unfinished: poll for I/O without blocking */
    int flush_active;
    /* The fan-out in progress. A fan-out runs in time slices so that one big audience cannot
     * hold the loop (and the publishes, reads and answers waiting on it) for long: when a slice
     * ends, `cursor`, a placeholder linked into the subscriber list, marks where to go on. */
    rt_event_t *chunk[RT_BATCH_MAX];
    size_t n_chunk;
    size_t n_round; /* chunk[0..n_round) is offered to every subscriber this round; the rest
                       joined mid-round and go round again for those already passed */
    sub_t cursor; /* sess == NULL */
    int cursor_linked;
    body_cache_t cache;
    size_t pend_head; /* pending[pend_head..n_pending) are not taken yet */
    int stopping;
    rt_event_t **pending; /* events received, not yet fanned out (owned refs) */
    size_t n_pending, cap_pending;
    org_subs_t **buckets;
    size_t n_buckets, n_orgs;
    queue_t sessions;
    queue_t polls; /* every held long-poll of this worker, for shutdown */
    uint64_t next_session;
    rt_metrics_t m;
};

struct rt_server_s {
    rt_hub_t *hub;
    rt_flags_t *flags;
    rt_policy_t policy;
    rt_limits_t lim;
    int n_workers;
    rt_worker_t *rw;
    _Atomic uint64_t published[RT_SVC__COUNT];
};


/* Finds or (create) makes the index entry of an org on this worker. */
org_subs_t *rt__org_find(rt_worker_t *rw, int64_t org, int create);
/* Answers the held long-polls of (chunk's org, service) that chunk satisfies (poll.c). */
void rt__poll_wake(rt_worker_t *rw, rt_event_t *const *chunk, size_t n);
/* Answers every held long-poll of the worker (shutdown). */
void rt__poll_cancel_all(rt_worker_t *rw);

#endif
