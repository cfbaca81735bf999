/* app.c: see app.h. Mirrors server_run() in src/app/server.c (keep the two in step). */
#include "app.h"

#include "app/config.h"
#include "app/demo.h"
#include "auth/jwt.h"
#include "chat/chat.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "handlers/handlers.h"
#include "handlers/uploads.h"
#include "realtime/flags.h"
#include "realtime/hub.h"
#include "realtime/stream.h"
#include "store/store.h"
#include "upload/upload.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t KEY[] = "fuzz-app-secret-0123456789abcdef-0123456789";
static int ready;
static fz_net_t net;
static config_t cfg;
static hctx_t hctx;
static char *tokens[FZ_APP_TOKENS];
static char dir[64];

static void app_die(const char *what)
{
    fprintf(stderr, "fuzz app: %s failed\n", what);
    abort();
}

static int64_t user_id(store_t *st, const char *email)
{
    store_user_t u;
    store_user_init(&u);
    if (store_user_by_email(st, email, &u) != 0) app_die(email);
    int64_t id = u.id;
    store_user_dispose(&u);
    return id;
}

static char *sign(int64_t sub, int64_t org, auth_role_t role, int64_t prop, int64_t exp)
{
    auth_claims_t c;
    auth_claims_init(&c);
    c.sub = sub;
    c.org_id = org;
    c.role = role;
    snprintf(c.name, sizeof c.name, "fuzz %d", (int)role);
    if (prop > 0) {
        c.n_properties = 1;
        c.property_ids = xmalloc(sizeof *c.property_ids);
        c.property_ids[0] = prop;
    } else {
        c.all_properties = 1;
    }
    c.iat = c.nbf = exp - 7200 < clock_unix_s() - 60 ? exp - 7200 : clock_unix_s() - 60;
    c.exp = exp;
    char *tok = NULL;
    if (jwt_sign(&c, KEY, sizeof KEY - 1, &tok) != 0) app_die("jwt_sign");
    auth_claims_dispose(&c);
    return tok;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The temporary data directory goes when the fuzzer exits normally (kept after a crash). */
static void cleanup(void)
{
    if (dir[0]) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

fz_net_t *fz_app_net(void)
{
    return &net;
}

const char *fz_app_token(int i)
{
    return tokens[i];
}

void fz_app_init(void)
{
    if (ready) return;
    ready = 1;
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_OFF);
    snprintf(dir, sizeof dir, "/tmp/bellhop-fuzz-XXXXXX");
    if (mkdtemp(dir) == NULL) app_die("mkdtemp");
    atexit(cleanup);
    config_init(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = xstrdup(dir);
    /* Small uploads keep a long campaign's disk use bounded. */
    cfg.upload_max_id_document = cfg.upload_max_image = 64 * 1024;
    cfg.upload_max_csv = cfg.upload_max_excel = 64 * 1024;
    cfg.upload_chunk_max = 16 * 1024;

    store_t *st = NULL;
    if (store_open(NULL, dir, &st) != 0 || store_migrate(st, NULL, NULL) != 0) app_die("store");
    int out = dup(1);
    freopen("/dev/null", "w", stdout); /* demo_seed prints the logins */
    if (demo_seed(st, &cfg, KEY, sizeof KEY - 1, 0) != 0) app_die("demo_seed");
    fflush(stdout);
    dup2(out, 1);
    close(out);

    int64_t now = clock_unix_s();
    tokens[0] = sign(user_id(st, "owner@demo.bellhop.dev"), 1, ROLE_OWNER, 0, now + 86400);
    tokens[1] = sign(user_id(st, "frontdesk@demo.bellhop.dev"), 1, ROLE_FRONT_DESK, 1, now + 86400);
    tokens[2] = sign(4242, 2, ROLE_OWNER, 0, now + 86400);
    tokens[3] = sign(90, 1, ROLE_SERVICE, 0, now + 86400);
    tokens[4] = sign(user_id(st, "owner@demo.bellhop.dev"), 1, ROLE_OWNER, 0, now - 3600);
    /* A checked-in guest at property 1 of org 1 (id 1), so that uploads can name one. */
    store_guest_t g;
    memset(&g, 0, sizeof g);
    g.org_id = 1;
    g.property_id = 1;
    snprintf(g.name, sizeof g.name, "Fuzz Guest");
    g.created_by = 1;
    if (store_guest_create(st, &g) != 0) app_die("store_guest_create");

    hctx.store = st;
    hctx.jwt_key = KEY;
    hctx.jwt_key_len = sizeof KEY - 1;
    hctx.token_ttl_s = cfg.token_ttl_s;
    hctx.web_dir = dir; /* no web files: the static fallback answers 404 */
    hctx.started_ms = clock_unix_ms();
    atomic_init(&hctx.store_ok, 1);
    atomic_init(&hctx.store_checked_ms, clock_unix_ms());
    hctx.poll_timeout_s = 1;
    hctx.allowed_origins = cfg.allowed_origins;
    hctx.poll_max_timeout_s = 1;
    rt_policy_default(&hctx.policy);
    rt_hub_config_t hub_cfg = {.history_max_events = (size_t)cfg.history_max_events,
                               .history_max_age_ms = (int64_t)cfg.history_max_age_s * 1000};
    hctx.hub = rt_hub_new(st, &hub_cfg);
    if (rt_hub_load(hctx.hub) != 0) app_die("rt_hub_load");
    char err[256];
    hctx.flags = rt_flags_new();
    if (rt_flags_load_env(hctx.flags, NULL, NULL, err, sizeof err) != 0) app_die("flags");
    http_router_t *router = http_router_new();
    if (handlers_register(router) != 0) app_die("handlers_register");
    upload_limits_t ul = {
        .max_size = {[UPLOAD_CLASS_ID] = cfg.upload_max_id_document,
                     [UPLOAD_CLASS_IMAGE] = cfg.upload_max_image,
                     [UPLOAD_CLASS_CSV] = cfg.upload_max_csv,
                     [UPLOAD_CLASS_EXCEL] = cfg.upload_max_excel},
        .chunk_max = cfg.upload_chunk_max,
        .buffer = cfg.upload_buffer,
        .ack_bytes = cfg.upload_ack_bytes,
        .expiry_ms = (int64_t)cfg.upload_expiry_s * 1000,
        .max_active = cfg.upload_max_active,
        .direct_io = cfg.upload_direct_io,
    };
    hctx.uploads = upload_srv_new(st, dir, &ul, handlers_document_published, &hctx);
    if (hctx.uploads == NULL) app_die("upload_srv_new");
    http_limits_t limits = {
        .max_header_bytes = cfg.max_header_bytes,
        .max_headers = (size_t)cfg.max_headers,
        .max_body = cfg.max_body,
        .header_timeout_ms = (unsigned)cfg.header_timeout_ms,
        .body_timeout_ms = (unsigned)cfg.body_timeout_ms,
        .idle_timeout_ms = (unsigned)cfg.idle_timeout_ms,
        .linger_ms = 10,
    };
    fz_net_init(&net, router, handlers_static, &limits, "https://app.example", &hctx);
    hctx.workers = 1;
    rt_limits_t rl = {
        .handshake_timeout_ms = (unsigned)cfg.handshake_timeout_ms,
        .ws = {.max_message = cfg.ws_max_message,
               .max_outbuf = cfg.ws_max_outbuf,
               .heartbeat_ms = (unsigned)cfg.heartbeat_ms,
               .allowed_origins = "https://app.example"},
        .replay_max = (size_t)cfg.replay_max,
    };
    hctx.rt = rt_server_new(hctx.hub, &hctx.policy, hctx.flags, &rl, &net.w, 1);
    chat_limits_t cl = {
        .ws = rl.ws,
        .history = (unsigned)cfg.chat_history,
        .max_length = (unsigned)cfg.chat_max_length,
        .rate = (unsigned)cfg.chat_rate,
        .burst = (unsigned)cfg.chat_burst,
        .max_rooms = (unsigned)cfg.chat_max_rooms,
        .typing_timeout_ms = (unsigned)cfg.chat_typing_timeout_ms,
        .away_ms = (unsigned)cfg.chat_away_ms,
        .offline_grace_ms = (unsigned)cfg.chat_offline_grace_ms,
    };
    hctx.chat = chat_server_new(st, &cl, &net.w, 1);
}

uint8_t *fz_app_expand(const uint8_t *in, size_t n, size_t *out_n)
{
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '@' && i + 2 < n && in[i + 1] == 'T' && in[i + 2] >= '0' &&
            in[i + 2] < '0' + FZ_APP_TOKENS) {
            buf_appends(&b, tokens[in[i + 2] - '0']);
            i += 2;
        } else {
            buf_appendc(&b, (char)in[i]);
        }
    }
    *out_n = b.len;
    if (b.data == NULL) return xmalloc(1);
    return (uint8_t *)b.data;
}

