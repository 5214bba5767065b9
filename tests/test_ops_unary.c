/* test_ops_unary.c: tanh, sigmoid, relu, exp, log, scale and 1 - x against libm in double and
 * against finite differences, on 1x1, 1xN and non-square shapes (log on positive values);
 * sigmoid at +-1000; exp's overflow and log's domain; accumulation;
 * sigmoid and tanh in ulps over a sweep of all floats; one thread against two. */
#include "samebits.h"
#include "testutil.h"

#include "ops/internal.h"

#include <float.h>
#include <stdlib.h>

#ifdef TG_DOUBLE
#define TG_DOUBLE_OR(d, f) (d)
#else
#define TG_DOUBLE_OR(d, f) (f)
#endif

typedef tg_tensor *(*unop)(tg_tape *, tg_tensor *);

static const double C = -1.5; /* the factor the scale tests use */

static tg_tensor *scale_by_c(tg_tape *t, tg_tensor *x)
{
    return tg_scale(t, x, C);
}

static double ref_tanh(double x)
{
    return tanh(x);
}

static double ref_sigmoid(double x) /* e^x / (1 + e^x) for x < 0: no overflow to 1/inf */
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static double ref_relu(double x)
{
    return x > 0 ? x : 0;
}

static double ref_exp(double x)
{
    return exp(x);
}

static double ref_log(double x)
{
    return log(x);
}

static double ref_scale(double x)
{
    return C * x;
}

static double ref_one_minus(double x)
{
    return 1 - x;
}

static const struct {
    unop f;
    double (*ref)(double);
    const char *name;
    int positive; /* defined for x > 0 only: the tests take |x| */
} ops[] = {
    {tg_tanh, ref_tanh, "tg_tanh", 0},
    {tg_sigmoid, ref_sigmoid, "tg_sigmoid", 0},
    {tg_relu, ref_relu, "tg_relu", 0},
    {tg_exp, ref_exp, "tg_exp", 0},
    {tg_log, ref_log, "tg_log", 1},
    {scale_by_c, ref_scale, "tg_scale", 0},
    {tg_one_minus, ref_one_minus, "tg_one_minus", 0},
};
enum { TANH, SIGMOID, RELU, EXP, LOG, SCALE, ONE_MINUS };

static const size_t shapes[][2] = {{1, 1}, {1, 7}, {5, 3}, {3, 7}, {4, 1}};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };

/* Values in [-2, 2) kept at least 0.1 away from 0, where relu has its kink. */
static tg_tensor *rand_away_from_zero(size_t rows, size_t cols, tg_rng *r)
{
    tg_tensor *x = rand_leaf(rows, cols, r, 0.1, 2);
    for (size_t i = 0; i < tg_numel(x); i++)
        if (tg_rng_uniform(r) < 0.5) x->val[i] = -x->val[i];
    return x;
}

/* x in op k's domain: |x| for log. */
static tg_tensor *in_domain(int k, tg_tensor *x)
{
    if (ops[k].positive)
        for (size_t i = 0; i < tg_numel(x); i++) x->val[i] = (tg_real)fabs((double)x->val[i]);
    return x;
}

static void check_forward(int k)
{
    tg_rng r;
    tg_rng_seed(&r, 3);
    for (size_t s = 0; s < N_SHAPES; s++) {
        tg_tensor *x = in_domain(k, rand_leaf(shapes[s][0], shapes[s][1], &r, -3, 3));
        tg_tape *t = tg_tape_new();
        tg_tensor *y = ops[k].f(t, x);
        assert_non_null(y);
        assert_int_equal(y->rows, x->rows);
        assert_int_equal(y->cols, x->cols);
        for (size_t i = 0; i < tg_numel(x); i++) {
            tg_real want = (tg_real)ops[k].ref((double)x->val[i]);
            assert_close(&y->val[i], &want, 1, VAL_TOL);
        }
        tg_tape_free(t);
        tg_tensor_free(x);
    }
}

static void check_gradients(int k)
{
    tg_rng r;
    tg_rng_seed(&r, 5);
    for (size_t s = 0; s < N_SHAPES; s++) {
        tg_tensor *x = in_domain(k, rand_away_from_zero(shapes[s][0], shapes[s][1], &r));
        assert_weighted_gradcheck(ops[k].f, x, rand_leaf(shapes[s][0], shapes[s][1], &r, -1, 1));
    }
}

