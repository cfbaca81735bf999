#include "app/demo.h"

#include "auth/jwt.h"
#include "auth/password.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct demo_user_s {
    const char *email;
    const char *name;
    auth_role_t role;
    int64_t properties[3]; /* 0-terminated; all zero = every property */
} demo_user_t;

static const demo_user_t demo_users[] = {
    {"owner@demo.bellhop.dev", "Asha Owner", ROLE_OWNER, {0}},
    {"admin@demo.bellhop.dev", "Ravi Admin", ROLE_ADMIN, {0}},
    {"manager@demo.bellhop.dev", "Meera Manager", ROLE_MANAGER, {1, 2, 0}},
    {"finance@demo.bellhop.dev", "Farhan Finance", ROLE_FINANCE, {0}},
    {"frontdesk@demo.bellhop.dev", "Priya Front Desk", ROLE_FRONT_DESK, {1, 0}},
    {"housekeeping@demo.bellhop.dev", "Kiran Housekeeping", ROLE_HOUSEKEEPING, {1, 0}},
    {"staff@demo.bellhop.dev", "Sam Staff", ROLE_STAFF, {2, 0}},
};

static const struct {
    const char *name, *address, *city, *country;
} demo_properties[] = {
    {"Seaside Resort", "12 Beach Road", "Goa", "IN"},
    {"Mountain View Lodge", "4 Mall Road", "Manali", "IN"},
    {"City Center Hotel", "88 Marine Drive", "Mumbai", "IN"},
};

static int seed(store_t *st)
{
    int64_t org;
    int rc = store_org_create(st, 1, "Demo Hospitality Group", &org);
    if (rc != 0) return rc;
    for (size_t i = 0; i < sizeof demo_properties / sizeof demo_properties[0]; i++) {
        store_property_t p;
        memset(&p, 0, sizeof p);
        p.org_id = org;
        snprintf(p.name, sizeof p.name, "%s", demo_properties[i].name);
        snprintf(p.address, sizeof p.address, "%s", demo_properties[i].address);
        snprintf(p.city, sizeof p.city, "%s", demo_properties[i].city);
        snprintf(p.country, sizeof p.country, "%s", demo_properties[i].country);
        snprintf(p.timezone, sizeof p.timezone, "Asia/Kolkata");
        if ((rc = store_property_create(st, &p)) != 0) return rc;
        for (int k = 1; k <= 4; k++) {
            store_room_t r;
            memset(&r, 0, sizeof r);
            r.org_id = org;
            r.property_id = p.id;
            r.floor = 1 + (k - 1) / 2;
            snprintf(r.number, sizeof r.number, "%d%02d", r.floor, k);
            snprintf(r.type, sizeof r.type, "%s", k == 4 ? "suite" : "double");
            snprintf(r.status, sizeof r.status, "available");
            if ((rc = store_room_create(st, &r)) != 0) return rc;
        }
    }
    char hash[PASSWORD_HASH_MAX];
    if ((rc = password_hash(DEMO_PASSWORD, hash)) != 0) return rc;
    for (size_t i = 0; i < sizeof demo_users / sizeof demo_users[0]; i++) {
        const demo_user_t *d = &demo_users[i];
        store_user_t u;
        store_user_init(&u);
        u.org_id = org;
        snprintf(u.email, sizeof u.email, "%s", d->email);
        snprintf(u.name, sizeof u.name, "%s", d->name);
        u.role = d->role;
        snprintf(u.password_hash, sizeof u.password_hash, "%s", hash);
        int64_t props[3];
        size_t n = 0;
        while (n < 3 && d->properties[n]) props[n] = d->properties[n], n++;
        u.all_properties = n == 0;
        u.n_properties = n;
        u.property_ids = n ? props : NULL;
        rc = store_user_create(st, &u);
        u.property_ids = NULL; /* borrowed from the stack */
        u.n_properties = 0;
        store_user_dispose(&u);
        if (rc != 0) return rc;
    }
    return 0;
}

int demo_seed(store_t *st, const config_t *cfg, const uint8_t *key, size_t keylen, int port)
{
    store_org_t org;
    int rc = store_org_get(st, 1, &org);
    if (rc == BH_ENOTFOUND) {
        if ((rc = seed(st)) != 0) {
            LOG_E("demo_seed_failed", "err=%s", err_str(rc));
            return rc;
        }
        LOG_I("demo_seeded", "org=1");
    } else if (rc != 0) {
        return rc;
    }
    store_user_t owner;
    store_user_init(&owner);
    if ((rc = store_user_by_email(st, demo_users[0].email, &owner)) != 0) {
        store_user_dispose(&owner);
        LOG_W("demo_owner_missing", "email=%s", demo_users[0].email);
        return 0;
    }
    auth_claims_t c;
    auth_claims_init(&c);
    c.sub = owner.id;
    c.org_id = owner.org_id;
    c.role = owner.role;
    c.all_properties = 1;
    snprintf(c.name, sizeof c.name, "%s", owner.name);
    c.iat = c.nbf = clock_unix_s();
    c.exp = c.iat + cfg->token_ttl_s;
    char *token = NULL;
    rc = jwt_sign(&c, key, keylen, &token);
    auth_claims_dispose(&c);
    store_user_dispose(&owner);
    if (rc != 0) return rc;
    const char *host = strcmp(cfg->bind, "0.0.0.0") == 0 || strcmp(cfg->bind, "::") == 0
                           ? "localhost"
                           : cfg->bind;
    printf("\n  bellhop demo — organisation 1 \"Demo Hospitality Group\"\n\n");
    printf("  Logins (password: %s):\n", DEMO_PASSWORD);
    for (size_t i = 0; i < sizeof demo_users / sizeof demo_users[0]; i++)
        printf("    %-32s %s\n", demo_users[i].email, auth_role_name(demo_users[i].role));
    printf("\n  Console:  http://%s:%d/\n", host, port);
    printf("  Token (owner, valid %d s):\n\n    export TOKEN=%s\n\n", cfg->token_ttl_s, token);
    printf("  Try:      curl -H \"Authorization: Bearer $TOKEN\" http://%s:%d/auth/me\n\n", host,
           port);
    fflush(stdout);
    free(token);
    return 0;
}
