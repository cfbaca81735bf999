/* uploads.h: the store operations of the uploads feature (placeholder until the feature lands).
 * Declare the feature's store functions here; dispatch them in uploads.c through st->vt->uploads; implement
 * them per backend in store_sqlite_uploads.c (see sqlite_int.h). */
#ifndef BH_STORE_UPLOADS_H
#define BH_STORE_UPLOADS_H

#include "store/store.h"

struct store_upload_ops {
    int placeholder_; /* replaced by the feature's operations */
};

#endif
