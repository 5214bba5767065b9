/* bptt.c: the arrays of a hand-derived BPTT for any cell type, and the library's own hand
 * derivations of the built-in cells: a forward that keeps its own cache, then the textbook
 * backward of each cell as plain loops, with no tape and no op.
 *
 * Invariant: nothing here calls the tape or an op, so a bug in an op's backward cannot hide in
 * a reference. A reference is a family (below): its gate count and two element functions, one
 * forward and one backward; the walk over steps, the products with the weights and the export
 * are shared. The work block holds every intermediate; the caller's tg_bptt_grads is only
 * written at the end, so on failure it is unchanged. Sums are accumulated in double.
 *
 * Read next: nn/bptt_check.c (the tape's side and the comparison), nn/bptt_adapt.c.
 */
#include "nn/bptt.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

tg_bptt_cell tg_bptt_cell_of(const tg_cell *cell)
{
    tg_bptt_cell w = {.type = cell->type, .in = cell->in, .hidden = cell->hidden};
    for (size_t k = 0; cell->type && k < cell->type->n_params; k++)
        w.param[k] = cell->p[k] ? cell->p[k]->val : NULL;
    return w;
}

/* ---- the gradients' block ---- */

/* *acc += a·b, or 0 when a size overflows on the way. */
static int add_product(size_t *acc, size_t a, size_t b)
{
    if (a && b > SIZE_MAX / a) return 0;
    if (*acc > SIZE_MAX - a * b) return 0;
    *acc += a * b;
    return 1;
}

size_t tg_bptt_param_numel(const tg_bptt_grads *g, size_t k)
{
    size_t rows, cols, n = 0;
    if (!g->type || k >= g->type->n_params) return 0;
    tg_cell_param_shape(g->type, k, g->I, g->H, &rows, &cols);
    return add_product(&n, rows, cols) ? n : 0;
}

tg_real *tg_bptt_dparam(const tg_bptt_grads *g, const char *name)
{
    for (size_t k = 0; g->type && name && k < g->type->n_params; k++)
        if (strcmp(g->type->params[k].name, name) == 0) return g->dparam[k];
    return NULL;
}

/* Total elements of every array for g's type and sizes; 0 when it overflows. The estimate in
 * double is exact enough to tell whether the sum fits, and then the size_t sum is exact. */
static size_t grads_numel(const tg_bptt_grads *g)
{
    double S = (double)g->type->n_states, TB = (double)g->T * g->B;
    double est = TB * g->I + S * g->B * g->H * (2.0 * g->T + 1);
    if (!(est < (double)(SIZE_MAX / sizeof(tg_real)) / 4)) return 0;
    size_t n = g->T * g->B * g->I + g->type->n_states * g->B * g->H * (2 * g->T + 1), p;
    for (size_t k = 0; k < g->type->n_params; k++)
        if (!(p = tg_bptt_param_numel(g, k)) || !add_product(&n, p, 1)) return 0;
    return n <= SIZE_MAX / sizeof(tg_real) ? n : 0;
}

int tg_bptt_grads_init(tg_bptt_grads *g, const tg_cell_type *type, size_t T, size_t B, size_t I,
                       size_t H, tg_status *st)
{
    memset(g, 0, sizeof *g);
    if (!type) return tg_status_set(st, TG_ENULL, "tg_bptt_grads_init: the cell type is NULL");
    if (!T || !B || !I || !H)
        return tg_status_set(st, TG_EINVAL,
                             "tg_bptt_grads_init: %s with T = %zu, B = %zu, I = %zu, H = %zu: "
                             "sizes must be at least 1",
                             type->name, T, B, I, H);
    *g = (tg_bptt_grads){.type = type, .T = T, .B = B, .I = I, .H = H};
    size_t n = grads_numel(g), TBH = T * B * H;
    tg_real *p = n ? calloc(n, sizeof *p) : NULL;
    if (!p) {
        memset(g, 0, sizeof *g);
        return tg_status_set(st, n ? TG_ENOMEM : TG_ERANGE,
                             "tg_bptt_grads_init: %s with T = %zu, B = %zu, I = %zu, H = %zu: %s",
                             type->name, T, B, I, H, n ? "out of memory" : "the sizes overflow");
    }
    g->block = p;
    for (size_t k = 0; k < type->n_params; k++) g->dparam[k] = p, p += tg_bptt_param_numel(g, k);
    g->dx = p, p += T * B * I;
    for (size_t k = 0; k < type->n_states; k++) {
        g->dstate[k] = p, p += TBH;
        g->state[k] = p, p += TBH;
        g->dstate0[k] = p, p += B * H;
    }
    return TG_OK;
}

