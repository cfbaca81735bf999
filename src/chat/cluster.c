/* cluster.c: chat fan-out and presence across nodes (see cluster.h).
 *
 * Bus messages are small JSON objects, one per broadcast (chat rates are human rates):
 *   {"k":"m"|"r"|"t"|"P","o":ORG,"r":ROOM,"b":"{...}","u":USER,"p":READ_POS}  a room broadcast
 *   {"k":"s","o":ORG,"u":USER,"n":NAME,"s":STATUS,"l":LAST_MS,"r":[ROOMS]}     a node's view
 * The body ("b") is the exact JSON the origin node's members got; receivers send those bytes. */
#include "chat/cluster.h"

#include "chat/access.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chat_cluster_s {
    chat_server_t *srv;
    broker_t *broker;
    uv_mutex_t lock;
    /* "ORG:USER" -> {"nodes":{NODE:{"s":STATUS,"l":LAST,"r":[ROOMS],"n":NAME}},"a":ANNOUNCED} */
    json_t *users;
};

static void user_key(char *out, size_t n, int64_t org, int64_t user)
{
    snprintf(out, n, "%lld:%lld", (long long)org, (long long)user);
}

/* ---- room broadcasts ------------------------------------------------------------------------- */

void chat__cluster_forward(chat_cluster_t *cl, const chat_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const chat_event_t *ev = &b->ev[i];
        const char *k;
        switch (ev->kind) {
        case CHAT_EV_MESSAGE: k = "m"; break;
        case CHAT_EV_ROOM: k = "r"; break;
        case CHAT_EV_TYPING: k = "t"; break;
        /* A user's arrival in a room; status changes travel as "s" (chat__cluster_presence). */
        case CHAT_EV_PRESENCE: k = ev->room[0] ? "P" : NULL; break;
        default: k = NULL; break;
        }
        if (k == NULL || ev->body == NULL) continue;
        json_t *m = json_pack("{s:s,s:I,s:s,s:I,s:I}", "k", k, "o", (json_int_t)ev->org_id, "r",
                              ev->room, "u", (json_int_t)ev->user_id, "p",
                              (json_int_t)ev->read_pos);
        if (m == NULL) continue;
        /* "{" + the blob: the object the members got (blobs hold it without its brace). */
        char *body = xmalloc(ev->body->len + 2);
        body[0] = '{';
        memcpy(body + 1, ev->body->data, ev->body->len);
        body[ev->body->len + 1] = '\0';
        json_object_set_new(m, "b", json_stringn(body, ev->body->len + 1));
        free(body);
        char *text = json_dumps(m, JSON_COMPACT);
        json_decref(m);
        if (text) broker_bus_send(cl->broker, text, strlen(text));
        free(text);
    }
}

static void post_room(chat_cluster_t *cl, json_t *m, const char *k)
{
    const char *room = json_string_value(json_object_get(m, "r"));
    const char *body = json_string_value(json_object_get(m, "b"));
    size_t blen = json_string_length(json_object_get(m, "b"));
    json_int_t org = json_integer_value(json_object_get(m, "o"));
    if (room == NULL || body == NULL || blen < 2 || body[0] != '{' || org <= 0 ||
        strlen(room) >= CHAT_ROOM_KEY_MAX)
        return;
    chat_batch_t *b = chat__batch_new(cl->srv, 1);
    b->remote = 1;
    chat_event_t *ev = &b->ev[0];
    ev->kind = k[0] == 'm'   ? CHAT_EV_MESSAGE
               : k[0] == 'r' ? CHAT_EV_ROOM
               : k[0] == 't' ? CHAT_EV_TYPING
                             : CHAT_EV_PRESENCE;
    ev->org_id = org;
    snprintf(ev->room, sizeof ev->room, "%s", room);
    ev->body = blob_copy(body + 1, blen - 1);
    ev->user_id = json_integer_value(json_object_get(m, "u"));
    ev->read_pos = json_integer_value(json_object_get(m, "p"));
    if (ev->kind == CHAT_EV_PRESENCE) {
        ev->rooms = xmalloc(sizeof *ev->rooms);
        snprintf(ev->rooms[0], CHAT_ROOM_KEY_MAX, "%s", room);
        ev->n_rooms = 1;
        ev->serial = atomic_fetch_add(&cl->srv->presence_serial, 1) + 1;
    }
    chat__batch_post(cl->srv, b, NULL);
}

