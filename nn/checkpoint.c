/* checkpoint.c: opening a safetensors file, checking all of it, and reading arrays out.
 *
 * tg_ckpt_open reads the 8-byte length and the JSON header, parses it (json.c) and turns each
 * entry into a tg_ckpt_entry, checking everything a later read relies on:
 *   - every dtype is known, every shape has at most TG_CKPT_MAX_DIMS sizes whose product,
 *     times the element size, fits in size_t and equals end - begin;
 *   - sorted by offset, the entries tile the data section exactly: the first begins at 0, each
 *     begins where the previous ended (no overlap, no gap), the last ends at the file's end;
 *   - names are unique, __metadata__ maps strings to strings.
 * Invariant after a successful open: any entry can be read with one seek and one read of
 * end - begin bytes that lie inside the file. The array data itself is read on demand.
 *
 * Read next: checkpoint_write.c, which produces what this file accepts.
 */
#define _POSIX_C_SOURCE   200809L
#define _FILE_OFFSET_BITS 64

#include "nn/checkpoint_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define MAX_HEADER 100000000u /* header lengths above this are damage, not JSON */

struct tg_ckpt {
    FILE *f;                /* the open file; owned */
    char *path;             /* as given to tg_ckpt_open; owned; starts every message */
    uint64_t data_start;    /* file offset of the data section: 8 + header length */
    uint64_t data_len;      /* bytes in the data section */
    tgi_json *root;         /* the parsed header; owns every name and metadata string */
    const tgi_json *meta;   /* root's "__metadata__" object, or NULL */
    tg_ckpt_entry *entries; /* n arrays sorted by begin; names borrowed from root */
    size_t n;
    char err[TG_CKPT_ERRLEN]; /* last error message, "" when none */
};

static const struct {
    const char *name;
    size_t size;
} dtypes[TG_DT_COUNT] = {
    [TG_DT_BOOL] = {"BOOL", 1},       [TG_DT_U8] = {"U8", 1},           [TG_DT_I8] = {"I8", 1},
    [TG_DT_F8_E5M2] = {"F8_E5M2", 1}, [TG_DT_F8_E4M3] = {"F8_E4M3", 1}, [TG_DT_I16] = {"I16", 2},
    [TG_DT_U16] = {"U16", 2},         [TG_DT_F16] = {"F16", 2},         [TG_DT_BF16] = {"BF16", 2},
    [TG_DT_I32] = {"I32", 4},         [TG_DT_U32] = {"U32", 4},         [TG_DT_F32] = {"F32", 4},
    [TG_DT_F64] = {"F64", 8},         [TG_DT_I64] = {"I64", 8},         [TG_DT_U64] = {"U64", 8},
};

const char *tg_dtype_name(tg_dtype dt)
{
    return (unsigned)dt < TG_DT_COUNT ? dtypes[dt].name : "?";
}

size_t tg_dtype_size(tg_dtype dt)
{
    return (unsigned)dt < TG_DT_COUNT ? dtypes[dt].size : 0;
}

/* Record "<path>: <message>" and return rc. */
static int fail(tg_ckpt *ck, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(tg_ckpt *ck, int rc, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(ck->err, sizeof ck->err, "%s: ", ck->path);
    if (n < 0 || (size_t)n >= sizeof ck->err) return rc;
    va_start(ap, fmt);
    vsnprintf(ck->err + n, sizeof ck->err - (size_t)n, fmt, ap);
    va_end(ap);
    return rc;
}

/* "(a x b x c)" into buf. */
static const char *fmt_shape(char *buf, size_t len, size_t ndim, const size_t *shape)
{
    size_t at = (size_t)snprintf(buf, len, "(");
    for (size_t i = 0; i < ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? " x %zu" : "%zu", shape[i]);
    if (at < len) snprintf(buf + at, len - at, ")");
    return buf;
}

/* Read len bytes at file offset off; TG_EIO with a message about `what` on failure. */
static int read_exact(tg_ckpt *ck, uint64_t off, void *dst, size_t len, const char *what)
{
    if (len == 0) return TG_OK;
    if (fseeko(ck->f, (off_t)off, SEEK_SET) != 0)
        return fail(ck, TG_EIO, "seeking to byte %llu for %s: %s", (unsigned long long)off, what,
                    strerror(errno));
    if (fread(dst, 1, len, ck->f) != len)
        return fail(ck, TG_EIO, "reading %zu bytes at byte %llu for %s: %s", len,
                    (unsigned long long)off, what,
                    ferror(ck->f) ? strerror(errno) : "the file is shorter than when opened");
    return TG_OK;
}

/* ---- Checking the header ------------------------------------------------------------------ */

static int uint_array(const tgi_json *v, size_t max, size_t *out, size_t *n)
{
    if (!v || v->kind != TGI_JSON_ARRAY || v->n > max) return 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i].kind != TGI_JSON_UINT || v->items[i].num > SIZE_MAX) return 0;
        out[i] = (size_t)v->items[i].num;
    }
    *n = v->n;
    return 1;
}

