/* fuzz_jwt: token verification (auth/jwt.c), the only parser that sees unauthenticated input on
 * every endpoint.
 *
 * Byte 0 picks a mode:
 *   even: the rest is a token as a client sends it (Authorization: Bearer / ?access_token=);
 *         with a fixed key the signature almost never matches, so this covers the framing, the
 *         header (alg pinning, crit), base64url and the constant-time compare.
 *   odd:  the rest is "<header>.<payload>" in base64url; the target signs it with the key and
 *         verifies the result, so the claim parsing behind the signature check (exp, nbf, sub,
 *         orgId, role, propertyIds, name) is reached with arbitrary JSON.
 * A token that verifies must round-trip: signing its claims again verifies to the same claims. */
#include "auth/jwt.h"
#include "core/err.h"

#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t KEY[] = "fuzz-secret-of-at-least-32-bytes!!";
#define KEYLEN (sizeof KEY - 1)
#define NOW 1800000000 /* 2027-01-15 */

static void check(const char *tok, size_t len)
{
    auth_claims_t c;
    int rc = jwt_verify(tok, len, KEY, KEYLEN, NOW, &c);
    if (rc == 0) {
        char *again = NULL;
        if (jwt_sign(&c, KEY, KEYLEN, &again) == 0) {
            auth_claims_t d;
            if (jwt_verify(again, strlen(again), KEY, KEYLEN, NOW, &d) != 0 || d.sub != c.sub ||
                d.org_id != c.org_id || d.role != c.role || d.exp != c.exp ||
                d.n_properties != c.n_properties || d.all_properties != c.all_properties) {
                fprintf(stderr, "verified claims do not round-trip\n");
                abort();
            }
            auth_claims_dispose(&d);
            free(again);
        }
    }
    auth_claims_dispose(&c);
}

int fuzz_jwt_one(const uint8_t *data, size_t size);
int fuzz_jwt_one(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] % 2 == 0) {
        /* Exactly n bytes, not terminated: jwt_verify must never read past len. */
        char *tok = malloc(n ? n : 1);
        memcpy(tok, s, n);
        check(tok, n);
        free(tok);
        return 0;
    }
    if (n > JWT_MAX_LEN) return 0;
    uint8_t mac[32];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), KEY, (int)KEYLEN, (const uint8_t *)s, n, mac, &maclen);
    char *tok = malloc(n + 1 + 44);
    memcpy(tok, s, n);
    tok[n] = '.';
    size_t m = base64url_encode(mac, maclen, tok + n + 1);
    check(tok, n + 1 + m);
    /* base64url decoding on its own, on the raw bytes. */
    uint8_t *out = malloc(n * 3 / 4 + 3);
    (void)base64url_decode(s, n, out);
    free(out);
    free(tok);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_jwt_one(data, size);
}
#endif
