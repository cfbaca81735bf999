/* queue.h: intrusive circular doubly-linked lists.
 *
 * Embed a queue_t in a struct and link it; linking never allocates. An empty list is a head that
 * points to itself. Recover the containing struct with QUEUE_DATA (container_of). */
#ifndef BH_CORE_QUEUE_H
#define BH_CORE_QUEUE_H

#include <stddef.h>

typedef struct queue_s {
    struct queue_s *next;
    struct queue_s *prev;
} queue_t;

#define QUEUE_DATA(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))
#define QUEUE_FOREACH(q, h) for ((q) = (h)->next; (q) != (h); (q) = (q)->next)

static inline void queue_init(queue_t *q)
{
    q->next = q->prev = q;
}

static inline int queue_empty(const queue_t *q)
{
    return q->next == q;
}

static inline void queue_insert_tail(queue_t *h, queue_t *q)
{
    q->next = h;
    q->prev = h->prev;
    h->prev->next = q;
    h->prev = q;
}

static inline void queue_insert_head(queue_t *h, queue_t *q)
{
    q->next = h->next;
    q->prev = h;
    h->next->prev = q;
    h->next = q;
}

/* Unlinks q and leaves it self-linked, so removing twice is harmless. */
static inline void queue_remove(queue_t *q)
{
    q->prev->next = q->next;
    q->next->prev = q->prev;
    queue_init(q);
}

/* Moves every element of h to the end of n; h becomes empty. */
static inline void queue_move(queue_t *h, queue_t *n)
{
    if (queue_empty(h)) return;
    h->next->prev = n->prev;
    n->prev->next = h->next;
    h->prev->next = n;
    n->prev = h->prev;
    queue_init(h);
}

#endif
