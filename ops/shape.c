/* shape.c: slices and concatenations, forward and backward side by side.
 *
 * These ops move values and never change them, so each backward adds dy back into the place
 * forward copied it from. Tensors are row-major, so a run of whole rows is one contiguous
 * block: a row slice copies nothing at all (a view, tgi_view: its value and gradient are its
 * rows of x's), nor does a column slice of a single row (a batch-1 step's gates), concat_rows
 * copies one memcpy per piece, while slice_cols of several rows and concat_cols copy one memcpy
 * per row (per piece).
 * A slice keeps its start in y->iarg; a concatenation's pieces are its inputs, in order.
 * Read next: unary.c (ops that change values element by element).
 */
#include "ops/shape.h"

#include "autograd/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void slice_cols_forward(tg_tape *t, tg_tensor *y)
{
    const tg_tensor *x = y->in[0];
    for (size_t i = 0; i < y->rows; i++)
        memcpy(y->val + i * y->cols, x->val + i * x->cols + y->iarg, y->cols * sizeof *y->val);
}

static void slice_cols_backward(tg_tape *t, tg_tensor *y) /* dx[:, start + j] += dy[:, j] */
{
    tg_tensor *x = y->in[0];
    if (!x->grad) return;
    for (size_t i = 0; i < y->rows; i++) {
        tg_real *dx = x->grad + i * x->cols + y->iarg;
        const tg_real *dy = y->grad + i * y->cols;
        for (size_t j = 0; j < y->cols; j++) dx[j] += dy[j];
    }
}

static void concat_cols_forward(tg_tape *t, tg_tensor *y)
{
    for (size_t i = 0, off = 0; i < y->rows; i++)
        for (size_t k = 0; k < y->n_in; k++) {
            const tg_tensor *x = y->in[k];
            memcpy(y->val + off, x->val + i * x->cols, x->cols * sizeof *y->val);
            off += x->cols;
        }
}

static void concat_cols_backward(tg_tape *t, tg_tensor *y) /* dxs[k][:, j] += dy[:, first_k + j] */
{
    for (size_t k = 0, first = 0; k < y->n_in; first += y->in[k++]->cols) {
        tg_tensor *x = y->in[k];
        if (!x->grad) continue;
        for (size_t i = 0; i < y->rows; i++) {
            tg_real *dx = x->grad + i * x->cols;
            const tg_real *dy = y->grad + i * y->cols + first;
            for (size_t j = 0; j < x->cols; j++) dx[j] += dy[j];
        }
    }
}

static void concat_rows_forward(tg_tape *t, tg_tensor *y)
{
    for (size_t k = 0, off = 0; k < y->n_in; off += tg_numel(y->in[k++]))
        memcpy(y->val + off, y->in[k]->val, tg_numel(y->in[k]) * sizeof *y->val);
}

static void concat_rows_backward(tg_tape *t, tg_tensor *y) /* dxs[k][i, :] += dy[first_k + i, :] */
{
    for (size_t k = 0, off = 0; k < y->n_in; off += tg_numel(y->in[k++])) {
        tg_tensor *x = y->in[k];
        if (x->grad)
            for (size_t e = 0; e < tg_numel(x); e++) x->grad[e] += y->grad[off + e];
    }
}

static const tg_op slice_cols_op = {"tg_slice_cols", slice_cols_forward, slice_cols_backward, NULL,
                                    "slice of columns: passes the upstream gradient into the "
                                    "columns it took, nothing elsewhere  dx[:, s:s+n] += dy"};
static const tg_op slice_cols_view_op = {"tg_slice_cols", NULL, NULL, NULL,
                                         "slice of columns of one row (a view): its gradient is "
                                         "the window of its input's gradient  dx[:, s:s+n] += dy"};
static const tg_op slice_rows_op = {"tg_slice_rows", NULL, NULL, NULL,
                                    "slice of rows (a view): its gradient is the window of its "
                                    "input's gradient  dx[s:s+n, :] += dy"}; /* a view */
static const tg_op concat_cols_op = {"tg_concat_cols", concat_cols_forward, concat_cols_backward,
                                     NULL,
                                     "concatenation of columns: cuts the upstream gradient into "
                                     "the inputs' column blocks  dx_k += dy[:, block k]"};
