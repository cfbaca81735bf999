/* properties.c: the organisation's properties (service "properties").
 *
 *   POST  /properties        -> property_created (owner, admin)
 *   PATCH /properties/{id}   -> property_updated (owner, admin; partial)
 *   GET   /properties        (every role; only the properties the caller may see) */
#include "handlers/domain.h"

#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>

static json_t *property_json(const store_property_t *p)
{
    return json_pack("{s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)p->id, "orgId",
                     (json_int_t)p->org_id, "name", p->name, "address",
                     domain_json_text(p->address), "city", domain_json_text(p->city), "country",
                     domain_json_text(p->country), "timezone", domain_json_text(p->timezone),
                     "createdAt", domain_json_time(p->created_at), "updatedAt",
                     domain_json_time(p->updated_at));
}

typedef struct property_op_s {
    domain_op_t op;
    store_property_t p; /* create: the new property; update: the new values, then the result */
    store_property_patch_t patch;
    int64_t id;
} property_op_t;

/* Validates the property fields of body into p; with partial, records which were given in
 * patch (pointing into p). The array sizes bound the byte lengths; the character limits are
 * the same numbers, so ASCII text may use every byte. Returns the number of fields given. */
static int validate_fields(validate_t *v, store_property_t *p, store_property_patch_t *patch,
                           unsigned name_flags)
{
    int n = 0;
    if (validate_string(v, "name", name_flags, 1, sizeof p->name - 1, p->name, sizeof p->name) ==
        VALIDATE_SET)
        patch->name = p->name, n++;
    if (validate_string(v, "address", VALIDATE_OPTIONAL, 0, sizeof p->address - 1, p->address,
                        sizeof p->address) == VALIDATE_SET)
        patch->address = p->address, n++;
    if (validate_string(v, "city", VALIDATE_OPTIONAL, 0, sizeof p->city - 1, p->city,
                        sizeof p->city) == VALIDATE_SET)
        patch->city = p->city, n++;
    if (validate_string(v, "country", VALIDATE_OPTIONAL, 0, sizeof p->country - 1, p->country,
                        sizeof p->country) == VALIDATE_SET)
        patch->country = p->country, n++;
    if (validate_timezone(v, "timezone", VALIDATE_OPTIONAL, p->timezone, sizeof p->timezone) ==
        VALIDATE_SET)
        patch->timezone = p->timezone, n++;
    return n;
}

/* ---- POST /properties ----------------------------------------------------------------------- */

static void create_work(store_t *st, domain_op_t *op)
{
    property_op_t *o = (property_op_t *)op;
    int rc = store_property_create(st, &o->p);
    if (rc != 0) {
        /* The only reference is the organisation (a token for an org that does not exist). */
        domain_fail_store(op, rc, "organisation", o->p.org_id);
        return;
    }
    domain_publish_answer(op, 201, RT_SVC_PROPERTIES, "property_created", o->p.id, "property",
                          property_json(&o->p));
}

void handlers_property_create(http_req_t *req)
{
    property_op_t *o = domain_op_new(req, sizeof *o, DOMAIN_ROLES_ADMIN, "create properties");
    if (o == NULL) return;
    json_t *body = domain_body(req, 0);
    if (body == NULL) {
        domain_op_free(&o->op);
        return;
    }
    validate_t v;
    validate_init(&v, body);
    validate_fields(&v, &o->p, &o->patch, VALIDATE_REQUIRED);
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad) {
        domain_op_free(&o->op);
        return;
    }
    o->p.org_id = o->op.claims.org_id;
    domain_op_submit(&o->op, create_work);
}

/* ---- PATCH /properties/{id} ----------------------------------------------------------------- */

static void update_work(store_t *st, domain_op_t *op)
{
    property_op_t *o = (property_op_t *)op;
    store_property_t out;
    int rc = store_property_update(st, op->claims.org_id, o->id, &o->patch, &out);
    if (rc != 0) {
        domain_fail_store(op, rc, "property", o->id);
        return;
    }
    domain_publish_answer(op, 200, RT_SVC_PROPERTIES, "property_updated", out.id, "property",
                          property_json(&out));
}

void handlers_property_update(http_req_t *req)
{
    property_op_t *o = domain_op_new(req, sizeof *o, DOMAIN_ROLES_ADMIN, "update properties");
    if (o == NULL) return;
    json_t *body = NULL;
    if (domain_path_id(req, &o->id) != 0 || !domain_require_property(&o->op, o->id) ||
        (body = domain_body(req, 0)) == NULL) {
        domain_op_free(&o->op);
        return;
    }
    validate_t v;
    validate_init(&v, body);
    if (validate_fields(&v, &o->p, &o->patch, VALIDATE_OPTIONAL) == 0)
        validate_fail(&v, "body", "give at least one of name, address, city, country, timezone");
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, update_work);
}

/* ---- GET /properties ------------------------------------------------------------------------ */

static void list_work(store_t *st, domain_op_t *op)
{
    store_property_t *arr = NULL;
    size_t n = 0;
    int rc = store_property_list(st, op->claims.org_id, &arr, &n);
    if (rc != 0) {
        domain_fail_store(op, rc, "properties", 0);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        if (domain_allows(op, arr[i].id)) json_array_append_new(items, property_json(&arr[i]));
    free(arr);
    /* An organisation has few properties: one page, in id order. */
    domain_answer_list(op, items, SIZE_MAX);
}

void handlers_property_list(http_req_t *req)
{
    domain_op_t *op = domain_op_new(req, sizeof *op, DOMAIN_ROLES_ALL, "read properties");
    if (op != NULL) domain_op_submit(op, list_work);
}
