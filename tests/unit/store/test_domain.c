/* Tests for the domain records of the store (revenues, expenses, guests, tasks, property and user
 * updates, lists) on the SQLite backend, each in a fresh directory. */
#include "test.h"

#include "core/clock.h"
#include "core/err.h"
#include "store/store.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Fixtures */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* Two organisations: org 1 with properties p[0], p[1]; org 2 with p[2]. */
typedef struct world_s {
    char dir[64];
    store_t *st;
    int64_t p[3];
} world_t;

static int make_property(store_t *st, int64_t org_id, const char *name, int64_t *id)
{
    store_property_t p = {.org_id = org_id};
    snprintf(p.name, sizeof p.name, "%s", name);
    int rc = store_property_create(st, &p);
    *id = p.id;
    return rc;
}

static int world_open(world_t *w)
{
    int rc;
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/bellhop-domain-XXXXXX");
    if (mkdtemp(w->dir) == NULL) return -1;
    if ((rc = store_open(NULL, w->dir, &w->st)) != 0) return rc;
    if ((rc = store_migrate(w->st, NULL, NULL)) != 0) return rc;
    if ((rc = store_org_create(w->st, 1, "One", NULL)) != 0) return rc;
    if ((rc = store_org_create(w->st, 2, "Two", NULL)) != 0) return rc;
    if ((rc = make_property(w->st, 1, "Seaside", &w->p[0])) != 0) return rc;
    if ((rc = make_property(w->st, 1, "Hillside", &w->p[1])) != 0) return rc;
    return make_property(w->st, 2, "Elsewhere", &w->p[2]);
}

