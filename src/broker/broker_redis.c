/* broker_redis.c: the Redis backend (hiredis async on a libuv loop of its own).
 *
 * One thread, one loop, two connections:
 *
 *   cmd  publishes (EVALSHA of the publish script), fills (EVALSHA of the fill script), the
 *        streams set after a reconnect, and a PING every third of the timeout for liveness;
 *   sub  SUBSCRIBE P:rt:ev and P:bus; every node hears every event once, in offset order per
 *        stream (the publish script runs atomically, so Redis publishes in offset order), and
 *        every bus message (chat fan-out, presence, flag changes) of the other nodes.
 *
 * Liveness of nodes: every third of the node TTL a node sets P:node:ID (expiring after the TTL)
 * and looks at the others listed in P:nodes; one whose key expired died without goodbye, and
 * its entries (P:pres:ID, see broker_bus_put) are dropped and reported to the bus hooks.
 *
 * Nothing is "up" until both connections are open, the subscription is confirmed and the data
 * set's generation is known; only then the streams set is read and each stream filled from its
 * local head, so events published while this node was away are applied in order before it
 * reports itself synced. Any failure drops both connections and reconnects with backoff; a
 * publish while down fails at once with BH_EAGAIN (never queued: the producer owns the retry).
 *
 * Threads: publishers (thread pool) put a request in the inbox and wait on its condition
 * variable; the loop thread owns every hiredis object. Stats are under the mutex. */
#include "broker/broker_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define KEY_MAX 256

/* A publish waiting for Redis. Two references: the publisher's and the loop's, so a publisher
 * that gives up at its deadline leaves the request valid for a late reply. */
typedef struct preq_s {
    struct preq_s *next;
    atomic_int refs;
    int fire; /* fire and forget (bus): one reference, nobody waits */
    uv_mutex_t mu;
    uv_cond_t cv;
    int done;
    int rc;
    int64_t offset;
    char epoch[BROKER_EPOCH_LEN + 1];
    int argc;
    char *argv[24];
    size_t lens[24];
    char *strings; /* one block behind argv */
} preq_t;

typedef struct fill_s {
    struct broker_redis_s *b;
    int64_t org;
    char svc[BROKER_SERVICE_MAX + 1];
    int resync; /* counts toward the resync after a connect */
} fill_t;

typedef struct broker_redis_s {
    broker_t super;
    broker_url_t url;
    char prefix[BROKER_PREFIX_MAX + 1];
    int timeout_ms;
    int reconnect_max_ms;
    size_t fill_batch;
    broker_hooks_t hooks;
    char sha_pub[41], sha_fill[41];
    char k_streams[KEY_MAX], k_gen[KEY_MAX], k_chan[KEY_MAX];
    char k_bus[KEY_MAX], k_nodes[KEY_MAX], k_alive[KEY_MAX], k_pres[KEY_MAX];
    char node[17];
    int node_ttl_ms;
    broker_bus_hooks_t bus[BROKER_BUS__SLOTS]; /* under mu */

    uv_thread_t thread;
    int started;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t retry_timer, tick_timer, hb_timer;

    uv_mutex_t mu; /* everything below up to the loop-only part */
    uv_cond_t synced_cv;
    preq_t *inbox_head, *inbox_tail;
    int stopping;
    int ready; /* publishes are accepted (also read by publishers, under mu) */
    broker_stats_t st;

    /* loop thread only */
    redisAsyncContext *cmd, *sub;
    int cmd_connected, subscribed, have_gen; /* subscribed: confirmations (2 channels) */
    int snap_needed; /* read the other nodes' entries at the next heartbeat */
    /* Peers this node has heard of (listed in P:nodes or heard on the bus). Each is checked at
     * every heartbeat until its key is gone; the set alone would not do, as the first node to
     * see a death removes it from the set for everyone. */
    char (*peers)[17];
    size_t n_peers, cap_peers;
    char gen[64];
    int backoff_ms;
    int ever_up;
    int resync_pending;
    int ping_in_flight;
    uint64_t ping_sent_ms;
    int closing;
    int dropping; /* inside drop_connections: disconnect callbacks schedule nothing */
} broker_redis_t;

static void start_connect(broker_redis_t *b);
static void heartbeat(broker_redis_t *b);
static void on_bus_message(broker_redis_t *b, const char *p, size_t len);
static char *pack(preq_t *r, char *p, const char *s, size_t len);

static int64_t unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- state ------------------------------------------------------------------------------------ */

static void set_state(broker_redis_t *b, broker_state_t s, const char *reason)
{
    uv_mutex_lock(&b->mu);
    if (b->st.state != s) b->st.state_since_ms = clock_unix_ms();
    b->st.state = s;
    b->ready = s == BROKER_STATE_UP;
    if (s != BROKER_STATE_UP) b->st.synced = 0;
    snprintf(b->st.reason, sizeof b->st.reason, "%s", reason ? reason : "");
    uv_mutex_unlock(&b->mu);
}

static void count(broker_redis_t *b, uint64_t *field, uint64_t n)
{
    uv_mutex_lock(&b->mu);
    *field += n;
    uv_mutex_unlock(&b->mu);
}

