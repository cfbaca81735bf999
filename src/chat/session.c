/* session.c: chat sessions, the per-worker room index, fan-out, and the per-worker sweep.
 *
 * A session is one WebSocket. Requests that only read or only concern this connection are
 * answered here; writes go to the writer (writer.c), whose results come back as batches of
 * events posted to the workers in commit order. Typing and presence do not touch the store: they
 * are posted to the workers directly, also as batches. A batch is handled by every worker it was
 * posted to, in order; each event's body is one blob shared by every member connection. */
#include "chat/chat_int.h"
#include "chat/cluster.h"

#include "auth/jwt.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "ws/frame.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ws_handler_t chat_handler;

/* ---- sessions and batches
 * ------------------------------------------------------------------------ */

void chat__session_ref(chat_session_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

/* The last reference may go on any thread (a batch freed by another worker, or the writer): by
 * then on_close has undone everything the loop knew about the session, so only memory is left. */
void chat__session_unref(chat_session_t *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    free(s->property_ids);
    free(s);
}

chat_batch_t *chat__batch_new(chat_server_t *srv, size_t n)
{
    chat_batch_t *b = xcalloc(1, sizeof *b + n * sizeof(chat_event_t));
    atomic_init(&b->refs, 1);
    b->srv = srv;
    b->n = n;
    return b;
}

void chat__batch_unref(chat_batch_t *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < b->n; i++) {
        chat_event_t *ev = &b->ev[i];
        if (ev->body) blob_unref(ev->body);
        if (ev->reply) blob_unref(ev->reply);
        json_decref(ev->joined);
        free(ev->members);
        free(ev->rooms);
        if (ev->origin) chat__session_unref(ev->origin);
    }
    free(b);
}

blob_t *chat__body(json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (text == NULL || text[0] != '{' || text[1] == '}') {
        /* Only reachable with text that is not UTF-8, which never gets this far (jansson checks
         * every string it parses); still, answer something a client can read. */
        free(text);
        static const char fallback[] = "\"type\":\"error\",\"code\":\"internal\","
                                       "\"message\":\"the server could not encode an answer\"}";
        return blob_copy(fallback, sizeof fallback - 1);
    }
    blob_t *b = blob_copy(text + 1, strlen(text) - 1);
    free(text);
    return b;
}

static void on_batch_task(net_worker_t *w, void *data);

int chat__post(chat_server_t *srv, int i, net_task_cb cb, void *data)
{
    uv_mutex_lock(&srv->post_lock);
    int rc = srv->cw[i].closed ? UV_ECANCELED : net_worker_post(srv->cw[i].w, cb, data);
    uv_mutex_unlock(&srv->post_lock);
    return rc;
}

void chat__batch_post(chat_server_t *srv, chat_batch_t *b, const unsigned char *mask)
{
    if (srv->cluster && !b->remote) chat__cluster_forward(srv->cluster, b);
    for (int i = 0; i < srv->n_workers; i++) {
        if (mask && !mask[i]) continue;
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
        /* Refused only while the worker stops: its sessions are going anyway. */
        if (chat__post(srv, i, on_batch_task, b) != 0) chat__batch_unref(b);
    }
    chat__batch_unref(b);
}

/* ---- sending ------------------------------------------------------------------------------------
 */

static void count_out(chat_session_t *s, size_t bytes)
{
    RT_INC(s->cw->m.messages_out, 1);
    RT_INC(s->cw->m.bytes_out, bytes);
}

/* Closes s if its peer does not read fast enough. The close completes later, from the loop, so
 * callers may be iterating over members. */
static void check_slow(chat_session_t *s)
{
    if (!ws_conn_is_slow(s->ws) || ws_conn_is_closing(s->ws)) return;
    RT_INC(s->cw->m.slow_consumer_closes, 1);
    LOG_I("chat_slow_consumer", "conn=%s peer=%s outbuf=%zu", s->id, ws_conn_peer(s->ws),
          ws_conn_outbuf(s->ws));
    ws_conn_close(s->ws, CHAT_CLOSE_SLOW_CONSUMER, "slow consumer: reconnect and rejoin");
}

/* Every server message starts with this connection's {"seq":N, and continues with a body that
 * may be shared. */
static int send_blob(chat_session_t *s, blob_t *b)
{
    if (s->closed || s->ws == NULL || ws_conn_is_closing(s->ws)) return -1;
    char prefix[40];
    int pl = snprintf(prefix, sizeof prefix, "{\"seq\":%" PRIu64 ",", s->seq);
    if (ws_send_shared(s->ws, prefix, (size_t)pl, b) != 0) return -1;
    s->seq++;
    count_out(s, (size_t)pl + b->len);
    check_slow(s);
    return 0;
}

/* Sends a JSON object built for this connection alone. Steals obj. */
static void send_obj(chat_session_t *s, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (text == NULL) return;
    if (!s->closed && s->ws && !ws_conn_is_closing(s->ws)) {
        buf_t b = BUF_INIT;
        buf_appendf(&b, "{\"seq\":%" PRIu64 ",", s->seq);
        buf_appends(&b, text + 1);
        if (ws_send(s->ws, WS_OP_TEXT, b.data, b.len) == 0) {
            s->seq++;
            count_out(s, b.len);
            check_slow(s);
        }
        buf_dispose(&b);
    }
    free(text);
}

/* {"type":"error","code":code,"message":...} plus the fields of ctx (stolen, may be NULL). */
static void send_error(chat_session_t *s, const char *code, json_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void send_error(chat_session_t *s, const char *code, json_t *ctx, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", msg);
    if (ctx) json_object_update(o, ctx);
    json_decref(ctx);
    /* Whatever of roomId, clientMsgId, messageId the request named, so that a client can tell
     * which of its requests failed. */
    if (s->req_ctx) json_object_update_missing(o, s->req_ctx);
    send_obj(s, o);
}

/* Ends the connection for a reason of its own, telling the client why first. */
static void fail(chat_session_t *s, int close_code, const char *code, const char *msg)
{
    send_obj(s, json_pack("{s:s,s:s,s:s,s:i}", "type", "error", "code", code, "message", msg,
                          "closeCode", close_code));
    if (s->ws) ws_conn_close(s->ws, close_code, code);
}

static json_t *room_ctx(const char *key)
{
    return json_pack("{s:s}", "roomId", key);
}

/* ---- the per-worker room index ------------------------------------------------------------------
 */

static size_t room_hash(int64_t org, const char *key, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)org * 0x9E3779B97F4A7C15ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & (n - 1);
}

