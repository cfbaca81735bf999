/* event.h: events as producers publish them and as the hub keeps them.
 *
 * An event is encoded to JSON exactly once, when it is published; every subscriber on every
 * worker then gets those same bytes. rt_event_t is immutable after publication and shared across
 * threads with an atomic reference count. */
#ifndef BH_REALTIME_EVENT_H
#define BH_REALTIME_EVENT_H

#include "realtime/service.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RT_TYPE_MAX 64     /* event type: [a-z0-9_.] */
#define RT_EPOCH_LEN 16    /* hex characters */

/* What a producer hands to rt_hub_publish. */
typedef struct rt_event_in_s {
    int64_t org_id;
    rt_service_t service;
    const char *type;    /* borrowed; "revenue_created" */
    int64_t property_id; /* 0: not tied to a property (every member of the org may see it) */
    json_t *data;        /* borrowed; a JSON object, the record the event is about */
    const char *idem_key; /* borrowed; the producer's Idempotency-Key, NULL: none */
} rt_event_in_t;

typedef struct rt_event_s {
    atomic_uint refs;
    int64_t org_id;
    rt_service_t service;
    int64_t property_id;
    int64_t offset;
    int64_t ts_ms;      /* publication time, unix ms */
    uint64_t pub_ns;    /* CLOCK_MONOTONIC at publication, for delivery latency */
    char *idem_key;     /* owned; the producer's Idempotency-Key, NULL: none */
    size_t json_len;
    char json[];        /* {"id":...,"type":...,"orgId":...,"propertyId":...,"offset":...,...} */
} rt_event_t;

/* Returns 1 if the type is a valid event type name. */
int rt_event_type_valid(const char *type);
/* Builds an event (new, one reference) with its JSON encoding. Returns NULL on invalid input. */
rt_event_t *rt_event_new(const rt_event_in_t *in, const char *epoch, int64_t offset,
                         int64_t ts_ms);
/* Builds an event from its stored JSON (history reload). The JSON must be what rt_event_new made. */
rt_event_t *rt_event_from_json(int64_t org_id, rt_service_t service, int64_t property_id,
                               int64_t offset, int64_t ts_ms, const char *json, size_t len);
/* Sets e's Idempotency-Key (copied; NULL or "" clears it). Only before e is shared. */
void rt_event_set_key(rt_event_t *e, const char *key);
rt_event_t *rt_event_ref(rt_event_t *e);
void rt_event_unref(rt_event_t *e);

#endif
