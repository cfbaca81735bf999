/* chat.c: collaboration routes: the chat stream's upgrade, and REST views of the same rooms.
 *
 *   GET /v2/collaboration/chat/stream                  WebSocket (src/chat/chat.h)
 *   GET /v2/collaboration/rooms                        the caller's rooms, with unread counts
 *   GET /v2/collaboration/rooms/{id}/messages?before=&limit=   a room's messages, newest first
 *   GET /v2/collaboration/metrics                      counters (owner, admin, service)
 *
 * {id} is a room id as the stream spells it ("property-3", "dm-2-9", "org"). The REST reads use
 * the stream's access rules (chat/access.h) and run in one read transaction each. */
#include "chat/access.h"
#include "handlers/admit.h"
#include "chat/chat.h"
#include "handlers/domain.h"
#include "store/chat.h"

#include "core/err.h"

#include <string.h>

static chat_actor_t actor_of(const auth_claims_t *c)
{
    chat_actor_t a = {.org_id = c->org_id,
                      .user_id = c->sub,
                      .role = c->role,
                      .all_properties = c->all_properties,
                      .n_properties = c->n_properties,
                      .property_ids = c->property_ids};
    return a;
}

static void handlers_chat_stream(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    if (h->chat == NULL) {
        http_respond_error(req, 503, "unavailable", "the chat is not running");
        return;
    }
    if (handlers_ws_admit_ip(req) != 0) return;
    if (ws_check_upgrade(req, &chat_server_limits(h->chat)->ws) != 0) return;
    auth_claims_t c;
    if (handlers_authenticate_any(req, &c) != 0 || handlers_ws_admit_user(req, &c) != 0) {
        auth_claims_dispose(&c);
        return;
    }
    chat_accept(h->chat, req, &c);
}

/* ---- GET /v2/collaboration/rooms
 * ----------------------------------------------------------------- */

static void rooms_work(store_t *st, domain_op_t *op)
{
    chat_actor_t a = actor_of(&op->claims);
    store_chat_tx_t *tx;
    store_chat_room_t *rooms = NULL;
    size_t n = 0;
    int rc = store_chat_begin(st, 0, &tx);
    if (rc == 0) {
        rc = store_chat_rooms(tx, a.org_id, a.user_id, &rooms, &n);
        store_chat_rollback(tx);
    }
    if (rc != 0) {
        domain_fail_store(op, BH_ESTORE, "rooms", 0);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        const store_chat_room_t *r = &rooms[i];
        /* Membership stays, access may not: a room whose property the caller lost is hidden. */
        if (chat_access_row(&a, r) != 0) continue;
        static const char *const kinds[] = {"org", "property", "task", "dm"};
        json_array_append_new(
            items, json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:o}", "roomId", r->key, "kind",
                             kinds[r->kind], "propertyId", domain_json_id(r->property_id), "taskId",
                             domain_json_id(r->task_id), "unreadCount", (json_int_t)r->unread,
                             "lastReadId", (json_int_t)r->last_read_id, "lastMessageId",
                             domain_json_id(r->last_message_id)));
    }
    free(rooms);
    domain_answer(op, 200, json_pack("{s:o}", "items", items));
}

static void handlers_chat_rooms(http_req_t *req)
{
    domain_op_t *op = domain_op_new(req, sizeof *op, DOMAIN_ROLES_ALL, "list chat rooms");
    if (op) domain_op_submit(op, rooms_work);
}

/* ---- GET /v2/collaboration/rooms/{id}/messages
 * ---------------------------------------------------- */

typedef struct messages_op_s {
    domain_op_t op;
    chat_room_ref_t room;
    int64_t before;
    size_t limit;
} messages_op_t;

static void messages_work(store_t *st, domain_op_t *op)
{
    messages_op_t *o = (messages_op_t *)op;
    chat_actor_t a = actor_of(&op->claims);
    store_chat_tx_t *tx;
    int rc = store_chat_begin(st, 0, &tx);
    if (rc != 0) {
        domain_fail_store(op, BH_ESTORE, "room", 0);
        return;
    }
    int64_t pid, tid;
    store_chat_room_t room;
    store_chat_msg_t *msgs = NULL;
    size_t n = 0;
    rc = chat_access(tx, &a, &o->room, &pid, &tid);
    if (rc == 0) {
        rc = store_chat_room_get(tx, a.org_id, o->room.key, &room);
        /* A room nobody joined yet has no row, and no messages. */
        if (rc == 0)
            rc = store_chat_history(tx, room.id, o->before, o->limit, &msgs, &n);
        else if (rc == BH_ENOTFOUND)
            rc = 0;
    }
    store_chat_rollback(tx);
    if (rc == BH_ENOTFOUND) {
        domain_fail(op, 404, "not_found", "no room %s in your organisation", o->room.key);
    } else if (rc == BH_EFORBIDDEN) {
        domain_fail(op, 403, "room_forbidden", "you may not read room %s", o->room.key);
    } else if (rc != 0) {
        domain_fail_store(op, BH_ESTORE, "room", 0);
    } else {
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(items, chat_json_message(&msgs[i], o->room.key));
        domain_answer_list(op, items, o->limit - 1);
    }
    store_chat_msgs_free(msgs, n);
}