/* ---- presence -------------------------------------------------------------------------------- */

/* Combines local with every node's view of key (cluster lock held). Returns the combined status;
 * *last gets the latest activity, *name a name if one is known. */
static chat_status_t combine(chat_cluster_t *cl, const char *key, chat_status_t local,
                             int64_t *last, const char **name)
{
    chat_status_t st = local;
    json_t *e = json_object_get(cl->users, key), *nodes = json_object_get(e, "nodes"), *v;
    const char *node;
    json_object_foreach(nodes, node, v)
    {
        chat_status_t s = (chat_status_t)json_integer_value(json_object_get(v, "s"));
        int64_t l = json_integer_value(json_object_get(v, "l"));
        if (s > st) st = s;
        if (last && l > *last) *last = l;
        if (name && json_string_value(json_object_get(v, "n"))) *name = json_string_value(json_object_get(v, "n"));
    }
    return st;
}

/* Re-combines one user after another node's view changed; announces on this node's workers if
 * the combination differs from what this node announced last. */
static void refresh_user(chat_cluster_t *cl, int64_t org, int64_t user)
{
    chat_status_t local;
    int64_t last = 0;
    chat_users_lookup(cl->srv->users, org, &user, 1, &local, &last); /* users lock, released */
    char key[48];
    user_key(key, sizeof key, org, user);
    uv_mutex_lock(&cl->lock);
    json_t *e = json_object_get(cl->users, key);
    const char *name = "";
    chat_status_t st = combine(cl, key, local, &last, &name);
    json_t *announced = json_object_get(e, "a");
    chat_status_t prev = announced ? (chat_status_t)json_integer_value(announced) : local;
    chat_batch_t *b = NULL;
    if (st != prev) {
        /* The rooms where the user is, on any node, and (below) the organisation's room. */
        json_t *rooms = json_array(), *v;
        const char *node;
        json_object_foreach(json_object_get(e, "nodes"), node, v)
        {
            size_t i;
            json_t *r;
            json_array_foreach(json_object_get(v, "r"), i, r) json_array_append(rooms, r);
        }
        b = chat__batch_new(cl->srv, 1);
        b->remote = 1;
        chat_event_t *ev = &b->ev[0];
        ev->kind = CHAT_EV_PRESENCE;
        ev->org_id = org;
        ev->user_id = user;
        ev->serial = atomic_fetch_add(&cl->srv->presence_serial, 1) + 1;
        size_t n = json_array_size(rooms);
        ev->rooms = xmalloc((n ? n : 1) * sizeof *ev->rooms);
        for (size_t i = 0; i < n; i++) {
            const char *r = json_string_value(json_array_get(rooms, i));
            if (r && strlen(r) < CHAT_ROOM_KEY_MAX) snprintf(ev->rooms[ev->n_rooms++], CHAT_ROOM_KEY_MAX, "%s", r);
        }
        json_decref(rooms);
        ev->body = chat__body(json_pack("{s:s,s:I,s:s,s:s,s:o}", "type", "presence", "userId",
                                        (json_int_t)user, "userName", name, "status",
                                        chat_status_name(st), "lastActiveAt",
                                        chat_json_time(last)));
    }
    if (e) {
        if (json_object_size(json_object_get(e, "nodes")) == 0)
            json_object_del(cl->users, key); /* nothing from elsewhere: local alone decides */
        else
            json_object_set_new(e, "a", json_integer(st));
    }
    uv_mutex_unlock(&cl->lock);
    if (b) chat__batch_post(cl->srv, b, NULL);
}

