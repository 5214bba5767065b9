/* bptt_check.c: the tape's side of a BPTT check for any cell type (record, backward, copy the
 * gradients out) and the element-by-element comparison with its table.
 *
 * Invariant: tg_bptt_tape writes nothing into the caller's tg_bptt_grads until the backward has
 * succeeded, and never touches the caller's parameters: it records with copies. The quantities
 * compared are laid out from the cell type alone (its parameters' and states' names), so a
 * user's type gets the same report as the built-in ones.
 *
 * Read next: nn/bptt.c (the arrays and the built-in hand references).
 */
#include "nn/bptt_check.h"

#include "ops/binary.h"
#include "ops/reduce.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tape's side ---- */

static int tape_args(const tg_tape *t, const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                     const tg_real *dy, const tg_bptt_grads *g, tg_status *st)
{
    if (!t || !w || !w->type || !x || !dy || !g)
        return tg_status_set(st, TG_ENULL,
                             "tg_bptt_tape: the tape, the cell, its type, x, dy or g is NULL");
    for (size_t k = 0; k < w->type->n_params; k++)
        if (!w->param[k])
            return tg_status_set(st, TG_ENULL, "tg_bptt_tape: %s parameter %s is NULL",
                                 w->type->name, w->type->params[k].name);
    if (!T || !B || !w->in || !w->hidden || g->type != w->type || g->T != T || g->B != B ||
        g->I != w->in || g->H != w->hidden)
        return tg_status_set(st, TG_EINVAL,
                             "tg_bptt_tape: g is for %s, T = %zu, B = %zu, I = %zu, H = %zu, but "
                             "the cell and sequence are %s, T = %zu, B = %zu, I = %zu, H = %zu "
                             "(sizes at least 1)",
                             g->type ? g->type->name : "(no type)", g->T, g->B, g->I, g->H,
                             w->type->name, T, B, w->in, w->hidden);
    return TG_OK;
}

/* The cell with leaf copies of w's parameters, and the initial states as leaves. 0 on failure
 * (the message on the tape). */
static int leaves(tg_tape *t, const tg_bptt_cell *w, size_t B, const tg_real *const *s0,
                  tg_cell *cell, tg_state *s)
{
    const tg_cell_type *ty = w->type;
    *cell = (tg_cell){.type = ty, .in = w->in, .hidden = w->hidden};
    *s = (tg_state){{0}};
    for (size_t k = 0; k < ty->n_params; k++) {
        size_t rows, cols;
        tg_cell_param_shape(ty, k, w->in, w->hidden, &rows, &cols);
        if (!(cell->p[k] = tg_leaf(t, rows, cols, w->param[k], 1))) return 0;
    }
    for (size_t k = 0; k < ty->n_states; k++)
        if (!(s->v[k] = tg_leaf(t, B, w->hidden, s0 ? s0[k] : NULL, 1))) return 0;
    return 1;
}

/* Record T steps and the loss; states[k·T + i] and xs[i] receive step i + 1's tensors. NULL on
 * failure. */
