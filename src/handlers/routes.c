/* routes.c: the one table of bellhop's HTTP routes. */
#include "handlers/handlers.h"

int handlers_register(http_router_t *r)
{
    static const struct {
        http_method_t method;
        const char *pattern;
        http_handler_cb handler;
    } routes[] = {
        {HTTP_M_GET, "/health", handlers_health_get},
        {HTTP_M_POST, "/auth/login", handlers_auth_login},
        {HTTP_M_GET, "/auth/me", handlers_auth_me},
        {HTTP_M_GET, "/v2/realtime/stream", handlers_realtime_stream},
        {HTTP_M_POST, "/v2/realtime/publish", handlers_realtime_publish},
        {HTTP_M_GET, "/v2/realtime/metrics", handlers_realtime_metrics},
        {HTTP_M_GET, "/metrics", handlers_prometheus},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = http_router_add(r, routes[i].method, routes[i].pattern, routes[i].handler);
        if (rc != 0) return rc;
    }
    int rc = handlers_register_domain(r);
    if (rc == 0) rc = handlers_register_flags(r);
    if (rc == 0) rc = handlers_register_uploads(r);
    if (rc == 0) rc = handlers_register_chat(r);
    return rc;
}
