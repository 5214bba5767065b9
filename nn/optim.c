/* optim.c: SGD (with momentum), Adagrad and Adam as flat loops over the parameter store.
 *
 * Invariant: the optimizer owns one block of n_state * numel tg_real (state array i starts at
 * state + i·numel), allocated in tg_optim_new; a step allocates nothing. Each update is a loop
 * whose body is the PyTorch formula written in optim.h, and whose element i reads and writes
 * only element i of each array: so a step can run on chunks of the store in any order and on
 * any number of threads and give the same bits.
 *
 * SGD computes in tg_real, as PyTorch's SGD computes in the parameters' type; Adagrad and Adam
 * in double. In float, SGD's loop converts nothing: a fused step (scale, update, zero) over
 * char-h100's 94K values took 10.9 us in double and 6.0 us in float (best of 3000, AVX-512,
 * one thread), and bench_train's char-h100-b1 gained 2.6% (ten alternations); Zen 5 KVM guest,
 * 2026-12-03. The result changes by float rounding only: lr and the update lr·g are rounded to
 * float before the subtraction, about 2^-23 of the update, far below the parameter's rounding.
 *
 * The loops (update and what it inlines) are compiled for SSE2, AVX2 and AVX-512 and chosen at
 * run time (ops/simd.c): each element goes through the same operations in the same order at
 * every width (no contraction), so all give the same bits (tests/test_nn_optim.c). A fused
 * step zeroes each gradient in the loop that last reads it, not in a pass of its own.
 *
 * Read next: clip.c (the global-norm clipping that precedes a step).
 */
#include "nn/optim.h"
#include "ops/internal.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if TGI_SIMD
#include <immintrin.h>
#endif

/* A step runs over the store CHUNK elements at a time, the chunks shared among up to
 * tgi_threads_for(numel, MIN_PER_THREAD) threads. Measured alone on 2 cores (zen3, SGD step with
 * clipping and zeroing, best of 3000, with the SSE2 loops and a memset to zero), 2 threads lose
 * at 8K elements (7.6 vs 6.7 us), tie at 16K and win from 32K on (14 vs 20 us; 29 vs 48 us at
 * 64K; 79 vs 155 us at 256K). In training they lose longer: backward has just written the
 * gradients into the calling core's L2, the second core fetches its half from there, and the next
 * window fetches back the values and zeros that core wrote. A store whose values and gradients
 * fit one core's L2 (1 MB on Zen 4 and 5) stays on one thread: char-h100's 94K values (Zen 5 KVM
 * guest, 2 cores, idle, 2026-12-03, bench_train --profile) took 16 us a window for clipping and
 * the step on one thread, 39 on two. */
#define CHUNK          4096
#define MIN_PER_THREAD 65536

struct tg_optim {
    tg_optim_config cfg; /* hyperparameters; cfg.lr changes with the schedule */
    tg_params *ps;       /* the store updated; borrowed */
    size_t numel;        /* tg_params_numel(ps) when made */
    size_t n_state;      /* number of state arrays: 0, 1 or 2 */
    tg_real *state;      /* n_state * numel values, zeroed at creation; owned */
    uint64_t steps;      /* completed steps (Adam's t) */
};

tg_optim_config tg_sgd_config(double lr, double momentum)
{
    return (tg_optim_config){.kind = TG_OPTIM_SGD, .lr = lr, .momentum = momentum};
}

tg_optim_config tg_adagrad_config(double lr)
{
    return (tg_optim_config){.kind = TG_OPTIM_ADAGRAD, .lr = lr, .eps = 1e-10};
}

