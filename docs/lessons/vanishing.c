/* Lesson 5: vanishing and exploding gradients, and the LSTM's additive cell path. The numbers
 * are nn/gradflow's: a loss at the last step, one tg_backward, ‖∂L/∂h‖ read off the tape. */
#include <stdio.h>
#include <string.h>
#include <tapegrad.h>

enum { N = 2, H = 3, T = 20 }; /* batch rows, hidden units, steps back */

static const size_t shown[] = {1, 2, 5, 10, 20}; /* the steps back printed */

/* One series: ‖∂L/∂s_{T+1−k}‖ / N for k = 1..T, state j of the spec's type, from a loss at step
 * T + 1 whose gradient starts from ones; printed at the steps in `shown`. */
static int row(const char *title, tg_gradflow_spec s, size_t j)
{
    double d[2][T + 1], *ds[2] = {d[0], d[1]}, sigma;
    tg_status st;
    s.T = T + 1, s.B = N, s.I = H, s.H = H, s.seed = 2, s.dh_ones = 1;
    if (tg_gradflow_measure(&s, ds, &st) != TG_OK ||
        tg_gradflow_sigma_max(&s, &sigma, &st) != TG_OK)
        return fprintf(stderr, "%s\n", st.msg), 1;
    printf("%-30s %9.3f ", title, sigma);
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
        printf(" %10.3g", d[j][T - shown[i]] / N); /* k steps back is s_{T+1−k}: index T − k */
    printf("\n");
    return 0;
}

/* Two LSTM steps with one unit, for the picture: the cell path c_0 -> c_1 -> c_2. */
static int lstm_picture(void)
{
    tg_rng r;
    tg_rng_seed(&r, 5);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    if (tg_cell_init(&cell, ps, NULL, 0, &tg_cell_lstm, 1, 1, &r, NULL) != TG_OK) return 1;
    tg_tape *t = tg_tape_new();
    tg_state s = {
        {tg_label(tg_input(t, 1, 1, NULL), "h_0"), tg_label(tg_input(t, 1, 1, NULL), "c_0")}};
    const tg_real xv[2] = {1.0, -1.0};
    for (int k = 1; k <= 2; k++) {
        s = tg_cell_step(t, &cell, tg_labelf(t, tg_input(t, 1, 1, &xv[k - 1]), "x_%d", k), s);
        tg_labelf(t, s.h, "h_%d", k), tg_labelf(t, s.c, "c_%d", k);
    }
    tg_tensor *L = tg_label(tg_sum(t, s.h), "L");
    int rc = tg_backward(t, L) || tg_tape_dot(t, stdout, TG_DOT_VALUES);
    tg_tape_free(t);
    tg_params_free(ps);
    return rc;
}

int main(int argc, char **argv) /* --dot: two LSTM steps after backward, for Graphviz */
{
    if (argc > 1 && strcmp(argv[1], "--dot") == 0) return lstm_picture();
    tg_gradflow_spec linear = {.type = &tg_cell_rnn_linear, .scale = 1.0};
    tg_gradflow_spec half = linear, tanh1 = linear, tanh05, lstm = {.type = &tg_cell_lstm};
    half.scale = 0.5, tanh1.type = &tg_cell_rnn, tanh05 = tanh1, tanh05.scale = 0.5;
    tg_gradflow_spec lstm3 = lstm, lstm3b = lstm;
    lstm3.set_forget_bias = 1, lstm3.forget_bias = 3;
    lstm3b = lstm3, lstm3b.scale = 1.0;
    printf("||dh||/N, k steps back from a loss whose gradient starts from ones (N = %d, H = %d, "
           "seed 2)\n",
           N, H);
    printf("%-30s %9s  %10s %10s %10s %10s %10s\n", "series", "sigma_max", "k = 1", "k = 2",
           "k = 5", "k = 10", "k = 20");
    return row("no activation, W_h = randn", linear, 0) ||
           row("no activation, W_h = randn*0.5", half, 0) || row("tanh, W_h = randn", tanh1, 0) ||
           row("tanh, W_h = randn*0.5", tanh05, 0) || row("LSTM h, forget bias 0", lstm, 0) ||
           row("LSTM c, forget bias 0", lstm, 1) || row("LSTM h, forget bias 3", lstm3, 0) ||
           row("LSTM c, forget bias 3", lstm3, 1) || row("LSTM c, bias 3, W_hh = randn", lstm3b, 1);
}
