/* cells.c: the cell-type registry, what every type gets (parameters, shape checks, a step), and
 * the four built-in types, each a descriptor and a few lines of public ops with no backward.
 *
 * Each line of a cell computes one equation and carries it as a trailing comment; tg_backward
 * differentiates the recording. Gates come from one fused product per operand,
 * x·W_ihᵀ + biases and h·W_hhᵀ (B x G·H), cut into (B x H) gates with tg_slice_cols in PyTorch's
 * order. A missing op shows up here as a temptation to write a backward: add the op.
 *
 * Read next: nn/rnn.c (stacks of cells unrolled over time, carried state).
 */
#include "nn/cells.h"

#include "autograd/op.h"
#include "autograd/walk.h"
#include "ops/binary.h"
#include "ops/fused.h"
#include "ops/matmul.h"
#include "ops/shape.h"
#include "ops/unary.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- The registry ----------------------------------------------------------------------- */

static const tg_cell_type *registry[TG_CELL_MAX_TYPES] = {&tg_cell_rnn, &tg_cell_rnn_relu,
                                                          &tg_cell_lstm, &tg_cell_gru};
static size_t n_registered = 4;

/* NULL when the descriptor is well formed, else what is wrong with it. */
static const char *malformed(const tg_cell_type *ty)
{
    if (!ty->name || !ty->name[0]) return "it has no name";
    if (!ty->step) return "it has no step";
    if (ty->n_states < 1 || ty->n_states > TG_CELL_MAX_STATES) return "n_states is not 1 to 4";
    if (ty->n_params < 1 || ty->n_params > TG_CELL_MAX_PARAMS) return "n_params is not 1 to 8";
    for (size_t k = 0; k < ty->n_params; k++)
        if (!ty->params[k].name || !ty->params[k].name[0]) return "a parameter has no name";
    return NULL;
}

int tg_cell_type_register(const tg_cell_type *ty, tg_status *st)
{
    if (!ty) return tg_status_set(st, TG_ENULL, "tg_cell_type_register: the type is NULL");
    const char *why = malformed(ty);
    if (why)
        return tg_status_set(st, TG_EINVAL, "tg_cell_type_register: '%s': %s",
                             ty->name ? ty->name : "(null)", why);
    const tg_cell_type *same = tg_cell_type_find(ty->name);
    if (same == ty) return TG_OK;
    if (same)
        return tg_status_set(st, TG_EINVAL,
                             "tg_cell_type_register: another type is already named '%s'", ty->name);
    if (n_registered == TG_CELL_MAX_TYPES)
        return tg_status_set(st, TG_ERANGE, "tg_cell_type_register: '%s': %d types already",
                             ty->name, TG_CELL_MAX_TYPES);
    registry[n_registered++] = ty;
    return TG_OK;
}

