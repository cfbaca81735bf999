#include "core/log.h"

#include "core/clock.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile log_level_t current_level = LOG_INFO;
/* Where records go. A log file gets its own descriptor once; reopening replaces what it refers to
 * with dup2(), which is atomic, so writers on other threads never see a closed descriptor. */
static volatile int log_fd = STDERR_FILENO;
static char log_path[1024];
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
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}

int log_open_file(const char *path)
{
    if (strlen(path) >= sizeof log_path) return BH_EINVAL;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return -errno;
    snprintf(log_path, sizeof log_path, "%s", path);
    if (log_fd == STDERR_FILENO) {
        log_fd = fd;
        return 0;
    }
    int rc = dup2(fd, log_fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int log_reopen(void)
{
    if (log_path[0] == '\0') return 0;
    char path[sizeof log_path];
    snprintf(path, sizeof path, "%s", log_path);
    return log_open_file(path);
}
