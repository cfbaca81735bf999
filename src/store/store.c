/* store.c: the backend-neutral front of the store: url parsing, argument checks, dispatch through
 * the vtable, and store_submit. See store_int.h for what is checked here so that backends need
 * not repeat it. */
#include "store/store.h"

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DB_NAME "bellhop.db"

/* ---------------------------------------------------------------------------------------------
 * Argument checks */

/* 1 if s holds a NUL within cap bytes, i.e. it fits its array with its terminator. */
static int fits(const char *s, size_t cap)
{
    return strnlen(s, cap) < cap;
}

static int fits_nonempty(const char *s, size_t cap)
{
    return s[0] != '\0' && fits(s, cap);
}

/* ASCII only: the unique index compares bytes, so what matters is that create and lookup fold the
 * same way, and locale-dependent folding would not guarantee that across processes. */
static void lower_ascii(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static int room_status_valid(const char *s)
{
    static const char *const names[] = {"available", "occupied", "cleaning", "maintenance"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) return 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Users */

void store_user_init(store_user_t *u)
{
    memset(u, 0, sizeof *u);
    /* Zero would be ROLE_OWNER. Out of range makes a user nobody filled in fail closed: create
     * rejects it (as auth_claims_init does for claims). */
    u->role = ROLE__COUNT;
}

void store_user_dispose(store_user_t *u)
{
    free(u->property_ids);
    store_user_init(u);
}

/* ---------------------------------------------------------------------------------------------
 * Open and close */

/* Default database path: <data_dir>/bellhop.db; data_dir NULL or "" means the working dir. */
static char *default_path(const char *data_dir)
{
    if (data_dir == NULL || data_dir[0] == '\0') data_dir = ".";
    size_t n = strlen(data_dir);
    const char *sep = data_dir[n - 1] == '/' ? "" : "/";
    size_t len = n + strlen(sep) + sizeof DEFAULT_DB_NAME;
    char *path = xmalloc(len);
    snprintf(path, len, "%s%s%s", data_dir, sep, DEFAULT_DB_NAME);
    return path;
}

int store_open(const char *url, const char *data_dir, store_t **out)
{
    char q[256];
    if (out == NULL) return BH_EINVAL;
    *out = NULL;

    if (url == NULL || url[0] == '\0' || strcmp(url, "sqlite:") == 0) {
        char *path = default_path(data_dir);
        int rc = store__sqlite_open(path, out);
        free(path);
        return rc;
    }
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        /* Accept the URL spelling sqlite:///abs/path as well as sqlite:/abs/path. */
        if (strncmp(path, "//", 2) == 0) path += 2;
        if (path[0] == '\0') {
            char *def = default_path(data_dir);
            int rc = store__sqlite_open(def, out);
            free(def);
            return rc;
        }
        return store__sqlite_open(path, out);
    }
    /* Never log the url itself: a postgres url may carry a password. */
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
#ifdef BELLHOP_WITH_POSTGRES
        return store__pg_open(url, out);
#else
        LOG_E("store_backend_unavailable", "backend=postgres reason=%s",
              log_quote(q, sizeof q, "this build has no PostgreSQL store backend"));
        return BH_ECONFIG;
#endif
    }
    const char *colon = strchr(url, ':');
    int scheme_len = colon ? (int)(colon - url) : 0;
    if (scheme_len > 32) scheme_len = 32;
    LOG_E("store_backend_unavailable", "scheme=%.*s reason=%s", scheme_len, url,
          log_quote(q, sizeof q, "unknown store url scheme; this build supports sqlite: only"));
    return BH_ECONFIG;
}

void store_close(store_t *st)
{
    if (st == NULL) return;
    st->vt->close(st);
}

const char *store_backend(const store_t *st)
{
    return st->vt->name;
}

int store_migrate(store_t *st, int *applied, int *version)
{
    int dummy_applied, dummy_version;
    return st->vt->migrate(st, applied ? applied : &dummy_applied,
                           version ? version : &dummy_version);
}

int store_ping(store_t *st)
{
    return st->vt->ping(st);
}

/* ---------------------------------------------------------------------------------------------
 * Data operations: check, then dispatch */

