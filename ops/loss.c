/* loss.c: softmax cross-entropy from logits and integer targets.
 *
 * Forward, per row i of the (n x V) logits z, with m = max_j z[i][j]:
 *     lse_i = m + log sum_j exp(z[i][j] - m),   p[i][j] = exp(z[i][j] - lse_i),
 *     loss  = (1/n) sum_i (lse_i - z[i][t_i]).
 * Subtracting the row maximum keeps every exp() in (0, 1], so logits of any size give finite
 * results; the sum runs in double (the float build adds blocks of 64 terms in float first).
 * Forward keeps, in one arena block at y->saved, a copy of the targets, each row's maximum m_i
 * and 1 / sum_j exp(z[i][j] - m_i), and each row's loss: backward recomputes each
 * exp(z[i][j] - m_i), the same expression and so the same bits as forward's, and scales it,
 * instead of keeping the (n x V) probabilities (28 MB for ptb-medium's 700 x 10000 logits).
 * An exponential costs about what reading a kept p costs.
 * Rows are independent, so large logits split their rows between threads; the loss adds the
 * per-row values in row order afterwards, so it does not depend on the thread count. The row
 * loops are compiled for SSE2, AVX2 and AVX-512 and chosen at run time (ops/simd.c); all three
 * give the same bits. Backward is usually the first to write the logits' gradient (the loss is
 * recorded after every other use of them): it then assigns it (tg_grad_first), so the walk does
 * not zero the (n x V) buffer first and backward does not read it.
 * Dimension letters: n rows, V classes.
 */
#include "ops/loss.h"

#include "ops/internal.h"
#include "ops/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Past this many logits per thread the rows are split between threads: 65536 exponentials
 * take tens of microseconds, far more than waking a second thread. */
enum { MIN_PER_THREAD = 65536 };

/* y->saved holds the n targets, then (8-byte aligned) the n row losses, then the n row maxima
 * and the n reciprocal sums. */
static const int32_t *targets_of(const tg_tensor *y)
{
    return y->saved;
}

static size_t losses_offset(size_t n)
{
    return (n * sizeof(int32_t) + 7) / 8 * 8;
}

static double *losses_of(const tg_tensor *y)
{
    return (double *)((char *)y->saved + losses_offset(y->in[0]->rows));
}

static tg_real *maxima_of(const tg_tensor *y) /* then the reciprocal sums, n further on */
{
    return (tg_real *)(losses_of(y) + y->in[0]->rows);
}

static size_t saved_bytes(size_t n)
{
    return losses_offset(n) + n * sizeof(double) + 2 * n * sizeof(tg_real);
}

enum { LANES = 8 }; /* independent partial results, so the reductions below vectorise */

#ifdef TG_DOUBLE
/* The row's maximum, or NaN when the row holds a NaN or an infinity (then so does the loss:
 * bad logits never turn into a plausible number). */
TGI_INLINE tg_real row_max(const tg_real *z, size_t V)
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

/* Σ_j exp(z[j] - m): element j into partial sum j mod LANES, the last V mod LANES into the
 * first, then the partial sums in order. */
TGI_INLINE double row_sum_exp(const tg_real *z, tg_real m, size_t V)
{
    double s[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= V; j += LANES)
        for (size_t k = 0; k < LANES; k++) s[k] += exp_nonpos(z[j + k] - m);
    for (; j < V; j++) s[0] += exp_nonpos(z[j] - m);
    for (size_t k = 1; k < LANES; k++) s[0] += s[k];
    return s[0];
}
#else
/* The float build spells its two row loops so that GCC vectorises them; written as the double
 * build's above, its SLP vectoriser left both scalar (3.4 ms of ptb-small's 4.0e6 logits at
 * AVX-512, against 2.1 ms as below). Vectors of the compiler's own (GCC and clang) are the
 * same operations at any width the wrapper allows. */
typedef float f32x16 __attribute__((vector_size(64)));
typedef double f64x8 __attribute__((vector_size(64)));

/* The row's maximum, or NaN when the row holds a NaN or an infinity (then so does the loss:
 * bad logits never turn into a plausible number). Each float's bits become an integer that
 * orders like the float (-0 below +0): the maximum of integers is exact in any order, so the
 * compiler vectorises the loop, where a float maximum (NaN and signed-zero rules) stays scalar.
 * A zero maximum is +0 when the row holds one. */
TGI_INLINE tg_real row_max(const tg_real *z, size_t V)
{
    const int32_t EXP = 0x7F800000; /* all exponent bits set: an infinity or a NaN */
    int32_t m = INT32_MIN, bad = 0;
    for (size_t j = 0; j < V; j++) {
        int32_t x;
        memcpy(&x, z + j, sizeof x);
        bad |= (x & EXP) == EXP;
        x ^= (x >> 31) & 0x7FFFFFFF; /* the key */
        m = x > m ? x : m;
    }
    if (bad) return (tg_real)NAN;
    m ^= (m >> 31) & 0x7FFFFFFF; /* the key's own inverse */
    float r;
    memcpy(&r, &m, sizeof r);
    return r;
}

