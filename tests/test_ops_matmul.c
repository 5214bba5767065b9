/* test_ops_matmul.c: tg_matmul against a naive triple loop (on every BLIS kernel set this CPU
 * can run) and against finite differences, for all four transpose combinations; backward
 * accumulation; the error messages; and the kernel choice (tg_blis_select, tg_blis_config). */
#define _POSIX_C_SOURCE 200809L /* blis.h names pthread_barrier_t */

#include "testutil.h"

#include "ops/internal.h"

#include <blis.h>
#include <stdlib.h>

static const int all_flags[] = {0, TG_TRANS_A, TG_TRANS_B, TG_TRANS_A | TG_TRANS_B};

/* y = op(a)·op(b) with op(a) (m x k), op(b) (k x n). */
static const struct {
    size_t m, k, n;
} shapes[] = {{1, 1, 1},
              {1, 7, 1},
              {1, 3, 6},
              {6, 3, 1},
              {5, 3, 7},
              {7, 1, 4},
              {4, 9, 4},
              {2, 5, 9},
              {9, 5, 2},
              {3, 40, 1},
              {67, 45, 83},
              /* few rows (ops/smallmm.c): tiles of 6 and 12 with remainders, 17-32 rows */
              {20, 37, 203},
              {17, 13, 29},
              {32, 64, 65},
              {6, 200, 129},
              {3, 17, 70},
              {4, 33, 5},
              /* one row (ops/smallmm.c row_nn, row_nt): 16-row groups and 128-column blocks with
                 remainders, k not a multiple of 16 */
              {1, 100, 400},
              {1, 400, 100},
              {1, 37, 203},
              {1, 16, 17},
              /* aᵀ·b with a of few rows (a batch-1 window's weight gradient), in place */
              {400, 25, 100},
              {65, 25, 100},
              {7, 32, 129},
              {3, 1, 5},
              /* k past BLIS's default largest block of k (480 on skx), within tapegrad's
                 (ops/blis.c: 768 on Zen 5): one pass over k there, two elsewhere */
              {70, 700, 45},
              {40, 500, 130}};

/* Element (i, p) of op(x), where op(x) has `cols` columns and x is stored transposed when t. */
static double at(const tg_tensor *x, int t, size_t i, size_t p)
{
    return t ? x->val[p * x->cols + i] : x->val[i * x->cols + p];
}

/* Index in the stored x of element (i, p) of op(x). */
static size_t idx(const tg_tensor *x, int t, size_t i, size_t p)
{
    return t ? p * x->cols + i : i * x->cols + p;
}

static tg_tensor *operand(size_t r, size_t c, int t, tg_rng *rng)
{
    return t ? rand_leaf(c, r, rng, -1, 1) : rand_leaf(r, c, rng, -1, 1);
}

/* Checks y against the naive sum; the bound is relative to sum |terms| (rounding of k terms). */
static void check_product(const tg_tensor *y, const tg_tensor *a, const tg_tensor *b, int flags,
                          size_t k)
{
    int ta = (flags & TG_TRANS_A) != 0, tb = (flags & TG_TRANS_B) != 0;
    for (size_t i = 0; i < y->rows; i++)
        for (size_t j = 0; j < y->cols; j++) {
            double want = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                want += at(a, ta, i, p) * at(b, tb, p, j);
                mag += fabs(at(a, ta, i, p) * at(b, tb, p, j));
            }
            double got = y->val[i * y->cols + j];
            if (!(fabs(got - want) <= VAL_TOL * fmax(1.0, mag)))
                fail_msg("flags %d, (%zu x %zu x %zu): y[%zu][%zu] = %.17g, want %.17g", flags,
                         y->rows, k, y->cols, i, j, got, want);
        }
}

/* A tape whose arena is full of NaN: a product that read its output before writing it (beta = 0
 * must not) would show NaN. */
static tg_tape *tape_of_nans(void)
{
    tg_tape *t = tg_tape_new();
    size_t n = 64 * 64;
    tg_real *nan = malloc(n * sizeof *nan);
    assert_non_null(nan);
    for (size_t i = 0; i < n; i++) nan[i] = NAN;
    assert_non_null(tg_input(t, 64, 64, nan));
    free(nan);
    tg_tape_reset(t);
    return t;
}

/* Every shape (rows or columns few enough for the matrix-vector path, or not) and every flag. */
static void check_forward_all_shapes(void)
{
    tg_rng r;
    tg_rng_seed(&r, 5);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t f = 0; f < 4; f++) {
            int fl = all_flags[f];
            size_t m = shapes[s].m, k = shapes[s].k, n = shapes[s].n;
            tg_tensor *a = operand(m, k, (fl & TG_TRANS_A) != 0, &r);
            tg_tensor *b = operand(k, n, (fl & TG_TRANS_B) != 0, &r);
            tg_tape *t = tape_of_nans();
            tg_tensor *y = tg_matmul(t, a, b, fl);
            assert_non_null(y);
            assert_int_equal(y->rows, m);
            assert_int_equal(y->cols, n);
            check_product(y, a, b, fl, k);
            tg_tape_free(t);
            tg_tensor_free(a);
            tg_tensor_free(b);
        }
}

