/* gradflow.c: tg_gradflow, the vanishing/exploding-gradient figure.
 *
 *   tg_gradflow [--seq T] [--hidden H] [--csv gradflow.csv] [--plot gradflow.png] ...
 *
 * Five series of ‖∂L/∂h_t‖₂ for t = 1..T, the loss reading h_T only (nn/gradflow.h):
 * a tanh RNN with W_hh entries N(0, 1)·s for s = 1 and s = 0.5, an LSTM (h and its cell state
 * c) and a GRU with PyTorch's initialisation. Writes a CSV, optionally plots it with gnuplot,
 * and prints how much of the gradient reaches step 1 in each series.
 *
 * Read next: nn/gradflow.c (the measurement), docs/gradient-flow.md (the figure).
 */
#define _POSIX_C_SOURCE 200809L
#include "models/cli.h"
#include "nn/gradflow.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

enum { NSERIES = 5 };

static const char *const columns[NSERIES] = {"rnn_s1", "rnn_s05", "lstm_h", "lstm_c", "gru_h"};
static const char *const titles[NSERIES] = {"RNN tanh, s = 1", "RNN tanh, s = 0.5", "LSTM h",
                                            "LSTM c: ||dL/dc_t||", "GRU h"};

typedef struct opts {
    size_t T, B, H, I;
    double forget_bias;
    int scale_by_sqrt_h, help;
    uint64_t seed;
    const char *csv, *plot;
} opts;

static void die(const char *msg)
{
    fprintf(stderr, "tg_gradflow: %s\n", msg);
    exit(1);
}

static void usage(FILE *f, const lm_opt *o, size_t n)
{
    fprintf(f, "usage: tg_gradflow [options]\n\n"
               "Measures how the gradient of a loss at the LAST step, L = sum(h_T * v) with v a\n"
               "fixed N(0, 1) vector, reaches earlier steps: ||dL/dh_t||_2 for t = 1..T, read off\n"
               "the tape after one tg_backward. Inputs are N(0, 1), I wide, B rows; states start\n"
               "at zero. Series (CSV columns after t):\n"
               "  rnn_s1, rnn_s05  tanh RNN, each W_hh entry N(0, 1)*s for s = 1 and s = 0.5\n"
               "  lstm_h, lstm_c   LSTM: ||dL/dh_t|| and the cell-state path ||dL/dc_t||\n"
               "  gru_h            GRU\n"
               "LSTM and GRU weights, and the RNN's other weights, use PyTorch's default\n"
               "U(-1/sqrt(H), 1/sqrt(H)). t counts forward: t = T is the step the loss reads,\n"
               "t = 1 the first. The summary's ratio is ||dL/dh_1|| / ||dL/dh_T||: >> 1 the\n"
               "gradient explodes going back, << 1 it vanishes.\n\n"
               "Scale. By default W_hh = N(0, 1)*s entrywise, as in the classic notes. With H\n"
               "units that gives a spectral radius of about s*sqrt(H): 7 for s = 1 and 3.5 for\n"
               "s = 0.5 at H = 50, so BOTH explode (s = 0.5 more slowly); vanishing needs\n"
               "s*sqrt(H) < 1. --scale-by-sqrt-h divides by sqrt(H), radius about s: then\n"
               "s = 0.5 vanishes roughly as 0.5^t and s = 1 sits near the edge, fading slowly\n"
               "because tanh' < 1. docs/gradient-flow.md shows both figures.\n"
               "The library is float: norms past ~3e38 (or below ~1e-45) leave float's range;\n"
               "they are written as inf, nan or 0 and left out of the plot.\n\n"
               "options:\n");
    lm_print_options(f, o, n);
    fprintf(f, "\nexample: tg_gradflow --plot gradflow.png   (needs gnuplot: gnuplot-nox)\n");
}

