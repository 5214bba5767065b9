/* test_ops_reduce.c: sum and mean of everything, of each row and of each column against a naive
 * reference and finite differences, on 1x1, a row, a column and non-square shapes; means of
 * nothing; the row-wise argmax and the top k, with their ties, NaNs and errors. */
#include "testutil.h"

typedef tg_tensor *(*reduce_fn)(tg_tape *, tg_tensor *);

/* The ops, what they sum over (a: all, r: each row, c: each column), and whether they mean. */
static const struct {
    reduce_fn f;
    const char *name;
    char over;
    int mean;
} ops[] = {
    {tg_sum, "tg_sum", 'a', 0},         {tg_mean, "tg_mean", 'a', 1},
    {tg_row_sum, "tg_row_sum", 'r', 0}, {tg_row_mean, "tg_row_mean", 'r', 1},
    {tg_col_sum, "tg_col_sum", 'c', 0}, {tg_col_mean, "tg_col_mean", 'c', 1},
};
enum { N_OPS = sizeof ops / sizeof ops[0] };

/* 300 columns: more than one of col_sum's blocks of 256. */
static const size_t shapes[][2] = {{1, 1}, {1, 7}, {6, 1}, {5, 3}, {3, 300}};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };

/* Element (i, j) of the naive reference: the sum (or mean) that lands at y[i][j]. */
static double reference(int k, const tg_tensor *x, size_t i, size_t j)
{
    double s = 0;
    size_t n = 0;
    for (size_t r = 0; r < x->rows; r++)
        for (size_t c = 0; c < x->cols; c++) {
            int in = ops[k].over == 'a' || (ops[k].over == 'r' ? r == i : c == j);
            if (in) s += x->val[r * x->cols + c], n++;
        }
    return ops[k].mean ? s / (double)n : s;
}

static void check_forward(int k)
{
    tg_rng r;
    tg_rng_seed(&r, 17);
    for (size_t s = 0; s < N_SHAPES; s++) {
        tg_tensor *x = rand_leaf(shapes[s][0], shapes[s][1], &r, -2, 2);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = ops[k].f(t, x);
        assert_non_null(y);
        assert_int_equal(y->rows, ops[k].over == 'r' ? x->rows : 1);
        assert_int_equal(y->cols, ops[k].over == 'c' ? x->cols : 1);
        for (size_t i = 0; i < y->rows; i++)
            for (size_t j = 0; j < y->cols; j++) {
                tg_real want = (tg_real)reference(k, x, i, j);
                assert_close(&y->val[i * y->cols + j], &want, 1, VAL_TOL);
            }
        tg_tape_free(t);
        tg_tensor_free(x);
    }
}

static void check_gradients(int k)
{
    tg_rng r;
    tg_rng_seed(&r, 19);
    for (size_t s = 0; s < N_SHAPES; s++) {
        size_t rows = ops[k].over == 'r' ? shapes[s][0] : 1;
        size_t cols = ops[k].over == 'c' ? shapes[s][1] : 1;
        tg_tensor *x = rand_leaf(shapes[s][0], shapes[s][1], &r, -2, 2);
        assert_weighted_gradcheck(ops[k].f, x, rand_leaf(rows, cols, &r, -1, 1));
    }
}

static void test_reductions_match_a_naive_reference(void **s)
{
    (void)s;
    for (int k = 0; k < N_OPS; k++) check_forward(k);
}

static void test_sum_and_mean_backward_match_finite_differences(void **s)
{
    (void)s;
    check_gradients(0);
    check_gradients(1);
}

static void test_row_sum_and_row_mean_backward_match_finite_differences(void **s)
{
    (void)s;
    check_gradients(2);
    check_gradients(3);
}

static void test_col_sum_and_col_mean_backward_match_finite_differences(void **s)
{
    (void)s;
    check_gradients(4);
    check_gradients(5);
}

/* Backward adds: a gradient already on x stays, and x used twice gets both terms. */
static void test_reductions_add_to_the_gradient_already_there(void **s)
{
    (void)s;
    for (int k = 0; k < N_OPS; k++) {
        tg_tensor *x = tg_tensor_new(2, 4, 1);
        for (int i = 0; i < 8; i++) x->val[i] = (tg_real)i, x->grad[i] = 1;
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_add(t, ops[k].f(t, x), ops[k].f(t, x));
        assert_int_equal(tg_backward(t, tg_sum(t, y)), TG_OK);
        double per = !ops[k].mean         ? 1
                     : ops[k].over == 'a' ? 1.0 / 8
                     : ops[k].over == 'r' ? 0.25
                                          : 0.5;
        for (int i = 0; i < 8; i++) {
            tg_real want = (tg_real)(1 + 2 * per);
            assert_close(&x->grad[i], &want, 1, VAL_TOL);
        }
        tg_tape_free(t);
        tg_tensor_free(x);
    }
}

