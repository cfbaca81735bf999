/* doctype.c: document types, size classes and file kinds (see doctype.h). */
#include "upload/doctype.h"

#include "core/err.h"

#include <string.h>
#include <strings.h>

static const char *const type_names[UPLOAD_DOC__COUNT] = {
    "aadhaar", "passport", "driving_license", "pan_card", "election_card", "visa",
    "image",   "csv",      "excel",
};

#define ID_KINDS                                                                                   \
    (UPLOAD_KIND_BIT(UPLOAD_KIND_JPEG) | UPLOAD_KIND_BIT(UPLOAD_KIND_PNG) |                        \
     UPLOAD_KIND_BIT(UPLOAD_KIND_HEIC) | UPLOAD_KIND_BIT(UPLOAD_KIND_PDF))
#define IMAGE_KINDS                                                                                \
    (UPLOAD_KIND_BIT(UPLOAD_KIND_JPEG) | UPLOAD_KIND_BIT(UPLOAD_KIND_PNG) |                        \
     UPLOAD_KIND_BIT(UPLOAD_KIND_HEIC))

int upload_doctype_parse(const char *name, upload_doctype_t *out)
{
    for (int i = 0; i < UPLOAD_DOC__COUNT; i++) {
        if (strcmp(name, type_names[i]) == 0) {
            *out = (upload_doctype_t)i;
            return 0;
        }
    }
    return BH_EINVAL;
}

const char *upload_doctype_name(upload_doctype_t t)
{
    return (unsigned)t < UPLOAD_DOC__COUNT ? type_names[t] : "invalid";
}

upload_class_t upload_doctype_class(upload_doctype_t t)
{
    switch (t) {
    case UPLOAD_DOC_IMAGE:
        return UPLOAD_CLASS_IMAGE;
    case UPLOAD_DOC_CSV:
        return UPLOAD_CLASS_CSV;
    case UPLOAD_DOC_EXCEL:
        return UPLOAD_CLASS_EXCEL;
    default:
        return UPLOAD_CLASS_ID;
    }
}

unsigned upload_doctype_kinds(upload_doctype_t t)
{
    switch (t) {
    case UPLOAD_DOC_IMAGE:
        return IMAGE_KINDS;
    case UPLOAD_DOC_CSV:
        return UPLOAD_KIND_BIT(UPLOAD_KIND_CSV);
    case UPLOAD_DOC_EXCEL:
        return UPLOAD_KIND_BIT(UPLOAD_KIND_XLSX);
    default:
        return (unsigned)t < UPLOAD_DOC__COUNT ? ID_KINDS : 0;
    }
}

const char *upload_kind_mime(upload_kind_t k)
{
    switch (k) {
    case UPLOAD_KIND_JPEG:
        return "image/jpeg";
    case UPLOAD_KIND_PNG:
        return "image/png";
    case UPLOAD_KIND_HEIC:
        return "image/heic";
    case UPLOAD_KIND_PDF:
        return "application/pdf";
    case UPLOAD_KIND_CSV:
        return "text/csv";
    case UPLOAD_KIND_XLSX:
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    default:
        return "application/octet-stream";
    }
}

const char *upload_kind_name(upload_kind_t k)
{
    static const char *const names[UPLOAD_KIND__COUNT] = {"unknown", "JPEG", "PNG", "HEIC",
                                                          "PDF",     "CSV",  "XLSX"};
    return (unsigned)k < UPLOAD_KIND__COUNT ? names[k] : "unknown";
}

upload_kind_t upload_kind_from_mime(const char *mime)
{
    static const struct {
        const char *mime;
        upload_kind_t kind;
    } map[] = {
        {"image/jpeg", UPLOAD_KIND_JPEG},
        {"image/jpg", UPLOAD_KIND_JPEG},
        {"image/pjpeg", UPLOAD_KIND_JPEG},
        {"image/png", UPLOAD_KIND_PNG},
        {"image/heic", UPLOAD_KIND_HEIC},
        {"image/heif", UPLOAD_KIND_HEIC},
        {"image/heic-sequence", UPLOAD_KIND_HEIC},
        {"image/heif-sequence", UPLOAD_KIND_HEIC},
        {"application/pdf", UPLOAD_KIND_PDF},
        {"text/csv", UPLOAD_KIND_CSV},
        {"application/csv", UPLOAD_KIND_CSV},
        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", UPLOAD_KIND_XLSX},
    };
    if (mime == NULL) return UPLOAD_KIND_UNKNOWN;
    size_t len = strcspn(mime, "; \t");
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].mime) == len && strncasecmp(map[i].mime, mime, len) == 0)
            return map[i].kind;
    return UPLOAD_KIND_UNKNOWN;
}