static chat_wroom_t *room_find(chat_worker_t *cw, int64_t org, const char *key, int create)
{
    size_t h = room_hash(org, key, cw->n_buckets);
    chat_wroom_t *r = cw->buckets[h];
    while (r && !(r->org_id == org && strcmp(r->key, key) == 0))
        r = r->next;
    if (r || !create) return r;
    r = xcalloc(1, sizeof *r);
    r->org_id = org;
    snprintf(r->key, sizeof r->key, "%s", key);
    queue_init(&r->members);
    r->next = cw->buckets[h];
    cw->buckets[h] = r;
    if (++cw->n_rooms > cw->n_buckets * 2) {
        size_t n = cw->n_buckets * 4;
        chat_wroom_t **b = xcalloc(n, sizeof *b);
        for (size_t i = 0; i < cw->n_buckets; i++) {
            for (chat_wroom_t *x = cw->buckets[i], *next; x; x = next) {
                next = x->next;
                size_t k = room_hash(x->org_id, x->key, n);
                x->next = b[k];
                b[k] = x;
            }
        }
        free(cw->buckets);
        cw->buckets = b;
        cw->n_buckets = n;
    }
    return r;
}

static void room_release(chat_worker_t *cw, chat_wroom_t *r)
{
    if (r->n_members > 0) return;
    chat_wroom_t **pp = &cw->buckets[room_hash(r->org_id, r->key, cw->n_buckets)];
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    cw->n_rooms--;
    free(r);
}

/* ---- members and typing -------------------------------------------------------------------------
 */

static chat_member_t *member_find(chat_session_t *s, const char *key)
{
    queue_t *q;
    QUEUE_FOREACH(q, &s->members)
    {
        chat_member_t *m = QUEUE_DATA(q, chat_member_t, sess_node);
        if (strcmp(m->ref.key, key) == 0) return m;
    }
    return NULL;
}

/* A pending membership: in the room's list (so that nothing else can create it twice) but not
 * delivered to until the join answer activates it. */
static chat_member_t *member_add(chat_session_t *s, const chat_room_ref_t *ref)
{
    chat_member_t *m = xcalloc(1, sizeof *m);
    m->sess = s;
    m->ref = *ref;
    queue_init(&m->typing_node);
    m->room = room_find(s->cw, s->actor.org_id, ref->key, 1);
    queue_insert_tail(&m->room->members, &m->room_node);
    m->room->n_members++;
    queue_insert_tail(&s->members, &m->sess_node);
    s->n_members++;
    return m;
}

static void post_one(chat_session_t *s, chat_ev_kind_t kind, const char *room, blob_t *body)
{
    chat_server_t *srv = s->cw->srv;
    chat_batch_t *b = chat__batch_new(srv, 1);
    chat_event_t *ev = &b->ev[0];
    ev->kind = kind;
    ev->org_id = s->actor.org_id;
    snprintf(ev->room, sizeof ev->room, "%s", room);
    chat__session_ref(s);
    ev->origin = s;
    ev->body = body;
    chat__batch_post(srv, b, NULL);
}

static void typing_post(chat_session_t *s, chat_member_t *m, int start)
{
    post_one(s, CHAT_EV_TYPING, m->ref.key,
             chat__body(json_pack("{s:s,s:s,s:I,s:s,s:s}", "type", "typing", "roomId", m->ref.key,
                                  "userId", (json_int_t)s->actor.user_id, "userName", s->name,
                                  "state", start ? "start" : "stop")));
}

static void typing_start(chat_session_t *s, chat_member_t *m, uint64_t now)
{
    if (m->typing_until == 0) {
        queue_insert_tail(&s->cw->typing, &m->typing_node);
        typing_post(s, m, 1);
    }
    /* A refresh only pushes the expiry back: the others already know. */
    m->typing_until = now + s->cw->srv->lim.typing_timeout_ms;
}

static void typing_end(chat_session_t *s, chat_member_t *m, int announce)
{
    if (m->typing_until == 0) return;
    m->typing_until = 0;
    queue_remove(&m->typing_node);
    if (announce) typing_post(s, m, 0);
}

/* prune: an explicit leave (see chat_users_room_del). */
static void member_remove(chat_session_t *s, chat_member_t *m, int prune)
{
    typing_end(s, m, !s->cw->stopping);
    if (m->active) chat_users_room_del(s->cw->srv->users, s->user, m->ref.key, prune);
    queue_remove(&m->room_node);
    m->room->n_members--;
    room_release(s->cw, m->room);
    queue_remove(&m->sess_node);
    s->n_members--;
    free(m);
}

/* ---- presence -----------------------------------------------------------------------------------
 */

/* The table's callback, with its lock held: encode, copy the rooms, post. Posting under the lock
 * keeps one user's announcements in order on every worker. room NULL: a status change, for the
 * user's rooms and the organisation's "org" room; else the user is newly in room, which alone
 * hears it (its members may have missed the user's last change, which went to the rooms the
 * user was in then). */
