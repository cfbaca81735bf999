/* handlers.h: the HTTP routes of bellhop, one file per route group.
 *
 * Handlers reach shared state through the hctx_t that the server hands to the HTTP layer as its
 * app pointer (http_req_app). They never block: store and crypto work goes through
 * store_submit(), and the answer is given from its done callback. */
#ifndef BH_HANDLERS_HANDLERS_H
#define BH_HANDLERS_HANDLERS_H

#include "auth/auth.h"
#include "http/http.h"
#include "http/router.h"
#include "realtime/hub.h"
#include "realtime/service.h"
#include "realtime/stream.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hctx_s {
    store_t *store;          /* borrowed */
    const uint8_t *jwt_key;  /* borrowed */
    size_t jwt_key_len;
    int token_ttl_s;
    const char *web_dir;     /* borrowed; absolute or relative to the working directory */
    int workers;
    int64_t started_ms;
    atomic_int store_ok;     /* 1 while the background check reaches the store */
    atomic_llong store_checked_ms;
    rt_hub_t *hub;           /* borrowed; event streams */
    rt_policy_t policy;      /* which roles read which service */
    rt_server_t *rt;         /* borrowed; the stream sessions of every worker */
    struct chat_server_s *chat; /* borrowed; collaboration chat sessions (chat/chat.h) */
    struct upload_srv_s *uploads; /* borrowed; guest document uploads (upload/upload.h) */
    rt_flags_t *flags;       /* borrowed; streaming rollout and fallback flags */
    int poll_timeout_s, poll_max_timeout_s;
    const char *allowed_origins; /* borrowed; BELLHOP_ALLOWED_ORIGINS */
} hctx_t;

/* Adds every route to r. Returns 0 or BH_EINVAL (a bad pattern: a bug). */
int handlers_register(http_router_t *r);
/* GET/HEAD fallback: files under web_dir (see static.c). */
void handlers_static(http_req_t *req);

/* Authenticates the request from "Authorization: Bearer <jwt>". On success fills *out (the
 * caller disposes it) and returns 0; otherwise answers 401 itself and returns BH_EAUTH. */
int handlers_authenticate(http_req_t *req, auth_claims_t *out);
/* Same, but also accepts the token from the access_token query parameter or the bellhop_token
 * cookie, for browsers that cannot set headers (WebSocket upgrades). A cookie counts only from
 * a trusted Origin (ws_origin_trusted): else 403 origin_not_allowed, since any page could make
 * the browser send it. */
int handlers_authenticate_any(http_req_t *req, auth_claims_t *out);

/* 1 if role is in mask (a set of 1u << auth_role_t). Otherwise answers 403 "forbidden" naming
 * what was attempted, and returns 0. */
int handlers_require_role(http_req_t *req, const auth_claims_t *c, unsigned mask,
                          const char *what);
/* 1 if the claims allow property_id. Otherwise answers 403 "property_forbidden", returns 0. */
int handlers_require_property(http_req_t *req, const auth_claims_t *c, int64_t property_id);
/* Registers the domain routes (finance, guests, tasks, properties, users): domain_routes.c. */
int handlers_register_domain(http_router_t *r);
/* Registers the collaboration routes (chat stream, rooms, messages): chat.c. */
int handlers_register_chat(http_router_t *r);
/* Registers the upload stream, tus and documents routes: uploads.c, documents.c. */
int handlers_register_uploads(http_router_t *r);

#define ROLE_BIT(r) (1u << (r))

/* Route groups. */
void handlers_health_get(http_req_t *req);
void handlers_auth_login(http_req_t *req);
void handlers_auth_me(http_req_t *req);
void handlers_realtime_stream(http_req_t *req);
void handlers_realtime_publish(http_req_t *req);
void handlers_realtime_metrics(http_req_t *req);
void handlers_prometheus(http_req_t *req);
/* Feature flags, transport config and long-polling (flags.c). */
int handlers_register_flags(http_router_t *r);

/* JSON for a user row / claims (new references). */
json_t *handlers_user_json(const store_user_t *u);
json_t *handlers_claims_json(const auth_claims_t *c);

#endif
