/* test_ops_loss.c: tg_softmax_xent against a direct -log(exp(z_t) / sum exp(z)) in double,
 * against finite differences, on huge logits, on one thread and two, and every error it
 * reports. */
#include "testutil.h"

#include "ops/internal.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    size_t n, V;
    int32_t targets[5];
} cases[] = {
    {1, 1, {0}},             /* 1 x 1: the loss is 0 */
    {1, 6, {4}},             /* 1 x V */
    {3, 5, {0, 4, 2}},       /* non-square, n > 1 */
    {5, 2, {1, 0, 1, 1, 0}}, /* more rows than classes */
    {4, 4, {3, 3, 0, 1}},    /* square, a repeated target */
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

/* The textbook formula, with no max subtraction: fine for logits of moderate size. */
static double reference(const tg_tensor *z, const int32_t *targets)
{
    double total = 0;
    for (size_t i = 0; i < z->rows; i++) {
        double s = 0;
        for (size_t j = 0; j < z->cols; j++) s += exp((double)z->val[i * z->cols + j]);
        total += -log(exp((double)z->val[i * z->cols + (size_t)targets[i]]) / s);
    }
    return total / (double)z->rows;
}

static void test_softmax_xent_forward_matches_the_direct_formula(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 13);
    for (size_t c = 0; c < N_CASES; c++) {
        tg_tensor *z = rand_leaf(cases[c].n, cases[c].V, &r, -3, 3);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_softmax_xent(t, z, cases[c].targets, cases[c].n);
        assert_non_null(y);
        assert_int_equal(y->rows, 1);
        assert_int_equal(y->cols, 1);
        tg_real want = (tg_real)reference(z, cases[c].targets);
        assert_close(y->val, &want, 1, VAL_TOL);
        tg_tape_free(t);
        tg_tensor_free(z);
    }
}

/* With d(loss) = 1, n·dz + onehot(t) is the softmax p that backward recomputes: every p is in
 * [0, 1] and each row sums to one. */
static void test_softmax_xent_backward_recomputes_probabilities_that_sum_to_one(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 17);
    tg_tensor *z = rand_leaf(3, 5, &r, -3, 3);
    const int32_t targets[] = {1, 2, 3};
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_softmax_xent(t, z, targets, 3);
    assert_non_null(y);
    assert_int_equal(tg_backward(t, y), TG_OK);
    for (size_t i = 0; i < 3; i++) {
        double sum = 0;
        for (size_t j = 0; j < 5; j++) {
            double p = 3 * (double)z->grad[i * 5 + j] + (j == (size_t)targets[i]);
            assert_true(p >= -VAL_TOL && p <= 1 + VAL_TOL);
            sum += p;
        }
        tg_real got = (tg_real)sum, one = 1;
        assert_close(&got, &one, 1, VAL_TOL * 10);
    }
    tg_tape_free(t);
    tg_tensor_free(z);
}

static void test_softmax_xent_is_finite_and_right_for_logits_of_ten_thousand(void **s)
{
    (void)s;
    tg_tensor *z = tg_tensor_new(2, 3, 1);
    const tg_real v[] = {1e4, -1e4, 0, -1e4, 1e4, 1e4};
    memcpy(z->val, v, sizeof v);
    const int32_t targets[] = {1, 0}; /* the worst class of each row */
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_softmax_xent(t, z, targets, 2);
    assert_non_null(y);
    assert_true(isfinite(y->val[0]));
    /* row 0: lse = 1e4, loss 2e4; row 1: lse = 1e4 + log 2, loss 2e4 + log 2. */
    tg_real want = (tg_real)((2e4 + 2e4 + log(2.0)) / 2);
    assert_close(y->val, &want, 1, VAL_TOL);
    assert_int_equal(tg_backward(t, y), TG_OK);
    for (size_t i = 0; i < 6; i++) assert_true(isfinite(z->grad[i]));
    tg_tape_free(t);
    tg_tensor_free(z);
}

typedef struct {
    tg_tensor *z, *w;
    const int32_t *targets;
    size_t n;
} ctx;

/* loss = xent(z) * w, with w (1 x 1) not 1, so backward must use dloss. */
static tg_tensor *scaled(tg_tape *t, void *p)
{
    ctx *c = p;
    return tg_mul(t, tg_softmax_xent(t, c->z, c->targets, c->n), c->w);
}

static void test_softmax_xent_backward_matches_finite_differences(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 19);
    for (size_t c = 0; c < N_CASES; c++) {
        ctx x = {rand_leaf(cases[c].n, cases[c].V, &r, -3, 3), rand_leaf(1, 1, &r, 0.5, 2),
                 cases[c].targets, cases[c].n};
        assert_gradcheck(scaled, &x, &x.z, 1);
        tg_tensor_free(x.z);
        tg_tensor_free(x.w);
    }
}

