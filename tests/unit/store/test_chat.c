/* The chat store operations (store/chat.h) on the SQLite backend, each test in a fresh
 * directory: rooms, members, messages and their idempotency key, edits, deletes, history pages,
 * forward-only read positions, unread counts and room lists. */
#include "test.h"

#include "core/err.h"
#include "core/log.h"
#include "store/chat.h"
#include "store/store.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

typedef struct fixture_s {
    char dir[64];
    store_t *st;
    int64_t prop1, prop2, task1, alice, bob;
} fixture_t;

/* Organisations 1 and 2; org 1 has two properties, a task on the first, and two users. */
static int fixture_open(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    log_set_level(LOG_WARN); /* no migration log lines in the TAP output */
    snprintf(f->dir, sizeof f->dir, "/tmp/bellhop-chat-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    int rc = store_open(NULL, f->dir, &f->st);
    if (rc == 0) rc = store_migrate(f->st, NULL, NULL);
    if (rc == 0) rc = store_org_create(f->st, 1, "One", NULL);
    if (rc == 0) rc = store_org_create(f->st, 2, "Two", NULL);
    store_property_t p;
    memset(&p, 0, sizeof p);
    p.org_id = 1;
    snprintf(p.name, sizeof p.name, "P1");
    if (rc == 0) rc = store_property_create(f->st, &p);
    f->prop1 = p.id;
    p.id = 0;
    if (rc == 0) rc = store_property_create(f->st, &p);
    f->prop2 = p.id;
    store_task_t t;
    memset(&t, 0, sizeof t);
    t.org_id = 1;
    t.property_id = f->prop2;
    snprintf(t.title, sizeof t.title, "Fix the lift");
    if (rc == 0) rc = store_task_create(f->st, &t);
    f->task1 = t.id;
    const char *emails[] = {"alice@x.test", "bob@x.test"};
    for (int i = 0; i < 2 && rc == 0; i++) {
        store_user_t u;
        store_user_init(&u);
        u.org_id = 1;
        u.role = ROLE_STAFF;
        u.all_properties = 1;
        snprintf(u.email, sizeof u.email, "%s", emails[i]);
        snprintf(u.name, sizeof u.name, "%s", i ? "Bob" : "Alice");
        rc = store_user_create(f->st, &u);
        if (i == 0)
            f->alice = u.id;
        else
            f->bob = u.id;
        store_user_dispose(&u);
    }
    return rc;
}

static void fixture_close(fixture_t *f)
{
    store_close(f->st);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int64_t room(store_chat_tx_t *tx, int64_t org, store_chat_kind_t kind, const char *key,
                    int64_t prop)
{
    store_chat_room_t r;
    memset(&r, 0, sizeof r);
    r.org_id = org;
    r.kind = kind;
    snprintf(r.key, sizeof r.key, "%s", key);
    r.property_id = prop;
    return store_chat_room_ensure(tx, &r) == 0 ? r.id : -1;
}

static int64_t say(store_chat_tx_t *tx, int64_t room_id, int64_t user, const char *cid,
                   const char *text)
{
    store_chat_msg_t m;
    store_chat_msg_init(&m);
    m.room_id = room_id;
    m.user_id = user;
    snprintf(m.user_name, sizeof m.user_name, "u%lld", (long long)user);
    snprintf(m.client_msg_id, sizeof m.client_msg_id, "%s", cid);
    m.text = (char *)text;
    int rc = store_chat_msg_insert(tx, &m);
    return rc == 0 ? m.id : rc;
}

TEST(targets_exist_only_in_their_organisation)
{
    fixture_t f;
    ASSERT_EQ_INT(0, fixture_open(&f));
    store_chat_tx_t *tx;
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 0, &tx));
    int64_t pid = -1;
    ASSERT_EQ_INT(0, store_chat_target(tx, 1, STORE_CHAT_ORG, 0, &pid));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_target(tx, 3, STORE_CHAT_ORG, 0, &pid));
    ASSERT_EQ_INT(0, store_chat_target(tx, 1, STORE_CHAT_PROPERTY, f.prop1, &pid));
    ASSERT_EQ_INT(f.prop1, pid);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_target(tx, 2, STORE_CHAT_PROPERTY, f.prop1, &pid));
    ASSERT_EQ_INT(0, store_chat_target(tx, 1, STORE_CHAT_TASK, f.task1, &pid));
    ASSERT_EQ_INT(f.prop2, pid); /* the task's property */
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_target(tx, 2, STORE_CHAT_TASK, f.task1, &pid));
    ASSERT_EQ_INT(0, store_chat_target(tx, 1, STORE_CHAT_DM, f.bob, NULL));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_target(tx, 2, STORE_CHAT_DM, f.bob, NULL));
    ASSERT_EQ_INT(BH_EINVAL, store_chat_target(tx, 1, STORE_CHAT_PROPERTY, 0, NULL));
    store_chat_rollback(tx);
    fixture_close(&f);
}