int store_org_create(store_t *st, int64_t id, const char *name, int64_t *id_out)
{
    int64_t dummy;
    if (id < 0 || name == NULL || !fits_nonempty(name, STORE_NAME_MAX)) return BH_EINVAL;
    return st->vt->org_create(st, id, name, id_out ? id_out : &dummy);
}

int store_org_get(store_t *st, int64_t id, store_org_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (id <= 0) return BH_ENOTFOUND;
    return st->vt->org_get(st, id, out);
}

int store_property_create(store_t *st, store_property_t *p)
{
    if (p == NULL || p->org_id <= 0 || !fits_nonempty(p->name, sizeof p->name) ||
        !fits(p->address, sizeof p->address) || !fits(p->city, sizeof p->city) ||
        !fits(p->country, sizeof p->country) || !fits(p->timezone, sizeof p->timezone))
        return BH_EINVAL;
    return st->vt->property_create(st, p);
}

int store_property_get(store_t *st, int64_t org_id, int64_t id, store_property_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->property_get(st, org_id, id, out);
}

int store_property_list(store_t *st, int64_t org_id, store_property_t **out, size_t *n)
{
    if (out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    if (org_id <= 0) return 0;
    return st->vt->property_list(st, org_id, out, n);
}

int store_room_create(store_t *st, store_room_t *r)
{
    if (r == NULL || r->org_id <= 0 || r->property_id <= 0 ||
        !fits_nonempty(r->number, sizeof r->number) || !fits(r->type, sizeof r->type) ||
        !fits(r->status, sizeof r->status))
        return BH_EINVAL;
    /* An unset status is the natural state of a new room. */
    if (r->status[0] == '\0') snprintf(r->status, sizeof r->status, "available");
    if (!room_status_valid(r->status)) return BH_EINVAL;
    return st->vt->room_create(st, r);
}

int store_room_list(store_t *st, int64_t org_id, int64_t property_id, store_room_t **out, size_t *n)
{
    if (out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    if (org_id <= 0 || property_id <= 0) return BH_ENOTFOUND;
    return st->vt->room_list(st, org_id, property_id, out, n);
}

int store_user_create(store_t *st, store_user_t *u)
{
    if (u == NULL || u->org_id <= 0 || !fits_nonempty(u->email, sizeof u->email) ||
        !fits(u->name, sizeof u->name) || !fits(u->password_hash, sizeof u->password_hash) ||
        (int)u->role < 0 || u->role >= ROLE__COUNT)
        return BH_EINVAL;
    u->all_properties = u->all_properties != 0;
    if (!u->all_properties) {
        /* The list travels in every token, so it shares the token's bound. */
        if (u->n_properties > AUTH_MAX_PROPERTIES) return BH_EINVAL;
        if (u->n_properties > 0 && u->property_ids == NULL) return BH_EINVAL;
        for (size_t i = 0; i < u->n_properties; i++)
            if (u->property_ids[i] <= 0) return BH_EINVAL;
    }
    /* Lower-cased in place so that the caller sees exactly what was stored. */
    lower_ascii(u->email);
    return st->vt->user_create(st, u);
}

int store_user_get(store_t *st, int64_t org_id, int64_t id, store_user_t *out)
{
    if (out == NULL) return BH_EINVAL;
    store_user_dispose(out);
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->user_get(st, org_id, id, out);
}

int store_user_by_email(store_t *st, const char *email, store_user_t *out)
{
    char key[STORE_EMAIL_MAX];
    if (email == NULL || out == NULL) return BH_EINVAL;
    /* Copy before disposing out: email may point into out->email. An email that cannot have been
     * stored is simply not found, so a login attempt learns nothing more than with any other. */
    if (!fits_nonempty(email, sizeof key)) {
        store_user_dispose(out);
        return BH_ENOTFOUND;
    }
    memcpy(key, email, strlen(email) + 1);
    lower_ascii(key);
    store_user_dispose(out);
    return st->vt->user_by_email(st, key, out);
}

/* ---------------------------------------------------------------------------------------------
 * Domain records */

static const char *const expense_statuses[] = {"pending", "approved", "rejected", NULL};
static const char *const guest_statuses[] = {"checked_in", "checked_out", NULL};
static const char *const task_statuses[] = {"open", "in_progress", "done", "cancelled", NULL};
static const char *const task_priorities[] = {"low", "normal", "high", "urgent", NULL};

static int one_of(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(s, *names) == 0) return 1;
    return 0;
}

/* An enum field of an input struct: fits, and is one of names, or empty and then set to dflt. */
static int enum_field(char *s, size_t cap, const char *const *names, const char *dflt)
{
    if (!fits(s, cap)) return 0;
    if (s[0] == '\0') snprintf(s, cap, "%s", dflt);
    return one_of(s, names);
}

/* ISO 4217 shape: exactly three upper-case ASCII letters. */
static int currency_valid(const char *c)
{
    if (!fits(c, STORE_CURRENCY_MAX) || strlen(c) != 3) return 0;
    for (int i = 0; i < 3; i++)
        if (c[i] < 'A' || c[i] > 'Z') return 0;
    return 1;
}

/* Shared checks of a list query; statuses (NULL: the table has none) bounds q->status. Returns
 * 0 to go on, 1 when the answer is the empty list (no organisation), or BH_EINVAL. The caller
 * has emptied its out-parameters. */
static int query_check(const store_query_t *q, const char *const *statuses)
{
    if (q == NULL) return BH_EINVAL;
    if (q->limit < 1 || q->limit > STORE_LIST_MAX || q->property_id < 0 || q->before_id < 0 ||
        q->assignee_id < 0)
        return BH_EINVAL;
    if (!q->all_properties && q->n_scope > 0 && q->scope == NULL) return BH_EINVAL;
    if (q->status != NULL && (statuses == NULL || !one_of(q->status, statuses))) return BH_EINVAL;
    return q->org_id <= 0 ? 1 : 0;
}

int store_revenue_create(store_t *st, store_revenue_t *r)
{
    if (r == NULL || r->org_id <= 0 || r->property_id <= 0 || r->amount_cents <= 0 ||
        !currency_valid(r->currency) || !fits_nonempty(r->source, sizeof r->source) ||
        !fits(r->description, sizeof r->description) || r->occurred_at < 0 || r->created_by < 0)
        return BH_EINVAL;
    return st->vt->revenue_create(st, r);
}

int store_revenue_list(store_t *st, const store_query_t *q, store_revenue_t **out, size_t *n)
{
    if (out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    int rc = query_check(q, NULL);
    return rc != 0 ? (rc == 1 ? 0 : rc) : st->vt->revenue_list(st, q, out, n);
}

int store_expense_create(store_t *st, store_expense_t *e)
{
    if (e == NULL || e->org_id <= 0 || e->property_id <= 0 || e->amount_cents <= 0 ||
        !currency_valid(e->currency) || !fits_nonempty(e->category, sizeof e->category) ||
        !fits(e->description, sizeof e->description) || e->created_by < 0)
        return BH_EINVAL;
    /* A new expense is always pending, with no decision yet, whatever the caller left there. */
    snprintf(e->status, sizeof e->status, "pending");
    e->note[0] = '\0';
    e->decided_by = e->decided_at = 0;
    return st->vt->expense_create(st, e);
}

int store_expense_get(store_t *st, int64_t org_id, int64_t id, store_expense_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->expense_get(st, org_id, id, out);
}

int store_expense_decide(store_t *st, int64_t org_id, int64_t id, const char *status, int64_t by,
                         const char *note, store_expense_t *out)
{
    if (note == NULL) note = "";
    if (out == NULL || status == NULL || by < 0 || !fits(note, STORE_DESC_MAX) ||
        (strcmp(status, "approved") != 0 && strcmp(status, "rejected") != 0))
        return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->expense_decide(st, org_id, id, status, by, note, out);
}

int store_expense_list(store_t *st, const store_query_t *q, store_expense_t **out, size_t *n)
{
    if (out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    int rc = query_check(q, expense_statuses);
    return rc != 0 ? (rc == 1 ? 0 : rc) : st->vt->expense_list(st, q, out, n);
}

int store_guest_create(store_t *st, store_guest_t *g)
{
    if (g == NULL || g->org_id <= 0 || g->property_id <= 0 ||
        !fits_nonempty(g->name, sizeof g->name) || !fits(g->email, sizeof g->email) ||
        !fits(g->phone, sizeof g->phone) || !fits(g->room_number, sizeof g->room_number) ||
        g->nights < 0 || g->nights > 365 || g->created_by < 0)
        return BH_EINVAL;
    snprintf(g->status, sizeof g->status, "checked_in");
    g->checked_out_at = 0;
    return st->vt->guest_create(st, g);
}

int store_guest_get(store_t *st, int64_t org_id, int64_t id, store_guest_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->guest_get(st, org_id, id, out);
}

int store_guest_checkout(store_t *st, int64_t org_id, int64_t id, store_guest_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->guest_checkout(st, org_id, id, out);
}

int store_guest_list(store_t *st, const store_query_t *q, store_guest_t **out, size_t *n)
{
    if (out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    int rc = query_check(q, guest_statuses);
    return rc != 0 ? (rc == 1 ? 0 : rc) : st->vt->guest_list(st, q, out, n);
}

int store_task_create(store_t *st, store_task_t *t)
{
    if (t == NULL || t->org_id <= 0 || t->property_id <= 0 ||
        !fits_nonempty(t->title, sizeof t->title) || !fits(t->description, sizeof t->description) ||
        t->assignee_id < 0 || t->due_at < 0 || t->created_by < 0 ||
        !enum_field(t->priority, sizeof t->priority, task_priorities, "normal") ||
        !enum_field(t->status, sizeof t->status, task_statuses, "open"))
        return BH_EINVAL;
    return st->vt->task_create(st, t);
}

int store_task_get(store_t *st, int64_t org_id, int64_t id, store_task_t *out)
{
    if (out == NULL) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->task_get(st, org_id, id, out);
}

int store_task_assign(store_t *st, int64_t org_id, int64_t id, int64_t assignee_id,
                      store_task_t *out)
{
    if (out == NULL || assignee_id < 0) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->task_assign(st, org_id, id, assignee_id, out);
}

int store_task_set_status(store_t *st, int64_t org_id, int64_t id, const char *status,
                          store_task_t *out)
{
    if (out == NULL || status == NULL || !one_of(status, task_statuses)) return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->task_set_status(st, org_id, id, status, out);
}

int store_task_list(store_t *st, const store_query_t *q, store_task_t **out, size_t *n)
{
    if (out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    int rc = query_check(q, task_statuses);
    return rc != 0 ? (rc == 1 ? 0 : rc) : st->vt->task_list(st, q, out, n);
}

int store_property_update(store_t *st, int64_t org_id, int64_t id,
                          const store_property_patch_t *patch, store_property_t *out)
{
    if (patch == NULL || out == NULL) return BH_EINVAL;
    const store_property_t *p = NULL; /* only for the sizes of its arrays */
    if ((patch->name && !fits_nonempty(patch->name, sizeof p->name)) ||
        (patch->address && !fits(patch->address, sizeof p->address)) ||
        (patch->city && !fits(patch->city, sizeof p->city)) ||
        (patch->country && !fits(patch->country, sizeof p->country)) ||
        (patch->timezone && !fits(patch->timezone, sizeof p->timezone)))
        return BH_EINVAL;
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->property_update(st, org_id, id, patch, out);
}

int store_user_update(store_t *st, int64_t org_id, int64_t id, const store_user_patch_t *patch,
                      store_user_t *out)
{
    if (patch == NULL || out == NULL) return BH_EINVAL;
    store_user_dispose(out);
    if (patch->name && !fits(patch->name, sizeof out->name)) return BH_EINVAL;
    if (patch->set_role && ((int)patch->role < 0 || patch->role >= ROLE__COUNT)) return BH_EINVAL;
    if (patch->set_properties && !patch->all_properties) {
        if (patch->n_properties > AUTH_MAX_PROPERTIES) return BH_EINVAL;
        if (patch->n_properties > 0 && patch->property_ids == NULL) return BH_EINVAL;
        for (size_t i = 0; i < patch->n_properties; i++)
            if (patch->property_ids[i] <= 0) return BH_EINVAL;
    }
    if (org_id <= 0 || id <= 0) return BH_ENOTFOUND;
    return st->vt->user_update(st, org_id, id, patch, out);
}

int store_user_list(store_t *st, const store_query_t *q, store_user_t **out, size_t *n)
{
    auth_role_t role;
    if (q == NULL || out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    /* For users, the status filter is a role name: checked here, not as a status. */
    store_query_t rest = *q;
    rest.status = NULL;
    int rc = query_check(&rest, NULL);
    if (rc != 0) return rc == 1 ? 0 : rc;
    if (q->status != NULL && auth_role_parse(q->status, &role) != 0) return BH_EINVAL;
    return st->vt->user_list(st, q, out, n);
}

void store_user_list_free(store_user_t *users, size_t n)
{
    for (size_t i = 0; users && i < n; i++)
        free(users[i].property_ids);
    free(users);
}

/* ---------------------------------------------------------------------------------------------
 * Realtime event history */

int store_event_append(store_t *st, const store_event_t *e)
{
    if (e == NULL || e->org_id <= 0 || e->service == NULL ||
        !fits_nonempty(e->service, STORE_SERVICE_MAX) || e->epoch == NULL ||
        !fits_nonempty(e->epoch, STORE_EPOCH_MAX) || e->offset <= 0 || e->property_id < 0 ||
        e->type == NULL || e->type[0] == '\0' || e->json == NULL || e->json_len == 0 ||
        e->json_len > INT_MAX || (e->idem_key && strlen(e->idem_key) > STORE_IDEM_KEY_MAX))
        return BH_EINVAL;
    return st->vt->event_append(st, e);
}

int store_streams_load(store_t *st, store_stream_t **out, size_t *n)
{
    if (out == NULL || n == NULL) return BH_EINVAL;
    *out = NULL;
    *n = 0;
    return st->vt->streams_load(st, out, n);
}

int store_events_scan(store_t *st, int64_t min_ts_ms, size_t per_stream_max, store_event_cb cb,
                      void *data)
{
    if (cb == NULL) return BH_EINVAL;
    /* A window of no events: nothing to read, so no need to ask the backend. */
    if (per_stream_max == 0) return 0;
    return st->vt->events_scan(st, min_ts_ms, per_stream_max, cb, data);
}

int store_events_prune(store_t *st, int64_t min_ts_ms, size_t per_stream_max, int64_t *deleted)
{
    int64_t dummy;
    if (deleted == NULL) deleted = &dummy;
    *deleted = 0;
    return st->vt->events_prune(st, min_ts_ms, per_stream_max, deleted);
}

/* ---------------------------------------------------------------------------------------------
 * store_submit: run a work function on libuv's thread pool */

typedef struct submit_req_s {
    uv_work_t req; /* first, so the uv_work_t * is the submit_req_t * */
    store_t *st;
    store_work_cb work;
    store_done_cb done;
    void *data;
} submit_req_t;

static void on_work(uv_work_t *req)
{
    submit_req_t *r = (submit_req_t *)req;
    r->work(r->st, r->data);
}

static void on_after_work(uv_work_t *req, int status)
{
    submit_req_t *r = (submit_req_t *)req;
    store_done_cb done = r->done;
    void *data = r->data;
    /* Freed before done runs, so done may close the loop or free what data points to. */
    free(r);
    if (done != NULL) done(data, status);
}

int store_submit(store_t *st, uv_loop_t *loop, store_work_cb work, store_done_cb done, void *data)
{
    if (st == NULL || loop == NULL || work == NULL) return UV_EINVAL;
    submit_req_t *r = xmalloc(sizeof *r);
    r->st = st;
    r->work = work;
    r->done = done;
    r->data = data;
    /* libuv calls neither callback from inside uv_queue_work, which gives us the no re-entrancy
     * promise of the header for free. */
    int rc = uv_queue_work(loop, &r->req, on_work, on_after_work);
    if (rc != 0) free(r);
    return rc;
}
