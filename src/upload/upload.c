/* upload.c: the upload service (registry, paths, sweep) and the per-upload writer (see upload.h).
 *
 * A writer's bytes go through three buffers: `fill` (the loop appends), `hbuf` (being hashed, or
 * hashed and waiting) and `wbuf` (being written). Hashing (u->hwork) and writing (u->work) run
 * on two pool threads, each one buffer at a time, so that SHA-256 (one core's worth at full
 * speed) never waits for a slow write of the buffer before; plus at most one sync (u->swork). The loop touches the writer's file, hash and job
 * fields only when the job that uses them has come back; libuv's queue hand-off (a mutex on each
 * side) orders the memory accesses of the threads. */
#include "upload/upload.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/queue.h"
#include "upload/sniff.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_READ_BLOCK (1u << 20) /* rehashing a partial file reads this much at a time */

/* O_DIRECT wants the memory address, the file offset and the length aligned; 4 KiB covers every
 * logical block size Linux filesystems use. Writes whose aligned middle is smaller than
 * DIRECT_MIN go through the page cache: a direct write waits for the device. */
#define DIRECT_ALIGN 4096u
#define DIRECT_MIN (256u * 1024)

/* ---- the service
 * ---------------------------------------------------------------------------------- */

/* What the process knows of an upload beyond its row: whether a writer (or the sweep) holds it,
 * and the hash state of its first `hashed` bytes, kept between writers. */
typedef struct reg_entry_s {
    queue_t node;
    char id[STORE_UPLOAD_ID_LEN + 1];
    int busy;
    EVP_MD_CTX *hash; /* owned, or NULL */
    uint64_t hashed;
} reg_entry_t;

struct upload_srv_s {
    store_t *st;
    upload_limits_t lim;
    char *partial_dir; /* <data_dir>/uploads/partial */
    char *docs_dir;    /* <data_dir>/documents */
    upload_document_cb on_document;
    void *data;
    uv_mutex_t lock; /* guards entries */
    queue_t entries;
    /* For upload_srv_stats: bumped from loops and pool threads alike (relaxed atomics). */
    _Atomic uint64_t n_created, n_bytes, n_completed, n_cancelled, n_expired;
    _Atomic uint64_t n_rejected[3]; /* UPLOAD_ECHECKSUM, UPLOAD_ETYPE, UPLOAD_ESIZE */
    _Atomic int64_t n_writers;
};

#define COUNT(field, n) atomic_fetch_add_explicit(&(field), (n), memory_order_relaxed)

void upload_srv_stats(upload_srv_t *srv, upload_stats_t *out)
{
    out->created = atomic_load(&srv->n_created);
    out->bytes = atomic_load(&srv->n_bytes);
    out->completed = atomic_load(&srv->n_completed);
    out->rejected_checksum = atomic_load(&srv->n_rejected[0]);
    out->rejected_type = atomic_load(&srv->n_rejected[1]);
    out->rejected_size = atomic_load(&srv->n_rejected[2]);
    out->cancelled = atomic_load(&srv->n_cancelled);
    out->expired = atomic_load(&srv->n_expired);
    int64_t w = atomic_load(&srv->n_writers);
    out->writers = w > 0 ? (uint64_t)w : 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
    return uv_translate_sys_error(errno);
}

upload_srv_t *upload_srv_new(store_t *st, const char *data_dir, const upload_limits_t *lim,
                             upload_document_cb on_document, void *data)
{
    upload_srv_t *srv = xcalloc(1, sizeof *srv);
    srv->st = st;
    srv->lim = *lim;
    srv->on_document = on_document;
    srv->data = data;
    queue_init(&srv->entries);
    size_t n = strlen(data_dir) + 32;
    char *uploads = xmalloc(n);
    snprintf(uploads, n, "%s/uploads", data_dir);
    srv->partial_dir = xmalloc(n);
    snprintf(srv->partial_dir, n, "%s/uploads/partial", data_dir);
    srv->docs_dir = xmalloc(n);
    snprintf(srv->docs_dir, n, "%s/documents", data_dir);
    int rc = make_dir(uploads);
    if (rc == 0) rc = make_dir(srv->partial_dir);
    if (rc == 0) rc = make_dir(srv->docs_dir);
    free(uploads);
    if (rc == 0) rc = uv_mutex_init(&srv->lock);
    if (rc != 0) {
        LOG_E("uploads_dirs_failed", "err=%s", uv_strerror(rc));
        free(srv->partial_dir);
        free(srv->docs_dir);
        free(srv);
        return NULL;
    }
    return srv;
}

void upload_srv_free(upload_srv_t *srv)
{
    if (srv == NULL) return;
    while (!queue_empty(&srv->entries)) {
        reg_entry_t *e = QUEUE_DATA(srv->entries.next, reg_entry_t, node);
        queue_remove(&e->node);
        EVP_MD_CTX_free(e->hash);
        free(e);
    }
    uv_mutex_destroy(&srv->lock);
    free(srv->partial_dir);
    free(srv->docs_dir);
    free(srv);
}

const upload_limits_t *upload_srv_limits(const upload_srv_t *srv)
{
    return &srv->lim;
}

uint64_t upload_srv_max_size(const upload_srv_t *srv, upload_doctype_t t)
{
    return srv->lim.max_size[upload_doctype_class(t)];
}

static void partial_path(const upload_srv_t *srv, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", srv->partial_dir, id);
}

static void org_dir(const upload_srv_t *srv, int64_t org, char *out, size_t n)
{
    snprintf(out, n, "%s/%lld", srv->docs_dir, (long long)org);
}

static void final_path(const upload_srv_t *srv, int64_t org, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/%lld/%s", srv->docs_dir, (long long)org, id);
}

char *upload_srv_document_path(const upload_srv_t *srv, int64_t org_id, const char *key)
{
    char p[PATH_MAX];
    final_path(srv, org_id, key, p, sizeof p);
    return xstrdup(p);
}

