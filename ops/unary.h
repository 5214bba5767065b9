/* unary.h: elementwise functions of one tensor; the result has x's shape. */
#ifndef TG_UNARY_H
#define TG_UNARY_H

#include "autograd/tape.h"

TG_BEGIN_DECLS

tg_tensor *tg_tanh(tg_tape *t, tg_tensor *x);    /* y = tanh(x) */
tg_tensor *tg_sigmoid(tg_tape *t, tg_tensor *x); /* y = 1 / (1 + exp(-x)) */
tg_tensor *tg_relu(tg_tape *t, tg_tensor *x);    /* y = max(x, 0) */
/* y = e^x: +inf past the largest finite result (x > 88.7 in float, 709.8 in double), 0 far
 * below; no error is recorded. */
tg_tensor *tg_exp(tg_tape *t, tg_tensor *x);
/* y = ln x, as in PyTorch and libm: ln 0 = -inf and ln of a negative number is NaN, with no
 * error recorded (the gradient dy / x is then inf or NaN, which the trainer's non-finite check
 * catches). */
tg_tensor *tg_log(tg_tape *t, tg_tensor *x);
tg_tensor *tg_scale(tg_tape *t, tg_tensor *x, double c); /* y = c * x */
tg_tensor *tg_one_minus(tg_tape *t, tg_tensor *x);       /* y = 1 - x (GRU's 1 - z) */

TG_END_DECLS

#endif
