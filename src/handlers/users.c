/* users.c: the organisation's users (service "users").
 *
 *   POST  /users        -> user_created (owner, admin; only an owner creates owners and admins)
 *   PATCH /users/{id}   -> user_updated (owner, admin; only an owner changes owners and admins)
 *   GET   /users?propertyId=&role=&limit=&before=   (owner, admin, manager)
 * Users are never sent with their password hash. Hashing (argon2id, tens of ms) runs in the work
 * function, on the thread pool. */
#include "handlers/domain.h"

#include "auth/password.h"
#include "core/err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define USER_WRITE_ROLES DOMAIN_ROLES_ADMIN
#define USER_READ_ROLES DOMAIN_ROLES_MANAGEMENT

static json_t *user_json(const store_user_t *u)
{
    json_t *j = handlers_user_json(u);
    json_object_set_new(j, "createdAt", domain_json_time(u->created_at));
    json_object_set_new(j, "updatedAt", domain_json_time(u->updated_at));
    return j;
}

/* Role names for validate_enum, from auth's own table so the two cannot drift. */
static void role_names(const char *names[ROLE__COUNT + 1])
{
    for (int i = 0; i < ROLE__COUNT; i++)
        names[i] = auth_role_name((auth_role_t)i);
    names[ROLE__COUNT] = NULL;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int is_privileged(auth_role_t r)
{
    return r == ROLE_OWNER || r == ROLE_ADMIN;
}

typedef struct user_op_s {
    domain_op_t op;
    store_user_t u; /* create: the new user; update: the result */
    char password[PASSWORD_MAX_LEN + 1];
    int64_t id;
    int64_t *property_ids; /* owned; the validated propertyIds */
    size_t n_properties;
    int properties_given; /* VALIDATE_SET (a list), VALIDATE_NULL (every property) or ABSENT */
    char name[STORE_NAME_MAX];
    int name_given;
    auth_role_t role;
    int role_given;
} user_op_t;

static void user_op_dispose(domain_op_t *op)
{
    user_op_t *o = (user_op_t *)op;
    sodium_memzero(o->password, sizeof o->password);
    free(o->property_ids);
    store_user_dispose(&o->u);
}

/* Validates the fields create and update share. */
static void validate_user_fields(validate_t *v, user_op_t *o, unsigned flags)
{
    const char *roles[ROLE__COUNT + 1];
    char role[32];
    role_names(roles);
    o->name_given = validate_string(v, "name", flags, 1, sizeof o->name - 1, o->name,
                                    sizeof o->name) == VALIDATE_SET;
    o->role_given = validate_enum(v, "role", flags, roles, role, sizeof role) == VALIDATE_SET;
    if (o->role_given) (void)auth_role_parse(role, &o->role);
    o->properties_given =
        validate_id_list(v, "propertyIds", AUTH_MAX_PROPERTIES, &o->property_ids, &o->n_properties);
}

/* The checks of who may grant what, on the loop: answers 403 and returns 0 if refused. On
 * create an absent propertyIds grants every property too; on update it changes nothing. */
static int may_grant(user_op_t *o, int creating)
{
    const auth_claims_t *c = &o->op.claims;
    int grants_all = o->properties_given == VALIDATE_NULL ||
                     (creating && o->properties_given == VALIDATE_ABSENT);
    if (o->role_given && is_privileged(o->role) && c->role != ROLE_OWNER) {
        http_respond_error(o->op.req, 403, "forbidden",
                           "only an owner may give the owner or admin role");
        return 0;
    }
    /* A caller limited to some properties cannot hand out more than it has. */
    if (!c->all_properties && grants_all) {
        http_respond_error(o->op.req, 403, "property_forbidden",
                           "only a caller with access to every property may grant it");
        return 0;
    }
    for (size_t i = 0; o->properties_given == VALIDATE_SET && i < o->n_properties; i++)
        if (!domain_require_property(&o->op, o->property_ids[i])) return 0;
    return 1;
}

static void fail_properties(domain_op_t *op)
{
    domain_fail(op, 400, "invalid_field",
                "propertyIds: every id must be a property of this organisation");
}

/* ---- POST /users ---------------------------------------------------------------------------- */

static void create_work(store_t *st, domain_op_t *op)
{
    user_op_t *o = (user_op_t *)op;
    int rc = password_hash(o->password, o->u.password_hash);
    sodium_memzero(o->password, sizeof o->password);
    if (rc != 0) {
        domain_fail(op, 500, "internal", "the password could not be hashed");
        return;
    }
    rc = store_user_create(st, &o->u);
    if (rc == BH_EEXIST) {
        domain_fail(op, 409, "already_exists", "email %s is already taken", o->u.email);
        return;
    }
    if (rc == BH_EINVAL) {
        fail_properties(op);
        return;
    }
    if (rc != 0) {
        domain_fail_store(op, rc, "organisation", o->u.org_id);
        return;
    }
    /* The hash stays out of the event and the answer: user_json never reads it, and it is
     * wiped here so that nothing later can. */
    sodium_memzero(o->u.password_hash, sizeof o->u.password_hash);
    domain_publish_answer(op, 201, RT_SVC_USERS, "user_created", 0, "user", user_json(&o->u));
}

void handlers_user_create(http_req_t *req)
{
    user_op_t *o = domain_op_new(req, sizeof *o, USER_WRITE_ROLES, "create users");
    if (o == NULL) return;
    o->op.dispose = user_op_dispose;
    store_user_init(&o->u);
    json_t *body = domain_body(req, 0);
    if (body == NULL) {
        domain_op_free(&o->op);
        return;
    }
    validate_t v;
    validate_init(&v, body);
    validate_email(&v, "email", VALIDATE_REQUIRED, o->u.email, sizeof o->u.email);
    validate_user_fields(&v, o, VALIDATE_REQUIRED);
    validate_string(&v, "password", VALIDATE_REQUIRED | VALIDATE_BYTES, PASSWORD_MIN_LEN,
                    PASSWORD_MAX_LEN, o->password, sizeof o->password);
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad || !may_grant(o, 1)) {
        domain_op_free(&o->op);
        return;
    }
    store_user_t *u = &o->u;
    u->org_id = o->op.claims.org_id;
    memcpy(u->name, o->name, sizeof u->name);
    u->role = o->role;
    u->all_properties = o->properties_given != VALIDATE_SET;
    /* Moved into the user, whose dispose frees them. Sorted, as the store reads them back, so
     * that this answer and a later GET agree. */
    if (!u->all_properties && o->n_properties > 0) {
        qsort(o->property_ids, o->n_properties, sizeof *o->property_ids, cmp_id);
        u->property_ids = o->property_ids;
        u->n_properties = o->n_properties;
        o->property_ids = NULL;
        o->n_properties = 0;
    }
    domain_op_submit(&o->op, create_work);
}

