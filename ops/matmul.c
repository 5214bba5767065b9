/* matmul.c: y = op(a)·op(b), forward and backward side by side, through one call to BLIS.
 *
 * gemm() below is the library's only call to a BLIS product. Tensors are row-major and
 * contiguous, so a stored (r x c) matrix has row stride c and column stride 1, and xᵀ is the
 * same memory handed to BLIS with BLIS_TRANSPOSE: nothing is ever copied to transpose.
 * Forward writes y with beta = 0; backward adds into the gradients with beta = 1, so a tensor
 * used twice simply receives two products.
 *
 * The op keeps its flags in y->iarg. A parameter's weight gradients from products of few rows
 * (one time step's) wait for the op's finish, which stacks them into a few long products.
 * Which kernels BLIS runs, and on how many threads, is
 * ops/blis.c's business (tgi_blis_context, tgi_blis_threads).
 *
 * Read next: ops/blis.c, then tests/test_ops_matmul.c (the naive loop this is checked against).
 */
#include "ops/matmul.h"

#include "ops/internal.h"

#include <blis.h>
#include <string.h>

#ifdef TG_DOUBLE
#define GEMV_EX bli_dgemv_ex
#else
#define GEMV_EX bli_sgemv_ex
#endif

/* Below this many multiply-adds per thread a product runs on fewer threads: a fork and a
 * barrier cost more than half of a small product. bench_matmul on 2 idle Zen 3 cores (a KVM
 * guest whose 2-thread figures vary by 30% from run to run): 2 threads lose on
 * (8 x 64)·(64 x 256) (131K multiply-adds) and on (8 x 100)·(100 x 400) in some runs, are even
 * to 30% faster on (32 x 100)·(100 x 400) (1.3M), and win on (20 x 200)·(200 x 800) (3.2M:
 * 73-76 against 48 GFLOP/s). So a second thread from about 1M. */
enum { MIN_MACS_PER_THREAD = 1 << 19, GEMV_MAX = 4 };

/* A parameter's weight gradient from a product of fewer rows than this waits for the end of
 * backward, to be done with the other such products of the same parameter as one (a weight
 * used at every step: B rows each). Larger products are efficient alone and are done at once,
 * so their dy need not outlive the walk (with gradients reused, it is released). */
enum { DEFER_MAX_ROWS = 128 };

/* A product with GEMV_MAX rows or fewer, as that many matrix-vector products: row i of c is
 * op(b)ᵀ·(row i of op(a)). BLIS's gemm packs all of b for every call, which for one row costs
 * as much as the product itself (a batch-1 recurrent step, h·W_hhᵀ); gemv reads b once in
 * place. op(b)ᵀ is (n x k), and general strides say where its elements are. Columns likewise
 * when n is the small side: column j of c is op(a)·(column j of op(b)). */
static int gemv_product(int ta, int tb, size_t m, size_t n, size_t k, const tg_real *a,
                        const tg_real *b, tg_real beta, tg_real *c)
{
    tg_real alpha = 1;
    cntx_t *cx = tgi_blis_context();
    if (m <= GEMV_MAX && m <= n) {
        inc_t rs = tb ? (inc_t)k : 1, cs = tb ? 1 : (inc_t)n; /* op(b)ᵀ (n x k) */
        for (size_t i = 0; i < m; i++)
            GEMV_EX(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)n, (dim_t)k, &alpha, (tg_real *)b,
                    rs, cs, (tg_real *)(ta ? a + i : a + i * k), ta ? (inc_t)m : 1, &beta,
                    c + i * n, 1, cx, NULL);
        return 1;
    }
    if (n <= GEMV_MAX) {
        inc_t rs = ta ? 1 : (inc_t)k, cs = ta ? (inc_t)m : 1; /* op(a) (m x k) */
        for (size_t j = 0; j < n; j++)
            GEMV_EX(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)m, (dim_t)k, &alpha, (tg_real *)a,
                    rs, cs, (tg_real *)(tb ? b + j * k : b + j), tb ? 1 : (inc_t)n, &beta, c + j,
                    (inc_t)n, cx, NULL);
        return 1;
    }
    return 0;
}

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
    if (tgi_small_product(ta, tb, m, n, k, a, b, beta, c)) return; /* in place (ops/smallmm.c) */
    if (gemv_product(ta, tb, m, n, k, a, b, beta, c)) return;
    tgi_blis_gemm(ta, tb, m, n, k, a, b, beta, c, tgi_threads_for(m * n * k, MIN_MACS_PER_THREAD));
}