void tg_bptt_grads_deinit(tg_bptt_grads *g)
{
    free(g->block);
    memset(g, 0, sizeof *g);
}

/* ---- dense loops; W is (N x K) row-major as in PyTorch, so x·Wᵀ contracts over K ---- */

/* y (B x N) = x (B x K)·Wᵀ + b */
static void affine(tg_real *y, const tg_real *x, const tg_real *W, const tg_real *b, size_t B,
                   size_t K, size_t N)
{
    for (size_t r = 0; r < B; r++)
        for (size_t n = 0; n < N; n++) {
            double s = b[n];
            for (size_t k = 0; k < K; k++) s += (double)x[r * K + k] * W[n * K + k];
            y[r * N + n] = (tg_real)s;
        }
}

/* dW (N x K) += daᵀ·x,  db (N) += Σ_rows da;  da (B x N), x (B x K) */
static void weight_grads(tg_real *dW, tg_real *db, const tg_real *da, const tg_real *x, size_t B,
                         size_t K, size_t N)
{
    for (size_t n = 0; n < N; n++) {
        double sb = 0;
        for (size_t r = 0; r < B; r++) sb += da[r * N + n];
        db[n] = (tg_real)(db[n] + sb);
        for (size_t k = 0; k < K; k++) {
            double s = 0;
            for (size_t r = 0; r < B; r++) s += (double)da[r * N + n] * x[r * K + k];
            dW[n * K + k] = (tg_real)(dW[n * K + k] + s);
        }
    }
}

/* dx (B x K) = base + da (B x N)·W (N x K);  base may be NULL (zeros) */
static void input_grads(tg_real *dx, const tg_real *base, const tg_real *da, const tg_real *W,
                        size_t B, size_t K, size_t N)
{
    for (size_t r = 0; r < B; r++)
        for (size_t k = 0; k < K; k++) {
            double s = base ? base[r * K + k] : 0;
            for (size_t n = 0; n < N; n++) s += (double)da[r * N + n] * W[n * K + k];
            dx[r * K + k] = (tg_real)s;
        }
}

static double sigm(double a)
{
    return 1 / (1 + exp(-a));
}

/* ---- one step's view of the cache; a family's element functions read and write it ---- */

typedef struct view {
    size_t H;               /* the offset of gate block k is k·H in a row of act, ax, ah */
    const tg_real *hp, *cp; /* h_{t−1}, c_{t−1} (B x H); c only for the LSTM */
    tg_real *h, *c;         /* h_t, c_t */
    tg_real *act, *q;       /* gate activations (B x G·H); the GRU's h_{t−1}·W_hnᵀ + b_hn */
    tg_real *ax, *ah;  /* forward: x·W_ihᵀ + b_ih, h·W_hhᵀ + b_hh; backward: their grads */
    const tg_real *dh; /* backward: dh_t, the total gradient reaching h_t */
    tg_real *dc, *dcc, *dhc; /* dc_t; dc and the direct part of dh sent to step t − 1 */
} view;

/* A hand reference: G gates, the states it carries, and element (r, j) of one step. bwd sets
 * the pre-activation gradients of row r, unit j (ax input side, ah hidden side) and adds to
 * dhc what reaches h_{t−1} without W_hh. */
typedef struct family {
    const char *fn; /* the public entry point, for messages */
    size_t G, n_states;
    void (*fwd)(const view *v, size_t r, size_t j);
    void (*bwd)(const view *v, size_t r, size_t j);
} family;

/* Element e = (r, j) of a (B x H) array, and gate k of row r of a (B x G·H) array. */
#define E(r, j)          ((r)*v->H + (j))
#define GATE(a, r, k, j) ((a)[((r)*G + (k)) * v->H + (j)])

