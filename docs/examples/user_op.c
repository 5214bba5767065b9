/* user_op.c: an op written outside the library, exactly as the built-in ones are, with its
 * gradient check.
 *
 * The smooth L1 (Huber) distance of a prediction a from a target b, element by element, as
 * PyTorch's SmoothL1Loss with beta = 1 and no reduction: with d = a - b,
 *     y = d²/2 where |d| < 1, else |d| - 1/2;   dy/dd = d clamped to [-1, 1].
 * It shows the conventions of autograd/op.h: two inputs, each gradient added to (+=) and
 * skipped when NULL (a target is usually a constant), and a shape error that names the op and
 * both shapes. Only installed headers are used: <tapegrad.h> for the tape and the ops,
 * <autograd/op.h> for writing an op (both under <prefix>/include/tapegrad, which pkg-config
 * puts on the path). meson test builds it against the double library and a staged install.
 */
#include <autograd/op.h>
#include <tapegrad.h>

#include <stdio.h>

static tg_real clamp1(tg_real d) /* d clamped to [-1, 1]: the slope of smooth L1 at d */
{
    return d < -1 ? -1 : d > 1 ? 1 : d;
}

static void smooth_l1_forward(tg_tape *t, tg_tensor *y) /* y = |d| < 1 ? d²/2 : |d| - 1/2 */
{
    const tg_real *a = y->in[0]->val, *b = y->in[1]->val;
    for (size_t i = 0; i < tg_numel(y); i++) {
        tg_real d = a[i] - b[i], m = clamp1(d); /* |d| < 1: m = d, so d·m/2 = d²/2 */
        y->val[i] = m == d ? d * d / 2 : d * m - (tg_real)0.5; /* else d·m = |d| */
    }
}

static void smooth_l1_backward(tg_tape *t, tg_tensor *y) /* da += dy·clamp(d); db -= dy·clamp(d) */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    for (size_t i = 0; i < tg_numel(y); i++) {
        tg_real g = y->grad[i] * clamp1(a->val[i] - b->val[i]);
        if (a->grad) a->grad[i] += g;
        if (b->grad) b->grad[i] -= g;
    }
}

static const tg_op smooth_l1_op = {
    "smooth_l1", smooth_l1_forward, smooth_l1_backward, NULL,
    "smooth L1: the upstream gradient times the difference clamped to [-1, 1], negated for b  "
    "da += dy * clamp(a - b), db += -dy * clamp(a - b)"};

/* The smooth L1 distance of a from b, element by element, a node of their shape. NULL when an
 * input is NULL (the first error on the tape is kept) or the shapes differ (recorded). */
static tg_tensor *smooth_l1(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[2] = {a, b};
    if (!tg_check_inputs(t, "smooth_l1", 2, in)) return NULL;
    if (a->rows != b->rows || a->cols != b->cols)
        return tg_fail(t, "smooth_l1: shapes differ: a is " TG_SHAPE ", b is " TG_SHAPE, TG_DIMS(a),
                       TG_DIMS(b));
    return tg_record(t, &smooth_l1_op, a->rows, a->cols, 2, in);
}

/* The loss the check differentiates, with respect to a and b: sum(w ⊙ smooth_l1(a, b)), so
 * every element's gradient differs and both inputs' flow through the built-in ops as well. */
typedef struct problem {
    tg_tensor *a, *b, *w;
} problem;

static tg_tensor *loss(tg_tape *t, void *ctx)
{
    problem *p = ctx;
    return tg_sum(t, tg_mul(t, smooth_l1(t, p->a, p->b), p->w));
}

int main(void)
{
    problem p = {tg_tensor_new(3, 4, 1), tg_tensor_new(3, 4, 1), tg_tensor_new(3, 4, 0)};
    tg_tape *t = tg_tape_new();
    if (!p.a || !p.b || !p.w || !t) return fprintf(stderr, "user_op: out of memory\n"), 1;
    for (size_t i = 0; i < 12; i++) { /* d from -2.3 to 2.1: both branches, away from |d| = 1 */
        p.a->val[i] = (tg_real)(0.4 * (double)i - 2.0);
        p.b->val[i] = (tg_real)(0.3 - 0.1 * (double)(i % 3));
        p.w->val[i] = (tg_real)(1.0 + 0.25 * (double)i);
    }
    tg_tensor *xs[2] = {p.a, p.b};
    tg_gradcheck_report r;
    int rc = tg_gradcheck(t, loss, &p, xs, 2, NULL, &r);
    double tol = sizeof(tg_real) == sizeof(double) ? 1e-7 : 1e-2; /* central differences */
    int ok = rc == TG_OK && r.checked == 24 && r.max_rel < tol;
    printf("smooth_l1: gradient check %s on %zu elements\n", ok ? "passed" : "FAILED", r.checked);
    if (!ok)
        fprintf(stderr, "%s; worst relative error %g in tensor %zu at (%zu, %zu): %g vs %g\n",
                rc == TG_OK ? "no error" : tg_tape_error(t), r.max_rel, r.tensor, r.row, r.col,
                r.analytic, r.numeric);
    tg_tape_reset(t);
    if (!smooth_l1(t, p.a, tg_input(t, 4, 3, NULL))) printf("%s\n", tg_tape_error(t));
    tg_tape_free(t);
    tg_tensor_free(p.a);
    tg_tensor_free(p.b);
    tg_tensor_free(p.w);
    return ok ? 0 : 1;
}
