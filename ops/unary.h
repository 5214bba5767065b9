/* unary.h: elementwise functions of one tensor; the result has x's shape. */
#ifndef TG_UNARY_H
#define TG_UNARY_H

#include "autograd/tape.h"

#ifdef __cplusplus
extern "C" {
#endif

tg_tensor *tg_tanh(tg_tape *t, tg_tensor *x);            /* y = tanh(x) */
tg_tensor *tg_sigmoid(tg_tape *t, tg_tensor *x);         /* y = 1 / (1 + exp(-x)) */
tg_tensor *tg_relu(tg_tape *t, tg_tensor *x);            /* y = max(x, 0) */
tg_tensor *tg_scale(tg_tape *t, tg_tensor *x, double c); /* y = c * x */
tg_tensor *tg_one_minus(tg_tape *t, tg_tensor *x);       /* y = 1 - x (GRU's 1 - z) */

#ifdef __cplusplus
}
#endif

#endif
