/* static.c: files under web_dir at / (the console and the JS client).
 *
 * The file is opened and read on libuv's thread pool. The path comes from the URL, so it is
 * decoded once and then refused outright if it could name anything outside web_dir: no "..",
 * no hidden files, no backslashes or NULs, and symlinks are not followed at the last step. */
#include "handlers/handlers.h"

#include "core/alloc.h"
#include "core/err.h"
#include "http/url.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_MAX_FILE (32 * 1024 * 1024)
#define STATIC_PATH_MAX 1024

typedef struct static_req_s {
    uv_work_t work;
    http_req_t *req;
    char path[STATIC_PATH_MAX + 256];
    char etag[64];
    char *data;
    size_t len;
    int status; /* 200, 304, 404, 500 */
} static_req_t;

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},          {".svg", "image/svg+xml"},
    {".png", "image/png"},                  {".jpg", "image/jpeg"},
    {".ico", "image/x-icon"},               {".txt", "text/plain; charset=utf-8"},
    {".ts", "text/plain; charset=utf-8"},   {".map", "application/json"},
    {".woff2", "font/woff2"},               {".webmanifest", "application/manifest+json"},
};

static const char *mime_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL) return "application/octet-stream";
    for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
        if (strcmp(dot, mime_types[i].ext) == 0) return mime_types[i].type;
    return "application/octet-stream";
}

/* Returns 1 if the decoded path is safe to append to web_dir. */
static int safe_path(const char *p)
{
    if (p[0] != '/') return 0;
    if (strchr(p, '\\') != NULL) return 0;
    for (const char *s = p; *s; s++) {
        /* Every segment start: refuse ".", "..", and hidden files alike. */
        if (*s == '/' && s[1] == '.') return 0;
        if ((unsigned char)*s < 0x20) return 0;
    }
    return 1;
}

static void static_work(uv_work_t *w)
{
    static_req_t *s = w->data;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        s->status = (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) ? 404 : 500;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX_FILE) {
        s->status = 404;
        close(fd);
        return;
    }
    snprintf(s->etag, sizeof s->etag, "\"%llx-%llx\"", (unsigned long long)st.st_mtime,
             (unsigned long long)st.st_size);
    s->len = (size_t)st.st_size;
    s->data = xmalloc(s->len + 1);
    size_t off = 0;
    while (off < s->len) {
        ssize_t n = read(fd, s->data + off, s->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fd);
    s->len = off;
    s->status = 200;
}

static void static_done(uv_work_t *w, int status)
{
    static_req_t *s = w->data;
    http_req_t *req = s->req;
    if (status != 0) {
        http_respond_error(req, 503, "unavailable", "the server is shutting down");
    } else if (s->status == 404) {
        http_respond_error(req, 404, "not_found", "no route or file for %s", http_req_path(req));
    } else if (s->status != 200) {
        http_respond_error(req, 500, "internal", "the file could not be read");
    } else {
        const char *inm = http_req_header(req, "if-none-match");
        const char *type = mime_type(s->path);
        http_resp_header(req, "ETag", s->etag);
        http_resp_header(req, "Cache-Control", "no-cache");
        http_resp_header(req, "X-Content-Type-Options", "nosniff");
        if (strncmp(type, "text/html", 9) == 0) {
            http_resp_header(req, "Content-Security-Policy",
                             "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' "
                             "data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors "
                             "'none'");
            http_resp_header(req, "Referrer-Policy", "no-referrer");
        }
        if (inm != NULL && strcmp(inm, s->etag) == 0) {
            free(s->data);
            s->data = NULL;
            http_respond(req, 304, NULL, NULL, 0);
        } else {
            http_respond_owned(req, 200, type, s->data, s->len);
            s->data = NULL;
        }
    }
    free(s->data);
    free(s);
}

void handlers_static(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    const char *raw = http_req_path(req);
    char path[STATIC_PATH_MAX];
    long n = url_decode(raw, strlen(raw), path, sizeof path - 16, 0);
    if (n < 0 || !safe_path(path)) {
        http_respond_error(req, 404, "not_found", "no route or file for %s", raw);
        return;
    }
    if (path[n - 1] == '/') strcat(path, "index.html");
    static_req_t *s = xcalloc(1, sizeof *s);
    s->req = req;
    int w = snprintf(s->path, sizeof s->path, "%s%s", h->web_dir, path);
    if (w < 0 || (size_t)w >= sizeof s->path) {
        free(s);
        http_respond_error(req, 414, "uri_too_long", "path too long");
        return;
    }
    s->work.data = s;
    int rc = uv_queue_work(http_req_loop(req), &s->work, static_work, static_done);
    if (rc != 0) {
        free(s);
        http_respond_error(req, 503, "unavailable", "the server is shutting down");
    }
}