static void test_matmul_forward_matches_naive_loop_on_every_kernel_set(void **s)
{
    (void)s;
    const char *names[] = {"auto", "skx",     "zen3",        "zen2",
                           "zen",  "haswell", "sandybridge", "generic"};
    int ran_auto = 0, ran_other = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tg_status st = {0};
        int rc = tg_blis_select(names[i], &st);
        if (rc == TG_ECPU || rc == TG_EINVAL) {
            assert_non_null(strstr(st.msg, names[i]));
            continue;
        }
        assert_int_equal(rc, TG_OK);
        if (i > 0) {
            char want[32];
            snprintf(want, sizeof want, "kernels %s ", names[i]);
            if (!strstr(tg_blis_config(), want)) fail_msg("%s: %s", names[i], tg_blis_config());
        }
        check_forward_all_shapes();
        ran_auto |= i == 0;
        ran_other += i > 0;
    }
    assert_int_equal(tg_blis_select("auto", NULL), TG_OK);
    assert_true(ran_auto);
#if defined(__x86_64__)
    /* A static BLIS on x86-64 lets tapegrad choose: at least generic and one more must run. */
    if (strstr(tg_blis_config(), ", static)")) assert_true(ran_other >= 1);
#endif
}

static void test_matmul_handles_empty_dimensions(void **s)
{
    (void)s;
    const size_t cases[][3] = {{0, 3, 4}, {3, 0, 4}, {3, 4, 0}, {0, 0, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t f = 0; f < 4; f++) {
            size_t m = cases[c][0], k = cases[c][1], n = cases[c][2];
            int fl = all_flags[f];
            tg_rng r;
            tg_rng_seed(&r, 3);
            tg_tensor *a = operand(m, k, (fl & TG_TRANS_A) != 0, &r);
            tg_tensor *b = operand(k, n, (fl & TG_TRANS_B) != 0, &r);
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_matmul(t, a, b, fl);
            assert_non_null(y);
            assert_int_equal(y->rows, m);
            assert_int_equal(y->cols, n);
            for (size_t i = 0; i < m * n; i++) assert_true(y->val[i] == 0); /* k == 0: zeros */
            /* Through tg_backward, deferred weight gradients included: dy = 1, and empty
             * products leave every gradient at zero. */
            assert_int_equal(tg_backward(t, tg_sum(t, y)), TG_OK);
            for (size_t i = 0; i < tg_numel(a); i++) assert_true(a->grad[i] == 0);
            for (size_t i = 0; i < tg_numel(b); i++) assert_true(b->grad[i] == 0);
            tg_tape_free(t);
            tg_tensor_free(a);
            tg_tensor_free(b);
        }
}

typedef struct {
    tg_tensor *a, *b, *w;
    int flags;
} ctx;

/* loss = sum(matmul(a, b, flags) ⊙ w): each output element gets its own gradient w. */
static tg_tensor *weighted(tg_tape *t, void *p)
{
    ctx *c = p;
    return tg_sum(t, tg_mul(t, tg_matmul(t, c->a, c->b, c->flags), c->w));
}

static void test_matmul_backward_matches_finite_differences(void **s)
{
    (void)s;
    const size_t sizes[][3] = {{3, 4, 5}, {1, 3, 2}, {4, 1, 3}, {6, 5, 1}};
    tg_rng r;
    tg_rng_seed(&r, 17);
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (size_t f = 0; f < 4; f++) {
            size_t m = sizes[z][0], k = sizes[z][1], n = sizes[z][2];
            int fl = all_flags[f];
            int ta = (fl & TG_TRANS_A) != 0, tb = (fl & TG_TRANS_B) != 0;
            ctx c = {operand(m, k, ta, &r), operand(k, n, tb, &r), rand_leaf(m, n, &r, -1, 1), fl};
            tg_tensor *xs[] = {c.a, c.b};
            assert_gradcheck(weighted, &c, xs, 2);
            tg_tensor_free(c.a);
            tg_tensor_free(c.b);
            tg_tensor_free(c.w);
        }
}

typedef struct {
    tg_tensor *c, *a, *b, *w;
    int flags;
} addmm_ctx;

/* loss = sum(addmm(c, a, b, flags) ⊙ w). */
static tg_tensor *weighted_addmm(tg_tape *t, void *p)
{
    addmm_ctx *x = p;
    return tg_sum(t, tg_mul(t, tg_addmm(t, x->c, x->a, x->b, x->flags), x->w));
}

/* addmm equals c (or the c row, on every row) plus the naive product, and its gradients
 * (c's summed over rows when broadcast) match finite differences, for every flag and for
 * shapes on both product paths (few rows: matrix-vector; more: BLIS's gemm). */
static void test_addmm_matches_c_plus_the_product_and_finite_differences(void **s)
{
    (void)s;
    const size_t sizes[][3] = {{3, 4, 5}, {1, 3, 6}, {7, 5, 2}, {9, 4, 8}};
    tg_rng r;
    tg_rng_seed(&r, 41);
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (size_t f = 0; f < 4; f++)
            for (int row = 0; row < 2; row++) {
                size_t m = sizes[z][0], k = sizes[z][1], n = sizes[z][2];
                int fl = all_flags[f], ta = (fl & TG_TRANS_A) != 0, tb = (fl & TG_TRANS_B) != 0;
                addmm_ctx x = {rand_leaf(row ? 1 : m, n, &r, -1, 1), operand(m, k, ta, &r),
                               operand(k, n, tb, &r), rand_leaf(m, n, &r, -1, 1), fl};
                tg_tape *t = tape_of_nans();
                tg_tensor *y = tg_addmm(t, x.c, x.a, x.b, fl);
                assert_non_null(y);
                tg_tape *u = tg_tape_new();
                tg_tensor *p = tg_matmul(u, x.a, x.b, fl);
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < n; j++) {
                        tg_real want = p->val[i * n + j] + x.c->val[(row ? 0 : i) * n + j];
                        assert_close(&y->val[i * n + j], &want, 1, VAL_TOL * 10);
                    }
                tg_tape_free(u);
                tg_tape_free(t);
                tg_tensor *xs[] = {x.c, x.a, x.b};
                assert_gradcheck(weighted_addmm, &x, xs, 3);
                tg_tensor_free(x.c);
                tg_tensor_free(x.a);
                tg_tensor_free(x.b);
                tg_tensor_free(x.w);
            }
}

