#include "auth/password.h"

#include "core/err.h"

#include <sodium.h>

#include <string.h>

_Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "PASSWORD_HASH_MAX too small");

int password_global_init(void)
{
    /* sodium_init() takes its own lock and is a no-op after the first success (it returns 1),
     * so it needs no pthread_once of ours. */
    return sodium_init() < 0 ? BH_EINTERNAL : 0;
}

int password_hash(const char *pw, char out[PASSWORD_HASH_MAX])
{
    /* Lengths are in bytes; strnlen stops a missing terminator from being read past MAX. */
    size_t n = strnlen(pw, PASSWORD_MAX_LEN + 1);
    if (n < PASSWORD_MIN_LEN || n > PASSWORD_MAX_LEN) return BH_EINVAL;
    /* Initialise lazily as well, so a caller that forgot password_global_init() still gets
     * libsodium's RNG and CPU feature detection set up before the first hash. */
    int rc = password_global_init();
    if (rc) return rc;
    /* The interactive limits (2 passes, 64 MiB) are libsodium's advice for online logins. The
     * encoded string records them, so raising them later leaves old hashes verifiable. */
    if (crypto_pwhash_str_alg(out, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return BH_ENOMEM; /* the only run-time failure is allocating the 64 MiB work area */
    return 0;
}

int password_verify(const char *hash, const char *pw)
{
    if (hash == NULL || pw == NULL) return 0;
    /* libsodium reads the hash as a C string of at most crypto_pwhash_STRBYTES; a stored value
     * that is not terminated within that is corrupt and matches nothing. */
    if (strnlen(hash, crypto_pwhash_STRBYTES) == crypto_pwhash_STRBYTES) return 0;
    size_t n = strnlen(pw, PASSWORD_MAX_LEN + 1);
    if (n > PASSWORD_MAX_LEN) return 0;
    if (password_global_init() != 0) return 0;
    /* The final comparison inside libsodium is constant-time (sodium_memcmp). */
    return crypto_pwhash_str_verify(hash, pw, n) == 0;
}
