/* cells.c: RNN, LSTM and GRU steps, each a few lines of public ops and no backward.
 *
 * Each line of a cell computes one equation and carries it as a trailing comment; tg_backward
 * differentiates the recording. Gates come from one fused product per operand,
 * x·W_ihᵀ + biases and h·W_hhᵀ (B x G·H), cut into (B x H) gates with tg_slice_cols in PyTorch's
 * order. A missing op shows up here as a temptation to write a backward: add the op.
 *
 * Read next: nn/rnn.c (stacks of cells unrolled over time, carried state).
 */
#include "nn/cells.h"

#include "autograd/internal.h"
#include "ops/binary.h"
#include "ops/matmul.h"
#include "ops/shape.h"
#include "ops/unary.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t tg_cell_gates(tg_cell_kind kind)
{
    switch (kind) {
    case TG_RNN_TANH:
    case TG_RNN_RELU:
        return 1;
    case TG_LSTM:
        return 4;
    case TG_GRU:
        return 3;
    }
    return 0;
}

/* Add "<prefix><what>_l<layer>" (rows x cols) to ps. TG_OK, or TG_EINVAL / TG_ENOMEM. */
static int add(tg_params *ps, const char *prefix, const char *what, size_t layer, size_t rows,
               size_t cols, tg_tensor **out)
{
    char name[128];
    int n = snprintf(name, sizeof name, "%s%s_l%zu", prefix ? prefix : "", what, layer);
    *out = tg_params_add(ps, name, rows, cols); /* a truncated name is > 63 bytes: rejected */
    if (*out) return TG_OK;
    return tg_params_find(ps, name) || n > 63 || rows == 0 || cols == 0 ? TG_EINVAL : TG_ENOMEM;
}