static void rnn_tanh_fwd(const view *v, size_t r, size_t j)
{
    enum { G = 1 };
    v->h[E(r, j)] = (tg_real)tanh((double)GATE(v->ax, r, 0, j) + GATE(v->ah, r, 0, j));
}

static void rnn_tanh_bwd(const view *v, size_t r, size_t j)
{
    enum { G = 1 };
    double h = v->h[E(r, j)];
    GATE(v->ax, r, 0, j) = GATE(v->ah, r, 0, j) = (tg_real)(v->dh[E(r, j)] * (1 - h * h));
}

static void rnn_relu_fwd(const view *v, size_t r, size_t j)
{
    enum { G = 1 };
    double a = (double)GATE(v->ax, r, 0, j) + GATE(v->ah, r, 0, j);
    v->h[E(r, j)] = (tg_real)(a > 0 ? a : 0);
}

static void rnn_relu_bwd(const view *v, size_t r, size_t j)
{
    enum { G = 1 };
    GATE(v->ax, r, 0, j) = GATE(v->ah, r, 0, j) = v->h[E(r, j)] > 0 ? v->dh[E(r, j)] : 0;
}

static void lstm_fwd(const view *v, size_t r, size_t j)
{
    enum { G = 4 };
    size_t e = E(r, j);
    double a[4];
    for (size_t k = 0; k < 4; k++) a[k] = (double)GATE(v->ax, r, k, j) + GATE(v->ah, r, k, j);
    double i = sigm(a[0]), f = sigm(a[1]), g = tanh(a[2]), o = sigm(a[3]); /* gates i f g o */
    v->c[e] = (tg_real)(f * v->cp[e] + i * g);                             /* c = f⊙c + i⊙g */
    v->h[e] = (tg_real)(o * tanh((double)v->c[e]));                        /* h = o⊙tanh(c) */
    GATE(v->act, r, 0, j) = (tg_real)i, GATE(v->act, r, 1, j) = (tg_real)f;
    GATE(v->act, r, 2, j) = (tg_real)g, GATE(v->act, r, 3, j) = (tg_real)o;
}

static void lstm_bwd(const view *v, size_t r, size_t j)
{
    enum { G = 4 };
    size_t e = E(r, j);
    double i = GATE(v->act, r, 0, j), f = GATE(v->act, r, 1, j);
    double g = GATE(v->act, r, 2, j), o = GATE(v->act, r, 3, j);
    double d = v->dh[e], tc = tanh((double)v->c[e]);
    double dct = v->dcc[e] + d * o * (1 - tc * tc); /* dc_t = dc + dh⊙o⊙(1−tanh²c) */
    v->dc[e] = (tg_real)dct;
    v->dcc[e] = (tg_real)(dct * f);                                 /* dc_{t−1} = dc_t ⊙ f */
    GATE(v->ax, r, 0, j) = (tg_real)(dct * g * i * (1 - i));        /* da_i = dc⊙g · i(1−i) */
    GATE(v->ax, r, 1, j) = (tg_real)(dct * v->cp[e] * f * (1 - f)); /* da_f = dc⊙c_{t−1}·f(1−f) */
    GATE(v->ax, r, 2, j) = (tg_real)(dct * i * (1 - g * g));        /* da_g = dc⊙i · (1−g²) */
    GATE(v->ax, r, 3, j) = (tg_real)(d * tc * o * (1 - o)); /* da_o = dh⊙tanh(c) · o(1−o) */
    for (size_t k = 0; k < 4; k++) GATE(v->ah, r, k, j) = GATE(v->ax, r, k, j);
}

