/* graph.h: show a recording, for teaching and debugging. */
#ifndef TG_GRAPH_H
#define TG_GRAPH_H

#include "autograd/tape.h"

#include <stdio.h>

TG_BEGIN_DECLS

/* One line per node: index, op, inputs (node indices, or "leaf" with the leaf's name/shape),
 * shape. Writes to f; returns TG_OK or TG_EIO. */
int tg_tape_print(const tg_tape *t, FILE *f);

enum {
    TG_DOT_NORMS = 1,  /* label each node with the L2 norms of its value and gradient */
    TG_DOT_VALUES = 2, /* label each node with its value and gradient, signed, when it has at
                          most 6 elements (else their norms) */
};

/* The recording as a Graphviz digraph: ops as nodes, leaves as boxes, shapes on the edges.
 * Writes to f; returns TG_OK, TG_EIO, or TG_ENOMEM when the list of leaves cannot grow (the
 * output is then cut short). */
int tg_tape_dot(const tg_tape *t, FILE *f, int flags);

TG_END_DECLS

#endif
