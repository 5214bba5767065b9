/* fused.c: element-wise expressions of several inputs as one op (see fused.h).
 *
 * tg_addcmul, y = x + a ⊙ b: the composite tg_add(x, tg_mul(a, b)) writes a ⊙ b out, reads it
 * back, and in backward passes over dy twice; here forward is one pass and backward one pass
 * that reads dy once for all three gradients. The product is rounded before the sum, as in the
 * composite (no fused multiply-add: C11 mode keeps contraction off), so the bits are the same.
 *
 * Read next: ops/binary.c (the single ops these replace), nn/cells.c (where they are used).
 */
#include "ops/fused.h"

#include "ops/internal.h"

/* Past this many elements per thread a loop is split between threads (ops/binary.c's figure). */
enum { MIN_PER_THREAD = 32768 };

static void addcmul_forward(tg_tape *t, tg_tensor *y) /* y = x + a ⊙ b */
{
    (void)t;
    const tg_real *x = y->in[0]->val, *a = y->in[1]->val, *b = y->in[2]->val;
    tg_real *v = y->val;
    size_t n = tg_numel(y);
    TGI_PARALLEL_FOR(tgi_threads_for(n, MIN_PER_THREAD), i, n, v[i] = x[i] + a[i] * b[i]);
}

/* dx += dy; da += dy ⊙ b; db += dy ⊙ a, in one pass when all three are wanted. */
static void addcmul_backward(tg_tape *t, tg_tensor *y)
{
    (void)t;
    tg_tensor *x = y->in[0], *a = y->in[1], *b = y->in[2];
    const tg_real *dy = y->grad;
    size_t n = tg_numel(y);
    int nt = tgi_threads_for(n, MIN_PER_THREAD);
    if (x->grad && a->grad && b->grad) {
        tg_real *dx = x->grad, *da = a->grad, *db = b->grad;
        const tg_real *av = a->val, *bv = b->val;
        TGI_PARALLEL_FOR(nt, i, n, {
            dx[i] += dy[i];
            da[i] += dy[i] * bv[i];
            db[i] += dy[i] * av[i];
        });
        return;
    }
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
