/* lm.c: the language model's forward pass, its training loop, evaluation and sampling.
 *
 * Read lm.h first for the shape of a window. Checkpoints are in lm_ckpt.c.
 */
#include "models/lm.h"
#include "models/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lm_config lm_default_config(void)
{
    lm_config c = {0};
    c.cell = &tg_cell_lstm;
    c.L = 1;
    c.optim = tg_sgd_config(1.0, 0.0);
    c.clip = 5.0;
    c.lr_decay = 1.0;
    c.seed = 1;
    return c;
}

const char *lm_cell_names(char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; tg_cell_type_at(i) && used < n; i++)
        used +=
            (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", tg_cell_type_at(i)->name);
    return buf;
}

/* ---- The model ------------------------------------------------------------------------ */

static int check_config(const lm_config *c, tg_status *st)
{
    if (!c->cell) return tg_status_set(st, TG_EINVAL, "no cell type");
    if (!c->V || !c->E || !c->H || !c->L || !c->T || !c->B)
        return tg_status_set(
            st, TG_EINVAL,
            "every size must be at least 1: V %zu, E %zu, H %zu, layers %zu, T %zu, B %zu", c->V,
            c->E, c->H, c->L, c->T, c->B);
    if (c->T > SIZE_MAX / c->B / sizeof(int32_t))
        return tg_status_set(
            st, TG_EINVAL, "a window of T·B ids overflows memory sizes (T %zu, B %zu)", c->T, c->B);
    if (c->tied && c->E != c->H)
        return tg_status_set(
            st, TG_EINVAL,
            "weight tying needs the embedding width to equal the hidden size (E %zu, H %zu)", c->E,
            c->H);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return tg_status_set(st, TG_EINVAL, "dropout must be in [0, 1), got %g", c->dropout);
    if (!(c->clip >= 0 && c->clip < INFINITY) || !(c->lr_decay > 0 && c->lr_decay <= 1) ||
        !(c->init >= 0 && c->init < INFINITY))
        return tg_status_set(
            st, TG_EINVAL,
            "clip and init must be finite and >= 0, lr decay in (0, 1]: clip %g, init "
            "%g, lr decay %g",
            c->clip, c->init, c->lr_decay);
    return TG_OK;
}

static int add_layers(lm_model *m, tg_status *st)
{
    const lm_config *c = &m->cfg;
    tg_status why;
    int rc = tg_embed_init(&m->emb, m->ps, "encoder", c->V, c->E, &m->rng, &why);
    if (rc == TG_OK)
        rc = tg_rnn_init(&m->rnn, m->ps, "rnn.", c->cell, c->E, c->H, c->L, c->dropout, &m->rng,
                         &why);
    if (rc == TG_OK)
        rc = c->tied ? tg_linear_init_tied(&m->dec, m->ps, "decoder", &m->emb, 1, &why)
                     : tg_linear_init(&m->dec, m->ps, "decoder", c->H, c->V, 1, &m->rng, &why);
    if (rc != TG_OK) return tg_status_set(st, rc, "cannot build the model: %s", why.msg);
    if (c->init > 0) tg_params_init_uniform(m->ps, c->init, &m->rng);
    for (size_t k = 0; c->forget_bias != 0 && k < c->L; k++)
        if (tg_lstm_set_forget_bias(&m->rnn.cells[k], c->forget_bias, &why) != TG_OK)
            return tg_status_set(st, TG_EINVAL, "a forget-gate bias: %s", why.msg);
    return TG_OK;
}

int lm_model_init(lm_model *m, const lm_config *cfg, tg_status *st)
{
    memset(m, 0, sizeof *m);
    int rc = check_config(cfg, st);
    if (rc != TG_OK) return rc;
    m->cfg = *cfg;
    tg_rng_seed(&m->rng, cfg->seed);
    m->ps = tg_params_new();
    m->s = calloc(cfg->L, sizeof *m->s);
    if (!m->ps || !m->s) {
        lm_model_deinit(m);
        return tg_status_set(st, TG_ENOMEM, "out of memory building the model");
    }
    rc = add_layers(m, st);
    if (rc != TG_OK) lm_model_deinit(m);
    return rc;
}

void lm_model_deinit(lm_model *m)
{
    tg_rnn_deinit(&m->rnn);
    tg_params_free(m->ps);
    free(m->s);
    free(m->ys);
    memset(m, 0, sizeof *m);
}

/* Per-step pointer arrays for windows of up to Tw steps; grows only, so a training loop stops
 * allocating after its first window. */
static int reserve_steps(lm_model *m, size_t Tw)
{
    if (Tw <= m->steps_cap) return 1;
    tg_tensor **ys = realloc(m->ys, Tw * sizeof *ys);
    if (!ys) return 0;
    m->ys = ys;
    m->steps_cap = Tw;
    return 1;
}

tg_tensor *lm_window_logits(tg_tape *t, lm_model *m, tg_rnn_carry *carry, const int32_t *x,
                            size_t Tw)
{
    size_t B = carry->B;
    double p = m->cfg.dropout;
    tg_rng *rng = m->eval ? NULL : &m->rng; /* no generator: dropout is the identity */
    if (!reserve_steps(m, Tw))
        return tg_fail(t, "lm_window_logits: out of memory for the outputs of %zu steps", Tw);
    if (tg_rnn_carry_load(t, carry, m->s) != TG_OK) return NULL;
    tg_tensor *e = tg_dropout(t, tg_embed_forward(t, &m->emb, x, Tw * B), p, rng);
    if (!tg_rnn_forward_rows(t, &m->rnn, Tw, e, m->s, m->ys, rng)) return NULL;
    tg_tensor *h = tg_dropout(t, tg_concat_rows(t, Tw, m->ys), p, rng); /* (Tw·B x H) */
    tg_tensor *logits = tg_linear_forward(t, &m->dec, h);
    tg_status st;
    if (logits && tg_rnn_carry_store(carry, m->s, &st) != TG_OK) return tg_fail(t, "%s", st.msg);
    return logits;
}