/* e[k] = exp(z[k] - m) for k < 16, each in (0, 1]. (Vectors pass by pointer: by value, GCC
 * warns that the plain version's ABI differs from the AVX-512 one's, though all are inlined.) */
TGI_INLINE void exp16(const tg_real *z, tg_real m, f32x16 *e)
{
    for (size_t k = 0; k < 16; k++) (*e)[k] = exp_nonpos(z[k] - m);
}

/* s[k] += e[k], then s[k] += e[8 + k], in double. */
TGI_INLINE void add_halves(f64x8 *s, const f32x16 *e)
{
    f64x8 lo = {(*e)[0], (*e)[1], (*e)[2], (*e)[3], (*e)[4], (*e)[5], (*e)[6], (*e)[7]};
    f64x8 hi = {(*e)[8], (*e)[9], (*e)[10], (*e)[11], (*e)[12], (*e)[13], (*e)[14], (*e)[15]};
    *s += lo;
    *s += hi;
}

/* Σ_j exp(z[j] - m) into LANES partial sums in double. Blocks of 64 elements are first summed
 * in float, four vectors of 16 as (e0 + e1) + (e2 + e3), which costs at most two float
 * roundings of each block's sum (all terms are positive): the conversions to double and the
 * double additions took 0.43 ns a logit where the float sums take 0.27 (AVX-512, one thread).
 * What is left goes 16 at a time, then 8, then one by one into the first partial sum; then the
 * partial sums are added in order. The vectors are the compiler's own, one order at any width,
 * so the bits do not depend on the vector width. The loop also asks for the next row, a line a
 * vector, so that row_max, bound by memory when the (n x V) logits are out of cache, finds that
 * row in L2 (ptb-small's forward, 400 x 10000 logits, one thread: 1.80-1.85 ms without,
 * 1.36-1.41 with). After the last row it asks for lines past the logits, which a prefetch may:
 * it is a hint, never a read, and never faults. */
TGI_INLINE double row_sum_exp(const tg_real *z, tg_real m, size_t V)
{
    f64x8 s = {0};
    size_t j = 0;
    for (; j + 64 <= V; j += 64) {
        for (size_t q = 0; q < 64; q += 16) __builtin_prefetch(z + V + j + q, 0, 2);
        f32x16 e[4];
        for (size_t q = 0; q < 4; q++) exp16(z + j + 16 * q, m, &e[q]);
        e[0] = (e[0] + e[1]) + (e[2] + e[3]);
        add_halves(&s, &e[0]);
    }
    for (; j + 16 <= V; j += 16) {
        f32x16 e;
        exp16(z + j, m, &e);
        add_halves(&s, &e);
    }
    for (; j + LANES <= V; j += LANES) /* at most once */
        for (size_t k = 0; k < LANES; k++) s[k] += exp_nonpos(z[j + k] - m);
    for (; j < V; j++) s[0] += exp_nonpos(z[j] - m); /* the last V mod LANES */
    double sum = s[0];
    for (size_t k = 1; k < LANES; k++) sum += s[k];
    return sum;
}
#endif

/* Row i's -log p[target], with the row's maximum and 1 / Σ exp(z - m) for backward. */
TGI_INLINE double row_xent(const tg_real *z, size_t V, int32_t target, tg_real *m, tg_real *inv)
{
    *m = row_max(z, V);
    if (*m != *m) { /* NaN or infinite logits: say so in the loss and in the gradient */
        *inv = (tg_real)NAN;
        return NAN;
    }
    double s = row_sum_exp(z, *m, V);
    *inv = (tg_real)(1.0 / s);
    return (double)*m + log(s) - (double)z[target]; /* lse - z[target] */
}

/* dz[j] += g·p[j] = exp(z[j] - m)·gi over one row, gi = g·inv rounded once; when assign,
 * dz[j] = 0 + exp(z[j] - m)·gi (dz's values unread: the same bits as adding to zeros). One
 * product in tg_real a logit: the same product in double, a conversion there and back, took 0.55
 * instead of 0.32 ns a logit (AVX-512, one thread). */
TGI_INLINE void row_grad(const tg_real *z, tg_real *dz, size_t V, tg_real m, tg_real inv, double g,
                         int assign)
{
    tg_real gi = (tg_real)(g * inv);
    if (assign)
        for (size_t j = 0; j < V; j++) dz[j] = 0 + exp_nonpos(z[j] - m) * gi;
    else
        for (size_t j = 0; j < V; j++) dz[j] += exp_nonpos(z[j] - m) * gi;
}

