#include "ws/frame.h"

#include <openssl/evp.h>
#include <string.h>

long ws_frame_parse(const uint8_t *buf, size_t len, int require_mask, uint64_t max_payload,
                    ws_frame_t *out)
{
    if (len < 2) return 0;
    uint8_t b0 = buf[0], b1 = buf[1];
    if (b0 & 0x70) return -WS_CLOSE_PROTOCOL; /* RSV1-3: no extension is negotiated */
    uint8_t op = b0 & 0x0F;
    int control = op >= 0x8;
    if (!(op <= WS_OP_BINARY || op == WS_OP_CLOSE || op == WS_OP_PING || op == WS_OP_PONG))
        return -WS_CLOSE_PROTOCOL;
    out->fin = (b0 & 0x80) != 0;
    out->opcode = op;
    out->masked = (b1 & 0x80) != 0;
    if (require_mask && !out->masked) return -WS_CLOSE_PROTOCOL;
    uint64_t plen = b1 & 0x7F;
    size_t hl = 2;
    if (plen == 126) {
        if (len < 4) return 0;
        plen = ((uint64_t)buf[2] << 8) | buf[3];
        if (plen < 126) return -WS_CLOSE_PROTOCOL;
        hl = 4;
    } else if (plen == 127) {
        if (len < 10) return 0;
        plen = 0;
        for (int i = 0; i < 8; i++) plen = (plen << 8) | buf[2 + i];
        if (plen >> 63 || plen <= 0xFFFF) return -WS_CLOSE_PROTOCOL;
        hl = 10;
    }
    if (control && (!out->fin || plen > 125)) return -WS_CLOSE_PROTOCOL;
    if (plen > max_payload) return -WS_CLOSE_TOO_BIG;
    if (out->masked) {
        if (len < hl + 4) return 0;
        memcpy(out->mask, buf + hl, 4);
        hl += 4;
    }
    out->len = plen;
    out->header_len = hl;
    if (len - hl < plen) return 0;
    out->payload = buf + hl;
    return (long)(hl + plen);
}

void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off)
{
    size_t i = 0;
    /* Byte by byte up to 8-byte alignment, then 8 bytes at a time: uploads push megabytes
     * through here, and the word loop is several times faster. */
    for (; i < n && ((uintptr_t)(p + i) & 7); i++) p[i] ^= mask[(off + i) & 3];
    if (n - i >= 8) {
        uint8_t rot[8];
        for (int k = 0; k < 8; k++) rot[k] = mask[(off + i + (size_t)k) & 3];
        uint64_t m;
        memcpy(&m, rot, 8);
        /* 32 bytes a step with GCC's vector extension (SSE/AVX where the target has them). */
        typedef uint64_t v4_t __attribute__((vector_size(32)));
        v4_t mv = {m, m, m, m};
        for (; i + 32 <= n; i += 32) {
            v4_t w;
            memcpy(&w, p + i, 32);
            w ^= mv;
            memcpy(p + i, &w, 32);
        }
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            w ^= m;
            memcpy(p + i, &w, 8);
        }
    }
    for (; i < n; i++) p[i] ^= mask[(off + i) & 3];
}

size_t ws_frame_header(uint8_t *out, int opcode, int fin, uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int ws_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= need) return 0; /* truncated sequence */
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

void ws_accept_key(const char *key, size_t key_len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, key, key_len) != 1 ||
        EVP_DigestUpdate(ctx, guid, sizeof guid - 1) != 1 ||
        EVP_DigestFinal_ex(ctx, digest, &dlen) != 1) {
        out[0] = '\0'; /* never matches a client's expectation: the handshake fails closed */
        EVP_MD_CTX_free(ctx);
        return;
    }
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock((unsigned char *)out, digest, (int)dlen);
}
