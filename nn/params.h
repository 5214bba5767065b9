/* params.h: the parameter store: every trainable tensor of a model in one flat block.
 *
 * Values live in one contiguous array and gradients in another of the same layout, so zeroing,
 * clipping and optimizers are flat loops over tg_params_values / tg_params_grads, and an
 * optimizer's state (momentum, Adam's moments) is one more array of the same length.
 * Parameters outlive tapes: a tape records with them as leaves, and their gradients accumulate
 * across backward calls until tg_params_zero_grad.
 *
 *   INVALIDATION RULE: tg_params_add and the bind and unbind calls (of the values or the
 *   gradients) may move the blocks; the tg_tensor pointers the store returned stay valid (it
 *   re-points them), but raw pointers into values or gradients taken before such a call do
 *   not. Add every parameter first, then train.
 *
 * The gradient block may live elsewhere (tg_params_bind_grads): a data-parallel trainer keeps it
 * in memory the ranks of a machine share (nn/dist.h), so summing it over the ranks needs no
 * copy. So may the value block (tg_params_bind_values): the ranks of a machine then hold one
 * copy of the parameters, and each steps its own part of it. A bound store cannot grow.
 */
#ifndef TG_PARAMS_H
#define TG_PARAMS_H

#include "autograd/rng.h"
#include "autograd/status.h"
#include "autograd/tensor.h"

#include <stddef.h>

TG_BEGIN_DECLS

typedef struct tg_params tg_params;

tg_params *tg_params_new(void);
void tg_params_free(tg_params *ps); /* frees every parameter it made; NULL is allowed */

/* A new (rows x cols) parameter of zeros with a zeroed gradient, named `name` (copied; names
 * must be unique, at most 63 bytes), into *out. The store owns the tensor. Returns TG_OK,
 * TG_ENULL (ps, name or out is NULL), TG_EINVAL (a name too long or already in the store, a
 * zero-size shape), TG_ERANGE (rows·cols overflows) or TG_ENOMEM, with a message naming the
 * parameter and its shape. On failure *out is NULL (when out is not NULL) and the store holds
 * the same parameters as before, their tensors still valid (the blocks may have moved, as after
 * any add). */
int tg_params_add(tg_params *ps, const char *name, size_t rows, size_t cols, tg_tensor **out,
                  tg_status *st);

size_t tg_params_count(const tg_params *ps);                      /* number of parameters */
size_t tg_params_numel(const tg_params *ps);                      /* total number of scalars */
tg_tensor *tg_params_get(const tg_params *ps, size_t i);          /* i-th, in order of adding */
tg_tensor *tg_params_find(const tg_params *ps, const char *name); /* NULL if absent */
const char *tg_params_name(const tg_params *ps, size_t i);

/* The flat blocks (tg_params_numel long); parameter i occupies a contiguous range of each. */
tg_real *tg_params_values(tg_params *ps);
tg_real *tg_params_grads(tg_params *ps);

/* Gradients kept in block[0..tg_params_numel(ps)), the caller's (not owned; it must outlive
 * the binding): the current gradients are copied into it, the store's own gradient block is
 * freed, and every parameter's tensor is re-pointed. Until tg_params_unbind_grads,
 * tg_params_add refuses (TG_EINVAL). TG_OK, or TG_ENULL (ps or block NULL) or TG_EINVAL (an
 * empty store, or one already bound) with a message; on failure nothing changed. */
int tg_params_bind_grads(tg_params *ps, tg_real *block, tg_status *st);
/* A gradient block of the store's own again: allocated, the gradients copied into it from the
 * bound block (no longer used after), the tensors re-pointed. TG_OK (also when not bound), or
 * TG_ENOMEM with a message, and then the store is still bound. */
int tg_params_unbind_grads(tg_params *ps, tg_status *st);
/* The same for the values: tg_params_bind_values copies the current values into block (the
 * caller's, not owned) and frees the store's own; tg_params_unbind_values copies them back into
 * a new block of the store's own. Same results and same failures as the gradients' calls
 * (TG_ENOMEM from unbind leaves the store bound). Values and gradients bind independently. */
int tg_params_bind_values(tg_params *ps, tg_real *block, tg_status *st);
int tg_params_unbind_values(tg_params *ps, tg_status *st);

/* Every gradient to zero; a large store is cleared on several threads. A training step can
 * instead zero as it steps (tg_optim_step_scaled). */
void tg_params_zero_grad(tg_params *ps);

/* Initialisers of one tensor's values (the gradient is untouched). */
void tg_init_uniform(tg_tensor *w, double lo, double hi, tg_rng *rng); /* U(lo, hi) */
void tg_init_normal(tg_tensor *w, double mean, double std, tg_rng *rng);
/* Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); fan_in = cols, fan_out =
 * rows, as for PyTorch's (out x in) weight layout. */
void tg_init_xavier(tg_tensor *w, tg_rng *rng);
/* Every parameter of the store U(-k, k): PyTorch's RNN default uses k = 1/sqrt(hidden). */
void tg_params_init_uniform(tg_params *ps, double k, tg_rng *rng);

TG_END_DECLS

#endif
