/* bptt.c: the hand-derived BPTT reference: a forward that keeps its own cache, then the
 * textbook backward of each cell as plain loops, with no tape and no op.
 *
 * Invariant: nothing here calls the tape or an op, so a bug in an op's backward cannot hide in
 * the reference. The work block holds every intermediate; the caller's tg_bptt_grads is only
 * written at the end, so on failure it is unchanged. Sums are accumulated in double.
 *
 * Read next: nn/bptt_check.c (the tape's side and the comparison), nn/bptt_adapt.c.
 */
#include "nn/bptt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

tg_bptt_cell tg_bptt_cell_of(const tg_cell *cell)
{
    return (tg_bptt_cell){.kind = cell->kind,
                          .in = cell->in,
                          .hidden = cell->hidden,
                          .W_ih = cell->W_ih->val,
                          .W_hh = cell->W_hh->val,
                          .b_ih = cell->b_ih->val,
                          .b_hh = cell->b_hh->val};
}

static size_t gates(tg_cell_kind kind)
{
    return kind == TG_LSTM ? 4 : kind == TG_GRU ? 3 : 1;
}

static int known(tg_cell_kind kind)
{
    return kind == TG_RNN_TANH || kind == TG_RNN_RELU || kind == TG_LSTM || kind == TG_GRU;
}

/* ---- the gradients' block ---- */

