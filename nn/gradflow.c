/* gradflow.c: one gradient-flow measurement, read off the tape after one backward.
 *
 * The states h_1..h_T are ordinary nodes of the recording; after tg_backward each one's grad
 * holds ∂L/∂h_t, summed over every path from h_t to the loss (the next step's gates, and for
 * the LSTM the cell-state path c_t -> c_{t+1}). Their norms are the whole result.
 *
 * Read next: models/gradflow.c (the program that plots these norms), nn/gradflow.h.
 */
#include "nn/gradflow.h"

#include "nn/params.h"
#include "ops/binary.h"
#include "ops/matmul.h"
#include "ops/reduce.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- The RNN without an activation ---------------------------------------------------------- */

enum { W_IH, W_HH, B_IH, B_HH }; /* tg_cell_rnn's parameters, PyTorch's */

/* gx = x·W_ihᵀ + b_ih + b_hh, for all steps at once. */
static tg_tensor *linear_input(tg_tape *t, const tg_cell *c, tg_tensor *x)
{
    return tg_addmm(t, tg_add(t, c->p[B_IH], c->p[B_HH]), x, c->p[W_IH], TG_TRANS_B);
}

/* h' = gx + h·W_hhᵀ; a one-row h broadcasts over gx's rows. */
static tg_state linear_step(tg_tape *t, const tg_cell *c, tg_tensor *gx, tg_state s)
{
    if (gx && s.h && s.h->rows != gx->rows)
        return (tg_state){{tg_add(t, gx, tg_matmul(t, s.h, c->p[W_HH], TG_TRANS_B))}};
    return (tg_state){{tg_addmm(t, gx, s.h, c->p[W_HH], TG_TRANS_B)}};
}

const tg_cell_type tg_cell_rnn_linear = {
    .name = "rnn-linear",
    .n_states = 1,
    .state_names = {"h"},
    .n_params = 4,
    .params = {{"weight_ih", {1, 0, 0}, {0, 1, 0}}, /* (H x I) */
               {"weight_hh", {1, 0, 0}, {1, 0, 0}}, /* (H x H) */
               {"bias_ih", {0, 0, 1}, {1, 0, 0}},   /* (1 x H) */
               {"bias_hh", {0, 0, 1}, {1, 0, 0}}},  /* (1 x H) */
    .input = linear_input,
    .step = linear_step,
};

/* ---- The measurement ------------------------------------------------------------------------ */

int tg_gradflow_record(tg_tape *t, const tg_cell *cell, size_t T, tg_tensor *const *xs,
                       tg_tensor *v, tg_state *hs)
{
    tg_state s = {{0}};
    for (size_t j = 0; j < cell->type->n_states; j++) /* s_0 = 0 */
        s.v[j] = tg_input(t, xs[0]->rows, cell->hidden, NULL);
    for (size_t k = 0; k < T; k++) hs[k] = s = tg_cell_step(t, cell, xs[k], s);
    tg_tensor *loss = tg_sum(t, tg_mul(t, s.h, v)); /* L = Σ h_T ⊙ v */
    if (!loss) return TG_EINVAL;                    /* the message is on the tape */
    return tg_backward(t, loss);
}

double tg_grad_norm_of(const tg_tensor *x)
{
    if (!x || !x->grad) return 0;
    double ss = 0;
    for (size_t i = 0, n = tg_numel(x); i < n; i++) ss += (double)x->grad[i] * x->grad[i];
    return sqrt(ss);
}

/* The cell's parameters: U(-1/sqrt(H), 1/sqrt(H)) for all, then weight_hh redrawn
 * N(0, 1)·scale (/ sqrt(H)) and the LSTM's forget bias, as the spec asks. */
