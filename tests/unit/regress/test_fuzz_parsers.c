/* Replays the corpus and crash regressions of the parser fuzz targets (fuzz/fuzz_jwt.c,
 * fuzz/fuzz_tus.c, fuzz/fuzz_sansio.c); see replay.h. */
#include "regress/replay.h"
#include "test.h"

#include "../../../fuzz/fuzz_jwt.c"
#include "../../../fuzz/fuzz_sansio.c"
#include "../../../fuzz/fuzz_tus.c"

TEST(jwt_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_jwt", fuzz_jwt_one) > 0);
    replay_dir("regress", "fuzz_jwt", fuzz_jwt_one);
}

TEST(tus_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_tus", fuzz_tus_one) > 0);
    replay_dir("regress", "fuzz_tus", fuzz_tus_one);
}

TEST(sansio_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_sansio", fuzz_sansio_one) > 0);
    replay_dir("regress", "fuzz_sansio", fuzz_sansio_one);
}

TEST_MAIN(TEST_ENTRY(jwt_corpus), TEST_ENTRY(tus_corpus), TEST_ENTRY(sansio_corpus))
