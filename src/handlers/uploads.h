/* uploads.h: what the upload route groups share: the WebSocket upload stream (uploads.c), tus
 * (tus.c) and the documents API (documents.c). Both upload protocols check a new upload with
 * handlers_upload_prepare and open, write and complete it through upload/upload.h, so they apply
 * the same rules and end in the same completion. */
#ifndef BH_HANDLERS_UPLOADS_H
#define BH_HANDLERS_UPLOADS_H

#include "handlers/domain.h"
#include "store/uploads.h"
#include "upload/upload.h"

/* Who may upload and read guest documents: as for guests. */
#define UPLOAD_ROLES (DOMAIN_ROLES_MANAGEMENT | ROLE_BIT(ROLE_FRONT_DESK))

/* An error for either protocol: an HTTP status, a machine code and a message. */
typedef struct upload_err_s {
    int status;
    const char *code;
    char message[256];
} upload_err_t;

/* The metadata of a new upload (borrowed strings, NULL when absent; ids and size < 0 when
 * absent or not a number). */
typedef struct upload_start_s {
    const char *document_type;
    const char *file_name;
    const char *mime_type;
    const char *sha256;
    const char *document_number;
    int64_t guest_id;
    int64_t property_id;
    int64_t size;
} upload_start_t;

/* Checks in against the rules (type, sizes, name, checksum and document number formats, the
 * caller's property access) and fills row for upload_open (a fresh id, org, creator, expiry).
 * Returns 0, or fills err and returns BH_EINVAL. Never logs the document number. */
int handlers_upload_prepare(hctx_t *h, const auth_claims_t *c, const upload_start_t *in,
                            const char *protocol, store_upload_t *row, upload_err_t *err);
/* 1 if the upload service is running; else answers 503 and returns 0. */
int handlers_uploads_available(http_req_t *req);
/* Maps an upload_open / by-id / finish status to an error. */
void handlers_upload_error(int status, const store_upload_t *row, upload_err_t *err);

/* The JSON of a document (new reference). */
json_t *handlers_document_json(const store_document_t *d);
/* upload_document_cb: publishes guest/document_uploaded (thread pool). data is the hctx_t. */
void handlers_document_published(void *data, const store_document_t *doc);

void handlers_upload_stream(http_req_t *req);
void handlers_tus_options(http_req_t *req);
void handlers_tus_create(http_req_t *req);
void handlers_tus_head(http_req_t *req);
void handlers_tus_patch(http_req_t *req);
void handlers_tus_delete(http_req_t *req);
void handlers_documents_list(http_req_t *req);
void handlers_documents_get(http_req_t *req);
void handlers_documents_content(http_req_t *req);
void handlers_documents_delete(http_req_t *req);

#endif
