/* user_lstm.c: an LSTM cell type defined outside the library from public ops only, the way a
 * user defines their own cell. Same equations and parameters as the built-in "lstm" (PyTorch's
 * layout), so it trains the same model; benchmarks/bench_train --cell user-lstm times it
 * against the built-in one (docs/results.md). */
#include "user_lstm.h"

enum { W_IH, W_HH, B_IH, B_HH }; /* the order of the parameters below */

/* Everything that does not depend on h, for all T steps at once: gx = x·W_ihᵀ + b_ih + b_hh. */
static tg_tensor *input(tg_tape *t, const tg_cell *p, tg_tensor *x)
{
    return tg_addmm(t, tg_add(t, p->p[B_IH], p->p[B_HH]), x, p->p[W_IH], TG_TRANS_B);
}

/* (h, c) -> (h', c'); gates i, f, g, o in column blocks of H. */
static tg_state step(tg_tape *t, const tg_cell *p, tg_tensor *gx, tg_state s)
{
    size_t H = p->hidden;
    tg_tensor *a = tg_addmm(t, gx, s.h, p->p[W_HH], TG_TRANS_B);  /* a = gx + h·W_hhᵀ */
    tg_tensor *i = tg_sigmoid(t, tg_slice_cols(t, a, 0 * H, H));  /* i = σ(a_i) */
    tg_tensor *f = tg_sigmoid(t, tg_slice_cols(t, a, 1 * H, H));  /* f = σ(a_f) */
    tg_tensor *g = tg_tanh(t, tg_slice_cols(t, a, 2 * H, H));     /* g = tanh(a_g) */
    tg_tensor *o = tg_sigmoid(t, tg_slice_cols(t, a, 3 * H, H));  /* o = σ(a_o) */
    tg_tensor *c = tg_add(t, tg_mul(t, f, s.c), tg_mul(t, i, g)); /* c' = f ⊙ c + i ⊙ g */
    return (tg_state){{tg_mul(t, o, tg_tanh(t, c)), c}};          /* h' = o ⊙ tanh(c') */
}

const tg_cell_type user_lstm = {
    .name = "user-lstm",
    .n_states = 2,
    .state_names = {"h", "c"},
    .n_params = 4,
    .params = {{"weight_ih", {4, 0, 0}, {0, 1, 0}}, /* (4H x I) */
               {"weight_hh", {4, 0, 0}, {1, 0, 0}}, /* (4H x H) */
               {"bias_ih", {0, 0, 1}, {4, 0, 0}},   /* (1 x 4H) */
               {"bias_hh", {0, 0, 1}, {4, 0, 0}}},  /* (1 x 4H) */
    .input = input,
    .step = step,
};

int user_lstm_register(tg_status *st)
{
    return tg_cell_type_register(&user_lstm, st);
}
