/* broker.c: picks the backend and dispatches through its vtable. */
#include "broker/broker_int.h"

#include <stdio.h>

broker_t *broker_new(const broker_config_t *cfg, char *err, size_t n)
{
    if (cfg->url == NULL || cfg->url[0] == '\0') return broker__local_new();
#ifdef BELLHOP_WITH_REDIS
    return broker__redis_new(cfg, err, n);
#else
    snprintf(err, n, "this build has no Redis support (cmake -DWITH_REDIS=ON)");
    return NULL;
#endif
}

void broker_free(broker_t *b)
{
    if (b) b->vt->free(b);
}

const char *broker_name(const broker_t *b)
{
    return b->vt->name;
}

int broker_sequences(const broker_t *b)
{
    return b->vt->sequences;
}

int broker_start(broker_t *b, const broker_hooks_t *hooks)
{
    return b->vt->start(b, hooks);
}

int broker_wait_synced(broker_t *b, int timeout_ms)
{
    return b->vt->wait_synced(b, timeout_ms);
}

int broker_publish(broker_t *b, const broker_publish_t *ev, int64_t *offset,
                   char epoch[BROKER_EPOCH_LEN + 1])
{
    return b->vt->publish(b, ev, offset, epoch);
}

void broker_stats(broker_t *b, broker_stats_t *out)
{
    b->vt->stats(b, out);
}

void broker_bus_hooks(broker_t *b, broker_bus_slot_t slot, const broker_bus_hooks_t *hooks)
{
    if ((unsigned)slot < BROKER_BUS__SLOTS) b->vt->bus_hooks(b, slot, hooks);
}

int broker_bus_send(broker_t *b, const char *payload, size_t len)
{
    return b->vt->bus_send(b, payload, len);
}

int broker_bus_put(broker_t *b, const char *field, const char *value)
{
    return b->vt->bus_put(b, field, value);
}

const char *broker_node_id(const broker_t *b)
{
    return b->vt->node_id(b);
}

const char *broker_state_name(broker_state_t s)
{
    switch (s) {
    case BROKER_STATE_LOCAL: return "local";
    case BROKER_STATE_DOWN: return "down";
    case BROKER_STATE_CONNECTING: return "connecting";
    case BROKER_STATE_UP: return "up";
    }
    return "unknown";
}
