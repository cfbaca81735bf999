/* guests.c: guest stays (service "guest").
 *
 *   POST /guests/checkin         -> guest_checked_in (status checked_in)
 *   POST /guests/{id}/checkout   -> guest_checked_out (checked-in guests only, else 409)
 *   GET  /guests?propertyId=&status=&limit=&before=
 *   GET  /guests/{id} */
#include "handlers/domain.h"

#include "core/err.h"

#include <stdlib.h>

#define GUEST_ROLES (DOMAIN_ROLES_MANAGEMENT | ROLE_BIT(ROLE_FRONT_DESK))
#define NAME_CHARS 128
#define ROOM_CHARS 16

static const char *const guest_statuses[] = {"checked_in", "checked_out", NULL};

static json_t *guest_json(const store_guest_t *g)
{
    return json_pack(
        "{s:I,s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:I,s:o,s:o}", "id", (json_int_t)g->id,
        "orgId", (json_int_t)g->org_id, "propertyId", (json_int_t)g->property_id, "name", g->name,
        "email", domain_json_text(g->email), "phone", domain_json_text(g->phone), "roomNumber",
        domain_json_text(g->room_number), "nights",
        g->nights ? json_integer(g->nights) : json_null(), "status", g->status, "checkedInAt",
        domain_json_time(g->checked_in_at), "checkedOutAt", domain_json_time(g->checked_out_at),
        "createdBy", (json_int_t)g->created_by, "createdAt", domain_json_time(g->created_at),
        "updatedAt", domain_json_time(g->updated_at));
}

typedef struct guest_op_s {
    domain_op_t op;
    store_guest_t g;
    int64_t id;
} guest_op_t;

/* ---- POST /guests/checkin ------------------------------------------------------------------- */

static void checkin_work(store_t *st, domain_op_t *op)
{
    guest_op_t *o = (guest_op_t *)op;
    int rc = store_guest_create(st, &o->g);
    if (rc != 0) {
        domain_fail_store(op, rc, "property", o->g.property_id);
        return;
    }
    domain_publish_answer(op, 201, RT_SVC_GUEST, "guest_checked_in", o->g.property_id, "guest",
                          guest_json(&o->g));
}

void handlers_guest_checkin(http_req_t *req)
{
    guest_op_t *o = domain_op_new(req, sizeof *o, GUEST_ROLES, "check guests in");
    if (o == NULL) return;
    json_t *body = domain_body(req, 0);
    if (body == NULL) {
        domain_op_free(&o->op);
        return;
    }
    store_guest_t *g = &o->g;
    int64_t nights = 0;
    validate_t v;
    validate_init(&v, body);
    validate_id(&v, "propertyId", VALIDATE_REQUIRED, &g->property_id);
    validate_string(&v, "name", VALIDATE_REQUIRED, 1, NAME_CHARS, g->name, sizeof g->name);
    validate_email(&v, "email", VALIDATE_OPTIONAL, g->email, sizeof g->email);
    validate_phone(&v, "phone", VALIDATE_OPTIONAL, g->phone, sizeof g->phone);
    validate_string(&v, "roomNumber", VALIDATE_OPTIONAL, 1, ROOM_CHARS, g->room_number,
                    sizeof g->room_number);
    validate_int(&v, "nights", VALIDATE_OPTIONAL, 1, 365, &nights);
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad || !domain_require_property(&o->op, g->property_id)) {
        domain_op_free(&o->op);
        return;
    }
    g->nights = (int)nights;
    g->org_id = o->op.claims.org_id;
    g->created_by = o->op.claims.sub;
    domain_op_submit(&o->op, checkin_work);
}

/* ---- POST /guests/{id}/checkout, GET /guests/{id} ------------------------------------------- */

/* Loads the guest into o->g and checks the caller's property access. Returns 1 to go on. */
static int load_guest(store_t *st, guest_op_t *o)
{
    int rc = store_guest_get(st, o->op.claims.org_id, o->id, &o->g);
    if (rc != 0) {
        domain_fail_store(&o->op, rc, "guest", o->id);
        return 0;
    }
    if (!domain_allows(&o->op, o->g.property_id)) {
        domain_fail_property(&o->op, o->g.property_id);
        return 0;
    }
    return 1;
}

static void checkout_work(store_t *st, domain_op_t *op)
{
    guest_op_t *o = (guest_op_t *)op;
    if (!load_guest(st, o)) return;
    int rc = store_guest_checkout(st, op->claims.org_id, o->id, &o->g);
    if (rc == BH_ECONFLICT) {
        domain_fail(op, 409, "invalid_state", "guest %lld is %s, not checked in", (long long)o->id,
                    o->g.status);
        return;
    }
    if (rc != 0) {
        domain_fail_store(op, rc, "guest", o->id);
        return;
    }
    domain_publish_answer(op, 200, RT_SVC_GUEST, "guest_checked_out", o->g.property_id, "guest",
                          guest_json(&o->g));
}

static void get_work(store_t *st, domain_op_t *op)
{
    guest_op_t *o = (guest_op_t *)op;
    if (load_guest(st, o)) domain_answer(op, 200, json_pack("{s:o}", "guest", guest_json(&o->g)));
}

/* Both take the guest id from the path and an optional (ignored) body. */
static void guest_by_id(http_req_t *req, const char *what, domain_work_cb work)
{
    guest_op_t *o = domain_op_new(req, sizeof *o, GUEST_ROLES, what);
    if (o == NULL) return;
    if (domain_path_id(req, &o->id) != 0) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, work);
}

void handlers_guest_checkout(http_req_t *req)
{
    guest_by_id(req, "check guests out", checkout_work);
}

void handlers_guest_get(http_req_t *req)
{
    guest_by_id(req, "read guests", get_work);
}

/* ---- GET /guests ---------------------------------------------------------------------------- */

typedef struct guest_list_s {
    domain_op_t op;
    store_query_t q;
    char status[STORE_STATUS_MAX];
} guest_list_t;

static void list_work(store_t *st, domain_op_t *op)
{
    guest_list_t *o = (guest_list_t *)op;
    store_guest_t *arr = NULL;
    size_t n = 0;
    int rc = store_guest_list(st, &o->q, &arr, &n);
    if (rc != 0) {
        domain_fail_store(op, rc, "guests", 0);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, guest_json(&arr[i]));
    free(arr);
    domain_answer_list(op, items, o->q.limit - 1);
}

void handlers_guest_list(http_req_t *req)
{
    guest_list_t *o = domain_op_new(req, sizeof *o, GUEST_ROLES, "read guests");
    if (o == NULL) return;
    validate_t v;
    validate_init(&v, NULL);
    if (!domain_list_query(&o->op, &v, &o->q, guest_statuses, o->status)) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, list_work);
}
