#include "core/err.h"

#include <uv.h>

const char *err_str(int err)
{
    switch (err) {
    case BH_OK: return "ok";
    case BH_ENOMEM: return "out of memory";
    case BH_EINVAL: return "invalid argument";
    case BH_ENOTFOUND: return "not found";
    case BH_EEXIST: return "already exists";
    case BH_EAUTH: return "authentication failed";
    case BH_EEXPIRED: return "token expired";
    case BH_ENOTYET: return "token not yet valid";
    case BH_EFORBIDDEN: return "forbidden";
    case BH_ETOOBIG: return "too large";
    case BH_EAGAIN: return "try again";
    case BH_EDECLINED: return "declined";
    case BH_ESTORE: return "store failure";
    case BH_ECONFIG: return "invalid configuration";
    case BH_EINTERNAL: return "internal error";
    case BH_ECONFLICT: return "conflicting state";
    default: break;
    }
    if (err < 0 && err > BH_ENOMEM + 1000) return "unknown error";
    return uv_strerror(err);
}