tg_tensor *lm_window_loss(tg_tape *t, lm_model *m, tg_rnn_carry *carry, const int32_t *x,
                          const int32_t *y, size_t Tw)
{
    return tg_softmax_xent(t, lm_window_logits(t, m, carry, x, Tw), y, Tw * carry->B);
}

/* ---- Training and evaluation, through nn/trainer.h -------------------------------------- */

/* The trainer's window function: the model's mean cross-entropy over a window. */
static tg_tensor *window_loss(tg_tape *t, void *model, tg_rnn_carry *carry, const int32_t *x,
                              const int32_t *y, size_t Tw, size_t B, int training)
{
    (void)B; /* the carry has it */
    lm_model *m = model;
    int was_eval = m->eval;
    m->eval = was_eval || !training;
    tg_tensor *L = lm_window_loss(t, m, carry, x, y, Tw);
    m->eval = was_eval;
    return L;
}

int lm_trainer_init(lm_trainer *tr, lm_model *m, const int32_t *tok, size_t N, tg_status *st)
{
    const lm_config *c = &m->cfg;
    tg_trainer_config tc = {c->T,        c->B,           c->optim,     c->clip,
                            c->lr_decay, c->decay_after, c->sum_steps, m->comm};
    return tg_trainer_init(tr, &tc, m->ps, &m->rnn, window_loss, m, &m->rng, tok, N, st);
}

void lm_trainer_deinit(lm_trainer *tr)
{
    tg_trainer_deinit(tr);
}

size_t lm_trainer_epoch(const lm_trainer *tr)
{
    return tg_trainer_epoch(tr);
}

double lm_trainer_progress(const lm_trainer *tr)
{
    return tg_trainer_progress(tr);
}

long lm_train_window(lm_trainer *tr, double *loss, tg_status *st)
{
    return tg_trainer_window(tr, loss, st);
}

int lm_evaluate(lm_model *m, const int32_t *tok, size_t N, size_t B, size_t T, double *nll,
                tg_status *st)
{
    return tg_evaluate_shared(window_loss, m, &m->rnn, tok, N, B, T, m->comm, nll, st);
}

/* ---- Sampling ------------------------------------------------------------------------- */

int lm_sampler_init(lm_sampler *s, lm_model *m, tg_status *st)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->tape = tg_tape_new();
    s->logits = calloc(m->cfg.V, sizeof *s->logits);
    int rc = tg_rnn_carry_init(&s->carry, &m->rnn, 1, NULL);
    if (!s->tape || !s->logits || rc != TG_OK) {
        lm_sampler_deinit(s);
        return tg_status_set(st, TG_ENOMEM, "out of memory setting up sampling");
    }
    tg_tape_set_grad(s->tape, 0);
    return TG_OK;
}

void lm_sampler_deinit(lm_sampler *s)
{
    tg_tape_free(s->tape);
    tg_rnn_carry_deinit(&s->carry);
    free(s->logits);
    memset(s, 0, sizeof *s);
}

int lm_sampler_feed(lm_sampler *s, int32_t id, tg_status *st)
{
    tg_tape_reset(s->tape);
    int was_eval = s->m->eval;
    s->m->eval = 1;
    tg_tensor *z = lm_window_logits(s->tape, s->m, &s->carry, &id, 1);
    s->m->eval = was_eval;
    if (!z) return tg_status_set(st, TG_EINVAL, "sampling: %s", tg_tape_error(s->tape));
    memcpy(s->logits, z->val, s->m->cfg.V * sizeof *s->logits);
    return TG_OK;
}

/* The k-th largest of z[0..V) (k >= 1), tied scores counted each: the cut-off of top-k
 * sampling. */
static double kth_largest(const tg_real *z, size_t V, size_t k)
{
    double cut = INFINITY;
    size_t kept = 0;   /* scores >= cut */
    while (kept < k) { /* one pass per distinct score: fine for the small k people use */
        double best = -INFINITY;
        size_t n = 0;
        for (size_t i = 0; i < V; i++) {
            if (z[i] < cut && z[i] > best)
                best = z[i], n = 1;
            else if (z[i] < cut && z[i] == best)
                n++;
        }
        if (n == 0) break;
        cut = best;
        kept += n;
    }
    return cut;
}

int32_t lm_sampler_draw(const lm_sampler *s, double temperature, size_t top_k, tg_rng *rng)
{
    size_t V = s->m->cfg.V;
    const tg_real *z = s->logits;
    size_t best = 0;
    for (size_t i = 1; i < V; i++)
        if (z[i] > z[best]) best = i;
    if (temperature <= 0) return (int32_t)best;
    double cut = top_k > 0 && top_k < V ? kth_largest(z, V, top_k) : -INFINITY;
    double sum = 0;
    for (size_t i = 0; i < V; i++)
        if (z[i] >= cut) sum += exp((z[i] - z[best]) / temperature);
    double u = tg_rng_uniform(rng) * sum;
    for (size_t i = 0; i < V; i++) {
        if (z[i] < cut) continue;
        u -= exp((z[i] - z[best]) / temperature);
        if (u < 0) return (int32_t)i;
    }
    return (int32_t)best; /* rounding left a sliver: the most likely token */
}
