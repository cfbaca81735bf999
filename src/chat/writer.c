/* writer.c: the chat writer: every chat write, in one queue, committed in batches.
 *
 * Why one writer. SQLite has a single write lock. With a transaction per message, threads that
 * write at once queue in SQLite's busy handler, which sleeps (1, 2, 5, ... 100 ms): a p99 made of
 * sleeps, and one commit per message. Here loops queue ops and at most one drain runs on the
 * thread pool; it takes everything queued (up to BATCH_MAX), executes it in one IMMEDIATE
 * transaction and commits once. Under load a batch holds many messages; when idle, one.
 *
 * Ordering. The drain is the only place that assigns message ids, and it posts each batch's
 * results to the workers before it takes the next batch; a worker runs posted tasks in order.
 * So every connection sees a room's messages in id order, and a join's history (read inside the
 * same transaction) meets the live stream exactly: what committed before the join is in its
 * history, what committed after it is delivered after the join answer.
 *
 * Durability. Results are posted only after COMMIT returns: nothing is acknowledged or
 * broadcast before it is stored. A failed transaction fails every op of the batch with
 * store_unavailable (nothing of it was stored; clients retry with the same clientMsgId).
 *
 * Checkpoints. The writer's transactions do not checkpoint the write-ahead log (store/chat.h):
 * measured here, SQLite's automatic checkpoint inside COMMIT stalled the writer 4 to 40 ms every
 * few hundred messages, which is the whole p99 of a chat. Instead, at most every CKPT_EVERY_MS
 * after a commit, a PASSIVE checkpoint runs as a separate job on another connection while the
 * writer goes on (about 2 ms a pass at 1,000 messages a second). The log only starts over from
 * its beginning when a write transaction begins with every frame copied, which a busy writer
 * never sees: it always appended something while the pass ran. So once a pass leaves the log
 * longer than CKPT_RESET_FRAMES, the writer itself copies the few frames it added since, between
 * two batches (a small pass: well under a millisecond here), and its next transaction restarts
 * the log. */
#include "chat/chat_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 512
#define CKPT_EVERY_MS 100
#define CKPT_RESET_FRAMES 4096 /* 16 MiB of 4 KiB pages */

/* What one op produced: the event for its batch (kind and blobs), or an error. */
typedef struct result_s {
    chat_event_t ev;
    int stored; /* a new message row */
} result_t;

void chat__op_free(chat_op_t *op)
{
    if (op == NULL) return;
    if (op->sess) chat__session_unref(op->sess);
    free(op->text);
    free(op);
}

/* ---- answers
 * -------------------------------------------------------------------------------------- */

/* An error for the origin: {"type":"error","code","message","roomId",...}. extra (stolen, may be
 * NULL) adds fields. */
static blob_t *error_body(const chat_op_t *op, const char *code, json_t *extra, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));
static blob_t *error_body(const chat_op_t *op, const char *code, json_t *extra, const char *fmt,
                          ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "type", "error", "code", code, "message", msg,
                          "roomId", op->room.key);
    if (op->kind == CHAT_OP_SEND)
        json_object_set_new(o, "clientMsgId", json_string(op->client_msg_id));
    if (op->msg_id) json_object_set_new(o, "messageId", json_integer(op->msg_id));
    if (extra) json_object_update(o, extra);
    json_decref(extra);
    return chat__body(o);
}

static void reply_error(result_t *r, const chat_op_t *op, int rc)
{
    r->ev.kind = op->kind == CHAT_OP_JOIN ? CHAT_EV_JOIN_FAILED : CHAT_EV_REPLY;
    switch (rc) {
    case BH_ENOTFOUND:
        if (op->kind == CHAT_OP_JOIN)
            r->ev.reply = error_body(op, "unknown_room", NULL, "no room '%s' in your organisation",
                                     op->room.key);
        else
            r->ev.reply =
                error_body(op, "message_not_found", NULL, "message %lld is not in room %s",
                           (long long)op->msg_id, op->room.key);
        break;
    case BH_EFORBIDDEN:
        if (op->kind == CHAT_OP_JOIN)
            r->ev.reply =
                error_body(op, "room_forbidden", NULL, "you may not join room %s", op->room.key);
        else
            r->ev.reply = error_body(op, "forbidden", NULL,
                                     "only its author (or an admin, to delete) may change "
                                     "message %lld",
                                     (long long)op->msg_id);
        break;
    case BH_EINVAL:
        r->ev.reply = error_body(op, "invalid_message", NULL, "the store refused this request");
        break;
    default:
        r->ev.reply =
            error_body(op, "store_unavailable", NULL, "the store failed; nothing was saved: retry");
        break;
    }
}