static void mark_synced(broker_redis_t *b)
{
    uv_mutex_lock(&b->mu);
    b->st.synced = 1;
    uv_cond_broadcast(&b->synced_cv);
    uv_mutex_unlock(&b->mu);
    LOG_I("broker_synced", "backend=redis");
}

static void on_retry(uv_timer_t *t);

/* Drops both connections (they may still be in hiredis's hands: freeing happens from a timer,
 * never inside one of their own callbacks) and reconnects after the backoff. */
static void go_down(broker_redis_t *b, const char *reason)
{
    int was_up = b->ready;
    b->cmd_connected = b->subscribed = b->have_gen = 0;
    b->ping_in_flight = 0;
    set_state(b, BROKER_STATE_DOWN, reason);
    if (was_up && !b->closing) LOG_E("broker_down", "backend=redis reason=\"%s\"", reason);
    if (b->closing || b->dropping || uv_is_active((uv_handle_t *)&b->retry_timer)) return;
    uv_timer_start(&b->retry_timer, on_retry, (uint64_t)b->backoff_ms, 0);
    b->backoff_ms = b->backoff_ms * 2 > b->reconnect_max_ms ? b->reconnect_max_ms
                                                             : b->backoff_ms * 2;
}

static void drop_connections(broker_redis_t *b)
{
    /* Freeing runs the pending callbacks with NULL replies and the disconnect callback, which
     * clear the pointers; take them first so nothing frees twice. */
    redisAsyncContext *c = b->cmd, *s = b->sub;
    b->cmd = b->sub = NULL;
    b->dropping = 1;
    if (c) redisAsyncFree(c);
    if (s) redisAsyncFree(s);
    b->dropping = 0;
}

static void on_retry(uv_timer_t *t)
{
    broker_redis_t *b = t->data;
    drop_connections(b);
    if (!b->closing) start_connect(b);
}

/* ---- publish requests ------------------------------------------------------------------------- */

static void preq_unref(preq_t *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1) return;
    uv_mutex_destroy(&r->mu);
    uv_cond_destroy(&r->cv);
    free(r->strings);
    free(r);
}

static void preq_complete(preq_t *r, int rc, int64_t offset, const char *epoch)
{
    uv_mutex_lock(&r->mu);
    r->rc = rc;
    r->offset = offset;
    if (epoch) snprintf(r->epoch, sizeof r->epoch, "%s", epoch);
    r->done = 1;
    uv_cond_signal(&r->cv);
    uv_mutex_unlock(&r->mu);
    preq_unref(r);
}

static void on_publish_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    broker_redis_t *b = ac->data;
    preq_t *r = priv;
    redisReply *rep = reply;
    if (rep == NULL) {
        preq_complete(r, BH_EAGAIN, 0, NULL);
        return;
    }
    if (rep->type == REDIS_REPLY_ARRAY && (rep->elements == 2 || rep->elements == 3) &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_STRING &&
        rep->element[1]->len == BROKER_EPOCH_LEN) {
        /* A third element: the Idempotency-Key was seen, nothing was published. */
        int dup = rep->elements == 3;
        if (!dup) count(b, &b->st.published, 1);
        preq_complete(r, dup ? BH_EEXIST : 0, rep->element[0]->integer, rep->element[1]->str);
        return;
    }
    LOG_E("broker_publish_error", "reply=\"%.*s\"", rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 0,
          rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    /* NOSCRIPT means the server lost its scripts (a restart we have not noticed yet, SCRIPT
     * FLUSH, a failover behind a proxy): retryable, and only a reconnect reloads them. */
    int again = rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
    if (again) go_down(b, "the server lost the scripts (NOSCRIPT): reconnecting to reload them");
    preq_complete(r, again ? BH_EAGAIN : BH_EINTERNAL, 0, NULL);
}

static void on_fire_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    preq_unref(priv);
}

static void drain_inbox(broker_redis_t *b)
{
    uv_mutex_lock(&b->mu);
    preq_t *r = b->inbox_head;
    b->inbox_head = b->inbox_tail = NULL;
    uv_mutex_unlock(&b->mu);
    while (r) {
        preq_t *next = r->next;
        if (b->ready && b->cmd &&
            redisAsyncCommandArgv(b->cmd, r->fire ? on_fire_reply : on_publish_reply, r, r->argc,
                                  (const char **)r->argv, r->lens) == REDIS_OK) {
            /* the reply callback completes it */
        } else if (r->fire) {
            preq_unref(r);
        } else {
            preq_complete(r, BH_EAGAIN, 0, NULL);
        }
        r = next;
    }
}

/* ---- fills ------------------------------------------------------------------------------------ */

static void fill_done(broker_redis_t *b, fill_t *f)
{
    if (f->resync && --b->resync_pending == 0 && b->ready) mark_synced(b);
    free(f);
}

static void on_fill_reply(redisAsyncContext *ac, void *reply, void *priv);