/* ---- PATCH /users/{id} ---------------------------------------------------------------------- */

static void update_work(store_t *st, domain_op_t *op)
{
    user_op_t *o = (user_op_t *)op;
    const auth_claims_t *c = &op->claims;
    int rc = store_user_get(st, c->org_id, o->id, &o->u);
    if (rc != 0) {
        domain_fail_store(op, rc, "user", o->id);
        return;
    }
    if (is_privileged(o->u.role) && c->role != ROLE_OWNER) {
        domain_fail(op, 403, "forbidden", "only an owner may change an owner or admin");
        return;
    }
    /* A caller limited to some properties manages only users who stay within them. */
    int inside = c->all_properties || !o->u.all_properties;
    for (size_t i = 0; inside && !c->all_properties && i < o->u.n_properties; i++)
        inside = auth_claims_has_property(c, o->u.property_ids[i]);
    if (!inside) {
        domain_fail(op, 403, "property_forbidden", "user %lld reaches properties outside yours",
                    (long long)o->id);
        return;
    }
    /* Demoting oneself could leave the organisation without an owner; someone else must. */
    if (o->role_given && o->u.id == c->sub && o->role != o->u.role) {
        domain_fail(op, 403, "forbidden", "you may not change your own role");
        return;
    }
    store_user_patch_t patch = {
        .name = o->name_given ? o->name : NULL,
        .set_role = o->role_given,
        .role = o->role,
        .set_properties = o->properties_given != VALIDATE_ABSENT,
        .all_properties = o->properties_given == VALIDATE_NULL,
        .property_ids = o->property_ids,
        .n_properties = o->n_properties,
    };
    rc = store_user_update(st, c->org_id, o->id, &patch, &o->u);
    if (rc == BH_EINVAL) {
        fail_properties(op);
        return;
    }
    if (rc != 0) {
        domain_fail_store(op, rc, "user", o->id);
        return;
    }
    sodium_memzero(o->u.password_hash, sizeof o->u.password_hash);
    domain_publish_answer(op, 200, RT_SVC_USERS, "user_updated", 0, "user", user_json(&o->u));
}

void handlers_user_update(http_req_t *req)
{
    user_op_t *o = domain_op_new(req, sizeof *o, USER_WRITE_ROLES, "update users");
    if (o == NULL) return;
    o->op.dispose = user_op_dispose;
    store_user_init(&o->u);
    json_t *body = NULL;
    if (domain_path_id(req, &o->id) != 0 || (body = domain_body(req, 0)) == NULL) {
        domain_op_free(&o->op);
        return;
    }
    validate_t v;
    validate_init(&v, body);
    validate_user_fields(&v, o, VALIDATE_OPTIONAL);
    if (!o->name_given && !o->role_given && o->properties_given == VALIDATE_ABSENT)
        validate_fail(&v, "body", "give at least one of name, role, propertyIds");
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad || !may_grant(o, 0)) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, update_work);
}

/* ---- GET /users ----------------------------------------------------------------------------- */

typedef struct user_list_s {
    domain_op_t op;
    store_query_t q;
    char role[32];
} user_list_t;

static void list_work(store_t *st, domain_op_t *op)
{
    user_list_t *o = (user_list_t *)op;
    store_user_t *arr = NULL;
    size_t n = 0;
    int rc = store_user_list(st, &o->q, &arr, &n);
    if (rc != 0) {
        domain_fail_store(op, rc, "users", 0);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, user_json(&arr[i]));
    store_user_list_free(arr, n);
    domain_answer_list(op, items, o->q.limit - 1);
}

void handlers_user_list(http_req_t *req)
{
    const char *roles[ROLE__COUNT + 1];
    user_list_t *o = domain_op_new(req, sizeof *o, USER_READ_ROLES, "list users");
    if (o == NULL) return;
    role_names(roles);
    validate_t v;
    validate_init(&v, NULL);
    /* The store's status filter is the role for users. */
    if (validate_query_enum(&v, req, "role", roles, o->role, sizeof o->role) == VALIDATE_SET)
        o->q.status = o->role;
    if (!domain_list_query(&o->op, &v, &o->q, NULL, NULL)) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, list_work);
}
