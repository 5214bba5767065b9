/* json.c: the JSON a safetensors header needs, both ways, and nothing more.
 *
 * Reading is a recursive-descent parser into a small tree (tgi_json): objects, arrays, strings
 * (every escape, \uXXXX and surrogate pairs decoded to UTF-8) and non-negative integers. true,
 * false, null, fractions and negative numbers are errors: no header of ours holds them. Every
 * error names the byte offset where the text went wrong, and nesting is bounded so a hostile
 * header cannot exhaust the stack.
 *
 * Writing is tgi_json_quote into a tgi_buf. Read next: checkpoint.c, which walks the tree.
 */
#include "nn/checkpoint_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ---- Byte buffer -------------------------------------------------------------------------- */

void tgi_buf_put(tgi_buf *b, const void *s, size_t n)
{
    if (b->oom) return;
    if (n >= SIZE_MAX - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void tgi_buf_puts(tgi_buf *b, const char *s)
{
    tgi_buf_put(b, s, strlen(s));
}

void tgi_buf_putu(tgi_buf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    tgi_buf_put(b, tmp, (size_t)n);
}

void tgi_buf_free(tgi_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- Writing ------------------------------------------------------------------------------ */

void tgi_json_quote(tgi_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    tgi_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
        const char *hit = strchr(from, *p); /* *p is not NUL here */
        if (hit) {
            char e[2] = {'\\', to[hit - from]};
            tgi_buf_put(b, e, 2);
        } else if (*p < 0x20) { /* other control characters: \u00XX */
            char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            tgi_buf_put(b, u, 6);
        } else {
            tgi_buf_put(b, p, 1);
        }
    }
    tgi_buf_put(b, "\"", 1);
}

int tgi_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = *p, min;
        size_t more;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        for (size_t i = 1; i <= more; i++) {
            if ((p[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
        p += more + 1;
    }
    return 1;
}

/* ---- Parsing ------------------------------------------------------------------------------ */

typedef struct {
    const char *s;   /* the text; not NUL-terminated */
    size_t len, pos; /* its length, the next byte to read */
    char *err;       /* message buffer of errlen bytes, or NULL */
    size_t errlen;
    size_t at; /* offset of the error */
    int rc;    /* 0, TG_EFORMAT or TG_ENOMEM once failed */
    int depth; /* current nesting */
} parser;

static int fail(parser *ps, size_t at, const char *msg)
{
    if (!ps->rc) {
        ps->rc = TG_EFORMAT;
        ps->at = at;
        if (ps->err && ps->errlen) snprintf(ps->err, ps->errlen, "%s", msg);
    }
    return -1;
}

static int nomem(parser *ps)
{
    if (!ps->rc) {
        ps->rc = TG_ENOMEM;
        ps->at = ps->pos;
        if (ps->err && ps->errlen) snprintf(ps->err, ps->errlen, "out of memory");
    }
    return -1;
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->len && strchr(" \t\r\n", ps->s[ps->pos]) && ps->s[ps->pos]) ps->pos++;
}

/* The next non-space byte, or -1 at the end. */
static int peek(parser *ps)
{
    skip_ws(ps);
    return ps->pos < ps->len ? (unsigned char)ps->s[ps->pos] : -1;
}

static int hex4(parser *ps, uint32_t *u)
{
    if (ps->len - ps->pos < 4) return fail(ps, ps->pos, "\\u escape cut short");
    *u = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->s[ps->pos++];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return fail(ps, ps->pos - 1, "bad hex digit in \\u escape");
        *u = (*u << 4) | (uint32_t)d;
    }
    return 0;
}

static void put_utf8(tgi_buf *b, uint32_t c)
{
    unsigned char o[4];
    size_t n;
    if (c < 0x80) {
        o[0] = (unsigned char)c, n = 1;
    } else if (c < 0x800) {
        o[0] = (unsigned char)(0xc0 | c >> 6), o[1] = (unsigned char)(0x80 | (c & 0x3f)), n = 2;
    } else if (c < 0x10000) {
        o[0] = (unsigned char)(0xe0 | c >> 12), o[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (c & 0x3f)), n = 3;
    } else {
        o[0] = (unsigned char)(0xf0 | c >> 18), o[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
        o[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f)), o[3] = (unsigned char)(0x80 | (c & 0x3f));
        n = 4;
    }
    tgi_buf_put(b, o, n);
}

/* \uXXXX (the "\u" already read), with a following \uXXXX when it is a high surrogate. */
static int unicode_escape(parser *ps, tgi_buf *b)
{
    size_t at = ps->pos - 2;
    uint32_t u, lo;
    if (hex4(ps, &u)) return -1;
    if (u >= 0xdc00 && u <= 0xdfff) return fail(ps, at, "lone low surrogate in \\u escape");
    if (u >= 0xd800 && u <= 0xdbff) {
        if (ps->len - ps->pos < 2 || ps->s[ps->pos] != '\\' || ps->s[ps->pos + 1] != 'u')
            return fail(ps, at, "high surrogate not followed by a \\u low surrogate");
        ps->pos += 2;
        if (hex4(ps, &lo)) return -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail(ps, at, "high surrogate not followed by a \\u low surrogate");
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (u == 0) return fail(ps, at, "\\u0000 in a string");
    put_utf8(b, u);
    return 0;
}

/* A string literal at ps->pos; the decoded text goes to *out (owned by the caller). */
static int parse_string(parser *ps, char **out)
{
    tgi_buf b = {0};
    size_t start = ps->pos++;
    tgi_buf_put(&b, "", 0);
    for (;;) {
        if (ps->pos >= ps->len) {
            tgi_buf_free(&b);
            return fail(ps, start, "string not terminated");
        }
        unsigned char c = (unsigned char)ps->s[ps->pos++];
        if (c == '"') break;
        if (c < 0x20) {
            tgi_buf_free(&b);
            return fail(ps, ps->pos - 1, "control character in a string");
        }
        if (c != '\\') {
            tgi_buf_put(&b, &c, 1);
            continue;
        }
        if (ps->pos >= ps->len) continue; /* reported as unterminated on the next turn */
        char e = ps->s[ps->pos++];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *hit = strchr(from, e);
        if (e == 'u') {
            if (unicode_escape(ps, &b)) {
                tgi_buf_free(&b);
                return -1;
            }
        } else if (e && hit) {
            tgi_buf_put(&b, &to[hit - from], 1);
        } else {
            tgi_buf_free(&b);
            return fail(ps, ps->pos - 2, "unknown escape in a string");
        }
    }
    if (b.oom) {
        tgi_buf_free(&b);
        return nomem(ps);
    }
    *out = b.p;
    return 0;
}

static int parse_uint(parser *ps, uint64_t *out)
{
    size_t start = ps->pos;
    uint64_t v = 0;
    while (ps->pos < ps->len && ps->s[ps->pos] >= '0' && ps->s[ps->pos] <= '9') {
        unsigned d = (unsigned)(ps->s[ps->pos++] - '0');
        if (v > (UINT64_MAX - d) / 10) return fail(ps, start, "integer too large");
        v = v * 10 + d;
    }
    if (ps->s[start] == '0' && ps->pos - start > 1) return fail(ps, start, "leading zero");
    if (ps->pos < ps->len && strchr(".eE", ps->s[ps->pos]) && ps->s[ps->pos])
        return fail(ps, start, "number is not an integer");
    *out = v;
    return 0;
}

static int parse_value(parser *ps, tgi_json *v);

static void free_members(tgi_json *v)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys) free(v->keys[i]);
        free_members(&v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->str);
}

/* Append one member (key may be NULL for arrays) to an object or array. */
static int append(parser *ps, tgi_json *v, char *key, tgi_json *item, size_t *cap)
{
    if (v->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        tgi_json *items = realloc(v->items, ncap * sizeof *items);
        if (items) v->items = items;
        char **keys = v->kind == TGI_JSON_OBJECT ? realloc(v->keys, ncap * sizeof *keys) : NULL;
        if (keys) v->keys = keys;
        if (!items || (v->kind == TGI_JSON_OBJECT && !keys)) return nomem(ps);
        *cap = ncap;
    }
    if (v->kind == TGI_JSON_OBJECT) v->keys[v->n] = key;
    v->items[v->n++] = *item;
    return 0;
}

/* An object or an array; `close` is '}' or ']'. */
static int parse_members(parser *ps, tgi_json *v, char close)
{
    size_t cap = 0;
    ps->pos++;
    if (peek(ps) == close) {
        ps->pos++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        tgi_json item = {0};
        if (close == '}') {
            if (peek(ps) != '"') return fail(ps, ps->pos, "expected a string key");
            if (parse_string(ps, &key)) return -1;
            if (peek(ps) != ':') {
                free(key);
                return fail(ps, ps->pos, "expected ':' after a key");
            }
            ps->pos++;
        }
        if (parse_value(ps, &item) || append(ps, v, key, &item, &cap)) {
            free(key);
            free_members(&item);
            return -1;
        }
        int c = peek(ps);
        ps->pos++;
        if (c == close) return 0;
        if (c != ',')
            return fail(ps, ps->pos - 1,
                        close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(parser *ps, tgi_json *v)
{
    int c = peek(ps);
    memset(v, 0, sizeof *v);
    v->offset = ps->pos;
    if (c == '{' || c == '[') {
        if (++ps->depth > MAX_DEPTH) return fail(ps, ps->pos, "nested too deeply");
        v->kind = c == '{' ? TGI_JSON_OBJECT : TGI_JSON_ARRAY;
        int rc = parse_members(ps, v, c == '{' ? '}' : ']');
        ps->depth--;
        return rc;
    }
    if (c == '"') {
        v->kind = TGI_JSON_STRING;
        return parse_string(ps, &v->str);
    }
    if (c >= '0' && c <= '9') {
        v->kind = TGI_JSON_UINT;
        return parse_uint(ps, &v->num);
    }
    if (c < 0) return fail(ps, ps->pos, "unexpected end of text");
    if (c == '-') return fail(ps, ps->pos, "negative number");
    return fail(ps, ps->pos, "unexpected character");
}

int tgi_json_parse(const char *text, size_t len, tgi_json **out, char *err, size_t errlen,
                   size_t *at)
{
    parser ps = {text, len, 0, err, errlen, 0, 0, 0};
    tgi_json *v = calloc(1, sizeof *v);
    *out = NULL;
    if (!v) return nomem(&ps), ps.rc;
    if (parse_value(&ps, v) == 0 && peek(&ps) >= 0) fail(&ps, ps.pos, "text after the value");
    if (ps.rc) {
        tgi_json_free(v);
        if (at) *at = ps.at;
        return ps.rc;
    }
    *out = v;
    return 0;
}

void tgi_json_free(tgi_json *v)
{
    if (!v) return;
    free_members(v);
    free(v);
}

const tgi_json *tgi_json_get(const tgi_json *obj, const char *key)
{
    if (!obj || obj->kind != TGI_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

/* ---- Byte order --------------------------------------------------------------------------- */

int tgi_host_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void tgi_swap_bytes(void *p, size_t n, size_t size)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++, c += size)
        for (size_t a = 0, z = size - 1; a < z; a++, z--) {
            unsigned char t = c[a];
            c[a] = c[z];
            c[z] = t;
        }
}
