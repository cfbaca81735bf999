/* broker.h: how events (and other cross-node messages) reach every node.
 *
 * Two backends behind one interface:
 *
 *   local  (default)  one process: the hub assigns offsets itself and hands events straight to
 *                     its workers (today's path; nothing here runs on it);
 *   redis             N processes: offsets, epochs and history live in Redis (a Lua script per
 *                     publish), and every node hears every event on one Pub/Sub channel.
 *
 * The Redis backend runs its own thread with its own libuv loop and two hiredis async connections
 * (commands, subscription), so no worker loop ever waits on Redis. Threads that must wait for an
 * answer (a publish, from the thread pool) block on a condition variable with a deadline, never
 * a loop. Everything that arrives (notifications, fill replies) is handed to the hooks on the
 * broker thread, in order; the hooks hand on to the workers (net_worker_post via the hub's sink).
 *
 * Errors: BH_EAGAIN when Redis is unreachable or did not answer in time (the caller retries;
 * nothing was acknowledged), BH_EINVAL for bad arguments, BH_ECONFIG for a bad URL. */
#ifndef BH_BROKER_BROKER_H
#define BH_BROKER_BROKER_H

#include "broker/proto.h"

#include <stddef.h>
#include <stdint.h>

typedef struct broker_s broker_t;

/* What the broker calls, on its own thread, one call at a time. */
typedef struct broker_hooks_s {
    void *data;
    /* The Redis data set's generation (P:rt:gen), once per connection: seeds initial epochs. */
    void (*on_generation)(void *data, const char *gen);
    /* A notification. Returns a broker_gap_action_t; on BROKER_FILL, *after and epoch say where
     * the fill starts (the hook has marked the stream as filling). */
    int (*on_event)(void *data, const broker_event_t *ev, int64_t *after,
                    char epoch[BROKER_EPOCH_LEN + 1]);
    /* A stream named by the streams set after a (re)connect: returns 1 and fills *after/epoch if
     * a fill should start now (the hook marks it filling), 0 if one is already in flight. */
    int (*fill_begin)(void *data, int64_t org, const char *svc, int64_t *after,
                      char epoch[BROKER_EPOCH_LEN + 1]);
    /* A fill's answer: exists = 0 when Redis has no such stream; ev[0..n) in offset order.
     * Returns 1 (with *after/epoch) when another fill must follow, else 0. */
    int (*fill_apply)(void *data, int64_t org, const char *svc, int exists, const char *epoch,
                      int64_t remote_head, const broker_event_t *ev, size_t n, int64_t *after,
                      char epoch_out[BROKER_EPOCH_LEN + 1]);
} broker_hooks_t;

/* The bus: small messages between nodes (chat fan-out, presence, flag changes), and node
 * liveness. Called on the broker thread. Messages a node sends never come back to it. Each
 * feature listens in a slot of its own; every slot hears every message and ignores those it does
 * not know (payloads are JSON objects whose "k" says what they are). */
typedef enum {
    BROKER_BUS_CHAT = 0,  /* chat fan-out and presence (chat/cluster.c) */
    BROKER_BUS_FLAGS = 1, /* "the feature flags changed" (app/server.c) */
    BROKER_BUS__SLOTS
} broker_bus_slot_t;

typedef struct broker_bus_hooks_s {
    void *data;
    /* A message another node sent with broker_bus_send. */
    void (*on_message)(void *data, const char *node, const char *payload, size_t len);
    /* A node's heartbeat key expired (it died without goodbye): forget what it said. */
    void (*on_node_gone)(void *data, const char *node);
    /* After each connect: one call per entry another live node keeps (broker_bus_put). */
    void (*on_entry)(void *data, const char *node, const char *field, const char *value);
    /* After each connect (the first too), once subscribed: bus messages sent while this node was
     * away are lost, so re-read what they would have said. May be NULL. */
    void (*on_up)(void *data);
} broker_bus_hooks_t;

typedef enum {
    BROKER_STATE_LOCAL = 0, /* in-process: nothing to be connected to */
    BROKER_STATE_DOWN = 1,
    BROKER_STATE_CONNECTING = 2,
    BROKER_STATE_UP = 3,
} broker_state_t;