TEST(rooms_are_created_once_per_organisation)
{
    fixture_t f;
    ASSERT_EQ_INT(0, fixture_open(&f));
    store_chat_tx_t *tx;
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 1, &tx));
    int64_t a = room(tx, 1, STORE_CHAT_ORG, "org", 0);
    ASSERT(a > 0);
    ASSERT_EQ_INT(a, room(tx, 1, STORE_CHAT_ORG, "org", 0));
    int64_t b = room(tx, 2, STORE_CHAT_ORG, "org", 0);
    ASSERT(b > 0 && b != a);
    /* A missing organisation is a missing reference. */
    store_chat_room_t r;
    memset(&r, 0, sizeof r);
    r.org_id = 99;
    snprintf(r.key, sizeof r.key, "org");
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_room_ensure(tx, &r));
    int64_t p = room(tx, 1, STORE_CHAT_PROPERTY, "property-1", f.prop1);
    ASSERT_EQ_INT(0, store_chat_room_get(tx, 1, "property-1", &r));
    ASSERT_EQ_INT(p, r.id);
    ASSERT_EQ_INT(STORE_CHAT_PROPERTY, r.kind);
    ASSERT_EQ_INT(f.prop1, r.property_id);
    ASSERT_EQ_INT(0, r.task_id);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_room_get(tx, 2, "property-1", &r));
    ASSERT_EQ_INT(0, store_chat_commit(tx));
    fixture_close(&f);
}

TEST(messages_are_unique_per_client_id_and_page_backwards)
{
    fixture_t f;
    ASSERT_EQ_INT(0, fixture_open(&f));
    store_chat_tx_t *tx;
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 1, &tx));
    int64_t r = room(tx, 1, STORE_CHAT_ORG, "org", 0);
    int64_t ids[10];
    for (int i = 0; i < 10; i++) {
        char cid[16], text[16];
        snprintf(cid, sizeof cid, "c%d", i);
        snprintf(text, sizeof text, "m%d", i);
        ids[i] = say(tx, r, i % 2 ? f.bob : f.alice, cid, text);
        ASSERT(ids[i] > 0);
        if (i) ASSERT(ids[i] > ids[i - 1]);
    }
    /* The same key from the same user in the same room is taken... */
    ASSERT_EQ_INT(BH_EEXIST, say(tx, r, f.alice, "c0", "again"));
    /* ...but not from another user. */
    ASSERT(say(tx, r, f.bob, "c0", "bob's c0") > 0);
    store_chat_msg_t m;
    store_chat_msg_init(&m);
    ASSERT_EQ_INT(0, store_chat_msg_by_client(tx, r, f.alice, "c0", &m));
    ASSERT_EQ_INT(ids[0], m.id);
    ASSERT_EQ_STR("m0", m.text);
    ASSERT_EQ_STR("u1", m.user_name);
    ASSERT(m.created_at > 0);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_msg_by_client(tx, r, f.alice, "nope", &m));
    store_chat_msg_dispose(&m);

    store_chat_msg_t *page;
    size_t n;
    ASSERT_EQ_INT(0, store_chat_history(tx, r, 0, 4, &page, &n));
    ASSERT_EQ_INT(4, n);
    ASSERT_EQ_STR("bob's c0", page[0].text); /* newest first */
    ASSERT_EQ_INT(ids[9], page[1].id);
    int64_t before = page[3].id;
    store_chat_msgs_free(page, n);
    ASSERT_EQ_INT(0, store_chat_history(tx, r, before, 100, &page, &n));
    ASSERT_EQ_INT(7, n);
    ASSERT_EQ_INT(ids[6], page[0].id);
    ASSERT_EQ_INT(ids[0], page[6].id);
    store_chat_msgs_free(page, n);
    ASSERT_EQ_INT(0, store_chat_history(tx, r, ids[0], 100, &page, &n));
    ASSERT_EQ_INT(0, n);
    ASSERT(page == NULL);
    ASSERT_EQ_INT(0, store_chat_commit(tx));
    fixture_close(&f);
}

