/* test_ops_shape.c: slices and concatenations against naive index loops and finite
 * differences; where the gradient lands; every error message. */
#include "testutil.h"

/* A (rows x cols) x and the range [start, start + len) to cut along the dimension under test. */
typedef struct {
    size_t rows, cols, start, len;
} slice_case;

static const slice_case col_cases[] = {
    {1, 1, 0, 1}, {1, 7, 2, 4}, {1, 7, 0, 7}, {5, 3, 1, 2}, {3, 7, 4, 3}, {3, 7, 0, 1},
};
static const slice_case row_cases[] = {
    {1, 1, 0, 1}, {1, 7, 0, 1}, {5, 3, 1, 3}, {5, 3, 4, 1}, {3, 7, 0, 3}, {7, 3, 2, 4},
};

static tg_tensor *slice(tg_tape *t, tg_tensor *x, size_t start, size_t len, int cols)
{
    return cols ? tg_slice_cols(t, x, start, len) : tg_slice_rows(t, x, start, len);
}

static void check_slice_forward(const slice_case *cs, size_t n, int cols)
{
    tg_rng r;
    tg_rng_seed(&r, 13);
    for (size_t c = 0; c < n; c++) {
        tg_tensor *x = rand_leaf(cs[c].rows, cs[c].cols, &r, -2, 2);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = slice(t, x, cs[c].start, cs[c].len, cols);
        assert_non_null(y);
        assert_int_equal(y->rows, cols ? x->rows : cs[c].len);
        assert_int_equal(y->cols, cols ? cs[c].len : x->cols);
        for (size_t i = 0; i < y->rows; i++)
            for (size_t j = 0; j < y->cols; j++) {
                size_t xi = cols ? i : cs[c].start + i, xj = cols ? cs[c].start + j : j;
                assert_true(y->val[i * y->cols + j] == x->val[xi * x->cols + xj]);
            }
        tg_tape_free(t);
        tg_tensor_free(x);
    }
}

typedef struct {
    const slice_case *c;
    int cols; /* slice columns, else rows */
    size_t n; /* pieces, for the concatenations */
    tg_tensor *xs[4], *w;
} ctx;

/* loss = sum(op(...) ⊙ w): a weighted sum, so every output element gets its own gradient. */
static tg_tensor *weighted_slice(tg_tape *t, void *p)
{
    ctx *c = p;
    return tg_sum(t, tg_mul(t, slice(t, c->xs[0], c->c->start, c->c->len, c->cols), c->w));
}

static void check_slice_gradients(const slice_case *cs, size_t n, int cols)
{
    tg_rng r;
    tg_rng_seed(&r, 17);
    for (size_t k = 0; k < n; k++) {
        ctx c = {.c = &cs[k], .cols = cols};
        c.xs[0] = rand_leaf(cs[k].rows, cs[k].cols, &r, -2, 2);
        c.w = rand_leaf(cols ? cs[k].rows : cs[k].len, cols ? cs[k].len : cs[k].cols, &r, -1, 1);
        assert_gradcheck(weighted_slice, &c, c.xs, 1);
        tg_tensor_free(c.xs[0]);
        tg_tensor_free(c.w);
    }
}

/* Pieces for a concatenation: `same` is the shared dimension, sizes[] the others. */
typedef struct {
    size_t same, n, sizes[4];
} concat_case;

static const concat_case concat_cases[] = {
    {1, 1, {1}}, {1, 3, {2, 1, 4}}, {5, 2, {3, 1}}, {3, 4, {2, 7, 1, 3}}, {4, 2, {1, 1}},
};
enum { N_CONCAT = sizeof concat_cases / sizeof concat_cases[0] };

static tg_tensor *concat(tg_tape *t, size_t n, tg_tensor *const *xs, int cols)
{
    return cols ? tg_concat_cols(t, n, xs) : tg_concat_rows(t, n, xs);
}

static void make_pieces(const concat_case *cc, int cols, tg_rng *r, tg_tensor **xs)
{
    for (size_t k = 0; k < cc->n; k++)
        xs[k] = cols ? rand_leaf(cc->same, cc->sizes[k], r, -2, 2)
                     : rand_leaf(cc->sizes[k], cc->same, r, -2, 2);
}

