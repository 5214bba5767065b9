/* dropout.h: inverted dropout. */
#ifndef TG_DROPOUT_H
#define TG_DROPOUT_H

#include "autograd/rng.h"
#include "autograd/tape.h"

#ifdef __cplusplus
extern "C" {
#endif

/* In training mode (tg_tape_set_training): each element is kept with probability 1 - p and
 * scaled by 1 / (1 - p), or zeroed; the mask is drawn from rng and kept for backward. In
 * evaluation mode, or with p == 0, returns x itself (the identity, no node). p must be in
 * [0, 1): anything else records an error naming p. */
tg_tensor *tg_dropout(tg_tape *t, tg_tensor *x, double p, tg_rng *rng);

#ifdef __cplusplus
}
#endif

#endif
