/* st_write.c: collecting arrays and metadata, then saving them atomically.
 *
 * A tg_ckpt_writer holds copies of every array, already in the file's little-endian byte order,
 * with their CRC-32, so the save is a header (built and quoted by jansson) and a sequence of
 * writes. The save never touches <path> until the rename:
 *   0. remove "<path>.tmp.<pid>.<n>" files whose process is gone (a run killed mid-save),
 *   1. create "<path>.tmp.<pid>.<n>" exclusively, without following links, and write it,
 *   2. fflush, fsync and fclose it, checking each,
 *   3. rename it over <path>: readers see the old file or the new one, never a mix,
 *   4. fsync the folder so the rename itself survives a crash.
 * A failure in steps 1-3 removes the temporary file. Read next: st_read.c, the reader.
 */
#define _POSIX_C_SOURCE 200809L

#include "io/st_internal.h"
#include "io/utf8.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef struct {
    char *name; /* owned */
    tg_dtype dtype;
    size_t ndim, shape[TG_CKPT_MAX_DIMS];
    unsigned char *bytes; /* nbytes of little-endian data; owned */
    size_t nbytes;
    uint32_t crc; /* CRC-32 of bytes */
} array;

typedef struct {
    char *key, *value; /* owned */
} meta;

struct tg_ckpt_writer {
    array *a; /* arrays in order of adding, which is their order in the file */
    size_t n, cap;
    meta *m; /* metadata in order of adding */
    size_t nm, capm;
    size_t fail_after; /* test seam: bytes a save may write before failing; SIZE_MAX: never */
};

tg_ckpt_writer *tg_ckpt_writer_new(void)
{
    tg_ckpt_writer *w = calloc(1, sizeof *w);
    if (w) w->fail_after = SIZE_MAX;
    return w;
}

void tg_ckpt_writer_free(tg_ckpt_writer *w)
{
    if (!w) return;
    tg_ckpt_writer_truncate(w, 0);
    for (size_t i = 0; i < w->nm; i++) free(w->m[i].key), free(w->m[i].value);
    free(w->a);
    free(w->m);
    free(w);
}

size_t tg_ckpt_writer_count(const tg_ckpt_writer *w)
{
    return w ? w->n : 0;
}

void tg_ckpt_writer_truncate(tg_ckpt_writer *w, size_t n)
{
    while (w && w->n > n) {
        w->n--;
        free(w->a[w->n].name);
        free(w->a[w->n].bytes);
    }
}

void tgi_ckpt_writer_fail_after(tg_ckpt_writer *w, size_t bytes)
{
    w->fail_after = bytes;
}

static char *copy_str(const char *s)
{
    char *p = malloc(strlen(s) + 1);
    return p ? strcpy(p, s) : NULL;
}

/* Grow *p (of *cap elements of `size`) to hold n + 1. */
static int reserve(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return 1;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *q = ncap <= SIZE_MAX / size ? realloc(*p, ncap * size) : NULL;
    if (!q) return 0;
    *p = q;
    *cap = ncap;
    return 1;
}

/* A usable, unused array name. */
static int check_name(tg_ckpt_writer *w, const char *name, tg_status *st)
{
    char e[160];
    if (!name[0]) return tg_status_set(st, TG_EINVAL, "tg_ckpt_writer_add: empty name");
    if (!tg_utf8_valid(name, strlen(name), NULL))
        return tg_status_set(st, TG_EINVAL, "tg_ckpt_writer_add: name '%s' is not valid UTF-8",
                             tg_utf8_escape(e, sizeof e, name));
    if (strcmp(name, "__metadata__") == 0)
        return tg_status_set(st, TG_EINVAL, "tg_ckpt_writer_add: '__metadata__' is reserved");
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->a[i].name, name) == 0)
            return tg_status_set(st, TG_EINVAL, "tg_ckpt_writer_add: name '%s' is already used",
                                 tg_utf8_escape(e, sizeof e, name));
    return TG_OK;
}