tg_optim_config tg_adam_config(double lr)
{
    return (tg_optim_config){
        .kind = TG_OPTIM_ADAM, .lr = lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

/* 0 <= x < hi and x <= TG_OPTIM_MAX_HYPER, false for NaN. */
static int in_range(double x, double hi)
{
    return x >= 0 && x < hi && x <= TG_OPTIM_MAX_HYPER;
}

/* The name of the first hyperparameter out of its range, or NULL when all are valid. */
static const char *bad_field(const tg_optim_config *c)
{
    if (!in_range(c->lr, INFINITY)) return "lr";
    if (!in_range(c->weight_decay, INFINITY)) return "weight_decay";
    if (c->kind == TG_OPTIM_SGD && !in_range(c->momentum, 1)) return "momentum";
    if (c->kind == TG_OPTIM_ADAM && !in_range(c->beta1, 1)) return "beta1";
    if (c->kind == TG_OPTIM_ADAM && !in_range(c->beta2, 1)) return "beta2";
    if (c->kind != TG_OPTIM_SGD && !in_range(c->eps, INFINITY)) return "eps";
    return NULL;
}

static size_t state_count(const tg_optim_config *c)
{
    switch (c->kind) {
    case TG_OPTIM_SGD:
        return c->momentum > 0 ? 1 : 0;
    case TG_OPTIM_ADAGRAD:
        return 1;
    case TG_OPTIM_ADAM:
        return 2;
    }
    return 0;
}

int tg_optim_new(tg_optim **out, tg_params *ps, const tg_optim_config *cfg, tg_status *st)
{
    if (out) *out = NULL;
    if (!out || !ps || !cfg)
        return tg_status_set(st, TG_ENULL, "tg_optim_new: %s is NULL",
                             !out  ? "out"
                             : !ps ? "the parameter store"
                                   : "cfg");
    if (cfg->kind != TG_OPTIM_SGD && cfg->kind != TG_OPTIM_ADAGRAD && cfg->kind != TG_OPTIM_ADAM)
        return tg_status_set(st, TG_EINVAL, "tg_optim_new: unknown kind %d", (int)cfg->kind);
    const char *bad = bad_field(cfg);
    if (bad) return tg_status_set(st, TG_EINVAL, "tg_optim_new: %s is out of range", bad);
    size_t numel = tg_params_numel(ps), n_state = state_count(cfg);
    if (numel == 0) return tg_status_set(st, TG_EINVAL, "tg_optim_new: the store is empty");
    tg_optim *o = calloc(1, sizeof *o);
    if (n_state > 0 && o && numel <= SIZE_MAX / sizeof(tg_real) / n_state)
        o->state = calloc(n_state * numel, sizeof(tg_real));
    if (!o || (n_state > 0 && !o->state)) {
        free(o);
        return tg_status_set(st, TG_ENOMEM, "tg_optim_new: out of memory for %zu x %zu values",
                             n_state, numel);
    }
    o->cfg = *cfg;
    o->ps = ps;
    o->numel = numel;
    o->n_state = n_state;
    *out = o;
    return TG_OK;
}

void tg_optim_free(tg_optim *o)
{
    if (!o) return;
    free(o->state);
    free(o);
}

/* The gradient an update reads: grad·scale in tg_real, which is what tg_clip_grad_norm leaves
 * in the store (exactly grad when scale is 1). */
TGI_INLINE double scaled(tg_real grad, tg_real scale)
{
    return (double)(tg_real)(grad * scale);
}

/* Each update below reads grad[i] (dp[i]) and, when zero (a constant where update is inlined),
 * sets it to 0 in the same loop: a pass less over the gradients than a memset after. */
TGI_INLINE void sgd(const tg_optim_config *c, tg_real scale, tg_real *restrict p,
                    tg_real *restrict dp, size_t n, int zero)
{
    tg_real lr = (tg_real)c->lr, wd = (tg_real)c->weight_decay;
    if (wd == 0) { /* PyTorch's common case: no decay term at all */
        for (size_t i = 0; i < n; i++) {
            p[i] -= lr * (dp[i] * scale); // p -= lr·g
            if (zero) dp[i] = 0;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        tg_real g = dp[i] * scale + wd * p[i]; // g = grad + wd·p
        p[i] -= lr * g;                        // p -= lr·g
        if (zero) dp[i] = 0;
    }
}

TGI_INLINE void sgd_momentum(const tg_optim_config *c, tg_real scale, tg_real *restrict p,
                             tg_real *restrict dp, tg_real *restrict v, size_t n, int zero)
{
    tg_real lr = (tg_real)c->lr, wd = (tg_real)c->weight_decay, mu = (tg_real)c->momentum;
    for (size_t i = 0; i < n; i++) {
        tg_real g = dp[i] * scale + wd * p[i]; // g = grad + wd·p
        v[i] = mu * v[i] + g;                  // v = μ·v + g
        p[i] -= lr * v[i];                     // p -= lr·v
        if (zero) dp[i] = 0;
    }
}

/* sqrt sets errno on a negative argument, so a loop calling it is not vectorised (the build has
 * no -fno-math-errno), at any width: it stays a scalar vsqrtsd and a branch (GCC 12,
 * __builtin_sqrt alike). So Adagrad and Adam take their roots SQRT_RUN elements at a time, between
 * two loops that are vectorised, in a function per instruction set (roots_fn, passed down from
 * the wrapper) that calls the vector square root itself. IEEE square roots are correctly rounded
 * at every width, so each gives the bits of sqrt() for every input, NaN, infinities, zeros and
 * subnormals included (tests/test_nn_optim.c). */
#define SQRT_RUN 256

/* r[i] = sqrt(x[i]) in double, for i < n. */
typedef void roots_fn(double *restrict r, const tg_real *restrict x, size_t n);

static void roots_base(double *restrict r, const tg_real *restrict x, size_t n)
{
    size_t i = 0;
#if TGI_SIMD
    for (; i + 2 <= n; i += 2) { /* SSE2: two at a time */
        __m128 xs = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(x + i)));
        _mm_storeu_pd(r + i, _mm_sqrt_pd(_mm_cvtps_pd(xs)));
    }
#endif
    for (; i < n; i++) r[i] = sqrt((double)x[i]);
}

#if TGI_SIMD
TGI_AVX2 static void roots_avx2(double *restrict r, const tg_real *restrict x, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(r + i, _mm256_sqrt_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i))));
    for (; i < n; i++) r[i] = sqrt((double)x[i]);
}

