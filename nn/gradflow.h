/* gradflow.h: how the gradient of a last-step loss fades or grows back through time, for any
 * cell type and every state it carries.
 *
 * Dimension letters: T time steps, B batch rows, I input features, H hidden units.
 * One measurement: a cell steps T times from a zero state over random inputs, the loss
 * L = Σ h_T ⊙ v (v a fixed random (1 x H) row, or ones: the classic experiment) looks at the
 * LAST step only, tg_backward runs once, and ‖∂L/∂s_t‖₂ is read off the recorded state nodes'
 * gradients for every state s the type carries (h, and the LSTM's c, ...) and t = 1..T. No
 * backward is written here: the numbers are the tape's.
 *
 * Each step back multiplies dh by the step's Jacobian; for an RNN that is diag(act')·W_hh, so
 * the largest singular value σ_max of W_hh bounds the growth per step: σ_max < 1 and |act'| <= 1
 * make ‖dh‖ vanish at least as fast as σ_max^t; σ_max > 1 lets it explode (it does when the
 * largest |eigenvalue| of W_hh is above 1 too, and the activation does not damp it).
 *
 * Read next: models/gradflow.c (the program: table, CSV, plot), nn/cells.c (the steps).
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
    int dh_ones; /* non-zero: L = Σ h_T, so the gradient starts from ∂L/∂h_T = ones
                                 (B x H), the classic experiment; zero: L = Σ h_T ⊙ v */
} tg_gradflow_spec;

/* The classic experiment's RNN without an activation, "rnn-linear": h' = x·W_ihᵀ + b_ih + b_hh
 * + h·W_hhᵀ, with tg_cell_rnn's parameters, so a step back is exactly dh_{t−1} = dh_t·W_hh
 * (dh·W_hᵀ in the textbooks' layout W_h = W_hhᵀ). Not registered: tg_cell_type_register it to
 * find it by name. */
extern const tg_cell_type tg_cell_rnn_linear;

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

/* The largest singular value of W (rows x cols, row-major), *sigma = sqrt of the largest
 * eigenvalue of WᵀW, by power iteration in double from a fixed start (until it changes by less
 * than 1e-13 relatively, at most 20000 rounds of 2·rows·cols multiply-adds). Returns TG_OK;
 * TG_ENULL for a NULL W or sigma, TG_EINVAL for a zero size, TG_ERANGE (a size overflows), TG_ENOMEM; *sigma is then 0. */
int tg_sigma_max(const tg_real *W, size_t rows, size_t cols, double *sigma, tg_status *st);

/* σ_max of the weight_hh the spec's cell gets (the same draws as tg_gradflow_measure), or 0
 * when the type has no parameter of that name. Returns TG_OK or a TG_* code with the message in
 * st (*sigma is then 0). */
int tg_gradflow_sigma_max(const tg_gradflow_spec *s, double *sigma, tg_status *st);

TG_END_DECLS

#endif
