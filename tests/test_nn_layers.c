/* test_nn_layers.c: the linear layer against a naive loop and finite differences, the
 * embedding layer, weight tying (both uses accumulate into one table), names, and errors. */
#include "testutil.h"

#include "nn/layers.h"
#include "nn/params.h"

enum { B = 3, I = 5, O = 4, V = 6, E = 4 };

static void test_linear_forward_matches_a_naive_loop(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_params *ps = tg_params_new();
    tg_linear l;
    assert_int_equal(tg_linear_init(&l, ps, "fc", I, O, 1, &r, NULL), TG_OK);
    tg_init_uniform(l.b, -1, 1, &r);
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_input(t, B, I, NULL);
    fill_uniform(x->val, B * I, &r, -1, 1);
    tg_tensor *y = tg_linear_forward(t, &l, x);
    assert_non_null(y);
    assert_int_equal(y->rows, B);
    assert_int_equal(y->cols, O);
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < O; o++) {
            double a = l.b->val[o];
            for (size_t i = 0; i < I; i++) a += (double)x->val[b * I + i] * l.W->val[o * I + i];
            tg_real want = (tg_real)a;
            assert_close(&y->val[b * O + o], &want, 1, VAL_TOL);
        }
    tg_tape_free(t);
    tg_params_free(ps);
}

static void test_linear_init_names_like_pytorch_and_uses_its_range(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 2);
    tg_params *ps = tg_params_new();
    tg_linear l, nb;
    assert_int_equal(tg_linear_init(&l, ps, "decoder", I, O, 1, &r, NULL), TG_OK);
    assert_ptr_equal(tg_params_find(ps, "decoder.weight"), l.W);
    assert_ptr_equal(tg_params_find(ps, "decoder.bias"), l.b);
    assert_int_equal(l.W->rows, O);
    assert_int_equal(l.W->cols, I);
    assert_int_equal(l.b->rows, 1);
    assert_int_equal(l.b->cols, O);
    for (size_t i = 0; i < tg_params_numel(ps); i++)
        assert_true(fabs(tg_params_values(ps)[i]) <= 1.0 / sqrt((double)I));
    assert_int_equal(tg_linear_init(&nb, ps, "head", I, O, 0, &r, NULL), TG_OK);
    assert_null(nb.b);
    assert_null(tg_params_find(ps, "head.bias"));
    tg_params_free(ps);
}

typedef struct {
    tg_linear *l;
    tg_tensor *x, *w;
} lin_ctx;

static tg_tensor *lin_loss(tg_tape *t, void *p)
{
    lin_ctx *c = p;
    return tg_sum(t, tg_mul(t, tg_linear_forward(t, c->l, c->x), c->w));
}

static void test_linear_backward_matches_finite_differences(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    for (int bias = 0; bias <= 1; bias++) {
        tg_params *ps = tg_params_new();
        tg_linear l;
        assert_int_equal(tg_linear_init(&l, ps, "fc", I, O, bias, &r, NULL), TG_OK);
        lin_ctx c = {&l, rand_leaf(B, I, &r, -1, 1), rand_leaf(B, O, &r, -1, 1)};
        tg_tensor *xs[] = {c.x, l.W, l.b};
        assert_gradcheck(lin_loss, &c, xs, bias ? 3 : 2);
        tg_tensor_free(c.x);
        tg_tensor_free(c.w);
        tg_params_free(ps);
    }
}

static void test_embedding_layer_picks_rows_and_is_named_like_pytorch(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 4);
    tg_params *ps = tg_params_new();
    tg_embed e;
    assert_int_equal(tg_embed_init(&e, ps, "encoder", V, E, &r, NULL), TG_OK);
    assert_ptr_equal(tg_params_find(ps, "encoder.weight"), e.W);
    assert_int_equal(e.W->rows, V);
    assert_int_equal(e.W->cols, E);
    const int32_t ids[] = {5, 0, 5};
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_embed_forward(t, &e, ids, 3);
    assert_non_null(y);
    for (size_t i = 0; i < 3; i++)
        assert_close(&y->val[i * E], &e.W->val[(size_t)ids[i] * E], E, 0);
    tg_tape_free(t);
    tg_params_free(ps);
}

typedef struct {
    tg_embed *e;
    tg_linear *dec;
    const int32_t *ids;
    tg_tensor *w;
    int part; /* 1: the decoder's use only, 2: the embedding's use only, 3: both */
} tied_ctx;

