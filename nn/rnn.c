/* rnn.c: a stack of cells stepped through time, and the detach that carries state across tapes.
 *
 * The unrolled graph is just the cells' ops recorded T·L times with the same parameter
 * tensors, so backward through time is tg_backward over that recording. The carry keeps the
 * only thing a window hands to the next: the final h (and c) values, copied off the tape.
 *
 * Read next: nn/cells.c (one step), autograd/tape.h (the invalidation rule carry respects).
 */
#include "nn/rnn.h"

#include "autograd/internal.h"
#include "ops/dropout.h"
#include "ops/shape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tg_rnn_init(tg_rnn *r, tg_params *ps, const char *prefix, tg_cell_kind kind, size_t in,
                size_t hidden, size_t layers, double dropout, tg_rng *rng)
{
    memset(r, 0, sizeof *r);
    if (layers == 0 || !(dropout >= 0 && dropout < 1) || tg_cell_gates(kind) == 0) return TG_EINVAL;
    tg_cell *cells = calloc(layers, sizeof *cells);
    if (!cells) return TG_ENOMEM;
    for (size_t k = 0; k < layers; k++) {
        int rc = tg_cell_init(&cells[k], ps, prefix, k, kind, k ? hidden : in, hidden, rng);
        if (rc != TG_OK) {
            free(cells);
            return rc;
        }
    }
    *r = (tg_rnn){kind, layers, in, hidden, dropout, cells};
    return TG_OK;
}

void tg_rnn_deinit(tg_rnn *r)
{
    free(r->cells);
    memset(r, 0, sizeof *r);
}

/* Zeros (B x H) for every missing h (and c) of s. 0 when out of memory (message on t). */
static int fill_zero_states(tg_tape *t, const tg_rnn *r, size_t B, tg_state *s)
{
    for (size_t k = 0; k < r->layers; k++) {
        if (!s[k].h && !(s[k].h = tg_input(t, B, r->hidden, NULL))) return 0;
        if (r->kind == TG_LSTM && !s[k].c && !(s[k].c = tg_input(t, B, r->hidden, NULL))) return 0;
    }
    return 1;
}

/* One layer over all T steps: its input side for every step in one product, then the
 * recurrence step by step. x (T·B x I) -> ys[0..T) (B x H); s is the layer's state. */
static int layer_forward(tg_tape *t, const tg_cell *cell, size_t T, size_t B, tg_tensor *x,
                         tg_state *s, tg_tensor **ys)
{
    tg_tensor *gx = tg_cell_input(t, cell, x); /* (T·B x G·H) */
    for (size_t step = 0; step < T; step++) {
        *s = tg_cell_step_gx(t, cell, tg_slice_rows(t, gx, step * B, B), *s);
        ys[step] = s->h;
    }
    return s->h != NULL;
}

tg_tensor *tg_rnn_forward_rows(tg_tape *t, const tg_rnn *r, size_t T, tg_tensor *x, tg_state *s,
                               tg_tensor **ys, tg_rng *rng)
{
    if (ys)
        for (size_t step = 0; step < T; step++) ys[step] = NULL; /* NULL unless recorded */
    if (!tgi_check(t, "tg_rnn_forward", 1, &x)) return NULL;
    if (T == 0 || x->rows % T != 0 || x->cols != r->in)
        return tgi_fail(t,
                        "tg_rnn_forward: x is " TGI_SHAPE " but the stack takes T = %zu steps "
                        "of (B x %zu)",
                        TGI_DIMS(x), T, r->in);
    size_t L = r->layers, B = x->rows / T;
    if (!s) { /* the caller wants no final state: keep it in the arena */
        if (!(s = tgi_alloc(t, L * sizeof *s, "tg_rnn_forward"))) return NULL;
        memset(s, 0, L * sizeof *s);
    }
    tg_tensor **out = ys ? ys : tgi_alloc(t, T * sizeof *out, "tg_rnn_forward");
    if (!out || !fill_zero_states(t, r, B, s)) return NULL;
    for (size_t k = 0; k < L; k++) {
        if (k > 0) /* the layer below's outputs, stacked, through dropout (identity in eval) */
            x = tg_dropout(t, tg_concat_rows(t, T, out), r->dropout, rng);
        if (!layer_forward(t, &r->cells[k], T, B, x, &s[k], out)) return NULL;
    }
    return s[L - 1].h;
}