static void issue_fill(broker_redis_t *b, fill_t *f, int64_t after, const char *epoch)
{
    char km[KEY_MAX], kx[KEY_MAX], a[24], cnt[24];
    broker_key_stream(km, sizeof km, b->prefix, f->org, f->svc, 'm');
    broker_key_stream(kx, sizeof kx, b->prefix, f->org, f->svc, 'x');
    snprintf(a, sizeof a, "%lld", (long long)after);
    snprintf(cnt, sizeof cnt, "%zu", b->fill_batch);
    const char *argv[] = {"EVALSHA", b->sha_fill, "2", km, kx, epoch, a, cnt};
    count(b, &b->st.fills, 1);
    if (b->cmd == NULL ||
        redisAsyncCommandArgv(b->cmd, on_fill_reply, f, 8, argv, NULL) != REDIS_OK) {
        /* Not connected any more: give the stream back (not filling) and let the resync after
         * the next connect do it. */
        b->hooks.fill_apply(b->hooks.data, f->org, f->svc, -1, NULL, 0, NULL, 0, NULL, NULL);
        fill_done(b, f);
    }
}

/* Parses one stream entry ["OFF-0", ["p", P, "t", T, "j", JSON]] of f's stream. */
static int parse_entry(const fill_t *f, const redisReply *e, broker_event_t *out)
{
    memset(out, 0, sizeof *out);
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return BH_EINVAL;
    out->org_id = f->org;
    snprintf(out->service, sizeof out->service, "%s", f->svc);
    out->offset = strtoll(e->element[0]->str, NULL, 10);
    const redisReply *kv = e->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        const redisReply *k = kv->element[i], *v = kv->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || k->len != 1) continue;
        if (k->str[0] == 'p') out->property_id = strtoll(v->str, NULL, 10);
        else if (k->str[0] == 't') out->ts_ms = strtoll(v->str, NULL, 10);
        else if (k->str[0] == 'j') {
            out->json = v->str;
            out->json_len = v->len;
        }
    }
    return out->offset > 0 && out->json ? 0 : BH_EINVAL;
}

static void on_fill_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    fill_t *f = priv;
    broker_redis_t *b = f->b;
    redisReply *r = reply;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[2]->type != REDIS_REPLY_ARRAY) {
        if (r) LOG_E("broker_fill_error", "org=%lld service=%s", (long long)f->org, f->svc);
        /* The reconnect reloads the scripts and resyncs every stream, this one included. */
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
            go_down(b, "the server lost the scripts (NOSCRIPT): reconnecting to reload them");
        b->hooks.fill_apply(b->hooks.data, f->org, f->svc, -1, NULL, 0, NULL, 0, NULL, NULL);
        fill_done(b, f);
        return;
    }
    const redisReply *ep = r->element[0], *entries = r->element[2];
    int exists = ep->type == REDIS_REPLY_STRING && ep->len == BROKER_EPOCH_LEN;
    size_t n = 0;
    broker_event_t *ev = entries->elements ? xmalloc(entries->elements * sizeof *ev) : NULL;
    for (size_t i = 0; i < entries->elements; i++)
        if (parse_entry(f, entries->element[i], &ev[n]) == 0) n++;
    int64_t after = 0;
    char epoch[BROKER_EPOCH_LEN + 1] = "";
    int again = b->hooks.fill_apply(b->hooks.data, f->org, f->svc, exists,
                                    exists ? ep->str : NULL, r->element[1]->integer, ev, n, &after,
                                    epoch);
    free(ev);
    count(b, &b->st.filled, n);
    if (again) issue_fill(b, f, after, epoch);
    else fill_done(b, f);
}

static void start_fill(broker_redis_t *b, int64_t org, const char *svc, int64_t after,
                       const char *epoch, int resync)
{
    fill_t *f = xcalloc(1, sizeof *f);
    f->b = b;
    f->org = org;
    snprintf(f->svc, sizeof f->svc, "%s", svc);
    f->resync = resync;
    if (resync) b->resync_pending++;
    issue_fill(b, f, after, epoch);
}

static void on_members(redisAsyncContext *ac, void *reply, void *priv)
{
    broker_redis_t *b = ac->data;
    redisReply *r = reply;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) return; /* going down; the next connect redoes it */
    /* One extra count so that fills answered quickly cannot declare the resync done early. */
    b->resync_pending++;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *m = r->element[i];
        int64_t org, after = 0;
        char svc[BROKER_SERVICE_MAX + 1], epoch[BROKER_EPOCH_LEN + 1] = "";
        if (m->type != REDIS_REPLY_STRING || broker_member_parse(m->str, m->len, &org, svc) != 0)
            continue;
        if (b->hooks.fill_begin(b->hooks.data, org, svc, &after, epoch))
            start_fill(b, org, svc, after, epoch, 1);
    }
    if (--b->resync_pending == 0 && b->ready) mark_synced(b);
}

/* ---- the bus and node liveness ---------------------------------------------------------------- */

/* A copy of every slot's hooks: they are called without the mutex. */
static void bus_hooks_get(broker_redis_t *b, broker_bus_hooks_t h[BROKER_BUS__SLOTS])
{
    uv_mutex_lock(&b->mu);
    memcpy(h, b->bus, sizeof b->bus);
    uv_mutex_unlock(&b->mu);
}

static int peer_find(broker_redis_t *b, const char *id)
{
    for (size_t i = 0; i < b->n_peers; i++)
        if (memcmp(b->peers[i], id, 16) == 0) return (int)i;
    return -1;
}

