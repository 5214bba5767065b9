/* wordlm.c: tg_wordlm, a word-level language model for Penn Treebank-style text.
 *
 *   tg_wordlm train --train PATH --valid PATH [--config small|medium] [options]
 *   tg_wordlm eval CKPT PATH [--batch B --seq T]
 *
 * Input: one sentence a line, words split on whitespace, "<eos>" after each line (vocab.h). The
 * vocabulary is built from the training file; "<unk>" is an ordinary word, and words of other
 * files missing from it become "<unk>". The named configurations are Zaremba et al. 2014's
 * (arXiv:1409.2329, and their code release): "small" is the non-regularized LSTM, "medium" the
 * regularized one. Every field can be overridden by an option.
 *
 * Each epoch prints its learning rate, the training perplexity (exp of the token-weighted mean
 * loss of its windows), the validation perplexity (B and T of the configuration, state carried),
 * how many of its windows had their gradient clipped ("clipped 12 of 2323"), the speed and the
 * elapsed time. Progress lines in between show the last window's loss, perplexity and gradient
 * norm (models/cli.h). There is no sampling, hence no --prime: a word of another file missing
 * from the vocabulary is read as <unk> and counted (vocab.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "models/cli.h"
#include "models/lm.h"
#include "models/text.h"
#include "models/vocab.h"
#include "nn/dist.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tg_wordlm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

typedef struct train_opts {
    lm_model_opts m; /* the model and its training: shared with tg_charlm */
    const char *train, *valid, *config, *save, *resume;
    size_t epochs, max_steps, threads, max_tokens;
} train_opts;

/* Zaremba et al.'s configurations; the other fields of train_opts keep their defaults. */
static void preset(train_opts *o, const char *name)
{
    if (strcmp(name, "small") == 0) {
        o->m.layers = 2, o->m.hidden = 200, o->m.embed = 0, o->m.T = 20, o->m.B = 20,
        o->epochs = 13;
        o->m.dropout = 0, o->m.lr = 1, o->m.decay = 0.5, o->m.decay_after = 4, o->m.clip = 5;
        o->m.init = 0.1, o->m.sum_steps = 1;
    } else if (strcmp(name, "medium") == 0) {
        o->m.layers = 2, o->m.hidden = 650, o->m.embed = 0, o->m.T = 35, o->m.B = 20,
        o->epochs = 39;
        o->m.dropout = 0.5, o->m.lr = 1, o->m.decay = 0.8, o->m.decay_after = 6, o->m.clip = 5;
        o->m.init = 0.05, o->m.sum_steps = 1;
    } else {
        die("unknown --config '%s' (small or medium)", name);
    }
}

/* The value of --config in argv, before the other options are parsed over the preset. */
static const char *find_config(int argc, char **argv)
{
    const char *name = "small";
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0) name = argv[i + 1];
    return name;
}

/* The whole file at path; `what` says where the path came from, for the hint. */
static char *read_text(const char *path, const char *what, size_t *len)
{
    char *text;
    tg_status st;
    if (lm_read_file(path, &text, len, &st) != TG_OK)
        die("%s (check the path given as %s)", st.msg, what);
    return text;
}

/* Read a file and encode it with v: *ids, *n tokens, *n_unk words that became "<unk>". */
static void encode_file(const lm_wordvocab *v, const char *path, const char *what, int32_t **ids,
                        size_t *n, size_t *n_unk)
{
    tg_status st;
    size_t len;
    char *text = read_text(path, what, &len);
    if (lm_wordvocab_encode(v, path, text, len, ids, n, n_unk, &st) != TG_OK) die("%s", st.msg);
    free(text);
}

/* The vocabulary of the training file. */
static void build_vocab(lm_wordvocab *v, const char *path)
{
    tg_status st;
    size_t len;
    char *text = read_text(path, "--train", &len);
    if (lm_wordvocab_build(v, path, text, len, &st) != TG_OK) die("%s", st.msg);
    free(text);
}