int tg_bptt_grads_init(tg_bptt_grads *g, tg_cell_kind kind, size_t T, size_t B, size_t I, size_t H)
{
    memset(g, 0, sizeof *g);
    if (!known(kind) || !T || !B || !I || !H) return TG_EINVAL;
    size_t GH = gates(kind) * H, lstm = kind == TG_LSTM, TBH = T * B * H;
    size_t n = GH * I + GH * H + 2 * GH + TBH * (2 + 2 * lstm) + T * B * I + B * H * (1 + lstm);
    tg_real *p = calloc(n, sizeof *p);
    if (!p) return TG_ENOMEM;
    *g = (tg_bptt_grads){.kind = kind, .T = T, .B = B, .I = I, .H = H, .block = p};
    g->dW_ih = p, p += GH * I;
    g->dW_hh = p, p += GH * H;
    g->db_ih = p, p += GH;
    g->db_hh = p, p += GH;
    g->dh = p, p += TBH;
    g->h = p, p += TBH;
    g->dx = p, p += T * B * I;
    g->dh0 = p, p += B * H;
    if (lstm) {
        g->dc = p, p += TBH;
        g->c = p, p += TBH;
        g->dc0 = p;
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

/* ---- the forward cache and the backward's accumulators, in one block ---- */

typedef struct work {
    size_t T, B, I, H, G;
    tg_real *hs, *cs;       /* (T+1)·B·H states h_0..h_T, c_0..c_T (LSTM) */
    tg_real *act;           /* T·B·G·H gate activations: LSTM i f g o, GRU r z n */
    tg_real *q;             /* T·B·H, GRU: h_{t−1}·W_hnᵀ + b_hn */
    tg_real *dW_ih, *dW_hh; /* as the weights */
    tg_real *db_ih, *db_hh; /* G·H */
    tg_real *dh, *dc, *dx;  /* per step: T·B·H, T·B·H, T·B·I */
    tg_real *dhc, *dcc;     /* B·H: dh and dc carried to the step before */
    tg_real *ax, *ah;       /* B·G·H: pre-activations (forward), their gradients (backward) */
    tg_real *block;
} work;

static int work_init(work *w, const tg_bptt_cell *c, size_t T, size_t B)
{
    size_t I = c->in, H = c->hidden, G = gates(c->kind), GH = G * H, BH = B * H;
    size_t n = 2 * (T + 1) * BH + T * B * GH + T * BH + GH * (I + H + 2) + 2 * T * BH + T * B * I +
               2 * BH + 2 * B * GH;
    tg_real *p = calloc(n, sizeof *p);
    if (!p) return TG_ENOMEM;
    *w = (work){.T = T, .B = B, .I = I, .H = H, .G = G, .block = p};
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

/* Step t (1..T) forward: h_t (and c_t) from h_{t−1}, c_{t−1} and x_t. */
static void forward_step(work *w, const tg_bptt_cell *c, size_t t, const tg_real *x)
{
    size_t B = w->B, H = w->H, GH = w->G * H, BH = B * H;
    const tg_real *hp = w->hs + (t - 1) * BH, *cp = w->cs + (t - 1) * BH;
    tg_real *h = w->hs + t * BH, *cn = w->cs + t * BH, *act = w->act + (t - 1) * B * GH;
    tg_real *q = w->q + (t - 1) * BH;
    affine(w->ax, x, c->W_ih, c->b_ih, B, w->I, GH); /* x·W_ihᵀ + b_ih */
    affine(w->ah, hp, c->W_hh, c->b_hh, B, H, GH);   /* h·W_hhᵀ + b_hh */
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < H; j++) {
            const tg_real *ax = w->ax + r * GH, *ah = w->ah + r * GH;
            tg_real *ac = act + r * GH;
            size_t e = r * H + j;
            if (c->kind == TG_LSTM) {
                double i = sigm((double)ax[j] + ah[j]);                 /* i = σ(a_i) */
                double f = sigm((double)ax[H + j] + ah[H + j]);         /* f = σ(a_f) */
                double g = tanh((double)ax[2 * H + j] + ah[2 * H + j]); /* g = tanh(a_g) */
                double o = sigm((double)ax[3 * H + j] + ah[3 * H + j]); /* o = σ(a_o) */
                double cc = f * cp[e] + i * g;                          /* c = f⊙c + i⊙g */
                ac[j] = (tg_real)i, ac[H + j] = (tg_real)f;
                ac[2 * H + j] = (tg_real)g, ac[3 * H + j] = (tg_real)o;
                cn[e] = (tg_real)cc;
                h[e] = (tg_real)(o * tanh((double)cn[e])); /* h = o⊙tanh(c) */
            } else if (c->kind == TG_GRU) {
                double rr = sigm((double)ax[j] + ah[j]);                     /* r = σ(a_r) */
                double z = sigm((double)ax[H + j] + ah[H + j]);              /* z = σ(a_z) */
                double n = tanh((double)ax[2 * H + j] + rr * ah[2 * H + j]); /* n */
                ac[j] = (tg_real)rr, ac[H + j] = (tg_real)z, ac[2 * H + j] = (tg_real)n;
                q[e] = ah[2 * H + j];
                h[e] = (tg_real)((1 - z) * n + z * hp[e]); /* h = (1−z)⊙n + z⊙h */
            } else {
                double a = (double)ax[j] + ah[j];
                h[e] = (tg_real)(c->kind == TG_RNN_RELU ? (a > 0 ? a : 0) : tanh(a));
            }
        }
}

/* Step t backward: from dh_t (already in w->dh) and dc carried, the pre-activation gradients
 * w->ax (input side) and w->ah (hidden side), dc_t, and the part of dh_{t−1} that does not go
 * through W_hh, left in w->dhc. */
static void gate_grads(work *w, const tg_bptt_cell *c, size_t t)
{
    size_t B = w->B, H = w->H, GH = w->G * H, BH = B * H;
    const tg_real *dh = w->dh + (t - 1) * BH, *h = w->hs + t * BH, *hp = w->hs + (t - 1) * BH;
    const tg_real *cn = w->cs + t * BH, *cp = w->cs + (t - 1) * BH;
    const tg_real *act = w->act + (t - 1) * B * GH, *q = w->q + (t - 1) * BH;
    tg_real *dc = w->dc + (t - 1) * BH;
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < H; j++) {
            size_t e = r * H + j;
            const tg_real *ac = act + r * GH;
            tg_real *dax = w->ax + r * GH, *dah = w->ah + r * GH;
            double d = dh[e];
            w->dhc[e] = 0;
            if (c->kind == TG_LSTM) {
                double i = ac[j], f = ac[H + j], g = ac[2 * H + j], o = ac[3 * H + j];
                double tc = tanh((double)cn[e]);
                double dct = w->dcc[e] + d * o * (1 - tc * tc); /* dc_t = dc + dh⊙o⊙(1−tanh²c) */
                dc[e] = (tg_real)dct;
                w->dcc[e] = (tg_real)(dct * f);                    /* dc_{t−1} = dc_t ⊙ f */
                dax[j] = (tg_real)(dct * g * i * (1 - i));         /* da_i = dc⊙g · i(1−i) */
                dax[H + j] = (tg_real)(dct * cp[e] * f * (1 - f)); /* da_f = dc⊙c_{t−1} · f(1−f) */
                dax[2 * H + j] = (tg_real)(dct * i * (1 - g * g)); /* da_g = dc⊙i · (1−g²) */
                dax[3 * H + j] = (tg_real)(d * tc * o * (1 - o)); /* da_o = dh⊙tanh(c) · o(1−o) */
                for (size_t k = 0; k < 4; k++) dah[k * H + j] = dax[k * H + j];
            } else if (c->kind == TG_GRU) {
                double rr = ac[j], z = ac[H + j], n = ac[2 * H + j];
                double dan = d * (1 - z) * (1 - n * n); /* dan = dh⊙(1−z) · (1−n²) */
                dax[j] = dah[j] = (tg_real)(dan * q[e] * rr * (1 - rr)); /* dar = dan⊙q · r(1−r) */
                dax[H + j] = dah[H + j] = (tg_real)(d * (hp[e] - n) * z * (1 - z)); /* daz */
                dax[2 * H + j] = (tg_real)dan;
                dah[2 * H + j] = (tg_real)(dan * rr); /* dq = dan ⊙ r */
                w->dhc[e] = (tg_real)(d * z);         /* direct path: dh ⊙ z */
            } else {
                double da = c->kind == TG_RNN_RELU ? (h[e] > 0 ? d : 0) : d * (1 - h[e] * h[e]);
                dax[j] = dah[j] = (tg_real)da; /* da = dh ⊙ (1 − h²) */
            }
        }
}

static void backward(work *w, const tg_bptt_cell *c, const tg_real *x, const tg_real *dy)
{
    size_t B = w->B, I = w->I, H = w->H, GH = w->G * H, BH = B * H;
    for (size_t t = w->T; t >= 1; t--) {
        tg_real *dh = w->dh + (t - 1) * BH;
        const tg_real *xt = x + (t - 1) * B * I, *hp = w->hs + (t - 1) * BH;
        for (size_t e = 0; e < BH; e++) dh[e] = (tg_real)((double)dy[(t - 1) * BH + e] + w->dhc[e]);
        gate_grads(w, c, t);
        weight_grads(w->dW_ih, w->db_ih, w->ax, xt, B, I, GH); /* dW_ih += daᵀ·x_t */
        weight_grads(w->dW_hh, w->db_hh, w->ah, hp, B, H, GH); /* dW_hh += daᵀ·h_{t−1} */
        input_grads(w->dx + (t - 1) * B * I, NULL, w->ax, c->W_ih, B, I, GH); /* dx = da·W_ih */
        input_grads(w->dhc, w->dhc, w->ah, c->W_hh, B, H, GH); /* dh_{t−1} += da·W_hh */
    }
}

static void put(tg_real *dst, const tg_real *src, size_t n)
{
    if (dst) memcpy(dst, src, n * sizeof *dst);
}

static void work_export(const work *w, tg_cell_kind kind, tg_bptt_grads *g)
{
    size_t T = w->T, BH = w->B * w->H, GH = w->G * w->H;
    put(g->dW_ih, w->dW_ih, GH * w->I);
    put(g->dW_hh, w->dW_hh, GH * w->H);
    put(g->db_ih, w->db_ih, GH);
    put(g->db_hh, w->db_hh, GH);
    put(g->dh, w->dh, T * BH);
    put(g->dx, w->dx, T * w->B * w->I);
    put(g->dh0, w->dhc, BH);
    put(g->h, w->hs + BH, T * BH);
    if (kind != TG_LSTM) return;
    put(g->dc, w->dc, T * BH);
    put(g->dc0, w->dcc, BH);
    put(g->c, w->cs + BH, T * BH);
}

int tg_bptt_reference(const tg_bptt_cell *c, size_t T, size_t B, const tg_real *x,
                      const tg_real *h0, const tg_real *c0, const tg_real *dy, tg_bptt_grads *g)
{
    if (!c || !x || !dy || !g || !c->W_ih || !c->W_hh || !c->b_ih || !c->b_hh) return TG_ENULL;
    if (!known(c->kind) || !T || !B || !c->in || !c->hidden || g->kind != c->kind || g->T != T ||
        g->B != B || g->I != c->in || g->H != c->hidden)
        return TG_EINVAL;
    work w;
    if (work_init(&w, c, T, B) != TG_OK) return TG_ENOMEM;
    size_t BH = B * c->hidden;
    if (h0) memcpy(w.hs, h0, BH * sizeof *h0);
    if (c0 && c->kind == TG_LSTM) memcpy(w.cs, c0, BH * sizeof *c0);
    for (size_t t = 1; t <= T; t++) forward_step(&w, c, t, x + (t - 1) * B * c->in);
    backward(&w, c, x, dy);
    work_export(&w, c->kind, g);
    free(w.block);
    return TG_OK;
}
