/* domain.h: what the domain route groups share (finance.c, guests.c, tasks.c, properties.c,
 * users.c): their handlers, and the plumbing of one request through the thread pool.
 *
 * Every domain endpoint runs the same way:
 *   1. on the loop: domain_op_new authenticates and checks the role, the handler checks the path
 *      id, the property access it can know already and the body (validate.h), then
 *      domain_op_submit;
 *   2. on the thread pool, its work function does the store calls, checks what needs the stored
 *      record (its property, its state), and publishes the event; it ends by setting the answer
 *      with domain_answer, domain_publish_answer, or one of the domain_fail* calls;
 *   3. back on the loop, the answer is sent and the op freed (its dispose callback first).
 *
 * An endpoint's state is a struct whose FIRST member is a domain_op_t. */
#ifndef BH_HANDLERS_DOMAIN_H
#define BH_HANDLERS_DOMAIN_H

#include "handlers/handlers.h"
#include "handlers/validate.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct domain_op_s domain_op_t;
typedef void (*domain_work_cb)(store_t *st, domain_op_t *op);
typedef void (*domain_dispose_cb)(domain_op_t *op);

struct domain_op_s {
    http_req_t *req;
    hctx_t *h;
    auth_claims_t claims;      /* owned */
    domain_dispose_cb dispose; /* may be NULL: frees what the endpoint added */
    domain_work_cb work;
    /* The answer, set by the work function: body (a new reference) on success, else status,
     * code and message. */
    int status;
    json_t *body;
    const char *code;
    char message[256];
};

/* Role sets. The `service` role (a machine publisher) is authorised like admin, never as owner. */
#define DOMAIN_ROLES_ADMIN (ROLE_BIT(ROLE_OWNER) | ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_SERVICE))
#define DOMAIN_ROLES_MANAGEMENT (DOMAIN_ROLES_ADMIN | ROLE_BIT(ROLE_MANAGER))
#define DOMAIN_ROLES_ALL ((1u << ROLE__COUNT) - 1u)

/* List pages: ?limit= default and maximum. */
#define DOMAIN_PAGE_DEFAULT 50
#define DOMAIN_PAGE_MAX 200

/* Authenticates req and checks that its role is in roles (what names the action for the 403).
 * Returns a new zeroed op of size bytes (>= sizeof(domain_op_t)) with req, h and claims set, or
 * NULL after answering 401/403. */
void *domain_op_new(http_req_t *req, size_t size, unsigned roles, const char *what);
/* Frees an op that was never submitted (after answering, e.g. a 400). Runs dispose. */
void domain_op_free(domain_op_t *op);
/* Runs work on the thread pool, then answers. Takes op on every path. */
void domain_op_submit(domain_op_t *op, domain_work_cb work);

/* The request body as a JSON object (new reference), or NULL after answering 400/415. With
 * optional, an empty body reads as {} whatever its content type. */
json_t *domain_body(http_req_t *req, int optional);
/* The {id} path parameter; answers 404 not_found and returns BH_ENOTFOUND when it is not a
 * positive integer (no such record can exist). */
int domain_path_id(http_req_t *req, int64_t *id);
/* Answers 403 property_forbidden unless the claims reach property_id: returns 1 if they do. For
 * the loop side; in a work function use domain_fail_property. */
int domain_require_property(domain_op_t *op, int64_t property_id);
/* Parses a list's query into q: the caller's org and property scope from the claims, then
 * ?propertyId=, ?status= (only when statuses is not NULL; the value is kept in status),
 * ?limit= (default DOMAIN_PAGE_DEFAULT, at most DOMAIN_PAGE_MAX) and ?before=. Then answers 400
 * for the first failure in v (which may hold the caller's own checks) or 403 for a propertyId
 * out of reach. Returns 1 to go on, with q->limit one more than asked (domain_answer_list drops
 * the extra row, which only says that there is a next page); other fields of q are untouched. */
int domain_list_query(domain_op_t *op, validate_t *v, store_query_t *q, const char *const *statuses,
                      char status[STORE_STATUS_MAX]);

/* Work-function side. */
int domain_allows(const domain_op_t *op, int64_t property_id);
void domain_fail(domain_op_t *op, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void domain_fail_property(domain_op_t *op, int64_t property_id);
/* Maps a store error: BH_ENOTFOUND -> 404 not_found ("<what> <id> not found"), BH_ECONFLICT ->
 * 409 invalid_state, BH_EEXIST -> 409 already_exists, BH_EINVAL -> 400 invalid_field (a bad
 * reference the validation could not see), else 503 store_unavailable. */
void domain_fail_store(domain_op_t *op, int rc, const char *what, int64_t id);
void domain_answer(domain_op_t *op, int status, json_t *body);
/* Publishes {org from the claims, svc, type, property_id, data: record} on the hub, then answers
 * status with {"<name>": record, "event": {"service","type","offset"}}. record is stolen. If the
 * hub refuses, the record (already stored) is still answered, with "event": null, and the failure
 * is logged: the write must not be reported as failed, or a retry would duplicate it. */
void domain_publish_answer(domain_op_t *op, int status, rt_service_t svc, const char *type,
                           int64_t property_id, const char *name, json_t *record);
/* Answers 200 {"items": items, "nextBefore": id|null}; items is stolen and holds up to limit + 1
 * records (the extra one, dropped here, says that there is a next page). */
void domain_answer_list(domain_op_t *op, json_t *items, size_t limit);

/* JSON spellings shared by every record (new references). */
json_t *domain_json_time(int64_t unix_ms); /* ISO-8601 UTC with ms, or null for 0 */
json_t *domain_json_id(int64_t id);        /* integer, or null for 0 */
json_t *domain_json_text(const char *s);   /* string, or null for "" */

/* ---- handlers ------------------------------------------------------------------------------- */

void handlers_finance_revenue_create(http_req_t *req);
void handlers_finance_revenue_list(http_req_t *req);
void handlers_finance_expense_create(http_req_t *req);
void handlers_finance_expense_approve(http_req_t *req);
void handlers_finance_expense_reject(http_req_t *req);
void handlers_finance_expense_list(http_req_t *req);

void handlers_guest_checkin(http_req_t *req);
void handlers_guest_checkout(http_req_t *req);
void handlers_guest_list(http_req_t *req);
void handlers_guest_get(http_req_t *req);

void handlers_task_create(http_req_t *req);
void handlers_task_assign(http_req_t *req);
void handlers_task_status(http_req_t *req);
void handlers_task_list(http_req_t *req);
void handlers_task_get(http_req_t *req);

void handlers_property_create(http_req_t *req);
void handlers_property_update(http_req_t *req);
void handlers_property_list(http_req_t *req);

void handlers_user_create(http_req_t *req);
void handlers_user_update(http_req_t *req);
void handlers_user_list(http_req_t *req);

#endif
