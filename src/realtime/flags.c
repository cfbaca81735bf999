#include "realtime/flags.h"

#include "core/alloc.h"
#include "core/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

struct rt_flags_s {
    uv_mutex_t lock;
    rt_flag_values_t v;
};

rt_flags_t *rt_flags_new(void)
{
    rt_flags_t *f = xcalloc(1, sizeof *f);
    uv_mutex_init(&f->lock);
    f->v.streaming_v2 = 1;
    f->v.rollout_percent = 100;
    return f;
}

void rt_flags_free(rt_flags_t *f)
{
    if (f == NULL) return;
    uv_mutex_destroy(&f->lock);
    free(f);
}

/* "FINANCE_REALTIME_V1" -> the service, or -1. */
static int v1_service(const char *name)
{
    static const char suffix[] = "_REALTIME_V1";
    size_t n = strlen(name), sl = sizeof suffix - 1;
    if (n <= sl || strcmp(name + n - sl, suffix) != 0 || n - sl >= 16) return -1;
    char lower[16];
    for (size_t i = 0; i < n - sl; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    lower[n - sl] = '\0';
    rt_service_t s;
    return rt_service_parse(lower, &s) == 0 ? (int)s : -1;
}

static void v1_name(rt_service_t s, char *out, size_t n)
{
    const char *svc = rt_service_name(s);
    size_t i = 0;
    for (; svc[i] && i + 1 < n; i++) out[i] = (char)toupper((unsigned char)svc[i]);
    snprintf(out + i, n - i, "_REALTIME_V1");
}

static int parse_bool_str(const char *s, int *out)
{
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no") ||
             !strcasecmp(s, "off"))
        *out = 0;
    else
        return BH_EINVAL;
    return 0;
}

static int parse_id_list(const char *s, int64_t *out, size_t *n)
{
    size_t k = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p || v <= 0 || (*end && *end != ',' && *end != ' ')) return BH_EINVAL;
        if (k == FLAGS_WHITELIST_MAX) return BH_EINVAL;
        out[k++] = v;
        p = end;
    }
    *n = k;
    return 0;
}

/* Applies one flag to v; value is a JSON value (from the API) or a string (from the env). */
static int apply_one(rt_flag_values_t *v, const char *name, json_t *value, const char *str,
                     char *err, size_t n)
{
    int b;
    if (strcmp(name, "REALTIME_STREAMING_V2") == 0 || v1_service(name) >= 0) {
        if (value ? !json_is_boolean(value) : parse_bool_str(str, &b) != 0) {
            snprintf(err, n, "%s: expected true or false", name);
            return BH_EINVAL;
        }
        if (value) b = json_is_true(value);
        int s = v1_service(name);
        if (s < 0)
            v->streaming_v2 = b;
        else if (b)
            v->v1_services |= 1u << s;
        else
            v->v1_services &= ~(1u << s);
        return 0;
    }
    if (strcmp(name, "REALTIME_ROLLOUT_PERCENT") == 0) {
        long long p;
        if (value) {
            if (!json_is_integer(value)) goto bad_percent;
            p = json_integer_value(value);
        } else {
            char *end;
            errno = 0;
            p = strtoll(str, &end, 10);
            if (errno || end == str || *end) goto bad_percent;
        }
        if (p < 0 || p > 100) goto bad_percent;
        v->rollout_percent = (int)p;
        return 0;
    bad_percent:
        snprintf(err, n, "%s: expected an integer from 0 to 100", name);
        return BH_EINVAL;
    }
    int users = strcmp(name, "REALTIME_WHITELIST_USERS") == 0;
    if (users || strcmp(name, "REALTIME_WHITELIST_ORGS") == 0) {
        int64_t *ids = users ? v->users : v->orgs;
        size_t *count = users ? &v->n_users : &v->n_orgs;
        if (str) {
            if (parse_id_list(str, ids, count) != 0) goto bad_list;
            return 0;
        }
        if (!json_is_array(value) || json_array_size(value) > FLAGS_WHITELIST_MAX) goto bad_list;
        size_t i;
        json_t *x;
        json_array_foreach(value, i, x)
        {
            if (!json_is_integer(x) || json_integer_value(x) <= 0) goto bad_list;
            ids[i] = json_integer_value(x);
        }
        *count = json_array_size(value);
        return 0;
    bad_list:
        snprintf(err, n, "%s: expected a list of at most %d positive ids", name,
                 FLAGS_WHITELIST_MAX);
        return BH_EINVAL;
    }
    snprintf(err, n,
             "unknown flag '%.64s'; known: REALTIME_STREAMING_V2, REALTIME_ROLLOUT_PERCENT, "
             "REALTIME_WHITELIST_USERS, REALTIME_WHITELIST_ORGS, <SERVICE>_REALTIME_V1",
             name);
    return BH_EINVAL;
}

static const char *const plain_names[] = {"REALTIME_STREAMING_V2", "REALTIME_ROLLOUT_PERCENT",
                                          "REALTIME_WHITELIST_USERS", "REALTIME_WHITELIST_ORGS"};

static const char *env_default(const char *name, void *data)
{
    (void)data;
    return getenv(name);
}

