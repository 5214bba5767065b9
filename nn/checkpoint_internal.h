/* checkpoint_internal.h: what checkpoint.c, checkpoint_write.c and json.c share; not installed.
 *
 * A growable byte buffer, the JSON value tree the header parses into, JSON string quoting,
 * a UTF-8 check, little-endian element conversion, and the writer's fault-injection seam.
 */
#ifndef TG_CHECKPOINT_INTERNAL_H
#define TG_CHECKPOINT_INTERNAL_H

#include "nn/checkpoint.h"

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. `oom` latches the first failed growth; later appends do nothing. */
typedef struct tgi_buf {
    char *p;         /* len bytes, NUL-terminated when p != NULL; owned */
    size_t len, cap; /* bytes used, bytes allocated */
    int oom;         /* 1 once an allocation failed */
} tgi_buf;

void tgi_buf_put(tgi_buf *b, const void *s, size_t n);
void tgi_buf_puts(tgi_buf *b, const char *s);
void tgi_buf_putu(tgi_buf *b, uint64_t v); /* decimal */
void tgi_buf_free(tgi_buf *b);

/* Append s as a JSON string literal: quotes, backslashes and control characters escaped,
 * other bytes (UTF-8) as they are. */
void tgi_json_quote(tgi_buf *b, const char *s);

/* 1 when the NUL-terminated s is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int tgi_utf8_valid(const char *s);

/* A parsed JSON value. Only what a safetensors header holds: objects, arrays, strings and
 * non-negative integers. */
typedef enum { TGI_JSON_OBJECT, TGI_JSON_ARRAY, TGI_JSON_STRING, TGI_JSON_UINT } tgi_json_kind;

typedef struct tgi_json {
    tgi_json_kind kind;
    size_t offset;          /* where the value starts, in bytes from the start of the text */
    char *str;              /* STRING: decoded UTF-8, NUL-terminated; owned */
    uint64_t num;           /* UINT */
    size_t n;               /* OBJECT, ARRAY: number of members */
    char **keys;            /* OBJECT: n decoded keys, owned; NULL for an ARRAY */
    struct tgi_json *items; /* OBJECT, ARRAY: n values, owned */
} tgi_json;

/* Parse text[0..len) as one JSON value followed only by whitespace. On success returns 0 and
 * *out (free with tgi_json_free). On failure returns TG_EFORMAT (err: the problem; *at: its
 * byte offset) or TG_ENOMEM; *out is NULL. Strings may not contain \u0000. Nesting is limited
 * to 64 levels. */
int tgi_json_parse(const char *text, size_t len, tgi_json **out, char *err, size_t errlen,
                   size_t *at);
void tgi_json_free(tgi_json *v);
/* The member `key` of an OBJECT, or NULL. */
const tgi_json *tgi_json_get(const tgi_json *obj, const char *key);

/* 1 on a little-endian host. */
int tgi_host_le(void);
/* Reverse the bytes of each of n elements of `size` bytes, in place. */
void tgi_swap_bytes(void *p, size_t n, size_t size);

/* Test seam: make the next saves of w fail as if the disk filled up once `bytes` bytes have
 * been written to the temporary file (SIZE_MAX, the default, never fails). */
void tgi_ckpt_writer_fail_after(tg_ckpt_writer *w, size_t bytes);

#endif
