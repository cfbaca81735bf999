/* finance.c: revenues and expenses (service "finance").
 *
 *   POST /finance/revenue              -> revenue_created
 *   POST /finance/expense              -> expense_created (pending)
 *   POST /finance/expense/{id}/approve -> expense_approved   (pending only, else 409)
 *   POST /finance/expense/{id}/reject  -> expense_rejected   (pending only, else 409)
 *   GET  /finance/revenues?propertyId=&limit=&before=
 *   GET  /finance/expenses?propertyId=&status=&limit=&before= */
#include "handlers/domain.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>

#define FINANCE_ROLES (DOMAIN_ROLES_MANAGEMENT | ROLE_BIT(ROLE_FINANCE))
/* Ten trillion minor units: far above any one hotel transaction, far below int64 overflow when
 * summed by reports. */
#define AMOUNT_MAX 10000000000000LL
#define LABEL_CHARS 64
#define DESC_CHARS 500

static const char *const expense_statuses[] = {"pending", "approved", "rejected", NULL};

static json_t *revenue_json(const store_revenue_t *r)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:s,s:s,s:o,s:o,s:I,s:o}", "id", (json_int_t)r->id, "orgId",
                     (json_int_t)r->org_id, "propertyId", (json_int_t)r->property_id, "amountCents",
                     (json_int_t)r->amount_cents, "currency", r->currency, "source", r->source,
                     "description", domain_json_text(r->description), "occurredAt",
                     domain_json_time(r->occurred_at), "createdBy", (json_int_t)r->created_by,
                     "createdAt", domain_json_time(r->created_at));
}

static json_t *expense_json(const store_expense_t *e)
{
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:I,s:o,s:o}", "id", (json_int_t)e->id,
        "orgId", (json_int_t)e->org_id, "propertyId", (json_int_t)e->property_id, "amountCents",
        (json_int_t)e->amount_cents, "currency", e->currency, "category", e->category,
        "description", domain_json_text(e->description), "status", e->status, "note",
        domain_json_text(e->note), "decidedBy", domain_json_id(e->decided_by), "decidedAt",
        domain_json_time(e->decided_at), "createdBy", (json_int_t)e->created_by, "createdAt",
        domain_json_time(e->created_at), "updatedAt", domain_json_time(e->updated_at));
}

/* ---- POST /finance/revenue ------------------------------------------------------------------ */

typedef struct revenue_op_s {
    domain_op_t op;
    store_revenue_t r;
} revenue_op_t;

static void revenue_create_work(store_t *st, domain_op_t *op)
{
    revenue_op_t *o = (revenue_op_t *)op;
    int rc = store_revenue_create(st, &o->r);
    if (rc != 0) {
        domain_fail_store(op, rc, "property", o->r.property_id);
        return;
    }
    domain_publish_answer(op, 201, RT_SVC_FINANCE, "revenue_created", o->r.property_id, "revenue",
                          revenue_json(&o->r));
}

void handlers_finance_revenue_create(http_req_t *req)
{
    revenue_op_t *o = domain_op_new(req, sizeof *o, FINANCE_ROLES, "record revenue");
    if (o == NULL) return;
    json_t *body = domain_body(req, 0);
    if (body == NULL) {
        domain_op_free(&o->op);
        return;
    }
    validate_t v;
    validate_init(&v, body);
    validate_id(&v, "propertyId", VALIDATE_REQUIRED, &o->r.property_id);
    validate_int(&v, "amountCents", VALIDATE_REQUIRED, 1, AMOUNT_MAX, &o->r.amount_cents);
    validate_currency(&v, "currency", "INR", o->r.currency);
    validate_string(&v, "source", VALIDATE_REQUIRED, 1, LABEL_CHARS, o->r.source,
                    sizeof o->r.source);
    validate_string(&v, "description", VALIDATE_MULTILINE, 0, DESC_CHARS, o->r.description,
                    sizeof o->r.description);
    validate_time(&v, "occurredAt", VALIDATE_OPTIONAL, &o->r.occurred_at);
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad || !domain_require_property(&o->op, o->r.property_id)) {
        domain_op_free(&o->op);
        return;
    }
    o->r.org_id = o->op.claims.org_id;
    o->r.created_by = o->op.claims.sub;
    domain_op_submit(&o->op, revenue_create_work);
}

/* ---- POST /finance/expense ------------------------------------------------------------------ */

typedef struct expense_op_s {
    domain_op_t op;
    store_expense_t e;
    int64_t id;
    const char *decision; /* "approved" / "rejected" */
    char note[STORE_DESC_MAX];
} expense_op_t;

static void expense_create_work(store_t *st, domain_op_t *op)
{
    expense_op_t *o = (expense_op_t *)op;
    int rc = store_expense_create(st, &o->e);
    if (rc != 0) {
        domain_fail_store(op, rc, "property", o->e.property_id);
        return;
    }
    domain_publish_answer(op, 201, RT_SVC_FINANCE, "expense_created", o->e.property_id, "expense",
                          expense_json(&o->e));
}

