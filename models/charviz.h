/* charviz.h: what a character-level model's hidden units do, Karpathy-style: feed a text one
 * character at a time, record a state of a layer (h, the LSTM's c, any state a cell type names;
 * or all of them at once) after each character, then find the units that follow a pattern of
 * the text (inside quotes, column in the line, ...) and colour the text by them in an HTML page.
 *
 * Dimension letters: n characters fed, H units of the recorded layer, L layers.
 * Activations are a row-major (n x H) float matrix: row i is the layer's state right after
 * feeding character i, so it reflects everything up to and including that character. An LSTM's
 * or a tanh RNN's h lies in (-1, 1); the LSTM's c is unbounded.
 *
 * Patterns are indicators over the same n characters, in the same "after reading character i"
 * sense (an opening quote is already inside the quotes, its closing one no longer is):
 *   quotes      1 from a '"' (or U+201C) up to, not including, the next '"' (or U+201D)
 *   parens      1 while more '(' than ')' have been read, the '(' itself included
 *   line-start  the column of the character in its line (0 for the first; the '\n' ends its
 *               line) divided by the longest line's column, so in [0, 1]. It is the column a
 *               model can count as it reads; Pearson's r is blind to the scale.
 *   upper       1 on the letters of an all-capital word of two or more ASCII letters
 *   vowel       1 on a, e, i, o, u in either case
 *   space       1 on ' ', '\t', '\n', '\r', '\v', '\f'
 *
 * Read next: charlm.c (the `visualize` command that prints the ranking and writes the page).
 */
#ifndef LM_CHARVIZ_H
#define LM_CHARVIZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "models/lm.h"
#include "models/vocab.h"

typedef enum lm_pattern {
    LM_PAT_QUOTES,
    LM_PAT_PARENS,
    LM_PAT_LINE_START,
    LM_PAT_UPPER,
    LM_PAT_VOWEL,
    LM_PAT_SPACE,
    LM_PAT_COUNT
} lm_pattern;

/* "quotes", "parens", "line-start", "upper", "vowel", "space"; parse returns -1 for anything
 * else. */
const char *lm_pattern_name(lm_pattern p);
int lm_pattern_parse(const char *name);

/* ind[0..n) = the indicator of pattern p over text[0..n) (see the map above). */
void lm_pattern_indicator(lm_pattern p, const uint32_t *text, size_t n, double *ind);

/* Pearson's r between x[0..n) and y[0], y[stride], ..., y[(n-1)·stride] (one column of an
 * activation matrix). 0 when either side is constant or n < 2, so such a unit ranks last. */
double lm_pearson(const double *x, const float *y, size_t stride, size_t n);

/* The recording of one layer over a text. Caller-owned; lm_charviz_deinit frees it. */
typedef struct lm_charviz {
    uint32_t *text; /* the n characters fed, in order (those outside the vocabulary dropped) */
    size_t n;
    float *act;     /* n x H: row i = the layer's h after feeding text[i]; owned */
    size_t H;       /* units of the layer */
    size_t layer;   /* which layer, 0-based */
    size_t state;   /* which state of the cell type (0: h; 1: the LSTM's c; ...) */
    size_t skipped; /* characters of the input not in the vocabulary, so not fed */
} lm_charviz;

/* Feed text[0..n) through m one character at a time (an lm_sampler from the zero state),
 * recording state `state` (0..n_states-1 of the cell type: its state_names, h first) of layer
 * `layer` (0..L-1) after each. Characters v does not hold are skipped and counted. Returns
 * TG_OK; TG_ERANGE (layer or state out of range, naming L or the states), TG_EINVAL (no
 * character of the text is in the vocabulary) or TG_ENOMEM with a message in st; on failure
 * *cv is left empty (deinit is harmless). */
int lm_charviz_record(lm_charviz *cv, lm_model *m, const lm_charvocab *v, const uint32_t *text,
                      size_t n, size_t layer, size_t state, tg_status *st);

/* Every state of every layer in one pass: cv[0..L·S) (S = the cell type's n_states; built-in
 * and registered cells alike), cv[l·S + s] recording state s of layer l as lm_charviz_record
 * would. Same codes; on failure every cv[j] is left empty. Deinit each. */
int lm_charviz_record_all(lm_charviz *cv, lm_model *m, const lm_charvocab *v, const uint32_t *text,
                          size_t n, tg_status *st);
void lm_charviz_deinit(lm_charviz *cv);

/* var[0..H) = each unit's variance over the n characters (population, divided by n). */
void lm_charviz_variance(const lm_charviz *cv, double *var);

/* r[0..H) = each unit's Pearson correlation with ind[0..n). */
void lm_charviz_correlate(const lm_charviz *cv, const double *ind, double *r);

/* top[0..k) = the units with the largest score[u] (|score[u]| when `absolute`), best first,
 * ties to the lower unit. k is cut to H; returns it. */
size_t lm_top_units(const double *score, size_t H, int absolute, size_t k, size_t *top);

/* The HTML for one character: an entity for < > & " ', "↵" and a line break for '\n', a
 * control picture (U+2400 + c) for other control characters, else its UTF-8 bytes in buf.
 * Returns a NUL-terminated string (static, or buf). */
const char *lm_html_char(uint32_t cp, char buf[8]);

/* The background of activation a: white at 0, towards red for a > 0 and blue for a < 0,
 * full colour at |a| >= scale (scale > 0). out receives "#rrggbb". */
void lm_charviz_colour(double a, double scale, char out[8]);

/* One coloured block of the page: a unit and its heading (plain text, escaped on output). */
typedef struct lm_charviz_section {
    size_t unit;
    const char *heading;    /* e.g. "unit 137, r = 0.83" */
    const lm_charviz *from; /* the recording the unit belongs to; NULL: the page's */
} lm_charviz_section;

/* Write a self-contained HTML page to f: `title` and `note` (plain text) on top, a colour
 * legend, then for each section its heading and the text with every character coloured by
 * the unit's activation (hover: the value, in the title attribute). Line breaks are kept.
 * `lang` is the page's language tag (BCP 47, e.g. from lm_charviz_guess_lang), escaped on
 * output. Returns TG_OK or TG_EIO when writing failed. */
int lm_charviz_write_html(FILE *f, const lm_charviz *cv, const lm_charviz_section *sec, size_t nsec,
                          const char *title, const char *note, const char *lang);

/* A BCP 47 tag for text[0..n) from the script of most of its letters (its dominant script):
 * where the script implies a language, that language (Hangul "ko"; Hiragana or Katakana, alone
 * or with Han, "ja"; Han alone "zh"; Thai "th"; Greek "el"; Armenian "hy"; Georgian "ka";
 * Hebrew "he"); where it is shared by many languages, the undetermined language in that script
 * ("und-Latn", "und-Cyrl", "und-Arab", "und-Deva"); with no letters of these scripts, "und".
 * A guess from the characters alone: --lang overrides it. Static string. */
const char *lm_charviz_guess_lang(const uint32_t *text, size_t n);

/* 1 when s looks like a BCP 47 tag: 1 to 63 characters, subtags of 1 to 8 ASCII letters or
 * digits separated by single '-', the first all letters. */
int lm_lang_tag_valid(const char *s);

/* `tg_charlm visualize CKPT TEXTFILE [options]` (charviz_cmd.c): prints, and exits on bad
 * input. Returns the program's status. */
int lm_charviz_command(int argc, char **argv);

#endif