void upload_new_id(char out[STORE_UPLOAD_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) {
        /* OpenSSL's DRBG failing means the process has no entropy source: nothing is safe. */
        LOG_E("rand_failed", NULL);
        abort();
    }
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[32] = '\0';
}

const char *upload_err_code(int status)
{
    switch (status) {
    case UPLOAD_ECHECKSUM:
        return "checksum_mismatch";
    case UPLOAD_ETYPE:
        return "type_mismatch";
    case UPLOAD_ESIZE:
        return "size_mismatch";
    case BH_ENOTFOUND:
        return "not_found";
    case BH_EFORBIDDEN:
        return "property_forbidden";
    case BH_EAGAIN:
        return "upload_busy";
    case BH_ETOOBIG:
        return "too_many_uploads";
    case BH_ESTORE:
        return "store_unavailable";
    default:
        return "io_error";
    }
}

/* ---- registry -----------------------------------------------------------------------------------
 */

static reg_entry_t *reg_find(upload_srv_t *srv, const char *id)
{
    queue_t *q;
    QUEUE_FOREACH(q, &srv->entries)
    {
        reg_entry_t *e = QUEUE_DATA(q, reg_entry_t, node);
        if (strcmp(e->id, id) == 0) return e;
    }
    return NULL;
}

/* Claims id for one user (a writer, a removal, the sweep). On success moves the cached hash state
 * (if any) to *hash with its length in *hashed. Returns 0 or BH_EAGAIN. */
static int reg_claim(upload_srv_t *srv, const char *id, EVP_MD_CTX **hash, uint64_t *hashed)
{
    int rc = 0;
    uv_mutex_lock(&srv->lock);
    reg_entry_t *e = reg_find(srv, id);
    if (e == NULL) {
        e = xcalloc(1, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", id);
        queue_insert_tail(&srv->entries, &e->node);
    }
    if (e->busy) {
        rc = BH_EAGAIN;
    } else {
        e->busy = 1;
        if (hash) {
            *hash = e->hash;
            *hashed = e->hashed;
            e->hash = NULL;
        }
    }
    uv_mutex_unlock(&srv->lock);
    return rc;
}

/* Ends a claim, keeping hash (stolen, may be NULL) for the next writer. */
static void reg_release(upload_srv_t *srv, const char *id, EVP_MD_CTX *hash, uint64_t hashed)
{
    uv_mutex_lock(&srv->lock);
    reg_entry_t *e = reg_find(srv, id);
    if (e) {
        EVP_MD_CTX_free(e->hash);
        e->hash = hash;
        e->hashed = hashed;
        e->busy = 0;
        hash = NULL;
    }
    uv_mutex_unlock(&srv->lock);
    EVP_MD_CTX_free(hash);
}

/* Ends a claim and forgets the upload (completed, cancelled or deleted). */
static void reg_drop(upload_srv_t *srv, const char *id)
{
    uv_mutex_lock(&srv->lock);
    reg_entry_t *e = reg_find(srv, id);
    if (e) queue_remove(&e->node);
    uv_mutex_unlock(&srv->lock);
    if (e) {
        EVP_MD_CTX_free(e->hash);
        free(e);
    }
}

/* ---- file helpers (thread pool)
 * -------------------------------------------------------------------- */

static int sys_err(void)
{
    return uv_translate_sys_error(errno);
}

static int pwrite_all(int fd, const char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR) continue;
            return sys_err();
        }
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Reads up to n bytes at off; returns the count or a negative UV code. */
static long pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR) continue;
            return sys_err();
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    return (long)got;
}

/* Writes p[0..n) at off through the page cache, except the aligned middle of a big write, which
 * goes to the device with O_DIRECT straight from p (see span_t): copying into the page cache
 * costs about as much CPU as hashing the bytes, and uploads are written once and rarely read back
 * soon. A filesystem that refuses O_DIRECT (tmpfs, some network filesystems) turns it off for this
 * writer (*direct_off); the bytes then go through the page cache as usual. */
static int write_direct(int fd, const char *p, size_t n, uint64_t off, int *direct_off)
{
    size_t head = (size_t)((DIRECT_ALIGN - off % DIRECT_ALIGN) % DIRECT_ALIGN);
    if (head > n) head = n;
    size_t mid = (n - head) / DIRECT_ALIGN * DIRECT_ALIGN;
    if (*direct_off || mid < DIRECT_MIN) return pwrite_all(fd, p, n, off);
    int rc = pwrite_all(fd, p, head, off);
    if (rc != 0) return rc;
    p += head;
    off += head;
    n -= head;
    size_t done = 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) != 0) {
        *direct_off = 1;
        return pwrite_all(fd, p, n, off);
    }
    while (done < mid) {
        ssize_t k = pwrite(fd, p + done, mid - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EINVAL) { /* alignment or O_DIRECT itself refused */
            *direct_off = 1;
            break;
        }
        if (k < 0) {
            rc = sys_err();
            break;
        }
        done += (size_t)k;
        if ((size_t)k % DIRECT_ALIGN) break; /* a short unaligned write: finish buffered */
    }
    if (fcntl(fd, F_SETFL, fl) != 0 && rc == 0) rc = sys_err();
    if (rc != 0) return rc;
    return pwrite_all(fd, p + done, n - done, off + done);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_err();
    int rc = fsync(fd) == 0 ? 0 : sys_err();
    close(fd);
    return rc;
}

static EVP_MD_CTX *hash_new(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        LOG_E("sha256_init_failed", NULL);
        abort(); /* out of memory inside OpenSSL */
    }
    return c;
}

