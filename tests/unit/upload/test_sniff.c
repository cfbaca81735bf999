/* Tests for upload/sniff.c and doctype.c: kinds from magic bytes, text for CSV, XLSX through the
 * ZIP central directory, and which kinds each document type allows. */
#include "test.h"

#include "core/err.h"
#include "upload/doctype.h"
#include "upload/sniff.h"

#include <stdlib.h>

static upload_kind_t sniff(const void *p, size_t n)
{
    return upload_sniff(p, n, 1);
}

TEST(images_and_pdf)
{
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE1, 0, 0};
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13};
    static const uint8_t heic[] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c',
                                   0, 0, 0, 0,  'm', 'i', 'f', '1', 'h', 'e', 'i', 'c'};
    static const uint8_t mif1_heic[] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'm', 'i', 'f', '1',
                                        0, 0, 0, 0,  'm', 'i', 'f', '1', 'h', 'e', 'i', 'c'};
    static const uint8_t avif[] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'a', 'v', 'i', 'f',
                                   0, 0, 0, 0,  'm', 'i', 'f', '1', 'a', 'v', 'i', 'f'};
    static const uint8_t mp4[] = {0, 0, 0, 16, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 0, 0};
    ASSERT_EQ_INT(UPLOAD_KIND_JPEG, sniff(jpeg, sizeof jpeg));
    ASSERT_EQ_INT(UPLOAD_KIND_PNG, sniff(png, sizeof png));
    ASSERT_EQ_INT(UPLOAD_KIND_HEIC, sniff(heic, sizeof heic));
    ASSERT_EQ_INT(UPLOAD_KIND_HEIC, sniff(mif1_heic, sizeof mif1_heic));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff(avif, sizeof avif));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff(mp4, sizeof mp4));
    ASSERT_EQ_INT(UPLOAD_KIND_PDF, sniff("%PDF-1.7\n%\xe2\xe3", 12));
    /* A header after junk, within the first 1024 bytes (ISO 32000-1 7.5.2). */
    char late[1100];
    memset(late, 0x01, sizeof late);
    memcpy(late + 1000, "%PDF-1.4", 8);
    ASSERT_EQ_INT(UPLOAD_KIND_PDF, sniff(late, sizeof late));
    memcpy(late + 1000, "xxxxxxxx", 8);
    memcpy(late + 1020, "%PDF-1.4", 8);
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff(late, sizeof late));
    /* Truncated magic numbers are nothing. */
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff(png, 7));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff("MZ\x90\x00", 4));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff("", 0));
}

TEST(csv_is_text)
{
    ASSERT_EQ_INT(UPLOAD_KIND_CSV, sniff("id,name\n1,Ana\r\n", 15));
    ASSERT_EQ_INT(UPLOAD_KIND_CSV, sniff("\xEF\xBB\xBFid;n\xC3\xA4me\t\n", 13));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff("id,na\0me\n", 9));      /* NUL */
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff("id,\x1b[31m\n", 9));    /* escape */
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff("caf\xE9,1\n", 7));      /* Latin-1 */
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff("\xC0\xAF,1\n", 5));     /* overlong */
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff("\xED\xA0\x80,1\n", 6)); /* surrogate */
    /* A character cut by the read is fine when more of the file follows, not at its end. */
    ASSERT_EQ_INT(UPLOAD_KIND_CSV, upload_sniff((const uint8_t *)"a,\xC3", 3, 0));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, upload_sniff((const uint8_t *)"a,\xC3", 3, 1));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, sniff("\xEF\xBB\xBF", 3)); /* only a BOM */
}

/* A stored ZIP's central directory and end record for the given names. */
static size_t make_zip_tail(const char *const *names, size_t n, uint8_t *out, size_t *cd_size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        memset(out + o, 0, 46);
        out[o] = 'P', out[o + 1] = 'K', out[o + 2] = 1, out[o + 3] = 2;
        out[o + 28] = (uint8_t)l;
        memcpy(out + o + 46, names[i], l);
        o += 46 + l;
    }
    *cd_size = o;
    memset(out + o, 0, 22);
    out[o] = 'P', out[o + 1] = 'K', out[o + 2] = 5, out[o + 3] = 6;
    out[o + 12] = (uint8_t)o, out[o + 13] = (uint8_t)(o >> 8);
    out[o + 16] = 100; /* the directory starts at 100 */
    return o + 22;
}

