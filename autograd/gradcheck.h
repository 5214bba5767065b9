/* gradcheck.h: compare a tape's gradients with central finite differences.
 *
 * The function under test records a scalar loss on the tape it is given, reading the tensors
 * to check (parameters, inputs, initial states), which must live outside the tape (made with
 * tg_tensor_new or tg_tensor_init, with a gradient). tg_gradcheck runs it once with backward
 * for the analytic gradient, then twice per element with that element moved by ±eps:
 *     numeric = (L(x + eps) - L(x - eps)) / (2 eps).
 * Run it in the double build (tapegrad-f64): there a correct backward agrees to about 1e-9.
 * The function must be deterministic: reseed any RNG (dropout) inside it.
 */
#ifndef TG_GRADCHECK_H
#define TG_GRADCHECK_H

#include "autograd/tape.h"

TG_BEGIN_DECLS

/* Records a (1 x 1) loss on t from ctx, or returns NULL on error (message on the tape). */
typedef tg_tensor *(*tg_loss_fn)(tg_tape *t, void *ctx);

typedef struct tg_gradcheck_opts {
    double eps;   /* finite-difference step; 0 means 1e-5 (double) or 1e-2 (float) */
    double floor; /* relative errors divide by max(|analytic|, |numeric|, floor); 0 means 1e-4 */
} tg_gradcheck_opts;

typedef struct tg_gradcheck_report {
    double max_abs;  /* worst |analytic - numeric| over every element checked */
    double max_rel;  /* worst |analytic - numeric| / max(|analytic|, |numeric|, floor) */
    size_t tensor;   /* where max_rel occurred: index into xs, */
    size_t row, col; /* and the element */
    double analytic; /* the two values there */
    double numeric;
    size_t checked; /* number of elements compared */
} tg_gradcheck_report;

/* Check d(loss)/d(xs[k]) for k < n. opts may be NULL for the defaults. On return each xs[k]
 * holds the analytic gradient (its previous gradient is overwritten) and its values are
 * unchanged. Returns TG_OK, TG_ENULL/TG_EINVAL for bad arguments (a NULL tensor, one without
 * a gradient), or the failure of f (f returned NULL: the tape's message says why). */
int tg_gradcheck(tg_tape *t, tg_loss_fn f, void *ctx, tg_tensor *const *xs, size_t n,
                 const tg_gradcheck_opts *opts, tg_gradcheck_report *report);

TG_END_DECLS

#endif
