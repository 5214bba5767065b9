/* mgu_cell.c: a user's own recurrent cell, the minimal gated unit (Zhou et al. 2016), made a
 * first-class cell type (docs/examples/mgu.c: a descriptor and a step of forward code only),
 * then used everywhere the built-in cells are:
 *   (a) its gradients through a 2-layer stack, checked against central differences;
 *   (b) trained as a character-level language model by the library's trainer (nn/trainer.h)
 *       on a short text bundled here: the loss must fall below 1.0 nat a character;
 *   (c) its hand-derived BPTT is in mgu_bptt.c (docs/check-your-cell.md);
 *   (d) its gradient flow back through 30 steps, read off the tape (nn/gradflow.h).
 * Built against the float library with the language model, run by `meson test`; exits 1 when a
 * check fails. The gradient check in double is tests' business; here float with a loose bar.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mgu.h"
#include "models/lm.h"

enum { B = 3, I = 4, H = 5, T = 6 };

/* (a) loss = mean(h_T²) of a 2-layer MGU stack over T random steps. */
typedef struct problem {
    tg_rnn rnn;
    tg_tensor *xs[T];
} problem;

static tg_tensor *stack_loss(tg_tape *t, void *ctx)
{
    problem *q = ctx;
    tg_tensor *h = tg_rnn_forward(t, &q->rnn, T, q->xs, NULL, NULL, NULL);
    return tg_mean(t, tg_mul(t, h, h));
}

static int check_gradients(void)
{
    tg_rng r;
    tg_rng_seed(&r, 2016);
    problem q;
    tg_params *ps = tg_params_new();
    if (tg_rnn_init(&q.rnn, ps, "mgu.", &mgu_type, I, H, 2, 0, &r, NULL) != TG_OK) return 1;
    tg_tensor *checked[2 * 6 + T]; /* 2 layers of 6 parameters, and the T inputs */
    size_t n = 0;
    if (tg_params_count(ps) != 2 * 6) return 1;
    for (size_t i = 0; i < tg_params_count(ps); i++) checked[n++] = tg_params_get(ps, i);
    for (int k = 0; k < T; k++) {
        q.xs[k] = checked[n++] = tg_tensor_new(B, I, 1);
        for (size_t i = 0; i < B * I; i++) q.xs[k]->val[i] = (tg_real)tg_rng_uniform(&r) * 2 - 1;
    }
    tg_tape *t = tg_tape_new();
    tg_gradcheck_report rep;
    int rc = tg_gradcheck(t, stack_loss, &q, checked, n, NULL, &rep);
    printf("(a) 2-layer MGU stack, T = %d: %zu gradients checked, worst relative error %.1e\n", T,
           rep.checked, rep.max_rel);
    for (int k = 0; k < T; k++) tg_tensor_free(q.xs[k]);
    tg_tape_free(t);
    tg_rnn_deinit(&q.rnn);
    tg_params_free(ps);
    return rc != TG_OK || !(rep.max_rel < 5e-2);
}

static const char text[] = "the cat sat on the mat. the cat ate the rat. the rat sat on the hat. "
                           "the bat sat on the cat. the mat is flat and the hat is red. ";

/* (b) The whole character-level model with cfg.cell = the MGU, trained through the trainer. */
static int check_training(void)
{
    size_t N = strlen(text);
    int32_t ids[sizeof text];
    for (size_t i = 0; i < N; i++) ids[i] = (unsigned char)text[i] - ' '; /* ' ' .. 'z' */
    lm_config c = lm_default_config();
    c.cell = tg_cell_type_find("mgu"); /* found by name, as programs and checkpoints do */
    c.V = 'z' - ' ' + 1, c.E = 16, c.H = 32, c.T = 16, c.B = 4, c.seed = 7;
    c.optim = tg_adam_config(0.01);
    tg_status st = {0};
    lm_model m;
    lm_trainer tr;
    if (!c.cell || lm_model_init(&m, &c, &st) != TG_OK ||
        lm_trainer_init(&tr, &m, ids, N, &st) != TG_OK)
        return fprintf(stderr, "%s\n", c.cell ? st.msg : "mgu is not registered"), 1;
    double loss = 0, first = 0;
    for (int w = 0; w < 300; w++) {
        long Tw = lm_train_window(&tr, &loss, &st);
        if (Tw < 0) return fprintf(stderr, "%s\n", st.msg), 1;
        if (w == 0) first = loss;
    }
    printf("(b) MGU character model: loss %.2f nats a character at the first window, %s 1.0 after "
           "300\n",
           first, loss < 1.0 ? "below" : "NOT below");
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    return !(loss < 1.0);
}

/* (d) ‖∂L/∂h_t‖ for a loss at t = 30, back to t = 1. */
static int check_gradient_flow(void)
{
    enum { STEPS = 30 };
    tg_gradflow_spec s = {&mgu_type, STEPS, 4, 8, 32, 0, 0, 0, 0, 3, 0};
    double dh[STEPS], *ds[1] = {dh};
    tg_status st = {0};
    if (tg_gradflow_measure(&s, ds, &st) != TG_OK) return fprintf(stderr, "%s\n", st.msg), 1;
    int ok = 1;
    for (int k = 0; k < STEPS; k++) ok &= isfinite(dh[k]) && dh[k] > 0;
    printf("(d) MGU gradient flow: |dL/dh_t| is %s at t = 30, %s at t = 1 (ratio %s)\n",
           ok ? "finite" : "NOT finite", ok ? "finite" : "NOT finite",
           dh[0] < dh[STEPS - 1] ? "below 1: fading" : "at least 1");
    return !ok;
}

int main(void)
{
    if (mgu_register(NULL) != TG_OK) return 1;
    int bad = check_gradients();
    bad |= check_training();
    bad |= check_gradient_flow();
    return bad;
}
