/* bptt.h: backpropagation through time derived by hand, for any cell type: the arrays a hand
 * derivation fills (tg_bptt_grads), the library's own hand derivations of the built-in cells,
 * and adapters between PyTorch's weight layout and the textbooks'.
 *
 * Dimension letters: T time steps, B batch rows, I input features, H hidden units, G gates.
 * A cell type (nn/cells.h) names its parameters, with shapes from I and H, and its states
 * (h, or h and c, ...). A hand derivation of one layer unrolled over T steps produces, for
 * upstream gradients dy_t = dL/dh_t reaching each output h_t from outside the recurrence:
 *     dparam[k]   dL/d(parameter k), the parameter's shape, summed over the T steps
 *     dstate[k]   per step, the total gradient reaching state k at step t (dy_t plus what
 *                 step t + 1 sends back, for h)
 *     dx          per step, dL/dx_t;   dstate0[k]  dL/d(initial state k);
 *     state[k]    per step, the forward values, so a forward slip is told from a backward one.
 * nn/bptt_check.h computes the same arrays from the tape and compares them element by element.
 *
 * The built-in references walk t = T..1 carrying dh (and the LSTM's dc) backwards:
 *   RNN (tanh)  dh_t = dy_t + dh_carry             total gradient reaching h_t
 *               da   = dh_t ⊙ (1 − h_t²)           (ReLU: dh_t ⊙ [h_t > 0])
 *               db  += Σ_rows da,  dW_hh += daᵀ·h_{t−1},  dW_ih += daᵀ·x_t
 *               dh_carry = da·W_hh,  dx_t = da·W_ih
 * (in the textbook layout W_h = W_hhᵀ these read dW_h = h_prevᵀ·da, dh_prev = da·W_hᵀ).
 *   LSTM        do = dh ⊙ tanh(c),  dc_t = dc_carry + dh ⊙ o ⊙ (1 − tanh²(c))
 *               di = dc ⊙ g,  df = dc ⊙ c_{t−1},  dg = dc ⊙ i,  dc_carry = dc ⊙ f
 *               da = [di·i(1−i), df·f(1−f), dg·(1−g²), do·o(1−o)], then as the RNN.
 *   GRU         q = h_{t−1}·W_hnᵀ + b_hn,  n = tanh(x·W_inᵀ + b_in + r ⊙ q)
 *               dn = dh ⊙ (1−z),  dz = dh ⊙ (h_{t−1} − n),  dan = dn ⊙ (1 − n²)
 *               dr = dan ⊙ q,  dq = dan ⊙ r,  dar = dr·r(1−r),  daz = dz·z(1−z)
 *               input side da_x = [dar, daz, dan], hidden side da_h = [dar, daz, dq]
 *               dh_carry = dh ⊙ z + da_h·W_hh,  dx_t = da_x·W_ih.
 *
 * Everything is tg_real, so the references run in both builds; in the double build they agree
 * with the tape to 1e-12 over 50 steps (tests/test_nn_bptt.c). Layers chain: the dx of layer
 * k + 1 is the dy of layer k (tests/test_nn_torch.c checks a 2-layer chain against PyTorch).
 *
 * Read next: nn/bptt_check.h (the same quantities from the tape, and the comparison),
 * docs/check-your-cell.md (checking a cell of your own).
 */
#ifndef TG_BPTT_H
#define TG_BPTT_H

#include "autograd/status.h"
#include "autograd/tensor.h"
#include "nn/cells.h"

#include <stddef.h>

TG_BEGIN_DECLS

/* One cell's weights: param[k] is the type's parameter k (type->params[k]), row-major in the
 * shape tg_cell_param_shape gives. Every pointer is borrowed. */
typedef struct tg_bptt_cell {
    const tg_cell_type *type;
    size_t in, hidden; /* I and H */
    const tg_real *param[TG_CELL_MAX_PARAMS];
} tg_bptt_cell;