static void on_presence(void *data, const chat_user_t *u, const char *room)
{
    chat_server_t *srv = data;
    chat_batch_t *b = chat__batch_new(srv, 1);
    chat_event_t *ev = &b->ev[0];
    ev->kind = CHAT_EV_PRESENCE;
    ev->org_id = u->org_id;
    ev->user_id = u->user_id;
    ev->serial = atomic_fetch_add_explicit(&srv->presence_serial, 1, memory_order_relaxed) + 1;
    /* Several nodes: what is announced is the user's status on all of them together. */
    chat_status_t status = u->pres.status;
    int64_t last = u->pres.last_active_ms;
    if (srv->cluster)
        status = room ? chat__cluster_status(srv->cluster, u->org_id, u->user_id, status, &last)
                      : chat__cluster_presence(srv->cluster, u);
    json_t *o =
        json_pack("{s:s,s:I,s:s,s:s,s:o}", "type", "presence", "userId", (json_int_t)u->user_id,
                  "userName", u->name, "status", chat_status_name(status), "lastActiveAt",
                  chat_json_time(last));
    if (room) {
        json_object_set_new(o, "roomId", json_string(room));
        snprintf(ev->room, sizeof ev->room, "%s", room); /* room-scoped: not the "org" room */
        ev->rooms = xmalloc(sizeof *ev->rooms);
        snprintf(ev->rooms[0], CHAT_ROOM_KEY_MAX, "%s", room);
        ev->n_rooms = 1;
    } else if (u->n_rooms) {
        ev->rooms = xmalloc(u->n_rooms * sizeof *ev->rooms);
        for (size_t i = 0; i < u->n_rooms; i++)
            memcpy(ev->rooms[i], u->rooms[i].key, CHAT_ROOM_KEY_MAX);
        ev->n_rooms = u->n_rooms;
    }
    ev->body = chat__body(o);
    chat__batch_post(srv, b, NULL);
}

/* Something the user did on this connection. */
static void activity(chat_session_t *s)
{
    chat_server_t *srv = s->cw->srv;
    uint64_t now = clock_mono_ms();
    s->last_activity = now;
    if (s->away) {
        s->away = 0;
        s->last_touch = now;
        chat_users_set_away(srv->users, s->user, 0, clock_unix_ms());
    } else if (now - s->last_touch >= 1000) {
        /* The last-active time is a display value: a second's precision is plenty, and it
         * spares the table's lock on every keystroke. */
        s->last_touch = now;
        chat_users_touch(srv->users, s->user, clock_unix_ms());
    }
}

static void set_away(chat_session_t *s)
{
    if (s->away) return;
    s->away = 1;
    chat_users_set_away(s->cw->srv->users, s->user, 1, clock_unix_ms());
}

static void grace_watch(chat_worker_t *cw, chat_user_t *u)
{
    for (size_t i = 0; i < cw->n_grace; i++)
        if (cw->grace[i] == u) return;
    if (cw->n_grace == cw->cap_grace) {
        cw->cap_grace = cw->cap_grace ? cw->cap_grace * 2 : 16;
        cw->grace = xrealloc(cw->grace, cw->cap_grace * sizeof *cw->grace);
    }
    cw->grace[cw->n_grace++] = u;
}

/* ---- the event handlers (on each worker) --------------------------------------------------------
 */

static int is_local(chat_worker_t *cw, const chat_session_t *s)
{
    return s && s->cw == cw && !s->closed;
}

static void deliver_message(chat_session_t *s, const chat_event_t *ev, uint64_t now_ns)
{
    if (send_blob(s, s == ev->origin ? ev->reply : ev->body) != 0) return;
    RT_INC(s->cw->m.deliveries, 1);
    if (ev->recv_ns && now_ns > ev->recv_ns)
        rt_hist_record(&s->cw->m.latency, (now_ns - ev->recv_ns) / 1000);
}

/* Sends body to the active members of (org, key), skipping skip (may be NULL). */
static void to_room(chat_worker_t *cw, const chat_event_t *ev, const chat_session_t *skip)
{
    chat_wroom_t *r = room_find(cw, ev->org_id, ev->room, 0);
    if (r == NULL) return;
    uint64_t now_ns = ev->kind == CHAT_EV_MESSAGE ? clock_mono_ns() : 0;
    for (queue_t *q = r->members.next; q != &r->members; q = q->next) {
        chat_member_t *m = QUEUE_DATA(q, chat_member_t, room_node);
        if (!m->active || m->sess == skip) continue;
        if (ev->kind == CHAT_EV_MESSAGE)
            deliver_message(m->sess, ev, now_ns);
        else
            send_blob(m->sess, ev->body);
    }
}

static void on_joined(chat_worker_t *cw, chat_event_t *ev)
{
    chat_session_t *s = ev->origin;
    chat_member_t *m = member_find(s, ev->room);
    if (m == NULL || m->gen != ev->gen) return; /* left, or a newer join is on its way */
    chat_server_t *srv = cw->srv;
    int fresh = !m->active;
    if (fresh) {
        m->active = 1;
        m->room_id = ev->room_id;
    }
    if (ev->read_pos > m->read_pos) m->read_pos = ev->read_pos;
    if (s->name[0] == '\0' && ev->self_name[0] != '\0') {
        /* The token had no name: the user row's is the next best. */
        snprintf(s->name, sizeof s->name, "%s", ev->self_name);
        chat_users_set_name(srv->users, s->user, s->name);
    }
    if (fresh) chat_users_room_add(srv->users, s->user, m->ref.key);
    /* Presence now, on this loop: any change after this reading reaches this member live. */
    size_t n = ev->n_members;
    int64_t *ids = xmalloc((n ? n : 1) * sizeof *ids);
    chat_status_t *st = xmalloc((n ? n : 1) * sizeof *st);
    int64_t *last = xmalloc((n ? n : 1) * sizeof *last);
    for (size_t i = 0; i < n; i++)
        ids[i] = ev->members[i].user_id;
    chat_users_lookup(srv->users, s->actor.org_id, ids, n, st, last);
    if (srv->cluster) chat__cluster_merge(srv->cluster, s->actor.org_id, ids, n, st, last);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:o,s:I}", "userId", (json_int_t)ids[i],
                                             "userName", ev->members[i].name, "status",
                                             chat_status_name(st[i]), "lastActiveAt",
                                             chat_json_time(last[i]), "lastReadId",
                                             (json_int_t)ev->members[i].last_read_id));
    free(ids);
    free(st);
    free(last);
    json_t *ans = json_copy(ev->joined); /* shallow: the event keeps its own */
    json_object_set_new(ans, "members", arr);
    send_obj(s, ans);
}