/* The last n mod 8 as one masked vector: masked-off lanes load nothing and take the root of 0. */
TGI_AVX512 static void roots_avx512(double *restrict r, const tg_real *restrict x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_pd(r + i, _mm512_sqrt_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i))));
    if (i == n) return;
    __mmask8 k = (__mmask8)((1u << (n - i)) - 1);
    __m512d xs = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, x + i));
    _mm512_mask_storeu_pd(r + i, k, _mm512_sqrt_pd(xs));
}
#endif

TGI_INLINE void adagrad(const tg_optim_config *c, tg_real scale, tg_real *restrict p,
                        tg_real *restrict dp, tg_real *restrict s, size_t n, int zero,
                        roots_fn *roots)
{
    double lr = c->lr, wd = c->weight_decay, eps = c->eps, r[SQRT_RUN];
    for (size_t j = 0; j < n; j += SQRT_RUN) {
        size_t k = n - j < SQRT_RUN ? n - j : SQRT_RUN;
        for (size_t i = j; i < j + k; i++) {
            double g = scaled(dp[i], scale) + wd * (double)p[i]; // g = grad + wd·p
            s[i] = (tg_real)((double)s[i] + g * g);              // s += g²
        }
        roots(r, s + j, k);
        for (size_t i = j; i < j + k; i++) {
            double g = scaled(dp[i], scale) + wd * (double)p[i];
            p[i] = (tg_real)((double)p[i] - lr * g / (r[i - j] + eps)); // p -= lr·g/(√s+ε)
            if (zero) dp[i] = 0;
        }
    }
}

TGI_INLINE void adam(const tg_optim_config *c, uint64_t t, tg_real scale, tg_real *restrict p,
                     tg_real *restrict dp, tg_real *restrict m, tg_real *restrict v, size_t n,
                     int zero, roots_fn *roots)
{
    double b1 = c->beta1, b2 = c->beta2, wd = c->weight_decay, eps = c->eps, r[SQRT_RUN];
    double step_size = c->lr / (1 - pow(b1, (double)t)); // lr / (1 − β1^t)
    double sqrt_bc2 = sqrt(1 - pow(b2, (double)t));      // sqrt(1 − β2^t)
    for (size_t j = 0; j < n; j += SQRT_RUN) {
        size_t k = n - j < SQRT_RUN ? n - j : SQRT_RUN;
        for (size_t i = j; i < j + k; i++) {
            double g = scaled(dp[i], scale) + wd * (double)p[i];    // g = grad + wd·p
            m[i] = (tg_real)(b1 * (double)m[i] + (1 - b1) * g);     // m = β1·m + (1 − β1)·g
            v[i] = (tg_real)(b2 * (double)v[i] + (1 - b2) * g * g); // v = β2·v + (1 − β2)·g²
            if (zero) dp[i] = 0;
        }
        roots(r, v + j, k);
        for (size_t i = j; i < j + k; i++) {
            double denom = r[i - j] / sqrt_bc2 + eps;                          // sqrt(v̂) + eps
            p[i] = (tg_real)((double)p[i] - step_size * (double)m[i] / denom); // p -= lr·m̂/denom
        }
    }
}

/* The update of elements [lo, hi) of the store, as step t of o; their gradients zeroed when
 * zero; square roots by roots. */
TGI_INLINE void update(const tg_optim *o, uint64_t t, tg_real scale, size_t lo, size_t hi, int zero,
                       roots_fn *roots)
{
    const tg_optim_config *c = &o->cfg;
    tg_real *p = tg_params_values(o->ps) + lo, *s = o->state ? o->state + lo : NULL;
    tg_real *dp = tg_params_grads(o->ps) + lo;
    size_t n = hi - lo;
    switch (c->kind) {
    case TG_OPTIM_SGD:
        if (o->n_state)
            sgd_momentum(c, scale, p, dp, s, n, zero);
        else
            sgd(c, scale, p, dp, n, zero);
        break;
    case TG_OPTIM_ADAGRAD:
        adagrad(c, scale, p, dp, s, n, zero, roots);
        break;
    case TG_OPTIM_ADAM:
        adam(c, t, scale, p, dp, s, s + o->numel, n, zero, roots);
        break;
    }
}

