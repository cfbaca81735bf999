/* tus.c: tus 1.0 header parsing (see tus.h). */
#include "upload/tus.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int upload_tus_parse_uint(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0' || strlen(s) > 16) return BH_EINVAL;
    int64_t x = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return BH_EINVAL;
        x = x * 10 + (*p - '0');
    }
    if (x > (INT64_C(1) << 53)) return BH_EINVAL;
    *out = x;
    return 0;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long upload_base64_decode(const char *src, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4 != 0) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = src[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64val(c)) < 0) {
                return -1; /* data after padding, or not base64 */
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t take = 3 - (size_t)pad;
        if (o + take > cap) return -1;
        uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        memcpy(out + o, b, take);
        o += take;
    }
    return (long)o;
}

int upload_tus_meta_parse(const char *hdr, upload_tus_meta_t *m)
{
    m->n = 0;
    const char *p = hdr;
    if (p == NULL) return 0;
    while (*p) {
        while (*p == ' ')
            p++;
        if (*p == '\0') break;
        const char *k = p;
        while (*p && *p != ' ' && *p != ',')
            p++;
        size_t kl = (size_t)(p - k);
        if (kl == 0 || kl >= sizeof m->pair[0].key || m->n == UPLOAD_TUS_META_MAX) return BH_EINVAL;
        for (size_t i = 0; i < kl; i++)
            if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7E) return BH_EINVAL;
        for (size_t i = 0; i < m->n; i++)
            if (strlen(m->pair[i].key) == kl && memcmp(m->pair[i].key, k, kl) == 0)
                return BH_EINVAL; /* keys MUST be unique */
        memcpy(m->pair[m->n].key, k, kl);
        m->pair[m->n].key[kl] = '\0';
        long len = 0;
        if (*p == ' ') {
            while (*p == ' ')
                p++;
            const char *v = p;
            while (*p && *p != ',' && *p != ' ')
                p++;
            len = upload_base64_decode(v, (size_t)(p - v), (uint8_t *)m->pair[m->n].value,
                                       UPLOAD_TUS_META_VALUE);
            if (len < 0) return BH_EINVAL;
            while (*p == ' ')
                p++;
        }
        m->pair[m->n].value[len] = '\0';
        m->pair[m->n].len = (size_t)len;
        m->n++;
        if (*p == ',')
            p++;
        else if (*p)
            return BH_EINVAL;
    }
    return 0;
}

const char *upload_tus_meta_get(const upload_tus_meta_t *m, const char *const *keys, int *bad)
{
    for (const char *const *k = keys; *k; k++) {
        for (size_t i = 0; i < m->n; i++) {
            if (strcmp(m->pair[i].key, *k) != 0) continue;
            if (strlen(m->pair[i].value) != m->pair[i].len) *bad = 1;
            return m->pair[i].value;
        }
    }
    return NULL;
}

int upload_tus_checksum_parse(const char *hdr, uint8_t digest[32])
{
    const char *sp = strchr(hdr, ' ');
    if (sp == NULL || sp == hdr) return BH_EINVAL;
    if ((size_t)(sp - hdr) != 6 || strncmp(hdr, "sha256", 6) != 0) return BH_EDECLINED;
    const char *v = sp + 1;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n && v[n - 1] == ' ')
        n--;
    uint8_t tmp[36];
    long len = upload_base64_decode(v, n, tmp, sizeof tmp);
    if (len != 32) return BH_EINVAL;
    memcpy(digest, tmp, 32);
    return 0;
}

void upload_http_date(int64_t unix_ms, char *out, size_t n)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