static void handle_event(chat_worker_t *cw, chat_event_t *ev)
{
    switch (ev->kind) {
    case CHAT_EV_MESSAGE:
        /* The sender's connection gets its ack where the others get the message: in the same
         * place of the room's order. */
        if (is_local(cw, ev->origin)) deliver_message(ev->origin, ev, clock_mono_ns());
        to_room(cw, ev, ev->origin);
        break;
    case CHAT_EV_ROOM: {
        chat_wroom_t *r = ev->read_pos ? room_find(cw, ev->org_id, ev->room, 0) : NULL;
        for (queue_t *q = r ? r->members.next : NULL; r && q != &r->members; q = q->next) {
            chat_member_t *m = QUEUE_DATA(q, chat_member_t, room_node);
            if (m->sess->actor.user_id == ev->user_id && ev->read_pos > m->read_pos)
                m->read_pos = ev->read_pos;
        }
        to_room(cw, ev, NULL);
        break;
    }
    case CHAT_EV_REPLY:
        if (is_local(cw, ev->origin)) send_blob(ev->origin, ev->reply);
        break;
    case CHAT_EV_JOINED:
        if (is_local(cw, ev->origin)) on_joined(cw, ev);
        break;
    case CHAT_EV_JOIN_FAILED:
        if (is_local(cw, ev->origin)) {
            chat_member_t *m = member_find(ev->origin, ev->room);
            /* A refused first join drops the pending place; a failed re-join keeps the room. */
            if (m && m->gen == ev->gen && !m->active) member_remove(ev->origin, m, 1);
            send_blob(ev->origin, ev->reply);
        }
        break;
    case CHAT_EV_TYPING:
        to_room(cw, ev, ev->origin);
        break;
    case CHAT_EV_PRESENCE: {
        /* The user's rooms and the organisation's "org" room; a member in several of them gets
         * it once. */
        for (size_t i = 0; i <= ev->n_rooms; i++) {
            const char *key = i < ev->n_rooms ? ev->rooms[i] : "org";
            if (i == ev->n_rooms && ev->room[0]) break; /* room-scoped: not the org room */
            chat_wroom_t *r = room_find(cw, ev->org_id, key, 0);
            if (r == NULL) continue;
            for (queue_t *q = r->members.next; q != &r->members; q = q->next) {
                chat_member_t *m = QUEUE_DATA(q, chat_member_t, room_node);
                if (!m->active || m->sess->presence_mark == ev->serial) continue;
                m->sess->presence_mark = ev->serial;
                send_blob(m->sess, ev->body);
            }
        }
        break;
    }
    }
}

static void on_batch_task(net_worker_t *w, void *data)
{
    chat_batch_t *b = data;
    chat_worker_t *cw = &b->srv->cw[w->index];
    if (!cw->stopping)
        for (size_t i = 0; i < b->n; i++)
            handle_event(cw, &b->ev[i]);
    chat__batch_unref(b);
}

/* ---- requests -----------------------------------------------------------------------------------
 */

static chat_op_t *op_new(chat_session_t *s, chat_op_kind_t kind, const chat_member_t *m)
{
    chat_op_t *op = xcalloc(1, sizeof *op);
    op->kind = kind;
    chat__session_ref(s);
    op->sess = s;
    op->room = m->ref;
    op->room_id = m->room_id;
    op->recv_ns = clock_mono_ns();
    snprintf(op->user_name, sizeof op->user_name, "%s", s->name);
    return op;
}

static void submit(chat_session_t *s, chat_op_t *op)
{
    chat__writer_submit(s->cw->srv, &s->cw->w->loop, op);
}

/* "roomId": a room id string. Answers and returns -1 when it is not. */
static int room_arg(chat_session_t *s, json_t *msg, chat_room_ref_t *ref)
{
    json_t *v = json_object_get(msg, "roomId");
    if (!json_is_string(v)) {
        send_error(s, "invalid_message", NULL, "\"roomId\" must be a room id string");
        return -1;
    }
    if (chat_room_parse(json_string_value(v), json_string_length(v), ref) != 0) {
        /* Echo at most 64 bytes of it, cut at a character boundary. */
        const char *p = json_string_value(v);
        size_t n = json_string_length(v);
        if (n > 64) {
            n = 64;
            while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
                n--;
        }
        send_error(s, "unknown_room", json_pack("{s:s%}", "roomId", p, n),
                   "room ids are org, property-<id>, task-<id> or dm-<userId>-<userId>");
        return -1;
    }
    return 0;
}

/* The active membership named by "roomId", or NULL after answering. */
static chat_member_t *joined_arg(chat_session_t *s, json_t *msg)
{
    chat_room_ref_t ref;
    if (room_arg(s, msg, &ref) != 0) return NULL;
    chat_member_t *m = member_find(s, ref.key);
    if (m == NULL || !m->active) {
        send_error(s, "not_joined", room_ctx(ref.key), "join room %s first", ref.key);
        return NULL;
    }
    return m;
}