/* A row bias's gradient is each column's sum over the rows, added in row order into the float
 * gradient (ops/matmul.c sums blocks of columns in registers): the same bits as that loop on
 * every vector width and on 1 and 2 threads, with a partial last block of columns. The values,
 * copied from a row bias or from a whole c on the same threads, are c + a·b, with the same bits
 * on 1 and 2 threads. */
static void test_addmm_row_bias_gradient_is_the_columns_sums_in_row_order(void **s)
{
    (void)s;
    const size_t m = 1025, k = 1, n = 4 * 1024 + 5; /* 2 threads' worth, and a ragged end */
    tg_rng r;
    tg_rng_seed(&r, 43);
    tg_tensor *c = rand_leaf(1, n, &r, -1, 1), *a = rand_leaf(m, k, &r, -1, 1),
              *b = rand_leaf(k, n, &r, -1, 1), *w = rand_leaf(m, n, &r, -1, 1),
              *cf = rand_leaf(m, n, &r, -1, 1);
    tg_real *want = malloc(n * sizeof *want), *vals = malloc(2 * m * n * sizeof *vals);
    tg_real *row = malloc(m * n * sizeof *row), *full = malloc(m * n * sizeof *full);
    assert_true(want && vals && row && full);
    for (size_t j = 0; j < n; j++) want[j] = (tg_real)0.25; /* what the gradient held before */
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            want[j] += w->val[i * n + j];
            row[i * n + j] = c->val[j] + a->val[i] * b->val[j]; /* k = 1 */
            full[i * n + j] = cf->val[i * n + j] + a->val[i] * b->val[j];
        }
    for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++)
        for (int threads = 1; threads <= 2; threads++) {
            tgi_simd_cap(level);
            tg_set_num_threads(threads);
            assert_int_equal(tgi_threads_for(m * n, TGI_STREAM_PER_THREAD), threads);
            for (size_t j = 0; j < n; j++) c->grad[j] = (tg_real)0.25;
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_addmm(t, c, a, b, 0), *yf = tg_addmm(t, cf, a, b, 0);
            assert_true(y && yf);
            assert_close(y->val, row, m * n, 1e-6);
            assert_close(yf->val, full, m * n, 1e-6);
            if (threads == 1) { /* what 2 threads must give */
                memcpy(vals, y->val, m * n * sizeof *vals);
                memcpy(vals + m * n, yf->val, m * n * sizeof *vals);
            } else {
                assert_memory_equal(y->val, vals, m * n * sizeof *vals);
                assert_memory_equal(yf->val, vals + m * n, m * n * sizeof *vals);
            }
            tg_backward(t, tg_sum(t, tg_mul(t, y, w)));
            assert_memory_equal(c->grad, want, n * sizeof *want);
            tg_tape_free(t);
        }
    tgi_simd_cap(-1);
    tg_set_num_threads(0);
    free(want), free(vals), free(row), free(full);
    tg_tensor_free(cf);
    tg_tensor_free(c);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(w);
}