/* ---- executing ops (inside the transaction)
 * ------------------------------------------------------- */

static int exec_join(chat_server_t *srv, store_chat_tx_t *tx, chat_op_t *op, result_t *r)
{
    const chat_actor_t *a = &op->sess->actor;
    int64_t property_id = 0, task_id = 0, now = clock_unix_ms();
    int rc = chat_access(tx, a, &op->room, &property_id, &task_id);
    if (rc != 0) return rc;
    store_chat_room_t room;
    memset(&room, 0, sizeof room);
    room.org_id = a->org_id;
    room.kind = (store_chat_kind_t)op->room.kind;
    snprintf(room.key, sizeof room.key, "%s", op->room.key);
    room.property_id = property_id;
    room.task_id = task_id;
    /* A room from another organisation's view cannot be reached: keys are per organisation, and
     * access was checked against the caller's. */
    if ((rc = store_chat_room_ensure(tx, &room)) != 0) return rc;
    if ((rc = store_chat_member_ensure(tx, room.id, a->user_id, now)) != 0) return rc;
    int64_t peer = chat_room_dm_peer(&op->room, a->user_id);
    /* Both parties of a direct room are members from the start, so it shows in the other's
     * room list (with its unread count) before they ever open it. */
    if (peer && (rc = store_chat_member_ensure(tx, room.id, peer, now)) != 0) return rc;

    store_chat_msg_t *msgs = NULL;
    size_t n = 0;
    size_t want = srv->lim.history;
    if ((rc = store_chat_history(tx, room.id, 0, want + 1, &msgs, &n)) != 0) return rc;
    int more = n > want;
    if (more) n = want;
    json_t *arr = json_array();
    for (size_t i = n; i-- > 0;)
        json_array_append_new(arr, chat_json_message(&msgs[i], op->room.key));
    json_t *next = more && n ? json_integer(msgs[n - 1].id) : json_null();
    store_chat_msgs_free(msgs, more ? n + 1 : n);

    int64_t unread = 0, read_pos = 0;
    if ((rc = store_chat_unread(tx, room.id, a->user_id, &unread, &read_pos)) != 0) {
        json_decref(arr);
        json_decref(next);
        return rc;
    }
    store_chat_member_t *members = NULL;
    size_t nm = 0;
    if ((rc = store_chat_members(tx, a->org_id, room.id, CHAT_MEMBERS_MAX, &members, &nm)) != 0) {
        json_decref(arr);
        json_decref(next);
        return rc;
    }
    r->ev.kind = CHAT_EV_JOINED;
    r->ev.room_id = room.id;
    r->ev.members = members;
    r->ev.n_members = nm;
    r->ev.read_pos = read_pos;
    /* The caller's own name, for a token without one (the list may be cut at CHAT_MEMBERS_MAX:
     * then the token's name, if any, is all there is). */
    for (size_t i = 0; i < nm; i++)
        if (members[i].user_id == a->user_id)
            snprintf(r->ev.self_name, sizeof r->ev.self_name, "%s", members[i].name);
    json_t *info = json_pack("{s:s,s:o,s:o}", "kind", chat_room_kind_name(op->room.kind),
                             "propertyId", property_id ? json_integer(property_id) : json_null(),
                             "taskId", task_id ? json_integer(task_id) : json_null());
    r->ev.joined =
        json_pack("{s:s,s:s,s:o,s:o,s:b,s:o,s:I,s:I}", "type", "joined", "roomId", op->room.key,
                  "room", info, "messages", arr, "hasMore", more, "nextBefore", next, "unreadCount",
                  (json_int_t)unread, "lastReadId", (json_int_t)r->ev.read_pos);
    return 0;
}

static json_t *ack_json(const chat_op_t *op, json_t *msg, int duplicate)
{
    json_t *id = json_object_get(msg, "id"), *ts = json_object_get(msg, "timestamp");
    return json_pack("{s:s,s:s,s:s,s:O,s:O,s:b,s:o}", "type", "ack", "roomId", op->room.key,
                     "clientMsgId", op->client_msg_id, "id", id, "timestamp", ts, "duplicate",
                     duplicate, "message", msg);
}

