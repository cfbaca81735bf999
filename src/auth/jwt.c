#include "auth/jwt.h"

#include "core/err.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* This module is sans-I/O and fault-tested: it allocates with plain malloc (and jansson's
 * allocator) and reports BH_ENOMEM instead of aborting. */

#define SIG_LEN 32     /* HMAC-SHA-256 output */
#define SIG_B64_LEN 43 /* base64url_encoded_len(SIG_LEN) */

/* base64url({"alg":"HS256","typ":"JWT"}). jwt_sign always emits this header; jwt_verify parses
 * whatever header it is given, so other key orders and extra members are accepted. */
static const char header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

_Static_assert(sizeof(json_int_t) == sizeof(int64_t), "jansson integers must be 64-bit");

/* ---------------------------------------------------------------------------------------------
 * base64url (RFC 4648 section 5), unpadded
 * ------------------------------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

size_t base64url_encoded_len(size_t n)
{
    /* A trailing group of 1 or 2 bytes needs 2 or 3 characters; no '=' padding (RFC 7515 2). */
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t base64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0, o = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

long base64url_decode(const char *in, size_t n, uint8_t *out)
{
    /* One leftover character carries only 6 bits, less than a byte: no encoder produces it. */
    if (n % 4 == 1 || n > (size_t)LONG_MAX / 3) return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) return -1; /* includes '=' padding and the standard alphabet's '+' and '/' */
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* The unused low bits of the last character must be zero. Otherwise several strings would
     * decode to the same bytes, and a signature would have more than one accepted spelling. */
    if (acc != 0) return -1;
    return (long)o;
}

/* ---------------------------------------------------------------------------------------------
 * Signing
 * ------------------------------------------------------------------------------------------- */

static int hs256(const uint8_t *key, size_t keylen, const char *msg, size_t n, uint8_t mac[SIG_LEN])
{
    unsigned int maclen = 0;
    /* With a valid digest and key, HMAC() fails only when OpenSSL cannot allocate. */
    if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, n, mac, &maclen) == NULL)
        return BH_ENOMEM;
    return maclen == SIG_LEN ? 0 : BH_EINTERNAL;
}

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. jansson applies the
 * same rule, and json_string() returns NULL for both bad UTF-8 and out of memory, so we check
 * first to tell the two apart. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Refuses to sign anything jwt_verify would reject, so a bug in the issuer shows up at the
 * issuer and not as a mysterious 401 somewhere else. */
static int check_claims(const auth_claims_t *c)
{
    if (c->sub <= 0 || c->org_id <= 0) return BH_EINVAL;
    if ((unsigned)c->role >= ROLE__COUNT) return BH_EINVAL;
    const char *nul = memchr(c->name, '\0', sizeof c->name);
    if (nul == NULL || !utf8_valid((const unsigned char *)c->name, (size_t)(nul - c->name)))
        return BH_EINVAL;
    if (!c->all_properties) {
        if (c->n_properties > AUTH_MAX_PROPERTIES) return BH_EINVAL;
        if (c->n_properties > 0 && c->property_ids == NULL) return BH_EINVAL;
        for (size_t i = 0; i < c->n_properties; i++)
            if (c->property_ids[i] <= 0) return BH_EINVAL;
    }
    return 0;
}

/* json_object_set_new() steals the value even when it fails, and a NULL value (a failed
 * json_integer()) makes it fail, so every member is one call and one check. */
static json_t *claims_to_json(const auth_claims_t *c)
{
    json_t *o = json_object();
    if (o == NULL) return NULL;
    if (json_object_set_new(o, "sub", json_integer(c->sub)) ||
        json_object_set_new(o, "orgId", json_integer(c->org_id)) ||
        json_object_set_new(o, "role", json_string(auth_role_name(c->role))))
        goto err;
    if (c->name[0] && json_object_set_new(o, "name", json_string(c->name))) goto err;
    if (!c->all_properties) {
        json_t *a = json_array();
        if (json_object_set_new(o, "propertyIds", a)) goto err;
        for (size_t i = 0; i < c->n_properties; i++)
            if (json_array_append_new(a, json_integer(c->property_ids[i]))) goto err;
    }
    if (c->iat && json_object_set_new(o, "iat", json_integer(c->iat))) goto err;
    if (c->nbf && json_object_set_new(o, "nbf", json_integer(c->nbf))) goto err;
    if (c->exp && json_object_set_new(o, "exp", json_integer(c->exp))) goto err;
    return o;
err:
    json_decref(o);
    return NULL;
}

