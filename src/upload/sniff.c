/* sniff.c: file kinds from magic bytes (see sniff.h). */
#include "upload/sniff.h"

#include "core/err.h"

#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[1] << 8 | p[0]);
}

static int heic_brand(const uint8_t *b)
{
    static const char *const brands[] = {"heic", "heix", "hevc", "hevx",
                                         "heim", "heis", "hevm", "hevs"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (memcmp(b, brands[i], 4) == 0) return 1;
    return 0;
}

/* ISO/IEC 14496-12 4.3: the first box is 'ftyp': size, type, major brand, minor version, then
 * compatible brands up to the box's end. */
static int is_heic(const uint8_t *p, size_t n)
{
    if (n < 16 || memcmp(p + 4, "ftyp", 4) != 0) return 0;
    uint32_t box = be32(p);
    if (box < 16 || box % 4 != 0) return 0;
    if (heic_brand(p + 8)) return 1;
    if (memcmp(p + 8, "mif1", 4) != 0 && memcmp(p + 8, "msf1", 4) != 0) return 0;
    size_t end = box < n ? box : n;
    for (size_t o = 16; o + 4 <= end; o += 4)
        if (heic_brand(p + o)) return 1;
    return 0;
}

static int is_pdf(const uint8_t *p, size_t n)
{
    size_t lim = n < 1024 ? n : 1024;
    for (size_t i = 0; i + 5 <= lim; i++)
        if (p[i] == '%' && memcmp(p + i, "%PDF-", 5) == 0) return 1;
    return 0;
}

int upload_text_plausible(const uint8_t *p, size_t n, int cut)
{
    size_t i = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) i = 3; /* UTF-8 BOM */
    if (i == n) return 0;                                              /* nothing to read */
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7F)
                return 0;
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n) return cut; /* a character cut by the read: fine if more follows */
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        /* Overlongs, surrogates and values past U+10FFFF. */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

upload_kind_t upload_sniff(const uint8_t *p, size_t n, int whole)
{
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return UPLOAD_KIND_JPEG;
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return UPLOAD_KIND_PNG;
    if (is_heic(p, n)) return UPLOAD_KIND_HEIC;
    if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0) return UPLOAD_KIND_ZIP;
    if (is_pdf(p, n)) return UPLOAD_KIND_PDF;
    if (upload_text_plausible(p, n, !whole)) return UPLOAD_KIND_CSV;
    return UPLOAD_KIND_UNKNOWN;
}

/* APPNOTE.TXT 4.3.16: end of central directory record, 22 bytes plus a comment. */
int upload_zip_locate(const uint8_t *tail, size_t tn, uint64_t file_size, uint64_t *cd_off,
                      uint32_t *cd_size)
{
    if (tn < 22 || tn > file_size) return BH_EINVAL;
    for (size_t i = tn - 22 + 1; i-- > 0;) {
        const uint8_t *e = tail + i;
        if (le32(e) != 0x06054b50) continue;
        if (i + 22 + le16(e + 20) != tn) continue; /* the comment must end the file */
        uint32_t size = le32(e + 12), off = le32(e + 16);
        if (size == 0xFFFFFFFFu || off == 0xFFFFFFFFu) return BH_EINVAL; /* ZIP64 */
        uint64_t eocd_at = file_size - tn + i;
        if ((uint64_t)off + size > eocd_at || size > UPLOAD_ZIP_CD_MAX) return BH_EINVAL;
        *cd_off = off;
        *cd_size = size;
        return 0;
    }
    return BH_EINVAL;
}

/* APPNOTE.TXT 4.3.12: central directory file headers, 46 bytes plus name, extra and comment. */
int upload_zip_is_xlsx(const uint8_t *cd, size_t n)
{
    static const char types[] = "[Content_Types].xml", workbook[] = "xl/workbook.xml";
    int have_types = 0, have_workbook = 0;
    size_t o = 0;
    while (o < n) {
        if (n - o < 46 || le32(cd + o) != 0x02014b50) return 0;
        size_t name_len = le16(cd + o + 28), extra = le16(cd + o + 30), comment = le16(cd + o + 32);
        if (n - o - 46 < name_len + extra + comment) return 0;
        const uint8_t *name = cd + o + 46;
        if (name_len == sizeof types - 1 && memcmp(name, types, name_len) == 0) have_types = 1;
        if (name_len == sizeof workbook - 1 && memcmp(name, workbook, name_len) == 0)
            have_workbook = 1;
        o += 46 + name_len + extra + comment;
    }
    return have_types && have_workbook;
}
