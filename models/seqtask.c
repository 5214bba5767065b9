/* seqtask.c: the adding problem, the copy task and parity, trained through nn/trainer.h.
 *
 * Dimension letters: T the task's length parameter, L steps of one sequence, B rows, H hidden,
 * I input width, C output width (1 for regression, classes otherwise). Data are time-major:
 * step l of row b is row l·B + b of x (L·B x I), as tg_rnn_forward_rows takes it.
 *
 *   adding  x_l = (value U[0,1), marker); markers at one step of the first half and one of the
 *           second; target the sum of the two marked values; MSE of a linear map of the last h.
 *           Predicting 1 always gives E[(u1 + u2 − 1)²] = 2/12 ≈ 0.167.
 *   copy    S symbols of 8 (one-hot, 10 wide: blank, 8 symbols, delimiter), T − 1 blanks, the
 *           delimiter, S blanks; the target is blank everywhere but the last S steps, which
 *           repeat the symbols. Cross-entropy at every step (9 classes). The memoryless
 *           predictor (blank, then uniform) scores S·ln 8 / (T + 2S) and recalls 1/8.
 *   parity  T bits (one-hot, 2 wide); the class is their XOR; cross-entropy of the last h.
 *           Training strings have 1 to T bits after zero inputs (a curriculum), held-out ones T.
 *           Chance is ln 2 and 50%.
 *   brackets T brackets (one-hot, 2 wide: '(' and ')'); the class is whether they balance.
 *           Half the strings balance (uniform among those that do); the other half have as
 *           many '(' as ')' but a prefix closes more than it opened, so counting alone does
 *           not tell. Lengths are even (an odd T reads one zero input first); training
 *           strings have 2 to T brackets after zero inputs, as for parity. Chance: ln 2, 50%.
 *
 * Read next: nn/trainer.h (tg_trainer_step), nn/rnn.h (the stack), models/lm.c.
 */
#include "models/seqtask.h"

#include "autograd/rng.h"
#include "autograd/tape.h"
#include "models/cli.h"
#include "nn/layers.h"
#include "nn/params.h"
#include "nn/rnn.h"
#include "nn/trainer.h"
#include "ops/binary.h"
#include "ops/loss.h"
#include "ops/reduce.h"
#include "ops/shape.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COPY_K 8 /* symbols of the copy task */

/* One minibatch: inputs, and the targets of the task's kind (real or class ids). */
typedef struct batch {
    size_t L, B;
    tg_real *x;         /* (L·B x I) */
    tg_real *yr;        /* (B) regression targets, or NULL */
    int32_t *yi;        /* class targets: B (many-to-one) or L·B (many-to-many), or NULL */
    int train;          /* a training batch: parity draws lengths 1 to T (see make_parity) */
    signed char *steps; /* L + 1 scratch entries for a generator's shuffles */
} batch;

typedef struct task {
    const char *name;
    size_t in, out;   /* I and C */
    int many_to_many; /* the loss reads every step's output, not only the last */
    int regression;   /* targets are reals (MSE), not classes */
    size_t (*steps)(size_t T, size_t S);
    void (*make)(tg_rng *r, size_t T, size_t S, batch *b);
    double (*baseline)(size_t T, size_t S);
} task;

static size_t steps_T(size_t T, size_t S)
{
    (void)S;
    return T;
}

static size_t steps_copy(size_t T, size_t S)
{
    return T + 2 * S;
}

static void make_adding(tg_rng *r, size_t T, size_t S, batch *b)
{
    (void)S;
    size_t B = b->B;
    for (size_t i = 0; i < b->B; i++) {
        size_t m1 = tg_rng_below(r, T / 2), m2 = T / 2 + tg_rng_below(r, T - T / 2);
        double sum = 0;
        for (size_t l = 0; l < T; l++) {
            double u = tg_rng_uniform(r);
            int mark = l == m1 || l == m2;
            b->x[(l * B + i) * 2] = (tg_real)u;
            b->x[(l * B + i) * 2 + 1] = (tg_real)mark;
            if (mark) sum += u;
        }
        b->yr[i] = (tg_real)sum;
    }
}

static double baseline_adding(size_t T, size_t S)
{
    (void)T, (void)S;
    return 2.0 / 12.0; /* Var(u1 + u2) for the constant prediction 1 */
}