static int id_arg(chat_session_t *s, json_t *msg, const char *field, const char *room, int64_t *out)
{
    json_t *v = json_object_get(msg, field);
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        send_error(s, "invalid_message", room_ctx(room), "\"%s\" must be a positive integer",
                   field);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* "text": 1..max_length characters, not only white space, no control characters but line
 * breaks and tabs. On success *out points into msg. */
static int text_arg(chat_session_t *s, json_t *msg, json_t *ctx, const char **out)
{
    json_t *v = json_object_get(msg, "text");
    unsigned max = s->cw->srv->lim.max_length;
    if (!json_is_string(v)) {
        send_error(s, "invalid_message", ctx, "\"text\" must be a string");
        return -1;
    }
    const unsigned char *p = (const unsigned char *)json_string_value(v);
    size_t len = json_string_length(v), chars = 0;
    int visible = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if ((c & 0xC0) != 0x80) chars++;
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
            send_error(s, "invalid_message", ctx, "\"text\" holds a control character");
            return -1;
        }
        if (c == 0x7F) {
            send_error(s, "invalid_message", ctx, "\"text\" holds a control character");
            return -1;
        }
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') visible = 1;
    }
    if (chars > max) {
        json_object_set_new(ctx, "maxLength", json_integer(max));
        send_error(s, "message_too_long", ctx, "\"text\" has %zu characters; the limit is %u",
                   chars, max);
        return -1;
    }
    if (!visible) {
        send_error(s, "invalid_message", ctx, "\"text\" must not be empty");
        return -1;
    }
    json_decref(ctx);
    *out = (const char *)p;
    return 0;
}

/* One token of the user's message rate; answers rate_limited (ctx stolen either way). */
static int rate_ok(chat_session_t *s, json_t *ctx)
{
    chat_server_t *srv = s->cw->srv;
    uint64_t retry = 0;
    if (chat_users_take(srv->users, s->user, srv->lim.rate, srv->lim.burst, clock_mono_ms(),
                        &retry) == 0) {
        json_decref(ctx);
        return 1;
    }
    RT_INC(s->cw->m.rate_limited, 1);
    json_object_set_new(ctx, "retryAfterMs", json_integer((json_int_t)retry));
    send_error(s, "rate_limited", ctx,
               "more than %u messages a second (burst %u): retry in %" PRIu64 " ms", srv->lim.rate,
               srv->lim.burst, retry);
    return 0;
}

static void do_join(chat_session_t *s, json_t *msg)
{
    chat_room_ref_t ref;
    if (room_arg(s, msg, &ref) != 0) return;
    chat_member_t *m = member_find(s, ref.key);
    if (m == NULL) {
        unsigned max = s->cw->srv->lim.max_rooms;
        if (s->n_members >= max) {
            json_t *ctx = room_ctx(ref.key);
            json_object_set_new(ctx, "maxRooms", json_integer(max));
            send_error(s, "too_many_rooms", ctx, "a connection may be in at most %u rooms", max);
            return;
        }
        m = member_add(s, &ref);
    }
    /* A join of a room already joined (or joining) asks again: the newest answer wins. */
    m->gen = ++s->next_gen;
    chat_op_t *op = op_new(s, CHAT_OP_JOIN, m);
    op->gen = m->gen;
    submit(s, op);
}

static void do_leave(chat_session_t *s, json_t *msg)
{
    chat_room_ref_t ref;
    if (room_arg(s, msg, &ref) != 0) return;
    chat_member_t *m = member_find(s, ref.key);
    if (m == NULL) {
        send_error(s, "not_joined", room_ctx(ref.key), "not in room %s", ref.key);
        return;
    }
    member_remove(s, m, 1);
    send_obj(s, json_pack("{s:s,s:s}", "type", "left", "roomId", ref.key));
}

static void do_message(chat_session_t *s, json_t *msg)
{
    chat_member_t *m = joined_arg(s, msg);
    if (m == NULL) return;
    json_t *cid = json_object_get(msg, "clientMsgId");
    const char *c = json_string_value(cid);
    size_t cl = c ? json_string_length(cid) : 0;
    int ok = c && cl >= 1 && cl <= CHAT_CLIENT_MSG_ID_MAX;
    for (size_t i = 0; ok && i < cl; i++)
        ok = c[i] > 0x20 && c[i] < 0x7F;
    if (!ok) {
        send_error(s, "invalid_message", room_ctx(m->ref.key),
                   "\"clientMsgId\" must be 1 to %d printable ASCII characters, unique per message",
                   CHAT_CLIENT_MSG_ID_MAX);
        return;
    }
    const char *text;
    json_t *ctx = json_pack("{s:s,s:s}", "roomId", m->ref.key, "clientMsgId", c);
    if (text_arg(s, msg, json_incref(ctx), &text) != 0 || !rate_ok(s, json_incref(ctx))) {
        json_decref(ctx);
        return;
    }
    json_decref(ctx);
    activity(s);
    typing_end(s, m, 1); /* the message is what the typing was for */
    chat_op_t *op = op_new(s, CHAT_OP_SEND, m);
    snprintf(op->client_msg_id, sizeof op->client_msg_id, "%s", c);
    op->text = xstrdup(text);
    submit(s, op);
}

static void do_edit_delete(chat_session_t *s, json_t *msg, int edit)
{
    chat_member_t *m = joined_arg(s, msg);
    if (m == NULL) return;
    int64_t id;
    if (id_arg(s, msg, "messageId", m->ref.key, &id) != 0) return;
    const char *text = NULL;
    json_t *ctx = json_pack("{s:s,s:I}", "roomId", m->ref.key, "messageId", (json_int_t)id);
    if ((edit && text_arg(s, msg, json_incref(ctx), &text) != 0) || !rate_ok(s, json_incref(ctx))) {
        json_decref(ctx);
        return;
    }
    json_decref(ctx);
    activity(s);
    chat_op_t *op = op_new(s, edit ? CHAT_OP_EDIT : CHAT_OP_DELETE, m);
    op->msg_id = id;
    if (text) op->text = xstrdup(text);
    submit(s, op);
}

static void do_read(chat_session_t *s, json_t *msg)
{
    chat_member_t *m = joined_arg(s, msg);
    if (m == NULL) return;
    int64_t id;
    if (id_arg(s, msg, "messageId", m->ref.key, &id) != 0) return;
    activity(s);
    if (id <= m->read_pos) {
        /* Positions only move forwards: known without asking the store. */
        send_obj(s, json_pack("{s:s,s:s,s:I,s:I}", "type", "read", "roomId", m->ref.key, "userId",
                              (json_int_t)s->actor.user_id, "messageId", (json_int_t)m->read_pos));
        return;
    }
    chat_op_t *op = op_new(s, CHAT_OP_READ, m);
    op->msg_id = id;
    submit(s, op);
}

