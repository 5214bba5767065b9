/* internal.h: what the op families and the rest of the library share, not for users.
 *
 * An op family (ops/<family>.c) uses three calls:
 *   tgi_check(t, "tg_add", n, in)     -> 0 if an input is NULL (message kept or recorded)
 *   tgi_fail(t, "fmt", ...)           -> records the first message, returns NULL
 *   tgi_record(t, &op, rows, cols, n, in) -> a new node, its forward already run
 * and tgi_node when the op must set arguments (iarg, arg, saved) before its forward runs.
 */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "autograd/tape.h"

#include <stddef.h>

/* Printf-style format and arguments for a shape, e.g. tgi_fail(t, "a is " TGI_SHAPE, TGI_DIMS(a)). */
#define TGI_SHAPE   "(%zu x %zu)"
#define TGI_DIMS(x) (x)->rows, (x)->cols

/* Arena memory, 64-byte aligned, valid until the next reset. NULL (with a message naming who)
 * when out of memory. The memory is not zeroed. */
void *tgi_alloc(tg_tape *t, size_t bytes, const char *who);

/* Write a message into err[0..errsz) (when err is not NULL) and return code: the error report of
 * calls that take a caller's message buffer (optimizers, the batcher, checkpoints). */
int tgi_errf(int code, char *err, size_t errsz, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Record the first error message on the tape (later ones are dropped). Returns NULL so an op
 * can `return tgi_fail(...)`. */
tg_tensor *tgi_fail(tg_tape *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* 1 when all n inputs are non-NULL. Otherwise 0, and when no error is recorded yet, records
 * "<name>: input <i> is NULL". */
int tgi_check(tg_tape *t, const char *name, size_t n, tg_tensor *const *in);

/* A new node of the given shape with inputs in[0..n-1], appended to the tape, with a zeroed
 * gradient when recording is on and some input has one. Its value is NOT computed. NULL when
 * out of memory. */
tg_tensor *tgi_node(tg_tape *t, const tg_op *op, size_t rows, size_t cols, size_t n,
                    tg_tensor *const *in);

/* The recorded nodes (count in *n) and the tape's "backward already ran" flag: backward.c. */
tg_tensor **tgi_tape_nodes(tg_tape *t, size_t *n, int **backward_ran);

/* Work an op's backward hands over to the end of the walk, to do once for many nodes: matmul
 * turns the per-step weight-gradient products of a parameter used at every time step into one
 * product over all B·T rows. An op puts this struct first in a record it allocates with
 * tgi_alloc and passes it to tgi_defer. After the last node's backward, tg_backward calls
 * run(t, d) with the first record not yet done; run handles every record of its own (walking
 * d->next, recognising its own by d->run) and marks them done. Records live until reset. */
typedef struct tgi_deferred {
    void (*run)(tg_tape *t, struct tgi_deferred *d);
    struct tgi_deferred *next;
    int done;
} tgi_deferred;

void tgi_defer(tg_tape *t, tgi_deferred *d);

/* Run every deferred record and empty the list: the end of tg_backward. */
void tgi_run_deferred(tg_tape *t);

/* A node whose value and gradient are x's, from element `offset` on, as a (rows x cols) matrix:
 * a contiguous window (a block of whole rows) needs no copy. Nothing is allocated or zeroed,
 * op->forward is not run, and op->backward must be NULL: the gradient is already where it
 * belongs, in x's, so the walk has nothing to do but go on to x. The caller checks that the
 * window lies inside x. */
tg_tensor *tgi_view(tg_tape *t, const tg_op *op, tg_tensor *x, size_t offset, size_t rows,
                    size_t cols);

/* Gradients reused (tg_tape_reuse_grads), for backward.c: give x (a node with grad_later) a
 * zeroed gradient buffer, a released one of its size when there is one; 0 when out of memory
 * (message on the tape). Release hands x's buffer back and sets x->grad to NULL. */
int tgi_grad_give(tg_tape *t, tg_tensor *x);
void tgi_grad_release(tg_tape *t, tg_tensor *x);

/* Set in y->needed by an op's backward when deferred work (tgi_defer) reads y's gradient after
 * the walk: backward then keeps it instead of releasing it. */
#define TGI_KEEP_GRAD 2

/* tgi_node followed by op->forward. */
tg_tensor *tgi_record(tg_tape *t, const tg_op *op, size_t rows, size_t cols, size_t n,
                      tg_tensor *const *in);

#endif
