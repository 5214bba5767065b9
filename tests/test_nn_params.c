/* test_nn_params.c: the parameter store: contiguous layout across growth, lookup by name,
 * rejected adds with their messages, zeroing, gradients and values bound to a block of the caller's, and
 * the initialisers' ranges. */
#include "testutil.h"

#include "nn/params.h"

static void test_params_are_contiguous_in_order_of_adding_after_growth(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    assert_non_null(ps);
    tg_tensor *xs[40];
    char name[16];
    size_t total = 0;
    for (size_t i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "p%zu", i);
        xs[i] = add_param(ps, name, i % 3 + 1, i % 5 + 2);
        for (size_t k = 0; k < tg_numel(xs[i]); k++) xs[i]->val[k] = (tg_real)i;
        total += tg_numel(xs[i]);
    }
    assert_int_equal(tg_params_count(ps), 40);
    assert_int_equal(tg_params_numel(ps), total);
    tg_real *v = tg_params_values(ps), *g = tg_params_grads(ps);
    size_t off = 0;
    for (size_t i = 0; i < 40; i++) {
        assert_ptr_equal(tg_params_get(ps, i), xs[i]);
        assert_ptr_equal(xs[i]->val, v + off);
        assert_ptr_equal(xs[i]->grad, g + off);
        for (size_t k = 0; k < tg_numel(xs[i]); k++) {
            assert_true(v[off + k] == (tg_real)i); /* values survived every move */
            assert_true(g[off + k] == 0);
        }
        off += tg_numel(xs[i]);
    }
    assert_null(tg_params_get(ps, 40));
    tg_params_free(ps);
}

static void test_params_are_found_by_name(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    char buf[64] = "decoder.weight";
    tg_tensor *w = add_param(ps, buf, 5, 4);
    tg_tensor *b = add_param(ps, "decoder.bias", 1, 5);
    buf[0] = 'X'; /* the store copied the name */
    assert_ptr_equal(tg_params_find(ps, "decoder.weight"), w);
    assert_ptr_equal(tg_params_find(ps, "decoder.bias"), b);
    assert_null(tg_params_find(ps, "decoder"));
    assert_string_equal(tg_params_name(ps, 0), "decoder.weight");
    assert_string_equal(tg_params_name(ps, 1), "decoder.bias");
    assert_null(tg_params_name(ps, 2));
    tg_params_free(ps);
}

/* tg_params_add of (name, rows x cols) fails with code, a message holding a and the name and
 * shape, *out NULL, and the store as it was. */
static void assert_add_fails(tg_params *ps, const char *name, size_t rows, size_t cols, int code,
                             const char *a, const char *b, const char *c)
{
    size_t count = tg_params_count(ps), numel = tg_params_numel(ps);
    tg_tensor *x = (tg_tensor *)ps; /* anything but NULL */
    tg_status st = {0};
    assert_int_equal(tg_params_add(ps, name, rows, cols, &x, &st), code);
    assert_status_has(&st, code, "tg_params_add: ", a, b, c, NULL);
    assert_null(x);
    assert_int_equal(tg_params_count(ps), count);
    assert_int_equal(tg_params_numel(ps), numel);
}

static void test_params_add_rejects_a_duplicate_name(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    add_param(ps, "encoder.weight", 10, 4);
    assert_add_fails(ps, "encoder.weight", 3, 2, TG_EINVAL, "duplicate", "\"encoder.weight\"",
                     "(3 x 2)");
    assert_int_equal(tg_params_numel(ps), 40);
    tg_params_free(ps);
}

static void test_params_add_rejects_a_name_longer_than_63_bytes(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    char name[65];
    memset(name, 'a', 64);
    name[64] = '\0';
    assert_add_fails(ps, name, 2, 2, TG_EINVAL, "longer than 63", "aaaa", "(2 x 2)");
    name[63] = '\0';
    tg_tensor *x;
    tg_status st = {0};
    assert_int_equal(tg_params_add(ps, name, 2, 2, &x, &st), TG_OK);
    assert_int_equal(st.code, TG_OK); /* a success leaves the status as it was */
    assert_ptr_equal(tg_params_find(ps, name), x);
    tg_params_free(ps);
}

static void test_params_add_rejects_a_zero_size_shape(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    assert_add_fails(ps, "b", 0, 5, TG_EINVAL, "zero-size", "\"b\"", "(0 x 5)");
    assert_add_fails(ps, "w", 3, 0, TG_EINVAL, "zero-size", "\"w\"", "(3 x 0)");
    assert_int_equal(tg_params_count(ps), 0);
    tg_params_free(ps);
}

