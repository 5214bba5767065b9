/* seq2seq.h: encoder-decoder models on character sequences: the addition task as text
 * ("16+75" -> "91") and date-format translation ("27 SEP 1994" -> "1994-09-27"), with the
 * variants the seq2seq literature teaches: reversed input, a "peeky" decoder and attention.
 *
 * Dimension letters: n examples, S source width, T target width, B rows of a minibatch, V
 * characters, E embedding width, H hidden units, K beams. Sequences have fixed widths (padded
 * with spaces), so a minibatch needs no mask; the decoder reads GO ('_') and then the previous
 * target character (teacher forcing in training, its own choice in decoding).
 *
 * The model, for a cell type C found by name (a user's registered type works too):
 *     encoder:  e = Embed_src(src), (s_S, y_1..y_S) = C-stack over e          (y_j: B x H)
 *     decoder:  state_0 = s_S (every state the type carries: h, c, ...)
 *               x_k = Embed_tgt(prev_k), with peeky: x_k = [x_k ; h_S]
 *               state_k = C-step(x_k, state_{k-1}), h_k its h
 *               attention: a_k = softmax_j(h_k · y_j), c_k = Σ_j a_kj y_j
 *               logits_k = W [h_k ; h_S (peeky) ; c_k (attention)] + b
 * The loss is the mean cross-entropy over the T·B target characters, recorded by a function
 * the library's trainer calls (tg_trainer_step): no training loop of its own.
 *
 * Read next: nn/trainer.h, nn/cells.h (tg_cell_step), ops/softmax.h, models/lm.c.
 */
#ifndef S2S_SEQ2SEQ_H
#define S2S_SEQ2SEQ_H

#include "autograd/status.h"
#include "autograd/tape.h"
#include "nn/cells.h"
#include "nn/layers.h"
#include "nn/params.h"
#include "nn/rnn.h"
#include "nn/trainer.h"

#include <stddef.h>
#include <stdint.h>

#define S2S_MAX_WIDTH 64 /* longest source or target */
#define S2S_MAX_BEAM  16
#define S2S_GO        '_' /* the decoder's first input; never in the data */

/* n examples of fixed widths, padded with spaces: source i is src[i·S, i·S + S), target i is
 * tgt[i·T, i·T + T). Owned (s2s_data_free). */
typedef struct s2s_data {
    size_t n, S, T;
    char *src, *tgt;
} s2s_data;

/* n distinct questions "a+b", answers a + b; digits 1 to 4. Each operand draws its number of
 * digits uniform in 1..digits, then its digits ("16+75", "795+3", "706+796": the distribution
 * of the well-known 50,000-question set), or with full_width, a and b are uniform in
 * [0, 10^digits) (mostly full width: harder). TG_OK, or TG_EINVAL (digits out of range, n more
 * than half the distinct questions) or TG_ENOMEM with the message in st (then d is zeroed). */
int s2s_addition_data(s2s_data *d, size_t n, size_t digits, int full_width, uint64_t seed,
                      tg_status *st);
/* n distinct (date, format) pairs, dates uniform in 1970-01-01 .. 2029-12-31, written in one of
 * S2S_DATE_FORMATS human formats ("september 27, 1994", "27 SEP 1994", "9/27/94", ...),
 * targets "1994-09-27". Same returns as s2s_addition_data. */
#define S2S_DATE_FORMATS 8
int s2s_dates_data(s2s_data *d, size_t n, uint64_t seed, tg_status *st);
void s2s_data_free(s2s_data *d);
/* Examples [0, n - held) train, [n - held, n) are held out: the view of the held-out part. */
s2s_data s2s_data_tail(const s2s_data *d, size_t held);

/* The characters of one or more data sets, and GO. */
typedef struct s2s_vocab {
    size_t V;
    char ch[128];    /* id -> character */
    int32_t id[256]; /* character -> id, -1 when absent */
} s2s_vocab;
void s2s_vocab_build(s2s_vocab *v, const s2s_data *d);

typedef struct s2s_config {
    const tg_cell_type *cell;
    size_t V, E, H, S, T;
    int reverse, peeky, attention;
    uint64_t seed; /* initial weights */
} s2s_config;

typedef struct s2s_model {
    s2s_config cfg;
    tg_params *ps; /* owned */
    tg_embed src_embed, tgt_embed;
    tg_rnn encoder; /* one layer */
    tg_cell decoder;
    tg_linear out; /* [h ; summary ; context] -> V */
} s2s_model;

/* TG_OK, or TG_EINVAL (a size zero or a width past S2S_MAX_WIDTH, no cell type) or TG_ENOMEM
 * with the message in st; on failure nothing is left to deinit. */
int s2s_model_init(s2s_model *m, const s2s_config *cfg, tg_status *st);
void s2s_model_deinit(s2s_model *m);

/* One minibatch: rows idx[0..B) of d, as the ids the model reads, time-major (step j of row b
 * at j·B + b); the source reversed when the model says so. Buffers of S·B and T·B ids. */
typedef struct s2s_batch {
    const s2s_model *m;
    size_t B;
    int32_t *src, *din, *dout; /* S·B, T·B, T·B */
} s2s_batch;
int s2s_batch_init(s2s_batch *b, const s2s_model *m, size_t B, tg_status *st);
void s2s_batch_deinit(s2s_batch *b);
/* Fill b with rows idx[0..B) of d (B <= the batch's size); returns TG_OK, or TG_EINVAL for a
 * character outside the vocabulary (st names it and the example). */
int s2s_batch_fill(s2s_batch *b, const s2s_vocab *v, const s2s_data *d, const size_t *idx, size_t B,
                   tg_status *st);

/* The tg_batch_fn of the trainer: ctx is an s2s_batch; records the mean cross-entropy. */
tg_tensor *s2s_batch_loss(tg_tape *t, void *ctx);

/* Decode the b->B rows of a filled batch greedily (beam 1) or, with beam K >= 2, by a beam
 * search of K hypotheses per row (the sequence of largest summed log-probability). out gets
 * T·B ids, row-major (row r's target at r·T). weights, when not NULL and the model attends,
 * gets B·T·S attention weights (row r, output k, source position j at (r·T + k)·S + j, in
 * the order the model reads the source). t is a tape of the caller's, reset here. TG_OK, or
 * TG_EINVAL / TG_ENOMEM with the message in st. */
int s2s_decode(tg_tape *t, const s2s_batch *b, size_t beam, int32_t *out, double *weights,
               tg_status *st);

/* Held-out exact match: the fraction of d's examples whose decoded target equals theirs,
 * decoded in minibatches of B. TG_OK and *acc, or a code with st. */
int s2s_accuracy(const s2s_model *m, const s2s_vocab *v, const s2s_data *d, size_t B, size_t beam,
                 double *acc, tg_status *st);

/* One epoch of minibatches of B over the examples train[0..n) in an order drawn from rng,
 * through tr (initialised on m->ps with window NULL). TG_OK and the mean loss in *loss. */
int s2s_train_epoch(tg_trainer *tr, const s2s_model *m, const s2s_vocab *v, const s2s_data *d,
                    size_t n, size_t B, tg_rng *rng, double *loss, tg_status *st);

/* An SVG picture of attention weights: one panel per example, source characters across,
 * output characters down, darker for more weight. TG_OK, or TG_EIO with st naming the file. */
int s2s_attention_svg(const char *path, size_t count, const char *const *src,
                      const char *const *out, const double *weights, size_t S, size_t T,
                      tg_status *st);

#endif
