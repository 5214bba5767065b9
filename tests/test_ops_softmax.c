/* test_ops_softmax.c: softmax and log-softmax of each row against a naive reference and finite
 * differences; huge logits, -inf masks, NaN and +inf rows; accumulation; one thread against
 * two; and dot-product attention composed from public ops, checked end to end. */
#include "testutil.h"

#include <stdlib.h>

typedef tg_tensor *(*unop)(tg_tape *, tg_tensor *);

static const size_t shapes[][2] = {{1, 1}, {1, 7}, {5, 3}, {4, 1}, {3, 40}};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };

/* Row i of x (N values) through softmax (log == 0) or log-softmax, naively in double. */
static void reference_row(const tg_real *x, size_t N, int log_, double *out)
{
    double m = -INFINITY, s = 0;
    for (size_t j = 0; j < N; j++) m = fmax(m, (double)x[j]);
    for (size_t j = 0; j < N; j++) s += exp((double)x[j] - m);
    for (size_t j = 0; j < N; j++)
        out[j] = log_ ? (double)x[j] - m - log(s) : exp((double)x[j] - m) / s;
}

static void check_forward(unop f, int log_, double lo, double hi)
{
    tg_rng r;
    tg_rng_seed(&r, 29);
    for (size_t s = 0; s < N_SHAPES; s++) {
        tg_tensor *x = rand_leaf(shapes[s][0], shapes[s][1], &r, lo, hi);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = f(t, x);
        assert_non_null(y);
        assert_int_equal(y->rows, x->rows);
        assert_int_equal(y->cols, x->cols);
        double want[40];
        for (size_t i = 0; i < x->rows; i++) {
            reference_row(x->val + i * x->cols, x->cols, log_, want);
            for (size_t j = 0; j < x->cols; j++) {
                tg_real w = (tg_real)want[j];
                assert_close(&y->val[i * x->cols + j], &w, 1, 4 * VAL_TOL);
            }
        }
        tg_tape_free(t);
        tg_tensor_free(x);
    }
}

static void check_gradients(unop f)
{
    tg_rng r;
    tg_rng_seed(&r, 31);
    for (size_t s = 0; s < N_SHAPES; s++) {
        tg_tensor *x = rand_leaf(shapes[s][0], shapes[s][1], &r, -3, 3);
        assert_weighted_gradcheck(f, x, rand_leaf(shapes[s][0], shapes[s][1], &r, -1, 1));
    }
}

static void test_softmax_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(tg_softmax, 0, -3, 3);
    check_forward(tg_softmax, 0, 500, 520); /* exp(500) overflows: the row maximum is taken out */
}

static void test_log_softmax_forward_matches_reference(void **s)
{
    (void)s;
    check_forward(tg_log_softmax, 1, -3, 3);
    check_forward(tg_log_softmax, 1, -900, -880);
}

static void test_softmax_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(tg_softmax);
}

static void test_log_softmax_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_gradients(tg_log_softmax);
}

static void test_softmax_rows_sum_to_one(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 37);
    tg_tensor *x = rand_leaf(6, 100, &r, -20, 20);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_softmax(t, x);
    tg_tensor *rows = tg_row_sum(t, y);
    assert_non_null(rows);
    for (size_t i = 0; i < 6; i++) assert_true(fabs(rows->val[i] - 1) < 4 * VAL_TOL);
    for (size_t i = 0; i < 600; i++) assert_true(y->val[i] >= 0 && y->val[i] <= 1);
    tg_tape_free(t);
    tg_tensor_free(x);
}

/* Row 0 masks its middle element with -inf; rows 1 to 4 hold a NaN, +inf, only -inf and 1e30:
 * the mask gets probability 0, the three bad rows are NaN, the others are untouched. */