static void test_params_add_rejects_a_size_that_overflows_and_null_arguments(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    add_param(ps, "w", 2, 2);
    assert_add_fails(ps, "huge", SIZE_MAX / 2, 3, TG_ERANGE, "too large", "\"huge\"", "x 3)");
    assert_add_fails(ps, NULL, 1, 1, TG_ENULL, "NULL", "(null)", "(1 x 1)");
    tg_status st = {0};
    assert_int_equal(tg_params_add(ps, "v", 1, 1, NULL, &st), TG_ENULL);
    assert_status_has(&st, TG_ENULL, "NULL", "\"v\"", NULL);
    assert_int_equal(tg_params_add(NULL, "v", 1, 1, NULL, NULL), TG_ENULL); /* st may be NULL */
    assert_int_equal(tg_params_count(ps), 1);
    tg_params_free(ps);
}

static void test_params_zero_grad_clears_every_gradient(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_tensor *w = add_param(ps, "w", 2, 3);
    tg_tensor *b = add_param(ps, "b", 1, 3);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, tg_sum(t, tg_add(t, w, b))), TG_OK);
    assert_true(b->grad[0] == 2 && w->grad[5] == 1);
    tg_params_zero_grad(ps);
    for (size_t i = 0; i < tg_params_numel(ps); i++) assert_true(tg_params_grads(ps)[i] == 0);
    tg_tape_free(t);
    tg_params_free(ps);
}

static void test_params_zero_grad_clears_a_large_store_on_two_threads(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    add_param(ps, "w", 600001, 1); /* past two threads' share */
    size_t n = tg_params_numel(ps);
    for (size_t i = 0; i < n; i++) tg_params_grads(ps)[i] = 1;
    tg_set_num_threads(2);
    tg_params_zero_grad(ps);
    tg_set_num_threads(0);
    for (size_t i = 0; i < n; i++) assert_true(tg_params_grads(ps)[i] == 0);
    tg_params_free(ps);
}

/* Binding copies the gradients into the caller's block and re-points every tensor there; the
 * bound store refuses to grow, naming the parameter; unbinding copies them back to a block of
 * the store's own, and then it grows again. */
