/* Tests for the store front end and its SQLite backend, against real database files in a fresh
 * temporary directory per test. */
#include "test.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store/migration.h"
#include "store/store.h"

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* More pool threads than the store has connections (8), so the concurrent test also exercises
 * the wait for a checked-in connection. libuv reads this once, at its first uv_queue_work. */
__attribute__((constructor)) static void widen_threadpool(void)
{
    setenv("UV_THREADPOOL_SIZE", "16", 1);
}

/* ---------------------------------------------------------------------------------------------
 * Fixtures */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory with a migrated store in it. Returns 0 or an error code. */
static int fixture_open(char dir[64], store_t **st)
{
    snprintf(dir, 64, "/tmp/bellhop-store-XXXXXX");
    if (mkdtemp(dir) == NULL) return -1;
    int rc = store_open(NULL, dir, st);
    if (rc != 0) return rc;
    return store_migrate(*st, NULL, NULL);
}

static void fixture_close(char dir[64], store_t *st)
{
    store_close(st);
    rm_rf(dir);
}

static int last_version(void)
{
    int v = 0;
    for (const migration_t *m = migrations_sqlite; m->name != NULL; m++)
        v = m->version;
    return v;
}

static int migration_count(void)
{
    int n = 0;
    for (const migration_t *m = migrations_sqlite; m->name != NULL; m++)
        n++;
    return n;
}

/* Runs one SQL statement straight against the database file, bypassing the store. */
static int raw_exec(const char *dir, const char *sql)
{
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/bellhop.db", dir);
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(db, 5000);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static int make_property(store_t *st, int64_t org_id, const char *name, int64_t *id)
{
    store_property_t p = {.org_id = org_id};
    snprintf(p.name, sizeof p.name, "%s", name);
    snprintf(p.city, sizeof p.city, "Lisbon");
    snprintf(p.timezone, sizeof p.timezone, "Europe/Lisbon");
    int rc = store_property_create(st, &p);
    *id = p.id;
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Migrations */

TEST(migrate_applies_all_then_none)
{
    char dir[64] = "/tmp/bellhop-store-XXXXXX";
    store_t *st = NULL;
    int applied = -1, version = -1;
    ASSERT(mkdtemp(dir) != NULL);
    ASSERT_EQ_INT(0, store_open(NULL, dir, &st));
    ASSERT_EQ_STR("sqlite", store_backend(st));
    ASSERT_EQ_INT(0, store_ping(st));
    ASSERT(migration_count() >= 1);
    ASSERT_EQ_INT(0, store_migrate(st, &applied, &version));
    ASSERT_EQ_INT(migration_count(), applied);
    ASSERT_EQ_INT(last_version(), version);
    ASSERT_EQ_INT(0, store_migrate(st, &applied, &version));
    ASSERT_EQ_INT(0, applied);
    ASSERT_EQ_INT(last_version(), version);
    fixture_close(dir, st);
}

TEST(schema_table_rows)
{
    char dir[64], path[128];
    store_t *st = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    snprintf(path, sizeof path, "%s/bellhop.db", dir);
    ASSERT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    ASSERT_EQ_INT(SQLITE_OK,
                  sqlite3_prepare_v2(db,
                                     "SELECT version, name, applied_at FROM schema_migrations "
                                     "ORDER BY version",
                                     -1, &q, NULL));
    int64_t now = clock_unix_ms();
    const migration_t *m = migrations_sqlite;
    for (; m->name != NULL; m++) {
        ASSERT_EQ_INT(SQLITE_ROW, sqlite3_step(q));
        ASSERT_EQ_INT(m->version, sqlite3_column_int(q, 0));
        ASSERT_EQ_STR(m->name, (const char *)sqlite3_column_text(q, 1));
        int64_t at = sqlite3_column_int64(q, 2);
        ASSERT(at > now - 60000 && at <= now);
    }
    ASSERT_EQ_INT(SQLITE_DONE, sqlite3_step(q));
    sqlite3_finalize(q);
    /* The pragmas took: the file is in WAL mode. */
    ASSERT_EQ_INT(SQLITE_OK, sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL));
    ASSERT_EQ_INT(SQLITE_ROW, sqlite3_step(q));
    ASSERT_EQ_STR("wal", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    fixture_close(dir, st);
}

TEST(schema_newer_than_binary_is_refused)
{
    char dir[64], sql[160];
    store_t *st = NULL;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    snprintf(sql, sizeof sql,
             "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, 'future', 1)",
             last_version() + 1);
    ASSERT_EQ_INT(SQLITE_OK, raw_exec(dir, sql));
    int applied = -1;
    ASSERT_EQ_INT(BH_ESTORE, store_migrate(st, &applied, NULL));
    ASSERT_EQ_INT(0, applied);
    fixture_close(dir, st);
}

/* ---------------------------------------------------------------------------------------------
 * Organisations, properties, rooms */

TEST(org_create_explicit_and_auto_id)
{
    char dir[64];
    store_t *st = NULL;
    int64_t id = 0;
    store_org_t o;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, store_org_create(st, 1, "Demo Hotels", &id));
    ASSERT_EQ_INT(1, id);
    ASSERT_EQ_INT(0, store_org_create(st, 0, "Second", &id));
    ASSERT_EQ_INT(2, id);
    ASSERT_EQ_INT(BH_EEXIST, store_org_create(st, 1, "Again", NULL));
    ASSERT_EQ_INT(BH_EINVAL, store_org_create(st, 0, "", NULL));
    ASSERT_EQ_INT(0, store_org_get(st, 1, &o));
    ASSERT_EQ_INT(1, o.id);
    ASSERT_EQ_STR("Demo Hotels", o.name);
    ASSERT(o.created_at > clock_unix_ms() - 60000);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_org_get(st, 99, &o));
    fixture_close(dir, st);
}

