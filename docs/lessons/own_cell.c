/* Lesson 6: a cell of your own. The residual tanh cell h' = h + tanh(x·Wᵀ + h·Uᵀ + b), as a cell
 * type (nn/cells.h), its backward through time derived by hand and checked against the tape
 * (nn/bptt_check.h), with one slip caught. Built against the double library. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <tapegrad.h>

enum { P_W, P_U, P_B };              /* the type's parameters, in its order */
enum { T = 5, B = 2, I = 2, H = 3 }; /* steps, batch rows, inputs, hidden units */

/* h (B x H) -> h' = h + tanh(x·Wᵀ + h·Uᵀ + b) for x (B x I): the step, forward only. */
static tg_state res_step(tg_tape *t, const tg_cell *c, tg_tensor *x, tg_state s)
{
    tg_tensor *a = tg_add(t, tg_addmm(t, c->p[P_B], x, c->p[P_W], TG_TRANS_B),
                          tg_matmul(t, s.h, c->p[P_U], TG_TRANS_B)); /* a = x·Wᵀ + b + h·Uᵀ */
    return (tg_state){{tg_add(t, s.h, tg_tanh(t, a))}};              /* h' = h + tanh(a) */
}

static const tg_cell_type res_type = {
    .name = "res-tanh",
    .n_states = 1,
    .state_names = {"h"},
    .n_params = 3,
    .params = {{"W", {1, 0, 0}, {0, 1, 0}},  /* (H x I) */
               {"U", {1, 0, 0}, {1, 0, 0}},  /* (H x H) */
               {"b", {0, 0, 1}, {1, 0, 0}}}, /* (1 x H) */
    .step = res_step,
};

/* By hand, t = T..1, with dh the total gradient reaching h_t (dy_t + what step t + 1 sent):
 *   n = h_t − h_{t−1} (the tanh),  da = dh ⊙ (1 − n²),
 *   dW += daᵀ·x_t,  dU += daᵀ·h_{t−1},  db += Σ_rows da,  dx_t = da·W,
 *   sent back to h_{t−1}: dh + da·U   (the "+ dh" is the identity path of h' = h + ...). */
static void my_bptt(const tg_real *const *p, const tg_real *x, const tg_real *dy, int slip,
                    tg_bptt_grads *g)
{
    tg_real h[(T + 1) * B * H] = {0}, carry[B * H] = {0}; /* h_0 = 0 */
    for (size_t t = 1; t <= T; t++)                       /* forward: h_t from h_{t−1} */
        for (size_t r = 0; r < B; r++)
            for (size_t i = 0; i < H; i++) {
                double a = p[P_B][i];
                for (size_t k = 0; k < I; k++)
                    a += x[((t - 1) * B + r) * I + k] * p[P_W][i * I + k];
                for (size_t k = 0; k < H; k++)
                    a += h[((t - 1) * B + r) * H + k] * p[P_U][i * H + k];
                h[(t * B + r) * H + i] = h[((t - 1) * B + r) * H + i] + tanh(a);
            }
    memcpy(g->state[0], &h[B * H], T * B * H * sizeof *h);
    for (size_t t = T; t >= 1; t--) {
        const tg_real *ht = &h[t * B * H], *hp = &h[(t - 1) * B * H], *xt = &x[(t - 1) * B * I];
        tg_real *dh = &g->dstate[0][(t - 1) * B * H], *dx = &g->dx[(t - 1) * B * I], da[B * H];
        for (size_t e = 0; e < B * H; e++) {
            dh[e] = dy[(t - 1) * B * H + e] + carry[e];
            da[e] = dh[e] * (1 - (ht[e] - hp[e]) * (ht[e] - hp[e])); /* through the tanh */
            carry[e] = slip ? 0 : dh[e];                             /* the identity path */
        }
        for (size_t r = 0; r < B; r++)
            for (size_t i = 0; i < H; i++) {
                tg_real d = da[r * H + i];
                g->dparam[P_B][i] += d;
                for (size_t k = 0; k < I; k++) {
                    g->dparam[P_W][i * I + k] += d * xt[r * I + k];
                    dx[r * I + k] += d * p[P_W][i * I + k];
                }
                for (size_t k = 0; k < H; k++) {
                    g->dparam[P_U][i * H + k] += d * hp[r * H + k];
                    carry[r * H + k] += d * p[P_U][i * H + k];
                }
            }
    }
    memcpy(g->dstate0[0], carry, sizeof carry);
}

/* The hand derivation (slip 0) or the slip (1), checked against the tape and reported. */
static int check(const tg_bptt_cell *w, const tg_real *x, const tg_real *dy, int slip, int *ok)
{
    tg_bptt_grads mine;
    tg_bptt_report rep;
    tg_status st;
    int rc = tg_bptt_grads_init(&mine, w->type, T, B, I, H, &st);
    if (rc == TG_OK) {
        my_bptt(w->param, x, dy, slip, &mine);
        rc = tg_bptt_check(&mine, w, x, NULL, dy, 1e-10, 1e-12, &rep, &st); /* the tape's side */
    }
    if (rc == TG_OK)
        tg_bptt_report_print(&rep, stdout), *ok = rep.ok;
    else
        fprintf(stderr, "%s\n", st.msg);
    tg_bptt_grads_deinit(&mine);
    return rc;
}

/* Two steps of the cell with H = 2 on a tape, for the picture. */
static int picture(tg_cell *cell)
{
    tg_tape *t = tg_tape_new();
    const tg_real xv[2 * I] = {1, -1, 0.5, 2};
    tg_state s = {{tg_label(tg_input(t, 1, H, NULL), "h_0")}};
    for (int k = 1; k <= 2; k++) {
        s = tg_cell_step(t, cell, tg_labelf(t, tg_input(t, 1, I, &xv[(k - 1) * I]), "x_%d", k), s);
        tg_labelf(t, s.h, "h_%d", k);
    }
    int rc = tg_backward(t, tg_label(tg_sum(t, s.h), "L")) || tg_tape_dot(t, stdout, TG_DOT_VALUES);
    tg_tape_free(t);
    return rc;
}

int main(int argc, char **argv) /* --dot: two steps of the cell after backward, for Graphviz */
{
    static tg_real x[T * B * I], dy[T * B * H];
    tg_status st;
    tg_rng r;
    tg_rng_seed(&r, 6);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    if (tg_cell_type_register(&res_type, &st) != TG_OK ||
        tg_cell_init(&cell, ps, NULL, 0, &res_type, I, H, &r, &st) != TG_OK)
        return fprintf(stderr, "%s\n", st.msg), 1;
    int rc, ok[2] = {0, 0};
    if (argc > 1 && strcmp(argv[1], "--dot") == 0) {
        rc = picture(&cell);
        tg_params_free(ps);
        return rc == TG_OK ? 0 : 1;
    }
    for (size_t i = 0; i < T * B * I; i++) x[i] = tg_rng_uniform(&r) - 0.5;
    for (size_t i = 0; i < T * B * H; i++) dy[i] = tg_rng_uniform(&r) - 0.5;
    tg_bptt_cell w = tg_bptt_cell_of(&cell);
    printf("== the derivation\n");
    rc = check(&w, x, dy, 0, &ok[0]);
    printf("\n== slip: the identity path of h' = h + ... forgotten\n");
    if (rc == TG_OK) rc = check(&w, x, dy, 1, &ok[1]);
    tg_params_free(ps);
    return rc == TG_OK && ok[0] && !ok[1] ? 0 : 1;
}