/* Check the parsed options; exits with a hint on the first bad one. */
static void check_opts(const opts *o)
{
    char msg[256];
    if (o->T < 50 || o->T > 1000)
        snprintf(msg, sizeof msg, "--seq %zu: T must be in 50..1000", o->T), die(msg);
    if (o->B < 1 || o->B > 4096)
        snprintf(msg, sizeof msg, "--batch %zu: B must be in 1..4096", o->B), die(msg);
    if (o->H < 1 || o->H > 4096)
        snprintf(msg, sizeof msg, "--hidden %zu: H must be in 1..4096", o->H), die(msg);
    if (o->I < 1 || o->I > 4096)
        snprintf(msg, sizeof msg, "--inputs %zu: I must be in 1..4096", o->I), die(msg);
    if (!isfinite(o->forget_bias)) die("--forget-bias: give a finite number, e.g. 1");
    if (!*o->csv) die("--csv: give a file name, e.g. --csv gradflow.csv");
    const char *dot = o->plot ? strrchr(o->plot, '.') : NULL;
    if (o->plot && (!dot || (strcmp(dot, ".png") && strcmp(dot, ".svg"))))
        die("--plot: the file name must end in .png or .svg, e.g. --plot gradflow.png");
    if ((o->plot && strchr(o->plot, '\'')) || strchr(o->csv, '\''))
        die("--csv / --plot: file names with a single quote (') are not supported");
}

/* Every series: out[k] holds T values, in the order of `columns`. */
static void measure_all(const opts *o, double *const *out)
{
    tg_gradflow_spec base = {&tg_cell_rnn,       o->T, o->B, o->I,   o->H, 1.0,
                             o->scale_by_sqrt_h, 0,    0,    o->seed};
    tg_gradflow_spec rnn1 = base, rnn05 = base, lstm = base, gru = base;
    rnn05.scale = 0.5;
    lstm.type = &tg_cell_lstm, lstm.scale = 0;
    lstm.forget_bias = o->forget_bias, lstm.set_forget_bias = o->forget_bias != 0;
    gru.type = &tg_cell_gru, gru.scale = 0;
    tg_status st = {0};
    if (tg_gradflow_measure(&rnn1, &out[0], &st) != TG_OK ||
        tg_gradflow_measure(&rnn05, &out[1], &st) != TG_OK ||
        tg_gradflow_measure(&lstm, &out[2], &st) != TG_OK ||
        tg_gradflow_measure(&gru, &out[4], &st) != TG_OK)
        die(st.msg);
}

static void write_csv(const char *path, size_t T, double *const *y)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot write %s; give a writable path with --csv", path);
        die(msg);
    }
    fprintf(f, "t");
    for (int s = 0; s < NSERIES; s++) fprintf(f, ",%s", columns[s]);
    fprintf(f, "\n");
    for (size_t k = 0; k < T; k++) {
        fprintf(f, "%zu", k + 1);
        for (int s = 0; s < NSERIES; s++) /* "nan" rather than the sign-carrying "-nan" */
            isnan(y[s][k]) ? fprintf(f, ",nan") : fprintf(f, ",%.9g", y[s][k]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) die("writing the CSV failed (disk full?)");
}

/* s as a gnuplot single-quoted string: '' stands for a quote, nothing else is special, so a
 * file name cannot end the string and add a command (gnuplot has `system`). */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* The gnuplot script that draws csv into plot, one line per series, log-scale y. */
static void write_script(FILE *f, const opts *o)
{
    const char *dot = strrchr(o->plot, '.');
    int svg = dot && strcmp(dot, ".svg") == 0;
    fprintf(f, "set terminal %s size 900,560 font 'Sans,11'\nset output ",
            svg ? "svg" : "pngcairo");
    put_quoted(f, o->plot);
    fprintf(f, "\nset datafile separator ','\n");
    const char *w = o->scale_by_sqrt_h ? "N(0,1)·s / √H" : "N(0,1)·s";
    fprintf(f,
            "set title 'Gradient of a loss at t = T = %zu flowing back through time "
            "(H = %zu, RNN W_{hh} = %s)'\n",
            o->T, o->H, w);
    fprintf(f, "set xlabel 'time step t (the loss reads h_T)'\n");
    fprintf(f, "set ylabel '||dL/dh_t||_2  (log scale)'\nset logscale y\n");
    fprintf(f, "set format y '10^{%%L}'\nset grid\nset key below maxrows 2\n");
    fprintf(f, "ok(y) = (y > 0 && y < 1e300) ? y : NaN\n");
    fprintf(f, "plot ");
    for (int s = 0; s < NSERIES; s++) {
        fprintf(f, "%s", s ? ", \\\n  " : "");
        put_quoted(f, o->csv);
        fprintf(f, " skip 1 using 1:(ok($%d)) with lines lw 2 title '%s'", s + 2, titles[s]);
    }
    fprintf(f, "\n");
}

