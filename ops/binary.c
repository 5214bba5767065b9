/* binary.c: add, sub, mul and div, forward and backward side by side.
 *
 * Broadcasting is symmetric: either operand may be a (1 x N) row or a (B x 1) column against
 * the other's (B x N). A broadcast operand is read with stride 0 along the dimension it lacks
 * (row stride 0 for a row, column stride 0 for a column), so one loop serves every case, and
 * its backward sums over that dimension simply because every element adds into the same place.
 * Operands of equal shapes, the recurrent cells' case, take flat loops instead, compiled for
 * SSE2, AVX2 and AVX-512 and chosen at run time (ops/vmath.h's tgi_map): the same bits.
 */
#include "ops/binary.h"

#include "ops/internal.h"
#include "ops/vmath.h"

/* Row stride of x as read against a result with `rows` rows: 0 for a broadcast row (a
 * column's row stride is its one column, 1). */
static size_t stride(const tg_tensor *x, size_t rows)
{
    return x->rows == 1 && rows != 1 ? 0 : x->cols;
}

/* Past this many elements per thread a loop is worth splitting: 32768 adds take about 10 us,
 * several times what waking a second thread costs. Smaller results stay on the calling thread
 * and pay nothing for OpenMP (a branch, not a parallel region of one thread). */
enum { MIN_PER_THREAD = 32768 };

/* Rows [r0, r1) and columns [c0, c1) of the result. */
typedef struct {
    size_t r0, r1, c0, c1;
} block;

/* Part k of nt of the result y, for a loop that writes `into`: a band of rows when into is a
 * broadcast column (each row adds into one place, so threads must own rows), a band of columns
 * when into is a broadcast row (all of y's rows add into it) or when y has fewer rows than
 * threads, else a band of rows. */
static block part(const tg_tensor *y, const tg_tensor *into, int k, int nt)
{
    size_t R = y->rows, C = y->cols, K = (size_t)k, N = (size_t)nt;
    int col_into = into->cols != C, row_into = into->rows != R;
    if (col_into || (!row_into && R >= N)) return (block){R * K / N, R * (K + 1) / N, 0, C};
    return (block){0, R, C * K / N, C * (K + 1) / N};
}

/* y[i][j] and its operands' elements over block k: ia, ib and iy start row i of a, b and y;
 * ja and jb are j, or 0 in an operand that is a broadcast column (CA, CB: 1 or 0, constants,
 * so each case compiles to its own loop and the usual one still vectorises). */
#define FOR_BLOCK(k, CA, CB, body)                                                                 \
    for (size_t i = (k).r0; i < (k).r1; i++) {                                                     \
        size_t ia = i * sa_, ib = i * sb_, iy = i * cols_;                                         \
        (void)ia, (void)ib;                                                                        \
        for (size_t j = (k).c0; j < (k).c1; j++) {                                                 \
            size_t ja = (CA)*j, jb = (CB)*j;                                                       \
            (void)ja, (void)jb;                                                                    \
            body;                                                                                  \
        }                                                                                          \
    }

/* Block k with a broadcast column in a (ca_ == 0), in b (cb_ == 0) or in neither. */
#define FOR_CASE(k, body)                                                                          \
    do {                                                                                           \
        if (!ca_) {                                                                                \
            FOR_BLOCK(k, 0, 1, body);                                                              \
        } else if (!cb_) {                                                                         \
            FOR_BLOCK(k, 1, 0, body);                                                              \
        } else {                                                                                   \
            FOR_BLOCK(k, 1, 1, body);                                                              \
        }                                                                                          \
    } while (0)

/* The loops every binary op shares: all of y, split between threads when y is large; `into` is
 * the tensor body writes (y, a or b). */
