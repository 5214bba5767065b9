/* mgu_bptt.c: a hand-derived backprop-through-time of a cell defined outside the library (the
 * MGU of mgu.h), checked against the tape, and two classic slips caught at the step where
 * they enter. docs/check-your-cell.md walks through this file.
 *
 * Forward, per step (mgu.h):  f = σ(x·Wfᵀ + h·Ufᵀ + bf),  q = f ⊙ h,
 *                             h̃ = tanh(x·Whᵀ + q·Uhᵀ + bh),  h' = (1 − f) ⊙ h + f ⊙ h̃.
 * Backward, step t from T down to 1, with dh' = dy_t + what step t + 1 sent back:
 *     dah = dh' ⊙ f ⊙ (1 − h̃²)                    (through h̃ = tanh(ah))
 *     dq  = dah·Uh                                  (q = f ⊙ h feeds h̃)
 *     daf = (dh' ⊙ (h̃ − h) + dq ⊙ h) ⊙ f(1 − f)    (f reaches h' directly and through q)
 *     sent back to h: dh' ⊙ (1 − f) + dq ⊙ f + daf·Uf
 *     dx = daf·Wf + dah·Wh
 *     dWf += dafᵀ·x,  dUf += dafᵀ·h,  dbf += Σ_rows daf,  and likewise dWh, dUh (with q), dbh.
 * Built against the double library and run by `meson test`, which compares what it prints with
 * docs/check-your-cell.md; it exits 1 unless the derivation agrees with the tape to 1e-10 and
 * each slip is caught at its step.
 */
#include "mgu.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { T = 8, B = 2, I = 3, H = 4 };
enum { RIGHT, NO_F_PATH_TO_H, NO_H_IN_DF }; /* the derivation, and two slips */

/* y (B x N) += a (B x K)·Wᵀ, with W (N x K). */
static void mul_wt(tg_real *y, const tg_real *a, const tg_real *W, size_t K, size_t N)
{
    for (size_t r = 0; r < B; r++)
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++) y[r * N + n] += a[r * K + k] * W[n * K + k];
}

/* y (B x K) += a (B x N)·W, with W (N x K). */
static void mul_w(tg_real *y, const tg_real *a, const tg_real *W, size_t K, size_t N)
{
    for (size_t r = 0; r < B; r++)
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++) y[r * K + k] += a[r * N + n] * W[n * K + k];
}

/* dW (N x K) += aᵀ·x and, when db is not NULL, db (N) += Σ_rows a; a (B x N), x (B x K). */
static void grad_w(tg_real *dW, tg_real *db, const tg_real *a, const tg_real *x, size_t K, size_t N)
{
    for (size_t r = 0; r < B; r++)
        for (size_t n = 0; n < N; n++) {
            if (db) db[n] += a[r * N + n];
            for (size_t k = 0; k < K; k++) dW[n * K + k] += a[r * N + n] * x[r * K + k];
        }
}

/* The forward: h_1..h_T (h[0] = h_0), and per step f, q = f ⊙ h_{t−1}, h̃. */
static tg_real h[(T + 1) * B * H], f[T * B * H], q[T * B * H], n[T * B * H];

static void forward(const tg_bptt_cell *w, const tg_real *x)
{
    const tg_real *const *p = w->param;
    for (size_t t = 1, o = 0; t <= T; t++, o += B * H) {
        const tg_real *xt = &x[(t - 1) * B * I], *hp = &h[o];
        for (size_t e = 0; e < B * H; e++) f[o + e] = p[MGU_BF][e % H], n[o + e] = p[MGU_BH][e % H];
        mul_wt(&f[o], xt, p[MGU_WF], I, H), mul_wt(&f[o], hp, p[MGU_UF], H, H);
        for (size_t e = 0; e < B * H; e++)
            f[o + e] = 1 / (1 + exp(-f[o + e])), q[o + e] = f[o + e] * hp[e];
        mul_wt(&n[o], xt, p[MGU_WH], I, H), mul_wt(&n[o], &q[o], p[MGU_UH], H, H);
        for (size_t e = 0; e < B * H; e++) {
            n[o + e] = tanh(n[o + e]);
            h[o + B * H + e] = (1 - f[o + e]) * hp[e] + f[o + e] * n[o + e];
        }
    }
}

/* Step t backward from dh (B x H, the total gradient reaching h_t); dprev receives what is
 * sent back to h_{t−1}. */
