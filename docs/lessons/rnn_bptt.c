/* Lesson 4: a tanh RNN unrolled over T = 3 steps, and backpropagation through time by hand
 * against the tape. The loss reads the last step only: L = Σ h_3 ⊙ v. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <tapegrad.h>

enum { T = 3, H = 2 }; /* one input feature, one batch row */

int main(int argc, char **argv) /* --dot: the unrolled graph after backward, for Graphviz */
{
    const tg_real W_hh[H * H] = {0.9, -1.3, 0.7, 1.1}, W_ih[H] = {0.5, -1.0};
    const tg_real xv[T] = {1.0, -0.5, 2.0}, vv[H] = {1.0, -1.0};
    tg_params *ps = tg_params_new();
    tg_cell cell; /* PyTorch's layout: h_t = tanh(x_t·W_ihᵀ + b_ih + b_hh + h_{t-1}·W_hhᵀ) */
    if (tg_cell_init(&cell, ps, NULL, 0, &tg_cell_rnn, 1, H, NULL, NULL) != TG_OK) return 1;
    memcpy(tg_cell_param_named(&cell, "weight_hh")->val, W_hh, sizeof W_hh); /* biases stay 0 */
    memcpy(tg_cell_param_named(&cell, "weight_ih")->val, W_ih, sizeof W_ih);
    tg_tape *t = tg_tape_new();
    tg_state s = {{tg_label(tg_input(t, 1, H, NULL), "h_0")}}, hs[T + 1] = {s};
    for (size_t k = 1; k <= T; k++) {
        tg_tensor *x = tg_labelf(t, tg_input(t, 1, 1, &xv[k - 1]), "x_%zu", k);
        hs[k] = s = tg_cell_step(t, &cell, x, s);
        tg_labelf(t, s.h, "h_%zu", k);
    }
    tg_tensor *v = tg_label(tg_input(t, 1, H, vv), "v");
    tg_tensor *L = tg_label(tg_sum(t, tg_label(tg_mul(t, s.h, v), "h_3*v")), "L");
    int rc = argc > 1 && strcmp(argv[1], "--dot") == 0
                 ? tg_backward(t, L) || tg_tape_dot(t, stdout, TG_DOT_VALUES | TG_UNFUSED)
                 : tg_walk_backward(t, L, stdout);
    if (rc != TG_OK || (argc > 1 && strcmp(argv[1], "--dot") == 0)) goto done;

    /* BPTT by hand: dh_3 = v; step t back: da = dh_t ⊙ (1 − h_t²), dW_hh += daᵀ·h_{t−1},
     * dh_{t−1} = da·W_hh. */
    tg_real dh[H] = {vv[0], vv[1]}, dW[H * H] = {0}, worst = 0;
    printf("\nBPTT by hand against the tape (dh_t is dL/dh_t)\n");
    printf("  t      h_t (forward)         dh_t by hand          dh_t from the tape\n");
    for (size_t k = T; k >= 1; k--) {
        const tg_real *h = hs[k].h->val, *hp = hs[k - 1].h->val, *g = hs[k].h->grad;
        printf("  %zu  %8.4f %8.4f    %8.4f %8.4f    %8.4f %8.4f\n", k, h[0], h[1], dh[0], dh[1],
               g[0], g[1]);
        for (size_t i = 0; i < H; i++) worst = fmax(worst, fabs(dh[i] - g[i]));
        tg_real da[H], prev[H] = {0};
        for (size_t i = 0; i < H; i++) da[i] = dh[i] * (1 - h[i] * h[i]); /* through tanh */
        for (size_t i = 0; i < H; i++)
            for (size_t j = 0; j < H; j++) {
                dW[i * H + j] += da[i] * hp[j];     /* dW_hh += daᵀ·h_{t−1} */
                prev[j] += da[i] * W_hh[i * H + j]; /* dh_{t−1} = da·W_hh */
            }
        memcpy(dh, prev, sizeof dh);
    }
    const tg_real *gW = tg_cell_param_named(&cell, "weight_hh")->grad;
    printf("dW_hh by hand:      %8.4f %8.4f %8.4f %8.4f\n", dW[0], dW[1], dW[2], dW[3]);
    printf("dW_hh from the tape: %7.4f %8.4f %8.4f %8.4f\n", gW[0], gW[1], gW[2], gW[3]);
    for (size_t i = 0; i < H * H; i++) worst = fmax(worst, fabs(dW[i] - gW[i]));
    printf("%s\n", worst <= 1e-5 ? "by hand and the tape agree (to 1e-5, float rounding)"
                                 : "DIFFER: see above");
    if (worst > 1e-5) rc = TG_EINVAL;
done:
    tg_tape_free(t);
    tg_params_free(ps);
    return rc == TG_OK ? 0 : 1;
}
