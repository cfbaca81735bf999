/* hub.h: the event streams of every organisation: offsets, epochs, history, and fan-out.
 *
 * A stream is one (org, service). Publishing assigns the next offset, persists the event, appends
 * it to the in-memory history and hands it to every worker, all under the stream's lock, so that
 * every subscriber sees a stream's events in offset order and none is delivered before it is
 * durable. The history (bounded by count and age, reloaded from the store at start) serves
 * resumes without touching the disk.
 *
 * With a sequencing broker (Redis, rt_hub_set_broker) offsets, epochs and history live in Redis:
 * a publish goes through the broker's script and every node applies events as its broker thread
 * hears them (the hub's sink is then called on that thread); the local ring is a cache kept in
 * sync, gaps filled from the Redis history. See docs/ARCHITECTURE.md, "Scale-out".
 *
 * Threads: rt_hub_publish blocks on the store (or on Redis) and must run on the thread pool (inside
 * a store_submit work function). Everything else is safe from any thread and never blocks on I/O. */
#ifndef BH_REALTIME_HUB_H
#define BH_REALTIME_HUB_H

#include "broker/broker.h"
#include "realtime/event.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rt_hub_s rt_hub_t;

typedef struct rt_hub_config_s {
    size_t history_max_events; /* per stream */
    int64_t history_max_age_ms;
} rt_hub_config_t;

/* Receives each published event once (a new reference, stolen), from the publishing thread with
 * the stream's lock held: it must only hand the event on (e.g. post it to the workers). */
typedef void (*rt_sink_cb)(void *data, rt_event_t *ev);

/* Returns a new hub over st (borrowed). */
rt_hub_t *rt_hub_new(store_t *st, const rt_hub_config_t *cfg);
void rt_hub_free(rt_hub_t *hub);
/* Loads stream heads and the history window from the store. Start-up only (blocks). */
int rt_hub_load(rt_hub_t *hub);
void rt_hub_set_sink(rt_hub_t *hub, rt_sink_cb cb, void *data);
/* Uses b (borrowed; it must outlive the hub's use, i.e. be freed after the workers stop and
 * before the hub) for cross-node events. Before rt_hub_load, which starts it when it sequences.
 * wait_ms bounds a publisher's wait for its own event to come back (read-your-writes; a thread
 * pool thread waits) and, if above 5000, the start-up wait for the first resync; 0: 5000. */
void rt_hub_set_broker(rt_hub_t *hub, broker_t *b, int wait_ms);
/* The broker set (borrowed), or NULL. */
broker_t *rt_hub_broker(rt_hub_t *hub);

/* Publishes one event. On success *offset gets its offset. Returns 0, BH_EINVAL (bad type,
 * service or data), BH_ESTORE (nothing was published), or, with Redis, BH_EAGAIN (Redis is
 * unreachable or did not answer in time: retry; the event is not acknowledged). Thread pool only.
 * With ev->idem_key, BH_EEXIST when the stream's history window already holds an event published
 * with that key: nothing is published and *offset gets that event's offset. */
int rt_hub_publish(rt_hub_t *hub, const rt_event_in_t *ev, int64_t *offset);

/* The current head offset and epoch (NUL-terminated, RT_EPOCH_LEN chars) of a stream. */
void rt_hub_position(rt_hub_t *hub, int64_t org_id, rt_service_t s, int64_t *head,
                     char epoch[RT_EPOCH_LEN + 1]);

typedef enum {
    RT_SINCE_OK = 0,        /* events after `after` are in *out (possibly none) */
    RT_SINCE_EPOCH = 1,     /* the epoch differs: the client's offsets mean nothing here */
    RT_SINCE_TOO_OLD = 2,   /* events the client needs have left the history window */
    RT_SINCE_FUTURE = 3,    /* the client claims an offset beyond the head */
} rt_since_t;

/* Collects the events of a stream with offset > after (at most max; *more set if there are more)
 * into a new array of new references (*out, free() it after unref'ing each). *head gets the head
 * at the time of the call. */
rt_since_t rt_hub_since(rt_hub_t *hub, int64_t org_id, rt_service_t s, const char *epoch,
                        int64_t after, size_t max, rt_event_t ***out, size_t *n, int *more,
                        int64_t *head);

/* For tests: the hooks rt_hub_load gives a sequencing broker (notifications, fills, generation),
 * so that the gap handling can be driven without Redis. */
void rt__hub_broker_hooks(rt_hub_t *hub, broker_hooks_t *out);

/* For tests and the broker: the JSON of rt_event_new as three new strings around the epoch-offset
 * id and the offset (A EPOCH-OFFSET B OFFSET C). Returns 0 or BH_EINVAL. */
int rt__hub_event_parts(const rt_event_in_t *in, int64_t ts_ms, char **a, char **b, char **c);

/* Drops history past the window, in memory and in the store. Thread pool only. */
int rt_hub_prune(rt_hub_t *hub);

#endif