static void do_typing(chat_session_t *s, json_t *msg)
{
    chat_member_t *m = joined_arg(s, msg);
    if (m == NULL) return;
    const char *state = json_string_value(json_object_get(msg, "state"));
    if (state && strcmp(state, "start") == 0) {
        activity(s);
        typing_start(s, m, clock_mono_ms());
    } else if (state && strcmp(state, "stop") == 0) {
        typing_end(s, m, 1);
    } else {
        send_error(s, "invalid_message", room_ctx(m->ref.key),
                   "\"state\" must be \"start\" or \"stop\"");
    }
}

static void do_presence(chat_session_t *s, json_t *msg)
{
    const char *st = json_string_value(json_object_get(msg, "status"));
    if (st && strcmp(st, "away") == 0) {
        set_away(s);
    } else if (st && strcmp(st, "online") == 0) {
        activity(s);
    } else {
        send_error(s, "invalid_message", NULL, "\"status\" must be \"online\" or \"away\"");
    }
}

/* history: a page of older messages, read on the thread pool. */
typedef struct hist_op_s {
    chat_session_t *s; /* a reference */
    store_t *store;
    int64_t room_id, before;
    size_t limit;
    char key[CHAT_ROOM_KEY_MAX];
    int rc;
    store_chat_msg_t *msgs;
    size_t n;
} hist_op_t;

static void hist_work(store_t *st, void *data)
{
    hist_op_t *h = data;
    store_chat_tx_t *tx;
    if ((h->rc = store_chat_begin(st, 0, &tx)) != 0) return;
    h->rc = store_chat_history(tx, h->room_id, h->before, h->limit + 1, &h->msgs, &h->n);
    store_chat_rollback(tx); /* a read: nothing to commit */
}

static void hist_done(void *data, int status)
{
    hist_op_t *h = data;
    chat_session_t *s = h->s;
    if (status != 0 || h->rc != 0) {
        send_error(s, "store_unavailable", room_ctx(h->key), "history could not be read");
    } else {
        int more = h->n > h->limit;
        size_t n = more ? h->limit : h->n;
        json_t *arr = json_array();
        for (size_t i = n; i-- > 0;)
            json_array_append_new(arr, chat_json_message(&h->msgs[i], h->key));
        send_obj(s, json_pack("{s:s,s:s,s:o,s:b,s:o}", "type", "history", "roomId", h->key,
                              "messages", arr, "hasMore", more, "nextBefore",
                              more && n ? json_integer(h->msgs[n - 1].id) : json_null()));
    }
    store_chat_msgs_free(h->msgs, h->n);
    chat__session_unref(s);
    free(h);
}

static void do_history(chat_session_t *s, json_t *msg)
{
    chat_member_t *m = joined_arg(s, msg);
    if (m == NULL) return;
    json_t *b = json_object_get(msg, "before"), *l = json_object_get(msg, "limit");
    int64_t before = 0, limit = s->cw->srv->lim.history;
    if (b && !json_is_null(b) && id_arg(s, msg, "before", m->ref.key, &before) != 0) return;
    if (l && !json_is_null(l)) {
        if (!json_is_integer(l) || json_integer_value(l) < 1 ||
            json_integer_value(l) > CHAT_PAGE_MAX) {
            send_error(s, "invalid_message", room_ctx(m->ref.key),
                       "\"limit\" must be an integer from 1 to %d", CHAT_PAGE_MAX);
            return;
        }
        limit = json_integer_value(l);
    }
    if (limit > CHAT_PAGE_MAX) limit = CHAT_PAGE_MAX;
    hist_op_t *h = xcalloc(1, sizeof *h);
    chat__session_ref(s);
    h->s = s;
    h->room_id = m->room_id;
    h->before = before;
    h->limit = (size_t)limit;
    snprintf(h->key, sizeof h->key, "%s", m->ref.key);
    if (store_submit(s->cw->srv->store, &s->cw->w->loop, hist_work, hist_done, h) != 0) {
        h->rc = BH_ESTORE;
        hist_done(h, 0);
    }
}

static void send_ready(chat_session_t *s)
{
    const chat_limits_t *l = &s->cw->srv->lim;
    send_obj(s, json_pack("{s:s,s:s,s:I,s:I,s:s,s:i,s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}}", "type",
                          "ready", "connectionId", s->id, "userId", (json_int_t)s->actor.user_id,
                          "orgId", (json_int_t)s->actor.org_id, "userName", s->name, "heartbeatMs",
                          (int)l->ws.heartbeat_ms, "limits", "historySize", (int)l->history,
                          "maxMessageLength", (int)l->max_length, "ratePerSecond", (int)l->rate,
                          "burst", (int)l->burst, "maxRooms", (int)l->max_rooms, "typingTimeoutMs",
                          (int)l->typing_timeout_ms, "awayAfterMs", (int)l->away_ms,
                          "offlineGraceMs", (int)l->offline_grace_ms));
}

