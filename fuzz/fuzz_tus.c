/* fuzz_tus: the tus 1.0 request headers (upload/tus.c) as handlers/tus.c reads them.
 *
 * The input is split at '\n' into up to four header values, as a client controls them:
 * Upload-Offset / Upload-Length (upload_tus_parse_uint), Upload-Metadata (upload_tus_meta_parse
 * and the lookups the creation handler makes), Upload-Checksum (upload_tus_checksum_parse), and
 * the raw bytes through upload_base64_decode with a tight buffer. */
#include "core/err.h"
#include "upload/tus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_part(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int fuzz_tus_one(const uint8_t *data, size_t size);
int fuzz_tus_one(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *part[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        part[i] = dup_part(p, (size_t)(e - p));
        p = nl ? nl + 1 : end;
    }

    int64_t v = -1;
    if (upload_tus_parse_uint(part[0], &v) == 0 && (v < 0 || v > (1ll << 53))) abort();

    static upload_tus_meta_t m; /* 16 KiB: not on the stack */
    if (upload_tus_meta_parse(part[1], &m) == 0) {
        static const char *const name_keys[] = {"filename", "name", NULL};
        static const char *const type_keys[] = {"documentType", "doctype", NULL};
        static const char *const guest_keys[] = {"guestId", NULL};
        static const char *const num_keys[] = {"documentNumber", NULL};
        int bad = 0;
        const char *const *keys[] = {name_keys, type_keys, guest_keys, num_keys};
        for (size_t i = 0; i < 4; i++) {
            const char *val = upload_tus_meta_get(&m, keys[i], &bad);
            if (val && !bad) (void)strlen(val);
        }
        if (m.n > UPLOAD_TUS_META_MAX) abort();
    }

    uint8_t digest[32];
    (void)upload_tus_checksum_parse(part[2], digest);

    size_t n3 = strlen(part[3]);
    uint8_t *out = malloc(n3 / 4 * 3 + 1);
    long dn = upload_base64_decode(part[3], n3, out, n3 / 4 * 3 + 1);
    if (dn > (long)(n3 / 4 * 3 + 1)) abort();
    free(out);

    char date[32];
    if (v >= 0 && v < 253402300800ll) upload_http_date(v * 1000, date, sizeof date);

    for (int i = 0; i < 4; i++) free(part[i]);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_tus_one(data, size);
}
#endif
