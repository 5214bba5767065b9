/* rnn.h: stacks of recurrent cells unrolled over time, and state carried between windows.
 *
 * Dimension letters: T time steps, B batch rows, I input features, H hidden units, L layers.
 * A tg_rnn is L cells of one type (nn/cells.h; layer 0 takes I inputs, the others H), named
 * "<prefix><param>_l<k>", as PyTorch's nn.RNN/LSTM/GRU state_dict for the built-in types.
 * Between layers, in training (an rng given), the outputs of layer k pass through tg_dropout
 * before layer k + 1 reads them. Each step's states are labelled for print, dot and the walk
 * (tg_label): "h_1", "c_1", ... after step 1, the zeros or carried values the stack starts
 * from "h_0"; in a stack of several layers with the layer, "l1.h_3".
 *
 * Truncated BPTT. A tg_rnn_carry owns the last value of every state the type carries (h, and
 * c for the LSTM, ...) of every layer in heap buffers outside any tape. Per window:
 *     tg_rnn_carry_load(t, &carry, s);      s[k] become tg_input leaves: no gradient flows back
 *     tg_rnn_forward(t, &rnn, T, xs, s, ys, rng);  ... loss, tg_backward, optimizer step ...
 *     tg_rnn_carry_store(&carry, s);        copy the final values out (a detach)
 *     tg_tape_reset(t);                     now allowed: nothing on the tape is needed any more
 * One window over the whole sequence is full BPTT. To differentiate with respect to the
 * initial state (gradient checks), pass caller-owned leaves with gradients in s instead.
 *
 *   INVALIDATION RULE: the tensors tg_rnn_carry_load and tg_rnn_forward put in s and ys belong
 *   to the tape and die at its reset; the carry's buffers survive, and change only at store,
 *   zero and deinit.
 *
 * Speed: the stack runs layer by layer. A layer's input side (the type's `input`, x·W_ihᵀ + b_ih
 * for the built-ins) does not depend on its state, so it is one (T·B x I) product for all T
 * steps, cut per step with tg_slice_rows; only the step's recurrent part goes step by step.
 */
#ifndef TG_RNN_H
#define TG_RNN_H

#include "autograd/rng.h"
#include "autograd/tape.h"
#include "nn/cells.h"
#include "nn/params.h"

#include <stddef.h>

TG_BEGIN_DECLS

typedef struct tg_rnn {
    const tg_cell_type *type;
    size_t layers, in, hidden; /* L, I, H */
    double dropout;            /* rate between layers, in training (an rng given); 0 for none */
    tg_cell *cells;            /* L cells; the array is owned, their tensors are the store's */
} tg_rnn;

/* Add L cells' parameters to ps (prefix may be NULL, e.g. "rnn."), initialised as in
 * tg_cell_init. dropout must be in [0, 1). Returns TG_OK, or TG_ENULL (no type), TG_EINVAL (bad
 * sizes, dropout or names) or TG_ENOMEM with the message in st; on failure *r is zeroed (no
 * deinit needed) and parameters added before the failure stay in ps. */
int tg_rnn_init(tg_rnn *r, tg_params *ps, const char *prefix, const tg_cell_type *type, size_t in,
                size_t hidden, size_t layers, double dropout, tg_rng *rng, tg_status *st);
void tg_rnn_deinit(tg_rnn *r);

/* Unroll T >= 1 steps. xs[0..T-1] are (B x I). s, when not NULL, holds L states: on entry the
 * initial state of each layer (a NULL state starts from zeros (B x H)), on return the final
 * one. ys, when not NULL, receives the T top-layer outputs (B x H): the
 * many-to-many result. Returns the last top-layer h (many-to-one), or NULL on error with the
 * message on the tape (e.g. a wrong input width names the cell and the shapes). rng draws the
 * dropout masks in training; NULL is evaluation: no dropout (PyTorch's model.eval()). */
tg_tensor *tg_rnn_forward(tg_tape *t, const tg_rnn *r, size_t T, tg_tensor *const *xs, tg_state *s,
                          tg_tensor **ys, tg_rng *rng);

/* The same with the T inputs stacked in one tensor x (T·B x I), step t in rows [t·B, t·B + B):
 * the form a language model has after its embedding, with no per-step pieces to cut. */
tg_tensor *tg_rnn_forward_rows(tg_tape *t, const tg_rnn *r, size_t T, tg_tensor *x, tg_state *s,
                               tg_tensor **ys, tg_rng *rng);

typedef struct tg_rnn_carry {
    const tg_cell_type *type; /* whose states these are (names: type->state_names); borrowed */
    size_t layers, B, H, n_states;
    tg_real *v[TG_CELL_MAX_STATES]; /* state k of every layer: L·B·H values, layer after layer;
                                       owned; NULL for k >= n_states */
} tg_rnn_carry;

/* Zeroed buffers for r's layers, its type's states and B rows. TG_OK, or TG_EINVAL (B or r's
 * sizes zero, or L·B·H overflows) or TG_ENOMEM with the message in st (then *cs is zeroed;
 * deinit is harmless). */
int tg_rnn_carry_init(tg_rnn_carry *cs, const tg_rnn *r, size_t B, tg_status *st);
void tg_rnn_carry_deinit(tg_rnn_carry *cs);
/* Back to the zero state (a new sequence, a new epoch). */
void tg_rnn_carry_zero(tg_rnn_carry *cs);
/* s[0..L-1] = copies of the carried state as tg_input leaves of t (no gradient). TG_OK, or
 * TG_ENOMEM with the message on the tape. */
int tg_rnn_carry_load(tg_tape *t, const tg_rnn_carry *cs, tg_state *s);
/* Copy the values of s[0..L-1] (every carried state) into the buffers. TG_OK; TG_ENULL when
 * a state is NULL (a failed forward) or TG_ESHAPE when one is not (B x H), with the message in
 * st naming the layer and the state; the buffers are then unchanged. */
int tg_rnn_carry_store(tg_rnn_carry *cs, const tg_state *s, tg_status *st);

TG_END_DECLS

#endif