/* Fill e from the header entry v named `name`; everything but its place among the others. */
static int check_entry(tg_ckpt *ck, const char *name, const tgi_json *v, tg_ckpt_entry *e)
{
    unsigned long long at = 8 + (unsigned long long)v->offset;
    const tgi_json *dt = tgi_json_get(v, "dtype");
    size_t off[2], n = 0;
    e->name = name;
    if (v->kind != TGI_JSON_OBJECT)
        return fail(ck, TG_EFORMAT, "tensor '%s' (byte %llu): entry is not an object", name, at);
    if (!dt || dt->kind != TGI_JSON_STRING)
        return fail(ck, TG_EFORMAT, "tensor '%s' (byte %llu): no \"dtype\" string", name, at);
    for (e->dtype = 0; e->dtype < TG_DT_COUNT; e->dtype++)
        if (strcmp(dt->str, dtypes[e->dtype].name) == 0) break;
    if (e->dtype == TG_DT_COUNT)
        return fail(ck, TG_EFORMAT, "tensor '%s' (byte %llu): unknown dtype \"%s\"", name,
                    8 + (unsigned long long)dt->offset, dt->str);
    if (!uint_array(tgi_json_get(v, "shape"), TG_CKPT_MAX_DIMS, e->shape, &e->ndim))
        return fail(ck, TG_EFORMAT,
                    "tensor '%s' (byte %llu): \"shape\" is not an array of at "
                    "most %d non-negative integers",
                    name, at, TG_CKPT_MAX_DIMS);
    if (!uint_array(tgi_json_get(v, "data_offsets"), 2, off, &n) || n != 2)
        return fail(ck, TG_EFORMAT,
                    "tensor '%s' (byte %llu): \"data_offsets\" is not a pair [begin, end]", name,
                    at);
    e->begin = off[0], e->end = off[1];
    if (e->begin > e->end)
        return fail(ck, TG_EFORMAT, "tensor '%s': data_offsets [%zu, %zu] are out of order", name,
                    e->begin, e->end);
    if (e->end > ck->data_len)
        return fail(ck, TG_EFORMAT,
                    "tensor '%s': data_offsets [%zu, %zu] run past the end of "
                    "the file (%llu data bytes)",
                    name, e->begin, e->end, (unsigned long long)ck->data_len);
    size_t bytes = dtypes[e->dtype].size;
    e->numel = 1;
    for (size_t i = 0; i < e->ndim; i++) {
        if (e->shape[i] && e->numel > SIZE_MAX / e->shape[i] / dtypes[e->dtype].size)
            return fail(ck, TG_EFORMAT, "tensor '%s': shape is too large", name);
        e->numel *= e->shape[i];
    }
    bytes *= e->numel;
    if (e->end - e->begin != bytes) {
        char s[160];
        return fail(ck, TG_EFORMAT,
                    "tensor '%s': data_offsets [%zu, %zu] hold %zu bytes, but %s %s needs %zu",
                    name, e->begin, e->end, e->end - e->begin, dtypes[e->dtype].name,
                    fmt_shape(s, sizeof s, e->ndim, e->shape), bytes);
    }
    return TG_OK;
}