static void test_addmm_rejects_a_c_of_another_shape_and_names_missing_inputs(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_input(t, 3, 4, NULL), *b = tg_input(t, 4, 5, NULL);
    assert_null(tg_addmm(t, tg_input(t, 2, 5, NULL), a, b, 0));
    assert_error_has(t, "tg_addmm", "c is (2 x 5)", "(3 x 5)", NULL);
    tg_tape_reset(t);
    a = tg_input(t, 3, 4, NULL), b = tg_input(t, 4, 5, NULL);
    assert_null(tg_addmm(t, tg_input(t, 1, 4, NULL), a, b, 0));
    assert_error_has(t, "tg_addmm", "c is (1 x 4)", NULL);
    tg_tape_reset(t);
    assert_null(tg_addmm(t, tg_input(t, 1, 5, NULL), a = tg_input(t, 3, 4, NULL),
                         tg_input(t, 3, 5, NULL), 0));
    assert_error_has(t, "tg_addmm", "inner dimensions differ", "(3 x 4)", "(3 x 5)", NULL);
    const char *missing[] = {"c is NULL", "a is NULL", "b is NULL"};
    for (int i = 0; i < 3; i++) {
        tg_tape_reset(t);
        tg_tensor *c = tg_input(t, 1, 5, NULL);
        a = tg_input(t, 3, 4, NULL), b = tg_input(t, 4, 5, NULL);
        assert_null(tg_addmm(t, i == 0 ? NULL : c, i == 1 ? NULL : a, i == 2 ? NULL : b, 0));
        assert_error_has(t, missing[i], NULL);
    }
    tg_tape_free(t);
}

static void test_matmul_of_a_tensor_with_its_own_transpose_matches_finite_differences(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 23);
    tg_tensor *x = rand_leaf(4, 3, &r, -1, 1);
    ctx c = {x, x, rand_leaf(4, 4, &r, -1, 1), TG_TRANS_B}; /* x·xᵀ: two gradients into x */
    assert_gradcheck(weighted, &c, &x, 1);
    ctx d = {x, x, rand_leaf(3, 3, &r, -1, 1), TG_TRANS_A}; /* xᵀ·x */
    assert_gradcheck(weighted, &d, &x, 1);
    tg_tensor_free(x);
    tg_tensor_free(c.w);
    tg_tensor_free(d.w);
}

static void test_matmul_backward_adds_to_gradients_already_there(void **s)
{
    (void)s;
    const double g0 = 0.5;
    const size_t m = 5, k = 3, n = 7;
    tg_rng r;
    tg_rng_seed(&r, 29);
    for (size_t f = 0; f < 4; f++) {
        int fl = all_flags[f], ta = (fl & TG_TRANS_A) != 0, tb = (fl & TG_TRANS_B) != 0;
        ctx c = {operand(m, k, ta, &r), operand(k, n, tb, &r), rand_leaf(m, n, &r, -1, 1), fl};
        for (size_t i = 0; i < m * k; i++) c.a->grad[i] = (tg_real)g0;
        for (size_t i = 0; i < k * n; i++) c.b->grad[i] = (tg_real)g0;
        tg_tape *t = tg_tape_new();
        assert_int_equal(tg_backward(t, weighted(t, &c)), TG_OK);
        /* dy = w, so d op(a) = w·op(b)ᵀ and d op(b) = op(a)ᵀ·w, on top of g0. */
        for (size_t i = 0; i < m; i++)
            for (size_t p = 0; p < k; p++) {
                double want = g0;
                for (size_t j = 0; j < n; j++) want += c.w->val[i * n + j] * at(c.b, tb, p, j);
                tg_real w = (tg_real)want;
                assert_close(&c.a->grad[idx(c.a, ta, i, p)], &w, 1, VAL_TOL * 10);
            }
        for (size_t p = 0; p < k; p++)
            for (size_t j = 0; j < n; j++) {
                double want = g0;
                for (size_t i = 0; i < m; i++) want += at(c.a, ta, i, p) * c.w->val[i * n + j];
                tg_real w = (tg_real)want;
                assert_close(&c.b->grad[idx(c.b, tb, p, j)], &w, 1, VAL_TOL * 10);
            }
        tg_tape_free(t);
        tg_tensor_free(c.a);
        tg_tensor_free(c.b);
        tg_tensor_free(c.w);
    }
}

/* A weight used by several products (a recurrent W_hh at every step): its gradient is queued
 * by each backward and computed at the end as one product over all their rows. It must equal
 * the sum of the per-product gradients, Σ op(x_i)ᵀ·dy_i, with or without the transpose. */
