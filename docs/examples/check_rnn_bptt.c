/* check_rnn_bptt.c: checking a hand-derived backprop-through-time against the tape.
 *
 * docs/bptt-walkthrough.md walks through this file. A tanh RNN, in PyTorch's layout:
 *     h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh)
 * (the built-in type tg_cell_rnn, parameters weight_ih, weight_hh, bias_ih, bias_hh)
 * and its backward derived by hand, step t from T down to 1, with dh_t = dy_t + what h_{t+1}
 * sends back:
 *     dt = dh_t ⊙ (1 − h_t²)      db_ih = db_hh = Σ_t Σ_rows dt
 *     dW_ih += dtᵀ·x_t             dW_hh += dtᵀ·h_{t−1}
 *     dx_t = dt·W_ih               dh_{t−1} (sent back) = dt·W_hh
 * Built against the double library and run by `meson test`, which also compares what it prints
 * with docs/bptt-walkthrough.md: it exits 1 unless the right derivation agrees with the tape to
 * 1e-10 and a wrong one is caught at the step it goes wrong.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <tapegrad.h>

enum { T = 8, B = 2, I = 3, H = 4 };
enum { W_IH, W_HH, B_IH, B_HH }; /* the parameters' order in tg_cell_rnn */

/* y (rows x n) += a (rows x k) · w (n x k)ᵀ, or with transpose_a: y (k x n) += aᵀ · w (rows x n). */
static void matmul_acc(tg_real *y, const tg_real *a, const tg_real *w, size_t rows, size_t k,
                       size_t n, int transpose_a)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < n; j++) {
                if (transpose_a)
                    y[i * n + j] += a[r * k + i] * w[r * n + j];
                else
                    y[r * n + j] += a[r * k + i] * w[j * k + i];
            }
}

/* The hand derivation above. With forget_tanh_grad, the classic slip: dh_{t−1} = dh_t·W_hh,
 * forgetting that the gradient passes through tanh on its way back. */
static void my_rnn_bptt(const tg_bptt_cell *w, const tg_real *x, const tg_real *dy,
                        tg_bptt_grads *g, int forget_tanh_grad)
{
    static tg_real h[(T + 1) * B * H], dnext[B * H], dt[B * H];
    memset(h, 0, sizeof h);           /* h[0] is h_0 = 0 */
    for (size_t t = 1; t <= T; t++) { /* forward */
        tg_real *ht = &h[t * B * H];
        for (size_t r = 0; r < B; r++)
            for (size_t j = 0; j < H; j++) ht[r * H + j] = w->param[B_IH][j] + w->param[B_HH][j];
        matmul_acc(ht, &x[(t - 1) * B * I], w->param[W_IH], B, I, H, 0);
        matmul_acc(ht, &h[(t - 1) * B * H], w->param[W_HH], B, H, H, 0);
        for (size_t i = 0; i < B * H; i++) ht[i] = tanh(ht[i]);
        memcpy(&g->state[0][(t - 1) * B * H], ht, sizeof dt);
    }
    memset(dnext, 0, sizeof dnext);
    for (size_t t = T; t >= 1; t--) { /* backward, through time */
        tg_real *dh = &g->dstate[0][(t - 1) * B * H], *ht = &h[t * B * H];
        for (size_t i = 0; i < B * H; i++) dh[i] = dy[(t - 1) * B * H + i] + dnext[i];
        for (size_t i = 0; i < B * H; i++) dt[i] = dh[i] * (1 - ht[i] * ht[i]);
        for (size_t r = 0; r < B; r++)
            for (size_t j = 0; j < H; j++)
                g->dparam[B_IH][j] += dt[r * H + j], g->dparam[B_HH][j] += dt[r * H + j];
        matmul_acc(g->dparam[W_IH], dt, &x[(t - 1) * B * I], B, H, I, 1);
        matmul_acc(g->dparam[W_HH], dt, &h[(t - 1) * B * H], B, H, H, 1);
        tg_real *dx = &g->dx[(t - 1) * B * I];
        memset(dx, 0, B * I * sizeof *dx);
        memset(dnext, 0, sizeof dnext);
        for (size_t r = 0; r < B; r++) /* dx_t = dt·W_ih, dh_{t−1} = dt·W_hh */
            for (size_t j = 0; j < H; j++) {
                tg_real back = forget_tanh_grad ? dh[r * H + j] : dt[r * H + j];
                for (size_t i = 0; i < I; i++)
                    dx[r * I + i] += dt[r * H + j] * w->param[W_IH][j * I + i];
                for (size_t i = 0; i < H; i++) dnext[r * H + i] += back * w->param[W_HH][j * H + i];
            }
    }
    memcpy(g->dstate0[0], dnext, sizeof dnext);
}

static void fill(tg_real *v, size_t n, tg_rng *r)
{
    for (size_t i = 0; i < n; i++) v[i] = tg_rng_uniform(r) - 0.5;
}

/* Derive by hand, take the tape's gradients, compare; the report says where they part. */
static int check(const tg_bptt_cell *w, const tg_real *x, const tg_real *dy, int slip,
                 tg_bptt_report *rep)
{
    tg_bptt_grads mine;
    tg_status st;
    int rc = tg_bptt_grads_init(&mine, w->type, T, B, I, H, &st);
    if (rc == TG_OK) {
        my_rnn_bptt(w, x, dy, &mine, slip);                                /* yours */
        rc = tg_bptt_check(&mine, w, x, NULL, dy, 1e-10, 1e-12, rep, &st); /* against the tape */
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
    static tg_real W_ih[H * I], W_hh[H * H], b_ih[H], b_hh[H], x[T * B * I], dy[T * B * H];
    tg_rng r;
    tg_rng_seed(&r, 1986);
    fill(W_ih, H * I, &r), fill(W_hh, H * H, &r), fill(b_ih, H, &r), fill(b_hh, H, &r);
    fill(x, T * B * I, &r), fill(dy, T * B * H, &r);
    tg_bptt_cell w = {&tg_cell_rnn, I, H, {W_ih, W_hh, b_ih, b_hh}};
    tg_bptt_report right, slip;
    printf("== the derivation above\n");
    if (check(&w, x, dy, 0, &right) != TG_OK) return 1;
    printf("\n== with dh_{t-1} = dh_t·W_hh (the tanh derivative forgotten)\n");
    if (check(&w, x, dy, 1, &slip) != TG_OK) return 1;
    /* dh_T is only dy_T, so the slip first shows in dh_{T-1}. */
    int ok = right.ok && !slip.ok && slip.part_step == T - 1;
    printf("\n%s\n", ok ? "the right derivation agrees; the slip is caught at step T - 1"
                        : "UNEXPECTED: see the tables above");
    return ok ? 0 : 1;
}