TEST(property_create_get_list_scoped_by_org)
{
    char dir[64];
    store_t *st = NULL;
    int64_t a, b, other;
    store_property_t p, *list = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, store_org_create(st, 1, "One", NULL));
    ASSERT_EQ_INT(0, store_org_create(st, 2, "Two", NULL));
    ASSERT_EQ_INT(0, make_property(st, 1, "Seaside", &a));
    ASSERT_EQ_INT(0, make_property(st, 2, "Elsewhere", &other));
    ASSERT_EQ_INT(0, make_property(st, 1, "Hillside", &b));
    ASSERT(a > 0 && b > a && other > 0);

    ASSERT_EQ_INT(0, store_property_get(st, 1, a, &p));
    ASSERT_EQ_INT(a, p.id);
    ASSERT_EQ_INT(1, p.org_id);
    ASSERT_EQ_STR("Seaside", p.name);
    ASSERT_EQ_STR("Lisbon", p.city);
    ASSERT_EQ_STR("Europe/Lisbon", p.timezone);
    ASSERT_EQ_STR("", p.address);
    ASSERT(p.created_at > 0 && p.updated_at == p.created_at);
    /* Another organisation's property is indistinguishable from a missing one. */
    ASSERT_EQ_INT(BH_ENOTFOUND, store_property_get(st, 1, other, &p));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_property_get(st, 1, 12345, &p));

    ASSERT_EQ_INT(0, store_property_list(st, 1, &list, &n));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_INT(a, list[0].id);
    ASSERT_EQ_INT(b, list[1].id);
    ASSERT_EQ_STR("Hillside", list[1].name);
    free(list);
    ASSERT_EQ_INT(0, store_property_list(st, 3, &list, &n));
    ASSERT_EQ_INT(0, n);
    free(list);

    /* No such organisation: the foreign key says so. */
    ASSERT_EQ_INT(BH_ENOTFOUND, make_property(st, 77, "Nowhere", &a));
    fixture_close(dir, st);
}

