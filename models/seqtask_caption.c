/* seqtask_caption.c: one-to-many, a caption generated from an attribute vector.
 *
 * Dimension letters: A attribute width (15), V vocabulary (23), E embedding (16), L caption
 * steps (7: six words and <eos>), B rows, H hidden.
 *
 * A synthetic "image" is four attributes: count (1-3), colour (4), shape (4), position (4),
 * encoded as one one-hot group each, 15 wide. Its caption comes from one grammar rule,
 *     COUNT COLOUR SHAPE[s] on the POSITION <eos>      e.g. "two red circles on the left"
 * The decoder's initial h (layer 0) is a linear map of the vector; every other state starts at
 * zero. Training is teacher-forced (step l reads the embedding of word l − 1, <bos> first);
 * evaluation decodes greedily (each step reads the argmax of the one before) on attribute
 * combinations never seen in training (about one in six), and reports exact-match and
 * per-token accuracy. A model ignoring the vector scores (ln 3 + 3 ln 4)/7 ≈ 0.751 per token.
 *
 * Read next: models/seqtask.c (the other tasks), nn/trainer.h.
 */
#include "models/seqtask.h"

#include "autograd/rng.h"
#include "autograd/tape.h"
#include "models/cli.h"
#include "nn/layers.h"
#include "nn/params.h"
#include "nn/rnn.h"
#include "nn/trainer.h"
#include "ops/loss.h"
#include "ops/reduce.h"
#include "ops/shape.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { A = 15, V = 23, E = 16, L = 7, EOS = 0, BOS = 1, COMBOS = 3 * 4 * 4 * 4 };

static const char *const vocab[V] = {
    "<eos>",  "<bos>",  "a",      "two",      "three", "red",     "green",   "blue",
    "yellow", "circle", "square", "triangle", "star",  "circles", "squares", "triangles",
    "stars",  "on",     "the",    "left",     "right", "top",     "bottom"};

/* Combination k (0 to 191) as count, colour, shape, position. */
static void attributes(size_t k, size_t *n, size_t *col, size_t *shape, size_t *pos)
{
    *n = k % 3, *col = k / 3 % 4, *shape = k / 12 % 4, *pos = k / 48;
}

/* Held out: about one combination in six, spread over every attribute value. */
static int held_out(size_t k)
{
    size_t n, col, shape, pos;
    attributes(k, &n, &col, &shape, &pos);
    return (n + 2 * col + 3 * shape + 5 * pos) % 6 == 0;
}

/* Row i of a batch: combination k's vector x (A) and caption y (L). */
static void make_row(size_t k, tg_real *x, int32_t *y)
{
    size_t n, col, shape, pos;
    attributes(k, &n, &col, &shape, &pos);
    memset(x, 0, A * sizeof *x);
    x[n] = x[3 + col] = x[7 + shape] = x[11 + pos] = 1;
    int32_t words[L] = {(int32_t)(2 + n),
                        (int32_t)(5 + col),
                        (int32_t)(9 + shape + (n ? 4 : 0)),
                        17,
                        18,
                        (int32_t)(19 + pos),
                        EOS};
    memcpy(y, words, sizeof words);
}

typedef struct captioner {
    tg_linear init; /* A -> H: the initial h */
    tg_embed emb;   /* V x E */
    tg_rnn rnn;
    tg_linear head; /* H -> V */
    size_t B;
    tg_real *x, *zeros; /* (B x A) vectors; (B x H) zeros for the other states */
    int32_t *y, *prev;  /* time-major (L·B): captions, and the words each step reads */
    tg_tensor **ys;     /* L step outputs */
    tg_state *s;        /* layers' initial states */
} captioner;

/* The initial states of every layer: h of layer 0 from the vector, the rest zeros. */
static void initial_states(tg_tape *t, captioner *m, size_t B)
{
    size_t H = m->rnn.hidden;
    for (size_t k = 0; k < m->rnn.layers; k++)
        for (size_t j = 0; j < m->rnn.type->n_states; j++)
            m->s[k].v[j] = tg_input(t, B, H, m->zeros);
    m->s[0].v[0] = tg_linear_forward(t, &m->init, tg_input(t, B, A, m->x));
}

