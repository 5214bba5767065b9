/* optim.h: optimizers that update a parameter store in place, and a step-decay schedule.
 *
 * An optimizer is a flat loop over tg_params_values / tg_params_grads: element i of the store
 * is updated from its gradient and from element i of each of the optimizer's state arrays
 * (momentum, Adagrad's sum, Adam's two moments), all tg_params_numel long and allocated once by
 * tg_optim_new. The updates follow PyTorch's torch.optim (SGD, Adagrad, Adam) exactly, so a
 * run can be checked against it:
 *
 *   every kind   g = grad + wd·p                          (weight_decay wd: L2, as PyTorch)
 *   SGD          v = μ·v + g;  p -= lr·v                   (no state when momentum μ == 0:
 *                                                           p -= lr·g)
 *   Adagrad      s += g²;  p -= lr·g / (sqrt(s) + eps)
 *   Adam         t += 1;  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²
 *                p -= (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
 *
 * SGD computes in tg_real, as PyTorch does; Adagrad and Adam in double. State is stored as
 * tg_real. The step count and the state arrays are readable and writable (tg_optim_state,
 * tg_optim_set_steps), so a checkpoint can save them and a resumed run continues bit for bit.
 *
 *   INVALIDATION RULE: the optimizer borrows the store; it must outlive the optimizer, and no
 *   parameter may be added to it afterwards (tg_optim_step then fails with TG_ESHAPE).
 *
 * Read next: clip.h (what runs just before a step), batcher.h (where the data comes from).
 */
#ifndef TG_OPTIM_H
#define TG_OPTIM_H

#include "autograd/status.h"
#include "autograd/tensor.h"
#include "nn/params.h"

#include <float.h>
#include <stddef.h>
#include <stdint.h>

TG_BEGIN_DECLS

typedef enum tg_optim_kind {
    TG_OPTIM_SGD,
    TG_OPTIM_ADAGRAD,
    TG_OPTIM_ADAM,
} tg_optim_kind;

/* The largest value a hyperparameter may take: SGD computes in tg_real, where a larger one is
 * infinite (and lr·0 NaN). */
#define TG_OPTIM_MAX_HYPER (sizeof(tg_real) == sizeof(float) ? (double)FLT_MAX : DBL_MAX)

/* Hyperparameters. Start from tg_sgd_config / tg_adagrad_config / tg_adam_config (PyTorch's
 * defaults) and change fields as needed; none may exceed TG_OPTIM_MAX_HYPER. */
typedef struct tg_optim_config {
    tg_optim_kind kind;
    double lr;           /* learning rate, >= 0 */
    double weight_decay; /* L2 coefficient added to the gradient, >= 0 (0: none) */
    double momentum;     /* SGD only: μ in [0, 1) (0: plain SGD, no state) */
    double beta1, beta2; /* Adam only: decay of the first and second moments, in [0, 1) */
    double eps;          /* Adagrad and Adam: added to the denominator, >= 0 */
} tg_optim_config;

tg_optim_config tg_sgd_config(double lr, double momentum);
tg_optim_config tg_adagrad_config(double lr); /* eps 1e-10 */
tg_optim_config tg_adam_config(double lr);    /* β1 0.9, β2 0.999, eps 1e-8 */

typedef struct tg_optim tg_optim;

/* The most steps an optimizer counts: 2^53, the last count a double holds exactly. */
#define TG_OPTIM_MAX_STEPS (UINT64_C(1) << 53)

/* A new optimizer for the store ps (borrowed) with zeroed state and a step count of 0. Returns
 * TG_OK and sets *out; TG_ENULL (ps, cfg or out is NULL), TG_EINVAL (a hyperparameter out of
 * its range, or an empty store) or TG_ENOMEM, with the message in st. On failure *out is NULL
 * (when out is not NULL), nothing is allocated and ps is unchanged. */
