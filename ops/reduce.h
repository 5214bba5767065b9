/* reduce.h: sum and mean of all elements, to a (1 x 1) tensor (a loss). */
#ifndef TG_REDUCE_H
#define TG_REDUCE_H

#include "autograd/tape.h"

TG_BEGIN_DECLS

tg_tensor *tg_sum(tg_tape *t, tg_tensor *x);  /* y = Σ x          (1 x 1) */
tg_tensor *tg_mean(tg_tape *t, tg_tensor *x); /* y = Σ x / numel  (1 x 1); x must not be empty */

TG_END_DECLS

#endif