static void test_weight_used_by_many_products_gets_the_sum_of_their_gradients(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 31);
    enum { N = 5, B = 3, K = 4, O = 6 };
    for (int tb = 0; tb < 2; tb++) {
        tg_tensor *W = tb ? rand_leaf(O, K, &r, -1, 1) : rand_leaf(K, O, &r, -1, 1);
        tg_tensor *x[N], *w[N];
        tg_tape *t = tg_tape_new();
        tg_tensor *loss = NULL;
        for (int i = 0; i < N; i++) {
            x[i] = rand_leaf(B, K, &r, -1, 1);
            w[i] = rand_leaf(B, O, &r, -1, 1); /* dy_i = w_i */
            tg_tensor *l = tg_sum(t, tg_mul(t, tg_matmul(t, x[i], W, tb ? TG_TRANS_B : 0), w[i]));
            loss = loss ? tg_add(t, loss, l) : l;
        }
        assert_int_equal(tg_backward(t, loss), TG_OK);
        for (size_t p = 0; p < K; p++)
            for (size_t q = 0; q < O; q++) {
                double want = 0; /* dW[p][q] = Σ_i Σ_b x_i[b][p] · dy_i[b][q] */
                for (int i = 0; i < N; i++)
                    for (size_t b = 0; b < B; b++)
                        want += x[i]->val[b * K + p] * w[i]->val[b * O + q];
                tg_real got = W->grad[tb ? q * K + p : p * O + q], wr = (tg_real)want;
                assert_close(&got, &wr, 1, VAL_TOL * 10);
            }
        for (int i = 0; i < N; i++) { /* the inputs' gradients are unaffected: dx_i = dy_i·op(W)ᵀ */
            for (size_t b = 0; b < B; b++)
                for (size_t p = 0; p < K; p++) {
                    double want = 0;
                    for (size_t q = 0; q < O; q++)
                        want += w[i]->val[b * O + q] * W->val[tb ? q * K + p : p * O + q];
                    tg_real wr = (tg_real)want;
                    assert_close(&x[i]->grad[b * K + p], &wr, 1, VAL_TOL * 10);
                }
            tg_tensor_free(x[i]);
            tg_tensor_free(w[i]);
        }
        tg_tape_free(t);
        tg_tensor_free(W);
    }
}