tg_tensor *tg_rnn_forward(tg_tape *t, const tg_rnn *r, size_t T, tg_tensor *const *xs, tg_state *s,
                          tg_tensor **ys, tg_rng *rng)
{
    if (T == 0) return tgi_fail(t, "tg_rnn_forward: no time steps (T = 0)");
    if (ys)
        for (size_t step = 0; step < T; step++) ys[step] = NULL; /* NULL unless recorded */
    if (!xs) return tgi_fail(t, "tg_rnn_forward: xs is NULL (T = %zu)", T);
    for (size_t step = 0; step < T; step++) {
        if (!xs[step]) return tgi_fail(t, "tg_rnn_forward: xs[%zu] is NULL", step);
        if (xs[step]->cols != r->in || xs[step]->rows != xs[0]->rows)
            return tgi_fail(t,
                            "tg_rnn_forward: xs[%zu] is " TGI_SHAPE " but the stack takes "
                            "(%zu x %zu) like xs[0]",
                            step, TGI_DIMS(xs[step]), xs[0]->rows, r->in);
    }
    return tg_rnn_forward_rows(t, r, T, tg_concat_rows(t, T, xs), s, ys, rng);
}

int tg_rnn_carry_init(tg_rnn_carry *cs, const tg_rnn *r, size_t B)
{
    memset(cs, 0, sizeof *cs);
    size_t L = r->layers, H = r->hidden;
    if (B == 0 || L == 0 || H == 0) return TG_EINVAL;
    if (B > SIZE_MAX / H || B * H > SIZE_MAX / L) return TG_EINVAL;
    size_t n = L * B * H;
    tg_real *h = calloc(n, sizeof *h);
    tg_real *c = r->kind == TG_LSTM ? calloc(n, sizeof *c) : NULL;
    if (!h || (r->kind == TG_LSTM && !c)) {
        free(h);
        free(c);
        return TG_ENOMEM;
    }
    *cs = (tg_rnn_carry){L, B, H, h, c};
    return TG_OK;
}

void tg_rnn_carry_deinit(tg_rnn_carry *cs)
{
    free(cs->h);
    free(cs->c);
    memset(cs, 0, sizeof *cs);
}

void tg_rnn_carry_zero(tg_rnn_carry *cs)
{
    size_t n = cs->layers * cs->B * cs->H;
    if (cs->h) memset(cs->h, 0, n * sizeof *cs->h);
    if (cs->c) memset(cs->c, 0, n * sizeof *cs->c);
}

int tg_rnn_carry_load(tg_tape *t, const tg_rnn_carry *cs, tg_state *s)
{
    size_t BH = cs->B * cs->H;
    for (size_t k = 0; k < cs->layers; k++) {
        s[k].h = tg_input(t, cs->B, cs->H, cs->h + k * BH);
        s[k].c = cs->c ? tg_input(t, cs->B, cs->H, cs->c + k * BH) : NULL;
        if (!s[k].h || (cs->c && !s[k].c)) return TG_ENOMEM;
    }
    return TG_OK;
}

/* TG_OK when x is present and (B x H). */
static int storable(const tg_rnn_carry *cs, const tg_tensor *x)
{
    if (!x) return TG_ENULL;
    return x->rows == cs->B && x->cols == cs->H ? TG_OK : TG_ESHAPE;
}

int tg_rnn_carry_store(tg_rnn_carry *cs, const tg_state *s)
{
    size_t BH = cs->B * cs->H;
    for (size_t k = 0; k < cs->layers; k++) { /* check everything before changing anything */
        int rc = storable(cs, s[k].h);
        if (rc == TG_OK && cs->c) rc = storable(cs, s[k].c);
        if (rc != TG_OK) return rc;
    }
    for (size_t k = 0; k < cs->layers; k++) {
        memcpy(cs->h + k * BH, s[k].h->val, BH * sizeof *cs->h);
        if (cs->c) memcpy(cs->c + k * BH, s[k].c->val, BH * sizeof *cs->c);
    }
    return TG_OK;
}
