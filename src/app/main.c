/* main.c: the bellhop command line: serve (default), migrate, token, user add. */
#include "app/config.h"
#include "app/demo.h"
#include "app/secret.h"
#include "app/server.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "bellhop %s — realtime streaming server for hospitality platforms\n\n"
            "Usage:\n"
            "  bellhop [serve] [--demo] [options]   serve HTTP and WebSocket streams\n"
            "  bellhop migrate [options]             apply database migrations and exit\n"
            "  bellhop token --org ID --user ID --role ROLE [--properties 1,2] [--name N]\n"
            "                [--ttl SECONDS] [options]\n"
            "                                        print a signed token (JWT) for scripts\n"
            "  bellhop user add --org ID --email E --name N --role ROLE [--properties 1,2]\n"
            "                [options]               create a user; the password is read from\n"
            "                                        BELLHOP_PASSWORD or the first line of stdin\n"
            "  bellhop --help | --version\n\n"
            "Roles: owner, admin, manager, finance, front_desk, housekeeping, staff, service\n\n",
            BELLHOP_VERSION);
    config_print_help(out);
}

/* ---- shared set-up ----------------------------------------------------------------------------- */

static int load_config(config_t *cfg, int *argc, char **argv)
{
    char err[512];
    config_init(cfg);
    int rest = 0;
    if (config_load_env(cfg, NULL, NULL, err, sizeof err) != 0 ||
        config_load_args(cfg, *argc, argv, &rest, err, sizeof err) != 0 ||
        config_validate(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bellhop: %s\n", err);
        return 2;
    }
    *argc = rest;
    log_level_t lvl = LOG_INFO;
    log_level_parse(cfg->log_level, &lvl);
    log_set_level(lvl);
    if (cfg->log_file[0] != '\0') {
        int rc = log_open_file(cfg->log_file);
        if (rc != 0) {
            fprintf(stderr, "bellhop: cannot open the log file %s: %s\n", cfg->log_file,
                    err_str(rc));
            return 2;
        }
    }
    return 0;
}

static int open_store(const config_t *cfg, store_t **st)
{
    int rc = secret_ensure_dir(cfg->data_dir);
    if (rc != 0) {
        fprintf(stderr, "bellhop: cannot create data dir %s: %s\n", cfg->data_dir, err_str(rc));
        return 1;
    }
    if ((rc = store_open(cfg->database_url, cfg->data_dir, st)) != 0) {
        fprintf(stderr, "bellhop: cannot open the store: %s\n", err_str(rc));
        return 1;
    }
    int applied = 0, version = 0;
    if ((rc = store_migrate(*st, &applied, &version)) != 0) {
        fprintf(stderr, "bellhop: migrations failed: %s\n", err_str(rc));
        store_close(*st);
        return 1;
    }
    LOG_I("migrated", "applied=%d version=%d backend=%s", applied, version, store_backend(*st));
    return 0;
}

static int parse_id(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0) return BH_EINVAL;
    *out = v;
    return 0;
}

/* "1,2,3" -> a new array (free()). */
static int parse_id_list(const char *s, int64_t **out, size_t *n)
{
    *n = 0;
    *out = NULL;
    if (*s == '\0') return 0;
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    if (cap > AUTH_MAX_PROPERTIES) return BH_EINVAL;
    int64_t *ids = calloc(cap, sizeof *ids);
    if (ids == NULL) return BH_ENOMEM;
    char *copy = strdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (parse_id(tok, &ids[*n]) != 0) {
            free(copy);
            free(ids);
            *n = 0;
            return BH_EINVAL;
        }
        (*n)++;
    }
    free(copy);
    *out = ids;
    return 0;
}

/* Looks for "--name value" or "--name=value" among a command's own arguments. */
static const char *arg_value(int argc, char **argv, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], name, len) != 0) continue;
        if (argv[i][len] == '=') return argv[i] + len + 1;
        if (argv[i][len] == '\0' && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

static int check_args(int argc, char **argv, const char *const *known)
{
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) continue;
        int ok = 0;
        for (const char *const *k = known; *k; k++) {
            size_t len = strlen(*k);
            if (!strncmp(argv[i], *k, len) && (argv[i][len] == '\0' || argv[i][len] == '='))
                ok = 1;
        }
        if (!ok) {
            fprintf(stderr, "bellhop: unknown option %s (see bellhop --help)\n", argv[i]);
            return 2;
        }
    }
    return 0;
}

