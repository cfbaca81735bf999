/* flags.h: the store operations of the flags feature (placeholder until the feature lands).
 * Declare the feature's store functions here; dispatch them in flags.c through st->vt->flags; implement
 * them per backend in store_sqlite_flags.c (see sqlite_int.h). */
#ifndef BH_STORE_FLAGS_H
#define BH_STORE_FLAGS_H

#include "store/store.h"

struct store_flag_ops {
    int placeholder_; /* replaced by the feature's operations */
};

#endif
