/* dropout.c: inverted dropout.
 *
 * In training, each element of x is kept with probability 1 - p and scaled by 1 / (1 - p), or
 * zeroed, so the expected value of y equals x and evaluation needs no rescaling. The mask is
 * drawn once, when the op is recorded, and kept at y->saved as tg_real values 0 or 1 / (1 - p):
 * forward and backward are then both a multiplication by it. In evaluation (no generator), or
 * with p == 0, the op is the identity and records nothing.
 */
#include "ops/dropout.h"

#include "autograd/internal.h"

static void dropout_forward(tg_tape *t, tg_tensor *y)
{
    const tg_tensor *x = y->in[0];
    const tg_real *mask = y->saved;
    for (size_t i = 0; i < tg_numel(y); i++) y->val[i] = x->val[i] * mask[i];
}

static void dropout_backward(tg_tape *t, tg_tensor *y) /* dx += dy * mask */
{
    tg_tensor *x = y->in[0];
    const tg_real *mask = y->saved;
    if (x->grad)
        for (size_t i = 0; i < tg_numel(y); i++) x->grad[i] += y->grad[i] * mask[i];
}

static const tg_op dropout_op = {"tg_dropout", dropout_forward, dropout_backward, NULL,
                                 "dropout: passes the upstream gradient where the element was "
                                 "kept, scaled by 1/(1-p)  dx += dy * mask / (1 - p)"};

tg_tensor *tg_dropout(tg_tape *t, tg_tensor *x, double p, tg_rng *rng)
{
    if (!tg_check_inputs(t, "tg_dropout", 1, &x)) return NULL;
    if (!(p >= 0 && p < 1))
        return tg_fail(t, "tg_dropout: p = %g is outside [0, 1) (x is " TG_SHAPE ")", p,
                       TG_DIMS(x));
    if (!rng || p == 0) return x; /* evaluation */
    size_t n = tg_numel(x);
    tg_real *mask = tg_tape_alloc(t, n * sizeof *mask, "tg_dropout");
    if (!mask) return NULL;
    tg_real scale = (tg_real)(1.0 / (1.0 - p));
    for (size_t i = 0; i < n; i++) mask[i] = tg_rng_uniform(rng) < p ? 0 : scale;
    tg_tensor *y = tg_node(t, &dropout_op, x->rows, x->cols, 1, &x);
    if (!y) return NULL;
    y->saved = mask;
    y->arg = p;
    dropout_op.forward(t, y);
    return y;
}
