/* gradflow.c: tg_gradflow, the vanishing/exploding-gradient figures.
 *
 *   tg_gradflow [--seq T] [--hidden H] [--activation tanh] [--csv F] [--plot F.svg] ...
 *   tg_gradflow --classic [--hidden H] [--seq T] [--activation none] ...
 *
 * Default: series of ‖∂L/∂h_t‖₂ for t = 1..T, the loss reading h_T only (nn/gradflow.h): an
 * RNN (tanh unless --activation says otherwise) with W_hh entries N(0, 1)·s for s = 1 and 0.5,
 * an LSTM (h and its cell state c) and a GRU with PyTorch's initialisation.
 * --classic: the textbook experiment. N = 2 rows, H = 3, T = 20: the gradient starts from ones
 * at the last step and is pushed back k = 1..T steps, ‖dh‖/N; an RNN without activation, with
 * tanh and with ReLU, then LSTM and GRU, each with W_hh = randn and randn·0.5.
 * Beside each series, σ_max of its W_hh. Writes a CSV, draws the curves as an SVG itself (no
 * other program runs), and prints a table.
 *
 * Read next: nn/gradflow.c (the measurement), docs/gradient-flow.md (the figures).
 */
#include "models/cli.h"
#include "nn/gradflow.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SERIES = 16 };

typedef struct opts {
    size_t T, B, H, I;
    double forget_bias;
    int scale_by_sqrt_h, classic, help;
    uint64_t seed;
    const char *activation, *csv, *plot;
} opts;

/* One curve: what is measured, how it is drawn, and the results. */
typedef struct series {
    char title[48], column[24];
    tg_gradflow_spec spec;
    size_t state;       /* 0: h; 1: the LSTM's c */
    int colour, dashed; /* in the plot */
    double sigma;       /* σ_max of the cell's weight_hh */
    double *y; /* T values: y[t−1] = ‖∂L/∂h_t‖ (default), or y[k−1] = ‖dh‖/N k steps back */
} series;

/* The RNN activations --activation names, as cell types. */
static const struct {
    const char *name;
    const tg_cell_type *type;
} acts[] = {{"none", &tg_cell_rnn_linear}, {"tanh", &tg_cell_rnn}, {"relu", &tg_cell_rnn_relu}};
enum { NACTS = sizeof acts / sizeof acts[0] };

static void die(const char *msg)
{
    fprintf(stderr, "tg_gradflow: %s\n", msg);
    exit(1);
}

static void usage(FILE *f, const lm_opt *o, size_t n)
{
    fprintf(f, "usage: tg_gradflow [--classic] [options]\n\n"
               "Measures how the gradient of a loss at the LAST step reaches earlier steps, read\n"
               "off the tape after one tg_backward; states start at zero, inputs are N(0, 1).\n\n"
               "Default: L = sum(h_T * v), v a fixed N(0, 1) vector; ||dL/dh_t||_2 for t = 1..T.\n"
               "  rnn_s1, rnn_s05  RNN (tanh; --activation none|relu|all for others), each W_hh\n"
               "                   entry N(0, 1)*s for s = 1 and s = 0.5\n"
               "  lstm_h, lstm_c   LSTM: ||dL/dh_t|| and the cell-state path ||dL/dc_t||\n"
               "  gru_h            GRU\n"
               "LSTM and GRU weights, and the RNN's other weights, use PyTorch's default\n"
               "U(-1/sqrt(H), 1/sqrt(H)). The summary's ratio is ||dL/dh_1|| / ||dL/dh_T||.\n\n"
               "--classic: the textbook experiment. N = 2 rows (--batch), H = 3, T = 20, seed 2;\n"
               "dh starts from ones at the last step and is pushed back k = 1..T steps; the\n"
               "table gives ||dh||/N. RNN without activation (dh <- dh*W_h^T exactly), with\n"
               "tanh and with ReLU; LSTM (h and c) and GRU; each with W_hh = randn and\n"
               "randn*0.5.\n\n"
               "sigma_max is the largest singular value of W_hh: one step back multiplies\n"
               "||dh|| by at most sigma_max (times |act'| <= 1), so sigma_max < 1 vanishes;\n"
               "sigma_max > 1 can explode. With entries N(0, 1)*s, sigma_max is about\n"
               "2*s*sqrt(H): at H = 50 both s = 1 and s = 0.5 are far above 1 and explode.\n"
               "--scale-by-sqrt-h divides the entries by sqrt(H), sigma_max about 2*s.\n"
               "The library is float: norms past ~3e38 (or below ~1e-45) leave float's range;\n"
               "they are written as inf, nan or 0 and left out of the plot.\n\n"
               "options:\n");
    lm_print_options(f, o, n);
    fprintf(f, "\nexample: tg_gradflow --classic --plot gradflow.svg\n");
}

