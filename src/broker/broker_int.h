/* broker_int.h: the backend vtable behind broker.h (shared by broker.c and the backends). */
#ifndef BH_BROKER_BROKER_INT_H
#define BH_BROKER_BROKER_INT_H

#include "broker/broker.h"

typedef struct broker_vtable_s {
    const char *name;
    int sequences;
    int (*start)(broker_t *b, const broker_hooks_t *hooks);
    int (*wait_synced)(broker_t *b, int timeout_ms);
    int (*publish)(broker_t *b, const broker_publish_t *ev, int64_t *offset,
                   char epoch[BROKER_EPOCH_LEN + 1]);
    void (*stats)(broker_t *b, broker_stats_t *out);
    void (*bus_hooks)(broker_t *b, broker_bus_slot_t slot, const broker_bus_hooks_t *hooks);
    int (*bus_send)(broker_t *b, const char *payload, size_t len);
    int (*bus_put)(broker_t *b, const char *field, const char *value);
    const char *(*node_id)(const broker_t *b);
    void (*free)(broker_t *b);
} broker_vtable_t;

struct broker_s {
    const broker_vtable_t *vt;
};

broker_t *broker__local_new(void);
#ifdef BELLHOP_WITH_REDIS
/* Returns NULL with a message in err when the URL is invalid. */
broker_t *broker__redis_new(const broker_config_t *cfg, char *err, size_t n);
#endif

#endif
