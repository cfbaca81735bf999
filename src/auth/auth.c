#include "auth/auth.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>

/* Indexed by auth_role_t; these are also the wire names in the "role" claim. */
static const char *const role_names[ROLE__COUNT] = {
    [ROLE_OWNER] = "owner",           [ROLE_ADMIN] = "admin",
    [ROLE_MANAGER] = "manager",       [ROLE_FINANCE] = "finance",
    [ROLE_FRONT_DESK] = "front_desk", [ROLE_HOUSEKEEPING] = "housekeeping",
    [ROLE_STAFF] = "staff",           [ROLE_SERVICE] = "service",
};

int auth_role_parse(const char *s, auth_role_t *out)
{
    if (s == NULL) return BH_EINVAL;
    /* Exact, case-sensitive match: a role is an authorisation decision, so "Owner" or "owner "
     * must not quietly become "owner". */
    for (int i = 0; i < ROLE__COUNT; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (auth_role_t)i;
            return 0;
        }
    }
    return BH_EINVAL;
}

const char *auth_role_name(auth_role_t role)
{
    if ((unsigned)role >= ROLE__COUNT) return "invalid";
    return role_names[role];
}

void auth_claims_init(auth_claims_t *c)
{
    memset(c, 0, sizeof *c);
    /* Zero would be ROLE_OWNER, the most powerful role; an out-of-range role makes claims that
     * were never filled in fail closed (jwt_sign rejects them, role checks match nothing). */
    c->role = ROLE__COUNT;
}

void auth_claims_dispose(auth_claims_t *c)
{
    free(c->property_ids);
    auth_claims_init(c);
}

int auth_claims_has_property(const auth_claims_t *c, int64_t property_id)
{
    if (c->all_properties) return 1;
    /* At most AUTH_MAX_PROPERTIES ids, checked once per request or subscription: a linear scan
     * is cheaper than keeping the list sorted. */
    for (size_t i = 0; i < c->n_properties; i++)
        if (c->property_ids[i] == property_id) return 1;
    return 0;
}
