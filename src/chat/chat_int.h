/* chat_int.h: what the chat server's files share: session.c (sessions, the per-worker room index,
 * fan-out, sweeps) and writer.c (the group-commit writer on the thread pool).
 *
 * Threads and ownership, in one place:
 *   - A session lives on the worker that accepted it. Everything in it is touched only on that
 *     loop, except refs (atomic) and the fields marked immutable, which the writer reads through
 *     the reference an op holds. The last unref may happen on any thread, so freeing a session
 *     releases memory only: its loop state is torn down in on_close.
 *   - Ops are built on a loop, queued to the writer (stolen), executed on the thread pool, and
 *     turned into events. Events travel in batches (refcounted) that every concerned worker
 *     gets, in the writer's commit order. */
#ifndef BH_CHAT_CHAT_INT_H
#define BH_CHAT_CHAT_INT_H

#include "chat/access.h"
#include "chat/chat.h"
#include "chat/room.h"
#include "chat/users.h"
#include "core/blob.h"
#include "core/queue.h"
#include "store/chat.h"

#include <jansson.h>
#include <stdatomic.h>
#include <uv.h>

typedef struct chat_worker_s chat_worker_t;
typedef struct chat_session_s chat_session_t;
typedef struct chat_member_s chat_member_t;
typedef struct chat_wroom_s chat_wroom_t;

/* A room as one worker sees it: its sessions that joined (or are joining). Freed when the last
 * member goes; events find rooms by (org, key), never by pointer. */
struct chat_wroom_s {
    chat_wroom_t *next; /* hash chain */
    int64_t org_id;
    char key[CHAT_ROOM_KEY_MAX];
    queue_t members; /* chat_member_t.room_node */
    size_t n_members;
};

/* One session's place in one room. */
struct chat_member_s {
    queue_t room_node;   /* in room->members */
    queue_t sess_node;   /* in sess->members */
    queue_t typing_node; /* in the worker's typing list while typing_until != 0 */
    chat_session_t *sess;
    chat_wroom_t *room;
    chat_room_ref_t ref;
    int active;            /* the join answer went out: broadcasts reach this member */
    uint64_t gen;          /* of the latest join sent for it; older answers are dropped */
    int64_t room_id;       /* the store's id, once joined */
    int64_t read_pos;      /* the user's read position as last seen here */
    uint64_t typing_until; /* mono ms; 0: not typing */
};

struct chat_session_s {
    atomic_uint refs;
    queue_t node; /* in the worker's session list while open */
    chat_worker_t *cw;
    ws_conn_t *ws; /* NULL once closed */
    int closed;
    uint64_t seq; /* of the next message this connection gets */
    /* Immutable after accept: the writer reads them. */
    chat_actor_t actor; /* actor.property_ids points at property_ids */
    int64_t *property_ids;
    int64_t exp;
    char id[24];
    /* Loop only. */
    char name[AUTH_NAME_MAX];
    chat_user_t *user;
    int away;               /* this connection counts as away */
    uint64_t last_activity; /* mono ms */
    uint64_t last_touch;    /* mono ms the user's last-active time was last moved */
    queue_t members;        /* chat_member_t.sess_node */
    size_t n_members;
    uint64_t next_gen;
    uint64_t presence_mark; /* serial of the last presence event sent here (dedupe) */
    json_t *req_ctx;        /* while a request is handled: what its errors echo (borrowed) */
};

/* ---- writer ops --------------------------------------------------------------------------------
 */

typedef enum {
    CHAT_OP_JOIN = 0,
    CHAT_OP_SEND,
    CHAT_OP_EDIT,
    CHAT_OP_DELETE,
    CHAT_OP_READ,
} chat_op_kind_t;

typedef struct chat_op_s {
    queue_t node;
    chat_op_kind_t kind;
    chat_session_t *sess; /* a reference, handed on to the op's event */
    uint64_t gen;         /* JOIN */
    chat_room_ref_t room;
    int64_t room_id; /* all but JOIN: the joined room's store id */
    int64_t msg_id;  /* EDIT, DELETE, READ */
    char client_msg_id[STORE_CHAT_CLIENT_ID_MAX];
    char user_name[AUTH_NAME_MAX];
    char *text;       /* SEND, EDIT: owned */
    uint64_t recv_ns; /* mono ns the request arrived (latency) */
} chat_op_t;

/* ---- events -------------------------------------------------------------------------------------
 */