/* Plot the CSV with gnuplot, started without a shell (posix_spawnp) and given the script on its
 * standard input, so no file name or variable reaches a command line; 0 when it succeeded. */
static int plot(const opts *o)
{
    int fds[2], status = 0;
    if (pipe(fds) != 0) die("cannot create a pipe to gnuplot");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = {"gnuplot", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        fprintf(stderr,
                "tg_gradflow: cannot run gnuplot (%s): apt-get install gnuplot-nox; the "
                "CSV is written (%s)\n",
                strerror(rc), o->csv);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN); /* a gnuplot that exits early is reported by its status */
    FILE *f = fdopen(fds[1], "w");
    if (!f) die("cannot write to gnuplot");
    write_script(f, o);
    fclose(f);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "tg_gradflow: gnuplot failed; the CSV is written (%s)\n", o->csv);
        return -1;
    }
    return 0;
}

/* The largest step t at which y is not finite (bad = 1) or is 0 (bad = 0): where float ran
 * out going back from the loss; 0 when there is none. */
static size_t out_of_range_from(const double *y, size_t T, int bad)
{
    for (size_t k = T; k-- > 0;)
        if (bad ? !isfinite(y[k]) : y[k] == 0) return k + 1;
    return 0;
}

static void summary(size_t T, double *const *y)
{
    printf("%-22s %14s %14s %12s\n", "series", "at t = T", "at t = 1", "t=1 / t=T");
    for (int s = 0; s < NSERIES; s++) {
        double last = y[s][T - 1], first = y[s][0], ratio = first / last;
        const char *what = !isfinite(ratio) ? "explodes"
                           : ratio > 10     ? "explodes"
                           : ratio < 0.1    ? "vanishes"
                                            : "holds";
        printf("%-22s %14.4g %14.4g %12.4g  %s", titles[s], last, first, ratio, what);
        size_t inf = out_of_range_from(y[s], T, 1), zero = out_of_range_from(y[s], T, 0);
        if (inf) printf(" (past float's range from t = %zu back)", inf);
        if (zero) printf(" (below float's range from t = %zu back)", zero);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    opts o = {100, 1, 50, 10, 0, 0, 0, 1, "gradflow.csv", NULL};
    const lm_opt table[] = {
        {"seq", 'z', &o.T, "time steps T, 50..1000"},
        {"batch", 'z', &o.B, "rows B of the input batch"},
        {"hidden", 'z', &o.H, "hidden units H"},
        {"inputs", 'z', &o.I, "input features I"},
        {"scale-by-sqrt-h", 'f', &o.scale_by_sqrt_h, "RNN: W_hh entries N(0, 1)*s/sqrt(H)"},
        {"forget-bias", 'd', &o.forget_bias, "LSTM forget-gate bias (0: PyTorch's init)"},
        {"seed", 'u', &o.seed, "random seed (weights; inputs use seed + 1)"},
        {"csv", 's', &o.csv, "write the norms here"},
        {"plot", 's', &o.plot, "also draw them with gnuplot to this .png or .svg"},
    };
    size_t n = sizeof table / sizeof table[0], npos;
    tg_status st;
    if (lm_parse(argc - 1, argv + 1, table, n, NULL, 0, &npos, &o.help, &st) != 0) die(st.msg);
    if (o.help) return usage(stdout, table, n), 0;
    check_opts(&o);
    double *y[NSERIES];
    for (int s = 0; s < NSERIES; s++)
        if (!(y[s] = calloc(o.T, sizeof *y[s]))) die("out of memory");
    measure_all(&o, y);
    write_csv(o.csv, o.T, y);
    printf("wrote %s (t = 1..%zu counted forward; the loss is at t = %zu)\n", o.csv, o.T, o.T);
    int plotted = !o.plot || plot(&o) == 0;
    if (o.plot && plotted) printf("wrote %s\n", o.plot);
    summary(o.T, y);
    for (int s = 0; s < NSERIES; s++) free(y[s]);
    return plotted ? 0 : 1; /* a plot was asked for and not made: let scripts notice */
}
