/* fused.h: element-wise expressions of several inputs done as one op, one pass over memory
 * where the composite of single ops would make several (and keep a temporary).
 *
 * Shapes are equal: all inputs and the result are (B x N). Anything else records
 * "<op>: shapes differ: x is (..), a is (..), b is (..)" and returns NULL; a NULL input returns
 * NULL and keeps the first message (see tape.h). Each gives the same bits as its composite.
 */
#ifndef TG_FUSED_H
#define TG_FUSED_H

#include "autograd/tape.h"

TG_BEGIN_DECLS

/* x + a ⊙ b, the same bits as tg_add(t, x, tg_mul(t, a, b)) in one node. The LSTM's cell state,
 * c' = f ⊙ c + i ⊙ g, is tg_addcmul(t, tg_mul(t, f, c), i, g); the GRU's
 * h' = (1 − z) ⊙ n + z ⊙ h is tg_addcmul(t, tg_mul(t, tg_one_minus(t, z), n), z, h). */
tg_tensor *tg_addcmul(tg_tape *t, tg_tensor *x, tg_tensor *a, tg_tensor *b);

TG_END_DECLS

#endif
