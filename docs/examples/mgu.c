/* mgu.c: the minimal gated unit as a cell type: the step (forward only; the tape
 * differentiates it) and its descriptor. See mgu.h for the equations and shapes.
 */
#include "mgu.h"

/* x·Wᵀ + h·Uᵀ + b, with W (H x I), U (H x H), b (1 x H). */
static tg_tensor *gate_in(tg_tape *t, tg_tensor *x, tg_tensor *W, tg_tensor *h, tg_tensor *U,
                          tg_tensor *b)
{
    return tg_add(t, tg_addmm(t, b, x, W, TG_TRANS_B), tg_matmul(t, h, U, TG_TRANS_B));
}

/* h (B x H) -> h' (B x H) for x (B x I); a state of one row (1 x H) broadcasts. */
static tg_state mgu_step(tg_tape *t, const tg_cell *c, tg_tensor *x, tg_state s)
{
    tg_tensor *const *p = c->p, *h = s.h;
    tg_tensor *f = tg_sigmoid(t, gate_in(t, x, p[MGU_WF], h, p[MGU_UF], p[MGU_BF])); /* f */
    tg_tensor *fh = tg_mul(t, f, h);                                                 /* f ⊙ h */
    tg_tensor *n = tg_tanh(t, gate_in(t, x, p[MGU_WH], fh, p[MGU_UH], p[MGU_BH]));   /* h̃ */
    h = tg_add(t, tg_mul(t, tg_one_minus(t, f), h), tg_mul(t, f, n)); /* h' = (1−f)⊙h + f⊙h̃ */
    return (tg_state){{h}};
}

/* Shapes are (rows x cols), each a size h·H + i·I + one written {h, i, one}. */
const tg_cell_type mgu_type = {
    .name = "mgu",
    .n_states = 1,
    .state_names = {"h"},
    .n_params = 6,
    .params = {{"Wf", {1, 0, 0}, {0, 1, 0}},  /* (H x I) */
               {"Uf", {1, 0, 0}, {1, 0, 0}},  /* (H x H) */
               {"bf", {0, 0, 1}, {1, 0, 0}},  /* (1 x H) */
               {"Wh", {1, 0, 0}, {0, 1, 0}},  /* (H x I) */
               {"Uh", {1, 0, 0}, {1, 0, 0}},  /* (H x H) */
               {"bh", {0, 0, 1}, {1, 0, 0}}}, /* (1 x H) */
    .input = NULL,                            /* the step takes x itself */
    .step = mgu_step,
};

int mgu_register(tg_status *st)
{
    return tg_cell_type_register(&mgu_type, st);
}
