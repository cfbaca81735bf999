/* sniff.h: a file's real kind from its bytes (magic numbers), never from its name or the client's
 * word. Sans-I/O: the caller reads the bytes (upload.c does, on the thread pool) and passes them
 * in.
 *
 *   JPEG  FF D8 FF
 *   PNG   89 'PNG' 0D 0A 1A 0A
 *   HEIC  an ISO-BMFF 'ftyp' box whose major brand is heic/heix/hevc/hevx/heim/heis/hevm/hevs, or
 *         mif1/msf1 with one of those among the compatible brands (that is how HEIF images that
 *         are not AVIF declare themselves)
 *   PDF   "%PDF-" within the first 1024 bytes (ISO 32000-1 7.5.2 lets a header follow junk)
 *   XLSX  a ZIP ("PK\3\4") whose central directory lists [Content_Types].xml and xl/workbook.xml
 *   CSV   text: UTF-8 (a BOM allowed), no NUL and no control bytes but tab, CR, LF and form feed
 *
 * XLSX needs the central directory, which sits at the end of the file: upload_sniff returns
 * UPLOAD_KIND_ZIP for a ZIP head, and the caller then finds the directory with upload_zip_locate
 * in the file's tail and checks it with upload_zip_is_xlsx. */
#ifndef BH_UPLOAD_SNIFF_H
#define BH_UPLOAD_SNIFF_H

#include "upload/doctype.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes of the head that upload_sniff wants (it works with fewer, e.g. a small file). */
#define UPLOAD_SNIFF_HEAD 65536
/* Bytes of the tail that upload_zip_locate wants: the end record plus the longest comment. */
#define UPLOAD_SNIFF_TAIL (22 + 65535)
/* A central directory larger than this is not examined (the file is then not XLSX). */
#define UPLOAD_ZIP_CD_MAX (4u << 20)

/* A pseudo-kind: a ZIP archive whose contents are still to be checked. */
#define UPLOAD_KIND_ZIP ((upload_kind_t)UPLOAD_KIND__COUNT)

/* The kind of a file whose first n bytes are head. whole is 1 when head is the entire file (so a
 * UTF-8 sequence cut at the end is an error, not a read boundary). Returns a kind, UPLOAD_KIND_ZIP,
 * or UPLOAD_KIND_UNKNOWN. */
upload_kind_t upload_sniff(const uint8_t *head, size_t n, int whole);

/* 1 if p[0..n) is text as a CSV file must be (see above); cut 1 when a multi-byte character may
 * continue past n. */
int upload_text_plausible(const uint8_t *p, size_t n, int cut);

/* Finds the end-of-central-directory record in tail (the last tn bytes of a file of file_size
 * bytes). Returns 0 with the directory's offset and size, or BH_EINVAL (no record, ZIP64, or
 * a directory outside the file or over UPLOAD_ZIP_CD_MAX). */
int upload_zip_locate(const uint8_t *tail, size_t tn, uint64_t file_size, uint64_t *cd_off,
                      uint32_t *cd_size);
/* 1 if the central directory cd[0..n) is well-formed and names [Content_Types].xml and
 * xl/workbook.xml. */
int upload_zip_is_xlsx(const uint8_t *cd, size_t n);

#endif