static void test_matmul_rejects_inner_dimensions_that_differ(void **s)
{
    (void)s;
    /* stored shapes of a and b; each pair fits under some other flags, never under its own */
    const struct {
        size_t ar, ac, br, bc;
        int flags;
        const char *flag_name;
    } bad[] = {
        {32, 165, 400, 165, 0, NULL},
        {165, 32, 400, 165, TG_TRANS_A, "TG_TRANS_A"},
        {32, 165, 165, 400, TG_TRANS_B, "TG_TRANS_B"},
        {165, 32, 32, 400, TG_TRANS_A | TG_TRANS_B, "TG_TRANS_A | TG_TRANS_B"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_tape *t = tg_tape_new();
        tg_tensor *a = tg_input(t, bad[i].ar, bad[i].ac, NULL);
        tg_tensor *b = tg_input(t, bad[i].br, bad[i].bc, NULL);
        assert_null(tg_matmul(t, a, b, bad[i].flags));
        char sa[64], sb[64];
        snprintf(sa, sizeof sa, "a is (%zu x %zu)", bad[i].ar, bad[i].ac);
        snprintf(sb, sizeof sb, "b is (%zu x %zu)", bad[i].br, bad[i].bc);
        assert_error_has(t, "tg_matmul", "inner dimensions differ", sa, sb, NULL);
        if (bad[i].flag_name)
            assert_error_has(t, bad[i].flag_name, NULL);
        else
            assert_null(strstr(tg_tape_error(t), "TG_TRANS"));
        tg_tape_free(t);
    }
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_input(t, 2, 2, NULL);
    assert_null(tg_matmul(t, a, a, 4));
    assert_error_has(t, "tg_matmul", "unknown flags", NULL);
    tg_tape_free(t);
}

static void test_matmul_passes_null_through_and_keeps_the_first_error(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_input(t, 2, 3, NULL), *b = tg_input(t, 4, 5, NULL);
    tg_tensor *bad = tg_matmul(t, a, b, 0);
    assert_null(bad);
    assert_null(tg_matmul(t, bad, a, 0));
    assert_null(tg_matmul(t, a, bad, TG_TRANS_B));
    assert_error_has(t, "tg_matmul", "(2 x 3)", "(4 x 5)", NULL);
    tg_tape_free(t);
}

static void test_blis_select_rejects_unknown_and_unchecked_kernel_sets(void **s)
{
    (void)s;
    char before[320];
    snprintf(before, sizeof before, "%s", tg_blis_config());
    tg_status st = {0};
    assert_int_equal(tg_blis_select("nonsense", &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_blis_select", "\"nonsense\"", "skx zen3", NULL);
    /* registered, but not checked */
    assert_int_equal(tg_blis_select("bulldozer", &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "\"bulldozer\" is not a kernel set", NULL);
    assert_int_equal(tg_blis_select("skx\033[2J", &st),
                     TG_EINVAL); /* no escape reaches a terminal */
    assert_status_has(&st, TG_EINVAL, "\"skx?[2J\" is not", NULL);
    assert_int_equal(tg_blis_select(NULL, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_blis_select: the name is NULL", NULL);
    assert_string_equal(tg_blis_config(), before); /* the choice is unchanged */
    assert_int_equal(tg_blis_select("auto", NULL), TG_OK);
}

static void test_blis_config_names_blis_the_kernels_and_the_threads(void **s)
{
    (void)s;
    const char *c = tg_blis_config();
    assert_non_null(strstr(c, "BLIS"));
    assert_non_null(strstr(c, "kernels"));
    assert_non_null(strstr(c, "threads"));
    tg_set_num_threads(2);
    assert_non_null(strstr(tg_blis_config(), "threads 2"));
    tg_set_num_threads(0);
    assert_non_null(strstr(tg_blis_config(), "threads 1")); /* the tests set BLIS_NUM_THREADS=1 */
}

/* tapegrad's context (ops/blis.c) is BLIS's for the same kernels, with the same kernels and
 * blocksizes except the one tg_blis_config names: the largest block of k for floats. */
static void test_blis_context_is_blis_own_but_for_the_blocksize_the_config_names(void **s)
{
    (void)s;
    const char *names[] = {"auto", "skx", "zen3", "haswell", "generic"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (tg_blis_select(names[i], NULL) != TG_OK) continue;
        cntx_t *own = tgi_blis_context(), *stock = tgi_blis_stock_context();
        if (!stock) { /* a shared BLIS, or not x86-64: BLIS's default context */
            assert_null(own);
            continue;
        }
        assert_non_null(own);
        assert_ptr_not_equal(own, stock);
        const char *kc = strstr(tg_blis_config(), "KC up to ");
        dim_t stock_max = bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, stock);
        dim_t want = kc ? (dim_t)atol(kc + strlen("KC up to ")) : stock_max;
        assert_true(want >= bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, stock));
        assert_int_equal(bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, own), want);
        blksz_t blk[BLIS_NUM_BLKSZS];
        memcpy(blk, own->blkszs, sizeof blk);
        bli_blksz_set_max(stock_max, BLIS_FLOAT, &blk[BLIS_KC]);
        assert_memory_equal(blk, stock->blkszs, sizeof blk);
        assert_memory_equal(own->bmults, stock->bmults, sizeof own->bmults);
        assert_memory_equal(own->l3_nat_ukrs, stock->l3_nat_ukrs, sizeof own->l3_nat_ukrs);
        assert_memory_equal(own->l3_sup_kers, stock->l3_sup_kers, sizeof own->l3_sup_kers);
        assert_memory_equal(own->l3_sup_blkszs, stock->l3_sup_blkszs, sizeof own->l3_sup_blkszs);
        assert_memory_equal(own->l3_sup_thresh, stock->l3_sup_thresh, sizeof own->l3_sup_thresh);
        assert_memory_equal(own->packm_kers, stock->packm_kers, sizeof own->packm_kers);
        assert_memory_equal(own->l1v_kers, stock->l1v_kers, sizeof own->l1v_kers);
        assert_memory_equal(own->l1f_kers, stock->l1f_kers, sizeof own->l1f_kers);
    }
    assert_int_equal(tg_blis_select("auto", NULL), TG_OK);
}

/* The values of op(a)·op(b) by tg_matmul, checked against the naive loop (the caller frees). */
static tg_real *product_values(tg_tensor *a, tg_tensor *b, int flags, size_t k)
{
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_matmul(t, a, b, flags);
    assert_non_null(y);
    check_product(y, a, b, flags, k);
    size_t size = y->rows * y->cols * sizeof(tg_real);
    tg_real *out = malloc(size);
    assert_non_null(out);
    memcpy(out, y->val, size);
    tg_tape_free(t);
    return out;
}

/* A product whose k fits one of tapegrad's blocks but not BLIS's (ops/blis.c), every flag, on
 * one and two threads: the bits are the same (BLIS splits rows and columns between threads,
 * never k). */
static void test_products_of_long_k_give_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 43);
    size_t m = 96, k = 700, n = 130;
    for (size_t f = 0; f < 4; f++) {
        int fl = all_flags[f];
        tg_tensor *a = operand(m, k, (fl & TG_TRANS_A) != 0, &r);
        tg_tensor *b = operand(k, n, (fl & TG_TRANS_B) != 0, &r);
        tg_real *out[2];
        for (int th = 0; th < 2; th++) {
            tg_set_num_threads(th + 1);
            out[th] = product_values(a, b, fl, k);
        }
        tg_set_num_threads(0);
        assert_memory_equal(out[0], out[1], m * n * sizeof(tg_real));
        free(out[0]), free(out[1]);
        tg_tensor_free(a);
        tg_tensor_free(b);
    }
}

/* A per-step product of few rows (ops/smallmm.c on AVX-512, else BLIS) split between two
 * threads gives the bits of one thread, forward and both backward products. */
