/* unary.c: tanh, sigmoid, relu, exp, log, scale and 1 - x, forward and backward side by side.
 *
 * Each op maps x to y element by element, so y has x's shape and element i of dx depends only
 * on element i of dy and y. Every backward differentiates through forward's output y (tanh and
 * sigmoid never recompute an exponential) or through the op's argument (scale's c, kept in
 * y->arg), and adds into dx, so a tensor used twice receives both terms. sigmoid's and tanh's
 * loops are also compiled for AVX2 and AVX-512 and chosen at run time by tgi_map (declared in
 * ops/vmath.h, defined here for ops/binary.c and ops/fused.c too; ops/simd.c).
 * Read next: shape.c (ops that move values rather than change them).
 */
#include "ops/unary.h"

#include "ops/internal.h"

#include "ops/vmath.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>

/* The loop every op here shares: element i of y, over all of y, on tgi_threads_for threads.
 * Past TGI_UNARY_MIN_PER_THREAD (ops/internal.h) elements a thread a loop is worth splitting:
 * with the AVX-512 loops 16384 tanh take 6.4 us (char-h512-b32's (32 x 512) gates, Zen 5), so
 * 32768 about 13, several times what waking a second thread costs. Smaller tensors stay on the
 * calling thread and pay nothing for OpenMP (TGI_PARALLEL_FOR's plain loop, not a parallel
 * region of one thread). */
#define FOR_EACH(y, body)                                                                          \
    TGI_PARALLEL_FOR(tgi_threads_for(tg_numel(y), TGI_UNARY_MIN_PER_THREAD), i, tg_numel(y), body)

/* sigmoid and tanh from e = exp(-|x|) or expm1(-2|x|) in (-1, 1], so nothing overflows, and
 * selects rather than branches so their loops vectorise (ops/vmath.h). A NaN gives NaN.
 * Float build, every finite float against the formula in double: sigmoid within 2.40 ulp, tanh
 * within 2.50 ulp (before, scalar calls that did not vectorise: sigmoid through libm's expf
 * 2.40 ulp, tanh through double exp 0.50 ulp). */
#ifdef TG_DOUBLE
#define ABS  fabs
#define TANH tanh
#define EXP  exp
#define LOG  log
#else
#define ABS  fabsf
#define TANH tanh_float
#define EXP  expf
#define LOG  logf
/* tanh |x| = -u / (2 + u) with u = e^-2|x| - 1: expm1 keeps full relative precision for tiny x
 * (the result is x itself for subnormals), and u -> -1 gives 1 for large |x|. */
static inline float tanh_float(float x)
{
    float u = expm1_nonpos(-(2 * fabsf(x)));
    return nan_or(x, copysignf(-u / (2 + u), x));
}
#endif

static inline tg_real sigmoid(tg_real x) /* 1/(1 + e) for x >= 0, else e/(1 + e) */
{
    tg_real e = exp_nonpos(-ABS(x));
    return nan_or(x, (x >= 0 ? 1 : e) / (1 + e));
}

/* The gate activations' loops (tgi_map, ops/vmath.h): forward reads x (in[0]) and writes y
 * (out[0]); backward reads y (in[0]) and dy (in[1]) and adds into dx (out[0]). Each is compiled
 * per instruction set with the same operations on each element, so the same bits. An LSTM step
 * calls them on (B x H) gates, 100 elements at batch 1, where SSE2's 4 lanes against AVX-512's
 * 16 is most of the cost. */
TGI_MAP_LOOP(tanh_grad_map, (y, dy, in2), (dx, out1, out2), dx[i] += dy[i] * (1 - y[i] * y[i]))
TGI_MAP_LOOP(sigmoid_grad_map, (y, dy, in2), (dx, out1, out2), dx[i] += dy[i] * y[i] * (1 - y[i]))

/* Forward, y[i] = f(x[i]) over lo..hi: whole blocks of TAIL elements, then, when some are left,
 * the last TAIL elements again as one block, so that the remainder runs as one more vector
 * instead of the compiler's scalar remainder loop, which costs as much as several vectors here
 * (AVX-512, sigmoid of 96 floats 37 ns, of 100 65 ns; 44 ns so). The elements done twice get the
 * same value twice (x and y never overlap), so the bits are the same either way. */