static void test_gradients_bound_to_a_callers_block_stay_there_until_unbound(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_tensor *w = add_param(ps, "w", 2, 3), *b = add_param(ps, "b", 1, 3);
    for (size_t i = 0; i < 9; i++) tg_params_grads(ps)[i] = (tg_real)i + 1;
    tg_real block[9] = {0};
    tg_status st = {0};
    assert_int_equal(tg_params_bind_grads(ps, block, &st), TG_OK);
    assert_ptr_equal(tg_params_grads(ps), block);
    assert_ptr_equal(w->grad, block);
    assert_ptr_equal(b->grad, block + 6);
    assert_true(block[0] == 1 && block[8] == 9);
    assert_int_equal(tg_params_bind_grads(ps, block, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_params_bind_grads", "already bound", NULL);
    tg_tensor *x;
    assert_int_equal(tg_params_add(ps, "late", 4, 5, &x, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_params_add", "\"late\" (4 x 5)", "bound", NULL);
    assert_null(x);
    assert_int_equal(tg_params_count(ps), 2);
    block[7] = 70; /* a gradient written through the block */
    assert_true(b->grad[1] == 70);
    assert_int_equal(tg_params_unbind_grads(ps, &st), TG_OK);
    assert_true(tg_params_grads(ps) != block && b->grad == tg_params_grads(ps) + 6);
    assert_true(b->grad[1] == 70 && w->grad[0] == 1);
    assert_int_equal(tg_params_unbind_grads(ps, &st), TG_OK); /* not bound: nothing to do */
    add_param(ps, "late", 4, 5);
    assert_true(b->grad[1] == 70 && tg_params_numel(ps) == 29);
    tg_params_free(ps);
    tg_params *empty = tg_params_new();
    assert_int_equal(tg_params_bind_grads(empty, block, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "empty", NULL);
    assert_int_equal(tg_params_bind_grads(empty, NULL, &st), TG_ENULL);
    tg_params_free(empty);
    tg_params *held = tg_params_new(); /* freed while bound: the block (on the stack) is not */
    add_param(held, "v", 1, 2);
    assert_int_equal(tg_params_bind_grads(held, block, &st), TG_OK);
    tg_params_free(held);
}

/* Values bind as gradients do: copied into the caller's block, every tensor re-pointed, the store
 * refuses to grow (naming the values), and unbinding copies them back; both bound at once. */
static void test_values_bound_to_a_callers_block_stay_there_until_unbound(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_tensor *w = add_param(ps, "w", 2, 3), *b = add_param(ps, "b", 1, 3);
    for (size_t i = 0; i < 9; i++) tg_params_values(ps)[i] = (tg_real)i + 1;
    tg_real vals[9] = {0}, grads[9] = {0};
    tg_status st = {0};
    assert_int_equal(tg_params_bind_values(ps, vals, &st), TG_OK);
    assert_int_equal(tg_params_bind_grads(ps, grads, &st), TG_OK);
    assert_true(tg_params_values(ps) == vals && w->val == vals && b->val == vals + 6);
    assert_true(b->grad == grads + 6 && vals[0] == 1 && vals[8] == 9);
    assert_int_equal(tg_params_bind_values(ps, vals, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_params_bind_values", "already bound", NULL);
    assert_int_equal(tg_params_unbind_grads(ps, &st), TG_OK);
    tg_tensor *x;
    assert_int_equal(tg_params_add(ps, "late", 4, 5, &x, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "\"late\" (4 x 5)", "values", "tg_params_bind_values", NULL);
    vals[7] = 70; /* a value written through the block */
    assert_true(b->val[1] == 70);
    assert_int_equal(tg_params_unbind_values(ps, &st), TG_OK);
    assert_true(tg_params_values(ps) != vals && b->val == tg_params_values(ps) + 6);
    assert_true(b->val[1] == 70 && w->val[0] == 1);
    assert_int_equal(tg_params_unbind_values(ps, &st), TG_OK); /* not bound: nothing to do */
    add_param(ps, "late", 4, 5);
    assert_true(b->val[1] == 70 && tg_params_numel(ps) == 29);
    tg_params_free(ps);
    tg_params *empty = tg_params_new();
    assert_int_equal(tg_params_bind_values(empty, vals, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "empty", NULL);
    assert_int_equal(tg_params_bind_values(empty, NULL, &st), TG_ENULL);
    tg_params_free(empty);
    tg_params *held = tg_params_new(); /* freed while bound: the block (on the stack) is not */
    add_param(held, "v", 1, 2);
    assert_int_equal(tg_params_bind_values(held, vals, &st), TG_OK);
    tg_params_free(held);
}

static void test_initialisers_stay_in_their_ranges(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_params *ps = tg_params_new();
    tg_tensor *w = add_param(ps, "w", 40, 60);
    tg_init_xavier(w, &r);
    double a = sqrt(6.0 / 100.0), mean = 0;
    for (size_t i = 0; i < tg_numel(w); i++) {
        assert_true(fabs(w->val[i]) <= a);
        mean += w->val[i];
    }
    assert_true(fabs(mean / (double)tg_numel(w)) < 0.02);
    tg_params_init_uniform(ps, 0.1, &r);
    for (size_t i = 0; i < tg_numel(w); i++) assert_true(fabs(w->val[i]) <= 0.1);
    tg_init_normal(w, 5.0, 0.5, &r);
    mean = 0;
    for (size_t i = 0; i < tg_numel(w); i++) mean += w->val[i];
    assert_true(fabs(mean / (double)tg_numel(w) - 5.0) < 0.05);
    for (size_t i = 0; i < tg_numel(w); i++) assert_true(w->grad[i] == 0);
    tg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_are_contiguous_in_order_of_adding_after_growth),
        cmocka_unit_test(test_params_are_found_by_name),
        cmocka_unit_test(test_params_add_rejects_a_duplicate_name),
        cmocka_unit_test(test_params_add_rejects_a_name_longer_than_63_bytes),
        cmocka_unit_test(test_params_add_rejects_a_zero_size_shape),
        cmocka_unit_test(test_params_add_rejects_a_size_that_overflows_and_null_arguments),
        cmocka_unit_test(test_params_zero_grad_clears_every_gradient),
        cmocka_unit_test(test_params_zero_grad_clears_a_large_store_on_two_threads),
        cmocka_unit_test(test_gradients_bound_to_a_callers_block_stay_there_until_unbound),
        cmocka_unit_test(test_values_bound_to_a_callers_block_stay_there_until_unbound),
        cmocka_unit_test(test_initialisers_stay_in_their_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