TEST(room_create_list_and_duplicates)
{
    char dir[64];
    store_t *st = NULL;
    int64_t p1, p2, other;
    store_room_t r, *list = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, store_org_create(st, 1, "One", NULL));
    ASSERT_EQ_INT(0, store_org_create(st, 2, "Two", NULL));
    ASSERT_EQ_INT(0, make_property(st, 1, "A", &p1));
    ASSERT_EQ_INT(0, make_property(st, 1, "B", &p2));
    ASSERT_EQ_INT(0, make_property(st, 2, "C", &other));

    r = (store_room_t){
        .org_id = 1, .property_id = p1, .number = "101", .type = "double", .floor = 1};
    ASSERT_EQ_INT(0, store_room_create(st, &r));
    ASSERT(r.id > 0);
    ASSERT_EQ_STR("available", r.status);
    r = (store_room_t){.org_id = 1,
                       .property_id = p1,
                       .number = "102",
                       .type = "suite",
                       .status = "cleaning",
                       .floor = 1};
    ASSERT_EQ_INT(0, store_room_create(st, &r));
    r.id = 0;
    ASSERT_EQ_INT(BH_EEXIST, store_room_create(st, &r));
    /* The same number in another property is a different room. */
    r.property_id = p2;
    ASSERT_EQ_INT(0, store_room_create(st, &r));
    /* A property of another organisation is not found, and nothing is inserted. */
    r.property_id = other;
    ASSERT_EQ_INT(BH_ENOTFOUND, store_room_create(st, &r));
    r.property_id = p1;
    snprintf(r.number, sizeof r.number, "103");
    snprintf(r.status, sizeof r.status, "flooded");
    ASSERT_EQ_INT(BH_EINVAL, store_room_create(st, &r));

    ASSERT_EQ_INT(0, store_room_list(st, 1, p1, &list, &n));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_STR("101", list[0].number);
    ASSERT_EQ_STR("double", list[0].type);
    ASSERT_EQ_STR("available", list[0].status);
    ASSERT_EQ_INT(1, list[0].floor);
    ASSERT_EQ_STR("102", list[1].number);
    ASSERT_EQ_STR("cleaning", list[1].status);
    ASSERT_EQ_INT(p1, list[1].property_id);
    ASSERT_EQ_INT(1, list[1].org_id);
    free(list);

    ASSERT_EQ_INT(BH_ENOTFOUND, store_room_list(st, 1, other, &list, &n));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_room_list(st, 1, 999, &list, &n));
    ASSERT_EQ_INT(0, store_room_list(st, 2, other, &list, &n));
    ASSERT_EQ_INT(0, n);
    free(list);
    fixture_close(dir, st);
}

/* ---------------------------------------------------------------------------------------------
 * Users */

TEST(user_create_get_by_email)
{
    char dir[64];
    store_t *st = NULL;
    int64_t p1, p2, other;
    store_user_t u, got;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, store_org_create(st, 1, "One", NULL));
    ASSERT_EQ_INT(0, store_org_create(st, 2, "Two", NULL));
    ASSERT_EQ_INT(0, make_property(st, 1, "A", &p1));
    ASSERT_EQ_INT(0, make_property(st, 1, "B", &p2));
    ASSERT_EQ_INT(0, make_property(st, 2, "C", &other));

    /* Listed out of order and with a repeat: stored once each, read back sorted. */
    int64_t ids[] = {p2, p1, p2};
    store_user_init(&u);
    u.org_id = 1;
    snprintf(u.email, sizeof u.email, "Alice@Example.COM");
    snprintf(u.name, sizeof u.name, "Alice");
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$v=19$fake");
    u.role = ROLE_FRONT_DESK;
    u.property_ids = ids;
    u.n_properties = 3;
    ASSERT_EQ_INT(0, store_user_create(st, &u));
    ASSERT(u.id > 0);
    ASSERT_EQ_STR("alice@example.com", u.email);

    store_user_init(&got);
    ASSERT_EQ_INT(0, store_user_get(st, 1, u.id, &got));
    ASSERT_EQ_INT(u.id, got.id);
    ASSERT_EQ_INT(1, got.org_id);
    ASSERT_EQ_STR("alice@example.com", got.email);
    ASSERT_EQ_STR("Alice", got.name);
    ASSERT_EQ_STR("$argon2id$v=19$fake", got.password_hash);
    ASSERT_EQ_INT(ROLE_FRONT_DESK, got.role);
    ASSERT_EQ_INT(0, got.all_properties);
    ASSERT_EQ_INT(2, got.n_properties);
    ASSERT_EQ_INT(p1, got.property_ids[0]);
    ASSERT_EQ_INT(p2, got.property_ids[1]);
    ASSERT(got.created_at > 0 && got.updated_at == got.created_at);
    /* Reusing got without disposing it must not leak: get disposes first. */
    ASSERT_EQ_INT(0, store_user_by_email(st, "ALICE@example.com", &got));
    ASSERT_EQ_INT(u.id, got.id);
    ASSERT_EQ_INT(2, got.n_properties);
    /* The key may alias out's own email. */
    ASSERT_EQ_INT(0, store_user_by_email(st, got.email, &got));
    ASSERT_EQ_INT(u.id, got.id);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_user_get(st, 2, u.id, &got));
    ASSERT_EQ_INT(0, got.n_properties);
    ASSERT(got.property_ids == NULL);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_user_by_email(st, "bob@example.com", &got));

    /* Same email, different case: taken. */
    snprintf(u.email, sizeof u.email, "ALICE@EXAMPLE.com");
    ASSERT_EQ_INT(BH_EEXIST, store_user_create(st, &u));

    /* A property of another organisation: rejected, and the whole user rolled back. */
    ids[0] = other;
    snprintf(u.email, sizeof u.email, "carol@example.com");
    ASSERT_EQ_INT(BH_EINVAL, store_user_create(st, &u));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_user_by_email(st, "carol@example.com", &got));

    /* all_properties: any list given is ignored, none is read back. */
    snprintf(u.email, sizeof u.email, "owner@example.com");
    u.all_properties = 1;
    u.role = ROLE_OWNER;
    ASSERT_EQ_INT(0, store_user_create(st, &u));
    ASSERT_EQ_INT(0, store_user_by_email(st, "owner@example.com", &got));
    ASSERT_EQ_INT(1, got.all_properties);
    ASSERT_EQ_INT(0, got.n_properties);
    ASSERT_EQ_INT(ROLE_OWNER, got.role);

    /* A user left at its init'ed role fails closed. */
    store_user_t blank;
    store_user_init(&blank);
    blank.org_id = 1;
    snprintf(blank.email, sizeof blank.email, "blank@example.com");
    ASSERT_EQ_INT(BH_EINVAL, store_user_create(st, &blank));
    blank.org_id = 42;
    blank.role = ROLE_STAFF;
    ASSERT_EQ_INT(BH_ENOTFOUND, store_user_create(st, &blank));

    store_user_dispose(&got);
    fixture_close(dir, st);
}

