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
 * "postgres://..." or "postgresql://..." selects PostgreSQL (builds with WITH_POSTGRES; else
 * BH_ECONFIG), with a connection pool; see store_int.h store__pg_open. Other schemes are
 * BH_ECONFIG. On success *out is new (store_close).
 * data_dir NULL or "" means the working directory. Returns 0, BH_ECONFIG (unknown or unbuilt
 * backend, or "sqlite::memory:", which a connection pool cannot share) or BH_ESTORE (the file
 * cannot be opened; logged). store_close must not run while an operation is in flight. */
int store_open(const char *url, const char *data_dir, store_t **out);
void store_close(store_t *st);
/* Backend name for /health and logs: "sqlite" or "postgres". */
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

/* ---- domain records: finance, guests, tasks -----------------------------------------------------
 *
 * Common to the records below:
 *   - create fills id, created_at and updated_at (where there is one) back into the struct. The
 *     record's property must be one of its org_id's, else BH_ENOTFOUND and nothing is stored.
 *     created_by is the acting token's subject (a user id, or a service's id): not checked.
 *   - Text arrays are sized for their limit in characters at 4 bytes each plus the NUL; a value
 *     without a NUL inside its array is BH_EINVAL, and so is an enum value outside its list
 *     (an empty one on create takes the default named in the struct).
 *   - get and every update of a record of another organisation (or a missing one, or an id
 *     <= 0) is BH_ENOTFOUND. An update that needs the record in some state returns BH_ECONFLICT
 *     when it is not, and then fills *out with the record as it is.
 *   - Timestamps are unix ms; 0 means "none" where the field says it may be unset. */

#define STORE_CURRENCY_MAX 4  /* ISO 4217 code: three upper-case ASCII letters */
#define STORE_LABEL_MAX 257   /* 64 characters: a revenue source, an expense category */
#define STORE_DESC_MAX 2001   /* 500 characters: descriptions and notes */
#define STORE_TITLE_MAX 801   /* 200 characters */
#define STORE_PERSON_MAX 513  /* 128 characters: a guest's name */
#define STORE_PHONE_MAX 33
#define STORE_ROOM_NUMBER_MAX 32
#define STORE_STATUS_MAX 16
#define STORE_LIST_MAX 1000 /* the largest page a list may ask for */

typedef struct store_revenue_s {
    int64_t id;
    int64_t org_id;
    int64_t property_id;
    int64_t amount_cents; /* > 0, in minor units of currency */
    char currency[STORE_CURRENCY_MAX];
    char source[STORE_LABEL_MAX]; /* required: "room", "restaurant", ... */
    char description[STORE_DESC_MAX];
    int64_t occurred_at; /* 0 on create: now */
    int64_t created_by;
    int64_t created_at;
} store_revenue_t;

typedef struct store_expense_s {
    int64_t id;
    int64_t org_id;
    int64_t property_id;
    int64_t amount_cents; /* > 0 */
    char currency[STORE_CURRENCY_MAX];
    char category[STORE_LABEL_MAX]; /* required */
    char description[STORE_DESC_MAX];
    char status[STORE_STATUS_MAX]; /* "pending" (create always sets it), "approved", "rejected" */
    char note[STORE_DESC_MAX];     /* the decision's note */
    int64_t decided_by;            /* 0 while pending */
    int64_t decided_at;            /* 0 while pending */
    int64_t created_by;
    int64_t created_at, updated_at;
} store_expense_t;

typedef struct store_guest_s {
    int64_t id;
    int64_t org_id;
    int64_t property_id;
    char name[STORE_PERSON_MAX]; /* required */
    char email[STORE_EMAIL_MAX];
    char phone[STORE_PHONE_MAX];
    char room_number[STORE_ROOM_NUMBER_MAX];
    int nights;                    /* 1..365, or 0: not given */
    char status[STORE_STATUS_MAX]; /* "checked_in" (create always sets it), "checked_out" */
    int64_t checked_in_at;         /* create sets it to created_at */
    int64_t checked_out_at;        /* 0 until checkout */
    int64_t created_by;
    int64_t created_at, updated_at;
} store_guest_t;

