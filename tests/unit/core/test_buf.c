/* buf: growth, formatting, consume, steal; queue: intrusive list operations. */
#include "core/buf.h"
#include "core/queue.h"
#include "test.h"

#include <stdlib.h>

TEST(buf_appends_and_stays_terminated)
{
    buf_t b = BUF_INIT;
    for (int i = 0; i < 1000; i++) buf_appendf(&b, "%d,", i % 10);
    ASSERT_EQ_INT(2000, b.len);
    ASSERT_EQ_INT('\0', b.data[b.len]);
    buf_consume(&b, 1998);
    ASSERT_EQ_STR("9,", b.data);
    buf_consume(&b, 10);
    ASSERT_EQ_INT(0, b.len);
    buf_dispose(&b);
}

TEST(buf_formats_long_strings)
{
    buf_t b = BUF_INIT;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_appendf(&b, "<%s>", big);
    ASSERT_EQ_INT(5001, b.len);
    ASSERT_EQ_INT('>', b.data[5000]);
    size_t len;
    char *s = buf_steal(&b, &len);
    ASSERT_EQ_INT(5001, len);
    ASSERT(b.data == NULL);
    free(s);
}

typedef struct item_s {
    int v;
    queue_t node;
} item_t;

TEST(queue_links_without_allocating)
{
    queue_t h, other;
    queue_init(&h);
    queue_init(&other);
    item_t items[4] = {{1, {0, 0}}, {2, {0, 0}}, {3, {0, 0}}, {4, {0, 0}}};
    for (int i = 0; i < 3; i++) queue_insert_tail(&h, &items[i].node);
    queue_insert_head(&h, &items[3].node);
    int order[4], n = 0;
    queue_t *q;
    QUEUE_FOREACH(q, &h) order[n++] = QUEUE_DATA(q, item_t, node)->v;
    ASSERT_EQ_INT(4, n);
    ASSERT_EQ_INT(4, order[0]);
    ASSERT_EQ_INT(3, order[3]);
    queue_remove(&items[1].node);
    queue_remove(&items[1].node); /* twice is harmless */
    queue_move(&h, &other);
    ASSERT(queue_empty(&h));
    n = 0;
    QUEUE_FOREACH(q, &other) n++;
    ASSERT_EQ_INT(3, n);
}

TEST_MAIN(TEST_ENTRY(buf_appends_and_stays_terminated), TEST_ENTRY(buf_formats_long_strings),
          TEST_ENTRY(queue_links_without_allocating))