static void handlers_chat_room_messages(http_req_t *req)
{
    messages_op_t *o = domain_op_new(req, sizeof *o, DOMAIN_ROLES_ALL, "read chat messages");
    if (o == NULL) return;
    const char *id = http_req_param(req, "id");
    if (id == NULL || chat_room_parse(id, strlen(id), &o->room) != 0) {
        http_respond_error(req, 404, "not_found", "no such room");
        domain_op_free(&o->op);
        return;
    }
    validate_t v;
    validate_init(&v, NULL);
    validate_query_page(&v, req, 50, CHAT_PAGE_MAX, &o->limit, &o->before);
    if (validate_respond(&v, req)) {
        domain_op_free(&o->op);
        return;
    }
    o->limit++; /* one more than asked: it says whether there is a next page */
    domain_op_submit(&o->op, messages_work);
}

/* ---- GET /v2/collaboration/metrics
 * ---------------------------------------------------------------- */

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void handlers_chat_metrics(http_req_t *req)
{
    hctx_t *h = http_req_app(req);
    auth_claims_t c;
    if (handlers_authenticate(req, &c) != 0) {
        auth_claims_dispose(&c);
        return;
    }
    unsigned readers = ROLE_BIT(ROLE_OWNER) | ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_SERVICE);
    int ok = handlers_require_role(req, &c, readers, "read metrics");
    auth_claims_dispose(&c);
    if (!ok) return;
    if (h->chat == NULL) {
        http_respond_error(req, 503, "unavailable", "the chat is not running");
        return;
    }
    chat_metrics_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        http_respond_error(req, 503, "unavailable", "out of memory");
        return;
    }
    chat_totals_t t;
    chat_server_metrics(h->chat, m, &t);
    uint64_t n = atomic_load(&m->latency.count);
    double avg = n ? ms(atomic_load(&m->latency.sum_us)) / (double)n : 0.0;
    json_t *body = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:{s:f,s:f,s:f,s:f}}",
        "activeConnections", (json_int_t)atomic_load(&m->connections), "connectionsTotal",
        (json_int_t)atomic_load(&m->connections_total), "messagesIn",
        (json_int_t)atomic_load(&m->messages_in), "messagesOut",
        (json_int_t)atomic_load(&m->messages_out), "bytesOut",
        (json_int_t)atomic_load(&m->bytes_out), "deliveries",
        (json_int_t)atomic_load(&m->deliveries), "rateLimited",
        (json_int_t)atomic_load(&m->rate_limited), "slowConsumerCloses",
        (json_int_t)atomic_load(&m->slow_consumer_closes), "messagesStored", (json_int_t)t.stored,
        "writerBatches", (json_int_t)t.batches, "writerOps", (json_int_t)t.ops, "storeErrors",
        (json_int_t)t.store_errors, "checkpoints", (json_int_t)t.checkpoints, "walFrames",
        (json_int_t)t.wal_frames, "avgLatencyMs", avg, "latencyMs", "p50",
        ms(rt_hist_quantile(&m->latency, 0.50)), "p95", ms(rt_hist_quantile(&m->latency, 0.95)),
        "p99", ms(rt_hist_quantile(&m->latency, 0.99)), "max", ms(atomic_load(&m->latency.max_us)));
    free(m);
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond_json(req, 200, body);
}

int handlers_register_chat(http_router_t *r)
{
    static const struct {
        const char *pattern;
        http_handler_cb handler;
    } routes[] = {
        {"/v2/collaboration/chat/stream", handlers_chat_stream},
        {"/v2/collaboration/rooms", handlers_chat_rooms},
        {"/v2/collaboration/rooms/{id}/messages", handlers_chat_room_messages},
        {"/v2/collaboration/metrics", handlers_chat_metrics},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = http_router_add(r, HTTP_M_GET, routes[i].pattern, routes[i].handler);
        if (rc != 0) return rc;
    }
    return 0;
}