static void backward_step(const tg_bptt_cell *w, const tg_real *x, size_t t, const tg_real *dh,
                          tg_real *dprev, tg_bptt_grads *g, int slip)
{
    const tg_real *const *p = w->param, *xt = &x[(t - 1) * B * I];
    size_t o = (t - 1) * B * H;
    const tg_real *ft = &f[o], *nt = &n[o], *hp = &h[o];
    tg_real dah[B * H], dq[B * H] = {0}, daf[B * H];
    for (size_t e = 0; e < B * H; e++) dah[e] = dh[e] * ft[e] * (1 - nt[e] * nt[e]); /* dah */
    mul_w(dq, dah, p[MGU_UH], H, H); /* dq = dah·Uh */
    for (size_t e = 0; e < B * H; e++) {
        tg_real df = dh[e] * (nt[e] - hp[e]) + (slip == NO_H_IN_DF ? 0 : dq[e] * hp[e]);
        daf[e] = df * ft[e] * (1 - ft[e]); /* daf = df ⊙ f(1 − f) */
        dprev[e] = dh[e] * (1 - ft[e]) + (slip == NO_F_PATH_TO_H ? 0 : dq[e] * ft[e]);
    }
    mul_w(dprev, daf, p[MGU_UF], H, H); /* sent back: dh ⊙ (1 − f) + dq ⊙ f + daf·Uf */
    tg_real *dx = &g->dx[(t - 1) * B * I];
    memset(dx, 0, B * I * sizeof *dx);
    mul_w(dx, daf, p[MGU_WF], I, H), mul_w(dx, dah, p[MGU_WH], I, H); /* dx = daf·Wf + dah·Wh */
    grad_w(g->dparam[MGU_WF], g->dparam[MGU_BF], daf, xt, I, H);      /* dWf, dbf */
    grad_w(g->dparam[MGU_UF], NULL, daf, hp, H, H);                   /* dUf += dafᵀ·h */
    grad_w(g->dparam[MGU_WH], g->dparam[MGU_BH], dah, xt, I, H);      /* dWh, dbh */
    grad_w(g->dparam[MGU_UH], NULL, dah, &q[o], H, H);                /* dUh += dahᵀ·q */
}

/* The whole derivation into g (zeroed by tg_bptt_grads_init): forward from h0, then back. */
static void my_mgu_bptt(const tg_bptt_cell *w, const tg_real *x, const tg_real *h0,
                        const tg_real *dy, tg_bptt_grads *g, int slip)
{
    tg_real dnext[B * H] = {0};
    memcpy(h, h0, B * H * sizeof *h);
    forward(w, x);
    memcpy(g->state[0], &h[B * H], T * B * H * sizeof *h);
    for (size_t t = T; t >= 1; t--) {
        tg_real *dh = &g->dstate[0][(t - 1) * B * H];
        for (size_t e = 0; e < B * H; e++) dh[e] = dy[(t - 1) * B * H + e] + dnext[e];
        backward_step(w, x, t, dh, dnext, g, slip);
    }
    memcpy(g->dstate0[0], dnext, sizeof dnext);
}

static void fill(tg_real *v, size_t count, tg_rng *r)
{
    for (size_t i = 0; i < count; i++) v[i] = tg_rng_uniform(r) - 0.5;
}

/* Derive by hand, take the tape's gradients, compare and print; the report says where they
 * part. Returns TG_OK or the failing call's code (its message on stderr). */
static int check(const tg_bptt_cell *w, const tg_real *x, const tg_real *h0, const tg_real *dy,
                 int slip, tg_bptt_report *rep)
{
    tg_bptt_grads mine;
    tg_status st;
    const tg_real *s0[] = {h0};
    int rc = tg_bptt_grads_init(&mine, w->type, T, B, I, H, &st);
    if (rc == TG_OK) {
        my_mgu_bptt(w, x, h0, dy, &mine, slip);                          /* yours */
        rc = tg_bptt_check(&mine, w, x, s0, dy, 1e-10, 1e-12, rep, &st); /* against the tape */
    }
    if (rc == TG_OK)
        tg_bptt_report_print(rep, stdout);
    else
        fprintf(stderr, "%s\n", st.msg);
    tg_bptt_grads_deinit(&mine);
    return rc;
}

int main(void)
{
    static const char *const title[] = {
        "the derivation above",
        "slip 1: sent back to h without dq ⊙ f (the path through q = f ⊙ h forgotten)",
        "slip 2: df without dq ⊙ h (f's share of the path through q forgotten)"};
    static tg_real x[T * B * I], h0[B * H], dy[T * B * H];
    tg_status st;
    tg_rng r;
    tg_rng_seed(&r, 2016);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    if (mgu_register(&st) != TG_OK ||
        tg_cell_init(&cell, ps, NULL, 0, tg_cell_type_find("mgu"), I, H, &r, &st) != TG_OK) {
        fprintf(stderr, "%s\n", st.msg);
        return 1;
    }
    fill(x, T * B * I, &r), fill(h0, B * H, &r), fill(dy, T * B * H, &r);
    tg_bptt_cell w = tg_bptt_cell_of(&cell);
    tg_bptt_report rep[3];
    for (int k = RIGHT; k <= NO_H_IN_DF; k++) {
        printf("%s== %s\n", k ? "\n" : "", title[k]);
        if (check(&w, x, h0, dy, k, &rep[k]) != TG_OK) return 1;
    }
    tg_params_free(ps);
    /* Slip 1 leaves step T right and spoils what it sends back: first seen at T - 1. Slip 2
     * spoils daf at step T itself, so dx_T already differs. */
    int ok = rep[RIGHT].ok && !rep[NO_F_PATH_TO_H].ok && rep[NO_F_PATH_TO_H].part_step == T - 1 &&
             !rep[NO_H_IN_DF].ok && rep[NO_H_IN_DF].part_step == T;
    printf("\n%s\n", ok ? "the derivation agrees; slip 1 is caught at step T - 1, slip 2 at step T"
                        : "UNEXPECTED: see the tables above");
    return ok ? 0 : 1;
}
