/* charlm.c: tg_charlm, a character-level language model.
 *
 *   tg_charlm train [FILE] [options]    train on a UTF-8 text (default: the King James Bible)
 *   tg_charlm sample CKPT [options]     generate text from a checkpoint
 *   tg_charlm probs CKPT TEXT           next-character probabilities along TEXT (nextchar.h)
 *   tg_charlm visualize CKPT TEXTFILE   colour a text by hidden units (charviz.h)
 *
 * The vocabulary is the set of Unicode code points of the file, so any language works. The last
 * --val-frac of the text is held out for validation.
 */
#define _POSIX_C_SOURCE 200809L
#include "models/charviz.h"
#include "models/nextchar.h"
#include "models/cli.h"
#include "models/lm.h"
#include "models/text.h"
#include "models/charlm.h"
#include "models/vocab.h"
#include "nn/dist.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef LM_KJV_SCRIPT
#define LM_KJV_SCRIPT "models/kjv_corpus.sh"
#endif
#ifndef LM_KJV_CACHE
#define LM_KJV_CACHE "kjv.txt"
#endif

static void die(const char *fmt, const char *msg)
{
    fprintf(stderr, "tg_charlm: ");
    fprintf(stderr, fmt, msg);
    fprintf(stderr, "\n");
    exit(1);
}

/* The default corpus: the KJV text, extracted once from Debian's bible-kjv into a cache file. */
static const char *default_corpus(void)
{
    struct stat st;
    if (stat(LM_KJV_CACHE, &st) == 0) return LM_KJV_CACHE;
    if (stat(LM_KJV_SCRIPT, &st) != 0) /* an installed program, away from its source tree */
        die("%s", "no corpus given: give a UTF-8 text file, tg_charlm train FILE (the source "
                  "tree's default, the King James Bible, is made by models/kjv_corpus.sh from "
                  "Debian's bible-kjv)");
    printf("no corpus given: extracting the King James Bible (bible-kjv) to %s\n", LM_KJV_CACHE);
    fflush(stdout);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s'", LM_KJV_SCRIPT, LM_KJV_CACHE);
    if (system(cmd) != 0)
        die("%s", "could not make the default corpus; give a text file: tg_charlm train FILE");
    return LM_KJV_CACHE;
}

/* Print n generated characters after priming with the ids prime[0..np). */
static void print_sample(lm_model *m, const lm_charvocab *v, const int32_t *prime, size_t np,
                         size_t n, double temp, size_t top_k, tg_rng *rng, FILE *out)
{
    char buf[4];
    tg_status st;
    lm_sampler s;
    if (lm_sampler_init(&s, m, &st) != TG_OK) die("%s", st.msg);
    int32_t id = 0;
    for (size_t i = 0; i < np; i++) {
        if (lm_sampler_feed(&s, prime[i], &st) != TG_OK) die("%s", st.msg);
        fwrite(buf, 1, lm_utf8_put(lm_charvocab_char(v, prime[i]), buf), out);
    }
    if (np == 0 && lm_sampler_feed(&s, id, &st) != TG_OK) die("%s", st.msg);
    for (size_t i = 0; i < n; i++) {
        id = lm_sampler_draw(&s, temp, top_k, rng);
        fwrite(buf, 1, lm_utf8_put(lm_charvocab_char(v, id), buf), out);
        if (lm_sampler_feed(&s, id, &st) != TG_OK) die("%s", st.msg);
    }
    fputc('\n', out);
    lm_sampler_deinit(&s);
}

/* The ids of --prime; a character the model never saw is an error naming it and its index. */
static int32_t *prime_ids(const lm_charvocab *v, const char *prime, size_t *np)
{
    tg_status st;
    int32_t *ids;
    if (lm_charvocab_encode_string(v, "--prime", prime, &ids, np, &st) != TG_OK) {
        fprintf(stderr,
                "tg_charlm: %s (the model knows %zu characters: give a --prime made of "
                "characters of its training text)\n",
                st.msg, v->size);
        exit(1);
    }
    return ids;
}