TEST(every_role_roundtrips_through_the_schema)
{
    char dir[64];
    store_t *st = NULL;
    store_user_t u, got;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, store_org_create(st, 1, "One", NULL));
    store_user_init(&got);
    for (int r = 0; r < ROLE__COUNT; r++) {
        store_user_init(&u);
        u.org_id = 1;
        u.all_properties = 1;
        u.role = (auth_role_t)r;
        snprintf(u.email, sizeof u.email, "%s@example.com", auth_role_name(u.role));
        ASSERT_EQ_INT(0, store_user_create(st, &u));
        ASSERT_EQ_INT(0, store_user_get(st, 1, u.id, &got));
        ASSERT_EQ_INT(r, got.role);
    }
    store_user_dispose(&got);
    fixture_close(dir, st);
}

TEST(too_long_text_is_einval)
{
    char dir[64], name[STORE_NAME_MAX + 1];
    store_t *st = NULL;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    memset(name, 'a', sizeof name);
    name[STORE_NAME_MAX] = '\0';
    ASSERT_EQ_INT(BH_EINVAL, store_org_create(st, 0, name, NULL));
    name[STORE_NAME_MAX - 1] = '\0'; /* exactly fits with its terminator */
    ASSERT_EQ_INT(0, store_org_create(st, 1, name, NULL));

    store_property_t p = {.org_id = 1};
    memset(p.name, 'b', sizeof p.name); /* no terminator inside the array */
    ASSERT_EQ_INT(BH_EINVAL, store_property_create(st, &p));
    snprintf(p.name, sizeof p.name, "ok");
    memset(p.timezone, 'c', sizeof p.timezone);
    ASSERT_EQ_INT(BH_EINVAL, store_property_create(st, &p));

    store_room_t r = {.org_id = 1, .property_id = 1};
    memset(r.number, '1', sizeof r.number);
    ASSERT_EQ_INT(BH_EINVAL, store_room_create(st, &r));

    store_user_t u;
    store_user_init(&u);
    u.org_id = 1;
    u.role = ROLE_STAFF;
    memset(u.email, 'd', sizeof u.email);
    ASSERT_EQ_INT(BH_EINVAL, store_user_create(st, &u));
    fixture_close(dir, st);
}

