/* secret.h: the JWT signing secret.
 *
 * BELLHOP_JWT_SECRET wins. Otherwise, outside production, a random secret is generated once and
 * kept in <data_dir>/jwt_secret (mode 0600), so that `bellhop token` and `bellhop serve` given the
 * same data dir agree without any set-up. */
#ifndef BH_APP_SECRET_H
#define BH_APP_SECRET_H

#include "app/config.h"

#include <stddef.h>
#include <stdint.h>

/* On success *key is new (free() it) and *len its length. Creates data_dir if missing.
 * Returns 0 or BH_ECONFIG / UV_E* with err (size n) saying why. */
int secret_load(const config_t *cfg, uint8_t **key, size_t *len, char *err, size_t n);
/* Creates dir (and its parents) with mode 0700 if missing. Returns 0 or UV_E*. */
int secret_ensure_dir(const char *dir);

#endif
