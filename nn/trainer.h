/* trainer.h: truncated backpropagation through time as library calls: the window step, the
 * evaluator, and the training state a checkpoint keeps.
 *
 * Dimension letters: N tokens in the stream, B rows, T steps per window, L layers, H hidden.
 * The trainer owns what every recurrent model trains with and knows nothing of the model: a
 * tape that reuses node gradients, a batcher over the token stream (B rows, each its own
 * offset), the carried state of a stack (sized by its cell type's states), an optimizer over
 * the parameter store, clipping by global norm, a step-decay schedule and the non-finite
 * policy. The model gives one function, which records the loss of a window:
 *
 *     tg_tensor *my_window(tg_tape *t, void *model, tg_rnn_carry *carry, const int32_t *x,
 *                          const int32_t *y, size_t Tw, size_t B, int training);
 *
 * x and y are Tw·B ids each, time-major (step t of row b at t·B + b). The function loads the
 * carried state (tg_rnn_carry_load), records, stores the final state back (tg_rnn_carry_store)
 * and returns the mean loss per token (1 x 1), or NULL with the message on the tape.
 *
 * One window (tg_trainer_window):
 *     reset the tape ─▶ window function ─▶ (× Tw when sum_steps) ─▶ tg_backward
 *     ─▶ global gradient norm: not finite? no step, an error ─▶ clip ─▶ optimizer step, zero grad
 * After the first window a training loop makes no heap allocation.
 *
 * The evaluator records without gradients (tg_tape_set_grad) and passes training = 0.
 *
 * Data parallel (a tg_comm in the config; nn/dist.h makes one over MPI). Each of R ranks owns
 * B / R of the rows (tg_batcher_init_share), records and walks its own tape, and the gradients
 * are summed over the ranks after the walk, before the norm, clipping and the step:
 *     local mean loss of each rank ─▶ tg_backward ─▶ Σ gradients over ranks (comm->sum)
 *     ─▶ norm = ‖Σ‖ / R ─▶ step with the gradients read as Σ · clip_scale(norm) / R
 * When the communicator can share memory (comm->share), tg_trainer_init moves the store's
 * gradient block there (tg_params_bind_grads: the store can no longer grow) and the sum is
 * comm->sum_shared, which also gives ‖Σ‖² without a pass of its own; tg_trainer_deinit gives the
 * store a block of its own again, so the trainer must be deinit before the communicator ends.
 * When it can also give the ranks of one machine one block for all (comm->share_node), the
 * store's values move there too (tg_params_bind_values: one copy of the parameters a machine)
 * and the optimizer step is sharded, as ZeRO stage 1 (PyTorch's ZeroRedundancyOptimizer):
 *     tg_backward ─▶ Σ over ranks of this rank's run [lo, hi) only (comm->sum_scatter: the
 *     other ranks' blocks zeroed there) and ‖Σ‖² ─▶ step of [lo, hi) (tg_optim_step_range),
 *     gradients zeroed ─▶ comm->sync: every run written before any rank records again
 * Each rank then keeps the optimizer's state current on its own run only; tg_trainer_save_state
 * makes it whole first (a sum over the ranks, the other runs filled with −0.0, which changes no
 * bit). A store whose values are bound so must be trained by that trainer alone: another
 * trainer of it on several ranks would step every value on every rank, in the same memory.
 * The R local means over B/R rows each average to the mean over B rows, so the parameters follow
 * one process with B rows (to rounding: sums in another order), and are the same bits on every
 * rank. Rank k's dropout generator is the model's jumped k times (2^128 draws each), so the
 * ranks draw different masks; every rank draws as many per window, so rank k's generator is
 * always rank 0's jumped k times, and a checkpoint holds rank 0's. The carried state of all B
 * rows is gathered into a checkpoint, so a run resumes on any number of ranks that divides B
 * (with or without the sharded step: a checkpoint holds the whole state).
 *
 * Read next: nn/rnn.h (the carry), nn/optim.h, nn/batcher.h, models/lm.c (a language model
 * trained through this).
 */
#ifndef TG_TRAINER_H
#define TG_TRAINER_H

#include "autograd/rng.h"
#include "autograd/status.h"
#include "autograd/tape.h"
#include "io/safetensors.h"
#include "nn/batcher.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/params.h"
#include "nn/rnn.h"

#include <stddef.h>
#include <stdint.h>

TG_BEGIN_DECLS

/* Records the mean loss of one window on t (see above). training is 1 in tg_trainer_window and
 * 0 in tg_evaluate: a model with dropout draws masks only in training (PyTorch's train/eval). */
typedef tg_tensor *(*tg_window_fn)(tg_tape *t, void *model, tg_rnn_carry *carry, const int32_t *x,
                                   const int32_t *y, size_t Tw, size_t B, int training);

/* How the ranks of a data-parallel run talk (nn/dist.h fills one in from MPI; a test may fill
 * one in with threads). Every call is collective unless it says not: every rank makes it, in
 * the same order. dt is TG_DT_F32, TG_DT_F64 or TG_DT_U64. Each returns TG_OK, or a TG_* code
 * with st naming the call (a rank that stopped, ...). */
