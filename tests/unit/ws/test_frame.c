/* WebSocket framing: header encoding, parsing with every split, masks, limits, UTF-8, accept key. */
#include "test.h"
#include "ws/frame.h"

#include <stdlib.h>

/* Builds a masked client frame into out; returns its size. */
static size_t client_frame(uint8_t *out, int op, int fin, const uint8_t *payload, size_t n)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = ws_frame_header(out, op, fin, n);
    out[1] |= 0x80;
    memcpy(out + h, mask, 4);
    memcpy(out + h + 4, payload, n);
    ws_unmask(out + h + 4, n, mask, 0);
    return h + 4 + n;
}

TEST(rfc_example_masked_hello)
{
    /* RFC 6455 5.7: a single-frame masked text message "Hello". */
    const uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ws_frame_t fr;
    ASSERT_EQ_INT(sizeof f, ws_frame_parse(f, sizeof f, 1, 1024, &fr));
    ASSERT_EQ_INT(WS_OP_TEXT, fr.opcode);
    ASSERT_EQ_INT(1, fr.fin);
    ASSERT_EQ_INT(5, fr.len);
    uint8_t p[5];
    memcpy(p, fr.payload, 5);
    ws_unmask(p, 5, fr.mask, 0);
    ASSERT(memcmp(p, "Hello", 5) == 0);
}

TEST(every_prefix_is_incomplete)
{
    uint8_t payload[300], f[400];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)i;
    size_t n = client_frame(f, WS_OP_BINARY, 1, payload, sizeof payload);
    ws_frame_t fr;
    for (size_t cut = 0; cut < n; cut++) ASSERT_EQ_INT(0, ws_frame_parse(f, cut, 1, 1 << 20, &fr));
    ASSERT_EQ_INT(n, ws_frame_parse(f, n, 1, 1 << 20, &fr));
    ASSERT_EQ_INT(300, fr.len);
    ASSERT_EQ_INT(8, fr.header_len);
    uint8_t copy[300];
    memcpy(copy, fr.payload, 300);
    ws_unmask(copy, 150, fr.mask, 0);
    ws_unmask(copy + 150, 150, fr.mask, 150); /* unmasking in two parts */
    ASSERT(memcmp(copy, payload, 300) == 0);
}

TEST(unmask_matches_bytewise_at_every_alignment_and_offset)
{
    static const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t buf[200], ref[200];
    for (size_t start = 0; start < 9; start++) {
        for (size_t off = 0; off < 4; off++) {
            for (size_t i = 0; i < sizeof buf; i++) buf[i] = ref[i] = (uint8_t)(i * 7 + 3);
            size_t n = sizeof buf - start;
            ws_unmask(buf + start, n, mask, off);
            for (size_t i = 0; i < n; i++) ref[start + i] ^= mask[(off + i) & 3];
            ASSERT(memcmp(buf, ref, sizeof buf) == 0);
        }
    }
}

TEST(header_lengths)
{
    uint8_t h[10];
    ASSERT_EQ_INT(2, ws_frame_header(h, WS_OP_TEXT, 1, 125));
    ASSERT_EQ_INT(0x81, h[0]);
    ASSERT_EQ_INT(125, h[1]);
    ASSERT_EQ_INT(4, ws_frame_header(h, WS_OP_TEXT, 1, 126));
    ASSERT_EQ_INT(126, h[1]);
    ASSERT_EQ_INT(4, ws_frame_header(h, WS_OP_BINARY, 0, 65535));
    ASSERT_EQ_INT(0x02, h[0]);
    ASSERT_EQ_INT(10, ws_frame_header(h, WS_OP_TEXT, 1, 65536));
    ASSERT_EQ_INT(127, h[1]);
    ASSERT_EQ_INT(1, h[7]);
    ASSERT_EQ_INT(0, h[8]);
}

TEST(protocol_violations)
{
    ws_frame_t fr;
    const uint8_t rsv[] = {0xC1, 0x80, 0, 0, 0, 0};
    ASSERT_EQ_INT(-WS_CLOSE_PROTOCOL, ws_frame_parse(rsv, sizeof rsv, 1, 100, &fr));
    const uint8_t badop[] = {0x83, 0x80, 0, 0, 0, 0};
    ASSERT_EQ_INT(-WS_CLOSE_PROTOCOL, ws_frame_parse(badop, sizeof badop, 1, 100, &fr));
    const uint8_t unmasked[] = {0x81, 0x01, 'a'};
    ASSERT_EQ_INT(-WS_CLOSE_PROTOCOL, ws_frame_parse(unmasked, sizeof unmasked, 1, 100, &fr));
    ASSERT_EQ_INT(3, ws_frame_parse(unmasked, sizeof unmasked, 0, 100, &fr));
    const uint8_t frag_ping[] = {0x09, 0x80, 0, 0, 0, 0};
    ASSERT_EQ_INT(-WS_CLOSE_PROTOCOL, ws_frame_parse(frag_ping, sizeof frag_ping, 1, 100, &fr));
    const uint8_t long_ping[] = {0x89, 0xFE, 0x00, 0x7E};
    ASSERT_EQ_INT(-WS_CLOSE_PROTOCOL, ws_frame_parse(long_ping, sizeof long_ping, 1, 1000, &fr));
    const uint8_t nonminimal[] = {0x81, 0xFE, 0x00, 0x10};
    ASSERT_EQ_INT(-WS_CLOSE_PROTOCOL, ws_frame_parse(nonminimal, sizeof nonminimal, 1, 1000, &fr));
    const uint8_t huge[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0};
    ASSERT_EQ_INT(-WS_CLOSE_PROTOCOL, ws_frame_parse(huge, sizeof huge, 1, UINT64_MAX, &fr));
}

TEST(size_limit_is_checked_before_the_payload_arrives)
{
    ws_frame_t fr;
    const uint8_t big[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 0}; /* 1 MiB, header only */
    ASSERT_EQ_INT(-WS_CLOSE_TOO_BIG, ws_frame_parse(big, sizeof big, 1, 65536, &fr));
}

TEST(utf8_validation)
{
    ASSERT(ws_utf8_valid((const uint8_t *)"plain ascii", 11));
    ASSERT(ws_utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x8f\xa8", 9));
    ASSERT(!ws_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
    ASSERT(!ws_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    ASSERT(!ws_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ASSERT(!ws_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* truncated */
    ASSERT(!ws_utf8_valid((const uint8_t *)"\xff", 1));
}

TEST(accept_key_rfc_example)
{
    char out[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    ASSERT_EQ_STR("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", out);
}

TEST_MAIN(TEST_ENTRY(rfc_example_masked_hello), TEST_ENTRY(every_prefix_is_incomplete),
          TEST_ENTRY(unmask_matches_bytewise_at_every_alignment_and_offset),
          TEST_ENTRY(header_lengths), TEST_ENTRY(protocol_violations),
          TEST_ENTRY(size_limit_is_checked_before_the_payload_arrives),
          TEST_ENTRY(utf8_validation), TEST_ENTRY(accept_key_rfc_example))