/* Check the parsed options; exits with a hint on the first bad one. */
static void check_opts(const opts *o)
{
    char msg[256];
    if (o->T < 1 || o->T > 1000)
        snprintf(msg, sizeof msg, "--seq %zu: T must be in 1..1000", o->T), die(msg);
    if (o->B < 1 || o->B > 4096)
        snprintf(msg, sizeof msg, "--batch %zu: B must be in 1..4096", o->B), die(msg);
    if (o->H < 1 || o->H > 4096)
        snprintf(msg, sizeof msg, "--hidden %zu: H must be in 1..4096", o->H), die(msg);
    if (o->I < 1 || o->I > 4096)
        snprintf(msg, sizeof msg, "--inputs %zu: I must be in 1..4096", o->I), die(msg);
    if (!isfinite(o->forget_bias)) die("--forget-bias: give a finite number, e.g. 1");
    if (!*o->csv) die("--csv: give a file name, e.g. --csv gradflow.csv");
    const char *dot = o->plot ? strrchr(o->plot, '.') : NULL;
    if (o->plot && (!dot || strcmp(dot, ".svg")))
        die("--plot: the file name must end in .svg (the program draws SVG itself; "
            "rsvg-convert from librsvg2-bin turns it into a PNG)");
    int known = !strcmp(o->activation, "all");
    for (size_t a = 0; a < NACTS; a++) known |= !strcmp(o->activation, acts[a].name);
    if (!known) die("--activation: give none, tanh, relu or all");
}

/* Append a series for a cell type at W_hh scale s (0: PyTorch's init) reading state j. */
static size_t add(series *out, size_t n, const opts *o, const tg_cell_type *type, double s,
                  size_t j, int colour, const char *title, const char *column)
{
    if (n == MAX_SERIES) die("too many series");
    series *x = &out[n];
    memset(x, 0, sizeof *x);
    snprintf(x->title, sizeof x->title, "%s", title);
    snprintf(x->column, sizeof x->column, "%s", column);
    /* Classic: T + 1 steps, so that k = 1..T steps back from the loss are states T..1. */
    x->spec = (tg_gradflow_spec){
        type,           o->T + (o->classic != 0), o->B,    o->I,      o->H, s, o->scale_by_sqrt_h,
        o->forget_bias, o->forget_bias != 0,      o->seed, o->classic};
    x->spec.set_forget_bias = type == &tg_cell_lstm && o->forget_bias != 0;
    x->state = j, x->colour = colour, x->dashed = s == 0.5;
    return n + 1;
}

/* The series the options ask for; returns their count. */
static size_t plan(const opts *o, series *out)
{
    size_t n = 0;
    int colour = 0;
    char t[48], c[24];
    for (size_t a = 0; a < NACTS; a++) {
        if (strcmp(o->activation, "all") && strcmp(o->activation, acts[a].name)) continue;
        const char *nm = acts[a].name;
        for (int half = 0; half < 2; half++) {
            if (o->classic) {
                snprintf(t, sizeof t, "RNN %s, W_h = randn%s", nm, half ? "*0.5" : "");
                snprintf(c, sizeof c, "rnn_%s%s", nm, half ? "_05" : "");
            } else {
                snprintf(t, sizeof t, "RNN %s, s = %s", nm, half ? "0.5" : "1");
                snprintf(c, sizeof c, "rnn%s%s_s%s", a == 1 ? "" : "_", a == 1 ? "" : nm,
                         half ? "05" : "1");
            }
            n = add(out, n, o, acts[a].type, half ? 0.5 : 1.0, 0, colour, t, c);
        }
        colour++;
    }
    if (!o->classic) {
        n = add(out, n, o, &tg_cell_lstm, 0, 0, colour++, "LSTM h", "lstm_h");
        n = add(out, n, o, &tg_cell_lstm, 0, 1, colour++, "LSTM c: ||dL/dc_t||", "lstm_c");
        return add(out, n, o, &tg_cell_gru, 0, 0, colour, "GRU h", "gru_h");
    }
    static const char *const gated[3][3] = {
        {"LSTM h", "lstm_h"}, {"LSTM c", "lstm_c"}, {"GRU h", "gru_h"}};
    for (int g = 0; g < 3; g++, colour++)
        for (int half = 0; half < 2; half++) {
            snprintf(t, sizeof t, "%s, W_h = randn%s", gated[g][0], half ? "*0.5" : "");
            snprintf(c, sizeof c, "%s%s", gated[g][1], half ? "_05" : "");
            n = add(out, n, o, g < 2 ? &tg_cell_lstm : &tg_cell_gru, half ? 0.5 : 1.0, g == 1,
                    colour, t, c);
        }
    return n;
}

