/* domain_routes.c: routes of the domain endpoints that produce events. */
#include "handlers/handlers.h"

int handlers_register_domain(http_router_t *r)
{
    (void)r;
    return 0;
}
