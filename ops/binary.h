/* binary.h: elementwise add, sub, mul and div with symmetric row and column broadcasting.
 *
 * Shapes: equal, or a (1 x N) row against a (B x N) matrix, or a (B x 1) column against a
 * (B x N) matrix, either operand being the broadcast one; the result is (B x N). A broadcast
 * operand's gradient sums over the rows (a row) or the columns (a column) it was repeated
 * along. Anything else (a row against a column, a (1 x 1) against a (B x N) with B, N > 1)
 * records "<op>: shapes do not broadcast: a is (.. x ..), b is (.. x ..)" and returns NULL.
 * A NULL input returns NULL and keeps the first message (see tape.h).
 */
#ifndef TG_BINARY_H
#define TG_BINARY_H

#include "autograd/tape.h"

TG_BEGIN_DECLS

tg_tensor *tg_add(tg_tape *t, tg_tensor *a, tg_tensor *b); /* a + b */
tg_tensor *tg_sub(tg_tape *t, tg_tensor *a, tg_tensor *b); /* a - b */
tg_tensor *tg_mul(tg_tape *t, tg_tensor *a, tg_tensor *b); /* a ⊙ b (Hadamard) */
/* a / b elementwise, IEEE rules: x / 0 is ±inf, 0 / 0 is NaN (no error is recorded; the
 * gradients are then inf or NaN too, which the trainer's non-finite check catches). */
tg_tensor *tg_div(tg_tape *t, tg_tensor *a, tg_tensor *b);

TG_END_DECLS

#endif
