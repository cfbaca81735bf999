/* broker_local.c: the in-process backend. One node: the hub assigns offsets under its own locks
 * and its sink posts each event to the workers, exactly as before the broker existed. Nothing
 * here is on that path; the backend only answers "local" to whoever asks. */
#include "broker/broker_int.h"

#include "core/alloc.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

static int local_start(broker_t *b, const broker_hooks_t *hooks)
{
    return 0;
}

static int local_wait_synced(broker_t *b, int timeout_ms)
{
    return 0;
}

static int local_publish(broker_t *b, const broker_publish_t *ev, int64_t *offset,
                         char epoch[BROKER_EPOCH_LEN + 1])
{
    return BH_EDECLINED; /* the hub sequences locally */
}

static void local_stats(broker_t *b, broker_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->state = BROKER_STATE_LOCAL;
    out->synced = 1;
}

static void local_bus_hooks(broker_t *b, broker_bus_slot_t slot, const broker_bus_hooks_t *hooks)
{
}

static int local_bus_send(broker_t *b, const char *payload, size_t len)
{
    return BH_EDECLINED;
}

static int local_bus_put(broker_t *b, const char *field, const char *value)
{
    return BH_EDECLINED;
}

static const char *local_node_id(const broker_t *b)
{
    return "local";
}

static void local_free(broker_t *b)
{
    free(b);
}

static const broker_vtable_t local_vt = {
    .name = "local",
    .sequences = 0,
    .start = local_start,
    .wait_synced = local_wait_synced,
    .publish = local_publish,
    .stats = local_stats,
    .bus_hooks = local_bus_hooks,
    .bus_send = local_bus_send,
    .bus_put = local_bus_put,
    .node_id = local_node_id,
    .free = local_free,
};

broker_t *broker__local_new(void)
{
    broker_t *b = xcalloc(1, sizeof *b);
    b->vt = &local_vt;
    return b;
}