enum { TAIL = 16 }; /* AVX-512's lanes, a multiple of AVX2's and SSE2's */
#define MAP_IN_BLOCKS(name, f)                                                                     \
    TGI_INLINE void name(TGI_MAP_IN_(x, in1, in2), TGI_MAP_OUT_(y, out1, out2), size_t lo,         \
                         size_t hi)                                                                \
    {                                                                                              \
        if (hi - lo < TAIL) {                                                                      \
            for (size_t i = lo; i < hi; i++) y[i] = f(x[i]);                                       \
            return;                                                                                \
        }                                                                                          \
        size_t end = hi - (hi - lo) % TAIL;                                                        \
        for (size_t i = lo; i < end; i++) y[i] = f(x[i]);                                          \
        if (end < hi)                                                                              \
            for (size_t k = 0; k < TAIL; k++) y[hi - TAIL + k] = f(x[hi - TAIL + k]);              \
    }                                                                                              \
    TGI_MAP_VERSIONS(name)
MAP_IN_BLOCKS(tanh_map, TANH)
MAP_IN_BLOCKS(sigmoid_map, sigmoid)

/* 1 when p's and q's n elements share memory (NULL shares nothing). */
static int overlap(const tg_real *p, const tg_real *q, size_t n)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)q, len = n * sizeof *p;
    return p && q && a < b + len && b < a + len;
}

int tgi_map(tgi_map_fn *const versions[3], const tgi_map_args *m, size_t n, size_t min_per_thread)
{
    for (int k = 0; k < 3 && m->out[k]; k++)
        for (int j = 0; j < 3; j++)
            if (overlap(m->out[k], m->in[j], n) || (j != k && overlap(m->out[k], m->out[j], n)))
                return 0;
    tgi_map_fn *f = TGI_PICK(versions);
    size_t nt = (size_t)tgi_threads_for(n, min_per_thread);
    if (nt == 1) { /* the cells' usual case: no division into pieces */
        f(m, 0, n);
        return 1;
    }
    size_t piece = (n + nt - 1) / nt;
    TGI_PARALLEL_FOR(
        (int)nt, p, nt,
        f(m, p * piece < n ? p * piece : n, (p + 1) * piece < n ? (p + 1) * piece : n));
    return 1;
}

/* Loop v over y's elements: forward's arrays (y = op(x)) or backward's (dx += ... y, dy). They
 * never overlap (y is a new node, dx is x's), so tgi_map always runs. */
static void map(tgi_map_fn *const v[3], const tg_tensor *y, int backward)
{
    tgi_map_args fw = {{y->in[0]->val}, {y->val}}, bw = {{y->val, y->grad}, {y->in[0]->grad}};
    int done = tgi_map(v, backward ? &bw : &fw, tg_numel(y), TGI_UNARY_MIN_PER_THREAD);
    assert(done);
    (void)done;
}

static void tanh_forward(tg_tape *t, tg_tensor *y)
{
    map(tanh_map_versions, y, 0);
}

static void tanh_backward(tg_tape *t, tg_tensor *y) /* dx += dy * (1 - y*y) */
{
    if (y->in[0]->grad) map(tanh_grad_map_versions, y, 1);
}

static void sigmoid_forward(tg_tape *t, tg_tensor *y)
{
    map(sigmoid_map_versions, y, 0);
}

static void sigmoid_backward(tg_tape *t, tg_tensor *y) /* dx += dy * y*(1-y) */
{
    if (y->in[0]->grad) map(sigmoid_grad_map_versions, y, 1);
}

static void relu_forward(tg_tape *t, tg_tensor *y) /* x < 0 ? 0 : x, so a NaN passes through */
{
    const tg_real *x = y->in[0]->val;
    tg_real *v = y->val;
    FOR_EACH(y, v[i] = x[i] < 0 ? 0 : x[i]);
}

static void relu_backward(tg_tape *t, tg_tensor *y) /* dx += dy * (y > 0) */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad, *restrict v = y->val;
    if (dx)
        FOR_EACH(y, {
            tg_real g = dy[i]; /* loaded unconditionally, so the select vectorises */
            dx[i] += v[i] > 0 ? g : 0;
        });
}

/* exp and log are libm's, a call per element: accuracy first, and neither is on a hot path
 * (the softmax ops have their own exponentials, through ops/vmath.h). */
static void exp_forward(tg_tape *t, tg_tensor *y)
{
    const tg_real *x = y->in[0]->val;
    tg_real *v = y->val;
    FOR_EACH(y, v[i] = EXP(x[i]));
}

