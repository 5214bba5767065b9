/* reduce.c: sum and mean to (1 x 1). Both sum in double, so a large tensor's loss in the float
 * build keeps its digits; mean is sum scaled by arg = 1/numel. */
#include "ops/reduce.h"

#include "autograd/internal.h"

static void sum_forward(tg_tape *t, tg_tensor *y)
{
    const tg_tensor *x = y->in[0];
    double s = 0;
    for (size_t i = 0; i < tg_numel(x); i++) s += x->val[i];
    y->val[0] = (tg_real)(s * y->arg);
}

static void sum_backward(tg_tape *t,
                         tg_tensor *y) /* dx += dy * arg  (arg = 1 for sum, 1/n for mean) */
{
    tg_tensor *x = y->in[0];
    tg_real g = (tg_real)(y->grad[0] * y->arg);
    if (x->grad)
        for (size_t i = 0; i < tg_numel(x); i++) x->grad[i] += g;
}

static const tg_op sum_op = {"tg_sum", sum_forward, sum_backward, NULL};
static const tg_op mean_op = {"tg_mean", sum_forward, sum_backward, NULL};

static tg_tensor *reduce(tg_tape *t, const tg_op *op, tg_tensor *x, double scale)
{
    tg_tensor *y = tg_node(t, op, 1, 1, 1, &x);
    if (!y) return NULL;
    y->arg = scale;
    op->forward(t, y);
    return y;
}

tg_tensor *tg_sum(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_sum", 1, &x)) return NULL;
    return reduce(t, &sum_op, x, 1.0);
}

tg_tensor *tg_mean(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_mean", 1, &x)) return NULL;
    if (tg_numel(x) == 0) return tg_fail(t, "tg_mean: x is empty " TG_SHAPE, TG_DIMS(x));
    return reduce(t, &mean_op, x, 1.0 / (double)tg_numel(x));
}