/* row_xent and row_grad compiled plain, for AVX2 and for AVX-512 (ops/internal.h); forward and
 * backward call this CPU's (TGI_PICK). */
TGI_VERSIONS(double, row_xent, (const tg_real *z, size_t V, int32_t t, tg_real *m, tg_real *inv),
             return row_xent(z, V, t, m, inv);)
TGI_VERSIONS(void, row_grad,
             (const tg_real *z, tg_real *dz, size_t V, tg_real m, tg_real inv, double g,
              int assign),
             if (assign) row_grad(z, dz, V, m, inv, g, 1);
             else row_grad(z, dz, V, m, inv, g, 0);)

static void xent_forward(tg_tape *t, tg_tensor *y)
{
    const tg_tensor *z = y->in[0];
    const int32_t *tgt = targets_of(y);
    double *loss = losses_of(y), total = 0;
    size_t n = z->rows, V = z->cols;
    tg_real *m = maxima_of(y), *inv = m + n;
    row_xent_fn *xent = TGI_PICK(row_xent_versions);
    TGI_PARALLEL_FOR(tgi_threads_for(n * V, MIN_PER_THREAD), i, n,
                     loss[i] = xent(&z->val[i * V], V, tgt[i], &m[i], &inv[i]));
    for (size_t i = 0; i < n; i++) total += loss[i]; /* in row order, on any thread count */
    y->val[0] = (tg_real)(total / (double)n);
}

/* dz[i][j] += dloss * (p[i][j] - [j == t_i]) / n, p[i][j] = exp(z[i][j] - m_i) * inv_i */
static void xent_backward(tg_tape *t, tg_tensor *y)
{
    tg_tensor *z = y->in[0];
    const int32_t *tgt = targets_of(y);
    const tg_real *m = maxima_of(y), *inv = m + z->rows;
    size_t n = z->rows, V = z->cols;
    if (!z->grad) return;
    double g = (double)y->grad[0] / (double)n;
    int assign = tg_grad_first(t, z);
    row_grad_fn *grad = TGI_PICK(row_grad_versions);
    TGI_PARALLEL_FOR(tgi_threads_for(n * V, MIN_PER_THREAD), i, n, {
        tg_real *dz = &z->grad[i * V];
        if (m[i] != m[i]) /* bad logits: a NaN gradient, as the loss */
            for (size_t j = 0; j < V; j++) dz[j] = (assign ? 0 : dz[j]) + (tg_real)NAN;
        else
            grad(&z->val[i * V], dz, V, m[i], inv[i], g, assign);
        dz[tgt[i]] -= (tg_real)g;
    });
}

static const tg_op xent_op = {
    "tg_softmax_xent", xent_forward, xent_backward, NULL,
    "softmax cross-entropy: each row's gradient is its probabilities minus the one-hot target, "
    "averaged over the rows  dz += dy * (p - onehot) / n"};

/* NULL after recording the error when shapes or targets do not fit, else the logits. */
static tg_tensor *check(tg_tape *t, tg_tensor *z, const int32_t *targets, size_t n)
{
    if (!tg_check_inputs(t, "tg_softmax_xent", 1, &z)) return NULL;
    if (n == 0) return tg_fail(t, "tg_softmax_xent: n is 0 (logits are " TG_SHAPE ")", TG_DIMS(z));
    if (z->rows != n)
        return tg_fail(t, "tg_softmax_xent: logits " TG_SHAPE " have %zu rows, expected n = %zu",
                       TG_DIMS(z), z->rows, n);
    if (!targets) return tg_fail(t, "tg_softmax_xent: targets is NULL (n = %zu)", n);
    for (size_t i = 0; i < n; i++)
        if (targets[i] < 0 || (size_t)targets[i] >= z->cols)
            return tg_fail(t,
                           "tg_softmax_xent: target %ld at position %zu is out of range for "
                           "V = %zu classes (logits " TG_SHAPE ")",
                           (long)targets[i], i, z->cols, TG_DIMS(z));
    return z;
}

tg_tensor *tg_softmax_xent(tg_tape *t, tg_tensor *logits, const int32_t *targets, size_t n)
{
    if (!check(t, logits, targets, n)) return NULL;
    char *saved = tg_tape_alloc(t, saved_bytes(n), "tg_softmax_xent"); /* n fits: logits exist */
    if (!saved) return NULL;
    memcpy(saved, targets, n * sizeof *targets);
    tg_tensor *y = tg_node(t, &xent_op, 1, 1, 1, &logits);
    if (!y) return NULL;
    y->saved = saved;
    tg_assigns_first(t, y); /* backward assigns dz when it is the first to write it */
    xent_op.forward(t, y);
    return y;
}