static void check_concat_forward(int cols)
{
    tg_rng r;
    tg_rng_seed(&r, 19);
    for (size_t c = 0; c < N_CONCAT; c++) {
        const concat_case *cc = &concat_cases[c];
        tg_tensor *xs[4];
        make_pieces(cc, cols, &r, xs);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = concat(t, cc->n, xs, cols);
        assert_non_null(y);
        size_t first = 0; /* where piece k starts along the concatenated dimension */
        for (size_t k = 0; k < cc->n; first += cc->sizes[k++])
            for (size_t i = 0; i < xs[k]->rows; i++)
                for (size_t j = 0; j < xs[k]->cols; j++) {
                    size_t yi = cols ? i : first + i, yj = cols ? first + j : j;
                    assert_true(y->val[yi * y->cols + yj] == xs[k]->val[i * xs[k]->cols + j]);
                }
        assert_int_equal(cols ? y->cols : y->rows, first);
        assert_int_equal(cols ? y->rows : y->cols, cc->same);
        tg_tape_free(t);
        for (size_t k = 0; k < cc->n; k++) tg_tensor_free(xs[k]);
    }
}

static tg_tensor *weighted_concat(tg_tape *t, void *p)
{
    ctx *c = p;
    return tg_sum(t, tg_mul(t, concat(t, c->n, c->xs, c->cols), c->w));
}

static void check_concat_gradients(int cols)
{
    tg_rng r;
    tg_rng_seed(&r, 23);
    for (size_t k = 0; k < N_CONCAT; k++) {
        const concat_case *cc = &concat_cases[k];
        ctx c = {.cols = cols, .n = cc->n};
        make_pieces(cc, cols, &r, c.xs);
        size_t total = 0;
        for (size_t i = 0; i < cc->n; i++) total += cc->sizes[i];
        c.w = cols ? rand_leaf(cc->same, total, &r, -1, 1) : rand_leaf(total, cc->same, &r, -1, 1);
        assert_gradcheck(weighted_concat, &c, c.xs, cc->n);
        for (size_t i = 0; i < cc->n; i++) tg_tensor_free(c.xs[i]);
        tg_tensor_free(c.w);
    }
}

static void test_slice_cols_forward_matches_reference(void **s)
{
    (void)s;
    check_slice_forward(col_cases, sizeof col_cases / sizeof col_cases[0], 1);
}

static void test_slice_rows_forward_matches_reference(void **s)
{
    (void)s;
    check_slice_forward(row_cases, sizeof row_cases / sizeof row_cases[0], 0);
}

static void test_concat_cols_forward_matches_reference(void **s)
{
    (void)s;
    check_concat_forward(1);
}

static void test_concat_rows_forward_matches_reference(void **s)
{
    (void)s;
    check_concat_forward(0);
}

static void test_slice_cols_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_slice_gradients(col_cases, sizeof col_cases / sizeof col_cases[0], 1);
}

static void test_slice_rows_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_slice_gradients(row_cases, sizeof row_cases / sizeof row_cases[0], 0);
}

static void test_concat_cols_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_concat_gradients(1);
}

static void test_concat_rows_backward_matches_finite_differences(void **s)
{
    (void)s;
    check_concat_gradients(0);
}

/* x is (4 x 6) with values 0..23; loss = sum(slice ⊙ w) with w = 1..len. Returns x. */
static tg_tensor *backward_through_slice(int cols, size_t start, size_t len)
{
    tg_tensor *x = tg_tensor_new(4, 6, 1);
    for (size_t i = 0; i < 24; i++) x->val[i] = (tg_real)i;
    tg_tape *t = tg_tape_new();
    tg_tensor *y = slice(t, x, start, len, cols);
    assert_non_null(y);
    tg_tensor *w = tg_input(t, y->rows, y->cols, NULL);
    for (size_t i = 0; i < tg_numel(w); i++) w->val[i] = (tg_real)(i + 1);
    assert_int_equal(tg_backward(t, tg_sum(t, tg_mul(t, y, w))), TG_OK);
    tg_tape_free(t);
    return x;
}

static void test_slice_cols_sends_gradient_to_its_columns_only(void **s)
{
    (void)s;
    tg_tensor *x = backward_through_slice(1, 2, 3);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 6; j++) {
            double want = j >= 2 && j < 5 ? (double)(i * 3 + (j - 2) + 1) : 0;
            assert_true(x->grad[i * 6 + j] == want);
        }
    tg_tensor_free(x);
}