static void exp_backward(tg_tape *t, tg_tensor *y) /* dx += dy * y */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad, *restrict v = y->val;
    if (dx) FOR_EACH(y, dx[i] += dy[i] * v[i]);
}

static void log_forward(tg_tape *t, tg_tensor *y)
{
    const tg_real *x = y->in[0]->val;
    tg_real *v = y->val;
    FOR_EACH(y, v[i] = LOG(x[i]));
}

static void log_backward(tg_tape *t, tg_tensor *y) /* dx += dy / x */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad, *restrict x = y->in[0]->val;
    if (dx) FOR_EACH(y, dx[i] += dy[i] / x[i]);
}

static void scale_forward(tg_tape *t, tg_tensor *y)
{
    const tg_real *x = y->in[0]->val;
    tg_real *v = y->val;
    const tg_real c = (tg_real)y->arg;
    FOR_EACH(y, v[i] = c * x[i]);
}

static void scale_backward(tg_tape *t, tg_tensor *y) /* dx += dy * c */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad;
    const tg_real c = (tg_real)y->arg;
    if (dx) FOR_EACH(y, dx[i] += c * dy[i]);
}

static void one_minus_forward(tg_tape *t, tg_tensor *y)
{
    const tg_real *x = y->in[0]->val;
    tg_real *v = y->val;
    FOR_EACH(y, v[i] = 1 - x[i]);
}

static void one_minus_backward(tg_tape *t, tg_tensor *y) /* dx -= dy */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad;
    if (dx) FOR_EACH(y, dx[i] -= dy[i]);
}

static const tg_op tanh_op = {
    "tg_tanh", tanh_forward, tanh_backward, NULL,
    "tanh: scales the upstream gradient by one minus the output squared  dx += dy * (1 - y^2)"};
static const tg_op sigmoid_op = {"tg_sigmoid", sigmoid_forward, sigmoid_backward, NULL,
                                 "sigmoid: scales the upstream gradient by output times one minus "
                                 "output  dx += dy * y * (1 - y)"};
static const tg_op relu_op = {"tg_relu", relu_forward, relu_backward, NULL,
                              "relu: passes the upstream gradient where the input was positive, "
                              "blocks it elsewhere  dx += dy * [x > 0]"};
static const tg_op exp_op = {"tg_exp", exp_forward, exp_backward, NULL,
                             "exp: scales the upstream gradient by the output  dx += dy * y"};
static const tg_op log_op = {"tg_log", log_forward, log_backward, NULL,
                             "log: divides the upstream gradient by the input  dx += dy / x"};
static const tg_op scale_op = {
    "tg_scale", scale_forward, scale_backward, NULL,
    "scale: scales the upstream gradient by the same constant  dx += dy * s"};
static const tg_op one_minus_op = {"tg_one_minus", one_minus_forward, one_minus_backward, NULL,
                                   "one minus: passes the upstream gradient negated  dx += -dy"};

/* Record op on x with its scalar argument set before forward runs (only scale reads it). */
static tg_tensor *unary(tg_tape *t, const tg_op *op, tg_tensor *x, double arg)
{
    if (!tg_check_inputs(t, op->name, 1, &x)) return NULL;
    tg_tensor *y = tg_node(t, op, x->rows, x->cols, 1, &x);
    if (!y) return NULL;
    y->arg = arg;
    op->forward(t, y);
    return y;
}

tg_tensor *tg_tanh(tg_tape *t, tg_tensor *x)
{
    return unary(t, &tanh_op, x, 0);
}

tg_tensor *tg_sigmoid(tg_tape *t, tg_tensor *x)
{
    return unary(t, &sigmoid_op, x, 0);
}

tg_tensor *tg_relu(tg_tape *t, tg_tensor *x)
{
    return unary(t, &relu_op, x, 0);
}

tg_tensor *tg_exp(tg_tape *t, tg_tensor *x)
{
    return unary(t, &exp_op, x, 0);
}

tg_tensor *tg_log(tg_tape *t, tg_tensor *x)
{
    return unary(t, &log_op, x, 0);
}

tg_tensor *tg_scale(tg_tape *t, tg_tensor *x, double c)
{
    return unary(t, &scale_op, x, c);
}

tg_tensor *tg_one_minus(tg_tape *t, tg_tensor *x)
{
    return unary(t, &one_minus_op, x, 0);
}
