/* blob.h: an immutable, reference-counted byte buffer shared across threads.
 *
 * A broadcast is encoded once into a blob, and every connection's write queue holds a reference
 * to the same bytes (h2o h2o_mem_alloc_shared, nghttp2 rcbuf). */
#ifndef BH_CORE_BLOB_H
#define BH_CORE_BLOB_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct blob_s {
    atomic_uint refs;
    size_t len;
    char data[];
} blob_t;

/* A new blob of len bytes (uninitialised; fill it before sharing), one reference. */
blob_t *blob_new(size_t len);
/* A new blob holding a copy of p[0..len). */
blob_t *blob_copy(const void *p, size_t len);
blob_t *blob_ref(blob_t *b);
void blob_unref(blob_t *b);

#endif
