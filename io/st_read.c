/* st_read.c: opening a safetensors file, checking all of it, and reading arrays out.
 *
 * tg_ckpt_open reads the 8-byte length and the header, parses it with jansson (duplicate keys
 * rejected, byte offset of any syntax error) and turns each entry into a tg_ckpt_entry,
 * checking everything a later read relies on:
 *   - every dtype is known, every shape has at most TG_CKPT_MAX_DIMS sizes whose product,
 *     times the element size, fits in size_t and equals end - begin;
 *   - sorted by offset, the entries tile the data section exactly: the first begins at 0, each
 *     begins where the previous ended (no overlap, no gap), the last ends at the file's end;
 *   - __metadata__ maps strings to strings, and its checksum matches when the file has one.
 * Invariant after a successful open: any entry can be read with one seek and one read of
 * end - begin bytes that lie inside the file. The array data itself is read on demand, and its
 * checksum and finiteness are checked as it is read.
 *
 * Read next: st_write.c, which produces what this file accepts.
 */
#define _POSIX_C_SOURCE   200809L
#define _FILE_OFFSET_BITS 64

#include "io/st_internal.h"
#include "io/utf8.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define MAX_HEADER 100000000u /* header lengths above this are damage, not JSON */

struct tg_ckpt {
    FILE *f;             /* the open file; owned */
    char *path;          /* as given to tg_ckpt_open; owned */
    char shown[256];     /* path escaped for messages, which it starts */
    unsigned flags;      /* TG_CKPT_* of tg_ckpt_open */
    uint64_t data_start; /* file offset of the data section: 8 + header length */
    uint64_t data_len;   /* bytes in the data section */
    const char *text;    /* the header while it is checked (for byte offsets), then NULL */
    size_t text_len;
    json_t *root;           /* the parsed header; owns every name and metadata string */
    json_t *meta;           /* root's "__metadata__" object, or NULL; borrowed from root */
    int checksummed;        /* the metadata holds tapegrad.crc32: every tensor must have one */
    tg_ckpt_entry *entries; /* n arrays sorted by begin; names borrowed from root */
    json_t *index;          /* name -> position in entries, so a lookup is not a scan; owned */
    size_t n;
    const char **meta_keys; /* the nmeta metadata keys that are not checksums, in file order */
    size_t nmeta;
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

/* Report "<path>: <message>" and return rc. */
static int fail(const tg_ckpt *ck, tg_status *st, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int fail(const tg_ckpt *ck, tg_status *st, int rc, const char *fmt, ...)
{
    char msg[sizeof st->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tg_status_set(st, rc, "%s: %s", ck->shown, msg);
}

/* A name from the file, escaped, in one of two static-free buffers the caller provides. */
#define ESC(buf, s) tg_utf8_escape(buf, sizeof buf, s)

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
static int read_exact(tg_ckpt *ck, uint64_t off, void *dst, size_t len, const char *what,
                      tg_status *st)
{
    char e[160];
    if (len == 0) return TG_OK;
    if (fseeko(ck->f, (off_t)off, SEEK_SET) != 0)
        return fail(ck, st, TG_EIO, "seeking to byte %llu for %s: %s", (unsigned long long)off,
                    ESC(e, what), strerror(errno));
    if (fread(dst, 1, len, ck->f) != len)
        return fail(ck, st, TG_EIO, "reading %zu bytes at byte %llu for %s: %s", len,
                    (unsigned long long)off, ESC(e, what),
                    ferror(ck->f) ? strerror(errno) : "the file is shorter than when opened");
    return TG_OK;
}

/* ---- Checking the header ------------------------------------------------------------------ */

/* The file offset where the key `name` is written in the header, found by looking for it as a
 * JSON encoder writes it; 0 when it is written another way (with escapes). */
static unsigned long long key_offset(const tg_ckpt *ck, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; ck->text && i + n + 2 <= ck->text_len; i++)
        if (ck->text[i] == '"' && memcmp(ck->text + i + 1, name, n) == 0 &&
            ck->text[i + 1 + n] == '"')
            return 8 + (unsigned long long)i;
    return 0;
}

/* " (byte N)" for the entry `name`, or "" when it cannot be found; into buf. */
static const char *where(const tg_ckpt *ck, const char *name, char *buf, size_t len)
{
    unsigned long long at = key_offset(ck, name);
    if (at)
        snprintf(buf, len, " (byte %llu)", at);
    else if (len)
        buf[0] = '\0';
    return buf;
}

/* v as n non-negative integers (at most max) into out; 0 when it is anything else. */
static int uint_array(const json_t *v, size_t max, size_t *out, size_t *n)
{
    if (!json_is_array(v) || json_array_size(v) > max) return 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *x = json_array_get(v, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0) return 0;
        if ((unsigned long long)json_integer_value(x) > SIZE_MAX) return 0;
        out[i] = (size_t)json_integer_value(x);
    }
    *n = json_array_size(v);
    return 1;
}

/* e's dtype, shape and offsets from the header entry v. */
/* Where the entry's key is: looked for only when there is an error to report. */
#define AT where(ck, e->name, at, sizeof at)

static int entry_fields(tg_ckpt *ck, const json_t *v, tg_ckpt_entry *e, tg_status *st)
{
    char en[160], ev[80], at[40];
    const json_t *dt = json_object_get(v, "dtype");
    size_t off[2], n = 0;
    if (!json_is_object(v))
        return fail(ck, st, TG_EFORMAT, "tensor '%s'%s: entry is not an object", ESC(en, e->name),
                    AT);
    if (!json_is_string(dt))
        return fail(ck, st, TG_EFORMAT, "tensor '%s'%s: no \"dtype\" string", ESC(en, e->name), AT);
    for (e->dtype = 0; e->dtype < TG_DT_COUNT; e->dtype++)
        if (strcmp(json_string_value(dt), dtypes[e->dtype].name) == 0) break;
    if (e->dtype == TG_DT_COUNT)
        return fail(ck, st, TG_EFORMAT, "tensor '%s'%s: unknown dtype \"%s\"", ESC(en, e->name), AT,
                    ESC(ev, json_string_value(dt)));
    if (!uint_array(json_object_get(v, "shape"), TG_CKPT_MAX_DIMS, e->shape, &e->ndim))
        return fail(ck, st, TG_EFORMAT,
                    "tensor '%s'%s: \"shape\" is not an array of at most %d non-negative integers",
                    ESC(en, e->name), AT, TG_CKPT_MAX_DIMS);
    if (!uint_array(json_object_get(v, "data_offsets"), 2, off, &n) || n != 2)
        return fail(ck, st, TG_EFORMAT,
                    "tensor '%s'%s: \"data_offsets\" is not a pair [begin, end]", ESC(en, e->name),
                    AT);
    e->begin = off[0], e->end = off[1];
    return TG_OK;
}

#undef AT

/* Fill e from the header entry v named `name`; everything but its place among the others. */
static int check_entry(tg_ckpt *ck, const char *name, const json_t *v, tg_ckpt_entry *e,
                       tg_status *st)
{
    char en[160], s[160];
    e->name = name;
    int rc = entry_fields(ck, v, e, st);
    if (rc) return rc;
    if (e->begin > e->end)
        return fail(ck, st, TG_EFORMAT, "tensor '%s': data_offsets [%zu, %zu] are out of order",
                    ESC(en, name), e->begin, e->end);
    if (e->end > ck->data_len)
        return fail(ck, st, TG_EFORMAT,
                    "tensor '%s': data_offsets [%zu, %zu] run past the end of the file (%llu data "
                    "bytes)",
                    ESC(en, name), e->begin, e->end, (unsigned long long)ck->data_len);
    size_t size = dtypes[e->dtype].size;
    e->numel = 1;
    for (size_t i = 0; i < e->ndim; i++) {
        if (e->shape[i] && e->numel > SIZE_MAX / e->shape[i] / size)
            return fail(ck, st, TG_EFORMAT, "tensor '%s': shape is too large", ESC(en, name));
        e->numel *= e->shape[i];
    }
    if (e->end - e->begin != e->numel * size)
        return fail(ck, st, TG_EFORMAT,
                    "tensor '%s': data_offsets [%zu, %zu] hold %zu bytes, but %s %s needs %zu",
                    ESC(en, name), e->begin, e->end, e->end - e->begin, dtypes[e->dtype].name,
                    fmt_shape(s, sizeof s, e->ndim, e->shape), e->numel * size);
    return TG_OK;
}

static int by_begin(const void *a, const void *b)
{
    const tg_ckpt_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Sorted by offset, the entries must tile [0, data_len). (Names are unique: jansson rejects
 * duplicate keys.) */
static int check_layout(tg_ckpt *ck, tg_status *st)
{
    char e1[160], e2[160];
    size_t pos = 0;
    qsort(ck->entries, ck->n, sizeof *ck->entries, by_begin);
    for (size_t i = 0; i < ck->n; i++) {
        const tg_ckpt_entry *e = &ck->entries[i];
        if (e->begin < pos)
            return fail(ck, st, TG_EFORMAT,
                        "tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]",
                        ESC(e1, e->name), e->begin, e->end, ESC(e2, ck->entries[i - 1].name),
                        ck->entries[i - 1].begin, ck->entries[i - 1].end);
        if (e->begin > pos)
            return fail(ck, st, TG_EFORMAT,
                        "tensor '%s': data_offsets [%zu, %zu] leave a gap of %zu bytes at data "
                        "byte %zu",
                        ESC(e1, e->name), e->begin, e->end, e->begin - pos, pos);
        pos = e->end;
    }
    if (pos != ck->data_len)
        return fail(ck, st, TG_EFORMAT,
                    "data section is %llu bytes but the tensors cover %zu (file byte %llu on is "
                    "not accounted for)",
                    (unsigned long long)ck->data_len, pos,
                    (unsigned long long)(ck->data_start + pos));
    return TG_OK;
}

/* The 8-hex-digit checksum `v` into *crc; 0 when it is not one. */
static int parse_crc(const json_t *v, uint32_t *crc)
{
    const char *s = json_string_value(v);
    char *end;
    if (!s || strlen(s) != 8 || strspn(s, "0123456789abcdef") != 8) return 0;
    *crc = (uint32_t)strtoul(s, &end, 16);
    return 1;
}

/* The metadata's own checksum, when the file has one. */
static int check_meta_crc(tg_ckpt *ck, tg_status *st)
{
    const json_t *v = json_object_get(ck->meta, TGI_CRC_KEY);
    uint32_t want;
    if (!v) return TG_OK;
    if (!parse_crc(v, &want))
        return fail(ck, st, TG_EFORMAT, "__metadata__ '%s' is not 8 hex digits", TGI_CRC_KEY);
    const char **vals = malloc((ck->nmeta + 1) * sizeof *vals);
    if (!vals) return fail(ck, st, TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < ck->nmeta; i++)
        vals[i] = json_string_value(json_object_get(ck->meta, ck->meta_keys[i]));
    uint32_t got = tgi_crc32_meta(ck->meta_keys, vals, ck->nmeta);
    free(vals);
    ck->checksummed = 1;
    if (got != want)
        return fail(ck, st, TG_EFORMAT,
                    "__metadata__ is damaged: its checksum is %08x, the file says %08x",
                    (unsigned)got, (unsigned)want);
    return TG_OK;
}

static int check_meta(tg_ckpt *ck, json_t *m, tg_status *st)
{
    char ek[160];
    const char *key;
    json_t *v;
    if (!json_is_object(m))
        return fail(ck, st, TG_EFORMAT, "__metadata__%s is not an object",
                    where(ck, "__metadata__", ek, sizeof ek));
    ck->meta_keys = malloc((json_object_size(m) + 1) * sizeof *ck->meta_keys);
    if (!ck->meta_keys) return fail(ck, st, TG_ENOMEM, "out of memory");
    json_object_foreach(m, key, v)
    {
        char at[40];
        if (!json_is_string(v))
            return fail(ck, st, TG_EFORMAT, "__metadata__ value of '%s'%s is not a string",
                        ESC(ek, key), where(ck, key, at, sizeof at));
        if (strncmp(key, TGI_CRC_KEY, strlen(TGI_CRC_KEY)) != 0) ck->meta_keys[ck->nmeta++] = key;
    }
    ck->meta = m;
    return check_meta_crc(ck, st);
}

/* Parse the header text and check every entry against the data section. */
static int check_header(tg_ckpt *ck, const char *text, size_t len, tg_status *st)
{
    json_error_t je;
    const char *key;
    json_t *v;
    ck->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!ck->root) {
        char et[200];
        return fail(ck, st,
                    json_error_code(&je) == json_error_out_of_memory ? TG_ENOMEM : TG_EFORMAT,
                    "header is not valid JSON: %s at byte %llu", ESC(et, je.text),
                    8 + (unsigned long long)je.position);
    }
    if (!json_is_object(ck->root)) return fail(ck, st, TG_EFORMAT, "header is not a JSON object");
    ck->entries = calloc(json_object_size(ck->root) + 1, sizeof *ck->entries);
    if (!ck->entries) return fail(ck, st, TG_ENOMEM, "out of memory");
    int rc = TG_OK;
    json_object_foreach(ck->root, key, v)
    {
        if (strcmp(key, "__metadata__") == 0)
            rc = check_meta(ck, v, st);
        else
            rc = check_entry(ck, key, v, &ck->entries[ck->n++], st);
        if (rc) return rc;
    }
    rc = check_layout(ck, st);
    ck->index = rc ? NULL : json_object();
    for (size_t i = 0; !rc && i < ck->n; i++)
        if (!ck->index ||
            json_object_set_new(ck->index, ck->entries[i].name, json_integer((json_int_t)i)) != 0)
            rc = fail(ck, st, TG_ENOMEM, "out of memory");
    return rc;
}

/* The header length at byte 0, checked against the file's size. */
static int header_length(tg_ckpt *ck, uint64_t size, uint64_t *hlen, tg_status *st)
{
    unsigned char len8[8];
    if (size < 8)
        return fail(ck, st, TG_EFORMAT,
                    "file is %llu bytes, too short for the 8-byte header length",
                    (unsigned long long)size);
    int rc = read_exact(ck, 0, len8, 8, "the header length", st);
    if (rc) return rc;
    *hlen = 0;
    for (int i = 7; i >= 0; i--) *hlen = *hlen << 8 | len8[i];
    if (*hlen > MAX_HEADER)
        return fail(ck, st, TG_EFORMAT, "header length %llu at byte 0 is absurd (over %u bytes)",
                    (unsigned long long)*hlen, MAX_HEADER);
    if (*hlen > size - 8)
        return fail(ck, st, TG_EFORMAT,
                    "header length %llu at byte 0 runs past the end of the file (%llu bytes "
                    "follow it)",
                    (unsigned long long)*hlen, (unsigned long long)(size - 8));
    return TG_OK;
}

/* Everything tg_ckpt_open does once ck->f and ck->path are set. */
static int open_checked(tg_ckpt *ck, tg_status *st)
{
    struct stat sb;
    uint64_t hlen = 0;
    if (fstat(fileno(ck->f), &sb) != 0) return fail(ck, st, TG_EIO, "stat: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode)) return fail(ck, st, TG_EIO, "not a regular file");
    int rc = header_length(ck, (uint64_t)sb.st_size, &hlen, st);
    if (rc) return rc;
    ck->data_start = 8 + hlen;
    ck->data_len = (uint64_t)sb.st_size - ck->data_start;
    char *text = malloc((size_t)hlen + 1);
    if (!text)
        return fail(ck, st, TG_ENOMEM, "out of memory for a %llu-byte header",
                    (unsigned long long)hlen);
    rc = read_exact(ck, 8, text, (size_t)hlen, "the header", st);
    ck->text = text, ck->text_len = (size_t)hlen;
    if (!rc) rc = check_header(ck, text, (size_t)hlen, st);
    ck->text = NULL;
    free(text);
    return rc;
}

int tg_ckpt_open(tg_ckpt **out, const char *path, unsigned flags, tg_status *st)
{
    if (out) *out = NULL;
    if (!out || !path) return tg_status_set(st, TG_ENULL, "tg_ckpt_open: NULL argument");
    tg_ckpt *ck = calloc(1, sizeof *ck);
    char *p = malloc(strlen(path) + 1);
    if (!ck || !p) {
        free(ck);
        free(p);
        return tg_status_set(st, TG_ENOMEM, "%s: out of memory", path);
    }
    ck->path = strcpy(p, path);
    ck->flags = flags;
    tg_utf8_escape(ck->shown, sizeof ck->shown, path);
    ck->f = fopen(path, "rb");
    int rc =
        ck->f ? open_checked(ck, st) : fail(ck, st, TG_EIO, "cannot open: %s", strerror(errno));
    if (rc) {
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
    json_decref(ck->root);
    json_decref(ck->index);
    free(ck->entries);
    free(ck->meta_keys);
    free(ck->path);
    free(ck);
}

/* ---- Looking up ----------------------------------------------------------------------------- */

const char *tg_ckpt_path(const tg_ckpt *ck)
{
    return ck ? ck->path : NULL;
}

size_t tg_ckpt_count(const tg_ckpt *ck)
{
    return ck ? ck->n : 0;
}

const tg_ckpt_entry *tg_ckpt_entry_at(const tg_ckpt *ck, size_t i)
{
    return ck && i < ck->n ? &ck->entries[i] : NULL;
}

const tg_ckpt_entry *tg_ckpt_find(const tg_ckpt *ck, const char *name)
{
    json_t *i = ck && name ? json_object_get(ck->index, name) : NULL;
    return i ? &ck->entries[json_integer_value(i)] : NULL;
}

const char *tg_ckpt_meta(const tg_ckpt *ck, const char *key)
{
    if (!ck || !key || strncmp(key, TGI_CRC_KEY, strlen(TGI_CRC_KEY)) == 0) return NULL;
    return json_string_value(json_object_get(ck->meta, key));
}

size_t tg_ckpt_meta_count(const tg_ckpt *ck)
{
    return ck ? ck->nmeta : 0;
}

const char *tg_ckpt_meta_key(const tg_ckpt *ck, size_t i)
{
    return i < tg_ckpt_meta_count(ck) ? ck->meta_keys[i] : NULL;
}

/* ---- Reading ------------------------------------------------------------------------------ */

/* The entry `name` holding n elements, or a failure. `want` is a dtype, or TG_DT_COUNT for
 * either F32 or F64. */
static int lookup(tg_ckpt *ck, const char *name, tg_dtype want, size_t n, const tg_ckpt_entry **out,
                  tg_status *st)
{
    char en[160];
    const tg_ckpt_entry *e = tg_ckpt_find(ck, name);
    if (!e) return fail(ck, st, TG_ERANGE, "no tensor '%s'", ESC(en, name));
    int real = e->dtype == TG_DT_F32 || e->dtype == TG_DT_F64;
    if (want == TG_DT_COUNT ? !real : e->dtype != want)
        return fail(ck, st, TG_EINVAL, "tensor '%s' has dtype %s, expected %s", ESC(en, name),
                    dtypes[e->dtype].name, want == TG_DT_COUNT ? "F32 or F64" : dtypes[want].name);
    if (e->numel != n)
        return fail(ck, st, TG_ESHAPE, "tensor '%s' has %zu elements, the destination %zu",
                    ESC(en, name), e->numel, n);
    *out = e;
    return TG_OK;
}

/* The checksum of e's bytes against the file's, when it has one. */
static int check_crc(tg_ckpt *ck, const tg_ckpt_entry *e, uint32_t got, tg_status *st)
{
    char en[160], *key = malloc(strlen(TGI_CRC_PREFIX) + strlen(e->name) + 1);
    if (!key) return fail(ck, st, TG_ENOMEM, "out of memory");
    const json_t *v = json_object_get(ck->meta, strcat(strcpy(key, TGI_CRC_PREFIX), e->name));
    free(key);
    uint32_t want;
    if (!v && !ck->checksummed) return TG_OK;
    if (!v)
        return fail(ck, st, TG_EFORMAT, "tensor '%s' has no checksum (%s<name>) in the metadata",
                    ESC(en, e->name), TGI_CRC_PREFIX);
    if (!parse_crc(v, &want))
        return fail(ck, st, TG_EFORMAT, "tensor '%s': its checksum is not 8 hex digits",
                    ESC(en, e->name));
    if (got != want)
        return fail(ck, st, TG_EFORMAT,
                    "tensor '%s' is damaged: its %zu bytes at file byte %llu have checksum %08x, "
                    "the file says %08x",
                    ESC(en, e->name), e->end - e->begin,
                    (unsigned long long)(ck->data_start + e->begin), (unsigned)got, (unsigned)want);
    return TG_OK;
}

/* Little-endian bytes of an F32 or F64 to a number. */
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

/* Refuse a non-finite element among the k little-endian values at b, the first being element
 * `first` of e (unless the file was opened for inspection). */
static int check_finite(tg_ckpt *ck, const tg_ckpt_entry *e, const unsigned char *b, size_t k,
                        size_t first, tg_status *st)
{
    char en[160];
    if ((e->dtype != TG_DT_F32 && e->dtype != TG_DT_F64) || (ck->flags & TG_CKPT_NONFINITE_OK))
        return TG_OK;
    for (size_t j = 0; j < k; j++) {
        double x = decode(b + j * dtypes[e->dtype].size, e->dtype);
        if (!isfinite(x))
            return fail(ck, st, TG_EFORMAT,
                        "tensor '%s' element %zu is %g: non-finite values are refused (open with "
                        "TG_CKPT_NONFINITE_OK to inspect them)",
                        ESC(en, e->name), first + j, x);
    }
    return TG_OK;
}

/* Stream e's bytes through a buffer: checksum, finiteness, then `put` converts each chunk into
 * dst (as `want`, F32 or F64), or copies it when want is e's dtype. */
static int read_entry(tg_ckpt *ck, const tg_ckpt_entry *e, tg_dtype want, void *dst, tg_status *st)
{
    unsigned char chunk[1 << 14];
    size_t size = dtypes[e->dtype].size, per = sizeof chunk / size, wsize = dtypes[want].size;
    uint32_t crc = 0;
    for (size_t i = 0; i < e->numel; i += per) {
        size_t k = e->numel - i < per ? e->numel - i : per;
        int rc = read_exact(ck, ck->data_start + e->begin + i * size, chunk, k * size, e->name, st);
        if (!rc) rc = check_finite(ck, e, chunk, k, i, st);
        if (rc) return rc;
        crc = tgi_crc32(crc, chunk, k * size);
        unsigned char *out = (unsigned char *)dst + i * wsize;
        if (want == e->dtype) {
            memcpy(out, chunk, k * size);
            if (!tgi_host_le()) tgi_swap_bytes(out, k, size);
        } else if (want == TG_DT_F32) {
            for (size_t j = 0; j < k; j++)
                ((float *)out)[j] = (float)decode(chunk + j * size, e->dtype);
        } else {
            for (size_t j = 0; j < k; j++) ((double *)out)[j] = decode(chunk + j * size, e->dtype);
        }
    }
    return check_crc(ck, e, crc, st);
}

int tg_ckpt_read(tg_ckpt *ck, const char *name, tg_dtype dtype, void *dst, size_t n, tg_status *st)
{
    const tg_ckpt_entry *e = NULL;
    if (!ck || !name || (!dst && n) || (unsigned)dtype >= TG_DT_COUNT)
        return tg_status_set(st, TG_ENULL, "tg_ckpt_read: NULL argument or unknown dtype");
    int rc = lookup(ck, name, dtype, n, &e, st);
    return rc ? rc : read_entry(ck, e, dtype, dst, st);
}

int tg_ckpt_read_float(tg_ckpt *ck, const char *name, tg_dtype dtype, void *dst, size_t n,
                       tg_status *st)
{
    const tg_ckpt_entry *e = NULL;
    if (!ck || !name || (!dst && n) || (dtype != TG_DT_F32 && dtype != TG_DT_F64))
        return tg_status_set(st, TG_ENULL,
                             "tg_ckpt_read_float: NULL argument or dtype not F32/F64");
    int rc = lookup(ck, name, TG_DT_COUNT, n, &e, st);
    return rc ? rc : read_entry(ck, e, dtype, dst, st);
}
