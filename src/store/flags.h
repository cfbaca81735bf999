/* flags.h: persisted feature flags and their audit trail (see realtime/flags.h for what they
 * mean). Values are JSON; the store does not interpret them. Same threading rules as store.h. */
#ifndef BH_STORE_FLAGS_H
#define BH_STORE_FLAGS_H

#include "store/store.h"

#include <jansson.h>

typedef struct store_flag_change_s {
    const char *name;
    json_t *old_value; /* borrowed; NULL when there was none */
    json_t *new_value; /* borrowed */
} store_flag_change_t;

typedef struct store_flag_actor_s {
    int64_t user_id;
    int64_t org_id;
    const char *role;
} store_flag_actor_t;

struct store_flag_ops {
    int (*load)(store_t *st, json_t **out);
    int (*save)(store_t *st, const store_flag_change_t *changes, size_t n,
                const store_flag_actor_t *by);
    int (*history)(store_t *st, size_t limit, json_t **out);
};

/* Every stored flag: *out is a new JSON object name -> value. */
int store_flags_load(store_t *st, json_t **out);
/* Stores the new values and one audit row per change, in one transaction. */
int store_flags_save(store_t *st, const store_flag_change_t *changes, size_t n,
                     const store_flag_actor_t *by);
/* The newest `limit` audit rows, newest first: a new JSON array of
 * {"name","oldValue","newValue","changedBy","changedByOrg","changedByRole","changedAt"}. */
int store_flags_history(store_t *st, size_t limit, json_t **out);

#endif
