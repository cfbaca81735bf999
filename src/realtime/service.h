/* service.h: the ten event services and who may read them. */
#ifndef BH_REALTIME_SERVICE_H
#define BH_REALTIME_SERVICE_H

#include "auth/auth.h"

typedef enum {
    RT_SVC_FINANCE = 0,
    RT_SVC_GUEST,
    RT_SVC_STAFF,
    RT_SVC_TASKS,
    RT_SVC_PROPERTIES,
    RT_SVC_USERS,
    RT_SVC_DASHBOARD,
    RT_SVC_BRANDING,
    RT_SVC_ANALYTICS,
    RT_SVC_REPORTS,
    RT_SVC__COUNT
} rt_service_t;

/* Parses a service name ("finance", ...). Returns 0 or BH_EINVAL. */
int rt_service_parse(const char *name, rt_service_t *out);
const char *rt_service_name(rt_service_t s);

/* The read policy: one bit per role (1 << auth_role_t) for each service. The defaults are in
 * service.c (and docs/PROTOCOL.md); rt_policy_parse overrides them from a spec such as
 * "finance=owner|admin|finance;users=owner" (BELLHOP_SERVICE_ROLES). */
typedef struct rt_policy_s {
    unsigned roles[RT_SVC__COUNT];
} rt_policy_t;

void rt_policy_default(rt_policy_t *p);
/* Applies spec on top of p. Returns 0 or BH_EINVAL (err, size n, says where). */
int rt_policy_parse(rt_policy_t *p, const char *spec, char *err, size_t n);
static inline int rt_policy_allows(const rt_policy_t *p, rt_service_t s, auth_role_t r)
{
    return (unsigned)r < ROLE__COUNT && (p->roles[s] & (1u << r)) != 0;
}

#endif