static void gru_fwd(const view *v, size_t r, size_t j)
{
    enum { G = 3 };
    size_t e = E(r, j);
    double rr = sigm((double)GATE(v->ax, r, 0, j) + GATE(v->ah, r, 0, j));     /* r = σ(a_r) */
    double z = sigm((double)GATE(v->ax, r, 1, j) + GATE(v->ah, r, 1, j));      /* z = σ(a_z) */
    double n = tanh((double)GATE(v->ax, r, 2, j) + rr * GATE(v->ah, r, 2, j)); /* n */
    GATE(v->act, r, 0, j) = (tg_real)rr, GATE(v->act, r, 1, j) = (tg_real)z;
    GATE(v->act, r, 2, j) = (tg_real)n;
    v->q[e] = GATE(v->ah, r, 2, j);
    v->h[e] = (tg_real)((1 - z) * n + z * v->hp[e]); /* h = (1−z)⊙n + z⊙h */
}

static void gru_bwd(const view *v, size_t r, size_t j)
{
    enum { G = 3 };
    size_t e = E(r, j);
    double rr = GATE(v->act, r, 0, j), z = GATE(v->act, r, 1, j), n = GATE(v->act, r, 2, j);
    double d = v->dh[e], dan = d * (1 - z) * (1 - n * n);      /* dan = dh⊙(1−z) · (1−n²) */
    tg_real dar = (tg_real)(dan * v->q[e] * rr * (1 - rr));    /* dar = dan⊙q · r(1−r) */
    tg_real daz = (tg_real)(d * (v->hp[e] - n) * z * (1 - z)); /* daz = dh⊙(h−n) · z(1−z) */
    GATE(v->ax, r, 0, j) = GATE(v->ah, r, 0, j) = dar;
    GATE(v->ax, r, 1, j) = GATE(v->ah, r, 1, j) = daz;
    GATE(v->ax, r, 2, j) = (tg_real)dan;
    GATE(v->ah, r, 2, j) = (tg_real)(dan * rr); /* dq = dan ⊙ r */
    v->dhc[e] = (tg_real)(d * z);               /* direct path: dh ⊙ z */
}

#undef E
#undef GATE

static const family rnn_tanh = {"tg_bptt_rnn_tanh_hand", 1, 1, rnn_tanh_fwd, rnn_tanh_bwd};
static const family rnn_relu = {"tg_bptt_rnn_relu_hand", 1, 1, rnn_relu_fwd, rnn_relu_bwd};
static const family lstm = {"tg_bptt_lstm_hand", 4, 2, lstm_fwd, lstm_bwd};
static const family gru = {"tg_bptt_gru_hand", 3, 1, gru_fwd, gru_bwd};

/* ---- the forward cache and the backward's accumulators, in one block ---- */

typedef struct work {
    const family *fam;
    size_t T, B, I, H, G;
    tg_real *hs, *cs; /* (T+1)·B·H states h_0..h_T, c_0..c_T */
    tg_real *act, *q; /* T·B·G·H gate activations, T·B·H GRU q */
    tg_real *dW_ih, *dW_hh, *db_ih, *db_hh;
    tg_real *dh, *dc, *dx; /* per step: T·B·H, T·B·H, T·B·I */
    tg_real *dhc, *dcc;    /* B·H: dh and dc carried to the step before */
    tg_real *ax, *ah;      /* B·G·H: pre-activations (forward), their gradients (backward) */
    tg_real *block;
} work;

/* The block's size is checked in double first (exact enough to tell whether it fits). */
static int work_init(work *w, const family *fam, size_t T, size_t B, size_t I, size_t H)
{
    size_t GH = fam->G * H, BH = B * H;
    double est = (double)B * H * (5.0 * T + 4) + (double)T * B * ((double)fam->G * H + I) +
                 (double)fam->G * H * (I + H + 2.0) + 2.0 * B * fam->G * H;
    if (!(est < (double)(SIZE_MAX / sizeof(tg_real)) / 4)) return TG_ENOMEM;
    size_t n = BH * (5 * T + 4) + T * B * (GH + I) + GH * (I + H + 2) + 2 * B * GH;
    tg_real *p = calloc(n, sizeof *p);
    if (!p) return TG_ENOMEM;
    *w = (work){.fam = fam, .T = T, .B = B, .I = I, .H = H, .G = fam->G, .block = p};
    w->hs = p, p += (T + 1) * BH;
    w->cs = p, p += (T + 1) * BH;
    w->act = p, p += T * B * GH;
    w->q = p, p += T * BH;
    w->dW_ih = p, p += GH * I;
    w->dW_hh = p, p += GH * H;
    w->db_ih = p, p += GH;
    w->db_hh = p, p += GH;
    w->dh = p, p += T * BH;
    w->dc = p, p += T * BH;
    w->dx = p, p += T * B * I;
    w->dhc = p, p += BH;
    w->dcc = p, p += BH;
    w->ax = p, p += B * GH;
    w->ah = p;
    return TG_OK;
}