/* ---- commands ---------------------------------------------------------------------------------- */

static int cmd_serve(config_t *cfg, int argc, char **argv)
{
    static const char *const known[] = {NULL};
    if (check_args(argc, argv, known) != 0) return 2;
    for (int i = 0; i < argc; i++) {
        fprintf(stderr, "bellhop: unexpected argument '%s'\n", argv[i]);
        return 2;
    }
    uint8_t *key = NULL;
    size_t keylen = 0;
    char err[512];
    int rc = secret_load(cfg, &key, &keylen, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "bellhop: %s\n", err);
        return 2;
    }
    store_t *st = NULL;
    if (open_store(cfg, &st) != 0) {
        free(key);
        return 1;
    }
    if (cfg->demo && (rc = demo_seed(st, cfg, key, keylen, cfg->port)) != 0) {
        fprintf(stderr, "bellhop: demo set-up failed: %s\n", err_str(rc));
        store_close(st);
        free(key);
        return 1;
    }
    rc = server_run(cfg, st, key, keylen);
    store_close(st);
    free(key);
    return rc == 0 ? 0 : 1;
}

static int cmd_migrate(config_t *cfg, int argc, char **argv)
{
    static const char *const known[] = {NULL};
    if (check_args(argc, argv, known) != 0) return 2;
    store_t *st = NULL;
    if (open_store(cfg, &st) != 0) return 1;
    store_close(st);
    printf("migrations applied\n");
    return 0;
}

static int cmd_token(config_t *cfg, int argc, char **argv)
{
    static const char *const known[] = {"--org",  "--user", "--role", "--properties",
                                        "--name", "--ttl",  NULL};
    if (check_args(argc, argv, known) != 0) return 2;
    const char *org = arg_value(argc, argv, "--org"), *user = arg_value(argc, argv, "--user");
    const char *role = arg_value(argc, argv, "--role");
    const char *props = arg_value(argc, argv, "--properties");
    const char *name = arg_value(argc, argv, "--name"), *ttl = arg_value(argc, argv, "--ttl");
    auth_claims_t c;
    auth_claims_init(&c);
    int64_t ttl_s = cfg->token_ttl_s;
    if (org == NULL || parse_id(org, &c.org_id) != 0 || user == NULL ||
        parse_id(user, &c.sub) != 0) {
        fprintf(stderr, "bellhop token: --org and --user must be positive integers\n");
        return 2;
    }
    if (role == NULL || auth_role_parse(role, &c.role) != 0) {
        fprintf(stderr, "bellhop token: --role must be one of owner, admin, manager, finance, "
                        "front_desk, housekeeping, staff, service\n");
        return 2;
    }
    if (ttl && (parse_id(ttl, &ttl_s) != 0 || ttl_s > 366LL * 86400)) {
        fprintf(stderr, "bellhop token: --ttl must be 1..31622400 seconds\n");
        return 2;
    }
    if (name && strlen(name) >= sizeof c.name) {
        fprintf(stderr, "bellhop token: --name is too long\n");
        return 2;
    }
    if (name) snprintf(c.name, sizeof c.name, "%s", name);
    c.all_properties = props == NULL;
    if (props && parse_id_list(props, &c.property_ids, &c.n_properties) != 0) {
        fprintf(stderr, "bellhop token: --properties must be a comma-separated list of ids\n");
        return 2;
    }
    uint8_t *key = NULL;
    size_t keylen = 0;
    char err[512];
    if (secret_load(cfg, &key, &keylen, err, sizeof err) != 0) {
        fprintf(stderr, "bellhop: %s\n", err);
        auth_claims_dispose(&c);
        return 2;
    }
    c.iat = c.nbf = clock_unix_s();
    c.exp = c.iat + ttl_s;
    char *token = NULL;
    int rc = jwt_sign(&c, key, keylen, &token);
    auth_claims_dispose(&c);
    free(key);
    if (rc != 0) {
        fprintf(stderr, "bellhop token: %s\n", err_str(rc));
        return 1;
    }
    printf("%s\n", token);
    free(token);
    return 0;
}