static void test_softmax_masks_minus_inf_and_turns_bad_rows_into_nan(void **s)
{
    (void)s;
    const tg_real inf = (tg_real)INFINITY, v[] = {1, -inf, 1,    0,    (tg_real)NAN,  0, 0, inf,
                                                  2, -inf, -inf, -inf, (tg_real)1e30, 0, 0};
    tg_tensor *x = tg_tensor_new(5, 3, 0);
    memcpy(x->val, v, sizeof v);
    tg_tape *t = tg_tape_new();
    tg_tensor *p = tg_softmax(t, x), *lp = tg_log_softmax(t, x);
    assert_null(tg_tape_error(t));
    assert_true(p->val[0] == 0.5 && p->val[1] < 1e-30 && p->val[2] == 0.5);
    assert_true(lp->val[1] == -inf && fabs(lp->val[0] + log(2.0)) < VAL_TOL);
    for (int k = 3; k < 12; k++) assert_true(isnan(p->val[k]) && isnan(lp->val[k]));
    assert_true(p->val[12] == 1 && p->val[13] == 0 && lp->val[12] == 0);
    tg_tape_free(t);
    tg_tensor_free(x);
}

/* Backward adds: a gradient already on x stays, and x used twice gets both terms. */
static void test_softmax_backward_adds_to_the_gradient_already_there(void **s)
{
    (void)s;
    const unop fs[] = {tg_softmax, tg_log_softmax};
    tg_rng r;
    tg_rng_seed(&r, 41);
    for (int k = 0; k < 2; k++) {
        weighted_op c = {fs[k], rand_leaf(3, 4, &r, -2, 2), rand_leaf(3, 4, &r, -1, 1)};
        tg_tape *t = tg_tape_new();
        assert_int_equal(tg_backward(t, weighted_loss(t, &c)), TG_OK);
        tg_real once[12];
        memcpy(once, c.x->grad, sizeof once);
        for (int i = 0; i < 12; i++) c.x->grad[i] = 1;
        tg_tape_reset(t);
        tg_tensor *y = tg_add(t, weighted_loss(t, &c), weighted_loss(t, &c));
        assert_int_equal(tg_backward(t, y), TG_OK);
        for (int i = 0; i < 12; i++) {
            tg_real want = 1 + 2 * once[i];
            assert_close(&c.x->grad[i], &want, 1, VAL_TOL);
        }
        tg_tape_free(t);
        tg_tensor_free(c.x);
        tg_tensor_free(c.w);
    }
}

static void test_softmax_ops_pass_null_through_and_keep_the_first_error(void **s)
{
    (void)s;
    const unop fs[] = {tg_softmax, tg_log_softmax};
    const char *names[] = {"tg_softmax", "tg_log_softmax"};
    for (int k = 0; k < 2; k++) {
        tg_tape *t = tg_tape_new();
        assert_null(fs[k](t, NULL));
        assert_error_has(t, names[k], "input 1 is NULL", NULL);
        tg_tape_reset(t);
        tg_tensor *bad = tg_mul(t, tg_input(t, 2, 3, NULL), tg_input(t, 3, 2, NULL));
        assert_null(fs[k](t, bad));
        assert_error_has(t, "tg_mul", "(2 x 3)", "(3 x 2)", NULL);
        tg_tape_free(t);
    }
}