static void on_message(ws_conn_t *ws, int opcode, uint8_t *data, size_t len)
{
    chat_session_t *s = ws_conn_udata(ws);
    s->ws = ws;
    if (s->seq == 0) send_ready(s); /* the upgrade request may have carried messages */
    RT_INC(s->cw->m.messages_in, 1);
    if (opcode != WS_OP_TEXT) {
        fail(s, CHAT_CLOSE_BINARY, "binary_not_supported", "the chat accepts JSON text only");
        return;
    }
    json_error_t jerr;
    json_t *msg = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (msg == NULL || !json_is_object(msg)) {
        send_error(s, "invalid_message", NULL, "expected a JSON object: %s",
                   msg ? "not an object" : jerr.text);
        json_decref(msg);
        return;
    }
    json_t *ctx = json_object();
    static const char *const echo[] = {"roomId", "clientMsgId", "messageId"};
    for (size_t i = 0; i < sizeof echo / sizeof echo[0]; i++) {
        json_t *v = json_object_get(msg, echo[i]);
        /* Echo only what is short and of the right type: errors must not amplify input. */
        if ((json_is_string(v) && json_string_length(v) <= 64) || json_is_integer(v))
            json_object_set(ctx, echo[i], v);
    }
    s->req_ctx = ctx;
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (type == NULL)
        send_error(s, "invalid_message", NULL, "\"type\" is required");
    else if (strcmp(type, "message") == 0)
        do_message(s, msg);
    else if (strcmp(type, "typing") == 0)
        do_typing(s, msg);
    else if (strcmp(type, "read") == 0)
        do_read(s, msg);
    else if (strcmp(type, "join") == 0)
        do_join(s, msg);
    else if (strcmp(type, "leave") == 0)
        do_leave(s, msg);
    else if (strcmp(type, "history") == 0)
        do_history(s, msg);
    else if (strcmp(type, "edit") == 0)
        do_edit_delete(s, msg, 1);
    else if (strcmp(type, "delete") == 0)
        do_edit_delete(s, msg, 0);
    else if (strcmp(type, "presence") == 0)
        do_presence(s, msg);
    else if (strcmp(type, "ping") == 0) {
        char ts[32];
        clock_iso8601(ts, sizeof ts);
        send_obj(s, json_pack("{s:s,s:s}", "type", "pong", "timestamp", ts));
    } else
        send_error(s, "unknown_type", NULL, "unknown message type '%.32s'", type);
    s->req_ctx = NULL;
    json_decref(ctx);
    json_decref(msg);
}

static void on_timeout(ws_conn_t *ws)
{
    chat_session_t *s = ws_conn_udata(ws);
    s->ws = ws;
    if (s->exp && clock_unix_s() >= s->exp + JWT_LEEWAY_S) {
        fail(s, CHAT_CLOSE_TOKEN_EXPIRED, "token_expired",
             "the token expired: reconnect with a fresh one and rejoin your rooms");
        return;
    }
    ws_conn_heartbeat(ws);
}

/* Undoes everything the loop knows about s: rooms, typing, presence. */
static void session_teardown(chat_session_t *s)
{
    chat_worker_t *cw = s->cw;
    chat_server_t *srv = cw->srv;
    s->closed = 1;
    s->ws = NULL;
    while (!queue_empty(&s->members))
        member_remove(s, QUEUE_DATA(s->members.next, chat_member_t, sess_node), 0);
    if (chat_users_disconnect(srv->users, s->user, !s->away, clock_mono_ms(),
                              srv->lim.offline_grace_ms) &&
        !cw->stopping)
        grace_watch(cw, s->user);
    queue_remove(&s->node);
    RT_INC(cw->m.connections, -1);
    chat__session_unref(s);
}

static void on_close(ws_conn_t *ws, int code)
{
    chat_session_t *s = ws_conn_udata(ws);
    LOG_D("chat_closed", "conn=%s code=%d", s->id, code);
    session_teardown(s);
}

static const ws_handler_t chat_handler = {on_message, on_timeout, on_close, NULL};

void chat_accept(chat_server_t *srv, http_req_t *req, auth_claims_t *claims)
{
    net_worker_t *w = http_req_worker(req);
    chat_worker_t *cw = &srv->cw[w->index];
    if (cw->stopping) {
        auth_claims_dispose(claims);
        http_respond_error(req, 503, "unavailable", "the server is shutting down");
        return;
    }
    chat_session_t *s = xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1); /* the connection's */
    s->cw = cw;
    s->actor.org_id = claims->org_id;
    s->actor.user_id = claims->sub;
    s->actor.role = claims->role;
    s->actor.all_properties = claims->all_properties;
    s->actor.n_properties = claims->n_properties;
    s->property_ids = claims->property_ids; /* stolen */
    s->actor.property_ids = s->property_ids;
    claims->property_ids = NULL;
    claims->n_properties = 0;
    s->exp = claims->exp;
    snprintf(s->name, sizeof s->name, "%s", claims->name);
    auth_claims_dispose(claims);
    snprintf(s->id, sizeof s->id, "c%d-%" PRIu64, w->index, ++cw->next_session);
    queue_init(&s->members);
    s->last_activity = s->last_touch = clock_mono_ms();
    s->user = chat_users_get(srv->users, s->actor.org_id, s->actor.user_id);
    queue_insert_tail(&cw->sessions, &s->node);
    RT_INC(cw->m.connections, 1);
    RT_INC(cw->m.connections_total, 1);
    chat_users_connect(srv->users, s->user, s->name, clock_unix_ms());
    ws_conn_t *ws = ws_accept(req, &chat_handler, s, &srv->lim.ws);
    if (ws == NULL) {
        session_teardown(s); /* the client went before the upgrade: as if it closed */
        return;
    }
    s->ws = ws;
    if (s->seq == 0) send_ready(s);
}

/* ---- the sweep ----------------------------------------------------------------------------------
 */

static void on_sweep(uv_timer_t *t)
{
    chat_worker_t *cw = t->data;
    chat_server_t *srv = cw->srv;
    uint64_t now = clock_mono_ms();
    for (queue_t *q = cw->typing.next; q != &cw->typing;) {
        chat_member_t *m = QUEUE_DATA(q, chat_member_t, typing_node);
        q = q->next;
        if (m->typing_until <= now) typing_end(m->sess, m, 1);
    }
    unsigned away = srv->lim.away_ms;
    queue_t *q;
    QUEUE_FOREACH(q, &cw->sessions)
    {
        chat_session_t *s = QUEUE_DATA(q, chat_session_t, node);
        if (!s->away && !s->closed && now - s->last_activity >= away) set_away(s);
    }
    for (size_t i = 0; i < cw->n_grace;) {
        if (chat_users_tick(srv->users, cw->grace[i], now))
            i++;
        else
            cw->grace[i] = cw->grace[--cw->n_grace];
    }
}

/* ---- the server ---------------------------------------------------------------------------------
 */