static void peer_add(broker_redis_t *b, const char *id)
{
    if (peer_find(b, id) >= 0) return;
    if (b->n_peers == b->cap_peers) {
        b->cap_peers = b->cap_peers ? b->cap_peers * 2 : 8;
        b->peers = xrealloc(b->peers, b->cap_peers * sizeof *b->peers);
    }
    memcpy(b->peers[b->n_peers], id, 16);
    b->peers[b->n_peers++][16] = '\0';
}

/* "NODE\nPAYLOAD": our own come back too (Pub/Sub has no "not me"), and are skipped here. */
static void on_bus_message(broker_redis_t *b, const char *p, size_t len)
{
    const char *nl = memchr(p, '\n', len);
    if (nl == NULL || nl - p != 16) return;
    if (memcmp(p, b->node, 16) == 0) return;
    char node[17];
    memcpy(node, p, 16);
    node[16] = '\0';
    peer_add(b, node);
    count(b, &b->st.bus_received, 1);
    broker_bus_hooks_t h[BROKER_BUS__SLOTS];
    bus_hooks_get(b, h);
    for (int i = 0; i < BROKER_BUS__SLOTS; i++)
        if (h[i].on_message) h[i].on_message(h[i].data, node, nl + 1, len - 17);
}

typedef struct peer_s {
    broker_redis_t *b;
    char node[17];
    int snap;
} peer_t;

static void on_peer_entries(redisAsyncContext *ac, void *reply, void *priv)
{
    peer_t *p = priv;
    redisReply *r = reply;
    broker_bus_hooks_t h[BROKER_BUS__SLOTS];
    bus_hooks_get(p->b, h);
    for (int k = 0; k < BROKER_BUS__SLOTS; k++)
        if (r && r->type == REDIS_REPLY_ARRAY && h[k].on_entry)
            for (size_t i = 0; i + 1 < r->elements; i += 2)
                if (r->element[i]->type == REDIS_REPLY_STRING &&
                    r->element[i + 1]->type == REDIS_REPLY_STRING)
                    h[k].on_entry(h[k].data, p->node, r->element[i]->str,
                                  r->element[i + 1]->str);
    free(p);
}

static void on_peer_alive(redisAsyncContext *ac, void *reply, void *priv)
{
    peer_t *p = priv;
    broker_redis_t *b = p->b;
    redisReply *r = reply;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || b->cmd == NULL) {
        free(p);
        return;
    }
    if (r->integer == 0) {
        /* Its key expired: it died without goodbye. Every node that knew it tells its own hooks
         * (once: it is forgotten here); the set and the entries go (whoever is first). */
        int i = peer_find(b, p->node);
        if (i < 0) {
            free(p);
            return;
        }
        memcpy(b->peers[i], b->peers[--b->n_peers], sizeof b->peers[i]);
        LOG_W("broker_node_gone", "node=%s", p->node);
        broker_bus_hooks_t h[BROKER_BUS__SLOTS];
        bus_hooks_get(b, h);
        for (int k = 0; k < BROKER_BUS__SLOTS; k++)
            if (h[k].on_node_gone) h[k].on_node_gone(h[k].data, p->node);
        char kp[KEY_MAX];
        snprintf(kp, sizeof kp, "%s:pres:%s", b->prefix, p->node);
        redisAsyncCommand(b->cmd, NULL, NULL, "SREM %s %s", b->k_nodes, p->node);
        redisAsyncCommand(b->cmd, NULL, NULL, "DEL %s", kp);
        free(p);
        return;
    }
    if (p->snap) {
        char kp[KEY_MAX];
        snprintf(kp, sizeof kp, "%s:pres:%s", b->prefix, p->node);
        /* Refused while the context disconnects: no callback will free p. */
        if (redisAsyncCommand(b->cmd, on_peer_entries, p, "HGETALL %s", kp) != REDIS_OK) free(p);
        return;
    }
    free(p);
}

static void on_nodes(redisAsyncContext *ac, void *reply, void *priv)
{
    broker_redis_t *b = ac->data;
    redisReply *r = reply;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || b->cmd == NULL) return;
    int snap = b->snap_needed;
    b->snap_needed = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *m = r->element[i];
        if (m->type == REDIS_REPLY_STRING && m->len == 16 && memcmp(m->str, b->node, 16) != 0)
            peer_add(b, m->str);
    }
    for (size_t i = 0; i < b->n_peers; i++) {
        peer_t *p = xcalloc(1, sizeof *p);
        p->b = b;
        memcpy(p->node, b->peers[i], 17);
        p->snap = snap;
        char ka[KEY_MAX];
        snprintf(ka, sizeof ka, "%s:node:%s", b->prefix, p->node);
        if (redisAsyncCommand(b->cmd, on_peer_alive, p, "EXISTS %s", ka) != REDIS_OK) free(p);
    }
}

static void heartbeat(broker_redis_t *b)
{
    if (!b->ready || b->cmd == NULL) return;
    redisAsyncCommand(b->cmd, NULL, NULL, "SET %s 1 PX %d", b->k_alive, b->node_ttl_ms);
    redisAsyncCommand(b->cmd, NULL, NULL, "SADD %s %s", b->k_nodes, b->node);
    redisAsyncCommand(b->cmd, on_nodes, NULL, "SMEMBERS %s", b->k_nodes);
}