/* Teacher-forced mean cross-entropy of the batch's captions. */
static tg_tensor *caption_loss(tg_tape *t, void *ctx)
{
    captioner *m = ctx;
    size_t B = m->B;
    initial_states(t, m, B);
    tg_tensor *e = tg_embed_forward(t, &m->emb, m->prev, L * B);
    if (!tg_rnn_forward_rows(t, &m->rnn, L, e, m->s, m->ys, NULL)) return NULL;
    tg_tensor *logits = tg_linear_forward(t, &m->head, tg_concat_rows(t, L, m->ys));
    return tg_softmax_xent(t, logits, m->y, L * B);
}

/* Fill the batch with combinations ks[0..B) and the teacher-forced inputs. */
static void fill(captioner *m, const size_t *ks, size_t B)
{
    int32_t y[L];
    m->B = B;
    for (size_t i = 0; i < B; i++) {
        make_row(ks[i], m->x + i * A, y);
        for (size_t l = 0; l < L; l++) {
            m->y[l * B + i] = y[l];
            m->prev[l * B + i] = l ? y[l - 1] : BOS;
        }
    }
}

/* Greedy decoding of the batch on a gradient-free tape: counts of exact captions and of right
 * words into *exact and *tokens; the teacher-forced loss into *loss. */
static int decode(captioner *m, tg_tape *t, double *loss, size_t *exact, size_t *tokens, FILE *show,
                  tg_status *st)
{
    size_t B = m->B;
    int32_t ids[COMBOS], words[COMBOS * L];
    tg_tape_reset(t);
    tg_tensor *l = caption_loss(t, m);
    if (!l) return tg_status_set(st, TG_EINVAL, "seqtask caption: %s", tg_tape_error(t));
    *loss = l->val[0];
    tg_tape_reset(t);
    initial_states(t, m, B);
    for (size_t i = 0; i < B; i++) ids[i] = BOS;
    for (size_t s = 0; s < L; s++) {
        tg_tensor *e = tg_embed_forward(t, &m->emb, ids, B);
        tg_tensor *h = tg_rnn_forward(t, &m->rnn, 1, &e, m->s, NULL, NULL);
        tg_tensor *logits = tg_linear_forward(t, &m->head, h);
        if (!logits || tg_row_argmax(logits, ids, st) != TG_OK)
            return tg_status_set(st, TG_EINVAL, "seqtask caption: %s", tg_tape_error(t));
        for (size_t i = 0; i < B; i++) words[s * B + i] = ids[i];
    }
    *exact = *tokens = 0;
    for (size_t i = 0; i < B; i++) {
        size_t ok = 0;
        for (size_t s = 0; s < L; s++) ok += words[s * B + i] == m->y[s * B + i];
        *tokens += ok, *exact += ok == L;
        for (size_t s = 0; show && i < 3 && s < L; s++)
            fprintf(show, "%s%s", s ? " " : "held out: ", vocab[words[s * B + i]]);
        if (show && i < 3) fprintf(show, "\n");
    }
    return TG_OK;
}

static int caption_alloc(captioner *m, size_t B, size_t H, size_t layers, tg_status *st)
{
    m->x = calloc(B * A, sizeof *m->x), m->zeros = calloc(B * H, sizeof *m->zeros);
    m->y = calloc(L * B, sizeof *m->y), m->prev = calloc(L * B, sizeof *m->prev);
    m->ys = calloc(L, sizeof *m->ys), m->s = calloc(layers, sizeof *m->s);
    if (m->x && m->zeros && m->y && m->prev && m->ys && m->s) return TG_OK;
    return tg_status_set(st, TG_ENOMEM, "seqtask caption: out of memory (B %zu, H %zu)", B, H);
}

static void caption_free(captioner *m)
{
    free(m->x), free(m->zeros), free(m->y), free(m->prev), free(m->ys), free(m->s);
}

