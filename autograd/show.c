/* show.c: a node as print, dot and the walk show it (show.h).
 *
 * The tape core names no op; showing does, for the built-in ops whose arguments a reader needs
 * (a slice keeps its start in y->iarg, a product its TG_TRANS_* flags) and the fused ones a
 * learner knows as two ops. They are matched by name: a user's op is shown as recorded. The
 * first part of a fused node is computed from the node's inputs and value, for display only:
 *   tg_addmm    y = c + op(a)·op(b):   product = y − c,          its gradient is y's
 *   tg_addcmul  y = x + a ⊙ b:         product = a ⊙ b,          its gradient is y's
 *   tg_softmax_xent y = mean −log p[target]:  p = softmax(z) per row,  dp = −dy / (n·p) at the
 *               targets (the first n int32 of y->saved, ops/loss.c), 0 elsewhere.
 * Invariant: nothing on the tape is changed.
 */
#include "autograd/show.h"

#include "autograd/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int named(const tg_tensor *y, const char *name)
{
    return strcmp(y->op->name, name) == 0;
}

void tgi_show_range(const tg_tensor *y, char buf[48])
{
    buf[0] = '\0';
    if (named(y, "tg_slice_cols") || named(y, "tg_slice_rows"))
        snprintf(buf, 48, " [%zu, %zu)", y->iarg,
                 y->iarg + (named(y, "tg_slice_cols") ? y->cols : y->rows));
}

/* Input k of a product is read transposed: bit k of its flags (TG_TRANS_A = 1, TG_TRANS_B = 2). */
static int transposed(const tg_tensor *y, size_t k)
{
    return k < 2 && (named(y, "tg_matmul") || named(y, "tg_addmm")) && (y->iarg >> k & 1);
}

/* y as recorded. */
static void as_recorded(const tg_tensor *y, tgi_shown *s)
{
    *s = (tgi_shown){.op = y->op->name,
                     .index = tgi_entry_of(y)->index,
                     .label = y->name,
                     .n_in = y->n_in < 3 ? y->n_in : 3,
                     .rows = y->rows,
                     .cols = y->cols,
                     .val = y->val,
                     .grad = y->grad};
    tgi_show_range(y, s->range);
    for (size_t k = 0; k < s->n_in; k++) s->in[k] = (tgi_shown_in){y->in[k], transposed(y, k)};
}

/* The first part (rows x cols) of y, named op, its value and gradient room when `values`. */
static int first_part(const tg_tensor *y, const char *op, size_t rows, size_t cols, int values,
                      tgi_shown *p)
{
    *p = (tgi_shown){
        .op = op, .index = tgi_entry_of(y)->index, .part = 1, .rows = rows, .cols = cols};
    if (!values) return 1;
    size_t n = rows * cols; /* the shape of an input or of y: it fits */
    if (!(p->owned = calloc(2 * n, sizeof *p->owned))) return 0;
    p->val = p->owned;
    p->grad = y->grad ? p->owned + n : NULL; /* tg_addmm's and tg_addcmul's take y's */
    return 1;
}

/* tg_addmm's inputs are a, b, c: the product of a and b, then its sum with c. */
static void addmm_parts(const tg_tensor *y, tgi_shown *p, tgi_shown *s)
{
    const tg_tensor *c = y->in[2];
    p->n_in = 2;
    p->in[0] = (tgi_shown_in){y->in[0], transposed(y, 0)};
    p->in[1] = (tgi_shown_in){y->in[1], transposed(y, 1)};
    s->op = "tg_add";
    s->n_in = 2;
    s->in[0] = (tgi_shown_in){NULL, 0};
    s->in[1] = (tgi_shown_in){c, 0};
    if (!p->owned) return;
    for (size_t i = 0; i < y->rows; i++)
        for (size_t j = 0; j < y->cols; j++) {
            size_t at = i * y->cols + j, ct = (c->rows == 1 ? 0 : i) * y->cols + j;
            p->owned[at] = y->val[at] - c->val[ct];
        }
}

/* tg_addcmul's inputs are x, a, b: the product of a and b, then x plus it. */
static void addcmul_parts(const tg_tensor *y, tgi_shown *p, tgi_shown *s)
{
    const tg_tensor *a = y->in[1], *b = y->in[2];
    p->n_in = 2;
    p->in[0] = (tgi_shown_in){a, 0};
    p->in[1] = (tgi_shown_in){b, 0};
    s->op = "tg_add";
    s->in[1] = (tgi_shown_in){NULL, 0};
    s->n_in = 2;
    for (size_t i = 0; p->owned && i < tg_numel(y); i++) p->owned[i] = a->val[i] * b->val[i];
}

/* tg_softmax_xent's input is the logits z (n x V): their softmax p, then mean −log p[target]. */
static void xent_parts(const tg_tensor *y, tgi_shown *p, tgi_shown *s)
{
    const tg_tensor *z = y->in[0];
    size_t n = z->rows, V = z->cols;
    const int32_t *target = y->saved;
    p->n_in = 1;
    p->in[0] = (tgi_shown_in){z, 0};
    s->op = "nll (mean −log p[target])";
    s->in[0] = (tgi_shown_in){NULL, 0};
    for (size_t i = 0; p->owned && i < n; i++) {
        const tg_real *zi = z->val + i * V;
        double m = zi[0], sum = 0;
        for (size_t j = 1; j < V; j++) m = fmax(m, zi[j]);
        for (size_t j = 0; j < V; j++) sum += exp(zi[j] - m);
        for (size_t j = 0; j < V; j++) p->owned[i * V + j] = (tg_real)(exp(zi[j] - m) / sum);
        if (p->grad) /* d(mean −log p_t)/dp_t = −1 / (n·p_t), times the upstream */
            p->owned[n * V + i * V + target[i]] =
                (tg_real)(-y->grad[0] / ((double)n * p->owned[i * V + target[i]]));
    }
}

size_t tgi_show_node(const tg_tensor *y, int unfused, int values, tgi_shown out[2])
{
    int addmm = named(y, "tg_addmm"), addcmul = named(y, "tg_addcmul");
    int xent = named(y, "tg_softmax_xent");
    as_recorded(y, &out[0]);
    if (!unfused || !(addmm || addcmul || xent)) return 1;
    as_recorded(y, &out[1]);
    const tg_tensor *shape = xent ? y->in[0] : y;
    const char *op = addmm ? "tg_matmul" : addcmul ? "tg_mul" : "tg_softmax";
    if (!first_part(y, op, shape->rows, shape->cols, values, &out[0])) return 0;
    if (addmm) addmm_parts(y, &out[0], &out[1]);
    if (addcmul) addcmul_parts(y, &out[0], &out[1]);
    if (xent) xent_parts(y, &out[0], &out[1]);
    if (!xent) out[0].grad = y->grad; /* a sum passes its gradient to both terms unchanged */
    return 2;
}

void tgi_shown_free(tgi_shown *s, size_t n)
{
    for (size_t i = 0; i < n; i++) free(s[i].owned), s[i].owned = NULL;
}