static void on_heartbeat(uv_timer_t *t)
{
    heartbeat(t->data);
}

/* ---- connections ------------------------------------------------------------------------------ */

static void maybe_up(broker_redis_t *b)
{
    if (!(b->cmd_connected && b->subscribed >= 2 && b->have_gen) || b->ready) return;
    if (b->ever_up) count(b, &b->st.reconnects, 1);
    b->ever_up = 1;
    b->backoff_ms = 100;
    b->ping_in_flight = 0;
    b->resync_pending = 0;
    set_state(b, BROKER_STATE_UP, NULL);
    LOG_I("broker_up", "backend=redis host=%s port=%d", b->url.host, b->url.port);
    b->hooks.on_generation(b->hooks.data, b->gen);
    redisAsyncCommand(b->cmd, on_members, NULL, "SMEMBERS %s", b->k_streams);
    b->snap_needed = 1;
    heartbeat(b);
    broker_bus_hooks_t h[BROKER_BUS__SLOTS];
    bus_hooks_get(b, h);
    for (int k = 0; k < BROKER_BUS__SLOTS; k++)
        if (h[k].on_up) h[k].on_up(h[k].data);
}

static void on_gen(redisAsyncContext *ac, void *reply, void *priv)
{
    broker_redis_t *b = ac->data;
    redisReply *r = reply;
    if (r == NULL) return;
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof b->gen) {
        LOG_E("broker_gen_error", "type=%d", r->type);
        return; /* stays connecting; the liveness check gives up and reconnects */
    }
    memcpy(b->gen, r->str, r->len);
    b->gen[r->len] = '\0';
    b->have_gen = 1;
    maybe_up(b);
}

static void on_sub_message(redisAsyncContext *ac, void *reply, void *priv)
{
    broker_redis_t *b = ac->data;
    redisReply *r = reply;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        b->subscribed++;
        maybe_up(b);
        return;
    }
    if (strcmp(kind, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING) return;
    if (r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[1]->str, b->k_bus) == 0) {
        on_bus_message(b, r->element[2]->str, r->element[2]->len);
        return;
    }
    count(b, &b->st.received, 1);
    broker_event_t ev;
    if (broker_note_parse(r->element[2]->str, r->element[2]->len, &ev) != 0) {
        LOG_W("broker_note_invalid", "len=%zu", r->element[2]->len);
        return;
    }
    int64_t after = 0;
    char epoch[BROKER_EPOCH_LEN + 1] = "";
    int act = b->hooks.on_event(b->hooks.data, &ev, &after, epoch);
    if (act == BROKER_FILL) {
        count(b, &b->st.gaps, 1);
        LOG_I("broker_gap", "org=%lld service=%s after=%lld got=%lld", (long long)ev.org_id,
              ev.service, (long long)after, (long long)ev.offset);
        start_fill(b, ev.org_id, ev.service, after, epoch, 0);
    }
}

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) LOG_E("broker_script_error", "reply=\"%s\"", r->str);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) LOG_E("broker_auth_error", "reply=\"%s\"", r->str);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    broker_redis_t *b = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees this context after we return. */
        if (ac == b->cmd) b->cmd = NULL;
        if (ac == b->sub) b->sub = NULL;
        char why[400];
        snprintf(why, sizeof why, "connect to %s:%d failed: %s", b->url.host, b->url.port,
                 ac->errstr);
        go_down(b, why);
        return;
    }
    if (ac == b->cmd) {
        b->cmd_connected = 1;
        maybe_up(b);
    }
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    broker_redis_t *b = ac->data;
    if (ac == b->cmd) b->cmd = NULL;
    if (ac == b->sub) b->sub = NULL;
    char why[400];
    snprintf(why, sizeof why, "connection to %s:%d lost: %s", b->url.host, b->url.port,
             status == REDIS_OK ? "closed" : ac->errstr);
    go_down(b, why);
}

static redisAsyncContext *open_one(broker_redis_t *b)
{
    redisAsyncContext *ac = redisAsyncConnect(b->url.host, b->url.port);
    if (ac == NULL) return NULL;
    if (ac->err) {
        char why[400];
        snprintf(why, sizeof why, "connect to %s:%d failed: %s", b->url.host, b->url.port,
                 ac->errstr);
        redisAsyncFree(ac);
        go_down(b, why);
        return NULL;
    }
    ac->data = b;
    /* Subscriptions are silent: without keepalives a peer that vanished without a reset (a
     * NAT or firewall timeout, a partition) would never be noticed on the sub connection. */
    redisEnableKeepAlive(&ac->c); /* hiredis 0.14: probes after 15 s idle */
    redisLibuvAttach(ac, &b->loop);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (b->url.password[0])
        redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", b->url.password);
    return ac;
}