static void make_copy(tg_rng *r, size_t T, size_t S, batch *b)
{
    size_t B = b->B, L = b->L, I = COPY_K + 2;
    memset(b->x, 0, L * B * I * sizeof *b->x);
    for (size_t l = 0; l < L; l++)
        for (size_t i = 0; i < B; i++) {
            int in = l < S ? 1 + (int)tg_rng_below(r, COPY_K) : 0; /* a symbol, or blank */
            if (l == S + T - 1) in = COPY_K + 1;                   /* the delimiter */
            b->x[(l * B + i) * I + (size_t)in] = 1;
            /* the first S steps hold the symbols until the recall steps have copied them */
            b->yi[l * B + i] = l < S ? in : l >= S + T ? b->yi[(l - S - T) * B + i] : 0;
        }
    for (size_t l = 0; l < S; l++) /* the symbols' own steps are blanks in the target */
        for (size_t i = 0; i < B; i++) b->yi[l * B + i] = 0;
}

static double baseline_copy(size_t T, size_t S)
{
    return (double)S * log((double)COPY_K) / (double)(T + 2 * S);
}

/* Held out, every row has T bits. In training a row has n bits, n uniform in [1, T], after
 * T − n zero inputs: the short strings are a curriculum without which fixed-length training
 * stays at chance from T = 4 on (measured: LSTM and GRU, H 16 to 32, 3000 steps). */
static void make_parity(tg_rng *r, size_t T, size_t S, batch *b)
{
    (void)S;
    size_t B = b->B;
    memset(b->x, 0, T * B * 2 * sizeof *b->x);
    for (size_t i = 0; i < B; i++) {
        size_t pad = b->train ? T - 1 - tg_rng_below(r, T) : 0;
        int p = 0;
        for (size_t l = pad; l < T; l++) {
            int bit = (int)tg_rng_below(r, 2);
            b->x[(l * B + i) * 2 + (size_t)bit] = 1;
            p ^= bit;
        }
        b->yi[i] = p;
    }
}

static double baseline_parity(size_t T, size_t S)
{
    (void)T, (void)S;
    return log(2.0);
}

/* Fisher-Yates over s[0..n) from r. */
static void shuffle(tg_rng *r, signed char *s, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)tg_rng_below(r, i);
        signed char c = s[i - 1];
        s[i - 1] = s[j], s[j] = c;
    }
}

static void reverse(signed char *s, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        signed char c = s[i];
        s[i] = s[n - 1 - i], s[n - 1 - i] = c;
    }
}

/* A balanced string of m '(' (+1) and m ')' (−1) into s[0..2m), uniform among them (the cycle
 * lemma): shuffle m up-steps and m + 1 down-steps, start the cycle right after the first step
 * where the running sum is lowest (then no proper prefix of the rotation goes below zero and
 * the rotation ends on that down-step), and drop that last step. s has room for 2m + 1. */
static void balanced_string(tg_rng *r, signed char *s, size_t m)
{
    size_t n = 2 * m + 1, k = 0;
    for (size_t i = 0; i < n; i++) s[i] = i < m ? 1 : -1;
    shuffle(r, s, n);
    long sum = 0, low = 1;
    for (size_t i = 0; i < n; i++)
        if ((sum += s[i]) < low) low = sum, k = i + 1;
    reverse(s, k), reverse(s + k, n - k), reverse(s, n); /* rotate left by k */
}

static int balances(const signed char *s, size_t n)
{
    long sum = 0;
    for (size_t i = 0; i < n; i++)
        if ((sum += s[i]) < 0) return 0;
    return sum == 0;
}

/* Held out, every row has T brackets (T − 1 when T is odd); in training 2 to T of them, even,
 * after zero inputs. Half the rows balance; the others have m of each but do not. */
static void make_brackets(tg_rng *r, size_t T, size_t S, batch *b)
{
    (void)S;
    size_t B = b->B;
    signed char *s = b->steps;
    memset(b->x, 0, T * B * 2 * sizeof *b->x);
    for (size_t i = 0; i < B; i++) {
        size_t m = b->train ? 1 + tg_rng_below(r, T / 2) : T / 2, n = 2 * m;
        int good = (int)tg_rng_below(r, 2);
        if (good) {
            balanced_string(r, s, m);
        } else {
            for (size_t l = 0; l < n; l++) s[l] = l < m ? 1 : -1;
            do shuffle(r, s, n);
            while (balances(s, n));
        }
        for (size_t l = 0; l < n; l++) b->x[((T - n + l) * B + i) * 2 + (s[l] < 0)] = 1;
        b->yi[i] = good;
    }
}

