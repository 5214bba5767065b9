/* test_autograd_gradcheck.c: the checker passes a right backward, catches a wrong one and
 * names where, and refuses bad arguments. */
#include "testutil.h"

#include "autograd/internal.h"

/* An op with a deliberately wrong backward (d(x²)/dx taken as 3x), built the way ops are. */
static void bad_square_forward(tg_tape *t, tg_tensor *y)
{
    for (size_t i = 0; i < tg_numel(y); i++) y->val[i] = y->in[0]->val[i] * y->in[0]->val[i];
}

static void bad_square_backward(tg_tape *t, tg_tensor *y) /* wrong on purpose: dx += dy * 3x */
{
    for (size_t i = 0; i < tg_numel(y); i++) y->in[0]->grad[i] += y->grad[i] * 3 * y->in[0]->val[i];
}

static const tg_op bad_square_op = {"bad_square", bad_square_forward, bad_square_backward, NULL,
                                    NULL};

static tg_tensor *bad_loss(tg_tape *t, void *p)
{
    tg_tensor *x = p;
    return tg_sum(t, tg_record(t, &bad_square_op, x->rows, x->cols, 1, &x));
}

static tg_tensor *good_loss(tg_tape *t, void *p)
{
    tg_tensor *x = p;
    return tg_sum(t, tg_mul(t, x, x));
}

static tg_tensor *failing_loss(tg_tape *t, void *p)
{
    tg_tensor *x = p;
    return tg_add(t, x, tg_input(t, 5, 5, NULL));
}

static void test_gradcheck_passes_a_correct_backward(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_tensor *x = rand_leaf(3, 2, &r, 0.5, 1.5);
    tg_real before = x->val[4];
    tg_tape *t = tg_tape_new();
    tg_gradcheck_report rep;
    assert_int_equal(tg_gradcheck(t, good_loss, x, &x, 1, NULL, &rep), TG_OK);
    assert_true(rep.max_rel <= GRAD_TOL);
    assert_int_equal(rep.checked, 6);
    assert_true(x->val[4] == before);                     /* values restored */
    assert_true(fabs(x->grad[4] - 2 * x->val[4]) < 1e-5); /* analytic gradient left behind */
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_gradcheck_catches_a_wrong_backward_and_names_the_element(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 4);
    tg_tensor *x = rand_leaf(2, 3, &r, 0.5, 1.0);
    x->val[4] =
        2.0; /* the largest |3x - 2x| / |3x| is the same everywhere; make abs largest here */
    tg_tape *t = tg_tape_new();
    tg_gradcheck_report rep;
    assert_int_equal(tg_gradcheck(t, bad_loss, x, &x, 1, NULL, &rep), TG_OK);
    assert_true(rep.max_rel > 0.3 && rep.max_rel < 0.34); /* |3x - 2x| / 3x = 1/3 */
    assert_true(rep.max_abs > 1.9 && rep.max_abs < 2.1);  /* at x = 2: |6 - 4| */
    assert_int_equal(rep.tensor, 0);
    assert_true(rep.analytic > rep.numeric);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_gradcheck_refuses_a_tensor_without_gradient(void **s)
{
    (void)s;
    tg_tensor *x = tg_tensor_new(2, 2, 0);
    tg_tape *t = tg_tape_new();
    tg_gradcheck_report rep;
    assert_int_equal(tg_gradcheck(t, good_loss, x, &x, 1, NULL, &rep), TG_EINVAL);
    assert_error_has(t, "tg_gradcheck", "tensor 0", "(2 x 2)", "no gradient", NULL);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_gradcheck_reports_a_failing_function(void **s)
{
    (void)s;
    tg_tensor *x = tg_tensor_new(2, 2, 1);
    tg_tape *t = tg_tape_new();
    tg_gradcheck_report rep;
    assert_int_not_equal(tg_gradcheck(t, failing_loss, x, &x, 1, NULL, &rep), TG_OK);
    assert_error_has(t, "tg_add", "(2 x 2)", "(5 x 5)", NULL);
    tg_tape_free(t);
    tg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_passes_a_correct_backward),
        cmocka_unit_test(test_gradcheck_catches_a_wrong_backward_and_names_the_element),
        cmocka_unit_test(test_gradcheck_refuses_a_tensor_without_gradient),
        cmocka_unit_test(test_gradcheck_reports_a_failing_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