TEST(edits_and_deletes)
{
    fixture_t f;
    ASSERT_EQ_INT(0, fixture_open(&f));
    store_chat_tx_t *tx;
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 1, &tx));
    int64_t r = room(tx, 1, STORE_CHAT_ORG, "org", 0);
    int64_t other = room(tx, 1, STORE_CHAT_PROPERTY, "property-1", f.prop1);
    int64_t id = say(tx, r, f.alice, "c1", "hello");
    store_chat_msg_t m;
    store_chat_msg_init(&m);
    ASSERT_EQ_INT(0, store_chat_msg_edit(tx, r, id, "hello!", 1234, &m));
    ASSERT_EQ_STR("hello!", m.text);
    ASSERT_EQ_INT(1234, m.edited_at);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_msg_edit(tx, other, id, "x", 1, &m));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_msg_get(tx, other, id, &m));
    ASSERT_EQ_INT(0, store_chat_msg_delete(tx, r, id, f.bob, 2000, &m));
    ASSERT_EQ_STR("", m.text);
    ASSERT_EQ_INT(2000, m.deleted_at);
    ASSERT_EQ_INT(f.bob, m.deleted_by);
    /* Deleting again changes nothing; editing a deleted message finds nothing. */
    ASSERT_EQ_INT(0, store_chat_msg_delete(tx, r, id, f.alice, 3000, &m));
    ASSERT_EQ_INT(2000, m.deleted_at);
    ASSERT_EQ_INT(f.bob, m.deleted_by);
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_msg_edit(tx, r, id, "back", 4000, &m));
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_msg_delete(tx, r, id + 100, f.bob, 1, &m));
    store_chat_msg_dispose(&m);
    ASSERT_EQ_INT(0, store_chat_commit(tx));
    fixture_close(&f);
}

TEST(read_positions_move_forwards_only)
{
    fixture_t f;
    ASSERT_EQ_INT(0, fixture_open(&f));
    store_chat_tx_t *tx;
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 1, &tx));
    int64_t r = room(tx, 1, STORE_CHAT_ORG, "org", 0);
    ASSERT_EQ_INT(0, store_chat_member_ensure(tx, r, f.alice, 1));
    ASSERT_EQ_INT(0, store_chat_member_ensure(tx, r, f.alice, 2)); /* once */
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        char cid[8];
        snprintf(cid, sizeof cid, "c%d", i);
        ids[i] = say(tx, r, i == 3 ? f.alice : f.bob, cid, "x");
    }
    int64_t unread = -1, pos = -1;
    int moved = -1;
    ASSERT_EQ_INT(0, store_chat_unread(tx, r, f.alice, &unread, &pos));
    ASSERT_EQ_INT(3, unread); /* her own message is not unread */
    ASSERT_EQ_INT(0, pos);
    ASSERT_EQ_INT(0, store_chat_read_set(tx, r, f.alice, ids[1], 10, &pos, &moved));
    ASSERT_EQ_INT(1, moved);
    ASSERT_EQ_INT(ids[1], pos);
    ASSERT_EQ_INT(0, store_chat_read_set(tx, r, f.alice, ids[0], 11, &pos, &moved));
    ASSERT_EQ_INT(0, moved);
    ASSERT_EQ_INT(ids[1], pos);
    ASSERT_EQ_INT(0, store_chat_read_set(tx, r, f.alice, ids[1], 12, &pos, &moved));
    ASSERT_EQ_INT(0, moved);
    ASSERT_EQ_INT(0, store_chat_unread(tx, r, f.alice, &unread, &pos));
    ASSERT_EQ_INT(1, unread);
    ASSERT_EQ_INT(ids[1], pos);
    /* Deleted messages are not unread. */
    store_chat_msg_t m;
    store_chat_msg_init(&m);
    ASSERT_EQ_INT(0, store_chat_msg_delete(tx, r, ids[2], f.bob, 13, &m));
    store_chat_msg_dispose(&m);
    ASSERT_EQ_INT(0, store_chat_unread(tx, r, f.alice, &unread, NULL));
    ASSERT_EQ_INT(0, unread);
    /* A read by a non-member makes them one. */
    ASSERT_EQ_INT(0, store_chat_read_set(tx, r, f.bob, ids[3], 14, &pos, &moved));
    ASSERT_EQ_INT(1, moved);
    store_chat_member_t *mem;
    size_t n;
    ASSERT_EQ_INT(0, store_chat_members(tx, 1, r, 10, &mem, &n));
    ASSERT_EQ_INT(2, n);
    ASSERT_EQ_INT(f.alice, mem[0].user_id);
    ASSERT_EQ_STR("Alice", mem[0].name);
    ASSERT_EQ_INT(ids[1], mem[0].last_read_id);
    ASSERT_EQ_INT(f.bob, mem[1].user_id);
    ASSERT_EQ_INT(ids[3], mem[1].last_read_id);
    free(mem);
    ASSERT_EQ_INT(0, store_chat_commit(tx));

    /* Committed: a new read transaction sees the same. */
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 0, &tx));
    store_chat_room_t *rooms;
    ASSERT_EQ_INT(0, store_chat_rooms(tx, 1, f.alice, &rooms, &n));
    ASSERT_EQ_INT(1, n);
    ASSERT_EQ_STR("org", rooms[0].key);
    ASSERT_EQ_INT(ids[1], rooms[0].last_read_id);
    ASSERT_EQ_INT(ids[3], rooms[0].last_message_id);
    ASSERT_EQ_INT(0, rooms[0].unread);
    free(rooms);
    ASSERT_EQ_INT(0, store_chat_rooms(tx, 2, f.alice, &rooms, &n));
    ASSERT_EQ_INT(0, n);
    store_chat_rollback(tx);
    fixture_close(&f);
}