void fz_app_http(const uint8_t *data, size_t size)
{
    fz_app_init();
    if (size < 1) return;
    size_t n;
    uint8_t *in = fz_app_expand(data + 1, size - 1, &n);
    net_conn_t *c = fz_net_open(&net);
    fz_net_feed(&net, c, in, n, fz_chunk_from(data[0]));
    fz_net_end(&net, c);
    free(in);
}

static void frame(buf_t *b, int opcode, const uint8_t *p, size_t n)
{
    static const uint8_t mask[4] = {0x5a, 0x01, 0xc3, 0x7e};
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    memcpy(h + hl, mask, 4);
    hl += 4;
    buf_append(b, h, hl);
    for (size_t i = 0; i < n; i++) buf_appendc(b, (char)(p[i] ^ mask[i & 3]));
}

void fz_app_ws(const char *path, int token, const uint8_t *data, size_t n, size_t chunk)
{
    fz_app_init();
    buf_t b = BUF_INIT;
    buf_appendf(&b,
                "GET %s HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Origin: https://app.example\r\nAuthorization: Bearer %s\r\n\r\n",
                path, tokens[token % FZ_APP_TOKENS]);
    size_t en;
    uint8_t *in = fz_app_expand(data, n, &en);
    net_conn_t *c = fz_net_open(&net);
    const uint8_t *p = in, *end = in + en;
    while (p < end) {
        const uint8_t *sep = memchr(p, 0xFF, (size_t)(end - p));
        const uint8_t *e = sep ? sep : end;
        if (e > p && *p == 0xFD) {
            /* A pause: send what is built and let the server finish (store work included),
             * as a client waiting for an answer would. */
            fz_net_feed(&net, c, (const uint8_t *)b.data, b.len, chunk);
            b.len = 0;
        } else if (e > p && *p == 0xFE) {
            frame(&b, 0x2, p + 1, (size_t)(e - p - 1));
        } else {
            frame(&b, 0x1, p, (size_t)(e - p));
        }
        p = sep ? sep + 1 : end;
    }
    fz_net_feed(&net, c, (const uint8_t *)b.data, b.len, chunk);
    fz_net_end(&net, c);
    buf_dispose(&b);
    free(in);
}