static int read_password(char *out, size_t n)
{
    const char *env = getenv("BELLHOP_PASSWORD");
    if (env) {
        snprintf(out, n, "%s", env);
        return 0;
    }
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO);
    if (tty) {
        fprintf(stderr, "Password: ");
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *line = fgets(out, (int)n, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (line == NULL) return BH_EINVAL;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int cmd_user(config_t *cfg, int argc, char **argv)
{
    static const char *const known[] = {"--org", "--email", "--name", "--role", "--properties",
                                        NULL};
    if (argc < 1 || strcmp(argv[0], "add") != 0) {
        fprintf(stderr, "bellhop user: expected 'add' (see bellhop --help)\n");
        return 2;
    }
    argc--, argv++;
    if (check_args(argc, argv, known) != 0) return 2;
    const char *org = arg_value(argc, argv, "--org"), *email = arg_value(argc, argv, "--email");
    const char *name = arg_value(argc, argv, "--name"), *role = arg_value(argc, argv, "--role");
    const char *props = arg_value(argc, argv, "--properties");
    store_user_t u;
    store_user_init(&u);
    if (org == NULL || parse_id(org, &u.org_id) != 0) {
        fprintf(stderr, "bellhop user add: --org must be a positive integer\n");
        return 2;
    }
    if (email == NULL || strchr(email, '@') == NULL || strlen(email) >= sizeof u.email) {
        fprintf(stderr, "bellhop user add: --email must be an email address\n");
        return 2;
    }
    if (role == NULL || auth_role_parse(role, &u.role) != 0) {
        fprintf(stderr, "bellhop user add: --role must be a role name (see bellhop --help)\n");
        return 2;
    }
    if (name && strlen(name) >= sizeof u.name) {
        fprintf(stderr, "bellhop user add: --name is too long\n");
        return 2;
    }
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.name, sizeof u.name, "%s", name ? name : email);
    u.all_properties = props == NULL;
    if (props && parse_id_list(props, &u.property_ids, &u.n_properties) != 0) {
        fprintf(stderr, "bellhop user add: --properties must be a comma-separated list of ids\n");
        return 2;
    }
    char pw[PASSWORD_MAX_LEN + 2];
    if (read_password(pw, sizeof pw) != 0 || password_hash(pw, u.password_hash) != 0) {
        fprintf(stderr, "bellhop user add: the password must be %d to %d characters\n",
                PASSWORD_MIN_LEN, PASSWORD_MAX_LEN);
        store_user_dispose(&u);
        return 2;
    }
    store_t *st = NULL;
    if (open_store(cfg, &st) != 0) {
        store_user_dispose(&u);
        return 1;
    }
    store_org_t o;
    int rc = store_org_get(st, u.org_id, &o);
    if (rc == BH_ENOTFOUND) {
        fprintf(stderr, "bellhop user add: organisation %lld does not exist\n",
                (long long)u.org_id);
    } else if (rc == 0) {
        rc = store_user_create(st, &u);
        if (rc == BH_EEXIST)
            fprintf(stderr, "bellhop user add: %s is already taken\n", u.email);
        else if (rc != 0)
            fprintf(stderr, "bellhop user add: %s\n", err_str(rc));
        else
            printf("user %lld created in organisation %lld\n", (long long)u.id,
                   (long long)u.org_id);
    }
    store_close(st);
    store_user_dispose(&u);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    /* The thread pool runs every disk and password operation; size it before first use. */
    setenv("UV_THREADPOOL_SIZE", "8", 0);
    if (password_global_init() != 0) {
        fprintf(stderr, "bellhop: libsodium failed to initialise\n");
        return 1;
    }
    argc--, argv++;
    const char *cmd = "serve";
    if (argc > 0 && argv[0][0] != '-') {
        cmd = argv[0];
        argc--, argv++;
    }
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("bellhop %s\n", BELLHOP_VERSION);
            return 0;
        }
    }
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    config_t cfg;
    int rc = load_config(&cfg, &argc, argv);
    if (rc == 0) {
        if (!strcmp(cmd, "serve")) rc = cmd_serve(&cfg, argc, argv);
        else if (!strcmp(cmd, "migrate")) rc = cmd_migrate(&cfg, argc, argv);
        else if (!strcmp(cmd, "token")) rc = cmd_token(&cfg, argc, argv);
        else if (!strcmp(cmd, "user")) rc = cmd_user(&cfg, argc, argv);
        else {
            fprintf(stderr, "bellhop: unknown command '%s' (see bellhop --help)\n", cmd);
            rc = 2;
        }
    }
    config_dispose(&cfg);
    return rc;
}
