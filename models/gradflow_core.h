/* gradflow_core.h: how the gradient of a last-step loss fades or grows back through time.
 *
 * Dimension letters: T time steps, B batch rows, I input features, H hidden units.
 * One measurement: a cell of one kind steps T times from a zero state over random inputs, the
 * loss L = Σ h_T ⊙ v (v a fixed random (1 x H) row) looks at the LAST step only, tg_backward
 * runs once, and ‖∂L/∂h_t‖₂ (and, for the LSTM, ‖∂L/∂c_t‖₂) is read off the recorded state
 * nodes' gradients for t = 1..T. No backward is written here: the numbers are the tape's.
 *
 * Both precisions: the program links the float library, the test the double one.
 *
 * Read next: models/gradflow.c (the program: CSV, plot, summary), nn/cells.c (the steps).
 */
#ifndef GF_CORE_H
#define GF_CORE_H

#include "autograd/tape.h"
#include "nn/cells.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gf_spec {
    tg_cell_kind kind;   /* TG_RNN_TANH, TG_LSTM or TG_GRU */
    size_t T, B, I, H;   /* all >= 1 */
    double scale;        /* RNN only: each W_hh entry is N(0, 1)·scale ... */
    int scale_by_sqrt_h; /* ... divided by sqrt(H) when non-zero */
    double forget_bias;  /* LSTM only: the forget slice of b_ih is set to this ... */
    int set_forget_bias; /* ... when non-zero (otherwise PyTorch's U(-1/sqrt(H), 1/sqrt(H))) */
    uint64_t seed;       /* parameters from seed, inputs and v from seed + 1 */
} gf_spec;

/* Record T steps of `cell` from the zero state over xs[0..T-1] (B x I), the loss Σ h_T ⊙ v
 * with v (1 x H) or (B x H), and run tg_backward. hs[k] receives the state after step k + 1
 * (k < T): tape nodes whose ->grad is ∂L/∂h_{k+1} (and ∂L/∂c_{k+1} for the LSTM), valid until
 * t is reset or freed. Returns TG_OK, or a TG_* code with the message on the tape. */
int gf_record(tg_tape *t, const tg_cell *cell, size_t T, tg_tensor *const *xs, tg_tensor *v,
              tg_state *hs);

/* ‖x->grad‖₂ over all of x's elements, summed in double; 0 when x or its gradient is NULL.
 * Infinite when a gradient overflowed the precision of tg_real. */
double gf_grad_norm(const tg_tensor *x);

/* The whole experiment for one spec: dh[k] = ‖∂L/∂h_{k+1}‖₂ for k < T, and dc[k] likewise for
 * the LSTM's cell state (dc may be NULL; it is left untouched for the other kinds). Returns
 * TG_OK, or a TG_* code with a message in err (errsz > 0); dh and dc are then unspecified. */
int gf_measure(const gf_spec *s, double *dh, double *dc, char *err, size_t errsz);

#endif