typedef struct train_opts {
    lm_model_opts m; /* the model and its training: shared with tg_wordlm */
    const char *save, *resume, *prime;
    size_t epochs, steps, eval_every, sample_every, sample_len, threads, max_chars, top_k;
    size_t val_chars;
    double val_frac, temperature, time_limit;
} train_opts;

static void usage_train(const lm_opt *o, size_t n)
{
    printf("usage: tg_charlm train [FILE] [options]\n\n"
           "Train a character-level language model on FILE (UTF-8 text; default: the King James\n"
           "Bible from Debian's bible-kjv). Prints progress (loss, bits per character bpc,\n"
           "perplexity ppl per character, the last window's gradient norm before clipping, and\n"
           "how many windows since the previous line were clipped), validation loss in bits per\n"
           "character and perplexity, and samples as it learns. A --prime character the text\n"
           "does not hold is an error.\n\noptions:\n");
    lm_print_options(stdout, o, n);
}

/* Validation bits per character, printed, and the checkpoint saved when asked. */
static void checkpoint(lm_model *m, lm_trainer *tr, const int32_t *val, size_t nval,
                       const train_opts *o, const char *vocab)
{
    tg_status st;
    double nll = NAN;
    if (nval > 2 * o->m.B) {
        size_t B = nval / 64 > o->m.B ? o->m.B : (nval / 64 ? nval / 64 : 1);
        if (m->comm) B = B < m->comm->ranks ? m->comm->ranks : B - B % m->comm->ranks;
        if (lm_evaluate(m, val, nval, B, o->m.T, &nll, &st) != TG_OK) die("%s", st.msg);
        printf("epoch %zu step %llu: validation loss %.4f nats, %.4f bits per character, "
               "perplexity %.3f per character\n",
               lm_trainer_epoch(tr), (unsigned long long)tr->step, nll, nll / log(2.0), exp(nll));
    }
    if (o->save && lm_save(o->save, m, tr, "char", vocab, &st) != TG_OK) die("%s", st.msg);
}

