/* op.h: writing an op. Everything a built-in op uses is here; a user's op is exactly as capable.
 *
 * An op is a const descriptor (its name, its forward, its backward) and a recording function:
 *
 *     static void softplus_forward(tg_tape *t, tg_tensor *y)  // y = log(1 + e^x)
 *     { ... y->val[i] = ... y->in[0]->val[i] ... }
 *     static void softplus_backward(tg_tape *t, tg_tensor *y) // dx += dy * sigmoid(x)
 *     { tg_tensor *x = y->in[0]; if (x->grad) ... x->grad[i] += y->grad[i] * ...; }
 *     static const tg_op softplus_op = {"softplus", softplus_forward, softplus_backward, NULL};
 *
 *     tg_tensor *softplus(tg_tape *t, tg_tensor *x)
 *     {
 *         if (!tg_check_inputs(t, "softplus", 1, &x)) return NULL; // NULL in, NULL out
 *         return tg_record(t, &softplus_op, x->rows, x->cols, 1, &x); // node + forward
 *     }
 *
 * docs/examples/user_op.c writes a two-input op (smooth L1) in full, with its gradient check.
 *
 * The conventions every op keeps:
 * - Backward ACCUMULATES: it adds (+=) its contribution into each input's gradient and never
 *   assigns, so a tensor used twice simply receives two contributions. (One exception, for
 *   speed: a node marked with tg_assigns_first may assign an input's whole gradient when
 *   tg_grad_first says its contribution is the first; see there.)
 * - An input's gradient may be NULL (a constant, or recorded with gradients off): skip it.
 *   y->grad is never NULL when backward runs, and the walk calls backward only on nodes the
 *   loss depends on.
 * - Backward may read y->val, the inputs' values and whatever forward saved (y->saved, y->arg,
 *   y->iarg): all stay valid until the tape is reset. It must not change any value.
 * - Broadcasting is symmetric and explicit: equal shapes, or a (1 x N) row or a (B x 1) column
 *   against (B x N) on either side. The backward of a broadcast row sums over the B rows, of a
 *   column over the N columns (every element adds into the same place). Anything else is a
 *   shape error recorded with tg_fail.
 * - Bad input returns NULL with a message naming the op and the shapes (tg_fail, TG_SHAPE);
 *   the first message on a tape wins, so a NULL input returns NULL quietly (tg_check_inputs).
 *
 * Read next: ops/unary.c (element-wise ops), ops/matmul.c (an op with a finish).
 */
#ifndef TG_OP_H
#define TG_OP_H

#include "autograd/tape.h"

#include <stddef.h>

TG_BEGIN_DECLS

/* An op: its name and its functions, defined side by side in the file of its family. */
struct tg_op {
    const char *name; /* public name, used in error messages and printouts, e.g. "tg_matmul" */
    /* Compute y->val from y->in[k]->val (and y->saved, y->arg, y->iarg). NULL for a view. */
    void (*forward)(tg_tape *t, tg_tensor *y);
    /* Add y->grad's contribution into every y->in[k]->grad that is not NULL. NULL for a view,
     * whose gradient is a window of its input's. */
    void (*backward)(tg_tape *t, tg_tensor *y);
    /* Optional (NULL for most ops): work the backwards of this op put off with tg_defer, run
     * once after the walk with what they left in the slot. */
    void (*finish)(tg_tape *t, void *work);
    const char *rule; /* optional: the local derivative in words and symbols (tg_walk_backward) */
};

/* Printf format and arguments for a shape in messages: tg_fail(t, "x is " TG_SHAPE, TG_DIMS(x)). */
#define TG_SHAPE   "(%zu x %zu)"
#define TG_DIMS(x) (x)->rows, (x)->cols

/* A node of shape (rows x cols) computed by op from in[0..n_in-1] (copied: the array may be the
 * caller's), appended to the tape, with op->forward already run. It gets a gradient when
 * recording with gradients is on and some input requires one. NULL when out of memory or the
 * shape overflows (message on the tape). The caller has checked the inputs and the shape. */
tg_tensor *tg_record(tg_tape *t, const tg_op *op, size_t rows, size_t cols, size_t n_in,
                     tg_tensor *const *in);

/* tg_record without running forward: for an op that sets y->saved, y->arg or y->iarg first,
 * then calls op->forward(t, y) itself. */
tg_tensor *tg_node(tg_tape *t, const tg_op *op, size_t rows, size_t cols, size_t n_in,
                   tg_tensor *const *in);

/* Scratch memory for what forward saves for backward (a mask, ids, row maxima): `bytes` from
 * the tape's arena, 64-byte aligned, not zeroed, valid until the tape is reset and never freed
 * by the op. NULL when out of memory, with a message naming `who` on the tape. */
void *tg_tape_alloc(tg_tape *t, size_t bytes, const char *who);

/* Record an error message on the tape (printf-style), unless one is already there: the first
 * wins. Returns NULL, so an op can `return tg_fail(t, "...")`. Name the op and the shapes: when
 * the message starts with the name the op gave tg_check_inputs and a colon, the labels of its
 * labelled inputs are appended, "(input 1 is h_3, input 2 is weight_hh_l0)". */
tg_tensor *tg_fail(tg_tape *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* 1 when all n inputs are non-NULL. Otherwise 0, after recording "<name>: input <i> is NULL"
 * (unless an earlier error is kept: usually the one that made the NULL). */
int tg_check_inputs(tg_tape *t, const char *name, size_t n, tg_tensor *const *in);

/* For a backward whose work is cheaper done once for many nodes after the walk (matmul stacks
 * the per-step weight-gradient products of a parameter into one): op->finish(t, work) will run
 * once at the end of this tg_backward, where work is what the op left in the returned slot.
 * The slot is NULL at the first call of each walk; keep arena memory there (tg_tape_alloc).
 * op->finish must not be NULL. Returns NULL when out of memory (message on the tape); the op
 * then does its work at once. */
void **tg_defer(tg_tape *t, const tg_op *op);

/* For deferred work that reads y->grad after y's backward: with reused gradients
 * (tg_tape_reuse_grads) y keeps its gradient buffer until the tape is reset instead of handing
 * it on. Call it from y's backward. */
void tg_keep_grad(tg_tape *t, tg_tensor *y);

/* From an op's recording function, for node y whose backward writes a large input gradient
 * once (softmax cross-entropy's logits): with reused gradients (tg_tape_reuse_grads) the walk
 * may lend y's inputs buffers that are not zeroed, and y's backward asks tg_grad_first before
 * writing each. A buffer y's backward did not ask for is zeroed after it. */
void tg_assigns_first(tg_tape *t, tg_tensor *y);

/* From the backward of a node marked with tg_assigns_first: 1 when this contribution to x's
 * gradient is its first and x's buffer was lent without zeroing. The backward then ASSIGNS
 * every element, 0 + its contribution (a -0 then gets the bits adding it to a zero would), and
 * the buffer counts as written from this call on: a second call, or a later user, gets 0 and
 * adds. This saves a pass that zeroes the buffer and the read in the pass that adds. */
int tg_grad_first(tg_tape *t, tg_tensor *x);

TG_END_DECLS

#endif
