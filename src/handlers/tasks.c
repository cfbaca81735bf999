/* tasks.c: operational tasks (service "tasks").
 *
 *   POST  /tasks                -> task_created (status open)
 *   POST  /tasks/{id}/assign    -> task_assigned ({"assigneeId": id}, or null to unassign)
 *   PATCH /tasks/{id}           -> task_status_changed ({"status": ...})
 *   POST  /tasks/{id}/status    -> task_status_changed (the same, for clients without PATCH)
 *   GET   /tasks?propertyId=&status=&assigneeId=&limit=&before=
 *   GET   /tasks/{id}
 * Every role may create tasks and move them along; only management assigns them. */
#include "handlers/domain.h"

#include "core/err.h"

#include <stdlib.h>

#define TASK_ROLES DOMAIN_ROLES_ALL
#define ASSIGN_ROLES DOMAIN_ROLES_MANAGEMENT
#define TITLE_CHARS 200
#define DESC_CHARS 500

static const char *const task_statuses[] = {"open", "in_progress", "done", "cancelled", NULL};
static const char *const task_priorities[] = {"low", "normal", "high", "urgent", NULL};

static json_t *task_json(const store_task_t *t)
{
    return json_pack("{s:I,s:I,s:I,s:s,s:o,s:o,s:s,s:s,s:o,s:I,s:o,s:o}", "id", (json_int_t)t->id,
                     "orgId", (json_int_t)t->org_id, "propertyId", (json_int_t)t->property_id,
                     "title", t->title, "description", domain_json_text(t->description),
                     "assigneeId", domain_json_id(t->assignee_id), "priority", t->priority,
                     "status", t->status, "dueAt", domain_json_time(t->due_at), "createdBy",
                     (json_int_t)t->created_by, "createdAt", domain_json_time(t->created_at),
                     "updatedAt", domain_json_time(t->updated_at));
}

typedef struct task_op_s {
    domain_op_t op;
    store_task_t t;
    int64_t id;
    int64_t assignee_id;
    char status[STORE_STATUS_MAX];
} task_op_t;

/* The store's BH_EINVAL after validation can only mean an assignee outside the organisation. */
static void fail_assignee(domain_op_t *op, int64_t assignee_id)
{
    domain_fail(op, 400, "invalid_field",
                "assigneeId: user %lld is not a user of this organisation", (long long)assignee_id);
}

/* ---- POST /tasks ---------------------------------------------------------------------------- */

static void create_work(store_t *st, domain_op_t *op)
{
    task_op_t *o = (task_op_t *)op;
    int rc = store_task_create(st, &o->t);
    if (rc == BH_EINVAL) {
        fail_assignee(op, o->t.assignee_id);
        return;
    }
    if (rc != 0) {
        domain_fail_store(op, rc, "property", o->t.property_id);
        return;
    }
    domain_publish_answer(op, 201, RT_SVC_TASKS, "task_created", o->t.property_id, "task",
                          task_json(&o->t));
}

void handlers_task_create(http_req_t *req)
{
    task_op_t *o = domain_op_new(req, sizeof *o, TASK_ROLES, "create tasks");
    if (o == NULL) return;
    json_t *body = domain_body(req, 0);
    if (body == NULL) {
        domain_op_free(&o->op);
        return;
    }
    store_task_t *t = &o->t;
    validate_t v;
    validate_init(&v, body);
    validate_id(&v, "propertyId", VALIDATE_REQUIRED, &t->property_id);
    validate_string(&v, "title", VALIDATE_REQUIRED, 1, TITLE_CHARS, t->title, sizeof t->title);
    validate_string(&v, "description", VALIDATE_MULTILINE, 0, DESC_CHARS, t->description,
                    sizeof t->description);
    validate_id(&v, "assigneeId", VALIDATE_OPTIONAL, &t->assignee_id);
    validate_enum(&v, "priority", VALIDATE_OPTIONAL, task_priorities, t->priority,
                  sizeof t->priority);
    validate_time(&v, "dueAt", VALIDATE_OPTIONAL, &t->due_at);
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad || !domain_require_property(&o->op, t->property_id)) {
        domain_op_free(&o->op);
        return;
    }
    /* The store fills the defaults: priority "normal", status "open". */
    t->org_id = o->op.claims.org_id;
    t->created_by = o->op.claims.sub;
    domain_op_submit(&o->op, create_work);
}

/* ---- by id: assign, status, get ------------------------------------------------------------- */

