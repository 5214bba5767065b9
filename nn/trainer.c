/* trainer.c: the truncated-BPTT window step, the evaluator, and the training state.
 *
 * Read trainer.h first. Everything here is model-agnostic: the model is a window function
 * that records a loss, and the stack whose state is carried; the rest is the store's flat
 * arrays (clip, step, zero) and the batcher's position.
 */
#include "nn/trainer.h"

#include "nn/clip.h"
#include "nn/internal.h"
#include "ops/unary.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double scheduled_lr(const tg_trainer *tr)
{
    const tg_trainer_config *c = &tr->cfg;
    return tg_lr_step_decay(c->optim.lr, c->lr_decay, c->decay_after, tg_trainer_epoch(tr));
}

/* The ranks of the run: 1 without a communicator. */
static size_t ranks(const tg_trainer_config *c)
{
    return c->comm ? c->comm->ranks : 1;
}

static int check_comm(const tg_comm *m, tg_status *st)
{
    int shares = m ? !!m->share + !!m->sum_shared + !!m->unshare : 0;
    int nodes = m ? !!m->share_node + !!m->sum_scatter + !!m->sync : 0;
    if (m && (!m->sum || !m->gather || !m->bcast || m->ranks == 0 || m->rank >= m->ranks ||
              shares % 3 != 0 || nodes % 3 != 0 || (nodes && !shares)))
        return tg_status_set(st, TG_EINVAL,
                             "tg_trainer_init: the communicator lacks a function (share, "
                             "sum_shared and unshare go together, and share_node, sum_scatter and "
                             "sync with them) or has rank %zu of %zu ranks",
                             m->rank, m->ranks);
    return TG_OK;
}

static int check_config(const tg_trainer_config *c, tg_status *st)
{
    if (!(c->clip >= 0 && c->clip < INFINITY) || !(c->lr_decay > 0 && c->lr_decay <= 1))
        return tg_status_set(st, TG_EINVAL,
                             "tg_trainer_init: clip must be finite and >= 0 and lr_decay in "
                             "(0, 1]: clip %g, lr_decay %g",
                             c->clip, c->lr_decay);
    return check_comm(c->comm, st);
}

/* Advance r by 2^128 draws: xoshiro256's jump polynomial applied through tg_rng_u64 (the state
 * after the jump is the XOR of the states at the polynomial's set bits). Jumps commute with
 * draws, so a rank's generator stays rank 0's jumped rank times when both draw alike. */
static void rng_jump(tg_rng *r)
{
    static const uint64_t poly[4] = {0x180ec6d33cfd0abau, 0xd5a61266f0c9392cu, 0xa9582618e03fc9aau,
                                     0x39abdc4529b1661cu};
    uint64_t acc[4] = {0};
    for (int i = 0; i < 4; i++)
        for (int bit = 0; bit < 64; bit++) {
            if (poly[i] >> bit & 1)
                for (int k = 0; k < 4; k++) acc[k] ^= r->s[k];
            tg_rng_u64(r);
        }
    memcpy(r->s, acc, sizeof acc);
}

void tgi_trainer_rank_rng(tg_trainer *tr)
{
    for (size_t k = 0; tr->rng && tr->cfg.comm && k < tr->cfg.comm->rank; k++) rng_jump(tr->rng);
}

/* Every rank starts from rank 0's parameters, and its own dropout stream. */
static int join_ranks(tg_trainer *tr, tg_status *st)
{
    const tg_comm *m = tr->cfg.comm;
    if (!m || m->ranks == 1) return TG_OK;
    int rc = m->bcast(m->ctx, tg_params_values(tr->ps), tg_params_numel(tr->ps), TG_DT_REAL, st);
    if (rc == TG_OK) tgi_trainer_rank_rng(tr);
    return rc;
}

/* The store's gradients into the communicator's shared block, when it has one; otherwise they
 * stay where they are and are summed with comm->sum. A store that cannot be bound (one another
 * trainer already bound) is the same on every rank, so every rank takes the same path. */
