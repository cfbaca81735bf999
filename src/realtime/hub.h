/* hub.h: the event streams of every organisation: offsets, epochs, history, and fan-out.
 *
 * A stream is one (org, service). Publishing assigns the next offset, persists the event, appends
 * it to the in-memory history and hands it to every worker, all under the stream's lock, so that
 * every subscriber sees a stream's events in offset order and none is delivered before it is
 * durable. The history (bounded by count and age, reloaded from the store at start) serves
 * resumes without touching the disk.
 *
 * Threads: rt_hub_publish blocks on the store and must run on the thread pool (inside a
 * store_submit work function). Everything else is safe from any thread and never blocks on I/O. */
#ifndef BH_REALTIME_HUB_H
#define BH_REALTIME_HUB_H

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

/* Publishes one event. On success *offset gets its offset. Returns 0, BH_EINVAL (bad type,
 * service or data), or BH_ESTORE (nothing was published). Thread pool only. */
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

/* Drops history past the window, in memory and in the store. Thread pool only. */
int rt_hub_prune(rt_hub_t *hub);

#endif