static int exec_send(store_chat_tx_t *tx, chat_op_t *op, result_t *r)
{
    store_chat_msg_t m;
    store_chat_msg_init(&m);
    /* A retry of a message that was stored (its ack lost, say): answer the original again. */
    int rc =
        store_chat_msg_by_client(tx, op->room_id, op->sess->actor.user_id, op->client_msg_id, &m);
    if (rc == 0) {
        r->ev.kind = CHAT_EV_REPLY;
        r->ev.reply = chat__body(ack_json(op, chat_json_message(&m, op->room.key), 1));
        store_chat_msg_dispose(&m);
        return 0;
    }
    store_chat_msg_dispose(&m);
    if (rc != BH_ENOTFOUND) return rc;
    m.room_id = op->room_id;
    m.user_id = op->sess->actor.user_id;
    snprintf(m.user_name, sizeof m.user_name, "%s", op->user_name);
    snprintf(m.client_msg_id, sizeof m.client_msg_id, "%s", op->client_msg_id);
    m.text = op->text; /* borrowed for the insert */
    rc = store_chat_msg_insert(tx, &m);
    m.text = NULL;
    /* Taken after the lookup above cannot happen with one writer: count it as the store's. */
    if (rc != 0) return rc == BH_EEXIST ? BH_ESTORE : rc;
    m.text = op->text;
    json_t *msg = chat_json_message(&m, op->room.key);
    m.text = NULL;
    r->ev.kind = CHAT_EV_MESSAGE;
    r->ev.body = chat__body(
        json_pack("{s:s,s:s,s:O}", "type", "message", "roomId", op->room.key, "message", msg));
    r->ev.reply = chat__body(ack_json(op, msg, 0));
    r->stored = 1;
    return 0;
}

static int exec_edit_delete(store_chat_tx_t *tx, chat_op_t *op, result_t *r)
{
    const chat_actor_t *a = &op->sess->actor;
    store_chat_msg_t m;
    store_chat_msg_init(&m);
    int rc = store_chat_msg_get(tx, op->room_id, op->msg_id, &m);
    if (rc != 0) goto out;
    int own = m.user_id == a->user_id;
    if (op->kind == CHAT_OP_EDIT) {
        if (m.deleted_at) {
            rc = BH_ENOTFOUND;
            goto out;
        }
        if (!own) {
            rc = BH_EFORBIDDEN;
            goto out;
        }
        rc = store_chat_msg_edit(tx, op->room_id, op->msg_id, op->text, clock_unix_ms(), &m);
    } else {
        if (!own && !chat_actor_is_admin(a)) {
            rc = BH_EFORBIDDEN;
            goto out;
        }
        int was_deleted = m.deleted_at != 0;
        rc = store_chat_msg_delete(tx, op->room_id, op->msg_id, a->user_id, clock_unix_ms(), &m);
        if (rc == 0 && was_deleted) {
            /* Nothing changed: tell the one who asked, not the room again. */
            r->ev.kind = CHAT_EV_REPLY;
            r->ev.reply =
                chat__body(json_pack("{s:s,s:s,s:o}", "type", "message_deleted", "roomId",
                                     op->room.key, "message", chat_json_message(&m, op->room.key)));
            goto out;
        }
    }
    if (rc != 0) goto out;
    r->ev.kind = CHAT_EV_ROOM;
    r->ev.body = chat__body(json_pack(
        "{s:s,s:s,s:o}", "type", op->kind == CHAT_OP_EDIT ? "message_edited" : "message_deleted",
        "roomId", op->room.key, "message", chat_json_message(&m, op->room.key)));
out:
    store_chat_msg_dispose(&m);
    return rc;
}

static int exec_read(store_chat_tx_t *tx, chat_op_t *op, result_t *r)
{
    int64_t user = op->sess->actor.user_id;
    store_chat_msg_t m;
    store_chat_msg_init(&m);
    int rc = store_chat_msg_get(tx, op->room_id, op->msg_id, &m);
    store_chat_msg_dispose(&m);
    if (rc != 0) return rc;
    int64_t pos = 0;
    int moved = 0;
    if ((rc = store_chat_read_set(tx, op->room_id, user, op->msg_id, clock_unix_ms(), &pos,
                                  &moved)) != 0)
        return rc;
    blob_t *b = chat__body(json_pack("{s:s,s:s,s:I,s:I}", "type", "read", "roomId", op->room.key,
                                     "userId", (json_int_t)user, "messageId", (json_int_t)pos));
    /* Forwards only: a position that did not move is news to nobody but the asker. */
    r->ev.kind = moved ? CHAT_EV_ROOM : CHAT_EV_REPLY;
    if (moved)
        r->ev.body = b;
    else
        r->ev.reply = b;
    r->ev.user_id = user;
    r->ev.read_pos = pos;
    return 0;
}

