/* utf8.c: strict UTF-8 decoding and encoding, and escaping for messages.
 *
 * decode_one checks the rules of utf8.h in reading order and reports the first one broken;
 * the escaper decodes with it and writes what may not reach a terminal as an escape.
 *
 * Read next: st_read.c, the checkpoint reader, which escapes every string it quotes.
 */
#include "io/utf8.h"

#include <stdio.h>
#include <string.h>

size_t tg_utf8_decode_one(const unsigned char *s, size_t len, uint32_t *cp, char *why, size_t whysz)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000}; /* smallest value per length */
    unsigned b = s[0];
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
        if (k >= len) {
            snprintf(why, whysz,
                     "the %zu-byte sequence starting with 0x%02X is cut short by the "
                     "end of the input",
                     need, b);
            return 0;
        }
        unsigned c = s[k];
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
    } else if (v > TG_UTF8_MAX) {
        snprintf(why, whysz, "0x%X is past the last code point U+10FFFF", (unsigned)v);
        return 0;
    }
    *cp = v;
    return need;
}

int tg_utf8_valid(const char *s, size_t len, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    char why[8]; /* the reason is not wanted here; a short buffer truncates it */
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tg_utf8_decode_one(u + i, len - i, &cp, why, sizeof why);
        if (k == 0) {
            if (bad) *bad = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

size_t tg_utf8_put(uint32_t cp, char out[4])
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
    } else if (cp <= TG_UTF8_MAX) {
        out[0] = (char)(0xF0 | cp >> 18);
        out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

/* The escape for one decoded character (or a bad byte when k == 0), or NULL to copy it. */
static const char *escape_of(uint32_t cp, size_t k, unsigned char byte, char buf[8])
{
    static const char from[] = "\n\r\t\"\\", to[] = "nrt\"\\";
    const char *hit = cp && k == 1 ? strchr(from, (int)cp) : NULL;
    if (hit) return snprintf(buf, 8, "\\%c", to[hit - from]), buf;
    if (k == 0 || cp < 0x20 || cp == 0x7F) return snprintf(buf, 8, "\\x%02X", byte), buf;
    if (cp >= 0x80 && cp <= 0x9F) return snprintf(buf, 8, "\\u%04X", (unsigned)cp), buf;
    return NULL;
}

const char *tg_utf8_escape(char *out, size_t n, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s), at = 0;
    for (size_t i = 0; i < len;) {
        char why[8], buf[8];
        uint32_t cp = 0;
        size_t k = tg_utf8_decode_one(u + i, len - i, &cp, why, sizeof why);
        const char *esc = escape_of(cp, k, u[i], buf);
        size_t step = k ? k : 1, w = esc ? strlen(esc) : step;
        if (at + w >= n) break; /* cut at a character boundary */
        memcpy(out + at, esc ? esc : s + i, w);
        at += w;
        i += step;
    }
    out[at] = '\0';
    return out;
}
