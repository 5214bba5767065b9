/* checkpoint_write.c: collecting arrays and metadata, then saving them atomically.
 *
 * A tg_ckpt_writer holds copies of every array, already in the file's little-endian byte
 * order, so the save is a header and a sequence of writes. The save never touches <path>
 * until the rename:
 *   1. write "<path>.tmp.<pid>" in the same directory (so the rename cannot cross devices),
 *   2. fflush, fsync and fclose it, checking each,
 *   3. rename it over <path>: readers see the old file or the new one, never a mix,
 *   4. fsync the directory so the rename itself survives a crash.
 * A failure in steps 1-3 removes the temporary file. Read next: checkpoint.c, the reader.
 */
#define _POSIX_C_SOURCE 200809L

#include "nn/checkpoint_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *name; /* owned */
    tg_dtype dtype;
    size_t ndim, shape[TG_CKPT_MAX_DIMS];
    unsigned char *bytes; /* nbytes of little-endian data; owned */
    size_t nbytes;
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
    char err[TG_CKPT_ERRLEN]; /* last error message, "" when none */
};

static int fail(tg_ckpt_writer *w, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(tg_ckpt_writer *w, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    return rc;
}

tg_ckpt_writer *tg_ckpt_writer_new(void)
{
    tg_ckpt_writer *w = calloc(1, sizeof *w);
    if (w) w->fail_after = SIZE_MAX;
    return w;
}

void tg_ckpt_writer_free(tg_ckpt_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->a[i].name), free(w->a[i].bytes);
    for (size_t i = 0; i < w->nm; i++) free(w->m[i].key), free(w->m[i].value);
    free(w->a);
    free(w->m);
    free(w);
}

const char *tg_ckpt_writer_error(const tg_ckpt_writer *w)
{
    return w && w->err[0] ? w->err : NULL;
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
static int check_name(tg_ckpt_writer *w, const char *name)
{
    if (!name[0]) return fail(w, TG_EINVAL, "tg_ckpt_writer_add: empty name");
    if (!tgi_utf8_valid(name))
        return fail(w, TG_EINVAL, "tg_ckpt_writer_add: name '%s' is not valid UTF-8", name);
    if (strcmp(name, "__metadata__") == 0)
        return fail(w, TG_EINVAL, "tg_ckpt_writer_add: '__metadata__' is reserved");
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->a[i].name, name) == 0)
            return fail(w, TG_EINVAL, "tg_ckpt_writer_add: name '%s' is already used", name);
    return TG_OK;
}

int tg_ckpt_writer_add(tg_ckpt_writer *w, const char *name, tg_dtype dtype, size_t ndim,
                       const size_t *shape, const void *data)
{
    if (!w) return TG_ENULL;
    if (!name || (ndim && !shape)) return fail(w, TG_ENULL, "tg_ckpt_writer_add: NULL argument");
    if ((unsigned)dtype >= TG_DT_COUNT)
        return fail(w, TG_EINVAL, "tg_ckpt_writer_add: '%s': unknown dtype %d", name, (int)dtype);
    if (ndim > TG_CKPT_MAX_DIMS)
        return fail(w, TG_EINVAL, "tg_ckpt_writer_add: '%s': %zu dimensions, at most %d", name,
                    ndim, TG_CKPT_MAX_DIMS);
    int rc = check_name(w, name);
    if (rc) return rc;
    size_t size = tg_dtype_size(dtype), nbytes = size;
    for (size_t i = 0; i < ndim; i++) {
        if (shape[i] && nbytes > SIZE_MAX / shape[i])
            return fail(w, TG_ERANGE, "tg_ckpt_writer_add: '%s': size overflows", name);
        nbytes *= shape[i];
    }
    if (nbytes && !data) return fail(w, TG_ENULL, "tg_ckpt_writer_add: '%s': NULL data", name);
    array a = {copy_str(name), dtype, ndim, {0}, malloc(nbytes ? nbytes : 1), nbytes};
    if (!a.name || !a.bytes || !reserve((void **)&w->a, &w->cap, w->n, sizeof *w->a)) {
        free(a.name);
        free(a.bytes);
        return fail(w, TG_ENOMEM, "tg_ckpt_writer_add: '%s': out of memory", name);
    }
    for (size_t i = 0; i < ndim; i++) a.shape[i] = shape[i];
    if (nbytes) memcpy(a.bytes, data, nbytes);
    if (!tgi_host_le()) tgi_swap_bytes(a.bytes, nbytes / size, size);
    w->a[w->n++] = a;
    return TG_OK;
}

int tg_ckpt_writer_add_tensor(tg_ckpt_writer *w, const char *name, const tg_tensor *x)
{
    if (!w) return TG_ENULL;
    if (!x) return fail(w, TG_ENULL, "tg_ckpt_writer_add_tensor: NULL tensor");
    size_t shape[2] = {x->rows, x->cols};
    return tg_ckpt_writer_add(w, name, TG_DT_REAL, 2, shape, x->val);
}

int tg_ckpt_writer_add_params(tg_ckpt_writer *w, const tg_params *ps, const char *prefix)
{
    if (!w) return TG_ENULL;
    if (!ps) return fail(w, TG_ENULL, "tg_ckpt_writer_add_params: NULL store");
    size_t n0 = w->n;
    int rc = TG_OK;
    tgi_buf name = {0};
    for (size_t i = 0; i < tg_params_count(ps) && !rc; i++) {
        name.len = 0;
        tgi_buf_puts(&name, prefix ? prefix : "");
        tgi_buf_puts(&name, tg_params_name(ps, i));
        rc = name.oom ? fail(w, TG_ENOMEM, "tg_ckpt_writer_add_params: out of memory")
                      : tg_ckpt_writer_add_tensor(w, name.p, tg_params_get(ps, i));
    }
    tgi_buf_free(&name);
    while (rc && w->n > n0) { /* undo: w is unchanged on failure */
        w->n--;
        free(w->a[w->n].name);
        free(w->a[w->n].bytes);
    }
    return rc;
}

