/* url.h: percent-decoding and query/cookie lookup, sans-I/O. */
#ifndef BH_HTTP_URL_H
#define BH_HTTP_URL_H

#include <stddef.h>

/* Decodes in[0..n) ("%2F" -> '/', and '+' -> ' ' when plus_is_space) into out (size outn,
 * NUL-terminated). Returns the decoded length, BH_EINVAL for a bad escape or an encoded NUL, or
 * BH_ETOOBIG if it does not fit. */
long url_decode(const char *in, size_t n, char *out, size_t outn, int plus_is_space);
/* Finds name in a query string "a=1&b=2" and decodes its value into out. Returns the length,
 * BH_ENOTFOUND, BH_EINVAL or BH_ETOOBIG. A name without '=' has the value "". */
long url_query_get(const char *query, const char *name, char *out, size_t outn);
/* Finds name in a Cookie header "a=1; b=2" and copies its value (no decoding) into out. Returns the
 * length, BH_ENOTFOUND or BH_ETOOBIG. */
long url_cookie_get(const char *header, const char *name, char *out, size_t outn);

#endif