typedef struct broker_stats_s {
    broker_state_t state;
    int synced;               /* the first resync after the last connect has completed */
    uint64_t published;       /* events this node published through the broker */
    uint64_t publish_failed;  /* publishes answered BH_EAGAIN (Redis unreachable or slow) */
    uint64_t received;        /* notifications received */
    uint64_t gaps;            /* gaps detected in notifications */
    uint64_t fills;           /* fill round trips (gaps and resyncs) */
    uint64_t filled;          /* events recovered by fills */
    uint64_t reconnects;      /* connections established after the first */
    uint64_t bus_sent;        /* bus messages sent (chat fan-out, presence, flag changes) */
    uint64_t bus_received;    /* bus messages from other nodes */
    int64_t state_since_ms;   /* unix ms of the last state change */
    char reason[128];         /* why it is down (empty when up) */
} broker_stats_t;

/* One event to publish: the JSON comes in three parts around the id and the offset, which only
 * Redis knows: json_a + EPOCH "-" OFFSET + json_b + OFFSET + json_c. Strings borrowed. */
typedef struct broker_publish_s {
    int64_t org_id;
    const char *service;
    int64_t property_id;
    int64_t ts_ms;
    int64_t min_ts_ms;   /* entries older than this leave the history */
    int64_t max_events;  /* history length kept (MAXLEN ~) */
    const char *new_epoch; /* the epoch if the stream does not exist yet */
    const char *json_a, *json_b, *json_c;
    const char *idem_key;  /* the producer's Idempotency-Key, NULL: none */
    int64_t idem_ttl_ms;   /* how long the key is remembered */
} broker_publish_t;

typedef struct broker_config_s {
    const char *url;            /* redis://host:port[/db]; empty or NULL: the local backend */
    const char *prefix;         /* key prefix ("bh") */
    int timeout_ms;             /* publish answer deadline; silence on a connection = down */
    int reconnect_max_ms;       /* backoff cap */
    int node_ttl_ms;            /* a node silent this long counts as dead (heartbeat: a third) */
    size_t fill_batch;          /* entries per fill round trip */
} broker_config_t;

/* Returns a new broker for cfg (borrowed; copied), or NULL with a message in err (size n) when
 * the URL is invalid or the backend is not built in. Nothing connects before broker_start. */
broker_t *broker_new(const broker_config_t *cfg, char *err, size_t n);
/* Stops the thread (if started), drops the connections, frees. NULL is fine. */
void broker_free(broker_t *b);

/* "local" or "redis". */
const char *broker_name(const broker_t *b);
/* 1 if the broker assigns offsets (Redis): the hub must publish through it. */
int broker_sequences(const broker_t *b);

/* Starts the broker thread with hooks (copied) and begins connecting. Returns 0 or a UV_E* code. */
int broker_start(broker_t *b, const broker_hooks_t *hooks);
/* Waits up to timeout_ms for the first connect and resync. Returns 0, or BH_EAGAIN on timeout
 * (the broker keeps trying in the background). Start-up only: it blocks. */
int broker_wait_synced(broker_t *b, int timeout_ms);

/* Publishes ev and waits for Redis's answer (at most the configured timeout). On success *offset
 * and epoch get what Redis assigned. Returns 0, BH_EAGAIN (not connected, or no answer in time:
 * the event may or may not have been published; the producer retries), BH_EINTERNAL (the
 * script failed), or BH_EEXIST when ev->idem_key was published before (within idem_ttl_ms):
 * nothing is published, and offset and epoch are the original's. Blocks: thread pool only. */
int broker_publish(broker_t *b, const broker_publish_t *ev, int64_t *offset,
                   char epoch[BROKER_EPOCH_LEN + 1]);

/* Sets (or clears, NULL) the bus hooks of one slot (copied). Any thread, any time; once it
 * returns after clearing, a call already under way on the broker thread may still be running. */
void broker_bus_hooks(broker_t *b, broker_bus_slot_t slot, const broker_bus_hooks_t *hooks);
/* Sends payload to every other node. Fire and forget: returns 0 when queued, BH_EAGAIN when not
 * connected (dropped), BH_EDECLINED on the local backend (one node: nobody to tell). Any thread. */
int broker_bus_send(broker_t *b, const char *payload, size_t len);
/* Keeps field = value (NULL: removes it) in this node's entry set, which other nodes read after
 * they connect and drop when this node dies. Fire and forget, like broker_bus_send. */
int broker_bus_put(broker_t *b, const char *field, const char *value);
/* This node's id (16 hex characters; random per process). */
const char *broker_node_id(const broker_t *b);

/* A consistent copy of the counters. Any thread. */
void broker_stats(broker_t *b, broker_stats_t *out);
/* "local", "down", "connecting" or "up". */
const char *broker_state_name(broker_state_t s);

#endif
