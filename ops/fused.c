/* fused.c: element-wise expressions of several inputs as one op (see fused.h).
 *
 * tg_addcmul, y = x + a ⊙ b: the composite tg_add(x, tg_mul(a, b)) writes a ⊙ b out, reads it
 * back, and in backward passes over dy twice; here forward is one pass and backward one pass
 * that reads dy once for all three gradients. The product is rounded before the sum, as in the
 * composite (no fused multiply-add: C11 mode keeps contraction off), so the bits are the same.
 * Both loops are compiled for SSE2, AVX2 and AVX-512 and chosen at run time (ops/vmath.h's
 * tgi_map), with the same bits at each.
 *
 * Read next: ops/binary.c (the single ops these replace), nn/cells.c (where they are used).
 */
#include "ops/fused.h"

#include "ops/internal.h"
#include "ops/vmath.h"

#include <assert.h>

/* Past this many elements per thread a loop is split between threads (ops/binary.c's figure). */
enum { MIN_PER_THREAD = 32768 };

/* The loops of the usual case, compiled per instruction set (tgi_map, ops/internal.h) with the
 * same operations on each element, so the same bits: forward reads x, a, b and writes y;
 * backward reads dy, a, b and adds into dx, da, db. */
TGI_MAP_LOOP(addcmul_map, (x, a, b), (y, out1, out2), y[i] = x[i] + a[i] * b[i])
TGI_MAP_LOOP(addcmul_grad_map, (dy, a, b), (dx, da, db), {
    dx[i] += dy[i];
    da[i] += dy[i] * b[i];
    db[i] += dy[i] * a[i];
})

static void addcmul_forward(tg_tape *t, tg_tensor *y) /* y = x + a ⊙ b */
{
    (void)t;
    tgi_map_args m = {{y->in[0]->val, y->in[1]->val, y->in[2]->val}, {y->val}};
    int done = tgi_map(addcmul_map_versions, &m, tg_numel(y), MIN_PER_THREAD);
    assert(done); /* y is a new node: it shares memory with no input */
    (void)done;
}

/* dx += dy; da += dy ⊙ b; db += dy ⊙ a, in one pass when all three are wanted and apart (not
 * when the same tensor is two of x, a, b), else one pass each. */
static void addcmul_backward(tg_tape *t, tg_tensor *y)
{
    (void)t;
    tg_tensor *x = y->in[0], *a = y->in[1], *b = y->in[2];
    const tg_real *dy = y->grad;
    size_t n = tg_numel(y);
    tgi_map_args m = {{dy, a->val, b->val}, {x->grad, a->grad, b->grad}};
    if (x->grad && a->grad && b->grad && tgi_map(addcmul_grad_map_versions, &m, n, MIN_PER_THREAD))
        return;
    int nt = tgi_threads_for(n, MIN_PER_THREAD);
    if (x->grad) TGI_PARALLEL_FOR(nt, i, n, x->grad[i] += dy[i]);
    if (a->grad) TGI_PARALLEL_FOR(nt, i, n, a->grad[i] += dy[i] * b->val[i]);
    if (b->grad) TGI_PARALLEL_FOR(nt, i, n, b->grad[i] += dy[i] * a->val[i]);
}

static const tg_op addcmul_op = {"tg_addcmul", addcmul_forward, addcmul_backward, NULL,
                                 "add a product: x gets the upstream gradient, a and b each get "
                                 "it times the other  dx += dy, da += dy * b, db += dy * a"};

tg_tensor *tg_addcmul(tg_tape *t, tg_tensor *x, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[3] = {x, a, b};
    if (!tg_check_inputs(t, "tg_addcmul", 3, in)) return NULL;
    if (a->rows != x->rows || a->cols != x->cols || b->rows != x->rows || b->cols != x->cols)
        return tg_fail(t,
                       "tg_addcmul: shapes differ: x is " TG_SHAPE ", a is " TG_SHAPE
                       ", b is " TG_SHAPE " (all three must be equal)",
                       TG_DIMS(x), TG_DIMS(a), TG_DIMS(b));
    return tg_record(t, &addcmul_op, x->rows, x->cols, 3, in);
}