/* The inner dimension k of y = op(a)·op(b). */
static size_t inner(const tg_tensor *a, int ta)
{
    return ta ? a->rows : a->cols;
}

/* db += (a rows)ᵀ·(dy rows), or its transpose when b is used transposed: the sum over the m
 * rows of y of one row of a times one row of dy. a (m x k), dy (m x n). */
static void weight_grad(int tb, size_t m, size_t k, size_t n, const tg_real *a, const tg_real *dy,
                        tg_real *db)
{
    if (tb) /* db (n x k) += dyᵀ·a */
        gemm(1, 0, n, k, m, dy, a, 1, db);
    else /* db (k x n) += aᵀ·dy */
        gemm(1, 0, k, n, m, a, dy, 1, db);
}

/* A parameter's weight-gradient product, put off to the end of backward (matmul's finish). A
 * weight used at every time step gets T products of only B rows each, which BLIS runs far below
 * peak; their sum is one product over the T·B rows stacked, which it runs near peak. The
 * records of one walk form a list, in walk order, kept in the tape's slot for matmul_op. */
typedef struct wgrad {
    struct wgrad *next;
    tg_tensor *b;           /* the parameter (a leaf) */
    int tb;                 /* b is used transposed */
    int done;               /* its product is done */
    const tg_tensor *a, *y; /* a (m x k); y's gradient dy (m x n), kept (tg_keep_grad) */
} wgrad;

typedef struct wgrad_list {
    wgrad *first, *last;
} wgrad_list;

static int same_weight(const wgrad *x, const wgrad *w)
{
    return !x->done && x->b == w->b && x->tb == w->tb;
}

/* Rows of a and dy stacked for one product: about this many at a time (ptb-medium's 700 rows
 * go as two products of 350), so the scratch stays small while each product stays long. */
enum { STACK_ROWS = 512 };

/* The stacked products of w's parameter from w on, through scratch (cap rows of a, then of dy),
 * in products of about STACK_ROWS rows; without scratch, each record where it lies. */
static void stack_weight_grads(const wgrad *w, tg_real *scratch, size_t cap)
{
    size_t k = w->a->cols, n = w->y->cols, rows = 0;
    for (const wgrad *x = w; x; x = x->next)
        if (same_weight(x, w)) rows += x->a->rows;
    size_t chunk = (rows + STACK_ROWS - 1) / STACK_ROWS; /* products */
    chunk = (rows + chunk - 1) / chunk;                  /* rows each */
    tg_real *A = scratch, *DY = scratch ? scratch + cap * k : NULL, *db = w->b->grad;
    size_t at = 0;
    for (wgrad *x = (wgrad *)w; x; x = x->next) {
        if (!same_weight(x, w)) continue;
        size_t m = x->a->rows;
        x->done = 1;
        if (!scratch) {
            weight_grad(w->tb, m, k, n, x->a->val, x->y->grad, db);
            continue;
        }
        memcpy(A + at * k, x->a->val, m * k * sizeof *A);
        memcpy(DY + at * n, x->y->grad, m * n * sizeof *DY);
        if ((at += m) >= chunk) weight_grad(w->tb, at, k, n, A, DY, db), at = 0;
    }
    if (at) weight_grad(w->tb, at, k, n, A, DY, db);
}

/* matmul's finish: every parameter's records as stacked products, through one scratch block
 * that serves all the parameters; a parameter with a lone record (or no scratch: the arena is
 * full) is done where it lies. */
