/* validate.c: field-by-field checks of request bodies and query strings (see validate.h). */
#include "handlers/validate.h"

#include "core/alloc.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void validate_init(validate_t *v, json_t *body)
{
    v->body = body;
    v->failed = 0;
    v->msg[0] = '\0';
}

void validate_fail(validate_t *v, const char *field, const char *fmt, ...)
{
    if (v->failed) return;
    v->failed = 1;
    int n = snprintf(v->msg, sizeof v->msg, "%s: ", field);
    if (n < 0 || (size_t)n >= sizeof v->msg) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg + n, sizeof v->msg - (size_t)n, fmt, ap);
    va_end(ap);
}

int validate_respond(validate_t *v, http_req_t *req)
{
    if (!v->failed) return 0;
    http_respond_error(req, 400, "invalid_field", "%s", v->msg);
    return 1;
}

/* The field's value, or NULL when it is absent or null (null sets *is_null). A missing required
 * field fails here, so callers only check types and ranges. */
static json_t *field_get(validate_t *v, const char *field, unsigned flags, int *is_null)
{
    *is_null = 0;
    if (v->failed || v->body == NULL) return NULL;
    json_t *j = json_object_get(v->body, field);
    if (j != NULL && json_is_null(j)) {
        *is_null = 1;
        j = NULL;
    }
    if (j == NULL && (flags & VALIDATE_REQUIRED)) validate_fail(v, field, "is required");
    return j;
}

/* ---------------------------------------------------------------------------------------------
 * Strings */

/* Characters in a valid UTF-8 string: every byte but continuation bytes starts one. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Checks a string value against the common rules and copies it. Returns 1 on success. */
static int check_string(validate_t *v, const char *field, json_t *j, unsigned flags, size_t min,
                        size_t max, char *out, size_t cap)
{
    if (!json_is_string(j)) {
        validate_fail(v, field, "must be a string");
        return 0;
    }
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    /* jansson accepts \u0000; C strings would silently cut there. */
    if (strlen(s) != len) {
        validate_fail(v, field, "must not contain NUL characters");
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int line = c == '\n' || c == '\r' || c == '\t';
        if ((c < 0x20 && !(line && (flags & VALIDATE_MULTILINE))) || c == 0x7F) {
            validate_fail(v, field, "must not contain control characters");
            return 0;
        }
    }
    size_t count = (flags & VALIDATE_BYTES) ? len : utf8_chars(s, len);
    if (count < min || count > max) {
        const char *unit = (flags & VALIDATE_BYTES) ? "bytes" : "characters";
        if (min == 0)
            validate_fail(v, field, "must be at most %zu %s", max, unit);
        else
            validate_fail(v, field, "must be %zu to %zu %s", min, max, unit);
        return 0;
    }
    if (len >= cap) {
        validate_fail(v, field, "must be at most %zu bytes of UTF-8", cap - 1);
        return 0;
    }
    if (min > 0 && strspn(s, " \t\r\n") == len) {
        validate_fail(v, field, "must not be blank");
        return 0;
    }
    memcpy(out, s, len + 1);
    return 1;
}

int validate_string(validate_t *v, const char *field, unsigned flags, size_t min, size_t max,
                    char *out, size_t cap)
{
    int is_null;
    out[0] = '\0';
    json_t *j = field_get(v, field, flags, &is_null);
    if (j == NULL) return VALIDATE_ABSENT;
    return check_string(v, field, j, flags, min, max, out, cap) ? VALIDATE_SET : VALIDATE_ABSENT;
}

