#include "http/url.h"

#include "core/err.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long url_decode(const char *in, size_t n, char *out, size_t outn, int plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= n) return BH_EINVAL;
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0) return BH_EINVAL;
            c = (char)(hi * 16 + lo);
            if (c == '\0') return BH_EINVAL;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == '\0') {
            return BH_EINVAL;
        }
        if (o + 1 >= outn) return BH_ETOOBIG;
        out[o++] = c;
    }
    if (outn == 0) return BH_ETOOBIG;
    out[o] = '\0';
    return (long)o;
}

long url_query_get(const char *query, const char *name, char *out, size_t outn)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            if (!eq) {
                if (outn == 0) return BH_ETOOBIG;
                out[0] = '\0';
                return 0;
            }
            return url_decode(eq + 1, len - klen - 1, out, outn, 1);
        }
        p = end ? end + 1 : NULL;
    }
    return BH_ENOTFOUND;
}

long url_cookie_get(const char *header, const char *name, char *out, size_t outn)
{
    size_t nlen = strlen(name);
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == '\t') p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq + 1;
            size_t vlen = len - nlen - 1;
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen + 1 > outn) return BH_ETOOBIG;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return (long)vlen;
        }
        p = end ? end + 1 : NULL;
    }
    return BH_ENOTFOUND;
}