#define FOR_EACH(y, a, b, into, body)                                                              \
    do {                                                                                           \
        size_t sa_ = stride(a, (y)->rows), sb_ = stride(b, (y)->rows), cols_ = (y)->cols;          \
        int ca_ = (a)->cols == cols_, cb_ = (b)->cols == cols_;                                    \
        int nt_ = tgi_threads_for(tg_numel(y), MIN_PER_THREAD);                                    \
        if (nt_ == 1) {                                                                            \
            block all_ = {0, (y)->rows, 0, cols_};                                                 \
            FOR_CASE(all_, body);                                                                  \
        } else {                                                                                   \
            _Pragma("omp parallel for num_threads(nt_) schedule(static)") for (int k_ = 0;         \
                                                                               k_ < nt_; k_++)     \
            {                                                                                      \
                block part_ = part(y, into, k_, nt_);                                              \
                FOR_CASE(part_, body);                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Equal shapes, every use in the recurrent cells: one flat loop over the elements, compiled per
 * instruction set (tgi_map, ops/internal.h), reading p and q and writing o. Each element gets
 * the same operation as in FOR_EACH, so the bits do not depend on the path or the width. */
#define MAP(name, body) TGI_MAP_LOOP(name, (p, q, in2), (o, out1, out2), body)
MAP(add_map, o[i] = p[i] + q[i])
MAP(sub_map, o[i] = p[i] - q[i])
MAP(mul_map, o[i] = p[i] * q[i])
MAP(acc_map, o[i] += p[i])            /* da += dy */
MAP(dec_map, o[i] -= p[i])            /* db -= dy */
MAP(acc_mul_map, o[i] += p[i] * q[i]) /* da += dy * b */

/* 1 when y's inputs have y's shape and f has run over its elements (o overlapping neither
 * p nor q); 0 when the caller's FOR_EACH is to do it. */
static int flat(tgi_map_fn *const f[3], const tg_tensor *y, const tg_real *p, const tg_real *q,
                tg_real *o)
{
    const tg_tensor *a = y->in[0], *b = y->in[1];
    if (a->rows != y->rows || a->cols != y->cols || b->rows != y->rows || b->cols != y->cols)
        return 0;
    tgi_map_args m = {{p, q}, {o}};
    return tgi_map(f, &m, tg_numel(y), MIN_PER_THREAD);
}

static void add_forward(tg_tape *t, tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (!flat(add_map_versions, y, a->val, b->val, y->val))
        FOR_EACH(y, a, b, y, y->val[iy + j] = a->val[ia + ja] + b->val[ib + jb]);
}

static void add_backward(tg_tape *t, tg_tensor *y) /* da += dy; db += dy */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (a->grad && !flat(acc_map_versions, y, y->grad, NULL, a->grad))
        FOR_EACH(y, a, b, a, a->grad[ia + ja] += y->grad[iy + j]);
    if (b->grad && !flat(acc_map_versions, y, y->grad, NULL, b->grad))
        FOR_EACH(y, a, b, b, b->grad[ib + jb] += y->grad[iy + j]);
}

static void sub_forward(tg_tape *t, tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (!flat(sub_map_versions, y, a->val, b->val, y->val))
        FOR_EACH(y, a, b, y, y->val[iy + j] = a->val[ia + ja] - b->val[ib + jb]);
}

static void sub_backward(tg_tape *t, tg_tensor *y) /* da += dy; db -= dy */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (a->grad && !flat(acc_map_versions, y, y->grad, NULL, a->grad))
        FOR_EACH(y, a, b, a, a->grad[ia + ja] += y->grad[iy + j]);
    if (b->grad && !flat(dec_map_versions, y, y->grad, NULL, b->grad))
        FOR_EACH(y, a, b, b, b->grad[ib + jb] -= y->grad[iy + j]);
}

static void mul_forward(tg_tape *t, tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (!flat(mul_map_versions, y, a->val, b->val, y->val))
        FOR_EACH(y, a, b, y, y->val[iy + j] = a->val[ia + ja] * b->val[ib + jb]);
}

static void mul_backward(tg_tape *t, tg_tensor *y) /* da += dy * b; db += dy * a */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (a->grad && !flat(acc_mul_map_versions, y, y->grad, b->val, a->grad))
        FOR_EACH(y, a, b, a, a->grad[ia + ja] += y->grad[iy + j] * b->val[ib + jb]);
    if (b->grad && !flat(acc_mul_map_versions, y, y->grad, a->val, b->grad))
        FOR_EACH(y, a, b, b, b->grad[ib + jb] += y->grad[iy + j] * a->val[ia + ja]);
}

static void div_forward(tg_tape *t, tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    FOR_EACH(y, a, b, y, y->val[iy + j] = a->val[ia + ja] / b->val[ib + jb]);
}

static void div_backward(tg_tape *t, tg_tensor *y) /* da += dy / b; db -= dy * y / b  (y = a / b) */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (a->grad) FOR_EACH(y, a, b, a, a->grad[ia + ja] += y->grad[iy + j] / b->val[ib + jb]);
    if (b->grad)
        FOR_EACH(y, a, b, b,
                 b->grad[ib + jb] -= y->grad[iy + j] * y->val[iy + j] / b->val[ib + jb]);
}

static const tg_op add_op = {"tg_add", add_forward, add_backward, NULL,
                             "add: passes the upstream gradient to both inputs (a broadcast one "
                             "sums it)  da += dy, db += dy"};
static const tg_op sub_op = {"tg_sub", sub_forward, sub_backward, NULL,
                             "subtract: passes the upstream gradient to the first input, negated "
                             "to the second  da += dy, db += -dy"};
static const tg_op mul_op = {"tg_mul", mul_forward, mul_backward, NULL,
                             "multiply: switches the inputs: each receives the upstream gradient "
                             "times the other  da += dy * b, db += dy * a"};
static const tg_op div_op = {"tg_div", div_forward, div_backward, NULL,
                             "divide: da receives the upstream over b, db minus the upstream times "
                             "a over b squared  da += dy / b, db += -dy * a / b^2"};

/* 1 when a and b broadcast: equal shapes, or a (1 x N) row or a (B x 1) column against the
 * other's (B x N), on either side. */
static int broadcasts(const tg_tensor *a, const tg_tensor *b)
{
    int same_rows = a->rows == b->rows, same_cols = a->cols == b->cols;
    int row = same_cols && (a->rows == 1 || b->rows == 1);
    int col = same_rows && (a->cols == 1 || b->cols == 1);
    return (same_rows && same_cols) || row || col;
}

static tg_tensor *binary(tg_tape *t, const tg_op *op, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[2] = {a, b};
    if (!tg_check_inputs(t, op->name, 2, in)) return NULL;
    if (!broadcasts(a, b))
        return tg_fail(t, "%s: shapes do not broadcast: a is " TG_SHAPE ", b is " TG_SHAPE,
                       op->name, TG_DIMS(a), TG_DIMS(b));
    size_t rows = a->rows == 1 ? b->rows : a->rows; /* the non-broadcast side's */
    size_t cols = a->cols == 1 ? b->cols : a->cols;
    return tg_record(t, op, rows, cols, 2, in);
}

tg_tensor *tg_add(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    return binary(t, &add_op, a, b);
}

tg_tensor *tg_sub(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    return binary(t, &sub_op, a, b);
}

tg_tensor *tg_mul(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    return binary(t, &mul_op, a, b);
}

tg_tensor *tg_div(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    return binary(t, &div_op, a, b);
}
