/* The presence state machine of one user, and the process-wide table around it. */
#include "test.h"

#include "chat/presence.h"
#include "chat/users.h"
#include "core/err.h"

#include <stdio.h>
#include <string.h>

TEST(online_away_offline)
{
    chat_presence_t p;
    chat_presence_init(&p);
    ASSERT_EQ_INT(CHAT_OFFLINE, p.status);
    ASSERT_EQ_INT(1, chat_presence_connect(&p, 111));
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
    ASSERT_EQ_INT(111, p.last_active_ms);
    ASSERT_EQ_INT(1, chat_presence_set_away(&p, 1, 222));
    ASSERT_EQ_INT(CHAT_AWAY, p.status);
    ASSERT_EQ_INT(111, p.last_active_ms); /* going away is not activity */
    ASSERT_EQ_INT(1, chat_presence_set_away(&p, 0, 333));
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
    ASSERT_EQ_INT(333, p.last_active_ms);
    /* The last connection goes: the status holds through the grace period. */
    ASSERT_EQ_INT(0, chat_presence_disconnect(&p, 1, 1000, 500));
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
    ASSERT_EQ_INT(1500, p.offline_at);
    ASSERT_EQ_INT(0, chat_presence_tick(&p, 1499));
    ASSERT_EQ_INT(1, chat_presence_tick(&p, 1500));
    ASSERT_EQ_INT(CHAT_OFFLINE, p.status);
    ASSERT_EQ_INT(0, p.offline_at);
    ASSERT_EQ_INT(0, chat_presence_tick(&p, 9999));
}

TEST(online_while_any_connection_is_active)
{
    chat_presence_t p;
    chat_presence_init(&p);
    ASSERT_EQ_INT(1, chat_presence_connect(&p, 1));
    ASSERT_EQ_INT(0, chat_presence_connect(&p, 2));     /* a second tab: still online */
    ASSERT_EQ_INT(0, chat_presence_set_away(&p, 1, 3)); /* one tab away, one active */
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
    ASSERT_EQ_INT(1, chat_presence_set_away(&p, 1, 4)); /* both away */
    ASSERT_EQ_INT(CHAT_AWAY, p.status);
    /* A new tab is active: online again. */
    ASSERT_EQ_INT(1, chat_presence_connect(&p, 5));
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
    /* It closes: the other two are away. */
    ASSERT_EQ_INT(1, chat_presence_disconnect(&p, 1, 10, 1000));
    ASSERT_EQ_INT(CHAT_AWAY, p.status);
    ASSERT_EQ_INT(0, p.offline_at); /* connections remain: no grace period */
}

TEST(reconnect_within_grace_does_not_flicker)
{
    chat_presence_t p;
    chat_presence_init(&p);
    chat_presence_connect(&p, 1);
    ASSERT_EQ_INT(0, chat_presence_disconnect(&p, 1, 100, 1000));
    ASSERT_EQ_INT(0, chat_presence_connect(&p, 2)); /* the page reloaded */
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
    ASSERT_EQ_INT(0, p.offline_at);
    ASSERT_EQ_INT(0, chat_presence_tick(&p, 5000)); /* the old deadline means nothing now */
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
    /* An away user who reloads is online after it (a new connection is active). */
    ASSERT_EQ_INT(1, chat_presence_set_away(&p, 1, 3));
    ASSERT_EQ_INT(0, chat_presence_disconnect(&p, 0, 6000, 1000));
    ASSERT_EQ_INT(CHAT_AWAY, p.status);
    ASSERT_EQ_INT(1, chat_presence_connect(&p, 4));
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
}

TEST(zero_grace_is_offline_at_once)
{
    chat_presence_t p;
    chat_presence_init(&p);
    chat_presence_connect(&p, 1);
    ASSERT_EQ_INT(1, chat_presence_disconnect(&p, 1, 100, 0));
    ASSERT_EQ_INT(CHAT_OFFLINE, p.status);
    ASSERT_EQ_INT(0, p.offline_at);
}