int jwt_sign(const auth_claims_t *c, const uint8_t *key, size_t keylen, char **out)
{
    *out = NULL;
    if (key == NULL || keylen == 0 || keylen > INT_MAX) return BH_EINVAL;
    int rc = check_claims(c);
    if (rc) return rc;

    json_t *o = claims_to_json(c);
    if (o == NULL) return BH_ENOMEM;
    /* json_dumpb() instead of json_dumps() so the text lives in our malloc'd buffer, not in
     * jansson's (possibly replaced) allocator. It returns 0 only on failure: "{}" is the least. */
    size_t plen = json_dumpb(o, NULL, 0, JSON_COMPACT);
    char *payload = plen ? malloc(plen) : NULL;
    if (payload == NULL || json_dumpb(o, payload, plen, JSON_COMPACT) != plen) {
        free(payload);
        json_decref(o);
        return BH_ENOMEM;
    }
    json_decref(o);

    size_t hlen = sizeof header_b64 - 1;
    size_t signed_len = hlen + 1 + base64url_encoded_len(plen);
    size_t total = signed_len + 1 + SIG_B64_LEN;
    if (total > JWT_MAX_LEN) {
        free(payload);
        return BH_ETOOBIG;
    }
    char *tok = malloc(total + 1);
    if (tok == NULL) {
        free(payload);
        return BH_ENOMEM;
    }
    memcpy(tok, header_b64, hlen);
    tok[hlen] = '.';
    base64url_encode((const uint8_t *)payload, plen, tok + hlen + 1);
    free(payload);

    uint8_t mac[SIG_LEN];
    rc = hs256(key, keylen, tok, signed_len, mac);
    if (rc) {
        free(tok);
        return rc;
    }
    tok[signed_len] = '.';
    base64url_encode(mac, SIG_LEN, tok + signed_len + 1);
    OPENSSL_cleanse(mac, sizeof mac);
    *out = tok;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Verification
 * ------------------------------------------------------------------------------------------- */

/* Decodes one base64url segment into scratch and parses it as a JSON object. Duplicate keys are
 * refused: different JSON parsers keep different duplicates, and a token that means one thing to
 * us and another to some other service is an attack, not an input. */
static int decode_object(const char *in, size_t n, uint8_t *scratch, json_t **out)
{
    long m = base64url_decode(in, n, scratch);
    if (m < 0) return BH_EAUTH;
    json_error_t err;
    /* jansson rejects invalid UTF-8, "\u0000" in strings and trailing bytes by default. It
     * reports many of its allocation failures as syntax errors, so out of memory can surface as
     * BH_EAUTH: the token is refused either way, which is the safe direction. */
    json_t *j = json_loadb((const char *)scratch, (size_t)m, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) return json_error_code(&err) == json_error_out_of_memory ? BH_ENOMEM : BH_EAUTH;
    if (!json_is_object(j)) {
        json_decref(j);
        return BH_EAUTH;
    }
    *out = j;
    return 0;
}

static int check_header(const json_t *h)
{
    /* Only HS256, spelled exactly: this is the algorithm-confusion defence ("none", or an
     * asymmetric alg whose public key would be fed to HMAC as the secret). Strings cannot hold
     * NUL because the parser refuses "\u0000", so strcmp sees the whole value. */
    const json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0) return BH_EAUTH;
    /* RFC 7515 4.1.11: a recipient must refuse a token whose "crit" lists an extension it does
     * not understand. We understand none, so any "crit" at all is refused. */
    if (json_object_get(h, "crit") != NULL) return BH_EAUTH;
    const json_t *typ = json_object_get(h, "typ");
    if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        return BH_EAUTH;
    return 0;
}

/* A user id sent as a string (JavaScript cannot hold every int64): plain decimal, no sign, no
 * leading zeros, no spaces, so each id has exactly one spelling. */
static int parse_id_string(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 19 || s[0] == '0') return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Reads an optional integer member. Returns 1 if present, 0 if absent, -1 if mistyped (a real
 * such as 1.7e9 is mistyped: NumericDate is seconds, and we do not round). */
static int get_int(const json_t *o, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL) return 0;
    if (!json_is_integer(v)) return -1;
    *out = json_integer_value(v);
    return 1;
}

