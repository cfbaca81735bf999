/* room.c: parsing and canonical forms of chat room ids. */
#include "chat/room.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

/* A positive int64 in decimal, no sign, no leading zero. Returns the digits consumed, 0 if none
 * or invalid. */
static size_t parse_id(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || s[0] < '1' || s[0] > '9') return 0;
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > (uint64_t)INT64_MAX) return 0; /* also stops before v * 10 can wrap */
    }
    *out = (int64_t)v;
    return i;
}

static int has_prefix(const char *s, size_t len, const char *p, size_t *pl)
{
    *pl = strlen(p);
    return len > *pl && memcmp(s, p, *pl) == 0;
}

int chat_room_parse(const char *s, size_t len, chat_room_ref_t *out)
{
    memset(out, 0, sizeof *out);
    size_t pl, n;
    int64_t a = 0, b = 0;
    if (len == 3 && memcmp(s, "org", 3) == 0) {
        out->kind = CHAT_ROOM_ORG;
        snprintf(out->key, sizeof out->key, "org");
        return 0;
    }
    if (has_prefix(s, len, "property-", &pl)) {
        if ((n = parse_id(s + pl, len - pl, &a)) == 0 || pl + n != len) goto bad;
        out->kind = CHAT_ROOM_PROPERTY;
        out->a = a;
        snprintf(out->key, sizeof out->key, "property-%lld", (long long)a);
        return 0;
    }
    if (has_prefix(s, len, "task-", &pl)) {
        if ((n = parse_id(s + pl, len - pl, &a)) == 0 || pl + n != len) goto bad;
        out->kind = CHAT_ROOM_TASK;
        out->a = a;
        snprintf(out->key, sizeof out->key, "task-%lld", (long long)a);
        return 0;
    }
    if (has_prefix(s, len, "dm-", &pl)) {
        if ((n = parse_id(s + pl, len - pl, &a)) == 0) goto bad;
        pl += n;
        if (pl >= len || s[pl] != '-') goto bad;
        pl++;
        if ((n = parse_id(s + pl, len - pl, &b)) == 0 || pl + n != len) goto bad;
        if (chat_room_dm(a, b, out) != 0) goto bad;
        return 0;
    }
bad:
    memset(out, 0, sizeof *out);
    return BH_EINVAL;
}

int chat_room_dm(int64_t u1, int64_t u2, chat_room_ref_t *out)
{
    memset(out, 0, sizeof *out);
    if (u1 <= 0 || u2 <= 0 || u1 == u2) return BH_EINVAL;
    out->kind = CHAT_ROOM_DM;
    out->a = u1 < u2 ? u1 : u2;
    out->b = u1 < u2 ? u2 : u1;
    snprintf(out->key, sizeof out->key, "dm-%lld-%lld", (long long)out->a, (long long)out->b);
    return 0;
}

const char *chat_room_kind_name(chat_room_kind_t kind)
{
    switch (kind) {
    case CHAT_ROOM_ORG:
        return "org";
    case CHAT_ROOM_PROPERTY:
        return "property";
    case CHAT_ROOM_TASK:
        return "task";
    case CHAT_ROOM_DM:
        return "dm";
    }
    return "invalid";
}

int64_t chat_room_dm_peer(const chat_room_ref_t *r, int64_t user)
{
    if (r->kind != CHAT_ROOM_DM) return 0;
    if (user == r->a) return r->b;
    if (user == r->b) return r->a;
    return 0;
}
