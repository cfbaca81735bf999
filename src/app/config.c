#include "app/config.h"

#include "core/alloc.h"
#include "core/err.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { OPT_STR, OPT_INT, OPT_SIZE, OPT_BOOL } opt_type_t;

typedef struct option_s {
    const char *flag; /* without "--" */
    const char *env;
    opt_type_t type;
    size_t offset;
    const char *def;
    long long min, max; /* for numbers */
    const char *help;
} option_t;

#define OFF(f) offsetof(config_t, f)
#define KIB 1024LL
#define MIB (1024LL * 1024LL)

static const option_t options[] = {
    {"bind", "BELLHOP_BIND", OPT_STR, OFF(bind), "0.0.0.0", 0, 0,
     "address to listen on (IPv4 or IPv6 literal)"},
    {"port", "BELLHOP_PORT", OPT_INT, OFF(port), "4000", 0, 65535,
     "TCP port; 0 picks a free one (printed at start)"},
    {"workers", "BELLHOP_WORKERS", OPT_INT, OFF(workers), "0", 0, 256,
     "event-loop threads sharing the port; 0 = one per CPU core"},
    {"backlog", "BELLHOP_BACKLOG", OPT_INT, OFF(backlog), "1024", 1, 65535,
     "listen(2) backlog per worker"},
    {"env", "BELLHOP_ENV", OPT_STR, OFF(env), "development", 0, 0,
     "development or production (production requires BELLHOP_JWT_SECRET)"},
    {"log-level", "BELLHOP_LOG_LEVEL", OPT_STR, OFF(log_level), "info", 0, 0,
     "debug, info, warn, error or off"},
    {"data-dir", "BELLHOP_DATA_DIR", OPT_STR, OFF(data_dir), "./data", 0, 0,
     "directory for the SQLite store, the development secret and uploads"},
    {"database-url", "BELLHOP_DATABASE_URL", OPT_STR, OFF(database_url), "", 0, 0,
     "store location: empty = SQLite in the data dir; sqlite:/path/file.db; "
     "postgres://user:pass@host:port/db (shared by several nodes)"},
    {"web-dir", "BELLHOP_WEB_DIR", OPT_STR, OFF(web_dir), "./web", 0, 0,
     "static files served at / (the console and the JS client)"},
    {"jwt-secret", "BELLHOP_JWT_SECRET", OPT_STR, OFF(jwt_secret), "", 0, 0,
     "HS256 signing secret (>= 32 bytes); development generates one in the data dir"},
    {"allowed-origins", "BELLHOP_ALLOWED_ORIGINS", OPT_STR, OFF(allowed_origins), "*", 0, 0,
     "CORS and WebSocket Origin allow-list: * or comma-separated origins"},
    {"demo", "BELLHOP_DEMO", OPT_BOOL, OFF(demo), "false", 0, 1,
     "create the demo organisation on first start and print logins and a token"},
    {"token-ttl", "BELLHOP_TOKEN_TTL", OPT_INT, OFF(token_ttl_s), "86400", 60, 31536000,
     "lifetime of tokens issued by /auth/login and `bellhop token`, seconds"},
    {"max-body", "BELLHOP_MAX_BODY", OPT_SIZE, OFF(max_body), "1048576", 0, 1024 * MIB,
     "largest request body accepted, bytes (larger: 413)"},
    {"max-header-size", "BELLHOP_MAX_HEADER_SIZE", OPT_SIZE, OFF(max_header_bytes), "16384",
     1 * KIB, 1 * MIB, "largest request line plus headers, bytes (larger: 431)"},
    {"max-headers", "BELLHOP_MAX_HEADERS", OPT_INT, OFF(max_headers), "64", 1, 1000,
     "most request headers accepted (more: 431)"},
    {"header-timeout", "BELLHOP_HEADER_TIMEOUT_MS", OPT_INT, OFF(header_timeout_ms), "10000", 10,
     3600000, "time allowed to send request headers, ms (then 408)"},
    {"body-timeout", "BELLHOP_BODY_TIMEOUT_MS", OPT_INT, OFF(body_timeout_ms), "30000", 10,
     3600000, "time allowed to send a request body, ms (then 408)"},
    {"idle-timeout", "BELLHOP_IDLE_TIMEOUT_MS", OPT_INT, OFF(idle_timeout_ms), "60000", 10,
     3600000, "keep-alive connections idle longer are closed, ms"},
    {"linger", "BELLHOP_LINGER_MS", OPT_INT, OFF(linger_ms), "2000", 0, 60000,
     "after an error answer, how long to drain the client's input before closing, ms"},
    {"health-interval", "BELLHOP_HEALTH_INTERVAL_MS", OPT_INT, OFF(health_interval_ms), "5000",
     100, 3600000, "how often the store is checked in the background for /health, ms"},
    {"handshake-timeout", "BELLHOP_HANDSHAKE_TIMEOUT_MS", OPT_INT, OFF(handshake_timeout_ms),
     "10000", 10, 600000, "a stream must send its handshake within this time, ms (close 4408)"},
    {"heartbeat", "BELLHOP_HEARTBEAT_MS", OPT_INT, OFF(heartbeat_ms), "25000", 50, 3600000,
     "WebSocket ping after this much silence; close after twice as much, ms"},
    {"ws-max-message", "BELLHOP_WS_MAX_MESSAGE", OPT_SIZE, OFF(ws_max_message), "65536", 128,
     64 * MIB, "largest message a client may send on a stream, bytes (close 1009)"},
    {"ws-max-outbuf", "BELLHOP_WS_MAX_OUTBUF", OPT_SIZE, OFF(ws_max_outbuf), "4194304", 4 * KIB,
     1024 * MIB, "bytes queued for one slow client before it is closed (close 4429)"},
    {"history-max-events", "BELLHOP_HISTORY_MAX_EVENTS", OPT_INT, OFF(history_max_events),
     "10000", 1, 10000000, "events kept per (org, service) stream for resume"},
    {"history-max-age", "BELLHOP_HISTORY_MAX_AGE_S", OPT_INT, OFF(history_max_age_s), "86400", 1,
     31536000, "age after which events leave the resume window, seconds"},
    {"replay-max", "BELLHOP_REPLAY_MAX", OPT_INT, OFF(replay_max), "10000", 1, 10000000,
     "most events replayed per service on resume; a longer gap gets a reset"},
    {"service-roles", "BELLHOP_SERVICE_ROLES", OPT_STR, OFF(service_roles), "", 0, 0,
     "override who reads a service, e.g. \"finance=owner|admin;users=owner\""},
    /* chat */
    {"chat-history", "BELLHOP_CHAT_HISTORY", OPT_INT, OFF(chat_history), "50", 1, 500,
     "messages a chat join returns (older ones: the history request)"},
    {"chat-max-length", "BELLHOP_CHAT_MAX_LENGTH", OPT_INT, OFF(chat_max_length), "4000", 1,
     16000, "characters in one chat message (more: message_too_long)"},
    {"chat-rate", "BELLHOP_CHAT_RATE", OPT_INT, OFF(chat_rate), "5", 1, 100000,
     "chat messages a second per user, all tabs together (more: rate_limited)"},
    {"chat-burst", "BELLHOP_CHAT_BURST", OPT_INT, OFF(chat_burst), "20", 1, 100000,
     "chat messages a user may send at once before the rate applies"},
    {"chat-max-rooms", "BELLHOP_CHAT_MAX_ROOMS", OPT_INT, OFF(chat_max_rooms), "100", 1, 10000,
     "chat rooms one connection may join (more: too_many_rooms)"},
    {"chat-typing-timeout", "BELLHOP_CHAT_TYPING_TIMEOUT_MS", OPT_INT,
     OFF(chat_typing_timeout_ms), "5000", 50, 600000,
     "a typing indicator not refreshed ends after this, ms"},
    {"chat-away", "BELLHOP_CHAT_AWAY_MS", OPT_INT, OFF(chat_away_ms), "300000", 50, 86400000,
     "a chat connection idle this long counts as away, ms"},
    {"chat-offline-grace", "BELLHOP_CHAT_OFFLINE_GRACE_MS", OPT_INT, OFF(chat_offline_grace_ms),
     "10000", 0, 3600000, "a user is offline once their last connection is gone this long, ms"},
    /* uploads */
    {"upload-max-id-document", "BELLHOP_UPLOAD_MAX_ID_DOCUMENT", OPT_SIZE,
     OFF(upload_max_id_document), "10485760", 1, 1024 * MIB,
     "largest aadhaar/passport/driving_license/pan_card/election_card/visa upload, bytes"},
    {"upload-max-image", "BELLHOP_UPLOAD_MAX_IMAGE", OPT_SIZE, OFF(upload_max_image), "26214400",
     1, 1024 * MIB, "largest image upload, bytes"},
    {"upload-max-csv", "BELLHOP_UPLOAD_MAX_CSV", OPT_SIZE, OFF(upload_max_csv), "268435456", 1,
     64 * 1024 * MIB, "largest csv upload, bytes"},
    {"upload-max-excel", "BELLHOP_UPLOAD_MAX_EXCEL", OPT_SIZE, OFF(upload_max_excel),
     "268435456", 1, 64 * 1024 * MIB, "largest excel (xlsx) upload, bytes"},
    {"upload-chunk-max", "BELLHOP_UPLOAD_CHUNK_MAX", OPT_SIZE, OFF(upload_chunk_max), "4194304",
     1 * KIB, 64 * MIB, "largest chunk (binary message) on the upload stream, bytes (close 1009)"},
    {"upload-buffer", "BELLHOP_UPLOAD_BUFFER", OPT_SIZE, OFF(upload_buffer), "4194304", 64 * KIB,
     256 * MIB, "bytes buffered per upload while a disk write is pending before its input pauses"},
    {"upload-direct-io", "BELLHOP_UPLOAD_DIRECT_IO", OPT_BOOL, OFF(upload_direct_io), "true", 0, 1,
     "write the aligned middle of big upload writes with O_DIRECT (no page-cache copy; off or "
     "refused by the filesystem: page cache)"},
    {"upload-ack-bytes", "BELLHOP_UPLOAD_ACK_BYTES", OPT_SIZE, OFF(upload_ack_bytes), "4194304",
     64 * KIB, 1024 * MIB, "fdatasync and progress message every this many bytes of an upload"},
    {"upload-expiry", "BELLHOP_UPLOAD_EXPIRY_S", OPT_INT, OFF(upload_expiry_s), "86400", 1,
     31536000, "an incomplete upload idle this long is deleted, seconds"},
    {"upload-sweep-interval", "BELLHOP_UPLOAD_SWEEP_MS", OPT_INT, OFF(upload_sweep_ms), "60000",
     50, 3600000, "how often expired uploads are looked for, ms"},
    {"upload-max-active", "BELLHOP_UPLOAD_MAX_ACTIVE", OPT_INT, OFF(upload_max_active), "20", 1,
     100000, "uploads in progress per user (more: too_many_uploads)"},
    {"poll-timeout", "BELLHOP_POLL_TIMEOUT_S", OPT_INT, OFF(poll_timeout_s), "25", 0, 3600,
     "long-poll wait when the request gives no timeout, seconds"},
    {"poll-max-timeout", "BELLHOP_POLL_MAX_TIMEOUT_S", OPT_INT, OFF(poll_max_timeout_s), "60", 0,
     3600, "cap on a long-poll's requested timeout, seconds"},
    /* scale-out */
    {"redis-url", "BELLHOP_REDIS_URL", OPT_STR, OFF(redis_url), "", 0, 0,
     "run as one node of several: redis://[:password@]host[:port][/db] (empty: one process)"},
    {"redis-prefix", "BELLHOP_REDIS_PREFIX", OPT_STR, OFF(redis_prefix), "bh", 0, 0,
     "Redis key prefix; every node of one deployment uses the same"},
    {"redis-timeout", "BELLHOP_REDIS_TIMEOUT_MS", OPT_INT, OFF(redis_timeout_ms), "2000", 50,
     600000, "Redis must answer within this, ms (else publishes get 503 and it counts as down)"},
    {"redis-reconnect-max", "BELLHOP_REDIS_RECONNECT_MAX_MS", OPT_INT,
     OFF(redis_reconnect_max_ms), "5000", 50, 600000,
     "longest wait between Redis reconnection attempts (backoff from 100 ms), ms"},
    {"redis-node-ttl", "BELLHOP_REDIS_NODE_TTL_MS", OPT_INT, OFF(redis_node_ttl_ms), "5000", 300,
     600000, "a node whose heartbeat is this old counts as dead: its users' presence expires, ms"},
    /* admission limits and operations */
    {"max-conns-per-ip", "BELLHOP_MAX_CONNS_PER_IP", OPT_INT, OFF(max_conns_per_ip), "4096", 0,
     10000000, "open connections from one address, all kinds (more: 429 at accept); 0 = no limit"},
    {"max-conns-per-user", "BELLHOP_MAX_CONNS_PER_USER", OPT_INT, OFF(max_conns_per_user), "256",
     0, 10000000, "stream connections (realtime, chat, upload together) per user (more: 429)"},
    {"handshake-rate", "BELLHOP_HANDSHAKE_RATE", OPT_INT, OFF(handshake_rate), "100", 0, 1000000,
     "WebSocket upgrades a second per address (token bucket; more: 429); 0 = no limit"},
    {"handshake-burst", "BELLHOP_HANDSHAKE_BURST", OPT_INT, OFF(handshake_burst), "500", 1,
     10000000, "WebSocket upgrades one address may make at once before the rate applies"},
    {"login-rate", "BELLHOP_LOGIN_RATE", OPT_INT, OFF(login_rate), "30", 0, 1000000,
     "password logins a minute per address (token bucket; more: 429); 0 = no limit"},
    {"login-burst", "BELLHOP_LOGIN_BURST", OPT_INT, OFF(login_burst), "10", 1, 1000000,
     "password logins one address may try at once before the rate applies"},
    {"ws-msg-rate", "BELLHOP_WS_MSG_RATE", OPT_INT, OFF(ws_msg_rate), "500", 0, 10000000,
     "messages a second a client may send on one stream connection (more: close 1008); 0 = none"},
    {"ws-msg-burst", "BELLHOP_WS_MSG_BURST", OPT_INT, OFF(ws_msg_burst), "1000", 1, 10000000,
     "messages a client may send at once on one stream connection before the rate applies"},
    {"outbuf-budget", "BELLHOP_OUTBUF_BUDGET", OPT_SIZE, OFF(outbuf_budget), "536870912", 0,
     64 * 1024 * MIB,
     "bytes queued for all clients together; beyond, the slowest are closed (4429); 0 = none"},
    {"drain-timeout", "BELLHOP_DRAIN_TIMEOUT", OPT_INT, OFF(drain_timeout_ms), "10000", 0,
     3600000, "on SIGTERM/SIGINT, longest wait for connections to finish before exiting, ms"},
    {"log-file", "BELLHOP_LOG_FILE", OPT_STR, OFF(log_file), "", 0, 0,
     "append logs to this file instead of stderr; SIGHUP reopens it (log rotation)"},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static int set_value(config_t *c, const option_t *o, const char *v, const char *source, char *err,
                     size_t n)
{
    char *field = (char *)c + o->offset;
    char *end;
    switch (o->type) {
    case OPT_STR:
        free(*(char **)field);
        *(char **)field = xstrdup(v);
        return 0;
    case OPT_BOOL:
        if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
            !strcasecmp(v, "on")) {
            *(int *)field = 1;
        } else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
                   !strcasecmp(v, "off")) {
            *(int *)field = 0;
        } else {
            snprintf(err, n, "%s: expected true or false, got '%s'", source, v);
            return BH_ECONFIG;
        }
        return 0;
    case OPT_INT:
    case OPT_SIZE: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end != '\0') {
            snprintf(err, n, "%s: expected an integer, got '%s'", source, v);
            return BH_ECONFIG;
        }
        if (x < o->min || x > o->max) {
            snprintf(err, n, "%s: %lld is outside %lld..%lld", source, x, o->min, o->max);
            return BH_ECONFIG;
        }
        if (o->type == OPT_INT)
            *(int *)field = (int)x;
        else
            *(size_t *)field = (size_t)x;
        return 0;
    }
    }
    return BH_EINTERNAL;
}

