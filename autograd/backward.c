/* backward.c: the reverse walk.
 *
 * Recording order is topological, so one loop from the loss down to the first node visits every
 * node after all of its users. A node is visited only when the loss depends on it (`needed`),
 * and each op's backward adds into its inputs' gradients, so fan-out needs no special case. A
 * view (tgi_view: a window of its input's value and gradient) has no backward at all.
 * When the tape reuses gradients (tg_tape_reuse_grads), a node gets its gradient buffer just
 * before the first of its users is walked back, and hands it back once its own backward has
 * run: by then every user has added its part and nothing reads it again.
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

/* x's gradient buffer, given now if x gets it in backward; a view's points into its input's.
 * 0 when out of memory. */
static int give_grad(tg_tape *t, tg_tensor *x)
{
    if (x->grad || !x->grad_later) return 1;
    if (x->op->backward) return tgi_grad_give(t, x);
    tg_tensor *in = x->in[0];
    if (!give_grad(t, in)) return 0;
    x->grad = in->grad + (x->val - in->val);
    return 1;
}

/* After y's backward: its gradient is complete and used; a reused one goes back to the pool. */
static void release_grad(tg_tape *t, tg_tensor *y)
{
    if (!y->grad_later || (y->needed & TGI_KEEP_GRAD)) return;
    if (y->op->backward)
        tgi_grad_release(t, y);
    else
        y->grad = NULL; /* a view: the buffer is its input's */
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
    if (!loss->grad && !loss->grad_later) {
        tgi_fail(t, "tg_backward: loss has no gradient (no input requires one, or it was "
                    "recorded with gradients off)");
        return TG_EINVAL;
    }
    if (*ran) clear_node_grads(nodes, n);
    *ran = 1;
    if (!give_grad(t, loss)) return TG_ENOMEM;
    loss->grad[0] += 1; /* d(loss)/d(loss) */
    loss->needed = 1;
    for (size_t i = loss->index + 1; i-- > 0;) {
        tg_tensor *y = nodes[i];
        if (!y->needed || !y->grad) continue;
        for (size_t k = 0; k < y->n_in; k++)
            if (!give_grad(t, y->in[k])) return TG_ENOMEM;
        if (y->op->backward) y->op->backward(y); /* a view (NULL) has nothing to add */
        for (size_t k = 0; k < y->n_in; k++)
            if (y->in[k]->op) y->in[k]->needed |= 1; /* leaves have nothing to walk */
        release_grad(t, y);
    }
    tgi_run_deferred(t); /* e.g. a parameter's weight gradients over all time steps at once */
    return TG_OK;
}