/* The weights of a tape cell (nn/cells.h), borrowed from its tensors' values. */
tg_bptt_cell tg_bptt_cell_of(const tg_cell *cell);

/* A sequence's forward results and gradients, for one cell type. Per-step arrays hold step t
 * (t = 1..T) at offset (t − 1)·B·N, rows of N values (N = H for states, I for dx). Members
 * may be the caller's own arrays (filled by hand, then compared: nn/bptt_check.h) or
 * allocated by tg_bptt_grads_init. NULL means "not computed"; entries past the type's
 * n_params or n_states are NULL. */
typedef struct tg_bptt_grads {
    const tg_cell_type *type;
    size_t T, B, I, H;
    tg_real *dparam[TG_CELL_MAX_PARAMS];  /* the parameter's shape: dL/dparam over T steps */
    tg_real *dstate[TG_CELL_MAX_STATES];  /* T·B·H: total gradient reaching state k at step t */
    tg_real *dx;                          /* T·B·I: dL/dx_t */
    tg_real *dstate0[TG_CELL_MAX_STATES]; /* B·H: dL/d(initial state k) */
    tg_real *state[TG_CELL_MAX_STATES];   /* T·B·H: the forward value of state k at step t */
    void *block;                          /* what tg_bptt_grads_init allocated (owned), or NULL */
} tg_bptt_grads;

/* Allocate every member for this type and these sizes, zeroed, in one block. Returns TG_OK,
 * TG_ENULL (no type), TG_EINVAL (a zero size), TG_ERANGE (the sizes overflow) or TG_ENOMEM,
 * with the message in st; on failure *g is zeroed, and deinit is harmless. */
int tg_bptt_grads_init(tg_bptt_grads *g, const tg_cell_type *type, size_t T, size_t B, size_t I,
                       size_t H, tg_status *st);
/* Free what init allocated and zero *g; caller-set pointers are not freed. */
void tg_bptt_grads_deinit(tg_bptt_grads *g);

/* Elements of g's parameter k (0 when k is out of range). */
size_t tg_bptt_param_numel(const tg_bptt_grads *g, size_t k);

/* g->dparam[k] for the type's parameter of that name (e.g. "weight_hh", without prefix and
 * layer), or NULL when the type has none of that name. */
tg_real *tg_bptt_dparam(const tg_bptt_grads *g, const char *name);

/* ---- The library's hand derivations of the built-in cells ---------------------------------
 *
 * Each runs its cell forward with its own cache and then backward as plain loops, with no tape
 * and no op, over T >= 1 steps:
 *   x   T·B·I: step t's input (B x I) at (t − 1)·B·I (the rows of tg_rnn_forward_rows)
 *   s0  the initial states, s0[k] B·H for state k (h, then the LSTM's c); s0 NULL, or s0[k]
 *       NULL, means zeros
 *   dy  T·B·H: dL/dh_t from outside the recurrence (the upstream gradient of each output)
 * w holds PyTorch's four parameters weight_ih (G·H x I), weight_hh (G·H x H), bias_ih and
 * bias_hh (1 x G·H), the layout of tg_cell_rnn, tg_cell_rnn_relu (G = 1), tg_cell_lstm (4) and
 * tg_cell_gru (3). g must be sized for w's type, T, B, I and H (tg_bptt_grads_init); every
 * non-NULL member of g is overwritten, not accumulated. Returns TG_OK; TG_ENULL for a NULL w,
 * x, dy, g or weight; TG_EINVAL when w's type does not have this layout, or g's type or sizes
 * differ from w and T; TG_ENOMEM for the cache; the message in st, and g unchanged. */
int tg_bptt_rnn_tanh_hand(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                          const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g,
                          tg_status *st);
int tg_bptt_rnn_relu_hand(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                          const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g,
                          tg_status *st);
int tg_bptt_lstm_hand(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                      const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g, tg_status *st);
int tg_bptt_gru_hand(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                     const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g, tg_status *st);

