/* demo.h: the demo organisation for `bellhop serve --demo`. */
#ifndef BH_APP_DEMO_H
#define BH_APP_DEMO_H

#include "app/config.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define DEMO_PASSWORD "bellhop-demo"

/* Creates organisation 1 with properties, rooms and one user per role unless it exists, then
 * prints the logins, a ready-to-paste owner token and the URL on stdout. Runs at start-up, before
 * any loop serves (it hashes passwords and writes synchronously). Returns 0 or an error code. */
int demo_seed(store_t *st, const config_t *cfg, const uint8_t *key, size_t keylen, int port);

#endif