static const tg_op concat_rows_op = {"tg_concat_rows", concat_rows_forward, concat_rows_backward,
                                     NULL,
                                     "concatenation of rows: cuts the upstream gradient into the "
                                     "inputs' row blocks  dx_k += dy[block k, :]"};

/* Record op on [start, start + len) of x's columns (along_cols) or rows. */
static tg_tensor *slice(tg_tape *t, const tg_op *op, tg_tensor *x, size_t start, size_t len,
                        int along_cols)
{
    if (!tg_check_inputs(t, op->name, 1, &x)) return NULL;
    size_t size = along_cols ? x->cols : x->rows;
    if (start > size || len > size - start) {
        size_t end = len > SIZE_MAX - start ? SIZE_MAX : start + len; /* for the message */
        return tg_fail(t, "%s: %s [%zu, %zu) out of range for x " TG_SHAPE, op->name,
                       along_cols ? "columns" : "rows", start, end, TG_DIMS(x));
    }
    tg_tensor *y;
    if (!along_cols)
        y = tgi_view(t, op, x, start * x->cols, len, x->cols);
    else if (x->rows == 1) /* columns of one row lie together too: a batch-1 step's gates */
        y = tgi_view(t, &slice_cols_view_op, x, start, 1, len);
    else
        y = tg_node(t, op, x->rows, len, 1, &x);
    if (!y) return NULL;
    y->iarg = start;
    if (y->op->forward) y->op->forward(t, y);
    return y;
}

tg_tensor *tg_slice_cols(tg_tape *t, tg_tensor *x, size_t start, size_t len)
{
    return slice(t, &slice_cols_op, x, start, len, 1);
}

tg_tensor *tg_slice_rows(tg_tape *t, tg_tensor *x, size_t start, size_t len)
{
    return slice(t, &slice_rows_op, x, start, len, 0);
}

/* "(4 x 3), (5 x 3), ..." into buf, cut short when it does not fit: for error messages. */
static const char *list_shapes(char *buf, size_t size, size_t n, tg_tensor *const *xs)
{
    buf[0] = '\0';
    for (size_t k = 0, used = 0; k < n && used < size; k++) {
        int w = snprintf(buf + used, size - used, "%s" TG_SHAPE, k ? ", " : "", TG_DIMS(xs[k]));
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

/* Record op on n pieces that agree on one dimension and add up along the other.
 * along_cols: side by side (rows agree, cols add up); otherwise stacked. */
static tg_tensor *concat(tg_tape *t, const tg_op *op, size_t n, tg_tensor *const *xs,
                         int along_cols)
{
    if (n == 0) return tg_fail(t, "%s: no pieces to concatenate (n is 0)", op->name);
    if (!xs) return tg_fail(t, "%s: xs is NULL (n is %zu)", op->name, n);
    if (!tg_check_inputs(t, op->name, n, xs)) return NULL;
    size_t want = along_cols ? xs[0]->rows : xs[0]->cols, total = 0;
    for (size_t k = 0; k < n; k++) {
        size_t got = along_cols ? xs[k]->rows : xs[k]->cols;
        size_t add = along_cols ? xs[k]->cols : xs[k]->rows;
        char buf[256];
        if (got != want)
            return tg_fail(t, "%s: piece %zu has %zu %s, piece 1 has %zu: %s", op->name, k + 1, got,
                           along_cols ? "rows" : "columns", want,
                           list_shapes(buf, sizeof buf, n, xs));
        if (add > SIZE_MAX - total)
            return tg_fail(t, "%s: the pieces' sizes overflow: %s", op->name,
                           list_shapes(buf, sizeof buf, n, xs));
        total += add;
    }
    if (along_cols) return tg_record(t, op, want, total, n, xs);
    return tg_record(t, op, total, want, n, xs);
}

tg_tensor *tg_concat_cols(tg_tape *t, size_t n, tg_tensor *const *xs)
{
    return concat(t, &concat_cols_op, n, xs, 1);
}

tg_tensor *tg_concat_rows(tg_tape *t, size_t n, tg_tensor *const *xs)
{
    return concat(t, &concat_rows_op, n, xs, 0);
}