static void event_clear(chat_event_t *ev)
{
    if (ev->body) blob_unref(ev->body);
    if (ev->reply) blob_unref(ev->reply);
    json_decref(ev->joined);
    free(ev->members);
    ev->body = ev->reply = NULL;
    ev->joined = NULL;
    ev->members = NULL;
    ev->n_members = 0;
}

/* Runs ops[0..n) in one transaction, filling res[0..n). Returns 0, or a store error after which
 * nothing was stored (res holds nothing to free). */
static int run_batch(chat_server_t *srv, chat_op_t **ops, size_t n, result_t *res)
{
    store_chat_tx_t *tx = NULL;
    int rc = store_chat_begin(srv->store, 1, &tx);
    if (rc != 0) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        chat_op_t *op = ops[i];
        result_t *r = &res[i];
        int orc;
        switch (op->kind) {
        case CHAT_OP_JOIN:
            orc = exec_join(srv, tx, op, r);
            break;
        case CHAT_OP_SEND:
            orc = exec_send(tx, op, r);
            break;
        case CHAT_OP_EDIT:
        case CHAT_OP_DELETE:
            orc = exec_edit_delete(tx, op, r);
            break;
        case CHAT_OP_READ:
        default:
            orc = exec_read(tx, op, r);
            break;
        }
        /* Refusals (unknown room, not yours, an argument the store refuses) are answers to one
         * op; anything else is the store failing, and then the whole transaction goes. Refusals
         * come before any write of their op, or after writes that stand on their own (a join's
         * room row), so they leave nothing half done that matters. */
        if (orc == BH_ENOTFOUND || orc == BH_EFORBIDDEN || orc == BH_EINVAL) {
            event_clear(&r->ev);
            reply_error(r, op, orc);
        } else if (orc != 0) {
            rc = orc;
        }
    }
    if (rc == 0) {
        rc = store_chat_commit(tx);
    } else {
        store_chat_rollback(tx);
    }
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            event_clear(&res[i].ev);
        LOG_E("chat_batch_failed", "ops=%zu err=%s", n, err_str(rc));
    }
    return rc;
}

/* Turns a batch of executed ops into one event batch and posts it. Steals the ops. */
static void deliver(chat_server_t *srv, chat_op_t **ops, size_t n, result_t *res, int failed)
{
    chat_batch_t *b = chat__batch_new(srv, n);
    unsigned char *mask = xcalloc((size_t)srv->n_workers, 1);
    uint64_t stored = 0;
    for (size_t i = 0; i < n; i++) {
        chat_op_t *op = ops[i];
        chat_event_t *ev = &b->ev[i];
        if (failed) {
            memset(&res[i].ev, 0, sizeof res[i].ev);
            res[i].stored = 0;
            reply_error(&res[i], op, BH_ESTORE);
        }
        *ev = res[i].ev;
        stored += (uint64_t)res[i].stored;
        ev->org_id = op->sess->actor.org_id;
        snprintf(ev->room, sizeof ev->room, "%s", op->room.key);
        ev->origin = op->sess; /* the op's reference moves to the event */
        op->sess = NULL;
        ev->gen = op->gen;
        ev->recv_ns = op->recv_ns;
        if (ev->kind == CHAT_EV_MESSAGE || ev->kind == CHAT_EV_ROOM) {
            memset(mask, 1, (size_t)srv->n_workers);
        } else {
            int w = ev->origin->cw->w->index;
            if (w >= 0 && w < srv->n_workers) mask[w] = 1;
        }
        chat__op_free(op);
    }
    atomic_fetch_add_explicit(&srv->stored, stored, memory_order_relaxed);
    chat__batch_post(srv, b, mask);
    free(mask);
}

/* ---- checkpoints
 * ------------------------------------------------------------------------------------ */