static tg_tensor *record(tg_tape *t, const tg_cell *cell, size_t T, size_t B, const tg_real *x,
                         const tg_real *dy, tg_state s, tg_tensor **states, tg_tensor **xs)
{
    size_t I = cell->in, H = cell->hidden;
    tg_tensor *loss = NULL;
    for (size_t i = 0; i < T; i++) {
        xs[i] = tg_leaf(t, B, I, x + i * B * I, 1);
        s = tg_cell_step(t, cell, xs[i], s);
        for (size_t k = 0; k < cell->type->n_states; k++) states[k * T + i] = s.v[k];
        tg_tensor *term = tg_sum(t, tg_mul(t, s.h, tg_input(t, B, H, dy + i * B * H)));
        loss = loss ? tg_add(t, loss, term) : term; /* loss = Σ_t sum(h_t ⊙ G_t) */
    }
    return loss;
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

/* dst + i·n when dst is not NULL: step i + 1 of a per-step array. */
static tg_real *at(tg_real *dst, size_t i, size_t n)
{
    return dst ? dst + i * n : NULL;
}

static void export(tg_bptt_grads *g, const tg_cell *cell, tg_state s0, tg_tensor **states,
                   tg_tensor **xs)
{
    size_t T = g->T, BH = g->B * g->H, BI = g->B * g->I;
    for (size_t k = 0; k < cell->type->n_params; k++) copy_out(g->dparam[k], cell->p[k], 1);
    for (size_t k = 0; k < cell->type->n_states; k++) {
        copy_out(g->dstate0[k], s0.v[k], 1);
        for (size_t i = 0; i < T; i++) {
            copy_out(at(g->dstate[k], i, BH), states[k * T + i], 1);
            copy_out(at(g->state[k], i, BH), states[k * T + i], 0);
        }
    }
    for (size_t i = 0; i < T; i++) copy_out(at(g->dx, i, BI), xs[i], 1);
}

int tg_bptt_tape(tg_tape *t, const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                 const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g, tg_status *st)
{
    int rc = tape_args(t, w, T, B, x, dy, g, st);
    if (rc != TG_OK) return rc;
    size_t S = w->type->n_states;
    tg_tensor **nodes =
        T <= SIZE_MAX / sizeof *nodes / (S + 1) ? malloc((S + 1) * T * sizeof *nodes) : NULL;
    if (!nodes) return tg_status_set(st, TG_ENOMEM, "tg_bptt_tape: out of memory, T = %zu", T);
    tg_tape_reset(t);
    int grad_was = tg_tape_set_grad(t, 1), reuse_was = tg_tape_reuse_grads(t, 0);
    tg_cell cell;
    tg_state s;
    rc = TG_ENOMEM;
    if (leaves(t, w, B, s0, &cell, &s)) {
        tg_tensor *loss = record(t, &cell, T, B, x, dy, s, nodes, nodes + S * T);
        if (loss) rc = tg_backward(t, loss);
    }
    if (rc == TG_OK) export(g, &cell, s, nodes, nodes + S * T);
    tg_tape_set_grad(t, grad_was);
    tg_tape_reuse_grads(t, reuse_was);
    free(nodes);
    if (rc != TG_OK)
        tg_status_set(st, rc, "tg_bptt_tape: recording %s failed: %s", w->type->name,
                      tg_tape_error(t) ? tg_tape_error(t) : tg_strerror(rc));
    return rc;
}

/* ---- the quantities of a type, in report order ---- */

typedef struct quantity {
    char name[40];
    tg_bptt_role role;
    const tg_real *p; /* the array, or NULL */
    size_t n, steps;  /* elements, and steps (0 when not per step) */
    size_t width;     /* row width, to name an element (row, col) */
} quantity;

/* Lay out g's quantities into q (TG_BPTT_MAX_QUANTITIES of them); returns how many. */
static size_t quantities(const tg_bptt_grads *g, quantity *q)
{
    const tg_cell_type *ty = g->type;
    size_t n = 0, S = ty->n_states, T = g->T, BH = g->B * g->H;
    for (size_t k = 0; k < ty->n_params; k++) {
        size_t rows, cols;
        tg_cell_param_shape(ty, k, g->I, g->H, &rows, &cols);
        q[n] = (quantity){"", TG_BPTT_PARAM, g->dparam[k], tg_bptt_param_numel(g, k), 0, cols};
        snprintf(q[n++].name, sizeof q->name, "d%s", ty->params[k].name);
    }
    for (size_t k = 0; k < S; k++) {
        q[n] = (quantity){"", TG_BPTT_INITIAL, g->dstate0[k], BH, 0, g->H};
        snprintf(q[n++].name, sizeof q->name, "d%s0", ty->state_names[k]);
    }
    for (size_t k = 0; k < S; k++) {
        q[n] = (quantity){"", TG_BPTT_BACKWARD, g->dstate[k], T * BH, T, g->H};
        snprintf(q[n++].name, sizeof q->name, "d%s", ty->state_names[k]);
    }
    q[n++] = (quantity){"dx", TG_BPTT_BACKWARD, g->dx, T * g->B * g->I, T, g->I};
    for (size_t k = 0; k < S; k++) {
        q[n] = (quantity){"", TG_BPTT_FORWARD, g->state[k], T * BH, T, g->H};
        snprintf(q[n++].name, sizeof q->name, "%s", ty->state_names[k]);
    }
    return n;
}

/* ---- the comparison ---- */

/* Is step s (1..T) visited before step best by the computation? Backward for gradients. */
static int earlier(tg_bptt_role role, size_t s, size_t best)
{
    if (best == TG_BPTT_NONE) return 1;
    return role == TG_BPTT_FORWARD ? s < best : s > best;
}

/* Element e's contribution to d: its difference, and the step and element where it is. */
static void diff_element(tg_bptt_diff *d, const quantity *q, size_t e, double x, double y,
                         double tol, double floor)
{
    double diff = fabs(x - y), rel = diff == 0 ? 0 : diff / fmax(fmax(fabs(x), fabs(y)), floor);
    if (isnan(rel)) rel = INFINITY;
    size_t per_step = q->steps ? q->n / q->steps : q->n;
    size_t step = q->steps ? e / per_step + 1 : 0, in = e % per_step;
    if (!(diff <= d->max_abs)) d->max_abs = isnan(diff) ? INFINITY : diff;
    if (rel > d->max_rel || (e == 0 && rel == 0)) {
        d->max_rel = rel, d->step = step, d->row = in / q->width, d->col = in % q->width;
        d->mine = x, d->ref = y;
    }
    if (rel <= tol) return;
    d->bad++;
    if (q->role != TG_BPTT_PARAM && earlier(q->role, step, d->first_step)) d->first_step = step;
}

static void diff_one(tg_bptt_diff *d, const quantity *a, const quantity *b, double tol,
                     double floor)
{
    *d = (tg_bptt_diff){.role = a->role, .first_step = TG_BPTT_NONE};
    memcpy(d->name, a->name, sizeof d->name);
    if (!a->p || !b->p) return;
    d->count = a->n;
    for (size_t e = 0; e < a->n; e++) diff_element(d, a, e, a->p[e], b->p[e], tol, floor);
}

static int compare_args(const tg_bptt_grads *mine, const tg_bptt_grads *ref, double tol,
                        double floor, const tg_bptt_report *rep, tg_status *st)
{
    if (!mine || !ref || !rep || !mine->type || !ref->type)
        return tg_status_set(st, TG_ENULL, "tg_bptt_compare: mine, ref, rep or a type is NULL");
    if (!(tol >= 0) || !(floor >= 0))
        return tg_status_set(st, TG_EINVAL,
                             "tg_bptt_compare: tol = %g and floor = %g must be at least 0", tol,
                             floor);
    if (mine->type != ref->type || mine->T != ref->T || mine->B != ref->B || mine->I != ref->I ||
        mine->H != ref->H)
        return tg_status_set(st, TG_ESHAPE,
                             "tg_bptt_compare: mine is %s, T = %zu, B = %zu, I = %zu, H = %zu but "
                             "ref is %s, T = %zu, B = %zu, I = %zu, H = %zu",
                             mine->type->name, mine->T, mine->B, mine->I, mine->H, ref->type->name,
                             ref->T, ref->B, ref->I, ref->H);
    double per_step = (double)mine->B * (mine->I > mine->H ? mine->I : mine->H);
    int fits = (double)mine->T * per_step < (double)SIZE_MAX;
    for (size_t k = 0; fits && k < mine->type->n_params; k++)
        fits = tg_bptt_param_numel(mine, k) != 0;
    if (!fits)
        return tg_status_set(st, TG_ERANGE,
                             "tg_bptt_compare: %s with T = %zu, B = %zu, I = %zu, H = %zu: the "
                             "sizes overflow",
                             mine->type->name, mine->T, mine->B, mine->I, mine->H);
    return TG_OK;
}

/* Fold quantity d into the report's verdict and the step where the backward walks part. */
static void fold(tg_bptt_report *rep, const tg_bptt_diff *d)
{
    if (d->bad) rep->ok = 0;
    rep->max_rel = fmax(rep->max_rel, d->max_rel);
    int backward = d->role == TG_BPTT_BACKWARD || d->role == TG_BPTT_INITIAL;
    if (backward && d->first_step != TG_BPTT_NONE &&
        (rep->part_step == TG_BPTT_NONE || d->first_step > rep->part_step))
        rep->part_step = d->first_step;
}

int tg_bptt_compare(const tg_bptt_grads *mine, const tg_bptt_grads *ref, double tol, double floor,
                    tg_bptt_report *rep, tg_status *st)
{
    if (rep) memset(rep, 0, sizeof *rep);
    int rc = compare_args(mine, ref, tol, floor, rep, st);
    if (rc != TG_OK) return rc;
    *rep = (tg_bptt_report){.T = mine->T,
                            .B = mine->B,
                            .I = mine->I,
                            .H = mine->H,
                            .tol = tol,
                            .floor = floor,
                            .ok = 1,
                            .part_step = TG_BPTT_NONE};
    snprintf(rep->type_name, sizeof rep->type_name, "%s", mine->type->name);
    quantity a[TG_BPTT_MAX_QUANTITIES], b[TG_BPTT_MAX_QUANTITIES];
    rep->n = quantities(mine, a);
    quantities(ref, b);
    for (size_t k = 0; k < rep->n; k++) {
        diff_one(&rep->q[k], &a[k], &b[k], tol, floor);
        fold(rep, &rep->q[k]);
    }
    return TG_OK;
}

int tg_bptt_check(const tg_bptt_grads *mine, const tg_bptt_cell *w, const tg_real *x,
                  const tg_real *const *s0, const tg_real *dy, double tol, double floor,
                  tg_bptt_report *rep, tg_status *st)
{
    if (rep) memset(rep, 0, sizeof *rep);
    if (!mine || !mine->type)
        return tg_status_set(st, TG_ENULL, "tg_bptt_check: mine or its type is NULL");
    tg_bptt_grads tape;
    tg_tape *t = tg_tape_new();
    int rc = tg_bptt_grads_init(&tape, mine->type, mine->T, mine->B, mine->I, mine->H, st);
    if (rc == TG_OK && !t) rc = tg_status_set(st, TG_ENOMEM, "tg_bptt_check: out of memory");
    if (rc == TG_OK) rc = tg_bptt_tape(t, w, mine->T, mine->B, x, s0, dy, &tape, st);
    if (rc == TG_OK) rc = tg_bptt_compare(mine, &tape, tol, floor, rep, st);
    tg_bptt_grads_deinit(&tape);
    tg_tape_free(t);
    return rc;
}

const tg_bptt_diff *tg_bptt_report_find(const tg_bptt_report *rep, const char *name)
{
    for (size_t k = 0; rep && name && k < rep->n; k++)
        if (strcmp(rep->q[k].name, name) == 0) return &rep->q[k];
    return NULL;
}

/* ---- the table ---- */

/* The widest name of a quantity compared, at least 6. */
static int name_width(const tg_bptt_report *rep)
{
    size_t w = 6;
    for (size_t k = 0; k < rep->n; k++)
        if (rep->q[k].count && strlen(rep->q[k].name) > w) w = strlen(rep->q[k].name);
    return (int)w;
}

static int print_row(FILE *f, const tg_bptt_diff *d, int w)
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
    return fprintf(f, "%-*s %8zu %11.3e %11.3e  %-18s %+.10e %+.10e %7zu  %s\n", w, d->name,
                   d->count, d->max_abs, d->max_rel, where, d->mine, d->ref, d->bad, first);
}