/* Hashes the first len bytes of fd into a new context. Returns 0 or a UV code. */
static int hash_file(int fd, uint64_t len, EVP_MD_CTX **out)
{
    EVP_MD_CTX *c = hash_new();
    char *buf = xmalloc(HASH_READ_BLOCK);
    uint64_t off = 0;
    int rc = 0;
    while (off < len) {
        size_t want = len - off < HASH_READ_BLOCK ? (size_t)(len - off) : HASH_READ_BLOCK;
        long n = pread_all(fd, buf, want, off);
        if (n <= 0) {
            rc = n < 0 ? (int)n : UV_EIO;
            break;
        }
        EVP_DigestUpdate(c, buf, (size_t)n);
        off += (uint64_t)n;
    }
    free(buf);
    if (rc != 0) {
        EVP_MD_CTX_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* The kind of the file's bytes (sniff.h), reading its head, and for a ZIP its directory. */
static upload_kind_t sniff_file(int fd, uint64_t len)
{
    size_t hn = len < UPLOAD_SNIFF_HEAD ? (size_t)len : UPLOAD_SNIFF_HEAD;
    uint8_t *buf =
        xmalloc(UPLOAD_SNIFF_TAIL > UPLOAD_SNIFF_HEAD ? UPLOAD_SNIFF_TAIL : UPLOAD_SNIFF_HEAD);
    long n = pread_all(fd, buf, hn, 0);
    upload_kind_t k =
        n > 0 ? upload_sniff(buf, (size_t)n, (uint64_t)n == len) : UPLOAD_KIND_UNKNOWN;
    if (k == UPLOAD_KIND_ZIP) {
        k = UPLOAD_KIND_UNKNOWN;
        size_t tn = len < UPLOAD_SNIFF_TAIL ? (size_t)len : UPLOAD_SNIFF_TAIL;
        uint64_t cd_off;
        uint32_t cd_size;
        n = pread_all(fd, buf, tn, len - tn);
        if (n == (long)tn && upload_zip_locate(buf, tn, len, &cd_off, &cd_size) == 0) {
            uint8_t *cd = xmalloc(cd_size ? cd_size : 1);
            if (pread_all(fd, cd, cd_size, cd_off) == (long)cd_size &&
                upload_zip_is_xlsx(cd, cd_size))
                k = UPLOAD_KIND_XLSX;
            free(cd);
        }
    }
    free(buf);
    return k;
}

static void hex32(const unsigned char *md, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* Removes the upload's file (wherever it is) and row, and forgets it. */
static void discard(upload_srv_t *srv, const store_upload_t *row)
{
    char p[PATH_MAX];
    partial_path(srv, row->id, p, sizeof p);
    unlink(p);
    if (strcmp(row->status, "uploading") == 0) {
        /* A completion interrupted between its rename and its commit left the file here. */
        final_path(srv, row->org_id, row->id, p, sizeof p);
        unlink(p);
    }
    int rc = store_upload_remove(srv->st, row->id);
    if (rc != 0 && rc != BH_ENOTFOUND)
        LOG_W("upload_remove_failed", "upload=%s err=%s", row->id, err_str(rc));
    reg_drop(srv, row->id);
}

/* Completes an upload whose len bytes are all in fd (at its final path if at_final): checks, then
 * moves the file and stores the document. hash (stolen) covers the whole file. Closes fd. The
 * caller holds the claim; it ends here. Returns 0 (doc filled), UPLOAD_E* (discarded), or
 * BH_ESTORE / UV_E* (kept for another try). */
static int finish_core(upload_srv_t *srv, const store_upload_t *row, int fd, int at_final,
                       EVP_MD_CTX *hash, store_document_t *doc)
{
    char hex[65], from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    struct stat sb;
    int rc = 0;
    upload_kind_t kind = UPLOAD_KIND_UNKNOWN;
    upload_doctype_t t = UPLOAD_DOC__COUNT;
    if (fdatasync(fd) != 0 || fstat(fd, &sb) != 0) rc = sys_err();
    if (rc == 0 && (uint64_t)sb.st_size != (uint64_t)row->size) rc = UPLOAD_ESIZE;
    if (rc == 0) {
        EVP_DigestFinal_ex(hash, md, &mdlen);
        hex32(md, hex);
        if (row->sha256[0] && strcmp(hex, row->sha256) != 0) rc = UPLOAD_ECHECKSUM;
    }
    EVP_MD_CTX_free(hash);
    if (rc == 0) {
        kind = sniff_file(fd, (uint64_t)sb.st_size);
        upload_kind_t declared = upload_kind_from_mime(row->mime_type);
        if (upload_doctype_parse(row->document_type, &t) != 0 ||
            !(upload_doctype_kinds(t) & UPLOAD_KIND_BIT(kind)) ||
            (declared != UPLOAD_KIND_UNKNOWN && declared != kind))
            rc = UPLOAD_ETYPE;
    }
    close(fd);
    if (rc == UPLOAD_ESIZE || rc == UPLOAD_ECHECKSUM || rc == UPLOAD_ETYPE) {
        LOG_I("upload_rejected", "upload=%s reason=%s", row->id, upload_err_code(rc));
        COUNT(srv->n_rejected[rc - UPLOAD_ECHECKSUM], 1);
        discard(srv, row);
        return rc;
    }
    if (rc == 0 && !at_final) {
        partial_path(srv, row->id, from, sizeof from);
        org_dir(srv, row->org_id, dir, sizeof dir);
        final_path(srv, row->org_id, row->id, to, sizeof to);
        rc = make_dir(dir);
        if (rc == 0 && rename(from, to) != 0) rc = sys_err();
        /* The rename is durable once both directories are. */
        if (rc == 0) rc = fsync_dir(dir);
        if (rc == 0) rc = fsync_dir(srv->partial_dir);
    }
    if (rc == 0) {
        memset(doc, 0, sizeof *doc);
        doc->org_id = row->org_id;
        doc->property_id = row->property_id;
        doc->guest_id = row->guest_id;
        snprintf(doc->document_type, sizeof doc->document_type, "%s", row->document_type);
        snprintf(doc->file_name, sizeof doc->file_name, "%s", row->file_name);
        snprintf(doc->mime_type, sizeof doc->mime_type, "%s", upload_kind_mime(kind));
        doc->size = row->size;
        memcpy(doc->sha256, hex, sizeof doc->sha256);
        snprintf(doc->document_number, sizeof doc->document_number, "%s", row->document_number);
        doc->created_by = row->created_by;
        rc = store_upload_complete(srv->st, row->id, doc);
    }
    if (rc != 0) {
        LOG_W("upload_complete_failed", "upload=%s err=%s", row->id, err_str(rc));
        reg_release(srv, row->id, NULL, 0);
        return rc;
    }
    reg_drop(srv, row->id);
    COUNT(srv->n_completed, 1);
    LOG_I("upload_completed", "upload=%s document=%lld org=%lld bytes=%lld kind=%s", row->id,
          (long long)doc->id, (long long)doc->org_id, (long long)doc->size, upload_kind_name(kind));
    if (srv->on_document) srv->on_document(srv->data, doc);
    return 0;
}

/* Opens the upload's file: the partial file, or (after an interrupted completion) the final one,
 * or a new partial file. */
static int open_file(upload_srv_t *srv, const store_upload_t *row, int *fd, int *at_final)
{
    char p[PATH_MAX];
    *at_final = 0;
    partial_path(srv, row->id, p, sizeof p);
    *fd = open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (*fd >= 0) return 0;
    if (errno != ENOENT) return sys_err();
    final_path(srv, row->org_id, row->id, p, sizeof p);
    *fd = open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (*fd >= 0) {
        *at_final = 1;
        return 0;
    }
    partial_path(srv, row->id, p, sizeof p);
    *fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    return *fd >= 0 ? 0 : sys_err();
}

/* Opens, measures and hashes a claimed upload. On success *len is its durable length. */
static int load_file(upload_srv_t *srv, const store_upload_t *row, int *fd, int *at_final,
                     EVP_MD_CTX **hash, uint64_t *len)
{
    EVP_MD_CTX *cached = *hash;
    uint64_t hashed = *len;
    struct stat sb;
    *hash = NULL;
    int rc = open_file(srv, row, fd, at_final);
    /* The lease across processes (several nodes on one shared upload directory): the registry
     * keeps one writer per upload in this process; an exclusive lock on the open file keeps one
     * across processes. It goes with the descriptor, so a node that dies releases it at once. */
    if (rc == 0 && flock(*fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK ? BH_EAGAIN : sys_err(); /* upload_busy: another node writes */
    /* What the file holds may not all be synced (a previous process died between a write and its
     * sync): sync it, so that the length reported as the offset is durable. */
    if (rc == 0 && (fdatasync(*fd) != 0 || fstat(*fd, &sb) != 0)) rc = sys_err();
    if (rc == 0 && (uint64_t)sb.st_size > (uint64_t)row->size) {
        /* Never written by us (writes stop at the size): keep the declared part only. */
        if (ftruncate(*fd, row->size) != 0) rc = sys_err();
        sb.st_size = row->size;
    }
    if (rc == 0) {
        *len = (uint64_t)sb.st_size;
        if (cached && hashed == *len) {
            *hash = cached;
            cached = NULL;
        } else {
            rc = hash_file(*fd, *len, hash);
        }
    }
    EVP_MD_CTX_free(cached);
    if (rc != 0 && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/* ---- write buffers
 * ------------------------------------------------------------------------------------ */

/* Bytes waiting for a write job. The first byte sits at base + pad with pad = its file offset
 * modulo DIRECT_ALIGN, so a byte's address and its offset agree modulo DIRECT_ALIGN and the aligned
 * middle of a job can go to disk with O_DIRECT, straight from this memory (no page-cache copy).
 * The storage is its own mapping: page-aligned, grown by mremap without copying, and given back
 * to the system the moment an upload ends (megabytes from malloc would stay in the heap). */
typedef struct span_s {
    char *base; /* mmap'd, cap bytes */
    size_t pad, len, cap;
    uint64_t off; /* the file offset of the first byte */
} span_t;

static char *span_data(const span_t *s)
{
    return s->base + s->pad;
}

/* Appends n bytes; off is the file offset of the first byte when the span is empty. */
static void span_append(span_t *s, uint64_t off, const void *p, size_t n)
{
    if (s->len == 0) {
        s->off = off;
        s->pad = (size_t)(off % DIRECT_ALIGN);
    }
    size_t need = s->pad + s->len + n;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 64 * 1024;
        while (cap < need) cap *= 2;
        void *b = s->base ? mremap(s->base, s->cap, cap, MREMAP_MAYMOVE)
                          : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED) {
            fprintf(stderr, "bellhop: out of memory mapping %zu bytes\n", cap);
            abort();
        }
        s->base = b;
        s->cap = cap;
    }
    memcpy(s->base + s->pad + s->len, p, n);
    s->len += n;
}

static void span_reset(span_t *s)
{
    s->len = 0;
}

static void span_dispose(span_t *s)
{
    if (s->base) munmap(s->base, s->cap);
    memset(s, 0, sizeof *s);
}

/* ---- the writer
 * ----------------------------------------------------------------------------------- */

typedef enum {
    JOB_NONE = 0,
    JOB_OPEN,
    JOB_WRITE,
    JOB_SYNC,
    JOB_ROLLBACK,
    JOB_FINISH,
    JOB_CANCEL,
    JOB_DETACH,
} job_t;

struct upload_s {
    uv_work_t work;  /* the one job in flight */
    uv_work_t hwork; /* hashing hbuf, beside the job */
    int hashing;     /* hwork is in flight */
    int hashed;      /* hbuf's bytes are in the hash */
    /* Syncs run beside the writes (a third thread), so that a disk flush never stalls the
     * pipeline: a sync covers what was written when it started (sync_target). */
    uv_work_t swork;
    int sync_busy;
    int sync_wanted; /* another sync is due once this one ends */
    int sync_rc;
    uint64_t sync_target;
    upload_srv_t *srv;
    uv_loop_t *loop;
    store_upload_t row;
    upload_events_t ev;
    void *ud;
    int fd;
    int at_final;
    upload_sm_t sm;
    EVP_MD_CTX *hash;     /* the file's first sm.written bytes */
    EVP_MD_CTX *seg;      /* the current segment's bytes, or NULL */
    EVP_MD_CTX *seg_base; /* hash as it was when the segment began */
    uint64_t seg_start;
    /* Input taken but not yet written (see the top of the file). */
    span_t fill, hbuf, wbuf;
    int direct_off; /* O_DIRECT refused (the filesystem, a config switch): page cache only */
    int input_paused; /* upload_write said BH_EAGAIN: on_drain is owed */
    int io_err;       /* a write failed: the writer can only end now */
    /* the job in flight */
    job_t job;
    int job_rc;
    /* requests waiting for the buffered data to be written */
    upload_cb flush_cb;
    job_t final_job; /* FINISH, CANCEL or DETACH once everything is written */
    upload_cb final_cb;
    upload_finish_cb finish_cb;
    upload_cb rollback_cb;
    /* open */
    int creating;
    int64_t org_id;
    const auth_claims_t *claims;
    upload_open_cb open_cb;
    store_document_t doc;
};

static void on_job_done(uv_work_t *w, int status);
static void kick(upload_t *u);

/* Ends a writer that keeps its upload: the data is synced, the file closed, the expiry moved on,
 * and the claim released with the hash state for the next writer. */
static void detach_work(upload_t *u)
{
    upload_srv_t *srv = u->srv;
    int64_t now = clock_unix_ms();
    if (u->sm.durable < u->sm.written) fdatasync(u->fd);
    close(u->fd);
    u->fd = -1;
    store_upload_touch(srv->st, u->row.id, now, now + srv->lim.expiry_ms);
    /* After a failed write the file may hold bytes the hash has not seen: the next writer
     * rehashes instead. */
    reg_release(srv, u->row.id, u->io_err ? NULL : u->hash, u->sm.written);
    if (u->io_err) EVP_MD_CTX_free(u->hash);
    u->hash = NULL;
}

static void on_job(uv_work_t *w)
{
    upload_t *u = (upload_t *)w;
    upload_srv_t *srv = u->srv;
    int rc = 0;
    switch (u->job) {
    case JOB_OPEN: {
        EVP_MD_CTX *cached = NULL;
        uint64_t hashed = 0;
        if (u->creating) {
            store_guest_t g;
            rc = store_guest_get(srv->st, u->org_id, u->row.guest_id, &g);
            if (rc == 0 && g.property_id != u->row.property_id) rc = BH_EINVAL;
            if (rc == 0) rc = store_upload_create(srv->st, &u->row, srv->lim.max_active);
            if (rc == 0) COUNT(srv->n_created, 1);
        } else {
            char id[STORE_UPLOAD_ID_LEN + 1];
            snprintf(id, sizeof id, "%s", u->row.id);
            rc = store_upload_get(srv->st, u->org_id, id, &u->row);
        }
        if (rc == 0 && u->claims && !auth_claims_has_property(u->claims, u->row.property_id))
            rc = BH_EFORBIDDEN;
        if (rc == 0 && strcmp(u->row.status, "uploading") != 0) rc = BH_ECONFLICT;
        if (rc == 0) rc = reg_claim(srv, u->row.id, &cached, &hashed);
        if (rc == 0) {
            uint64_t len = hashed;
            u->hash = cached;
            rc = load_file(srv, &u->row, &u->fd, &u->at_final, &u->hash, &len);
            if (rc != 0) {
                reg_release(srv, u->row.id, NULL, 0);
            } else {
                upload_sm_init(&u->sm, (uint64_t)u->row.size, len, srv->lim.ack_bytes);
                int64_t now = clock_unix_ms();
                store_upload_touch(srv->st, u->row.id, now, now + srv->lim.expiry_ms);
            }
        }
        break;
    }
    case JOB_WRITE:
        /* The hash of the same bytes runs meanwhile on another thread (on_hash). */
        rc = write_direct(u->fd, span_data(&u->wbuf), u->wbuf.len, u->wbuf.off, &u->direct_off);
        if (rc == 0) COUNT(srv->n_bytes, u->wbuf.len);
        break;
    case JOB_SYNC:
        if (fdatasync(u->fd) != 0) rc = sys_err();
        break;
    case JOB_ROLLBACK:
        if (ftruncate(u->fd, (off_t)u->seg_start) != 0 || fdatasync(u->fd) != 0) rc = sys_err();
        if (rc == 0) EVP_MD_CTX_copy_ex(u->hash, u->seg_base);
        break;
    case JOB_FINISH:
        if (u->io_err) { /* a write failed: keep what is on disk for another try */
            detach_work(u);
            rc = u->io_err;
            break;
        }
        rc = finish_core(srv, &u->row, u->fd, u->at_final, u->hash, &u->doc);
        u->hash = NULL;
        u->fd = -1;
        break;
    case JOB_CANCEL:
        close(u->fd);
        u->fd = -1;
        discard(srv, &u->row);
        COUNT(srv->n_cancelled, 1);
        break;
    case JOB_DETACH:
        detach_work(u);
        break;
    case JOB_NONE:
        break;
    }
    u->job_rc = rc;
}

/* SHA-256 of hbuf, in file order: the hash contexts belong to this work while it runs. */
static void on_hash(uv_work_t *w)
{
    upload_t *u = QUEUE_DATA(w, upload_t, hwork);
    EVP_DigestUpdate(u->hash, span_data(&u->hbuf), u->hbuf.len);
    if (u->seg) EVP_DigestUpdate(u->seg, span_data(&u->hbuf), u->hbuf.len);
}

static void resume_input(upload_t *u)
{
    if (u->input_paused && (u->fill.len < u->srv->lim.buffer || u->io_err)) {
        u->input_paused = 0;
        if (u->ev.on_drain) u->ev.on_drain(u, u->ud);
    }
}

static void on_hash_done(uv_work_t *w, int status)
{
    upload_t *u = QUEUE_DATA(w, upload_t, hwork);
    u->hashing = 0;
    u->hashed = 1;
    if (status != 0 && !u->io_err) u->io_err = status; /* cancelled: the loop is closing */
    kick(u);
    resume_input(u);
}

static void on_sync(uv_work_t *w)
{
    upload_t *u = QUEUE_DATA(w, upload_t, swork);
    u->sync_rc = fdatasync(u->fd) == 0 ? 0 : sys_err();
}

static void on_sync_done(uv_work_t *w, int status);

/* The next durable offset worth a sync of its own: a multiple of ack_bytes past what is durable
 * or being made durable. */
static uint64_t ack_mark(const upload_t *u)
{
    uint64_t base = u->sync_busy ? u->sync_target : u->sm.durable;
    return (base / u->sm.ack_every + 1) * u->sm.ack_every;
}

/* Makes what is written durable, now or after the sync in flight. */
static void start_sync(upload_t *u)
{
    if (u->sync_busy) {
        u->sync_wanted = 1;
        return;
    }
    if (u->io_err || u->sm.durable >= u->sm.written) return;
    u->sync_wanted = 0;
    u->sync_busy = 1;
    u->sync_target = u->sm.written;
    if (uv_queue_work(u->loop, &u->swork, on_sync, on_sync_done) != 0) u->sync_busy = 0;
}

static void on_sync_done(uv_work_t *w, int status)
{
    upload_t *u = QUEUE_DATA(w, upload_t, swork);
    int rc = status != 0 ? status : u->sync_rc;
    u->sync_busy = 0;
    if (rc != 0) {
        LOG_E("upload_sync_failed", "upload=%s err=%s", u->row.id, err_str(rc));
        u->io_err = rc;
    } else if (upload_sm_durable(&u->sm, u->sync_target) && u->ev.on_progress) {
        u->ev.on_progress(u, u->sm.durable, u->ud);
    }
    if (u->sync_wanted || u->sm.written >= ack_mark(u)) start_sync(u);
    kick(u);
}

static int submit(upload_t *u, job_t job)
{
    u->job = job;
    int rc = uv_queue_work(u->loop, &u->work, on_job, on_job_done);
    if (rc != 0) u->job = JOB_NONE; /* the loop is closing: cannot happen while u lives */
    return rc;
}

static void writer_free(upload_t *u)
{
    if (u->fd >= 0) close(u->fd); /* only on paths that never reached the pool */
    EVP_MD_CTX_free(u->hash);
    EVP_MD_CTX_free(u->seg);
    EVP_MD_CTX_free(u->seg_base);
    span_dispose(&u->fill);
    span_dispose(&u->hbuf);
    span_dispose(&u->wbuf);
    free(u);
}

static void span_swap(span_t *a, span_t *b)
{
    span_t t = *a;
    *a = *b;
    *b = t;
}

/* Moves the bytes on: hashed bytes to the writer, taken bytes to the hasher. Then, once nothing
 * is buffered or running: a pending flush's sync, a rollback, or a final job. */
static void kick(upload_t *u)
{
    int moving = !u->io_err && u->final_job != JOB_CANCEL;
    if (moving && u->job == JOB_NONE && u->wbuf.len == 0 && u->hbuf.len > 0 && u->hashed) {
        span_swap(&u->hbuf, &u->wbuf);
        submit(u, JOB_WRITE);
    }
    /* A rollback restores the hash on the pool: no hashing beside it. */
    if (moving && !u->hashing && u->hbuf.len == 0 && u->fill.len > 0 && u->job != JOB_ROLLBACK) {
        span_swap(&u->fill, &u->hbuf);
        u->hashed = 0;
        u->hashing = 1;
        if (uv_queue_work(u->loop, &u->hwork, on_hash, on_hash_done) != 0) {
            /* Only while the loop shuts down: hash here rather than lose the bytes' place. */
            on_hash(&u->hwork);
            u->hashing = 0;
            u->hashed = 1;
        }
    }
    if (u->job != JOB_NONE || u->hashing) return;
    if (!moving) { /* nothing more will be written */
        span_reset(&u->fill);
        span_reset(&u->hbuf);
    }
    if (u->fill.len > 0 || u->hbuf.len > 0) return; /* not reached: the lanes above took them */
    if (u->flush_cb != NULL) {
        if (u->io_err == 0 && (u->sync_busy || u->sm.durable < u->sm.written)) {
            start_sync(u); /* on_sync_done kicks again */
            return;
        }
        upload_cb cb = u->flush_cb;
        u->flush_cb = NULL;
        cb(u, u->io_err, u->ud);
        if (u->job != JOB_NONE) return; /* the callback asked for more */
    }
    /* Nothing may cut or close the file while a sync of it runs. */
    if (u->sync_busy) return;
    if (u->rollback_cb != NULL) {
        submit(u, JOB_ROLLBACK);
        return;
    }
    if (u->final_job != JOB_NONE) submit(u, u->final_job);
}

static void on_job_done(uv_work_t *w, int status)
{
    upload_t *u = (upload_t *)w;
    job_t job = u->job;
    int rc = status != 0 ? status : u->job_rc;
    u->job = JOB_NONE;
    switch (job) {
    case JOB_OPEN: {
        upload_open_cb cb = u->open_cb;
        if (rc != 0) {
            store_upload_t row = u->row;
            void *ud = u->ud;
            writer_free(u);
            cb(NULL, rc, &row, ud);
            return;
        }
        COUNT(u->srv->n_writers, 1);
        cb(u, 0, &u->row, u->ud);
        return;
    }
    case JOB_WRITE:
    case JOB_SYNC: {
        int progress = 0;
        if (rc != 0) {
            LOG_E("upload_write_failed", "upload=%s err=%s", u->row.id, err_str(rc));
            u->io_err = rc;
        } else if (job == JOB_WRITE) {
            uint64_t end = u->wbuf.off + u->wbuf.len;
            upload_sm_written(&u->sm, end, 0);
            int pending = u->flush_cb || u->final_job != JOB_NONE || u->rollback_cb;
            if (end >= ack_mark(u) || end == u->sm.size ||
                (pending && u->fill.len == 0 && u->hbuf.len == 0))
                start_sync(u);
        } else {
            progress = upload_sm_durable(&u->sm, u->sm.written);
        }
        span_reset(&u->wbuf);
        if (u->wbuf.cap > 2 * u->srv->lim.buffer + u->srv->lim.chunk_max) span_dispose(&u->wbuf);
        if (progress && u->ev.on_progress) u->ev.on_progress(u, u->sm.durable, u->ud);
        kick(u);
        resume_input(u);
        return;
    }
    case JOB_ROLLBACK: {
        upload_cb cb = u->rollback_cb;
        u->rollback_cb = NULL;
        if (rc != 0)
            u->io_err = rc;
        else
            upload_sm_rewind(&u->sm, u->seg_start);
        EVP_MD_CTX_free(u->seg);
        EVP_MD_CTX_free(u->seg_base);
        u->seg = u->seg_base = NULL;
        cb(u, rc, u->ud);
        kick(u);
        return;
    }
    case JOB_FINISH: {
        upload_finish_cb cb = u->finish_cb;
        void *ud = u->ud;
        store_document_t doc = u->doc;
        COUNT(u->srv->n_writers, -1);
        writer_free(u);
        cb(rc, &doc, ud);
        return;
    }
    case JOB_CANCEL:
    case JOB_DETACH: {
        upload_cb cb = u->final_cb;
        void *ud = u->ud;
        COUNT(u->srv->n_writers, -1);
        writer_free(u);
        if (cb) cb(NULL, rc, ud);
        return;
    }
    case JOB_NONE:
        return;
    }
}

void upload_open(upload_srv_t *srv, uv_loop_t *loop, int64_t org_id, const char *id,
                 const store_upload_t *create, const auth_claims_t *claims,
                 const upload_events_t *ev, void *ud, upload_open_cb cb)
{
    upload_t *u = xcalloc(1, sizeof *u);
    u->srv = srv;
    u->loop = loop;
    u->fd = -1;
    u->org_id = org_id;
    u->claims = claims;
    u->open_cb = cb;
    u->ud = ud;
    if (ev) u->ev = *ev;
    if (create) {
        u->row = *create;
        u->creating = 1;
    } else {
        snprintf(u->row.id, sizeof u->row.id, "%s", id);
    }
    u->direct_off = !srv->lim.direct_io;
    /* uv_queue_work fails only for a NULL work callback: this cannot fail. */
    int rc = submit(u, JOB_OPEN);
    (void)rc;
}

const store_upload_t *upload_row(const upload_t *u)
{
    return &u->row;
}

const upload_sm_t *upload_sm(const upload_t *u)
{
    return &u->sm;
}

int upload_write(upload_t *u, const void *p, size_t n)
{
    if (u->io_err) return u->io_err;
    span_append(&u->fill, u->sm.accepted, p, n);
    upload_sm_accept(&u->sm, n);
    kick(u);
    if (u->fill.len >= u->srv->lim.buffer) {
        u->input_paused = 1;
        return BH_EAGAIN;
    }
    return 0;
}

void upload_flush(upload_t *u, upload_cb cb)
{
    u->flush_cb = cb;
    if (u->job == JOB_NONE && !u->hashing) {
        /* Always through the pool (a sync, if nothing else), so cb never runs re-entrantly. */
        if (u->fill.len == 0 && u->hbuf.len == 0 && !u->io_err)
            submit(u, JOB_SYNC);
        else
            kick(u);
    }
}

void upload_segment_begin(upload_t *u)
{
    EVP_MD_CTX_free(u->seg);
    EVP_MD_CTX_free(u->seg_base);
    u->seg = hash_new();
    u->seg_base = hash_new();
    EVP_MD_CTX_copy_ex(u->seg_base, u->hash);
    u->seg_start = u->sm.accepted;
}

int upload_segment_matches(upload_t *u, const uint8_t digest[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (u->seg == NULL) return 0;
    EVP_MD_CTX *c = hash_new();
    EVP_MD_CTX_copy_ex(c, u->seg);
    EVP_DigestFinal_ex(c, md, &len);
    EVP_MD_CTX_free(c);
    return len == 32 && CRYPTO_memcmp(md, digest, 32) == 0;
}

void upload_segment_rollback(upload_t *u, upload_cb cb)
{
    u->rollback_cb = cb;
    kick(u);
}

void upload_finish(upload_t *u, upload_finish_cb cb)
{
    u->finish_cb = cb;
    u->final_job = JOB_FINISH;
    kick(u);
}

void upload_cancel(upload_t *u, upload_cb cb)
{
    u->final_cb = cb;
    u->final_job = JOB_CANCEL;
    span_reset(&u->fill); /* nothing more needs writing */
    kick(u);
}

void upload_detach(upload_t *u, upload_cb cb)
{
    /* The caller lets go: no event and no pending flush calls it back any more. */
    memset(&u->ev, 0, sizeof u->ev);
    u->flush_cb = NULL;
    u->final_cb = cb;
    u->final_job = JOB_DETACH;
    kick(u);
}

/* ---- by id
 * ------------------------------------------------------------------------------------------ */

typedef struct byid_s {
    uv_work_t work;
    upload_srv_t *srv;
    int64_t org_id;
    const auth_claims_t *claims;
    int remove;
    store_upload_t row;
    uint64_t offset;
    int rc;
    upload_id_cb cb;
    void *ud;
} byid_t;

static int stat_len(upload_srv_t *srv, const store_upload_t *row, uint64_t *len)
{
    char p[PATH_MAX];
    struct stat sb;
    partial_path(srv, row->id, p, sizeof p);
    if (stat(p, &sb) != 0) {
        final_path(srv, row->org_id, row->id, p, sizeof p);
        if (stat(p, &sb) != 0) sb.st_size = 0;
    }
    *len = (uint64_t)sb.st_size;
    return 0;
}

static void on_byid(uv_work_t *w)
{
    byid_t *b = (byid_t *)w;
    upload_srv_t *srv = b->srv;
    char id[STORE_UPLOAD_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", b->row.id);
    int rc = store_upload_get(srv->st, b->org_id, id, &b->row);
    if (rc == 0 && b->claims && !auth_claims_has_property(b->claims, b->row.property_id))
        rc = BH_EFORBIDDEN;
    int uploading = rc == 0 && strcmp(b->row.status, "uploading") == 0;
    if (rc == 0 && b->remove) {
        rc = reg_claim(srv, b->row.id, NULL, NULL);
        if (rc == 0) discard(srv, &b->row);
        if (rc == 0) COUNT(srv->n_cancelled, 1);
    } else if (rc == 0 && !uploading) {
        b->offset = (uint64_t)b->row.size;
    } else if (rc == 0) {
        stat_len(srv, &b->row, &b->offset);
        /* All bytes are there but the completion never ran (the process died in between):
         * complete now, unless a writer is at it. */
        EVP_MD_CTX *hash = NULL;
        uint64_t hashed = 0;
        if (b->offset == (uint64_t)b->row.size && reg_claim(srv, b->row.id, &hash, &hashed) == 0) {
            int fd = -1, at_final = 0;
            uint64_t len = hashed;
            int lrc = load_file(srv, &b->row, &fd, &at_final, &hash, &len);
            if (lrc != 0) {
                reg_release(srv, b->row.id, NULL, 0);
            } else if (len == (uint64_t)b->row.size) {
                store_document_t doc;
                rc = finish_core(srv, &b->row, fd, at_final, hash, &doc);
                if (rc == 0) {
                    snprintf(b->row.status, sizeof b->row.status, "completed");
                    b->row.document_id = doc.id;
                } else if (rc != UPLOAD_ECHECKSUM && rc != UPLOAD_ETYPE && rc != UPLOAD_ESIZE) {
                    rc = 0; /* kept: report what is there */
                }
            } else {
                close(fd);
                reg_release(srv, b->row.id, hash, len);
            }
        }
    }
    b->rc = rc;
}

static void on_byid_done(uv_work_t *w, int status)
{
    byid_t *b = (byid_t *)w;
    b->cb(status ? status : b->rc, &b->row, b->offset, b->ud);
    free(b);
}

static void byid(upload_srv_t *srv, uv_loop_t *loop, int64_t org_id, const char *id,
                 const auth_claims_t *claims, int remove, upload_id_cb cb, void *ud)
{
    byid_t *b = xcalloc(1, sizeof *b);
    b->srv = srv;
    b->org_id = org_id;
    b->claims = claims;
    b->remove = remove;
    b->cb = cb;
    b->ud = ud;
    snprintf(b->row.id, sizeof b->row.id, "%s", id);
    /* Cannot fail: uv_queue_work refuses only a NULL work callback. */
    int rc = uv_queue_work(loop, &b->work, on_byid, on_byid_done);
    (void)rc;
}

void upload_remove_by_id(upload_srv_t *srv, uv_loop_t *loop, int64_t org_id, const char *id,
                         const auth_claims_t *claims, upload_id_cb cb, void *ud)
{
    byid(srv, loop, org_id, id, claims, 1, cb, ud);
}

void upload_stat_by_id(upload_srv_t *srv, uv_loop_t *loop, int64_t org_id, const char *id,
                       const auth_claims_t *claims, upload_id_cb cb, void *ud)
{
    byid(srv, loop, org_id, id, claims, 0, cb, ud);
}

/* ---- expiry sweep
 * -------------------------------------------------------------------------------- */

static int hex_id(const char *s)
{
    if (strlen(s) != STORE_UPLOAD_ID_LEN) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

int upload_srv_sweep(upload_srv_t *srv, int64_t now_ms)
{
    int deleted = 0;
    store_upload_t *rows = NULL;
    size_t n = 0;
    if (store_uploads_expired(srv->st, now_ms, 256, &rows, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            /* The claim keeps writers out while the upload goes; a held one is in use. */
            if (reg_claim(srv, rows[i].id, NULL, NULL) != 0) continue;
            LOG_I("upload_expired", "upload=%s status=%s", rows[i].id, rows[i].status);
            discard(srv, &rows[i]);
            deleted++;
        }
        free(rows);
    }
    /* Partial files without a row: a crash between creating one and storing the row, or between
     * deleting a row and its file. */
    DIR *d = opendir(srv->partial_dir);
    if (d == NULL) {
        COUNT(srv->n_expired, (uint64_t)deleted);
        return deleted;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char p[PATH_MAX];
        struct stat sb;
        if (!hex_id(de->d_name)) continue;
        partial_path(srv, de->d_name, p, sizeof p);
        if (stat(p, &sb) != 0 || (int64_t)sb.st_mtime * 1000 + srv->lim.expiry_ms > now_ms)
            continue;
        store_upload_t row;
        if (store_upload_get(srv->st, 0, de->d_name, &row) != BH_ENOTFOUND) continue;
        if (reg_claim(srv, de->d_name, NULL, NULL) != 0) continue;
        unlink(p);
        reg_drop(srv, de->d_name);
        deleted++;
    }
    closedir(d);
    COUNT(srv->n_expired, (uint64_t)deleted);
    return deleted;
}
