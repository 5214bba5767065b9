/* test_ops_unary.c: tanh, sigmoid, relu, scale and 1 - x against libm in double and against
 * finite differences, on 1x1, 1xN and non-square shapes; sigmoid at +-1000; accumulation. */
#include "testutil.h"

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

static double ref_sigmoid(double x)
{
    return 1 / (1 + exp(-x));
}

static double ref_relu(double x)
{
    return x > 0 ? x : 0;
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
} ops[] = {
    {tg_tanh, ref_tanh, "tg_tanh"},
    {tg_sigmoid, ref_sigmoid, "tg_sigmoid"},
    {tg_relu, ref_relu, "tg_relu"},
    {scale_by_c, ref_scale, "tg_scale"},
    {tg_one_minus, ref_one_minus, "tg_one_minus"},
};
enum { TANH, SIGMOID, RELU, SCALE, ONE_MINUS };

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

static void check_forward(int k)
{
    tg_rng r;
    tg_rng_seed(&r, 3);
    for (size_t s = 0; s < N_SHAPES; s++) {
        tg_tensor *x = rand_leaf(shapes[s][0], shapes[s][1], &r, -3, 3);
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

typedef struct {
    unop f;
    tg_tensor *x, *w;
} ctx;

/* loss = sum(f(x) ⊙ w): a weighted sum, so every output element gets its own gradient. */
static tg_tensor *weighted(tg_tape *t, void *p)
{
    ctx *c = p;
    return tg_sum(t, tg_mul(t, c->f(t, c->x), c->w));
}

static void check_gradients(int k)
{
    tg_rng r;
    tg_rng_seed(&r, 5);
    for (size_t s = 0; s < N_SHAPES; s++) {
        ctx c = {ops[k].f, rand_away_from_zero(shapes[s][0], shapes[s][1], &r),
                 rand_leaf(shapes[s][0], shapes[s][1], &r, -1, 1)};
        assert_gradcheck(weighted, &c, &c.x, 1);
        tg_tensor_free(c.x);
        tg_tensor_free(c.w);
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

/* The float build computes tanh through exp in double: check its cut-offs relative to libm. */
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
        tg_tensor *x = rand_away_from_zero(3, 4, &r);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tanh_forward_matches_reference),
        cmocka_unit_test(test_sigmoid_forward_matches_reference),
        cmocka_unit_test(test_relu_forward_matches_reference),
        cmocka_unit_test(test_scale_forward_matches_reference),
        cmocka_unit_test(test_one_minus_forward_matches_reference),
        cmocka_unit_test(test_tanh_backward_matches_finite_differences),
        cmocka_unit_test(test_sigmoid_backward_matches_finite_differences),
        cmocka_unit_test(test_relu_backward_matches_finite_differences),
        cmocka_unit_test(test_scale_backward_matches_finite_differences),
        cmocka_unit_test(test_one_minus_backward_matches_finite_differences),
        cmocka_unit_test(test_sigmoid_stays_finite_and_saturates_at_large_inputs),
        cmocka_unit_test(test_tanh_keeps_relative_precision_at_tiny_and_huge_inputs),
        cmocka_unit_test(test_relu_passes_gradient_only_where_the_input_is_positive),
        cmocka_unit_test(test_scale_keeps_its_factor_in_arg),
        cmocka_unit_test(test_unary_backward_adds_to_the_gradient_already_there),
        cmocka_unit_test(test_unary_ops_pass_null_through_and_keep_the_first_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