static int train(int argc, char **argv)
{
    train_opts o = {.m = {.cell = "lstm",
                          .optim = "adam",
                          .layers = 2,
                          .hidden = 256,
                          .T = 64,
                          .B = 32,
                          .lr = 2e-3,
                          .clip = 5,
                          .decay = 1,
                          .seed = 1},
                    .epochs = 1,
                    .eval_every = 200,
                    .sample_every = 200,
                    .sample_len = 300,
                    .val_frac = 0.1,
                    .val_chars = 100000,
                    .temperature = 0.8,
                    .prime = ""};
    const lm_opt opts[] = {
        {"cell", 's', &o.m.cell,
         "a registered cell type: lstm, gru, rnn (tanh), rnn-relu, or yours"},
        {"layers", 'z', &o.m.layers, "recurrent layers"},
        {"hidden", 'z', &o.m.hidden, "hidden units per layer"},
        {"embed", 'z', &o.m.embed, "embedding width (0: same as --hidden)"},
        {"seq", 'z', &o.m.T, "time steps per window (truncated BPTT length)"},
        {"batch", 'z', &o.m.B, "rows per minibatch"},
        {"dropout", 'p', &o.m.dropout, "dropout rate (embeddings, between layers, output)"},
        {"optim", 's', &o.m.optim, "adam, sgd or adagrad"},
        {"lr", 'p', &o.m.lr, "learning rate"},
        {"lr-decay", 'p', &o.m.decay, "multiply the learning rate by this each epoch after"},
        {"decay-after", 'z', &o.m.decay_after, "... this many epochs"},
        {"clip", 'p', &o.m.clip, "clip the global gradient norm to this (0: off)"},
        {"init", 'p', &o.m.init, "initialise every weight U(-x, x) (0: PyTorch defaults)"},
        {"forget-bias", 'd', &o.m.forget_bias, "LSTM forget-gate bias at start"},
        {"epochs", 'z', &o.epochs, "passes over the training text"},
        {"steps", 'z', &o.steps, "stop after this many windows (0: run the epochs)"},
        {"time-limit", 'p', &o.time_limit, "stop after this many seconds (0: no limit)"},
        {"max-chars", 'z', &o.max_chars, "use only the first N characters (0: all)"},
        {"val-frac", 'p', &o.val_frac, "held-out fraction at the end of the text"},
        {"val-chars", 'z', &o.val_chars, "validate on the first N held-out characters (0: all)"},
        {"eval-every", 'z', &o.eval_every, "validate (and save) every N windows"},
        {"sample-every", 'z', &o.sample_every, "print a sample every N windows (0: never)"},
        {"sample-len", 'z', &o.sample_len, "characters per sample"},
        {"temperature", 'p', &o.temperature, "sampling temperature"},
        {"top-k", 'z', &o.top_k, "sample only among the k likeliest characters (0: all)"},
        {"prime", 's', &o.prime, "text to start samples with"},
        {"save", 's', &o.save, "checkpoint path (safetensors), written at every validation"},
        {"resume", 's', &o.resume, "continue training from this checkpoint"},
        {"threads", 'n', &o.threads, "BLIS threads (0: BLIS's default)"},
        {"seed", 'u', &o.m.seed, "random seed"},
    };
    size_t nopt = sizeof opts / sizeof opts[0], npos;
    char *pos[1];
    tg_status st;
    int help;
    if (lm_parse(argc, argv, opts, nopt, pos, 1, &npos, &help, &st) != 0) die("%s", st.msg);
    if (help) return usage_train(opts, nopt), 0;
    if (!(o.val_frac >= 0 && o.val_frac < 1)) die("%s", "--val-frac must be in [0, 1)");
    if (o.threads) tg_set_num_threads((int)o.threads);
    tg_dist dist; /* one rank unless started by mpirun; rank 0 prints and saves */
    if (tg_dist_init(&dist, NULL, NULL, &st) != TG_OK) die("%s", st.msg);
    if (dist.comm.rank > 0 && !freopen("/dev/null", "w", stdout))
        die("%s", "/dev/null: cannot open");

    const char *path = npos ? pos[0] : default_corpus();
    uint32_t *text;
    size_t n;
    if (lm_read_utf8(path, &text, &n, &st) != TG_OK) die("%s", st.msg);
    if (o.max_chars && o.max_chars < n) n = o.max_chars;

    lm_model m;
    lm_charvocab v;
    char *vocab = NULL;
    if (o.resume) {
        if (lm_load(o.resume, &m, "char", &vocab, 0, &st) != TG_OK) die("%s", st.msg);
        if (lm_charvocab_from_string(&v, vocab, &st) != TG_OK ||
            lm_vocab_fits(o.resume, v.size, &m, &st) != TG_OK)
            die("%s", st.msg);
    } else {
        if (lm_charvocab_build(&v, text, n, &st) != TG_OK) die("%s", st.msg);
        if (lm_charvocab_to_string(&v, &vocab, &st) != TG_OK) die("%s", st.msg);
        lm_config c;
        if (lm_config_from_opts(&o.m, v.size, &c, &st) != TG_OK) die("%s", st.msg);
        if (lm_model_init(&m, &c, &st) != TG_OK) die("%s", st.msg);
    }
    m.comm = tg_dist_comm(&dist);
    int32_t *ids;
    if (lm_charvocab_encode(&v, path, text, n, &ids, &st) != TG_OK) die("%s", st.msg);
    size_t nval = (size_t)((double)n * o.val_frac), ntrain = n - nval;

    lm_trainer tr;
    if (lm_trainer_init(&tr, &m, ids, ntrain, &st) != TG_OK) die("%s", st.msg);
    if (o.resume && lm_load_training(o.resume, &tr, &st) != TG_OK) die("%s", st.msg);
    const lm_config *c = &m.cfg;
    printf("%s: %zu characters (%zu train, %zu validation), vocabulary %zu\n", path, n, ntrain,
           nval, v.size);
    printf("model: %s, %zu layer(s) of %zu, embedding %zu, %zu parameters; T %zu, B %zu\n",
           c->cell->name, c->L, c->H, c->E, tg_params_numel(m.ps), c->T, c->B);
    printf("%s\n", tg_blis_config());

    size_t per_epoch = tg_batcher_windows(&tr.batch);
    size_t total = o.steps ? o.steps : per_epoch * o.epochs;
    tg_rng srng;
    tg_rng_seed(&srng, o.m.seed + 1);
    size_t np;
    int32_t *prime = prime_ids(&v, o.prime, &np);
    lm_progress p;
    lm_progress_init(&p, &tr);
    size_t tokens = 0, nv = o.val_chars && o.val_chars < nval ? o.val_chars : nval;
    double train_s = 0; /* time spent in training windows, without validation and samples */
    unsigned long long checked = ULLONG_MAX; /* the step of the last validation */
    while (tr.step < total && lm_trainer_epoch(&tr) <= o.epochs) {
        double loss, t0 = lm_now();
        long Tw = lm_train_window(&tr, &loss, &st);
        if (Tw < 0) die("%s", st.msg);
        train_s += lm_now() - t0;
        if (Tw == 0) continue; /* next epoch */
        tokens += (size_t)Tw * c->B;
        lm_progress_show(&p, &tr, (size_t)tr.step, total, loss, "bpc", loss / log(2.0), tokens, 10);
        if (o.time_limit > 0 && lm_now() - p.t0 > o.time_limit) {
            lm_progress_break(&p, &tr);
            printf("time limit of %.0f s reached\n", o.time_limit);
            break;
        }
        if (o.eval_every && tr.step % o.eval_every == 0) {
            lm_progress_break(&p, &tr);
            checkpoint(&m, &tr, ids + ntrain, nv, &o, vocab);
            checked = (unsigned long long)tr.step;
        }
        if (o.sample_every && tr.step % o.sample_every == 0) {
            printf("---- sample after %llu windows:\n", (unsigned long long)tr.step);
            print_sample(&m, &v, prime, np, o.sample_len, o.temperature, o.top_k, &srng, stdout);
            printf("----\n");
        }
    }
    lm_progress_break(&p, &tr);
    if ((unsigned long long)tr.step != checked) checkpoint(&m, &tr, ids + ntrain, nv, &o, vocab);
    printf("---- final sample:\n");
    print_sample(&m, &v, prime, np, o.sample_len, o.temperature, o.top_k, &srng, stdout);
    printf("trained %llu windows (%zu tokens) in %.1f s, %.1f s of it training: %.0f tokens/s\n",
           (unsigned long long)tr.step, tokens, lm_now() - p.t0, train_s,
           train_s > 0 ? (double)tokens / train_s : 0);
    printf("gradient clipped to norm %g in %llu of %llu windows\n", c->clip,
           (unsigned long long)tr.clipped, (unsigned long long)tr.step);
    lm_trainer_deinit(&tr); /* before the communicator ends: its store is bound to shared memory */
    tg_dist_finalize(&dist);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
    free(vocab);
    free(ids);
    free(text);
    free(prime);
    return 0;
}

