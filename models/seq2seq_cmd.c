/* seq2seq_cmd.c: the tg_seq2seq program as a library call (models/seq2seq_cmd.h), encoder-decoder
 * models on generated data (models/seq2seq.h).
 *
 *   tg_seq2seq addition [--reverse] [--peeky] [--cell lstm] ...   "16+75" -> "91"
 *   tg_seq2seq dates [--attention] [--beam 3] [--svg FILE] ...    "27 SEP 1994" -> "1994-09-27"
 *
 * Each prints the training loss and the held-out exact-match accuracy after every epoch. */
#include "models/seq2seq_cmd.h"

#include "models/cli.h"
#include "models/seq2seq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_opts {
    const char *cell, *svg;
    size_t n, digits, embed, hidden, batch, epochs, beam, decay_after;
    double held, lr, clip, lr_decay;
    int reverse, peeky, attention, full_width;
    uint64_t seed;
} run_opts;

static int fail(const char *what, const tg_status *st)
{
    fprintf(stderr, "tg_seq2seq: %s: %s\n", what, st->msg);
    return 1;
}

/* Three held-out examples decoded with their attention weights, drawn as one SVG. */
static int draw_attention(FILE *f, const s2s_model *m, const s2s_vocab *v, const s2s_data *held,
                          const char *path, tg_status *st)
{
    size_t S = m->cfg.S, T = m->cfg.T, idx[3] = {0, 1, 2};
    s2s_batch b;
    int32_t out[3 * S2S_MAX_WIDTH];
    static double w[3 * S2S_MAX_WIDTH * S2S_MAX_WIDTH];
    char src[3][S2S_MAX_WIDTH + 1], dec[3][S2S_MAX_WIDTH + 1];
    tg_tape *t = tg_tape_new();
    int rc = t ? s2s_batch_init(&b, m, 3, st) : tg_status_set(st, TG_ENOMEM, "no memory");
    if (rc == TG_OK) {
        rc = s2s_batch_fill(&b, v, held, idx, 3, st);
        if (rc == TG_OK) rc = s2s_decode(t, &b, 1, out, w, st);
        s2s_batch_deinit(&b);
    }
    tg_tape_free(t);
    if (rc != TG_OK) return rc;
    const char *ps[3], *pd[3];
    for (size_t e = 0; e < 3; e++) {
        memcpy(src[e], held->src + e * S, S), src[e][S] = 0;
        for (size_t k = 0; k < T; k++) dec[e][k] = v->ch[out[e * T + k]];
        dec[e][T] = 0;
        ps[e] = src[e], pd[e] = dec[e];
        fprintf(f, "attention example: \"%s\" -> \"%s\"\n", src[e], dec[e]);
    }
    return s2s_attention_svg(path, 3, ps, pd, w, S, T, st);
}

static int run(FILE *out, const char *task, const run_opts *o, double *acc_out)
{
    tg_status st = {0};
    s2s_data d;
    int rc = strcmp(task, "addition") == 0
                 ? s2s_addition_data(&d, o->n, o->digits, o->full_width, o->seed, &st)
                 : s2s_dates_data(&d, o->n, o->seed, &st);
    if (rc != TG_OK) return fail("data", &st);
    size_t held = (size_t)((double)d.n * o->held);
    if (held < 1 || held >= d.n) {
        fprintf(stderr, "tg_seq2seq: --held %g leaves no held-out or no training examples\n",
                o->held);
        s2s_data_free(&d);
        return 1;
    }
    s2s_vocab v;
    s2s_vocab_build(&v, &d);
    s2s_config cfg = {tg_cell_type_find(o->cell),
                      v.V,
                      o->embed,
                      o->hidden,
                      d.S,
                      d.T,
                      o->reverse,
                      o->peeky,
                      o->attention,
                      o->seed};
    if (!cfg.cell) {
        fprintf(stderr, "tg_seq2seq: no cell type named \"%s\" (registered:", o->cell);
        for (size_t i = 0; tg_cell_type_at(i); i++)
            fprintf(stderr, " %s", tg_cell_type_at(i)->name);
        fprintf(stderr, ")\n");
        s2s_data_free(&d);
        return 1;
    }
    s2s_model m;
    if (s2s_model_init(&m, &cfg, &st) != TG_OK) {
        s2s_data_free(&d);
        return fail("model", &st);
    }
    tg_trainer tr;
    tg_trainer_config tc = {0};
    tc.optim = tg_adam_config(o->lr);
    tc.clip = o->clip;
    tc.lr_decay = 1;
    if (tg_trainer_init(&tr, &tc, m.ps, NULL, NULL, NULL, NULL, NULL, 0, &st) != TG_OK) {
        s2s_model_deinit(&m);
        s2s_data_free(&d);
        return fail("trainer", &st);
    }
    s2s_data test = s2s_data_tail(&d, held);
    fprintf(out,
            "%s: %zu examples (%zu held out), %zu characters, cell %s, E %zu, H %zu%s%s%s, "
            "batch %zu, adam lr %g (times %g an epoch after epoch %zu), clip %g, seed %llu\n",
            task, d.n, held, v.V, cfg.cell->name, cfg.E, cfg.H,
            o->reverse ? ", reversed input" : "", o->peeky ? ", peeky decoder" : "",
            o->attention ? ", attention" : "", o->batch, o->lr, o->lr_decay, o->decay_after,
            o->clip, (unsigned long long)o->seed);
    tg_rng rng;
    tg_rng_seed(&rng, o->seed + 1);
    double t0 = lm_now();
    for (size_t e = 1; e <= o->epochs && rc == TG_OK; e++) {
        double loss = 0, acc = 0;
        rc = s2s_train_epoch(&tr, &m, &v, &d, d.n - held, o->batch, &rng, &loss, &st);
        if (rc == TG_OK) rc = s2s_accuracy(&m, &v, &test, 256, o->beam, &acc, &st);
        if (rc == TG_OK)
            fprintf(out, "epoch %zu  loss %.4f  held-out exact match %.2f%%  (%.0f s)\n", e, loss,
                    100 * acc, lm_now() - t0);
        if (rc == TG_OK && o->lr_decay != 1 && e >= o->decay_after) /* the next epoch's rate */
            rc = tg_optim_set_lr(tr.opt, o->lr * pow(o->lr_decay, (double)(e + 1 - o->decay_after)),
                                 &st);
        if (rc == TG_OK && acc_out) *acc_out = acc;
        fflush(out);
    }
    if (rc == TG_OK && o->svg) {
        if (!o->attention) {
            fprintf(stderr, "tg_seq2seq: --svg draws attention weights: add --attention\n");
            rc = TG_EINVAL;
        } else {
            rc = draw_attention(out, &m, &v, &test, o->svg, &st);
            if (rc == TG_OK) fprintf(out, "wrote %s\n", o->svg);
        }
    }
    int status = rc == TG_OK ? 0 : (st.msg[0] ? fail("training", &st) : 1);
    tg_trainer_deinit(&tr);
    s2s_model_deinit(&m);
    s2s_data_free(&d);
    return status;
}

