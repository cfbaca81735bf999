/* server.h: wires config, store, HTTP and workers together and runs until SIGINT/SIGTERM. */
#ifndef BH_APP_SERVER_H
#define BH_APP_SERVER_H

#include "app/config.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* Serves until a stop signal. st and key are borrowed. Returns 0 after a clean stop, or an error
 * code if the server could not start (the reason is logged). */
int server_run(const config_t *cfg, store_t *st, const uint8_t *key, size_t keylen);

#endif
