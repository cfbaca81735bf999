/* validate.h: field-by-field checks of JSON request bodies and query parameters.
 *
 * Every domain endpoint words its 400s through these, so the same rule reads the same everywhere:
 * `invalid_field` with a message "<field>: <rule>" (query parameters: "<name> (query): <rule>").
 *
 *   validate_t v;
 *   validate_init(&v, body);
 *   validate_id(&v, "propertyId", VALIDATE_REQUIRED, &pid);
 *   validate_string(&v, "name", VALIDATE_REQUIRED, 1, 128, name, sizeof name);
 *   if (validate_respond(&v, req)) return;   // answered 400 with the first failure
 *
 * Checks after the first failure do nothing, so a handler can run them all and test once. Unknown
 * fields are ignored. A field that is JSON null counts as absent, except where a function says
 * otherwise (validate_id, validate_id_list report VALIDATE_NULL so that null can mean "clear").
 *
 * Lengths are counted in Unicode characters (jansson guarantees valid UTF-8), so a limit of 128
 * means the same for "Ravi" and for a name in Devanagari; out arrays must hold max * 4 + 1 bytes,
 * or the check also fails for a value whose bytes do not fit (the message says so).
 *
 * Everything here is pure: no I/O, no allocation except validate_id_list's array. */
#ifndef BH_HANDLERS_VALIDATE_H
#define BH_HANDLERS_VALIDATE_H

#include "http/http.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct validate_s {
    json_t *body; /* borrowed; NULL for query-only checks */
    int failed;
    char msg[256]; /* the first failure, "<field>: <rule>" */
} validate_t;

/* Flags. */
#define VALIDATE_OPTIONAL 0
#define VALIDATE_REQUIRED 1u
#define VALIDATE_MULTILINE 2u /* strings: allow line breaks and tabs (other controls never) */
#define VALIDATE_BYTES 4u     /* strings: min and max count bytes, not characters (secrets) */

/* What a field turned out to be. Failure is in v->failed, never in the return value. */
#define VALIDATE_ABSENT 0 /* missing, or invalid */
#define VALIDATE_SET 1    /* present and valid: the out-parameter holds it */
#define VALIDATE_NULL 2   /* explicitly null (only where documented; elsewhere reads ABSENT) */

void validate_init(validate_t *v, json_t *body);
/* Records a failure for field (the first one wins). */
void validate_fail(validate_t *v, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* If a check failed, answers 400 invalid_field with its message and returns 1; else 0. */
int validate_respond(validate_t *v, http_req_t *req);

/* A string of min..max characters, without NUL or control characters (see the flags), and not
 * only white space when min > 0. Copied into out (cap bytes); out is "" when absent. */
int validate_string(validate_t *v, const char *field, unsigned flags, size_t min, size_t max,
                    char *out, size_t cap);
/* A JSON integer (not 1.0) within min..max. *out is untouched when absent. */
int validate_int(validate_t *v, const char *field, unsigned flags, int64_t min, int64_t max,
                 int64_t *out);
/* A positive integer id. Null reads VALIDATE_NULL (and fails if required); *out is 0 then. */
int validate_id(validate_t *v, const char *field, unsigned flags, int64_t *out);
/* One of names (NULL-terminated); copied into out. */
int validate_enum(validate_t *v, const char *field, unsigned flags, const char *const *names,
                  char *out, size_t cap);
/* Three upper-case ASCII letters (ISO 4217). Absent: out = dflt. */
int validate_currency(validate_t *v, const char *field, const char *dflt, char out[4]);
/* An ISO-8601 date or date-time (see validate_iso8601_parse), as unix ms. */
int validate_time(validate_t *v, const char *field, unsigned flags, int64_t *out);
/* An email address (local@domain, no spaces, at most cap - 1 bytes). */
int validate_email(validate_t *v, const char *field, unsigned flags, char *out, size_t cap);
/* A phone number: 3..32 characters of digits, spaces and + ( ) - ., with a digit. */
int validate_phone(validate_t *v, const char *field, unsigned flags, char *out, size_t cap);
/* An IANA zone name's characters: letters, digits and _ + - /, at most cap - 1. */
int validate_timezone(validate_t *v, const char *field, unsigned flags, char *out, size_t cap);
/* An array of at most max positive ids, without repeats. On VALIDATE_SET, *out is a new array
 * (free(); NULL when empty) of *n ids. Null reads VALIDATE_NULL. */
int validate_id_list(validate_t *v, const char *field, size_t max, int64_t **out, size_t *n);

/* Query parameters of req, with the same rules (v->body is not used). */
int validate_query_id(validate_t *v, http_req_t *req, const char *name, int64_t *out);
int validate_query_enum(validate_t *v, http_req_t *req, const char *name, const char *const *names,
                        char *out, size_t cap);
/* ?limit= (1..max, default dflt) and ?before= (a positive id, default 0: from the newest). */
void validate_query_page(validate_t *v, http_req_t *req, size_t dflt, size_t max, size_t *limit,
                         int64_t *before);

/* Parses "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM[:SS[.fff...]]" followed by "Z" or an
 * offset "+HH:MM" / "-HHMM" ("T" may be "t" or a space) into unix ms, for years 1970..9999. A
 * date-time without a zone is refused: a hotel's local time is not the server's business to
 * guess. Returns 0 or BH_EINVAL. */
int validate_iso8601_parse(const char *s, int64_t *out_ms);

#endif
