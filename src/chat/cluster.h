/* cluster.h: the chat across nodes (several bellhop processes on one Redis, broker/broker.h).
 *
 * What one node's workers broadcast to a room (messages, edits, deletes, read positions, typing,
 * a user's arrival in a room) is also sent once on the broker's bus; every other node hands it
 * to its own workers as if its writer had produced it, so members on every node hear it. Acks,
 * join answers and errors stay with the connection that asked. Messages are stored in the shared
 * store before they are sent anywhere, as on one node.
 *
 * Presence is per user across nodes: each node announces its own view of a user (online, away,
 * offline: what its connections say) on the bus and keeps it in its entry set in Redis; every
 * node combines the views it knows (online beats away beats offline) with its own, and announces
 * the combination. A node that dies without goodbye stops refreshing its heartbeat; once its key
 * expires every node drops its views and announces what is left.
 *
 * Threads: the hooks run on the broker thread; chat__cluster_* on loops and the thread pool.
 * Lock order: the users table's lock, then the cluster's (never the other way round). */
#ifndef BH_CHAT_CLUSTER_H
#define BH_CHAT_CLUSTER_H

#include "broker/broker.h"
#include "chat/chat_int.h"

typedef struct chat_cluster_s chat_cluster_t;

/* A new cluster glue for srv over b (both borrowed; b must be stopped before the cluster is
 * freed). NULL when b does not span nodes (the in-process broker). */
chat_cluster_t *chat_cluster_new(chat_server_t *srv, broker_t *b);
void chat_cluster_free(chat_cluster_t *cl);

/* Sends the room broadcasts of a local batch to the other nodes. */
void chat__cluster_forward(chat_cluster_t *cl, const chat_batch_t *b);
/* u's status changed here (users lock held): tells the other nodes, and returns the status to
 * announce, combined with theirs. */
chat_status_t chat__cluster_presence(chat_cluster_t *cl, const chat_user_t *u);
/* The combined status of a user whose local status is local (any lock state but the cluster's). */
chat_status_t chat__cluster_status(chat_cluster_t *cl, int64_t org, int64_t user,
                                   chat_status_t local, int64_t *last_active);
/* Combines status[i]/last_active[i] (local, from chat_users_lookup) with the other nodes'. */
void chat__cluster_merge(chat_cluster_t *cl, int64_t org, const int64_t *ids, size_t n,
                         chat_status_t *status, int64_t *last_active);

#endif