int tg_optim_new(tg_optim **out, tg_params *ps, const tg_optim_config *cfg, tg_status *st);
void tg_optim_free(tg_optim *o); /* NULL is allowed */

/* One update of every parameter from its current gradient (gradients are read, not zeroed).
 * Returns TG_OK, or with the message in st: TG_ESHAPE when the store no longer has the size the
 * optimizer was made for, TG_ERANGE when the count has reached TG_OPTIM_MAX_STEPS; after a
 * failure the parameters, gradients, state and count are as they were. Allocates nothing. */
int tg_optim_step(tg_optim *o, tg_status *st);

/* tg_optim_step reading every gradient as grad · (tg_real)grad_scale, and, when zero_grad is
 * not 0, setting each gradient to zero once read: one pass over the store where clipping, the
 * step and zeroing take three. The parameters and state are bit for bit those of
 *     scale the gradients by grad_scale (tg_clip_grad_norm does this with tg_clip_scale);
 *     tg_optim_step(o, st);  then, if zero_grad, tg_params_zero_grad(ps)
 * and so are the gradients left. Returns as tg_optim_step (a failure changes nothing, the
 * gradients included). Allocates nothing. Large stores are updated on several threads (the
 * thread count of tg_set_num_threads when the store is big enough); the result does not depend
 * on it. */
int tg_optim_step_scaled(tg_optim *o, double grad_scale, int zero_grad, tg_status *st);

/* tg_optim_step_scaled over elements [lo, hi) of the store only: those parameters, gradients
 * and state elements change exactly as in the full step (the bits of tg_optim_step_scaled's
 * elements [lo, hi)), the others are not touched, and the step count advances by one, as for a
 * full step (Adam's t). So ranks that each step their own run of one store, together covering
 * it, leave it as one full step would (the trainer's sharded step, trainer.h). Returns as
 * tg_optim_step_scaled, and TG_EINVAL when lo > hi or hi > tg_optim_numel (nothing changed). */
int tg_optim_step_range(tg_optim *o, size_t lo, size_t hi, double grad_scale, int zero_grad,
                        tg_status *st);

/* The learning rate used by the next steps (a schedule sets it once per epoch). */
double tg_optim_lr(const tg_optim *o);
/* Set it: TG_OK, or TG_EINVAL (lr negative, NaN or above TG_OPTIM_MAX_HYPER) with the
 * optimizer unchanged. */
int tg_optim_set_lr(tg_optim *o, double lr, tg_status *st);
const tg_optim_config *tg_optim_get_config(const tg_optim *o);

/* Checkpoint access. The number of completed steps (Adam's t), and the state arrays: SGD has
 * one ("momentum_buffer") when μ > 0, else none; Adagrad one ("sum"); Adam two ("exp_avg",
 * "exp_avg_sq"), PyTorch's names. Each array is tg_optim_numel long, owned by the optimizer,
 * and may be written to restore a saved state; it stays valid until tg_optim_free. */
uint64_t tg_optim_steps(const tg_optim *o);
/* Restore the count: TG_OK, or TG_ERANGE above TG_OPTIM_MAX_STEPS (2^53, where a double stops
 * counting exactly and Adam's bias correction would lose its meaning) with nothing changed. */
int tg_optim_set_steps(tg_optim *o, uint64_t steps, tg_status *st);
size_t tg_optim_numel(const tg_optim *o);
size_t tg_optim_state_count(const tg_optim *o);
tg_real *tg_optim_state(tg_optim *o, size_t i);               /* NULL when i >= count */
const char *tg_optim_state_name(const tg_optim *o, size_t i); /* NULL when i >= count */

/* Step decay: lr0 · factor^max(0, epoch − k), with epochs counted from 1. Zaremba et al.'s
 * small PTB model is (1.0, 0.5, 4): lr 1 for epochs 1–4, then halved each epoch; the medium
 * one is (1.0, 0.8, 6). */
double tg_lr_step_decay(double lr0, double factor, size_t k, size_t epoch);

TG_END_DECLS

#endif