/* The model and vocabulary of a checkpoint written by train --save; returns the vocabulary's
 * string (to free after deinit). */
static char *load_model(const char *path, lm_model *m, lm_charvocab *v, unsigned flags)
{
    tg_status st;
    char *vocab;
    if (lm_load(path, m, "char", &vocab, flags, &st) != TG_OK) die("%s", st.msg);
    if (lm_charvocab_from_string(v, vocab, &st) != TG_OK ||
        lm_vocab_fits(path, v->size, m, &st) != TG_OK)
        die("%s", st.msg);
    return vocab;
}

static int sample(int argc, char **argv)
{
    const char *prime = "";
    size_t len = 500, top_k = 0;
    double temperature = 0.8;
    uint64_t seed = 1;
    int nonfinite = 0;
    const lm_opt opts[] = {
        {"len", 'z', &len, "characters to generate"},
        {"temperature", 'p', &temperature, "softmax temperature (0: always the likeliest)"},
        {"top-k", 'z', &top_k, "sample only among the k likeliest characters (0: all)"},
        {"prime", 's', &prime, "text to start from"},
        {"seed", 'u', &seed, "random seed"},
        {"allow-nonfinite", 'f', &nonfinite,
         "load NaN or infinite weights (to inspect a damaged checkpoint)"},
    };
    char *pos[1];
    int rc = lm_parse_command(
        "tg_charlm", argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1,
        "usage: tg_charlm sample CKPT [options]\n\nGenerate text from a checkpoint "
        "written by tg_charlm train --save.\n\noptions:\n");
    if (rc >= 0) return rc;
    lm_model m;
    lm_charvocab v;
    char *vocab = load_model(pos[0], &m, &v, nonfinite ? TG_CKPT_NONFINITE_OK : 0);
    size_t np;
    int32_t *p = prime_ids(&v, prime, &np);
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    print_sample(&m, &v, p, np, len, temperature, top_k, &rng, stdout);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
    free(vocab);
    free(p);
    return 0;
}