static void test_products_of_few_rows_give_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 41);
    for (int tb = 0; tb < 2; tb++) {
        size_t m = 20, k = 200, n = 803;
        tg_tensor *a = rand_leaf(m, k, &r, -1, 1);
        tg_tensor *b = tb ? rand_leaf(n, k, &r, -1, 1) : rand_leaf(k, n, &r, -1, 1);
        tg_tensor *w = rand_leaf(m, n, &r, -1, 1);
        tg_real *out[2][2];
        for (int th = 0; th < 2; th++) {
            tg_set_num_threads(th + 1);
            memset(a->grad, 0, m * k * sizeof *a->grad);
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_matmul(t, a, b, tb ? TG_TRANS_B : 0);
            assert_non_null(y);
            check_product(y, a, b, tb ? TG_TRANS_B : 0, k);
            out[th][0] = malloc(m * n * sizeof(tg_real));
            memcpy(out[th][0], y->val, m * n * sizeof(tg_real));
            assert_int_equal(tg_backward(t, tg_sum(t, tg_mul(t, y, w))), TG_OK);
            out[th][1] = malloc(m * k * sizeof(tg_real));
            memcpy(out[th][1], a->grad, m * k * sizeof(tg_real));
            tg_tape_free(t);
        }
        tg_set_num_threads(0);
        assert_memory_equal(out[0][0], out[1][0], m * n * sizeof(tg_real));
        assert_memory_equal(out[0][1], out[1][1], m * k * sizeof(tg_real));
        for (int th = 0; th < 2; th++) free(out[th][0]), free(out[th][1]);
        tg_tensor_free(a);
        tg_tensor_free(b);
        tg_tensor_free(w);
    }
}

/* Products of more rows than a per-step product but few columns and a short k run in place in
 * bands of rows (ops/smallmm.c) where BLIS's 32-row micro-panels would pad the columns: a·b and
 * aᵀ·b with several bands and a partial one, a partial block of columns, and at the limits
 * (33 rows, 5 and 256 columns) give the naive product, and the same bits on 1 and 2 threads. */
static void test_tall_products_of_few_columns_give_the_same_bits_on_1_and_2_threads(void **s)
{
    (void)s;
    const size_t shapes[][3] = {{300, 70, 100}, {33, 300, 256}, {410, 64, 5}, {1000, 33, 17}};
    tg_rng r;
    tg_rng_seed(&r, 47);
    for (size_t z = 0; z < sizeof shapes / sizeof shapes[0]; z++)
        for (int ta = 0; ta < 2; ta++) {
            size_t m = shapes[z][0], k = shapes[z][1], n = shapes[z][2];
            int flags = ta ? TG_TRANS_A : 0;
            tg_tensor *a = operand(m, k, ta, &r), *b = rand_leaf(k, n, &r, -1, 1);
            tg_real *out[2];
            for (int th = 0; th < 2; th++) {
                tg_set_num_threads(th + 1);
                tg_tape *t = tape_of_nans();
                tg_tensor *y = tg_matmul(t, a, b, flags);
                assert_non_null(y);
                check_product(y, a, b, flags, k);
                out[th] = malloc(m * n * sizeof(tg_real));
                assert_non_null(out[th]);
                memcpy(out[th], y->val, m * n * sizeof(tg_real));
                tg_tape_free(t);
            }
            tg_set_num_threads(0);
            assert_memory_equal(out[0], out[1], m * n * sizeof(tg_real));
            free(out[0]), free(out[1]);
            tg_tensor_free(a);
            tg_tensor_free(b);
        }
}

/* ops/blis.c's packing kernel for 32-row panels gives the bits of BLIS's own (the context's
 * fallback for 32 rows) on every panel a product can ask for: fewer rows than 32 (zeros below),
 * columns past the edge (zeros), rows strided with k contiguous (transposed in 16 x 16 tiles,
 * odd strides, k tails) or columns contiguous (copied), other strides (BLIS's code), and a kappa
 * other than 1. Every entry of the panel is written: it starts as NaN. */