typedef enum {
    CHAT_EV_MESSAGE = 0, /* body to the room's members but the origin; reply to the origin */
    CHAT_EV_ROOM,        /* body to every member (edits, deletes, read positions) */
    CHAT_EV_REPLY,       /* reply to the origin only */
    CHAT_EV_JOINED,      /* activates the origin's membership and answers it */
    CHAT_EV_JOIN_FAILED, /* drops the origin's pending membership; reply is the error */
    CHAT_EV_TYPING,      /* body to the room's members but the origin */
    CHAT_EV_PRESENCE,    /* body to the members of the listed rooms and of the "org" room */
} chat_ev_kind_t;

typedef struct chat_event_s {
    chat_ev_kind_t kind;
    int64_t org_id;
    char room[CHAT_ROOM_KEY_MAX];
    chat_session_t *origin; /* a reference, or NULL */
    uint64_t gen;
    blob_t *body;  /* shared by members: a JSON object without its leading '{' */
    blob_t *reply; /* the origin's answer, same form */
    uint64_t recv_ns;
    int64_t user_id; /* READ: whose position moved; PRESENCE: whose presence */
    int64_t read_pos;
    /* JOINED: the answer without presence (owned), the members, the room's store id. */
    json_t *joined;
    store_chat_member_t *members;
    size_t n_members;
    int64_t room_id;
    char self_name[AUTH_NAME_MAX];
    /* PRESENCE: the rooms to tell (owned keys) and a serial for dedupe. */
    char (*rooms)[CHAT_ROOM_KEY_MAX];
    size_t n_rooms;
    uint64_t serial;
} chat_event_t;

typedef struct chat_batch_s {
    atomic_uint refs;
    chat_server_t *srv;
    int remote; /* came from another node (chat/cluster.c): not sent on again */
    size_t n;
    chat_event_t ev[];
} chat_batch_t;

/* ---- the server ---------------------------------------------------------------------------------
 */

struct chat_worker_s {
    chat_server_t *srv;
    net_worker_t *w;
    uv_timer_t sweep;
    int stopping;
    int closed; /* under srv->post_lock: no chat task may be posted to this worker any more */
    queue_t sessions;
    uint64_t next_session;
    chat_wroom_t **buckets;
    size_t n_buckets, n_rooms;
    queue_t typing;      /* members whose typing state may expire */
    chat_user_t **grace; /* users whose offline grace period this worker watches */
    size_t n_grace, cap_grace;
    chat_metrics_t m;
};

struct chat_server_s {
    store_t *store;
    chat_limits_t lim;
    int n_workers;
    chat_worker_t *cw;
    chat_users_t *users;
    struct chat_cluster_s *cluster; /* several nodes (chat/cluster.h); NULL on one */
    /* Posts to the workers go through chat__post, under this lock: a worker's shutdown task
     * closes it for chat posts first, so that the writer, which runs on the thread pool and may
     * outlive some workers' loops, never posts to a worker that was stopped and joined. */
    uv_mutex_t post_lock;
    /* The writer: ops waiting, and whether a drain is running (both under wlock). */
    uv_mutex_t wlock;
    queue_t wqueue;
    int wrunning;
    _Atomic uint64_t presence_serial;
    _Atomic uint64_t stored, batches, ops, store_errors;
    /* Checkpoints, off the writer's path (writer.c). */
    atomic_int ckpt_running;
    atomic_int ckpt_force;
    _Atomic uint64_t ckpt_last_ms;
    _Atomic uint64_t checkpoints;
    _Atomic int64_t wal_frames; /* the log's size at the last checkpoint */
};

/* session.c */
void chat__session_ref(chat_session_t *s);
void chat__session_unref(chat_session_t *s);
/* Posts b to the workers in mask (NULL: every worker), taking one reference per post; then
 * drops the caller's reference. */
void chat__batch_post(chat_server_t *srv, chat_batch_t *b, const unsigned char *mask);
/* net_worker_post to worker i unless the chat closed it: 0 or UV_ECANCELED (data stays yours).
 * Any thread. */
int chat__post(chat_server_t *srv, int i, net_task_cb cb, void *data);
chat_batch_t *chat__batch_new(chat_server_t *srv, size_t n);
void chat__batch_unref(chat_batch_t *b);
/* A JSON object as a body blob (without the leading '{'); steals obj. */
blob_t *chat__body(json_t *obj);

/* writer.c: queues op (stolen) for the writer, starting a drain on loop if none is running. */
void chat__writer_submit(chat_server_t *srv, uv_loop_t *loop, chat_op_t *op);
void chat__op_free(chat_op_t *op);

#endif
