/* chat.h: real-time collaboration: GET /v2/collaboration/chat/stream (see docs/PROTOCOL.md,
 * "Collaboration").
 *
 * One WebSocket per client tab, in any number of rooms (room.h). The pieces:
 *   - sessions (session.c): one per connection, on the worker that accepted it. Each worker keeps
 *     an index of the rooms its sessions joined, and fans broadcasts out to them.
 *   - the writer (writer.c): every write (join, message, edit, delete, read position) is queued
 *     to one process-wide writer that runs on the thread pool and commits a whole queue in one
 *     transaction (group commit). It assigns message ids in commit order and hands the results
 *     to the workers in that same order, so every member sees a room in id order, and nothing
 *     is acknowledged or broadcast before it is stored. Each broadcast is encoded once into a
 *     refcounted blob that every member connection on every worker shares.
 *   - presence and the message rate (users.h): one process-wide entry per user, since a user's
 *     tabs may sit on different workers.
 *   - typing, idle-to-away and offline grace run off one sweep timer per worker: no timer per
 *     connection.
 *
 * Threads: chat_server_new/shutdown/free on the main thread; chat_accept on the worker that got
 * the request; chat_server_metrics anywhere. */
#ifndef BH_CHAT_CHAT_H
#define BH_CHAT_CHAT_H

#include "auth/auth.h"
#include "broker/broker.h"
#include "http/http.h"
#include "net/worker.h"
#include "realtime/metrics.h"
#include "store/store.h"
#include "ws/ws_conn.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chat_server_s chat_server_t;

/* Close codes of the chat stream (also in docs/PROTOCOL.md). Limit violations are errors that
 * keep the connection; only these end it. */
enum {
    CHAT_CLOSE_BINARY = 1003,        /* a binary frame: the chat speaks JSON text */
    CHAT_CLOSE_TOKEN_EXPIRED = 4401, /* the token expired while connected */
    CHAT_CLOSE_SLOW_CONSUMER = 4429, /* outgoing buffer over its limit */
};

#define CHAT_PAGE_MAX 200    /* the largest history page a client may ask for */
#define CHAT_MEMBERS_MAX 500 /* members listed in a join answer */
#define CHAT_CLIENT_MSG_ID_MAX 64

typedef struct chat_limits_s {
    ws_limits_t ws;
    unsigned history;           /* messages a join returns */
    unsigned max_length;        /* characters of a message */
    unsigned rate;              /* messages a second per user (token bucket refill) */
    unsigned burst;             /* token bucket size */
    unsigned max_rooms;         /* rooms per connection */
    unsigned typing_timeout_ms; /* a typing state not refreshed ends after this */
    unsigned away_ms;           /* an idle connection turns away after this */
    unsigned offline_grace_ms;  /* offline only after the last connection is gone this long */
} chat_limits_t;

/* Per worker, single writer (RT_INC); summed by chat_server_metrics. */
typedef struct chat_metrics_s {
    _Atomic int64_t connections;
    _Atomic uint64_t connections_total;
    _Atomic uint64_t messages_in;  /* client messages */
    _Atomic uint64_t messages_out; /* server messages */
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t deliveries; /* chat messages written to members (acks included) */
    _Atomic uint64_t rate_limited;
    _Atomic uint64_t slow_consumer_closes;
    rt_hist_t latency; /* message received -> written to a member's socket */
} chat_metrics_t;

typedef struct chat_totals_s {
    uint64_t stored;       /* messages persisted */
    uint64_t batches;      /* writer transactions */
    uint64_t ops;          /* writes in them */
    uint64_t store_errors; /* failed transactions */
    uint64_t checkpoints;  /* log checkpoints run off the writer's path */
    int64_t wal_frames;    /* the write-ahead log's length at the last one */
} chat_totals_t;

/* workers[0..n) are initialised (net_worker_init) but not started: each gets a sweep timer.
 * Borrowed: st, workers. lim is copied. */
chat_server_t *chat_server_new(store_t *st, const chat_limits_t *lim, net_worker_t *workers,
                               int n_workers);
/* Posts to every worker: close each chat session with 1001 "server shutting down" and release
 * the worker's handles. Call before net_worker_stop. */
void chat_server_shutdown(chat_server_t *srv);
/* After the workers are joined. NULL is a no-op. */
void chat_server_free(chat_server_t *srv);

/* Upgrades req (authenticated; upgrade headers checked) to a chat session. claims is stolen on
 * every path. */
void chat_accept(chat_server_t *srv, http_req_t *req, auth_claims_t *claims);

/* Several nodes: room broadcasts and presence also travel through b (borrowed; stopped before
 * chat_server_free). Nothing happens with the in-process broker. See chat/cluster.h. */
void chat_server_set_broker(chat_server_t *srv, broker_t *b);

const chat_limits_t *chat_server_limits(const chat_server_t *srv);
/* Sums the workers' metrics into *m (zeroed first) and the writer's counters into *t. */
void chat_server_metrics(chat_server_t *srv, chat_metrics_t *m, chat_totals_t *t);

#endif
