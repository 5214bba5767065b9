/* show.h (internal to autograd/): how tg_tape_print, tg_tape_dot and tg_tape_walk show a node.
 *
 * A node is shown as its op, its label, its inputs and its shape, plus what a reader needs of
 * the op's arguments: a slice's range, a product's transposed inputs. With the unfused view a
 * fused node is shown as the ops a learner expects, the first part numbered "5a" before the
 * node "5" it makes (tg_addmm as a tg_matmul and a tg_add, tg_addcmul as a tg_mul and a tg_add,
 * tg_softmax_xent as a tg_softmax and the mean negative log-likelihood), with the first part's
 * value and gradient computed for display. Read next: graph.c, walk.c.
 */
#ifndef TG_SHOW_H
#define TG_SHOW_H

#include "autograd/tensor.h"

#include <stddef.h>

/* One input as shown: a tensor, or (x NULL) the part shown just before; maybe transposed. */
typedef struct tgi_shown_in {
    const tg_tensor *x;
    int trans; /* 1: the op reads it transposed (ᵀ) */
} tgi_shown_in;

/* A recorded node, or one part of a fused node. */
typedef struct tgi_shown {
    const char *op;            /* the op's name, or the part's ("tg_matmul") */
    size_t index;              /* the recorded node's position on the tape */
    int part;                  /* 1: the first part of a fused node ("5a"); 0: the node itself */
    const char *label;         /* the node's label (parts have none), may be NULL */
    char range[48];            /* " [8, 12)" for a slice, else "" */
    tgi_shown_in in[3];        /* its inputs as shown */
    size_t n_in, rows, cols;   /* their number; the shape */
    const tg_real *val, *grad; /* values (NULL unless computed, for a part), gradient or NULL */
    tg_real *owned;            /* heap block of a part's computed value and gradient; or NULL */
} tgi_shown;

/* y as shown: out[0] alone, or (unfused and y fused) out[0] its first part, out[1] y. With
 * `values` the first part's value and gradient are computed (heap, tgi_shown_free). Returns the
 * number of entries, 0 when out of memory. */
size_t tgi_show_node(const tg_tensor *y, int unfused, int values, tgi_shown out[2]);
void tgi_shown_free(tgi_shown *s, size_t n);

/* " [8, 12)" for a slice (its range along the sliced dimension), else "", into buf[0..48). */
void tgi_show_range(const tg_tensor *y, char buf[48]);

#endif