/* update compiled plain, for AVX2 and for AVX-512 (ops/internal.h), each with the roots of its
 * width and once per value of zero; tg_optim_step_range calls this CPU's (TGI_PICK). */
TGI_VERSIONS(void, update,
             (const tg_optim *o, uint64_t t, tg_real scale, size_t lo, size_t hi, int zero),
             roots_fn *roots = TGI_PER_LEVEL(roots_base, roots_avx2, roots_avx512);
             if (zero) update(o, t, scale, lo, hi, 1, roots);
             else update(o, t, scale, lo, hi, 0, roots);)

int tg_optim_step(tg_optim *o, tg_status *st)
{
    return tg_optim_step_scaled(o, 1.0, 0, st);
}

int tg_optim_step_scaled(tg_optim *o, double grad_scale, int zero_grad, tg_status *st)
{
    assert(o);
    return tg_optim_step_range(o, 0, o->numel, grad_scale, zero_grad, st);
}

int tg_optim_step_range(tg_optim *o, size_t lo, size_t hi, double grad_scale, int zero_grad,
                        tg_status *st)
{
    assert(o);
    if (tg_params_numel(o->ps) != o->numel)
        return tg_status_set(st, TG_ESHAPE,
                             "tg_optim_step: the store holds %zu values, the optimizer was made "
                             "for %zu",
                             tg_params_numel(o->ps), o->numel);
    if (lo > hi || hi > o->numel)
        return tg_status_set(st, TG_EINVAL,
                             "tg_optim_step_range: [%zu, %zu) is not a range of the %zu values", lo,
                             hi, o->numel);
    if (o->steps >= TG_OPTIM_MAX_STEPS)
        return tg_status_set(st, TG_ERANGE,
                             "tg_optim_step: %" PRIu64 " steps taken, the most is 2^53", o->steps);
    size_t n = hi - lo, chunks = (n + CHUNK - 1) / CHUNK;
    uint64_t t = ++o->steps;
    update_fn *f = TGI_PICK(update_versions);
    TGI_PARALLEL_FOR(tgi_threads_for(n, MIN_PER_THREAD), ch, chunks, {
        size_t a = lo + ch * CHUNK, b = hi - a < CHUNK ? hi : a + CHUNK;
        f(o, t, (tg_real)grad_scale, a, b, zero_grad);
    });
    return TG_OK;
}

double tg_optim_lr(const tg_optim *o)
{
    return o->cfg.lr;
}

int tg_optim_set_lr(tg_optim *o, double lr, tg_status *st)
{
    if (!in_range(lr, INFINITY))
        return tg_status_set(st, TG_EINVAL,
                             "tg_optim_set_lr: the learning rate must be >= 0 and at most %g, "
                             "got %g",
                             TG_OPTIM_MAX_HYPER, lr);
    o->cfg.lr = lr;
    return TG_OK;
}

const tg_optim_config *tg_optim_get_config(const tg_optim *o)
{
    return &o->cfg;
}

uint64_t tg_optim_steps(const tg_optim *o)
{
    return o->steps;
}

int tg_optim_set_steps(tg_optim *o, uint64_t steps, tg_status *st)
{
    if (steps > TG_OPTIM_MAX_STEPS)
        return tg_status_set(st, TG_ERANGE,
                             "tg_optim_set_steps: %" PRIu64 " steps is more than the %" PRIu64
                             " an optimizer can count exactly",
                             steps, (uint64_t)TG_OPTIM_MAX_STEPS);
    o->steps = steps;
    return TG_OK;
}

size_t tg_optim_numel(const tg_optim *o)
{
    return o->numel;
}

size_t tg_optim_state_count(const tg_optim *o)
{
    return o->n_state;
}

tg_real *tg_optim_state(tg_optim *o, size_t i)
{
    return i < o->n_state ? o->state + i * o->numel : NULL;
}

const char *tg_optim_state_name(const tg_optim *o, size_t i)
{
    static const char *const sgd_names[] = {"momentum_buffer"};
    static const char *const adagrad_names[] = {"sum"};
    static const char *const adam_names[] = {"exp_avg", "exp_avg_sq"};
    if (i >= o->n_state) return NULL;
    switch (o->cfg.kind) {
    case TG_OPTIM_SGD:
        return sgd_names[i];
    case TG_OPTIM_ADAGRAD:
        return adagrad_names[i];
    case TG_OPTIM_ADAM:
        return adam_names[i];
    }
    return NULL;
}

double tg_lr_step_decay(double lr0, double factor, size_t k, size_t epoch)
{
    return epoch > k ? lr0 * pow(factor, (double)(epoch - k)) : lr0; // lr0·factor^max(0, e − k)
}
