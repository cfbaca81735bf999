/* The hub under a sequencing broker, without Redis: notifications in order, duplicates, gaps
 * and the fills that close them (including a fill that races later notifications), epoch
 * adoption, history lost to trimming, aborted fills, derived epochs, and what a resume gets. */
#include "broker/broker.h"
#include "broker/broker_int.h"
#include "core/err.h"
#include "realtime/hub.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    int n;
    int64_t offsets[64];
} sink_t;

static void on_sink(void *data, rt_event_t *ev)
{
    sink_t *s = data;
    if (s->n < 64) s->offsets[s->n] = ev->offset;
    s->n++;
    rt_event_unref(ev);
}

/* A broker that sequences (as Redis does) but is never started: the test drives the hooks. */
static const broker_vtable_t fake_vt = {.name = "fake", .sequences = 1};
static broker_t fake = {.vt = &fake_vt};

typedef struct {
    rt_hub_t *hub;
    broker_t *broker;
    broker_hooks_t h;
    sink_t sink;
    char json[64][64];
} fx_t;

static int fx_init(fx_t *f)
{
    memset(f, 0, sizeof *f);
    rt_hub_config_t cfg = {.history_max_events = 100, .history_max_age_ms = 3600 * 1000};
    f->broker = &fake;
    f->hub = rt_hub_new(NULL, &cfg);
    rt_hub_set_broker(f->hub, f->broker, 100);
    rt_hub_set_sink(f->hub, on_sink, &f->sink);
    rt__hub_broker_hooks(f->hub, &f->h);
    return 0;
}

static void fx_dispose(fx_t *f)
{
    rt_hub_free(f->hub);
}

static broker_event_t ev_of(fx_t *f, const char *epoch, int64_t off)
{
    broker_event_t e;
    memset(&e, 0, sizeof e);
    e.org_id = 1;
    snprintf(e.service, sizeof e.service, "finance");
    e.offset = off;
    e.ts_ms = (int64_t)time(NULL) * 1000; /* inside the age window */
    snprintf(e.epoch, sizeof e.epoch, "%s", epoch);
    char *j = f->json[off % 64];
    snprintf(j, 64, "{\"id\":\"%s-%lld\",\"offset\":%lld}", epoch, (long long)off, (long long)off);
    e.json = j;
    e.json_len = strlen(j);
    return e;
}

static int note(fx_t *f, const char *epoch, int64_t off, int64_t *after)
{
    broker_event_t e = ev_of(f, epoch, off);
    char ep[BROKER_EPOCH_LEN + 1];
    return f->h.on_event(f->h.data, &e, after, ep);
}

static int fill(fx_t *f, const char *epoch, int64_t remote_head, int64_t from, int64_t to,
                int64_t *after)
{
    broker_event_t evs[64];
    size_t n = 0;
    for (int64_t o = from; o <= to && from > 0; o++) evs[n++] = ev_of(f, epoch, o);
    char ep[BROKER_EPOCH_LEN + 1];
    return f->h.fill_apply(f->h.data, 1, "finance", 1, epoch, remote_head, evs, n, after, ep);
}

static const char *E = "00000000000000e1";
static const char *F = "00000000000000f2";

static void head_of(fx_t *f, int64_t *head, char epoch[RT_EPOCH_LEN + 1])
{
    rt_hub_position(f->hub, 1, RT_SVC_FINANCE, head, epoch);
}

TEST(derived_epochs_agree_across_nodes)
{
    fx_t a, b;
    ASSERT_EQ_INT(0, fx_init(&a));
    ASSERT_EQ_INT(0, fx_init(&b));
    int64_t h;
    char ea[RT_EPOCH_LEN + 1], eb[RT_EPOCH_LEN + 1], ec[RT_EPOCH_LEN + 1];
    head_of(&a, &h, ea); /* created before the generation is known: random */
    a.h.on_generation(a.h.data, "gen-1");
    b.h.on_generation(b.h.data, "gen-1");
    head_of(&a, &h, ea);
    head_of(&b, &h, eb);
    ASSERT_EQ_STR(ea, eb);
    fx_t c;
    ASSERT_EQ_INT(0, fx_init(&c));
    c.h.on_generation(c.h.data, "gen-2");
    head_of(&c, &h, ec);
    ASSERT(strcmp(ea, ec) != 0);
    fx_dispose(&a);
    fx_dispose(&b);
    fx_dispose(&c);
}

