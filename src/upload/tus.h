/* tus.h: header parsing for the tus resumable upload protocol 1.0 (https://tus.io/protocols/
 * resumable-upload), sans-I/O. The HTTP side lives in handlers/uploads.c.
 *
 *   Upload-Offset / Upload-Length   non-negative decimal integers
 *   Upload-Metadata                 "key base64value,key2 base64value2,flag" (creation extension)
 *   Upload-Checksum                 "sha256 <base64 digest>" (checksum extension)
 */
#ifndef BH_UPLOAD_TUS_H
#define BH_UPLOAD_TUS_H

#include <stddef.h>
#include <stdint.h>

#define UPLOAD_TUS_VERSION "1.0.0"
#define UPLOAD_TUS_EXTENSIONS "creation,creation-with-upload,termination,checksum,expiration"
#define UPLOAD_TUS_META_MAX 16     /* pairs */
#define UPLOAD_TUS_META_VALUE 1024 /* decoded bytes of one value */

/* Parses a tus length or offset: decimal digits only (no sign, no spaces), at most 2^53. Returns
 * 0, or BH_EINVAL (negative, empty, not a number, too large). */
int upload_tus_parse_uint(const char *s, int64_t *out);

typedef struct upload_tus_meta_s {
    size_t n;
    struct {
        char key[64];
        char value[UPLOAD_TUS_META_VALUE + 1]; /* decoded, NUL-terminated */
        size_t len;                            /* decoded length (a value may hold a NUL) */
    } pair[UPLOAD_TUS_META_MAX];
} upload_tus_meta_t;

/* Parses Upload-Metadata into m. Keys are 1..63 bytes of ASCII without spaces or commas, unique;
 * values standard base64 (padding required), or absent (then ""). Returns 0 or BH_EINVAL. */
int upload_tus_meta_parse(const char *hdr, upload_tus_meta_t *m);
/* The value of the first of the NULL-terminated alternative keys that is present, or NULL. A
 * value holding a NUL reads as absent to the caller's string checks, so such values are refused:
 * *bad is set to 1. */
const char *upload_tus_meta_get(const upload_tus_meta_t *m, const char *const *keys, int *bad);

/* Parses Upload-Checksum. Returns 0 with the SHA-256 digest, BH_EDECLINED for another algorithm
 * (tus: 400), or BH_EINVAL for a malformed value. */
int upload_tus_checksum_parse(const char *hdr, uint8_t digest[32]);

/* Decodes standard base64 (with padding) src[0..n) into out (cap bytes). Returns the decoded
 * length, or -1 for malformed input or no room. */
long upload_base64_decode(const char *src, size_t n, uint8_t *out, size_t cap);

/* Writes unix_ms as an RFC 9110 IMF-fixdate ("Fri, 27 Nov 2026 11:00:00 GMT") into out (>= 30). */
void upload_http_date(int64_t unix_ms, char *out, size_t n);

#endif
