#include "realtime/event.h"

#include "core/alloc.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_event_type_valid(const char *type)
{
    size_t n = 0;
    if (type == NULL) return 0;
    for (const char *p = type; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return 0;
    }
    return n >= 1 && n <= RT_TYPE_MAX;
}

static rt_event_t *alloc_event(size_t json_len)
{
    rt_event_t *e = xmalloc(sizeof *e + json_len + 1);
    atomic_init(&e->refs, 1);
    e->idem_key = NULL;
    e->json_len = json_len;
    return e;
}

rt_event_t *rt_event_new(const rt_event_in_t *in, const char *epoch, int64_t offset,
                         int64_t ts_ms)
{
    if (!rt_event_type_valid(in->type) || !json_is_object(in->data) ||
        (unsigned)in->service >= RT_SVC__COUNT)
        return NULL;
    char id[64], ts[32];
    snprintf(id, sizeof id, "%s-%lld", epoch, (long long)offset);
    clock_iso8601_ms(ts_ms, ts, sizeof ts);
    json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:o,s:I,s:s,s:O}", "id", id, "service",
                          rt_service_name(in->service), "type", in->type, "orgId",
                          (json_int_t)in->org_id,
                          "propertyId",
                          in->property_id ? json_integer(in->property_id) : json_null(),
                          "offset", (json_int_t)offset, "timestamp", ts, "data", in->data);
    if (j == NULL) return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s == NULL) return NULL;
    size_t len = strlen(s);
    rt_event_t *e = alloc_event(len);
    memcpy(e->json, s, len + 1);
    free(s);
    e->org_id = in->org_id;
    e->service = in->service;
    e->property_id = in->property_id;
    e->offset = offset;
    e->ts_ms = ts_ms;
    e->pub_ns = clock_mono_ns();
    rt_event_set_key(e, in->idem_key);
    return e;
}

void rt_event_set_key(rt_event_t *e, const char *key)
{
    free(e->idem_key);
    e->idem_key = key && *key ? xstrdup(key) : NULL;
}

rt_event_t *rt_event_from_json(int64_t org_id, rt_service_t service, int64_t property_id,
                               int64_t offset, int64_t ts_ms, const char *json, size_t len)
{
    rt_event_t *e = alloc_event(len);
    memcpy(e->json, json, len);
    e->json[len] = '\0';
    e->org_id = org_id;
    e->service = service;
    e->property_id = property_id;
    e->offset = offset;
    e->ts_ms = ts_ms;
    e->pub_ns = 0; /* not published by this process: no latency sample */
    return e;
}

rt_event_t *rt_event_ref(rt_event_t *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return e;
}

void rt_event_unref(rt_event_t *e)
{
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        free(e->idem_key);
        free(e);
    }
}
