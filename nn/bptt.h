/* bptt.h: hand-derived backpropagation through time, as a reference to check the tape against,
 * and adapters between PyTorch's weight layout and the textbooks'.
 *
 * Dimension letters: T time steps, B batch rows, I input features, H hidden units, G gates
 * (1 RNN, 4 LSTM, 3 GRU). One layer of one cell, unrolled over T steps, in PyTorch's layout
 * (nn/cells.h): W_ih (G·H x I), W_hh (G·H x H), b_ih and b_hh (G·H each).
 *
 * tg_bptt_reference runs the cell forward with its own cache and then backward as plain loops
 * written from the textbook equations, with no tape. Given dy_t = dL/dh_t, the upstream
 * gradient of each output h_t (t = 1..T), it walks t = T..1 carrying dh (and dc) backwards:
 *
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
 * Everything is tg_real, so the reference runs in both builds; in the double build it agrees
 * with the tape to 1e-12 over 50 steps (tests/test_nn_bptt.c). Layers chain: the dx of layer
 * k + 1 is the dy of layer k (tests/test_nn_torch.c checks a 2-layer chain against PyTorch).
 *
 * Read next: nn/bptt_check.h (the same quantities from the tape, and the comparison).
 */
#ifndef TG_BPTT_H
#define TG_BPTT_H

#include "autograd/tensor.h"
#include "nn/cells.h"

#include <stddef.h>

TG_BEGIN_DECLS

/* One cell's weights in PyTorch's layout; every pointer is borrowed and must be non-NULL. */
typedef struct tg_bptt_cell {
    tg_cell_kind kind;          /* TG_RNN_TANH, TG_RNN_RELU, TG_LSTM or TG_GRU */
    size_t in, hidden;          /* I and H */
    const tg_real *W_ih, *W_hh; /* (G·H x I), (G·H x H), row-major */
    const tg_real *b_ih, *b_hh; /* G·H each */
} tg_bptt_cell;

/* The weights of a tape cell (nn/cells.h), borrowed from its tensors' values. */
tg_bptt_cell tg_bptt_cell_of(const tg_cell *cell);

/* A sequence's forward results and gradients. Per-step arrays hold step t (t = 1..T) at offset
 * (t − 1)·B·N, rows of N values. Member pointers may be the caller's own (to fill by hand and
 * compare, nn/bptt_check.h) or allocated by tg_bptt_grads_init. NULL means "not computed". */
typedef struct tg_bptt_grads {
    tg_cell_kind kind;
    size_t T, B, I, H;
    tg_real *dW_ih, *dW_hh; /* (G·H x I), (G·H x H): dL/dW summed over the T steps */
    tg_real *db_ih, *db_hh; /* G·H each */
    tg_real *dh; /* T·B·H: the total gradient reaching h_t (dy_t plus what h_{t+1} sends) */
    tg_real *dc; /* T·B·H: the total gradient reaching c_t; LSTM only, else NULL */
    tg_real *dx; /* T·B·I: dL/dx_t */
    tg_real *dh0, *dc0; /* B·H: dL/dh_0, dL/dc_0 (dc0 LSTM only, else NULL) */
    tg_real *h, *c;     /* T·B·H: the forward states h_t, c_t (c LSTM only), for checking */
    void *block;        /* what tg_bptt_grads_init allocated (owned), or NULL */
} tg_bptt_grads;

/* Allocate every member for this kind and these sizes, zeroed, in one block. Returns TG_OK,
 * TG_EINVAL (a zero size or an unknown kind) or TG_ENOMEM; on failure *g is zeroed, and
 * deinit is harmless. */
int tg_bptt_grads_init(tg_bptt_grads *g, tg_cell_kind kind, size_t T, size_t B, size_t I, size_t H);
/* Free what init allocated and zero *g; caller-set pointers are not freed. */
void tg_bptt_grads_deinit(tg_bptt_grads *g);

