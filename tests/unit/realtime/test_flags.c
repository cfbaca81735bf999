/* Feature flags: sticky and monotone rollout, whitelist, kill switch, per-service v1, parsing. */
#include "core/err.h"
#include "realtime/flags.h"
#include "test.h"

typedef struct {
    const char *const *pairs;
} env_t;

static const char *fake_getenv(const char *name, void *data)
{
    for (const char *const *p = ((env_t *)data)->pairs; *p; p += 2)
        if (strcmp(p[0], name) == 0) return p[1];
    return NULL;
}

TEST(rollout_of_10_percent_picks_about_10_percent_and_is_sticky)
{
    rt_flag_values_t v;
    memset(&v, 0, sizeof v);
    v.streaming_v2 = 1;
    v.rollout_percent = 10;
    int on = 0;
    for (int64_t id = 1; id <= 10000; id++) {
        int a = rt_flags_user_streams(&v, 1, id);
        ASSERT_EQ_INT(a, rt_flags_user_streams(&v, 1, id)); /* same answer every time */
        on += a;
    }
    ASSERT(on >= 900 && on <= 1100);
}

TEST(raising_the_percentage_only_adds_users)
{
    rt_flag_values_t v;
    memset(&v, 0, sizeof v);
    v.streaming_v2 = 1;
    for (int64_t id = 1; id <= 5000; id++) {
        int was = 0;
        for (int p = 0; p <= 100; p += 5) {
            v.rollout_percent = p;
            int now = rt_flags_user_streams(&v, 1, id);
            ASSERT(now >= was);
            was = now;
        }
        ASSERT_EQ_INT(1, was); /* everyone at 100 % */
    }
}

TEST(whitelist_kill_switch_and_v1_services)
{
    rt_flag_values_t v;
    memset(&v, 0, sizeof v);
    v.streaming_v2 = 1;
    v.rollout_percent = 0;
    v.users[v.n_users++] = 42;
    v.orgs[v.n_orgs++] = 7;
    ASSERT_EQ_INT(0, rt_flags_user_streams(&v, 1, 41));
    ASSERT_EQ_INT(1, rt_flags_user_streams(&v, 1, 42));
    ASSERT_EQ_INT(1, rt_flags_user_streams(&v, 7, 41));
    v.v1_services = 1u << RT_SVC_FINANCE;
    ASSERT_EQ_INT(0, rt_flags_service_streams(&v, 1, 42, RT_SVC_FINANCE));
    ASSERT_EQ_INT(1, rt_flags_service_streams(&v, 1, 42, RT_SVC_GUEST));
    v.streaming_v2 = 0; /* the kill switch beats the whitelist */
    ASSERT_EQ_INT(0, rt_flags_user_streams(&v, 1, 42));
    ASSERT_EQ_INT(0, rt_flags_user_streams(&v, 7, 41));
}

TEST(env_names_are_the_seeds)
{
    static const char *const pairs[] = {"REALTIME_STREAMING_V2", "true", "REALTIME_ROLLOUT_PERCENT",
                                        "25", "GUEST_REALTIME_V1", "true",
                                        "REALTIME_WHITELIST_USERS", "3, 9", NULL};
    env_t env = {pairs};
    rt_flags_t *f = rt_flags_new();
    char err[256];
    ASSERT_EQ_INT(0, rt_flags_load_env(f, fake_getenv, &env, err, sizeof err));
    rt_flag_values_t v;
    rt_flags_snapshot(f, &v);
    ASSERT_EQ_INT(25, v.rollout_percent);
    ASSERT_EQ_INT(1u << RT_SVC_GUEST, v.v1_services);
    ASSERT_EQ_INT(2, v.n_users);
    ASSERT_EQ_INT(9, v.users[1]);
    static const char *const bad[] = {"REALTIME_ROLLOUT_PERCENT", "101", NULL};
    env_t benv = {bad};
    ASSERT_EQ_INT(BH_EINVAL, rt_flags_load_env(f, fake_getenv, &benv, err, sizeof err));
    ASSERT(strstr(err, "REALTIME_ROLLOUT_PERCENT") != NULL);
    rt_flags_free(f);
}

TEST(json_updates_are_all_or_nothing)
{
    rt_flags_t *f = rt_flags_new();
    char err[256];
    json_t *changed = NULL;
    json_t *u = json_pack("{s:i,s:b}", "REALTIME_ROLLOUT_PERCENT", 50, "FINANCE_REALTIME_V1", 1);
    ASSERT_EQ_INT(0, rt_flags_apply_json(f, u, err, sizeof err, &changed));
    ASSERT_EQ_INT(2, json_array_size(changed));
    json_decref(changed);
    json_decref(u);
    u = json_pack("{s:i,s:b}", "REALTIME_ROLLOUT_PERCENT", 60, "NOPE_FLAG", 1);
    ASSERT_EQ_INT(BH_EINVAL, rt_flags_apply_json(f, u, err, sizeof err, &changed));
    ASSERT(strstr(err, "NOPE_FLAG") != NULL);
    json_decref(u);
    u = json_pack("{s:s}", "REALTIME_STREAMING_V2", "yes");
    ASSERT_EQ_INT(BH_EINVAL, rt_flags_apply_json(f, u, err, sizeof err, &changed));
    json_decref(u);
    json_t *all = rt_flags_to_json(f);
    ASSERT_EQ_INT(50, json_integer_value(json_object_get(all, "REALTIME_ROLLOUT_PERCENT")));
    ASSERT(json_is_true(json_object_get(all, "FINANCE_REALTIME_V1")));
    ASSERT(json_is_false(json_object_get(all, "REPORTS_REALTIME_V1")));
    json_decref(all);
    rt_flags_free(f);
}

TEST(conditional_update_refuses_a_stale_version)
{
    rt_flags_t *f = rt_flags_new();
    char err[256];
    json_t *changed = NULL;
    rt_flag_values_t v;
    rt_flags_snapshot(f, &v);
    uint64_t seen = v.version;
    json_t *u = json_pack("{s:b}", "FINANCE_REALTIME_V1", 1);
    ASSERT_EQ_INT(0, rt_flags_apply_json(f, u, err, sizeof err, &changed)); /* a change meanwhile */
    json_decref(changed);
    json_decref(u);
    u = json_pack("{s:b}", "FINANCE_REALTIME_V1", 0); /* what a reload read before it */
    ASSERT_EQ_INT(BH_ECONFLICT, rt_flags_apply_json_if(f, u, seen, err, sizeof err, &changed));
    ASSERT(changed == NULL);
    json_t *all = rt_flags_to_json(f);
    ASSERT(json_is_true(json_object_get(all, "FINANCE_REALTIME_V1")));
    json_decref(all);
    rt_flags_snapshot(f, &v);
    ASSERT_EQ_INT(0, rt_flags_apply_json_if(f, u, v.version, err, sizeof err, &changed));
    ASSERT_EQ_INT(1, json_array_size(changed));
    json_decref(changed);
    json_decref(u);
    rt_flags_free(f);
}

TEST_MAIN(TEST_ENTRY(rollout_of_10_percent_picks_about_10_percent_and_is_sticky),
          TEST_ENTRY(raising_the_percentage_only_adds_users),
          TEST_ENTRY(whitelist_kill_switch_and_v1_services), TEST_ENTRY(env_names_are_the_seeds),
          TEST_ENTRY(conditional_update_refuses_a_stale_version),
          TEST_ENTRY(json_updates_are_all_or_nothing))
