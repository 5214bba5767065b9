/* bptt_check.c: the tape's side of a BPTT check (record, backward, copy the gradients out) and
 * the element-by-element comparison with its table.
 *
 * Invariant: tg_bptt_tape writes nothing into the caller's tg_bptt_grads until the backward has
 * succeeded, and never touches the caller's parameters: it records with copies.
 *
 * Read next: nn/bptt.c (the hand-derived reference this is usually compared with).
 */
#include "nn/bptt_check.h"

#include "ops/binary.h"
#include "ops/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int sizes_fit(const tg_bptt_cell *w, size_t T, size_t B, const tg_bptt_grads *g)
{
    int kind_ok =
        w->kind == TG_RNN_TANH || w->kind == TG_RNN_RELU || w->kind == TG_LSTM || w->kind == TG_GRU;
    return kind_ok && T && B && w->in && w->hidden && g->kind == w->kind && g->T == T &&
           g->B == B && g->I == w->in && g->H == w->hidden;
}

static void copy_out(tg_real *dst, const tg_tensor *x, int grad)
{
    const tg_real *src = grad ? x->grad : x->val;
    if (!dst) return;
    if (src)
        memcpy(dst, src, tg_numel(x) * sizeof *dst);
    else
        memset(dst, 0, tg_numel(x) * sizeof *dst); /* the loss does not reach x */
}

/* Record T steps and the loss; hs, cs, xs receive the per-step tensors. NULL on failure. */
static tg_tensor *record(tg_tape *t, const tg_cell *cell, size_t T, size_t B, const tg_real *x,
                         const tg_real *dy, tg_state s, tg_tensor **hs, tg_tensor **cs,
                         tg_tensor **xs)
{
    size_t I = cell->in, H = cell->hidden;
    tg_tensor *loss = NULL;
    for (size_t k = 0; k < T; k++) {
        xs[k] = tg_leaf(t, B, I, x + k * B * I, 1);
        s = tg_cell_step(t, cell, xs[k], s);
        hs[k] = s.h;
        cs[k] = s.c;
        tg_tensor *term = tg_sum(t, tg_mul(t, s.h, tg_input(t, B, H, dy + k * B * H)));
        loss = loss ? tg_add(t, loss, term) : term; /* loss = Σ_t sum(h_t ⊙ G_t) */
    }
    return loss;
}

static void export(tg_bptt_grads *g, const tg_cell *cell, tg_state s0, size_t T, tg_tensor **hs,
                   tg_tensor **cs, tg_tensor **xs)
{
    size_t BH = g->B * g->H, BI = g->B * g->I;
    copy_out(g->dW_ih, cell->W_ih, 1);
    copy_out(g->dW_hh, cell->W_hh, 1);
    copy_out(g->db_ih, cell->b_ih, 1);
    copy_out(g->db_hh, cell->b_hh, 1);
    copy_out(g->dh0, s0.h, 1);
    for (size_t k = 0; k < T; k++) {
        copy_out(g->dh ? g->dh + k * BH : NULL, hs[k], 1);
        copy_out(g->h ? g->h + k * BH : NULL, hs[k], 0);
        copy_out(g->dx ? g->dx + k * BI : NULL, xs[k], 1);
    }
    if (cell->kind != TG_LSTM) return;
    copy_out(g->dc0, s0.c, 1);
    for (size_t k = 0; k < T; k++) {
        copy_out(g->dc ? g->dc + k * BH : NULL, cs[k], 1);
        copy_out(g->c ? g->c + k * BH : NULL, cs[k], 0);
    }
}