int s2s_main_to(FILE *out, double *acc, int argc, char **argv)
{
    run_opts o = {"lstm", NULL, 50000, 3, 16, 128, 128, 25, 1, 0, 0.1, 0.001, 5, 1, 0, 0, 0, 0, 1};
    const lm_opt opts[] = {
        {"cell", 's', &o.cell, "cell type, any registered (rnn, rnn-relu, lstm, gru)"},
        {"n", 'z', &o.n, "examples generated"},
        {"held", 'p', &o.held, "fraction held out"},
        {"digits", 'z', &o.digits, "addition: most digits of an operand (1 to 4)"},
        {"full-width", 'f', &o.full_width,
         "addition: operands uniform below 10^digits (default: the digit count first)"},
        {"reverse", 'f', &o.reverse, "read the source reversed"},
        {"peeky", 'f', &o.peeky, "feed the encoder's summary to every decoder step"},
        {"attention", 'f', &o.attention, "attend over all encoder states"},
        {"embed", 'z', &o.embed, "embedding width"},
        {"hidden", 'z', &o.hidden, "hidden units"},
        {"batch", 'z', &o.batch, "examples per minibatch"},
        {"epochs", 'z', &o.epochs, "epochs"},
        {"lr", 'p', &o.lr, "Adam learning rate"},
        {"clip", 'p', &o.clip, "max global gradient norm (0: none)"},
        {"lr-decay", 'p', &o.lr_decay, "multiply the rate by this after each epoch (1: constant)"},
        {"decay-after", 'z', &o.decay_after, "epochs at the starting rate before it decays"},
        {"beam", 'z', &o.beam, "beam width for held-out decoding (1: greedy)"},
        {"svg", 's', &o.svg, "dates with --attention: write 3 held-out examples' weights here"},
        {"seed", 'u', &o.seed, "seed of the data, weights and order"},
    };
    size_t nopts = sizeof opts / sizeof opts[0], npos = 0;
    char *pos[2];
    tg_status st;
    int help = 0;
    if (lm_parse(argc - 1, argv + 1, opts, nopts, pos, 2, &npos, &help, &st) != 0) {
        fprintf(stderr, "tg_seq2seq: %s\n", st.msg);
        return 2;
    }
    if (help || npos != 1 || (strcmp(pos[0], "addition") != 0 && strcmp(pos[0], "dates") != 0)) {
        fprintf(help ? out : stderr, "usage: tg_seq2seq addition|dates [options]\n");
        lm_print_options(help ? out : stderr, opts, nopts);
        return help ? 0 : 2;
    }
    if (!(o.lr_decay > 0 && o.lr_decay <= 1)) {
        fprintf(stderr, "tg_seq2seq: --lr-decay %g is not in (0, 1]\n", o.lr_decay);
        return 2;
    }
    return run(out, pos[0], &o, acc);
}

int s2s_main(int argc, char **argv)
{
    return s2s_main_to(stdout, NULL, argc, argv);
}