/* Measure one series into its y, and σ_max of its W_hh. */
static void measure(const opts *o, series *s)
{
    tg_status st = {0};
    double *d[TG_CELL_MAX_STATES] = {0};
    if (!(s->y = calloc(o->T, sizeof *s->y)) || !(d[s->state] = calloc(s->spec.T, sizeof **d)))
        die("out of memory");
    if (tg_gradflow_measure(&s->spec, d, &st) != TG_OK ||
        tg_gradflow_sigma_max(&s->spec, &s->sigma, &st) != TG_OK)
        die(st.msg);
    for (size_t k = 1; k <= o->T; k++) /* classic: k steps back is state T + 1 − k */
        s->y[k - 1] = o->classic ? d[s->state][o->T - k] / (double)o->B : d[s->state][k - 1];
    free(d[s->state]);
}

/* path opened for writing, or an exit naming it and the option that gave it. */
static FILE *open_or_die(const char *path, const char *option)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot write %s; give a writable path with %s", path, option);
        die(msg);
    }
    return f;
}

static void write_csv(const opts *o, const series *s, size_t n)
{
    FILE *f = open_or_die(o->csv, "--csv");
    fprintf(f, "%s", o->classic ? "k" : "t");
    for (size_t j = 0; j < n; j++) fprintf(f, ",%s", s[j].column);
    fprintf(f, "\n");
    for (size_t k = 0; k < o->T; k++) {
        fprintf(f, "%zu", k + 1);
        for (size_t j = 0; j < n; j++) /* "nan" rather than the sign-carrying "-nan" */
            isnan(s[j].y[k]) ? fprintf(f, ",nan") : fprintf(f, ",%.9g", s[j].y[k]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) die("writing the CSV failed (disk full?)");
}

/* ---- The plot: an SVG written here, y on a log scale ---------------------------------------- */

enum { PW = 900, PH = 520, ML = 90, MR = 30, MT = 50, MB = 60, LEGEND_ROW = 22 };
static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

static int drawable(double v)
{
    return isfinite(v) && v > 0;
}

/* Text with &, < and > escaped. */
static void put_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

/* The y range in whole decades [lo, hi] over every drawable value (0, 1 when none). */
static void decades(const series *s, size_t n, size_t T, int *lo, int *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < T; k++)
            if (drawable(s[j].y[k])) mn = fmin(mn, s[j].y[k]), mx = fmax(mx, s[j].y[k]);
    *lo = isfinite(mn) ? (int)floor(log10(mn)) : 0;
    *hi = isfinite(mx) ? (int)ceil(log10(mx)) : 1;
    if (*hi <= *lo) *hi = *lo + 1;
}

/* The axes: a frame, decade lines labelled 1e<d>, x ticks at a 1-2-5 step, the labels. */
static void axes(FILE *f, const opts *o, int lo, int hi)
{
    double w = PW - ML - MR, h = PH - MT - MB, span = o->T > 1 ? (double)(o->T - 1) : 1;
    fprintf(f, "<rect x='%d' y='%d' width='%.0f' height='%.0f' fill='none' stroke='#444'/>\n", ML,
            MT, w, h);
    int dstep = (hi - lo + 9) / 10; /* at most 10 decade labels */
    for (int d = lo; d <= hi; d += dstep) {
        double y = MT + h * (hi - d) / (double)(hi - lo);
        fprintf(f, "<line x1='%d' y1='%.1f' x2='%.0f' y2='%.1f' stroke='#ddd'/>\n", ML, y, ML + w,
                y);
        fprintf(f, "<text x='%d' y='%.1f' text-anchor='end'>1e%d</text>\n", ML - 6, y + 4, d);
    }
    size_t xstep = 1;
    while (xstep * 10 < o->T) { /* 1, 2, 5, 10, 20, 50, ...: at most 10 ticks */
        size_t lead = xstep;
        while (lead >= 10) lead /= 10;
        xstep = lead == 2 ? xstep / 2 * 5 : xstep * 2;
    }
    for (size_t k = xstep; k <= o->T; k += xstep) {
        double x = ML + w * (double)(k - 1) / span;
        fprintf(f, "<line x1='%.1f' y1='%.0f' x2='%.1f' y2='%.0f' stroke='#444'/>\n", x, MT + h, x,
                MT + h + 5);
        fprintf(f, "<text x='%.1f' y='%.0f' text-anchor='middle'>%zu</text>\n", x, MT + h + 20, k);
    }
    fprintf(f, "<text x='%.0f' y='%.0f' text-anchor='middle'>%s</text>\n", ML + w / 2, MT + h + 45,
            o->classic ? "k steps back from the loss" : "time step t (the loss reads h_T)");
    fprintf(f,
            "<text x='20' y='%.0f' text-anchor='middle' transform='rotate(-90 20 %.0f)'>%s, "
            "log scale</text>\n",
            MT + h / 2, MT + h / 2, o->classic ? "||dh|| / N" : "||dL/dh_t||");
}

