/* binary.c: add, sub and mul, forward and backward side by side.
 *
 * Broadcasting is symmetric: either operand may be the (1 x N) row. A row operand is read
 * with row stride 0, so one loop serves all three cases, and its backward sums over the B rows
 * simply because every row adds into the same place.
 */
#include "ops/binary.h"

#include "autograd/internal.h"

/* Row stride of x as read against a result with `rows` rows: 0 for a broadcast row. */
static size_t stride(const tg_tensor *x, size_t rows)
{
    return x->rows == 1 && rows != 1 ? 0 : x->cols;
}

/* The loops every binary op shares: y[i][j] and its operands' elements, row by row. */
#define FOR_EACH(y, a, b, body)                                                                    \
    do {                                                                                           \
        size_t sa_ = stride(a, (y)->rows), sb_ = stride(b, (y)->rows);                             \
        for (size_t i = 0; i < (y)->rows; i++) {                                                   \
            size_t ia = i * sa_, ib = i * sb_, iy = i * (y)->cols;                                 \
            (void)ia, (void)ib;                                                                    \
            for (size_t j = 0; j < (y)->cols; j++) body;                                           \
        }                                                                                          \
    } while (0)

static void add_forward(tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    FOR_EACH(y, a, b, y->val[iy + j] = a->val[ia + j] + b->val[ib + j]);
}

static void add_backward(tg_tensor *y) /* da += dy; db += dy */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (a->grad) FOR_EACH(y, a, b, a->grad[ia + j] += y->grad[iy + j]);
    if (b->grad) FOR_EACH(y, a, b, b->grad[ib + j] += y->grad[iy + j]);
}

static void sub_forward(tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    FOR_EACH(y, a, b, y->val[iy + j] = a->val[ia + j] - b->val[ib + j]);
}

static void sub_backward(tg_tensor *y) /* da += dy; db -= dy */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (a->grad) FOR_EACH(y, a, b, a->grad[ia + j] += y->grad[iy + j]);
    if (b->grad) FOR_EACH(y, a, b, b->grad[ib + j] -= y->grad[iy + j]);
}

static void mul_forward(tg_tensor *y)
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    FOR_EACH(y, a, b, y->val[iy + j] = a->val[ia + j] * b->val[ib + j]);
}

static void mul_backward(tg_tensor *y) /* da += dy * b; db += dy * a */
{
    tg_tensor *a = y->in[0], *b = y->in[1];
    if (a->grad) FOR_EACH(y, a, b, a->grad[ia + j] += y->grad[iy + j] * b->val[ib + j]);
    if (b->grad) FOR_EACH(y, a, b, b->grad[ib + j] += y->grad[iy + j] * a->val[ia + j]);
}

static const tg_op add_op = {"tg_add", add_forward, add_backward};
static const tg_op sub_op = {"tg_sub", sub_forward, sub_backward};
static const tg_op mul_op = {"tg_mul", mul_forward, mul_backward};

static tg_tensor *binary(tg_tape *t, const tg_op *op, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[2] = {a, b};
    if (!tgi_check(t, op->name, 2, in)) return NULL;
    int same = a->rows == b->rows && a->cols == b->cols;
    int row_bcast = a->cols == b->cols && (a->rows == 1 || b->rows == 1);
    if (!same && !row_bcast)
        return tgi_fail(t, "%s: shapes do not broadcast: a is " TGI_SHAPE ", b is " TGI_SHAPE,
                        op->name, TGI_DIMS(a), TGI_DIMS(b));
    size_t rows = a->rows == 1 ? b->rows : a->rows; /* the non-broadcast side */
    return tgi_record(t, op, rows, a->cols, 2, in);
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