static const task tasks[] = {
    {"adding", 2, 1, 0, 1, steps_T, make_adding, baseline_adding},
    {"copy", COPY_K + 2, COPY_K + 1, 1, 0, steps_copy, make_copy, baseline_copy},
    {"parity", 2, 2, 0, 0, steps_T, make_parity, baseline_parity},
    {"brackets", 2, 2, 0, 0, steps_T, make_brackets, baseline_parity},
};

static const task *task_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof tasks / sizeof tasks[0]; i++)
        if (strcmp(tasks[i].name, name) == 0) return &tasks[i];
    return NULL;
}

static int batch_init(batch *b, const task *k, size_t L, size_t B)
{
    b->L = L, b->B = B;
    b->x = calloc(L * B * k->in, sizeof *b->x);
    b->yr = k->regression ? calloc(B, sizeof *b->yr) : NULL;
    b->yi = k->regression ? NULL : calloc(L * B, sizeof *b->yi);
    b->steps = malloc(L + 1);
    return b->x && (b->yr || b->yi) && b->steps ? TG_OK : TG_ENOMEM;
}

static void batch_deinit(batch *b)
{
    free(b->x), free(b->yr), free(b->yi), free(b->steps);
}

typedef struct model {
    const task *k;
    tg_rnn rnn;
    tg_linear head; /* H -> C */
    const batch *b; /* the minibatch the loss reads */
    tg_tensor **ys; /* L step outputs (many-to-many); owned */
    tg_tensor *out; /* the last recording's outputs, for accuracy */
} model;

/* The outputs of the current batch: (B x C) from the last h, or (L·B x C) from every step. */
static tg_tensor *record_outputs(tg_tape *t, model *m)
{
    const batch *b = m->b;
    tg_tensor *x = tg_input(t, b->L * b->B, m->k->in, b->x);
    if (!m->k->many_to_many)
        return tg_linear_forward(t, &m->head,
                                 tg_rnn_forward_rows(t, &m->rnn, b->L, x, NULL, NULL, NULL));
    if (!tg_rnn_forward_rows(t, &m->rnn, b->L, x, NULL, m->ys, NULL)) return NULL;
    return tg_linear_forward(t, &m->head, tg_concat_rows(t, b->L, m->ys)); /* (L·B x C) */
}

/* The loss of the current batch: MSE, or the mean cross-entropy over its targets. */
static tg_tensor *batch_loss(tg_tape *t, void *ctx)
{
    model *m = ctx;
    const batch *b = m->b;
    tg_tensor *out = m->out = record_outputs(t, m);
    if (m->k->regression) {
        tg_tensor *d = tg_sub(t, out, tg_input(t, b->B, 1, b->yr)); /* ŷ − y */
        return tg_mean(t, tg_mul(t, d, d));
    }
    return tg_softmax_xent(t, out, b->yi, m->k->many_to_many ? b->L * b->B : b->B);
}

/* Correct predictions among the batch's scored targets (copy: the last S steps), into *n. */
static size_t count_correct(const model *m, const batch *b, size_t S, int32_t *ids, size_t *n)
{
    size_t first = m->k->many_to_many ? (b->L - S) * b->B : 0;
    size_t rows = m->out->rows, ok = 0;
    if (tg_row_argmax(m->out, ids, NULL) != TG_OK) return 0;
    for (size_t r = first; r < rows; r++) ok += ids[r] == b->yi[r];
    *n += rows - first;
    return ok;
}

/* Held-out loss and accuracy over nb batches drawn from the evaluation seed (the same set every
 * time), recorded without gradients. */
static int evaluate(model *m, const seqtask_config *c, batch *b, size_t T, size_t nb, double *loss,
                    double *acc, tg_status *st)
{
    tg_tape *t = tg_tape_new();
    int32_t *ids = calloc(b->L * b->B, sizeof *ids);
    if (!t || !ids) {
        tg_tape_free(t), free(ids);
        return tg_status_set(st, TG_ENOMEM, "seqtask: out of memory evaluating");
    }
    tg_tape_set_grad(t, 0);
    tg_rng r;
    tg_rng_seed(&r, c->seed ^ 0x5eed5eedULL);
    const batch *keep = m->b;
    double sum = 0;
    size_t ok = 0, n = 0;
    int rc = TG_OK;
    m->b = b;
    for (size_t i = 0; i < nb && rc == TG_OK; i++) {
        tg_tape_reset(t);
        m->k->make(&r, T, c->S, b);
        tg_tensor *l = batch_loss(t, m);
        if (!l)
            rc = tg_status_set(st, TG_EINVAL, "seqtask: %s", tg_tape_error(t));
        else
            sum += l->val[0], ok += m->k->regression ? 0 : count_correct(m, b, c->S, ids, &n);
    }
    m->b = keep;
    *loss = sum / (double)nb;
    *acc = m->k->regression ? -1 : (double)ok / (double)(n ? n : 1);
    tg_tape_free(t), free(ids);
    return rc;
}

