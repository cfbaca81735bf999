/* store_sqlite_uploads.c: SQLite tables of the uploads feature. */
#include "store/uploads.h"
#include "store/sqlite_int.h"

const struct store_upload_ops store__sqlite_upload_ops = {0};
