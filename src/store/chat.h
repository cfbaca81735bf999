/* chat.h: the store operations of the chat feature: rooms, messages and read positions.
 *
 * Chat writes come in bursts of small rows, and SQLite has one write lock. So instead of one
 * transaction per call, the chat layer opens a transaction (store_chat_begin), runs a batch of
 * operations on it, and commits once (group commit: see src/chat/writer.c). Every function
 * below except begin takes that transaction; reads run in a read transaction (write 0), which
 * sees one consistent snapshot and never blocks the writer (WAL).
 *
 * Threading: like every store call, synchronous; thread pool only. A transaction belongs to the
 * thread that began it until it is committed or rolled back (both end it and free the handle).
 *
 * Errors: 0, BH_ENOTFOUND, BH_EINVAL (an argument store/chat.c refuses: ids <= 0, text that does
 * not fit, an empty key), BH_ESTORE (the engine failed; the transaction should be rolled back).
 * Times are unix ms. */
#ifndef BH_STORE_CHAT_H
#define BH_STORE_CHAT_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_CHAT_KEY_MAX 48       /* "dm-<id>-<id>" with room to spare; see src/chat/room.h */
#define STORE_CHAT_CLIENT_ID_MAX 65 /* 64 bytes and the NUL */
#define STORE_CHAT_TEXT_MAX 65536   /* bytes; the configured limit (in characters) is lower */
#define STORE_CHAT_PAGE_MAX 1000    /* the most messages or members one call returns */

typedef enum {
    STORE_CHAT_ORG = 0,
    STORE_CHAT_PROPERTY,
    STORE_CHAT_TASK,
    STORE_CHAT_DM,
} store_chat_kind_t;

typedef struct store_chat_room_s {
    int64_t id;
    int64_t org_id;
    store_chat_kind_t kind;
    char key[STORE_CHAT_KEY_MAX]; /* canonical room key: "org", "property-3", "dm-2-9", ... */
    int64_t property_id;          /* property and task rooms: the property access needed; else 0 */
    int64_t task_id;              /* task rooms; else 0 */
    int64_t created_at;
    /* Filled by store_chat_rooms only (the caller's view of the room). */
    int64_t last_read_id;    /* the caller's read position; 0: nothing read */
    int64_t last_message_id; /* the newest message; 0: none */
    int64_t unread;          /* messages after last_read_id, not the caller's, not deleted */
} store_chat_room_t;

typedef struct store_chat_msg_s {
    int64_t id; /* increasing in commit order; within a room, the room's order */
    int64_t room_id;
    int64_t user_id;
    char user_name[STORE_NAME_MAX];
    char client_msg_id[STORE_CHAT_CLIENT_ID_MAX];
    char *text; /* NUL-terminated; owned by the struct on read (store_chat_msg_dispose); borrowed
                 * on insert. "" once deleted. */
    int64_t created_at;
    int64_t edited_at;  /* 0: never edited */
    int64_t deleted_at; /* 0: not deleted */
    int64_t deleted_by; /* who deleted it (the author or an admin); 0 while not deleted */
} store_chat_msg_t;

typedef struct store_chat_member_s {
    int64_t user_id;
    int64_t last_read_id;
    char name[STORE_NAME_MAX]; /* the user's name, "" for ids without a user row */
} store_chat_member_t;

/* A transaction. Backends embed this as the first member of their own handle. */
typedef struct store_chat_tx_s {
    store_t *st;
} store_chat_tx_t;

/* Begins a transaction: write != 0 takes the write lock up front (BEGIN IMMEDIATE). *out is new;
 * end it with commit or rollback.
 *
 * A write transaction never checkpoints (SQLite would otherwise copy its write-ahead log into the
 * database file, with an fsync, inside some COMMIT: a stall of every chat message queued behind
 * it). The chat server runs store_chat_checkpoint from a job of its own instead. */
int store_chat_begin(store_t *st, int write, store_chat_tx_t **out);
/* Commits and ends tx (freed on every path; a failed commit rolls back). */
int store_chat_commit(store_chat_tx_t *tx);
void store_chat_rollback(store_chat_tx_t *tx);

/* Checks that what a room refers to exists in org_id: for STORE_CHAT_PROPERTY a property (then
 * *property_id = id), for STORE_CHAT_TASK a task (*property_id = the task's property), for
 * STORE_CHAT_DM a user (id is the user; *property_id = 0). STORE_CHAT_ORG: the organisation.
 * BH_ENOTFOUND when it does not exist there. property_id may be NULL. */
int store_chat_target(store_chat_tx_t *tx, int64_t org_id, store_chat_kind_t kind, int64_t id,
                      int64_t *property_id);
/* The room row of (org_id, key). BH_ENOTFOUND if no one has joined it yet. */
int store_chat_room_get(store_chat_tx_t *tx, int64_t org_id, const char *key,
                        store_chat_room_t *out);
/* Creates the room row if absent (r->org_id, kind, key, property_id, task_id), and fills r with
 * the stored row (id, created_at, and the stored references). Write transactions only. */
int store_chat_room_ensure(store_chat_tx_t *tx, store_chat_room_t *r);
/* Makes user_id a member of the room (read position 0) unless it is one already. */
int store_chat_member_ensure(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t now);
/* The members of a room in user id order, at most max (1..STORE_CHAT_PAGE_MAX), with their
 * names from org_id's users. *out is new (free()), NULL when *n is 0. */
int store_chat_members(store_chat_tx_t *tx, int64_t org_id, int64_t room_id, size_t max,
                       store_chat_member_t **out, size_t *n);

/* The message user_id sent to the room with client_msg_id: BH_ENOTFOUND if none. *out must be
 * disposed (also after a failure). */
