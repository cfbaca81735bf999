/* store_sqlite_flags.c: feature flags and their audit trail in SQLite. */
#include "store/flags.h"
#include "store/sqlite_int.h"

#include "core/clock.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_LOAD[] = "SELECT name, value FROM feature_flags ORDER BY name";
static const char SQL_UPSERT[] =
    "INSERT INTO feature_flags (name, value, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, "
    "updated_at = excluded.updated_at";
static const char SQL_AUDIT[] =
    "INSERT INTO feature_flag_changes (name, old_value, new_value, changed_by, changed_by_org, "
    "changed_by_role, changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_HISTORY[] =
    "SELECT name, old_value, new_value, changed_by, changed_by_org, changed_by_role, changed_at "
    "FROM feature_flag_changes ORDER BY id DESC LIMIT ?1";

static json_t *column_json(sqlite3_stmt *s, int col)
{
    const char *text = (const char *)sqlite3_column_text(s, col);
    if (text == NULL) return json_null();
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    return j ? j : json_null();
}

static int sqlite_flags_load(store_t *st, json_t **out)
{
    sqlite_conn_t *c;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    sqlite3_stmt *s = NULL;
    json_t *o = json_object();
    if ((rc = store__sqlite_prepare(c, SQL_LOAD, &s)) == 0) {
        int step;
        while ((step = sqlite3_step(s)) == SQLITE_ROW)
            json_object_set_new(o, (const char *)sqlite3_column_text(s, 0), column_json(s, 1));
        if (step != SQLITE_DONE) rc = store__sqlite_error(c, step, "flags_load");
        store__sqlite_release(s);
    }
    store__sqlite_checkin(st, c);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static int bind_json(sqlite3_stmt *s, int i, json_t *v)
{
    if (v == NULL) return sqlite3_bind_null(s, i);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) return SQLITE_NOMEM;
    return sqlite3_bind_text(s, i, text, -1, free);
}

static int sqlite_flags_save(store_t *st, const store_flag_change_t *changes, size_t n,
                             const store_flag_actor_t *by)
{
    sqlite_conn_t *c;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    int64_t now = clock_unix_ms();
    if ((rc = store__sqlite_begin(c, 1)) != 0) goto out;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_stmt *s = NULL;
        if ((rc = store__sqlite_prepare(c, SQL_UPSERT, &s)) != 0) break;
        int b = sqlite3_bind_text(s, 1, changes[i].name, -1, SQLITE_STATIC);
        if (b == SQLITE_OK) b = bind_json(s, 2, changes[i].new_value);
        if (b == SQLITE_OK) b = sqlite3_bind_int64(s, 3, by->user_id);
        if (b == SQLITE_OK) b = sqlite3_bind_int64(s, 4, now);
        int step = b == SQLITE_OK ? sqlite3_step(s) : b;
        store__sqlite_release(s);
        if (step != SQLITE_DONE) {
            rc = store__sqlite_error(c, step, "flags_save");
            break;
        }
        if ((rc = store__sqlite_prepare(c, SQL_AUDIT, &s)) != 0) break;
        b = sqlite3_bind_text(s, 1, changes[i].name, -1, SQLITE_STATIC);
        if (b == SQLITE_OK) b = bind_json(s, 2, changes[i].old_value);
        if (b == SQLITE_OK) b = bind_json(s, 3, changes[i].new_value);
        if (b == SQLITE_OK) b = sqlite3_bind_int64(s, 4, by->user_id);
        if (b == SQLITE_OK) b = sqlite3_bind_int64(s, 5, by->org_id);
        if (b == SQLITE_OK) b = sqlite3_bind_text(s, 6, by->role, -1, SQLITE_STATIC);
        if (b == SQLITE_OK) b = sqlite3_bind_int64(s, 7, now);
        step = b == SQLITE_OK ? sqlite3_step(s) : b;
        store__sqlite_release(s);
        if (step != SQLITE_DONE) rc = store__sqlite_error(c, step, "flags_audit");
    }
    if (rc == 0) rc = store__sqlite_commit(c);
out:
    if (rc != 0) store__sqlite_rollback(c);
    store__sqlite_checkin(st, c);
    return rc;
}

static int sqlite_flags_history(store_t *st, size_t limit, json_t **out)
{
    sqlite_conn_t *c;
    int rc = store__sqlite_checkout(st, &c);
    if (rc != 0) return rc;
    sqlite3_stmt *s = NULL;
    json_t *a = json_array();
    if ((rc = store__sqlite_prepare(c, SQL_HISTORY, &s)) == 0) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
        int step;
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            char ts[32];
            clock_iso8601_ms(sqlite3_column_int64(s, 6), ts, sizeof ts);
            json_array_append_new(
                a, json_pack("{s:s,s:o,s:o,s:I,s:I,s:s,s:s}", "name",
                             (const char *)sqlite3_column_text(s, 0), "oldValue",
                             column_json(s, 1), "newValue", column_json(s, 2), "changedBy",
                             (json_int_t)sqlite3_column_int64(s, 3), "changedByOrg",
                             (json_int_t)sqlite3_column_int64(s, 4), "changedByRole",
                             (const char *)sqlite3_column_text(s, 5), "changedAt", ts));
        }
        if (step != SQLITE_DONE) rc = store__sqlite_error(c, step, "flags_history");
        store__sqlite_release(s);
    }
    store__sqlite_checkin(st, c);
    if (rc != 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

const struct store_flag_ops store__sqlite_flag_ops = {
    .load = sqlite_flags_load,
    .save = sqlite_flags_save,
    .history = sqlite_flags_history,
};
