/* fuzz_app_json: JSON bodies and query strings of the REST endpoints, through the real handlers
 * (app.h), with the framing always right so that every input reaches the handler.
 *
 * fuzz_app_http mutates whole requests, where most mutations break Content-Length or the request
 * line before a body is ever parsed. Here byte 0 picks the endpoint, byte 1 the token (@T0..@T4),
 * and the rest is the body (sent with its exact Content-Length, as application/json) or, for the
 * list endpoints, the query string (percent-encoded, so the handler decodes arbitrary bytes). */
#include "app.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *method, *path;
} endpoints[] = {
    {"POST", "/finance/revenue"},         {"POST", "/finance/expense"},
    {"POST", "/finance/expense/1/approve"}, {"POST", "/finance/expense/1/reject"},
    {"POST", "/guests/checkin"},          {"POST", "/guests/1/checkout"},
    {"POST", "/tasks"},                   {"PATCH", "/tasks/1"},
    {"POST", "/tasks/1/status"},          {"POST", "/tasks/1/assign"},
    {"POST", "/properties"},              {"PATCH", "/properties/1"},
    {"POST", "/users"},                   {"PATCH", "/users/2"},
    {"POST", "/v2/realtime/publish"},     {"POST", "/feature-flags"},
    {"GET", "/finance/revenues"},         {"GET", "/finance/expenses"},
    {"GET", "/guests"},                   {"GET", "/tasks"},
    {"GET", "/properties"},               {"GET", "/users"},
    {"GET", "/v1/realtime/finance/poll"}, {"GET", "/v2/documents"},
};
#define N_ENDPOINTS (sizeof endpoints / sizeof endpoints[0])

int fuzz_app_json_one(const uint8_t *data, size_t size);
int fuzz_app_json_one(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    fz_app_init();
    size_t e = data[0] % N_ENDPOINTS;
    const char *tok = fz_app_token(data[1] % FZ_APP_TOKENS);
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    buf_t b = BUF_INIT;
    if (strcmp(endpoints[e].method, "GET") == 0) {
        static const char hex[] = "0123456789ABCDEF";
        buf_appendf(&b, "GET %s?", endpoints[e].path);
        for (size_t i = 0; i < n; i++) {
            uint8_t c = p[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '=' || c == '&' || c == '-' || c == '_' || c == '.' || c == '%' || c == '+') {
                buf_appendc(&b, (char)c);
            } else {
                buf_appendc(&b, '%');
                buf_appendc(&b, hex[c >> 4]);
                buf_appendc(&b, hex[c & 15]);
            }
        }
        buf_appendf(&b, " HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer %s\r\n\r\n", tok);
    } else {
        buf_appendf(&b,
                    "%s %s HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer %s\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                    endpoints[e].method, endpoints[e].path, tok, n);
        buf_append(&b, p, n);
    }
    fz_net_t *fz = fz_app_net();
    net_conn_t *c = fz_net_open(fz);
    fz_net_feed(fz, c, (const uint8_t *)b.data, b.len, 0);
    fz_net_end(fz, c);
    buf_dispose(&b);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_app_json_one(data, size);
}
#endif