static int share_grads(tg_trainer *tr, tg_status *st)
{
    const tg_comm *m = tr->cfg.comm;
    size_t n = tg_params_numel(tr->ps);
    if (!m || m->ranks == 1 || !m->share || n == 0) return TG_OK;
    void *block = NULL;
    int rc = m->share(m->ctx, n, TG_DT_REAL, &block, st);
    if (rc != TG_OK || !block) return rc;
    if (tg_params_bind_grads(tr->ps, block, NULL) != TG_OK) return m->unshare(m->ctx, block), TG_OK;
    tr->shared = block;
    return TG_OK;
}

/* With the gradients shared, the store's values into the node's one block when the communicator
 * has one, and this rank's run of the store to step (the sharded step). Every rank holds rank
 * 0's values by now (join_ranks), so the ranks copy the same bits into the block. */
static int share_values(tg_trainer *tr, tg_status *st)
{
    const tg_comm *m = tr->cfg.comm;
    if (!tr->shared || !m->share_node) return TG_OK;
    void *block = NULL;
    size_t n = tg_params_numel(tr->ps), lo, hi;
    int rc = m->share_node(m->ctx, n, TG_DT_REAL, &block, &lo, &hi, st);
    if (rc != TG_OK || !block) return rc;
    if (tg_params_bind_values(tr->ps, block, NULL) != TG_OK)
        return m->unshare(m->ctx, block), TG_OK;
    tr->values = block, tr->lo = lo, tr->hi = hi;
    return TG_OK;
}

/* The tape, the window buffers and the carry; TG_ENOMEM when one cannot be had. */
static int allocate(tg_trainer *tr, const tg_rnn *stack, tg_status *st)
{
    size_t B = tr->window ? tr->batch.B : tr->cfg.B;
    size_t ids = tr->window ? tg_batcher_max_steps(&tr->batch) * B : 1; /* <= N */
    tr->tape = tg_tape_new();
    tr->x = malloc(ids * sizeof *tr->x);
    tr->y = malloc(ids * sizeof *tr->y);
    if (!tr->tape || !tr->x || !tr->y)
        return tg_status_set(st, TG_ENOMEM, "tg_trainer_init: out of memory");
    tg_tape_reuse_grads(tr->tape, 1); /* training reads no node's gradient */
    return stack ? tg_rnn_carry_init(&tr->carry, stack, B, st) : TG_OK;
}

int tg_trainer_init(tg_trainer *tr, const tg_trainer_config *cfg, tg_params *ps,
                    const tg_rnn *stack, tg_window_fn window, void *model, tg_rng *rng,
                    const int32_t *tok, size_t N, tg_status *st)
{
    memset(tr, 0, sizeof *tr);
    if (!cfg || !ps || (window && !tok))
        return tg_status_set(st, TG_ENULL,
                             "tg_trainer_init: the config, the store or the stream is NULL");
    int rc = check_config(cfg, st);
    tr->cfg = *cfg, tr->ps = ps, tr->window = window, tr->model = model, tr->rng = rng;
    size_t rank = cfg->comm ? cfg->comm->rank : 0;
    if (rc == TG_OK && window)
        rc = tg_batcher_init_share(&tr->batch, tok, N, cfg->B, cfg->T, rank, ranks(cfg), st);
    if (rc == TG_OK) rc = tg_optim_new(&tr->opt, ps, &cfg->optim, st);
    tr->lo = 0, tr->hi = tg_params_numel(ps);
    if (rc == TG_OK) rc = allocate(tr, stack, st);
    if (rc == TG_OK) rc = join_ranks(tr, st);
    if (rc == TG_OK) rc = share_grads(tr, st);
    if (rc == TG_OK) rc = share_values(tr, st);
    if (rc != TG_OK) {
        tg_trainer_deinit(tr);
        return rc;
    }
    tg_optim_set_lr(tr->opt, scheduled_lr(tr), NULL);
    return TG_OK;
}

void tg_trainer_deinit(tg_trainer *tr)
{
    if (tr->values && tg_params_unbind_values(tr->ps, NULL) == TG_OK)
        tr->cfg.comm->unshare(tr->cfg.comm->ctx, tr->values);
    if (tr->shared && tg_params_unbind_grads(tr->ps, NULL) == TG_OK)
        tr->cfg.comm->unshare(tr->cfg.comm->ctx, tr->shared);
    tg_tape_free(tr->tape);
    tg_optim_free(tr->opt);
    tg_rnn_carry_deinit(&tr->carry);
    free(tr->x);
    free(tr->y);
    memset(tr, 0, sizeof *tr);
}

