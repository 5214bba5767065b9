/* dropout.h: inverted dropout. */
#ifndef TG_DROPOUT_H
#define TG_DROPOUT_H

#include "autograd/rng.h"
#include "autograd/tape.h"

TG_BEGIN_DECLS

/* Training (rng given): each element is kept with probability 1 - p and scaled by 1 / (1 - p),
 * or zeroed; the mask is drawn from rng and kept for backward. Evaluation (rng NULL), or
 * p == 0: returns x itself (the identity, no node), as PyTorch's model.eval() does. So a model
 * is put in evaluation mode by handing its forward no generator. p must be in [0, 1): anything
 * else records an error naming p, in both modes. */
tg_tensor *tg_dropout(tg_tape *t, tg_tensor *x, double p, tg_rng *rng);

TG_END_DECLS

#endif
