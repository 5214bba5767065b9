/* mgu_cell.c: defining a new recurrent cell, the minimal gated unit (Zhou et al. 2016), and
 * checking its gradients. The cell is forward code only; the tape differentiates it.
 *
 * Built against the double library (tapegrad-f64) and run by `meson test`: it exits 1 unless
 * every gradient agrees with central differences to a relative 1e-6.
 */
#include <stdio.h>
#include <tapegrad.h>

enum { B = 3, I = 4, H = 5, T = 6 };

typedef struct mgu {
    tg_tensor *Wf, *Uf, *bf; /* forget gate: (H x I), (H x H), (1 x H) */
    tg_tensor *Wh, *Uh, *bh; /* candidate:   (H x I), (H x H), (1 x H) */
} mgu;

/* x (B x I), h (B x H) -> h' (B x H). */
static tg_tensor *mgu_step(tg_tape *t, const mgu *p, tg_tensor *x, tg_tensor *h)
{
    tg_tensor *f = tg_sigmoid(
        t,
        tg_add(t, tg_add(t, tg_matmul(t, x, p->Wf, TG_TRANS_B), tg_matmul(t, h, p->Uf, TG_TRANS_B)),
               p->bf)); /* f = σ(x·Wfᵀ + h·Ufᵀ + bf) */
    tg_tensor *c = tg_tanh(t, tg_add(t,
                                     tg_add(t, tg_matmul(t, x, p->Wh, TG_TRANS_B),
                                            tg_matmul(t, tg_mul(t, f, h), p->Uh, TG_TRANS_B)),
                                     p->bh)); /* h̃ = tanh(x·Whᵀ + (f⊙h)·Uhᵀ + bh) */
    return tg_add(t, tg_mul(t, tg_one_minus(t, f), h), tg_mul(t, f, c)); /* h' = (1−f)⊙h + f⊙h̃ */
}

typedef struct problem {
    mgu cell;
    tg_tensor *xs[T], *h0, *target;
} problem;

/* loss = mean((h_T - target)²) after T steps from h0. */
static tg_tensor *loss(tg_tape *t, void *ctx)
{
    problem *q = ctx;
    tg_tensor *h = q->h0;
    for (int k = 0; k < T; k++) h = mgu_step(t, &q->cell, q->xs[k], h);
    tg_tensor *d = tg_sub(t, h, q->target);
    return tg_mean(t, tg_mul(t, d, d));
}

static tg_tensor *random_leaf(size_t rows, size_t cols, tg_rng *r)
{
    tg_tensor *x = tg_tensor_new(rows, cols, 1);
    for (size_t i = 0; x && i < rows * cols; i++) x->val[i] = tg_rng_uniform(r) * 2 - 1;
    return x;
}

int main(void)
{
    tg_rng r;
    tg_rng_seed(&r, 2016);
    problem q;
    tg_tensor **params = &q.cell.Wf;
    const size_t shape[6][2] = {{H, I}, {H, H}, {1, H}, {H, I}, {H, H}, {1, H}};
    for (int k = 0; k < 6; k++) params[k] = random_leaf(shape[k][0], shape[k][1], &r);
    for (int k = 0; k < T; k++) q.xs[k] = random_leaf(B, I, &r);
    q.h0 = random_leaf(B, H, &r);
    q.target = random_leaf(B, H, &r);

    /* Every parameter, every input and the initial state. */
    tg_tensor *checked[6 + T + 1];
    for (int k = 0; k < 6; k++) checked[k] = params[k];
    for (int k = 0; k < T; k++) checked[6 + k] = q.xs[k];
    checked[6 + T] = q.h0;
    tg_tape *t = tg_tape_new();
    tg_gradcheck_report rep;
    int rc = tg_gradcheck(t, loss, &q, checked, 6 + T + 1, NULL, &rep);
    if (rc != TG_OK) {
        fprintf(stderr, "gradient check failed to run: %s\n", tg_tape_error(t));
        return 1;
    }
    printf("MGU cell, T = %d: %zu gradients checked, worst relative error %.2e, worst absolute "
           "%.2e\n",
           T, rep.checked, rep.max_rel, rep.max_abs);
    tg_tape_free(t);
    for (int k = 0; k < 6 + T + 1; k++) tg_tensor_free(checked[k]);
    tg_tensor_free(q.target);
    return rep.max_rel <= 1e-6 ? 0 : 1;
}
