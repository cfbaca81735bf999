/* log.h: structured logging, one logfmt line per record on stderr.
 *
 *   ts=2026-11-27T11:00:00.123Z level=info msg=request method=GET path=/health status=200 ...
 *
 * The level is process-wide and set once at start-up. Each record is formatted into a stack buffer
 * and written with a single write(2), so lines from different worker threads never interleave. */
#ifndef BH_CORE_LOG_H
#define BH_CORE_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* Sends records to path (appended, created 0640) instead of stderr. Call again, or log_reopen(),
 * after the file was rotated. Thread-safe against log_write. Returns 0 or -errno / BH_EINVAL. */
int log_open_file(const char *path);
/* Reopens the file given to log_open_file (nothing when logging to stderr). Returns 0 or -errno. */
int log_reopen(void);
/* Parses "debug", "info", "warn", "error", "off"; returns 0 or BH_EINVAL. */
int log_level_parse(const char *s, log_level_t *out);

/* msg is a short event name (no spaces); fmt, if not NULL, appends "key=value ..." pairs.
 * Values that may hold spaces or quotes must go through log_quote(). */
void log_write(log_level_t level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s as a logfmt value into out (size n): bare if it has no space, quote, '=' or control
 * byte, else double-quoted with escapes. Truncates to fit. Returns out. */
const char *log_quote(char *out, unsigned n, const char *s);

#define log_enabled(lvl) ((lvl) >= log_get_level())
#define LOG_D(msg, ...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, msg, __VA_ARGS__); } while (0)
#define LOG_I(msg, ...) do { if (log_enabled(LOG_INFO)) log_write(LOG_INFO, msg, __VA_ARGS__); } while (0)
#define LOG_W(msg, ...) do { if (log_enabled(LOG_WARN)) log_write(LOG_WARN, msg, __VA_ARGS__); } while (0)
#define LOG_E(msg, ...) do { if (log_enabled(LOG_ERROR)) log_write(LOG_ERROR, msg, __VA_ARGS__); } while (0)

#endif
