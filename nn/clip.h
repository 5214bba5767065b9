/* clip.h: the global gradient norm of a parameter store, and clipping by it.
 *
 * The norm is taken over every gradient of the store at once, as if the flat gradient block
 * were one vector (PyTorch's clip_grad_norm_ with norm_type 2), and accumulated in double so a
 * float model with millions of parameters loses nothing to rounding.
 *
 * Read next: optim.h (the step that follows clipping).
 */
#ifndef TG_CLIP_H
#define TG_CLIP_H

#include "nn/params.h"

TG_BEGIN_DECLS

/* sqrt(Σ grad²) over the whole store; 0 for an empty store. May be inf or NaN when a gradient
 * is. Large stores are summed on several threads (tgi_threads_for's policy); the result does not
 * depend on the thread count. */
double tg_grad_norm(tg_params *ps);

/* Scale every gradient by max_norm / norm (rounded to tg_real) when norm > max_norm, so the
 * global norm becomes max_norm; leave them unchanged otherwise. Returns the norm before clipping. When that norm
 * is inf or NaN nothing is scaled (the caller should skip the step). When max_norm is negative
 * or NaN nothing is scaled and NaN is returned. Allocates nothing. */
double tg_clip_grad_norm(tg_params *ps, double max_norm);

/* The factor tg_clip_grad_norm multiplies the gradients by when their norm is `norm`:
 * max_norm / norm when norm is finite and above max_norm, else 1 (also for a negative or NaN
 * max_norm). For a step that scales as it reads, without a pass of its own:
 *     tg_optim_step_scaled(o, tg_clip_scale(tg_grad_norm(ps), max_norm), 1, st);
 * updates the parameters exactly as tg_clip_grad_norm, tg_optim_step, tg_params_zero_grad. */
double tg_clip_scale(double norm, double max_norm);

TG_END_DECLS

#endif