int tg_cell_init(tg_cell *cell, tg_params *ps, const char *prefix, size_t layer, tg_cell_kind kind,
                 size_t in, size_t hidden, tg_rng *rng)
{
    static const char *const what[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    memset(cell, 0, sizeof *cell);
    size_t G = tg_cell_gates(kind);
    if (G == 0 || hidden > SIZE_MAX / G) return TG_EINVAL;
    const size_t rows[4] = {G * hidden, G * hidden, 1, 1};
    const size_t cols[4] = {in, hidden, G * hidden, G * hidden};
    tg_tensor *p[4];
    for (int k = 0; k < 4; k++) {
        int rc = add(ps, prefix, what[k], layer, rows[k], cols[k], &p[k]);
        if (rc != TG_OK) return rc;
    }
    double a = 1.0 / sqrt((double)hidden);
    for (int k = 0; rng && k < 4; k++) tg_init_uniform(p[k], -a, a, rng);
    *cell = (tg_cell){kind, in, hidden, p[0], p[1], p[2], p[3]};
    return TG_OK;
}

int tg_lstm_set_forget_bias(tg_cell *cell, double v)
{
    if (cell->kind != TG_LSTM || !cell->b_ih) return TG_EINVAL;
    for (size_t j = cell->hidden; j < 2 * cell->hidden; j++) cell->b_ih->val[j] = (tg_real)v;
    return TG_OK;
}

/* 1 when x, h (and c, when asked for) are present and fit the cell; otherwise 0 with a message
 * naming the cell and the shapes, or the NULL input (unless an earlier error is kept). */
static int fits(tg_tape *t, const char *name, const tg_cell *p, tg_tensor *x, tg_tensor *h,
                tg_tensor *c, int want_c)
{
    const char *missing = !x ? "x" : !h ? "h" : want_c && !c ? "c" : NULL;
    if (missing) return !tgi_fail(t, "%s: %s is NULL", name, missing); /* keeps a first error */
    int ok_h = h->cols == p->hidden && (h->rows == x->rows || h->rows == 1);
    int ok_c = !want_c || (c->cols == p->hidden && (c->rows == x->rows || c->rows == 1));
    if (x->cols == p->in && ok_h && ok_c) return 1;
    tgi_fail(t,
             "%s: x is " TGI_SHAPE ", h is " TGI_SHAPE "%s but the cell takes x (B x %zu), "
             "h%s (B x %zu) or (1 x %zu)",
             name, TGI_DIMS(x), TGI_DIMS(h), want_c ? (ok_c ? "" : ", c has another shape") : "",
             p->in, want_c ? " and c" : "", p->hidden, p->hidden);
    return 0;
}

/* x·Wᵀ + b: (B x G·H), one fused product for all of a cell's gates, in one node. */
static tg_tensor *affine(tg_tape *t, tg_tensor *x, tg_tensor *W, tg_tensor *b)
{
    return tg_addmm(t, b, x, W, TG_TRANS_B);
}

/* gx + h·W_hhᵀ in one node; a (1 x H) state, broadcast over the batch, as a product and an add. */
static tg_tensor *plus_recurrent(tg_tape *t, tg_tensor *gx, tg_tensor *h, tg_tensor *W_hh)
{
    if (gx && h && h->rows != gx->rows) return tg_add(t, gx, tg_matmul(t, h, W_hh, TG_TRANS_B));
    return tg_addmm(t, gx, h, W_hh, TG_TRANS_B);
}

/* The k-th (B x H) gate of a fused (B x G·H) product. */
static tg_tensor *gate(tg_tape *t, tg_tensor *a, size_t k, size_t H)
{
    return tg_slice_cols(t, a, k * H, H);
}

/* The RNN's and the LSTM's two biases add to the same pre-activation, so gx carries both and a
 * step adds only h·W_hhᵀ; the GRU's b_hh sits inside r ⊙ (…) and stays in the step. */
tg_tensor *tg_cell_input(tg_tape *t, const tg_cell *p, tg_tensor *x)
{
    if (p->kind == TG_GRU) return affine(t, x, p->W_ih, p->b_ih); /* gx = x·W_ihᵀ + b_ih */
    return affine(t, x, p->W_ih, tg_add(t, p->b_ih, p->b_hh)); /* gx = x·W_ihᵀ + b_ih + b_hh */
}

/* The cells proper, from the input side gx (B x G·H) and the state. */

/* h' = act(gx + h·W_hhᵀ), gx holding both biases; W_hh (H x H). */
static tg_tensor *rnn(tg_tape *t, const tg_cell *p, tg_tensor *gx, tg_tensor *h)
{
    tg_tensor *a = plus_recurrent(t, gx, h, p->W_hh);              /* a = gx + h·W_hhᵀ */
    return p->kind == TG_RNN_RELU ? tg_relu(t, a) : tg_tanh(t, a); /* h' = act(a) */
}

/* (h, c) -> (h', c'); W_hh (4H x H), gates i, f, g, o in column blocks of H; gx holds both
 * biases. */
static tg_state lstm(tg_tape *t, const tg_cell *p, tg_tensor *gx, tg_state s)
{
    size_t H = p->hidden;
    tg_tensor *a = plus_recurrent(t, gx, s.h, p->W_hh);           /* a = gx + h·W_hhᵀ */
    tg_tensor *i = tg_sigmoid(t, gate(t, a, 0, H));               /* i = σ(a_i) */
    tg_tensor *f = tg_sigmoid(t, gate(t, a, 1, H));               /* f = σ(a_f) */
    tg_tensor *g = tg_tanh(t, gate(t, a, 2, H));                  /* g = tanh(a_g) */
    tg_tensor *o = tg_sigmoid(t, gate(t, a, 3, H));               /* o = σ(a_o) */
    tg_tensor *c = tg_add(t, tg_mul(t, f, s.c), tg_mul(t, i, g)); /* c' = f ⊙ c + i ⊙ g */
    tg_tensor *h = tg_mul(t, o, tg_tanh(t, c));                   /* h' = o ⊙ tanh(c') */
    return (tg_state){h, c};
}

/* h -> h'; W_hh (3H x H), b_hh (1 x 3H), gates r, z, n in column blocks of H. Exactly
 * PyTorch's GRU (b_hn stays inside r ⊙ (...)). */
static tg_tensor *gru(tg_tape *t, const tg_cell *p, tg_tensor *gx, tg_tensor *h)
{
    size_t H = p->hidden;
    tg_tensor *gh, *r, *z, *hn, *n;
    gh = affine(t, h, p->W_hh, p->b_hh);                                /* gh = h·W_hhᵀ + b_hh */
    r = tg_sigmoid(t, tg_add(t, gate(t, gx, 0, H), gate(t, gh, 0, H))); /* r = σ(gx_r + gh_r) */
    z = tg_sigmoid(t, tg_add(t, gate(t, gx, 1, H), gate(t, gh, 1, H))); /* z = σ(gx_z + gh_z) */
    hn = tg_mul(t, r, gate(t, gh, 2, H));                               /* r ⊙ gh_n */
    n = tg_tanh(t, tg_add(t, gate(t, gx, 2, H), hn));                   /* n = tanh(gx_n + hn) */
    return tg_add(t, tg_mul(t, tg_one_minus(t, z), n), tg_mul(t, z, h)); /* h' = (1−z)⊙n + z⊙h */
}

/* x (B x I), h (B x H) -> h' (B x H). */
tg_tensor *tg_rnn_cell(tg_tape *t, const tg_cell *p, tg_tensor *x, tg_tensor *h)
{
    if (!fits(t, "tg_rnn_cell", p, x, h, NULL, 0)) return NULL;
    return rnn(t, p, tg_cell_input(t, p, x), h);
}

/* x (B x I), h and c (B x H) -> h', c' (B x H). */
tg_state tg_lstm_cell(tg_tape *t, const tg_cell *p, tg_tensor *x, tg_state s)
{
    if (!fits(t, "tg_lstm_cell", p, x, s.h, s.c, 1)) return (tg_state){NULL, NULL};
    return lstm(t, p, tg_cell_input(t, p, x), s);
}

/* x (B x I), h (B x H) -> h' (B x H). */
tg_tensor *tg_gru_cell(tg_tape *t, const tg_cell *p, tg_tensor *x, tg_tensor *h)
{
    if (!fits(t, "tg_gru_cell", p, x, h, NULL, 0)) return NULL;
    return gru(t, p, tg_cell_input(t, p, x), h);
}

tg_state tg_cell_step_gx(tg_tape *t, const tg_cell *cell, tg_tensor *gx, tg_state s)
{
    size_t GH = tg_cell_gates(cell->kind) * cell->hidden;
    tg_tensor *in[3] = {gx, s.h, cell->kind == TG_LSTM ? s.c : gx};
    if (!tgi_check(t, "tg_cell_step_gx", 3, in)) return (tg_state){NULL, NULL};
    if (gx->cols != GH || s.h->cols != cell->hidden) {
        tgi_fail(t,
                 "tg_cell_step_gx: gx is " TGI_SHAPE ", h is " TGI_SHAPE
                 " but the cell takes gx (B x %zu), h (B x %zu)",
                 TGI_DIMS(gx), TGI_DIMS(s.h), GH, cell->hidden);
        return (tg_state){NULL, NULL};
    }
    switch (cell->kind) {
    case TG_LSTM:
        return lstm(t, cell, gx, s);
    case TG_GRU:
        return (tg_state){gru(t, cell, gx, s.h), NULL};
    default:
        return (tg_state){rnn(t, cell, gx, s.h), NULL};
    }
}

tg_state tg_cell_step(tg_tape *t, const tg_cell *cell, tg_tensor *x, tg_state s)
{
    switch (cell->kind) {
    case TG_LSTM:
        return tg_lstm_cell(t, cell, x, s);
    case TG_GRU:
        return (tg_state){tg_gru_cell(t, cell, x, s.h), NULL};
    default:
        return (tg_state){tg_rnn_cell(t, cell, x, s.h), NULL};
    }
}