static int probs(int argc, char **argv)
{
    size_t top_k = 3;
    const char *svg = NULL;
    const lm_opt opts[] = {
        {"top", 'z', &top_k, "likeliest next characters listed at each position"},
        {"svg", 's', &svg, "also draw the table as an SVG picture in this file"},
    };
    char *pos[2];
    int rc = lm_parse_command(
        "tg_charlm", argc, argv, opts, sizeof opts / sizeof opts[0], pos, 2,
        "usage: tg_charlm probs CKPT TEXT [options]\n\nFeed TEXT (a string) through the "
        "checkpoint's model from the zero state and print, at\neach position, the input "
        "character, the probability the model gives to the actual next\ncharacter, and "
        "the likeliest next characters (the 'hello' figure).\n\noptions:\n");
    if (rc >= 0) return rc;
    tg_status st;
    lm_model m;
    lm_charvocab v;
    char *vocab = load_model(pos[0], &m, &v, 0);
    uint32_t *text;
    size_t n;
    lm_nextchar nc;
    if (lm_utf8_decode("TEXT", pos[1], strlen(pos[1]), &text, &n, &st) != TG_OK ||
        lm_nextchar_compute(&nc, &m, &v, "TEXT", text, n, top_k, &st) != TG_OK)
        die("%s", st.msg);
    lm_nextchar_print(stdout, &nc, &v);
    if (svg) {
        FILE *f = fopen(svg, "w");
        if (!f || lm_nextchar_svg(f, &nc, &v) != TG_OK || fclose(f) != 0)
            die("%s: cannot write the picture", svg);
        printf("wrote %s\n", svg);
    }
    lm_nextchar_deinit(&nc);
    free(text);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
    free(vocab);
    return 0;
}

int lm_charlm_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "train") == 0) return train(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "sample") == 0) return sample(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "probs") == 0) return probs(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "visualize") == 0)
        return lm_charviz_command(argc - 2, argv + 2);
    fprintf(argc >= 2 && strcmp(argv[1], "--help") ? stderr : stdout,
            "usage: tg_charlm train [FILE] [options]   train (default corpus: the KJV Bible)\n"
            "       tg_charlm sample CKPT [options]    generate text from a checkpoint\n"
            "       tg_charlm probs CKPT TEXT [--top K] next-character probabilities along TEXT\n"
            "       tg_charlm visualize CKPT TEXTFILE  colour a text by hidden units (HTML)\n"
            "Run a command with --help for its options.\n");
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