TEST(later_disconnect_moves_the_deadline)
{
    chat_presence_t p;
    chat_presence_init(&p);
    chat_presence_connect(&p, 1);
    chat_presence_disconnect(&p, 1, 100, 1000);
    chat_presence_connect(&p, 2);
    chat_presence_disconnect(&p, 1, 900, 1000);
    ASSERT_EQ_INT(0, chat_presence_tick(&p, 1100)); /* the first deadline */
    ASSERT_EQ_INT(CHAT_ONLINE, p.status);
    ASSERT_EQ_INT(1, chat_presence_tick(&p, 1900));
    ASSERT_EQ_INT(CHAT_OFFLINE, p.status);
}

TEST(status_names)
{
    ASSERT_EQ_STR("online", chat_status_name(CHAT_ONLINE));
    ASSERT_EQ_STR("away", chat_status_name(CHAT_AWAY));
    ASSERT_EQ_STR("offline", chat_status_name(CHAT_OFFLINE));
}

/* ---- the table ----------------------------------------------------------------------------------
 */

typedef struct seen_s {
    int n;
    chat_status_t last;
    int64_t user;
    char rooms[8][CHAT_ROOM_KEY_MAX];
    size_t n_rooms;
    int n_joins;
    char joined[CHAT_ROOM_KEY_MAX];
} seen_t;

static void on_change(void *data, const chat_user_t *u, const char *room)
{
    seen_t *s = data;
    if (room) {
        s->n_joins++;
        snprintf(s->joined, sizeof s->joined, "%s", room);
        return;
    }
    s->n++;
    s->last = u->pres.status;
    s->user = u->user_id;
    s->n_rooms = u->n_rooms < 8 ? u->n_rooms : 8;
    for (size_t i = 0; i < s->n_rooms; i++)
        memcpy(s->rooms[i], u->rooms[i].key, CHAT_ROOM_KEY_MAX);
}

TEST(table_announces_changes_only)
{
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    chat_users_t *t = chat_users_new(on_change, &seen, 3);
    chat_user_t *u = chat_users_get(t, 1, 7);
    ASSERT(u == chat_users_get(t, 1, 7));
    ASSERT(u != chat_users_get(t, 2, 7)); /* another organisation's user 7 */
    chat_users_connect(t, u, "Asha", 10);
    ASSERT_EQ_INT(1, seen.n);
    ASSERT_EQ_INT(CHAT_ONLINE, seen.last);
    ASSERT_EQ_INT(7, seen.user);
    ASSERT_EQ_STR("Asha", u->name);
    chat_users_connect(t, u, "", 11); /* a second tab; an empty name keeps the old one */
    ASSERT_EQ_INT(1, seen.n);
    ASSERT_EQ_STR("Asha", u->name);
    chat_users_set_away(t, u, 1, 12);
    ASSERT_EQ_INT(1, seen.n);
    chat_users_set_away(t, u, 1, 13);
    ASSERT_EQ_INT(2, seen.n);
    ASSERT_EQ_INT(CHAT_AWAY, seen.last);
    ASSERT_EQ_INT(0, chat_users_disconnect(t, u, 0, 100, 50)); /* one tab left */
    ASSERT_EQ_INT(1, chat_users_disconnect(t, u, 0, 100, 50)); /* grace running */
    ASSERT_EQ_INT(2, seen.n);
    ASSERT_EQ_INT(1, chat_users_tick(t, u, 120));
    ASSERT_EQ_INT(0, chat_users_tick(t, u, 150));
    ASSERT_EQ_INT(3, seen.n);
    ASSERT_EQ_INT(CHAT_OFFLINE, seen.last);
    chat_status_t st[3];
    int64_t last[3];
    int64_t ids[3] = {7, 8, 7};
    chat_users_lookup(t, 1, ids, 3, st, last);
    ASSERT_EQ_INT(CHAT_OFFLINE, st[0]);
    ASSERT_EQ_INT(11, last[0]);
    ASSERT_EQ_INT(CHAT_OFFLINE, st[1]); /* never seen */
    ASSERT_EQ_INT(0, last[1]);
    chat_users_free(t);
}

