/* trainer.c: the truncated-BPTT window step, the evaluator, and the training state.
 *
 * Read trainer.h first. Everything here is model-agnostic: the model is a window function
 * that records a loss, and the stack whose state is carried; the rest is the store's flat
 * arrays (clip, step, zero) and the batcher's position.
 */
#include "nn/trainer.h"

#include "nn/clip.h"
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

static int check_config(const tg_trainer_config *c, tg_status *st)
{
    if (!(c->clip >= 0 && c->clip < INFINITY) || !(c->lr_decay > 0 && c->lr_decay <= 1))
        return tg_status_set(st, TG_EINVAL,
                             "tg_trainer_init: clip must be finite and >= 0 and lr_decay in "
                             "(0, 1]: clip %g, lr_decay %g",
                             c->clip, c->lr_decay);
    return TG_OK;
}

/* The tape, the window buffers and the carry; TG_ENOMEM when one cannot be had. */
static int allocate(tg_trainer *tr, const tg_rnn *stack, tg_status *st)
{
    size_t ids = tr->window ? tg_batcher_max_steps(&tr->batch) * tr->cfg.B : 1; /* <= N */
    tr->tape = tg_tape_new();
    tr->x = malloc(ids * sizeof *tr->x);
    tr->y = malloc(ids * sizeof *tr->y);
    if (!tr->tape || !tr->x || !tr->y)
        return tg_status_set(st, TG_ENOMEM, "tg_trainer_init: out of memory");
    tg_tape_reuse_grads(tr->tape, 1); /* training reads no node's gradient */
    return stack ? tg_rnn_carry_init(&tr->carry, stack, tr->cfg.B, st) : TG_OK;
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
    char err[sizeof st->msg];
    if (rc == TG_OK && window &&
        (rc = tg_batcher_init(&tr->batch, tok, N, cfg->B, cfg->T, err, sizeof err)) != TG_OK)
        tg_status_set(st, rc, "%s", err);
    if (rc == TG_OK) rc = tg_optim_new(&tr->opt, ps, &cfg->optim, st);
    if (rc == TG_OK) rc = allocate(tr, stack, st);
    if (rc != TG_OK) {
        tg_trainer_deinit(tr);
        return rc;
    }
    tg_optim_set_lr(tr->opt, scheduled_lr(tr), NULL);
    return TG_OK;
}

void tg_trainer_deinit(tg_trainer *tr)
{
    tg_tape_free(tr->tape);
    tg_optim_free(tr->opt);
    tg_rnn_carry_deinit(&tr->carry);
    free(tr->x);
    free(tr->y);
    memset(tr, 0, sizeof *tr);
}

size_t tg_trainer_epoch(const tg_trainer *tr)
{
    return tr->batch.epoch + 1;
}

double tg_trainer_progress(const tg_trainer *tr)
{
    return tr->batch.L > 1 ? (double)tr->batch.offset / (double)(tr->batch.L - 1) : 0;
}

/* Walk the recorded objective back, then (when the gradient norm is finite) clip, step and
 * zero in one pass over the store. TG_OK, or a code with st naming the step. */
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
    tr->last_norm = tg_grad_norm(tr->ps); /* clip, step and zero in one pass over the store */
    if (!isfinite(tr->last_norm)) {
        tg_params_zero_grad(tr->ps);
        return tg_status_set(st, TG_ERANGE,
                             "training step %" PRIu64 ": the gradient norm is %g (loss %g); the "
                             "step was not taken, the parameters are as they were",
                             tr->step + 1, tr->last_norm, *loss);
    }
    double scale = tr->cfg.clip > 0 ? tg_clip_scale(tr->last_norm, tr->cfg.clip) : 1;
    tr->clipped += scale < 1;
    if ((rc = tg_optim_step_scaled(tr->opt, scale, 1)) != TG_OK)
        return tg_status_set(st, rc, "training step %" PRIu64 ": the optimizer refused: %s",
                             tr->step + 1, tg_strerror(rc));
    tr->step++;
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
    tg_tensor *L = tr->window(t, tr->model, &tr->carry, tr->x, tr->y, Tw, tr->cfg.B, 1);
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

/* The mean over every window of the batcher, weighted by its tokens. */
static int evaluate_windows(tg_window_fn window, void *model, tg_tape *t, tg_batcher *b,
                            tg_rnn_carry *carry, int32_t *x, int32_t *y, double *nll, tg_status *st)
{
    double total = 0;
    size_t count = 0, Tw;
    while ((Tw = tg_batcher_next(b, x, y)) > 0) {
        tg_tape_reset(t);
        tg_tensor *L = window(t, model, carry, x, y, Tw, b->B, 0);
        if (!L) return tg_status_set(st, TG_EINVAL, "evaluation: %s", tg_tape_error(t));
        total += (double)L->val[0] * (double)(Tw * b->B);
        count += Tw * b->B;
    }
    *nll = count ? total / (double)count : NAN;
    return TG_OK;
}

int tg_evaluate(tg_window_fn window, void *model, const tg_rnn *stack, const int32_t *tok, size_t N,
                size_t B, size_t T, double *nll, tg_status *st)
{
    tg_batcher batch;
    char err[sizeof st->msg];
    int rc = tg_batcher_init(&batch, tok, N, B, T, err, sizeof err);
    if (rc != TG_OK) return tg_status_set(st, rc, "%s", err);
    tg_rnn_carry carry = {0};
    tg_tape *t = tg_tape_new();
    size_t ids = tg_batcher_max_steps(&batch) * B; /* <= N: no overflow */
    int32_t *x = malloc(ids * sizeof *x), *y = malloc(ids * sizeof *y);
    if (!t || !x || !y)
        rc = tg_status_set(st, TG_ENOMEM, "tg_evaluate: out of memory");
    else if (stack)
        rc = tg_rnn_carry_init(&carry, stack, B, st);
    if (rc == TG_OK) {
        tg_tape_set_grad(t, 0);
        rc = evaluate_windows(window, model, t, &batch, &carry, x, y, nll, st);
    }
    tg_rnn_carry_deinit(&carry);
    tg_tape_free(t);
    free(x);
    free(y);
    return rc;
}
