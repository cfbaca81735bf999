/* password.h: password hashing with argon2id (libsodium crypto_pwhash_str).
 *
 * Both calls are deliberately slow (tens of milliseconds, tens of MiB): call them on a worker
 * thread, never on an event loop. */
#ifndef BH_AUTH_PASSWORD_H
#define BH_AUTH_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX 128 /* >= crypto_pwhash_STRBYTES */
#define PASSWORD_MIN_LEN 8
#define PASSWORD_MAX_LEN 1024

/* Initialises libsodium once; safe to call many times and from many threads. Returns 0 or
 * BH_EINTERNAL. */
int password_global_init(void);
/* Hashes pw (borrowed, NUL-terminated) into out (NUL-terminated encoded string with salt and
 * parameters). Lengths are in bytes. Calls password_global_init() itself if needed. Returns 0,
 * BH_EINVAL (length outside PASSWORD_MIN_LEN..PASSWORD_MAX_LEN), BH_ENOMEM, or BH_EINTERNAL
 * (libsodium failed to initialise). */
int password_hash(const char *pw, char out[PASSWORD_HASH_MAX]);
/* Returns 1 if pw matches hash, else 0. Runs in time independent of where a mismatch lies.
 * Returns 0 without hashing for a NULL argument, a pw longer than PASSWORD_MAX_LEN, or a hash
 * not NUL-terminated within PASSWORD_HASH_MAX bytes. */
int password_verify(const char *hash, const char *pw);

#endif
