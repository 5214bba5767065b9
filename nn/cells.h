/* cells.h: recurrent cell types, and the built-in ones (RNN tanh and ReLU, LSTM, GRU) as four
 * instances of them.
 *
 * Dimension letters: B batch rows, I input features, H hidden units, G gates. A cell type is a
 * descriptor, like an op's (autograd/op.h): a name, the states it carries, its parameters with
 * their shapes as functions of I and H, an optional input side and a step. The step is a few
 * lines of public ops with no backward; tg_backward differentiates the recording. Everything the
 * library does with a cell (stacks, carried state, dropout between layers, the trainer,
 * checkpoints, gradient flow, the visualiser, the hand-BPTT check) goes through this descriptor
 * only, so a user's type registered with tg_cell_type_register is exactly as capable as the
 * built-in ones, which are registered the same way.
 *
 * A step maps one step's input side gx and the states s (each (B x H); a state of one row
 * (1 x H) broadcasts over the B rows) to the next states. State 0 is h, the cell's output.
 *
 * The built-ins follow PyTorch, so weights can be exchanged with torch.nn.RNN/LSTM/GRU:
 *   parameters weight_ih (G·H x I), weight_hh (G·H x H), bias_ih (1 x G·H), bias_hh (1 x G·H);
 *   LSTM gates i, f, g, o; GRU gates r, z, n with
 *   n = tanh(x·W_inᵀ + b_in + r ⊙ (h·W_hnᵀ + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h.
 *
 * Errors: a cell given NULL (an earlier op failed) returns NULL states and keeps the first
 * message; wrong widths record "<type>: x is (B x I'), h is (B x H') but the cell takes ...".
 * Check once, after the last step.
 *
 * Read next: nn/rnn.h (stacks of cells unrolled over time), docs/examples/mgu_cell.c (a user's
 * cell type from start to finish).
 */
#ifndef TG_CELLS_H
#define TG_CELLS_H

#include "autograd/rng.h"
#include "autograd/status.h"
#include "autograd/tape.h"
#include "nn/params.h"

#include <stddef.h>

TG_BEGIN_DECLS

#define TG_CELL_MAX_PARAMS 8  /* parameters of one cell type */
#define TG_CELL_MAX_STATES 4  /* states one cell type carries (h, c, ...) */
#define TG_CELL_MAX_TYPES  32 /* types registered at once, built-ins included */

/* A size as a function of the cell's I and H: h·H + i·I + one. */
typedef struct tg_dim {
    size_t h, i, one;
} tg_dim;

/* One parameter of a cell type, stored as "<prefix><name>_l<layer>" (PyTorch's state_dict
 * names for the built-ins) and initialised U(−1/√H, 1/√H), PyTorch's default. */
typedef struct tg_cell_param {
    const char *name; /* e.g. "weight_hh" */
    tg_dim rows, cols;
} tg_cell_param;

/* The states of one layer of one batch: state k is s.v[k], and s.h, s.c name states 0 and 1.
 * Make one as (tg_state){{h}} or (tg_state){{h, c}}: the states not given are NULL. */
typedef union tg_state {
    tg_tensor *v[TG_CELL_MAX_STATES];
    struct {
        tg_tensor *h, *c;
    };
} tg_state;

typedef struct tg_cell tg_cell;
typedef struct tg_cell_type tg_cell_type;

struct tg_cell_type {
    const char *name;                            /* how programs and checkpoints find it */
    size_t n_states;                             /* 1 to TG_CELL_MAX_STATES; state 0 is h */
    const char *state_names[TG_CELL_MAX_STATES]; /* "h", "c", ...: reports and pictures */
    size_t n_params;                             /* 1 to TG_CELL_MAX_PARAMS */
    tg_cell_param params[TG_CELL_MAX_PARAMS];    /* cell->p[k] is params[k] */
    /* What does not depend on the state, for many steps at once: x (n x I) -> gx (n x N), the
     * stack calls it once on all T·B rows of a layer and hands each step its B rows. NULL:
     * the step receives x itself. */
    tg_tensor *(*input)(tg_tape *t, const tg_cell *cell, tg_tensor *x);
    /* One step: gx (B x N) (or x) and the states s -> the next states. Records ops only. */
    tg_state (*step)(tg_tape *t, const tg_cell *cell, tg_tensor *gx, tg_state s);
};