/* One series as polylines through its drawable points (a gap where float ran out). */
static void curve(FILE *f, const series *s, size_t T, int lo, int hi)
{
    double w = PW - ML - MR, h = PH - MT - MB, span = T > 1 ? (double)(T - 1) : 1;
    const char *c = colours[s->colour % (int)(sizeof colours / sizeof *colours)];
    int open = 0;
    for (size_t k = 0; k <= T; k++) {
        int ok = k < T && drawable(s->y[k]);
        if (ok && !open)
            fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2'%s points='", c,
                    s->dashed ? " stroke-dasharray='6 4'" : "");
        if (!ok && open) fprintf(f, "'/>\n");
        open = ok;
        if (ok)
            fprintf(f, "%.1f,%.1f ", ML + w * (double)k / span,
                    MT + h * (hi - log10(s->y[k])) / (double)(hi - lo));
    }
}

static void legend(FILE *f, const series *s, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        double x = ML + (double)(j % 2) * 400, y = PH + 20 + (double)(j / 2) * LEGEND_ROW;
        fprintf(f,
                "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='%s' stroke-width='2'%s/>\n",
                x, y - 4, x + 28, y - 4, colours[s[j].colour % 8],
                s[j].dashed ? " stroke-dasharray='6 4'" : "");
        fprintf(f, "<text x='%.0f' y='%.0f'>", x + 34, y);
        put_text(f, s[j].title);
        fprintf(f, " (σ_max %.3g)</text>\n", s[j].sigma);
    }
}

static void write_svg(const opts *o, const series *s, size_t n)
{
    FILE *f = open_or_die(o->plot, "--plot");
    int lo, hi;
    decades(s, n, o->T, &lo, &hi);
    fprintf(f,
            "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' "
            "width='%d' height='%zu' font-family='sans-serif' font-size='13'>\n",
            PW, PH + 20 + (n + 1) / 2 * LEGEND_ROW);
    fprintf(f,
            "<rect width='100%%' height='100%%' fill='white'/>\n<text x='%d' y='28' "
            "text-anchor='middle' font-size='15'>",
            PW / 2);
    if (o->classic)
        fprintf(f, "The classic experiment: N = %zu, H = %zu, T = %zu, seed %llu, dh from ones",
                o->B, o->H, o->T, (unsigned long long)o->seed);
    else
        fprintf(f, "A loss at t = T = %zu flowing back (H = %zu, RNN W_hh = N(0,1)·s%s)", o->T,
                o->H, o->scale_by_sqrt_h ? "/√H" : "");
    fprintf(f, "</text>\n");
    axes(f, o, lo, hi);
    for (size_t j = 0; j < n; j++) curve(f, &s[j], o->T, lo, hi);
    legend(f, s, n);
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) die("writing the plot failed (disk full?)");
}

/* ---- The table ------------------------------------------------------------------------------- */

/* The largest step at which y is not finite (bad = 1) or is 0 (bad = 0): where float ran out
 * going back from the loss; 0 when there is none. */
static size_t out_of_range_from(const double *y, size_t T, int bad)
{
    for (size_t k = T; k-- > 0;)
        if (bad ? !isfinite(y[k]) : y[k] == 0) return k + 1;
    return 0;
}

static const char *verdict(double ratio)
{
    return !isfinite(ratio) || ratio > 10 ? "explodes" : ratio < 0.1 ? "vanishes" : "holds";
}