/* The byte size of dtype x shape into *nbytes, or a failure. */
static int array_bytes(const char *name, tg_dtype dtype, size_t ndim, const size_t *shape,
                       size_t *nbytes, tg_status *st)
{
    char e[160];
    if ((unsigned)dtype >= TG_DT_COUNT)
        return tg_status_set(st, TG_EINVAL, "tg_ckpt_writer_add: '%s': unknown dtype %d",
                             tg_utf8_escape(e, sizeof e, name), (int)dtype);
    if (ndim > TG_CKPT_MAX_DIMS)
        return tg_status_set(st, TG_EINVAL, "tg_ckpt_writer_add: '%s': %zu dimensions, at most %d",
                             tg_utf8_escape(e, sizeof e, name), ndim, TG_CKPT_MAX_DIMS);
    *nbytes = tg_dtype_size(dtype);
    for (size_t i = 0; i < ndim; i++) {
        if (shape[i] && *nbytes > SIZE_MAX / shape[i])
            return tg_status_set(st, TG_ERANGE, "tg_ckpt_writer_add: '%s': size overflows",
                                 tg_utf8_escape(e, sizeof e, name));
        *nbytes *= shape[i];
    }
    return TG_OK;
}

int tg_ckpt_writer_add(tg_ckpt_writer *w, const char *name, tg_dtype dtype, size_t ndim,
                       const size_t *shape, const void *data, tg_status *st)
{
    if (!w || !name || (ndim && !shape))
        return tg_status_set(st, TG_ENULL, "tg_ckpt_writer_add: NULL argument");
    size_t nbytes = 0;
    int rc = array_bytes(name, dtype, ndim, shape, &nbytes, st);
    if (!rc) rc = check_name(w, name, st);
    if (rc) return rc;
    if (nbytes && !data)
        return tg_status_set(st, TG_ENULL, "tg_ckpt_writer_add: '%s': NULL data", name);
    array a = {copy_str(name), dtype, ndim, {0}, malloc(nbytes ? nbytes : 1), nbytes, 0};
    if (!a.name || !a.bytes || !reserve((void **)&w->a, &w->cap, w->n, sizeof *w->a)) {
        free(a.name);
        free(a.bytes);
        return tg_status_set(st, TG_ENOMEM, "tg_ckpt_writer_add: '%s': out of memory", name);
    }
    for (size_t i = 0; i < ndim; i++) a.shape[i] = shape[i];
    if (nbytes) memcpy(a.bytes, data, nbytes);
    if (!tgi_host_le())
        tgi_swap_bytes(a.bytes, nbytes / tg_dtype_size(dtype), tg_dtype_size(dtype));
    a.crc = tgi_crc32(0, a.bytes, nbytes);
    w->a[w->n++] = a;
    return TG_OK;
}

int tg_ckpt_writer_meta(tg_ckpt_writer *w, const char *key, const char *value, tg_status *st)
{
    char e[160];
    if (!w || !key || !value)
        return tg_status_set(st, TG_ENULL, "tg_ckpt_writer_meta: NULL argument");
    if (!tg_utf8_valid(key, strlen(key), NULL) || !tg_utf8_valid(value, strlen(value), NULL))
        return tg_status_set(st, TG_EINVAL, "tg_ckpt_writer_meta: '%s': not valid UTF-8",
                             tg_utf8_escape(e, sizeof e, key));
    if (strncmp(key, TGI_CRC_KEY, strlen(TGI_CRC_KEY)) == 0)
        return tg_status_set(st, TG_EINVAL,
                             "tg_ckpt_writer_meta: '%s': keys starting with '%s' "
                             "are the writer's own",
                             tg_utf8_escape(e, sizeof e, key), TGI_CRC_KEY);
    for (size_t i = 0; i < w->nm; i++)
        if (strcmp(w->m[i].key, key) == 0)
            return tg_status_set(st, TG_EINVAL, "tg_ckpt_writer_meta: key '%s' is already used",
                                 tg_utf8_escape(e, sizeof e, key));
    meta m = {copy_str(key), copy_str(value)};
    if (!m.key || !m.value || !reserve((void **)&w->m, &w->capm, w->nm, sizeof *w->m)) {
        free(m.key);
        free(m.value);
        return tg_status_set(st, TG_ENOMEM, "tg_ckpt_writer_meta: '%s': out of memory",
                             tg_utf8_escape(e, sizeof e, key));
    }
    w->m[w->nm++] = m;
    return TG_OK;
}

/* ---- The header --------------------------------------------------------------------------- */

/* Set obj[key] = "xxxxxxxx" (8 hex digits of crc); 0 when out of memory. */
static int put_crc(json_t *obj, const char *key, uint32_t crc)
{
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
    return json_object_set_new(obj, key, json_string(hex)) == 0;
}