static void test_softmax_xent_rejects_logits_with_a_row_count_other_than_n(void **s)
{
    (void)s;
    const int32_t targets[] = {0, 1};
    tg_tape *t = tg_tape_new();
    tg_tensor *z = tg_input(t, 3, 5, NULL);
    assert_null(tg_softmax_xent(t, z, targets, 2));
    assert_error_has(t, "tg_softmax_xent", "(3 x 5)", "n = 2", NULL);
    tg_tape_free(t);
}

static void test_softmax_xent_rejects_a_target_past_the_last_class(void **s)
{
    (void)s;
    const int32_t targets[] = {0, 5};
    tg_tape *t = tg_tape_new();
    tg_tensor *z = tg_input(t, 2, 5, NULL);
    assert_null(tg_softmax_xent(t, z, targets, 2));
    assert_error_has(t, "tg_softmax_xent", "target 5", "position 1", "V = 5", NULL);
    tg_tape_free(t);
}

static void test_softmax_xent_rejects_a_negative_target(void **s)
{
    (void)s;
    const int32_t targets[] = {-3};
    tg_tape *t = tg_tape_new();
    tg_tensor *z = tg_input(t, 1, 4, NULL);
    assert_null(tg_softmax_xent(t, z, targets, 1));
    assert_error_has(t, "tg_softmax_xent", "target -3", "position 0", "V = 4", NULL);
    tg_tape_free(t);
}

static void test_softmax_xent_rejects_zero_rows(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *z = tg_input(t, 0, 4, NULL);
    assert_null(tg_softmax_xent(t, z, NULL, 0));
    assert_error_has(t, "tg_softmax_xent", "n is 0", "(0 x 4)", NULL);
    tg_tape_free(t);
}

static void test_softmax_xent_of_null_logits_returns_null_and_says_so(void **s)
{
    (void)s;
    const int32_t targets[] = {0};
    tg_tape *t = tg_tape_new();
    assert_null(tg_softmax_xent(t, NULL, targets, 1));
    assert_error_has(t, "tg_softmax_xent", "NULL", NULL);
    tg_tape_free(t);
}

/* A NaN or infinite logit anywhere in a row must show in the loss, not vanish into a
 * plausible number. */
static void test_softmax_xent_of_nan_or_infinite_logits_is_nan(void **state)
{
    (void)state;
    const tg_real bad[] = {(tg_real)NAN, -(tg_real)NAN, (tg_real)INFINITY, -(tg_real)INFINITY};
    for (size_t b = 0; b < 4; b++)
        for (size_t at = 0; at < 11; at += 5) { /* first, middle, last of 11 classes */
            tg_real z[11];
            for (size_t j = 0; j < 11; j++) z[j] = (tg_real)(0.1 * (double)j);
            z[at] = bad[b];
            int32_t target = at == 0 ? 1 : 0;
            tg_tape *t = tg_tape_new();
            tg_tensor *loss = tg_softmax_xent(t, tg_input(t, 1, 11, z), &target, 1);
            assert_non_null(loss);
            assert_true(isnan(loss->val[0]));
            tg_tape_free(t);
        }
}

/* The loss of z's rows against targets, and (malloc'd) the gradient it gives z. */
static tg_real loss_and_grad(tg_tensor *z, const int32_t *targets, tg_real **dz)
{
    size_t n = z->rows * z->cols;
    memset(z->grad, 0, n * sizeof *z->grad);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_softmax_xent(t, z, targets, z->rows);
    assert_non_null(y);
    tg_real loss = y->val[0];
    assert_int_equal(tg_backward(t, y), TG_OK);
    *dz = malloc(n * sizeof **dz);
    assert_non_null(*dz);
    memcpy(*dz, z->grad, n * sizeof **dz);
    tg_tape_free(t);
    return loss;
}

/* 40 rows of 5001 classes are split between threads, and the loss adds the rows' values in row
 * order afterwards: the loss and the logits' gradient are the same bits on any thread count. */
static void test_softmax_xent_gives_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    enum { n = 40, V = 5001 };
    tg_rng r;
    tg_rng_seed(&r, 29);
    tg_tensor *z = rand_leaf(n, V, &r, -20, 20);
    int32_t targets[n];
    for (size_t i = 0; i < n; i++) targets[i] = (int32_t)(i * 97 % V);
    tg_real loss[2], *dz[2];
    for (int th = 0; th < 2; th++) {
        tg_set_num_threads(th + 1);
        loss[th] = loss_and_grad(z, targets, &dz[th]);
    }
    tg_set_num_threads(0);
    assert_memory_equal(&loss[0], &loss[1], sizeof loss[0]);
    assert_memory_equal(dz[0], dz[1], (size_t)n * V * sizeof *dz[0]);
    tg_real want = (tg_real)reference(z, targets);
    assert_close(&loss[0], &want, 1, VAL_TOL);
    free(dz[0]);
    free(dz[1]);
    tg_tensor_free(z);
}

