/* doctype.h: the document types a guest upload may declare, and the file kinds each accepts.
 *
 * A document type (documentType in the protocol) says what the file is for; a file kind is what
 * its bytes are (upload_sniff, sniff.h). Identity documents take scans and photos (JPEG, PNG, HEIC)
 * or PDF; "image" takes the three image kinds; "csv" and "excel" are data files (CSV, XLSX).
 * Each type belongs to a size class with its own configurable limit (upload_limits_t). Sans-I/O. */
#ifndef BH_UPLOAD_DOCTYPE_H
#define BH_UPLOAD_DOCTYPE_H

typedef enum {
    UPLOAD_DOC_AADHAAR = 0,
    UPLOAD_DOC_PASSPORT,
    UPLOAD_DOC_DRIVING_LICENSE,
    UPLOAD_DOC_PAN_CARD,
    UPLOAD_DOC_ELECTION_CARD,
    UPLOAD_DOC_VISA,
    UPLOAD_DOC_IMAGE,
    UPLOAD_DOC_CSV,
    UPLOAD_DOC_EXCEL,
    UPLOAD_DOC__COUNT
} upload_doctype_t;

/* Size classes: one limit each. */
typedef enum {
    UPLOAD_CLASS_ID = 0, /* aadhaar, passport, driving_license, pan_card, election_card, visa */
    UPLOAD_CLASS_IMAGE,
    UPLOAD_CLASS_CSV,
    UPLOAD_CLASS_EXCEL,
    UPLOAD_CLASS__COUNT
} upload_class_t;

/* File kinds recognised from magic bytes. */
typedef enum {
    UPLOAD_KIND_UNKNOWN = 0,
    UPLOAD_KIND_JPEG,
    UPLOAD_KIND_PNG,
    UPLOAD_KIND_HEIC,
    UPLOAD_KIND_PDF,
    UPLOAD_KIND_CSV,
    UPLOAD_KIND_XLSX,
    UPLOAD_KIND__COUNT
} upload_kind_t;

#define UPLOAD_KIND_BIT(k) (1u << (k))

/* The comma-separated list of type names, for error messages. */
#define UPLOAD_DOCTYPE_NAMES                                                                       \
    "aadhaar, passport, driving_license, pan_card, election_card, visa, image, csv, excel"

/* Parses a type name. Returns 0 or BH_EINVAL. */
int upload_doctype_parse(const char *name, upload_doctype_t *out);
/* The static name of a type ("invalid" outside the enum). */
const char *upload_doctype_name(upload_doctype_t t);
upload_class_t upload_doctype_class(upload_doctype_t t);
/* The kinds t accepts, as a mask of UPLOAD_KIND_BIT(kind). */
unsigned upload_doctype_kinds(upload_doctype_t t);

/* The canonical MIME type of a kind ("application/octet-stream" for UNKNOWN). */
const char *upload_kind_mime(upload_kind_t k);
/* Short name for messages: "JPEG", "PDF", ... ("unknown"). */
const char *upload_kind_name(upload_kind_t k);
/* The kind a declared MIME type names (parameters after ';' and case are ignored), or
 * UPLOAD_KIND_UNKNOWN when it names none precisely (application/octet-stream, text/plain, the
 * ambiguous application/vnd.ms-excel that browsers give CSV files): such a declaration is not
 * held against the file. */
upload_kind_t upload_kind_from_mime(const char *mime);

#endif