static int by_begin(const void *a, const void *b)
{
    const tg_ckpt_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted by offset, the entries must tile [0, data_len); names must be unique. */
static int check_layout(tg_ckpt *ck)
{
    size_t pos = 0;
    qsort(ck->entries, ck->n, sizeof *ck->entries, by_begin);
    for (size_t i = 0; i < ck->n; i++) {
        const tg_ckpt_entry *e = &ck->entries[i];
        if (e->begin < pos)
            return fail(ck, TG_EFORMAT,
                        "tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]",
                        e->name, e->begin, e->end, ck->entries[i - 1].name,
                        ck->entries[i - 1].begin, ck->entries[i - 1].end);
        if (e->begin > pos)
            return fail(ck, TG_EFORMAT,
                        "tensor '%s': data_offsets [%zu, %zu] leave a gap of %zu "
                        "bytes at data byte %zu",
                        e->name, e->begin, e->end, e->begin - pos, pos);
        pos = e->end;
    }
    if (pos != ck->data_len)
        return fail(ck, TG_EFORMAT,
                    "data section is %llu bytes but the tensors cover %zu "
                    "(file byte %llu on is not accounted for)",
                    (unsigned long long)ck->data_len, pos,
                    (unsigned long long)(ck->data_start + pos));
    const char **names = malloc((ck->n ? ck->n : 1) * sizeof *names);
    if (!names) return fail(ck, TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < ck->n; i++) names[i] = ck->entries[i].name;
    qsort(names, ck->n, sizeof *names, by_name);
    int rc = TG_OK;
    for (size_t i = 1; i < ck->n && !rc; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            rc = fail(ck, TG_EFORMAT, "tensor '%s' appears twice in the header", names[i]);
    free(names);
    return rc;
}

static int check_meta(tg_ckpt *ck, const tgi_json *m)
{
    if (m->kind != TGI_JSON_OBJECT)
        return fail(ck, TG_EFORMAT, "__metadata__ (byte %llu) is not an object",
                    8 + (unsigned long long)m->offset);
    for (size_t i = 0; i < m->n; i++)
        if (m->items[i].kind != TGI_JSON_STRING)
            return fail(ck, TG_EFORMAT, "__metadata__ value of '%s' (byte %llu) is not a string",
                        m->keys[i], 8 + (unsigned long long)m->items[i].offset);
    ck->meta = m;
    return TG_OK;
}

/* Parse the header text and check every entry against the data section. */
static int check_header(tg_ckpt *ck, const char *text, size_t len)
{
    char msg[128];
    size_t at = 0;
    int rc = tgi_json_parse(text, len, &ck->root, msg, sizeof msg, &at);
    if (rc == TG_ENOMEM) return fail(ck, rc, "out of memory");
    if (rc)
        return fail(ck, rc, "header is not valid JSON: %s at byte %llu", msg,
                    8 + (unsigned long long)at);
    const tgi_json *r = ck->root;
    if (r->kind != TGI_JSON_OBJECT) return fail(ck, TG_EFORMAT, "header is not a JSON object");
    ck->entries = calloc(r->n ? r->n : 1, sizeof *ck->entries);
    if (!ck->entries) return fail(ck, TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->keys[i], "__metadata__") == 0)
            rc = check_meta(ck, &r->items[i]);
        else
            rc = check_entry(ck, r->keys[i], &r->items[i], &ck->entries[ck->n++]);
        if (rc) return rc;
    }
    return check_layout(ck);
}

/* Everything tg_ckpt_open does once ck->f and ck->path are set. */
static int open_checked(tg_ckpt *ck)
{
    struct stat st;
    unsigned char len8[8];
    if (fstat(fileno(ck->f), &st) != 0) return fail(ck, TG_EIO, "stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail(ck, TG_EIO, "not a regular file");
    uint64_t size = (uint64_t)st.st_size, hlen = 0;
    if (size < 8)
        return fail(ck, TG_EFORMAT, "file is %llu bytes, too short for the 8-byte header length",
                    (unsigned long long)size);
    int rc = read_exact(ck, 0, len8, 8, "the header length");
    if (rc) return rc;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    if (hlen > MAX_HEADER)
        return fail(ck, TG_EFORMAT, "header length %llu at byte 0 is absurd (over %u bytes)",
                    (unsigned long long)hlen, MAX_HEADER);
    if (hlen > size - 8)
        return fail(ck, TG_EFORMAT,
                    "header length %llu at byte 0 runs past the end of the file "
                    "(%llu bytes follow it)",
                    (unsigned long long)hlen, (unsigned long long)(size - 8));
    ck->data_start = 8 + hlen;
    ck->data_len = size - ck->data_start;
    char *text = malloc((size_t)hlen + 1);
    if (!text)
        return fail(ck, TG_ENOMEM, "out of memory for a %llu-byte header",
                    (unsigned long long)hlen);
    rc = read_exact(ck, 8, text, (size_t)hlen, "the header");
    if (!rc) rc = check_header(ck, text, (size_t)hlen);
    free(text);
    return rc;
}

int tg_ckpt_open(tg_ckpt **out, const char *path, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!out || !path) {
        if (out) *out = NULL;
        if (err && errlen) snprintf(err, errlen, "tg_ckpt_open: NULL argument");
        return TG_ENULL;
    }
    *out = NULL;
    tg_ckpt *ck = calloc(1, sizeof *ck);
    char *p = malloc(strlen(path) + 1);
    if (!ck || !p) {
        free(ck);
        free(p);
        if (err && errlen) snprintf(err, errlen, "%s: out of memory", path);
        return TG_ENOMEM;
    }
    ck->path = strcpy(p, path);
    ck->f = fopen(path, "rb");
    int rc = ck->f ? open_checked(ck) : fail(ck, TG_EIO, "cannot open: %s", strerror(errno));
    if (rc) {
        if (err && errlen) snprintf(err, errlen, "%s", ck->err);
        tg_ckpt_close(ck);
        return rc;
    }
    *out = ck;
    return TG_OK;
}

