/* gradcheck.c: central differences against the tape, element by element.
 *
 * Cost: one forward + backward, then 2 forwards per checked element. Meant for small shapes.
 */
#include "autograd/gradcheck.h"

#include "autograd/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reset the tape and record f; the loss value, or NAN when f failed. */
static double eval(tg_tape *t, tg_loss_fn f, void *ctx, int *status)
{
    tg_tape_reset(t);
    tg_tensor *loss = f(t, ctx);
    if (!loss) {
        *status = TG_EINVAL;
        return NAN;
    }
    return loss->val[0];
}

static int analytic(tg_tape *t, tg_loss_fn f, void *ctx, tg_tensor *const *xs, size_t n)
{
    for (size_t k = 0; k < n; k++) tg_tensor_zero_grad(xs[k]);
    tg_tape_reset(t);
    tg_tensor *loss = f(t, ctx);
    if (!loss) return TG_EINVAL;
    return tg_backward(t, loss);
}

static void compare(tg_gradcheck_report *r, const tg_gradcheck_opts *o, size_t k, size_t i,
                    size_t cols, double a, double num)
{
    double err = fabs(a - num);
    double scale = fmax(fmax(fabs(a), fabs(num)), o->floor);
    double rel = err / scale;
    if (err > r->max_abs) r->max_abs = err;
    if (rel > r->max_rel || r->checked == 0) {
        r->max_rel = rel;
        r->tensor = k;
        r->row = i / cols;
        r->col = i % cols;
        r->analytic = a;
        r->numeric = num;
    }
    r->checked++;
}

int tg_gradcheck(tg_tape *t, tg_loss_fn f, void *ctx, tg_tensor *const *xs, size_t n,
                 const tg_gradcheck_opts *opts, tg_gradcheck_report *r)
{
    tg_gradcheck_opts o = opts ? *opts : (tg_gradcheck_opts){0};
    /* Central differences err by ~eps² (truncation) plus ~1e-16/eps (rounding): in double the
     * sum is smallest near eps = 1e-5, where a right backward agrees to about 1e-9. */
    if (o.eps <= 0) o.eps = sizeof(tg_real) == sizeof(double) ? 1e-5 : 1e-2;
    if (o.floor <= 0) o.floor = 1e-4;
    memset(r, 0, sizeof *r);
    for (size_t k = 0; k < n; k++) {
        if (!xs[k]) return tg_fail(t, "tg_gradcheck: tensor %zu is NULL", k), TG_ENULL;
        if (!xs[k]->grad)
            return tg_fail(t, "tg_gradcheck: tensor %zu " TG_SHAPE " has no gradient", k,
                           TG_DIMS(xs[k])),
                   TG_EINVAL;
    }
    int status = analytic(t, f, ctx, xs, n);
    for (size_t k = 0; k < n && status == TG_OK; k++) {
        for (size_t i = 0; i < tg_numel(xs[k]) && status == TG_OK; i++) {
            tg_real *v = &xs[k]->val[i], old = *v;
            tg_real hi = (tg_real)(old + o.eps), lo = (tg_real)(old - o.eps); /* representable */
            *v = hi;
            double up = eval(t, f, ctx, &status);
            *v = lo;
            double down = eval(t, f, ctx, &status);
            *v = old;
            compare(r, &o, k, i, xs[k]->cols, xs[k]->grad[i], (up - down) / ((double)hi - lo));
        }
    }
    return status;
}
