/* tape.c: recording. The list of nodes, the recording modes, the first error.
 *
 * A node is one arena block (tgi_tape_tensor): its entry (the tensor and the tape's
 * bookkeeping), its input array, its value and, when gradients are kept, its gradient.
 * Invariant: t->nodes[i] is the node with index i, and every node's inputs are leaves or were
 * recorded before it, so recording order is a topological order.
 * Read next: backward.c (the walk), arena.c (the memory), tensor.c (leaves).
 */
#include "autograd/internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tg_tape *tg_tape_new(void)
{
    tg_tape *t = calloc(1, sizeof *t);
    if (t && !tgi_arena_init(&t->arena)) free(t), t = NULL;
    if (t) t->heap_allocs = t->grad_enabled = 1;
    return t;
}

void tg_tape_free(tg_tape *t)
{
    if (!t) return;
    tgi_arena_deinit(&t->arena);
    free(t->nodes);
    free(t);
}

void tg_tape_reset(tg_tape *t)
{
    if (!t) return;
    tgi_arena_reset(&t->arena);
    t->n_nodes = 0;
    t->backward_ran = 0;
    t->deferred = NULL;
    tg_tape_clear_error(t);
}

tg_tensor *tg_fail(tg_tape *t, const char *fmt, ...)
{
    if (!t || t->has_error) return NULL; /* a NULL tape has nowhere to keep a message */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof t->error, fmt, ap);
    va_end(ap);
    t->has_error = 1;
    tgi_name_inputs(t); /* the labels of the op's inputs, when it has checked them (label.c) */
    return NULL;
}

int tg_check_inputs(tg_tape *t, const char *name, size_t n, tg_tensor *const *in)
{
    for (size_t i = 0; t && i < n; i++)
        if (!in[i]) return tg_fail(t, "%s: input %zu is NULL", name, i + 1), 0;
    return t ? tgi_note_inputs(t, name, n, in) : 0;
}

/* Append node y (NULL when its allocation failed) with its entry's bookkeeping. */
static tg_tensor *push_node(tg_tape *t, tg_tensor *y, const tg_op *op, int grad)
{
    if (y && t->n_nodes == t->cap_nodes) {
        size_t cap = t->cap_nodes ? 2 * t->cap_nodes : 1024;
        tg_tensor **nodes = realloc(t->nodes, cap * sizeof *nodes);
        if (!nodes) return tg_fail(t, "%s: out of memory growing the node list", op->name);
        t->heap_allocs++;
        t->nodes = nodes;
        t->cap_nodes = cap;
    }
    if (!y) return NULL;
    tgi_entry *e = tgi_entry_of(y);
    e->index = t->n_nodes;
    e->grad = (unsigned char)grad;
    e->reached = e->assigns = 0;
    y->op = op;
    return t->nodes[t->n_nodes++] = y;
}

tg_tensor *tg_node(tg_tape *t, const tg_op *op, size_t rows, size_t cols, size_t n,
                   tg_tensor *const *in)
{
    if (!t) return NULL;
    int wants = 0;
    for (size_t i = 0; i < n; i++) wants |= tgi_requires_grad(in[i]);
    int grad = !wants || !t->grad_enabled ? TGI_GRAD_NONE
               : t->reuse_grads           ? TGI_GRAD_LATER
                                          : TGI_GRAD_OWN;
    tg_tensor *y =
        tgi_tape_tensor(t, op->name, sizeof(tgi_entry), rows, cols, n, grad == TGI_GRAD_OWN);
    for (size_t i = 0; y && i < n; i++) y->in[i] = in[i];
    if (y) y->n_in = n;
    return push_node(t, y, op, grad);
}

tg_tensor *tgi_view(tg_tape *t, const tg_op *op, tg_tensor *x, size_t offset, size_t rows,
                    size_t cols)
{
    tg_tensor *y = tgi_tape_tensor(t, op->name, sizeof(tgi_entry), 0, 0, 1, 0);
    if (!y) return NULL;
    y->n_in = 1, y->rows = rows, y->cols = cols, y->val = x->val + offset; /* the rest is 0 */
    y->in[0] = x;
    int grad = t->grad_enabled && tgi_requires_grad(x) ? TGI_GRAD_OWN : TGI_GRAD_NONE;
    if (grad && x->grad) y->grad = x->grad + offset;
    if (grad && !x->grad) grad = TGI_GRAD_LATER; /* pointed into x's when backward lends it */
    return push_node(t, y, op, grad);
}

tg_tensor *tg_record(tg_tape *t, const tg_op *op, size_t rows, size_t cols, size_t n,
                     tg_tensor *const *in)
{
    tg_tensor *y = tg_node(t, op, rows, cols, n, in);
    if (y) op->forward(t, y);
    return y;
}

static int set_mode(int *mode, int on)
{
    int old = *mode;
    *mode = on != 0;
    return old;
}

int tg_tape_set_grad(tg_tape *t, int enabled)
{
    return t ? set_mode(&t->grad_enabled, enabled) : 0;
}

int tg_tape_reuse_grads(tg_tape *t, int reuse)
{
    return t ? set_mode(&t->reuse_grads, reuse) : 0;
}

const char *tg_tape_error(const tg_tape *t)
{
    return !t ? "the tape is NULL" : t->has_error ? t->error : NULL;
}

void tg_tape_clear_error(tg_tape *t)
{
    if (t) t->has_error = 0, t->error[0] = '\0', t->n_checked = 0;
}
