/* reduce.c: sums and means of all elements (to 1 x 1), of each row (to B x 1) and of each
 * column (to 1 x N), forward and backward side by side; and the row-wise argmax and the top k
 * that greedy decoding and beam search read (plain functions, not ops: nothing flows back
 * through a choice).
 *
 * Every sum adds in double, so a large tensor's loss in the float build keeps its digits. A mean
 * is its sum scaled by y->arg = 1/count (1 for a sum), so sum and mean share a descriptor's
 * functions and differ only in name and arg.
 * Read next: softmax.c (row-wise ops that normalise rather than reduce).
 */
#include "ops/reduce.h"

#include "autograd/op.h"

#include <stdint.h>

static void sum_forward(tg_tape *t, tg_tensor *y)
{
    const tg_tensor *x = y->in[0];
    double s = 0;
    for (size_t i = 0; i < tg_numel(x); i++) s += x->val[i];
    y->val[0] = (tg_real)(s * y->arg);
}

static void sum_backward(tg_tape *t, tg_tensor *y) /* dx += dy * arg */
{
    tg_tensor *x = y->in[0];
    tg_real g = (tg_real)(y->grad[0] * y->arg);
    if (x->grad)
        for (size_t i = 0; i < tg_numel(x); i++) x->grad[i] += g;
}

static void row_sum_forward(tg_tape *t, tg_tensor *y) /* y[i] = arg * Σ_j x[i][j] */
{
    const tg_tensor *x = y->in[0];
    for (size_t i = 0; i < x->rows; i++) {
        const tg_real *xi = x->val + i * x->cols;
        double s = 0;
        for (size_t j = 0; j < x->cols; j++) s += xi[j];
        y->val[i] = (tg_real)(s * y->arg);
    }
}

static void row_sum_backward(tg_tape *t, tg_tensor *y) /* dx[i][j] += dy[i] * arg */
{
    tg_tensor *x = y->in[0];
    if (!x->grad) return;
    for (size_t i = 0; i < x->rows; i++) {
        tg_real g = (tg_real)(y->grad[i] * y->arg), *dxi = x->grad + i * x->cols;
        for (size_t j = 0; j < x->cols; j++) dxi[j] += g;
    }
}

/* Columns are summed a block at a time, row after row, into double accumulators on the stack:
 * contiguous reads, and no scratch to allocate. */
enum { COL_BLOCK = 256 };

static void col_sum_forward(tg_tape *t, tg_tensor *y) /* y[j] = arg * Σ_i x[i][j] */
{
    const tg_tensor *x = y->in[0];
    for (size_t j0 = 0; j0 < x->cols; j0 += COL_BLOCK) {
        size_t n = x->cols - j0 < COL_BLOCK ? x->cols - j0 : COL_BLOCK;
        double s[COL_BLOCK] = {0};
        for (size_t i = 0; i < x->rows; i++)
            for (size_t j = 0; j < n; j++) s[j] += x->val[i * x->cols + j0 + j];
        for (size_t j = 0; j < n; j++) y->val[j0 + j] = (tg_real)(s[j] * y->arg);
    }
}

static void col_sum_backward(tg_tape *t, tg_tensor *y) /* dx[i][j] += dy[j] * arg */
{
    tg_tensor *x = y->in[0];
    const tg_real c = (tg_real)y->arg;
    if (!x->grad) return;
    for (size_t i = 0; i < x->rows; i++) {
        tg_real *dxi = x->grad + i * x->cols;
        for (size_t j = 0; j < x->cols; j++) dxi[j] += c * y->grad[j];
    }
}

static const tg_op sum_op = {"tg_sum", sum_forward, sum_backward, NULL,
                             "sum: repeats the upstream gradient to every element  dx[i] += dy"};
static const tg_op mean_op = {
    "tg_mean", sum_forward, sum_backward, NULL,
    "mean: repeats the upstream gradient, divided by the count, to every element  dx[i] += dy / n"};
static const tg_op row_sum_op = {
    "tg_row_sum", row_sum_forward, row_sum_backward, NULL,
    "row sum: repeats each row's upstream gradient along its row  dx[i][j] += dy[i]"};
static const tg_op row_mean_op = {"tg_row_mean", row_sum_forward, row_sum_backward, NULL,
                                  "row mean: repeats each row's upstream gradient along its row, "
                                  "divided by the width  dx[i][j] += dy[i] / n"};
