#include "app/secret.h"

#include "core/alloc.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define SECRET_HEX_LEN 64

int secret_ensure_dir(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return UV_ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) return uv_translate_sys_error(errno);
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return uv_translate_sys_error(errno);
    return 0;
}

static int read_secret(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return uv_translate_sys_error(errno);
    ssize_t r = read(fd, out, n - 1);
    close(fd);
    if (r < 0) return uv_translate_sys_error(errno);
    out[r] = '\0';
    while (r > 0 && (out[r - 1] == '\n' || out[r - 1] == ' ')) out[--r] = '\0';
    return (int)r;
}

int secret_load(const config_t *cfg, uint8_t **key, size_t *len, char *err, size_t n)
{
    if (cfg->jwt_secret[0] != '\0') {
        *len = strlen(cfg->jwt_secret);
        *key = (uint8_t *)xstrdup(cfg->jwt_secret);
        return 0;
    }
    if (config_is_production(cfg)) {
        snprintf(err, n, "BELLHOP_JWT_SECRET is required in production");
        return BH_ECONFIG;
    }
    int rc = secret_ensure_dir(cfg->data_dir);
    if (rc != 0) {
        snprintf(err, n, "cannot create data dir %s: %s", cfg->data_dir, uv_strerror(rc));
        return rc;
    }
    char path[4200], hex[SECRET_HEX_LEN + 8];
    snprintf(path, sizeof path, "%s/jwt_secret", cfg->data_dir);
    int r = read_secret(path, hex, sizeof hex);
    if (r == UV_ENOENT) {
        uint8_t raw[SECRET_HEX_LEN / 2];
        if (RAND_bytes(raw, sizeof raw) != 1) {
            snprintf(err, n, "no randomness for a secret");
            return BH_EINTERNAL;
        }
        for (size_t i = 0; i < sizeof raw; i++) sprintf(hex + 2 * i, "%02x", raw[i]);
        /* O_EXCL: if another process (a parallel `bellhop token`) wins the race, use its secret. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ssize_t w = write(fd, hex, SECRET_HEX_LEN);
            int ok = w == SECRET_HEX_LEN && fsync(fd) == 0;
            close(fd);
            if (!ok) {
                unlink(path);
                snprintf(err, n, "cannot write %s", path);
                return UV_EIO;
            }
        }
        r = read_secret(path, hex, sizeof hex);
    }
    if (r < 0) {
        snprintf(err, n, "cannot read %s: %s", path, uv_strerror(r));
        return r;
    }
    if (r < 32) {
        snprintf(err, n, "%s holds a secret shorter than 32 bytes", path);
        return BH_ECONFIG;
    }
    *len = (size_t)r;
    *key = (uint8_t *)xstrdup(hex);
    return 0;
}