int store_chat_msg_by_client(store_chat_tx_t *tx, int64_t room_id, int64_t user_id,
                             const char *client_msg_id, store_chat_msg_t *out);
/* The message id of the room. BH_ENOTFOUND if it is not one of the room's. */
int store_chat_msg_get(store_chat_tx_t *tx, int64_t room_id, int64_t id, store_chat_msg_t *out);
/* Inserts m (room_id, user_id, user_name, client_msg_id, text, created_at: 0 = now) and fills
 * in id and created_at. (room, user, client_msg_id) is unique: BH_EEXIST if taken (look it up
 * with store_chat_msg_by_client first). text is borrowed, at most STORE_CHAT_TEXT_MAX - 1
 * bytes, non-empty. */
int store_chat_msg_insert(store_chat_tx_t *tx, store_chat_msg_t *m);
/* Replaces the text of a message that is not deleted (edited_at = now) and fills *out with the
 * result. BH_ENOTFOUND for a message not in the room or deleted. */
int store_chat_msg_edit(store_chat_tx_t *tx, int64_t room_id, int64_t id, const char *text,
                        int64_t now, store_chat_msg_t *out);
/* Marks a message deleted (its text becomes "") and fills *out. Deleting a deleted message
 * changes nothing and succeeds. BH_ENOTFOUND for a message not in the room. */
int store_chat_msg_delete(store_chat_tx_t *tx, int64_t room_id, int64_t id, int64_t by, int64_t now,
                          store_chat_msg_t *out);
/* Up to limit (1..STORE_CHAT_PAGE_MAX) messages of the room with id < before_id (0: from the
 * newest), newest first. *out is a new array (store_chat_msgs_free), NULL when *n is 0. */
int store_chat_history(store_chat_tx_t *tx, int64_t room_id, int64_t before_id, size_t limit,
                       store_chat_msg_t **out, size_t *n);

/* Moves user_id's read position in the room forwards to msg_id; a position at or past it stays.
 * Creates the membership if needed. *pos gets the position afterwards, *moved whether it moved. */
int store_chat_read_set(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t msg_id,
                        int64_t now, int64_t *pos, int *moved);
/* user_id's read position in the room (*last_read_id, 0: none) and the messages after it that
 * others sent and that are not deleted (*count). last_read_id may be NULL. */
int store_chat_unread(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t *count,
                      int64_t *last_read_id);
/* The rooms of org_id that user_id is a member of, in room id order, with the caller's read
 * position, newest message and unread count. At most STORE_CHAT_PAGE_MAX. *out is new (free()),
 * NULL when *n is 0. */
int store_chat_rooms(store_chat_tx_t *tx, int64_t org_id, int64_t user_id, store_chat_room_t **out,
                     size_t *n);

/* Copies what it can of the write-ahead log into the database file without waiting for or
 * blocking anyone (SQLite: a PASSIVE checkpoint, on a connection of its own). *log_frames and
 * *done_frames (may be NULL) get the log's size and how much of it is in the database file
 * afterwards; a backend without such a log reports 0 and 0. Another checkpoint running is not an
 * error. Not in a transaction: it takes the store itself. */
int store_chat_checkpoint(store_t *st, int *log_frames, int *done_frames);

void store_chat_msg_init(store_chat_msg_t *m);
/* Frees m->text (a read message's) and re-inits m. */
void store_chat_msg_dispose(store_chat_msg_t *m);
void store_chat_msgs_free(store_chat_msg_t *msgs, size_t n);

/* The backend's operations (store.c and chat.c have checked the arguments as said above). */
struct store_chat_ops {
    int (*begin)(store_t *st, int write, store_chat_tx_t **out);
    int (*commit)(store_chat_tx_t *tx);
    void (*rollback)(store_chat_tx_t *tx);
    int (*target)(store_chat_tx_t *tx, int64_t org_id, store_chat_kind_t kind, int64_t id,
                  int64_t *property_id);
    int (*room_get)(store_chat_tx_t *tx, int64_t org_id, const char *key, store_chat_room_t *out);
    int (*room_ensure)(store_chat_tx_t *tx, store_chat_room_t *r);
    int (*member_ensure)(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t now);
    int (*members)(store_chat_tx_t *tx, int64_t org_id, int64_t room_id, size_t max,
                   store_chat_member_t **out, size_t *n);
    int (*msg_by_client)(store_chat_tx_t *tx, int64_t room_id, int64_t user_id,
                         const char *client_msg_id, store_chat_msg_t *out);
    int (*msg_get)(store_chat_tx_t *tx, int64_t room_id, int64_t id, store_chat_msg_t *out);
    int (*msg_insert)(store_chat_tx_t *tx, store_chat_msg_t *m);
    int (*msg_edit)(store_chat_tx_t *tx, int64_t room_id, int64_t id, const char *text, int64_t now,
                    store_chat_msg_t *out);
    int (*msg_delete)(store_chat_tx_t *tx, int64_t room_id, int64_t id, int64_t by, int64_t now,
                      store_chat_msg_t *out);
    int (*history)(store_chat_tx_t *tx, int64_t room_id, int64_t before_id, size_t limit,
                   store_chat_msg_t **out, size_t *n);
    int (*read_set)(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t msg_id,
                    int64_t now, int64_t *pos, int *moved);
    int (*unread)(store_chat_tx_t *tx, int64_t room_id, int64_t user_id, int64_t *count,
                  int64_t *last_read_id);
    int (*rooms)(store_chat_tx_t *tx, int64_t org_id, int64_t user_id, store_chat_room_t **out,
                 size_t *n);
    int (*checkpoint)(store_t *st, int *log_frames, int *done_frames); /* may be NULL */
};

#endif