/* A sum of nothing is 0; a mean of nothing is an error naming the op and the shape. */
static void test_means_of_nothing_are_errors_and_sums_of_nothing_are_zero(void **s)
{
    (void)s;
    const size_t empty[][2] = {{0, 3}, {3, 0}};
    for (int k = 0; k < N_OPS; k++)
        for (int e = 0; e < 2; e++) {
            tg_tape *t = tg_tape_new();
            tg_tensor *y = ops[k].f(t, tg_input(t, empty[e][0], empty[e][1], NULL));
            /* a row mean of (0 x 3) is (0 x 1), nothing to average in no row: fine */
            int bad =
                ops[k].mean && !(ops[k].over == 'r' && e == 0) && !(ops[k].over == 'c' && e == 1);
            if (!bad) {
                assert_non_null(y);
                assert_null(tg_tape_error(t));
                for (size_t i = 0; i < tg_numel(y); i++) assert_true(y->val[i] == 0);
            } else {
                char shape[32];
                snprintf(shape, sizeof shape, "x is (%zu x %zu)", empty[e][0], empty[e][1]);
                assert_null(y);
                assert_error_has(t, ops[k].name, "nothing to average", shape, NULL);
            }
            tg_tape_free(t);
        }
}

static void test_reductions_pass_null_through_and_keep_the_first_error(void **s)
{
    (void)s;
    for (int k = 0; k < N_OPS; k++) {
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

static void test_row_argmax_picks_each_rows_first_largest_and_a_nan(void **s)
{
    (void)s;
    const tg_real v[] = {1,  3,  3,  -1, /* a tie: the first */
                         -5, -4, -9, -4.5f, 2, 2, 2, 2, 0, (tg_real)NAN, 7, 1};
    tg_tensor x;
    tg_tensor_init(&x, 4, 4, (tg_real *)v, NULL);
    int32_t ids[4] = {-1, -1, -1, -1};
    assert_int_equal(tg_row_argmax(&x, ids, NULL), TG_OK);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 0);
    assert_int_equal(ids[3], 1);
}

static void test_row_argmax_rejects_null_and_no_columns_and_says_so(void **s)
{
    (void)s;
    tg_status st;
    int32_t ids[2] = {7, 7};
    tg_real v[2] = {0, 0};
    tg_tensor x;
    tg_tensor_init(&x, 2, 0, v, NULL);
    assert_int_equal(tg_row_argmax(&x, ids, &st), TG_ESHAPE);
    assert_int_equal(st.code, TG_ESHAPE);
    assert_non_null(strstr(st.msg, "tg_row_argmax: x is (2 x 0)"));
    assert_true(ids[0] == 7 && ids[1] == 7);
    assert_int_equal(tg_row_argmax(NULL, ids, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_row_argmax: x is NULL"));
    tg_tensor_init(&x, 2, 1, v, NULL);
    assert_int_equal(tg_row_argmax(&x, NULL, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_row_argmax: ids is NULL"));
    assert_int_equal(tg_row_argmax(NULL, ids, NULL), TG_ENULL);
}

/* The naive top k: a stable selection sort of every position, largest value first. */
static void naive_top_k(const tg_real *v, size_t n, size_t k, size_t *pos)
{
    int used[64] = {0};
    for (size_t r = 0; r < k; r++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!used[i] && (best == n || v[i] > v[best])) best = i;
        used[best] = 1;
        pos[r] = best;
    }
}

/* Integer values in [-4, 4]: many ties, which must keep their order. */
static void test_top_k_matches_a_naive_stable_selection(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 59);
    tg_tensor *x = tg_tensor_new(6, 10, 0);
    for (int rep = 0; rep < 20; rep++) {
        for (size_t i = 0; i < 60; i++) x->val[i] = (tg_real)floor(9 * tg_rng_uniform(&r) - 4);
        const size_t ks[] = {0, 1, 2, 5, 13, 59, 60};
        for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++) {
            size_t k = ks[c], got[60], want[60];
            assert_int_equal(tg_top_k(x, k, got, NULL), TG_OK);
            naive_top_k(x->val, 60, k, want);
            assert_memory_equal(got, want, k * sizeof *got);
        }
    }
    tg_tensor_free(x);
}

static void test_top_k_ranks_nan_first_and_says_when_k_is_too_large(void **s)
{
    (void)s;
    tg_real v[] = {1, (tg_real)NAN, 3, 2};
    tg_tensor x;
    tg_tensor_init(&x, 2, 2, v, NULL);
    size_t pos[4] = {9, 9, 9, 9};
    assert_int_equal(tg_top_k(&x, 3, pos, NULL), TG_OK);
    assert_true(pos[0] == 1 && pos[1] == 2 && pos[2] == 3 && pos[3] == 9);
    tg_status st;
    assert_int_equal(tg_top_k(&x, 5, pos, &st), TG_ERANGE);
    assert_non_null(strstr(st.msg, "tg_top_k: k = 5 is more than the 4 elements of x"));
    assert_true(pos[0] == 1 && pos[3] == 9);
    assert_int_equal(tg_top_k(NULL, 1, pos, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_top_k: x is NULL"));
    assert_int_equal(tg_top_k(&x, 1, NULL, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_top_k: pos is NULL"));
}

/* One step of beam search from public ops, K = 3 beams over V = 5 tokens: each beam's score (a
 * (K x 1) column) plus its tokens' log-probabilities, the best K of the K·V candidates, and the
 * chosen beams' states gathered with tg_embedding; checked against a brute-force search. */
static void test_a_beam_search_step_composes_from_public_ops(void **s)
{
    (void)s;
    enum { K = 3, V = 5, H = 2 };
    tg_rng r;
    tg_rng_seed(&r, 61);
    tg_tape *t = tg_tape_new();
    tg_tape_set_grad(t, 0);
    tg_tensor *logits = tg_input(t, K, V, NULL), *score = tg_input(t, K, 1, NULL);
    tg_tensor *state = tg_input(t, K, H, NULL);
    fill_uniform(logits->val, K * V, &r, -2, 2);
    fill_uniform(score->val, K, &r, -3, 0);
    fill_uniform(state->val, K * H, &r, -1, 1);
    tg_tensor *cand = tg_add(t, score, tg_log_softmax(t, logits)); /* (K x V) */
    size_t pos[K];
    assert_int_equal(tg_top_k(cand, K, pos, NULL), TG_OK);
    int32_t beam[K];
    for (int k = 0; k < K; k++) beam[k] = (int32_t)(pos[k] / V);
    tg_tensor *next = tg_embedding(t, state, beam, K); /* the chosen beams' states */
    assert_non_null(next);
    double best = INFINITY;
    for (int k = 0; k < K; k++) { /* brute force: the k-th best candidate below the last one */
        double lse = 0, want = -INFINITY;
        size_t at = 0;
        for (size_t b = 0; b < K; b++) {
            lse = 0;
            for (size_t j = 0; j < V; j++) lse += exp(logits->val[b * V + j]);
            for (size_t j = 0; j < V; j++) {
                double c = score->val[b] + logits->val[b * V + j] - log(lse);
                if (c < best && c > want) want = c, at = b * V + j;
            }
        }
        assert_int_equal(pos[k], at);
        assert_memory_equal(next->val + k * H, state->val + (at / V) * H, H * sizeof(tg_real));
        best = want;
    }
    tg_tape_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reductions_match_a_naive_reference),
        cmocka_unit_test(test_sum_and_mean_backward_match_finite_differences),
        cmocka_unit_test(test_row_sum_and_row_mean_backward_match_finite_differences),
        cmocka_unit_test(test_col_sum_and_col_mean_backward_match_finite_differences),
        cmocka_unit_test(test_reductions_add_to_the_gradient_already_there),
        cmocka_unit_test(test_means_of_nothing_are_errors_and_sums_of_nothing_are_zero),
        cmocka_unit_test(test_reductions_pass_null_through_and_keep_the_first_error),
        cmocka_unit_test(test_row_argmax_picks_each_rows_first_largest_and_a_nan),
        cmocka_unit_test(test_row_argmax_rejects_null_and_no_columns_and_says_so),
        cmocka_unit_test(test_top_k_matches_a_naive_stable_selection),
        cmocka_unit_test(test_top_k_ranks_nan_first_and_says_when_k_is_too_large),
        cmocka_unit_test(test_a_beam_search_step_composes_from_public_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
