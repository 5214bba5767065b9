/* tape.h: define-by-run recording and the reverse walk.
 *
 * Every op (declared in ops/<family>.h) takes the tape as its first argument, computes its value at once and
 * appends one node. Recording order is a topological order, so tg_backward is a single loop
 * over the nodes in reverse, calling each node's backward, which adds (+=) into its inputs'
 * gradients. A tensor used twice simply receives two contributions.
 *
 * Memory. The tape owns every node it records, with its value, gradient and saved data, in an
 * arena of chunks. tg_tape_reset rewinds the arena in O(1) and keeps the chunks, so a training
 * loop that records the same shapes window after window allocates nothing after the first.
 *
 *   INVALIDATION RULE: tg_tape_reset and tg_tape_free invalidate every tensor the tape made
 *   (nodes, tg_input/tg_leaf leaves, tg_detach copies) and every pointer into their values.
 *   Copy out what must survive (carried RNN state, a loss value) before resetting.
 *   Leaves made with tg_tensor_new/tg_tensor_init (parameters) are not the tape's and survive;
 *   their gradients keep accumulating across backward calls until zeroed.
 *
 * Errors. An op given bad input (shapes, out-of-range ids, NULL) returns NULL and records on
 * the tape a message naming the op and the shapes, e.g.
 *   "tg_matmul: inner dimensions differ: a is (32 x 165), b is (400 x 165)".
 * An op given NULL returns NULL and keeps the first message, so a whole cell can be checked
 * once at its end. The library never prints, exits or aborts on user input.
 * A NULL tape (tg_tape_new out of memory, say) crashes nothing: ops and leaves given it return
 * NULL, tg_backward returns TG_ENULL, tg_tape_error says "the tape is NULL", the other tape
 * calls do nothing and return 0.
 *
 * Writing an op: autograd/op.h.
 * Read next: ops/binary.c (an op family), autograd/backward.c (the reverse walk).
 */
#ifndef TG_TAPE_H
#define TG_TAPE_H

#include "autograd/tensor.h"

TG_BEGIN_DECLS

typedef struct tg_tape tg_tape;

/* A new empty tape, recording with gradients, keeping them. NULL when out of memory. */
tg_tape *tg_tape_new(void);
/* Free the tape and everything it recorded (see the invalidation rule). NULL is allowed. */
void tg_tape_free(tg_tape *t);
/* Forget every node and the error message, keep the memory. O(1) in the number of nodes. */
void tg_tape_reset(tg_tape *t);

/* A leaf on the tape holding a copy of data (rows*cols values; NULL means zeros), without a
 * gradient: a constant input such as a minibatch. NULL on error (message on the tape). */
tg_tensor *tg_input(tg_tape *t, size_t rows, size_t cols, const tg_real *data);
/* The same, with a zeroed gradient when requires_grad is non-zero and recording is on. */
tg_tensor *tg_leaf(tg_tape *t, size_t rows, size_t cols, const tg_real *data, int requires_grad);
/* A leaf copy of x's value with no gradient: gradients stop here (PyTorch's detach). */
tg_tensor *tg_detach(tg_tape *t, tg_tensor *x);

/* Seed d(loss) = 1 and walk the tape backwards from loss, accumulating into every gradient the
 * loss depends on. loss must be a (1 x 1) node of this tape that requires a gradient. Calling
 * it again on the same recording first clears the nodes' gradients (not the leaves'). Returns
 * TG_OK, or a TG_* code with a message on the tape; on failure no gradient has changed (except
 * TG_ENOMEM with reused gradients: the arena ran out midway). */
int tg_backward(tg_tape *t, tg_tensor *loss);

/* Recording with gradients on (default) or off. Off is PyTorch's no_grad: values are computed,
 * no gradient buffers are made, backward cannot reach these nodes. Returns the previous mode. */
int tg_tape_set_grad(tg_tape *t, int enabled);
/* Gradient memory of nodes recorded from now on: kept (default) or reused. Kept: every node
 * has its gradient buffer from the moment it is recorded, and after backward each holds
 * d(loss)/d(node) for inspection. Reused (training): a node's gradient exists only during
 * backward, from the first of its users to be walked back until its own backward has run;
 * then it is NULL again and its memory serves the next node of the same size. The nodes of an
 * unrolled step reuse the step before's buffers, so the tape holds values and about one step of
 * gradients instead of both for every step. Leaves keep their gradients in both modes. Returns
 * the previous mode. */
int tg_tape_reuse_grads(tg_tape *t, int reuse);

/* The first error message since the last reset, or NULL when there was none ("the tape is
 * NULL" for a NULL tape). The string belongs to the tape and stays valid until the next reset or clear. */
const char *tg_tape_error(const tg_tape *t);
void tg_tape_clear_error(tg_tape *t);

/* Nodes in recording order, for printing and inspection (gradient flow, teaching). */
size_t tg_tape_size(const tg_tape *t);
tg_tensor *tg_tape_node(const tg_tape *t, size_t i);

/* The arena's counters: what a test uses to prove that a training loop stops allocating. */
typedef struct tg_tape_stats {
    size_t nodes;          /* nodes recorded since the last reset */
    size_t bytes_used;     /* arena bytes handed out since the last reset */
    size_t bytes_reserved; /* arena bytes held (sum of chunk sizes) */
    size_t heap_allocs;    /* calls to malloc/realloc made by this tape since it was created */
} tg_tape_stats;
void tg_tape_get_stats(const tg_tape *t, tg_tape_stats *s);

TG_END_DECLS

#endif
