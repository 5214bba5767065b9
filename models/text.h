/* text.h: the bytes of a corpus, checked and decoded: whole-file reads and strict UTF-8.
 *
 * Support code for the programs in models/, not part of the library. A corpus is read whole
 * into memory, then decoded into Unicode code points (uint32_t) so that a character LM sees
 * one token per character, whatever the script. Decoding is strict (RFC 3629): a bad lead
 * byte, a truncated sequence, a bad continuation byte, an overlong encoding, a surrogate or a
 * value past U+10FFFF is an error that names the file and the byte offset where the bad
 * sequence starts, e.g.
 *     corpus.txt: invalid UTF-8 at byte 1234 (byte 0xC3 is not followed by a continuation byte)
 * A byte-order mark is not special: it decodes to U+FEFF like any other character.
 *
 * Errors: calls that can fail take a `tg_status *st` last and return its TG_* code, with a
 * one-line message in st->msg (autograd/status.h), as the library's calls do. Nothing here
 * prints or exits. Output arrays are malloc'd and owned by the caller; on failure they are set
 * to NULL and their lengths to 0, and nothing else is changed.
 *
 * Read next: vocab.h (code points and words to token ids).
 */
#ifndef LM_TEXT_H
#define LM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "autograd/status.h"

/* The largest code point, U+10FFFF. */
#define LM_MAX_CODEPOINT 0x10FFFFu

/* Read the whole file at `path` into *data (len bytes plus a terminating NUL not counted in
 * *len). Returns TG_OK, TG_EIO (open or read failed; the message has the system's reason) or
 * TG_ENOMEM. */
int lm_read_file(const char *path, char **data, size_t *len, tg_status *st);

/* Check that s[0..len) is valid UTF-8. `name` (a file name, or NULL for "input") starts the
 * message. Returns TG_OK or TG_EFORMAT. */
int lm_utf8_check(const char *name, const char *s, size_t len, tg_status *st);

/* Decode s[0..len) into *cps (*n code points). Returns TG_OK, TG_EFORMAT (invalid UTF-8; the
 * message names `name` and the byte offset) or TG_ENOMEM. */
int lm_utf8_decode(const char *name, const char *s, size_t len, uint32_t **cps, size_t *n,
                   tg_status *st);

/* Encode one code point into out[0..4); returns the number of bytes (1 to 4), or 0 when cp is
 * a surrogate or past U+10FFFF (nothing is written). */
size_t lm_utf8_put(uint32_t cp, char out[4]);

/* Encode cps[0..n) into a NUL-terminated string *out of *len bytes (len may be NULL). Returns
 * TG_OK, TG_ERANGE (a surrogate or a value past U+10FFFF; the message gives its index) or
 * TG_ENOMEM. A U+0000 is encoded as a 0 byte, so the string then ends early for C. */
int lm_utf8_encode(const uint32_t *cps, size_t n, char **out, size_t *len, tg_status *st);

/* lm_read_file then lm_utf8_decode, with `path` in the messages. */
int lm_read_utf8(const char *path, uint32_t **cps, size_t *n, tg_status *st);

#endif