void handlers_finance_expense_create(http_req_t *req)
{
    expense_op_t *o = domain_op_new(req, sizeof *o, FINANCE_ROLES, "record expenses");
    if (o == NULL) return;
    json_t *body = domain_body(req, 0);
    if (body == NULL) {
        domain_op_free(&o->op);
        return;
    }
    validate_t v;
    validate_init(&v, body);
    validate_id(&v, "propertyId", VALIDATE_REQUIRED, &o->e.property_id);
    validate_int(&v, "amountCents", VALIDATE_REQUIRED, 1, AMOUNT_MAX, &o->e.amount_cents);
    validate_currency(&v, "currency", "INR", o->e.currency);
    validate_string(&v, "category", VALIDATE_REQUIRED, 1, LABEL_CHARS, o->e.category,
                    sizeof o->e.category);
    validate_string(&v, "description", VALIDATE_MULTILINE, 0, DESC_CHARS, o->e.description,
                    sizeof o->e.description);
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad || !domain_require_property(&o->op, o->e.property_id)) {
        domain_op_free(&o->op);
        return;
    }
    o->e.org_id = o->op.claims.org_id;
    o->e.created_by = o->op.claims.sub;
    domain_op_submit(&o->op, expense_create_work);
}

/* ---- POST /finance/expense/{id}/approve|reject ---------------------------------------------- */

static void expense_decide_work(store_t *st, domain_op_t *op)
{
    expense_op_t *o = (expense_op_t *)op;
    int64_t org = op->claims.org_id;
    /* Read first: the property decides whether this caller may act at all, and a caller without
     * access must not learn the expense's state from a 409. */
    int rc = store_expense_get(st, org, o->id, &o->e);
    if (rc != 0) {
        domain_fail_store(op, rc, "expense", o->id);
        return;
    }
    if (!domain_allows(op, o->e.property_id)) {
        domain_fail_property(op, o->e.property_id);
        return;
    }
    rc = store_expense_decide(st, org, o->id, o->decision, op->claims.sub, o->note, &o->e);
    if (rc == BH_ECONFLICT) {
        domain_fail(op, 409, "invalid_state", "expense %lld is %s; only pending expenses can be %s",
                    (long long)o->id, o->e.status, o->decision);
        return;
    }
    if (rc != 0) {
        domain_fail_store(op, rc, "expense", o->id);
        return;
    }
    int approved = strcmp(o->decision, "approved") == 0;
    domain_publish_answer(op, 200, RT_SVC_FINANCE,
                          approved ? "expense_approved" : "expense_rejected", o->e.property_id,
                          "expense", expense_json(&o->e));
}

static void expense_decide(http_req_t *req, const char *decision, const char *what)
{
    expense_op_t *o = domain_op_new(req, sizeof *o, FINANCE_ROLES, what);
    if (o == NULL) return;
    json_t *body = NULL;
    if (domain_path_id(req, &o->id) != 0 || (body = domain_body(req, 1)) == NULL) {
        domain_op_free(&o->op);
        return;
    }
    validate_t v;
    validate_init(&v, body);
    validate_string(&v, "note", VALIDATE_MULTILINE, 0, DESC_CHARS, o->note, sizeof o->note);
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad) {
        domain_op_free(&o->op);
        return;
    }
    o->decision = decision;
    domain_op_submit(&o->op, expense_decide_work);
}

void handlers_finance_expense_approve(http_req_t *req)
{
    expense_decide(req, "approved", "approve expenses");
}

void handlers_finance_expense_reject(http_req_t *req)
{
    expense_decide(req, "rejected", "reject expenses");
}

/* ---- GET /finance/revenues, /finance/expenses ----------------------------------------------- */

typedef struct finance_list_s {
    domain_op_t op;
    store_query_t q;
    char status[STORE_STATUS_MAX];
} finance_list_t;

static void revenue_list_work(store_t *st, domain_op_t *op)
{
    finance_list_t *o = (finance_list_t *)op;
    store_revenue_t *arr = NULL;
    size_t n = 0;
    int rc = store_revenue_list(st, &o->q, &arr, &n);
    if (rc != 0) {
        domain_fail_store(op, rc, "revenues", 0);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, revenue_json(&arr[i]));
    free(arr);
    domain_answer_list(op, items, o->q.limit - 1);
}

static void expense_list_work(store_t *st, domain_op_t *op)
{
    finance_list_t *o = (finance_list_t *)op;
    store_expense_t *arr = NULL;
    size_t n = 0;
    int rc = store_expense_list(st, &o->q, &arr, &n);
    if (rc != 0) {
        domain_fail_store(op, rc, "expenses", 0);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, expense_json(&arr[i]));
    free(arr);
    domain_answer_list(op, items, o->q.limit - 1);
}

/* Shared by both lists: statuses NULL means the list has no ?status=. */
static void finance_list(http_req_t *req, const char *const *statuses, domain_work_cb work)
{
    finance_list_t *o = domain_op_new(req, sizeof *o, FINANCE_ROLES, "read finance records");
    if (o == NULL) return;
    validate_t v;
    validate_init(&v, NULL);
    if (!domain_list_query(&o->op, &v, &o->q, statuses, o->status)) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, work);
}

void handlers_finance_revenue_list(http_req_t *req)
{
    finance_list(req, NULL, revenue_list_work);
}

void handlers_finance_expense_list(http_req_t *req)
{
    finance_list(req, expense_statuses, expense_list_work);
}
