/* upload.h: resumable uploads on disk: the process-wide upload service and the per-upload writer.
 *
 * Files. An upload's bytes go to <data_dir>/uploads/partial/<id>; a completed upload is renamed
 * to <data_dir>/documents/<org_id>/<id>. The id is 128 random bits in hex (upload_new_id) and is
 * the only variable part of either path: nothing a client sends ever becomes part of a path.
 *
 * Threads. Every file operation, hash, fsync and store call runs on libuv's thread pool; the
 * callbacks come back on the loop that started the operation. A writer (upload_t) belongs to one
 * loop; in the pool it runs either one job (open, finish, detach, ...) or a write of one buffer
 * with the SHA-256 of the same buffer in parallel, plus at most one sync beside them. These touch
 * disjoint state (file offsets, hash contexts, the sync's fd), so nothing needs a lock.
 * The service's registry (a mutex-protected table of the uploads this process has touched) makes
 * a writer exclusive: one writer per upload across all workers, and the expiry sweep never deletes
 * an upload that has one. It also keeps the SHA-256 state of a detached upload, so that the next
 * writer of the same upload in this process continues it instead of reading the file again.
 *
 * Durability. The offset ever reported is what is on disk and fdatasync'ed: a sync starts each time
 * the written offset passes a multiple of ack_bytes (on its own pool thread, beside the writes, so
 * a disk flush never stalls the data), and before a pause, detach or completion answer. Opening
 * an upload syncs its file before reporting its length. After a restart the offset is the partial
 * file's length, and the SHA-256 is recomputed over the file on the thread pool when the upload is
 * next opened (a resumable hash state is not persisted: OpenSSL 3 offers no supported way to
 * serialise one, and the reread runs at disk speed). Within one process the hash state is kept in
 * the registry between writers, so a resume there costs no reread.
 *
 * Flow control. upload_write() copies into a buffer of `buffer` bytes and returns BH_EAGAIN when
 * the buffer is full while a write is in flight: the caller pauses its input (the WebSocket or the
 * HTTP body) until on_drain. So each upload holds at most two buffers plus one delivery of input
 * (a WebSocket message or one socket read), whatever the file size. */
#ifndef BH_UPLOAD_UPLOAD_H
#define BH_UPLOAD_UPLOAD_H

#include "auth/auth.h"
#include "store/uploads.h"
#include "upload/doctype.h"
#include "upload/machine.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Completion failures (besides BH_* and UV_* codes). The data is discarded when they occur. */
enum {
    UPLOAD_ECHECKSUM = -21000, /* the SHA-256 of the file is not the declared one */
    UPLOAD_ETYPE,              /* the bytes are not a kind the document type (or MIME) allows */
    UPLOAD_ESIZE,              /* the file's length is not the declared size */
};

typedef struct upload_limits_s {
    uint64_t max_size[UPLOAD_CLASS__COUNT]; /* per size class (doctype.h) */
    size_t chunk_max;                       /* largest chunk: WebSocket binary message payload */
    size_t buffer;                          /* bytes buffered per upload before its input pauses */
    uint64_t ack_bytes;                     /* sync and progress cadence */
    int64_t expiry_ms;                      /* an upload idle longer than this is deleted */
    int max_active;                         /* uploads in progress per user (0: no limit) */
    int direct_io;                          /* big aligned writes bypass the page cache */
} upload_limits_t;

typedef struct upload_srv_s upload_srv_t;
typedef struct upload_s upload_t;

/* Called on the thread pool after a document has been stored (e.g. to publish an event). */
typedef void (*upload_document_cb)(void *data, const store_document_t *doc);

/* Creates the service and the directories it needs under data_dir (start-up only: it blocks).
 * st and data are borrowed. Returns NULL (logged) if the directories cannot be made. */
upload_srv_t *upload_srv_new(store_t *st, const char *data_dir, const upload_limits_t *lim,
                             upload_document_cb on_document, void *data);
/* After every loop has stopped (no writer left). */
void upload_srv_free(upload_srv_t *srv);
const upload_limits_t *upload_srv_limits(const upload_srv_t *srv);
/* The limit for type t. */
uint64_t upload_srv_max_size(const upload_srv_t *srv, upload_doctype_t t);
/* <data_dir>/documents/<org_id>/<key>, new (free()). key must be an upload id. */
char *upload_srv_document_path(const upload_srv_t *srv, int64_t org_id, const char *key);
/* Thread pool only: deletes expired uploads (rows and files) that no writer holds, and partial
 * files without a row that have been idle past the expiry. Returns how many were deleted. */
int upload_srv_sweep(upload_srv_t *srv, int64_t now_ms);

/* Counters since start, for /metrics. Totals are monotonic; writers is a gauge. */
typedef struct upload_stats_s {
    uint64_t created;   /* uploads started (a new upload row) */
    uint64_t bytes;     /* bytes written to upload files */
    uint64_t completed; /* documents stored */
    uint64_t rejected_size, rejected_checksum, rejected_type; /* discarded at completion */
    uint64_t cancelled; /* deleted by their client (cancel, tus DELETE) */
    uint64_t expired;   /* deleted by the expiry sweep (rows and orphaned partial files) */
    uint64_t writers;   /* uploads being written now, across workers */
} upload_stats_t;