/* Records node's view of a user (from a bus message or its entry set). */
static void put_view(chat_cluster_t *cl, const char *node, json_t *m)
{
    json_int_t org = json_integer_value(json_object_get(m, "o"));
    json_int_t user = json_integer_value(json_object_get(m, "u"));
    json_int_t s = json_integer_value(json_object_get(m, "s"));
    if (org <= 0 || user <= 0 || s < CHAT_OFFLINE || s > CHAT_ONLINE) return;
    char key[48];
    user_key(key, sizeof key, org, user);
    uv_mutex_lock(&cl->lock);
    json_t *e = json_object_get(cl->users, key);
    if (e == NULL) {
        e = json_pack("{s:{}}", "nodes");
        json_object_set_new(cl->users, key, e);
    }
    json_t *nodes = json_object_get(e, "nodes");
    if (s == CHAT_OFFLINE)
        json_object_del(nodes, node); /* offline there: it has nothing more to say */
    else
        json_object_set_new(nodes, node,
                            json_pack("{s:I,s:I,s:O?,s:O?}", "s", s, "l",
                                      json_integer_value(json_object_get(m, "l")), "r",
                                      json_object_get(m, "r"), "n", json_object_get(m, "n")));
    if (s == CHAT_OFFLINE) {
        /* Keep the rooms of the last word for the announcement of what is left. */
        json_t *r = json_object_get(m, "r");
        if (json_array_size(r)) json_object_set_new(nodes, "_gone", json_pack("{s:i,s:O}", "s", 0, "r", r));
    }
    uv_mutex_unlock(&cl->lock);
    refresh_user(cl, org, user);
    uv_mutex_lock(&cl->lock);
    nodes = json_object_get(json_object_get(cl->users, key), "nodes");
    json_object_del(nodes, "_gone");
    if (nodes && json_object_size(nodes) == 0) json_object_del(cl->users, key);
    uv_mutex_unlock(&cl->lock);
}

chat_status_t chat__cluster_presence(chat_cluster_t *cl, const chat_user_t *u)
{
    json_t *rooms = json_array();
    for (size_t i = 0; i < u->n_rooms; i++) json_array_append_new(rooms, json_string(u->rooms[i].key));
    json_t *m = json_pack("{s:s,s:I,s:I,s:s,s:i,s:I,s:o}", "k", "s", "o", (json_int_t)u->org_id,
                          "u", (json_int_t)u->user_id, "n", u->name, "s", (int)u->pres.status,
                          "l", (json_int_t)u->pres.last_active_ms, "r", rooms);
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    char key[48];
    user_key(key, sizeof key, u->org_id, u->user_id);
    if (text) {
        broker_bus_send(cl->broker, text, strlen(text));
        /* The entry set (read by nodes that connect later) holds only who is not offline. */
        broker_bus_put(cl->broker, key, u->pres.status == CHAT_OFFLINE ? NULL : text);
        free(text);
    }
    uv_mutex_lock(&cl->lock);
    chat_status_t st = combine(cl, key, u->pres.status, NULL, NULL);
    json_t *e = json_object_get(cl->users, key);
    if (e) json_object_set_new(e, "a", json_integer(st));
    uv_mutex_unlock(&cl->lock);
    return st;
}

chat_status_t chat__cluster_status(chat_cluster_t *cl, int64_t org, int64_t user,
                                   chat_status_t local, int64_t *last_active)
{
    char key[48];
    user_key(key, sizeof key, org, user);
    uv_mutex_lock(&cl->lock);
    chat_status_t st = combine(cl, key, local, last_active, NULL);
    uv_mutex_unlock(&cl->lock);
    return st;
}

