/* access.c: room access rules and the JSON spelling of chat messages. */
#include "chat/access.h"

#include "core/clock.h"
#include "core/err.h"

#include <string.h>

int chat_actor_has_property(const chat_actor_t *a, int64_t property_id)
{
    if (a->all_properties) return 1;
    for (size_t i = 0; i < a->n_properties; i++)
        if (a->property_ids[i] == property_id) return 1;
    return 0;
}

int chat_actor_is_admin(const chat_actor_t *a)
{
    return a->role == ROLE_OWNER || a->role == ROLE_ADMIN;
}

int chat_access(store_chat_tx_t *tx, const chat_actor_t *a, const chat_room_ref_t *r,
                int64_t *property_id, int64_t *task_id)
{
    int64_t pid = 0;
    int rc;
    *property_id = 0;
    *task_id = 0;
    switch (r->kind) {
    case CHAT_ROOM_ORG:
        return store_chat_target(tx, a->org_id, STORE_CHAT_ORG, 0, NULL);
    case CHAT_ROOM_PROPERTY:
        /* Existence first: another organisation's property must read as unknown, not as
         * forbidden, or the answer would confirm that the id exists. */
        if ((rc = store_chat_target(tx, a->org_id, STORE_CHAT_PROPERTY, r->a, &pid)) != 0)
            return rc;
        if (!chat_actor_has_property(a, pid)) return BH_EFORBIDDEN;
        *property_id = pid;
        return 0;
    case CHAT_ROOM_TASK:
        if ((rc = store_chat_target(tx, a->org_id, STORE_CHAT_TASK, r->a, &pid)) != 0) return rc;
        if (!chat_actor_has_property(a, pid)) return BH_EFORBIDDEN;
        *property_id = pid;
        *task_id = r->a;
        return 0;
    case CHAT_ROOM_DM: {
        int64_t peer = chat_room_dm_peer(r, a->user_id);
        if (peer == 0) return BH_EFORBIDDEN; /* somebody else's conversation */
        return store_chat_target(tx, a->org_id, STORE_CHAT_DM, peer, NULL);
    }
    }
    return BH_ENOTFOUND;
}

int chat_access_row(const chat_actor_t *a, const store_chat_room_t *row)
{
    if (row->org_id != a->org_id) return BH_ENOTFOUND;
    switch (row->kind) {
    case STORE_CHAT_ORG:
        return 0;
    case STORE_CHAT_PROPERTY:
    case STORE_CHAT_TASK:
        return chat_actor_has_property(a, row->property_id) ? 0 : BH_EFORBIDDEN;
    case STORE_CHAT_DM: {
        chat_room_ref_t r;
        if (chat_room_parse(row->key, strlen(row->key), &r) != 0) return BH_ENOTFOUND;
        return chat_room_dm_peer(&r, a->user_id) ? 0 : BH_EFORBIDDEN;
    }
    }
    return BH_ENOTFOUND;
}

json_t *chat_json_time(int64_t unix_ms)
{
    char buf[32];
    if (unix_ms == 0) return json_null();
    clock_iso8601_ms(unix_ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *chat_json_message(const store_chat_msg_t *m, const char *room_key)
{
    int deleted = m->deleted_at != 0;
    return json_pack("{s:I,s:s,s:I,s:s,s:o,s:s,s:o,s:b,s:o,s:b,s:o}", "id", (json_int_t)m->id,
                     "roomId", room_key, "userId", (json_int_t)m->user_id, "userName", m->user_name,
                     "text", deleted || m->text == NULL ? json_null() : json_string(m->text),
                     "clientMsgId", m->client_msg_id, "timestamp", chat_json_time(m->created_at),
                     "edited", m->edited_at != 0, "editedAt", chat_json_time(m->edited_at),
                     "deleted", deleted, "deletedAt", chat_json_time(m->deleted_at));
}