static void test_tanh_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(TANH);
}

static void test_sigmoid_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(SIGMOID);
}

static void test_relu_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(RELU);
}

static void test_exp_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(EXP);
}

static void test_log_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(LOG);
}

static void test_scale_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(SCALE);
}

static void test_one_minus_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(ONE_MINUS);
}

static void test_tanh_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(TANH);
}

static void test_sigmoid_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(SIGMOID);
}

static void test_relu_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(RELU);
}

static void test_exp_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(EXP);
}

static void test_log_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(LOG);
}

static void test_scale_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(SCALE);
}

static void test_one_minus_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(ONE_MINUS);
}

static void test_sigmoid_stays_finite_and_saturates_at_large_inputs(void **s)
{
    (void)s;
    const tg_real xs[] = {-1000, -100, -40, 40, 100, 1000};
    const tg_real want[] = {0, 0, 0, 1, 1, 1};
    tg_tensor *x = tg_tensor_new(1, 6, 1);
    memcpy(x->val, xs, sizeof xs);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_sigmoid(t, x);
    assert_non_null(y);
    assert_close(y->val, want, 6, 1e-12);
    assert_int_equal(tg_backward(t, tg_sum(t, y)), TG_OK);
    for (int i = 0; i < 6; i++) {
        assert_true(isfinite(x->grad[i]));
        assert_true(fabs(x->grad[i]) < 1e-12);
    }
    tg_tape_free(t);
    tg_tensor_free(x);
}

/* Like PyTorch: exp overflows to +inf and underflows to 0; ln 0 = -inf, ln of a negative is
 * NaN and so is ln NaN; no error is recorded, and log's gradient at 0 is +inf. */
static void test_exp_overflows_to_inf_and_log_of_non_positive_is_minus_inf_or_nan(void **s)
{
    (void)s;
    const tg_real xs[] = {1000, -1000, 0, -1, (tg_real)NAN};
    tg_tensor *x = tg_tensor_new(1, 5, 1);
    memcpy(x->val, xs, sizeof xs);
    tg_tape *t = tg_tape_new();
    tg_tensor *e = tg_exp(t, x), *l = tg_log(t, x);
    assert_non_null(e);
    assert_non_null(l);
    assert_null(tg_tape_error(t));
    assert_true(isinf(e->val[0]) && e->val[0] > 0 && e->val[1] == 0 && e->val[2] == 1);
    assert_true(isinf(l->val[2]) && l->val[2] < 0);
    assert_true(isnan(l->val[3]) && isnan(l->val[4]) && isnan(e->val[4]));
    assert_int_equal(tg_backward(t, tg_sum(t, tg_slice_cols(t, l, 2, 1))), TG_OK);
    assert_true(isinf(x->grad[2]) && x->grad[2] > 0);
    tg_tape_free(t);
    tg_tensor_free(x);
}

/* The float build computes tanh through expm1: check tiny and saturated inputs against libm. */
static void test_tanh_keeps_relative_precision_at_tiny_and_huge_inputs(void **s)
{
    (void)s;
    const tg_real xs[] = {-1000, -10.5f, -9.9f, -1e-5f, 1e-9f, 0, 2.4e-4f, 2.5e-4f, 3e-3f, 12};
    enum { N = sizeof xs / sizeof xs[0] };
    tg_tensor *x = tg_tensor_new(1, N, 0);
    memcpy(x->val, xs, sizeof xs);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_tanh(t, x);
    assert_non_null(y);
    for (int i = 0; i < N; i++) {
        double want = tanh((double)xs[i]);
        if (!(fabs(y->val[i] - want) <= 2 * VAL_TOL * fabs(want)))
            fail_msg("tanh(%.9g) = %.9g, want %.9g", (double)xs[i], (double)y->val[i], want);
    }
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_relu_passes_gradient_only_where_the_input_is_positive(void **s)
{
    (void)s;
    const tg_real xs[] = {-2, -0.5, 0, 0.5, 3};
    const tg_real want[] = {0, 0, 0, 1, 1};
    tg_tensor *x = tg_tensor_new(1, 5, 1);
    memcpy(x->val, xs, sizeof xs);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, tg_sum(t, tg_relu(t, x))), TG_OK);
    assert_close(x->grad, want, 5, 0);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_scale_keeps_its_factor_in_arg(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_scale(t, tg_input(t, 2, 3, NULL), 0.25);
    assert_non_null(y);
    assert_true(y->arg == 0.25);
    tg_tape_free(t);
}

