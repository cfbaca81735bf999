/* Migrations are applied by version, not by "newer than the highest": a migration missing below
 * the highest applied one (merged late) is still applied, once. */
#include "core/log.h"
#include "store/store.h"
#include "test.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

static char dir[64];

TEST(a_missing_lower_version_is_applied)
{
    store_t *st = NULL;
    int applied = -1, version = 0;
    ASSERT_EQ_INT(0, store_open(NULL, dir, &st));
    ASSERT_EQ_INT(0, store_migrate(st, &applied, &version));
    ASSERT(applied >= 4);
    store_close(st);

    /* Forget 0004 as if this database had been migrated before it existed. */
    char path[128];
    snprintf(path, sizeof path, "%s/bellhop.db", dir);
    sqlite3 *db = NULL;
    ASSERT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    ASSERT_EQ_INT(SQLITE_OK,
                  sqlite3_exec(db,
                               "DROP TABLE guest_documents; DROP TABLE uploads; "
                               "DELETE FROM schema_migrations WHERE version = 4;",
                               NULL, NULL, NULL));
    sqlite3_close(db);

    ASSERT_EQ_INT(0, store_open(NULL, dir, &st));
    ASSERT_EQ_INT(0, store_migrate(st, &applied, &version));
    ASSERT_EQ_INT(1, applied);
    ASSERT_EQ_INT(0, store_migrate(st, &applied, &version));
    ASSERT_EQ_INT(0, applied);
    store_close(st);
}

TEST_RUN(TEST_ENTRY(a_missing_lower_version_is_applied))

int main(void)
{
    log_set_level(LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/bellhop-migrate-XXXXXX");
    if (mkdtemp(dir) == NULL) return 1;
    int rc = test_run_all() ? 1 : 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return rc;
}