/* ---- Adapters between conventions ---------------------------------------------------------
 *
 * The textbook layout: one input matrix W_x (I x G·H) and one recurrent matrix W_h (H x G·H)
 * multiplied from the right (a = x·W_x + h·W_h + b), one bias b (G·H), and the gate blocks in
 * the book's order. order[q] is the PyTorch block that textbook block q holds (NULL: the same
 * order); for the LSTM, whose books write f, g, i, o where PyTorch writes i, f, g, o, pass
 * tg_lstm_textbook_order. The map is
 *     W_x[k][q·H + j] = W_ih[order[q]·H + j][k],  W_h likewise,  b = b_ih + b_hh.
 * Back to PyTorch, b_ih = b and b_hh = 0: the same function, not the same numbers.
 * Gradients map like the weights, except the bias: db = db_ih (= db_hh, the two biases enter
 * the cell as a sum), and back db_ih = db_hh = db.
 * Only for cells whose two biases add (RNN, LSTM): the GRU cannot merge its biases (b_hn sits
 * inside r ⊙ (...)); see tg_gru_flip_z.
 * Each returns TG_OK, or with the message in st TG_EINVAL (G, I or H zero, or order not a
 * permutation of 0..G−1), TG_ERANGE (the sizes overflow) or TG_ENULL (a NULL array).
 * Sources and destinations must not overlap.
 */

/* PyTorch's LSTM gate blocks, in weight_ih's rows: i, f, g, o. */
enum { TG_LSTM_GATE_I, TG_LSTM_GATE_F, TG_LSTM_GATE_G, TG_LSTM_GATE_O, TG_LSTM_GATES };

/* The textbooks' LSTM order f, g, i, o as PyTorch blocks: {F, G, I, O}. */
extern const size_t tg_lstm_textbook_order[TG_LSTM_GATES];

int tg_textbook_from_torch(size_t G, const size_t *order, size_t I, size_t H, const tg_real *W_ih,
                           const tg_real *W_hh, const tg_real *b_ih, const tg_real *b_hh,
                           tg_real *W_x, tg_real *W_h, tg_real *b, tg_status *st);
int tg_textbook_to_torch(size_t G, const size_t *order, size_t I, size_t H, const tg_real *W_x,
                         const tg_real *W_h, const tg_real *b, tg_real *W_ih, tg_real *W_hh,
                         tg_real *b_ih, tg_real *b_hh, tg_status *st);
int tg_textbook_grads_from_torch(size_t G, const size_t *order, size_t I, size_t H,
                                 const tg_real *dW_ih, const tg_real *dW_hh, const tg_real *db_ih,
                                 tg_real *dW_x, tg_real *dW_h, tg_real *db, tg_status *st);
int tg_textbook_grads_to_torch(size_t G, const size_t *order, size_t I, size_t H,
                               const tg_real *dW_x, const tg_real *dW_h, const tg_real *db,
                               tg_real *dW_ih, tg_real *dW_hh, tg_real *db_ih, tg_real *db_hh,
                               tg_status *st);

/* The GRU with its update gate reversed. Textbooks (Cho et al.; Goodfellow et al.) write
 *     h' = z ⊙ n + (1 − z) ⊙ h,     PyTorch   h' = (1 − z) ⊙ n + z ⊙ h.
 * Since 1 − σ(a) = σ(−a), one is the other with z's pre-activation negated: negate rows
 * [H, 2H) of W_ih and W_hh and entries [H, 2H) of b_ih and b_hh (the z block of the order
 * r, z, n); r and n are untouched. The map is its own inverse, works in place, and maps
 * gradients too (dL/d(−W) = −dL/dW). Any pointer may be NULL to skip that array. */
void tg_gru_flip_z(size_t I, size_t H, tg_real *W_ih, tg_real *W_hh, tg_real *b_ih, tg_real *b_hh);

TG_END_DECLS

#endif
