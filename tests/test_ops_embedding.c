/* test_ops_embedding.c: tg_embedding against a naive row copy and finite differences, with
 * repeated ids, and every error it reports. */
#include "testutil.h"

static const struct {
    size_t V, E, n;
    int32_t ids[6];
} cases[] = {
    {1, 1, 1, {0}},                /* 1 x 1 table, one id */
    {1, 5, 3, {0, 0, 0}},          /* 1 x E table, the only row three times */
    {5, 3, 1, {4}},                /* n = 1 */
    {5, 3, 6, {2, 0, 2, 4, 2, 1}}, /* n > 1, id 2 three times */
    {7, 1, 4, {6, 3, 3, 0}},       /* single column */
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

static void test_embedding_forward_copies_the_rows_named_by_the_ids(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    for (size_t c = 0; c < N_CASES; c++) {
        tg_tensor *W = rand_leaf(cases[c].V, cases[c].E, &r, -2, 2);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_embedding(t, W, cases[c].ids, cases[c].n);
        assert_non_null(y);
        assert_int_equal(y->rows, cases[c].n);
        assert_int_equal(y->cols, cases[c].E);
        for (size_t i = 0; i < cases[c].n; i++) {
            const tg_real *row = &W->val[(size_t)cases[c].ids[i] * W->cols];
            for (size_t j = 0; j < cases[c].E; j++) assert_true(y->val[i * y->cols + j] == row[j]);
        }
        tg_tape_free(t);
        tg_tensor_free(W);
    }
}

typedef struct {
    tg_tensor *W, *w;
    const int32_t *ids;
    size_t n;
} ctx;

/* loss = sum(embedding(W, ids) ⊙ w): each output element has its own weight. */
static tg_tensor *weighted(tg_tape *t, void *p)
{
    ctx *c = p;
    return tg_sum(t, tg_mul(t, tg_embedding(t, c->W, c->ids, c->n), c->w));
}

static void test_embedding_backward_matches_finite_differences_with_repeated_ids(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 5);
    for (size_t c = 0; c < N_CASES; c++) {
        ctx x = {rand_leaf(cases[c].V, cases[c].E, &r, -2, 2),
                 rand_leaf(cases[c].n, cases[c].E, &r, -1, 1), cases[c].ids, cases[c].n};
        assert_gradcheck(weighted, &x, &x.W, 1);
        tg_tensor_free(x.W);
        tg_tensor_free(x.w);
    }
}

static void test_embedding_backward_adds_one_row_per_occurrence_of_an_id(void **s)
{
    (void)s;
    const int32_t ids[] = {2, 0, 2, 2};
    tg_tensor *W = tg_tensor_new(4, 2, 1);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, tg_sum(t, tg_embedding(t, W, ids, 4))), TG_OK);
    const tg_real want[] = {1, 1, 0, 0, 3, 3, 0, 0};
    assert_close(W->grad, want, 8, 0);
    tg_tape_free(t);
    tg_tensor_free(W);
}

static void test_embedding_keeps_its_own_copy_of_the_ids(void **s)
{
    (void)s;
    int32_t ids[] = {1, 1};
    tg_tensor *W = tg_tensor_new(3, 1, 1);
    tg_tape *t = tg_tape_new();
    tg_tensor *loss = tg_sum(t, tg_embedding(t, W, ids, 2));
    ids[0] = ids[1] = 0; /* the caller reuses its buffer before backward */
    assert_int_equal(tg_backward(t, loss), TG_OK);
    const tg_real want[] = {0, 2, 0};
    assert_close(W->grad, want, 3, 0);
    tg_tape_free(t);
    tg_tensor_free(W);
}

static void test_embedding_rejects_an_id_past_the_last_row(void **s)
{
    (void)s;
    const int32_t ids[] = {0, 3, 4, 1};
    tg_tape *t = tg_tape_new();
    tg_tensor *W = tg_input(t, 4, 3, NULL);
    assert_null(tg_embedding(t, W, ids, 4));
    assert_error_has(t, "tg_embedding", "id 4", "position 2", "4 rows", "(4 x 3)", NULL);
    tg_tape_free(t);
}

static void test_embedding_rejects_a_negative_id(void **s)
{
    (void)s;
    const int32_t ids[] = {-1};
    tg_tape *t = tg_tape_new();
    tg_tensor *W = tg_input(t, 10, 2, NULL);
    assert_null(tg_embedding(t, W, ids, 1));
    assert_error_has(t, "tg_embedding", "id -1", "position 0", "(10 x 2)", NULL);
    tg_tape_free(t);
}

static void test_embedding_of_a_null_table_returns_null_and_says_so(void **s)
{
    (void)s;
    const int32_t ids[] = {0};
    tg_tape *t = tg_tape_new();
    assert_null(tg_embedding(t, NULL, ids, 1));
    assert_error_has(t, "tg_embedding", "NULL", NULL);
    tg_tape_free(t);
}

static void test_embedding_rejects_null_ids(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *W = tg_input(t, 3, 2, NULL);
    assert_null(tg_embedding(t, W, NULL, 2));
    assert_error_has(t, "tg_embedding", "ids is NULL", NULL);
    tg_tape_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding_forward_copies_the_rows_named_by_the_ids),
        cmocka_unit_test(test_embedding_backward_matches_finite_differences_with_repeated_ids),
        cmocka_unit_test(test_embedding_backward_adds_one_row_per_occurrence_of_an_id),
        cmocka_unit_test(test_embedding_keeps_its_own_copy_of_the_ids),
        cmocka_unit_test(test_embedding_rejects_an_id_past_the_last_row),
        cmocka_unit_test(test_embedding_rejects_a_negative_id),
        cmocka_unit_test(test_embedding_of_a_null_table_returns_null_and_says_so),
        cmocka_unit_test(test_embedding_rejects_null_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
