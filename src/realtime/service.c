#include "realtime/service.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

static const char *const names[RT_SVC__COUNT] = {
    "finance", "guest",     "staff",    "tasks",     "properties",
    "users",   "dashboard", "branding", "analytics", "reports",
};

int rt_service_parse(const char *name, rt_service_t *out)
{
    for (int i = 0; i < RT_SVC__COUNT; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (rt_service_t)i;
            return 0;
        }
    }
    return BH_EINVAL;
}

const char *rt_service_name(rt_service_t s)
{
    return (unsigned)s < RT_SVC__COUNT ? names[s] : "invalid";
}

#define R(role) (1u << (role))
#define ALL_HUMANS                                                                                \
    (R(ROLE_OWNER) | R(ROLE_ADMIN) | R(ROLE_MANAGER) | R(ROLE_FINANCE) | R(ROLE_FRONT_DESK) |     \
     R(ROLE_HOUSEKEEPING) | R(ROLE_STAFF))
#define MANAGEMENT (R(ROLE_OWNER) | R(ROLE_ADMIN) | R(ROLE_MANAGER))

void rt_policy_default(rt_policy_t *p)
{
    /* Who reads what, by default. The `service` role is a publisher, but may also subscribe to
     * everything (other platform services consuming the stream). */
    p->roles[RT_SVC_FINANCE] = MANAGEMENT | R(ROLE_FINANCE);
    p->roles[RT_SVC_GUEST] = MANAGEMENT | R(ROLE_FRONT_DESK);
    p->roles[RT_SVC_STAFF] = MANAGEMENT;
    p->roles[RT_SVC_TASKS] = ALL_HUMANS;
    p->roles[RT_SVC_PROPERTIES] = ALL_HUMANS;
    p->roles[RT_SVC_USERS] = R(ROLE_OWNER) | R(ROLE_ADMIN);
    p->roles[RT_SVC_DASHBOARD] = MANAGEMENT | R(ROLE_FINANCE);
    p->roles[RT_SVC_BRANDING] = ALL_HUMANS;
    p->roles[RT_SVC_ANALYTICS] = MANAGEMENT | R(ROLE_FINANCE);
    p->roles[RT_SVC_REPORTS] = MANAGEMENT | R(ROLE_FINANCE);
    for (int i = 0; i < RT_SVC__COUNT; i++) p->roles[i] |= R(ROLE_SERVICE);
}

int rt_policy_parse(rt_policy_t *p, const char *spec, char *err, size_t n)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf) {
        snprintf(err, n, "service role policy too long");
        return BH_EINVAL;
    }
    rt_policy_t out = *p;
    char *save = NULL;
    for (char *item = strtok_r(buf, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        while (*item == ' ') item++;
        if (*item == '\0') continue;
        char *eq = strchr(item, '=');
        if (eq == NULL) {
            snprintf(err, n, "'%s': expected service=role|role", item);
            return BH_EINVAL;
        }
        *eq = '\0';
        rt_service_t s;
        if (rt_service_parse(item, &s) != 0) {
            snprintf(err, n, "unknown service '%s'", item);
            return BH_EINVAL;
        }
        unsigned mask = 0;
        char *save2 = NULL;
        for (char *r = strtok_r(eq + 1, "|,", &save2); r; r = strtok_r(NULL, "|,", &save2)) {
            auth_role_t role;
            if (auth_role_parse(r, &role) != 0) {
                snprintf(err, n, "unknown role '%s' for %s", r, names[s]);
                return BH_EINVAL;
            }
            mask |= 1u << role;
        }
        out.roles[s] = mask;
    }
    *p = out;
    return 0;
}