TEST(table_rooms_reach_the_farewell)
{
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    chat_users_t *t = chat_users_new(on_change, &seen, 3);
    chat_user_t *u = chat_users_get(t, 1, 7);
    chat_users_connect(t, u, "Asha", 10);
    ASSERT_EQ_INT(1, chat_users_room_add(t, u, "property-1"));
    ASSERT_EQ_INT(1, chat_users_room_add(t, u, "org"));
    ASSERT_EQ_INT(1, chat_users_room_add(t, u, "dm-3-7"));
    ASSERT_EQ_INT(2, chat_users_room_add(t, u, "org"));
    ASSERT_EQ_INT(3, seen.n_joins); /* each room hears of the user once, not per connection */
    ASSERT_EQ_STR("dm-3-7", seen.joined);
    ASSERT_EQ_INT(1, seen.n);                   /* and that is not a status change */
    chat_users_room_del(t, u, "dm-3-7", 1);     /* an explicit leave: gone at once */
    chat_users_room_del(t, u, "property-1", 0); /* the connection closed */
    chat_users_room_del(t, u, "org", 0);
    chat_users_room_del(t, u, "org", 0);
    ASSERT_EQ_INT(0, chat_users_disconnect(t, u, 1, 0, 0));
    ASSERT_EQ_INT(2, seen.n);
    ASSERT_EQ_INT(CHAT_OFFLINE, seen.last);
    ASSERT_EQ_INT(2, seen.n_rooms); /* the rooms it was in still hear it go */
    ASSERT_EQ_STR("property-1", seen.rooms[0]);
    ASSERT_EQ_STR("org", seen.rooms[1]);
    ASSERT_EQ_INT(0, u->n_rooms); /* then they are forgotten */
    chat_users_free(t);
}

TEST(table_rate_is_per_user)
{
    chat_users_t *t = chat_users_new(NULL, NULL, 2);
    chat_user_t *a = chat_users_get(t, 1, 1), *b = chat_users_get(t, 1, 2);
    uint64_t retry;
    uint64_t now = a->bucket.last_ms;
    ASSERT_EQ_INT(0, chat_users_take(t, a, 1, 2, now, &retry));
    ASSERT_EQ_INT(0, chat_users_take(t, a, 1, 2, now, &retry));
    ASSERT_EQ_INT(BH_EAGAIN, chat_users_take(t, a, 1, 2, now, &retry));
    ASSERT_EQ_INT(0, chat_users_take(t, b, 1, 2, now, &retry));
    chat_users_free(t);
}

TEST(table_grows)
{
    chat_users_t *t = chat_users_new(NULL, NULL, 1);
    chat_user_t *first = chat_users_get(t, 1, 1);
    for (int64_t i = 2; i <= 5000; i++)
        chat_users_get(t, 1 + i % 3, i);
    ASSERT(first == chat_users_get(t, 1, 1));
    ASSERT(chat_users_get(t, 1 + 4999 % 3, 4999)->user_id == 4999);
    chat_users_free(t);
}

TEST_MAIN(TEST_ENTRY(online_away_offline), TEST_ENTRY(online_while_any_connection_is_active),
          TEST_ENTRY(reconnect_within_grace_does_not_flicker),
          TEST_ENTRY(zero_grace_is_offline_at_once),
          TEST_ENTRY(later_disconnect_moves_the_deadline), TEST_ENTRY(status_names),
          TEST_ENTRY(table_announces_changes_only), TEST_ENTRY(table_rooms_reach_the_farewell),
          TEST_ENTRY(table_rate_is_per_user), TEST_ENTRY(table_grows))