/* Large enough to split rows between threads: values and gradients must be the same bits. */
static void test_softmax_ops_give_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    enum { R = 37, C = 4099 };
    const unop fs[] = {tg_softmax, tg_log_softmax};
    tg_rng r;
    tg_rng_seed(&r, 43);
    weighted_op c = {NULL, rand_leaf(R, C, &r, -8, 8), rand_leaf(R, C, &r, -1, 1)};
    for (int k = 0; k < 2; k++) {
        c.f = fs[k];
        tg_real *got[2][2];
        for (int th = 0; th < 2; th++) {
            tg_set_num_threads(th + 1);
            memset(c.x->grad, 0, R * C * sizeof(tg_real));
            tg_tape *t = tg_tape_new();
            tg_tensor *y = fs[k](t, c.x);
            got[th][0] = malloc(R * C * sizeof(tg_real));
            got[th][1] = malloc(R * C * sizeof(tg_real));
            memcpy(got[th][0], y->val, R * C * sizeof(tg_real));
            assert_int_equal(tg_backward(t, weighted_loss(t, &c)), TG_OK);
            memcpy(got[th][1], c.x->grad, R * C * sizeof(tg_real));
            tg_tape_free(t);
        }
        tg_set_num_threads(0);
        for (int v = 0; v < 2; v++) {
            assert_memory_equal(got[0][v], got[1][v], R * C * sizeof(tg_real));
            free(got[0][v]);
            free(got[1][v]);
        }
    }
    tg_tensor_free(c.x);
    tg_tensor_free(c.w);
}

/* A token-weighted loss (padding masked out) from public ops: -Σ_i m_i log_softmax(z)[i][t_i]
 * / Σ_i m_i, picking with a one-hot (n x V) input and weighting with an (n x 1) mask column.
 * Masking the last of 4 rows, it is tg_softmax_xent over the other 3, gradient included, and
 * the masked row gets none. */
static void test_a_masked_loss_from_log_softmax_matches_softmax_xent(void **s)
{
    (void)s;
    enum { N = 4, V = 6 };
    const int32_t tgt[N] = {2, 0, 5, 2};
    tg_rng r;
    tg_rng_seed(&r, 67);
    tg_tensor *z = rand_leaf(N, V, &r, -3, 3), *z3 = tg_tensor_new(N - 1, V, 1);
    memcpy(z3->val, z->val, sizeof(tg_real) * (N - 1) * V);
    tg_tape *t = tg_tape_new();
    tg_tensor *onehot = tg_input(t, N, V, NULL), *mask = tg_input(t, N, 1, NULL);
    for (size_t i = 0; i < N; i++) onehot->val[i * V + (size_t)tgt[i]] = 1, mask->val[i] = i < 3;
    tg_tensor *picked = tg_row_sum(t, tg_mul(t, tg_log_softmax(t, z), onehot)); /* (N x 1) */
    tg_tensor *loss =
        tg_div(t, tg_sum(t, tg_mul(t, mask, picked)), tg_scale(t, tg_sum(t, mask), -1));
    tg_tensor *xent = tg_softmax_xent(t, z3, tgt, N - 1);
    assert_close(loss->val, xent->val, 1, 4 * VAL_TOL);
    assert_int_equal(tg_backward(t, tg_add(t, loss, xent)), TG_OK);
    assert_close(z->grad, z3->grad, (N - 1) * V, 4 * VAL_TOL);
    for (size_t j = 0; j < V; j++) assert_true(z->grad[(N - 1) * V + j] == 0);
    tg_tape_free(t);
    tg_tensor_free(z);
    tg_tensor_free(z3);
}

/* Dot-product attention of a decoder state q (B x H) over T encoder states h[t] (B x H),
 * composed from public ops only: scores e[:, t] = Σ_k h[t] ⊙ q, weights a = softmax(e) (B x T),
 * context c = Σ_t a[:, t] ⊙ h[t] (a (B x 1) column against (B x H)). */
enum { B = 3, T = 4, H = 5 };

/* The checked tensors: the T encoder states, then q (xs[T]); and the loss weights w. */
typedef struct {
    tg_tensor *xs[T + 1], *w;
} attn_ctx;

static attn_ctx attn_new(uint64_t seed)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    attn_ctx c;
    for (int k = 0; k <= T; k++) c.xs[k] = rand_leaf(B, H, &r, -1, 1);
    c.w = rand_leaf(B, H, &r, -1, 1);
    return c;
}

static void attn_free(attn_ctx *c)
{
    for (int k = 0; k <= T; k++) tg_tensor_free(c->xs[k]);
    tg_tensor_free(c->w);
}

