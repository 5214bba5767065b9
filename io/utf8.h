/* utf8.h: UTF-8, once for the whole project: decoding with a reason, checking, encoding, and
 * showing text from a file in a message without letting it drive the terminal.
 *
 * Decoding is strict (RFC 3629): a lead byte says how many bytes follow, every following byte
 * is 10xxxxxx, the value needs that many bytes (no overlong forms), is not a surrogate
 * (U+D800..U+DFFF) and does not pass U+10FFFF. The checkpoint reader, the writer's name checks
 * and the corpus reader of models/ (models/text.c) all decode through tg_utf8_decode_one.
 *
 * Nothing here allocates, prints or fails on its own; every function takes lengths, so a NUL
 * in the data is a character like any other (except in tg_utf8_escape, which reads a string).
 *
 * Read next: safetensors.h, whose messages pass every name and value through tg_utf8_escape.
 */
#ifndef TG_UTF8_H
#define TG_UTF8_H

#include "autograd/export.h"

#include <stddef.h>
#include <stdint.h>

TG_BEGIN_DECLS

#define TG_UTF8_MAX 0x10FFFFu /* the largest code point */

/* Decode the sequence that starts at s[0] (len >= 1 bytes available). Returns its length (1 to
 * 4) with the code point in *cp, or 0 with the first broken rule in why[0..whysz), e.g.
 * "byte 0xC3 is not followed by a continuation byte". */
size_t tg_utf8_decode_one(const unsigned char *s, size_t len, uint32_t *cp, char *why,
                          size_t whysz);

/* 1 when s[0..len) is well-formed UTF-8; otherwise 0, with the byte offset of the first bad
 * sequence in *bad (when bad is not NULL). */
int tg_utf8_valid(const char *s, size_t len, size_t *bad);

/* Encode one code point into out[0..4); returns the number of bytes (1 to 4), or 0 when cp is a
 * surrogate or past U+10FFFF (nothing is written). */
size_t tg_utf8_put(uint32_t cp, char out[4]);

/* Copy the NUL-terminated s into out[0..n) (n >= 1), NUL-terminated and cut to fit, with
 * everything that could move a terminal's cursor or start an escape sequence made visible:
 * \n, \r, \t, \" and \\ as such, other C0 controls, DEL and the C1 controls (U+0080..U+009F)
 * as \xNN or \u00NN, and bytes that are not UTF-8 as \xNN. Returns out, for use in printf. */
const char *tg_utf8_escape(char *out, size_t n, const char *s);

TG_END_DECLS

#endif
