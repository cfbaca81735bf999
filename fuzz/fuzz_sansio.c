/* fuzz_sansio: the sans-I/O parsers behind the streams, fed directly (fast, deep):
 *   byte 0 % 4 == 0  WebSocket framing (ws/frame.c): parse frames until the input is used up,
 *                    with and without the mask requirement, unmask each payload, check UTF-8;
 *                    a parsed frame must lie inside the input.
 *   byte 0 % 4 == 1  upload parsers: magic-byte sniffing of a head and of a whole file, ZIP end
 *                    record and central directory (the XLSX check), CSV text plausibility.
 *   byte 0 % 4 == 2  document numbers (Aadhaar/PAN for each type: the masked form must never
 *                    hold more than the last four characters of the number) and file names
 *                    (check, Content-Disposition).
 *   byte 0 % 4 == 3  URL decoding, query and cookie lookups, chat room ids (chat/room.c). */
#include "chat/room.h"
#include "core/err.h"
#include "http/url.h"
#include "upload/docnum.h"
#include "upload/doctype.h"
#include "upload/name.h"
#include "upload/sniff.h"
#include "ws/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void frames(const uint8_t *p, size_t n, int require_mask)
{
    while (n > 0) {
        ws_frame_t f;
        long r = ws_frame_parse(p, n, require_mask, 4096, &f);
        if (r <= 0) return;
        if ((size_t)r > n || f.payload < p || f.payload + f.len > p + r) abort();
        uint8_t *copy = malloc(f.len ? (size_t)f.len : 1);
        memcpy(copy, f.payload, (size_t)f.len);
        if (f.masked) ws_unmask(copy, (size_t)f.len, f.mask, 0);
        (void)ws_utf8_valid(copy, (size_t)f.len);
        free(copy);
        p += r;
        n -= (size_t)r;
    }
}

static void uploads(const uint8_t *p, size_t n)
{
    (void)upload_sniff(p, n, 0);
    (void)upload_sniff(p, n, 1);
    (void)upload_text_plausible(p, n, 0);
    (void)upload_text_plausible(p, n, 1);
    uint64_t off;
    uint32_t size;
    if (upload_zip_locate(p, n, n, &off, &size) == 0 && off <= n && size <= n - off)
        (void)upload_zip_is_xlsx(p + off, size);
    (void)upload_zip_is_xlsx(p, n);
}

static void numbers(const char *s)
{
    for (int t = 0; t < UPLOAD_DOC__COUNT; t++) {
        char masked[UPLOAD_DOCNUM_MAX + 1];
        const char *why = NULL;
        if (upload_docnum_check((upload_doctype_t)t, s, masked, sizeof masked, &why) == 0) {
            /* Everything but the last four characters is masked. */
            size_t m = strlen(masked);
            for (size_t i = 0; i + 4 < m; i++)
                if (masked[i] != 'X') {
                    fprintf(stderr, "unmasked digit in %s\n", masked);
                    abort();
                }
        } else if (why == NULL) {
            abort();
        }
    }
    char name[UPLOAD_NAME_MAX + 1];
    if (upload_name_check(s, name, sizeof name) == NULL) {
        char cd[3 * UPLOAD_NAME_MAX + 64];
        upload_content_disposition(name, cd, sizeof cd);
        if (strchr(cd, '\r') || strchr(cd, '\n')) abort(); /* header injection */
    }
    upload_doctype_t t;
    (void)upload_doctype_parse(s, &t);
}

static void urls(const char *s, size_t n)
{
    char out[64];
    (void)url_decode(s, n, out, sizeof out, 0);
    (void)url_decode(s, n, out, sizeof out, 1);
    (void)url_query_get(s, "since", out, sizeof out);
    (void)url_query_get(s, "a", out, 2);
    (void)url_cookie_get(s, "bellhop_token", out, sizeof out);
    chat_room_ref_t r;
    (void)chat_room_parse(s, n, &r);
}

int fuzz_sansio_one(const uint8_t *data, size_t size);
int fuzz_sansio_one(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    /* Exactly sized copies, so that any over-read is an ASan report. */
    uint8_t *b = malloc(n ? n : 1);
    memcpy(b, p, n);
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    switch (data[0] % 4) {
    case 0:
        frames(b, n, 1);
        frames(b, n, 0);
        break;
    case 1:
        uploads(b, n);
        break;
    case 2:
        numbers(s);
        break;
    default:
        urls(s, n);
        break;
    }
    free(s);
    free(b);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_sansio_one(data, size);
}
#endif