static void start_connect(broker_redis_t *b)
{
    set_state(b, BROKER_STATE_CONNECTING, "connecting");
    b->cmd_connected = b->subscribed = b->have_gen = 0;
    if ((b->cmd = open_one(b)) == NULL) return;
    if ((b->sub = open_one(b)) == NULL) return;
    /* Commands queue until the connection is open and leave in order: scripts before any
     * EVALSHA, the generation before anything that needs it. */
    if (b->url.db) redisAsyncCommand(b->cmd, NULL, NULL, "SELECT %d", b->url.db);
    redisAsyncCommand(b->cmd, on_script_loaded, NULL, "SCRIPT LOAD %s", broker_lua_publish);
    redisAsyncCommand(b->cmd, on_script_loaded, NULL, "SCRIPT LOAD %s", broker_lua_fill);
    char g[33];
    uint64_t x = clock_mono_ns() ^ ((uint64_t)clock_unix_ms() << 20) ^ (uint64_t)(uintptr_t)b;
    snprintf(g, sizeof g, "%016" PRIx64, x);
    redisAsyncCommand(b->cmd, NULL, NULL, "SET %s %s NX", b->k_gen, g);
    redisAsyncCommand(b->cmd, on_gen, NULL, "GET %s", b->k_gen);
    redisAsyncCommand(b->sub, on_sub_message, NULL, "SUBSCRIBE %s %s", b->k_chan, b->k_bus);
    b->ping_sent_ms = clock_unix_ms();
    b->ping_in_flight = 1; /* the connect itself must finish within the timeout */
}

/* ---- liveness --------------------------------------------------------------------------------- */

static void on_pong(redisAsyncContext *ac, void *reply, void *priv)
{
    broker_redis_t *b = ac->data;
    if (reply) b->ping_in_flight = 0;
}

static void on_tick(uv_timer_t *t)
{
    broker_redis_t *b = t->data;
    if (b->closing || uv_is_active((uv_handle_t *)&b->retry_timer)) return;
    uint64_t now = (uint64_t)clock_unix_ms();
    if (b->ping_in_flight) {
        if (now - b->ping_sent_ms > (uint64_t)b->timeout_ms) {
            char why[400];
            snprintf(why, sizeof why, "%s:%d did not answer within %d ms", b->url.host,
                     b->url.port, b->timeout_ms);
            go_down(b, why);
        }
        return;
    }
    if (b->ready && b->cmd) {
        b->ping_in_flight = 1;
        b->ping_sent_ms = now;
        redisAsyncCommand(b->cmd, on_pong, NULL, "PING");
    }
}

/* ---- the thread ------------------------------------------------------------------------------- */

static void on_close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_wake(uv_async_t *a)
{
    broker_redis_t *b = a->data;
    uv_mutex_lock(&b->mu);
    int stopping = b->stopping;
    uv_mutex_unlock(&b->mu);
    drain_inbox(b);
    if (stopping && !b->closing) {
        b->closing = 1;
        uv_timer_stop(&b->retry_timer);
        drop_connections(b);
        drain_inbox(b);
        uv_close((uv_handle_t *)&b->wake, NULL);
        uv_close((uv_handle_t *)&b->retry_timer, NULL);
        uv_close((uv_handle_t *)&b->tick_timer, NULL);
        uv_close((uv_handle_t *)&b->hb_timer, NULL);
    }
}