void tg_ckpt_close(tg_ckpt *ck)
{
    if (!ck) return;
    if (ck->f) fclose(ck->f);
    tgi_json_free(ck->root);
    free(ck->entries);
    free(ck->path);
    free(ck);
}

const char *tg_ckpt_error(const tg_ckpt *ck)
{
    return ck && ck->err[0] ? ck->err : NULL;
}

/* ---- Looking up and reading --------------------------------------------------------------- */

size_t tg_ckpt_count(const tg_ckpt *ck)
{
    return ck->n;
}

const tg_ckpt_entry *tg_ckpt_entry_at(const tg_ckpt *ck, size_t i)
{
    return i < ck->n ? &ck->entries[i] : NULL;
}

const tg_ckpt_entry *tg_ckpt_find(const tg_ckpt *ck, const char *name)
{
    for (size_t i = 0; i < ck->n; i++)
        if (strcmp(ck->entries[i].name, name) == 0) return &ck->entries[i];
    return NULL;
}

const char *tg_ckpt_meta(const tg_ckpt *ck, const char *key)
{
    const tgi_json *v = tgi_json_get(ck->meta, key);
    return v ? v->str : NULL;
}

size_t tg_ckpt_meta_count(const tg_ckpt *ck)
{
    return ck->meta ? ck->meta->n : 0;
}

const char *tg_ckpt_meta_key(const tg_ckpt *ck, size_t i)
{
    return i < tg_ckpt_meta_count(ck) ? ck->meta->keys[i] : NULL;
}

/* The entry `name` holding n elements, or a failure. real != 0 asks for F32 or F64; otherwise
 * exactly `dtype`. */
static int lookup(tg_ckpt *ck, const char *name, int real, tg_dtype dtype, size_t n,
                  const tg_ckpt_entry **out)
{
    const tg_ckpt_entry *e = tg_ckpt_find(ck, name);
    if (!e) return fail(ck, TG_ERANGE, "no tensor '%s'", name);
    if (real ? e->dtype != TG_DT_F32 && e->dtype != TG_DT_F64 : e->dtype != dtype)
        return fail(ck, TG_EINVAL, "tensor '%s' has dtype %s, expected %s", name,
                    dtypes[e->dtype].name, real ? "F32 or F64" : tg_dtype_name(dtype));
    if (e->numel != n)
        return fail(ck, TG_ESHAPE, "tensor '%s' has %zu elements, the destination %zu", name,
                    e->numel, n);
    *out = e;
    return TG_OK;
}

int tg_ckpt_read(tg_ckpt *ck, const char *name, tg_dtype dtype, void *dst, size_t n)
{
    const tg_ckpt_entry *e = NULL;
    if (!ck || !name || (!dst && n)) return ck ? fail(ck, TG_ENULL, "NULL argument") : TG_ENULL;
    int rc = lookup(ck, name, 0, dtype, n, &e);
    if (!rc) rc = read_exact(ck, ck->data_start + e->begin, dst, e->end - e->begin, e->name);
    if (!rc && !tgi_host_le()) tgi_swap_bytes(dst, n, dtypes[dtype].size);
    return rc;
}

