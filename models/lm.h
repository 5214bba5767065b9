/* lm.h: a recurrent language model and its training loop, shared by tg_charlm, tg_wordlm and
 * the benchmarks.
 *
 * Dimension letters: V vocabulary, E embedding width, H hidden units, L layers, T steps per
 * window, B rows per batch. One window, time-major (step t of row b at t·B + b):
 *
 *     ids (T·B) ─▶ embedding (T·B x E) ─▶ dropout ─▶ rows of step t ─▶ L cells × T
 *         ─▶ outputs stacked (T·B x H) ─▶ dropout ─▶ decoder (T·B x V) ─▶ softmax-xent
 *
 * The embedding and the decoder run once per window over all T·B rows (one gather, one large
 * product); only the recurrence goes step by step. Dropout is Zaremba et al.'s: on the
 * embeddings, between layers and before the decoder, in training mode only.
 *
 * State carried between windows lives in a tg_rnn_carry (see nn/rnn.h): each window loads it,
 * records, stores the final state back (the detach of truncated BPTT), and resets the tape.
 *
 * Errors as in the library: a call that can fail takes a `tg_status *st` last and returns its
 * TG_* code with the message in st (autograd/status.h); each contract says what is left after a
 * failure. Recording calls (lm_window_*) keep the tape's sticky error.
 */
#ifndef LM_H
#define LM_H

#include "tapegrad.h"
#include "nn/batcher.h"
#include "nn/cells.h"
#include "nn/checkpoint.h"
#include "nn/clip.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/params.h"
#include "nn/rnn.h"
#include "nn/trainer.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lm_config {
    const tg_cell_type *cell; /* any registered cell type (nn/cells.h); stored by name */
    size_t V, E, H, L;        /* vocabulary, embedding width, hidden units, layers */
    size_t T, B;              /* steps per window, rows per batch */
    double dropout;           /* Zaremba's three places; 0 for none */
    int tied;                 /* decoder weight = embedding table (needs E == H) */
    double init;              /* > 0: every parameter U(-init, init); 0: PyTorch's defaults */
    double forget_bias;       /* LSTM: added forget-gate bias in b_ih (0 for none) */
    int sum_steps;            /* objective: 1 = Σ over the T steps of the batch-mean loss (Zaremba
                            * et al.'s, which their learning rates assume), 0 = the mean over
                            * all T·B tokens. The reported loss is always the per-token mean. */
    tg_optim_config optim;    /* optimizer and its learning rate (the schedule's lr0) */
    double clip;              /* max global gradient norm; 0 for no clipping */
    double lr_decay;          /* lr = lr0 · lr_decay^max(0, epoch − decay_after); 1 for none */
    size_t decay_after;
    uint64_t seed; /* initialisation, dropout masks and sampling */
} lm_config;

/* A config with every field set: LSTM, 1 layer, SGD lr 1, no dropout, clip 5, seed 1; the
 * caller sets V, E, H, T, B and what else differs. */
lm_config lm_default_config(void);

/* The names of every registered cell type, ", "-separated, into buf (for help and errors). */
const char *lm_cell_names(char *buf, size_t n);

typedef struct lm_model {
    lm_config cfg;
    tg_params *ps; /* every parameter: "encoder.weight", "rnn.weight_ih_l0", "decoder.*" */
    tg_embed emb;
    tg_rnn rnn;
    tg_linear dec;
    tg_rng rng;     /* dropout masks (training) */
    int eval;       /* 1: dropout off (evaluation, sampling), PyTorch's model.eval() */
    tg_state *s;    /* L states of the window being recorded; owned scratch */
    tg_tensor **ys; /* per-step outputs of that window, steps_cap of them; owned */
    size_t steps_cap;
    const tg_comm *comm; /* data parallel (nn/dist.h): set before lm_trainer_init; trainer and
                            evaluation share the B rows over its ranks. NULL: one process */
} lm_model;

/* Build the model of cfg with freshly initialised parameters. Returns TG_OK, or a TG_* code
 * with the message in st (bad sizes, tied with E != H, out of memory). On failure *m is zeroed
 * and nothing is left to free. */
int lm_model_init(lm_model *m, const lm_config *cfg, tg_status *st);
void lm_model_deinit(lm_model *m);

/* Record one window on t without a loss: the logits (Tw·B x V) of inputs x (Tw·B ids,
 * time-major), starting from the carried state, which receives the final state. NULL on error
 * (message on the tape). */
tg_tensor *lm_window_logits(tg_tape *t, lm_model *m, tg_rnn_carry *carry, const int32_t *x,
                            size_t Tw);

/* Record one window on t: inputs x and targets y (Tw·B ids each, time-major), starting from
 * the carried state, which receives the final state. Returns the mean cross-entropy (1 x 1),
 * or NULL with the tape's message (e.g. an id out of range). */
