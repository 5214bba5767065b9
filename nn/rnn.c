/* rnn.c: a stack of cells stepped through time, and the detach that carries state across tapes.
 *
 * The unrolled graph is just the cells' ops recorded T·L times with the same parameter
 * tensors, so backward through time is tg_backward over that recording. The carry keeps the
 * only thing a window hands to the next: the final h (and c) values, copied off the tape.
 *
 * Read next: nn/cells.c (one step), autograd/tape.h (the invalidation rule carry respects).
 */
#include "nn/rnn.h"

#include "autograd/op.h"
#include "autograd/walk.h"
#include "ops/dropout.h"
#include "ops/shape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tg_rnn_init(tg_rnn *r, tg_params *ps, const char *prefix, const tg_cell_type *type, size_t in,
                size_t hidden, size_t layers, double dropout, tg_rng *rng, tg_status *st)
{
    memset(r, 0, sizeof *r);
    if (!type) return tg_status_set(st, TG_ENULL, "tg_rnn_init: the cell type is NULL");
    if (layers == 0 || !(dropout >= 0 && dropout < 1))
        return tg_status_set(st, TG_EINVAL,
                             "tg_rnn_init: %zu layers of %s with dropout %g: a stack needs at "
                             "least 1 layer and dropout in [0, 1)",
                             layers, type->name, dropout);
    tg_cell *cells = calloc(layers, sizeof *cells);
    if (!cells) return tg_status_set(st, TG_ENOMEM, "tg_rnn_init: out of memory");
    for (size_t k = 0; k < layers; k++) {
        int rc = tg_cell_init(&cells[k], ps, prefix, k, type, k ? hidden : in, hidden, rng, st);
        if (rc != TG_OK) {
            free(cells);
            return rc;
        }
    }
    *r = (tg_rnn){type, layers, in, hidden, dropout, cells};
    return TG_OK;
}

void tg_rnn_deinit(tg_rnn *r)
{
    free(r->cells);
    memset(r, 0, sizeof *r);
}

/* Label state j of layer k (of L) after `step` steps "h_3" ("l1.h_3" in a stack of several). */
static void label_state(tg_tape *t, const tg_cell_type *ty, size_t L, size_t k, size_t j,
                        size_t step, tg_tensor *x)
{
    if (!x || !ty) return;
    if (L > 1)
        tg_labelf(t, x, "l%zu.%s_%zu", k, ty->state_names[j], step);
    else
        tg_labelf(t, x, "%s_%zu", ty->state_names[j], step);
}

/* Zeros (B x H) for every missing state of s, labelled as step 0. 0 when out of memory
 * (message on t). */
static int fill_zero_states(tg_tape *t, const tg_rnn *r, size_t B, tg_state *s)
{
    for (size_t k = 0; k < r->layers; k++)
        for (size_t j = 0; j < r->type->n_states; j++) {
            if (s[k].v[j]) continue;
            if (!(s[k].v[j] = tg_input(t, B, r->hidden, NULL))) return 0;
            label_state(t, r->type, r->layers, k, j, 0, s[k].v[j]);
        }
    return 1;
}

/* One layer (k of the stack's L) over all T steps: its input side for every step in one
 * product, then the recurrence step by step, each step's states labelled "h_1", "h_2", ...
 * x (T·B x I) -> ys[0..T) (B x H); s is the layer's state. */
static int layer_forward(tg_tape *t, const tg_rnn *r, size_t k, size_t T, size_t B, tg_tensor *x,
                         tg_state *s, tg_tensor **ys)
{
    const tg_cell *cell = &r->cells[k];
    tg_tensor *gx = tg_cell_input(t, cell, x); /* (T·B x G·H) */
    for (size_t step = 0; step < T; step++) {
        *s = tg_cell_step_gx(t, cell, tg_slice_rows(t, gx, step * B, B), *s);
        for (size_t j = 0; j < r->type->n_states; j++) /* nodes only: a leaf is the caller's */
            if (s->v[j] && s->v[j]->op) label_state(t, r->type, r->layers, k, j, step + 1, s->v[j]);
        ys[step] = s->h;
    }
    return s->h != NULL;
}

tg_tensor *tg_rnn_forward_rows(tg_tape *t, const tg_rnn *r, size_t T, tg_tensor *x, tg_state *s,
                               tg_tensor **ys, tg_rng *rng)
{
    if (ys)
        for (size_t step = 0; step < T; step++) ys[step] = NULL; /* NULL unless recorded */
    if (!tg_check_inputs(t, "tg_rnn_forward", 1, &x)) return NULL;
    if (T == 0 || x->rows % T != 0 || x->cols != r->in)
        return tg_fail(t,
                       "tg_rnn_forward: x is " TG_SHAPE " but the stack takes T = %zu steps "
                       "of (B x %zu)",
                       TG_DIMS(x), T, r->in);
    size_t L = r->layers, B = x->rows / T;
    if (!s) { /* the caller wants no final state: keep it in the arena */
        if (!(s = tg_tape_alloc(t, L * sizeof *s, "tg_rnn_forward"))) return NULL;
        memset(s, 0, L * sizeof *s);
    }
    tg_tensor **out = ys ? ys : tg_tape_alloc(t, T * sizeof *out, "tg_rnn_forward");
    if (!out || !fill_zero_states(t, r, B, s)) return NULL;
    for (size_t k = 0; k < L; k++) {
        if (k > 0) /* the layer below's outputs, stacked, through dropout (identity in eval) */
            x = tg_dropout(t, tg_concat_rows(t, T, out), r->dropout, rng);
        if (!layer_forward(t, r, k, T, B, x, &s[k], out)) return NULL;
    }
    return s[L - 1].h;
}

