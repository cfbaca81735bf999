/* store_int.h: what the store front end (store.c) and its backends share.
 *
 * Each backend fills one store_vtable and embeds struct store_s as the FIRST member of its own
 * handle, so a store_t * and the backend's handle point at the same address (as redis
 * ConnectionType and SQLite's VFS do). Adding a backend means: one vtable, one open function
 * declared here, and one branch in store_open's url parser.
 *
 * Division of labour: store.c validates every argument before it dispatches (NULL pointers,
 * negative ids, empty required fields, strings that do not fit their struct array, role range)
 * and lower-cases emails. A backend may therefore assume that:
 *   - every text field of an input struct is NUL-terminated within its array and non-empty where
 *     the schema requires it;
 *   - emails are already lower-case, and store_user_t.role is within ROLE__COUNT;
 *   - room status is one of the four names (the schema's CHECK re-checks it anyway);
 *   - out-parameters are non-NULL, and a store_user_t *out has been disposed (so it holds no
 *     property_ids array).
 * Backends own everything else: connections, transactions, timestamps, error mapping. */
#ifndef BH_STORE_STORE_INT_H
#define BH_STORE_STORE_INT_H

#include "store/store.h"

/* Feature ops tables: each feature's operations, declared in store/<feature>.h, dispatched in
 * store/<feature>.c, implemented per backend in store_<backend>_<feature>.c. */
struct store_upload_ops;
struct store_chat_ops;
struct store_flag_ops;

struct store_vtable {
    const char *name; /* "sqlite" or "postgres", returned by store_backend() */
    const struct store_upload_ops *uploads;
    const struct store_chat_ops *chat;
    const struct store_flag_ops *flags;

    /* Frees the handle and every connection. Called once, after every operation has returned. */
    void (*close)(store_t *st);

    int (*migrate)(store_t *st, int *applied, int *version);
    int (*ping)(store_t *st);

    int (*org_create)(store_t *st, int64_t id, const char *name, int64_t *id_out);
    int (*org_get)(store_t *st, int64_t id, store_org_t *out);

    int (*property_create)(store_t *st, store_property_t *p);
    int (*property_get)(store_t *st, int64_t org_id, int64_t id, store_property_t *out);
    int (*property_list)(store_t *st, int64_t org_id, store_property_t **out, size_t *n);

    int (*room_create)(store_t *st, store_room_t *r);
    int (*room_list)(store_t *st, int64_t org_id, int64_t property_id, store_room_t **out,
                     size_t *n);

    int (*user_create)(store_t *st, store_user_t *u);
    int (*user_get)(store_t *st, int64_t org_id, int64_t id, store_user_t *out);
    int (*user_by_email)(store_t *st, const char *email, store_user_t *out);

    /* Domain records (store.c has checked every text field, enum and id, applied the enum
     * defaults and bounded limits; a decide/set_status status is valid for its table). */
    int (*revenue_create)(store_t *st, store_revenue_t *r);
    int (*revenue_list)(store_t *st, const store_query_t *q, store_revenue_t **out, size_t *n);
    int (*expense_create)(store_t *st, store_expense_t *e);
    int (*expense_get)(store_t *st, int64_t org_id, int64_t id, store_expense_t *out);
    int (*expense_decide)(store_t *st, int64_t org_id, int64_t id, const char *status, int64_t by,
                          const char *note, store_expense_t *out);
    int (*expense_list)(store_t *st, const store_query_t *q, store_expense_t **out, size_t *n);
    int (*guest_create)(store_t *st, store_guest_t *g);
    int (*guest_get)(store_t *st, int64_t org_id, int64_t id, store_guest_t *out);
    int (*guest_checkout)(store_t *st, int64_t org_id, int64_t id, store_guest_t *out);
    int (*guest_list)(store_t *st, const store_query_t *q, store_guest_t **out, size_t *n);
    int (*task_create)(store_t *st, store_task_t *t);
    int (*task_get)(store_t *st, int64_t org_id, int64_t id, store_task_t *out);
    int (*task_assign)(store_t *st, int64_t org_id, int64_t id, int64_t assignee_id,
                       store_task_t *out);
    int (*task_set_status)(store_t *st, int64_t org_id, int64_t id, const char *status,
                           store_task_t *out);
    int (*task_list)(store_t *st, const store_query_t *q, store_task_t **out, size_t *n);
    int (*property_update)(store_t *st, int64_t org_id, int64_t id,
                           const store_property_patch_t *patch, store_property_t *out);
    int (*user_update)(store_t *st, int64_t org_id, int64_t id, const store_user_patch_t *patch,
                       store_user_t *out);
    int (*user_list)(store_t *st, const store_query_t *q, store_user_t **out, size_t *n);

    /* Event history: e's strings are non-NULL and fit their bounds, offset > 0, json_len in
     * 1..INT_MAX; per_stream_max is >= 1 and cb non-NULL. */
    int (*event_append)(store_t *st, const store_event_t *e);
    int (*streams_load)(store_t *st, store_stream_t **out, size_t *n);
    int (*events_scan)(store_t *st, int64_t min_ts_ms, size_t per_stream_max, store_event_cb cb,
                       void *data);
    int (*events_prune)(store_t *st, int64_t min_ts_ms, size_t per_stream_max, int64_t *deleted);
};

/* The base every backend handle starts with. */
struct store_s {
    const struct store_vtable *vt;
};

/* Opens (creating if needed) the SQLite database file at path. On success *out is new and owned
 * by the caller (store_close). Returns 0, BH_ECONFIG (path unusable, e.g. ":memory:", which a
 * pool of connections cannot share) or BH_ESTORE (the file cannot be opened or configured; the
 * reason is logged). */
int store__sqlite_open(const char *path, store_t **out);

/* Opens a pool of connections to the PostgreSQL database named by url (postgres:// or
 * postgresql://, libpq's syntax, plus bellhop's pool_max, statement_timeout_ms and
 * lock_timeout_ms query parameters; see store_pg.c). Connects once before returning. Returns 0,
 * BH_ECONFIG (a bad bellhop parameter) or BH_ESTORE (cannot connect; logged without the url).
 * Only in builds with WITH_POSTGRES (BELLHOP_WITH_POSTGRES defined). */
int store__pg_open(const char *url, store_t **out);

#endif