static void test_slice_rows_sends_gradient_to_its_rows_only(void **s)
{
    (void)s;
    tg_tensor *x = backward_through_slice(0, 1, 2);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 6; j++) {
            double want = i >= 1 && i < 3 ? (double)((i - 1) * 6 + j + 1) : 0;
            assert_true(x->grad[i * 6 + j] == want);
        }
    tg_tensor_free(x);
}

/* A row slice is a view: its value and gradient are its rows of x's, nothing is copied; with
 * gradients off it has none; and a second backward over the same recording adds to a leaf's
 * gradient through the view instead of clearing it (each pass adds w to rows 1 and 2). */
static void test_slice_rows_is_a_view_of_its_rows(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 7);
    tg_tensor *x = rand_leaf(4, 3, &r, -1, 1), *w = rand_leaf(2, 3, &r, -1, 1);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_slice_rows(t, x, 1, 2);
    assert_true(y->val == x->val + 3 && y->grad == x->grad + 3);
    tg_tensor *loss = tg_sum(t, tg_mul(t, y, w));
    for (int pass = 1; pass <= 2; pass++) {
        assert_int_equal(tg_backward(t, loss), TG_OK);
        for (size_t i = 0; i < 12; i++) {
            double want = i >= 3 && i < 9 ? pass * (double)w->val[i - 3] : 0;
            assert_true(fabs(x->grad[i] - want) <= VAL_TOL);
        }
    }
    tg_tape_reset(t);
    tg_tape_set_grad(t, 0);
    y = tg_slice_rows(t, x, 2, 2);
    assert_true(y->val == x->val + 6 && y->grad == NULL);
    tg_tape_free(t);
    tg_tensor_free(x);
    tg_tensor_free(w);
}

/* The gate pattern: one (2 x 6) product cut into three (2 x 2) gates, each weighted by its
 * own constant; every column block of x receives its own gate's constant. */
static void test_slices_of_one_tensor_each_add_into_their_own_columns(void **s)
{
    (void)s;
    tg_tensor *x = tg_tensor_new(2, 6, 1);
    tg_tape *t = tg_tape_new();
    tg_tensor *loss = NULL;
    for (size_t g = 0; g < 3; g++) {
        tg_tensor *part = tg_sum(t, tg_scale(t, tg_slice_cols(t, x, 2 * g, 2), (double)(g + 1)));
        loss = loss ? tg_add(t, loss, part) : part;
    }
    assert_int_equal(tg_backward(t, loss), TG_OK);
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 6; j++) assert_true(x->grad[i * 6 + j] == (tg_real)(j / 2 + 1));
    tg_tape_free(t);
    tg_tensor_free(x);
}

/* The gate pattern at batch 1: columns of a single row lie together, so each slice is a view of
 * the (1 x 6) product's columns (nothing copied), and gradients reach x through the product's
 * lent buffer, with gradients reused or not. */
static void test_slice_cols_of_one_row_is_a_view_and_passes_gradients(void **s)
{
    (void)s;
    for (int reuse = 0; reuse < 2; reuse++) {
        tg_tensor *x = tg_tensor_new(1, 6, 1);
        for (size_t j = 0; j < 6; j++) x->val[j] = (tg_real)j;
        tg_tape *t = tg_tape_new();
        tg_tape_reuse_grads(t, reuse);
        tg_tensor *a = tg_scale(t, x, 2), *loss = NULL;
        for (size_t g = 0; g < 3; g++) {
            tg_tensor *gate = tg_slice_cols(t, a, 2 * g, 2);
            assert_true(gate->val == a->val + 2 * g && gate->rows == 1 && gate->cols == 2);
            assert_true(gate->val[1] == (tg_real)(2 * (2 * g + 1)));
            tg_tensor *part = tg_sum(t, tg_scale(t, gate, (double)(g + 1)));
            loss = loss ? tg_add(t, loss, part) : part;
        }
        assert_int_equal(tg_backward(t, loss), TG_OK);
        for (size_t j = 0; j < 6; j++) assert_true(x->grad[j] == (tg_real)(2 * (j / 2 + 1)));
        tg_tape_free(t);
        tg_tensor_free(x);
    }
}

/* y = concat(a, c, b) with c a constant; loss = sum(y ⊙ w), w = 1..numel: a and b receive
 * exactly their blocks of w, and the constant piece in between is skipped. */
