/* name.c: file name checks and Content-Disposition (see name.h). */
#include "upload/name.h"

#include "upload/sniff.h"

#include <stdio.h>
#include <string.h>

const char *upload_name_check(const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    while (*name == ' ')
        name++;
    size_t len = strlen(name);
    while (len && name[len - 1] == ' ')
        len--;
    if (len == 0) return "must not be empty";
    if (len > UPLOAD_NAME_MAX) return "at most 255 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/' || c == '\\') return "a file name, not a path: no '/' or '\\'";
        if (c < 0x20 || c == 0x7F) return "no control characters";
    }
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return "a file name, not a path: not '.' or '..'";
    /* Control bytes are gone already, so this only checks the encoding. */
    if (!upload_text_plausible((const unsigned char *)name, len, 0)) return "must be UTF-8";
    if (len + 1 > cap) return "at most 255 bytes";
    memcpy(out, name, len);
    out[len] = '\0';
    return NULL;
}

void upload_content_disposition(const char *name, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    int w = snprintf(out, cap, "attachment; filename=\"");
    if (w < 0 || (size_t)w >= cap) return;
    o = (size_t)w;
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 2 < cap; p++) {
        if (*p >= 0x80 && (*p & 0xC0) == 0x80) continue; /* one '_' per UTF-8 character */
        int plain = *p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\' && *p != '%';
        out[o++] = plain ? (char)*p : '_';
    }
    const char *mid = "\"; filename*=UTF-8''";
    size_t ml = strlen(mid);
    if (o + ml >= cap) {
        out[o] = '\0';
        return;
    }
    memcpy(out + o, mid, ml);
    o += ml;
    /* RFC 5987 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" /
     * "`" / "|" / "~"; everything else percent-encoded. */
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 < cap; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("!#$&+-.^_`|~", c)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}