/* The metadata object: the user's entries, their checksum, then each array's checksum. */
static json_t *meta_object(const tg_ckpt_writer *w)
{
    json_t *m = json_object();
    const char **keys = malloc((w->nm + 1) * sizeof *keys),
               **vals = malloc((w->nm + 1) * sizeof *vals);
    int ok = m && keys && vals;
    for (size_t i = 0; ok && i < w->nm; i++) {
        keys[i] = w->m[i].key, vals[i] = w->m[i].value;
        ok = json_object_set_new(m, w->m[i].key, json_string(w->m[i].value)) == 0;
    }
    ok = ok && put_crc(m, TGI_CRC_KEY, tgi_crc32_meta(keys, vals, w->nm));
    free(keys);
    free(vals);
    for (size_t i = 0; ok && i < w->n; i++) {
        char *key = malloc(strlen(TGI_CRC_PREFIX) + strlen(w->a[i].name) + 1);
        ok = key && put_crc(m, strcat(strcpy(key, TGI_CRC_PREFIX), w->a[i].name), w->a[i].crc);
        free(key);
    }
    if (!ok) json_decref(m);
    return ok ? m : NULL;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [off, off + nbytes]} */
static json_t *entry_object(const array *a, size_t off)
{
    json_t *e = json_object(), *shape = json_array(), *offs = json_array();
    int ok = e && shape && offs &&
             json_object_set_new(e, "dtype", json_string(tg_dtype_name(a->dtype))) == 0;
    for (size_t d = 0; ok && d < a->ndim; d++)
        ok = a->shape[d] <= INT64_MAX &&
             json_array_append_new(shape, json_integer((json_int_t)a->shape[d])) == 0;
    ok = ok && json_array_append_new(offs, json_integer((json_int_t)off)) == 0 &&
         json_array_append_new(offs, json_integer((json_int_t)(off + a->nbytes))) == 0;
    ok = ok && json_object_set(e, "shape", shape) == 0 &&
         json_object_set(e, "data_offsets", offs) == 0;
    json_decref(shape);
    json_decref(offs);
    if (!ok) json_decref(e);
    return ok ? e : NULL;
}

/* The JSON header padded with spaces to a multiple of 8 bytes (malloc'd, *len bytes), or NULL
 * when out of memory or the offsets do not fit JSON's 64-bit integers. */
static char *header(const tg_ckpt_writer *w, size_t *len)
{
    json_t *root = json_object(), *m = meta_object(w);
    int ok = root && m && json_object_set_new(root, "__metadata__", m) == 0;
    if (!root || !ok) json_decref(m);
    for (size_t i = 0, off = 0; ok && i < w->n; i++) {
        ok = off <= INT64_MAX - w->a[i].nbytes &&
             json_object_set_new(root, w->a[i].name, entry_object(&w->a[i], off)) == 0;
        off += w->a[i].nbytes;
    }
    char *text = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    size_t n = text ? strlen(text) : 0, padded = (n + 7) / 8 * 8;
    char *out = text ? realloc(text, padded + 1) : NULL;
    if (!out) {
        free(text);
        return NULL;
    }
    memset(out + n, ' ', padded - n);
    out[padded] = '\0';
    *len = padded;
    return out;
}

/* ---- Saving ------------------------------------------------------------------------------- */

static atomic_int saving;           /* saves in progress in this process */
static atomic_uint temporary_count; /* the <n> of the next temporary name */

/* The folder of path ("." when it has none) and its last component; malloc'd. */
static int split_path(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    *base = slash ? slash + 1 : path;
    *dir = malloc(n + 1);
    if (!*dir) return -1;
    memcpy(*dir, slash ? path : ".", n);
    (*dir)[n] = '\0';
    return 0;
}

/* The pid in a temporary name "<base>.tmp.<pid>.<n>", or 0 when name is not one of base's. */
static long temporary_pid(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0) return 0;
    char *end;
    long pid = strtol(name + n + 5, &end, 10);
    return pid > 0 && *end == '.' ? pid : 0;
}

/* Step 0: remove base's temporary files whose writer no longer runs. A file of this process
 * is stale too when no other save of it is under way. Best effort: a failure is not an error,
 * since the save itself does not depend on it. */
