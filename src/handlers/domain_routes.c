/* domain_routes.c: routes of the domain endpoints that produce events (see docs/PROTOCOL.md).
 * The handlers live in one file per service: finance.c, guests.c, tasks.c, properties.c,
 * users.c. */
#include "handlers/domain.h"

int handlers_register_domain(http_router_t *r)
{
    static const struct {
        http_method_t method;
        const char *pattern;
        http_handler_cb handler;
    } routes[] = {
        {HTTP_M_POST, "/finance/revenue", handlers_finance_revenue_create},
        {HTTP_M_GET, "/finance/revenues", handlers_finance_revenue_list},
        {HTTP_M_POST, "/finance/expense", handlers_finance_expense_create},
        {HTTP_M_POST, "/finance/expense/{id}/approve", handlers_finance_expense_approve},
        {HTTP_M_POST, "/finance/expense/{id}/reject", handlers_finance_expense_reject},
        {HTTP_M_GET, "/finance/expenses", handlers_finance_expense_list},

        {HTTP_M_POST, "/guests/checkin", handlers_guest_checkin},
        {HTTP_M_POST, "/guests/{id}/checkout", handlers_guest_checkout},
        {HTTP_M_GET, "/guests", handlers_guest_list},
        {HTTP_M_GET, "/guests/{id}", handlers_guest_get},

        {HTTP_M_POST, "/tasks", handlers_task_create},
        {HTTP_M_GET, "/tasks", handlers_task_list},
        {HTTP_M_GET, "/tasks/{id}", handlers_task_get},
        {HTTP_M_PATCH, "/tasks/{id}", handlers_task_status},
        {HTTP_M_POST, "/tasks/{id}/status", handlers_task_status},
        {HTTP_M_POST, "/tasks/{id}/assign", handlers_task_assign},

        {HTTP_M_POST, "/properties", handlers_property_create},
        {HTTP_M_GET, "/properties", handlers_property_list},
        {HTTP_M_PATCH, "/properties/{id}", handlers_property_update},

        {HTTP_M_POST, "/users", handlers_user_create},
        {HTTP_M_GET, "/users", handlers_user_list},
        {HTTP_M_PATCH, "/users/{id}", handlers_user_update},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = http_router_add(r, routes[i].method, routes[i].pattern, routes[i].handler);
        if (rc != 0) return rc;
    }
    return 0;
}
