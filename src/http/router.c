#include "http/router.h"

#include "core/alloc.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct segment_s {
    char *text; /* literal text, or the parameter name */
    size_t len;
    int is_param;
} segment_t;

typedef struct route_s {
    http_method_t method;
    unsigned flags;
    http_handler_cb handler;
    size_t n_segments;
    segment_t segments[ROUTER_MAX_SEGMENTS];
} route_t;

struct http_router_s {
    route_t *routes;
    size_t n, cap;
};

static const char *const method_names[] = {"OTHER", "GET",    "HEAD",   "POST",
                                           "PUT",   "PATCH",  "DELETE", "OPTIONS"};

http_router_t *http_router_new(void)
{
    return xcalloc(1, sizeof(http_router_t));
}

void http_router_free(http_router_t *r)
{
    if (r == NULL) return;
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->routes[i].n_segments; j++) free(r->routes[i].segments[j].text);
    free(r->routes);
    free(r);
}

/* Splits path[0..len) at '/' into at most max segments; a leading slash is required and a
 * trailing one ignored. Returns the count, or -1 if there are too many. */
static int split(const char *path, size_t len, const char **seg, size_t *seglen, int max)
{
    int n = 0;
    size_t i = 0;
    if (len == 0 || path[0] != '/') return -1;
    while (i < len) {
        while (i < len && path[i] == '/') i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && path[i] != '/') i++;
        if (n == max) return -1;
        seg[n] = path + start;
        seglen[n] = i - start;
        n++;
    }
    return n;
}

int http_router_add(http_router_t *r, http_method_t method, const char *pattern,
                    http_handler_cb handler)
{
    return http_router_add_flags(r, method, pattern, handler, 0);
}

int http_router_add_flags(http_router_t *r, http_method_t method, const char *pattern,
                          http_handler_cb handler, unsigned flags)
{
    const char *seg[ROUTER_MAX_SEGMENTS];
    size_t seglen[ROUTER_MAX_SEGMENTS];
    int n = split(pattern, strlen(pattern), seg, seglen, ROUTER_MAX_SEGMENTS);
    if (n < 0) return BH_EINVAL;
    route_t rt;
    memset(&rt, 0, sizeof rt);
    rt.method = method;
    rt.flags = flags;
    rt.handler = handler;
    size_t params = 0;
    for (int i = 0; i < n; i++) {
        const char *s = seg[i];
        size_t l = seglen[i];
        int is_param = l >= 2 && s[0] == '{' && s[l - 1] == '}';
        if (is_param) {
            s++;
            l -= 2;
            if (l == 0 || ++params > ROUTER_MAX_PARAMS) goto bad;
        }
        if (memchr(s, '{', l) || memchr(s, '}', l)) goto bad;
        rt.segments[i].text = xstrndup(s, l);
        rt.segments[i].len = l;
        rt.segments[i].is_param = is_param;
        rt.n_segments = (size_t)i + 1;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->routes = xrealloc(r->routes, r->cap * sizeof *r->routes);
    }
    r->routes[r->n++] = rt;
    return 0;
bad:
    for (size_t j = 0; j < rt.n_segments; j++) free(rt.segments[j].text);
    return BH_EINVAL;
}

static int route_matches(const route_t *rt, int n, const char **seg, const size_t *seglen,
                         http_route_match_t *m)
{
    if ((size_t)n != rt->n_segments) return 0;
    size_t p = 0;
    for (int i = 0; i < n; i++) {
        const segment_t *s = &rt->segments[i];
        if (s->is_param) {
            m->names[p] = s->text;
            m->values[p] = seg[i];
            m->value_lens[p] = seglen[i];
            p++;
        } else if (s->len != seglen[i] || memcmp(s->text, seg[i], s->len) != 0) {
            return 0;
        }
    }
    m->n_params = p;
    return 1;
}

int http_router_match(const http_router_t *r, http_method_t method, const char *path, size_t len,
                      http_route_match_t *m)
{
    const char *seg[ROUTER_MAX_SEGMENTS];
    size_t seglen[ROUTER_MAX_SEGMENTS];
    memset(m, 0, sizeof *m);
    int n = split(path, len, seg, seglen, ROUTER_MAX_SEGMENTS);
    if (n < 0) return BH_ENOTFOUND;
    const route_t *head_fallback = NULL;
    http_route_match_t tmp;
    for (size_t i = 0; i < r->n; i++) {
        const route_t *rt = &r->routes[i];
        memset(&tmp, 0, sizeof tmp);
        if (!route_matches(rt, n, seg, seglen, &tmp)) continue;
        if (rt->method == method) {
            unsigned allowed = m->allowed;
            *m = tmp;
            m->allowed = allowed;
            m->handler = rt->handler;
            m->flags = rt->flags;
            return 0;
        }
        if (method == HTTP_M_HEAD && rt->method == HTTP_M_GET && head_fallback == NULL) {
            head_fallback = rt;
            *m = tmp;
        }
        m->allowed |= 1u << rt->method;
    }
    if (head_fallback != NULL) {
        m->handler = head_fallback->handler;
        m->flags = head_fallback->flags;
        return 0;
    }
    return m->allowed ? BH_EDECLINED : BH_ENOTFOUND;
}

void http_router_allow_str(unsigned allowed, char *out, size_t n)
{
    size_t o = 0;
    if (n == 0) return;
    out[0] = '\0';
    if (allowed & (1u << HTTP_M_GET)) allowed |= 1u << HTTP_M_HEAD;
    allowed |= 1u << HTTP_M_OPTIONS;
    for (int i = 1; i <= HTTP_M_OPTIONS; i++) {
        if (!(allowed & (1u << i))) continue;
        int w = snprintf(out + o, n - o, "%s%s", o ? ", " : "", method_names[i]);
        if (w < 0 || (size_t)w >= n - o) break;
        o += (size_t)w;
    }
}