static unsigned sweep_interval(const chat_limits_t *l)
{
    unsigned m = l->typing_timeout_ms;
    if (l->away_ms < m) m = l->away_ms;
    if (l->offline_grace_ms && l->offline_grace_ms < m) m = l->offline_grace_ms;
    m /= 4;
    return m < 10 ? 10 : m > 1000 ? 1000 : m;
}

chat_server_t *chat_server_new(store_t *st, const chat_limits_t *lim, net_worker_t *workers,
                               int n_workers)
{
    chat_server_t *srv = xcalloc(1, sizeof *srv);
    srv->store = st;
    srv->lim = *lim;
    if (srv->lim.rate == 0) srv->lim.rate = 1;
    if (srv->lim.burst == 0) srv->lim.burst = 1;
    if (srv->lim.history == 0) srv->lim.history = 1;
    if (srv->lim.history > STORE_CHAT_PAGE_MAX - 1) srv->lim.history = STORE_CHAT_PAGE_MAX - 1;
    srv->n_workers = n_workers;
    uv_mutex_init(&srv->wlock);
    uv_mutex_init(&srv->post_lock);
    queue_init(&srv->wqueue);
    srv->users = chat_users_new(on_presence, srv, srv->lim.burst);
    srv->cw = xcalloc((size_t)(n_workers ? n_workers : 1), sizeof *srv->cw);
    unsigned every = sweep_interval(&srv->lim);
    for (int i = 0; i < n_workers; i++) {
        chat_worker_t *cw = &srv->cw[i];
        cw->srv = srv;
        cw->w = &workers[i];
        queue_init(&cw->sessions);
        queue_init(&cw->typing);
        cw->n_buckets = 64;
        cw->buckets = xcalloc(cw->n_buckets, sizeof *cw->buckets);
        uv_timer_init(&workers[i].loop, &cw->sweep);
        cw->sweep.data = cw;
        uv_timer_start(&cw->sweep, on_sweep, every, every);
        /* Never what keeps a loop alive: if the shutdown task cannot run, the worker still
         * stops (its loop then reports the handle at close). */
        uv_unref((uv_handle_t *)&cw->sweep);
    }
    return srv;
}

static void on_shutdown_task(net_worker_t *w, void *data)
{
    chat_server_t *srv = data;
    chat_worker_t *cw = &srv->cw[w->index];
    cw->stopping = 1;
    /* From now on nothing of the chat reaches this worker: it is about to stop, and after its
     * join its inbox is gone, while the writer may still be running for another worker. */
    uv_mutex_lock(&srv->post_lock);
    cw->closed = 1;
    uv_mutex_unlock(&srv->post_lock);
    queue_t *q;
    QUEUE_FOREACH(q, &cw->sessions)
    {
        chat_session_t *s = QUEUE_DATA(q, chat_session_t, node);
        if (s->ws) ws_conn_close(s->ws, WS_CLOSE_GOING_AWAY, "server shutting down");
    }
    uv_close((uv_handle_t *)&cw->sweep, NULL);
    free(cw->grace);
    cw->grace = NULL;
    cw->n_grace = cw->cap_grace = 0;
}

void chat_server_shutdown(chat_server_t *srv)
{
    if (srv == NULL) return;
    for (int i = 0; i < srv->n_workers; i++) {
        if (chat__post(srv, i, on_shutdown_task, srv) == 0) continue;
        /* The worker is already stopping: its loop will not run the task. */
        uv_mutex_lock(&srv->post_lock);
        srv->cw[i].closed = 1;
        uv_mutex_unlock(&srv->post_lock);
    }
}

void chat_server_free(chat_server_t *srv)
{
    if (srv == NULL) return;
    for (int i = 0; i < srv->n_workers; i++) {
        chat_worker_t *cw = &srv->cw[i];
        /* Every session closed with its worker, and took its rooms along. */
        for (size_t b = 0; b < cw->n_buckets; b++) {
            for (chat_wroom_t *r = cw->buckets[b], *next; r; r = next) {
                next = r->next;
                free(r);
            }
        }
        free(cw->buckets);
        free(cw->grace);
    }
    /* The workers are joined: every drain they waited for has ended, so the queue is empty. */
    while (!queue_empty(&srv->wqueue)) {
        queue_t *q = srv->wqueue.next;
        queue_remove(q);
        chat__op_free(QUEUE_DATA(q, chat_op_t, node));
    }
    chat_users_free(srv->users);
    chat_cluster_free(srv->cluster);
    uv_mutex_destroy(&srv->post_lock);
    uv_mutex_destroy(&srv->wlock);
    free(srv->cw);
    free(srv);
}

const chat_limits_t *chat_server_limits(const chat_server_t *srv)
{
    return &srv->lim;
}

void chat_server_metrics(chat_server_t *srv, chat_metrics_t *m, chat_totals_t *t)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < srv->n_workers; i++) {
        const chat_metrics_t *x = &srv->cw[i].m;
#define ADD(f) atomic_store(&m->f, atomic_load(&m->f) + atomic_load(&x->f))
        ADD(connections);
        ADD(connections_total);
        ADD(messages_in);
        ADD(messages_out);
        ADD(bytes_out);
        ADD(deliveries);
        ADD(rate_limited);
        ADD(slow_consumer_closes);
        for (int k = 0; k < RT_HIST_BUCKETS; k++)
            ADD(latency.buckets[k]);
        ADD(latency.count);
        ADD(latency.sum_us);
#undef ADD
        uint64_t mx = atomic_load(&x->latency.max_us);
        if (mx > atomic_load(&m->latency.max_us)) atomic_store(&m->latency.max_us, mx);
    }
    t->stored = atomic_load(&srv->stored);
    t->batches = atomic_load(&srv->batches);
    t->ops = atomic_load(&srv->ops);
    t->store_errors = atomic_load(&srv->store_errors);
    t->checkpoints = atomic_load(&srv->checkpoints);
    t->wal_frames = atomic_load(&srv->wal_frames);
}
