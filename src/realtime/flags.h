/* flags.h: feature flags for the move from long-polling to streaming.
 *
 * The flags keep the names the seed gives them, as environment variables and in the API:
 *   REALTIME_STREAMING_V2      true|false   the kill switch: false sends everyone to polling
 *   REALTIME_ROLLOUT_PERCENT   0..100       share of users who stream (sticky per user id)
 *   REALTIME_WHITELIST_USERS   "12,40"      users who stream whatever the percentage
 *   REALTIME_WHITELIST_ORGS    "1,7"        organisations whose users all stream
 *   <SERVICE>_REALTIME_V1      true|false   force one service back to long-polling for everyone
 *                                           (FINANCE_REALTIME_V1, GUEST_REALTIME_V1, ...)
 *
 * Rollout is sticky and monotone: a user streams when hash(user id) mod 100 < percent, so the
 * same user always lands on the same side, and raising the percentage only moves users from
 * polling to streaming.
 *
 * Thread-safe: one process-wide state under a mutex, read by copy. */
#ifndef BH_REALTIME_FLAGS_H
#define BH_REALTIME_FLAGS_H

#include "realtime/service.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define FLAGS_WHITELIST_MAX 1024

/* Several nodes: the bus message a node sends after it stored a flag change; the others reload
 * the flags from the shared store (app/server.c). It carries no values. */
#define RT_FLAGS_BUS_KIND "flags"
#define RT_FLAGS_BUS_MESSAGE "{\"k\":\"" RT_FLAGS_BUS_KIND "\"}"

typedef struct rt_flags_s rt_flags_t;

/* A consistent copy of every flag. */
typedef struct rt_flag_values_s {
    int streaming_v2;
    int rollout_percent;
    unsigned v1_services; /* bit (1 << rt_service_t): forced to long-polling */
    size_t n_users, n_orgs;
    int64_t users[FLAGS_WHITELIST_MAX];
    int64_t orgs[FLAGS_WHITELIST_MAX];
    uint64_t version; /* bumped on every change */
} rt_flag_values_t;

rt_flags_t *rt_flags_new(void);
void rt_flags_free(rt_flags_t *f);

/* Reads the flags from environment variables through getenv_cb (NULL: the process's). Unset
 * variables keep the defaults: streaming on, 100 %, no whitelist, no service on v1. Returns 0 or
 * BH_EINVAL (err, size n, names the variable). */
typedef const char *(*rt_flags_getenv_cb)(const char *name, void *data);
int rt_flags_load_env(rt_flags_t *f, rt_flags_getenv_cb getenv_cb, void *data, char *err,
                      size_t n);

/* Applies a JSON object of flag name -> value (a partial update). All or nothing: on a bad name
 * or value returns BH_EINVAL with err saying which, and changes nothing. On success *changed gets
 * a new array of the names whose value changed (may be empty; json_decref it). */
int rt_flags_apply_json(rt_flags_t *f, json_t *update, char *err, size_t n, json_t **changed);
/* The same, only if the set's version is still `version` (from rt_flags_snapshot): otherwise
 * BH_ECONFLICT and nothing changes. For a reload that read the store while a change was applied
 * here: it must not put back what it read. */
int rt_flags_apply_json_if(rt_flags_t *f, json_t *update, uint64_t version, char *err, size_t n,
                           json_t **changed);
/* Every flag as a JSON object (new reference), names as above. */
json_t *rt_flags_to_json(rt_flags_t *f);
/* One flag's value as JSON (new reference), or NULL for an unknown name. */
json_t *rt_flags_get_json(rt_flags_t *f, const char *name);

void rt_flags_snapshot(rt_flags_t *f, rt_flag_values_t *out);

/* The user's sticky rollout bucket, 0..99. */
int rt_flags_bucket(int64_t user_id);
/* 1 if the user may stream at all under v (kill switch, whitelist, rollout). */
int rt_flags_user_streams(const rt_flag_values_t *v, int64_t org_id, int64_t user_id);
/* 1 if service s streams for this user (the user streams and s is not forced to v1). */
int rt_flags_service_streams(const rt_flag_values_t *v, int64_t org_id, int64_t user_id,
                             rt_service_t s);

#endif
