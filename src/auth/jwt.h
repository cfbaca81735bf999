/* jwt.h: JSON Web Tokens, HS256 only (RFC 7519 / RFC 7515), on OpenSSL's HMAC.
 *
 * Claims (see auth.h): "sub" (user id, a JSON number or a decimal string), "orgId" (number),
 * "role" (string), optional "propertyIds" (array of numbers), optional "name", and the registered
 * "iat", "nbf", "exp" (NumericDate seconds).
 *
 * Verification rejects any header whose "alg" is not exactly "HS256" ("none" included), any
 * "crit" header, a "typ" other than "JWT", a signature that does not match (compared in constant
 * time), bad base64url (padding, characters outside the URL-safe alphabet, or non-zero unused
 * trailing bits), non-object or invalid JSON (including invalid UTF-8 and duplicate member names),
 * missing or mistyped claims, an unknown role, a token without "exp", and tokens outside exp/nbf.
 *
 * Claim rules: "sub" is a positive int64, as a JSON integer or as a plain decimal string (no sign,
 * no leading zeros); "orgId" is a positive JSON integer; "propertyIds", when present, is an array
 * of at most AUTH_MAX_PROPERTIES positive integers (an empty array grants no property); "name" is
 * a string shorter than AUTH_NAME_MAX bytes (longer is refused, not truncated); "iat", "nbf" and
 * "exp" are JSON integers (reals are refused). Unknown claims are ignored.
 *
 * The key should be at least 32 random bytes (RFC 7518 section 3.2); this module does not
 * enforce a minimum beyond "not empty", which is the configuration's job. */
#ifndef BH_AUTH_JWT_H
#define BH_AUTH_JWT_H

#include "auth/auth.h"

#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_LEN 8192 /* longer tokens are rejected before any parsing */

/* Signs claims with key. c (borrowed) must satisfy the claim rules above: claims fresh from
 * auth_claims_init() have no valid role and are refused. c->iat/nbf/exp are written as given
 * (0 = omitted; a token without exp is refused by jwt_verify); propertyIds is omitted when
 * c->all_properties, and name when c->name is "". On success *out is a new NUL-terminated token
 * (free() it); on failure *out is NULL. Returns 0, BH_EINVAL (bad claims, or an empty key),
 * BH_ETOOBIG (the token would exceed JWT_MAX_LEN, so jwt_verify would refuse it) or
 * BH_ENOMEM. */
int jwt_sign(const auth_claims_t *c, const uint8_t *key, size_t keylen, char **out);

/* Verifies token[0..len) (borrowed; need not be NUL-terminated, never read past len) with key
 * at time now (seconds). On success fills *out (init'ed by the callee; the caller disposes it).
 * Returns 0, BH_EAUTH (malformed, wrong alg, bad signature, bad claims, no exp),
 * BH_EEXPIRED (now >= exp), BH_ENOTYET (now < nbf), BH_EINVAL (empty key: a caller bug) or
 * BH_ENOMEM. A leeway of JWT_LEEWAY_S seconds is allowed on exp and nbf for clock skew, so
 * precisely: expired when now >= exp + JWT_LEEWAY_S, not yet when now < nbf - JWT_LEEWAY_S.
 * The JSON parser reports some of its allocation failures as syntax errors, so out of memory
 * may also surface as BH_EAUTH (the token is refused either way). The payload is parsed only
 * after the signature has been checked. On failure *out is left disposed (safe to dispose
 * again). */
#define JWT_LEEWAY_S 30
int jwt_verify(const char *token, size_t len, const uint8_t *key, size_t keylen, int64_t now,
               auth_claims_t *out);

/* base64url without padding (RFC 4648 section 5). encode writes a NUL-terminated string into out,
 * which must hold base64url_encoded_len(n) + 1 bytes, and returns its length. decode returns the
 * decoded length or -1 on any invalid character or impossible length; out must hold n*3/4 + 3. */
size_t base64url_encoded_len(size_t n);
size_t base64url_encode(const uint8_t *in, size_t n, char *out);
long base64url_decode(const char *in, size_t n, uint8_t *out);

#endif