TEST(long_stored_text_is_truncated_on_read)
{
    char dir[64], sql[1024];
    store_t *st = NULL;
    store_org_t o;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    /* 126 ASCII bytes then 2-byte characters: byte 127, the last that fits, would split one. */
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO organisations (id, name, created_at) VALUES "
                     "(5, '");
    for (int i = 0; i < 126; i++)
        sql[n++] = 'x';
    for (int i = 0; i < 20; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, "\xc3\xa9");
    snprintf(sql + n, sizeof sql - (size_t)n, "', 1)");
    ASSERT_EQ_INT(SQLITE_OK, raw_exec(dir, sql));
    ASSERT_EQ_INT(0, store_org_get(st, 5, &o));
    ASSERT_EQ_INT(126, strlen(o.name));
    ASSERT(o.name[125] == 'x');
    fixture_close(dir, st);
}

/* ---------------------------------------------------------------------------------------------
 * store_submit and concurrency */

typedef struct submit_probe_s {
    pthread_t loop_thread, work_thread, done_thread;
    int ping_rc, status, done_calls;
} submit_probe_t;

static void probe_work(store_t *st, void *data)
{
    submit_probe_t *p = data;
    p->work_thread = pthread_self();
    p->ping_rc = store_ping(st);
}

static void probe_done(void *data, int status)
{
    submit_probe_t *p = data;
    p->done_thread = pthread_self();
    p->status = status;
    p->done_calls++;
}

TEST(submit_runs_work_on_pool_and_done_on_loop)
{
    char dir[64];
    store_t *st = NULL;
    uv_loop_t loop;
    submit_probe_t p = {.ping_rc = -1, .status = -1};
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, uv_loop_init(&loop));
    p.loop_thread = pthread_self();
    ASSERT_EQ_INT(UV_EINVAL, store_submit(st, &loop, NULL, probe_done, &p));
    ASSERT_EQ_INT(0, store_submit(st, &loop, probe_work, probe_done, &p));
    /* Never re-entrant: nothing has run before the loop does. */
    ASSERT_EQ_INT(0, p.done_calls);
    ASSERT_EQ_INT(0, uv_run(&loop, UV_RUN_DEFAULT));
    ASSERT_EQ_INT(1, p.done_calls);
    ASSERT_EQ_INT(0, p.status);
    ASSERT_EQ_INT(0, p.ping_rc);
    ASSERT(!pthread_equal(p.work_thread, p.loop_thread));
    ASSERT(pthread_equal(p.done_thread, p.loop_thread));
    ASSERT_EQ_INT(0, uv_loop_close(&loop));
    fixture_close(dir, st);
}

#define N_WRITERS 50

typedef struct writer_s {
    store_user_t user;
    int64_t property_id;
    int create_rc, get_rc, status;
    int64_t read_back_id;
} writer_t;

static void writer_work(store_t *st, void *data)
{
    writer_t *w = data;
    store_user_t got;
    w->create_rc = store_user_create(st, &w->user);
    store_user_init(&got);
    w->get_rc = store_user_by_email(st, w->user.email, &got);
    if (w->get_rc == 0 && got.n_properties == 1 && got.property_ids[0] == w->property_id)
        w->read_back_id = got.id;
    store_user_dispose(&got);
}

static void writer_done(void *data, int status)
{
    ((writer_t *)data)->status = status;
}

TEST(concurrent_writes_from_the_pool)
{
    char dir[64];
    store_t *st = NULL;
    uv_loop_t loop;
    int64_t prop;
    static writer_t w[N_WRITERS];
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, store_org_create(st, 1, "One", NULL));
    ASSERT_EQ_INT(0, make_property(st, 1, "A", &prop));
    ASSERT_EQ_INT(0, uv_loop_init(&loop));
    for (int i = 0; i < N_WRITERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        store_user_init(&w[i].user);
        w[i].user.org_id = 1;
        w[i].user.role = ROLE_STAFF;
        w[i].property_id = prop;
        w[i].user.property_ids = &w[i].property_id;
        w[i].user.n_properties = 1;
        w[i].status = w[i].create_rc = w[i].get_rc = -1;
        snprintf(w[i].user.email, sizeof w[i].user.email, "Worker%d@Example.com", i);
        ASSERT_EQ_INT(0, store_submit(st, &loop, writer_work, writer_done, &w[i]));
    }
    ASSERT_EQ_INT(0, uv_run(&loop, UV_RUN_DEFAULT));
    ASSERT_EQ_INT(0, uv_loop_close(&loop));
    for (int i = 0; i < N_WRITERS; i++) {
        ASSERT_EQ_INT(0, w[i].status);
        ASSERT_EQ_INT(0, w[i].create_rc);
        ASSERT_EQ_INT(0, w[i].get_rc);
        ASSERT_EQ_INT(w[i].user.id, w[i].read_back_id);
        for (int j = 0; j < i; j++)
            ASSERT(w[i].user.id != w[j].user.id);
    }
    fixture_close(dir, st);
}