static void finish_weight_grads(tg_tape *t, void *work)
{
    const wgrad_list *l = work;
    size_t width = 0, rec_max = 0, total = 0; /* widest a + dy row; most rows of one record */
    for (const wgrad *w = l->first; w; w = w->next) {
        if (w->a->cols + w->y->cols > width) width = w->a->cols + w->y->cols;
        if (w->a->rows > rec_max) rec_max = w->a->rows;
        total += w->a->rows;
    }
    size_t cap = STACK_ROWS + rec_max < total ? STACK_ROWS + rec_max : total;
    tg_real *scratch = NULL;
    for (wgrad *w = l->first; w; w = w->next) {
        if (w->done) continue;
        int alone = 1;
        for (const wgrad *x = w->next; x && alone; x = x->next) alone = !same_weight(x, w);
        if (!alone && !scratch)
            scratch = tg_tape_alloc(t, cap * width * sizeof *scratch, "tg_matmul");
        stack_weight_grads(w, alone ? NULL : scratch, cap);
    }
}

static const tg_op matmul_op;

/* Queue db's product for finish_weight_grads; 0 when out of memory (then it is done at once). */
static int defer_weight_grad(tg_tape *t, tg_tensor *y, tg_tensor *a, tg_tensor *b, int tb)
{
    void **slot = tg_defer(t, &matmul_op);
    if (slot && !*slot && (*slot = tg_tape_alloc(t, sizeof(wgrad_list), "tg_matmul")))
        *(wgrad_list *)*slot = (wgrad_list){NULL, NULL};
    wgrad *w = slot && *slot ? tg_tape_alloc(t, sizeof *w, "tg_matmul") : NULL;
    if (!w) return 0;
    wgrad_list *l = *slot;
    *w = (wgrad){NULL, b, tb, 0, a, y};
    if (l->last)
        l->last->next = w;
    else
        l->first = w;
    l->last = w;
    tg_keep_grad(t, y); /* finish reads dy after the walk */
    return 1;
}

static void matmul_forward(tg_tape *t, tg_tensor *y) /* y = op(a)·op(b) */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    int ta = (y->iarg & TG_TRANS_A) != 0, tb = (y->iarg & TG_TRANS_B) != 0;
    gemm(ta, tb, y->rows, y->cols, inner(a, ta), a->val, b->val, 0, y->val);
}

/* With op(a) (m x k), op(b) (k x n): d op(a) += dy·op(b)ᵀ and d op(b) += op(a)ᵀ·dy, written
 * for the stored a and b (a stored transposed receives the transpose of its gradient). The
 * gradient of a parameter b (a leaf) from a product of few rows waits for matmul's finish. */
static void matmul_backward(tg_tape *t, tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    int ta = (y->iarg & TG_TRANS_A) != 0, tb = (y->iarg & TG_TRANS_B) != 0;
    size_t m = y->rows, n = y->cols, k = inner(a, ta);
    int db_now = b->grad && !(!b->op && !ta && m > 0 && m < DEFER_MAX_ROWS &&
                              defer_weight_grad(t, y, a, b, tb));
    if (a->grad && !ta) /* da += dy·op(b)ᵀ: dy·bᵀ, or dy·b when b is used transposed */
        gemm(0, !tb, m, k, n, y->grad, b->val, 1, a->grad);
    if (a->grad && ta) /* da += (dy·op(b)ᵀ)ᵀ = op(b)·dyᵀ: b·dyᵀ, or bᵀ·dyᵀ */
        gemm(tb, 1, k, m, n, b->val, y->grad, 1, a->grad);
    if (db_now && !tb) /* db += op(a)ᵀ·dy: aᵀ·dy, or a·dy when a is used transposed */
        gemm(!ta, 0, k, n, m, a->val, y->grad, 1, b->grad);
    if (db_now && tb) /* db += (op(a)ᵀ·dy)ᵀ = dyᵀ·op(a): dyᵀ·a, or dyᵀ·aᵀ */
        gemm(1, ta, n, k, m, y->grad, a->val, 1, b->grad);
}