/* Backward adds: a gradient already on x stays, and a tensor used twice gets both terms. */
static void test_unary_backward_adds_to_the_gradient_already_there(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 9);
    for (int k = 0; k < (int)(sizeof ops / sizeof ops[0]); k++) {
        tg_tensor *x = in_domain(k, rand_away_from_zero(3, 4, &r));
        tg_tape *t = tg_tape_new();
        assert_int_equal(tg_backward(t, tg_sum(t, ops[k].f(t, x))), TG_OK);
        tg_real once[12];
        memcpy(once, x->grad, sizeof once);
        for (int i = 0; i < 12; i++) x->grad[i] = 1;
        tg_tape_reset(t);
        tg_tensor *y1 = ops[k].f(t, x), *y2 = ops[k].f(t, x);
        assert_int_equal(tg_backward(t, tg_sum(t, tg_add(t, y1, y2))), TG_OK);
        for (int i = 0; i < 12; i++) {
            tg_real want = 1 + 2 * once[i];
            assert_close(&x->grad[i], &want, 1, VAL_TOL);
        }
        tg_tape_free(t);
        tg_tensor_free(x);
    }
}

static void test_unary_ops_pass_null_through_and_keep_the_first_error(void **s)
{
    (void)s;
    for (int k = 0; k < (int)(sizeof ops / sizeof ops[0]); k++) {
        tg_tape *t = tg_tape_new();
        assert_null(ops[k].f(t, NULL));
        assert_error_has(t, ops[k].name, "input 1 is NULL", NULL);
        tg_tape_reset(t);
        tg_tensor *bad = tg_add(t, tg_input(t, 2, 3, NULL), tg_input(t, 3, 2, NULL));
        assert_null(ops[k].f(t, bad));
        assert_error_has(t, "tg_add", "(2 x 3)", "(3 x 2)", NULL);
        tg_tape_free(t);
    }
}

/* The spacing of tg_real values at |d|, subnormals included. */
static double ulp_at(double d)
{
    int e;
    double tiny = TG_DOUBLE_OR(DBL_MIN, FLT_MIN), sub = TG_DOUBLE_OR(0x1p-1074, 0x1p-149);
    if (fabs(d) < tiny) return sub;
    frexp(d, &e);
    return ldexp(1.0, e - TG_DOUBLE_OR(53, 24));
}

/* Every 997th float bit pattern, NaNs and infinities left out, into out (when not NULL);
 * returns how many (4.3 million). */
static size_t sweep_floats(tg_real *out)
{
    size_t n = 0;
    for (uint64_t b = 0; b < 0x100000000ull; b += 997) {
        uint32_t bits = (uint32_t)b;
        float v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        if (out) out[n] = v;
        n++;
    }
    return n;
}

/* op over the sweep in one tensor, so the vectorised loop runs: its largest error in ulps. */
static double max_ulp_over_floats(unop f, double (*ref)(double))
{
    size_t n = sweep_floats(NULL);
    tg_tensor *x = tg_tensor_new(1, n, 0);
    assert_non_null(x);
    sweep_floats(x->val);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = f(t, x);
    assert_non_null(y);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double want = ref((double)x->val[i]);
        double e = fabs((double)y->val[i] - want) / ulp_at(want);
        if (!(e <= worst)) worst = e; /* a NaN result makes worst NaN: the caller's check fails */
    }
    tg_tape_free(t);
    tg_tensor_free(x);
    return worst;
}

/* Measured over every finite float: sigmoid 2.40 ulp, tanh 2.50 (ops/unary.c). The double build
 * uses libm and the reference's own formula, so it must stay within 3 ulp of double too. */
static void test_sigmoid_and_tanh_stay_within_three_ulp_over_a_sweep_of_floats(void **s)
{
    (void)s;
    double es = max_ulp_over_floats(tg_sigmoid, ref_sigmoid);
    double et = max_ulp_over_floats(tg_tanh, ref_tanh);
    print_message("sigmoid within %.3f ulp, tanh within %.3f ulp\n", es, et);
    if (!(es <= 3 && et <= 3)) fail_msg("sigmoid %.3g ulp, tanh %.3g ulp: want <= 3", es, et);
}

