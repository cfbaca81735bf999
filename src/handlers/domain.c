/* domain.c: the request plumbing the domain route groups share (see domain.h). */
#include "handlers/domain.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------------------------------------
 * Loop side */

void *domain_op_new(http_req_t *req, size_t size, unsigned roles, const char *what)
{
    domain_op_t *op = xcalloc(1, size);
    op->req = req;
    op->h = http_req_app(req);
    if (handlers_authenticate(req, &op->claims) != 0 ||
        !handlers_require_role(req, &op->claims, roles, what)) {
        auth_claims_dispose(&op->claims);
        free(op);
        return NULL;
    }
    return op;
}

void domain_op_free(domain_op_t *op)
{
    if (op->dispose) op->dispose(op);
    json_decref(op->body);
    auth_claims_dispose(&op->claims);
    free(op);
}

static void on_work(store_t *st, void *data)
{
    domain_op_t *op = data;
    op->work(st, op);
}

static void on_done(void *data, int status)
{
    domain_op_t *op = data;
    if (status != 0) {
        http_respond_error(op->req, 503, "unavailable", "the server is shutting down");
    } else if (op->body != NULL) {
        http_respond_json(op->req, op->status, op->body);
        op->body = NULL;
    } else if (op->code != NULL) {
        http_respond_error(op->req, op->status, op->code, "%s", op->message);
    } else {
        /* A work function that set no answer is a bug; still answer exactly once. */
        LOG_E("domain_no_answer", "req=%s", http_req_id(op->req));
        http_respond_error(op->req, 500, "internal", "the request was not answered");
    }
    domain_op_free(op);
}

void domain_op_submit(domain_op_t *op, domain_work_cb work)
{
    op->work = work;
    int rc = store_submit(op->h->store, http_req_loop(op->req), on_work, on_done, op);
    /* store_submit never calls back when it fails, so answering here is not a double answer. */
    if (rc != 0) on_done(op, rc);
}

json_t *domain_body(http_req_t *req, int optional)
{
    size_t len = 0;
    (void)http_req_body(req, &len);
    if (optional && len == 0) return json_object();
    return http_req_json_object(req);
}

int domain_path_id(http_req_t *req, int64_t *id)
{
    if (http_req_param_id(req, "id", id) == 0) return 0;
    http_respond_error(req, 404, "not_found", "no such record");
    return BH_ENOTFOUND;
}

int domain_require_property(domain_op_t *op, int64_t property_id)
{
    return handlers_require_property(op->req, &op->claims, property_id);
}

int domain_list_query(domain_op_t *op, validate_t *v, store_query_t *q, const char *const *statuses,
                      char status[STORE_STATUS_MAX])
{
    http_req_t *req = op->req;
    q->org_id = op->claims.org_id;
    q->all_properties = op->claims.all_properties;
    /* Borrowed from the claims, which live as long as the op. */
    q->scope = op->claims.property_ids;
    q->n_scope = op->claims.n_properties;
    validate_query_id(v, req, "propertyId", &q->property_id);
    if (statuses != NULL &&
        validate_query_enum(v, req, "status", statuses, status, STORE_STATUS_MAX) == VALIDATE_SET)
        q->status = status;
    validate_query_page(v, req, DOMAIN_PAGE_DEFAULT, DOMAIN_PAGE_MAX, &q->limit, &q->before_id);
    if (validate_respond(v, req)) return 0;
    if (q->property_id && !domain_require_property(op, q->property_id)) return 0;
    q->limit++;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Work-function side */

int domain_allows(const domain_op_t *op, int64_t property_id)
{
    return auth_claims_has_property(&op->claims, property_id);
}

static void fail_v(domain_op_t *op, int status, const char *code, const char *fmt, va_list ap)
{
    json_decref(op->body);
    op->body = NULL;
    op->status = status;
    op->code = code;
    vsnprintf(op->message, sizeof op->message, fmt, ap);
}

void domain_fail(domain_op_t *op, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(op, status, code, fmt, ap);
    va_end(ap);
}

void domain_fail_property(domain_op_t *op, int64_t property_id)
{
    /* Same words as handlers_require_property, which answers the checks made on the loop. */
    domain_fail(op, 403, "property_forbidden", "no access to property %lld",
                (long long)property_id);
}

void domain_fail_store(domain_op_t *op, int rc, const char *what, int64_t id)
{
    switch (rc) {
    case BH_ENOTFOUND:
        if (id > 0)
            domain_fail(op, 404, "not_found", "%s %lld not found", what, (long long)id);
        else
            domain_fail(op, 404, "not_found", "%s not found", what);
        break;
    case BH_ECONFLICT:
        domain_fail(op, 409, "invalid_state", "%s %lld is not in a state that allows this", what,
                    (long long)id);
        break;
    case BH_EEXIST:
        domain_fail(op, 409, "already_exists", "%s already exists", what);
        break;
    case BH_EINVAL:
        domain_fail(op, 400, "invalid_field", "%s: refers to something that does not exist", what);
        break;
    default:
        domain_fail(op, 503, "store_unavailable", "the store could not be reached");
        break;
    }
}

void domain_answer(domain_op_t *op, int status, json_t *body)
{
    json_decref(op->body);
    op->status = status;
    op->body = body;
}

void domain_publish_answer(domain_op_t *op, int status, rt_service_t svc, const char *type,
                           int64_t property_id, const char *name, json_t *record)
{
    json_t *event = json_null();
    int64_t offset = 0;
    int rc = BH_EINVAL;
    if (op->h->hub != NULL) {
        rt_event_in_t ev = {.org_id = op->claims.org_id,
                            .service = svc,
                            .type = type,
                            .property_id = property_id,
                            .data = record};
        rc = rt_hub_publish(op->h->hub, &ev, &offset);
    }
    if (rc == 0) {
        json_decref(event);
        event = json_pack("{s:s,s:s,s:I}", "service", rt_service_name(svc), "type", type, "offset",
                          (json_int_t)offset);
    } else {
        LOG_E("event_publish_failed", "req=%s service=%s type=%s org=%lld err=%s",
              http_req_id(op->req), rt_service_name(svc), type, (long long)op->claims.org_id,
              op->h->hub ? err_str(rc) : "no_hub");
    }
    domain_answer(op, status, json_pack("{s:o,s:o}", name, record, "event", event));
}

void domain_answer_list(domain_op_t *op, json_t *items, size_t limit)
{
    json_t *next = json_null();
    if (json_array_size(items) > limit) {
        json_array_remove(items, limit);
        json_t *last = json_object_get(json_array_get(items, limit - 1), "id");
        json_decref(next);
        next = json_integer(json_integer_value(last));
    }
    domain_answer(op, 200, json_pack("{s:o,s:o}", "items", items, "nextBefore", next));
}

/* ---------------------------------------------------------------------------------------------
 * JSON spellings */

json_t *domain_json_time(int64_t unix_ms)
{
    char buf[32];
    if (unix_ms == 0) return json_null();
    clock_iso8601_ms(unix_ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *domain_json_id(int64_t id)
{
    return id != 0 ? json_integer(id) : json_null();
}

json_t *domain_json_text(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}