static void summary(size_t T, const series *s, size_t n)
{
    printf("%-22s  %9s  %13s  %13s  %11s\n", "series", "sigma_max", "at t = T", "at t = 1",
           "t=1 / t=T");
    for (size_t j = 0; j < n; j++) {
        const double *y = s[j].y;
        double last = y[T - 1], first = y[0], ratio = first / last;
        printf("%-22s  %9.4g  %13.4g  %13.4g  %11.4g  %s", s[j].title, s[j].sigma, last, first,
               ratio, verdict(ratio));
        size_t inf = out_of_range_from(y, T, 1), zero = out_of_range_from(y, T, 0);
        if (inf) printf(" (past float's range from t = %zu back)", inf);
        if (zero) printf(" (below float's range from t = %zu back)", zero);
        printf("\n");
    }
}

/* The classic table: ‖dh‖/N at k = 1, the middle and T steps back, and the factor per step. */
static void classic_table(const opts *o, const series *s, size_t n)
{
    size_t T = o->T, mid = (T + 1) / 2;
    printf("classic experiment: N = %zu, H = %zu, T = %zu, seed %llu; dh = ones at the loss, "
           "pushed back k steps\n",
           o->B, o->H, T, (unsigned long long)o->seed);
    char km[32], kT[32];
    snprintf(km, sizeof km, "k = %zu", mid), snprintf(kT, sizeof kT, "k = %zu", T);
    printf("%-28s  %9s  %10s  %10s  %10s  %8s  %s\n", "series", "sigma_max", "k = 1", km, kT,
           "per step", "verdict");
    for (size_t j = 0; j < n; j++) {
        const double *y = s[j].y;
        double ratio = y[T - 1] / y[0], rate = T > 1 ? pow(ratio, 1.0 / (double)(T - 1)) : 1;
        printf("%-28s  %9.4g  %10.4g  %10.4g  %10.4g  %8.4g  %s\n", s[j].title, s[j].sigma, y[0],
               y[mid - 1], y[T - 1], rate, T > 1 ? verdict(ratio) : "-");
    }
}

/* Defaults by mode: --classic anywhere in argv switches to the textbook sizes. */
static opts defaults(int argc, char **argv)
{
    int classic = 0;
    for (int i = 1; i < argc; i++) classic |= !strcmp(argv[i], "--classic");
    if (classic) return (opts){20, 2, 3, 3, 0, 0, 1, 0, 2, "all", "gradflow.csv", NULL};
    return (opts){100, 1, 50, 10, 0, 0, 0, 0, 1, "tanh", "gradflow.csv", NULL};
}

int main(int argc, char **argv)
{
    opts o = defaults(argc, argv);
    const lm_opt table[] = {
        {"classic", 'f', &o.classic, "the textbook experiment: N = 2, H = 3, T = 20, seed 2"},
        {"seq", 'z', &o.T, "time steps T (steps back with --classic), 1..1000"},
        {"batch", 'z', &o.B, "rows B of the input batch (N)"},
        {"hidden", 'z', &o.H, "hidden units H"},
        {"inputs", 'z', &o.I, "input features I"},
        {"activation", 's', &o.activation, "RNN activation: none, tanh, relu or all"},
        {"scale-by-sqrt-h", 'f', &o.scale_by_sqrt_h, "RNN: W_hh entries N(0, 1)*s/sqrt(H)"},
        {"forget-bias", 'd', &o.forget_bias, "LSTM forget-gate bias (0: PyTorch's init)"},
        {"seed", 'u', &o.seed, "random seed (weights; inputs use seed + 1)"},
        {"csv", 's', &o.csv, "write the norms here"},
        {"plot", 's', &o.plot, "also draw them to this .svg"},
    };
    size_t n = sizeof table / sizeof table[0], npos;
    tg_status st;
    if (lm_parse(argc - 1, argv + 1, table, n, NULL, 0, &npos, &o.help, &st) != 0) die(st.msg);
    if (o.help) return usage(stdout, table, n), 0;
    check_opts(&o);
    series s[MAX_SERIES];
    size_t ns = plan(&o, s);
    for (size_t j = 0; j < ns; j++) measure(&o, &s[j]);
    write_csv(&o, s, ns);
    printf("wrote %s (%s)\n", o.csv,
           o.classic ? "k = 1..T steps back from the loss" : "t = 1..T counted forward");
    if (o.plot) write_svg(&o, s, ns), printf("wrote %s\n", o.plot);
    o.classic ? classic_table(&o, s, ns) : summary(o.T, s, ns);
    for (size_t j = 0; j < ns; j++) free(s[j].y);
    return 0;
}
