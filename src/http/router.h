/* router.h: method + path patterns with {name} parameters.
 *
 *   http_router_add(r, HTTP_M_GET, "/v2/documents/{id}", on_document_get);
 *
 * A pattern is a sequence of '/'-separated segments, each literal or "{name}" (one whole segment,
 * matching any non-empty value). Routes are tried in the order added; the first whose segments
 * all match wins. Matching is sans-I/O and allocation free: tested by feeding paths. */
#ifndef BH_HTTP_ROUTER_H
#define BH_HTTP_ROUTER_H

#include "http/http.h"

#include <stddef.h>

#define ROUTER_MAX_SEGMENTS 16
#define ROUTER_MAX_PARAMS 8

/* Route flags. */
enum {
    /* The handler runs as soon as the headers are complete, before the body, and takes the body
     * in chunks with http_req_body_stream() (uploads). max_body does not apply. */
    HTTP_ROUTE_STREAM_BODY = 1u << 0,
};

typedef struct http_route_match_s {
    http_handler_cb handler;
    unsigned flags;
    size_t n_params;
    const char *names[ROUTER_MAX_PARAMS]; /* borrowed from the router */
    const char *values[ROUTER_MAX_PARAMS]; /* point into the matched path, not terminated */
    size_t value_lens[ROUTER_MAX_PARAMS];
    unsigned allowed; /* on 405: bit (1 << method) for each method the path has */
} http_route_match_t;

http_router_t *http_router_new(void);
void http_router_free(http_router_t *r);
/* Returns 0, or BH_EINVAL for a malformed pattern (too many segments or params, bad braces). */
int http_router_add(http_router_t *r, http_method_t method, const char *pattern,
                    http_handler_cb handler);
/* The same, with HTTP_ROUTE_* flags. */
int http_router_add_flags(http_router_t *r, http_method_t method, const char *pattern,
                          http_handler_cb handler, unsigned flags);
/* Matches path[0..len) (no query). Returns 0 (found: m->handler set), BH_ENOTFOUND (no route
 * has this path), or BH_EDECLINED (the path exists, but not for this method: m->allowed set).
 * HEAD falls back to a GET route. */
int http_router_match(const http_router_t *r, http_method_t method, const char *path, size_t len,
                      http_route_match_t *m);
/* Writes "GET, POST" for a mask from a 405 match into out (size n). */
void http_router_allow_str(unsigned allowed, char *out, size_t n);

#endif