static int print_verdict(const tg_bptt_report *rep, FILE *f, int bad)
{
    if (rep->ok) return fprintf(f, "agree: worst relative difference %.3e\n", rep->max_rel);
    if (rep->part_step == TG_BPTT_NONE) return fprintf(f, "DIFFER in %d quantities\n", bad);
    return fprintf(f,
                   "DIFFER in %d quantities; walking back from t = %zu, they first part at "
                   "t = %zu\n",
                   bad, rep->T, rep->part_step);
}

int tg_bptt_report_print(const tg_bptt_report *rep, FILE *f)
{
    if (!rep || !f) return TG_ENULL;
    int bad = 0, e = 0, w = name_width(rep);
    e |= fprintf(f,
                 "BPTT check: %s, T = %zu, B = %zu, I = %zu, H = %zu; an element exceeds when "
                 "|a - b| / max(|a|, |b|, %g) > %g\n",
                 rep->type_name, rep->T, rep->B, rep->I, rep->H, rep->floor, rep->tol) < 0;
    e |= fprintf(f, "%-*s %8s %11s %11s  %-18s %-17s %-17s %7s  %s\n", w, "", "elements", "max abs",
                 "max rel", "worst at", "  mine", "  reference", "over", "first over") < 0;
    for (size_t k = 0; k < rep->n; k++) {
        if (!rep->q[k].count) continue;
        e |= print_row(f, &rep->q[k], w) < 0;
        bad += rep->q[k].bad != 0;
    }
    e |= print_verdict(rep, f, bad) < 0;
    return e || ferror(f) ? TG_EIO : TG_OK;
}