static tg_tensor *attention(tg_tape *t, tg_tensor *const *h, tg_tensor *q, tg_tensor **weights)
{
    tg_tensor *e[T];
    for (int s = 0; s < T; s++) e[s] = tg_row_sum(t, tg_mul(t, h[s], q));
    tg_tensor *a = tg_softmax(t, tg_concat_cols(t, T, e)), *c = NULL;
    for (int s = 0; s < T; s++) {
        tg_tensor *term = tg_mul(t, tg_slice_cols(t, a, (size_t)s, 1), h[s]);
        c = s == 0 ? term : tg_add(t, c, term);
    }
    if (weights) *weights = a;
    return c;
}

static tg_tensor *attention_loss(tg_tape *t, void *p)
{
    attn_ctx *c = p;
    return tg_sum(t, tg_mul(t, attention(t, c->xs, c->xs[T], NULL), c->w));
}

/* Row b of the attention weights (a[T]) and of the context (ctx[H]), naively in double. */
static void naive_attention(const attn_ctx *c, size_t b, double *a, double *ctx)
{
    double m = -INFINITY, z = 0;
    for (int k = 0; k < T; k++) {
        a[k] = 0;
        for (size_t j = 0; j < H; j++) a[k] += c->xs[k]->val[b * H + j] * c->xs[T]->val[b * H + j];
        m = fmax(m, a[k]);
    }
    for (int k = 0; k < T; k++) z += a[k] = exp(a[k] - m);
    for (int k = 0; k < T; k++) a[k] /= z;
    for (size_t j = 0; j < H; j++) {
        ctx[j] = 0;
        for (int k = 0; k < T; k++) ctx[j] += a[k] * c->xs[k]->val[b * H + j];
    }
}

static void test_attention_composed_from_public_ops_matches_a_naive_reference(void **s)
{
    (void)s;
    attn_ctx c = attn_new(47);
    tg_tape *t = tg_tape_new();
    tg_tensor *a, *ctx = attention(t, c.xs, c.xs[T], &a);
    assert_non_null(ctx);
    for (size_t b = 0; b < B; b++) {
        double wa[T], wctx[H];
        naive_attention(&c, b, wa, wctx);
        for (size_t k = 0; k < T; k++) {
            tg_real w = (tg_real)wa[k];
            assert_close(&a->val[b * T + k], &w, 1, 4 * VAL_TOL);
        }
        for (size_t j = 0; j < H; j++) {
            tg_real w = (tg_real)wctx[j];
            assert_close(&ctx->val[b * H + j], &w, 1, 4 * VAL_TOL);
        }
    }
    tg_tape_free(t);
    attn_free(&c);
}

static void test_attention_composed_from_public_ops_matches_finite_differences(void **s)
{
    (void)s;
    attn_ctx c = attn_new(53);
    assert_gradcheck(attention_loss, &c, c.xs, T + 1);
    attn_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_forward_matches_reference),
        cmocka_unit_test(test_log_softmax_forward_matches_reference),
        cmocka_unit_test(test_softmax_backward_matches_finite_differences),
        cmocka_unit_test(test_log_softmax_backward_matches_finite_differences),
        cmocka_unit_test(test_softmax_rows_sum_to_one),
        cmocka_unit_test(test_softmax_masks_minus_inf_and_turns_bad_rows_into_nan),
        cmocka_unit_test(test_softmax_backward_adds_to_the_gradient_already_there),
        cmocka_unit_test(test_softmax_ops_pass_null_through_and_keep_the_first_error),
        cmocka_unit_test(test_softmax_ops_give_the_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_a_masked_loss_from_log_softmax_matches_softmax_xent),
        cmocka_unit_test(test_attention_composed_from_public_ops_matches_a_naive_reference),
        cmocka_unit_test(test_attention_composed_from_public_ops_matches_finite_differences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