static int make_cell(tg_cell *cell, tg_params *ps, const tg_gradflow_spec *s, tg_rng *rng,
                     tg_status *st)
{
    int rc = tg_cell_init(cell, ps, NULL, 0, s->type, s->I, s->H, rng, st);
    if (rc != TG_OK) return rc;
    tg_tensor *W_hh = tg_cell_param_named(cell, "weight_hh");
    if (s->scale > 0 && W_hh) {
        double std = s->scale / (s->scale_by_sqrt_h ? sqrt((double)s->H) : 1.0);
        tg_init_normal(W_hh, 0, std, rng); /* W_hh[i][j] ~ N(0, 1)·std */
    }
    return s->set_forget_bias ? tg_lstm_set_forget_bias(cell, s->forget_bias, st) : TG_OK;
}

/* Fill a tape leaf with N(0, 1) values. */
static void fill_normal(tg_tensor *x, tg_rng *rng)
{
    for (size_t i = 0, n = tg_numel(x); i < n; i++) x->val[i] = (tg_real)tg_rng_normal(rng);
}

/* Inputs xs[0..T-1] (B x I) and the loss weights v, all N(0, 1), on the tape; v is ones (B x H)
 * for the classic experiment (dh_ones). */
static int make_data(tg_tape *t, const tg_gradflow_spec *s, tg_tensor **xs, tg_tensor **v)
{
    tg_rng rng;
    tg_rng_seed(&rng, s->seed + 1);
    for (size_t k = 0; k < s->T; k++) {
        if (!(xs[k] = tg_input(t, s->B, s->I, NULL))) return TG_ENOMEM;
        fill_normal(xs[k], &rng);
    }
    if (!(*v = tg_input(t, s->dh_ones ? s->B : 1, s->H, NULL))) return TG_ENOMEM;
    if (!s->dh_ones) return fill_normal(*v, &rng), TG_OK;
    for (size_t i = 0, n = tg_numel(*v); i < n; i++) (*v)->val[i] = 1; /* ∂L/∂h_T = ones */
    return TG_OK;
}

static int spec_error(const tg_gradflow_spec *s, tg_status *st)
{
    if (!s->type) return tg_status_set(st, TG_ENULL, "tg_gradflow_measure: no cell type");
    if (!s->T || !s->B || !s->I || !s->H)
        return tg_status_set(st, TG_EINVAL,
                             "tg_gradflow_measure: T, B, I and H must be >= 1 (T = %zu, B = %zu, "
                             "I = %zu, H = %zu)",
                             s->T, s->B, s->I, s->H);
    return TG_OK;
}

/* Record, backward and read the norms on an existing tape and store. */
static int measure_on(tg_tape *t, tg_params *ps, const tg_gradflow_spec *s, tg_tensor **xs,
                      tg_state *hs, double *const *ds, tg_status *st)
{
    tg_rng rng;
    tg_rng_seed(&rng, s->seed);
    tg_cell cell;
    tg_tensor *v;
    int rc = make_cell(&cell, ps, s, &rng, st);
    if (rc != TG_OK) return rc;
    rc = make_data(t, s, xs, &v);
    if (rc == TG_OK) rc = tg_gradflow_record(t, &cell, s->T, xs, v, hs);
    if (rc != TG_OK) {
        const char *why = tg_tape_error(t);
        return tg_status_set(st, rc, "tg_gradflow_measure: %s", why ? why : tg_strerror(rc));
    }
    for (size_t j = 0; j < s->type->n_states; j++)
        for (size_t k = 0; ds[j] && k < s->T; k++) ds[j][k] = tg_grad_norm_of(hs[k].v[j]);
    return TG_OK;
}

int tg_gradflow_measure(const tg_gradflow_spec *s, double *const *ds, tg_status *st)
{
    int rc = spec_error(s, st);
    if (rc != TG_OK) return rc;
    tg_tape *t = tg_tape_new();
    tg_params *ps = tg_params_new();
    tg_tensor **xs = calloc(s->T, sizeof *xs);
    tg_state *hs = calloc(s->T, sizeof *hs);
    rc = t && ps && xs && hs ? measure_on(t, ps, s, xs, hs, ds, st)
                             : tg_status_set(st, TG_ENOMEM, "tg_gradflow_measure: out of memory");
    free(hs);
    free(xs);
    tg_params_free(ps);
    tg_tape_free(t);
    return rc;
}

