/* test_ops_fused.c: tg_addcmul against its composite (the same bits, forward and backward) and
 * finite differences, its shape errors, NULL inputs, an input used twice, large tensors on one
 * thread and on two, and every vector width (samebits.h). */
#include "samebits.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    tg_tensor *x, *a, *b, *w;
    int composite; /* 1: tg_add(x, tg_mul(a, b)) instead of tg_addcmul */
} ctx;

/* loss = sum((x + a ⊙ b) ⊙ w): a weighted sum, so every output element gets its own gradient. */
static tg_tensor *weighted(tg_tape *t, void *p)
{
    ctx *c = p;
    return tg_sum(t, tg_mul(t, tg_addcmul(t, c->x, c->a, c->b), c->w));
}

static ctx rand_ctx(size_t rows, size_t cols, tg_rng *r)
{
    return (ctx){rand_leaf(rows, cols, r, -2, 2), rand_leaf(rows, cols, r, -2, 2),
                 rand_leaf(rows, cols, r, -2, 2), rand_leaf(rows, cols, r, -1, 1), 0};
}

static void free_ctx(ctx *c)
{
    tg_tensor_free(c->x);
    tg_tensor_free(c->a);
    tg_tensor_free(c->b);
    tg_tensor_free(c->w);
}

static tg_tensor *addcmul3(tg_tape *t, tg_tensor *const *in)
{
    return tg_addcmul(t, in[0], in[1], in[2]);
}

static tg_tensor *add_of_mul3(tg_tape *t, tg_tensor *const *in)
{
    return tg_add(t, in[0], tg_mul(t, in[1], in[2]));
}

/* y's values and x's, a's and b's gradients after backward of the weighted loss, as one heap
 * block (n values each, 4n in all). */
static tg_real *run(ctx *c)
{
    tg_tensor *in[] = {c->x, c->a, c->b};
    return values_and_gradients(c->composite ? add_of_mul3 : addcmul3, in, 3, c->w);
}

static void test_addcmul_forward_matches_reference(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    ctx c = rand_ctx(4, 7, &r);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_addcmul(t, c.x, c.a, c.b);
    assert_non_null(y);
    assert_int_equal(y->rows, 4);
    assert_int_equal(y->cols, 7);
    tg_real want[28];
    for (size_t i = 0; i < 28; i++) want[i] = c.x->val[i] + c.a->val[i] * c.b->val[i];
    assert_close(y->val, want, 28, VAL_TOL);
    tg_tape_free(t);
    free_ctx(&c);
}

static void test_addcmul_backward_matches_finite_differences(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 5);
    const size_t shapes[][2] = {{1, 1}, {1, 9}, {5, 3}, {6, 1}};
    for (size_t k = 0; k < 4; k++) {
        ctx c = rand_ctx(shapes[k][0], shapes[k][1], &r);
        tg_tensor *xs[] = {c.x, c.a, c.b};
        assert_gradcheck(weighted, &c, xs, 3);
        free_ctx(&c);
    }
}

static void test_addcmul_gives_the_bits_of_add_of_mul(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 7);
    ctx c = rand_ctx(20, 200, &r);
    tg_real *fused = run(&c);
    c.composite = 1;
    tg_real *composite = run(&c);
    assert_memory_equal(fused, composite, 4 * 20 * 200 * sizeof(tg_real));
    free(fused);
    free(composite);
    free_ctx(&c);
}

static void test_addcmul_of_a_tensor_with_itself_adds_every_path(void **s)
{
    (void)s;
    /* y = x + x ⊙ x: dy/dx = 1 + 2x */
    tg_rng r;
    tg_rng_seed(&r, 9);
    tg_tensor *x = rand_leaf(3, 4, &r, -2, 2);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, tg_sum(t, tg_addcmul(t, x, x, x))), TG_OK);
    tg_real want[12];
    for (size_t i = 0; i < 12; i++) want[i] = 1 + 2 * x->val[i];
    assert_close(x->grad, want, 12, VAL_TOL);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_addcmul_without_some_gradients_fills_the_others(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 13);
    tg_tensor *x = tg_tensor_new(2, 3, 0), *a = rand_leaf(2, 3, &r, -1, 1);
    tg_tensor *b = tg_tensor_new(2, 3, 0);
    for (size_t i = 0; i < 6; i++) b->val[i] = (tg_real)i;
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, tg_sum(t, tg_addcmul(t, x, a, b))), TG_OK);
    for (size_t i = 0; i < 6; i++) assert_true(a->grad[i] == (tg_real)i); /* da = dy ⊙ b */
    tg_tape_free(t);
    tg_tensor_free(x);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

static void test_addcmul_rejects_shapes_that_differ(void **s)
{
    (void)s;
    tg_tensor *x = tg_tensor_new(2, 3, 1), *a = tg_tensor_new(2, 3, 1), *b = tg_tensor_new(1, 3, 1);
    tg_tape *t = tg_tape_new();
    assert_null(tg_addcmul(t, x, a, b));
    assert_error_has(t, "tg_addcmul: shapes differ", "x is (2 x 3)", "a is (2 x 3)", "b is (1 x 3)",
                     NULL);
    tg_tape_reset(t);
    assert_null(tg_addcmul(t, b, a, x));
    assert_error_has(t, "x is (1 x 3)", NULL);
    tg_tape_free(t);
    tg_tensor_free(x);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

static void test_addcmul_passes_null_through_and_keeps_the_first_error(void **s)
{
    (void)s;
    tg_tensor *x = tg_tensor_new(2, 3, 1);
    tg_tape *t = tg_tape_new();
    assert_null(tg_addcmul(t, x, NULL, x));
    assert_error_has(t, "tg_addcmul", "input 2 is NULL", NULL);
    assert_null(tg_addcmul(t, NULL, x, x));
    assert_error_has(t, "input 2 is NULL", NULL); /* the first message is kept */
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_addcmul_gives_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 17);
    ctx c = rand_ctx(301, 257, &r); /* 77K elements: two threads */
    tg_set_num_threads(1);
    tg_real *one = run(&c);
    tg_set_num_threads(2);
    tg_real *two = run(&c);
    tg_set_num_threads(0);
    assert_memory_equal(one, two, 4 * 301 * 257 * sizeof(tg_real));
    free(one);
    free(two);
    free_ctx(&c);
}

/* The loops run as SSE2, AVX2 or AVX-512 code (ops/vmath.h): the same bits at each, forward and
 * backward, on lengths that end every way against the lanes. */
static void test_addcmul_gives_the_same_bits_with_every_vector_width(void **s)
{
    (void)s;
    assert_same_bits_at_every_width(addcmul3, 3, -2, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addcmul_forward_matches_reference),
        cmocka_unit_test(test_addcmul_backward_matches_finite_differences),
        cmocka_unit_test(test_addcmul_gives_the_bits_of_add_of_mul),
        cmocka_unit_test(test_addcmul_of_a_tensor_with_itself_adds_every_path),
        cmocka_unit_test(test_addcmul_without_some_gradients_fills_the_others),
        cmocka_unit_test(test_addcmul_rejects_shapes_that_differ),
        cmocka_unit_test(test_addcmul_passes_null_through_and_keeps_the_first_error),
        cmocka_unit_test(test_addcmul_gives_the_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_addcmul_gives_the_same_bits_with_every_vector_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
