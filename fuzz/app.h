/* app.h: the whole application in-process for fuzz targets: a SQLite store in a temporary
 * directory seeded with the demo organisation, the realtime hub and stream server, chat, uploads,
 * flags and the real route table (handlers_register), served on the harness's worker
 * (harness.h), wired as app/server.c wires them with the configuration defaults.
 *
 * Inputs carry tokens as placeholders, replaced before the bytes are fed: "@T0" owner of org 1,
 * "@T1" front desk of org 1 (property 1 only), "@T2" owner of org 2 (another tenant), "@T3" a
 * service publisher of org 1, "@T4" an expired owner token. Everything else is as the client
 * sent it. */
#ifndef BH_FUZZ_APP_H
#define BH_FUZZ_APP_H

#include "harness.h"

#include <stddef.h>
#include <stdint.h>

#define FZ_APP_TOKENS 5

/* Sets everything up once (later calls return at once). */
void fz_app_init(void);
fz_net_t *fz_app_net(void);
/* A signed token for placeholder i (0..FZ_APP_TOKENS-1). */
const char *fz_app_token(int i);
/* Replaces the "@T<i>" placeholders of in[0..n); returns a new buffer (free()) and its length. */
uint8_t *fz_app_expand(const uint8_t *in, size_t n, size_t *out_n);
/* Feeds data to a fresh connection (first byte: read size), then ends it. */
void fz_app_http(const uint8_t *data, size_t size);
/* Opens a WebSocket on path with token i (upgrade request written by the harness), then sends
 * each segment of data[0..n) (separated by 0xFF, a byte UTF-8 never holds) as one masked frame:
 * text, or binary when the segment starts with 0xFE. A segment starting with 0xFD is a pause:
 * what came before is delivered and the server runs until it is quiet (store work done), as for
 * a client that waits for its answer. Everything before the first pause arrives together with
 * the upgrade request. Then ends the connection. */
void fz_app_ws(const char *path, int token, const uint8_t *data, size_t n, size_t chunk);

#endif