static void format_time(double s, char *out, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

/* What one epoch (or the part of it this run trained) adds up to. */
typedef struct epoch_sum {
    double nll;               /* sum of window loss × its tokens */
    size_t tokens;            /* tokens trained */
    double lr;                /* learning rate of its windows */
    double t0;                /* when it started */
    uint64_t step0, clipped0; /* the trainer's windows and clipped windows when it started */
} epoch_sum;

/* The epoch line: validation, perplexities, speed; then the checkpoint when --save is given. */
static void end_epoch(lm_model *m, lm_trainer *tr, size_t epoch, const char *note,
                      const epoch_sum *e, const int32_t *val, size_t nval, const train_opts *o,
                      const char *vocab, double start)
{
    char when[32];
    tg_status st;
    double train_s = lm_now() - e->t0, nll;
    const lm_config *c = &m->cfg;
    if (lm_evaluate(m, val, nval, c->B, c->T, &nll, &st) != TG_OK) die("validation: %s", st.msg);
    format_time(lm_now() - start, when, sizeof when);
    printf(
        "epoch %zu%s  lr %.4g  train ppl %.2f  valid ppl %.2f  clipped %llu of %llu  %.0f tok/s  "
        "elapsed %s\n",
        epoch, note, e->lr, e->tokens ? exp(e->nll / (double)e->tokens) : NAN, exp(nll),
        (unsigned long long)(tr->clipped - e->clipped0), (unsigned long long)(tr->step - e->step0),
        train_s > 0 ? (double)e->tokens / train_s : 0, when);
    fflush(stdout);
    if (o->save && lm_save(o->save, m, tr, "word", vocab, &st) != TG_OK) die("%s", st.msg);
}

static void usage_train(const lm_opt *o, size_t n)
{
    printf("usage: tg_wordlm train --train PATH --valid PATH [--config small|medium] [options]\n"
           "\nTrain a word-level language model on Penn Treebank-style text (one sentence a line;\n"
           "<eos> is added after each line; the vocabulary is the training file's words). The\n"
           "configurations are Zaremba et al. 2014's: small (2 x 200 LSTM, T 20, 13 epochs, no\n"
           "dropout) and medium (2 x 650, dropout 0.5, T 35, 39 epochs); options override them.\n"
           "With --resume the model's configuration comes from the checkpoint; give the same\n"
           "--train and --max-tokens as the run that saved it. Data parallel over MPI:\n"
           "mpirun -np N tg_wordlm train ... (N divides --batch; docs/scaling.md).\n\n"
           "options (defaults of the "
           "chosen --config):\n");
    lm_print_options(stdout, o, n);
}

/* Build the model, fresh or from --resume, with its vocabulary (and the string of it). */
static void make_model(lm_model *m, lm_wordvocab *v, char **vocab, const train_opts *o)
{
    tg_status st;
    if (o->resume) {
        if (lm_load(o->resume, m, "word", vocab, 0, &st) != TG_OK)
            die("%s (--resume takes a checkpoint written by tg_wordlm train --save)", st.msg);
        if (lm_wordvocab_from_string(v, *vocab, &st) != TG_OK ||
            lm_vocab_fits(o->resume, v->size, m, &st) != TG_OK)
            die("%s", st.msg);
        return;
    }
    build_vocab(v, o->train);
    if (lm_wordvocab_to_string(v, vocab, &st) != TG_OK) die("%s", st.msg);
    lm_config c;
    if (lm_config_from_opts(&o->m, v->size, &c, &st) != TG_OK) die("%s", st.msg);
    if (lm_model_init(m, &c, &st) != TG_OK) die("%s (see tg_wordlm train --help)", st.msg);
}

static void print_setup(const lm_model *m, const lm_wordvocab *v, const train_opts *o,
                        size_t ntrain, size_t nval, size_t nunk)
{
    const lm_config *c = &m->cfg;
    printf("%s: %zu tokens used for training; vocabulary %zu\n", o->train, ntrain, v->size);
    printf("%s: %zu tokens (%zu words not in the vocabulary, read as <unk>)\n", o->valid, nval,
           nunk);
    printf("model: %s, %zu layer(s) of %zu, embedding %zu%s, dropout %g, %zu parameters\n",
           c->cell->name, c->L, c->H, c->E, c->tied ? " (tied)" : "", c->dropout,
           tg_params_numel(m->ps));
    printf("training: T %zu, B %zu, lr %g decayed x%g after epoch %zu, clip %g, init %g, "
           "objective %s\n",
           c->T, c->B, c->optim.lr, c->lr_decay, c->decay_after, c->clip, c->init,
           c->sum_steps ? "sum over the T steps of the batch mean (Zaremba et al.)"
                        : "mean over the T·B tokens");
    printf("%s\n", tg_blis_config());
    if (m->comm)
        printf("data parallel: %zu ranks x %zu rows\n", m->comm->ranks, c->B / m->comm->ranks);
    fflush(stdout);
}

/* Train until o->epochs are done or tr has taken o->max_steps windows. */
static void run(lm_model *m, lm_trainer *tr, const int32_t *val, size_t nval, const train_opts *o,
                const char *vocab)
{
    tg_status st;
    size_t per_epoch = tg_batcher_windows(&tr->batch), B = m->cfg.B;
    double start = lm_now();
    epoch_sum e = {
        .lr = tg_optim_lr(tr->opt), .t0 = start, .step0 = tr->step, .clipped0 = tr->clipped};
    lm_progress p;
    lm_progress_init(&p, tr);
    size_t done = (tr->batch.offset + tr->batch.T - 1) / tr->batch.T; /* windows, if resumed */
    if (lm_trainer_epoch(tr) > o->epochs)
        printf("the checkpoint has already trained %zu epoch(s): nothing to do (see --epochs)\n",
               lm_trainer_epoch(tr) - 1);
    while (lm_trainer_epoch(tr) <= o->epochs) {
        if (o->max_steps && tr->step >= o->max_steps && done < per_epoch) {
            lm_progress_break(&p, tr);
            printf("stopped after %llu windows (--max-steps)\n", (unsigned long long)tr->step);
            if (e.tokens)
                end_epoch(m, tr, lm_trainer_epoch(tr), " (part)", &e, val, nval, o, vocab, start);
            return;
        }
        size_t epoch = lm_trainer_epoch(tr);
        double loss, lr = tg_optim_lr(tr->opt);
        long Tw = lm_train_window(tr, &loss, &st);
        if (Tw < 0) die("%s", st.msg);
        if (Tw == 0) { /* the epoch is over */
            lm_progress_break(&p, tr);
            end_epoch(m, tr, epoch, "", &e, val, nval, o, vocab, start);
            e = (epoch_sum){.lr = tg_optim_lr(tr->opt),
                            .t0 = lm_now(),
                            .step0 = tr->step,
                            .clipped0 = tr->clipped};
            lm_progress_init(&p, tr);
            done = 0;
            continue;
        }
        e.nll += loss * (double)((size_t)Tw * B);
        e.tokens += (size_t)Tw * B;
        e.lr = lr;
        done++;
        lm_progress_show(&p, tr, done, per_epoch, loss, NULL, 0, e.tokens, 30);
    }
}

static int train(int argc, char **argv)
{
    train_opts o = {.m = {.cell = "lstm", .optim = "sgd", .seed = 1}};
    o.config = find_config(argc, argv);
    preset(&o, o.config);
    const lm_opt opts[] = {
        {"train", 's', &o.train, "training text (one sentence a line)"},
        {"valid", 's', &o.valid, "validation text, same format"},
        {"config", 's', &o.config, "small or medium (Zaremba et al. 2014)"},
        {"cell", 's', &o.m.cell,
         "a registered cell type: lstm, gru, rnn (tanh), rnn-relu, or yours"},
        {"layers", 'z', &o.m.layers, "recurrent layers"},
        {"hidden", 'z', &o.m.hidden, "hidden units per layer"},
        {"embed", 'z', &o.m.embed, "embedding width (0: same as --hidden)"},
        {"seq", 'z', &o.m.T, "time steps per window (truncated BPTT length)"},
        {"batch", 'z', &o.m.B, "rows per minibatch"},
        {"dropout", 'p', &o.m.dropout, "dropout rate (embeddings, between layers, output)"},
        {"tied", 'f', &o.m.tied, "tie the decoder weight to the embedding (needs embed = hidden)"},
        {"optim", 's', &o.m.optim, "sgd, adam or adagrad"},
        {"lr", 'p', &o.m.lr, "learning rate"},
        {"lr-decay", 'p', &o.m.decay, "multiply the learning rate by this each epoch after"},
        {"decay-after", 'z', &o.m.decay_after, "... this many epochs"},
        {"clip", 'p', &o.m.clip, "clip the global gradient norm to this (0: off)"},
        {"init", 'p', &o.m.init, "initialise every weight U(-x, x) (0: PyTorch defaults)"},
        {"epochs", 'z', &o.epochs, "passes over the training text"},
        {"max-steps", 'z', &o.max_steps, "stop after this many windows in all (0: no limit)"},
        {"max-tokens", 'z', &o.max_tokens, "train on the first N tokens only (0: all)"},
        {"save", 's', &o.save, "checkpoint path (safetensors), written after every epoch"},
        {"resume", 's', &o.resume, "continue training from this checkpoint"},
        {"threads", 'n', &o.threads, "BLIS threads (0: BLIS's default)"},
        {"seed", 'u', &o.m.seed, "random seed"},
    };
    size_t nopt = sizeof opts / sizeof opts[0], npos;
    char *pos[1];
    tg_status st;
    int help;
    if (lm_parse(argc, argv, opts, nopt, pos, 0, &npos, &help, &st) != 0) die("%s", st.msg);
    if (help) return usage_train(opts, nopt), 0;
    if (!o.train || !o.valid)
        die("%s", "give the data: tg_wordlm train --train ptb.train.txt --valid ptb.valid.txt");
    if (o.threads) tg_set_num_threads((int)o.threads);
    tg_dist dist; /* one rank unless started by mpirun; rank 0 prints and saves */
    if (tg_dist_init(&dist, NULL, NULL, &st) != TG_OK) die("%s", st.msg);
    if (dist.comm.rank > 0 && !freopen("/dev/null", "w", stdout))
        die("%s", "/dev/null: cannot open");

    lm_model m;
    lm_wordvocab v;
    char *vocab = NULL;
    make_model(&m, &v, &vocab, &o);
    m.comm = tg_dist_comm(&dist);
    int32_t *tok, *val;
    size_t ntok, nval, nunk;
    encode_file(&v, o.train, "--train", &tok, &ntok, NULL);
    if (o.max_tokens && o.max_tokens < ntok) ntok = o.max_tokens;
    encode_file(&v, o.valid, "--valid", &val, &nval, &nunk);
    if (nval < 2 * m.cfg.B)
        die("%s is too short to validate with the batch size (see --batch)", o.valid);

    lm_trainer tr;
    if (lm_trainer_init(&tr, &m, tok, ntok, &st) != TG_OK)
        die("%s (see --max-tokens and --batch)", st.msg);
    if (o.resume && lm_load_training(o.resume, &tr, &st) != TG_OK)
        die("%s (resume with the same --train and --max-tokens)", st.msg);
    print_setup(&m, &v, &o, ntok, nval, nunk);
    run(&m, &tr, val, nval, &o, vocab);

    lm_trainer_deinit(&tr); /* before the communicator ends: its store is bound to shared memory */
    tg_dist_finalize(&dist);
    lm_model_deinit(&m);
    lm_wordvocab_deinit(&v);
    free(vocab);
    free(tok);
    free(val);
    return 0;
}

static int eval(int argc, char **argv)
{
    size_t B = 0, T = 0, threads = 0;
    int nonfinite = 0;
    const lm_opt opts[] = {
        {"batch", 'z', &B, "rows evaluated side by side (0: the checkpoint's)"},
        {"seq", 'z', &T, "time steps per window (0: the checkpoint's)"},
        {"threads", 'n', &threads, "BLIS threads (0: BLIS's default)"},
        {"allow-nonfinite", 'f', &nonfinite,
         "load NaN or infinite weights (to inspect a damaged checkpoint)"},
    };
    char *pos[2];
    int rc = lm_parse_command(
        "tg_wordlm", argc, argv, opts, sizeof opts / sizeof opts[0], pos, 2,
        "usage: tg_wordlm eval CKPT PATH [options]\n\nThe perplexity of a checkpoint "
        "written by tg_wordlm train --save on a text in the\nsame format (words not in "
        "its vocabulary are read as <unk>).\n\noptions:\n");
    if (rc >= 0) return rc;
    if (threads) tg_set_num_threads((int)threads);
    tg_status st;
    lm_model m;
    lm_wordvocab v;
    char *vocab;
    if (lm_load(pos[0], &m, "word", &vocab, nonfinite ? TG_CKPT_NONFINITE_OK : 0, &st) != TG_OK)
        die("%s (CKPT is a checkpoint written by tg_wordlm train --save)", st.msg);
    if (lm_wordvocab_from_string(&v, vocab, &st) != TG_OK ||
        lm_vocab_fits(pos[0], v.size, &m, &st) != TG_OK)
        die("%s", st.msg);
    int32_t *ids;
    size_t n, nunk;
    encode_file(&v, pos[1], "PATH", &ids, &n, &nunk);
    B = B ? B : m.cfg.B;
    T = T ? T : m.cfg.T;
    double nll, t0 = lm_now();
    if (lm_evaluate(&m, ids, n, B, T, &nll, &st) != TG_OK) die("%s (a smaller --batch?)", st.msg);
    printf("%s: %zu tokens (%zu read as <unk>), B %zu, T %zu: loss %.4f nats, perplexity %.2f "
           "(%.1f s)\n",
           pos[1], n, nunk, B, T, nll, exp(nll), lm_now() - t0);
    lm_model_deinit(&m);
    lm_wordvocab_deinit(&v);
    free(vocab);
    free(ids);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "train") == 0) return train(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "eval") == 0) return eval(argc - 2, argv + 2);
    int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    fprintf(help ? stdout : stderr,
            "usage: tg_wordlm train --train PATH --valid PATH [--config small|medium] [options]\n"
            "       tg_wordlm eval CKPT PATH [--batch B --seq T]   perplexity of a checkpoint\n"
            "Run a command with --help for its options.\n");
    return help ? 0 : 2;
}