void chat__cluster_merge(chat_cluster_t *cl, int64_t org, const int64_t *ids, size_t n,
                         chat_status_t *status, int64_t *last_active)
{
    for (size_t i = 0; i < n; i++)
        status[i] = chat__cluster_status(cl, org, ids[i], status[i], &last_active[i]);
}

/* ---- bus hooks (broker thread) --------------------------------------------------------------- */

static void on_bus_message(void *data, const char *node, const char *payload, size_t len)
{
    chat_cluster_t *cl = data;
    json_t *m = json_loadb(payload, len, 0, NULL);
    const char *k = json_string_value(json_object_get(m, "k"));
    if (k && (strcmp(k, "m") == 0 || strcmp(k, "r") == 0 || strcmp(k, "t") == 0 ||
              strcmp(k, "P") == 0))
        post_room(cl, m, k);
    else if (k && strcmp(k, "s") == 0)
        put_view(cl, node, m);
    json_decref(m);
}

static void on_entry(void *data, const char *node, const char *field, const char *value)
{
    json_t *m = json_loads(value, 0, NULL);
    if (m) put_view(data, node, m);
    json_decref(m);
}

static void on_node_gone(void *data, const char *node)
{
    chat_cluster_t *cl = data;
    /* Collect first: refresh_user takes the users lock, which comes before ours. */
    size_t n = 0, cap = 16;
    int64_t(*who)[2] = xmalloc(cap * sizeof *who);
    uv_mutex_lock(&cl->lock);
    const char *key;
    json_t *e;
    json_object_foreach(cl->users, key, e)
    {
        json_t *nodes = json_object_get(e, "nodes"), *v = json_object_get(nodes, node);
        if (v == NULL) continue;
        /* Its rooms still hear the result. */
        json_object_set_new(nodes, "_gone", json_pack("{s:i,s:O?}", "s", 0, "r", json_object_get(v, "r")));
        json_object_del(nodes, node);
        long long org, user;
        if (sscanf(key, "%lld:%lld", &org, &user) != 2) continue;
        if (n == cap) who = xrealloc(who, (cap *= 2) * sizeof *who);
        who[n][0] = org;
        who[n][1] = user;
        n++;
    }
    uv_mutex_unlock(&cl->lock);
    LOG_I("chat_node_gone", "node=%s users=%zu", node, n);
    for (size_t i = 0; i < n; i++) {
        refresh_user(cl, who[i][0], who[i][1]);
        char k[48];
        user_key(k, sizeof k, who[i][0], who[i][1]);
        uv_mutex_lock(&cl->lock);
        json_t *nodes = json_object_get(json_object_get(cl->users, k), "nodes");
        json_object_del(nodes, "_gone");
        if (nodes && json_object_size(nodes) == 0) json_object_del(cl->users, k);
        uv_mutex_unlock(&cl->lock);
    }
    free(who);
}

/* ---- lifetime -------------------------------------------------------------------------------- */

void chat_server_set_broker(chat_server_t *srv, broker_t *b)
{
    if (srv) srv->cluster = chat_cluster_new(srv, b);
}

chat_cluster_t *chat_cluster_new(chat_server_t *srv, broker_t *b)
{
    if (srv == NULL || b == NULL || !broker_sequences(b)) return NULL;
    chat_cluster_t *cl = xcalloc(1, sizeof *cl);
    cl->srv = srv;
    cl->broker = b;
    cl->users = json_object();
    uv_mutex_init(&cl->lock);
    broker_bus_hooks_t h = {.data = cl, .on_message = on_bus_message, .on_node_gone = on_node_gone,
                            .on_entry = on_entry};
    broker_bus_hooks(b, BROKER_BUS_CHAT, &h);
    return cl;
}

void chat_cluster_free(chat_cluster_t *cl)
{
    if (cl == NULL) return;
    json_decref(cl->users);
    uv_mutex_destroy(&cl->lock);
    free(cl);
}
