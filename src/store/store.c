/* store.c: the backend-neutral front of the store: url parsing, argument checks, dispatch through
 * the vtable, and store_submit. See store_int.h for what is checked here so that backends need
 * not repeat it. */
#include "store/store.h"

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store_int.h"

#include <ctype.h>
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
        LOG_E("store_backend_unavailable", "backend=postgres reason=%s",
              log_quote(q, sizeof q, "this build has no PostgreSQL store backend"));
        return BH_ECONFIG;
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