/* The hand-derived forward and backward of one cell over T >= 1 steps.
 *   x   T·B·I: step t's input (B x I) at (t − 1)·B·I (the rows of tg_rnn_forward_rows)
 *   h0  B·H, c0 B·H (LSTM only; ignored otherwise); NULL means zeros
 *   dy  T·B·H: dL/dh_t from outside the recurrence (the upstream gradient of each output)
 * g must be sized for w->kind, T, B, w->in, w->hidden (tg_bptt_grads_init). Every non-NULL
 * member of g is overwritten, not accumulated. Returns TG_OK; TG_ENULL for a NULL w, x, dy, g
 * or weight; TG_EINVAL when g's kind or sizes differ from w and T; TG_ENOMEM for the cache
 * (g is then unchanged). */
int tg_bptt_reference(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                      const tg_real *h0, const tg_real *c0, const tg_real *dy, tg_bptt_grads *g);

/* ---- Adapters between conventions ---------------------------------------------------------
 *
 * The textbook layout (RNN and LSTM): one input matrix W_x (I x G·H) and one recurrent matrix
 * W_h (H x G·H) multiplied from the right (a = x·W_x + h·W_h + b), one bias b (G·H), and for
 * the LSTM the gate order f, g, i, o instead of PyTorch's i, f, g, o. The map is
 *     W_x[k][q·H + j] = W_ih[p(q)·H + j][k],  W_h likewise,  b = b_ih + b_hh,
 * with p = (1, 2, 0, 3) taking textbook block q to PyTorch block p(q) (the RNN: p = (0)).
 * Back to PyTorch, b_ih = b and b_hh = 0: the same function, not the same numbers.
 * Gradients map like the weights, except the bias: db = db_ih (= db_hh, the two biases enter
 * the cell as a sum), and back db_ih = db_hh = db.
 * The GRU cannot merge its biases (b_hn sits inside r ⊙ (...)); see tg_gru_flip_z.
 * Each returns TG_OK, or TG_EINVAL for the GRU or an unknown kind, TG_ENULL for a NULL array.
 * Sources and destinations must not overlap.
 */
int tg_textbook_from_torch(tg_cell_kind kind, size_t I, size_t H, const tg_real *W_ih,
                           const tg_real *W_hh, const tg_real *b_ih, const tg_real *b_hh,
                           tg_real *W_x, tg_real *W_h, tg_real *b);
int tg_textbook_to_torch(tg_cell_kind kind, size_t I, size_t H, const tg_real *W_x,
                         const tg_real *W_h, const tg_real *b, tg_real *W_ih, tg_real *W_hh,
                         tg_real *b_ih, tg_real *b_hh);
int tg_textbook_grads_from_torch(tg_cell_kind kind, size_t I, size_t H, const tg_real *dW_ih,
                                 const tg_real *dW_hh, const tg_real *db_ih, tg_real *dW_x,
                                 tg_real *dW_h, tg_real *db);
int tg_textbook_grads_to_torch(tg_cell_kind kind, size_t I, size_t H, const tg_real *dW_x,
                               const tg_real *dW_h, const tg_real *db, tg_real *dW_ih,
                               tg_real *dW_hh, tg_real *db_ih, tg_real *db_hh);

/* The GRU with its update gate reversed. Textbooks (Cho et al.; Goodfellow et al.) write
 *     h' = z ⊙ n + (1 − z) ⊙ h,     PyTorch   h' = (1 − z) ⊙ n + z ⊙ h.
 * Since 1 − σ(a) = σ(−a), one is the other with z's pre-activation negated: negate rows
 * [H, 2H) of W_ih and W_hh and entries [H, 2H) of b_ih and b_hh (the z block of the order
 * r, z, n); r and n are untouched. The map is its own inverse, works in place, and maps
 * gradients too (dL/d(−W) = −dL/dW). Any pointer may be NULL to skip that array. */
void tg_gru_flip_z(size_t I, size_t H, tg_real *W_ih, tg_real *W_hh, tg_real *b_ih, tg_real *b_hh);

TG_END_DECLS

#endif
