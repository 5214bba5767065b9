/* tensor.h: the node of the tape and the numbers it holds.
 *
 * A tg_tensor is a 2-D, row-major, contiguous matrix of tg_real with an optional gradient of
 * the same shape. It is either a leaf (op == NULL: a parameter, an input, a detached state) or
 * the output of an op recorded on a tape, in which case `op` and `in` say how it was computed,
 * exactly like micrograd's Value keeps `_op` and `_prev`. The tape keeps its own bookkeeping
 * for a node (its position, where its gradient is in its life) out of sight, beside it.
 *
 * Invariants:
 * - A leaf requires a gradient iff its grad is not NULL.
 * - A node requires a gradient iff it was recorded with gradients on (tg_tape_set_grad) and
 *   one of its inputs requires one. tg_requires_grad says which, for leaves and nodes alike.
 * - A node that requires a gradient has grad != NULL from its recording on when the tape keeps
 *   gradients (the default). When it reuses them (tg_tape_reuse_grads), grad is NULL except
 *   inside tg_backward, from the first of its users' backward until its own has run.
 * - Inside an op's backward, y->grad is not NULL, and neither is the grad of any input that
 *   requires one.
 *
 * Read next: tape.h (recording and backward), then ops/binary.c (a whole op family).
 */
#ifndef TG_TENSOR_H
#define TG_TENSOR_H

#include "autograd/export.h"

#include <stddef.h>

TG_BEGIN_DECLS

/* Every number in the library. The double build (-DTG_DOUBLE, library tapegrad-f64) is used by
 * gradient checks and by anyone checking a hand-derived backward exactly. */
#ifdef TG_DOUBLE
typedef double tg_real;
#else
typedef float tg_real;
#endif

/* Status codes returned by calls that can fail; tg_strerror names them. */
enum {
    TG_OK = 0,
    TG_ENOMEM,  /* an allocation failed */
    TG_ESHAPE,  /* shapes do not fit the operation */
    TG_ERANGE,  /* an index, id or target is out of range */
    TG_ENULL,   /* a required argument is NULL (often: an earlier op failed) */
    TG_EINVAL,  /* any other bad argument */
    TG_EIO,     /* a read, write, flush or rename failed */
    TG_EFORMAT, /* a file is not in the expected format, or is damaged */
    TG_ECPU,    /* the CPU cannot run what was asked for */
};

/* A short English description of a TG_* code; never NULL. */
const char *tg_strerror(int code);

typedef struct tg_op tg_op; /* an op's descriptor: autograd/op.h */
typedef struct tg_tensor tg_tensor;

struct tg_tensor {
    const tg_op *op;   /* the op that computed this tensor; NULL for a leaf */
    tg_tensor **in;    /* the op's inputs (n_in of them); borrowed, array lives in the tape */
    size_t n_in;       /* number of inputs */
    size_t rows, cols; /* shape: rows x cols, row-major, contiguous */
    tg_real *val;     /* rows*cols values; owned by the tape for nodes, by the creator for leaves */
    tg_real *grad;    /* same shape, same owner as val; NULL when none (see the invariants) */
    void *saved;      /* what forward kept for backward (ids, probabilities, a mask); tape-owned */
    double arg;       /* the op's scalar argument (scale factor, dropout rate), if any */
    size_t iarg;      /* the op's integer argument (slice start, ...), if any */
    const char *name; /* optional label for printing; borrowed, may be NULL */
};

/* Number of elements, rows*cols, computed in size_t. */
static inline size_t tg_numel(const tg_tensor *x)
{
    return x->rows * x->cols;
}

/* 1 when x requires a gradient (see the invariants above), else 0. */
int tg_requires_grad(const tg_tensor *x);

/* Make a caller-owned struct a leaf over caller-owned memory. `grad` may be NULL (no gradient).
 * Nothing is copied or freed: the memory must outlive every tape that records with x. */
void tg_tensor_init(tg_tensor *x, size_t rows, size_t cols, tg_real *val, tg_real *grad);

/* A heap leaf of zeros, with a zeroed gradient when requires_grad is non-zero. Returns NULL
 * when out of memory or when rows·cols values (twice that with a gradient) overflow size_t. Free with tg_tensor_free. */
tg_tensor *tg_tensor_new(size_t rows, size_t cols, int requires_grad);
void tg_tensor_free(tg_tensor *x);

/* Set x's gradient to zero (no-op when x has none). */
void tg_tensor_zero_grad(tg_tensor *x);

TG_END_DECLS

#endif
