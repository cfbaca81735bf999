/* auth.c: POST /auth/login, GET /auth/me, and token extraction for every authenticated route. */
#include "handlers/handlers.h"

#include "auth/jwt.h"
#include "auth/password.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "net/conn.h"
#include "ws/ws_conn.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int verify_token(http_req_t *req, const char *token, size_t len, auth_claims_t *out)
{
    hctx_t *h = http_req_app(req);
    int rc = jwt_verify(token, len, h->jwt_key, h->jwt_key_len, clock_unix_s(), out);
    if (rc == 0) return 0;
    const char *code = rc == BH_EEXPIRED ? "token_expired"
                       : rc == BH_ENOTYET ? "token_not_yet_valid"
                                          : "invalid_token";
    const char *msg = rc == BH_EEXPIRED ? "the token has expired; log in again"
                      : rc == BH_ENOTYET ? "the token is not valid yet"
                                         : "the token is malformed or its signature is wrong";
    http_resp_header(req, "WWW-Authenticate", "Bearer realm=\"bellhop\", error=\"invalid_token\"");
    http_respond_error(req, 401, code, "%s", msg);
    return BH_EAUTH;
}

static const char *bearer(http_req_t *req)
{
    const char *h = http_req_header(req, "authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
    h += 7;
    while (*h == ' ') h++;
    return *h ? h : NULL;
}

static int missing(http_req_t *req)
{
    http_resp_header(req, "WWW-Authenticate", "Bearer realm=\"bellhop\"");
    http_respond_error(req, 401, "unauthorized",
                       "missing credentials: send Authorization: Bearer <token>");
    return BH_EAUTH;
}

int handlers_authenticate(http_req_t *req, auth_claims_t *out)
{
    auth_claims_init(out);
    const char *t = bearer(req);
    if (t == NULL) return missing(req);
    return verify_token(req, t, strlen(t), out);
}

int handlers_authenticate_any(http_req_t *req, auth_claims_t *out)
{
    auth_claims_init(out);
    const char *t = bearer(req);
    if (t != NULL) return verify_token(req, t, strlen(t), out);
    char tok[JWT_MAX_LEN + 1];
    long n = http_req_query_get(req, "access_token", tok, sizeof tok);
    if (n < 0) {
        n = http_req_cookie_get(req, "bellhop_token", tok, sizeof tok);
        const hctx_t *h = http_req_app(req);
        if (n > 0 && !ws_origin_trusted(req, h->allowed_origins)) {
            http_respond_error(req, 403, "origin_not_allowed",
                               "a cookie credential is accepted only from this server's own "
                               "origin or one listed in BELLHOP_ALLOWED_ORIGINS; send the token "
                               "as access_token or in Authorization");
            return BH_EFORBIDDEN;
        }
    }
    if (n <= 0) return missing(req);
    return verify_token(req, tok, (size_t)n, out);
}

json_t *handlers_claims_json(const auth_claims_t *c)
{
    json_t *j = json_pack("{s:I,s:I,s:s,s:s,s:I}", "sub", (json_int_t)c->sub, "orgId",
                          (json_int_t)c->org_id, "role", auth_role_name(c->role), "name", c->name,
                          "exp", (json_int_t)c->exp);
    if (!c->all_properties) {
        json_t *a = json_array();
        for (size_t i = 0; i < c->n_properties; i++)
            json_array_append_new(a, json_integer(c->property_ids[i]));
        json_object_set_new(j, "propertyIds", a);
    }
    return j;
}

json_t *handlers_user_json(const store_user_t *u)
{
    json_t *j = json_pack("{s:I,s:I,s:s,s:s,s:s}", "id", (json_int_t)u->id, "orgId",
                          (json_int_t)u->org_id, "email", u->email, "name", u->name, "role",
                          auth_role_name(u->role));
    json_t *props = json_null();
    if (!u->all_properties) {
        props = json_array();
        for (size_t i = 0; i < u->n_properties; i++)
            json_array_append_new(props, json_integer(u->property_ids[i]));
    }
    json_object_set_new(j, "propertyIds", props);
    return j;
}

/* ---- POST /auth/login ---------------------------------------------------------------------- */

typedef struct login_s {
    http_req_t *req;
    hctx_t *h;
    char email[STORE_EMAIL_MAX];
    char *password;
    int rc;          /* 0: ok, BH_EAUTH: bad credentials, else a store error */
    store_user_t user;
    char *token;
    int64_t exp;
} login_t;

/* A valid argon2id hash of a random password, verified when the email is unknown so that the
 * answer takes as long as for a known one and does not reveal which emails exist. */
static char dummy_hash[PASSWORD_HASH_MAX];
static uv_once_t dummy_once = UV_ONCE_INIT;

static void make_dummy_hash(void)
{
    if (password_hash("not-a-real-password-0123456789", dummy_hash) != 0) dummy_hash[0] = '\0';
}

static void login_work(store_t *st, void *data)
{
    login_t *l = data;
    int rc = store_user_by_email(st, l->email, &l->user);
    if (rc == BH_ENOTFOUND) {
        uv_once(&dummy_once, make_dummy_hash);
        if (dummy_hash[0]) (void)password_verify(dummy_hash, l->password);
        l->rc = BH_EAUTH;
        return;
    }
    if (rc != 0) {
        l->rc = rc;
        return;
    }
    if (l->user.password_hash[0] == '\0' || !password_verify(l->user.password_hash, l->password)) {
        l->rc = BH_EAUTH;
        return;
    }
    auth_claims_t c;
    auth_claims_init(&c);
    c.sub = l->user.id;
    c.org_id = l->user.org_id;
    c.role = l->user.role;
    snprintf(c.name, sizeof c.name, "%s", l->user.name);
    c.all_properties = l->user.all_properties;
    c.n_properties = l->user.n_properties;
    c.property_ids = l->user.property_ids; /* borrowed for signing only */
    c.iat = c.nbf = clock_unix_s();
    c.exp = l->exp = c.iat + l->h->token_ttl_s;
    l->rc = jwt_sign(&c, l->h->jwt_key, l->h->jwt_key_len, &l->token);
    c.property_ids = NULL;
    c.n_properties = 0;
    auth_claims_dispose(&c);
}

static void login_done(void *data, int status)
{
    login_t *l = data;
    http_req_t *req = l->req;
    if (status != 0) {
        http_respond_error(req, 503, "unavailable", "the server is shutting down");
    } else if (l->rc == BH_EAUTH) {
        LOG_I("login_failed", "req=%s", http_req_id(req));
        http_respond_error(req, 401, "invalid_credentials", "wrong email or password");
    } else if (l->rc != 0) {
        http_respond_error(req, 503, "store_unavailable", "the store could not be reached");
    } else {
        json_t *body = json_pack("{s:s,s:s,s:i,s:o}", "token", l->token, "tokenType", "Bearer",
                                 "expiresIn", l->h->token_ttl_s, "user",
                                 handlers_user_json(&l->user));
        http_respond_json(req, 200, body);
    }
    if (l->password) {
        sodium_memzero(l->password, strlen(l->password));
        free(l->password);
    }
    free(l->token);
    store_user_dispose(&l->user);
    free(l);
}

void handlers_auth_login(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    json_t *body = http_req_json_object(req);
    if (body == NULL) return;
    json_t *email = json_object_get(body, "email");
    json_t *password = json_object_get(body, "password");
    if (!json_is_string(email) || json_string_length(email) == 0 ||
        json_string_length(email) >= STORE_EMAIL_MAX) {
        json_decref(body);
        http_respond_error(req, 400, "invalid_field", "email: a non-empty string is required");
        return;
    }
    if (!json_is_string(password) || json_string_length(password) == 0 ||
        json_string_length(password) > PASSWORD_MAX_LEN) {
        json_decref(body);
        http_respond_error(req, 400, "invalid_field",
                           "password: a string of 1 to %d characters is required",
                           PASSWORD_MAX_LEN);
        return;
    }
    /* Only well-formed attempts count: each costs an argon2id hash, which the limit bounds. */
    net_conn_t *c = http_req_conn(req);
    unsigned retry_ms = 0;
    if (c && net_conn_limit_login(c, &retry_ms) != 0) {
        json_decref(body);
        char ra[16];
        snprintf(ra, sizeof ra, "%u", (retry_ms + 999) / 1000);
        http_resp_header(req, "Retry-After", ra);
        LOG_I("login_rate_limited", "peer=%s", http_req_peer(req));
        http_respond_error(req, 429, "too_many_logins",
                           "too many login attempts from this address: retry in %u s",
                           (retry_ms + 999) / 1000);
        return;
    }
    login_t *l = xcalloc(1, sizeof *l);
    l->req = req;
    l->h = h;
    snprintf(l->email, sizeof l->email, "%s", json_string_value(email));
    l->password = xstrdup(json_string_value(password));
    store_user_init(&l->user);
    json_decref(body);
    int rc = store_submit(h->store, http_req_loop(req), login_work, login_done, l);
    if (rc != 0) login_done(l, rc);
}

/* ---- GET /auth/me ---------------------------------------------------------------------------- */

typedef struct me_s {
    http_req_t *req;
    auth_claims_t claims;
    store_user_t user;
    int rc;
} me_t;

static void me_work(store_t *st, void *data)
{
    me_t *m = data;
    m->rc = store_user_get(st, m->claims.org_id, m->claims.sub, &m->user);
}

static void me_done(void *data, int status)
{
    me_t *m = data;
    if (status != 0) {
        http_respond_error(m->req, 503, "unavailable", "the server is shutting down");
    } else if (m->rc != 0 && m->rc != BH_ENOTFOUND) {
        http_respond_error(m->req, 503, "store_unavailable", "the store could not be reached");
    } else {
        /* A service token or a deleted user has claims but no row: the claims still answer. */
        json_t *body = json_pack("{s:o,s:o}", "claims", handlers_claims_json(&m->claims), "user",
                                 m->rc == 0 ? handlers_user_json(&m->user) : json_null());
        http_respond_json(m->req, 200, body);
    }
    auth_claims_dispose(&m->claims);
    store_user_dispose(&m->user);
    free(m);
}

void handlers_auth_me(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    me_t *m = xcalloc(1, sizeof *m);
    m->req = req;
    store_user_init(&m->user);
    if (handlers_authenticate(req, &m->claims) != 0) {
        auth_claims_dispose(&m->claims);
        free(m);
        return;
    }
    int rc = store_submit(h->store, http_req_loop(req), me_work, me_done, m);
    if (rc != 0) me_done(m, rc);
}

/* ---- authorisation helpers ------------------------------------------------------------------ */

int handlers_require_role(http_req_t *req, const auth_claims_t *c, unsigned mask,
                          const char *what)
{
    if ((unsigned)c->role < ROLE__COUNT && (mask & (1u << c->role))) return 1;
    http_respond_error(req, 403, "forbidden", "role %s may not %s", auth_role_name(c->role), what);
    return 0;
}

int handlers_require_property(http_req_t *req, const auth_claims_t *c, int64_t property_id)
{
    if (auth_claims_has_property(c, property_id)) return 1;
    http_respond_error(req, 403, "property_forbidden", "no access to property %lld",
                       (long long)property_id);
    return 0;
}
