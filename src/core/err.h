/* err.h: bellhop's own error codes.
 *
 * Functions that can fail return int: 0 on success or a negative code. I/O functions pass libuv's
 * UV_E* codes through unchanged; our codes sit far below libuv's range so the two never collide.
 * err_str() names either kind. */
#ifndef BH_CORE_ERR_H
#define BH_CORE_ERR_H

enum {
    BH_OK = 0,
    BH_ENOMEM = -20000, /* allocation failed (sans-I/O modules only; elsewhere we abort) */
    BH_EINVAL,          /* bad argument or malformed input */
    BH_ENOTFOUND,       /* no such row, route or file */
    BH_EEXIST,          /* unique constraint: it is already there */
    BH_EAUTH,           /* credential or token rejected */
    BH_EEXPIRED,        /* token past its exp */
    BH_ENOTYET,         /* token before its nbf */
    BH_EFORBIDDEN,      /* authenticated, but not allowed */
    BH_ETOOBIG,         /* over a configured size limit */
    BH_EAGAIN,          /* try again later: busy, would block */
    BH_EDECLINED,       /* not mine: let the next handler try */
    BH_ESTORE,          /* the store failed (I/O, corrupt, locked for too long) */
    BH_ECONFIG,         /* configuration is invalid */
    BH_EINTERNAL,       /* broken invariant; a bug */
    BH_ECONFLICT        /* the record is not in a state that allows this (HTTP 409) */
};

/* Returns a static, human readable description of a bellhop or libuv error code. */
const char *err_str(int err);

#endif
