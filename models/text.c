/* text.c: whole-file reads, and UTF-8 decoding and encoding of whole texts with messages that
 * name the file and the byte offset. The rules of UTF-8 live in one place, io/utf8.c; this file
 * walks a text with tg_utf8_decode_one.
 *
 * Read next: vocab.c, which turns the code points into token ids.
 */
#include "models/text.h"
#include "io/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lm_read_file(const char *path, char **data, size_t *len, tg_status *st)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return tg_status_set(st, TG_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f); /* keep one byte for the NUL */
        if (n < cap - 1) break;                 /* end of file or an error: ferror says which */
        char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (!buf) {
        fclose(f);
        return tg_status_set(st, TG_ENOMEM, "%s: out of memory reading the file", path);
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return tg_status_set(st, TG_EIO, "%s: read failed: %s", path, strerror(saved));
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return TG_OK;
}

/* Walk s[0..len), storing code points into out (when not NULL); counts them into *n. */
static int walk(const char *name, const char *s, size_t len, uint32_t *out, size_t *n,
                tg_status *st)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        char why[160];
        uint32_t cp;
        size_t k = tg_utf8_decode_one(u + i, len - i, &cp, why, sizeof why);
        if (k == 0)
            return tg_status_set(st, TG_EFORMAT, "%s: invalid UTF-8 at byte %zu (%s)",
                                 name ? name : "input", i, why);
        if (out) out[count] = cp;
        count++;
        i += k;
    }
    *n = count;
    return TG_OK;
}

int lm_utf8_check(const char *name, const char *s, size_t len, tg_status *st)
{
    size_t n;
    return walk(name, s, len, NULL, &n, st);
}

int lm_utf8_decode(const char *name, const char *s, size_t len, uint32_t **cps, size_t *n,
                   tg_status *st)
{
    *cps = NULL;
    *n = 0;
    /* At most one code point per byte; +1 so an empty input still gets a real allocation. */
    uint32_t *out = len < SIZE_MAX / sizeof *out ? malloc((len + 1) * sizeof *out) : NULL;
    if (!out)
        return tg_status_set(st, TG_ENOMEM, "%s: out of memory decoding UTF-8",
                             name ? name : "input");
    size_t count = 0;
    int rc = walk(name, s, len, out, &count, st);
    if (rc != TG_OK) {
        free(out);
        return rc;
    }
    uint32_t *fit = realloc(out, (count + 1) * sizeof *out); /* give back the unused tail */
    *cps = fit ? fit : out;
    *n = count;
    return TG_OK;
}

size_t lm_utf8_put(uint32_t cp, char out[4])
{
    return tg_utf8_put(cp, out);
}

int lm_utf8_encode(const uint32_t *cps, size_t n, char **out, size_t *len, tg_status *st)
{
    *out = NULL;
    if (len) *len = 0;
    char *buf = n < (SIZE_MAX - 1) / 4 ? malloc(4 * n + 1) : NULL; /* at most 4 bytes each */
    if (!buf) return tg_status_set(st, TG_ENOMEM, "out of memory encoding UTF-8");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = lm_utf8_put(cps[i], buf + m);
        if (k == 0) {
            free(buf);
            return tg_status_set(st, TG_ERANGE,
                                 "code point %zu (0x%X) cannot be encoded: it "
                                 "is a surrogate or past U+10FFFF",
                                 i, (unsigned)cps[i]);
        }
        m += k;
    }
    buf[m] = '\0';
    char *fit = realloc(buf, m + 1);
    *out = fit ? fit : buf;
    if (len) *len = m;
    return TG_OK;
}

int lm_read_utf8(const char *path, uint32_t **cps, size_t *n, tg_status *st)
{
    char *data;
    size_t len;
    *cps = NULL;
    *n = 0;
    int rc = lm_read_file(path, &data, &len, st);
    if (rc != TG_OK) return rc;
    rc = lm_utf8_decode(path, data, len, cps, n, st);
    free(data);
    return rc;
}
