/* text.c: whole-file reads and strict UTF-8 decoding and encoding.
 *
 * UTF-8 in one table: a lead byte says how many bytes follow (0xxxxxxx: none, 110xxxxx: one,
 * 1110xxxx: two, 11110xxx: three) and every following byte is 10xxxxxx. The value must need
 * that many bytes (no overlong forms), must not be a surrogate (U+D800..U+DFFF) and must not
 * pass U+10FFFF. decode_one checks these in reading order and reports the first one broken.
 *
 * Read next: vocab.c, which turns the code points into token ids.
 */
#include "models/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lm_fail(int code, char *err, size_t errsz, const char *fmt, ...)
{
    if (err && errsz > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return code;
}

int lm_read_file(const char *path, char **data, size_t *len, char *err, size_t errsz)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lm_fail(TG_EIO, err, errsz, "%s: cannot open: %s", path, strerror(errno));
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
        return lm_fail(TG_ENOMEM, err, errsz, "%s: out of memory reading the file", path);
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return lm_fail(TG_EIO, err, errsz, "%s: read failed: %s", path, strerror(saved));
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return TG_OK;
}

/* Decode the sequence starting at s[i]: store its code point in *cp and return its length, or
 * return 0 and describe the problem in why[0..whysz). */
static size_t decode_one(const unsigned char *s, size_t len, size_t i, uint32_t *cp, char *why,
                         size_t whysz)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000}; /* smallest value per length */
    unsigned b = s[i];
    size_t need;
    uint32_t v;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b < 0xC0) {
        snprintf(why, whysz, "byte 0x%02X is a continuation byte with no lead byte before it", b);
        return 0;
    } else if (b < 0xE0) {
        need = 2, v = b & 0x1F;
    } else if (b < 0xF0) {
        need = 3, v = b & 0x0F;
    } else if (b < 0xF8) {
        need = 4, v = b & 0x07;
    } else {
        snprintf(why, whysz, "byte 0x%02X never appears in UTF-8", b);
        return 0;
    }
    for (size_t k = 1; k < need; k++) {
        if (i + k >= len) {
            snprintf(why, whysz,
                     "the %zu-byte sequence starting with 0x%02X is cut short by the "
                     "end of the input",
                     need, b);
            return 0;
        }
        unsigned c = s[i + k];
        if ((c & 0xC0) != 0x80) {
            if (k == 1)
                snprintf(why, whysz, "byte 0x%02X is not followed by a continuation byte", b);
            else
                snprintf(why, whysz,
                         "byte %zu of the %zu-byte sequence starting with 0x%02X is "
                         "0x%02X, not a continuation byte",
                         k + 1, need, b, c);
            return 0;
        }
        v = v << 6 | (c & 0x3F); /* six payload bits per continuation byte */
    }
    if (v < min_cp[need]) {
        snprintf(why, whysz, "overlong encoding of U+%04X in %zu bytes", (unsigned)v, need);
        return 0;
    } else if (v >= 0xD800 && v <= 0xDFFF) {
        snprintf(why, whysz, "U+%04X is a UTF-16 surrogate, not a character", (unsigned)v);
        return 0;
    } else if (v > LM_MAX_CODEPOINT) {
        snprintf(why, whysz, "0x%X is past the last code point U+10FFFF", (unsigned)v);
        return 0;
    }
    *cp = v;
    return need;
}

/* Walk s[0..len), storing code points into out (when not NULL); counts them into *n. */
static int walk(const char *name, const char *s, size_t len, uint32_t *out, size_t *n, char *err,
                size_t errsz)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        char why[160];
        uint32_t cp;
        size_t k = decode_one(u, len, i, &cp, why, sizeof why);
        if (k == 0)
            return lm_fail(TG_EFORMAT, err, errsz, "%s: invalid UTF-8 at byte %zu (%s)",
                           name ? name : "input", i, why);
        if (out) out[count] = cp;
        count++;
        i += k;
    }
    *n = count;
    return TG_OK;
}

int lm_utf8_check(const char *name, const char *s, size_t len, char *err, size_t errsz)
{
    size_t n;
    return walk(name, s, len, NULL, &n, err, errsz);
}

int lm_utf8_decode(const char *name, const char *s, size_t len, uint32_t **cps, size_t *n,
                   char *err, size_t errsz)
{
    *cps = NULL;
    *n = 0;
    /* At most one code point per byte; +1 so an empty input still gets a real allocation. */
    uint32_t *out = len < SIZE_MAX / sizeof *out ? malloc((len + 1) * sizeof *out) : NULL;
    if (!out)
        return lm_fail(TG_ENOMEM, err, errsz, "%s: out of memory decoding UTF-8",
                       name ? name : "input");
    size_t count = 0;
    int rc = walk(name, s, len, out, &count, err, errsz);
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
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        return 0;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    } else if (cp <= LM_MAX_CODEPOINT) {
        out[0] = (char)(0xF0 | cp >> 18);
        out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

int lm_utf8_encode(const uint32_t *cps, size_t n, char **out, size_t *len, char *err, size_t errsz)
{
    *out = NULL;
    if (len) *len = 0;
    char *buf = n < (SIZE_MAX - 1) / 4 ? malloc(4 * n + 1) : NULL; /* at most 4 bytes each */
    if (!buf) return lm_fail(TG_ENOMEM, err, errsz, "out of memory encoding UTF-8");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = lm_utf8_put(cps[i], buf + m);
        if (k == 0) {
            free(buf);
            return lm_fail(TG_ERANGE, err, errsz,
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

int lm_read_utf8(const char *path, uint32_t **cps, size_t *n, char *err, size_t errsz)
{
    char *data;
    size_t len;
    *cps = NULL;
    *n = 0;
    int rc = lm_read_file(path, &data, &len, err, errsz);
    if (rc != TG_OK) return rc;
    rc = lm_utf8_decode(path, data, len, cps, n, err, errsz);
    free(data);
    return rc;
}
