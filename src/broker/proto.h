/* proto.h: the sans-I/O half of the Redis broker: configuration URLs, key names, the Lua
 * scripts, the notification format, and gap tracking. Nothing here touches a socket, so all of
 * it is unit-tested by feeding strings (tests/unit/broker/test_proto.c).
 *
 * Redis layout, for a prefix P (BELLHOP_REDIS_PREFIX, default "bh") and a stream (org, service):
 *
 *   P:rt:{ORG:SVC}:m    hash   head (last offset), epoch
 *   P:rt:{ORG:SVC}:x    stream the event history; entry id "OFFSET-0", fields p (property),
 *                              t (unix ms), j (the event JSON, encoded once)
 *   P:rt:streams        set    "ORG:SVC" of every stream ever published (resync after a reconnect)
 *   P:rt:gen            string random, set once per Redis data set: seeds initial epochs
 *   P:rt:ev             channel one notification per event (format below)
 *   P:bus               channel "NODE\nPAYLOAD": chat fan-out and presence between nodes
 *   P:nodes             set    node ids; P:node:ID expires unless the node's heartbeat renews it
 *   P:pres:ID           hash   what node ID keeps for the others (broker_bus_put)
 *
 * The {ORG:SVC} hash tag keeps a stream's keys in one Redis Cluster slot. */
#ifndef BH_BROKER_PROTO_H
#define BH_BROKER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define BROKER_EPOCH_LEN 16 /* hex characters, as RT_EPOCH_LEN */
#define BROKER_HOST_MAX 255
#define BROKER_PREFIX_MAX 64
#define BROKER_SERVICE_MAX 32

/* ---- configuration ---------------------------------------------------------------------------- */

typedef struct broker_url_s {
    char host[BROKER_HOST_MAX + 1];
    int port;       /* default 6379 */
    int db;         /* default 0 */
    char password[128]; /* empty: no AUTH */
} broker_url_t;

/* Parses "redis://[:password@]host[:port][/db]". Returns 0 or BH_EINVAL. */
int broker_url_parse(const char *url, broker_url_t *out);

/* ---- keys ------------------------------------------------------------------------------------- */

/* Writes the key "PREFIX:rt:{ORG:SVC}:KIND" (kind 'm' or 'x') into out (size n). Returns the
 * length, or -1 if it does not fit. */
int broker_key_stream(char *out, size_t n, const char *prefix, int64_t org, const char *svc,
                      char kind);
/* Writes "PREFIX:rt:NAME" (streams, gen, ev). Returns the length or -1. */
int broker_key_global(char *out, size_t n, const char *prefix, const char *name);
/* Parses a member of the streams set, "ORG:SVC". Returns 0 or BH_EINVAL. */
int broker_member_parse(const char *s, size_t len, int64_t *org, char svc[BROKER_SERVICE_MAX + 1]);

/* ---- scripts ---------------------------------------------------------------------------------- */

/* Publish, atomically: create the stream (epoch from ARGV) if new, assign the next offset, build
 * the event JSON from three parts around the id and offset, XADD it (MAXLEN ~ count, then age),
 * PUBLISH the notification. Returns {offset, epoch}. */
extern const char broker_lua_publish[];
/* Fill: the epoch, head and entries after a given offset (or the newest COUNT entries when the
 * caller's epoch is not the stream's). Returns {epoch|false, head, entries}. */
extern const char broker_lua_fill[];
/* Writes the lower-case hex SHA-1 of script (what EVALSHA wants) into out. */
void broker_script_sha(const char *script, char out[41]);

/* ---- notifications ---------------------------------------------------------------------------- */

/* One event as it travels: a notification on P:rt:ev or an entry of a fill. Strings borrowed. */
typedef struct broker_event_s {
    int64_t org_id;
    char service[BROKER_SERVICE_MAX + 1];
    int64_t property_id;
    int64_t offset;
    int64_t ts_ms;
    int64_t pub_us;   /* publisher's wall clock in us (delivery latency); 0: unknown */
    char epoch[BROKER_EPOCH_LEN + 1];
    const char *json; /* borrowed from the reply */
    size_t json_len;
} broker_event_t;

/* Parses "ORG SVC PROP OFFSET TS_MS PUB_US EPOCH\nJSON". Returns 0 or BH_EINVAL. */
int broker_note_parse(const char *p, size_t len, broker_event_t *out);

/* ---- gap tracking ----------------------------------------------------------------------------- */

/* What a node knows of one stream's delivery, beside its head. Notifications arrive in offset
 * order on one connection, but a node misses them while disconnected, and fills (XRANGE through
 * the fill script) travel on another connection, so they race with notifications. */
typedef struct broker_gap_s {
    int filling;          /* a fill is in flight */
    int64_t dropped_max;  /* highest offset dropped while filling (0: none) */
} broker_gap_t;

typedef enum {
    BROKER_APPLY = 0, /* offset == head + 1: apply it */
    BROKER_DUP = 1,   /* already have it (or a fill in flight will bring it): ignore */
    BROKER_FILL = 2,  /* a gap: start a fill from head (filling is now set) */
} broker_gap_action_t;

/* Decides what to do with a notification of offset `off` (same epoch) given the head. */
broker_gap_action_t broker_gap_on_note(broker_gap_t *g, int64_t head, int64_t off);
/* After a fill reply was applied (head is the new local head, remote_head Redis's head at the
 * time of the fill): returns 1 if another fill must follow (filling stays set), else 0. */
int broker_gap_after_fill(broker_gap_t *g, int64_t head, int64_t remote_head);

#endif