/* ---------------------------------------------------------------------------------------------
 * Opening */

TEST(reopen_keeps_data)
{
    char dir[64], url[128];
    store_t *st = NULL;
    int64_t prop;
    int applied = -1, version = -1;
    store_user_t u;
    ASSERT_EQ_INT(0, fixture_open(dir, &st));
    ASSERT_EQ_INT(0, store_org_create(st, 1, "One", NULL));
    ASSERT_EQ_INT(0, make_property(st, 1, "A", &prop));
    store_user_init(&u);
    u.org_id = 1;
    u.role = ROLE_MANAGER;
    u.property_ids = &prop;
    u.n_properties = 1;
    snprintf(u.email, sizeof u.email, "m@example.com");
    ASSERT_EQ_INT(0, store_user_create(st, &u));
    store_close(st);

    snprintf(url, sizeof url, "sqlite:%s/bellhop.db", dir);
    ASSERT_EQ_INT(0, store_open(url, NULL, &st));
    ASSERT_EQ_INT(0, store_migrate(st, &applied, &version));
    ASSERT_EQ_INT(0, applied);
    ASSERT_EQ_INT(last_version(), version);
    store_property_t p;
    ASSERT_EQ_INT(0, store_property_get(st, 1, prop, &p));
    ASSERT_EQ_STR("A", p.name);
    store_user_init(&u);
    ASSERT_EQ_INT(0, store_user_by_email(st, "M@example.com", &u));
    ASSERT_EQ_INT(ROLE_MANAGER, u.role);
    ASSERT_EQ_INT(1, u.n_properties);
    ASSERT_EQ_INT(prop, u.property_ids[0]);
    store_user_dispose(&u);
    fixture_close(dir, st);
}

TEST(open_rejects_unbuilt_backends_and_bad_paths)
{
    store_t *st = (store_t *)1;
#ifdef BELLHOP_WITH_POSTGRES
    /* Built in: a server that cannot be reached fails at open (tests/unit/store/test_pg.c has
     * the rest). */
    log_level_t level = log_get_level();
    log_set_level(LOG_OFF);
    ASSERT_EQ_INT(BH_ESTORE, store_open("postgres://127.0.0.1:1/x?connect_timeout=2", "/tmp", &st));
    ASSERT(st == NULL);
    ASSERT_EQ_INT(BH_ESTORE, store_open("postgresql://u:secret@127.0.0.1:1/db", "/tmp", &st));
    log_set_level(level);
#else
    ASSERT_EQ_INT(BH_ECONFIG, store_open("postgres://x", "/tmp", &st));
    ASSERT(st == NULL);
    ASSERT_EQ_INT(BH_ECONFIG, store_open("postgresql://u:secret@h/db", "/tmp", &st));
#endif
    ASSERT_EQ_INT(BH_ECONFIG, store_open("mysql://x", "/tmp", &st));
    ASSERT_EQ_INT(BH_ECONFIG, store_open("sqlite::memory:", "/tmp", &st));
    ASSERT_EQ_INT(BH_ESTORE, store_open("sqlite:/nonexistent-bellhop-dir/x.db", NULL, &st));
    ASSERT(st == NULL);
}

TEST_MAIN(TEST_ENTRY(migrate_applies_all_then_none), TEST_ENTRY(schema_table_rows),
          TEST_ENTRY(schema_newer_than_binary_is_refused),
          TEST_ENTRY(org_create_explicit_and_auto_id),
          TEST_ENTRY(property_create_get_list_scoped_by_org),
          TEST_ENTRY(room_create_list_and_duplicates), TEST_ENTRY(user_create_get_by_email),
          TEST_ENTRY(every_role_roundtrips_through_the_schema), TEST_ENTRY(too_long_text_is_einval),
          TEST_ENTRY(long_stored_text_is_truncated_on_read),
          TEST_ENTRY(submit_runs_work_on_pool_and_done_on_loop),
          TEST_ENTRY(concurrent_writes_from_the_pool), TEST_ENTRY(reopen_keeps_data),
          TEST_ENTRY(open_rejects_unbuilt_backends_and_bad_paths))
