/* uploads.c: the backend-neutral front of the uploads store (see uploads.h): argument checks, then
 * dispatch through the vtable's uploads ops. */
#include "store/uploads.h"

#include "core/err.h"
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

static int fits(const char *s, size_t cap)
{
    return strnlen(s, cap) < cap;
}

static int valid_id(const char *id)
{
    if (id == NULL || strlen(id) != STORE_UPLOAD_ID_LEN) return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

static const struct store_upload_ops *ops(store_t *st)
{
    return st->vt->uploads;
}

int store_upload_create(store_t *st, store_upload_t *u, int max_active)
{
    if (u == NULL || !valid_id(u->id) || u->org_id <= 0 || u->property_id <= 0 ||
        u->guest_id <= 0 || u->size < 0 || u->created_by < 0 || u->file_name[0] == '\0' ||
        u->document_type[0] == '\0' || !fits(u->document_type, sizeof u->document_type) ||
        !fits(u->file_name, sizeof u->file_name) || !fits(u->mime_type, sizeof u->mime_type) ||
        !fits(u->sha256, sizeof u->sha256) ||
        !fits(u->document_number, sizeof u->document_number) ||
        (strcmp(u->protocol, "ws") != 0 && strcmp(u->protocol, "tus") != 0))
        return BH_EINVAL;
    snprintf(u->status, sizeof u->status, "uploading");
    u->document_id = 0;
    return ops(st)->create(st, u, max_active);
}

int store_upload_get(store_t *st, int64_t org_id, const char *id, store_upload_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (org_id < 0 || !valid_id(id)) return BH_ENOTFOUND;
    return ops(st)->get(st, org_id, id, out);
}

int store_upload_touch(store_t *st, const char *id, int64_t now, int64_t expires_at)
{
    if (!valid_id(id)) return BH_ENOTFOUND;
    return ops(st)->touch(st, id, now, expires_at);
}

int store_upload_remove(store_t *st, const char *id)
{
    if (!valid_id(id)) return BH_ENOTFOUND;
    return ops(st)->remove(st, id);
}

int store_upload_complete(store_t *st, const char *id, store_document_t *doc)
{
    if (doc == NULL || !valid_id(id) || strlen(doc->sha256) != 64 || doc->org_id <= 0 ||
        doc->property_id <= 0 || doc->guest_id <= 0 || doc->size < 0 ||
        !fits(doc->document_type, sizeof doc->document_type) ||
        !fits(doc->file_name, sizeof doc->file_name) ||
        !fits(doc->mime_type, sizeof doc->mime_type) ||
        !fits(doc->document_number, sizeof doc->document_number))
        return BH_EINVAL;
    snprintf(doc->storage_key, sizeof doc->storage_key, "%s", id);
    return ops(st)->complete(st, id, doc);
}

int store_uploads_expired(store_t *st, int64_t now, size_t max, store_upload_t **out, size_t *n)
{
    if (out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    if (max == 0) return 0;
    if (max > STORE_LIST_MAX) max = STORE_LIST_MAX;
    return ops(st)->expired(st, now, max, out, n);
}

int store_document_get(store_t *st, int64_t org_id, int64_t id, store_document_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return ops(st)->document_get(st, org_id, id, out);
}

int store_document_list(store_t *st, const store_query_t *q, int64_t guest_id,
                        store_document_t **out, size_t *n)
{
    if (out == NULL || n == NULL || q == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    if (q->limit == 0 || q->limit > STORE_LIST_MAX || guest_id < 0) return BH_EINVAL;
    if (q->org_id <= 0) return 0;
    return ops(st)->document_list(st, q, guest_id, out, n);
}

int store_document_delete(store_t *st, int64_t org_id, int64_t id, store_document_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return ops(st)->document_delete(st, org_id, id, out);
}