/* Train, then decode the held-out combinations. */
static int caption_run(captioner *m, tg_trainer *tr, const seqtask_config *c, seqtask_result *r,
                       FILE *log, tg_status *st)
{
    size_t train[COMBOS], test[COMBOS], ntrain = 0, ntest = 0, ks[COMBOS], exact, tokens;
    for (size_t k = 0; k < COMBOS; k++)
        if (held_out(k))
            test[ntest++] = k;
        else
            train[ntrain++] = k;
    tg_rng data;
    tg_rng_seed(&data, c->seed + 1);
    tg_tape *t = tg_tape_new();
    if (!t) return tg_status_set(st, TG_ENOMEM, "seqtask caption: out of memory");
    tg_tape_set_grad(t, 0);
    double t0 = lm_now(), el = 0;
    int rc = TG_OK;
    for (size_t s = 1; s <= c->steps && rc == TG_OK; s++) {
        for (size_t i = 0; i < c->B; i++) ks[i] = train[tg_rng_below(&data, ntrain)];
        fill(m, ks, c->B);
        rc = tg_trainer_step(tr, caption_loss, m, &r->train_loss, st);
        r->steps = s;
        if (rc == TG_OK && log && c->log_every && s % c->log_every == 0) {
            fill(m, test, ntest);
            rc = decode(m, t, &el, &exact, &tokens, NULL, st);
            fprintf(log, "step %zu train %.5f eval %.5f acc %.4f tokens %.4f\n", s, r->train_loss,
                    el, (double)exact / (double)ntest, (double)tokens / (double)(ntest * L));
            fflush(log);
        }
    }
    r->seconds = lm_now() - t0;
    if (rc == TG_OK) {
        fill(m, test, ntest);
        rc = decode(m, t, &r->loss, &exact, &tokens, log, st);
        r->accuracy = (double)exact / (double)ntest;
        r->token_accuracy = (double)tokens / (double)(ntest * L);
    }
    tg_tape_free(t);
    return rc;
}

int seqtask_caption(const seqtask_config *c, seqtask_result *r, FILE *progress, tg_status *st)
{
    const tg_cell_type *type = tg_cell_type_find(c->cell ? c->cell : "");
    if (!type)
        return tg_status_set(st, TG_EINVAL, "seqtask: unknown cell type \"%s\"",
                             c->cell ? c->cell : "(null)");
    if (!c->hidden || !c->layers || !c->B || c->B > 100000 || !(c->lr > 0) || !(c->clip >= 0))
        return tg_status_set(st, TG_EINVAL,
                             "seqtask caption: hidden %zu, layers %zu, batch %zu, "
                             "lr %g, clip %g out of range",
                             c->hidden, c->layers, c->B, c->lr, c->clip);
    memset(r, 0, sizeof *r);
    r->baseline = (log(3.0) + 3 * log(4.0)) / L;
    size_t B = c->B > COMBOS ? c->B : COMBOS, H = c->hidden;
    captioner m = {0};
    tg_rng init;
    tg_rng_seed(&init, c->seed);
    tg_params *ps = tg_params_new();
    tg_trainer tr;
    int rc = ps ? caption_alloc(&m, B, H, c->layers, st)
                : tg_status_set(st, TG_ENOMEM, "seqtask caption: out of memory");
    if (rc == TG_OK) rc = tg_linear_init(&m.init, ps, "init", A, H, 1, &init, st);
    if (rc == TG_OK) rc = tg_embed_init(&m.emb, ps, "embed", V, E, &init, st);
    if (rc == TG_OK) rc = tg_rnn_init(&m.rnn, ps, "rnn.", type, E, H, c->layers, 0, &init, st);
    if (rc == TG_OK) rc = seqtask_forget_bias(c, &m.rnn, st);
    if (rc == TG_OK) rc = tg_linear_init(&m.head, ps, "head", H, V, 1, &init, st);
    tg_trainer_config tc = {0};
    tc.T = L, tc.B = c->B, tc.optim = tg_adam_config(c->lr), tc.clip = c->clip, tc.lr_decay = 1;
    if (rc == TG_OK) rc = tg_trainer_init(&tr, &tc, ps, NULL, NULL, &m, NULL, NULL, 0, st);
    if (rc == TG_OK) {
        rc = caption_run(&m, &tr, c, r, progress, st);
        tg_trainer_deinit(&tr);
    }
    tg_rnn_deinit(&m.rnn);
    tg_params_free(ps), caption_free(&m);
    return rc;
}
