#include "store/flags.h"

#include "core/err.h"
#include "store/store_int.h"

int store_flags_load(store_t *st, json_t **out)
{
    if (st == NULL || out == NULL) return BH_EINVAL;
    return st->vt->flags->load(st, out);
}

int store_flags_save(store_t *st, const store_flag_change_t *changes, size_t n,
                     const store_flag_actor_t *by)
{
    if (st == NULL || (n && changes == NULL) || by == NULL || by->role == NULL) return BH_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (changes[i].name == NULL || changes[i].new_value == NULL) return BH_EINVAL;
    return st->vt->flags->save(st, changes, n, by);
}

int store_flags_history(store_t *st, size_t limit, json_t **out)
{
    if (st == NULL || out == NULL || limit == 0) return BH_EINVAL;
    return st->vt->flags->history(st, limit, out);
}