tg_tensor *lm_window_loss(tg_tape *t, lm_model *m, tg_rnn_carry *carry, const int32_t *x,
                          const int32_t *y, size_t Tw);

/* Training goes through the library's trainer (nn/trainer.h) with this model's window
 * function; these calls only fill in its configuration from the model's. */
typedef tg_trainer lm_trainer;

/* Train m on tok[0..N) (borrowed; must outlive the trainer). Returns tg_trainer_init's code and
 * message (a window of T·B too large for N, out of memory); on failure nothing is left to free
 * and m is unchanged. */
int lm_trainer_init(lm_trainer *tr, lm_model *m, const int32_t *tok, size_t N, tg_status *st);
void lm_trainer_deinit(lm_trainer *tr);

/* One window: forward, backward, clip, optimizer step. Returns its number of steps T' (> 0)
 * with the mean loss in *loss; 0 when the epoch has ended (the carried state is zeroed, the
 * learning rate set for the next epoch; nothing trained); or -1 with the message in st (the
 * recording failed, or the gradient was not finite: no step, the parameters are as they were). */
long lm_train_window(lm_trainer *tr, double *loss, tg_status *st);

/* The current epoch, counted from 1, and the fraction of it done. */
size_t lm_trainer_epoch(const lm_trainer *tr);
double lm_trainer_progress(const lm_trainer *tr);

/* Mean cross-entropy per token (nats) of m on tok[0..N), in evaluation mode (no dropout, no
 * gradients), B rows of windows of T, state carried. Returns TG_OK and *nll, or a TG_* code
 * with the message in st (*nll unset; the parameters are never changed). */
int lm_evaluate(lm_model *m, const int32_t *tok, size_t N, size_t B, size_t T, double *nll,
                tg_status *st);

/* Generation, one token at a time, B = 1, in evaluation mode. */
typedef struct lm_sampler {
    lm_model *m; /* borrowed */
    tg_tape *tape;
    tg_rnn_carry carry; /* 1 row; carry.h holds every layer's latest h (the visualiser) */
    tg_real *logits;    /* V: the scores of the next token after the last feed */
} lm_sampler;

/* TG_OK, or TG_ENOMEM with the message in st and *s zeroed (nothing to free). */
int lm_sampler_init(lm_sampler *s, lm_model *m, tg_status *st);
void lm_sampler_deinit(lm_sampler *s);
/* Advance the state by one token; the logits of the next token are then in s->logits. Returns
 * TG_OK, or TG_EINVAL with the tape's message (an id out of range): s->logits is then as it
 * was, the carried state possibly advanced. */
int lm_sampler_feed(lm_sampler *s, int32_t id, tg_status *st);
/* Draw the next token from softmax(logits / temperature), restricted to the top_k scores when
 * top_k > 0. temperature <= 0 means the argmax (greedy). */
int32_t lm_sampler_draw(const lm_sampler *s, double temperature, size_t top_k, tg_rng *rng);

/* Checkpoints (safetensors). With a trainer over several ranks every rank calls it, and only
 * rank 0 writes (the others send their rows of the carried state). Parameters under "model.", the configuration and `kind` ("char"
 * or "word") and the vocabulary string under metadata, and, when tr is not NULL, the whole
 * training state under "train." (optimizer arrays, steps, RNG, batcher position, carried
 * state, learning rate), so a resumed run continues bit for bit. Written atomically: on failure
 * (TG_EIO, TG_ENOMEM, ... with the message in st) the file at path is as it was. */
int lm_save(const char *path, const lm_model *m, const lm_trainer *tr, const char *kind,
            const char *vocab, tg_status *st);

/* Open a checkpoint written by lm_save: checks `kind`, builds the model from its
 * configuration and loads its parameters. *vocab receives a malloc'd copy of the vocabulary
 * string (free it). A truncated or damaged file, a checkpoint of another kind of model, or
 * parameters that do not fit the configuration give TG_EFORMAT/TG_ESHAPE/TG_ERANGE with a
 * message naming the file and the problem. flags are tg_ckpt_open's: TG_CKPT_NONFINITE_OK loads
 * NaN or infinite parameters (to inspect a damaged model), 0 refuses them. On failure *m is
 * zeroed and *vocab NULL: nothing to free. */
int lm_load(const char *path, lm_model *m, const char *kind, char **vocab, unsigned flags,
            tg_status *st);

/* TG_OK when a vocabulary read from the checkpoint at path has exactly the model's V entries;
 * otherwise TG_EFORMAT with a message naming the file and both sizes (a shorter vocabulary
 * would let a sampled id index past it). */
int lm_vocab_fits(const char *path, size_t vocab_size, const lm_model *m, tg_status *st);

/* Restore the training state saved with lm_save into a trainer made for the same model and
 * stream (the stream's length and checksum are checked). On failure the trainer is as it was
 * and st names the file and the array. */
int lm_load_training(const char *path, lm_trainer *tr, tg_status *st);

#endif