static void world_close(world_t *w)
{
    store_close(w->st);
    nftw(w->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int make_user(store_t *st, int64_t org, const char *email, auth_role_t role,
                     const int64_t *props, size_t n, int64_t *id)
{
    store_user_t u;
    store_user_init(&u);
    u.org_id = org;
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.name, sizeof u.name, "%s", email);
    u.role = role;
    u.all_properties = props == NULL;
    u.property_ids = (int64_t *)props;
    u.n_properties = n;
    int rc = store_user_create(st, &u);
    *id = u.id;
    u.property_ids = NULL;
    u.n_properties = 0;
    store_user_dispose(&u);
    return rc;
}

static store_revenue_t revenue(int64_t org, int64_t prop, int64_t cents)
{
    store_revenue_t r = {
        .org_id = org, .property_id = prop, .amount_cents = cents, .created_by = 7};
    snprintf(r.currency, sizeof r.currency, "INR");
    snprintf(r.source, sizeof r.source, "room");
    return r;
}

static store_query_t query(int64_t org)
{
    return (store_query_t){.org_id = org, .all_properties = 1, .limit = 50};
}

/* ---------------------------------------------------------------------------------------------
 * Revenues and the shared list behaviour */

TEST(revenue_create_and_list)
{
    world_t w;
    store_revenue_t r, *list = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(0, world_open(&w));
    int64_t before = clock_unix_ms();

    r = revenue(1, w.p[0], 12500);
    snprintf(r.description, sizeof r.description, "Room 101, two nights");
    ASSERT_EQ_INT(0, store_revenue_create(w.st, &r));
    ASSERT(r.id > 0);
    ASSERT(r.created_at >= before && r.occurred_at == r.created_at);
    int64_t first = r.id;

    r = revenue(1, w.p[1], 900);
    r.occurred_at = 1700000000000;
    snprintf(r.source, sizeof r.source, "restaurant");
    ASSERT_EQ_INT(0, store_revenue_create(w.st, &r));
    ASSERT_EQ_INT(1700000000000, r.occurred_at);

    /* A property of another organisation is not found, and nothing is stored. */
    r = revenue(1, w.p[2], 100);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_revenue_create(w.st, &r));
    ASSERT_EQ_INT(0, r.id);
    r = revenue(2, w.p[2], 100);
    ASSERT_EQ_INT(0, store_revenue_create(w.st, &r));

    /* Argument checks. */
    r = revenue(1, w.p[0], 0);
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_create(w.st, &r));
    r = revenue(1, w.p[0], 5);
    snprintf(r.currency, sizeof r.currency, "inr");
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_create(w.st, &r));
    snprintf(r.currency, sizeof r.currency, "IN");
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_create(w.st, &r));
    r = revenue(1, w.p[0], 5);
    r.source[0] = '\0';
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_create(w.st, &r));
    r = revenue(1, w.p[0], 5);
    memset(r.description, 'x', sizeof r.description); /* no NUL */
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_create(w.st, &r));
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_create(w.st, NULL));

    /* Newest first, only the organisation's own. */
    store_query_t q = query(1);
    ASSERT_EQ_INT(0, store_revenue_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_STR("restaurant", list[0].source);
    ASSERT_EQ_INT(first, list[1].id);
    ASSERT_EQ_INT(12500, list[1].amount_cents);
    ASSERT_EQ_STR("INR", list[1].currency);
    ASSERT_EQ_STR("Room 101, two nights", list[1].description);
    ASSERT_EQ_INT(7, list[1].created_by);
    ASSERT_EQ_INT(w.p[0], list[1].property_id);
    free(list);

    /* One property. */
    q.property_id = w.p[0];
    ASSERT_EQ_INT(0, store_revenue_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(first, list[0].id);
    free(list);

    /* The caller's scope. */
    int64_t scope[] = {w.p[1]};
    q = query(1);
    q.all_properties = 0;
    q.scope = scope;
    q.n_scope = 1;
    ASSERT_EQ_INT(0, store_revenue_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(w.p[1], list[0].property_id);
    free(list);
    /* An empty scope sees nothing. */
    q.n_scope = 0;
    q.scope = NULL;
    ASSERT_EQ_INT(0, store_revenue_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(0, n);
    ASSERT(list == NULL);

    /* A missing organisation lists nothing; bad limits and a status are refused. */
    q = query(0);
    ASSERT_EQ_INT(0, store_revenue_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(0, n);
    q = query(1);
    q.limit = 0;
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_list(w.st, &q, &list, &n));
    q.limit = STORE_LIST_MAX + 1;
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_list(w.st, &q, &list, &n));
    q = query(1);
    q.status = "pending";
    ASSERT_EQ_INT(BH_EINVAL, store_revenue_list(w.st, &q, &list, &n));
    world_close(&w);
}

TEST(lists_page_with_before_id)
{
    world_t w;
    store_revenue_t r, *list = NULL;
    size_t n = 0;
    int64_t ids[7];
    ASSERT_EQ_INT(0, world_open(&w));
    for (int i = 0; i < 7; i++) {
        r = revenue(1, w.p[i % 2], 100 + i);
        ASSERT_EQ_INT(0, store_revenue_create(w.st, &r));
        ids[i] = r.id;
    }
    store_query_t q = query(1);
    q.limit = 3;
    ASSERT_EQ_INT(0, store_revenue_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(3, n);
    ASSERT_EQ_INT(ids[6], list[0].id);
    ASSERT_EQ_INT(ids[4], list[2].id);
    q.before_id = list[2].id;
    free(list);
    ASSERT_EQ_INT(0, store_revenue_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(3, n);
    ASSERT_EQ_INT(ids[3], list[0].id);
    q.before_id = list[2].id;
    free(list);
    ASSERT_EQ_INT(0, store_revenue_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(ids[0], list[0].id);
    free(list);
    world_close(&w);
}

/* ---------------------------------------------------------------------------------------------
 * Expenses */

static store_expense_t expense(int64_t org, int64_t prop, int64_t cents)
{
    store_expense_t e = {
        .org_id = org, .property_id = prop, .amount_cents = cents, .created_by = 3};
    snprintf(e.currency, sizeof e.currency, "USD");
    snprintf(e.category, sizeof e.category, "supplies");
    return e;
}

TEST(expense_create_decide_and_conflict)
{
    world_t w;
    store_expense_t e, got, *list = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(0, world_open(&w));

    e = expense(1, w.p[0], 4200);
    /* Whatever the caller leaves in status, a new expense is pending. */
    snprintf(e.status, sizeof e.status, "approved");
    ASSERT_EQ_INT(0, store_expense_create(w.st, &e));
    ASSERT(e.id > 0);
    ASSERT_EQ_STR("pending", e.status);
    ASSERT(e.created_at > 0 && e.updated_at == e.created_at);
    int64_t a = e.id;
    e = expense(1, w.p[1], 10);
    ASSERT_EQ_INT(0, store_expense_create(w.st, &e));
    int64_t b = e.id;
    e = expense(1, w.p[2], 10);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_expense_create(w.st, &e));

    ASSERT_EQ_INT(0, store_expense_get(w.st, 1, a, &got));
    ASSERT_EQ_STR("pending", got.status);
    ASSERT_EQ_STR("supplies", got.category);
    ASSERT_EQ_INT(0, got.decided_by);
    ASSERT_EQ_INT(0, got.decided_at);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_expense_get(w.st, 2, a, &got));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_expense_get(w.st, 1, 0, &got));

    ASSERT_EQ_INT(0, store_expense_decide(w.st, 1, a, "approved", 9, "ok by me", &got));
    ASSERT_EQ_INT(a, got.id);
    ASSERT_EQ_STR("approved", got.status);
    ASSERT_EQ_STR("ok by me", got.note);
    ASSERT_EQ_INT(9, got.decided_by);
    ASSERT(got.decided_at >= got.created_at && got.updated_at == got.decided_at);

    /* Decided once: a second decision conflicts and reports the state as it is. */
    memset(&got, 0, sizeof got);
    ASSERT_EQ_INT(BH_ECONFLICT, store_expense_decide(w.st, 1, a, "rejected", 9, NULL, &got));
    ASSERT_EQ_STR("approved", got.status);
    ASSERT_EQ_INT(a, got.id);
    /* Another organisation's expense is not found, not a conflict. */
    ASSERT_EQ_INT(BH_ENOTFOUND, store_expense_decide(w.st, 2, b, "rejected", 9, NULL, &got));
    ASSERT_EQ_INT(BH_EINVAL, store_expense_decide(w.st, 1, b, "pending", 9, NULL, &got));
    ASSERT_EQ_INT(0, store_expense_decide(w.st, 1, b, "rejected", 9, NULL, &got));
    ASSERT_EQ_STR("rejected", got.status);
    ASSERT_EQ_STR("", got.note);

    e = expense(1, w.p[0], 77);
    ASSERT_EQ_INT(0, store_expense_create(w.st, &e));
    store_query_t q = query(1);
    q.status = "pending";
    ASSERT_EQ_INT(0, store_expense_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(77, list[0].amount_cents);
    free(list);
    q.status = "approved";
    q.property_id = w.p[0];
    ASSERT_EQ_INT(0, store_expense_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(a, list[0].id);
    free(list);
    q.status = "paid";
    ASSERT_EQ_INT(BH_EINVAL, store_expense_list(w.st, &q, &list, &n));
    world_close(&w);
}

/* ---------------------------------------------------------------------------------------------
 * Guests */

TEST(guest_checkin_checkout)
{
    world_t w;
    store_guest_t g, got, *list = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(0, world_open(&w));
    g = (store_guest_t){.org_id = 1, .property_id = w.p[0], .nights = 3, .created_by = 5};
    snprintf(g.name, sizeof g.name, "Anaïs Dupont");
    snprintf(g.email, sizeof g.email, "anais@example.com");
    snprintf(g.room_number, sizeof g.room_number, "101");
    ASSERT_EQ_INT(0, store_guest_create(w.st, &g));
    ASSERT(g.id > 0);
    ASSERT_EQ_STR("checked_in", g.status);
    ASSERT(g.checked_in_at > 0 && g.checked_in_at == g.created_at);
    int64_t a = g.id;

    g = (store_guest_t){.org_id = 1, .property_id = w.p[1]};
    snprintf(g.name, sizeof g.name, "Bo");
    ASSERT_EQ_INT(0, store_guest_create(w.st, &g));
    int64_t b = g.id;
    g.nights = 366;
    ASSERT_EQ_INT(BH_EINVAL, store_guest_create(w.st, &g));
    g.nights = 0;
    g.name[0] = '\0';
    ASSERT_EQ_INT(BH_EINVAL, store_guest_create(w.st, &g));
    snprintf(g.name, sizeof g.name, "Cy");
    g.property_id = w.p[2];
    ASSERT_EQ_INT(BH_ENOTFOUND, store_guest_create(w.st, &g));

    ASSERT_EQ_INT(0, store_guest_get(w.st, 1, a, &got));
    ASSERT_EQ_STR("Anaïs Dupont", got.name);
    ASSERT_EQ_STR("anais@example.com", got.email);
    ASSERT_EQ_STR("", got.phone);
    ASSERT_EQ_STR("101", got.room_number);
    ASSERT_EQ_INT(3, got.nights);
    ASSERT_EQ_INT(5, got.created_by);
    ASSERT_EQ_INT(0, got.checked_out_at);
    ASSERT_EQ_INT(0, store_guest_get(w.st, 1, b, &got));
    ASSERT_EQ_INT(0, got.nights); /* not given */
    ASSERT_EQ_INT(BH_ENOTFOUND, store_guest_get(w.st, 2, a, &got));

    ASSERT_EQ_INT(0, store_guest_checkout(w.st, 1, a, &got));
    ASSERT_EQ_STR("checked_out", got.status);
    ASSERT(got.checked_out_at >= got.checked_in_at);
    ASSERT_EQ_INT(BH_ECONFLICT, store_guest_checkout(w.st, 1, a, &got));
    ASSERT_EQ_STR("checked_out", got.status);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_guest_checkout(w.st, 2, b, &got));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_guest_checkout(w.st, 1, 9999, &got));

    store_query_t q = query(1);
    q.status = "checked_in";
    ASSERT_EQ_INT(0, store_guest_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(b, list[0].id);
    free(list);
    q.status = NULL;
    ASSERT_EQ_INT(0, store_guest_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(2, n);
    free(list);
    world_close(&w);
}

/* ---------------------------------------------------------------------------------------------
 * Tasks */

TEST(task_create_assign_status)
{
    world_t w;
    store_task_t t, got, *list = NULL;
    size_t n = 0;
    int64_t alice, bob, stranger;
    ASSERT_EQ_INT(0, world_open(&w));
    ASSERT_EQ_INT(0, make_user(w.st, 1, "alice@example.com", ROLE_STAFF, NULL, 0, &alice));
    ASSERT_EQ_INT(0, make_user(w.st, 1, "bob@example.com", ROLE_STAFF, NULL, 0, &bob));
    ASSERT_EQ_INT(0, make_user(w.st, 2, "eve@example.com", ROLE_STAFF, NULL, 0, &stranger));

    t = (store_task_t){.org_id = 1, .property_id = w.p[0], .created_by = alice};
    snprintf(t.title, sizeof t.title, "Fix the lamp in 204");
    ASSERT_EQ_INT(0, store_task_create(w.st, &t));
    ASSERT(t.id > 0);
    ASSERT_EQ_STR("normal", t.priority);
    ASSERT_EQ_STR("open", t.status);
    int64_t a = t.id;

    t = (store_task_t){.org_id = 1, .property_id = w.p[1], .assignee_id = bob, .due_at = 12345};
    snprintf(t.title, sizeof t.title, "Restock minibar");
    snprintf(t.priority, sizeof t.priority, "urgent");
    ASSERT_EQ_INT(0, store_task_create(w.st, &t));
    int64_t b = t.id;

    /* An assignee of another organisation is bad input: nothing is stored. */
    t.id = 0;
    t.assignee_id = stranger;
    ASSERT_EQ_INT(BH_EINVAL, store_task_create(w.st, &t));
    ASSERT_EQ_INT(0, t.id);
    t.assignee_id = 0;
    snprintf(t.priority, sizeof t.priority, "whenever");
    ASSERT_EQ_INT(BH_EINVAL, store_task_create(w.st, &t));
    snprintf(t.priority, sizeof t.priority, "low");
    snprintf(t.status, sizeof t.status, "blocked");
    ASSERT_EQ_INT(BH_EINVAL, store_task_create(w.st, &t));
    t.status[0] = '\0';
    t.property_id = w.p[2];
    ASSERT_EQ_INT(BH_ENOTFOUND, store_task_create(w.st, &t));

    ASSERT_EQ_INT(0, store_task_get(w.st, 1, b, &got));
    ASSERT_EQ_INT(bob, got.assignee_id);
    ASSERT_EQ_INT(12345, got.due_at);
    ASSERT_EQ_STR("urgent", got.priority);
    ASSERT_EQ_INT(0, store_task_get(w.st, 1, a, &got));
    ASSERT_EQ_INT(0, got.assignee_id);
    ASSERT_EQ_INT(0, got.due_at);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_task_get(w.st, 2, a, &got));

    ASSERT_EQ_INT(0, store_task_assign(w.st, 1, a, alice, &got));
    ASSERT_EQ_INT(alice, got.assignee_id);
    ASSERT_EQ_INT(BH_EINVAL, store_task_assign(w.st, 1, a, stranger, &got));
    ASSERT_EQ_INT(BH_EINVAL, store_task_assign(w.st, 1, a, 99999, &got));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_task_assign(w.st, 2, a, stranger, &got));
    ASSERT_EQ_INT(0, store_task_get(w.st, 1, a, &got));
    ASSERT_EQ_INT(alice, got.assignee_id);

    ASSERT_EQ_INT(0, store_task_set_status(w.st, 1, a, "in_progress", &got));
    ASSERT_EQ_STR("in_progress", got.status);
    ASSERT(got.updated_at >= got.created_at);
    ASSERT_EQ_INT(BH_EINVAL, store_task_set_status(w.st, 1, a, "paused", &got));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_task_set_status(w.st, 2, a, "done", &got));

    store_query_t q = query(1);
    q.assignee_id = alice;
    ASSERT_EQ_INT(0, store_task_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(a, list[0].id);
    free(list);
    q.assignee_id = 0;
    q.status = "open";
    ASSERT_EQ_INT(0, store_task_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(b, list[0].id);
    free(list);

    /* Unassigning. */
    ASSERT_EQ_INT(0, store_task_assign(w.st, 1, a, 0, &got));
    ASSERT_EQ_INT(0, got.assignee_id);
    world_close(&w);
}

/* ---------------------------------------------------------------------------------------------
 * Properties and users */

TEST(property_update_is_partial)
{
    world_t w;
    store_property_t got;
    ASSERT_EQ_INT(0, world_open(&w));
    ASSERT_EQ_INT(0, store_property_get(w.st, 1, w.p[0], &got));
    int64_t created = got.created_at;
    store_property_patch_t patch = {.city = "Panaji", .timezone = "Asia/Kolkata"};
    ASSERT_EQ_INT(0, store_property_update(w.st, 1, w.p[0], &patch, &got));
    ASSERT_EQ_STR("Seaside", got.name);
    ASSERT_EQ_STR("Panaji", got.city);
    ASSERT_EQ_STR("Asia/Kolkata", got.timezone);
    ASSERT_EQ_STR("", got.address);
    ASSERT_EQ_INT(created, got.created_at);
    ASSERT(got.updated_at >= created);

    patch = (store_property_patch_t){.name = "Seaside Resort", .address = ""};
    ASSERT_EQ_INT(0, store_property_update(w.st, 1, w.p[0], &patch, &got));
    ASSERT_EQ_STR("Seaside Resort", got.name);
    ASSERT_EQ_STR("Panaji", got.city);
    ASSERT_EQ_INT(0, store_property_get(w.st, 1, w.p[0], &got));
    ASSERT_EQ_STR("Seaside Resort", got.name);

    patch = (store_property_patch_t){.name = ""};
    ASSERT_EQ_INT(BH_EINVAL, store_property_update(w.st, 1, w.p[0], &patch, &got));
    patch = (store_property_patch_t){.name = "Mine now"};
    ASSERT_EQ_INT(BH_ENOTFOUND, store_property_update(w.st, 1, w.p[2], &patch, &got));
    ASSERT_EQ_INT(0, store_property_get(w.st, 2, w.p[2], &got));
    ASSERT_EQ_STR("Elsewhere", got.name);
    world_close(&w);
}

TEST(user_update_and_rollback)
{
    world_t w;
    store_user_t got;
    int64_t id, other;
    ASSERT_EQ_INT(0, world_open(&w));
    int64_t one[] = {w.p[0]};
    ASSERT_EQ_INT(0, make_user(w.st, 1, "kim@example.com", ROLE_STAFF, one, 1, &id));
    ASSERT_EQ_INT(0, make_user(w.st, 2, "lee@example.com", ROLE_STAFF, NULL, 0, &other));
    store_user_init(&got);

    store_user_patch_t patch = {.name = "Kim Lee"};
    ASSERT_EQ_INT(0, store_user_update(w.st, 1, id, &patch, &got));
    ASSERT_EQ_STR("Kim Lee", got.name);
    ASSERT_EQ_INT(ROLE_STAFF, got.role);
    ASSERT_EQ_INT(1, got.n_properties);

    int64_t both[] = {w.p[1], w.p[0], w.p[1]};
    patch = (store_user_patch_t){.set_role = 1,
                                 .role = ROLE_MANAGER,
                                 .set_properties = 1,
                                 .property_ids = both,
                                 .n_properties = 3};
    ASSERT_EQ_INT(0, store_user_update(w.st, 1, id, &patch, &got));
    ASSERT_EQ_INT(ROLE_MANAGER, got.role);
    ASSERT_EQ_STR("Kim Lee", got.name);
    ASSERT_EQ_INT(0, got.all_properties);
    ASSERT_EQ_INT(2, got.n_properties);
    ASSERT_EQ_INT(w.p[0], got.property_ids[0]);
    ASSERT_EQ_INT(w.p[1], got.property_ids[1]);

    /* A property of another organisation: refused, and the role change with it. */
    int64_t bad[] = {w.p[0], w.p[2]};
    patch = (store_user_patch_t){.set_role = 1,
                                 .role = ROLE_ADMIN,
                                 .set_properties = 1,
                                 .property_ids = bad,
                                 .n_properties = 2};
    ASSERT_EQ_INT(BH_EINVAL, store_user_update(w.st, 1, id, &patch, &got));
    ASSERT_EQ_INT(0, got.n_properties); /* disposed */
    ASSERT_EQ_INT(0, store_user_get(w.st, 1, id, &got));
    ASSERT_EQ_INT(ROLE_MANAGER, got.role);
    ASSERT_EQ_INT(2, got.n_properties);

    patch = (store_user_patch_t){.set_properties = 1, .all_properties = 1};
    ASSERT_EQ_INT(0, store_user_update(w.st, 1, id, &patch, &got));
    ASSERT_EQ_INT(1, got.all_properties);
    ASSERT_EQ_INT(0, got.n_properties);

    patch = (store_user_patch_t){.name = "Mine"};
    ASSERT_EQ_INT(BH_ENOTFOUND, store_user_update(w.st, 1, other, &patch, &got));
    patch = (store_user_patch_t){.set_role = 1, .role = ROLE__COUNT};
    ASSERT_EQ_INT(BH_EINVAL, store_user_update(w.st, 1, id, &patch, &got));
    store_user_dispose(&got);
    world_close(&w);
}

TEST(user_list_scope_role_and_paging)
{
    world_t w;
    store_user_t *list = NULL;
    size_t n = 0;
    int64_t owner, at0, at1, at01, elsewhere;
    ASSERT_EQ_INT(0, world_open(&w));
    int64_t p0[] = {w.p[0]}, p1[] = {w.p[1]}, p01[] = {w.p[0], w.p[1]};
    ASSERT_EQ_INT(0, make_user(w.st, 1, "owner@x.com", ROLE_OWNER, NULL, 0, &owner));
    ASSERT_EQ_INT(0, make_user(w.st, 1, "a@x.com", ROLE_STAFF, p0, 1, &at0));
    ASSERT_EQ_INT(0, make_user(w.st, 1, "b@x.com", ROLE_STAFF, p1, 1, &at1));
    ASSERT_EQ_INT(0, make_user(w.st, 1, "c@x.com", ROLE_MANAGER, p01, 2, &at01));
    ASSERT_EQ_INT(0, make_user(w.st, 2, "d@x.com", ROLE_OWNER, NULL, 0, &elsewhere));

    store_query_t q = query(1);
    ASSERT_EQ_INT(0, store_user_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(4, n);
    ASSERT_EQ_INT(at01, list[0].id);
    ASSERT_EQ_INT(2, list[0].n_properties);
    ASSERT_EQ_INT(w.p[1], list[0].property_ids[1]);
    ASSERT_EQ_INT(owner, list[3].id);
    ASSERT_EQ_INT(1, list[3].all_properties);
    ASSERT_EQ_STR("owner@x.com", list[3].email);
    store_user_list_free(list, n);

    /* A caller who reaches only p[1] sees the users who may see p[1]. */
    q.all_properties = 0;
    q.scope = p1;
    q.n_scope = 1;
    ASSERT_EQ_INT(0, store_user_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(3, n);
    ASSERT_EQ_INT(at01, list[0].id);
    ASSERT_EQ_INT(at1, list[1].id);
    ASSERT_EQ_INT(owner, list[2].id);
    store_user_list_free(list, n);

    q = query(1);
    q.property_id = w.p[0];
    q.status = "staff";
    ASSERT_EQ_INT(0, store_user_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_INT(at0, list[0].id);
    store_user_list_free(list, n);

    q = query(1);
    q.limit = 2;
    q.before_id = at1;
    ASSERT_EQ_INT(0, store_user_list(w.st, &q, &list, &n));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_INT(at0, list[0].id);
    ASSERT_EQ_INT(owner, list[1].id);
    store_user_list_free(list, n);

    q.status = "emperor";
    ASSERT_EQ_INT(BH_EINVAL, store_user_list(w.st, &q, &list, &n));
    store_user_list_free(NULL, 0);
    world_close(&w);
}

TEST_MAIN(TEST_ENTRY(revenue_create_and_list), TEST_ENTRY(lists_page_with_before_id),
          TEST_ENTRY(expense_create_decide_and_conflict), TEST_ENTRY(guest_checkin_checkout),
          TEST_ENTRY(task_create_assign_status), TEST_ENTRY(property_update_is_partial),
          TEST_ENTRY(user_update_and_rollback), TEST_ENTRY(user_list_scope_role_and_paging))