const tg_cell_type *tg_cell_type_find(const char *name)
{
    for (size_t i = 0; name && i < n_registered; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

const tg_cell_type *tg_cell_type_at(size_t i)
{
    return i < n_registered ? registry[i] : NULL;
}

/* ---- What every type gets ----------------------------------------------------------------- */

/* d.h·H + d.i·I + d.one, or 0 when it overflows. */
static size_t dim_of(tg_dim d, size_t in, size_t hidden)
{
    if ((d.h && hidden > SIZE_MAX / d.h) || (d.i && in > SIZE_MAX / d.i)) return 0;
    size_t a = d.h * hidden, b = d.i * in;
    if (a > SIZE_MAX - b || a + b > SIZE_MAX - d.one) return 0;
    return a + b + d.one;
}

void tg_cell_param_shape(const tg_cell_type *ty, size_t k, size_t in, size_t hidden, size_t *rows,
                         size_t *cols)
{
    *rows = *cols = 0;
    if (k >= ty->n_params) return;
    size_t r = dim_of(ty->params[k].rows, in, hidden), c = dim_of(ty->params[k].cols, in, hidden);
    if (r && c) *rows = r, *cols = c;
}

int tg_cell_init(tg_cell *cell, tg_params *ps, const char *prefix, size_t layer,
                 const tg_cell_type *ty, size_t in, size_t hidden, tg_rng *rng, tg_status *st)
{
    memset(cell, 0, sizeof *cell);
    if (!ty || !ps) return tg_status_set(st, TG_ENULL, "tg_cell_init: the type or store is NULL");
    if (in == 0 || hidden == 0)
        return tg_status_set(st, TG_EINVAL,
                             "tg_cell_init: %s with I = %zu, H = %zu: sizes must "
                             "be at least 1",
                             ty->name, in, hidden);
    tg_cell c = {ty, in, hidden, {0}};
    double a = 1.0 / sqrt((double)hidden);
    for (size_t k = 0; k < ty->n_params; k++) {
        size_t rows, cols;
        char name[128];
        tg_cell_param_shape(ty, k, in, hidden, &rows, &cols);
        snprintf(name, sizeof name, "%s%s_l%zu", prefix ? prefix : "", ty->params[k].name, layer);
        tg_status add;
        int rc = rows ? tg_params_add(ps, name, rows, cols, &c.p[k], &add) : TG_EINVAL;
        if (rc != TG_OK)
            return tg_status_set(st, rc, "tg_cell_init: %s parameter %s (%zu x %zu): %s", ty->name,
                                 name, rows, cols, rows ? add.msg : "overflows");
        if (rng) tg_init_uniform(c.p[k], -a, a, rng);
    }
    *cell = c;
    return TG_OK;
}

tg_tensor *tg_cell_param_named(const tg_cell *cell, const char *name)
{
    for (size_t k = 0; cell->type && k < cell->type->n_params; k++)
        if (strcmp(cell->type->params[k].name, name) == 0) return cell->p[k];
    return NULL;
}

tg_tensor *tg_cell_input(tg_tape *t, const tg_cell *cell, tg_tensor *x)
{
    return cell->type->input ? cell->type->input(t, cell, x) : x;
}

/* 1 when every state the type carries is present and (rows x H) or (1 x H); otherwise 0 with
 * a message naming the type and the shapes (unless an earlier error is kept). */
static int states_fit(tg_tape *t, const tg_cell *cell, size_t rows, tg_state s)
{
    const tg_cell_type *ty = cell->type;
    for (size_t k = 0; k < ty->n_states; k++) {
        tg_tensor *v = s.v[k];
        if (!v) return !tg_fail(t, "%s: state %s is NULL", ty->name, ty->state_names[k]);
        if (v->cols != cell->hidden || (v->rows != rows && v->rows != 1)) {
            tg_fail(t, "%s: state %s is " TG_SHAPE " but the cell takes (%zu x %zu) or (1 x %zu)",
                    ty->name, ty->state_names[k], TG_DIMS(v), rows, cell->hidden, cell->hidden);
            return 0;
        }
    }
    return 1;
}

tg_state tg_cell_step_gx(tg_tape *t, const tg_cell *cell, tg_tensor *gx, tg_state s)
{
    tg_state none = {{0}};
    if (!gx) return tg_fail(t, "%s: the input side is NULL", cell->type->name), none;
    if (!states_fit(t, cell, gx->rows, s)) return none;
    return cell->type->step(t, cell, gx, s);
}

tg_state tg_cell_step(tg_tape *t, const tg_cell *cell, tg_tensor *x, tg_state s)
{
    tg_state none = {{0}};
    if (!x) return tg_fail(t, "%s: x is NULL", cell->type->name), none;
    if (x->cols != cell->in) {
        tg_fail(t, "%s: x is " TG_SHAPE " but the cell takes x (B x %zu)", cell->type->name,
                TG_DIMS(x), cell->in);
        return none;
    }
    return tg_cell_step_gx(t, cell, tg_cell_input(t, cell, x), s);
}

int tg_lstm_set_forget_bias(tg_cell *cell, double v, tg_status *st)
{
    if (cell->type != &tg_cell_lstm)
        return tg_status_set(st, TG_EINVAL, "tg_lstm_set_forget_bias: the cell is %s, not lstm",
                             cell->type ? cell->type->name : "not initialised");
    tg_tensor *b_ih = tg_cell_param_named(cell, "bias_ih");
    for (size_t j = cell->hidden; j < 2 * cell->hidden; j++) b_ih->val[j] = (tg_real)v;
    return TG_OK;
}

/* ---- The built-in types ------------------------------------------------------------------ */

/* Parameters of the built-ins, PyTorch's: G gates of H, four tensors. */
enum { W_IH, W_HH, B_IH, B_HH };
#define TORCH_PARAMS(G)                                                                            \
    4,                                                                                             \
    {                                                                                              \
        {"weight_ih", {G, 0, 0}, {0, 1, 0}}, {"weight_hh", {G, 0, 0}, {1, 0, 0}},                  \
            {"bias_ih", {0, 0, 1}, {G, 0, 0}}, {"bias_hh", {0, 0, 1}, {G, 0, 0}},                  \
    }

/* The k-th (B x H) gate of a fused (B x G·H) product. */
static tg_tensor *gate(tg_tape *t, tg_tensor *a, size_t k, size_t H)
{
    return tg_slice_cols(t, a, k * H, H);
}

/* gx + h·W_hhᵀ in one node; a (1 x H) state, broadcast over the batch, as a product and an add. */
static tg_tensor *plus_recurrent(tg_tape *t, tg_tensor *gx, tg_tensor *h, tg_tensor *W_hh)
{
    if (gx && h && h->rows != gx->rows) return tg_add(t, gx, tg_matmul(t, h, W_hh, TG_TRANS_B));
    return tg_addmm(t, gx, h, W_hh, TG_TRANS_B);
}

/* The RNN's and the LSTM's two biases add to the same pre-activation, so the input side of all
 * steps carries both and a step adds only h·W_hhᵀ: gx = x·W_ihᵀ + b_ih + b_hh. */
static tg_tensor *input_both_biases(tg_tape *t, const tg_cell *c, tg_tensor *x)
{
    return tg_addmm(t, tg_add(t, c->p[B_IH], c->p[B_HH]), x, c->p[W_IH], TG_TRANS_B);
}

/* h' = tanh(gx + h·W_hhᵀ). */
static tg_state rnn_tanh(tg_tape *t, const tg_cell *c, tg_tensor *gx, tg_state s)
{
    return (tg_state){{tg_tanh(t, plus_recurrent(t, gx, s.h, c->p[W_HH]))}};
}

/* h' = relu(gx + h·W_hhᵀ). */
static tg_state rnn_relu(tg_tape *t, const tg_cell *c, tg_tensor *gx, tg_state s)
{
    return (tg_state){{tg_relu(t, plus_recurrent(t, gx, s.h, c->p[W_HH]))}};
}

/* (h, c) -> (h', c'); W_hh (4H x H), gates i, f, g, o in column blocks of H. */
static tg_state lstm(tg_tape *t, const tg_cell *p, tg_tensor *gx, tg_state s)
{
    size_t H = p->hidden;
    tg_tensor *a = plus_recurrent(t, gx, s.h, p->p[W_HH]); /* a = gx + h·W_hhᵀ */
    tg_tensor *i = tg_sigmoid(t, gate(t, a, 0, H));        /* i = σ(a_i) */
    tg_tensor *f = tg_sigmoid(t, gate(t, a, 1, H));        /* f = σ(a_f) */
    tg_tensor *g = tg_tanh(t, gate(t, a, 2, H));           /* g = tanh(a_g) */
    tg_tensor *o = tg_sigmoid(t, gate(t, a, 3, H));        /* o = σ(a_o) */
    tg_label(i, "i"), tg_label(f, "f"), tg_label(g, "g"), tg_label(o, "o"); /* for print, walk */
    tg_tensor *c = tg_addcmul(t, tg_mul(t, f, s.c), i, g); /* c' = f ⊙ c + i ⊙ g */
    tg_tensor *h = tg_mul(t, o, tg_tanh(t, c));            /* h' = o ⊙ tanh(c') */
    return (tg_state){{h, c}};
}

/* gx = x·W_ihᵀ + b_ih: the GRU's b_hh sits inside r ⊙ (…) and stays in the step. */
static tg_tensor *gru_input(tg_tape *t, const tg_cell *c, tg_tensor *x)
{
    return tg_addmm(t, c->p[B_IH], x, c->p[W_IH], TG_TRANS_B);
}

/* h -> h'; W_hh (3H x H), b_hh (1 x 3H), gates r, z, n in column blocks of H. Exactly
 * PyTorch's GRU (b_hn stays inside r ⊙ (...)). */
static tg_state gru(tg_tape *t, const tg_cell *p, tg_tensor *gx, tg_state s)
{
    size_t H = p->hidden;
    tg_tensor *h = s.h, *gh, *r, *z, *hn, *n;
    gh = tg_addmm(t, p->p[B_HH], h, p->p[W_HH], TG_TRANS_B);            /* gh = h·W_hhᵀ + b_hh */
    r = tg_sigmoid(t, tg_add(t, gate(t, gx, 0, H), gate(t, gh, 0, H))); /* r = σ(gx_r + gh_r) */
    z = tg_sigmoid(t, tg_add(t, gate(t, gx, 1, H), gate(t, gh, 1, H))); /* z = σ(gx_z + gh_z) */
    hn = tg_mul(t, r, gate(t, gh, 2, H));                               /* r ⊙ gh_n */
    n = tg_tanh(t, tg_add(t, gate(t, gx, 2, H), hn));                   /* n = tanh(gx_n + hn) */
    tg_label(r, "r"), tg_label(z, "z"), tg_label(n, "n");      /* names for print, dot, the walk */
    h = tg_addcmul(t, tg_mul(t, tg_one_minus(t, z), n), z, h); /* h' = (1−z)⊙n + z⊙h */
    return (tg_state){{h}};
}

const tg_cell_type tg_cell_rnn = {"rnn", 1, {"h"}, TORCH_PARAMS(1), input_both_biases, rnn_tanh};
const tg_cell_type tg_cell_rnn_relu = {"rnn-relu",        1,       {"h"}, TORCH_PARAMS(1),
                                       input_both_biases, rnn_relu};
const tg_cell_type tg_cell_lstm = {"lstm", 2, {"h", "c"}, TORCH_PARAMS(4), input_both_biases, lstm};
const tg_cell_type tg_cell_gru = {"gru", 1, {"h"}, TORCH_PARAMS(3), gru_input, gru};
