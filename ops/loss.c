/* loss.c: softmax cross-entropy from logits and integer targets.
 *
 * Forward, per row i of the (n x V) logits z, with m = max_j z[i][j]:
 *     lse_i = m + log sum_j exp(z[i][j] - m),   p[i][j] = exp(z[i][j] - lse_i),
 *     loss  = (1/n) sum_i (lse_i - z[i][t_i]).
 * Subtracting the row maximum keeps every exp() in (0, 1], so logits of any size give finite
 * results; the sum runs in double. Forward keeps p (n x V, tg_real), a copy of the targets and
 * each row's loss in one arena block at y->saved: backward needs nothing else.
 * Rows are independent, so large logits split their rows between threads; the loss adds the
 * per-row values in row order afterwards, so it does not depend on the thread count.
 * Dimension letters: n rows, V classes.
 */
#include "ops/loss.h"

#include "autograd/internal.h"
#include "ops/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Past this many logits per thread the rows are split between threads: 65536 exponentials
 * take tens of microseconds, far more than waking a second thread. */
enum { MIN_PER_THREAD = 65536 };

/* y->saved holds p (n x V), then the n targets, then (8-byte aligned) the n row losses. */
static size_t targets_offset(size_t n, size_t V)
{
    return n * V * sizeof(tg_real);
}

static size_t losses_offset(size_t n, size_t V)
{
    size_t end = targets_offset(n, V) + n * sizeof(int32_t);
    return (end + 7) / 8 * 8;
}

static tg_real *probs(const tg_tensor *y)
{
    return y->saved;
}

static const int32_t *targets_of(const tg_tensor *y)
{
    const tg_tensor *z = y->in[0];
    return (const int32_t *)((char *)y->saved + targets_offset(z->rows, z->cols));
}

static double *losses_of(const tg_tensor *y)
{
    const tg_tensor *z = y->in[0];
    return (double *)((char *)y->saved + losses_offset(z->rows, z->cols));
}

enum { LANES = 8 }; /* independent partial results, so the reductions below vectorise */

/* The row's maximum, or NaN when the row holds a NaN or an infinity (then so does the loss:
 * bad logits never turn into a plausible number). */
static tg_real row_max(const tg_real *z, size_t V)
{
    tg_real m[LANES], bad[LANES] = {0}; /* bad: Σ 0·z, NaN iff some z is NaN or infinite */
    for (size_t k = 0; k < LANES; k++) m[k] = z[0];
    size_t j = 0;
    for (; j + LANES <= V; j += LANES)
        for (size_t k = 0; k < LANES; k++) {
            m[k] = z[j + k] > m[k] ? z[j + k] : m[k];
            bad[k] += 0 * z[j + k];
        }
    for (; j < V; j++) m[0] = z[j] > m[0] ? z[j] : m[0], bad[0] += 0 * z[j];
    for (size_t k = 1; k < LANES; k++) m[0] = m[k] > m[0] ? m[k] : m[0], bad[0] += bad[k];
    return bad[0] == 0 ? m[0] : (tg_real)NAN;
}

/* p[j] = exp(z[j] - m); returns Σ p, accumulated in double. */
static double row_exp(const tg_real *z, tg_real m, tg_real *p, size_t V)
{
    for (size_t j = 0; j < V; j++) p[j] = exp_nonpos(z[j] - m); /* in (0, 1] */
    double s[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= V; j += LANES)
        for (size_t k = 0; k < LANES; k++) s[k] += p[j + k];
    for (; j < V; j++) s[0] += p[j];
    for (size_t k = 1; k < LANES; k++) s[0] += s[k];
    return s[0];
}

/* Row i's -log p[target], filling p's row on the way: one exponential per class. */
static double row_xent(const tg_real *z, tg_real *p, size_t V, int32_t target)
{
    tg_real m = row_max(z, V);
    if (m != m) { /* NaN or infinite logits: say so in the loss and the probabilities */
        for (size_t j = 0; j < V; j++) p[j] = (tg_real)NAN;
        return NAN;
    }
    double s = row_exp(z, m, p, V);
    tg_real inv = (tg_real)(1.0 / s);
    for (size_t j = 0; j < V; j++) p[j] *= inv;    /* softmax */
    return (double)m + log(s) - (double)z[target]; /* lse - z[target] */
}

static void xent_forward(tg_tensor *y)
{
    const tg_tensor *z = y->in[0];
    const int32_t *tgt = targets_of(y);
    tg_real *p = probs(y);
    double *loss = losses_of(y), total = 0;
    size_t n = z->rows, V = z->cols;
#pragma omp parallel for num_threads(tgi_threads_for(n *V, MIN_PER_THREAD)) schedule(static)
    for (size_t i = 0; i < n; i++) loss[i] = row_xent(&z->val[i * V], &p[i * V], V, tgt[i]);
    for (size_t i = 0; i < n; i++) total += loss[i]; /* in row order, on any thread count */
    y->val[0] = (tg_real)(total / (double)n);
}

static void xent_backward(tg_tensor *y) /* dz[i][j] += dloss * (p[i][j] - [j == t_i]) / n */
{
    tg_tensor *z = y->in[0];
    const int32_t *tgt = targets_of(y);
    const tg_real *p = probs(y);
    size_t n = z->rows, V = z->cols;
    if (!z->grad) return;
    double g = (double)y->grad[0] / (double)n;
#pragma omp parallel for num_threads(tgi_threads_for(n *V, MIN_PER_THREAD)) schedule(static)
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < V; j++) z->grad[i * V + j] += (tg_real)(g * p[i * V + j]);
        z->grad[i * V + (size_t)tgt[i]] -= (tg_real)g;
    }
}

static const tg_op xent_op = {"tg_softmax_xent", xent_forward, xent_backward};

/* NULL after recording the error when shapes or targets do not fit, else the logits. */
static tg_tensor *check(tg_tape *t, tg_tensor *z, const int32_t *targets, size_t n)
{
    if (!tgi_check(t, "tg_softmax_xent", 1, &z)) return NULL;
    if (n == 0)
        return tgi_fail(t, "tg_softmax_xent: n is 0 (logits are " TGI_SHAPE ")", TGI_DIMS(z));
    if (z->rows != n)
        return tgi_fail(t, "tg_softmax_xent: logits " TGI_SHAPE " have %zu rows, expected n = %zu",
                        TGI_DIMS(z), z->rows, n);
    if (!targets) return tgi_fail(t, "tg_softmax_xent: targets is NULL (n = %zu)", n);
    for (size_t i = 0; i < n; i++)
        if (targets[i] < 0 || (size_t)targets[i] >= z->cols)
            return tgi_fail(t,
                            "tg_softmax_xent: target %ld at position %zu is out of range for "
                            "V = %zu classes (logits " TGI_SHAPE ")",
                            (long)targets[i], i, z->cols, TGI_DIMS(z));
    return z;
}

tg_tensor *tg_softmax_xent(tg_tape *t, tg_tensor *logits, const int32_t *targets, size_t n)
{
    if (!check(t, logits, targets, n)) return NULL;
    size_t V = logits->cols; /* the logits exist, so n·V reals fit and so does this sum: */
    size_t bytes = losses_offset(n, V) + n * sizeof(double);
    char *saved = tgi_alloc(t, bytes, "tg_softmax_xent");
    if (!saved) return NULL;
    memcpy(saved + targets_offset(n, V), targets, n * sizeof *targets);
    tg_tensor *y = tgi_node(t, &xent_op, 1, 1, 1, &logits);
    if (!y) return NULL;
    y->saved = saved;
    xent_op.forward(y);
    return y;
}
