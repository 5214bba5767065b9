/* internal.h: what the library's files share and users do not see.
 *
 * The op-author API (tg_record, tg_node, tg_fail, ...) is public: autograd/op.h. Here are the
 * tape's own fields and the bookkeeping it keeps beside each node (tape.c, backward.c), and row
 * views (ops/shape.c).
 */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "autograd/arena.h"
#include "autograd/op.h"

#include <stddef.h>

/* Where a node's gradient is in its life (tgi_entry.grad). */
enum {
    TGI_GRAD_NONE,  /* it requires no gradient; grad is NULL */
    TGI_GRAD_OWN,   /* gradients kept: its buffer exists from recording on */
    TGI_GRAD_LATER, /* gradients reused: grad is NULL until backward lends it a buffer */
    TGI_GRAD_LENT,  /* gradients reused: lent, until its own backward has run */
    TGI_GRAD_KEPT,  /* lent, and kept until reset for an op's finish (tg_keep_grad) */
    TGI_GRAD_BLANK, /* lent unzeroed for the backward of an op that assigns (tg_grad_first) */
};

/* A node as the tape holds it: the public tensor, then the tape's bookkeeping. Leaves (op NULL)
 * are bare tensors; only nodes have an entry. */
typedef struct tgi_entry {
    tg_tensor x;           /* the node; first, so a node's address is its entry's */
    size_t index;          /* its position on the tape: t->nodes[index] == &x */
    unsigned char grad;    /* TGI_GRAD_* */
    unsigned char reached; /* set by backward: the loss depends on this node */
    unsigned char assigns; /* its backward assigns first gradients (tg_assigns_first) */
} tgi_entry;

static inline tgi_entry *tgi_entry_of(const tg_tensor *node)
{
    return (tgi_entry *)node;
}

/* tg_requires_grad, inline for the tape's own loops. */
static inline int tgi_requires_grad(const tg_tensor *x)
{
    return x->op ? tgi_entry_of(x)->grad != TGI_GRAD_NONE : x->grad != NULL;
}

/* Ops whose finish runs at the end of the walk, each with the work its backwards left. */
typedef struct tgi_deferred {
    const tg_op *op;
    void *work;
    struct tgi_deferred *next;
} tgi_deferred;

enum { TGI_CHECKED_MAX = 4 /* inputs whose labels an op's error can name */ };

struct tg_tape {
    tgi_arena arena;           /* every node, value, gradient and saved block recorded */
    tg_tensor **nodes;         /* recorded nodes in order; heap array grown by doubling */
    size_t n_nodes, cap_nodes; /* count, capacity */
    size_t heap_allocs;        /* malloc/realloc calls for the tape and its node array */
    int grad_enabled;          /* new nodes may get gradients (off: PyTorch's no_grad) */
    int reuse_grads;           /* new nodes get their gradient in backward (tg_tape_reuse_grads) */
    int backward_ran;          /* node gradients hold a walk's sums: the next walk clears them */
    int has_error;             /* error[] holds the first message since reset */
    char error[512];
    tgi_deferred *deferred; /* the ops to finish after this walk (arena records) */
    /* The op whose inputs tg_check_inputs last passed, and their labels (NULL: none), until
     * the op's node is recorded: an error that op records names them (tape.c). */
    const char *checking;
    const char *checked[TGI_CHECKED_MAX];
    size_t n_checked;
};

/* After the backward of y, a node that assigns (tg_assigns_first): zero each input's buffer
 * that was lent unzeroed and that y's backward did not claim (tg_grad_first). arena.c. */
void tgi_zero_unclaimed(tg_tensor *y);

/* A tensor in the tape's arena with `head` bytes of header (a tg_tensor for a leaf, a tgi_entry
 * for a node), its input array and its values in one block (arena.c); NULL after a message
 * naming who (shape too large, out of memory). */
tg_tensor *tgi_tape_tensor(tg_tape *t, const char *who, size_t head, size_t rows, size_t cols,
                           size_t n_in, int with_grad);

/* A node whose value and gradient are x's, from element `offset` on, as a (rows x cols) matrix:
 * a contiguous window (a block of whole rows) needs no copy. Nothing is allocated or zeroed,
 * op->forward is not run, and op->backward must be NULL: the gradient is already where it
 * belongs, in x's, so the walk has nothing to do but go on to x. The caller checks that the
 * window lies inside x. */
tg_tensor *tgi_view(tg_tape *t, const tg_op *op, tg_tensor *x, size_t offset, size_t rows,
                    size_t cols);

/* For errors that name their inputs' labels (label.c): tg_check_inputs notes the labels of the
 * op's inputs (returns 1); tg_fail appends them to a message of that op's
 * ("tg_matmul: ... (input 1 is h_3, input 2 is weight_hh_l0)") and forgets them. */
int tgi_note_inputs(tg_tape *t, const char *name, size_t n, tg_tensor *const *in);
void tgi_name_inputs(tg_tape *t);

#endif
