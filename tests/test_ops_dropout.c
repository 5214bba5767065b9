/* test_ops_dropout.c: tg_dropout's mask (values, kept fraction, reproducibility), the identity
 * in evaluation mode, finite differences with a fixed mask, and every error it reports. */
#include "testutil.h"

enum { ROWS = 100, COLS = 1000 }; /* 100k elements */

/* A tape-owned input of ones, so y shows the mask itself. */
static tg_tensor *ones(tg_tape *t, size_t rows, size_t cols)
{
    tg_tensor *x = tg_input(t, rows, cols, NULL);
    for (size_t i = 0; i < tg_numel(x); i++) x->val[i] = 1;
    return x;
}

static void test_dropout_mask_values_are_zero_or_the_inverse_keep_rate(void **s)
{
    (void)s;
    const double ps[] = {0.1, 0.3, 0.5, 0.9};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        tg_rng r;
        tg_rng_seed(&r, 1);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_dropout(t, ones(t, 10, 100), ps[k], &r);
        assert_non_null(y);
        const tg_real scale = (tg_real)(1.0 / (1.0 - ps[k]));
        const tg_real *mask = y->saved;
        for (size_t i = 0; i < tg_numel(y); i++) {
            assert_true(mask[i] == 0 || mask[i] == scale);
            assert_true(y->val[i] == mask[i]);
        }
        tg_tape_free(t);
    }
}

static void test_dropout_keeps_a_fraction_within_one_percent_of_one_minus_p(void **s)
{
    (void)s;
    const double ps[] = {0.2, 0.5, 0.7};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        tg_rng r;
        tg_rng_seed(&r, 2024 + k);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_dropout(t, ones(t, ROWS, COLS), ps[k], &r);
        assert_non_null(y);
        size_t kept = 0;
        for (size_t i = 0; i < tg_numel(y); i++) kept += y->val[i] != 0;
        double frac = (double)kept / (double)tg_numel(y), want = 1 - ps[k];
        if (!(fabs(frac - want) <= 0.01 * want))
            fail_msg("p = %g: kept %.5f of the elements, want %.5f within 1%%", ps[k], frac, want);
        tg_tape_free(t);
    }
}

static void test_dropout_with_the_same_seed_draws_the_same_mask(void **s)
{
    (void)s;
    tg_rng r1, r2, r3;
    tg_rng_seed(&r1, 99);
    tg_rng_seed(&r2, 99);
    tg_rng_seed(&r3, 100);
    tg_tape *t = tg_tape_new();
    tg_tensor *x = ones(t, 20, 50);
    tg_tensor *a = tg_dropout(t, x, 0.4, &r1), *b = tg_dropout(t, x, 0.4, &r2);
    tg_tensor *c = tg_dropout(t, x, 0.4, &r3);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_memory_equal(a->saved, b->saved, tg_numel(x) * sizeof(tg_real));
    assert_memory_not_equal(a->saved, c->saved, tg_numel(x) * sizeof(tg_real));
    tg_tape_free(t);
}

static void test_dropout_without_a_generator_is_evaluation_and_returns_x_itself(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *x = ones(t, 3, 4);
    assert_ptr_equal(tg_dropout(t, x, 0.5, NULL), x);
    assert_int_equal(tg_tape_size(t), 0);
    assert_null(tg_tape_error(t));
    tg_tape_free(t);
}

static void test_dropout_with_p_zero_returns_x_itself(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *x = ones(t, 3, 4);
    assert_ptr_equal(tg_dropout(t, x, 0, NULL), x);
    assert_int_equal(tg_tape_size(t), 0);
    tg_tape_free(t);
}

typedef struct {
    tg_tensor *x, *w;
    double p;
    uint64_t seed;
} ctx;

/* loss = sum(dropout(x) ⊙ w), drawing the same mask at every evaluation. */
static tg_tensor *weighted(tg_tape *t, void *p)
{
    ctx *c = p;
    tg_rng r;
    tg_rng_seed(&r, c->seed);
    return tg_sum(t, tg_mul(t, tg_dropout(t, c->x, c->p, &r), c->w));
}

static void test_dropout_backward_matches_finite_differences_with_a_fixed_mask(void **s)
{
    (void)s;
    const size_t shapes[][2] = {{1, 1}, {1, 9}, {4, 6}, {7, 3}};
    tg_rng r;
    tg_rng_seed(&r, 23);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        ctx c = {rand_leaf(shapes[k][0], shapes[k][1], &r, -2, 2),
                 rand_leaf(shapes[k][0], shapes[k][1], &r, -1, 1), 0.4, 77 + k};
        assert_gradcheck(weighted, &c, &c.x, 1);
        tg_tensor_free(c.x);
        tg_tensor_free(c.w);
    }
}

static void test_dropout_backward_multiplies_the_gradient_by_the_mask(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 5);
    tg_tensor *x = tg_tensor_new(4, 5, 1);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_dropout(t, x, 0.5, &r);
    assert_int_equal(tg_backward(t, tg_sum(t, y)), TG_OK);
    assert_close(x->grad, y->saved, tg_numel(x), 0);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_dropout_rejects_p_outside_zero_to_one(void **s)
{
    (void)s;
    const double bad[] = {1, -0.25, 1.5, NAN};
    const char *named[] = {"p = 1 ", "p = -0.25", "p = 1.5", "p = nan"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        tg_rng r;
        tg_rng_seed(&r, 1);
        tg_tape *t = tg_tape_new();
        assert_null(tg_dropout(t, ones(t, 2, 3), bad[k], &r));
        assert_error_has(t, "tg_dropout", named[k], "[0, 1)", "(2 x 3)", NULL);
        tg_tape_free(t);
    }
}

static void test_dropout_of_null_x_returns_null_and_says_so(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_tape *t = tg_tape_new();
    assert_null(tg_dropout(t, NULL, 0.5, &r));
    assert_error_has(t, "tg_dropout", "NULL", NULL);
    tg_tape_free(t);
}

static void test_dropout_in_evaluation_still_rejects_p_outside_zero_to_one(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    assert_null(tg_dropout(t, ones(t, 2, 2), 1.5, NULL));
    assert_error_has(t, "tg_dropout", "p = 1.5", "[0, 1)", "(2 x 2)", NULL);
    tg_tape_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropout_mask_values_are_zero_or_the_inverse_keep_rate),
        cmocka_unit_test(test_dropout_keeps_a_fraction_within_one_percent_of_one_minus_p),
        cmocka_unit_test(test_dropout_with_the_same_seed_draws_the_same_mask),
        cmocka_unit_test(test_dropout_without_a_generator_is_evaluation_and_returns_x_itself),
        cmocka_unit_test(test_dropout_with_p_zero_returns_x_itself),
        cmocka_unit_test(test_dropout_backward_matches_finite_differences_with_a_fixed_mask),
        cmocka_unit_test(test_dropout_backward_multiplies_the_gradient_by_the_mask),
        cmocka_unit_test(test_dropout_rejects_p_outside_zero_to_one),
        cmocka_unit_test(test_dropout_of_null_x_returns_null_and_says_so),
        cmocka_unit_test(test_dropout_in_evaluation_still_rejects_p_outside_zero_to_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
