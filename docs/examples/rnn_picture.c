/* rnn_picture.c: a tanh RNN unrolled over T = 8 steps, its tape drawn with every node filled by
 * its gradient's norm (docs/pictures.md). The loss reads only the last state, so the gradient
 * enters at step 8 and shrinks on its way back through tanh and W_hh: the picture fades from
 * dark red at the loss to pale yellow at the first steps.
 *
 *     rnn_picture          the tape (unfused) and ‖dloss/dh_t‖ per step, as text
 *     rnn_picture --dot    the picture, for Graphviz: rnn_picture --dot | dot -Tsvg
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <tapegrad.h>

enum { T = 8, I = 1, H = 3 };

int main(int argc, char **argv)
{
    int dot = argc > 1 && strcmp(argv[1], "--dot") == 0, rc = 1;
    tg_params *ps = tg_params_new();
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    tg_rnn rnn;
    tg_tape *t = tg_tape_new();
    if (!ps || !t || tg_rnn_init(&rnn, ps, NULL, &tg_cell_rnn, I, H, 1, 0, &rng, NULL) != TG_OK)
        return 1;
    tg_real x[T * I];
    for (size_t i = 0; i < T * I; i++) x[i] = (tg_real)tg_rng_normal(&rng);
    tg_tensor *hs[T];
    tg_tensor *h =
        tg_rnn_forward_rows(t, &rnn, T, tg_label(tg_input(t, T, I, x), "x"), NULL, hs, NULL);
    tg_tensor *loss = tg_label(tg_sum(t, h), "loss"); /* loss = Σ h_8 */
    if (loss && tg_backward(t, loss) == TG_OK) {
        if (dot)
            rc = tg_tape_dot(t, stdout, TG_UNFUSED | TG_DOT_NORMS | TG_DOT_COLOUR_GRADS);
        else {
            rc = tg_tape_print_flags(t, stdout, TG_UNFUSED);
            for (size_t k = 0; k < T; k++) {
                double n2 = 0; /* the L2 norm of h_k's gradient */
                for (size_t j = 0; j < H; j++) n2 += (double)hs[k]->grad[j] * hs[k]->grad[j];
                printf("‖dloss/d%s‖₂ = %.3g\n", hs[k]->name, sqrt(n2));
            }
        }
    }
    if (rc != TG_OK) fprintf(stderr, "rnn_picture: %s\n", tg_tape_error(t) ? tg_tape_error(t) : "");
    tg_tape_free(t);
    tg_rnn_deinit(&rnn);
    tg_params_free(ps);
    return rc != TG_OK;
}
