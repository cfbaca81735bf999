/* uploads.h: the store operations of the uploads feature: resumable uploads in progress and the
 * guest documents they become (tables in migrations/sqlite/0004_uploads.sql).
 *
 * Same rules as store.h: every function is synchronous and runs on the thread pool only; errors
 * are 0, BH_ENOTFOUND, BH_EEXIST, BH_EINVAL, BH_ESTORE, plus those named below. Rows of another
 * organisation read as BH_ENOTFOUND. The front (uploads.c) checks arguments; backends implement
 * struct store_upload_ops (store_sqlite_uploads.c). */
#ifndef BH_STORE_UPLOADS_H
#define BH_STORE_UPLOADS_H

#include "store/store.h"

#define STORE_UPLOAD_ID_LEN 32 /* lower-case hex characters */
#define STORE_DOCTYPE_MAX 24
#define STORE_FILE_NAME_MAX 256 /* 255 bytes and the NUL */
#define STORE_MIME_MAX 128
#define STORE_SHA256_HEX 65 /* 64 hex characters and the NUL */
#define STORE_DOCNUM_MAX 40 /* a masked document number */

typedef struct store_upload_s {
    char id[STORE_UPLOAD_ID_LEN + 1];
    int64_t org_id;
    int64_t property_id;
    int64_t guest_id;
    char document_type[STORE_DOCTYPE_MAX];
    char file_name[STORE_FILE_NAME_MAX];
    char mime_type[STORE_MIME_MAX]; /* as declared */
    int64_t size;
    char sha256[STORE_SHA256_HEX];          /* declared (lower-case hex), or "" */
    char document_number[STORE_DOCNUM_MAX]; /* masked, or "" */
    char protocol[8];                       /* "ws" or "tus" */
    char status[STORE_STATUS_MAX];          /* "uploading" or "completed" */
    int64_t document_id;                    /* 0 until completed */
    int64_t created_by;
    int64_t created_at, updated_at, expires_at; /* unix ms */
} store_upload_t;

typedef struct store_document_s {
    int64_t id;
    int64_t org_id;
    int64_t property_id;
    int64_t guest_id;
    char document_type[STORE_DOCTYPE_MAX];
    char file_name[STORE_FILE_NAME_MAX];
    char mime_type[STORE_MIME_MAX]; /* detected */
    int64_t size;
    char sha256[STORE_SHA256_HEX];
    char document_number[STORE_DOCNUM_MAX];
    char storage_key[STORE_UPLOAD_ID_LEN + 1];
    int64_t created_by;
    int64_t created_at;
} store_document_t;

struct store_upload_ops {
    int (*create)(store_t *st, store_upload_t *u, int max_active);
    int (*get)(store_t *st, int64_t org_id, const char *id, store_upload_t *out);
    int (*touch)(store_t *st, const char *id, int64_t now, int64_t expires_at);
    int (*remove)(store_t *st, const char *id);
    int (*complete)(store_t *st, const char *id, store_document_t *doc);
    int (*expired)(store_t *st, int64_t now, size_t max, store_upload_t **out, size_t *n);
    int (*document_get)(store_t *st, int64_t org_id, int64_t id, store_document_t *out);
    int (*document_list)(store_t *st, const store_query_t *q, int64_t guest_id,
                         store_document_t **out, size_t *n);
    int (*document_delete)(store_t *st, int64_t org_id, int64_t id, store_document_t *out);
};

/* Creates u (all fields but status, document_id, created_at and updated_at set by the caller;
 * the store fills those). The guest must be one of u->org_id's, at u->property_id: else
 * BH_ENOTFOUND and nothing is stored. BH_ETOOBIG when u->created_by already has max_active
 * uploads in progress in the organisation (max_active <= 0: no limit). BH_EEXIST for a taken id. */
int store_upload_create(store_t *st, store_upload_t *u, int max_active);
/* The upload id of org_id (org_id 0: of any organisation; for the sweep). */
int store_upload_get(store_t *st, int64_t org_id, const char *id, store_upload_t *out);
/* Sets updated_at = now and expires_at. */
int store_upload_touch(store_t *st, const char *id, int64_t now, int64_t expires_at);
/* Deletes the upload row (a cancelled, discarded or expired upload). */
int store_upload_remove(store_t *st, const char *id);
/* In one transaction: inserts doc (id, created_at filled back; storage_key = the upload id) and
 * marks the upload completed with doc's id. BH_ECONFLICT if it is not in progress. */
int store_upload_complete(store_t *st, const char *id, store_document_t *doc);
/* At most max uploads with expires_at < now, oldest first, in a new array (free()). */
int store_uploads_expired(store_t *st, int64_t now, size_t max, store_upload_t **out, size_t *n);

int store_document_get(store_t *st, int64_t org_id, int64_t id, store_document_t *out);
/* Newest first, with the list rules of store_query_t (q->status unused); guest_id 0: any guest. */
int store_document_list(store_t *st, const store_query_t *q, int64_t guest_id,
                        store_document_t **out, size_t *n);
/* Deletes the document and fills *out with it (the caller removes the file). */
int store_document_delete(store_t *st, int64_t org_id, int64_t id, store_document_t *out);

#endif
