/* chat.h: the store operations of the chat feature (placeholder until the feature lands).
 * Declare the feature's store functions here; dispatch them in chat.c through st->vt->chat; implement
 * them per backend in store_sqlite_chat.c (see sqlite_int.h). */
#ifndef BH_STORE_CHAT_H
#define BH_STORE_CHAT_H

#include "store/store.h"

struct store_chat_ops {
    int placeholder_; /* replaced by the feature's operations */
};

#endif
