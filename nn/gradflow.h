/* gradflow.h: how the gradient of a last-step loss fades or grows back through time, for any
 * cell type and every state it carries.
 *
 * Dimension letters: T time steps, B batch rows, I input features, H hidden units.
 * One measurement: a cell steps T times from a zero state over random inputs, the loss
 * L = Σ h_T ⊙ v (v a fixed random (1 x H) row) looks at the LAST step only, tg_backward runs
 * once, and ‖∂L/∂s_t‖₂ is read off the recorded state nodes' gradients for every state s the
 * type carries (h, and the LSTM's c, ...) and t = 1..T. No backward is written here: the
 * numbers are the tape's.
 *
 * Read next: models/gradflow.c (the program: CSV, plot, summary), nn/cells.c (the steps).
 */
#ifndef TG_GRADFLOW_H
#define TG_GRADFLOW_H

#include "autograd/status.h"
#include "autograd/tape.h"
#include "nn/cells.h"

#include <stddef.h>
#include <stdint.h>

TG_BEGIN_DECLS

typedef struct tg_gradflow_spec {
    const tg_cell_type *type; /* any registered type */
    size_t T, B, I, H;        /* all >= 1 */
    double scale;             /* > 0: the parameter named "weight_hh", when the type has one, is
                                 redrawn N(0, 1)·scale ... */
    int scale_by_sqrt_h;      /* ... divided by sqrt(H) when non-zero */
    double forget_bias;       /* LSTM only: the forget slice of bias_ih is set to this ... */
    int set_forget_bias;      /* ... when non-zero (an error for another type) */
    uint64_t seed;            /* parameters from seed, inputs and v from seed + 1 */
} tg_gradflow_spec;

/* Record T steps of `cell` from the zero state over xs[0..T-1] (B x I), the loss Σ h_T ⊙ v
 * with v (1 x H) or (B x H), and run tg_backward (t must keep node gradients, the default).
 * ss[k] receives the states after step k + 1 (k < T): tape nodes whose ->grad is ∂L/∂s_{k+1},
 * valid until t is reset or freed. Returns TG_OK, or a TG_* code with the message on the tape. */
int tg_gradflow_record(tg_tape *t, const tg_cell *cell, size_t T, tg_tensor *const *xs,
                       tg_tensor *v, tg_state *ss);

/* ‖x->grad‖₂ over all of x's elements, summed in double; 0 when x or its gradient is NULL.
 * Infinite when a gradient overflowed the precision of tg_real. */
double tg_grad_norm_of(const tg_tensor *x);

/* The whole experiment for one spec: ds[j][k] = ‖∂L/∂s_{k+1}‖₂ of the type's state j for
 * k < T (ds[j] may be NULL to skip state j; ds holds the type's n_states pointers). Returns
 * TG_OK, or a TG_* code with the message in st; ds is then unspecified. */
int tg_gradflow_measure(const tg_gradflow_spec *s, double *const *ds, tg_status *st);

TG_END_DECLS

#endif