static int parse_claims(const json_t *o, auth_claims_t *c)
{
    const json_t *v = json_object_get(o, "sub");
    if (json_is_integer(v)) {
        c->sub = json_integer_value(v);
    } else if (json_is_string(v)) {
        if (parse_id_string(json_string_value(v), json_string_length(v), &c->sub)) return BH_EAUTH;
    } else {
        return BH_EAUTH;
    }
    if (c->sub <= 0) return BH_EAUTH;

    if (get_int(o, "orgId", &c->org_id) != 1 || c->org_id <= 0) return BH_EAUTH;

    v = json_object_get(o, "role");
    if (!json_is_string(v) || auth_role_parse(json_string_value(v), &c->role)) return BH_EAUTH;

    v = json_object_get(o, "name");
    if (v != NULL) {
        /* Refused rather than truncated: a cut name could end mid UTF-8 sequence. */
        if (!json_is_string(v) || json_string_length(v) >= AUTH_NAME_MAX) return BH_EAUTH;
        memcpy(c->name, json_string_value(v), json_string_length(v) + 1);
    }

    v = json_object_get(o, "propertyIds");
    if (v == NULL) {
        c->all_properties = 1;
    } else {
        /* An empty array is kept as "no property", never widened to "every property". */
        if (!json_is_array(v) || json_array_size(v) > AUTH_MAX_PROPERTIES) return BH_EAUTH;
        size_t n = json_array_size(v);
        if (n > 0) {
            c->property_ids = malloc(n * sizeof *c->property_ids);
            if (c->property_ids == NULL) return BH_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            const json_t *id = json_array_get(v, i);
            if (!json_is_integer(id) || json_integer_value(id) <= 0) return BH_EAUTH;
            c->property_ids[i] = json_integer_value(id);
            c->n_properties = i + 1;
        }
    }

    if (get_int(o, "iat", &c->iat) < 0 || get_int(o, "nbf", &c->nbf) < 0) return BH_EAUTH;
    /* exp is required: a bearer token that never expires cannot be revoked by waiting. */
    if (get_int(o, "exp", &c->exp) != 1) return BH_EAUTH;
    return 0;
}

static int check_time(const auth_claims_t *c, int nbf_present, int64_t now)
{
    /* Valid while now < exp + leeway and now >= nbf - leeway; the guards keep the additions
     * from overflowing on hostile values such as exp = INT64_MAX. */
    if (c->exp <= INT64_MAX - JWT_LEEWAY_S && now >= c->exp + JWT_LEEWAY_S) return BH_EEXPIRED;
    if (nbf_present && c->nbf >= INT64_MIN + JWT_LEEWAY_S && now < c->nbf - JWT_LEEWAY_S)
        return BH_ENOTYET;
    return 0;
}

int jwt_verify(const char *token, size_t len, const uint8_t *key, size_t keylen, int64_t now,
               auth_claims_t *out)
{
    auth_claims_init(out);
    if (key == NULL || keylen == 0 || keylen > INT_MAX) return BH_EINVAL;
    if (token == NULL || len == 0 || len > JWT_MAX_LEN) return BH_EAUTH;

    const char *end = token + len;
    const char *d1 = memchr(token, '.', len);
    if (d1 == NULL) return BH_EAUTH;
    const char *d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1));
    if (d2 == NULL || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL) return BH_EAUTH;

    /* JWT_MAX_LEN bounds every segment, so one stack buffer serves header and payload. */
    uint8_t scratch[JWT_MAX_LEN / 4 * 3 + 3];

    /* Header first: the signature means nothing until we know it is an HS256 signature. */
    json_t *hdr = NULL;
    int rc = decode_object(token, (size_t)(d1 - token), scratch, &hdr);
    if (rc) return rc;
    rc = check_header(hdr);
    json_decref(hdr);
    if (rc) return rc;

    /* The MAC covers the header and payload exactly as received (RFC 7515 5.2 step 8), not a
     * re-encoding, and the payload is not parsed until the signature has been checked. */
    uint8_t sig[SIG_LEN + 3], mac[SIG_LEN];
    if (end - d2 - 1 != SIG_B64_LEN || base64url_decode(d2 + 1, SIG_B64_LEN, sig) != SIG_LEN)
        return BH_EAUTH;
    rc = hs256(key, keylen, token, (size_t)(d2 - token), mac);
    if (rc) return rc;
    int mismatch = CRYPTO_memcmp(mac, sig, SIG_LEN);
    OPENSSL_cleanse(mac, sizeof mac);
    if (mismatch) return BH_EAUTH;

    json_t *payload = NULL;
    rc = decode_object(d1 + 1, (size_t)(d2 - d1 - 1), scratch, &payload);
    if (rc) return rc;
    rc = parse_claims(payload, out);
    int nbf_present = json_object_get(payload, "nbf") != NULL;
    json_decref(payload);
    if (rc == 0) rc = check_time(out, nbf_present, now);
    if (rc) auth_claims_dispose(out);
    return rc;
}
