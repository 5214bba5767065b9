/* testutil.h: what every tapegrad test shares: cmocka, tolerances per precision, random
 * fills, closeness and error-message assertions, and a gradient-check assertion. */
#ifndef TG_TESTUTIL_H
#define TG_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"

#ifdef TG_DOUBLE
#define GRAD_TOL 1e-6 /* finite differences in double: the bar */
#define VAL_TOL  1e-12
#else
#define GRAD_TOL 5e-2 /* float: eps 1e-2 steps only catch gross errors; double is the check */
#define VAL_TOL  1e-5
#endif

static inline void fill_uniform(tg_real *x, size_t n, tg_rng *r, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = (tg_real)(lo + (hi - lo) * tg_rng_uniform(r));
}

/* A heap leaf with random values in [lo, hi) and a gradient. */
static inline tg_tensor *rand_leaf(size_t rows, size_t cols, tg_rng *r, double lo, double hi)
{
    tg_tensor *x = tg_tensor_new(rows, cols, 1);
    assert_non_null(x);
    fill_uniform(x->val, tg_numel(x), r, lo, hi);
    return x;
}

/* |a - b| <= tol * max(1, |b|) elementwise; names the first index that differs. */
static inline void assert_close(const tg_real *a, const tg_real *b, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]), s = fmax(1.0, fabs((double)b[i]));
        if (!(d <= tol * s))
            fail_msg("element %zu: got %.17g, want %.17g (tol %g)", i, (double)a[i], (double)b[i],
                     tol);
    }
}

/* The tape holds an error, and it contains every one of the NULL-terminated substrings. */
static inline void assert_error_has(const tg_tape *t, ...)
{
    const char *msg = tg_tape_error(t);
    if (!msg) fail_msg("expected an error on the tape, found none");
    va_list ap;
    va_start(ap, t);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(msg, s)) fail_msg("error \"%s\" does not mention \"%s\"", msg, s);
    va_end(ap);
}

/* st holds `code` and a message that contains every one of the NULL-terminated substrings. */
static inline void assert_status_has(const tg_status *st, int code, ...)
{
    if (st->code != code)
        fail_msg("status %s (\"%s\"), expected %s", tg_strerror(st->code), st->msg,
                 tg_strerror(code));
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(st->msg, s)) fail_msg("message \"%s\" does not mention \"%s\"", st->msg, s);
    va_end(ap);
}

/* A new parameter of ps; the test fails with tg_params_add's message when the add fails. */
static inline tg_tensor *add_param(tg_params *ps, const char *name, size_t rows, size_t cols)
{
    tg_tensor *x;
    tg_status st;
    if (tg_params_add(ps, name, rows, cols, &x, &st) != TG_OK) fail_msg("%s", st.msg);
    return x;
}

/* Run tg_gradcheck and require the worst relative error to be within GRAD_TOL. */
static inline void assert_gradcheck(tg_loss_fn f, void *ctx, tg_tensor *const *xs, size_t n)
{
    tg_tape *t = tg_tape_new();
    tg_gradcheck_report r;
    int rc = tg_gradcheck(t, f, ctx, xs, n, NULL, &r);
    if (rc != TG_OK)
        fail_msg("tg_gradcheck: %s (%s)", tg_strerror(rc),
                 tg_tape_error(t) ? tg_tape_error(t) : "");
    if (!(r.max_rel <= GRAD_TOL))
        fail_msg("gradient check: rel %.3g at tensor %zu (%zu, %zu): analytic %.12g numeric %.12g",
                 r.max_rel, r.tensor, r.row, r.col, r.analytic, r.numeric);
    assert_true(r.checked > 0);
    tg_tape_free(t);
}

/* A one-input op f and weights w of f(x)'s shape, for loss = sum(f(x) ⊙ w): a weighted sum, so
 * every output element gets its own gradient (a plain sum would hide a softmax's). */
typedef struct weighted_op {
    tg_tensor *(*f)(tg_tape *, tg_tensor *);
    tg_tensor *x, *w;
} weighted_op;

static inline tg_tensor *weighted_loss(tg_tape *t, void *p)
{
    weighted_op *c = p;
    return tg_sum(t, tg_mul(t, c->f(t, c->x), c->w));
}

/* assert_gradcheck of sum(f(x) ⊙ w) with respect to x, then free x and w. */
static inline void assert_weighted_gradcheck(tg_tensor *(*f)(tg_tape *, tg_tensor *), tg_tensor *x,
                                             tg_tensor *w)
{
    weighted_op c = {f, x, w};
    assert_gradcheck(weighted_loss, &c, &c.x, 1);
    tg_tensor_free(x);
    tg_tensor_free(w);
}

#endif
