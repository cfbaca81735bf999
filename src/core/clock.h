/* clock.h: time helpers. */
#ifndef BH_CORE_CLOCK_H
#define BH_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time in milliseconds / nanoseconds, for durations and timeouts. */
uint64_t clock_mono_ms(void);
uint64_t clock_mono_ns(void);
/* Wall-clock time: seconds and milliseconds since the Unix epoch. */
int64_t clock_unix_s(void);
int64_t clock_unix_ms(void);
/* Writes the current UTC time as "2026-11-27T11:00:00.123Z" (24 chars + NUL; n >= 25). */
void clock_iso8601(char *out, size_t n);
/* Same, for a given millisecond timestamp. */
void clock_iso8601_ms(int64_t unix_ms, char *out, size_t n);

#endif
