/* test_ops_binary.c: add, sub, mul and div against a naive reference and finite differences, on
 * equal shapes, with the (1 x N) row and with the (B x 1) column on either side; large ones on
 * one thread and on two. */
#include "samebits.h"
#include "testutil.h"

#include <stdlib.h>

typedef tg_tensor *(*binop)(tg_tape *, tg_tensor *, tg_tensor *);

static double apply(char op, double a, double b)
{
    return op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
}

/* a is (ar x ac), b is (br x bc). */
static const struct {
    size_t ar, ac, br, bc;
} shapes[] = {{1, 1, 1, 1}, {1, 7, 1, 7}, {5, 3, 5, 3}, {1, 6, 4, 6}, {4, 6, 1, 6}, {3, 1, 3, 1},
              {1, 1, 6, 1}, {4, 1, 4, 5}, {4, 5, 4, 1}, {1, 1, 1, 5}, {1, 5, 1, 1}, {6, 1, 1, 1}};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };

static size_t max_size(size_t x, size_t y)
{
    return x > y ? x : y;
}

/* Element (i, j) of x as broadcast against the result: row 0 of a row, column 0 of a column. */
static double at(const tg_tensor *x, size_t i, size_t j)
{
    return x->val[(x->rows == 1 ? 0 : i) * x->cols + (x->cols == 1 ? 0 : j)];
}

/* Values in [0.5, 2) of either sign: a divisor far from zero. */
static tg_tensor *rand_divisor(size_t rows, size_t cols, tg_rng *r)
{
    tg_tensor *x = rand_leaf(rows, cols, r, 0.5, 2);
    for (size_t i = 0; i < tg_numel(x); i++)
        if (tg_rng_uniform(r) < 0.5) x->val[i] = -x->val[i];
    return x;
}

static void check_forward(binop f, char op)
{
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (size_t s = 0; s < N_SHAPES; s++) {
        tg_tensor *a = rand_leaf(shapes[s].ar, shapes[s].ac, &r, -2, 2);
        tg_tensor *b = rand_divisor(shapes[s].br, shapes[s].bc, &r);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = f(t, a, b);
        assert_non_null(y);
        assert_int_equal(y->rows, max_size(shapes[s].ar, shapes[s].br));
        assert_int_equal(y->cols, max_size(shapes[s].ac, shapes[s].bc));
        for (size_t i = 0; i < y->rows; i++)
            for (size_t j = 0; j < y->cols; j++) {
                tg_real want = (tg_real)apply(op, at(a, i, j), at(b, i, j));
                assert_close(&y->val[i * y->cols + j], &want, 1, VAL_TOL);
            }
        tg_tape_free(t);
        tg_tensor_free(a);
        tg_tensor_free(b);
    }
}

typedef struct {
    binop f;
    tg_tensor *a, *b, *w;
} ctx;

/* loss = sum(f(a, b) ⊙ w): a weighted sum, so every output element gets its own gradient. */
static tg_tensor *weighted(tg_tape *t, void *p)
{
    ctx *c = p;
    return tg_sum(t, tg_mul(t, c->f(t, c->a, c->b), c->w));
}

static void check_gradients(binop f)
{
    tg_rng r;
    tg_rng_seed(&r, 11);
    for (size_t s = 0; s < N_SHAPES; s++) {
        size_t rows = max_size(shapes[s].ar, shapes[s].br);
        size_t cols = max_size(shapes[s].ac, shapes[s].bc);
        /* a and w positive, so that the sums a broadcast operand's gradient adds up do not
         * cancel to a few float roundings */
        ctx c = {f, rand_leaf(shapes[s].ar, shapes[s].ac, &r, 0.5, 2),
                 rand_divisor(shapes[s].br, shapes[s].bc, &r), rand_leaf(rows, cols, &r, 0.5, 1)};
        tg_tensor *xs[] = {c.a, c.b};
        assert_gradcheck(weighted, &c, xs, 2);
        tg_tensor_free(c.a);
        tg_tensor_free(c.b);
        tg_tensor_free(c.w);
    }
}

static void test_add_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(tg_add, '+');
}

static void test_sub_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(tg_sub, '-');
}

static void test_mul_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(tg_mul, '*');
}

static void test_div_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(tg_div, '/');
}

static void test_add_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(tg_add);
}

static void test_sub_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(tg_sub);
}