size_t tg_trainer_epoch(const tg_trainer *tr)
{
    return tr->batch.epoch < SIZE_MAX ? tr->batch.epoch + 1 : SIZE_MAX; /* never wraps to 0 */
}

double tg_trainer_progress(const tg_trainer *tr)
{
    return tr->batch.L > 1 ? (double)tr->batch.offset / (double)(tr->batch.L - 1) : 0;
}

/* Sum the gradients and the loss over the ranks (the loss becomes their mean), and the squared
 * norm of the sum into *sumsq: from the shared sum, or NAN when it must still be taken. With the
 * values shared (the sharded step) the total is only in this rank's run [lo, hi), the only part
 * the step reads. */
static int sum_over_ranks(tg_trainer *tr, double *loss, double *sumsq, tg_status *st)
{
    const tg_comm *m = tr->cfg.comm;
    *sumsq = NAN;
    if (!m || m->ranks == 1) return TG_OK;
    size_t n = tg_params_numel(tr->ps);
    int rc = tr->values   ? m->sum_scatter(m->ctx, tr->shared, sumsq, st)
             : tr->shared ? m->sum_shared(m->ctx, tr->shared, sumsq, st)
                          : m->sum(m->ctx, tg_params_grads(tr->ps), n, TG_DT_REAL, st);
    if (rc == TG_OK) rc = m->sum(m->ctx, loss, 1, TG_DT_F64, st);
    if (rc != TG_OK) {
        char why[sizeof st->msg];
        snprintf(why, sizeof why, "%s", st ? st->msg : tg_strerror(rc));
        return tg_status_set(st, rc,
                             "training step %" PRIu64 ": summing the gradients of %zu ranks: %s",
                             tr->step + 1, m->ranks, why);
    }
    *loss /= (double)m->ranks;
    return TG_OK;
}

/* Walk the recorded objective back, sum over the ranks, then (when the gradient norm is finite)
 * clip, step and zero in one pass over the store. TG_OK, or a code with st naming the step. */
static int backward_and_step(tg_trainer *tr, tg_tensor *L, tg_tensor *objective, double *loss,
                             tg_status *st)
{
    tg_tape *t = tr->tape;
    int rc = objective ? tg_backward(t, objective) : TG_EINVAL;
    if (rc != TG_OK) {
        const char *why = tg_tape_error(t);
        return tg_status_set(st, rc, "training step %" PRIu64 ": %s", tr->step + 1,
                             why ? why : tg_strerror(rc));
    }
    *loss = L->val[0];
    double sumsq;
    if ((rc = sum_over_ranks(tr, loss, &sumsq, st)) != TG_OK) return rc;
    double R = (double)ranks(&tr->cfg); /* the store holds R times the mean's gradient */
    tr->last_norm = (tr->shared ? sqrt(sumsq) : tg_grad_norm(tr->ps)) / R;
    /* then clip, step and zero in one pass over the store */
    if (!isfinite(tr->last_norm)) {
        tg_params_zero_grad(tr->ps);
        return tg_status_set(st, TG_ERANGE,
                             "training step %" PRIu64 ": the gradient norm is %g (loss %g); the "
                             "step was not taken, the parameters are as they were",
                             tr->step + 1, tr->last_norm, *loss);
    }
    double scale = tr->cfg.clip > 0 ? tg_clip_scale(tr->last_norm, tr->cfg.clip) : 1;
    tr->clipped += scale < 1;
    tg_status why;
    rc = tr->values ? tg_optim_step_range(tr->opt, tr->lo, tr->hi, scale / R, 1, &why)
                    : tg_optim_step_scaled(tr->opt, scale / R, 1, &why);
    if (rc != TG_OK)
        return tg_status_set(st, rc, "training step %" PRIu64 ": the optimizer refused: %s",
                             tr->step + 1, why.msg);
    tr->step++;
    /* sharded: no rank records the next window before every run of the values is written */
    const tg_comm *m = tr->cfg.comm;
    if (tr->values && (rc = m->sync(m->ctx, &why)) != TG_OK)
        return tg_status_set(st, rc, "training step %" PRIu64 ": %s", tr->step, why.msg);
    return TG_OK;
}