static void test_sigmoid_and_tanh_keep_nan_infinities_zero_and_subnormals(void **s)
{
    (void)s;
    const tg_real xs[] = {(tg_real)NAN,
                          -(tg_real)NAN,
                          (tg_real)INFINITY,
                          -(tg_real)INFINITY,
                          0,
                          -0.0f,
                          TG_DOUBLE_OR(0x1p-1060, 0x1p-140),
                          -TG_DOUBLE_OR(0x1p-1060, 0x1p-140)};
    enum { N = sizeof xs / sizeof xs[0] };
    tg_tensor *x = tg_tensor_new(1, N, 0);
    memcpy(x->val, xs, sizeof xs);
    tg_tape *t = tg_tape_new();
    tg_tensor *sg = tg_sigmoid(t, x), *th = tg_tanh(t, x);
    assert_true(isnan(sg->val[0]) && isnan(sg->val[1]) && isnan(th->val[0]) && isnan(th->val[1]));
    assert_true(sg->val[2] == 1 && sg->val[3] == 0 && th->val[2] == 1 && th->val[3] == -1);
    assert_true(sg->val[4] == 0.5f && sg->val[5] == 0.5f);
    for (int i = 4; i < N; i++) /* tanh x rounds to x here, sign of zero included */
        assert_memory_equal(&th->val[i], &xs[i], sizeof xs[i]);
    tg_tape_free(t);
    tg_tensor_free(x);
}

/* sigmoid and tanh run as SSE2, AVX2 or AVX-512 code, whichever the CPU runs (ops/simd.c): each
 * level this CPU has gives the same bits forward, over the sweep of floats and NaN and the
 * infinities, and backward, on a ragged length (not a multiple of any vector width). */
static void test_sigmoid_and_tanh_give_the_same_bits_with_every_vector_width(void **s)
{
    (void)s;
    size_t n = sweep_floats(NULL) + 3, m = 1037;
    tg_tensor *x = tg_tensor_new(1, n, 0);
    assert_non_null(x);
    sweep_floats(x->val);
    x->val[n - 3] = (tg_real)NAN, x->val[n - 2] = (tg_real)INFINITY;
    x->val[n - 1] = -(tg_real)INFINITY;
    tg_rng r;
    tg_rng_seed(&r, 17);
    tg_tensor *xg = rand_leaf(1, m, &r, -8, 8), *w = rand_leaf(1, m, &r, -1, 1);
    for (int k = 0; k < 2; k++) {
        unop f = k ? tg_sigmoid : tg_tanh;
        tg_real *y[3], *dx[3];
        for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++) {
            tgi_simd_cap(level);
            tg_tape *t = tg_tape_new();
            tg_tensor *out = f(t, x);
            assert_non_null(out);
            y[level] = malloc(n * sizeof(tg_real));
            memcpy(y[level], out->val, n * sizeof(tg_real));
            memset(xg->grad, 0, m * sizeof *xg->grad);
            weighted_op c = {f, xg, w};
            assert_int_equal(tg_backward(t, weighted_loss(t, &c)), TG_OK);
            dx[level] = malloc(m * sizeof(tg_real));
            memcpy(dx[level], xg->grad, m * sizeof(tg_real));
            tg_tape_free(t);
        }
        tgi_simd_cap(-1);
        for (int level = TGI_SIMD_AVX2; level <= TGI_SIMD_AVX512; level++) {
            assert_memory_equal(y[0], y[level], n * sizeof(tg_real));
            assert_memory_equal(dx[0], dx[level], m * sizeof(tg_real));
        }
        for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++)
            free(y[level]), free(dx[level]);
    }
    tg_tensor_free(x);
    tg_tensor_free(xg);
    tg_tensor_free(w);
}

