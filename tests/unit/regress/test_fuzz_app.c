/* Replays the corpus and crash regressions of the whole-application fuzz targets (the real
 * routes, the realtime stream, chat and the upload stream on a real worker loop with a SQLite
 * store in a temporary directory: fuzz/app.h); see replay.h.
 *
 * Regressions held here:
 *   fuzz/regress/fuzz_upload_ws/upgrade_with_start_null_ws: upload stream messages sent in the
 *   same packet as the upgrade request reached on_message before s->ws was set (NULL
 *   dereference: any user allowed to upload could crash the server). */
#include "regress/replay.h"
#include "test.h"

#include "../../../fuzz/harness.c"
#include "../../../fuzz/app.c"
#include "../../../fuzz/fuzz_app_http.c"
#include "../../../fuzz/fuzz_app_json.c"
#include "../../../fuzz/fuzz_chat.c"
#include "../../../fuzz/fuzz_realtime.c"
#include "../../../fuzz/fuzz_upload_ws.c"

TEST(app_http_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_app_http", fuzz_app_http_one) > 0);
    replay_dir("regress", "fuzz_app_http", fuzz_app_http_one);
}

TEST(app_json_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_app_json", fuzz_app_json_one) > 0);
    replay_dir("regress", "fuzz_app_json", fuzz_app_json_one);
}

TEST(realtime_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_realtime", fuzz_realtime_one) > 0);
    replay_dir("regress", "fuzz_realtime", fuzz_realtime_one);
}

TEST(chat_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_chat", fuzz_chat_one) > 0);
    replay_dir("regress", "fuzz_chat", fuzz_chat_one);
}

TEST(upload_ws_corpus)
{
    ASSERT(replay_dir("corpus", "fuzz_upload_ws", fuzz_upload_ws_one) > 0);
    ASSERT(replay_dir("regress", "fuzz_upload_ws", fuzz_upload_ws_one) > 0);
}

TEST_MAIN(TEST_ENTRY(app_http_corpus), TEST_ENTRY(app_json_corpus), TEST_ENTRY(realtime_corpus),
          TEST_ENTRY(chat_corpus), TEST_ENTRY(upload_ws_corpus))