/* Little-endian bytes to a number. */
static double decode(const unsigned char *b, tg_dtype dt)
{
    uint64_t u = 0;
    for (size_t i = dtypes[dt].size; i-- > 0;) u = u << 8 | b[i];
    if (dt == TG_DT_F64) {
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    uint32_t u32 = (uint32_t)u;
    float f;
    memcpy(&f, &u32, sizeof f);
    return f;
}

static int read_reals(tg_ckpt *ck, const tg_ckpt_entry *e, tg_real *dst)
{
    if (e->dtype == TG_DT_REAL && tgi_host_le())
        return read_exact(ck, ck->data_start + e->begin, dst, e->end - e->begin, e->name);
    unsigned char chunk[4096];
    size_t size = dtypes[e->dtype].size, per = sizeof chunk / size;
    for (size_t i = 0; i < e->numel; i += per) {
        size_t k = e->numel - i < per ? e->numel - i : per;
        int rc = read_exact(ck, ck->data_start + e->begin + i * size, chunk, k * size, e->name);
        if (rc) return rc;
        for (size_t j = 0; j < k; j++) dst[i + j] = (tg_real)decode(chunk + j * size, e->dtype);
    }
    return TG_OK;
}

int tg_ckpt_read_reals(tg_ckpt *ck, const char *name, tg_real *dst, size_t n)
{
    const tg_ckpt_entry *e = NULL;
    if (!ck || !name || (!dst && n)) return ck ? fail(ck, TG_ENULL, "NULL argument") : TG_ENULL;
    int rc = lookup(ck, name, 1, TG_DT_REAL, n, &e);
    return rc ? rc : read_reals(ck, e, dst);
}

/* e's shape is (rows x cols), or (cols) for a single row. */
static int fits(const tg_ckpt_entry *e, size_t rows, size_t cols)
{
    return (e->ndim == 2 && e->shape[0] == rows && e->shape[1] == cols) ||
           (e->ndim == 1 && rows == 1 && e->shape[0] == cols);
}

/* A real entry `name` of x's shape; the message says "model" or "tensor" for x. */
static int check_like(tg_ckpt *ck, const char *name, const tg_tensor *x, const char *who,
                      const tg_ckpt_entry **out)
{
    const tg_ckpt_entry *e = tg_ckpt_find(ck, name);
    char s[160];
    if (!e)
        return fail(ck, TG_ERANGE, "'%s' is not in the file (checkpoint of another model?)", name);
    if (e->dtype != TG_DT_F32 && e->dtype != TG_DT_F64)
        return fail(ck, TG_EINVAL, "tensor '%s' has dtype %s, expected F32 or F64", name,
                    dtypes[e->dtype].name);
    if (!fits(e, x->rows, x->cols))
        return fail(ck, TG_ESHAPE, "wrong shape for '%s': file has %s, %s has (%zu x %zu)", name,
                    fmt_shape(s, sizeof s, e->ndim, e->shape), who, x->rows, x->cols);
    *out = e;
    return TG_OK;
}

int tg_ckpt_read_tensor(tg_ckpt *ck, const char *name, tg_tensor *x)
{
    const tg_ckpt_entry *e = NULL;
    if (!ck || !name || !x) return ck ? fail(ck, TG_ENULL, "NULL argument") : TG_ENULL;
    int rc = check_like(ck, name, x, "tensor", &e);
    return rc ? rc : read_reals(ck, e, x->val);
}

/* Every check of tg_ckpt_load_params, then every read into tmp (numel of the store). */
static int load_checked(tg_ckpt *ck, tg_params *ps, const char *prefix, tg_real *tmp)
{
    size_t plen = strlen(prefix), np = tg_params_count(ps);
    const tg_ckpt_entry **es = malloc((np ? np : 1) * sizeof *es);
    tgi_buf name = {0};
    int rc = es ? TG_OK : fail(ck, TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < np && !rc; i++) {
        name.len = 0;
        tgi_buf_puts(&name, prefix);
        tgi_buf_puts(&name, tg_params_name(ps, i));
        rc = name.oom ? fail(ck, TG_ENOMEM, "out of memory")
                      : check_like(ck, name.p, tg_params_get(ps, i), "model", &es[i]);
    }
    for (size_t i = 0; i < ck->n && !rc; i++) {
        const char *fn = ck->entries[i].name;
        if (strncmp(fn, prefix, plen) == 0 && !tg_params_find(ps, fn + plen))
            rc = fail(ck, TG_ERANGE,
                      "tensor '%s' is in the file but not in the model "
                      "(checkpoint of another model?)",
                      fn);
    }
    for (size_t i = 0, at = 0; i < np && !rc; i++) {
        rc = read_reals(ck, es[i], tmp + at);
        at += tg_numel(tg_params_get(ps, i));
    }
    tgi_buf_free(&name);
    free(es);
    return rc;
}

int tg_ckpt_load_params(tg_ckpt *ck, tg_params *ps, const char *prefix)
{
    if (!ck || !ps) return ck ? fail(ck, TG_ENULL, "NULL argument") : TG_ENULL;
    size_t total = tg_params_numel(ps);
    if (total > SIZE_MAX / sizeof(tg_real)) return fail(ck, TG_ENOMEM, "out of memory");
    tg_real *tmp = malloc((total ? total : 1) * sizeof *tmp);
    if (!tmp) return fail(ck, TG_ENOMEM, "out of memory for %zu values", total);
    int rc = load_checked(ck, ps, prefix ? prefix : "", tmp);
    for (size_t i = 0, at = 0; i < tg_params_count(ps) && !rc; i++) {
        tg_tensor *x = tg_params_get(ps, i);
        memcpy(x->val, tmp + at, tg_numel(x) * sizeof *tmp);
        at += tg_numel(x);
    }
    free(tmp);
    return rc;
}