typedef struct store_task_s {
    int64_t id;
    int64_t org_id;
    int64_t property_id;
    char title[STORE_TITLE_MAX]; /* required */
    char description[STORE_DESC_MAX];
    int64_t assignee_id;             /* 0: nobody; else a user of org_id */
    char priority[STORE_STATUS_MAX]; /* "low", "normal" (default), "high", "urgent" */
    char status[STORE_STATUS_MAX];   /* "open" (default), "in_progress", "done", "cancelled" */
    int64_t due_at;                  /* 0: none */
    int64_t created_by;
    int64_t created_at, updated_at;
} store_task_t;

/* What a list asks for. Lists answer newest first (id descending), at most limit rows, in a new
 * array (free()), NULL when *n is 0. An org_id <= 0 lists nothing. */
typedef struct store_query_s {
    int64_t org_id;
    int64_t property_id; /* 0: any property */
    /* The caller's reach: unless all_properties, only rows of these properties (none if
     * n_scope is 0). Borrowed. */
    int all_properties;
    const int64_t *scope;
    size_t n_scope;
    const char *status;  /* NULL: any; else one of the record's status names (users: a role) */
    int64_t assignee_id; /* tasks only; 0: anyone */
    int64_t before_id;   /* > 0: only ids below it (the next page) */
    size_t limit;        /* 1..STORE_LIST_MAX, else BH_EINVAL */
} store_query_t;

/* Revenues: an append-only ledger. */
int store_revenue_create(store_t *st, store_revenue_t *r);
int store_revenue_list(store_t *st, const store_query_t *q, store_revenue_t **out, size_t *n);

/* Expenses: created pending; decide moves a pending one to status ("approved" or "rejected";
 * else BH_EINVAL), recording by, now and note (NULL: ""), and fills *out with the result.
 * BH_ECONFLICT if it is not pending. */
int store_expense_create(store_t *st, store_expense_t *e);
int store_expense_get(store_t *st, int64_t org_id, int64_t id, store_expense_t *out);
int store_expense_decide(store_t *st, int64_t org_id, int64_t id, const char *status, int64_t by,
                         const char *note, store_expense_t *out);
int store_expense_list(store_t *st, const store_query_t *q, store_expense_t **out, size_t *n);

/* Guests: create checks the guest in now; checkout checks out a checked-in guest (else
 * BH_ECONFLICT) and fills *out. */
int store_guest_create(store_t *st, store_guest_t *g);
int store_guest_get(store_t *st, int64_t org_id, int64_t id, store_guest_t *out);
int store_guest_checkout(store_t *st, int64_t org_id, int64_t id, store_guest_t *out);
int store_guest_list(store_t *st, const store_query_t *q, store_guest_t **out, size_t *n);

/* Tasks: an assignee_id that is not a user of the task's organisation is BH_EINVAL (nothing is
 * stored); assign with assignee_id 0 unassigns. set_status accepts any of the four statuses from
 * any other. Both fill *out with the updated task. */
int store_task_create(store_t *st, store_task_t *t);
int store_task_get(store_t *st, int64_t org_id, int64_t id, store_task_t *out);
int store_task_assign(store_t *st, int64_t org_id, int64_t id, int64_t assignee_id,
                      store_task_t *out);
int store_task_set_status(store_t *st, int64_t org_id, int64_t id, const char *status,
                          store_task_t *out);
int store_task_list(store_t *st, const store_query_t *q, store_task_t **out, size_t *n);

/* Partial update of a property: each non-NULL field (borrowed) replaces the stored one; name may
 * not be empty. updated_at moves even if nothing else does. Fills *out with the result. */
typedef struct store_property_patch_s {
    const char *name, *address, *city, *country, *timezone;
} store_property_patch_t;
int store_property_update(store_t *st, int64_t org_id, int64_t id,
                          const store_property_patch_t *patch, store_property_t *out);

/* Partial update of a user, in one transaction: name (NULL: unchanged), role (if set_role), and
 * the property access (if set_properties: all_properties, or exactly property_ids, borrowed, with
 * the same rules as store_user_create; BH_EINVAL and nothing changed for an id that is not a
 * property of org_id). *out (init'ed by the caller, disposed first) gets the updated user. */
