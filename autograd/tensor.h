/* tensor.h: the node of the tape and the numbers it holds.
 *
 * A tg_tensor is a 2-D, row-major, contiguous matrix of tg_real with an optional gradient of
 * the same shape. It is either a leaf (op == NULL: a parameter, an input, a detached state) or
 * the output of an op recorded on a tape, in which case `op` and `in` say how it was computed,
 * exactly like micrograd's Value keeps `_op` and `_prev`.
 *
 * Invariant: grad != NULL  <=>  the tensor requires a gradient. A node requires one when
 * recording was enabled and at least one of its inputs requires one.
 *
 * Read next: tape.h (recording and backward), then ops/binary.c (a whole op family).
 */
#ifndef TG_TENSOR_H
#define TG_TENSOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

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

typedef struct tg_op tg_op;
typedef struct tg_tensor tg_tensor;

/* An op: a name and two functions, defined side by side in the file of its family. */
struct tg_op {
    const char *name;               /* public name, e.g. "tg_matmul" */
    void (*forward)(tg_tensor *y);  /* computes y->val from y->in[]->val; NULL for a view */
    void (*backward)(tg_tensor *y); /* adds y->grad's contribution into y->in[]->grad; NULL
                                       for a view, whose gradient is a window of its input's */
};

struct tg_tensor {
    const tg_op *op;   /* the op that computed this tensor; NULL for a leaf */
    tg_tensor **in;    /* the op's inputs (n_in of them); borrowed, array lives in the tape */
    size_t n_in;       /* number of inputs */
    size_t rows, cols; /* shape: rows x cols, row-major, contiguous */
    tg_real *val;     /* rows*cols values; owned by the tape for nodes, by the creator for leaves */
    tg_real *grad;    /* same shape, or NULL when no gradient is wanted here; same owner as val */
    void *saved;      /* what forward kept for backward (ids, probabilities, a mask); tape-owned */
    double arg;       /* the op's scalar argument (scale factor, dropout rate), if any */
    size_t iarg;      /* the op's integer argument (slice start, ...), if any */
    size_t index;     /* position on the tape; meaningful for nodes only */
    int needed;       /* set during backward when the loss depends on this node */
    int grad_later;   /* wants a gradient, which backward gives it (tg_tape_reuse_grads) */
    const char *name; /* optional label for printing; borrowed, may be NULL */
};

/* Number of elements, rows*cols, computed in size_t. */
static inline size_t tg_numel(const tg_tensor *x)
{
    return x->rows * x->cols;
}

/* Make a caller-owned struct a leaf over caller-owned memory. `grad` may be NULL (no gradient).
 * Nothing is copied or freed: the memory must outlive every tape that records with x. */
void tg_tensor_init(tg_tensor *x, size_t rows, size_t cols, tg_real *val, tg_real *grad);

/* A heap leaf of zeros, with a zeroed gradient when requires_grad is non-zero. Returns NULL
 * when out of memory or when rows·cols values (twice that with a gradient) overflow size_t. Free with tg_tensor_free. */
tg_tensor *tg_tensor_new(size_t rows, size_t cols, int requires_grad);
void tg_tensor_free(tg_tensor *x);

/* Set x's gradient to zero (no-op when x has none). */
void tg_tensor_zero_grad(tg_tensor *x);

#ifdef __cplusplus
}
#endif

#endif