void config_init(config_t *c)
{
    char err[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        int rc = set_value(c, &options[i], options[i].def, options[i].flag, err, sizeof err);
        (void)rc; /* the defaults are checked by the unit tests */
    }
}

void config_dispose(config_t *c)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].type != OPT_STR) continue;
        char **f = (char **)((char *)c + options[i].offset);
        free(*f);
        *f = NULL;
    }
}

static const char *env_default(const char *name, void *data)
{
    (void)data;
    return getenv(name);
}

int config_load_env(config_t *c, config_getenv_cb getenv_cb, void *data, char *err, size_t n)
{
    if (getenv_cb == NULL) getenv_cb = env_default;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *v = getenv_cb(options[i].env, data);
        if (v == NULL) continue;
        int rc = set_value(c, &options[i], v, options[i].env, err, n);
        if (rc != 0) return rc;
    }
    return 0;
}

int config_load_args(config_t *c, int argc, char **argv, int *rest, char *err, size_t n)
{
    int kept = 0;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        const option_t *o = NULL;
        const char *value = NULL;
        if (strncmp(a, "--", 2) == 0) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t k = 0; k < N_OPTIONS; k++) {
                if (strlen(options[k].flag) == len && !strncmp(options[k].flag, name, len)) {
                    o = &options[k];
                    break;
                }
            }
            if (o && eq) value = eq + 1;
        }
        if (o == NULL) {
            argv[kept++] = a;
            continue;
        }
        if (value == NULL) {
            if (o->type == OPT_BOOL) {
                value = "true";
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                snprintf(err, n, "--%s needs a value", o->flag);
                return BH_ECONFIG;
            }
        }
        char source[64];
        snprintf(source, sizeof source, "--%s", o->flag);
        int rc = set_value(c, o, value, source, err, n);
        if (rc != 0) return rc;
    }
    *rest = kept;
    return 0;
}