int tg_bptt_tape(tg_tape *t, const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                 const tg_real *h0, const tg_real *c0, const tg_real *dy, tg_bptt_grads *g)
{
    if (!t || !w || !x || !dy || !g || !w->W_ih || !w->W_hh || !w->b_ih || !w->b_hh)
        return TG_ENULL;
    if (!sizes_fit(w, T, B, g)) return TG_EINVAL;
    tg_tensor **hs = malloc(3 * T * sizeof *hs);
    if (!hs) return TG_ENOMEM;
    tg_tape_reset(t);
    int grad_was = tg_tape_set_grad(t, 1);
    size_t I = w->in, H = w->hidden, GH = tg_cell_gates(w->kind) * H;
    tg_cell cell = {w->kind,
                    I,
                    H,
                    tg_leaf(t, GH, I, w->W_ih, 1),
                    tg_leaf(t, GH, H, w->W_hh, 1),
                    tg_leaf(t, 1, GH, w->b_ih, 1),
                    tg_leaf(t, 1, GH, w->b_hh, 1)};
    tg_state s0 = {tg_leaf(t, B, H, h0, 1), w->kind == TG_LSTM ? tg_leaf(t, B, H, c0, 1) : NULL};
    int rc = TG_ENOMEM;
    if (cell.W_ih && cell.W_hh && cell.b_ih && cell.b_hh && s0.h && (s0.c || w->kind != TG_LSTM)) {
        tg_tensor *loss = record(t, &cell, T, B, x, dy, s0, hs, hs + T, hs + 2 * T);
        if (loss) rc = tg_backward(t, loss);
    }
    if (rc == TG_OK) export(g, &cell, s0, T, hs, hs + T, hs + 2 * T);
    tg_tape_set_grad(t, grad_was);
    free(hs);
    return rc;
}

/* ---- the comparison ---- */

static const char *const names[TG_BPTT_NQ] = {"dW_ih", "dW_hh", "db_ih", "db_hh", "dh0", "dc0",
                                              "dh",    "dc",    "dx",    "h",     "c"};

/* The two arrays of quantity k, their element count, steps (0 for unstepped) and row width. */
static size_t pick(const tg_bptt_grads *g, int k, const tg_real **p, size_t *steps, size_t *width)
{
    size_t GH = tg_cell_gates(g->kind) * g->H, BH = g->B * g->H;
    *steps = 0;
    *width = g->H;
    switch (k) {
    case TG_BPTT_DW_IH:
        *p = g->dW_ih, *width = g->I;
        return GH * g->I;
    case TG_BPTT_DW_HH:
        *p = g->dW_hh;
        return GH * g->H;
    case TG_BPTT_DB_IH:
        *p = g->db_ih, *width = GH;
        return GH;
    case TG_BPTT_DB_HH:
        *p = g->db_hh, *width = GH;
        return GH;
    case TG_BPTT_DH0:
        *p = g->dh0;
        return BH;
    case TG_BPTT_DC0:
        *p = g->dc0;
        return BH;
    case TG_BPTT_DX:
        *p = g->dx, *steps = g->T, *width = g->I;
        return g->T * g->B * g->I;
    case TG_BPTT_DH:
        *p = g->dh, *steps = g->T;
        return g->T * BH;
    case TG_BPTT_DC:
        *p = g->dc, *steps = g->T;
        return g->T * BH;
    case TG_BPTT_HT:
        *p = g->h, *steps = g->T;
        return g->T * BH;
    default:
        *p = g->c, *steps = g->T;
        return g->T * BH;
    }
}

/* Is step s (1..T) visited before step best by the computation? Backward for gradients. */
static int earlier(int k, size_t s, size_t best)
{
    if (best == TG_BPTT_NONE) return 1;
    return k == TG_BPTT_HT || k == TG_BPTT_CT ? s < best : s > best;
}

static void diff_one(tg_bptt_diff *d, int k, const tg_bptt_grads *mine, const tg_bptt_grads *ref,
                     double tol, double floor)
{
    const tg_real *a, *b;
    size_t steps, width, n = pick(mine, k, &a, &steps, &width);
    pick(ref, k, &b, &steps, &width);
    *d = (tg_bptt_diff){.name = names[k], .first_step = TG_BPTT_NONE};
    if (!a || !b) return;
    d->count = n;
    size_t per_step = steps ? n / steps : n;
    for (size_t e = 0; e < n; e++) {
        double x = a[e], y = b[e], diff = fabs(x - y);
        double rel = diff == 0 ? 0 : diff / fmax(fmax(fabs(x), fabs(y)), floor);
        if (isnan(rel)) rel = INFINITY;
        size_t step = steps ? e / per_step + 1 : 0, in = e % per_step;
        if (!(diff <= d->max_abs)) d->max_abs = isnan(diff) ? INFINITY : diff;
        if (rel > d->max_rel || (e == 0 && rel == 0)) {
            d->max_rel = rel, d->step = step, d->row = in / width, d->col = in % width;
            d->mine = x, d->ref = y;
        }
        if (rel <= tol) continue;
        d->bad++;
        int stepped = steps || k == TG_BPTT_DH0 || k == TG_BPTT_DC0;
        if (stepped && earlier(k, step, d->first_step)) d->first_step = step;
    }
}

