/* fuzz_app_http: raw HTTP/1.1 bytes against the real route table and handlers (app.h): auth
 * (login, me), the domain endpoints with their JSON bodies and validation (finance, guests,
 * tasks, properties, users), publish, flags, metrics, long-polling, documents and tus (Upload-*
 * headers through handlers/tus.c), the static fallback. Tokens are placeholders (@T0..@T4, see
 * app.h) so that requests get past authentication. Byte 0 picks the read size. */
#include "app.h"

int fuzz_app_http_one(const uint8_t *data, size_t size);
int fuzz_app_http_one(const uint8_t *data, size_t size)
{
    fz_app_http(data, size);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_app_http_one(data, size);
}
#endif
