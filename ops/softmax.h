/* softmax.h: softmax and log-softmax of each row, as ops (attention weights, log-probabilities
 * for beam search or a masked loss). For training a classifier, tg_softmax_xent (loss.h) is the
 * loss: fused, and cheaper than tg_log_softmax followed by a pick.
 *
 * x is (B x N) and so is y. Both subtract each row's maximum before exponentiating, so logits of
 * any size give finite results. A -inf element gets probability 0 (a mask); a row holding a NaN
 * or +inf, or only -inf, gives a row of NaN (as PyTorch), and records no error. A NULL input
 * returns NULL and keeps the first message (see tape.h).
 */
#ifndef TG_SOFTMAX_H
#define TG_SOFTMAX_H

#include "autograd/tape.h"

TG_BEGIN_DECLS

/* y[i][j] = exp(x[i][j]) / Σ_k exp(x[i][k]): each row sums to 1. */
tg_tensor *tg_softmax(tg_tape *t, tg_tensor *x);
/* y[i][j] = x[i][j] - log Σ_k exp(x[i][k]): each row's log-probabilities, all <= 0. */
tg_tensor *tg_log_softmax(tg_tape *t, tg_tensor *x);

TG_END_DECLS

#endif