int seqtask_forget_bias(const seqtask_config *c, tg_rnn *rnn, tg_status *st)
{
    int rc = TG_OK;
    for (size_t l = 0; rc == TG_OK && c->forget_bias != 0 && l < rnn->layers; l++)
        rc = tg_lstm_set_forget_bias(&rnn->cells[l], c->forget_bias, st);
    return rc;
}

seqtask_config seqtask_defaults(void)
{
    seqtask_config c = {"adding", "lstm", 50, 10, 64, 1, 32, 1000, 512, 0, 1e-3, 1, 1, 0};
    return c;
}

static int check_config(const seqtask_config *c, const task *k, const tg_cell_type *type,
                        tg_status *st)
{
    if (!k)
        return tg_status_set(st, TG_EINVAL,
                             "seqtask: unknown task \"%s\" (adding, copy, parity, brackets)",
                             c->task ? c->task : "(null)");
    if (!type)
        return tg_status_set(st, TG_EINVAL, "seqtask: unknown cell type \"%s\"",
                             c->cell ? c->cell : "(null)");
    if (c->T < 2 || c->T > 100000 || c->S < 1 || c->S > 1000 || !c->hidden || !c->layers || !c->B ||
        c->B > 100000 || !c->eval_n)
        return tg_status_set(st, TG_EINVAL,
                             "seqtask: sizes out of range: T %zu, S %zu, hidden "
                             "%zu, layers %zu, batch %zu, eval %zu",
                             c->T, c->S, c->hidden, c->layers, c->B, c->eval_n);
    if (!(c->lr > 0) || !(c->clip >= 0))
        return tg_status_set(st, TG_EINVAL, "seqtask: lr %g must be > 0 and clip %g >= 0", c->lr,
                             c->clip);
    return TG_OK;
}

/* The training loop proper: fresh minibatches, one trainer step each, evaluations to log. */
static int train_steps(tg_trainer *tr, model *m, const seqtask_config *c, batch *b, batch *eb,
                       size_t nb, tg_rng *data, seqtask_result *res, FILE *log, tg_status *st)
{
    double t0 = lm_now(), acc, el;
    for (size_t s = 1; s <= c->steps; s++) {
        m->k->make(data, c->T, c->S, b);
        if (tg_trainer_step(tr, batch_loss, m, &res->train_loss, st) != TG_OK) return st->code;
        res->steps = s;
        if (log && c->log_every && s % c->log_every == 0) {
            if (evaluate(m, c, eb, c->T, nb, &el, &acc, st) != TG_OK) return st->code;
            fprintf(log, "step %zu train %.5f eval %.5f acc %.4f\n", s, res->train_loss, el, acc);
            fflush(log);
        }
    }
    res->seconds = lm_now() - t0;
    return evaluate(m, c, eb, c->T, nb, &res->loss, &res->accuracy, st);
}

int seqtask_train(const seqtask_config *c, seqtask_result *res, FILE *log, tg_status *st)
{
    const task *k = task_find(c->task);
    const tg_cell_type *type = tg_cell_type_find(c->cell ? c->cell : "");
    if (check_config(c, k, type, st) != TG_OK) return st ? st->code : TG_EINVAL;
    memset(res, 0, sizeof *res);
    size_t L = k->steps(c->T, c->S), nb = (c->eval_n + c->B - 1) / c->B;
    res->baseline = k->baseline(c->T, c->S);
    tg_rng init, data;
    tg_rng_seed(&init, c->seed), tg_rng_seed(&data, c->seed + 1);
    model m = {k, {0}, {0}, NULL, calloc(L, sizeof(tg_tensor *)), NULL};
    batch b = {0}, eb = {0};
    tg_params *ps = tg_params_new();
    tg_trainer tr;
    int rc = !ps || !m.ys || batch_init(&b, k, L, c->B) || batch_init(&eb, k, L, c->B)
                 ? tg_status_set(st, TG_ENOMEM, "seqtask: out of memory for L %zu, B %zu", L, c->B)
                 : tg_rnn_init(&m.rnn, ps, "rnn.", type, k->in, c->hidden, c->layers, 0, &init, st);
    if (rc == TG_OK) rc = seqtask_forget_bias(c, &m.rnn, st);
    if (rc == TG_OK) rc = tg_linear_init(&m.head, ps, "head", c->hidden, k->out, 1, &init, st);
    m.b = &b;
    b.train = 1;
    tg_trainer_config tc = {0};
    tc.T = L, tc.B = c->B, tc.optim = tg_adam_config(c->lr), tc.clip = c->clip, tc.lr_decay = 1;
    if (rc == TG_OK) rc = tg_trainer_init(&tr, &tc, ps, NULL, NULL, &m, NULL, NULL, 0, st);
    if (rc == TG_OK) {
        rc = train_steps(&tr, &m, c, &b, &eb, nb, &data, res, log, st);
        tg_trainer_deinit(&tr);
    }
    tg_rnn_deinit(&m.rnn);
    tg_params_free(ps), free(m.ys), batch_deinit(&b), batch_deinit(&eb);
    return rc;
}