/* Any thread. Fills *out; counters are read one by one, so they may be a few bytes apart. */
void upload_srv_stats(upload_srv_t *srv, upload_stats_t *out);

/* 32 lower-case hex characters of fresh randomness, NUL-terminated. */
void upload_new_id(char out[STORE_UPLOAD_ID_LEN + 1]);

/* ---- opening a writer
 * ---------------------------------------------------------------------------*/

typedef struct upload_events_s {
    /* durable passed a multiple of ack_bytes (or reached the size): worth telling the client. */
    void (*on_progress)(upload_t *u, uint64_t durable, void *ud);
    /* The buffer has room again after upload_write returned BH_EAGAIN: resume input. */
    void (*on_drain)(upload_t *u, void *ud);
} upload_events_t;

/* status 0: u is the new writer and row its upload. Otherwise u is NULL and status is:
 * BH_ENOTFOUND (no such upload in the org, or, on create, no such guest), BH_EINVAL (create: the
 * guest is at another property), BH_EFORBIDDEN (the claims do not reach its property), BH_EAGAIN
 * (another writer holds it), BH_ECONFLICT (already completed: row is filled), BH_ETOOBIG (create:
 * the user has max_active uploads in progress), BH_EEXIST (create: id taken), BH_ESTORE, UV_E*. */
typedef void (*upload_open_cb)(upload_t *u, int status, const store_upload_t *row, void *ud);

/* Opens a writer for upload id of org_id, or, when create is not NULL, first stores the upload
 * create describes (create->id, org_id, ... set; copied) and opens that. claims (borrowed until
 * cb) must reach the upload's property. ev and ud are kept for the writer's life. cb runs once. */
void upload_open(upload_srv_t *srv, uv_loop_t *loop, int64_t org_id, const char *id,
                 const store_upload_t *create, const auth_claims_t *claims,
                 const upload_events_t *ev, void *ud, upload_open_cb cb);

/* ---- the writer (loop thread only)
 * ---------------------------------------------------------------*/

const store_upload_t *upload_row(const upload_t *u);
/* Offsets (machine.h): accepted (the next chunk's offset), durable, and the declared size. */
const upload_sm_t *upload_sm(const upload_t *u);

/* Takes p[0..n) (copied) at the accepted offset; the caller has checked the chunk with
 * upload_sm_check. Returns 0, or BH_EAGAIN: taken, but pause input until on_drain. */
int upload_write(upload_t *u, const void *p, size_t n);

typedef void (*upload_cb)(upload_t *u, int status, void *ud);
/* Writes everything taken and fdatasyncs; then cb(u, 0 or UV_E*): durable == accepted. */
void upload_flush(upload_t *u, upload_cb cb);

/* Per-request checksums (tus): from now on, also hash what is written into a separate digest.
 * Call when nothing is buffered (right after opening). */
void upload_segment_begin(upload_t *u);
/* After a flush: 1 if the segment's SHA-256 is digest. */
int upload_segment_matches(upload_t *u, const uint8_t digest[32]);
/* Cuts the file back to where the segment began (discarding its bytes and restoring the hash),
 * then cb. */
void upload_segment_rollback(upload_t *u, upload_cb cb);

/* Each of the three below ends the writer: cb runs once, then u is freed (do not use it after).
 * finish: the upload must be complete (accepted == size). Syncs, checks size, SHA-256 and the
 * kind of the bytes, then stores the document: cb status 0 with doc, or UPLOAD_E* (the upload is
 * deleted), BH_ESTORE or UV_E* (the upload stays for another try). */
typedef void (*upload_finish_cb)(int status, const store_document_t *doc, void *ud);
void upload_finish(upload_t *u, upload_finish_cb cb);
/* Deletes the upload, its row and its file. cb(NULL, status, ud). */
void upload_cancel(upload_t *u, upload_cb cb);
/* Keeps what was taken (written and synced), extends the expiry, releases the upload for another
 * writer. From this call on, no event and no pending flush callback runs; cb may be NULL. */
void upload_detach(upload_t *u, upload_cb cb);

/* ---- by id, without a writer (thread pool, then cb on loop)
 * ----------------------------------------*/

typedef void (*upload_id_cb)(int status, const store_upload_t *row, uint64_t offset, void *ud);
/* Deletes upload id of org_id (claims must reach its property). status as for upload_open. */
void upload_remove_by_id(upload_srv_t *srv, uv_loop_t *loop, int64_t org_id, const char *id,
                         const auth_claims_t *claims, upload_id_cb cb, void *ud);
/* The upload and the offset it holds on disk. If the upload holds all its bytes but was not
 * completed (the process stopped in between) and no writer has it, completes it first: then
 * status is 0 with row->status "completed", or an UPLOAD_E* code (it was deleted). */
void upload_stat_by_id(upload_srv_t *srv, uv_loop_t *loop, int64_t org_id, const char *id,
                       const auth_claims_t *claims, upload_id_cb cb, void *ud);

/* The protocol error code for a failure status ("checksum_mismatch", "type_mismatch", ...). */
const char *upload_err_code(int status);

#endif
