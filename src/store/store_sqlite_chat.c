/* store_sqlite_chat.c: SQLite tables of the chat feature. */
#include "store/chat.h"
#include "store/sqlite_int.h"

const struct store_chat_ops store__sqlite_chat_ops = {0};
