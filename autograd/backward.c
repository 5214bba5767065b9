/* backward.c: the reverse walk.
 *
 * Recording order is topological, so one loop from the loss down to the first node visits every
 * node after all of its users. A node is visited only when the loss depends on it (`needed`),
 * and each op's backward adds into its inputs' gradients, so fan-out needs no special case. A
 * view (tgi_view: a window of its input's value and gradient) has no backward at all.
 * Work an op deferred during the walk (tgi_defer) runs once at the end, before returning.
 * Read next: any op family, e.g. ops/binary.c, for what a backward looks like.
 */
#include "autograd/internal.h"

#include <string.h>

/* A second backward over the same recording must not add to the first one's node gradients. */
static void clear_node_grads(tg_tensor **nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nodes[i]->needed = 0;
        /* A view's gradient is part of its input's: cleared with it, or (a leaf's) kept. */
        if (nodes[i]->op && nodes[i]->op->backward && nodes[i]->grad) tg_tensor_zero_grad(nodes[i]);
    }
}

int tg_backward(tg_tape *t, tg_tensor *loss)
{
    size_t n;
    int *ran;
    tg_tensor **nodes = tgi_tape_nodes(t, &n, &ran);
    if (!loss) {
        tgi_fail(t, "tg_backward: loss is NULL");
        return TG_ENULL;
    }
    if (loss->rows != 1 || loss->cols != 1) {
        tgi_fail(t, "tg_backward: loss must be (1 x 1), got " TGI_SHAPE, TGI_DIMS(loss));
        return TG_ESHAPE;
    }
    if (!loss->op || loss->index >= n || nodes[loss->index] != loss) {
        tgi_fail(t, "tg_backward: loss was not recorded on this tape");
        return TG_EINVAL;
    }
    if (!loss->grad) {
        tgi_fail(t, "tg_backward: loss has no gradient (no input requires one, or it was "
                    "recorded with gradients off)");
        return TG_EINVAL;
    }
    if (*ran) clear_node_grads(nodes, n);
    *ran = 1;
    loss->grad[0] += 1; /* d(loss)/d(loss) */
    loss->needed = 1;
    for (size_t i = loss->index + 1; i-- > 0;) {
        tg_tensor *y = nodes[i];
        if (!y->needed || !y->grad) continue;
        if (y->op->backward) y->op->backward(y); /* a view (NULL) has nothing to add */
        for (size_t k = 0; k < y->n_in; k++)
            if (y->in[k]->op) y->in[k]->needed = 1; /* leaves have nothing to walk */
    }
    tgi_run_deferred(t); /* e.g. a parameter's weight gradients over all time steps at once */
    return TG_OK;
}
