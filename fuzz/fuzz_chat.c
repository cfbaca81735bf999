/* fuzz_chat: client messages on /v2/collaboration/chat/stream, through the real handlers of
 * collaboration chat (chat/session.c): join, leave, message, edit, delete, read, typing, presence, history.
 *
 * Byte 0 picks the read size, byte 1 the token (@T0..@T4, see app.h; 0 = owner of org 1); the
 * rest is a list of messages separated by 0xFF, each sent as one masked text frame (binary when
 * it starts with 0xFE) after the upgrade request. Token placeholders inside messages are expanded
 * too. After the input every deadline fires (handshake timeout, heartbeat) and the connection
 * closes, which runs the session's teardown. */
#include "app.h"

int fuzz_chat_one(const uint8_t *data, size_t size);
int fuzz_chat_one(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    fz_app_ws("/v2/collaboration/chat/stream", data[1] % FZ_APP_TOKENS, data + 2, size - 2, fz_chunk_from(data[0]));
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_chat_one(data, size);
}
#endif
