/* admit.h: admission checks before a WebSocket upgrade, shared by every stream endpoint.
 *
 * Each stream handler calls handlers_ws_admit_ip() first (before looking at the request) and
 * handlers_ws_admit_user() once the token is known, then upgrades. Refusals are plain HTTP
 * answers, before any upgrade, so a client sees a status and a JSON error, never a dropped socket:
 *
 *   503 unavailable           the server is draining (SIGTERM): reconnect elsewhere
 *   429 too_many_handshakes   over BELLHOP_HANDSHAKE_RATE / _BURST from this address (Retry-After)
 *   429 too_many_connections  the user holds BELLHOP_MAX_CONNS_PER_USER stream connections */
#ifndef BH_HANDLERS_ADMIT_H
#define BH_HANDLERS_ADMIT_H

#include "auth/auth.h"
#include "http/http.h"

/* Returns 0, or BH_EAGAIN after answering req (the handler must just return). */
int handlers_ws_admit_ip(http_req_t *req);
/* Counts the connection for c's user until it closes (released by the net layer). Returns 0, or
 * BH_EAGAIN after answering req. c is borrowed. */
int handlers_ws_admit_user(http_req_t *req, const auth_claims_t *c);

#endif