typedef struct store_user_patch_s {
    const char *name;
    int set_role;
    auth_role_t role;
    int set_properties;
    int all_properties;
    const int64_t *property_ids;
    size_t n_properties;
} store_user_patch_t;
int store_user_update(store_t *st, int64_t org_id, int64_t id, const store_user_patch_t *patch,
                      store_user_t *out);
/* Users of q->org_id, newest first. q->property_id and the scope match users with access to such
 * a property (every all_properties user does); q->status filters by role name. *out is a new
 * array of users that each own their property_ids: free it with store_user_list_free. */
int store_user_list(store_t *st, const store_query_t *q, store_user_t **out, size_t *n);
void store_user_list_free(store_user_t *users, size_t n);

/* ---- realtime event history ---------------------------------------------------------------------
 *
 * Every (org, service) stream has an epoch (a random id that changes only if its history is lost)
 * and a head: the offset of its newest event. Events are appended with their JSON already encoded
 * (the bytes subscribers receive); history is kept for a window of count and age. */

#define STORE_EPOCH_MAX 33
#define STORE_SERVICE_MAX 16

typedef struct store_event_s {
    int64_t org_id;
    const char *service; /* "finance", ... (borrowed) */
    const char *epoch;   /* the stream's epoch (borrowed) */
    int64_t offset;      /* > 0, strictly increasing per stream */
    int64_t property_id; /* 0: none */
    int64_t ts_ms;
    const char *type; /* borrowed */
    const char *json; /* borrowed, json_len bytes, not necessarily NUL-terminated */
    size_t json_len;
    const char *idem_key; /* the producer's Idempotency-Key (borrowed); NULL or "": none */
} store_event_t;

#define STORE_IDEM_KEY_MAX 64 /* bytes of an Idempotency-Key */

typedef struct store_stream_s {
    int64_t org_id;
    char service[STORE_SERVICE_MAX];
    char epoch[STORE_EPOCH_MAX];
    int64_t head; /* offset of the newest event ever appended (0: none) */
} store_stream_t;

/* Appends e and moves its stream's head to e->offset (creating the stream row with e->epoch if
 * it is new), in one transaction. BH_EEXIST if that offset is already stored. BH_EINVAL for a
 * NULL or empty string, a service or epoch that does not fit its array, offset <= 0, an empty
 * json, or a stream that exists with another epoch; nothing is stored then. A head never moves
 * backwards (appending below it leaves it). The organisation need not exist. */
int store_event_append(store_t *st, const store_event_t *e);
/* Every stream row; *out is a new array (free()), NULL when *n == 0. */
int store_streams_load(store_t *st, store_stream_t **out, size_t *n);
/* Calls cb for the stored events with ts_ms >= min_ts_ms, at most per_stream_max newest ones per
 * stream, ordered by (org_id, service, offset) ascending. The event's strings are valid during
 * the call only. A non-zero return from cb stops the scan and is returned. The window is the
 * one prune keeps: the per_stream_max newest of the stream, of which those not older than
 * min_ts_ms (per_stream_max 0: no event). cb runs while the scan holds a store connection, so it
 * should only copy the event, not call the store. */
typedef int (*store_event_cb)(const store_event_t *e, void *data);
int store_events_scan(store_t *st, int64_t min_ts_ms, size_t per_stream_max, store_event_cb cb,
                      void *data);
/* Deletes events older than min_ts_ms or beyond the per_stream_max newest of their stream
 * (per_stream_max 0 deletes every event). Stream heads and epochs are kept. *deleted (may be
 * NULL) gets the count. */
int store_events_prune(store_t *st, int64_t min_ts_ms, size_t per_stream_max, int64_t *deleted);

/* Runs work(st, data) on libuv's thread pool, then done(data, status) on loop's thread, where
 * status is 0, or UV_ECANCELED if the loop was shut down first. Returns 0 or a UV_E* code (then
 * neither callback runs). Never calls done re-entrantly. data is borrowed until done.
 * done may be NULL; work may not (UV_EINVAL). */
typedef void (*store_work_cb)(store_t *st, void *data);
typedef void (*store_done_cb)(void *data, int status);
int store_submit(store_t *st, uv_loop_t *loop, store_work_cb work, store_done_cb done, void *data);

#endif