TEST(rollback_leaves_nothing)
{
    fixture_t f;
    ASSERT_EQ_INT(0, fixture_open(&f));
    store_chat_tx_t *tx;
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 1, &tx));
    int64_t r = room(tx, 1, STORE_CHAT_ORG, "org", 0);
    ASSERT(say(tx, r, f.alice, "c1", "x") > 0);
    store_chat_rollback(tx);
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 0, &tx));
    store_chat_room_t row;
    ASSERT_EQ_INT(BH_ENOTFOUND, store_chat_room_get(tx, 1, "org", &row));
    store_chat_rollback(tx);
    fixture_close(&f);
}

TEST(arguments_are_checked)
{
    fixture_t f;
    ASSERT_EQ_INT(0, fixture_open(&f));
    store_chat_tx_t *tx;
    ASSERT_EQ_INT(0, store_chat_begin(f.st, 1, &tx));
    int64_t r = room(tx, 1, STORE_CHAT_ORG, "org", 0);
    ASSERT_EQ_INT(BH_EINVAL, say(tx, r, f.alice, "", "x"));
    ASSERT_EQ_INT(BH_EINVAL, say(tx, r, f.alice, "c", ""));
    ASSERT_EQ_INT(BH_EINVAL, say(tx, 0, f.alice, "c", "x"));
    store_chat_msg_t *page;
    size_t n;
    ASSERT_EQ_INT(BH_EINVAL, store_chat_history(tx, r, 0, 0, &page, &n));
    ASSERT_EQ_INT(BH_EINVAL, store_chat_history(tx, r, 0, STORE_CHAT_PAGE_MAX + 1, &page, &n));
    int64_t pos;
    int moved;
    ASSERT_EQ_INT(BH_EINVAL, store_chat_read_set(tx, r, f.alice, 0, 1, &pos, &moved));
    store_chat_room_t row;
    ASSERT_EQ_INT(BH_EINVAL, store_chat_room_get(tx, 1, "", &row));
    store_chat_rollback(tx);
    fixture_close(&f);
}

TEST_MAIN(TEST_ENTRY(targets_exist_only_in_their_organisation),
          TEST_ENTRY(rooms_are_created_once_per_organisation),
          TEST_ENTRY(messages_are_unique_per_client_id_and_page_backwards),
          TEST_ENTRY(edits_and_deletes), TEST_ENTRY(read_positions_move_forwards_only),
          TEST_ENTRY(rollback_leaves_nothing), TEST_ENTRY(arguments_are_checked))