static void check_concat_pieces_get_their_parts(int cols)
{
    tg_tensor *a = cols ? tg_tensor_new(3, 2, 1) : tg_tensor_new(2, 3, 1);
    tg_tensor *b = cols ? tg_tensor_new(3, 4, 1) : tg_tensor_new(4, 3, 1);
    tg_tape *t = tg_tape_new();
    tg_tensor *c = cols ? tg_input(t, 3, 1, NULL) : tg_input(t, 1, 3, NULL);
    tg_tensor *xs[] = {a, c, b};
    tg_tensor *y = concat(t, 3, xs, cols);
    assert_non_null(y);
    tg_tensor *w = tg_input(t, y->rows, y->cols, NULL);
    for (size_t i = 0; i < tg_numel(w); i++) w->val[i] = (tg_real)(i + 1);
    assert_int_equal(tg_backward(t, tg_sum(t, tg_mul(t, y, w))), TG_OK);
    for (size_t i = 0; i < a->rows; i++)
        for (size_t j = 0; j < a->cols; j++)
            assert_true(a->grad[i * a->cols + j] == w->val[i * y->cols + j]);
    for (size_t i = 0; i < b->rows; i++)
        for (size_t j = 0; j < b->cols; j++) {
            size_t yi = cols ? i : i + 3, yj = cols ? j + 3 : j; /* after a and c */
            assert_true(b->grad[i * b->cols + j] == w->val[yi * y->cols + yj]);
        }
    tg_tape_free(t);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

static void test_concat_cols_gives_each_piece_its_columns_of_the_gradient(void **s)
{
    (void)s;
    check_concat_pieces_get_their_parts(1);
}

static void test_concat_rows_gives_each_piece_its_rows_of_the_gradient(void **s)
{
    (void)s;
    check_concat_pieces_get_their_parts(0);
}

static void test_slice_accepts_an_empty_range_at_the_end(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_input(t, 4, 6, NULL);
    tg_tensor *y = tg_slice_cols(t, x, 6, 0);
    assert_non_null(y);
    assert_int_equal(y->rows, 4);
    assert_int_equal(y->cols, 0);
    assert_non_null(tg_slice_rows(t, x, 4, 0));
    assert_null(tg_tape_error(t));
    tg_tape_free(t);
}

/* op on a (4 x 6) x at [start, start + len) fails with a message holding every string. */
static void check_slice_rejects(int cols, size_t start, size_t len, const char *range)
{
    tg_tape *t = tg_tape_new();
    assert_null(slice(t, tg_input(t, 4, 6, NULL), start, len, cols));
    assert_error_has(t, cols ? "tg_slice_cols" : "tg_slice_rows", range, "out of range",
                     "x (4 x 6)", NULL);
    tg_tape_free(t);
}

static void test_slice_cols_rejects_range_past_end(void **s)
{
    (void)s;
    check_slice_rejects(1, 3, 5, "columns [3, 8)");
    tg_tape *t = tg_tape_new();
    assert_null(tg_slice_cols(t, tg_input(t, 4, 6, NULL), 3, 5));
    assert_string_equal(tg_tape_error(t),
                        "tg_slice_cols: columns [3, 8) out of range for x (4 x 6)");
    tg_tape_free(t);
}

static void test_slice_cols_rejects_start_past_end(void **s)
{
    (void)s;
    check_slice_rejects(1, 7, 0, "columns [7, 7)");
}

static void test_slice_cols_rejects_a_length_that_overflows(void **s)
{
    (void)s;
    check_slice_rejects(1, 2, SIZE_MAX, "columns [2, ");
}

static void test_slice_rows_rejects_range_past_end(void **s)
{
    (void)s;
    check_slice_rejects(0, 2, 3, "rows [2, 5)");
}

static void test_slice_rows_rejects_start_past_end(void **s)
{
    (void)s;
    check_slice_rejects(0, 5, 1, "rows [5, 6)");
}

static void test_concat_cols_rejects_pieces_with_different_rows(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *xs[] = {tg_input(t, 4, 3, NULL), tg_input(t, 5, 3, NULL)};
    assert_null(tg_concat_cols(t, 2, xs));
    assert_string_equal(tg_tape_error(t),
                        "tg_concat_cols: piece 2 has 5 rows, piece 1 has 4: (4 x 3), (5 x 3)");
    tg_tape_free(t);
}

static void test_concat_rows_rejects_pieces_with_different_columns(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *xs[] = {tg_input(t, 2, 3, NULL), tg_input(t, 1, 3, NULL), tg_input(t, 2, 4, NULL)};
    assert_null(tg_concat_rows(t, 3, xs));
    assert_error_has(t, "tg_concat_rows", "piece 3 has 4 columns, piece 1 has 3",
                     "(2 x 3), (1 x 3), (2 x 4)", NULL);
    tg_tape_free(t);
}

static void test_concat_rejects_zero_pieces(void **s)
{
    (void)s;
    const char *names[] = {"tg_concat_rows", "tg_concat_cols"};
    for (int cols = 0; cols < 2; cols++) {
        tg_tape *t = tg_tape_new();
        tg_tensor *xs[] = {tg_input(t, 2, 3, NULL)};
        assert_null(concat(t, 0, xs, cols));
        assert_error_has(t, names[cols], "no pieces", "n is 0", NULL);
        tg_tape_reset(t);
        assert_null(concat(t, 2, NULL, cols));
        assert_error_has(t, names[cols], "xs is NULL", "n is 2", NULL);
        tg_tape_free(t);
    }
}

static void test_concat_names_a_null_piece(void **s)
{
    (void)s;
    const char *names[] = {"tg_concat_rows", "tg_concat_cols"};
    for (int cols = 0; cols < 2; cols++) {
        tg_tape *t = tg_tape_new();
        tg_tensor *xs[] = {tg_input(t, 2, 3, NULL), NULL};
        assert_null(concat(t, 2, xs, cols));
        assert_error_has(t, names[cols], "input 2 is NULL", NULL);
        tg_tape_free(t);
    }
}

static void test_shape_ops_pass_null_through_and_keep_the_first_error(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_input(t, 4, 6, NULL);
    tg_tensor *bad = tg_slice_cols(t, x, 5, 2);
    assert_null(tg_slice_rows(t, bad, 0, 1));
    assert_null(tg_slice_cols(t, bad, 0, 1));
    tg_tensor *xs[] = {x, bad};
    assert_null(tg_concat_cols(t, 2, xs));
    assert_null(tg_concat_rows(t, 2, xs));
    assert_string_equal(tg_tape_error(t),
                        "tg_slice_cols: columns [5, 7) out of range for x (4 x 6)");
    tg_tape_reset(t);
    assert_null(tg_slice_rows(t, NULL, 0, 1));
    assert_error_has(t, "tg_slice_rows", "input 1 is NULL", NULL);
    tg_tape_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_cols_forward_matches_reference),
        cmocka_unit_test(test_slice_rows_forward_matches_reference),
        cmocka_unit_test(test_concat_cols_forward_matches_reference),
        cmocka_unit_test(test_concat_rows_forward_matches_reference),
        cmocka_unit_test(test_slice_cols_backward_matches_finite_differences),
        cmocka_unit_test(test_slice_rows_backward_matches_finite_differences),
        cmocka_unit_test(test_concat_cols_backward_matches_finite_differences),
        cmocka_unit_test(test_concat_rows_backward_matches_finite_differences),
        cmocka_unit_test(test_slice_cols_sends_gradient_to_its_columns_only),
        cmocka_unit_test(test_slice_rows_sends_gradient_to_its_rows_only),
        cmocka_unit_test(test_slice_rows_is_a_view_of_its_rows),
        cmocka_unit_test(test_slices_of_one_tensor_each_add_into_their_own_columns),
        cmocka_unit_test(test_slice_cols_of_one_row_is_a_view_and_passes_gradients),
        cmocka_unit_test(test_concat_cols_gives_each_piece_its_columns_of_the_gradient),
        cmocka_unit_test(test_concat_rows_gives_each_piece_its_rows_of_the_gradient),
        cmocka_unit_test(test_slice_accepts_an_empty_range_at_the_end),
        cmocka_unit_test(test_slice_cols_rejects_range_past_end),
        cmocka_unit_test(test_slice_cols_rejects_start_past_end),
        cmocka_unit_test(test_slice_cols_rejects_a_length_that_overflows),
        cmocka_unit_test(test_slice_rows_rejects_range_past_end),
        cmocka_unit_test(test_slice_rows_rejects_start_past_end),
        cmocka_unit_test(test_concat_cols_rejects_pieces_with_different_rows),
        cmocka_unit_test(test_concat_rows_rejects_pieces_with_different_columns),
        cmocka_unit_test(test_concat_rejects_zero_pieces),
        cmocka_unit_test(test_concat_names_a_null_piece),
        cmocka_unit_test(test_shape_ops_pass_null_through_and_keep_the_first_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
