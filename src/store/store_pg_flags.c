/* store_pg_flags.c: feature flags and their audit trail in PostgreSQL (the SQLite twin is
 * store_sqlite_flags.c). Values are JSON text; the store does not interpret them. */
#include "store/flags.h"
#include "store/pg_int.h"

#include "core/clock.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_LOAD[] = "SELECT name, value FROM feature_flags ORDER BY name COLLATE \"C\"";
/* Two nodes saving the same flag at once: the upsert makes the later one win, never fail. */
static const char SQL_UPSERT[] =
    "INSERT INTO feature_flags (name, value, updated_by, updated_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, "
    "updated_at = excluded.updated_at";
static const char SQL_AUDIT[] =
    "INSERT INTO feature_flag_changes (name, old_value, new_value, changed_by, changed_by_org, "
    "changed_by_role, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char SQL_HISTORY[] =
    "SELECT name, old_value, new_value, changed_by, changed_by_org, changed_by_role, changed_at "
    "FROM feature_flag_changes ORDER BY id DESC LIMIT $1";

static json_t *column_json(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return json_null();
    json_t *j = json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
    return j ? j : json_null();
}

static int pg_flags_load(store_t *st, json_t **out)
{
    pg_conn_t *c;
    PGresult *r;
    int rc = store__pg_checkout(st, &c);
    if (rc != 0) return rc;
    rc = store__pg_exec(c, SQL_LOAD, NULL, &r, "flags_load");
    store__pg_checkin(st, c);
    if (rc != 0) return rc;
    json_t *o = json_object();
    for (int i = 0, n = PQntuples(r); i < n; i++)
        json_object_set_new(o, PQgetvalue(r, i, 0), column_json(r, i, 1));
    PQclear(r);
    *out = o;
    return 0;
}

/* v as compact JSON text (new; free()), or NULL for no value. */
static char *dump(json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static int save_one(pg_conn_t *c, const store_flag_change_t *ch, const store_flag_actor_t *by,
                    int64_t now)
{
    pg_params_t p;
    char *new_text = dump(ch->new_value), *old_text = dump(ch->old_value);
    int rc = BH_ESTORE;
    if (new_text == NULL || (ch->old_value != NULL && old_text == NULL)) goto out;
    store__pg_params_init(&p);
    store__pg_param_text(&p, ch->name);
    store__pg_param_text(&p, new_text);
    store__pg_param_int64(&p, by->user_id);
    store__pg_param_int64(&p, now);
    if ((rc = store__pg_write(c, SQL_UPSERT, &p, NULL, "flags_save")) != 0) goto out;
    store__pg_params_init(&p);
    store__pg_param_text(&p, ch->name);
    store__pg_param_text(&p, old_text);
    store__pg_param_text(&p, new_text);
    store__pg_param_int64(&p, by->user_id);
    store__pg_param_int64(&p, by->org_id);
    store__pg_param_text(&p, by->role);
    store__pg_param_int64(&p, now);
    rc = store__pg_write(c, SQL_AUDIT, &p, NULL, "flags_audit");
out:
    free(new_text);
    free(old_text);
    return rc;
}

static int pg_flags_save(store_t *st, const store_flag_change_t *changes, size_t n,
                         const store_flag_actor_t *by)
{
    pg_conn_t *c;
    int rc = store__pg_checkout(st, &c);
    if (rc != 0) return rc;
    int64_t now = clock_unix_ms();
    if ((rc = store__pg_begin(c)) == 0) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = save_one(c, &changes[i], by, now);
        if (rc == 0) rc = store__pg_commit(c);
        if (rc != 0) store__pg_rollback(c);
    }
    store__pg_checkin(st, c);
    return rc;
}

static int pg_flags_history(store_t *st, size_t limit, json_t **out)
{
    pg_conn_t *c;
    pg_params_t p;
    PGresult *r;
    int rc = store__pg_checkout(st, &c);
    if (rc != 0) return rc;
    store__pg_params_init(&p);
    store__pg_param_int64(&p, limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit);
    rc = store__pg_exec(c, SQL_HISTORY, &p, &r, "flags_history");
    store__pg_checkin(st, c);
    if (rc != 0) return rc;
    json_t *a = json_array();
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        char ts[32];
        clock_iso8601_ms(store__pg_get_int64(r, i, 6), ts, sizeof ts);
        json_array_append_new(
            a, json_pack("{s:s,s:o,s:o,s:I,s:I,s:s,s:s}", "name", PQgetvalue(r, i, 0), "oldValue",
                         column_json(r, i, 1), "newValue", column_json(r, i, 2), "changedBy",
                         (json_int_t)store__pg_get_int64(r, i, 3), "changedByOrg",
                         (json_int_t)store__pg_get_int64(r, i, 4), "changedByRole",
                         PQgetvalue(r, i, 5), "changedAt", ts));
    }
    PQclear(r);
    *out = a;
    return 0;
}

const struct store_flag_ops store__pg_flag_ops = {
    .load = pg_flags_load,
    .save = pg_flags_save,
    .history = pg_flags_history,
};
