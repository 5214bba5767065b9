/* vocab.h: vocabularies that turn text into token ids (int32_t, 0..V-1) and back.
 *
 * Character vocabulary (lm_charvocab): the distinct code points of a text, sorted ascending;
 * a character's id is its rank. Any code point up to U+10FFFF (Korean, emoji, control
 * characters) is a character. It is stored in a checkpoint as a string: the UTF-8 encoding of
 * the sorted characters, nothing else. Newline, tab and other control characters round-trip;
 * U+0000 cannot, since a C string ends there, so serialising a vocabulary holding it fails.
 *
 * Word vocabulary (lm_wordvocab), for Penn Treebank-style text: one sentence per line, words
 * split on ASCII whitespace (space, \t, \r, \v, \f), and the word "<eos>" after each line; a
 * last line without '\n' still gets its "<eos>" if it has words. "<unk>" is an ordinary word.
 * Built from a training text, ids are ordered by descending count, ties broken by byte order
 * (strcmp), so id 0 is the most frequent word and the order does not depend on where words
 * first appear. Encoding another text maps a word missing from the vocabulary to "<unk>" when
 * the vocabulary has it, else fails naming the file, the line and the word. Texts must be valid
 * UTF-8 (checked, with the byte offset on failure). It is stored in a checkpoint as its words in
 * id order, each followed by '\n'.
 *
 * Structs are caller-owned: a successful build or from_string fills one, deinit frees what it
 * holds; on failure the struct is left empty (deinit is still allowed). Errors as in text.h.
 */
#ifndef LM_VOCAB_H
#define LM_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "models/text.h"

#define LM_EOS "<eos>"
#define LM_UNK "<unk>"

typedef struct lm_charvocab {
    uint32_t *chars; /* the V code points, strictly ascending; owned */
    size_t size;     /* V */
} lm_charvocab;

/* The vocabulary of text[0..n). Returns TG_OK, TG_ERANGE (a value past U+10FFFF; the message
 * names its index), TG_EFORMAT (the text is empty) or TG_ENOMEM. */
int lm_charvocab_build(lm_charvocab *v, const uint32_t *text, size_t n, tg_status *st);

/* The id of cp, or -1 when cp is not in the vocabulary. O(log V). */
int32_t lm_charvocab_id(const lm_charvocab *v, uint32_t cp);

/* The character with this id; id must be in 0..V-1. */
uint32_t lm_charvocab_char(const lm_charvocab *v, int32_t id);

/* Map text[0..n) to *ids. Returns TG_OK, TG_ERANGE (a character not in the vocabulary; the
 * message names `name`, the character, escaped if a control character, and its index) or
 * TG_ENOMEM. */
int lm_charvocab_encode(const lm_charvocab *v, const char *name, const uint32_t *text, size_t n,
                        int32_t **ids, tg_status *st);

/* Decode the NUL-terminated UTF-8 string s (an option's value, named `name`) and map it to *ids
 * (*n of them). A character not in the vocabulary fails with TG_ERANGE, the message naming it
 * (U+XXXX, and the character itself, escaped when it is a control character) and its index
 * counted from 0: "--prime: character 2, U+0001 '\x01', is not in the vocabulary". Returns
 * TG_OK, that, TG_EFORMAT (invalid UTF-8) or TG_ENOMEM. */
int lm_charvocab_encode_string(const lm_charvocab *v, const char *name, const char *s,
                               int32_t **ids, size_t *n, tg_status *st);

/* The checkpoint string: *out is a malloc'd, NUL-terminated UTF-8 string of the V characters
 * in id order. Returns TG_OK, TG_EINVAL (the vocabulary holds U+0000) or TG_ENOMEM. */
int lm_charvocab_to_string(const lm_charvocab *v, char **out, tg_status *st);

/* Rebuild a vocabulary from a checkpoint string. Returns TG_OK, TG_EFORMAT (invalid UTF-8,
 * empty, or characters not strictly ascending: a damaged string) or TG_ENOMEM. */
int lm_charvocab_from_string(lm_charvocab *v, const char *s, tg_status *st);

void lm_charvocab_deinit(lm_charvocab *v);

typedef struct lm_wordvocab {
    char **words;     /* the V words in id order, each its own NUL-terminated allocation; owned */
    uint64_t *counts; /* occurrences of each word in the training text; 0 after from_string */
    size_t size;      /* V */
    int32_t *slots;   /* open-addressing hash table of ids, -1 for empty; owned */
    size_t nslots;    /* a power of two, more than twice V */
} lm_wordvocab;

/* The vocabulary of text[0..len), named `name` in messages. Returns TG_OK, TG_EFORMAT (invalid
 * UTF-8, or no words at all), TG_ERANGE (more than INT32_MAX words) or TG_ENOMEM. */
int lm_wordvocab_build(lm_wordvocab *v, const char *name, const char *text, size_t len,
                       tg_status *st);

/* The id of the word w[0..n) (not necessarily NUL-terminated), or -1 when absent. */
int32_t lm_wordvocab_lookup(const lm_wordvocab *v, const char *w, size_t n);

/* The id of a NUL-terminated word, or -1 when absent. */
int32_t lm_wordvocab_id(const lm_wordvocab *v, const char *word);

/* The word with this id; id must be in 0..V-1. Borrowed: valid until deinit. */
const char *lm_wordvocab_word(const lm_wordvocab *v, int32_t id);

/* Map text[0..len) to *ids (*n of them, "<eos>" included). *n_unk, when not NULL, receives how
 * many words were missing and became "<unk>". Returns TG_OK, TG_EFORMAT (invalid UTF-8),
 * TG_ERANGE (a word missing and no "<unk>": "valid.txt:12: word "foo" is not in the vocabulary,
 * which has no <unk>") or TG_ENOMEM. */
int lm_wordvocab_encode(const lm_wordvocab *v, const char *name, const char *text, size_t len,
                        int32_t **ids, size_t *n, size_t *n_unk, tg_status *st);

/* The checkpoint string: the words in id order, each followed by '\n'. */
int lm_wordvocab_to_string(const lm_wordvocab *v, char **out, tg_status *st);

/* Rebuild a vocabulary from a checkpoint string. Returns TG_OK, TG_EFORMAT (invalid UTF-8, a
 * missing final '\n', an empty word, a word holding whitespace, a repeated word, or no words;
 * the message gives the line) or TG_ENOMEM. */
int lm_wordvocab_from_string(lm_wordvocab *v, const char *s, tg_status *st);

void lm_wordvocab_deinit(lm_wordvocab *v);

#endif
