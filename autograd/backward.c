/* backward.c: the reverse walk.
 *
 * Recording order is topological: one loop from the loss down visits every node after all its
 * users, only those the loss depends on (`reached`). Each backward adds into its inputs'
 * gradients (or assigns the first: op.h), so fan-out needs no special case; a view has none.
 * With reused gradients a node is lent its buffer just before its first user's backward and
 * hands it back after its own: by then every user has added its part and nothing reads it
 * again, unless an op keeps it (tg_keep_grad) for the work it put off (tg_defer), which runs
 * once at the end in the op's finish. Read next: ops/binary.c, for what a backward looks like.
 */
#include "autograd/internal.h"

#include <assert.h>
#include <stdint.h>

/* A second walk over the same recording starts node gradients from zero, not from the first's. */
static void clear_node_grads(tg_tape *t)
{
    for (size_t i = 0; i < t->n_nodes; i++) {
        tgi_entry_of(t->nodes[i])->reached = 0;
        if (t->nodes[i]->op->backward) tg_tensor_zero_grad(t->nodes[i]); /* a view's: its input's */
    }
}

/* Give node x its gradient if it waits for one: a zeroed buffer (blank: not zeroed, for a node
 * that assigns), or for a view a window of its input's. 0 when out of memory (message on t). */
static int lend_grad(tg_tape *t, tg_tensor *x, int blank)
{
    tgi_entry *e = tgi_entry_of(x);
    size_t bytes = tg_numel(x) * sizeof(tg_real);
    if (e->grad != TGI_GRAD_LATER) return 1;
    if (!x->op->backward && x->in[0]->op && !lend_grad(t, x->in[0], 0)) return 0;
    x->grad = !x->op->backward ? x->in[0]->grad + (x->val - x->in[0]->val)
                               : (blank ? tgi_arena_grad_blank : tgi_arena_grad)(&t->arena, bytes);
    if (!x->grad)
        return tg_fail(t, "%s: out of memory (asked for %zu bytes)", x->op->name, bytes), 0;
    e->grad = blank && x->op->backward ? TGI_GRAD_BLANK : TGI_GRAD_LENT;
    return 1;
}

/* After y's backward its gradient is complete and used: a lent one goes back to the arena. */
static void release_grad(tg_tape *t, tg_tensor *y)
{
    if (tgi_entry_of(y)->grad != TGI_GRAD_LENT) return;
    if (y->op->backward) tgi_arena_release(&t->arena, y->grad, tg_numel(y) * sizeof(tg_real));
    y->grad = NULL; /* a view's buffer is its input's */
    tgi_entry_of(y)->grad = TGI_GRAD_LATER;
}

void **tg_defer(tg_tape *t, const tg_op *op)
{
    assert(op->finish);
    tgi_deferred **d = &t->deferred;
    while (*d && (*d)->op != op) d = &(*d)->next;
    if (!*d && (*d = tg_tape_alloc(t, sizeof **d, op->name))) **d = (tgi_deferred){op, NULL, NULL};
    return *d ? &(*d)->work : NULL;
}

void tg_keep_grad(tg_tape *t, tg_tensor *y)
{
    if (tgi_entry_of(y)->grad == TGI_GRAD_LENT) tgi_entry_of(y)->grad = TGI_GRAD_KEPT;
}

static int check_loss(tg_tape *t, const tg_tensor *loss)
{
    size_t i = loss && loss->op ? tgi_entry_of(loss)->index : SIZE_MAX;
    if (!loss) return tg_fail(t, "tg_backward: loss is NULL"), TG_ENULL;
    if (loss->rows != 1 || loss->cols != 1)
        return tg_fail(t, "tg_backward: loss must be (1 x 1), got " TG_SHAPE, TG_DIMS(loss)),
               TG_ESHAPE;
    if (i >= t->n_nodes || t->nodes[i] != loss)
        return tg_fail(t, "tg_backward: loss was not recorded on this tape"), TG_EINVAL;
    if (!tgi_requires_grad(loss))
        return tg_fail(t, "tg_backward: loss has no gradient (no input requires one, or it was "
                          "recorded with gradients off)"),
               TG_EINVAL;
    return TG_OK;
}

int tg_backward(tg_tape *t, tg_tensor *loss)
{
    int rc = t ? check_loss(t, loss) : TG_ENULL;
    if (rc != TG_OK) return rc;
    if (t->backward_ran) clear_node_grads(t);
    t->backward_ran = 1;
    t->deferred = NULL;
    if (!lend_grad(t, loss, 0)) return TG_ENOMEM;
    loss->grad[0] += 1; /* d(loss)/d(loss) */
    tgi_entry_of(loss)->reached = 1;
    for (size_t i = tgi_entry_of(loss)->index + 1; i-- > 0;) {
        tg_tensor *y = t->nodes[i];
        if (!tgi_entry_of(y)->reached) continue;
        for (size_t k = 0; k < y->n_in; k++) { /* leaves have nothing to lend or walk */
            tg_tensor *x = y->in[k];
            if (!x->op || !tgi_requires_grad(x)) continue;
            if (!lend_grad(t, x, tgi_entry_of(y)->assigns)) return TG_ENOMEM;
            tgi_entry_of(x)->reached = 1;
        }
        if (y->op->backward) y->op->backward(t, y); /* a view has none */
        if (tgi_entry_of(y)->assigns) tgi_zero_unclaimed(y);
        release_grad(t, y);
    }
    for (tgi_deferred *d = t->deferred; d; d = d->next) d->op->finish(t, d->work);
    t->deferred = NULL;
    return TG_OK;
}