static void test_mul_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(tg_mul);
}

static void test_div_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(tg_div);
}

/* A column's gradient is the sum of dy along its row: b (2 x 1) against a (2 x 3). */
static void test_a_broadcast_column_receives_the_row_sums_of_the_gradient(void **s)
{
    (void)s;
    tg_tensor *a = tg_tensor_new(2, 3, 1), *b = tg_tensor_new(2, 1, 1);
    for (int i = 0; i < 6; i++) a->val[i] = (tg_real)(i + 1);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, tg_sum(t, tg_mul(t, b, a))), TG_OK);
    assert_true(fabs(b->grad[0] - 6) < 1e-6);  /* 1 + 2 + 3 */
    assert_true(fabs(b->grad[1] - 15) < 1e-6); /* 4 + 5 + 6 */
    tg_tape_free(t);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

/* IEEE rules, no error: 1/0 = inf, -1/0 = -inf, 0/0 = NaN. */
static void test_div_by_zero_gives_inf_or_nan_and_records_no_error(void **s)
{
    (void)s;
    const tg_real num[] = {1, -1, 0}, den[] = {0, 0, 0};
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_div(t, tg_input(t, 1, 3, num), tg_input(t, 1, 3, den));
    assert_non_null(y);
    assert_null(tg_tape_error(t));
    assert_true(isinf(y->val[0]) && y->val[0] > 0);
    assert_true(isinf(y->val[1]) && y->val[1] < 0);
    assert_true(isnan(y->val[2]));
    tg_tape_free(t);
}

static void test_mul_of_a_tensor_with_itself_doubles_the_gradient(void **s)
{
    (void)s;
    tg_tensor *x = tg_tensor_new(1, 3, 1);
    for (int i = 0; i < 3; i++) x->val[i] = (tg_real)(i + 1);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, tg_sum(t, tg_mul(t, x, x))), TG_OK);
    for (int i = 0; i < 3; i++) assert_true(fabs(x->grad[i] - 2 * (i + 1)) < 1e-6);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_binary_ops_reject_shapes_that_do_not_broadcast(void **s)
{
    (void)s;
    const binop fs[] = {tg_add, tg_sub, tg_mul, tg_div};
    const char *names[] = {"tg_add", "tg_sub", "tg_mul", "tg_div"};
    /* rows differ, both differ, columns differ, a column of the wrong height, a row against a
     * column (no outer product), a (1 x 1) against a matrix (no scalar broadcast) */
    const size_t bad[][4] = {{2, 3, 3, 3}, {2, 3, 2, 4}, {1, 3, 1, 4}, {2, 1, 3, 1}, {3, 1, 2, 4},
                             {1, 4, 3, 1}, {3, 1, 1, 4}, {1, 1, 3, 4}, {3, 4, 1, 1}};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            tg_tape *t = tg_tape_new();
            tg_tensor *a = tg_input(t, bad[i][0], bad[i][1], NULL);
            tg_tensor *b = tg_input(t, bad[i][2], bad[i][3], NULL);
            assert_null(fs[k](t, a, b));
            char sa[64], sb[64];
            snprintf(sa, sizeof sa, "a is (%zu x %zu)", bad[i][0], bad[i][1]);
            snprintf(sb, sizeof sb, "b is (%zu x %zu)", bad[i][2], bad[i][3]);
            assert_error_has(t, names[k], "broadcast", sa, sb, NULL);
            tg_tape_free(t);
        }
}

static void test_binary_ops_pass_null_through_and_keep_the_first_error(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_input(t, 2, 2, NULL), *b = tg_input(t, 3, 3, NULL);
    tg_tensor *bad = tg_mul(t, a, b);
    assert_null(tg_add(t, bad, a));
    assert_null(tg_sub(t, a, bad));
    assert_null(tg_div(t, bad, bad));
    assert_error_has(t, "tg_mul", "(2 x 2)", "(3 x 3)", NULL);
    tg_tape_free(t);
}

/* Results large enough to be split between threads, split by rows or (for a broadcast row's
 * gradient, or a one-row result) by columns, and by rows again for a broadcast column's
 * gradient even with one row: values and gradients must be the same bits. */