tg_tensor *tg_rnn_forward(tg_tape *t, const tg_rnn *r, size_t T, tg_tensor *const *xs, tg_state *s,
                          tg_tensor **ys, tg_rng *rng)
{
    if (T == 0) return tg_fail(t, "tg_rnn_forward: no time steps (T = 0)");
    if (ys)
        for (size_t step = 0; step < T; step++) ys[step] = NULL; /* NULL unless recorded */
    if (!xs) return tg_fail(t, "tg_rnn_forward: xs is NULL (T = %zu)", T);
    for (size_t step = 0; step < T; step++) {
        if (!xs[step]) return tg_fail(t, "tg_rnn_forward: xs[%zu] is NULL", step);
        if (xs[step]->cols != r->in || xs[step]->rows != xs[0]->rows)
            return tg_fail(t,
                           "tg_rnn_forward: xs[%zu] is " TG_SHAPE " but the stack takes "
                           "(%zu x %zu) like xs[0]",
                           step, TG_DIMS(xs[step]), xs[0]->rows, r->in);
    }
    return tg_rnn_forward_rows(t, r, T, tg_concat_rows(t, T, xs), s, ys, rng);
}

int tg_rnn_carry_init(tg_rnn_carry *cs, const tg_rnn *r, size_t B, tg_status *st)
{
    memset(cs, 0, sizeof *cs);
    size_t L = r->layers, H = r->hidden, S = r->type ? r->type->n_states : 0;
    if (B == 0 || L == 0 || H == 0 || S == 0 || B > SIZE_MAX / H ||
        B * H > SIZE_MAX / L / sizeof(tg_real))
        return tg_status_set(st, TG_EINVAL,
                             "tg_rnn_carry_init: %zu layers x %zu rows x %zu units: sizes must be "
                             "at least 1 and their product must fit in memory",
                             L, B, H);
    *cs = (tg_rnn_carry){r->type, L, B, H, S, {0}};
    for (size_t j = 0; j < S; j++)
        if (!(cs->v[j] = calloc(L * B * H, sizeof(tg_real)))) {
            tg_rnn_carry_deinit(cs);
            return tg_status_set(st, TG_ENOMEM, "tg_rnn_carry_init: out of memory");
        }
    return TG_OK;
}

void tg_rnn_carry_deinit(tg_rnn_carry *cs)
{
    for (size_t j = 0; j < TG_CELL_MAX_STATES; j++) free(cs->v[j]);
    memset(cs, 0, sizeof *cs);
}

void tg_rnn_carry_zero(tg_rnn_carry *cs)
{
    for (size_t j = 0; j < cs->n_states; j++)
        memset(cs->v[j], 0, cs->layers * cs->B * cs->H * sizeof *cs->v[j]);
}

int tg_rnn_carry_load(tg_tape *t, const tg_rnn_carry *cs, tg_state *s)
{
    size_t BH = cs->B * cs->H;
    for (size_t k = 0; k < cs->layers; k++) {
        s[k] = (tg_state){{0}};
        for (size_t j = 0; j < cs->n_states; j++) {
            if (!(s[k].v[j] = tg_input(t, cs->B, cs->H, cs->v[j] + k * BH))) return TG_ENOMEM;
            label_state(t, cs->type, cs->layers, k, j, 0, s[k].v[j]);
        }
    }
    return TG_OK;
}

/* TG_OK when x is present and (B x H); else the code, and the message naming layer k, state j. */
static int storable(const tg_rnn_carry *cs, const tg_tensor *x, size_t k, size_t j, tg_status *st)
{
    const char *name = cs->type->state_names[j];
    if (!x)
        return tg_status_set(st, TG_ENULL,
                             "tg_rnn_carry_store: state %s of layer %zu is NULL (a failed "
                             "forward?)",
                             name, k);
    if (x->rows != cs->B || x->cols != cs->H)
        return tg_status_set(st, TG_ESHAPE,
                             "tg_rnn_carry_store: state %s of layer %zu is (%zu x %zu), the carry "
                             "holds (%zu x %zu)",
                             name, k, x->rows, x->cols, cs->B, cs->H);
    return TG_OK;
}

int tg_rnn_carry_store(tg_rnn_carry *cs, const tg_state *s, tg_status *st)
{
    size_t BH = cs->B * cs->H;
    for (size_t k = 0; k < cs->layers; k++) /* check everything before changing anything */
        for (size_t j = 0; j < cs->n_states; j++) {
            int rc = storable(cs, s[k].v[j], k, j, st);
            if (rc != TG_OK) return rc;
        }
    for (size_t k = 0; k < cs->layers; k++)
        for (size_t j = 0; j < cs->n_states; j++)
            memcpy(cs->v[j] + k * BH, s[k].v[j]->val, BH * sizeof(tg_real));
    return TG_OK;
}