/* loss = sum(decoder(embed(ids)) ⊙ w): the table is read twice. Part 1 cuts the embedding's
 * use off (detaches its output), part 2 the decoder's (it reads a detached copy of W). */
static tg_tensor *tied_loss(tg_tape *t, void *p)
{
    tied_ctx *c = p;
    tg_tensor *x = tg_embed_forward(t, c->e, c->ids, B);
    tg_linear dec = *c->dec;
    if (c->part == 1) x = tg_detach(t, x);
    if (c->part == 2) dec.W = tg_detach(t, dec.W);
    return tg_sum(t, tg_mul(t, tg_linear_forward(t, &dec, x), c->w));
}

static void test_tied_weights_receive_the_gradients_of_both_uses(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 5);
    tg_params *ps = tg_params_new();
    tg_embed e;
    tg_linear dec;
    assert_int_equal(tg_embed_init(&e, ps, "encoder", V, E, &r, NULL), TG_OK);
    assert_int_equal(tg_linear_init_tied(&dec, ps, "decoder", &e, 1, NULL), TG_OK);
    assert_ptr_equal(dec.W, e.W);
    assert_int_equal(dec.in, E);
    assert_int_equal(dec.out, V);
    assert_null(tg_params_find(ps, "decoder.weight"));
    assert_non_null(tg_params_find(ps, "decoder.bias"));
    assert_int_equal(tg_params_numel(ps), V * E + V);
    const int32_t ids[B] = {2, 4, 2};
    tied_ctx c = {&e, &dec, ids, rand_leaf(B, V, &r, -1, 1), 3};
    tg_tensor *xs[] = {e.W, dec.b};
    assert_gradcheck(tied_loss, &c, xs, 2);

    /* The sum of the two uses, each alone, is the tied gradient. */
    tg_real both[V * E], sep[V * E] = {0};
    memcpy(both, e.W->grad, sizeof both);
    for (c.part = 1; c.part <= 2; c.part++) {
        tg_params_zero_grad(ps);
        tg_tape *t = tg_tape_new();
        assert_int_equal(tg_backward(t, tied_loss(t, &c)), TG_OK);
        for (size_t i = 0; i < V * E; i++) sep[i] += e.W->grad[i];
        tg_tape_free(t);
    }
    assert_close(both, sep, V * E, VAL_TOL);
    tg_tensor_free(c.w);
    tg_params_free(ps);
}

static void test_linear_rejects_a_wrong_input_width_naming_the_shapes(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_linear l;
    assert_int_equal(tg_linear_init(&l, ps, "fc", I, O, 1, NULL, NULL), TG_OK);
    tg_tape *t = tg_tape_new();
    assert_null(tg_linear_forward(t, &l, tg_input(t, 2, 7, NULL)));
    assert_error_has(t, "tg_addmm", "inner dimensions", "(2 x 7)", "(4 x 5)", NULL);
    tg_tape_reset(t);
    assert_null(tg_linear_forward(t, &l, NULL));
    assert_error_has(t, "tg_addmm", "a is NULL", NULL);
    tg_tape_free(t);
    tg_params_free(ps);
}

static void test_layer_init_rejects_duplicates_and_zero_sizes(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_linear l;
    tg_embed e;
    assert_int_equal(tg_embed_init(&e, ps, "encoder", V, E, NULL, NULL), TG_OK);
    tg_status st = {0};
    assert_int_equal(tg_embed_init(&e, ps, "encoder", V, E, NULL, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_params_add", "duplicate", "\"encoder.weight\"", NULL);
    assert_null(e.W);
    assert_int_equal(tg_linear_init(&l, ps, "fc", 0, O, 1, NULL, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "zero-size", "\"fc.weight\"", "(4 x 0)", NULL);
    assert_null(l.W);
    tg_linear tied;
    assert_int_equal(tg_linear_init_tied(&tied, ps, "encoder", &e, 1, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "\"encoder.bias\"", NULL);
    assert_int_equal(tg_params_count(ps), 1); /* every failure left the store as it was */
    tg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_forward_matches_a_naive_loop),
        cmocka_unit_test(test_linear_init_names_like_pytorch_and_uses_its_range),
        cmocka_unit_test(test_linear_backward_matches_finite_differences),
        cmocka_unit_test(test_embedding_layer_picks_rows_and_is_named_like_pytorch),
        cmocka_unit_test(test_tied_weights_receive_the_gradients_of_both_uses),
        cmocka_unit_test(test_linear_rejects_a_wrong_input_width_naming_the_shapes),
        cmocka_unit_test(test_layer_init_rejects_duplicates_and_zero_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
