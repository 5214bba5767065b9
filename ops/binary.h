/* binary.h: elementwise add, sub and mul with symmetric row broadcasting.
 *
 * Shapes: equal, or a (1 x N) row against a (B x N) matrix on either side; the result is
 * (B x N). Anything else records "<op>: shapes do not broadcast: a is (.. x ..), b is (.. x ..)"
 * and returns NULL. A NULL input returns NULL and keeps the first message (see tape.h).
 */
#ifndef TG_BINARY_H
#define TG_BINARY_H

#include "autograd/tape.h"

#ifdef __cplusplus
extern "C" {
#endif

tg_tensor *tg_add(tg_tape *t, tg_tensor *a, tg_tensor *b); /* a + b */
tg_tensor *tg_sub(tg_tape *t, tg_tensor *a, tg_tensor *b); /* a - b */
tg_tensor *tg_mul(tg_tape *t, tg_tensor *a, tg_tensor *b); /* a ⊙ b (Hadamard) */

#ifdef __cplusplus
}
#endif

#endif
