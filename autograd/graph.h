/* graph.h: show a recording, for teaching and debugging. */
#ifndef TG_GRAPH_H
#define TG_GRAPH_H

#include "autograd/tape.h"

#include <stdio.h>

TG_BEGIN_DECLS

enum {
    TG_DOT_NORMS = 1,        /* label each node with the L2 norms of its value and gradient */
    TG_DOT_VALUES = 2,       /* label each node with its value and gradient, signed, when it has at
                          most 6 elements (else their norms) */
    TG_UNFUSED = 4,          /* print and dot: a fused node as the ops a learner expects, its first
                          part numbered "5a" before the node 5 (below) */
    TG_DOT_COLOUR_GRADS = 8, /* fill each node and leaf by its gradient's L2 norm, pale yellow
                                (the tape's smallest) to dark red (its largest), log scale */
};

/* One line per node in recording order: index, op, label, inputs (node indices, or "leaf"
 * with the leaf's name and shape), shape:
 *     3  tg_slice_cols [8, 12) (f)  in: #2  ->  (1 x 4)
 *     2  tg_addmm  in: #1 leaf(weight_hh_l0 16x4)ᵀ leaf(b 1x16)  ->  (1 x 16)
 * A slice shows its range, an input a product reads transposed is marked ᵀ. Writes to f;
 * returns TG_OK or TG_EIO. */
int tg_tape_print(const tg_tape *t, FILE *f);

/* tg_tape_print with flags: TG_UNFUSED shows tg_addmm as a tg_matmul then a tg_add, tg_addcmul
 * as a tg_mul then a tg_add, tg_softmax_xent as a tg_softmax then the mean negative
 * log-likelihood ("nll"):
 *     2a tg_matmul  in: #1 leaf(weight_hh_l0 16x4)ᵀ  ->  (1 x 16)
 *     2  tg_add  in: #2a leaf(b 1x16)  ->  (1 x 16)
 * Other flags are ignored. Returns TG_OK or TG_EIO. */
int tg_tape_print_flags(const tg_tape *t, FILE *f, int flags);

/* The recording as a Graphviz digraph: ops as nodes, leaves as boxes, shapes on the edges
 * (", used ᵀ" where a product reads its input transposed), flags as above; with TG_UNFUSED
 * the first part's value and gradient are computed for display (the product c + a·b − c, the
 * softmax p and d(nll)/dp). Writes to f; returns TG_OK, TG_EIO, or TG_ENOMEM when the list of
 * leaves or a part's values cannot be allocated (the output is then cut short). */
int tg_tape_dot(const tg_tape *t, FILE *f, int flags);

TG_END_DECLS

#endif