static void usage(const lm_opt *opts, size_t n)
{
    printf("usage: tg_seqtask adding|copy|parity|brackets|caption [options]\n\n"
           "Train a recurrent stack on a generated sequence task and report the held-out loss\n"
           "against the memoryless baseline (and accuracy for copy, parity and brackets).\n"
           "  adding  T pairs (value, marker); predict the sum of the two marked values (MSE)\n"
           "  copy    S symbols, T - 1 blanks, a delimiter: recall the symbols (cross-entropy)\n"
           "  parity  T bits: their XOR (cross-entropy, accuracy)\n"
           "  brackets T brackets: do they balance (cross-entropy, accuracy)\n"
           "  caption a caption from an attribute vector, greedy, on held-out combinations\n"
           "\noptions:\n");
    lm_print_options(stdout, opts, n);
}

int seqtask_main(int argc, char **argv)
{
    seqtask_config c = seqtask_defaults();
    c.log_every = 100;
    const lm_opt opts[] = {
        {"cell", 's', &c.cell, "cell type: rnn, rnn-relu, lstm, gru or a registered one"},
        {"T", 'z', &c.T, "sequence length (copy: length of the blank)"},
        {"symbols", 'z', &c.S, "copy: symbols to recall"},
        {"hidden", 'z', &c.hidden, "hidden units"},
        {"layers", 'z', &c.layers, "layers"},
        {"batch", 'z', &c.B, "sequences per minibatch"},
        {"steps", 'z', &c.steps, "training steps (minibatches)"},
        {"eval", 'z', &c.eval_n, "held-out sequences"},
        {"log-every", 'z', &c.log_every, "steps between held-out evaluations (0: none)"},
        {"lr", 'p', &c.lr, "Adam's learning rate"},
        {"clip", 'p', &c.clip, "max global gradient norm (0: none)"},
        {"forget-bias", 'd', &c.forget_bias, "LSTM forget-gate bias at start (0: default init)"},
        {"seed", 'u', &c.seed, "seed of the initialisation and the data"},
    };
    size_t nopt = sizeof opts / sizeof opts[0], npos = 0;
    char *pos[1];
    tg_status st;
    int help = 0;
    if (lm_parse(argc - 1, argv + 1, opts, nopt, pos, 1, &npos, &help, &st) != 0) {
        fprintf(stderr, "tg_seqtask: %s (try --help)\n", st.msg);
        return 2;
    }
    if (help || npos != 1) return usage(opts, nopt), help ? 0 : 2;
    c.task = pos[0];
    printf("task %s cell %s T %zu%s hidden %zu layers %zu batch %zu steps %zu lr %g clip %g "
           "seed %llu",
           c.task, c.cell, c.T, strcmp(c.task, "copy") ? "" : " (copy)", c.hidden, c.layers, c.B,
           c.steps, c.lr, c.clip, (unsigned long long)c.seed);
    if (strcmp(c.task, "copy") == 0) printf(" symbols %zu", c.S);
    if (c.forget_bias != 0) printf(" forget-bias %g", c.forget_bias);
    printf("\n");
    seqtask_result r;
    int caption = strcmp(c.task, "caption") == 0;
    if ((caption ? seqtask_caption : seqtask_train)(&c, &r, stdout, &st) != TG_OK) {
        fprintf(stderr, "tg_seqtask: %s\n", st.msg);
        return 1;
    }
    printf("result: task %s cell %s T %zu steps %zu eval_loss %.5f baseline %.5f accuracy %.4f "
           "seconds %.1f\n",
           c.task, c.cell, c.T, r.steps, r.loss, r.baseline, r.accuracy, r.seconds);
    if (caption) printf("held-out token accuracy %.4f\n", r.token_accuracy);
    return 0;
}