int rt_flags_load_env(rt_flags_t *f, rt_flags_getenv_cb getenv_cb, void *data, char *err,
                      size_t n)
{
    if (getenv_cb == NULL) getenv_cb = env_default;
    uv_mutex_lock(&f->lock);
    rt_flag_values_t v = f->v;
    int rc = 0;
    for (size_t i = 0; i < 4 && rc == 0; i++) {
        const char *s = getenv_cb(plain_names[i], data);
        if (s) rc = apply_one(&v, plain_names[i], NULL, s, err, n);
    }
    for (int s = 0; s < RT_SVC__COUNT && rc == 0; s++) {
        char name[40];
        v1_name((rt_service_t)s, name, sizeof name);
        const char *val = getenv_cb(name, data);
        if (val) rc = apply_one(&v, name, NULL, val, err, n);
    }
    if (rc == 0) {
        v.version++;
        f->v = v;
    }
    uv_mutex_unlock(&f->lock);
    return rc;
}

static json_t *value_json(const rt_flag_values_t *v, const char *name)
{
    if (strcmp(name, "REALTIME_STREAMING_V2") == 0) return json_boolean(v->streaming_v2);
    if (strcmp(name, "REALTIME_ROLLOUT_PERCENT") == 0) return json_integer(v->rollout_percent);
    int users = strcmp(name, "REALTIME_WHITELIST_USERS") == 0;
    if (users || strcmp(name, "REALTIME_WHITELIST_ORGS") == 0) {
        json_t *a = json_array();
        size_t cnt = users ? v->n_users : v->n_orgs;
        for (size_t i = 0; i < cnt; i++)
            json_array_append_new(a, json_integer(users ? v->users[i] : v->orgs[i]));
        return a;
    }
    int s = v1_service(name);
    if (s >= 0) return json_boolean((v->v1_services >> s) & 1);
    return NULL;
}

static json_t *all_json(const rt_flag_values_t *v)
{
    json_t *o = json_object();
    for (size_t i = 0; i < 4; i++) json_object_set_new(o, plain_names[i], value_json(v, plain_names[i]));
    for (int s = 0; s < RT_SVC__COUNT; s++) {
        char name[40];
        v1_name((rt_service_t)s, name, sizeof name);
        json_object_set_new(o, name, value_json(v, name));
    }
    return o;
}

/* expect: NULL, or the version the set must still have (else BH_ECONFLICT, nothing changed). */
static int apply_json(rt_flags_t *f, json_t *update, const uint64_t *expect, char *err, size_t n,
                      json_t **changed)
{
    *changed = NULL;
    if (!json_is_object(update) || json_object_size(update) == 0) {
        snprintf(err, n, "expected a non-empty JSON object of flag names and values");
        return BH_EINVAL;
    }
    uv_mutex_lock(&f->lock);
    if (expect && f->v.version != *expect) {
        uv_mutex_unlock(&f->lock);
        snprintf(err, n, "the flags changed meanwhile");
        return BH_ECONFLICT;
    }
    rt_flag_values_t v = f->v;
    const char *name;
    json_t *value;
    json_object_foreach(update, name, value)
    {
        if (apply_one(&v, name, value, NULL, err, n) != 0) {
            uv_mutex_unlock(&f->lock);
            return BH_EINVAL;
        }
    }
    json_t *before = all_json(&f->v), *after = all_json(&v);
    *changed = json_array();
    json_object_foreach(after, name, value)
    {
        if (!json_equal(value, json_object_get(before, name)))
            json_array_append_new(*changed, json_string(name));
    }
    json_decref(before);
    json_decref(after);
    v.version++;
    f->v = v;
    uv_mutex_unlock(&f->lock);
    return 0;
}

int rt_flags_apply_json(rt_flags_t *f, json_t *update, char *err, size_t n, json_t **changed)
{
    return apply_json(f, update, NULL, err, n, changed);
}

int rt_flags_apply_json_if(rt_flags_t *f, json_t *update, uint64_t version, char *err, size_t n,
                           json_t **changed)
{
    return apply_json(f, update, &version, err, n, changed);
}

json_t *rt_flags_to_json(rt_flags_t *f)
{
    uv_mutex_lock(&f->lock);
    json_t *o = all_json(&f->v);
    uv_mutex_unlock(&f->lock);
    return o;
}

json_t *rt_flags_get_json(rt_flags_t *f, const char *name)
{
    uv_mutex_lock(&f->lock);
    json_t *o = value_json(&f->v, name);
    uv_mutex_unlock(&f->lock);
    return o;
}

void rt_flags_snapshot(rt_flags_t *f, rt_flag_values_t *out)
{
    uv_mutex_lock(&f->lock);
    *out = f->v;
    uv_mutex_unlock(&f->lock);
}

int rt_flags_bucket(int64_t user_id)
{
    /* splitmix64: well mixed, so consecutive ids spread evenly over the buckets. */
    uint64_t z = (uint64_t)user_id + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (int)(z % 100);
}

static int listed(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

int rt_flags_user_streams(const rt_flag_values_t *v, int64_t org_id, int64_t user_id)
{
    if (!v->streaming_v2) return 0;
    if (listed(v->orgs, v->n_orgs, org_id) || listed(v->users, v->n_users, user_id)) return 1;
    return rt_flags_bucket(user_id) < v->rollout_percent;
}

int rt_flags_service_streams(const rt_flag_values_t *v, int64_t org_id, int64_t user_id,
                             rt_service_t s)
{
    return rt_flags_user_streams(v, org_id, user_id) && !((v->v1_services >> s) & 1);
}