static const tg_op col_sum_op = {
    "tg_col_sum", col_sum_forward, col_sum_backward, NULL,
    "column sum: repeats each column's upstream gradient down its column  dx[i][j] += dy[j]"};
static const tg_op col_mean_op = {"tg_col_mean", col_sum_forward, col_sum_backward, NULL,
                                  "column mean: repeats each column's upstream gradient down its "
                                  "column, divided by the height  dx[i][j] += dy[j] / m"};

/* Record op on x as a (rows x cols) result, adding `count` elements into each of its values: a
 * mean (scale 1/count) of nothing is an error. */
static tg_tensor *reduce(tg_tape *t, const tg_op *op, tg_tensor *x, size_t rows, size_t cols,
                         size_t count, int mean)
{
    if (mean && count == 0)
        return tg_fail(t, "%s: nothing to average: x is " TG_SHAPE, op->name, TG_DIMS(x));
    tg_tensor *y = tg_node(t, op, rows, cols, 1, &x);
    if (!y) return NULL;
    y->arg = mean ? 1.0 / (double)count : 1.0;
    op->forward(t, y);
    return y;
}

tg_tensor *tg_sum(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_sum", 1, &x)) return NULL;
    return reduce(t, &sum_op, x, 1, 1, tg_numel(x), 0);
}

tg_tensor *tg_mean(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_mean", 1, &x)) return NULL;
    return reduce(t, &mean_op, x, 1, 1, tg_numel(x), 1);
}

tg_tensor *tg_row_sum(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_row_sum", 1, &x)) return NULL;
    return reduce(t, &row_sum_op, x, x->rows, 1, x->cols, 0);
}

tg_tensor *tg_row_mean(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_row_mean", 1, &x)) return NULL;
    return reduce(t, &row_mean_op, x, x->rows, 1, x->cols, 1);
}

tg_tensor *tg_col_sum(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_col_sum", 1, &x)) return NULL;
    return reduce(t, &col_sum_op, x, 1, x->cols, x->rows, 0);
}

tg_tensor *tg_col_mean(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_col_mean", 1, &x)) return NULL;
    return reduce(t, &col_mean_op, x, 1, x->cols, x->rows, 1);
}

/* The first largest element's column; a NaN counts as the largest (as in PyTorch). */
static int32_t argmax(const tg_real *x, size_t n)
{
    size_t best = 0;
    for (size_t j = 0; j < n; j++) {
        if (x[j] != x[j]) return (int32_t)j;
        if (x[j] > x[best]) best = j;
    }
    return (int32_t)best;
}

int tg_row_argmax(const tg_tensor *x, int32_t *ids, tg_status *st)
{
    if (!x || !ids)
        return tg_status_set(st, TG_ENULL, "tg_row_argmax: %s is NULL", x ? "ids" : "x");
    if (x->cols == 0 || x->cols > INT32_MAX)
        return tg_status_set(st, TG_ESHAPE,
                             "tg_row_argmax: x is (%zu x %zu): want 1 to 2^31 - 1 columns", x->rows,
                             x->cols);
    for (size_t i = 0; i < x->rows; i++) ids[i] = argmax(x->val + i * x->cols, x->cols);
    return TG_OK;
}

/* a ranks before b: larger, or a NaN before a number. Equal values keep their order. */
static int before(tg_real a, tg_real b)
{
    return a > b || (a != a && b == b);
}

int tg_top_k(const tg_tensor *x, size_t k, size_t *pos, tg_status *st)
{
    if (!x || !pos) return tg_status_set(st, TG_ENULL, "tg_top_k: %s is NULL", x ? "pos" : "x");
    if (k > tg_numel(x))
        return tg_status_set(st, TG_ERANGE, "tg_top_k: k = %zu is more than the %zu elements of x",
                             k, tg_numel(x));
    size_t n = 0; /* pos[0..n) holds the best so far, best first */
    for (size_t i = 0; k > 0 && i < tg_numel(x); i++) {
        if (n == k && !before(x->val[i], x->val[pos[k - 1]])) continue;
        size_t j = n < k ? n++ : k - 1; /* insertion: k is a beam width, small */
        for (; j > 0 && before(x->val[i], x->val[pos[j - 1]]); j--) pos[j] = pos[j - 1];
        pos[j] = i;
    }
    return TG_OK;
}
