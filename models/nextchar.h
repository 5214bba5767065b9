/* nextchar.h: the probabilities a character model gives to the next character, position by
 * position, for a short text: Karpathy's 'hello' figure as a table (and as an SVG picture the
 * program draws itself). Feed text[0], read the softmax of the logits, feed text[1], ... from
 * the zero state, in evaluation mode (lm_sampler).
 *
 * Dimension letters: n positions (characters of the text), K candidates listed per position.
 *
 * Read next: charlm.c (`tg_charlm probs`), docs/examples/hello_probs.c (a tiny model trained
 * on "hello", its table quoted in docs/hello.md).
 */
#ifndef LM_NEXTCHAR_H
#define LM_NEXTCHAR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "models/lm.h"
#include "models/vocab.h"

typedef struct lm_nextchar {
    size_t n, K;    /* positions; candidates per position (at most V) */
    uint32_t *text; /* n: the characters fed; owned */
    double *p_next; /* n: P(text[i+1] | text[0..i]); NAN at the last position; owned */
    int32_t *top;   /* n x K: the likeliest next ids after text[0..i], likeliest first; owned */
    double *top_p;  /* n x K: their probabilities; owned */
} lm_nextchar;

/* Fill nc for text[0..n) (n >= 1) under m with K candidates a position (cut to V). Returns
 * TG_OK; TG_EINVAL (an empty text), TG_ERANGE (a character not in v: lm_charvocab_encode's
 * message, named `name`) or TG_ENOMEM, with the message in st; on failure nc is left empty. */
int lm_nextchar_compute(lm_nextchar *nc, lm_model *m, const lm_charvocab *v, const char *name,
                        const uint32_t *text, size_t n, size_t K, tg_status *st);
void lm_nextchar_deinit(lm_nextchar *nc);

/* The table, one line a position, then the mean bits per character of the n - 1 predictions:
 *    pos  in  next  p(next)  likeliest next
 *      0  h   e      0.9731  e 0.973  l 0.012  o 0.010  h 0.005
 * Characters are shown escaped: a space as ' ', '\n' as \n, other controls as \xNN. */
void lm_nextchar_print(FILE *f, const lm_nextchar *nc, const lm_charvocab *v);

/* The same as an SVG picture: a column per position with the input character below, and a
 * row per candidate (the K likeliest at each position), each cell shaded by its probability
 * and the actual next character outlined; a space is drawn as U+2423, a control character as
 * its control picture (lm_html_char). Returns TG_OK or TG_EIO when writing failed. */
int lm_nextchar_svg(FILE *f, const lm_nextchar *nc, const lm_charvocab *v);

#endif