/* Large tensors split between threads: the values and gradients must not change. */
static void test_unary_ops_give_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    enum { R = 17, C = 4099 }; /* 69683 elements: two threads' worth, and a ragged end */
    tg_rng r;
    tg_rng_seed(&r, 13);
    tg_tensor *x = rand_leaf(R, C, &r, -6, 6), *w = rand_leaf(R, C, &r, -1, 1);
    tg_real *got[2][2];
    for (int k = 0; k < (int)(sizeof ops / sizeof ops[0]); k++) {
        in_domain(k, x); /* log's |x| stays: the ops after it are defined everywhere */
        for (int th = 0; th < 2; th++) {
            tg_set_num_threads(th + 1);
            assert_int_equal(tgi_threads_for(R * C, TGI_UNARY_MIN_PER_THREAD), th + 1);
            memset(x->grad, 0, R * C * sizeof *x->grad);
            tg_tape *t = tg_tape_new();
            weighted_op c = {ops[k].f, x, w};
            tg_tensor *y = ops[k].f(t, x);
            assert_non_null(y);
            got[th][0] = malloc(R * C * sizeof(tg_real));
            got[th][1] = malloc(R * C * sizeof(tg_real));
            memcpy(got[th][0], y->val, R * C * sizeof(tg_real));
            assert_int_equal(tg_backward(t, weighted_loss(t, &c)), TG_OK);
            memcpy(got[th][1], x->grad, R * C * sizeof(tg_real));
            tg_tape_free(t);
        }
        tg_set_num_threads(0);
        for (int v = 0; v < 2; v++) {
            assert_memory_equal(got[0][v], got[1][v], R * C * sizeof(tg_real));
            free(got[0][v]);
            free(got[1][v]);
        }
    }
    tg_tensor_free(x);
    tg_tensor_free(w);
}

static tg_tensor *sigmoid1(tg_tape *t, tg_tensor *const *in)
{
    return tg_sigmoid(t, in[0]);
}

static tg_tensor *tanh1(tg_tape *t, tg_tensor *const *in)
{
    return tg_tanh(t, in[0]);
}

/* The same at the lengths every element-wise op's test uses (samebits.h), 1 to 1003. */
static void test_sigmoid_and_tanh_give_the_same_bits_at_every_width_on_short_lengths(void **s)
{
    (void)s;
    assert_same_bits_at_every_width(sigmoid1, 1, -8, 8);
    assert_same_bits_at_every_width(tanh1, 1, -8, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigmoid_and_tanh_give_the_same_bits_with_every_vector_width),
        cmocka_unit_test(test_sigmoid_and_tanh_give_the_same_bits_at_every_width_on_short_lengths),
        cmocka_unit_test(test_tanh_forward_matches_reference),
        cmocka_unit_test(test_sigmoid_forward_matches_reference),
        cmocka_unit_test(test_relu_forward_matches_reference),
        cmocka_unit_test(test_exp_forward_matches_reference),
        cmocka_unit_test(test_log_forward_matches_reference),
        cmocka_unit_test(test_scale_forward_matches_reference),
        cmocka_unit_test(test_one_minus_forward_matches_reference),
        cmocka_unit_test(test_tanh_backward_matches_finite_differences),
        cmocka_unit_test(test_sigmoid_backward_matches_finite_differences),
        cmocka_unit_test(test_relu_backward_matches_finite_differences),
        cmocka_unit_test(test_exp_backward_matches_finite_differences),
        cmocka_unit_test(test_log_backward_matches_finite_differences),
        cmocka_unit_test(test_scale_backward_matches_finite_differences),
        cmocka_unit_test(test_one_minus_backward_matches_finite_differences),
        cmocka_unit_test(test_sigmoid_stays_finite_and_saturates_at_large_inputs),
        cmocka_unit_test(test_exp_overflows_to_inf_and_log_of_non_positive_is_minus_inf_or_nan),
        cmocka_unit_test(test_tanh_keeps_relative_precision_at_tiny_and_huge_inputs),
        cmocka_unit_test(test_relu_passes_gradient_only_where_the_input_is_positive),
        cmocka_unit_test(test_scale_keeps_its_factor_in_arg),
        cmocka_unit_test(test_unary_backward_adds_to_the_gradient_already_there),
        cmocka_unit_test(test_unary_ops_pass_null_through_and_keep_the_first_error),
        cmocka_unit_test(test_sigmoid_and_tanh_stay_within_three_ulp_over_a_sweep_of_floats),
        cmocka_unit_test(test_sigmoid_and_tanh_keep_nan_infinities_zero_and_subnormals),
        cmocka_unit_test(test_unary_ops_give_the_same_bits_on_one_and_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