int tg_ckpt_writer_meta(tg_ckpt_writer *w, const char *key, const char *value)
{
    if (!w) return TG_ENULL;
    if (!key || !value) return fail(w, TG_ENULL, "tg_ckpt_writer_meta: NULL argument");
    if (!tgi_utf8_valid(key) || !tgi_utf8_valid(value))
        return fail(w, TG_EINVAL, "tg_ckpt_writer_meta: '%s': not valid UTF-8", key);
    for (size_t i = 0; i < w->nm; i++)
        if (strcmp(w->m[i].key, key) == 0)
            return fail(w, TG_EINVAL, "tg_ckpt_writer_meta: key '%s' is already used", key);
    meta m = {copy_str(key), copy_str(value)};
    if (!m.key || !m.value || !reserve((void **)&w->m, &w->capm, w->nm, sizeof *w->m)) {
        free(m.key);
        free(m.value);
        return fail(w, TG_ENOMEM, "tg_ckpt_writer_meta: '%s': out of memory", key);
    }
    w->m[w->nm++] = m;
    return TG_OK;
}

/* ---- Saving ------------------------------------------------------------------------------- */

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static void header(const tg_ckpt_writer *w, tgi_buf *b)
{
    tgi_buf_puts(b, "{");
    if (w->nm) {
        tgi_buf_puts(b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->nm; i++) {
            if (i) tgi_buf_puts(b, ",");
            tgi_json_quote(b, w->m[i].key);
            tgi_buf_puts(b, ":");
            tgi_json_quote(b, w->m[i].value);
        }
        tgi_buf_puts(b, "}");
    }
    for (size_t i = 0, off = 0; i < w->n; i++) {
        const array *a = &w->a[i];
        tgi_buf_puts(b, i || w->nm ? "," : "");
        tgi_json_quote(b, a->name);
        tgi_buf_puts(b, ":{\"dtype\":\"");
        tgi_buf_puts(b, tg_dtype_name(a->dtype));
        tgi_buf_puts(b, "\",\"shape\":[");
        for (size_t d = 0; d < a->ndim; d++) {
            if (d) tgi_buf_puts(b, ",");
            tgi_buf_putu(b, a->shape[d]);
        }
        tgi_buf_puts(b, "],\"data_offsets\":[");
        tgi_buf_putu(b, off);
        tgi_buf_puts(b, ",");
        tgi_buf_putu(b, off + a->nbytes);
        tgi_buf_puts(b, "]}");
        off += a->nbytes;
    }
    tgi_buf_puts(b, "}");
    while (b->len % 8) tgi_buf_puts(b, " ");
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

static int write_all(const tg_ckpt_writer *w, sink *s, const tgi_buf *hdr)
{
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr->len >> (8 * i));
    if (put(s, len8, 8) || put(s, hdr->p, hdr->len)) return -1;
    for (size_t i = 0; i < w->n; i++)
        if (put(s, w->a[i].bytes, w->a[i].nbytes)) return -1;
    return 0;
}

/* fsync the directory holding path; -1 with errno on failure. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : copy_str(".");
    if (!dir) return errno = ENOMEM, -1;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY), rc = fd < 0 ? -1 : fsync(fd);
    int saved = errno;
    if (fd >= 0) close(fd);
    free(dir);
    errno = saved;
    return rc;
}

/* Steps 1-3 of the map; on failure a message in w, and tmp, if it was made, is removed. */
static int write_and_rename(tg_ckpt_writer *w, const char *path, const char *tmp,
                            const tgi_buf *hdr)
{
    sink s = {fopen(tmp, "wb"), 0, w->fail_after};
    if (!s.f)
        return fail(w, TG_EIO, "%s: cannot create the temporary file %s: %s", path, tmp,
                    strerror(errno));
    const char *step = "writing";
    int bad = write_all(w, &s, hdr);
    if (!bad) step = "flushing", bad = fflush(s.f) != 0;
    if (!bad) step = "syncing", bad = fsync(fileno(s.f)) != 0;
    int saved = errno;
    if (fclose(s.f) != 0 && !bad) step = "closing", bad = 1, saved = errno;
    if (!bad && rename(tmp, path) != 0) step = "renaming", bad = 1, saved = errno;
    if (bad) {
        unlink(tmp);
        return fail(w, TG_EIO,
                    "%s: %s the temporary file %s failed after %zu bytes: %s; the "
                    "previous file is unchanged",
                    path, step, tmp, s.written, strerror(saved));
    }
    return TG_OK;
}

int tg_ckpt_writer_save(tg_ckpt_writer *w, const char *path)
{
    if (!w) return TG_ENULL;
    if (!path) return fail(w, TG_ENULL, "tg_ckpt_writer_save: NULL path");
    tgi_buf hdr = {0}, tmp = {0};
    header(w, &hdr);
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    tgi_buf_puts(&tmp, path);
    tgi_buf_puts(&tmp, ".tmp.");
    tgi_buf_puts(&tmp, pid);
    int rc;
    if (hdr.oom || tmp.oom) {
        rc = fail(w, TG_ENOMEM, "%s: out of memory for the header", path);
    } else {
        rc = write_and_rename(w, path, tmp.p, &hdr);
        if (!rc && sync_dir(path) != 0)
            rc = fail(w, TG_EIO,
                      "%s: written and renamed, but syncing its directory failed: "
                      "%s; the new file may not survive a crash",
                      path, strerror(errno));
    }
    tgi_buf_free(&hdr);
    tgi_buf_free(&tmp);
    return rc;
}
