/* auth.h: roles and the claims a bellhop token carries.
 *
 * A token names one user of one organisation. Access to properties is a list of ids; an absent
 * list (all_properties = 1) means every property of the organisation. */
#ifndef BH_AUTH_AUTH_H
#define BH_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ROLE_OWNER = 0,
    ROLE_ADMIN,
    ROLE_MANAGER,
    ROLE_FINANCE,
    ROLE_FRONT_DESK,
    ROLE_HOUSEKEEPING,
    ROLE_STAFF,
    ROLE_SERVICE, /* a machine publisher: other platform services */
    ROLE__COUNT
} auth_role_t;

/* Parses a role name ("owner", "front_desk", ...). Returns 0 or BH_EINVAL. */
int auth_role_parse(const char *s, auth_role_t *out);
/* Returns the static name of a role ("invalid" for a value outside the enum). */
const char *auth_role_name(auth_role_t role);

#define AUTH_NAME_MAX 128
#define AUTH_MAX_PROPERTIES 1024

typedef struct auth_claims_s {
    int64_t sub;    /* user id */
    int64_t org_id; /* organisation id */
    auth_role_t role;
    char name[AUTH_NAME_MAX]; /* display name, "" when absent */
    int all_properties;       /* 1: no propertyIds claim, the user may see every property */
    size_t n_properties;
    int64_t *property_ids; /* owned by the claims; NULL when n_properties == 0 */
    int64_t iat, nbf, exp; /* seconds since the epoch; 0 when absent */
} auth_claims_t;

/* Sets c to empty claims that grant nothing: all_properties = 0, no property ids, name "", and
 * role = ROLE__COUNT (not a valid role, so claims never filled in fail closed rather than read
 * as ROLE_OWNER, which is 0). */
void auth_claims_init(auth_claims_t *c);
/* Frees c->property_ids and re-initialises c, so disposing twice is safe. */
void auth_claims_dispose(auth_claims_t *c);
/* Returns 1 if the claims allow property_id (always 1 when all_properties). */
int auth_claims_has_property(const auth_claims_t *c, int64_t property_id);

#endif
