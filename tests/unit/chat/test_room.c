/* Room ids: parsing, canonical forms, direct-room ids. */
#include "test.h"

#include "chat/room.h"
#include "core/err.h"

#include <string.h>

static int parse(const char *s, chat_room_ref_t *r)
{
    return chat_room_parse(s, strlen(s), r);
}

TEST(parses_every_kind)
{
    chat_room_ref_t r;
    ASSERT_EQ_INT(0, parse("org", &r));
    ASSERT_EQ_INT(CHAT_ROOM_ORG, r.kind);
    ASSERT_EQ_STR("org", r.key);
    ASSERT_EQ_INT(0, parse("property-12", &r));
    ASSERT_EQ_INT(CHAT_ROOM_PROPERTY, r.kind);
    ASSERT_EQ_INT(12, r.a);
    ASSERT_EQ_STR("property-12", r.key);
    ASSERT_EQ_INT(0, parse("task-7", &r));
    ASSERT_EQ_INT(CHAT_ROOM_TASK, r.kind);
    ASSERT_EQ_INT(7, r.a);
    ASSERT_EQ_INT(0, parse("dm-3-9", &r));
    ASSERT_EQ_INT(CHAT_ROOM_DM, r.kind);
    ASSERT_EQ_INT(3, r.a);
    ASSERT_EQ_INT(9, r.b);
    ASSERT_EQ_STR("dm-3-9", r.key);
    ASSERT_EQ_INT(0, parse("property-9223372036854775807", &r));
    ASSERT_EQ_INT(INT64_MAX, r.a);
}

TEST(dm_ids_are_canonical_in_either_order)
{
    chat_room_ref_t r, s;
    ASSERT_EQ_INT(0, parse("dm-9-3", &r));
    ASSERT_EQ_STR("dm-3-9", r.key);
    ASSERT_EQ_INT(3, r.a);
    ASSERT_EQ_INT(9, r.b);
    ASSERT_EQ_INT(0, chat_room_dm(9, 3, &s));
    ASSERT_EQ_STR(r.key, s.key);
    ASSERT_EQ_INT(0, chat_room_dm(3, 9, &s));
    ASSERT_EQ_STR("dm-3-9", s.key);
    ASSERT_EQ_INT(9, chat_room_dm_peer(&r, 3));
    ASSERT_EQ_INT(3, chat_room_dm_peer(&r, 9));
    ASSERT_EQ_INT(0, chat_room_dm_peer(&r, 4));
    ASSERT_EQ_INT(BH_EINVAL, chat_room_dm(5, 5, &s));
    ASSERT_EQ_INT(BH_EINVAL, chat_room_dm(0, 5, &s));
    ASSERT_EQ_INT(BH_EINVAL, chat_room_dm(-1, 5, &s));
    chat_room_ref_t p;
    ASSERT_EQ_INT(0, parse("property-3", &p));
    ASSERT_EQ_INT(0, chat_room_dm_peer(&p, 3)); /* not a dm: no peer */
}

TEST(refuses_malformed_ids)
{
    static const char *const bad[] = {
        "",
        "org ",
        "ORG",
        "orgs",
        "property",
        "property-",
        "property-0",
        "property-01",
        "property--1",
        "property-+1",
        "property-1x",
        "property-1 ",
        " property-1",
        "task-",
        "task-0",
        "dm-1",
        "dm-1-",
        "dm--1-2",
        "dm-1-1",
        "dm-0-2",
        "dm-1-2-3",
        "dm-01-2",
        "property-9223372036854775808",
        "property-99999999999999999999",
        "room-1",
        "dm-a-b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chat_room_ref_t r;
        memset(&r, 0x55, sizeof r);
        if (parse(bad[i], &r) != BH_EINVAL) TEST_FAIL_("accepted \"%s\"", bad[i]);
        ASSERT_EQ_STR("", r.key); /* zeroed on failure */
    }
}

TEST(length_is_respected)
{
    /* A valid prefix of a longer buffer parses as what the length says. */
    chat_room_ref_t r;
    ASSERT_EQ_INT(0, chat_room_parse("property-12345", 10, &r));
    ASSERT_EQ_STR("property-1", r.key);
    ASSERT_EQ_INT(BH_EINVAL, chat_room_parse("org", 2, &r));
    /* An embedded NUL is not the end of the id. */
    ASSERT_EQ_INT(BH_EINVAL, chat_room_parse("org\0x", 5, &r));
}

TEST(kind_names)
{
    ASSERT_EQ_STR("org", chat_room_kind_name(CHAT_ROOM_ORG));
    ASSERT_EQ_STR("property", chat_room_kind_name(CHAT_ROOM_PROPERTY));
    ASSERT_EQ_STR("task", chat_room_kind_name(CHAT_ROOM_TASK));
    ASSERT_EQ_STR("dm", chat_room_kind_name(CHAT_ROOM_DM));
    ASSERT_EQ_STR("invalid", chat_room_kind_name((chat_room_kind_t)9));
}

TEST_MAIN(TEST_ENTRY(parses_every_kind), TEST_ENTRY(dm_ids_are_canonical_in_either_order),
          TEST_ENTRY(refuses_malformed_ids), TEST_ENTRY(length_is_respected),
          TEST_ENTRY(kind_names))