int config_is_production(const config_t *c)
{
    return strcmp(c->env, "production") == 0;
}

int config_validate(const config_t *c, char *err, size_t n)
{
    if (strcmp(c->env, "production") != 0 && strcmp(c->env, "development") != 0) {
        snprintf(err, n, "BELLHOP_ENV: expected development or production, got '%s'", c->env);
        return BH_ECONFIG;
    }
    static const char *const levels[] = {"debug", "info", "warn", "warning", "error", "off"};
    int ok = 0;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) ok |= !strcmp(levels[i], c->log_level);
    if (!ok) {
        snprintf(err, n, "BELLHOP_LOG_LEVEL: expected debug, info, warn, error or off, got '%s'",
                 c->log_level);
        return BH_ECONFIG;
    }
    if (config_is_production(c) && c->jwt_secret[0] == '\0') {
        snprintf(err, n,
                 "BELLHOP_JWT_SECRET is required in production (BELLHOP_ENV=production): set it "
                 "to at least 32 random bytes, e.g. $(openssl rand -hex 32)");
        return BH_ECONFIG;
    }
    if (c->jwt_secret[0] != '\0' && strlen(c->jwt_secret) < 32) {
        snprintf(err, n, "BELLHOP_JWT_SECRET is too short: use at least 32 bytes");
        return BH_ECONFIG;
    }
    if (c->data_dir[0] == '\0') {
        snprintf(err, n, "BELLHOP_DATA_DIR must not be empty");
        return BH_ECONFIG;
    }
    if (config_is_production(c) && c->demo) {
        snprintf(err, n, "--demo is not allowed in production");
        return BH_ECONFIG;
    }
    return 0;
}

void config_print_help(FILE *out)
{
    fprintf(out, "Options (flag, environment variable, default). Flags win over variables.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option_t *o = &options[i];
        fprintf(out, "  --%-18s %-28s %s\n      %s\n", o->flag, o->env,
                o->def[0] ? o->def : "(empty)", o->help);
    }
}
