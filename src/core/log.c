#include "core/log.h"

#include "core/clock.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile log_level_t current_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(log_level_t level)
{
    current_level = level;
}

log_level_t log_get_level(void)
{
    return current_level;
}

int log_level_parse(const char *s, log_level_t *out)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return BH_EINVAL;
}

const char *log_quote(char *out, unsigned n, const char *s)
{
    int bare = *s != '\0';
    for (const char *p = s; *p && bare; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f) bare = 0;
    if (bare) {
        snprintf(out, n, "%s", s);
        return out;
    }
    unsigned o = 0;
    if (n < 3) {
        if (n) out[0] = '\0';
        return out;
    }
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < n; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < ' ' || *p == 0x7f) {
            o += (unsigned)snprintf(out + o, n - o, "\\x%02x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

void log_write(log_level_t level, const char *msg, const char *fmt, ...)
{
    char line[2048], ts[32];
    clock_iso8601(ts, sizeof ts);
    int n = snprintf(line, sizeof line, "ts=%s level=%s msg=%s", ts, level_names[level], msg);
    if (fmt != NULL && n > 0 && (size_t)n < sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0) n += m;
    }
    if (n < 0) return;
    if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write per record keeps lines whole across threads; a short write to a pipe is the
     * reader's loss, never a reason to block the loop in a retry. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
