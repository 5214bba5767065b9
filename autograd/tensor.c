/* tensor.c: leaves (the user's, and the tape's constants), and the status strings.
 *
 * Tape nodes are made by tape.c; this file makes the leaves: those a user owns, which outlive
 * every tape, and those on a tape (tg_leaf, tg_input, tg_detach), which die at its reset.
 */
#include "autograd/tensor.h"

#include "autograd/internal.h"
#include "autograd/status.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

const char *tg_strerror(int code)
{
    switch (code) {
    case TG_OK:
        return "success";
    case TG_ENOMEM:
        return "out of memory";
    case TG_ESHAPE:
        return "shapes do not fit";
    case TG_ERANGE:
        return "index out of range";
    case TG_ENULL:
        return "NULL argument";
    case TG_EINVAL:
        return "invalid argument";
    case TG_EIO:
        return "input/output error";
    case TG_EFORMAT:
        return "bad or damaged file format";
    case TG_ECPU:
        return "not supported by this CPU";
    default:
        return "unknown error code";
    }
}

void tg_status_clear(tg_status *st)
{
    if (!st) return;
    st->code = TG_OK;
    st->msg[0] = '\0';
}

int tg_status_set(tg_status *st, int code, const char *fmt, ...)
{
    if (!st) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    st->code = code;
    return code;
}

void tg_tensor_init(tg_tensor *x, size_t rows, size_t cols, tg_real *val, tg_real *grad)
{
    memset(x, 0, sizeof *x);
    x->rows = rows;
    x->cols = cols;
    x->val = val;
    x->grad = grad;
}

tg_tensor *tg_tensor_new(size_t rows, size_t cols, int requires_grad)
{
    size_t n = rows * cols;
    if (cols != 0 && n / cols != rows) return NULL;
    if (n > SIZE_MAX / 2 / sizeof(tg_real)) return NULL; /* 2·n values must not wrap */
    size_t nbuf = requires_grad ? 2 * n : n;
    tg_tensor *x = malloc(sizeof *x);
    tg_real *buf = calloc(nbuf ? nbuf : 1, sizeof *buf);
    if (!x || !buf) {
        free(x);
        free(buf);
        return NULL;
    }
    tg_tensor_init(x, rows, cols, buf, requires_grad ? buf + n : NULL);
    return x;
}

void tg_tensor_free(tg_tensor *x)
{
    if (!x) return;
    free(x->val); /* val and grad are one block */
    free(x);
}

void tg_tensor_zero_grad(tg_tensor *x)
{
    if (x->grad) memset(x->grad, 0, tg_numel(x) * sizeof *x->grad);
}

int tg_requires_grad(const tg_tensor *x)
{
    return tgi_requires_grad(x);
}

tg_tensor *tg_leaf(tg_tape *t, size_t rows, size_t cols, const tg_real *data, int requires_grad)
{
    int with_grad = requires_grad && t && t->grad_enabled;
    tg_tensor *x = tgi_tape_tensor(t, "tg_leaf", sizeof(tg_tensor), rows, cols, 0, with_grad);
    if (x && data) memcpy(x->val, data, tg_numel(x) * sizeof *data);
    if (x && !data) memset(x->val, 0, tg_numel(x) * sizeof *x->val);
    return x;
}

tg_tensor *tg_input(tg_tape *t, size_t rows, size_t cols, const tg_real *data)
{
    return tg_leaf(t, rows, cols, data, 0);
}

tg_tensor *tg_detach(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "tg_detach", 1, &x)) return NULL;
    return tg_leaf(t, x->rows, x->cols, x->val, 0);
}