/* ---- The largest singular value -------------------------------------------------------------- */

/* u = W·v (rows), w = Wᵀ·u (cols): one product with WᵀW, in double. */
static void times_wtw(const tg_real *W, size_t rows, size_t cols, const double *v, double *u,
                      double *w)
{
    for (size_t i = 0; i < rows; i++) {
        double a = 0;
        for (size_t j = 0; j < cols; j++) a += (double)W[i * cols + j] * v[j];
        u[i] = a;
    }
    for (size_t j = 0; j < cols; j++) w[j] = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) w[j] += (double)W[i * cols + j] * u[i];
}

/* Power iteration on WᵀW from v (cols, unit length); returns its largest eigenvalue. */
static double power_iterate(const tg_real *W, size_t rows, size_t cols, double *v, double *u,
                            double *w)
{
    double lambda = 0;
    for (int round = 0; round < 20000; round++) {
        times_wtw(W, rows, cols, v, u, w);
        double next = 0, norm = 0; /* the Rayleigh quotient vᵀ(WᵀW)v, and ‖WᵀWv‖ */
        for (size_t j = 0; j < cols; j++) next += v[j] * w[j], norm += w[j] * w[j];
        norm = sqrt(norm);
        if (norm == 0) return 0; /* v in W's null space: W = 0 (the start is random) */
        for (size_t j = 0; j < cols; j++) v[j] = w[j] / norm;
        int done = fabs(next - lambda) <= 1e-13 * next;
        lambda = next;
        if (done) break;
    }
    return lambda;
}

int tg_sigma_max(const tg_real *W, size_t rows, size_t cols, double *sigma, tg_status *st)
{
    if (sigma) *sigma = 0;
    if (!W || !sigma)
        return tg_status_set(st, TG_ENULL, "tg_sigma_max: NULL %s", W ? "sigma" : "W");
    if (!rows || !cols)
        return tg_status_set(st, TG_EINVAL, "tg_sigma_max: W is (%zu x %zu), it needs elements",
                             rows, cols);
    if (rows > SIZE_MAX / sizeof(double) || cols > SIZE_MAX / sizeof(double))
        return tg_status_set(st, TG_ERANGE, "tg_sigma_max: W is (%zu x %zu), too large", rows,
                             cols);
    double *v = malloc(cols * sizeof *v), *w = malloc(cols * sizeof *w),
           *u = malloc(rows * sizeof *u);
    int rc = v && w && u ? TG_OK : tg_status_set(st, TG_ENOMEM, "tg_sigma_max: out of memory");
    if (rc == TG_OK) {
        tg_rng rng;
        tg_rng_seed(&rng, 1);
        double norm = 0;
        for (size_t j = 0; j < cols; j++) v[j] = tg_rng_normal(&rng), norm += v[j] * v[j];
        for (size_t j = 0; j < cols; j++) v[j] /= sqrt(norm);
        *sigma = sqrt(power_iterate(W, rows, cols, v, u, w));
    }
    free(u);
    free(w);
    free(v);
    return rc;
}

int tg_gradflow_sigma_max(const tg_gradflow_spec *s, double *sigma, tg_status *st)
{
    if (sigma) *sigma = 0;
    int rc = spec_error(s, st);
    if (rc != TG_OK) return rc;
    tg_params *ps = tg_params_new();
    if (!ps) return tg_status_set(st, TG_ENOMEM, "tg_gradflow_sigma_max: out of memory");
    tg_rng rng;
    tg_rng_seed(&rng, s->seed); /* the draws of measure_on */
    tg_cell cell;
    rc = make_cell(&cell, ps, s, &rng, st);
    tg_tensor *W = rc == TG_OK ? tg_cell_param_named(&cell, "weight_hh") : NULL;
    if (W) rc = tg_sigma_max(W->val, W->rows, W->cols, sigma, st);
    tg_params_free(ps);
    return rc;
}