static void thread_main(void *arg)
{
    broker_redis_t *b = arg;
    start_connect(b);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    /* hiredis's libuv adapter closes its poll handles itself; anything left is closed here. */
    uv_walk(&b->loop, on_close_walk, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
}

/* ---- vtable ----------------------------------------------------------------------------------- */

static int redis_start(broker_t *base, const broker_hooks_t *hooks)
{
    broker_redis_t *b = (broker_redis_t *)base;
    b->hooks = *hooks;
    uv_loop_init(&b->loop);
    uv_async_init(&b->loop, &b->wake, on_wake);
    b->wake.data = b;
    uv_timer_init(&b->loop, &b->retry_timer);
    b->retry_timer.data = b;
    uv_timer_init(&b->loop, &b->tick_timer);
    b->tick_timer.data = b;
    uv_timer_init(&b->loop, &b->hb_timer);
    b->hb_timer.data = b;
    uint64_t hb = (uint64_t)(b->node_ttl_ms / 3 > 10 ? b->node_ttl_ms / 3 : 10);
    uv_timer_start(&b->hb_timer, on_heartbeat, hb, hb);
    uint64_t tick = (uint64_t)(b->timeout_ms / 3 > 10 ? b->timeout_ms / 3 : 10);
    uv_timer_start(&b->tick_timer, on_tick, tick, tick);
    int rc = uv_thread_create(&b->thread, thread_main, b);
    if (rc != 0) return rc;
    b->started = 1;
    return 0;
}

static int redis_wait_synced(broker_t *base, int timeout_ms)
{
    broker_redis_t *b = (broker_redis_t *)base;
    uint64_t end = clock_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
    uv_mutex_lock(&b->mu);
    while (!b->st.synced) {
        uint64_t now = clock_mono_ns();
        if (now >= end || uv_cond_timedwait(&b->synced_cv, &b->mu, end - now) != 0) break;
    }
    int ok = b->st.synced;
    uv_mutex_unlock(&b->mu);
    return ok ? 0 : BH_EAGAIN;
}

static char *pack(preq_t *r, char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    p[len] = '\0';
    r->argv[r->argc] = p;
    r->lens[r->argc++] = len;
    return p + len + 1;
}

/* A new request holding copies of args[0..n) (refs: 2 to wait for it, 1 to fire and forget). */
static preq_t *preq_new(const char *const *args, const size_t *lens, size_t n, int fire)
{
    preq_t *r = xcalloc(1, sizeof *r);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += lens[i] + 1;
    atomic_init(&r->refs, fire ? 1 : 2);
    r->fire = fire;
    uv_mutex_init(&r->mu);
    uv_cond_init(&r->cv);
    r->strings = xmalloc(total);
    char *p = r->strings;
    for (size_t i = 0; i < n; i++) p = pack(r, p, args[i], lens[i]);
    return r;
}

/* Queues r for the loop unless the broker is down. Returns 0 or BH_EAGAIN (r is then freed). */
static int enqueue(broker_redis_t *b, preq_t *r)
{
    uv_mutex_lock(&b->mu);
    int ok = b->ready && !b->stopping;
    if (ok) {
        if (b->inbox_tail) b->inbox_tail->next = r;
        else b->inbox_head = r;
        b->inbox_tail = r;
        /* Under the lock: once broker_free has set stopping (under it too), nobody touches the
         * async handle any more, so the loop may close it. */
        uv_async_send(&b->wake);
    }
    uv_mutex_unlock(&b->mu);
    if (!ok) {
        if (!r->fire) preq_unref(r);
        preq_unref(r);
        return BH_EAGAIN;
    }
    return 0;
}

static int redis_bus_send(broker_t *base, const char *payload, size_t len)
{
    broker_redis_t *b = (broker_redis_t *)base;
    /* One copy of the payload, with our id in front. */
    char *msg = xmalloc(len + 17);
    memcpy(msg, b->node, 16);
    msg[16] = '\n';
    memcpy(msg + 17, payload, len);
    const char *args[] = {"PUBLISH", b->k_bus, msg};
    size_t lens[] = {7, strlen(b->k_bus), len + 17};
    int rc = enqueue(b, preq_new(args, lens, 3, 1));
    free(msg);
    if (rc == 0) count(b, &b->st.bus_sent, 1);
    return rc;
}

static int redis_bus_put(broker_t *base, const char *field, const char *value)
{
    broker_redis_t *b = (broker_redis_t *)base;
    const char *args[] = {value ? "HSET" : "HDEL", b->k_pres, field, value};
    size_t lens[] = {4, strlen(b->k_pres), strlen(field), value ? strlen(value) : 0};
    return enqueue(b, preq_new(args, lens, value ? 4 : 3, 1));
}

static void redis_bus_hooks(broker_t *base, broker_bus_slot_t slot,
                            const broker_bus_hooks_t *hooks)
{
    broker_redis_t *b = (broker_redis_t *)base;
    uv_mutex_lock(&b->mu);
    if (hooks) b->bus[slot] = *hooks;
    else memset(&b->bus[slot], 0, sizeof b->bus[slot]);
    uv_mutex_unlock(&b->mu);
}

static const char *redis_node_id(const broker_t *base)
{
    return ((const broker_redis_t *)base)->node;
}

static int redis_publish(broker_t *base, const broker_publish_t *ev, int64_t *offset,
                         char epoch[BROKER_EPOCH_LEN + 1])
{
    broker_redis_t *b = (broker_redis_t *)base;
    char km[KEY_MAX], kx[KEY_MAX], ki[KEY_MAX + 80], member[96], prop[24], ts[24], maxlen[24],
        min[24], who[96], pub[24], ttl[24];
    broker_key_stream(km, sizeof km, b->prefix, ev->org_id, ev->service, 'm');
    broker_key_stream(kx, sizeof kx, b->prefix, ev->org_id, ev->service, 'x');
    snprintf(member, sizeof member, "%lld:%s", (long long)ev->org_id, ev->service);
    snprintf(prop, sizeof prop, "%lld", (long long)ev->property_id);
    snprintf(ts, sizeof ts, "%lld", (long long)ev->ts_ms);
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)ev->max_events);
    snprintf(min, sizeof min, "%lld", (long long)ev->min_ts_ms);
    snprintf(who, sizeof who, "%lld %s", (long long)ev->org_id, ev->service);
    snprintf(pub, sizeof pub, "%lld", (long long)unix_us());
    /* The key's key shares the stream's hash tag, so the script touches one slot. Without a key
     * KEYS[4] is a placeholder the script never reads. */
    if (ev->idem_key)
        snprintf(ki, sizeof ki, "%s:i:%s", km, ev->idem_key);
    else
        snprintf(ki, sizeof ki, "%s", km);
    snprintf(ttl, sizeof ttl, "%lld", (long long)(ev->idem_ttl_ms > 0 ? ev->idem_ttl_ms : 1));
    const char *args[] = {"EVALSHA", b->sha_pub, "4", km, kx, b->k_streams, ki, ev->new_epoch,
                          member, prop, ts, ev->json_a, ev->json_b, ev->json_c, maxlen, min,
                          b->k_chan, who, pub, ev->idem_key ? "1" : "0", ttl};
    size_t n_args = sizeof args / sizeof args[0], lens[sizeof args / sizeof args[0]];
    _Static_assert(sizeof args / sizeof args[0] <= sizeof ((preq_t *)0)->argv / sizeof(char *),
                   "preq_t has room for every argument");
    for (size_t i = 0; i < n_args; i++) lens[i] = strlen(args[i]);
    preq_t *r = preq_new(args, lens, n_args, 0);
    if (enqueue(b, r) != 0) { /* r is gone */
        count(b, &b->st.publish_failed, 1);
        return BH_EAGAIN;
    }

    uint64_t end = clock_mono_ns() + (uint64_t)b->timeout_ms * 1000000ull;
    uv_mutex_lock(&r->mu);
    while (!r->done) {
        uint64_t now = clock_mono_ns();
        if (now >= end || uv_cond_timedwait(&r->cv, &r->mu, end - now) != 0) break;
    }
    int rc = r->done ? r->rc : BH_EAGAIN;
    if (rc == 0 || rc == BH_EEXIST) {
        *offset = r->offset;
        memcpy(epoch, r->epoch, BROKER_EPOCH_LEN + 1);
    }
    uv_mutex_unlock(&r->mu);
    preq_unref(r);
    if (rc != 0 && rc != BH_EEXIST) count(b, &b->st.publish_failed, 1);
    return rc;
}

