/* softmax.c: softmax and log-softmax of each row, forward and backward side by side.
 *
 * Per row x of N values, with m = max_k x[k] and s = Σ_k exp(x[k] - m) (every term in (0, 1],
 * the largest 1, so 1 <= s <= N and nothing overflows):
 *     softmax      y[j] = exp(x[j] - m) / s
 *     log-softmax  y[j] = (x[j] - m) - log s
 * Both backwards read only y (softmax's y is the probability; log-softmax's exp(y) is), so
 * nothing is saved. Rows are independent: a large x splits its rows between threads, each row
 * computed the same way on any thread count.
 * Read next: loss.c (the fused softmax cross-entropy), reduce.c.
 */
#include "ops/softmax.h"

#include "ops/internal.h"
#include "ops/vmath.h"

#include <math.h>

/* Past this many elements per thread the rows are split between threads (as loss.c). */
enum { MIN_PER_THREAD = 65536 };

/* Call f on each row of y, on tgi_threads_for threads; a small y stays on the calling thread
 * and pays nothing for OpenMP. */
static void for_rows(tg_tape *t, tg_tensor *y, void (*f)(tg_tape *t, tg_tensor *y, size_t i))
{
    TGI_PARALLEL_FOR(tgi_threads_for(tg_numel(y), MIN_PER_THREAD), i, y->rows, f(t, y, i));
}

/* The row's maximum; NaN when the row holds a NaN or +inf or is all -inf (or empty): then the
 * whole row is NaN rather than a plausible distribution. */
static tg_real row_max(const tg_real *x, size_t N)
{
    tg_real m = -(tg_real)INFINITY;
    int nan = 0;
    for (size_t j = 0; j < N; j++) {
        m = x[j] > m ? x[j] : m;
        nan |= x[j] != x[j];
    }
    return nan || isinf(m) ? (tg_real)NAN : m;
}

/* y[j] = exp(x[j] - m) for the row (a NaN m gives NaN), and their sum, in double. */
static double exp_shifted(const tg_real *x, tg_real m, tg_real *y, size_t N)
{
    double s = 0;
    for (size_t j = 0; j < N; j++) {
        y[j] = nan_or(m, exp_nonpos(x[j] - m));
        s += y[j];
    }
    return s;
}

static void softmax_row(tg_tape *t, tg_tensor *y, size_t i)
{
    size_t N = y->cols;
    const tg_real *x = y->in[0]->val + i * N;
    tg_real *yi = y->val + i * N;
    tg_real r = (tg_real)(1 / exp_shifted(x, row_max(x, N), yi, N));
    for (size_t j = 0; j < N; j++) yi[j] *= r;
}

static void softmax_backward_row(tg_tape *t, tg_tensor *y,
                                 size_t i) /* dx += y * (dy - Σ_k dy[k] y[k]) */
{
    size_t N = y->cols;
    const tg_real *yi = y->val + i * N, *dy = y->grad + i * N;
    tg_real *dx = y->in[0]->grad + i * N;
    double dot = 0;
    for (size_t j = 0; j < N; j++) dot += (double)dy[j] * yi[j];
    for (size_t j = 0; j < N; j++) dx[j] += yi[j] * (dy[j] - (tg_real)dot);
}

static void softmax_forward(tg_tape *t, tg_tensor *y)
{
    for_rows(t, y, softmax_row);
}

static void softmax_backward(tg_tape *t, tg_tensor *y)
{
    if (y->in[0]->grad) for_rows(t, y, softmax_backward_row);
}

static void log_softmax_row(tg_tape *t, tg_tensor *y, size_t i)
{
    size_t N = y->cols;
    const tg_real *x = y->in[0]->val + i * N;
    tg_real *yi = y->val + i * N, m = row_max(x, N);
    tg_real lse = (tg_real)log(exp_shifted(x, m, yi, N)); /* yi is scratch until here */
    for (size_t j = 0; j < N; j++) yi[j] = (x[j] - m) - lse;
}

static void log_softmax_backward_row(tg_tape *t, tg_tensor *y,
                                     size_t i) /* dx += dy - exp(y) Σ_k dy[k] */
{
    size_t N = y->cols;
    const tg_real *yi = y->val + i * N, *dy = y->grad + i * N;
    tg_real *dx = y->in[0]->grad + i * N;
    double sum = 0;
    for (size_t j = 0; j < N; j++) sum += dy[j];
    for (size_t j = 0; j < N; j++) dx[j] += dy[j] - nan_or(yi[j], exp_nonpos(yi[j])) * (tg_real)sum;
}

static void log_softmax_forward(tg_tape *t, tg_tensor *y)
{
    for_rows(t, y, log_softmax_row);
}

static void log_softmax_backward(tg_tape *t, tg_tensor *y)
{
    if (y->in[0]->grad) for_rows(t, y, log_softmax_backward_row);
}

static const tg_op softmax_op = {"tg_softmax", softmax_forward, softmax_backward, NULL,
                                 "softmax: the upstream gradient minus its probability-weighted "
                                 "row mean, times the probabilities  dx += y * (dy - sum(dy * y))"};
static const tg_op log_softmax_op = {"tg_log_softmax", log_softmax_forward, log_softmax_backward,
                                     NULL,
                                     "log-softmax: the upstream gradient minus the probabilities "
                                     "times its row sum  dx += dy - exp(y) * sum(dy)"};

tg_tensor *tg_softmax(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, softmax_op.name, 1, &x)) return NULL;
    return tg_record(t, &softmax_op, x->rows, x->cols, 1, &x);
}

tg_tensor *tg_log_softmax(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, log_softmax_op.name, 1, &x)) return NULL;
    return tg_record(t, &log_softmax_op, x->rows, x->cols, 1, &x);
}