TEST(in_order_duplicates_gap_and_racing_fill)
{
    fx_t f;
    ASSERT_EQ_INT(0, fx_init(&f));
    int64_t after = -1, head;
    char ep[RT_EPOCH_LEN + 1];
    /* The stream's first fill tells this node the epoch. */
    ASSERT_EQ_INT(1, f.h.fill_begin(f.h.data, 1, "finance", &after, ep));
    ASSERT_EQ_INT(0, fill(&f, E, 0, 0, -1, &after));
    ASSERT_EQ_INT(0, fill(&f, E, 2, 1, 2, &after));
    ASSERT_EQ_INT(BROKER_DUP, note(&f, E, 2, &after));
    ASSERT_EQ_INT(BROKER_APPLY, note(&f, E, 3, &after));
    /* 4 and 5 missed: a gap; 6 and 7 arrive while the fill is out. */
    ASSERT_EQ_INT(BROKER_FILL, note(&f, E, 6, &after));
    ASSERT_EQ_INT(3, after);
    ASSERT_EQ_INT(BROKER_DUP, note(&f, E, 7, &after));
    /* The fill read Redis at head 6; 7 was dropped meanwhile: another round. */
    ASSERT_EQ_INT(1, fill(&f, E, 6, 4, 6, &after));
    ASSERT_EQ_INT(6, after);
    ASSERT_EQ_INT(0, fill(&f, E, 7, 7, 7, &after));
    ASSERT_EQ_INT(BROKER_APPLY, note(&f, E, 8, &after));
    head_of(&f, &head, ep);
    ASSERT_EQ_INT(8, head);
    ASSERT_EQ_STR(E, ep);
    ASSERT_EQ_INT(8, f.sink.n);
    for (int i = 0; i < 8; i++) ASSERT_EQ_INT(i + 1, f.sink.offsets[i]);
    /* A resume gets exactly what followed. */
    rt_event_t **out;
    size_t n;
    int more;
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(f.hub, 1, RT_SVC_FINANCE, E, 5, 100, &out, &n, &more, &head));
    ASSERT_EQ_INT(3, n);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ_INT(6 + (int64_t)i, out[i]->offset);
        rt_event_unref(out[i]);
    }
    free(out);
    /* Ahead of this node but with the right epoch: trusted (it came from Redis), nothing sent. */
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(f.hub, 1, RT_SVC_FINANCE, E, 12, 100, &out, &n, &more, &head));
    ASSERT_EQ_INT(0, n);
    ASSERT_EQ_INT(RT_SINCE_EPOCH, rt_hub_since(f.hub, 1, RT_SVC_FINANCE, F, 3, 100, &out, &n, &more, &head));
    fx_dispose(&f);
}

TEST(epoch_adopted_and_trimmed_history)
{
    fx_t f;
    ASSERT_EQ_INT(0, fx_init(&f));
    int64_t after, head;
    char ep[RT_EPOCH_LEN + 1];
    ASSERT_EQ_INT(1, f.h.fill_begin(f.h.data, 1, "finance", &after, ep));
    ASSERT_EQ_INT(0, fill(&f, E, 3, 1, 3, &after));
    /* Redis lost its data: the stream comes back under epoch F. */
    ASSERT_EQ_INT(BROKER_FILL, note(&f, F, 2, &after));
    ASSERT_EQ_INT(0, fill(&f, F, 2, 1, 2, &after));
    head_of(&f, &head, ep);
    ASSERT_EQ_STR(F, ep);
    ASSERT_EQ_INT(2, head);
    rt_event_t **out;
    size_t n;
    int more;
    ASSERT_EQ_INT(RT_SINCE_EPOCH, rt_hub_since(f.hub, 1, RT_SVC_FINANCE, E, 3, 100, &out, &n, &more, &head));
    /* Entries 3..9 were trimmed before this node fetched them: the head jumps, the ring restarts. */
    ASSERT_EQ_INT(BROKER_FILL, note(&f, F, 12, &after));
    ASSERT_EQ_INT(0, fill(&f, F, 12, 10, 12, &after));
    head_of(&f, &head, ep);
    ASSERT_EQ_INT(12, head);
    ASSERT_EQ_INT(RT_SINCE_TOO_OLD, rt_hub_since(f.hub, 1, RT_SVC_FINANCE, F, 2, 100, &out, &n, &more, &head));
    ASSERT_EQ_INT(RT_SINCE_OK, rt_hub_since(f.hub, 1, RT_SVC_FINANCE, F, 9, 100, &out, &n, &more, &head));
    ASSERT_EQ_INT(3, n);
    for (size_t i = 0; i < n; i++) rt_event_unref(out[i]);
    free(out);
    /* Nothing left at all after the head (everything trimmed): it jumps to Redis's head. */
    ASSERT_EQ_INT(BROKER_FILL, note(&f, F, 20, &after));
    ASSERT_EQ_INT(0, fill(&f, F, 20, 0, -1, &after));
    head_of(&f, &head, ep);
    ASSERT_EQ_INT(20, head);
    fx_dispose(&f);
}

TEST(aborted_fill_lets_the_next_one_start)
{
    fx_t f;
    ASSERT_EQ_INT(0, fx_init(&f));
    int64_t after;
    char ep[RT_EPOCH_LEN + 1];
    ASSERT_EQ_INT(1, f.h.fill_begin(f.h.data, 1, "finance", &after, ep));
    ASSERT_EQ_INT(0, f.h.fill_begin(f.h.data, 1, "finance", &after, ep)); /* one at a time */
    ASSERT_EQ_INT(0, f.h.fill_apply(f.h.data, 1, "finance", -1, NULL, 0, NULL, 0, NULL, NULL));
    ASSERT_EQ_INT(1, f.h.fill_begin(f.h.data, 1, "finance", &after, ep));
    /* Not in Redis at all: nothing to apply, not filling any more. */
    ASSERT_EQ_INT(0, f.h.fill_apply(f.h.data, 1, "finance", 0, NULL, 0, NULL, 0, NULL, NULL));
    ASSERT_EQ_INT(1, f.h.fill_begin(f.h.data, 1, "finance", &after, ep));
    /* A service this build does not know is ignored, not created. */
    ASSERT_EQ_INT(0, f.h.fill_begin(f.h.data, 1, "no_such_service", &after, ep));
    ASSERT_EQ_INT(0, f.sink.n);
    fx_dispose(&f);
}

TEST_MAIN(TEST_ENTRY(derived_epochs_agree_across_nodes), TEST_ENTRY(in_order_duplicates_gap_and_racing_fill),
          TEST_ENTRY(epoch_adopted_and_trimmed_history), TEST_ENTRY(aborted_fill_lets_the_next_one_start))