static const tg_op matmul_op = {
    "tg_matmul", matmul_forward, matmul_backward, finish_weight_grads,
    "matmul: the upstream gradient times the other input, transposed  dA += dY·Bᵀ, dB += Aᵀ·dY"};

/* A row bias's gradient, dc[j] += dy[i][j] for i = 0, 1, ..., m - 1 in that order: BIAS_COLS
 * columns at a time held in registers while i runs, so dc is read and written once, not once a
 * row (the decoder's (400 x 10000) dy of ptb-small, 1 thread, Zen 5: 1.2 -> 0.25-0.4 ms at
 * AVX-512, 0.63 at SSE2). Each column is the same sum in the same order as one row at a time,
 * on any vector width and thread count (threads take whole blocks of columns). */
enum { BIAS_COLS = 256 / sizeof(tg_real) };
typedef tg_real bias_vec __attribute__((vector_size(64)));

TGI_INLINE void bias_block(tg_real *dc, const tg_real *dy, size_t m, size_t n, size_t j0)
{
    enum { Q = BIAS_COLS * sizeof(tg_real) / sizeof(bias_vec) };
    if (n - j0 < BIAS_COLS) { /* the last columns, one row at a time */
        for (size_t i = 0; i < m; i++)
            for (size_t j = j0; j < n; j++) dc[j] += dy[i * n + j];
        return;
    }
    bias_vec acc[Q], x;
    memcpy(acc, dc + j0, sizeof acc);
    for (size_t i = 0; i < m; i++)
        for (size_t q = 0; q < Q; q++) {
            memcpy(&x, dy + i * n + j0 + q * (sizeof x / sizeof(tg_real)), sizeof x);
            acc[q] += x;
        }
    memcpy(dc + j0, acc, sizeof acc);
}

/* bias_block compiled plain, for AVX2 and for AVX-512 (ops/internal.h); bias_grad calls this
 * CPU's (TGI_PICK). Unformatted: clang-format 14 reads the first parameter as `tg_real * dc`. */
// clang-format off
TGI_VERSIONS(void, bias_block, (tg_real *dc, const tg_real *dy, size_t m, size_t n, size_t j0),
             bias_block(dc, dy, m, n, j0);)
// clang-format on

/* dc += the column sums of dy (m x n). This and addmm_forward's bias copy stream the result once:
 * on 2 threads from 2M elements (TGI_STREAM_PER_THREAD: 8 MB, far past a core's L2), ptb-small's
 * (400 x 10000) logits among them (bias copy and sum 1.12-1.19 -> 0.89-1.02 ms a step on 2
 * threads, Zen 5, 2026-12-03). */
static void bias_grad(tg_real *dc, const tg_real *dy, size_t m, size_t n)
{
    bias_block_fn *block = TGI_PICK(bias_block_versions);
    size_t blocks = (n + BIAS_COLS - 1) / BIAS_COLS;
    TGI_PARALLEL_FOR(tgi_threads_for(m * n, TGI_STREAM_PER_THREAD), b, blocks,
                     block(dc, dy, m, n, b * BIAS_COLS));
}

/* addmm's inputs are a, b, c: a and b where matmul has them, so its backward is matmul's. */
static void addmm_forward(tg_tape *t, tg_tensor *y) /* y = c, then y += op(a)·op(b) */
{
    tg_tensor *a = y->in[0], *b = y->in[1], *c = y->in[2];
    int ta = (y->iarg & TG_TRANS_A) != 0, tb = (y->iarg & TG_TRANS_B) != 0;
    TGI_PARALLEL_FOR(tgi_threads_for(tg_numel(y), TGI_STREAM_PER_THREAD), i, y->rows,
                     memcpy(y->val + i * y->cols, c->val + (c->rows == 1 ? 0 : i * y->cols),
                            y->cols * sizeof *y->val));
    gemm(ta, tb, y->rows, y->cols, inner(a, ta), a->val, b->val, 1, y->val);
}