long tg_trainer_window(tg_trainer *tr, double *loss, tg_status *st)
{
    if (!tr->window)
        return tg_status_set(st, TG_EINVAL, "tg_trainer_window: this trainer has no stream"), -1;
    size_t Tw = tg_batcher_next(&tr->batch, tr->x, tr->y);
    if (Tw == 0) { /* epoch over: a new pass starts from zero state */
        tg_rnn_carry_zero(&tr->carry);
        tg_optim_set_lr(tr->opt, scheduled_lr(tr), NULL);
        return 0;
    }
    tg_tape *t = tr->tape;
    tg_tape_reset(t);
    tg_tensor *L = tr->window(t, tr->model, &tr->carry, tr->x, tr->y, Tw, tr->batch.B, 1);
    tg_tensor *objective = tr->cfg.sum_steps ? tg_scale(t, L, (double)Tw) : L;
    return backward_and_step(tr, L, objective, loss, st) == TG_OK ? (long)Tw : -1;
}

int tg_trainer_step(tg_trainer *tr, tg_batch_fn fn, void *ctx, double *loss, tg_status *st)
{
    if (!fn) return tg_status_set(st, TG_ENULL, "tg_trainer_step: the batch function is NULL");
    tg_tape_reset(tr->tape);
    tg_tensor *L = fn(tr->tape, ctx);
    return backward_and_step(tr, L, L, loss, st);
}

/* ---- Evaluation ------------------------------------------------------------------------- */

/* The loss summed over every token of the batcher's windows, and the tokens: sum[0..2). */
static int evaluate_windows(tg_window_fn window, void *model, tg_tape *t, tg_batcher *b,
                            tg_rnn_carry *carry, int32_t *x, int32_t *y, double sum[2],
                            tg_status *st)
{
    size_t Tw;
    while ((Tw = tg_batcher_next(b, x, y)) > 0) {
        tg_tape_reset(t);
        tg_tensor *L = window(t, model, carry, x, y, Tw, b->B, 0);
        if (!L) return tg_status_set(st, TG_EINVAL, "evaluation: %s", tg_tape_error(t));
        sum[0] += (double)L->val[0] * (double)(Tw * b->B);
        sum[1] += (double)(Tw * b->B);
    }
    return TG_OK;
}

int tg_evaluate(tg_window_fn window, void *model, const tg_rnn *stack, const int32_t *tok, size_t N,
                size_t B, size_t T, double *nll, tg_status *st)
{
    return tg_evaluate_shared(window, model, stack, tok, N, B, T, NULL, nll, st);
}

int tg_evaluate_shared(tg_window_fn window, void *model, const tg_rnn *stack, const int32_t *tok,
                       size_t N, size_t B, size_t T, const tg_comm *comm, double *nll,
                       tg_status *st)
{
    tg_batcher batch;
    int rc = window ? check_comm(comm, st)
                    : tg_status_set(st, TG_ENULL, "tg_evaluate: the window function is NULL");
    if (rc == TG_OK)
        rc = tg_batcher_init_share(&batch, tok, N, B, T, comm ? comm->rank : 0,
                                   comm ? comm->ranks : 1, st);
    if (rc != TG_OK) return rc;
    tg_rnn_carry carry = {0};
    tg_tape *t = tg_tape_new();
    size_t ids = tg_batcher_max_steps(&batch) * batch.B; /* <= N: no overflow */
    int32_t *x = malloc(ids * sizeof *x), *y = malloc(ids * sizeof *y);
    if (!t || !x || !y)
        rc = tg_status_set(st, TG_ENOMEM, "tg_evaluate: out of memory");
    else if (stack)
        rc = tg_rnn_carry_init(&carry, stack, batch.B, st);
    double sum[2] = {0, 0}; /* loss × tokens, tokens */
    if (rc == TG_OK) {
        tg_tape_set_grad(t, 0);
        rc = evaluate_windows(window, model, t, &batch, &carry, x, y, sum, st);
    }
    if (rc == TG_OK && comm && comm->ranks > 1) /* a failed rank stops; the others wait here */
        rc = comm->sum(comm->ctx, sum, 2, TG_DT_F64, st);
    *nll = sum[1] > 0 ? sum[0] / sum[1] : NAN;
    tg_rnn_carry_deinit(&carry);
    tg_tape_free(t);
    free(x);
    free(y);
    return rc;
}
