/* Replays the corpus and crash regressions of fuzz/fuzz_http.c (HTTP/1.1 and WebSocket framing
 * on a real worker loop, see fuzz/harness.h); see replay.h. */
#include "regress/replay.h"
#include "test.h"

#include "../../../fuzz/harness.c"
#include "../../../fuzz/fuzz_http.c"

TEST(http_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_http", fuzz_http_one) > 0);
    replay_dir("regress", "fuzz_http", fuzz_http_one);
}

TEST_MAIN(TEST_ENTRY(http_corpus))