typedef struct tg_comm {
    size_t rank, ranks; /* this process, of ranks >= 1 */
    void *ctx;          /* the functions' first argument */
    /* v[0..n) becomes the element-wise sum over the ranks, the same bits on every rank. */
    int (*sum)(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st);
    /* On rank 0, all[k·n .. k·n + n) = mine[0..n) of rank k; all is not used elsewhere. */
    int (*gather)(void *ctx, const void *mine, void *all, size_t n, tg_dtype dt, tg_status *st);
    /* v[0..n) of rank 0 to every rank. */
    int (*bcast)(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st);
    /* Optional, the three or none (NULL: the trainer sums its gradients with sum). share: a
     * block of n reals (dt is TG_DT_REAL) for this rank, which the other ranks can read and
     * write, into *block; *block NULL on every rank when none can be had (TG_OK: the caller
     * uses sum). The trainer keeps its store's gradients there (tg_params_bind_grads). */
    int (*share)(void *ctx, size_t n, tg_dtype dt, void **block, tg_status *st);
    /* Every rank's block (this rank's: `block`, from share) becomes the element-wise sum over
     * the ranks, the same bits on every rank, and *sumsq the sum of the total's squares in
     * double, in an order that depends on neither the rank nor the timing (nn/dist.c's is
     * tg_grad_norm's: sqrt(*sumsq) is the norm of the total, bit for bit). */
    int (*sum_shared)(void *ctx, void *block, double *sumsq, tg_status *st);
    /* Not collective: this rank no longer uses block (from share or share_node); they may hand
     * it out again. */
    void (*unshare)(void *ctx, void *block);
    /* Optional, the three or none, and only with the three above (NULL: every rank steps every
     * parameter). share_node: one block of n reals (dt TG_DT_REAL) for all the ranks that share
     * this machine's memory, the same memory on each of them, into *block, and the run [*lo, *hi)
     * of the n elements this rank steps: the runs of a machine's ranks are disjoint and cover
     * [0, n), and are those sum_scatter leaves for a block of share's of n reals. *block NULL on
     * every rank when none can be had, or when the ranks are on several machines (TG_OK: every
     * rank steps everything). The trainer keeps its store's values there
     * (tg_params_bind_values). */
    int (*share_node)(void *ctx, size_t n, tg_dtype dt, void **block, size_t *lo, size_t *hi,
                      tg_status *st);
    /* As sum_shared, except that this rank's block gets the total only over this rank's run
     * (share_node's for the block's n) and every rank's block is zero outside its own run. The
     * norm is the same: *sumsq is sum_shared's, bit for bit. Only where share_node gives a
     * block (nn/dist.c refuses it across machines, with TG_EINVAL). */
    int (*sum_scatter)(void *ctx, void *block, double *sumsq, tg_status *st);
    /* Every rank of this machine has reached this call, and sees what the others wrote to shared
     * memory before it. */
    int (*sync)(void *ctx, tg_status *st);
} tg_comm;

typedef struct tg_trainer_config {
    size_t T, B;           /* steps per window (the last of an epoch may be shorter), rows */
    tg_optim_config optim; /* its lr is the schedule's lr0 */
    double clip;           /* max global gradient norm; 0 for no clipping */
    double lr_decay;       /* lr = lr0 · lr_decay^max(0, epoch − decay_after), in (0, 1] */
    size_t decay_after;
    int sum_steps; /* objective: 1 = Tw · the mean loss (Zaremba et al.'s Σ over steps of the
                    * batch mean), 0 = the mean over all Tw·B tokens */
    const tg_comm *comm; /* data parallel over comm->ranks processes; NULL: one process.
                          * Borrowed: it must outlive the trainer */
} tg_trainer_config;

typedef struct tg_trainer {
    tg_trainer_config cfg;
    tg_params *ps;       /* the store trained; borrowed */
    tg_window_fn window; /* the model's window function and its argument; borrowed */
    void *model;
    tg_rng *rng; /* the model's dropout generator, saved with the state; borrowed, may be NULL */
    tg_tape *tape;
    tg_optim *opt;
    tg_batcher batch;   /* this rank's share: batch.B = cfg.B / ranks rows */
    tg_rnn_carry carry; /* the stack's state between windows (this rank's rows); empty without a
                           stack */
    int32_t *x, *y;     /* the window's ids, tg_batcher_max_steps·batch.B each */
    uint64_t step;      /* windows trained */
    uint64_t clipped;   /* of which the gradient was clipped */
    double last_norm;   /* gradient norm before clipping, last window */
    void *shared;       /* the store's gradient block when it is cfg.comm's shared one (owned by
                           the communicator; the store is bound to it), else NULL */
    void *values;       /* the store's value block when it is cfg.comm's node-wide one (owned by
                           the communicator; the store is bound to it), else NULL */
    size_t lo, hi;      /* the run of the store this rank steps: share_node's with values, else
                           the whole store */
} tg_trainer;

