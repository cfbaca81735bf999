/* buf.h: a growable byte buffer.
 *
 * Invariant: data[0..len) is content; cap >= len; when cap > 0, data[len] is always '\0' so the
 * content can be used as a C string (the terminator is not counted in len). */
#ifndef BH_CORE_BUF_H
#define BH_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf_s {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

void buf_init(buf_t *b);
void buf_dispose(buf_t *b);
/* Ensures room for n more bytes (plus the terminator). Aborts on out of memory. */
void buf_reserve(buf_t *b, size_t n);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_appends(buf_t *b, const char *s);
void buf_appendc(buf_t *b, char c);
void buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vappendf(buf_t *b, const char *fmt, va_list ap);
/* Drops the first n bytes, moving the rest to the front. */
void buf_consume(buf_t *b, size_t n);
void buf_reset(buf_t *b);
/* Hands the storage to the caller (new, free() it) and leaves b empty. */
char *buf_steal(buf_t *b, size_t *len);

#endif