/* Loads the task into o->t and checks the caller's property access. Returns 1 to go on. */
static int load_task(store_t *st, task_op_t *o)
{
    int rc = store_task_get(st, o->op.claims.org_id, o->id, &o->t);
    if (rc != 0) {
        domain_fail_store(&o->op, rc, "task", o->id);
        return 0;
    }
    if (!domain_allows(&o->op, o->t.property_id)) {
        domain_fail_property(&o->op, o->t.property_id);
        return 0;
    }
    return 1;
}

static void assign_work(store_t *st, domain_op_t *op)
{
    task_op_t *o = (task_op_t *)op;
    if (!load_task(st, o)) return;
    int rc = store_task_assign(st, op->claims.org_id, o->id, o->assignee_id, &o->t);
    if (rc == BH_EINVAL) {
        fail_assignee(op, o->assignee_id);
        return;
    }
    if (rc != 0) {
        domain_fail_store(op, rc, "task", o->id);
        return;
    }
    domain_publish_answer(op, 200, RT_SVC_TASKS, "task_assigned", o->t.property_id, "task",
                          task_json(&o->t));
}

static void status_work(store_t *st, domain_op_t *op)
{
    task_op_t *o = (task_op_t *)op;
    if (!load_task(st, o)) return;
    int rc = store_task_set_status(st, op->claims.org_id, o->id, o->status, &o->t);
    if (rc != 0) {
        domain_fail_store(op, rc, "task", o->id);
        return;
    }
    domain_publish_answer(op, 200, RT_SVC_TASKS, "task_status_changed", o->t.property_id, "task",
                          task_json(&o->t));
}

static void get_work(store_t *st, domain_op_t *op)
{
    task_op_t *o = (task_op_t *)op;
    if (load_task(st, o)) domain_answer(op, 200, json_pack("{s:o}", "task", task_json(&o->t)));
}

/* Starts a by-id request: role, path id, and the body (NULL when has_body is 0). Returns the op,
 * or NULL after answering; *body is a new reference the caller validates and releases. */
static task_op_t *by_id(http_req_t *req, unsigned roles, const char *what, int has_body,
                        json_t **body)
{
    task_op_t *o = domain_op_new(req, sizeof *o, roles, what);
    if (o == NULL) return NULL;
    *body = NULL;
    if (domain_path_id(req, &o->id) != 0 || (has_body && (*body = domain_body(req, 0)) == NULL)) {
        domain_op_free(&o->op);
        return NULL;
    }
    return o;
}

void handlers_task_assign(http_req_t *req)
{
    json_t *body;
    task_op_t *o = by_id(req, ASSIGN_ROLES, "assign tasks", 1, &body);
    if (o == NULL) return;
    validate_t v;
    validate_init(&v, body);
    /* Required, but null is meaningful: it unassigns. */
    if (validate_id(&v, "assigneeId", VALIDATE_OPTIONAL, &o->assignee_id) == VALIDATE_ABSENT)
        validate_fail(&v, "assigneeId", "is required (a user id, or null to unassign)");
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, assign_work);
}

void handlers_task_status(http_req_t *req)
{
    json_t *body;
    task_op_t *o = by_id(req, TASK_ROLES, "update tasks", 1, &body);
    if (o == NULL) return;
    validate_t v;
    validate_init(&v, body);
    validate_enum(&v, "status", VALIDATE_REQUIRED, task_statuses, o->status, sizeof o->status);
    int bad = validate_respond(&v, req);
    json_decref(body);
    if (bad) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, status_work);
}

void handlers_task_get(http_req_t *req)
{
    json_t *body;
    task_op_t *o = by_id(req, TASK_ROLES, "read tasks", 0, &body);
    if (o != NULL) domain_op_submit(&o->op, get_work);
}

/* ---- GET /tasks ----------------------------------------------------------------------------- */

typedef struct task_list_s {
    domain_op_t op;
    store_query_t q;
    char status[STORE_STATUS_MAX];
} task_list_t;

static void list_work(store_t *st, domain_op_t *op)
{
    task_list_t *o = (task_list_t *)op;
    store_task_t *arr = NULL;
    size_t n = 0;
    int rc = store_task_list(st, &o->q, &arr, &n);
    if (rc != 0) {
        domain_fail_store(op, rc, "tasks", 0);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, task_json(&arr[i]));
    free(arr);
    domain_answer_list(op, items, o->q.limit - 1);
}

void handlers_task_list(http_req_t *req)
{
    task_list_t *o = domain_op_new(req, sizeof *o, TASK_ROLES, "read tasks");
    if (o == NULL) return;
    validate_t v;
    validate_init(&v, NULL);
    validate_query_id(&v, req, "assigneeId", &o->q.assignee_id);
    if (!domain_list_query(&o->op, &v, &o->q, task_statuses, o->status)) {
        domain_op_free(&o->op);
        return;
    }
    domain_op_submit(&o->op, list_work);
}