TEST(xlsx_through_the_central_directory)
{
    ASSERT_EQ_INT(UPLOAD_KIND_ZIP, sniff("PK\x03\x04\x14\0", 6));
    static const char *const xlsx[] = {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml",
                                       "xl/worksheets/sheet1.xml"};
    static const char *const docx[] = {"[Content_Types].xml", "word/document.xml"};
    uint8_t tail[1024];
    size_t cd_size, tn = make_zip_tail(xlsx, 4, tail, &cd_size);
    uint64_t off;
    uint32_t size;
    ASSERT_EQ_INT(0, upload_zip_locate(tail, tn, 100 + tn, &off, &size));
    ASSERT_EQ_INT(100, off);
    ASSERT_EQ_INT(cd_size, size);
    ASSERT(upload_zip_is_xlsx(tail, size));
    ASSERT(!upload_zip_is_xlsx(tail, size - 1)); /* a cut entry */
    tn = make_zip_tail(docx, 2, tail, &cd_size);
    ASSERT_EQ_INT(0, upload_zip_locate(tail, tn, 100 + tn, &off, &size));
    ASSERT(!upload_zip_is_xlsx(tail, size));
    /* The directory claims to reach past the end record: not a ZIP we read. */
    ASSERT_EQ_INT(BH_EINVAL, upload_zip_locate(tail, tn, 50 + tn, &off, &size));
    ASSERT_EQ_INT(BH_EINVAL, upload_zip_locate((const uint8_t *)"PK\5\6", 4, 4, &off, &size));
    uint8_t zeros[64] = {0};
    ASSERT_EQ_INT(BH_EINVAL, upload_zip_locate(zeros, sizeof zeros, 1000, &off, &size));
}

TEST(types_allow_kinds)
{
    upload_doctype_t t;
    ASSERT_EQ_INT(0, upload_doctype_parse("driving_license", &t));
    ASSERT_EQ_INT(UPLOAD_DOC_DRIVING_LICENSE, t);
    ASSERT_EQ_INT(BH_EINVAL, upload_doctype_parse("selfie", &t));
    ASSERT_EQ_INT(BH_EINVAL, upload_doctype_parse("", &t));
    unsigned id = upload_doctype_kinds(UPLOAD_DOC_AADHAAR);
    ASSERT(id & UPLOAD_KIND_BIT(UPLOAD_KIND_PDF));
    ASSERT(id & UPLOAD_KIND_BIT(UPLOAD_KIND_HEIC));
    ASSERT(!(id & UPLOAD_KIND_BIT(UPLOAD_KIND_CSV)));
    ASSERT(!(id & UPLOAD_KIND_BIT(UPLOAD_KIND_UNKNOWN)));
    ASSERT(!(upload_doctype_kinds(UPLOAD_DOC_IMAGE) & UPLOAD_KIND_BIT(UPLOAD_KIND_PDF)));
    ASSERT_EQ_INT(UPLOAD_KIND_BIT(UPLOAD_KIND_CSV), upload_doctype_kinds(UPLOAD_DOC_CSV));
    ASSERT_EQ_INT(UPLOAD_KIND_BIT(UPLOAD_KIND_XLSX), upload_doctype_kinds(UPLOAD_DOC_EXCEL));
    ASSERT_EQ_INT(UPLOAD_CLASS_ID, upload_doctype_class(UPLOAD_DOC_VISA));
    ASSERT_EQ_INT(UPLOAD_CLASS_EXCEL, upload_doctype_class(UPLOAD_DOC_EXCEL));
    ASSERT_EQ_INT(UPLOAD_KIND_JPEG, upload_kind_from_mime("IMAGE/JPG; q=1"));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, upload_kind_from_mime("application/octet-stream"));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, upload_kind_from_mime("application/vnd.ms-excel"));
    ASSERT_EQ_INT(UPLOAD_KIND_UNKNOWN, upload_kind_from_mime("image/jpegx"));
    ASSERT_EQ_STR("image/heic", upload_kind_mime(UPLOAD_KIND_HEIC));
}

TEST_MAIN(TEST_ENTRY(images_and_pdf), TEST_ENTRY(csv_is_text),
          TEST_ENTRY(xlsx_through_the_central_directory), TEST_ENTRY(types_allow_kinds))
