/* harness.h: a real worker loop and real connections for fuzz targets, without the network.
 *
 * The server's HTTP and WebSocket code runs on a net_conn_t accepted by a worker. The harness
 * makes one worker (net_worker_init + a listener on 127.0.0.1, never connected to), and for each
 * input hands the listener one end of a socketpair as if accept(2) had returned it, so
 * http_server_on_accept -> net_conn_accept run unchanged. Input bytes are then delivered through
 * the connection's own on_data callback, in chunks the input chooses (1-byte splits included), as
 * on_read would; answers go to the socket and are drained from the other end. At the end the
 * deadline sweep is forced (timeout paths), every connection is closed and the loop runs until
 * nothing is left, so LeakSanitizer sees every allocation of the input freed.
 *
 * One harness per process (libFuzzer runs inputs one after the other on one thread). */
#ifndef BH_FUZZ_HARNESS_H
#define BH_FUZZ_HARNESS_H

#include "http/http.h"
#include "http/router.h"
#include "net/conn.h"
#include "net/worker.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fz_net_s {
    net_worker_t w;
    http_server_t *srv;
    int peer_fd;   /* our end of the current connection's socketpair, or -1 */
    size_t n_out;  /* bytes the server wrote on the current connection */
    char out[8192]; /* the first of them, for targets that look at the answer */
} fz_net_t;

/* Sets up the worker and an HTTP server over router (borrowed) with the given limits and CORS
 * allow-list; app is what http_req_app returns. Aborts on failure (a harness bug, not a
 * finding). */
void fz_net_init(fz_net_t *h, const http_router_t *router, http_handler_cb fallback,
                 const http_limits_t *lim, const char *origins, void *app);

/* Accepts a new connection (the server's end of a fresh socketpair) and returns it, referenced:
 * pass it to fz_net_end. */
net_conn_t *fz_net_open(fz_net_t *h);

/* Delivers data[0..n) to c as reads of at most `chunk` bytes each (0: all at once), each copied
 * into its own exactly-sized buffer (so an over-read is an ASan report), then runs the loop
 * without blocking and drains the answers. Stops early when c is closing. */
void fz_net_feed(fz_net_t *h, net_conn_t *c, const uint8_t *data, size_t n, size_t chunk);

/* Runs the loop and drains the answers until the loop is quiet: no thread-pool job or write in
 * flight (store work of real handlers), for at most about two seconds. */
void fz_net_pump(fz_net_t *h);

/* Ends the input: fires every deadline (timeouts), closes every connection, runs the loop until
 * every handle of the connection is closed, and drops the reference fz_net_open gave. */
void fz_net_end(fz_net_t *h, net_conn_t *c);

/* Splits an input: the first byte picks the read size (0 = all at once, else 1..16 or larger). */
size_t fz_chunk_from(uint8_t b);

#endif