int validate_enum(validate_t *v, const char *field, unsigned flags, const char *const *names,
                  char *out, size_t cap)
{
    int is_null;
    out[0] = '\0';
    json_t *j = field_get(v, field, flags, &is_null);
    if (j == NULL) return VALIDATE_ABSENT;
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    for (size_t i = 0; s && names[i]; i++) {
        if (strcmp(s, names[i]) == 0 && strlen(s) < cap) {
            memcpy(out, s, strlen(s) + 1);
            return VALIDATE_SET;
        }
    }
    char list[160];
    size_t n = 0;
    list[0] = '\0';
    for (size_t i = 0; names[i] && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", names[i]);
    validate_fail(v, field, "must be one of: %s", list);
    return VALIDATE_ABSENT;
}

int validate_currency(validate_t *v, const char *field, const char *dflt, char out[4])
{
    int is_null;
    snprintf(out, 4, "%s", dflt);
    json_t *j = field_get(v, field, VALIDATE_OPTIONAL, &is_null);
    if (j == NULL) return VALIDATE_ABSENT;
    const char *s = json_is_string(j) ? json_string_value(j) : "";
    int ok = json_is_string(j) && json_string_length(j) == 3;
    for (int i = 0; ok && i < 3; i++)
        ok = s[i] >= 'A' && s[i] <= 'Z';
    if (!ok) {
        validate_fail(v, field, "must be three upper-case letters (ISO 4217, e.g. \"INR\")");
        return VALIDATE_ABSENT;
    }
    memcpy(out, s, 4);
    return VALIDATE_SET;
}

int validate_email(validate_t *v, const char *field, unsigned flags, char *out, size_t cap)
{
    if (validate_string(v, field, flags, 3, cap - 1, out, cap) != VALIDATE_SET)
        return VALIDATE_ABSENT;
    const char *at = strchr(out, '@');
    int ok = at != NULL && at != out && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
             strpbrk(out, " \t\r\n,;<>\"") == NULL;
    if (!ok) {
        validate_fail(v, field, "must be an email address (name@domain)");
        out[0] = '\0';
        return VALIDATE_ABSENT;
    }
    return VALIDATE_SET;
}

int validate_phone(validate_t *v, const char *field, unsigned flags, char *out, size_t cap)
{
    if (validate_string(v, field, flags, 3, 32, out, cap) != VALIDATE_SET) return VALIDATE_ABSENT;
    if (strspn(out, "0123456789 +()-.") != strlen(out) || strpbrk(out, "0123456789") == NULL) {
        validate_fail(v, field, "must be a phone number: digits, spaces and + ( ) - .");
        out[0] = '\0';
        return VALIDATE_ABSENT;
    }
    return VALIDATE_SET;
}

int validate_timezone(validate_t *v, const char *field, unsigned flags, char *out, size_t cap)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_+-/";
    if (validate_string(v, field, flags, 0, cap - 1, out, cap) != VALIDATE_SET)
        return VALIDATE_ABSENT;
    if (strspn(out, chars) != strlen(out)) {
        validate_fail(v, field, "must be an IANA time zone name such as \"Asia/Kolkata\"");
        out[0] = '\0';
        return VALIDATE_ABSENT;
    }
    return VALIDATE_SET;
}

/* ---------------------------------------------------------------------------------------------
 * Numbers */

int validate_int(validate_t *v, const char *field, unsigned flags, int64_t min, int64_t max,
                 int64_t *out)
{
    int is_null;
    json_t *j = field_get(v, field, flags, &is_null);
    if (j == NULL) return VALIDATE_ABSENT;
    if (!json_is_integer(j)) {
        validate_fail(v, field, "must be an integer");
        return VALIDATE_ABSENT;
    }
    json_int_t x = json_integer_value(j);
    if (x < min || x > max) {
        validate_fail(v, field, "must be from %lld to %lld", (long long)min, (long long)max);
        return VALIDATE_ABSENT;
    }
    *out = x;
    return VALIDATE_SET;
}

int validate_id(validate_t *v, const char *field, unsigned flags, int64_t *out)
{
    int is_null;
    *out = 0;
    json_t *j = field_get(v, field, flags, &is_null);
    if (j == NULL) return is_null && !v->failed ? VALIDATE_NULL : VALIDATE_ABSENT;
    if (!json_is_integer(j) || json_integer_value(j) <= 0) {
        validate_fail(v, field, "must be a positive integer id");
        return VALIDATE_ABSENT;
    }
    *out = json_integer_value(j);
    return VALIDATE_SET;
}

int validate_id_list(validate_t *v, const char *field, size_t max, int64_t **out, size_t *n)
{
    int is_null;
    *out = NULL;
    *n = 0;
    json_t *j = field_get(v, field, VALIDATE_OPTIONAL, &is_null);
    if (j == NULL) return is_null && !v->failed ? VALIDATE_NULL : VALIDATE_ABSENT;
    if (!json_is_array(j) || json_array_size(j) > max) {
        validate_fail(v, field, "must be an array of at most %zu ids, or null", max);
        return VALIDATE_ABSENT;
    }
    size_t len = json_array_size(j);
    int64_t *ids = len ? xmalloc(len * sizeof *ids) : NULL;
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(j, i);
        if (!json_is_integer(e) || json_integer_value(e) <= 0) {
            validate_fail(v, field, "item %zu must be a positive integer id", i);
            free(ids);
            return VALIDATE_ABSENT;
        }
        ids[i] = json_integer_value(e);
        /* Quadratic, but max is small (AUTH_MAX_PROPERTIES) and this runs once per request. */
        for (size_t k = 0; k < i; k++) {
            if (ids[k] == ids[i]) {
                validate_fail(v, field, "id %lld is repeated", (long long)ids[i]);
                free(ids);
                return VALIDATE_ABSENT;
            }
        }
    }
    *out = ids;
    *n = len;
    return VALIDATE_SET;
}

/* ---------------------------------------------------------------------------------------------
 * Time */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p into *out and advances. */