/* The row loops run as SSE2, AVX2 or AVX-512 code, whichever the CPU runs (ops/simd.c); each
 * level this CPU has gives the loss and the gradient bit for bit, on rows of 541 classes: eight
 * blocks of 64 summed in float, a vector of 16, one of 8 and a tail of 5. */
static void test_softmax_xent_gives_the_same_bits_with_every_vector_width(void **s)
{
    (void)s;
    enum { n = 6, V = 8 * 64 + 16 + 8 + 5 };
    tg_rng r;
    tg_rng_seed(&r, 31);
    tg_tensor *z = rand_leaf(n, V, &r, -30, 30);
    int32_t targets[n];
    for (size_t i = 0; i < n; i++) targets[i] = (int32_t)(i * 89 % V);
    tg_real loss[3], *dz[3];
    for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++) {
        tgi_simd_cap(level);
        loss[level] = loss_and_grad(z, targets, &dz[level]);
    }
    tgi_simd_cap(-1);
    for (int level = TGI_SIMD_AVX2; level <= TGI_SIMD_AVX512; level++) {
        assert_memory_equal(&loss[0], &loss[level], sizeof loss[0]);
        assert_memory_equal(dz[0], dz[level], (size_t)n * V * sizeof *dz[0]);
    }
    tg_real want = (tg_real)reference(z, targets);
    assert_close(&loss[0], &want, 1, VAL_TOL);
    for (int level = 0; level < 3; level++) free(dz[level]);
    tg_tensor_free(z);
}

/* The row maximum is taken on the floats' bits (ops/loss.c): rows whose largest logit is
 * negative, rows of zeros of both signs and rows shorter than one vector give the direct
 * formula's loss, on every vector width. */
static void test_softmax_xent_finds_negative_and_zero_maxima(void **s)
{
    (void)s;
    enum { n = 4, V = 40 };
    tg_real v[n * V];
    for (size_t j = 0; j < V; j++) {
        v[j] = -(tg_real)(j % 7) - (tg_real)0.5;            /* largest -0.5 */
        v[V + j] = (j % 2 ? (tg_real)-0.0 : 0) - (j == 39); /* ±0, one -1 */
        v[2 * V + j] = -(tg_real)(V - j) * 3;               /* largest last: -3 */
        v[3 * V + j] = j < 3 ? -(tg_real)j : -100;          /* largest first: 0 */
    }
    int32_t targets[n] = {3, 39, 0, 2};
    for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++) {
        tgi_simd_cap(level);
        for (size_t cols = 5; cols <= V; cols += V - 5) { /* shorter than a vector, and V */
            tg_tensor *z = tg_tensor_new(n, cols, 1);
            for (size_t i = 0; i < n; i++)
                memcpy(&z->val[i * cols], &v[i * V], cols * sizeof *z->val);
            int32_t tg[n];
            for (size_t i = 0; i < n; i++) tg[i] = targets[i] % (int32_t)cols;
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_softmax_xent(t, z, tg, n);
            assert_non_null(y);
            tg_real want = (tg_real)reference(z, tg);
            assert_close(y->val, &want, 1, VAL_TOL);
            tg_tape_free(t);
            tg_tensor_free(z);
        }
    }
    tgi_simd_cap(-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_xent_of_nan_or_infinite_logits_is_nan),
        cmocka_unit_test(test_softmax_xent_gives_the_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_softmax_xent_gives_the_same_bits_with_every_vector_width),
        cmocka_unit_test(test_softmax_xent_finds_negative_and_zero_maxima),
        cmocka_unit_test(test_softmax_xent_forward_matches_the_direct_formula),
        cmocka_unit_test(test_softmax_xent_backward_recomputes_probabilities_that_sum_to_one),
        cmocka_unit_test(test_softmax_xent_is_finite_and_right_for_logits_of_ten_thousand),
        cmocka_unit_test(test_softmax_xent_backward_matches_finite_differences),
        cmocka_unit_test(test_softmax_xent_rejects_logits_with_a_row_count_other_than_n),
        cmocka_unit_test(test_softmax_xent_rejects_a_target_past_the_last_class),
        cmocka_unit_test(test_softmax_xent_rejects_a_negative_target),
        cmocka_unit_test(test_softmax_xent_rejects_zero_rows),
        cmocka_unit_test(test_softmax_xent_of_null_logits_returns_null_and_says_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