/* Train the parameters ps by windows of the stream tok[0..N) (borrowed; it must outlive the
 * trainer). stack, when not NULL, is the recurrent stack whose state is carried from window to
 * window. With window NULL (and tok NULL) the trainer has no stream: each tg_trainer_step
 * trains on a minibatch the caller's function records (independent sequences: classification,
 * seq2seq), and T, B, lr_decay and sum_steps are not used. With cfg->comm the call is
 * collective: every rank's parameters become rank 0's (a broadcast), and rank k's rng is jumped
 * k times, and the store's gradients move to the communicator's shared block when it has one
 * (see above), and its values to the node's one block when it has one (the sharded step).
 * Returns TG_OK, or a TG_* code with the message in st (a configuration out of
 * range, B not a multiple of the ranks, a stream too short for B rows, out of memory, a failed
 * broadcast); on failure nothing is left to deinit. */
int tg_trainer_init(tg_trainer *tr, const tg_trainer_config *cfg, tg_params *ps,
                    const tg_rnn *stack, tg_window_fn window, void *model, tg_rng *rng,
                    const int32_t *tok, size_t N, tg_status *st);
/* Frees what the trainer made; a store bound to the shared blocks gets its own blocks back (if
 * an allocation fails, the store stays bound and the block stays in use). Not collective. */
void tg_trainer_deinit(tg_trainer *tr);

/* One window (see above). Returns its number of steps Tw (> 0) with the mean loss in *loss (over
 * all ranks' rows; collective with a communicator); 0
 * when the epoch has ended (the carried state is zeroed, the learning rate set for the next
 * epoch; nothing trained); or -1 with the message in st: the recording failed, or the gradient
 * norm is not finite (then no step was taken and the parameters are as they were). */
long tg_trainer_window(tg_trainer *tr, double *loss, tg_status *st);

/* Records the loss (1 x 1) of one minibatch on t, a tape reset for it; NULL with the tape's
 * message on error. */
typedef tg_tensor *(*tg_batch_fn)(tg_tape *t, void *ctx);

/* One step on a minibatch of the caller's: reset the tape, fn records the loss, then as a
 * window: backward, the non-finite policy, clip, optimizer step, zeroed gradients. TG_OK with
 * the loss in *loss, or a code with st naming the step (the parameters are then as they were).
 * The tape (tr->tape) reuses node gradients; the caller owns its learning-rate schedule
 * (tg_optim_set_lr on tr->opt). */
int tg_trainer_step(tg_trainer *tr, tg_batch_fn fn, void *ctx, double *loss, tg_status *st);

/* The current epoch, counted from 1, and the fraction of it done. */
size_t tg_trainer_epoch(const tg_trainer *tr);
double tg_trainer_progress(const tg_trainer *tr);

/* Mean loss per token of the model over tok[0..N) in evaluation mode (no dropout, no
 * gradients), B rows of windows of T, state of stack (may be NULL) carried. TG_OK and *nll, or
 * a TG_* code with the message in st. */
int tg_evaluate(tg_window_fn window, void *model, const tg_rnn *stack, const int32_t *tok, size_t N,
                size_t B, size_t T, double *nll, tg_status *st);

/* tg_evaluate split over the ranks of comm (NULL: one process): rank k evaluates its share of
 * the B rows and the sums of every rank are added, so every rank gets the *nll of one process
 * (to rounding). Collective; fails as tg_evaluate, and as tg_batcher_init_share. */
int tg_evaluate_shared(tg_window_fn window, void *model, const tg_rnn *stack, const int32_t *tok,
                       size_t N, size_t B, size_t T, const tg_comm *comm, double *nll,
                       tg_status *st);

/* The training state, as arrays of a checkpoint: "train.optim.<state>" (the optimizer's
 * arrays), "train.counters" (U64: windows, optimizer steps, epoch, offset),
 * "train.rng" (U64 [4]), "train.lr" (F64), "train.stream" (U64: N and a checksum of the
 * stream), "train.carry_<state>" for every carried state ((L·B x H), all B rows). Load checks
 * everything before changing anything: on failure (TG_EFORMAT, TG_EINVAL for another stream,
 * ...) the trainer is as it was, and st names the file and the array.
 * With a communicator, save is collective: every rank calls it, rank 0 with the writer (which
 * receives the carried state of every rank's rows) and the others with w NULL (they only send
 * their rows, and with the sharded step their runs of the optimizer's state, after which every
 * rank holds all of it); only rank 0 should then write the file. Load is not collective: each
 * rank reads the file (every rank must see it) and takes its own rows, so the ranks of the run
 * that saved and of the run that loads may differ. */
int tg_trainer_save_state(const tg_trainer *tr, tg_ckpt_writer *w, tg_status *st);
int tg_trainer_load_state(tg_trainer *tr, tg_ckpt *ck, const char *path, tg_status *st);

TG_END_DECLS

#endif