static int digits(const char **p, int n, int *out)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return 0;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *out = x;
    return 1;
}

int validate_iso8601_parse(const char *s, int64_t *out_ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return BH_EINVAL;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1) return BH_EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return BH_EINVAL;
    if (*p != '\0') {
        if (*p != 'T' && *p != 't' && *p != ' ') return BH_EINVAL;
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) return BH_EINVAL;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec)) return BH_EINVAL;
            if (*p == '.' || *p == ',') {
                p++;
                int nd = 0;
                /* Milliseconds from the first three digits; finer digits are truncated. */
                for (; *p >= '0' && *p <= '9'; p++, nd++)
                    if (nd < 3) ms = ms * 10 + (*p - '0');
                if (nd == 0 || nd > 9) return BH_EINVAL;
                for (; nd < 3; nd++)
                    ms *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 59) return BH_EINVAL;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if (!digits(&p, 2, &oh)) return BH_EINVAL;
            if (*p == ':') p++;
            if (!digits(&p, 2, &om) || oh > 23 || om > 59) return BH_EINVAL;
            off = sign * (oh * 60 + om);
        } else {
            return BH_EINVAL; /* a date-time needs its zone */
        }
        if (*p != '\0') return BH_EINVAL;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off * 60;
    if (secs < 0) return BH_EINVAL;
    *out_ms = secs * 1000 + ms;
    return 0;
}

int validate_time(validate_t *v, const char *field, unsigned flags, int64_t *out)
{
    int is_null;
    json_t *j = field_get(v, field, flags, &is_null);
    if (j == NULL) return VALIDATE_ABSENT;
    int64_t ms;
    if (!json_is_string(j) || validate_iso8601_parse(json_string_value(j), &ms) != 0 || ms <= 0) {
        validate_fail(v, field,
                      "must be an ISO-8601 date (2026-11-27) or date-time with a zone "
                      "(2026-11-27T14:30:00Z)");
        return VALIDATE_ABSENT;
    }
    *out = ms;
    return VALIDATE_SET;
}

/* ---------------------------------------------------------------------------------------------
 * Query parameters */

/* Copies parameter name into buf. Returns 1 if present, 0 if absent, -1 (failed) if too long. */
static int query_value(validate_t *v, http_req_t *req, const char *name, char *buf, size_t cap)
{
    if (v->failed) return 0;
    long n = http_req_query_get(req, name, buf, cap);
    if (n == BH_ENOTFOUND) return 0;
    if (n < 0) {
        validate_fail(v, name, "(query) is too long");
        return -1;
    }
    return 1;
}

/* A positive decimal integer, no sign, no spaces. */
static int parse_id(const char *s, int64_t *out)
{
    int64_t x = 0;
    if (*s == '\0') return BH_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (INT64_MAX - 9) / 10) return BH_EINVAL;
        x = x * 10 + (*s - '0');
    }
    if (x <= 0) return BH_EINVAL;
    *out = x;
    return 0;
}

int validate_query_id(validate_t *v, http_req_t *req, const char *name, int64_t *out)
{
    char buf[32];
    *out = 0;
    if (query_value(v, req, name, buf, sizeof buf) != 1) return VALIDATE_ABSENT;
    if (parse_id(buf, out) != 0) {
        validate_fail(v, name, "(query) must be a positive integer id");
        return VALIDATE_ABSENT;
    }
    return VALIDATE_SET;
}

int validate_query_enum(validate_t *v, http_req_t *req, const char *name, const char *const *names,
                        char *out, size_t cap)
{
    char buf[64];
    out[0] = '\0';
    if (query_value(v, req, name, buf, sizeof buf) != 1) return VALIDATE_ABSENT;
    for (size_t i = 0; names[i]; i++) {
        if (strcmp(buf, names[i]) == 0 && strlen(buf) < cap) {
            memcpy(out, buf, strlen(buf) + 1);
            return VALIDATE_SET;
        }
    }
    validate_fail(v, name, "(query) is not a known value");
    return VALIDATE_ABSENT;
}

void validate_query_page(validate_t *v, http_req_t *req, size_t dflt, size_t max, size_t *limit,
                         int64_t *before)
{
    char buf[32];
    int64_t x;
    *limit = dflt;
    *before = 0;
    if (query_value(v, req, "limit", buf, sizeof buf) == 1) {
        if (parse_id(buf, &x) != 0 || (uint64_t)x > max)
            validate_fail(v, "limit", "(query) must be from 1 to %zu", max);
        else
            *limit = (size_t)x;
    }
    if (query_value(v, req, "before", buf, sizeof buf) == 1 && parse_id(buf, before) != 0)
        validate_fail(v, "before", "(query) must be a positive integer id");
}
