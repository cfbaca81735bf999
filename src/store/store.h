/* store.h: the persistent store, behind one interface that several backends implement
 * (SQLite now: store_sqlite.c; PostgreSQL later).
 *
 * Threading: every store_* data function below is SYNCHRONOUS and may touch the disk. Never call
 * one on an event loop thread: wrap the calls in a store_submit() work function, which runs on
 * libuv's thread pool and hands the result back to the loop. store_open/store_migrate are the
 * exception: they run once at start-up, before any loop serves traffic, or from CLI commands.
 * A store_t is safe to use from many threads at once (each backend keeps its own connections).
 *
 * Errors: 0, BH_ENOTFOUND, BH_EEXIST (unique constraint), BH_EINVAL, BH_ESTORE (anything else
 * from the engine; the details are logged). */
#ifndef BH_STORE_STORE_H
#define BH_STORE_STORE_H

#include "auth/auth.h"
#include "auth/password.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct store_s store_t;

#define STORE_NAME_MAX 128
#define STORE_EMAIL_MAX 256
#define STORE_TEXT_MAX 256

typedef struct store_org_s {
    int64_t id;
    char name[STORE_NAME_MAX];
    int64_t created_at; /* unix ms */
} store_org_t;

typedef struct store_property_s {
    int64_t id;
    int64_t org_id;
    char name[STORE_NAME_MAX];
    char address[STORE_TEXT_MAX];
    char city[STORE_NAME_MAX];
    char country[STORE_NAME_MAX];
    char timezone[64];
    int64_t created_at, updated_at; /* unix ms */
} store_property_t;

typedef struct store_room_s {
    int64_t id;
    int64_t org_id;
    int64_t property_id;
    char number[32];
    char type[64];     /* e.g. "double", "suite" */
    char status[32];   /* "available", "occupied", "cleaning", "maintenance" */
    int floor;
} store_room_t;

typedef struct store_user_s {
    int64_t id;
    int64_t org_id;
    char email[STORE_EMAIL_MAX]; /* unique across the store, stored lower-cased */
    char name[STORE_NAME_MAX];
    auth_role_t role;
    char password_hash[PASSWORD_HASH_MAX]; /* "" when the user cannot log in */
    int all_properties;                    /* 1: access to every property of the org */
    size_t n_properties;
    int64_t *property_ids; /* owned; see store_user_dispose */
    int64_t created_at, updated_at;
} store_user_t;

/* init zeroes u but sets role to ROLE__COUNT, so a user whose role was never set fails closed
 * (store_user_create returns BH_EINVAL). dispose frees property_ids and re-inits. */
void store_user_init(store_user_t *u);
void store_user_dispose(store_user_t *u);

/* Opens the store named by url: NULL, "" or "sqlite:" selects SQLite at <data_dir>/bellhop.db;
 * "sqlite:/path/file.db" a given file. Creates the data dir's file if needed (not the dir).
 * Other schemes are BH_ECONFIG until their backend exists. On success *out is new (store_close).
 * data_dir NULL or "" means the working directory. Returns 0, BH_ECONFIG (unknown or unbuilt
 * backend, or "sqlite::memory:", which a connection pool cannot share) or BH_ESTORE (the file
 * cannot be opened; logged). store_close must not run while an operation is in flight. */
int store_open(const char *url, const char *data_dir, store_t **out);
void store_close(store_t *st);
/* Backend name for /health and logs: "sqlite". */
const char *store_backend(const store_t *st);

/* Applies every embedded migration newer than the schema table records, each in its own
 * transaction, recording it in schema_migrations. Idempotent. *applied (may be NULL) gets the
 * number applied now; *version (may be NULL) the schema version afterwards. */
int store_migrate(store_t *st, int *applied, int *version);
/* Cheap reachability check (SELECT 1). */
int store_ping(store_t *st);

/* Organisations. id 0 asks the store to choose; a given id is kept (the demo uses id 1).
 * id_out may be NULL. BH_EEXIST if the id is taken; BH_EINVAL if name is empty or does not fit
 * STORE_NAME_MAX with its NUL.
 *
 * Common to every create below: text that does not fit its array (no NUL inside it) is
 * BH_EINVAL, and created_at/updated_at are set by the store (and written back to the struct).
 * A reference to a missing organisation is BH_ENOTFOUND. On read, text longer than the array is
 * truncated at a UTF-8 character boundary. */
int store_org_create(store_t *st, int64_t id, const char *name, int64_t *id_out);
int store_org_get(store_t *st, int64_t id, store_org_t *out);

/* Properties: p->id is written on create; name is required. list returns a new array (free())
 * ordered by id, NULL when *n is 0. get of another organisation's property is BH_ENOTFOUND. */
int store_property_create(store_t *st, store_property_t *p);
int store_property_get(store_t *st, int64_t org_id, int64_t id, store_property_t *out);
int store_property_list(store_t *st, int64_t org_id, store_property_t **out, size_t *n);

/* Hotel rooms of a property: r->id is written on create; number is required, an empty status
 * becomes "available", any other unknown status is BH_EINVAL. BH_ENOTFOUND if the property is
 * not one of r->org_id's; BH_EEXIST if the number is taken in that property. list is ordered by
 * id, returns a new array (NULL when *n is 0), and is BH_ENOTFOUND for a property not in org_id. */
int store_room_create(store_t *st, store_room_t *r);
int store_room_list(store_t *st, int64_t org_id, int64_t property_id, store_room_t **out,
                    size_t *n);

/* Users: u->id is written on create; u->property_ids (unless all_properties) are stored too.
 * The email is lower-cased. BH_EEXIST if the email is taken. get/by_email fill *out, which the
 * caller has init'ed and must dispose.
 * More on create: u->email is lower-cased in place (ASCII); repeats in property_ids are stored
 * once; BH_EINVAL for an empty email, a role outside ROLE__COUNT, more than AUTH_MAX_PROPERTIES
 * ids, or an id that is not a property of u->org_id (nothing is stored then). property_ids is
 * borrowed. get/by_email dispose *out first, so it may be reused; on failure it is left init'ed.
 * by_email matches case-insensitively; email may point into out->email. Property ids read back
 * are sorted ascending. */
int store_user_create(store_t *st, store_user_t *u);
int store_user_get(store_t *st, int64_t org_id, int64_t id, store_user_t *out);
int store_user_by_email(store_t *st, const char *email, store_user_t *out);

/* Runs work(st, data) on libuv's thread pool, then done(data, status) on loop's thread, where
 * status is 0, or UV_ECANCELED if the loop was shut down first. Returns 0 or a UV_E* code (then
 * neither callback runs). Never calls done re-entrantly. data is borrowed until done.
 * done may be NULL; work may not (UV_EINVAL). */
typedef void (*store_work_cb)(store_t *st, void *data);
typedef void (*store_done_cb)(void *data, int status);
int store_submit(store_t *st, uv_loop_t *loop, store_work_cb work, store_done_cb done, void *data);

#endif
