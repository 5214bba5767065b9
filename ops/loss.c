/* loss.c: softmax cross-entropy from logits and integer targets.
 *
 * Forward, per row i of the (n x V) logits z, with m = max_j z[i][j]:
 *     lse_i = m + log sum_j exp(z[i][j] - m),   p[i][j] = exp(z[i][j] - lse_i),
 *     loss  = (1/n) sum_i (lse_i - z[i][t_i]).
 * Subtracting the row maximum keeps every exp() in (0, 1], so logits of any size give finite
 * results; the sum runs in double. Forward keeps p (n x V, tg_real) followed by a copy of the
 * targets in one arena block at y->saved: backward needs nothing else.
 * Dimension letters: n rows, V classes.
 */
#include "ops/loss.h"

#include "autograd/internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The probabilities and the targets, laid out one after the other in y->saved. */
static tg_real *probs(const tg_tensor *y)
{
    return y->saved;
}

static const int32_t *targets_of(const tg_tensor *y)
{
    const tg_tensor *z = y->in[0];
    return (const int32_t *)(probs(y) + z->rows * z->cols);
}

#ifdef TG_DOUBLE
static tg_real exp_nonpos(tg_real x)
{
    return exp(x);
}
#else
/* exp(x) for x <= 0 in float, within 3 ulp of the exact value (checked over every float in
 * [-87, 0]); below -87 it returns exp(-87) ~ 1.6e-38, which no softmax can tell from 0. Pure
 * arithmetic (no branch, no table) so that the loop over a row vectorises: with V = 10000
 * classes the softmax does more exponentials than anything else in a training step.
 * x = n·ln2 + r, |r| <= ln2/2 (ln2 split in two for exactness), exp(r) by its degree-6 Taylor
 * polynomial, 2^n put in the exponent bits. */
static tg_real exp_nonpos(tg_real x)
{
    uint32_t xb; /* x = max(x, -87) on the bits: for x <= 0 they grow with |x|, and an integer */
    memcpy(&xb, &x, sizeof xb); /* select vectorises where a float one (NaN rules) does not */
    xb = xb > 0xC2AE0000u ? 0xC2AE0000u : xb; /* 0xC2AE0000 is -87.0f */
    memcpy(&x, &xb, sizeof x);
    float n = (float)(int)(x * 1.44269504f - 0.5f); /* round to nearest for x <= 0 */
    float r = (x - n * 0.693145752f) - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667e-1f +
                                                  r * (4.1666668e-2f +
                                                       r * (8.3333338e-3f + r * 1.3888889e-3f)))));
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}
#endif

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
    size_t n = z->rows, V = z->cols;
    double total = 0;
    for (size_t i = 0; i < n; i++) total += row_xent(&z->val[i * V], &probs(y)[i * V], V, tgt[i]);
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
    size_t nV = n * logits->cols; /* fits: it is the logits' own element count */
    tg_real *p = tgi_alloc(t, nV * sizeof *p + n * sizeof *targets, "tg_softmax_xent");
    if (!p) return NULL;
    memcpy(p + nV, targets, n * sizeof *targets);
    tg_tensor *y = tgi_node(t, &xent_op, 1, 1, 1, &logits);
    if (!y) return NULL;
    y->saved = p;
    xent_op.forward(y);
    return y;
}