/* One layer's cell: its type, sizes and parameters. */
struct tg_cell {
    const tg_cell_type *type;
    size_t in, hidden;                /* I and H */
    tg_tensor *p[TG_CELL_MAX_PARAMS]; /* the type's parameters in its order; borrowed from the
                                         store, so weights are shared across time steps */
};

/* The built-in types: "rnn" (tanh), "rnn-relu", "lstm", "gru". */
extern const tg_cell_type tg_cell_rnn;
extern const tg_cell_type tg_cell_rnn_relu;
extern const tg_cell_type tg_cell_lstm;
extern const tg_cell_type tg_cell_gru;

/* Make type findable by its name (programs, checkpoints). The descriptor is borrowed and must
 * outlive every use; registering the same descriptor again is a no-op. Returns TG_OK, or
 * TG_EINVAL (no name, no step, a state or parameter count out of range, a parameter without a
 * name, another type of the same name) or TG_ERANGE (the registry is full), with nothing
 * changed. Not thread-safe: register before starting threads that look types up. */
int tg_cell_type_register(const tg_cell_type *type, tg_status *st);
/* The registered type of that name, or NULL. The built-ins are always registered. */
const tg_cell_type *tg_cell_type_find(const char *name);
/* Registered types in registration order (built-ins first); NULL when i >= the count. */
const tg_cell_type *tg_cell_type_at(size_t i);

/* Rows and columns of the type's k-th parameter for these I and H (0 x 0 when k is out of
 * range or the size overflows). */
void tg_cell_param_shape(const tg_cell_type *type, size_t k, size_t in, size_t hidden, size_t *rows,
                         size_t *cols);

/* Add the cell's parameters to ps as "<prefix><name>_l<layer>" (prefix may be NULL or e.g.
 * "rnn."), initialised U(−1/√H, 1/√H) (zeros when rng is NULL). Returns TG_OK, or TG_EINVAL
 * (a zero size, a bad or duplicate name) or TG_ENOMEM with the message in st; on failure *cell
 * is zeroed and parameters added before the failure stay in ps. */
int tg_cell_init(tg_cell *cell, tg_params *ps, const char *prefix, size_t layer,
                 const tg_cell_type *type, size_t in, size_t hidden, tg_rng *rng, tg_status *st);

/* The parameter of that name (without prefix and layer, e.g. "weight_hh"), or NULL. */
tg_tensor *tg_cell_param_named(const tg_cell *cell, const char *name);

/* LSTM only: set the forget-gate slice of bias_ih, columns [H, 2H), to v (bias_hh is left as it
 * is). Returns TG_OK, or TG_EINVAL with a message for a cell of another type. */
int tg_lstm_set_forget_bias(tg_cell *cell, double v, tg_status *st);

/* The input side of a step for any number of rows: x (n x I) -> type->input(x), or x itself. */
tg_tensor *tg_cell_input(tg_tape *t, const tg_cell *cell, tg_tensor *x);

/* One step from the input side gx = tg_cell_input(x), with the states checked (present, H
 * wide, B or 1 rows) against gx's rows. */
tg_state tg_cell_step_gx(tg_tape *t, const tg_cell *cell, tg_tensor *gx, tg_state s);

/* One step from x (B x I): the input side, then the step. States the type does not carry are
 * NULL in the result. */
tg_state tg_cell_step(tg_tape *t, const tg_cell *cell, tg_tensor *x, tg_state s);

TG_END_DECLS

#endif
