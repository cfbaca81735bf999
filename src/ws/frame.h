/* frame.h: WebSocket framing (RFC 6455 section 5), sans-I/O.
 *
 * bellhop does its own framing rather than keep a wslay context per connection: measured here,
 * wslay_event_context_server_init() allocates 9,440 bytes per connection (wslay_frame_context_init
 * 4,272), against a budget of 2 KiB per idle connection; and wslay's send path copies every
 * payload per connection, while a broadcast must write the same encoded bytes to every
 * subscriber. Server frames are never masked, so a frame header plus a shared payload is all a
 * send needs.
 *
 * Parsing is whole-frame: the caller keeps unconsumed bytes and calls again with more. */
#ifndef BH_WS_FRAME_H
#define BH_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 7.4.1 and bellhop's own 4xxx, see docs/PROTOCOL.md). */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
};

#define WS_MAX_HEADER 14 /* 2 + 8 (length) + 4 (mask) */

typedef struct ws_frame_s {
    uint8_t fin;
    uint8_t opcode;
    uint8_t masked;
    uint8_t mask[4];
    uint64_t len;          /* payload length */
    size_t header_len;
    const uint8_t *payload; /* points into the parsed buffer, still masked if masked */
} ws_frame_t;

/* Parses one frame from buf[0..len). Returns the frame's total size (header + payload) when it is
 * complete and valid, 0 when more bytes are needed, or a negative WS_CLOSE_* code for a protocol
 * violation: reserved bits set (1002), unknown opcode (1002), a control frame fragmented or longer
 * than 125 bytes (1002), a non-minimal or 63-bit-overflowing length (1002), an unmasked frame when
 * require_mask (1002), or a payload longer than max_payload (1009). The 1009 check happens as soon
 * as the header is complete, before the payload arrives. When 0 comes back with out->header_len
 * set (the caller zeroes it first), the header is complete and out describes the frame whose
 * payload is still arriving (out->payload is not set). */
long ws_frame_parse(const uint8_t *buf, size_t len, int require_mask, uint64_t max_payload,
                    ws_frame_t *out);

/* XORs p[0..n) with the mask, continuing from byte offset off of the payload. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off);

/* Writes an unmasked server frame header for a payload of len bytes into out (>= 10 bytes).
 * Returns the header length (2, 4 or 10). */
size_t ws_frame_header(uint8_t *out, int opcode, int fin, uint64_t len);

/* 1 if p[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int ws_utf8_valid(const uint8_t *p, size_t n);

/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key + GUID)), written NUL-terminated into
 * out (>= 29 bytes). */
void ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
