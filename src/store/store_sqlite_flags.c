/* store_sqlite_flags.c: SQLite tables of the flags feature. */
#include "store/flags.h"
#include "store/sqlite_int.h"

const struct store_flag_ops store__sqlite_flag_ops = {0};