/* Step t's view (t = 1..T). */
static view view_at(const work *w, size_t t)
{
    size_t BH = w->B * w->H, BGH = BH * w->G;
    return (view){.H = w->H,
                  .hp = w->hs + (t - 1) * BH,
                  .cp = w->cs + (t - 1) * BH,
                  .h = w->hs + t * BH,
                  .c = w->cs + t * BH,
                  .act = w->act + (t - 1) * BGH,
                  .q = w->q + (t - 1) * BH,
                  .ax = w->ax,
                  .ah = w->ah,
                  .dh = w->dh + (t - 1) * BH,
                  .dc = w->dc + (t - 1) * BH,
                  .dcc = w->dcc,
                  .dhc = w->dhc};
}

/* w_ih etc. are PyTorch's weight_ih (G·H x I), weight_hh, bias_ih, bias_hh. */
enum { W_IH, W_HH, B_IH, B_HH };

static void forward(work *w, const tg_bptt_cell *c, const tg_real *x)
{
    size_t B = w->B, I = w->I, H = w->H, GH = w->G * H;
    for (size_t t = 1; t <= w->T; t++) {
        view v = view_at(w, t);
        affine(w->ax, x + (t - 1) * B * I, c->param[W_IH], c->param[B_IH], B, I, GH);
        affine(w->ah, v.hp, c->param[W_HH], c->param[B_HH], B, H, GH); /* h·W_hhᵀ + b_hh */
        for (size_t r = 0; r < B; r++)
            for (size_t j = 0; j < H; j++) w->fam->fwd(&v, r, j);
    }
}

static void backward(work *w, const tg_bptt_cell *c, const tg_real *x, const tg_real *dy)
{
    size_t B = w->B, I = w->I, H = w->H, GH = w->G * H, BH = B * H;
    for (size_t t = w->T; t >= 1; t--) {
        view v = view_at(w, t);
        const tg_real *xt = x + (t - 1) * B * I;
        for (size_t e = 0; e < BH; e++) /* dh_t = dy_t + what step t + 1 sent */
            w->dh[(t - 1) * BH + e] = (tg_real)((double)dy[(t - 1) * BH + e] + w->dhc[e]);
        memset(w->dhc, 0, BH * sizeof *w->dhc);
        for (size_t r = 0; r < B; r++)
            for (size_t j = 0; j < H; j++) w->fam->bwd(&v, r, j);
        weight_grads(w->dW_ih, w->db_ih, w->ax, xt, B, I, GH);   /* dW_ih += daᵀ·x_t */
        weight_grads(w->dW_hh, w->db_hh, w->ah, v.hp, B, H, GH); /* dW_hh += daᵀ·h_{t−1} */
        input_grads(w->dx + (t - 1) * B * I, NULL, w->ax, c->param[W_IH], B, I, GH); /* da·W_ih */
        input_grads(w->dhc, w->dhc, w->ah, c->param[W_HH], B, H, GH); /* dh_{t−1} += da·W_hh */
    }
}

static void put(tg_real *dst, const tg_real *src, size_t n)
{
    if (dst) memcpy(dst, src, n * sizeof *dst);
}

static void work_export(const work *w, tg_bptt_grads *g)
{
    size_t T = w->T, BH = w->B * w->H, GH = w->G * w->H;
    const tg_real *ds[2] = {w->dh, w->dc}, *s0[2] = {w->dhc, w->dcc}, *s[2] = {w->hs, w->cs};
    put(g->dparam[W_IH], w->dW_ih, GH * w->I);
    put(g->dparam[W_HH], w->dW_hh, GH * w->H);
    put(g->dparam[B_IH], w->db_ih, GH);
    put(g->dparam[B_HH], w->db_hh, GH);
    put(g->dx, w->dx, T * w->B * w->I);
    for (size_t k = 0; k < w->fam->n_states; k++) {
        put(g->dstate[k], ds[k], T * BH);
        put(g->dstate0[k], s0[k], BH);
        put(g->state[k], s[k] + BH, T * BH);
    }
}

