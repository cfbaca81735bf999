/* name.h: client file names. They are metadata only: a storage path never contains one.
 *
 * A name is refused outright when it could mean a path (a '/' or '\\', ".", ".."), holds NUL or
 * control bytes, is not UTF-8, is empty or longer than UPLOAD_NAME_MAX bytes: that is the client's
 * bug, and a clear error beats a silently changed name. What passes is stored as given (trimmed),
 * and made safe where it is used: upload_content_disposition() quotes it for a download. Sans-I/O.
 */
#ifndef BH_UPLOAD_NAME_H
#define BH_UPLOAD_NAME_H

#include <stddef.h>

#define UPLOAD_NAME_MAX 255 /* bytes */

/* Checks name and copies it, without leading and trailing spaces, into out (cap >
 * UPLOAD_NAME_MAX). Returns NULL when it is acceptable, else a static reason for the message. */
const char *upload_name_check(const char *name, char *out, size_t cap);

/* Writes a Content-Disposition value for name into out (cap >= 3 * UPLOAD_NAME_MAX + 64):
 *   attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded> (RFC 6266)
 * The fallback replaces every byte that is not printable ASCII, and '"', '\\' and '%', with '_'. */
void upload_content_disposition(const char *name, char *out, size_t cap);

#endif
