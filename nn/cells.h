/* cells.h: vanilla RNN (tanh or ReLU), LSTM and GRU cells as composites of public ops.
 *
 * Dimension letters: B batch rows, I input features, H hidden units, G gates per cell
 * (1 RNN, 4 LSTM, 3 GRU). A step maps x (B x I) and a state h (B x H) (and, for the LSTM,
 * c (B x H)) to the next state. A state of one row (1 x H) broadcasts over the B rows.
 *
 * PyTorch's conventions, so weights can be exchanged and checked against torch.nn.RNN/LSTM/GRU:
 *   W_ih (G·H x I), W_hh (G·H x H), b_ih (1 x G·H), b_hh (1 x G·H);
 *   LSTM gate order i, f, g, o; GRU gate order r, z, n with
 *   n = tanh(x·W_inᵀ + b_in + r ⊙ (h·W_hnᵀ + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h.
 * Each step does ONE fused product per operand (x·W_ihᵀ and h·W_hhᵀ) and slices it into gates.
 *
 * A cell has no backward: every line records public ops. Its parameters live in a tg_cell
 * passed at every step, so the weights are shared across time steps by construction.
 *
 * Errors: a cell given NULL (an earlier op failed) returns NULL state members and keeps the
 * first message; wrong widths record "<cell>: x is (B x I'), h is (B x H') but the cell takes
 * I = .., H = ..". Check once, after the last step.
 */
#ifndef TG_CELLS_H
#define TG_CELLS_H

#include "autograd/rng.h"
#include "autograd/tape.h"
#include "nn/params.h"

#include <stddef.h>

TG_BEGIN_DECLS

typedef enum { TG_RNN_TANH, TG_RNN_RELU, TG_LSTM, TG_GRU } tg_cell_kind;

typedef struct tg_cell {
    tg_cell_kind kind;
    size_t in, hidden;      /* I and H */
    tg_tensor *W_ih, *W_hh; /* (G·H x I), (G·H x H); borrowed from the store */
    tg_tensor *b_ih, *b_hh; /* (1 x G·H) each; borrowed */
} tg_cell;

typedef struct tg_state {
    tg_tensor *h; /* (B x H) */
    tg_tensor *c; /* (B x H), LSTM only; NULL for the others */
} tg_state;

/* Gates per cell of this kind: 1, 4 or 3. */
size_t tg_cell_gates(tg_cell_kind kind);

/* Add the cell's four parameters to ps as PyTorch names them for layer `layer`:
 * "<prefix>weight_ih_l<layer>", "<prefix>weight_hh_l<layer>", "<prefix>bias_ih_l<layer>",
 * "<prefix>bias_hh_l<layer>" (prefix may be NULL or e.g. "rnn."), initialised U(-k, k),
 * k = 1/sqrt(H), PyTorch's default (zeros when rng is NULL). Returns TG_OK, TG_EINVAL (bad
 * kind, zero size, bad or duplicate name: tg_params_error says which) or TG_ENOMEM; on failure
 * *cell is zeroed and parameters added before the failure stay in ps. */
int tg_cell_init(tg_cell *cell, tg_params *ps, const char *prefix, size_t layer, tg_cell_kind kind,
                 size_t in, size_t hidden, tg_rng *rng);

/* LSTM only: set the forget-gate slice of b_ih, columns [H, 2H), to v (e.g. 1; b_hh is left as
 * it is). Returns TG_OK, or TG_EINVAL for another kind of cell. */
int tg_lstm_set_forget_bias(tg_cell *cell, double v);

/* The input side of a step (B x G·H): gx = x·W_ihᵀ + b_ih + b_hh for the RNN and the LSTM (both
 * biases add to the same pre-activation), gx = x·W_ihᵀ + b_ih for the GRU (whose b_hh is inside
 * r ⊙ (…), so the step adds it). It does not depend on the state, so
 * tg_rnn_forward computes it for all T steps of a layer in one product ((T·B x I) rows) and
 * hands each step its B rows. */
tg_tensor *tg_cell_input(tg_tape *t, const tg_cell *cell, tg_tensor *x);

/* One step of any kind from gx = tg_cell_input(x) instead of x: the same recording as
 * tg_cell_step, minus the input product. gx (B x G·H), h (and c) (B x H). */
tg_state tg_cell_step_gx(tg_tape *t, const tg_cell *cell, tg_tensor *gx, tg_state s);

/* One step of any kind: the next state (c stays NULL except for the LSTM). */
tg_state tg_cell_step(tg_tape *t, const tg_cell *cell, tg_tensor *x, tg_state s);

/* h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh), act = tanh or ReLU by cell->kind. */
tg_tensor *tg_rnn_cell(tg_tape *t, const tg_cell *cell, tg_tensor *x, tg_tensor *h);
/* The LSTM: (h, c) -> (h', c'). */
tg_state tg_lstm_cell(tg_tape *t, const tg_cell *cell, tg_tensor *x, tg_state s);
/* The GRU: h -> h'. */
tg_tensor *tg_gru_cell(tg_tape *t, const tg_cell *cell, tg_tensor *x, tg_tensor *h);

TG_END_DECLS

#endif