int tg_bptt_compare(const tg_bptt_grads *mine, const tg_bptt_grads *ref, double tol, double floor,
                    tg_bptt_report *rep)
{
    if (!mine || !ref || !rep) return TG_ENULL;
    memset(rep, 0, sizeof *rep);
    if (!(tol >= 0) || !(floor >= 0)) return TG_EINVAL;
    if (mine->kind != ref->kind || mine->T != ref->T || mine->B != ref->B || mine->I != ref->I ||
        mine->H != ref->H)
        return TG_ESHAPE;
    *rep = (tg_bptt_report){.kind = mine->kind,
                            .T = mine->T,
                            .B = mine->B,
                            .I = mine->I,
                            .H = mine->H,
                            .tol = tol,
                            .floor = floor,
                            .ok = 1,
                            .part_step = TG_BPTT_NONE};
    for (int k = 0; k < TG_BPTT_NQ; k++) {
        tg_bptt_diff *d = &rep->q[k];
        diff_one(d, k, mine, ref, tol, floor);
        if (d->bad) rep->ok = 0;
        rep->max_rel = fmax(rep->max_rel, d->max_rel);
        int backward = k == TG_BPTT_DH || k == TG_BPTT_DC || k == TG_BPTT_DX || k == TG_BPTT_DH0 ||
                       k == TG_BPTT_DC0;
        if (backward && d->first_step != TG_BPTT_NONE &&
            (rep->part_step == TG_BPTT_NONE || d->first_step > rep->part_step))
            rep->part_step = d->first_step;
    }
    return TG_OK;
}

/* ---- the table ---- */

static const char *kind_name(tg_cell_kind kind)
{
    switch (kind) {
    case TG_RNN_TANH:
        return "RNN (tanh)";
    case TG_RNN_RELU:
        return "RNN (ReLU)";
    case TG_LSTM:
        return "LSTM";
    default:
        return "GRU";
    }
}

static int print_row(FILE *f, const tg_bptt_diff *d)
{
    char where[48], first[24] = "-";
    if (d->step)
        snprintf(where, sizeof where, "t=%zu (%zu, %zu)", d->step, d->row, d->col);
    else
        snprintf(where, sizeof where, "(%zu, %zu)", d->row, d->col);
    if (d->first_step != TG_BPTT_NONE)
        snprintf(first, sizeof first, "t=%zu", d->first_step);
    else if (d->bad)
        snprintf(first, sizeof first, "(sum over t)");
    return fprintf(f, "%-6s %8zu %11.3e %11.3e  %-18s %+.10e %+.10e %7zu  %s\n", d->name, d->count,
                   d->max_abs, d->max_rel, where, d->mine, d->ref, d->bad, first);
}

int tg_bptt_report_print(const tg_bptt_report *rep, FILE *f)
{
    if (!rep || !f) return TG_ENULL;
    int bad = 0, e = 0;
    e |= fprintf(f,
                 "BPTT check: %s, T = %zu, B = %zu, I = %zu, H = %zu; an element exceeds when "
                 "|a - b| / max(|a|, |b|, %g) > %g\n",
                 kind_name(rep->kind), rep->T, rep->B, rep->I, rep->H, rep->floor, rep->tol) < 0;
    e |= fprintf(f, "%-6s %8s %11s %11s  %-18s %-17s %-17s %7s  %s\n", "", "elements", "max abs",
                 "max rel", "worst at", "  mine", "  reference", "over", "first over") < 0;
    for (int k = 0; k < TG_BPTT_NQ; k++) {
        if (!rep->q[k].count) continue;
        e |= print_row(f, &rep->q[k]) < 0;
        bad += rep->q[k].bad != 0;
    }
    if (rep->ok)
        e |= fprintf(f, "agree: worst relative difference %.3e\n", rep->max_rel) < 0;
    else if (rep->part_step != TG_BPTT_NONE)
        e |= fprintf(f,
                     "DIFFER in %d quantities; walking back from t = %zu, they first part at "
                     "t = %zu\n",
                     bad, rep->T, rep->part_step) < 0;
    else
        e |= fprintf(f, "DIFFER in %d quantities\n", bad) < 0;
    return e || ferror(f) ? TG_EIO : TG_OK;
}
