/* Tests for upload/machine.c: chunk verdicts, sync and progress cadence, session rules. */
#include "test.h"

#include "upload/machine.h"

TEST(chunks_must_continue_at_the_accepted_offset)
{
    upload_sm_t m;
    upload_sm_init(&m, 1000, 0, 256);
    ASSERT_EQ_INT(UPLOAD_CHUNK_OK, upload_sm_check(&m, 0, 100));
    ASSERT_EQ_INT(UPLOAD_CHUNK_NEGATIVE, upload_sm_check(&m, -1, 100));
    ASSERT_EQ_INT(UPLOAD_CHUNK_MISMATCH, upload_sm_check(&m, 50, 100));
    ASSERT_EQ_INT(UPLOAD_CHUNK_EMPTY, upload_sm_check(&m, 0, 0));
    ASSERT_EQ_INT(UPLOAD_CHUNK_OVERFLOW, upload_sm_check(&m, 0, 1001));
    upload_sm_accept(&m, 600);
    ASSERT_EQ_INT(UPLOAD_CHUNK_MISMATCH, upload_sm_check(&m, 500, 10)); /* overlaps */
    ASSERT_EQ_INT(UPLOAD_CHUNK_MISMATCH, upload_sm_check(&m, 700, 10)); /* leaves a gap */
    ASSERT_EQ_INT(UPLOAD_CHUNK_OVERFLOW, upload_sm_check(&m, 600, 401));
    ASSERT_EQ_INT(UPLOAD_CHUNK_OK, upload_sm_check(&m, 600, 400));
    upload_sm_accept(&m, 400);
    ASSERT(upload_sm_complete(&m));
    ASSERT_EQ_INT(UPLOAD_CHUNK_OVERFLOW, upload_sm_check(&m, 1000, 1));
}

TEST(sync_and_progress_cadence)
{
    upload_sm_t m;
    upload_sm_init(&m, 1000, 0, 256);
    ASSERT(!upload_sm_sync_due(&m, 255));
    ASSERT(upload_sm_sync_due(&m, 256));
    ASSERT_EQ_INT(0, upload_sm_written(&m, 200, 0)); /* written, not yet durable */
    ASSERT_EQ_INT(200, m.written);
    ASSERT_EQ_INT(0, m.durable);
    ASSERT_EQ_INT(1, upload_sm_written(&m, 300, 1)); /* crossed 256 */
    ASSERT_EQ_INT(300, m.durable);
    ASSERT_EQ_INT(512, m.next_ack);
    ASSERT_EQ_INT(0, upload_sm_written(&m, 400, 1)); /* durable, but no boundary */
    ASSERT_EQ_INT(1, upload_sm_written(&m, 900, 1)); /* crossed two: one message */
    ASSERT_EQ_INT(1024, m.next_ack);
    ASSERT(upload_sm_sync_due(&m, 1000)); /* the end always syncs */
    ASSERT_EQ_INT(1, upload_sm_written(&m, 1000, 1));
    ASSERT_EQ_INT(100.0, upload_sm_percent(&m));
}

TEST(resume_and_rewind)
{
    upload_sm_t m;
    upload_sm_init(&m, 10000, 3000, 1024); /* a resumed upload: all on disk is durable */
    ASSERT_EQ_INT(3000, m.accepted);
    ASSERT_EQ_INT(3000, m.durable);
    ASSERT_EQ_INT(3072, m.next_ack);
    ASSERT_EQ_INT(30.0, upload_sm_percent(&m));
    upload_sm_accept(&m, 5000);
    upload_sm_written(&m, 8000, 1);
    upload_sm_rewind(&m, 3000);
    ASSERT_EQ_INT(3000, m.accepted);
    ASSERT_EQ_INT(3000, m.written);
    ASSERT_EQ_INT(3072, m.next_ack);
    upload_sm_t e;
    upload_sm_init(&e, 0, 0, 1024);
    ASSERT(upload_sm_complete(&e));
    ASSERT_EQ_INT(100.0, upload_sm_percent(&e));
}

TEST(session_rules)
{
    ASSERT(upload_sess_check(UPLOAD_SESS_IDLE, UPLOAD_MSG_START) == NULL);
    ASSERT(upload_sess_check(UPLOAD_SESS_IDLE, UPLOAD_MSG_RESUME_ID) == NULL);
    ASSERT_EQ_STR("no_upload", upload_sess_check(UPLOAD_SESS_IDLE, UPLOAD_MSG_CHUNK));
    ASSERT_EQ_STR("no_upload", upload_sess_check(UPLOAD_SESS_IDLE, UPLOAD_MSG_PAUSE));
    ASSERT_EQ_STR("busy", upload_sess_check(UPLOAD_SESS_OPENING, UPLOAD_MSG_CHUNK));
    ASSERT_EQ_STR("upload_in_progress", upload_sess_check(UPLOAD_SESS_ACTIVE, UPLOAD_MSG_START));
    ASSERT(upload_sess_check(UPLOAD_SESS_ACTIVE, UPLOAD_MSG_CHUNK) == NULL);
    ASSERT(upload_sess_check(UPLOAD_SESS_ACTIVE, UPLOAD_MSG_PAUSE) == NULL);
    ASSERT_EQ_STR("not_paused", upload_sess_check(UPLOAD_SESS_ACTIVE, UPLOAD_MSG_RESUME));
    ASSERT_EQ_STR("paused", upload_sess_check(UPLOAD_SESS_PAUSED, UPLOAD_MSG_CHUNK));
    ASSERT(upload_sess_check(UPLOAD_SESS_PAUSED, UPLOAD_MSG_RESUME) == NULL);
    ASSERT(upload_sess_check(UPLOAD_SESS_PAUSED, UPLOAD_MSG_CANCEL) == NULL);
    ASSERT_EQ_STR("busy", upload_sess_check(UPLOAD_SESS_CLOSING, UPLOAD_MSG_CANCEL));
    ASSERT_EQ_STR("upload_in_progress", upload_sess_check(UPLOAD_SESS_CLOSING, UPLOAD_MSG_START));
}

TEST_MAIN(TEST_ENTRY(chunks_must_continue_at_the_accepted_offset),
          TEST_ENTRY(sync_and_progress_cadence), TEST_ENTRY(resume_and_rewind),
          TEST_ENTRY(session_rules))
