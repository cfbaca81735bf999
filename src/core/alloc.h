/* alloc.h: application-level allocation that never returns NULL.
 *
 * Out of memory in the server is not recoverable in any useful way, so these abort with a message
 * (as redis zmalloc does). Sans-I/O modules that must be fault-tested use plain malloc and return
 * BH_ENOMEM instead. */
#ifndef BH_CORE_ALLOC_H
#define BH_CORE_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