/* ---- the entry points ---- */

/* 1 when type has PyTorch's four parameters for G gates and the family's states. */
static int torch_layout(const family *fam, const tg_cell_type *ty, size_t I, size_t H)
{
    size_t want[4][2] = {{fam->G * H, I}, {fam->G * H, H}, {1, fam->G * H}, {1, fam->G * H}};
    if (ty->n_params != 4 || ty->n_states != fam->n_states) return 0;
    for (size_t k = 0; k < 4; k++) {
        size_t rows, cols;
        tg_cell_param_shape(ty, k, I, H, &rows, &cols);
        if (rows != want[k][0] || cols != want[k][1]) return 0;
    }
    return 1;
}

static int check_args(const family *fam, const tg_bptt_cell *c, size_t T, size_t B,
                      const tg_real *x, const tg_real *dy, const tg_bptt_grads *g, tg_status *st)
{
    if (!c || !c->type || !x || !dy || !g)
        return tg_status_set(st, TG_ENULL, "%s: the cell, its type, x, dy or g is NULL", fam->fn);
    for (size_t k = 0; k < 4 && k < c->type->n_params; k++)
        if (!c->param[k])
            return tg_status_set(st, TG_ENULL, "%s: parameter %zu is NULL", fam->fn, k);
    if (!T || !B || !c->in || !c->hidden || !torch_layout(fam, c->type, c->in, c->hidden))
        return tg_status_set(st, TG_EINVAL,
                             "%s: a %s cell with T = %zu, B = %zu, I = %zu, H = %zu does not have "
                             "PyTorch's 4 parameters for %zu gates and %zu states",
                             fam->fn, c->type->name, T, B, c->in, c->hidden, fam->G, fam->n_states);
    if (g->type != c->type || g->T != T || g->B != B || g->I != c->in || g->H != c->hidden)
        return tg_status_set(
            st, TG_EINVAL,
            "%s: g is for %s, T = %zu, B = %zu, I = %zu, H = %zu, not %s, %zu, %zu, "
            "%zu, %zu",
            fam->fn, g->type ? g->type->name : "(no type)", g->T, g->B, g->I, g->H, c->type->name,
            T, B, c->in, c->hidden);
    return TG_OK;
}

static int run(const family *fam, const tg_bptt_cell *c, size_t T, size_t B, const tg_real *x,
               const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g, tg_status *st)
{
    int rc = check_args(fam, c, T, B, x, dy, g, st);
    if (rc != TG_OK) return rc;
    work w;
    if (work_init(&w, fam, T, B, c->in, c->hidden) != TG_OK)
        return tg_status_set(st, TG_ENOMEM, "%s: out of memory for T = %zu, B = %zu, H = %zu",
                             fam->fn, T, B, c->hidden);
    tg_real *first[2] = {w.hs, w.cs};
    for (size_t k = 0; s0 && k < fam->n_states; k++)
        if (s0[k]) memcpy(first[k], s0[k], B * c->hidden * sizeof *s0[k]);
    forward(&w, c, x);
    backward(&w, c, x, dy);
    work_export(&w, g);
    free(w.block);
    return TG_OK;
}

int tg_bptt_rnn_tanh_hand(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                          const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g,
                          tg_status *st)
{
    return run(&rnn_tanh, w, T, B, x, s0, dy, g, st);
}

int tg_bptt_rnn_relu_hand(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                          const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g,
                          tg_status *st)
{
    return run(&rnn_relu, w, T, B, x, s0, dy, g, st);
}

int tg_bptt_lstm_hand(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                      const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g, tg_status *st)
{
    return run(&lstm, w, T, B, x, s0, dy, g, st);
}

int tg_bptt_gru_hand(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                     const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g, tg_status *st)
{
    return run(&gru, w, T, B, x, s0, dy, g, st);
}
