/* matmul.c: y = op(a)·op(b), forward and backward side by side, through one call to BLIS.
 *
 * gemm() below is the library's only call to a BLIS product. Tensors are row-major and
 * contiguous, so a stored (r x c) matrix has row stride c and column stride 1, and xᵀ is the
 * same memory handed to BLIS with BLIS_TRANSPOSE: nothing is ever copied to transpose.
 * Forward writes y with beta = 0; backward adds into the gradients with beta = 1, so a tensor
 * used twice simply receives two products.
 *
 * The op keeps its flags in y->iarg. Which kernels BLIS runs, and on how many threads, is
 * ops/blis.c's business (tgi_blis_context, tgi_blis_threads).
 *
 * Read next: ops/blis.c, then tests/test_ops_matmul.c (the naive loop this is checked against).
 */
#include "ops/matmul.h"

#include "autograd/internal.h"

#include <blis.h>
#include <string.h>

#ifdef TG_DOUBLE
#define GEMM_EX bli_dgemm_ex
#else
#define GEMM_EX bli_sgemm_ex
#endif

/* c (m x n) = op(a)·op(b) + beta·c, with op(a) (m x k) and op(b) (k x n). ta says that a is
 * stored as (k x m) and read transposed; tb that b is stored as (n x k). beta is 0 (c is
 * overwritten, never read) or 1 (accumulate). */
static void gemm(int ta, int tb, size_t m, size_t n, size_t k, const tg_real *a, const tg_real *b,
                 tg_real beta, tg_real *c)
{
    if (m == 0 || n == 0) return;
    if (k == 0) { /* an empty sum: c = beta·c */
        if (beta == 0) memset(c, 0, m * n * sizeof *c);
        return;
    }
    tg_real alpha = 1;
    rntm_t rntm, *rp = NULL; /* NULL: BLIS's global thread settings */
    int threads = tgi_blis_threads();
    if (threads > 0) {
        bli_rntm_init_from_global(&rntm);
        bli_rntm_set_num_threads(threads, &rntm);
        rp = &rntm;
    }
    GEMM_EX(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
            (dim_t)m, (dim_t)n, (dim_t)k, &alpha, (tg_real *)a, (inc_t)(ta ? m : k), 1,
            (tg_real *)b, (inc_t)(tb ? k : n), 1, &beta, c, (inc_t)n, 1, tgi_blis_context(), rp);
}

/* The inner dimension k of y = op(a)·op(b). */
static size_t inner(const tg_tensor *a, int ta)
{
    return ta ? a->rows : a->cols;
}

static void matmul_forward(tg_tensor *y) /* y = op(a)·op(b) */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    int ta = (y->iarg & TG_TRANS_A) != 0, tb = (y->iarg & TG_TRANS_B) != 0;
    gemm(ta, tb, y->rows, y->cols, inner(a, ta), a->val, b->val, 0, y->val);
}

/* With op(a) (m x k), op(b) (k x n): d op(a) += dy·op(b)ᵀ and d op(b) += op(a)ᵀ·dy, written
 * for the stored a and b (a stored transposed receives the transpose of its gradient). */
static void matmul_backward(tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    int ta = (y->iarg & TG_TRANS_A) != 0, tb = (y->iarg & TG_TRANS_B) != 0;
    size_t m = y->rows, n = y->cols, k = inner(a, ta);
    if (a->grad && !ta) /* da += dy·op(b)ᵀ: dy·bᵀ, or dy·b when b is used transposed */
        gemm(0, !tb, m, k, n, y->grad, b->val, 1, a->grad);
    if (a->grad && ta) /* da += (dy·op(b)ᵀ)ᵀ = op(b)·dyᵀ: b·dyᵀ, or bᵀ·dyᵀ */
        gemm(tb, 1, k, m, n, b->val, y->grad, 1, a->grad);
    if (b->grad && !tb) /* db += op(a)ᵀ·dy: aᵀ·dy, or a·dy when a is used transposed */
        gemm(!ta, 0, k, n, m, a->val, y->grad, 1, b->grad);
    if (b->grad && tb) /* db += (op(a)ᵀ·dy)ᵀ = dyᵀ·op(a): dyᵀ·a, or dyᵀ·aᵀ */
        gemm(1, ta, n, k, m, y->grad, a->val, 1, b->grad);
}

static const tg_op matmul_op = {"tg_matmul", matmul_forward, matmul_backward};

#define MISMATCH "tg_matmul: inner dimensions differ: a is " TGI_SHAPE ", b is " TGI_SHAPE

/* "tg_matmul: inner dimensions differ: a is (..), b is (..)", and with flags which side is
 * transposed and the two inner dimensions it produced. */
static tg_tensor *inner_mismatch(tg_tape *t, const tg_tensor *a, const tg_tensor *b, int ta, int tb)
{
    if (!ta && !tb) return tgi_fail(t, MISMATCH, TGI_DIMS(a), TGI_DIMS(b));
    const char *flags = ta && tb ? "TG_TRANS_A | TG_TRANS_B" : ta ? "TG_TRANS_A" : "TG_TRANS_B";
    return tgi_fail(t, MISMATCH "; with %s, %s has %zu columns and %s has %zu rows", TGI_DIMS(a),
                    TGI_DIMS(b), flags, ta ? "aᵀ" : "a", inner(a, ta), tb ? "bᵀ" : "b",
                    tb ? b->cols : b->rows);
}

tg_tensor *tg_matmul(tg_tape *t, tg_tensor *a, tg_tensor *b, int flags)
{
    tg_tensor *in[2] = {a, b};
    if (!tgi_check(t, "tg_matmul", 2, in)) return NULL;
    if (flags & ~(TG_TRANS_A | TG_TRANS_B))
        return tgi_fail(t, "tg_matmul: unknown flags 0x%x (only TG_TRANS_A, TG_TRANS_B)",
                        (unsigned)flags);
    int ta = (flags & TG_TRANS_A) != 0, tb = (flags & TG_TRANS_B) != 0;
    if (inner(a, ta) != (tb ? b->cols : b->rows)) return inner_mismatch(t, a, b, ta, tb);
    tg_tensor *y = tgi_node(t, &matmul_op, ta ? a->cols : a->rows, tb ? b->rows : b->cols, 2, in);
    if (!y) return NULL;
    y->iarg = (size_t)flags;
    matmul_op.forward(y);
    return y;
}
