#include "core/blob.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

blob_t *blob_new(size_t len)
{
    blob_t *b = xmalloc(sizeof *b + len + 1);
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data[len] = '\0';
    return b;
}

blob_t *blob_copy(const void *p, size_t len)
{
    blob_t *b = blob_new(len);
    memcpy(b->data, p, len);
    return b;
}

blob_t *blob_ref(blob_t *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void blob_unref(blob_t *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) free(b);
}
