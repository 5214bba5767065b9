/* unary.c: tanh, sigmoid, relu, scale and 1 - x, forward and backward side by side.
 *
 * Each op maps x to y element by element, so y has x's shape and element i of dx depends only
 * on element i of dy and y. Every backward differentiates through forward's output y (tanh and
 * sigmoid never recompute an exponential) or through the op's argument (scale's c, kept in
 * y->arg), and adds into dx, so a tensor used twice receives both terms.
 * Read next: shape.c (ops that move values rather than change them).
 */
#include "ops/unary.h"

#include "autograd/internal.h"

#include <math.h>

#ifdef TG_DOUBLE
#define EXP  exp
#define TANH tanh
#else
#define EXP  expf
#define TANH tanh_float

/* glibc's tanhf goes through its slow expm1f (a third of bench_tape_overhead's time). Its fast
 * double exp gives tanh x = (e^2x - 1) / (e^2x + 1) to float precision once |x| >= 2^-12;
 * below, tanh x rounds to x, and above 10 to +-1. A sweep over the floats found it at most
 * 1 ulp from (float)tanh(x) (tanhf: 2). */
static float tanh_float(float x)
{
    if (fabsf(x) < 0x1p-12f) return x;
    if (fabsf(x) > 10) return x > 0 ? 1 : -1;
    double e = exp(2.0 * (double)x);
    return (float)((e - 1) / (e + 1));
}
#endif

/* The loop every op here shares: element i of y, over all of y. */
#define FOR_EACH(y, body)                                                                          \
    for (size_t i = 0, n_ = tg_numel(y); i < n_; i++) body

/* 1 / (1 + e^-x) without overflow: for x < 0 it is e^x / (1 + e^x), where e^x <= 1. */
static tg_real sigmoid(tg_real x)
{
    if (x >= 0) return 1 / (1 + EXP(-x));
    tg_real e = EXP(x);
    return e / (1 + e);
}

static void tanh_forward(tg_tensor *y)
{
    const tg_real *x = y->in[0]->val;
    FOR_EACH(y, y->val[i] = TANH(x[i]));
}

static void tanh_backward(tg_tensor *y) /* dx += dy * (1 - y*y) */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad, *restrict v = y->val;
    if (dx) FOR_EACH(y, dx[i] += dy[i] * (1 - v[i] * v[i]));
}

static void sigmoid_forward(tg_tensor *y)
{
    const tg_real *x = y->in[0]->val;
    FOR_EACH(y, y->val[i] = sigmoid(x[i]));
}

static void sigmoid_backward(tg_tensor *y) /* dx += dy * y*(1-y) */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad, *restrict v = y->val;
    if (dx) FOR_EACH(y, dx[i] += dy[i] * v[i] * (1 - v[i]));
}

static void relu_forward(tg_tensor *y) /* x < 0 ? 0 : x, so a NaN passes through */
{
    const tg_real *x = y->in[0]->val;
    FOR_EACH(y, y->val[i] = x[i] < 0 ? 0 : x[i]);
}

static void relu_backward(tg_tensor *y) /* dx += dy * (y > 0) */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad, *restrict v = y->val;
    if (dx) FOR_EACH(y, dx[i] += v[i] > 0 ? dy[i] : 0);
}

static void scale_forward(tg_tensor *y)
{
    const tg_real *x = y->in[0]->val;
    const tg_real c = (tg_real)y->arg;
    FOR_EACH(y, y->val[i] = c * x[i]);
}

static void scale_backward(tg_tensor *y) /* dx += dy * c */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad;
    const tg_real c = (tg_real)y->arg;
    if (dx) FOR_EACH(y, dx[i] += c * dy[i]);
}

static void one_minus_forward(tg_tensor *y)
{
    const tg_real *x = y->in[0]->val;
    FOR_EACH(y, y->val[i] = 1 - x[i]);
}

static void one_minus_backward(tg_tensor *y) /* dx -= dy */
{
    tg_real *restrict dx = y->in[0]->grad;
    const tg_real *restrict dy = y->grad;
    if (dx) FOR_EACH(y, dx[i] -= dy[i]);
}

static const tg_op tanh_op = {"tg_tanh", tanh_forward, tanh_backward};
static const tg_op sigmoid_op = {"tg_sigmoid", sigmoid_forward, sigmoid_backward};
static const tg_op relu_op = {"tg_relu", relu_forward, relu_backward};
static const tg_op scale_op = {"tg_scale", scale_forward, scale_backward};
static const tg_op one_minus_op = {"tg_one_minus", one_minus_forward, one_minus_backward};

/* Record op on x with its scalar argument set before forward runs (only scale reads it). */
static tg_tensor *unary(tg_tape *t, const tg_op *op, tg_tensor *x, double arg)
{
    if (!tgi_check(t, op->name, 1, &x)) return NULL;
    tg_tensor *y = tgi_node(t, op, x->rows, x->cols, 1, &x);
    if (!y) return NULL;
    y->arg = arg;
    op->forward(y);
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

tg_tensor *tg_scale(tg_tape *t, tg_tensor *x, double c)
{
    return unary(t, &scale_op, x, c);
}

tg_tensor *tg_one_minus(tg_tape *t, tg_tensor *x)
{
    return unary(t, &one_minus_op, x, 0);
}
