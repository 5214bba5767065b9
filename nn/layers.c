/* layers.c: linear and embedding layers as one or two recorded ops each.
 *
 * A layer holds borrowed pointers into the parameter store; forward is a composite of public
 * ops (tg_matmul with TG_TRANS_B reads W (O x I) as Wᵀ in place; tg_addmm adds the bias row in
 * the same node), so there is no backward here. Tying points a linear layer's W at an embedding table.
 *
 * Read next: nn/cells.c (the recurrent cells, built the same way).
 */
#include "nn/layers.h"

#include "ops/binary.h"
#include "ops/embedding.h"
#include "ops/matmul.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Add "<prefix>.<what>" (rows x cols) to ps: tg_params_add's returns. */
static int add(tg_params *ps, const char *prefix, const char *what, size_t rows, size_t cols,
               tg_tensor **out, tg_status *st)
{
    char name[128];
    snprintf(name, sizeof name, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", what);
    return tg_params_add(ps, name, rows, cols, out, st); /* truncated is > 63 bytes: refused */
}

int tg_linear_init(tg_linear *l, tg_params *ps, const char *prefix, size_t in, size_t out, int bias,
                   tg_rng *rng, tg_status *st)
{
    memset(l, 0, sizeof *l);
    tg_tensor *W, *b = NULL;
    int rc = add(ps, prefix, "weight", out, in, &W, st);
    if (rc == TG_OK && bias) rc = add(ps, prefix, "bias", 1, out, &b, st);
    if (rc != TG_OK) return rc;
    double k = 1.0 / sqrt((double)in);
    if (rng) tg_init_uniform(W, -k, k, rng);
    if (rng && b) tg_init_uniform(b, -k, k, rng);
    *l = (tg_linear){in, out, W, b};
    return TG_OK;
}

int tg_linear_init_tied(tg_linear *l, tg_params *ps, const char *prefix, const tg_embed *e,
                        int bias, tg_status *st)
{
    memset(l, 0, sizeof *l);
    tg_tensor *b = NULL;
    int rc = bias ? add(ps, prefix, "bias", 1, e->V, &b, st) : TG_OK;
    if (rc != TG_OK) return rc;
    *l = (tg_linear){e->E, e->V, e->W, b};
    return TG_OK;
}

tg_tensor *tg_linear_forward(tg_tape *t, const tg_linear *l, tg_tensor *x)
{
    if (!l->b) return tg_matmul(t, x, l->W, TG_TRANS_B); /* x·Wᵀ */
    return tg_addmm(t, l->b, x, l->W, TG_TRANS_B);       /* b + x·Wᵀ */
}

int tg_embed_init(tg_embed *e, tg_params *ps, const char *prefix, size_t V, size_t E, tg_rng *rng,
                  tg_status *st)
{
    memset(e, 0, sizeof *e);
    tg_tensor *W;
    int rc = add(ps, prefix, "weight", V, E, &W, st);
    if (rc != TG_OK) return rc;
    if (rng) tg_init_normal(W, 0.0, 1.0, rng);
    *e = (tg_embed){V, E, W};
    return TG_OK;
}

tg_tensor *tg_embed_forward(tg_tape *t, const tg_embed *e, const int32_t *ids, size_t n)
{
    return tg_embedding(t, e->W, ids, n);
}