static void test_packer_gives_the_panels_of_blis_own_code(void **s)
{
    (void)s;
#ifndef TG_DOUBLE
    tgi_fn fn = tgi_blis_packer();
    if (!fn) skip();
    spackm_ker_ft pack = (spackm_ker_ft)fn;
    cntx_t *cx = tgi_blis_context();
    static const dim_t dims[] = {1, 5, 15, 16, 17, 31, 32}, lens[] = {1, 7, 16, 17, 33, 650};
    static const float kappas[] = {1.0f, -0.7f};
    size_t cap = 45000;
    float *c = malloc(cap * sizeof *c), *got = malloc(32 * 700 * sizeof *got),
          *want = malloc(32 * 700 * sizeof *want);
    assert_non_null(c), assert_non_null(got), assert_non_null(want);
    tg_rng r;
    tg_rng_seed(&r, 47);
    for (size_t i = 0; i < cap; i++) c[i] = (float)(2 * tg_rng_uniform(&r) - 1);
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
            for (int layout = 0; layout < 3; layout++)
                for (int extra = 0; extra < 2; extra++)
                    for (size_t kp = 0; kp < 2; kp++) {
                        dim_t dim = dims[d], len = lens[l], len_max = len + 3 * extra;
                        /* 0: k contiguous, rows 651 or 37 apart; 1: rows contiguous; 2: neither */
                        inc_t incc = layout == 0 ? (len > 33 ? 651 : 37) : layout == 1 ? 1 : 2;
                        inc_t ldc = layout == 0 ? 1 : layout == 1 ? 33 : 67;
                        float kappa = kappas[kp];
                        for (size_t i = 0; i < 32 * 700; i++) got[i] = want[i] = NAN;
                        pack(BLIS_GENERAL, BLIS_NONUNIT_DIAG, BLIS_DENSE, BLIS_NO_CONJUGATE,
                             BLIS_PACKED_ROW_PANELS, false, dim, len, 32, len_max, 0, 0, &kappa, c,
                             incc, ldc, got, 32, 32 * len_max, cx, NULL);
                        bli_spackm_struc_cxk(BLIS_GENERAL, BLIS_NONUNIT_DIAG, BLIS_DENSE,
                                             BLIS_NO_CONJUGATE, BLIS_PACKED_ROW_PANELS, false, dim,
                                             len, 32, len_max, 0, 0, &kappa, c, incc, ldc, want, 32,
                                             32 * len_max, cx);
                        for (size_t i = 0; i < (size_t)(32 * len_max); i++)
                            if (memcmp(&got[i], &want[i], sizeof got[i]) != 0)
                                fail_msg("%ld rows, %ld of %ld columns, strides %ld %ld, kappa "
                                         "%g: p[%zu] = %g, BLIS %g",
                                         (long)dim, (long)len, (long)len_max, (long)incc, (long)ldc,
                                         kappa, i, got[i], want[i]);
                        for (size_t i = 32 * len_max; i < 32 * 700; i++) assert_true(isnan(got[i]));
                    }
    free(c), free(got), free(want);
#else
    skip();
#endif
}

/* Products of every flag whose operands give 32-row panels of every kind (odd sizes, rows past
 * the last whole panel, k past a block): the same bits with ops/blis.c's packer as with BLIS's
 * own packing, and the naive loop's value. */
static void test_products_give_the_same_bits_with_and_without_the_packer(void **s)
{
    (void)s;
    if (!tgi_blis_fast_pack(-1)) skip();
    static const struct {
        size_t m, k, n;
    } sizes[] = {{67, 45, 83}, {33, 17, 200}, {200, 33, 41}, {97, 651, 131}, {45, 800, 70}};
    tg_rng r;
    tg_rng_seed(&r, 53);
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (size_t f = 0; f < 4; f++) {
            int fl = all_flags[f];
            size_t m = sizes[z].m, k = sizes[z].k, n = sizes[z].n;
            tg_tensor *a = operand(m, k, (fl & TG_TRANS_A) != 0, &r);
            tg_tensor *b = operand(k, n, (fl & TG_TRANS_B) != 0, &r);
            tg_real *out[2];
            for (int on = 0; on < 2; on++) {
                tgi_blis_fast_pack(!on);
                out[on] = product_values(a, b, fl, k);
            }
            tgi_blis_fast_pack(1);
            assert_memory_equal(out[0], out[1], m * n * sizeof(tg_real));
            free(out[0]), free(out[1]);
            tg_tensor_free(a);
            tg_tensor_free(b);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_forward_matches_naive_loop_on_every_kernel_set),
        cmocka_unit_test(test_matmul_handles_empty_dimensions),
        cmocka_unit_test(test_matmul_backward_matches_finite_differences),
        cmocka_unit_test(test_matmul_of_a_tensor_with_its_own_transpose_matches_finite_differences),
        cmocka_unit_test(test_addmm_matches_c_plus_the_product_and_finite_differences),
        cmocka_unit_test(test_addmm_row_bias_gradient_is_the_columns_sums_in_row_order),
        cmocka_unit_test(test_addmm_rejects_a_c_of_another_shape_and_names_missing_inputs),
        cmocka_unit_test(test_matmul_backward_adds_to_gradients_already_there),
        cmocka_unit_test(test_weight_used_by_many_products_gets_the_sum_of_their_gradients),
        cmocka_unit_test(test_matmul_rejects_inner_dimensions_that_differ),
        cmocka_unit_test(test_matmul_passes_null_through_and_keeps_the_first_error),
        cmocka_unit_test(test_blis_select_rejects_unknown_and_unchecked_kernel_sets),
        cmocka_unit_test(test_blis_config_names_blis_the_kernels_and_the_threads),
        cmocka_unit_test(test_products_of_few_rows_give_the_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_tall_products_of_few_columns_give_the_same_bits_on_1_and_2_threads),
        cmocka_unit_test(test_blis_context_is_blis_own_but_for_the_blocksize_the_config_names),
        cmocka_unit_test(test_products_of_long_k_give_the_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_packer_gives_the_panels_of_blis_own_code),
        cmocka_unit_test(test_products_give_the_same_bits_with_and_without_the_packer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