static void addmm_backward(tg_tape *t,
                           tg_tensor *y) /* dc += dy (summed over rows for a (1 x n) c) */
{
    tg_tensor *c = y->in[2];
    if (c->grad && c->rows == 1)
        bias_grad(c->grad, y->grad, y->rows, y->cols);
    else if (c->grad)
        for (size_t i = 0, n = tg_numel(y); i < n; i++) c->grad[i] += y->grad[i];
    matmul_backward(t, y);
}

static const tg_op addmm_op = {
    "tg_addmm", addmm_forward, addmm_backward, NULL,
    "matmul plus bias: the product's rule, and the bias receives the upstream (summed over rows "
    "for a row bias)  dA += dY·Bᵀ, dB += Aᵀ·dY, dc += dY"};

#define MISMATCH "%s: inner dimensions differ: a is " TG_SHAPE ", b is " TG_SHAPE

/* "tg_matmul: inner dimensions differ: a is (..), b is (..)", and with flags which side is
 * transposed and the two inner dimensions it produced. */
static tg_tensor *inner_mismatch(tg_tape *t, const char *name, const tg_tensor *a,
                                 const tg_tensor *b, int ta, int tb)
{
    if (!ta && !tb) return tg_fail(t, MISMATCH, name, TG_DIMS(a), TG_DIMS(b));
    const char *flags = ta && tb ? "TG_TRANS_A | TG_TRANS_B" : ta ? "TG_TRANS_A" : "TG_TRANS_B";
    return tg_fail(t, MISMATCH "; with %s, %s has %zu columns and %s has %zu rows", name,
                   TG_DIMS(a), TG_DIMS(b), flags, ta ? "aᵀ" : "a", inner(a, ta), tb ? "bᵀ" : "b",
                   tb ? b->cols : b->rows);
}

/* The node of op(a)·op(b) (+ c when c is not NULL), its forward run; errors name op. */
static tg_tensor *product(tg_tape *t, const tg_op *op, tg_tensor *c, tg_tensor *a, tg_tensor *b,
                          int flags)
{
    tg_tensor *in[3] = {a, b, c};
    size_t n_in = c ? 3 : 2;
    if (flags & ~(TG_TRANS_A | TG_TRANS_B))
        return tg_fail(t, "%s: unknown flags 0x%x (only TG_TRANS_A, TG_TRANS_B)", op->name,
                       (unsigned)flags);
    int ta = (flags & TG_TRANS_A) != 0, tb = (flags & TG_TRANS_B) != 0;
    if (inner(a, ta) != (tb ? b->cols : b->rows)) return inner_mismatch(t, op->name, a, b, ta, tb);
    size_t m = ta ? a->cols : a->rows, n = tb ? b->rows : b->cols;
    if (c && (c->cols != n || (c->rows != m && c->rows != 1)))
        return tg_fail(t, "tg_addmm: c is " TG_SHAPE " but op(a)·op(b) is (%zu x %zu)", TG_DIMS(c),
                       m, n);
    tg_tensor *y = tg_node(t, op, m, n, n_in, in);
    if (!y) return NULL;
    y->iarg = (size_t)flags;
    op->forward(t, y);
    return y;
}

tg_tensor *tg_matmul(tg_tape *t, tg_tensor *a, tg_tensor *b, int flags)
{
    tg_tensor *in[2] = {a, b};
    if (!tg_check_inputs(t, "tg_matmul", 2, in)) return NULL;
    return product(t, &matmul_op, NULL, a, b, flags);
}

tg_tensor *tg_addmm(tg_tape *t, tg_tensor *c, tg_tensor *a, tg_tensor *b, int flags)
{
    const char *missing = !c ? "c" : !a ? "a" : !b ? "b" : NULL;
    if (missing) return tg_fail(t, "tg_addmm: %s is NULL", missing); /* keeps a first error */
    return product(t, &addmm_op, c, a, b, flags);
}
