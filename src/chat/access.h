/* access.h: who may enter which chat room, and the JSON spelling of chat records.
 *
 * Shared by the writer (joins) and the REST endpoints (history of a room). Runs inside a store
 * transaction, so thread pool only. */
#ifndef BH_CHAT_ACCESS_H
#define BH_CHAT_ACCESS_H

#include "auth/auth.h"
#include "chat/room.h"
#include "store/chat.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The caller, as its token says. property_ids is borrowed. */
typedef struct chat_actor_s {
    int64_t org_id;
    int64_t user_id;
    auth_role_t role;
    int all_properties;
    size_t n_properties;
    const int64_t *property_ids;
} chat_actor_t;

/* 1 if the actor may see property_id. */
int chat_actor_has_property(const chat_actor_t *a, int64_t property_id);
/* 1 if the actor may delete anyone's message (owner, admin). */
int chat_actor_is_admin(const chat_actor_t *a);

/* Decides whether a may enter room r of a's organisation:
 *   org:        the organisation exists;
 *   property-N: property N is the organisation's, and a has access to it;
 *   task-N:     task N is the organisation's, and a has access to its property;
 *   dm-A-B:     a is A or B, and the other one is a user of the organisation.
 * Returns 0 (*property_id, *task_id: what the room row records), BH_ENOTFOUND when the room does
 * not exist in a's organisation (the same answer for another organisation's ids), BH_EFORBIDDEN
 * when it exists but a may not enter, or a store error. */
int chat_access(store_chat_tx_t *tx, const chat_actor_t *a, const chat_room_ref_t *r,
                int64_t *property_id, int64_t *task_id);
/* The same decision for a room row already stored (the REST room list): no store access. */
int chat_access_row(const chat_actor_t *a, const store_chat_room_t *row);

/* JSON (new references). A message:
 *   {"id","roomId","userId","userName","text","clientMsgId","timestamp","edited","editedAt",
 *    "deleted","deletedAt"}  (text null once deleted; times ISO-8601 UTC with ms, or null). */
json_t *chat_json_message(const store_chat_msg_t *m, const char *room_key);
json_t *chat_json_time(int64_t unix_ms);

#endif