static void test_binary_ops_give_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    const binop fs[] = {tg_add, tg_sub, tg_mul, tg_div};
    const size_t big[][4] = {{301, 257, 301, 257}, {1, 257, 301, 257}, {301, 257, 1, 257},
                             {1, 70001, 1, 70001}, {301, 1, 301, 257}, {301, 257, 301, 1},
                             {1, 1, 1, 70001},     {1, 70001, 1, 1}};
    tg_rng r;
    tg_rng_seed(&r, 23);
    for (int k = 0; k < 4; k++)
        for (size_t c = 0; c < sizeof big / sizeof big[0]; c++) {
            size_t rows = max_size(big[c][0], big[c][2]), cols = max_size(big[c][1], big[c][3]);
            ctx x = {fs[k], rand_leaf(big[c][0], big[c][1], &r, -2, 2),
                     rand_divisor(big[c][2], big[c][3], &r), rand_leaf(rows, cols, &r, -1, 1)};
            tg_tensor *in[] = {x.a, x.b};
            tg_real *got[2][3]; /* per thread count: y, da, db */
            for (int th = 0; th < 2; th++) {
                tg_set_num_threads(th + 1);
                tg_tape *t = tg_tape_new();
                tg_tensor *y = fs[k](t, x.a, x.b);
                assert_non_null(y);
                got[th][0] = malloc(tg_numel(y) * sizeof(tg_real));
                memcpy(got[th][0], y->val, tg_numel(y) * sizeof(tg_real));
                for (int v = 0; v < 2; v++)
                    memset(in[v]->grad, 0, tg_numel(in[v]) * sizeof(tg_real));
                assert_int_equal(tg_backward(t, weighted(t, &x)), TG_OK);
                for (int v = 0; v < 2; v++) {
                    got[th][v + 1] = malloc(tg_numel(in[v]) * sizeof(tg_real));
                    memcpy(got[th][v + 1], in[v]->grad, tg_numel(in[v]) * sizeof(tg_real));
                }
                tg_tape_free(t);
            }
            tg_set_num_threads(0);
            size_t sizes[3] = {rows * cols, tg_numel(x.a), tg_numel(x.b)};
            for (int v = 0; v < 3; v++) {
                assert_memory_equal(got[0][v], got[1][v], sizes[v] * sizeof(tg_real));
                free(got[0][v]);
                free(got[1][v]);
            }
            tg_tensor_free(x.a);
            tg_tensor_free(x.b);
            tg_tensor_free(x.w);
        }
}

static tg_tensor *add2(tg_tape *t, tg_tensor *const *in)
{
    return tg_add(t, in[0], in[1]);
}

static tg_tensor *sub2(tg_tape *t, tg_tensor *const *in)
{
    return tg_sub(t, in[0], in[1]);
}

static tg_tensor *mul2(tg_tape *t, tg_tensor *const *in)
{
    return tg_mul(t, in[0], in[1]);
}

/* Equal shapes run as SSE2, AVX2 or AVX-512 code (ops/vmath.h): the same bits at each, forward
 * and backward, on lengths that end every way against the lanes. */
static void test_add_sub_and_mul_give_the_same_bits_with_every_vector_width(void **s)
{
    (void)s;
    assert_same_bits_at_every_width(add2, 2, -2, 2);
    assert_same_bits_at_every_width(sub2, 2, -2, 2);
    assert_same_bits_at_every_width(mul2, 2, -2, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_forward_matches_reference),
        cmocka_unit_test(test_sub_forward_matches_reference),
        cmocka_unit_test(test_mul_forward_matches_reference),
        cmocka_unit_test(test_div_forward_matches_reference),
        cmocka_unit_test(test_add_backward_matches_finite_differences),
        cmocka_unit_test(test_sub_backward_matches_finite_differences),
        cmocka_unit_test(test_mul_backward_matches_finite_differences),
        cmocka_unit_test(test_div_backward_matches_finite_differences),
        cmocka_unit_test(test_a_broadcast_column_receives_the_row_sums_of_the_gradient),
        cmocka_unit_test(test_div_by_zero_gives_inf_or_nan_and_records_no_error),
        cmocka_unit_test(test_mul_of_a_tensor_with_itself_doubles_the_gradient),
        cmocka_unit_test(test_binary_ops_reject_shapes_that_do_not_broadcast),
        cmocka_unit_test(test_binary_ops_pass_null_through_and_keep_the_first_error),
        cmocka_unit_test(test_binary_ops_give_the_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_add_sub_and_mul_give_the_same_bits_with_every_vector_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