static void ckpt_work(store_t *st, void *data)
{
    chat_server_t *srv = data;
    int log_frames = 0, done_frames = 0;
    if (store_chat_checkpoint(st, &log_frames, &done_frames) != 0) return;
    atomic_fetch_add_explicit(&srv->checkpoints, 1, memory_order_relaxed);
    atomic_store(&srv->wal_frames, log_frames);
    if (log_frames > CKPT_RESET_FRAMES) atomic_store(&srv->ckpt_force, 1);
}

static void ckpt_done(void *data, int status)
{
    (void)status;
    chat_server_t *srv = data;
    atomic_store(&srv->ckpt_running, 0);
}

/* uv_queue_work belongs to a loop's own thread: the writer asks a worker to submit the job. */
static void on_ckpt_task(net_worker_t *w, void *data)
{
    chat_server_t *srv = data;
    if (store_submit(srv->store, &w->loop, ckpt_work, ckpt_done, srv) != 0)
        atomic_store(&srv->ckpt_running, 0);
}

/* After a commit, on the writer's thread. */
static void maybe_checkpoint(chat_server_t *srv)
{
    if (atomic_exchange(&srv->ckpt_force, 0)) {
        int log_frames = 0, done_frames = 0;
        if (store_chat_checkpoint(srv->store, &log_frames, &done_frames) == 0)
            atomic_fetch_add_explicit(&srv->checkpoints, 1, memory_order_relaxed);
    }
    uint64_t now = clock_mono_ms();
    if (now - atomic_load(&srv->ckpt_last_ms) < CKPT_EVERY_MS) return;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&srv->ckpt_running, &idle, 1)) return;
    atomic_store(&srv->ckpt_last_ms, now);
    for (int i = 0; i < srv->n_workers; i++)
        if (chat__post(srv, i, on_ckpt_task, srv) == 0) return;
    atomic_store(&srv->ckpt_running, 0); /* every worker is stopping */
}

/* ---- the drain
 * ------------------------------------------------------------------------------------ */

static void drain_work(store_t *st, void *data)
{
    (void)st;
    chat_server_t *srv = data;
    chat_op_t **ops = xmalloc(BATCH_MAX * sizeof *ops);
    result_t *res = xmalloc(BATCH_MAX * sizeof *res);
    for (;;) {
        size_t n = 0;
        uv_mutex_lock(&srv->wlock);
        while (n < BATCH_MAX && !queue_empty(&srv->wqueue)) {
            queue_t *q = srv->wqueue.next;
            queue_remove(q);
            ops[n++] = QUEUE_DATA(q, chat_op_t, node);
        }
        if (n == 0) srv->wrunning = 0; /* under the lock: the next submit starts a new drain */
        uv_mutex_unlock(&srv->wlock);
        if (n == 0) break;
        memset(res, 0, n * sizeof *res);
        int rc = run_batch(srv, ops, n, res);
        atomic_fetch_add_explicit(&srv->batches, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&srv->ops, n, memory_order_relaxed);
        if (rc != 0) atomic_fetch_add_explicit(&srv->store_errors, 1, memory_order_relaxed);
        deliver(srv, ops, n, res, rc != 0);
        if (rc == 0) maybe_checkpoint(srv);
    }
    free(ops);
    free(res);
}

/* Fails every queued op (the drain could not be started). Loop thread. */
static void fail_queued(chat_server_t *srv)
{
    chat_op_t *ops[64];
    for (;;) {
        size_t n = 0;
        uv_mutex_lock(&srv->wlock);
        while (n < 64 && !queue_empty(&srv->wqueue)) {
            queue_t *q = srv->wqueue.next;
            queue_remove(q);
            ops[n++] = QUEUE_DATA(q, chat_op_t, node);
        }
        if (n == 0) srv->wrunning = 0;
        uv_mutex_unlock(&srv->wlock);
        if (n == 0) return;
        result_t res[64];
        memset(res, 0, sizeof res);
        deliver(srv, ops, n, res, 1);
    }
}

void chat__writer_submit(chat_server_t *srv, uv_loop_t *loop, chat_op_t *op)
{
    uv_mutex_lock(&srv->wlock);
    queue_insert_tail(&srv->wqueue, &op->node);
    int start = !srv->wrunning;
    srv->wrunning = 1;
    uv_mutex_unlock(&srv->wlock);
    if (!start) return;
    /* The drain's done callback has nothing to do: results travel by net_worker_post. The loop
     * only matters because it waits for the work before it can close. */
    if (store_submit(srv->store, loop, drain_work, NULL, srv) != 0) fail_queued(srv);
}