static void remove_stale(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        long pid = temporary_pid(e->d_name, base);
        int gone = pid > 0 && (pid == (long)getpid() ? atomic_load(&saving) == 1
                                                     : kill((pid_t)pid, 0) != 0 && errno == ESRCH);
        if (gone) unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* An open temporary file and how much went into it. */
typedef struct {
    FILE *f;
    size_t written, limit; /* bytes written so far; the test seam's limit */
} sink;

/* Write n bytes; -1 with errno set on failure. */
static int put(sink *s, const void *p, size_t n)
{
    if (n > s->limit - s->written) { /* the seam: a disk that fills up here */
        size_t part = s->limit - s->written;
        if (fwrite(p, 1, part, s->f) == part) s->written += part;
        errno = ENOSPC;
        return -1;
    }
    if (fwrite(p, 1, n, s->f) != n) return -1;
    s->written += n;
    return 0;
}

static int write_all(const tg_ckpt_writer *w, sink *s, const char *hdr, size_t hlen)
{
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    if (put(s, len8, 8) || put(s, hdr, hlen)) return -1;
    for (size_t i = 0; i < w->n; i++)
        if (put(s, w->a[i].bytes, w->a[i].nbytes)) return -1;
    return 0;
}

/* Create the temporary file exclusively; its name goes to tmp (tmplen bytes). NULL on failure
 * with errno set. */
static FILE *create_temporary(const char *path, char *tmp, size_t tmplen)
{
    unsigned n = atomic_fetch_add(&temporary_count, 1);
    snprintf(tmp, tmplen, "%s.tmp.%ld.%u", path, (long)getpid(), n);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
    }
    return f;
}

/* fsync the folder dir; -1 with errno on failure. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = fd < 0 ? -1 : fsync(fd);
    int saved = errno;
    if (fd >= 0) close(fd);
    errno = saved;
    return rc;
}

/* Steps 1-3 of the map; on failure a message, and tmp, if it was made, is removed. */
static int write_and_rename(tg_ckpt_writer *w, const char *path, const char *hdr, size_t hlen,
                            tg_status *st)
{
    char tmp[4096];
    if (strlen(path) + 48 > sizeof tmp)
        return tg_status_set(st, TG_EIO, "%s: path is too long", path);
    sink s = {create_temporary(path, tmp, sizeof tmp), 0, w->fail_after};
    if (!s.f)
        return tg_status_set(st, TG_EIO, "%s: cannot create the temporary file %s: %s", path, tmp,
                             strerror(errno));
    const char *step = "writing";
    int bad = write_all(w, &s, hdr, hlen);
    if (!bad) step = "flushing", bad = fflush(s.f) != 0;
    if (!bad) step = "syncing", bad = fsync(fileno(s.f)) != 0;
    int saved = errno;
    if (fclose(s.f) != 0 && !bad) step = "closing", bad = 1, saved = errno;
    if (!bad && rename(tmp, path) != 0) step = "renaming", bad = 1, saved = errno;
    if (bad) {
        unlink(tmp);
        return tg_status_set(st, TG_EIO,
                             "%s: %s the temporary file %s failed after %zu bytes: %s; the "
                             "previous file is unchanged",
                             path, step, tmp, s.written, strerror(saved));
    }
    return TG_OK;
}

int tg_ckpt_writer_save(tg_ckpt_writer *w, const char *path, tg_status *st)
{
    if (!w || !path) return tg_status_set(st, TG_ENULL, "tg_ckpt_writer_save: NULL argument");
    size_t hlen = 0;
    char *dir = NULL, *hdr = header(w, &hlen);
    const char *base;
    if (!hdr || split_path(path, &dir, &base) != 0) {
        free(hdr);
        return tg_status_set(st, TG_ENOMEM, "%s: out of memory for the header", path);
    }
    atomic_fetch_add(&saving, 1);
    remove_stale(dir, base);
    int rc = write_and_rename(w, path, hdr, hlen, st);
    if (!rc && sync_dir(dir) != 0)
        rc = tg_status_set(st, TG_EIO,
                           "%s: written and renamed, but syncing its folder failed: %s; the "
                           "new file may not survive a crash",
                           path, strerror(errno));
    atomic_fetch_sub(&saving, 1);
    free(hdr);
    free(dir);
    return rc;
}

int tg_ckpt_check_writable(const char *path, tg_status *st)
{
    char tmp[4096];
    if (!path) return tg_status_set(st, TG_ENULL, "tg_ckpt_check_writable: NULL path");
    if (strlen(path) + 48 > sizeof tmp)
        return tg_status_set(st, TG_EIO, "%s: path is too long", path);
    FILE *f = create_temporary(path, tmp, sizeof tmp);
    if (!f)
        return tg_status_set(st, TG_EIO, "%s: a checkpoint cannot be saved there: %s", path,
                             strerror(errno));
    fclose(f);
    unlink(tmp);
    return TG_OK;
}
