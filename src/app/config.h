/* config.h: every setting of bellhop, from defaults, environment variables and flags (flags win).
 *
 * One table in config.c describes each option once: its flag, its environment variable, its type,
 * default, bounds and help text. --help, parsing and validation all come from that table, so an
 * option cannot be documented in one place and forgotten in another. */
#ifndef BH_APP_CONFIG_H
#define BH_APP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct config_s {
    /* server */
    char *bind;
    int port;
    int workers; /* 0: one per core */
    int backlog;
    char *env; /* "development" or "production" */
    char *log_level;
    char *data_dir;
    char *database_url;
    char *web_dir;
    char *jwt_secret;
    char *allowed_origins; /* CORS and WebSocket Origin allow-list: "*" or "https://a,https://b" */
    int demo;
    /* auth */
    int token_ttl_s;
    /* HTTP limits */
    size_t max_body;
    size_t max_header_bytes;
    int max_headers;
    int header_timeout_ms;
    int body_timeout_ms;
    int idle_timeout_ms;
    int linger_ms;
    int health_interval_ms;
    /* realtime streams */
    int handshake_timeout_ms;
    int heartbeat_ms;
    size_t ws_max_message;
    size_t ws_max_outbuf;
    int history_max_events;
    int history_max_age_s;
    int replay_max;
    char *service_roles;
    /* chat (collaboration stream) */
    int chat_history;           /* messages a join returns */
    int chat_max_length;        /* characters per message */
    int chat_rate;              /* messages a second per user */
    int chat_burst;             /* messages at once per user */
    int chat_max_rooms;         /* rooms per connection */
    int chat_typing_timeout_ms; /* typing ends unless refreshed */
    int chat_away_ms;           /* idle connection -> away */
    int chat_offline_grace_ms;  /* last connection gone -> offline */
    /* uploads (guest documents: WebSocket stream and tus) */
    size_t upload_max_id_document;
    size_t upload_max_image;
    size_t upload_max_csv;
    size_t upload_max_excel;
    size_t upload_chunk_max;
    size_t upload_buffer;
    int upload_direct_io;
    size_t upload_ack_bytes;
    int upload_expiry_s;
    int upload_sweep_ms;
    int upload_max_active;
    int poll_timeout_s;
    int poll_max_timeout_s;
    /* scale-out: the broker (broker/broker.h) */
    char *redis_url;        /* "" = in-process broker (one node) */
    char *redis_prefix;     /* key prefix shared by the nodes of one deployment */
    int redis_timeout_ms;   /* publish answer deadline; a silent Redis counts as down after it */
    int redis_reconnect_max_ms;
    int redis_node_ttl_ms;  /* a node silent this long is dead (its chat presence expires) */
    /* admission limits and operations (net/limit.h, app/drain.c) */
    int max_conns_per_ip;   /* 0: none */
    int max_conns_per_user; /* stream connections, all streams together; 0: none */
    int handshake_rate;     /* WebSocket upgrades a second per IP; 0: none */
    int handshake_burst;
    int login_rate;         /* password logins a minute per IP; 0: none */
    int login_burst;
    int ws_msg_rate;        /* client messages a second per stream connection; 0: none */
    int ws_msg_burst;
    size_t outbuf_budget;   /* bytes queued for sockets, whole process; 0: none */
    int drain_timeout_ms;   /* SIGTERM: longest wait for connections to end */
    char *log_file;         /* "" = stderr; reopened on SIGHUP */
} config_t;

/* Looks up an environment variable; tests pass their own. Returns NULL when unset. */
typedef const char *(*config_getenv_cb)(const char *name, void *data);

/* Fills c with the defaults (strings are new; config_dispose frees them). */
void config_init(config_t *c);
void config_dispose(config_t *c);
/* Applies BELLHOP_* variables through getenv_cb (NULL: the process environment). On a bad value
 * writes a message naming the variable into err (size n) and returns BH_ECONFIG. */
int config_load_env(config_t *c, config_getenv_cb getenv_cb, void *data, char *err, size_t n);
/* Applies "--name value" / "--name=value" / "--flag" options from argv[0..argc). Arguments that are
 * not config options are moved, in order, to the front of argv and their count returned in *rest
 * (so that a command can parse its own). Returns 0 or BH_ECONFIG (err says why). */
int config_load_args(config_t *c, int argc, char **argv, int *rest, char *err, size_t n);
/* Checks cross-field rules (e.g. production needs a secret). Returns 0 or BH_ECONFIG. */
int config_validate(const config_t *c, char *err, size_t n);
/* Writes the option reference (flag, variable, default, help) for --help. */
void config_print_help(FILE *out);
/* 1 when env is "production". */
int config_is_production(const config_t *c);

#endif
