/* room.h: chat room ids (sans-I/O).
 *
 * A room belongs to one organisation and is named, within it, by a canonical key:
 *
 *   "org"            everyone in the organisation
 *   "property-<id>"  the staff of one property (needs access to that property)
 *   "task-<id>"      the people on one task (needs access to the task's property)
 *   "dm-<a>-<b>"     a direct conversation between users a < b
 *
 * Keys never hold the organisation: the same key names a different room in every organisation,
 * so a key can only ever reach the caller's own organisation's room. */
#ifndef BH_CHAT_ROOM_H
#define BH_CHAT_ROOM_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CHAT_ROOM_ORG = 0,
    CHAT_ROOM_PROPERTY,
    CHAT_ROOM_TASK,
    CHAT_ROOM_DM,
} chat_room_kind_t;

/* "dm-" plus two 19-digit ids and a dash, and the NUL, fit with room to spare. */
#define CHAT_ROOM_KEY_MAX 48

typedef struct chat_room_ref_s {
    chat_room_kind_t kind;
    int64_t a; /* property id, task id, or the lower user id of a dm; 0 for "org" */
    int64_t b; /* the higher user id of a dm; else 0 */
    char key[CHAT_ROOM_KEY_MAX]; /* canonical key, NUL-terminated */
} chat_room_ref_t;

/* Parses s[0..len) into *out. Ids are positive decimal integers without sign or leading zeros;
 * a dm's two ids may come in either order (out->key is canonical, lower id first) but must
 * differ. Returns 0 or BH_EINVAL (out is then zeroed). */
int chat_room_parse(const char *s, size_t len, chat_room_ref_t *out);
/* The dm room of users u1 and u2 (positive and different: else BH_EINVAL). */
int chat_room_dm(int64_t u1, int64_t u2, chat_room_ref_t *out);
/* "org", "property", "task" or "dm". */
const char *chat_room_kind_name(chat_room_kind_t kind);
/* For a dm: the other party if user is one of the two, else 0. For other kinds: 0. */
int64_t chat_room_dm_peer(const chat_room_ref_t *r, int64_t user);

#endif