static void redis_stats(broker_t *base, broker_stats_t *out)
{
    broker_redis_t *b = (broker_redis_t *)base;
    uv_mutex_lock(&b->mu);
    *out = b->st;
    uv_mutex_unlock(&b->mu);
}

static void redis_free(broker_t *base)
{
    broker_redis_t *b = (broker_redis_t *)base;
    if (b->started) {
        uv_mutex_lock(&b->mu);
        b->stopping = 1;
        uv_async_send(&b->wake); /* under the lock: see enqueue */
        uv_mutex_unlock(&b->mu);
        uv_thread_join(&b->thread);
        uv_loop_close(&b->loop);
    }
    uv_cond_destroy(&b->synced_cv);
    uv_mutex_destroy(&b->mu);
    free(b->peers);
    free(b);
}

static const broker_vtable_t redis_vt = {
    .name = "redis",
    .sequences = 1,
    .start = redis_start,
    .wait_synced = redis_wait_synced,
    .publish = redis_publish,
    .stats = redis_stats,
    .bus_hooks = redis_bus_hooks,
    .bus_send = redis_bus_send,
    .bus_put = redis_bus_put,
    .node_id = redis_node_id,
    .free = redis_free,
};

broker_t *broker__redis_new(const broker_config_t *cfg, char *err, size_t n)
{
    broker_url_t url;
    if (broker_url_parse(cfg->url, &url) != 0) {
        snprintf(err, n, "invalid Redis URL (expected redis://[:password@]host[:port][/db])");
        return NULL;
    }
    const char *prefix = cfg->prefix && cfg->prefix[0] ? cfg->prefix : "bh";
    if (strlen(prefix) > BROKER_PREFIX_MAX || strpbrk(prefix, " {}\r\n")) {
        snprintf(err, n, "invalid Redis key prefix");
        return NULL;
    }
    broker_redis_t *b = xcalloc(1, sizeof *b);
    b->super.vt = &redis_vt;
    b->url = url;
    snprintf(b->prefix, sizeof b->prefix, "%s", prefix);
    b->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    b->reconnect_max_ms = cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : 5000;
    b->fill_batch = cfg->fill_batch ? cfg->fill_batch : 1000;
    b->backoff_ms = 100;
    broker_script_sha(broker_lua_publish, b->sha_pub);
    broker_script_sha(broker_lua_fill, b->sha_fill);
    broker_key_global(b->k_streams, sizeof b->k_streams, b->prefix, "streams");
    broker_key_global(b->k_gen, sizeof b->k_gen, b->prefix, "gen");
    broker_key_global(b->k_chan, sizeof b->k_chan, b->prefix, "ev");
    b->node_ttl_ms = cfg->node_ttl_ms > 0 ? cfg->node_ttl_ms : 5000;
    {
        unsigned char raw[8];
        if (RAND_bytes(raw, sizeof raw) != 1) {
            uint64_t x = clock_mono_ns() ^ (uint64_t)(uintptr_t)b;
            memcpy(raw, &x, sizeof raw);
        }
        for (int i = 0; i < 8; i++) snprintf(b->node + 2 * i, 3, "%02x", raw[i]);
    }
    snprintf(b->k_bus, sizeof b->k_bus, "%s:bus", b->prefix);
    snprintf(b->k_nodes, sizeof b->k_nodes, "%s:nodes", b->prefix);
    snprintf(b->k_alive, sizeof b->k_alive, "%s:node:%s", b->prefix, b->node);
    snprintf(b->k_pres, sizeof b->k_pres, "%s:pres:%s", b->prefix, b->node);
    uv_mutex_init(&b->mu);
    uv_cond_init(&b->synced_cv);
    b->st.state = BROKER_STATE_CONNECTING;
    b->st.state_since_ms = clock_unix_ms();
    return &b->super;
}
