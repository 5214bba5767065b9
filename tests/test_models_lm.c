/* test_models_lm.c: the language model (models/lm.c) and its checkpoints (models/lm_ckpt.c):
 * a resumed run continues bit for bit, a tiny model learns a short text, sampling draws as
 * documented, bad checkpoints and bad configurations fail with messages that say what is
 * wrong, and training stops allocating after its first window. Float build only (the language
 * model is built in float). Tokens are made here; files go to a mkdtemp directory. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#include "models/lm.h"
#include "models/vocab.h"

/* Dimension letters as in lm.h: V vocabulary, E embedding, H hidden, T steps, B rows. */

/* A 2-layer LSTM with dropout (the RNG matters) trained by Adam (its moments matter), with the
 * learning rate halved every epoch after the first. */
static lm_config tiny_config(void)
{
    lm_config c = lm_default_config();
    c.V = 7, c.E = 8, c.H = 8, c.L = 2, c.T = 5, c.B = 3;
    c.dropout = 0.3;
    c.optim = tg_adam_config(0.01);
    c.lr_decay = 0.5;
    c.decay_after = 1;
    c.init = 0.2;
    c.seed = 3;
    return c;
}

/* A deterministic stream of n ids in [0, V). */
static int32_t *make_tokens(size_t n, size_t V, size_t salt)
{
    int32_t *tok = malloc(n * sizeof *tok);
    assert_non_null(tok);
    for (size_t i = 0; i < n; i++) tok[i] = (int32_t)((i * 3 + i / 5 + salt) % V);
    return tok;
}

static void init_model(lm_model *m, const lm_config *c)
{
    tg_status st = {0};
    if (lm_model_init(m, c, &st) != TG_OK) fail_msg("lm_model_init: %s", st.msg);
}

static void init_trainer(lm_trainer *tr, lm_model *m, const int32_t *tok, size_t N)
{
    tg_status st = {0};
    if (lm_trainer_init(tr, m, tok, N, &st) != TG_OK) fail_msg("lm_trainer_init: %s", st.msg);
}

/* Train n windows (epoch ends, which train nothing, are not counted), losses into loss[]. */
static void train_windows(lm_trainer *tr, size_t n, double *loss)
{
    tg_status st = {0};
    for (size_t i = 0; i < n;) {
        double l;
        long Tw = lm_train_window(tr, &l, &st);
        if (Tw < 0) fail_msg("lm_train_window: %s", st.msg);
        if (Tw > 0) loss[i++] = l;
    }
}

/* A fresh temporary directory and the path of a file in it. */
typedef struct tmpdir {
    char dir[64];
    char path[128];
} tmpdir;

static void tmpdir_make(tmpdir *d, const char *file)
{
    const char *base = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/tg_lm_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(d->dir)) fail_msg("mkdtemp %s failed", d->dir);
    snprintf(d->path, sizeof d->path, "%s/%s", d->dir, file);
}

static void tmpdir_remove(tmpdir *d)
{
    unlink(d->path);
    rmdir(d->dir);
}

/* ---- Resuming ------------------------------------------------------------------------- */

/* The corpus: B 3 rows of 19 tokens, 18 pairs a row: windows of 5, 5, 5 and a ragged 3, so
 * the 12 windows span three epochs (carry zeroed and lr halved twice). */
enum { RESUME_N = 57, RESUME_WINDOWS = 12 };

/* Train `split` windows, save, load into fresh structs, train the rest: the losses after the
 * split equal those of the run that was never interrupted, bit for bit. */
static void check_resume_at(size_t split)
{
    lm_config c = tiny_config();
    int32_t *tok = make_tokens(RESUME_N, c.V, 0);
    double whole[RESUME_WINDOWS], part[RESUME_WINDOWS];
    lm_model m;
    lm_trainer tr;
    init_model(&m, &c);
    init_trainer(&tr, &m, tok, RESUME_N);
    assert_int_equal(tg_batcher_windows(&tr.batch), 4);
    train_windows(&tr, RESUME_WINDOWS, whole);
    assert_int_equal(lm_trainer_epoch(&tr), 3);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);

    tmpdir d;
    tmpdir_make(&d, "resume.safetensors");
    char *vocab;
    tg_status st = {0};
    init_model(&m, &c);
    init_trainer(&tr, &m, tok, RESUME_N);
    train_windows(&tr, split, part);
    if (lm_save(d.path, &m, &tr, "word", "a\nb\n", &st) != TG_OK) fail_msg("%s", st.msg);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);

    if (lm_load(d.path, &m, "word", &vocab, 0, &st) != TG_OK) fail_msg("%s", st.msg);
    assert_string_equal(vocab, "a\nb\n");
    init_trainer(&tr, &m, tok, RESUME_N);
    if (lm_load_training(d.path, &tr, &st) != TG_OK) fail_msg("%s", st.msg);
    train_windows(&tr, RESUME_WINDOWS - split, part + split);
    for (size_t i = split; i < RESUME_WINDOWS; i++)
        if (!(part[i] == whole[i]))
            fail_msg("split at %zu: window %zu has loss %.17g resumed, %.17g uninterrupted", split,
                     i + 1, part[i], whole[i]);
    assert_true(whole[0] != whole[4]); /* the windows differ: the comparison means something */
    free(vocab);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    tmpdir_remove(&d);
    free(tok);
}

static void test_resumed_training_equals_uninterrupted_training(void **state)
{
    (void)state;
    check_resume_at(5); /* inside the second epoch */
    check_resume_at(4); /* after the last window of an epoch, before its end is noticed */
}

/* ---- Learning ------------------------------------------------------------------------- */

static void test_tiny_char_model_overfits_a_short_text(void **state)
{
    (void)state;
    const char *line = "the quick brown fox jumps over a lazy do"; /* 40 characters */
    char text[401] = "";
    for (int i = 0; i < 10; i++) strcat(text, line);
    tg_status st = {0};
    uint32_t *cps;
    size_t n;
    int32_t *ids;
    lm_charvocab v;
    assert_int_equal(lm_utf8_decode("text", text, strlen(text), &cps, &n, &st), TG_OK);
    assert_int_equal(lm_charvocab_build(&v, cps, n, &st), TG_OK);
    assert_int_equal(lm_charvocab_encode(&v, "text", cps, n, &ids, &st), TG_OK);

    lm_config c = lm_default_config();
    c.V = v.size, c.E = 16, c.H = 48, c.L = 1, c.T = 20, c.B = 4;
    c.optim = tg_adam_config(0.02);
    lm_model m;
    lm_trainer tr;
    init_model(&m, &c);
    init_trainer(&tr, &m, ids, n);
    /* Measured: below 0.05 nats after 14 to 23 windows for seeds 1 to 12 and each of the
     * four cells; 100 leaves a margin of four. */
    double loss = INFINITY, first;
    train_windows(&tr, 1, &first);
    size_t w = 1;
    while (w < 100 && !(loss < 0.05)) train_windows(&tr, 1, &loss), w++;
    if (!(loss < 0.05))
        fail_msg("loss is %.4f after %zu windows (started at %.4f), want < 0.05", loss, w, first);
    assert_true(first > 3.0); /* it started near log V = log 26: it did learn */
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
    free(ids);
    free(cps);
}

/* ---- Sampling ------------------------------------------------------------------------- */

/* Zaremba et al.'s objective (sum over the T steps of the batch mean) has T times the gradient
 * of the per-token mean, and the same reported loss. */
static void test_sum_over_steps_objective_scales_the_gradient_by_the_window_length(void **state)
{
    (void)state;
    double norm[2], loss[2];
    int32_t *tok = make_tokens(200, 7, 1);
    for (int sum = 0; sum < 2; sum++) {
        lm_config c = tiny_config();
        c.dropout = 0, c.clip = 0, c.sum_steps = sum;
        lm_model m;
        lm_trainer tr;
        init_model(&m, &c);
        init_trainer(&tr, &m, tok, 200);
        train_windows(&tr, 1, &loss[sum]);
        norm[sum] = tr.last_norm;
        lm_trainer_deinit(&tr);
        lm_model_deinit(&m);
    }
    assert_true(loss[0] == loss[1]);
    assert_true(fabs(norm[1] - 5 * norm[0]) <= 1e-5 * norm[1]); /* T = 5 */
    free(tok);
}

static void init_sampler(lm_sampler *s, lm_model *m)
{
    tg_status st = {0};
    if (lm_sampler_init(s, m, &st) != TG_OK) fail_msg("lm_sampler_init: %s", st.msg);
}

/* n tokens drawn at temperature 1 and fed back, from a fresh state, with rng seeded `seed`. */
static void draw_sequence(lm_model *m, uint64_t seed, int32_t *out, size_t n)
{
    tg_status st = {0};
    lm_sampler s;
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    init_sampler(&s, m);
    int32_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (lm_sampler_feed(&s, id, &st) != TG_OK) fail_msg("%s", st.msg);
        out[i] = id = lm_sampler_draw(&s, 1.0, 0, &rng);
    }
    lm_sampler_deinit(&s);
}

static void test_sampling_with_a_fixed_seed_is_reproducible(void **state)
{
    (void)state;
    lm_config c = tiny_config();
    lm_model m;
    init_model(&m, &c);
    int32_t a[64], b[64], other[64];
    draw_sequence(&m, 42, a, 64);
    draw_sequence(&m, 42, b, 64);
    draw_sequence(&m, 43, other, 64);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, other, sizeof a);
    int seen[7] = {0}, distinct = 0;
    for (size_t i = 0; i < 64; i++) distinct += !seen[a[i]]++;
    assert_true(distinct >= 3); /* draws, not a fixed token */
    lm_model_deinit(&m);
}

/* A sampler over the tiny model with hand-set logits: the top 3 are ids 1, 5, 3. */
static const tg_real hand_logits[7] = {1.0f, 3.0f, 0.9f, 2.9f, 0.95f, 2.95f, 0.5f};

static void test_zero_temperature_and_top_1_draw_the_argmax(void **state)
{
    (void)state;
    lm_config c = tiny_config();
    lm_model m;
    lm_sampler s;
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    init_model(&m, &c);
    init_sampler(&s, &m);
    memcpy(s.logits, hand_logits, sizeof hand_logits);
    assert_int_equal(lm_sampler_draw(&s, 0.0, 0, &rng), 1);
    assert_int_equal(lm_sampler_draw(&s, -1.0, 0, &rng), 1);
    assert_int_equal(lm_sampler_draw(&s, 0.0, 3, &rng), 1);
    for (int i = 0; i < 200; i++) assert_int_equal(lm_sampler_draw(&s, 10.0, 1, &rng), 1);
    lm_sampler_deinit(&s);
    lm_model_deinit(&m);
}

static void test_top_k_draws_only_among_the_k_largest_logits(void **state)
{
    (void)state;
    lm_config c = tiny_config();
    lm_model m;
    lm_sampler s;
    tg_rng rng;
    tg_rng_seed(&rng, 6);
    init_model(&m, &c);
    init_sampler(&s, &m);
    memcpy(s.logits, hand_logits, sizeof hand_logits);
    size_t top3[7] = {0}, all[7] = {0};
    for (int i = 0; i < 3000; i++) {
        top3[lm_sampler_draw(&s, 5.0, 3, &rng)]++;
        all[lm_sampler_draw(&s, 5.0, 0, &rng)]++;
    }
    for (int k = 0; k < 7; k++) {
        int kept = k == 1 || k == 3 || k == 5;
        if (kept && top3[k] < 500) fail_msg("top-3: id %d drawn %zu times of 3000", k, top3[k]);
        if (!kept && top3[k]) fail_msg("top-3: id %d, not among the 3 largest, drawn", k);
        if (!all[k]) fail_msg("without top-k, id %d was never drawn", k); /* the test can fail */
    }
    lm_sampler_deinit(&s);
    lm_model_deinit(&m);
}

/* Scores tied at the cut are all kept, and nothing below the k-th largest score is. */
static void test_top_k_counts_tied_scores_and_keeps_nothing_below_them(void **state)
{
    (void)state;
    static const tg_real tied[7] = {5, 5, 5, 1, 0, 0, 0};
    lm_config c = tiny_config();
    lm_model m;
    lm_sampler s;
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    init_model(&m, &c);
    init_sampler(&s, &m);
    memcpy(s.logits, tied, sizeof tied);
    size_t count[7] = {0};
    for (int i = 0; i < 3000; i++) count[lm_sampler_draw(&s, 100.0, 2, &rng)]++;
    for (int k = 3; k < 7; k++)
        if (count[k]) fail_msg("top-2 of {5, 5, 5, 1, 0, ...}: id %d drawn %zu times", k, count[k]);
    for (int k = 0; k < 3; k++) assert_true(count[k] > 500);
    lm_sampler_deinit(&s);
    lm_model_deinit(&m);
}

/* ---- Checkpoint errors ---------------------------------------------------------------- */

/* Save the tiny model (with a trainer over tok when tok is not NULL) as `kind` to path. */
static void save_tiny(const char *path, const char *kind, const int32_t *tok, size_t N)
{
    tg_status st = {0};
    lm_config c = tiny_config();
    lm_model m;
    lm_trainer tr;
    init_model(&m, &c);
    if (tok) init_trainer(&tr, &m, tok, N);
    if (lm_save(path, &m, tok ? &tr : NULL, kind, "x\n", &st) != TG_OK)
        fail_msg("lm_save: %s", st.msg);
    if (tok) lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
}

/* lm_load of path as a word model fails with rc and a message naming the file and `what`. */
static void assert_load_fails(const char *path, int rc, const char *what)
{
    char *vocab = (char *)1;
    tg_status st = {0};
    lm_model m;
    assert_int_equal(lm_load(path, &m, "word", &vocab, 0, &st), rc);
    assert_null(vocab);
    assert_status_has(&st, rc, path, what, NULL);
}

static void test_load_rejects_a_truncated_checkpoint(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d, "cut.safetensors");
    save_tiny(d.path, "word", NULL, 0);
    FILE *f = fopen(d.path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(d.path, size - 64), 0);
    assert_load_fails(d.path, TG_EFORMAT, "past the end of the file");
    assert_int_equal(truncate(d.path, 5), 0);
    assert_load_fails(d.path, TG_EFORMAT, "too short");
    tmpdir_remove(&d);
}

static void test_load_rejects_a_checkpoint_of_another_kind_naming_both(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d, "char.safetensors");
    save_tiny(d.path, "char", NULL, 0);
    assert_load_fails(d.path, TG_EFORMAT, "char-level");
    assert_load_fails(d.path, TG_EFORMAT, "word-level");
    tmpdir_remove(&d);
}

static void test_load_rejects_safetensors_without_the_metadata(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d, "plain.safetensors");
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    float x[6] = {1, 2, 3, 4, 5, 6};
    size_t shape[2] = {2, 3};
    assert_int_equal(tg_ckpt_writer_add(w, "weight", TG_DT_F32, 2, shape, x, NULL), TG_OK);
    assert_int_equal(tg_ckpt_writer_save(w, d.path, NULL), TG_OK);
    tg_ckpt_writer_free(w);
    assert_load_fails(d.path, TG_EFORMAT, "tapegrad.kind");
    tmpdir_remove(&d);
}

/* The metadata of a 1-layer LSTM with E 6, H 6: every key lm_save writes. */
static const char *const meta_h6[][2] = {
    {"tapegrad.kind", "word"},   {"tapegrad.vocab", "x\n"}, {"config.cell", "lstm"},
    {"config.optim", "sgd"},     {"config.V", "7"},         {"config.E", "6"},
    {"config.H", "6"},           {"config.L", "1"},         {"config.T", "5"},
    {"config.B", "3"},           {"config.tied", "0"},      {"config.decay_after", "0"},
    {"config.seed", "1"},        {"config.dropout", "0"},   {"config.init", "0"},
    {"config.forget_bias", "0"}, {"config.clip", "5"},      {"config.lr_decay", "1"},
    {"config.lr", "1"},          {"config.momentum", "0"},  {"config.beta1", "0.9"},
    {"config.beta2", "0.999"},   {"config.eps", "1e-08"},   {"config.weight_decay", "0"},
    {"config.sum_steps", "0"},
};

/* A checkpoint with meta_h6's metadata and the parameters of a model with E = H = `H`. */
static void write_by_hand(const char *path, size_t H)
{
    lm_config c = lm_default_config();
    c.V = 7, c.E = H, c.H = H, c.T = 5, c.B = 3;
    lm_model m;
    init_model(&m, &c);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add_params(w, m.ps, "model.", NULL), TG_OK);
    for (size_t i = 0; i < sizeof meta_h6 / sizeof meta_h6[0]; i++)
        assert_int_equal(tg_ckpt_writer_meta(w, meta_h6[i][0], meta_h6[i][1], NULL), TG_OK);
    assert_int_equal(tg_ckpt_writer_save(w, path, NULL), TG_OK);
    tg_ckpt_writer_free(w);
    lm_model_deinit(&m);
}

static void test_load_rejects_parameters_that_do_not_fit_the_configuration(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d, "hand.safetensors");
    char *vocab;
    tg_status st = {0};
    lm_model m;
    write_by_hand(d.path, 6); /* consistent: the hand-written metadata is complete */
    if (lm_load(d.path, &m, "word", &vocab, 0, &st) != TG_OK) fail_msg("%s", st.msg);
    assert_int_equal(m.cfg.H, 6);
    lm_model_deinit(&m);
    free(vocab);
    write_by_hand(d.path, 8); /* parameters of H 8 under a configuration of H 6 */
    assert_load_fails(d.path, TG_ESHAPE, "wrong shape");
    assert_load_fails(d.path, TG_ESHAPE, "model.");
    tmpdir_remove(&d);
}

static void test_load_training_rejects_another_corpus(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d, "corpus.safetensors");
    int32_t *a = make_tokens(60, 7, 0), *b = make_tokens(60, 7, 1);
    save_tiny(d.path, "word", a, 60);
    char *vocab;
    tg_status st = {0};
    lm_model m;
    lm_trainer tr;
    if (lm_load(d.path, &m, "word", &vocab, 0, &st) != TG_OK) fail_msg("%s", st.msg);
    init_trainer(&tr, &m, b, 60);
    assert_int_equal(lm_load_training(d.path, &tr, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, d.path, "another corpus", NULL);
    lm_trainer_deinit(&tr);
    init_trainer(&tr, &m, a, 60); /* the right corpus loads */
    if (lm_load_training(d.path, &tr, &st) != TG_OK) fail_msg("%s", st.msg);
    lm_trainer_deinit(&tr);
    save_tiny(d.path, "word", NULL, 0); /* no training state at all */
    init_trainer(&tr, &m, a, 60);
    assert_int_equal(lm_load_training(d.path, &tr, &st), TG_EFORMAT);
    assert_status_has(&st, TG_EFORMAT, d.path, "no training state", NULL);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    free(vocab);
    free(a);
    free(b);
    tmpdir_remove(&d);
}

/* ---- Reliability: items 1, 3 and 4 of the reliability issue ---------------------------- */

/* Copy the checkpoint at `from` to `to` through the writer, every array and metadata entry
 * as it is except the array `name`, which gets the n F64 values v (a crafted file that is
 * otherwise exactly what lm_save wrote), or the metadata `key`, which gets `value`. */
static void copy_replacing(const char *from, const char *to, const char *name, const double *v,
                           const char *key, const char *value)
{
    tg_status st;
    tg_ckpt *ck;
    if (tg_ckpt_open(&ck, from, 0, &st) != TG_OK) fail_msg("%s", st.msg);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_non_null(w);
    for (size_t i = 0; i < tg_ckpt_count(ck); i++) {
        const tg_ckpt_entry *e = tg_ckpt_entry_at(ck, i);
        void *buf = malloc(e->end - e->begin + 1);
        assert_non_null(buf);
        assert_int_equal(tg_ckpt_read(ck, e->name, e->dtype, buf, e->numel, NULL), TG_OK);
        const void *data = name && strcmp(e->name, name) == 0 ? (const void *)v : buf;
        assert_int_equal(tg_ckpt_writer_add(w, e->name, e->dtype, e->ndim, e->shape, data, NULL),
                         TG_OK);
        free(buf);
    }
    for (size_t i = 0; i < tg_ckpt_meta_count(ck); i++) {
        const char *k = tg_ckpt_meta_key(ck, i);
        const char *val = key && strcmp(k, key) == 0 ? value : tg_ckpt_meta(ck, k);
        assert_int_equal(tg_ckpt_writer_meta(w, k, val, NULL), TG_OK);
    }
    assert_int_equal(tg_ckpt_writer_save(w, to, NULL), TG_OK);
    tg_ckpt_writer_free(w);
    tg_ckpt_close(ck);
}

/* Item 1: T·B that overflows is refused with a message; a T far beyond the corpus allocates
 * only the longest window the corpus gives, in training and in evaluation. */
static void
test_item1_window_sizes_that_overflow_are_refused_and_huge_ones_cost_nothing(void **state)
{
    (void)state;
    tg_status st = {0};
    lm_config c = tiny_config();
    lm_model m;
    c.T = (size_t)1 << 62, c.B = 1; /* T·B·4 bytes wraps to 0 */
    assert_int_equal(lm_model_init(&m, &c, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "overflows", "4611686018427387904", NULL);
    c.T = (size_t)1 << 60;
    init_model(&m, &c);
    int32_t *tok = make_tokens(40, c.V, 0);
    lm_trainer tr;
    init_trainer(&tr, &m, tok, 40); /* used to malloc 2^62 bytes unchecked */
    double loss[2];
    train_windows(&tr, 2, loss);
    assert_true(isfinite(loss[0]) && isfinite(loss[1]));
    lm_trainer_deinit(&tr);
    double nll;
    assert_int_equal(lm_evaluate(&m, tok, 40, 1, (size_t)1 << 62, &nll, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_batcher_init", "overflows", NULL);
    assert_int_equal(lm_evaluate(&m, tok, 40, 2, (size_t)1 << 60, &nll, &st), TG_OK);
    assert_true(isfinite(nll));
    lm_model_deinit(&m);
    free(tok);
}

/* Item 1, from a file: a checkpoint whose config.T makes T·B overflow fails to load. */
static void test_item1_a_checkpoint_whose_window_overflows_fails_to_load(void **state)
{
    (void)state;
    tmpdir d, e;
    tmpdir_make(&d, "good.safetensors");
    tmpdir_make(&e, "huge_t.safetensors");
    save_tiny(d.path, "word", NULL, 0);
    copy_replacing(d.path, e.path, NULL, NULL, "config.T", "4611686018427387904");
    assert_load_fails(e.path, TG_EINVAL, "overflows");
    tmpdir_remove(&d);
    tmpdir_remove(&e);
}

/* A checkpoint names its cell type; one this program has not registered is a clear error. */
static void test_load_names_an_unregistered_cell_type(void **state)
{
    (void)state;
    tmpdir d, e;
    tmpdir_make(&d, "good.safetensors");
    tmpdir_make(&e, "other_cell.safetensors");
    save_tiny(d.path, "word", NULL, 0);
    copy_replacing(d.path, e.path, NULL, NULL, "config.cell", "peephole-lstm");
    assert_load_fails(e.path, TG_EFORMAT, "config.cell 'peephole-lstm' is not a cell type");
    assert_load_fails(e.path, TG_EFORMAT, "tg_cell_type_register");
    tmpdir_remove(&d);
    tmpdir_remove(&e);
}

/* Item 3: a vocabulary with fewer entries than the model's V is refused, naming both. */
static void test_item3_a_vocabulary_shorter_than_v_is_refused(void **state)
{
    (void)state;
    tmpdir d, e;
    tmpdir_make(&e, "good.safetensors");
    tmpdir_make(&d, "short_vocab.safetensors");
    save_tiny(e.path, "char", NULL, 0);
    copy_replacing(e.path, d.path, NULL, NULL, "tapegrad.vocab", "\nx"); /* 2 chars, V = 7 */
    char *vocab;
    tg_status st = {0};
    lm_model m;
    lm_charvocab v;
    if (lm_load(d.path, &m, "char", &vocab, 0, &st) != TG_OK) fail_msg("%s", st.msg);
    assert_int_equal(lm_charvocab_from_string(&v, vocab, &st), TG_OK);
    assert_int_equal(lm_vocab_fits(d.path, v.size, &m, &st), TG_EFORMAT);
    assert_status_has(&st, TG_EFORMAT, d.path, "tapegrad.vocab has 2 entries", "config.V is 7",
                      NULL);
    assert_int_equal(lm_vocab_fits(d.path, 7, &m, &st), TG_OK);
    lm_charvocab_deinit(&v);
    lm_model_deinit(&m);
    free(vocab);
    tmpdir_remove(&d);
    tmpdir_remove(&e);
}

/* Item 9: a model with a NaN weight loads only when asked (tg_charlm sample and tg_wordlm
 * eval --allow-nonfinite), to inspect a damaged checkpoint; by default it is refused by name. */
static void test_item9_non_finite_weights_load_only_with_allow_nonfinite(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d, "nan.safetensors");
    tg_status st = {0};
    lm_config c = tiny_config();
    lm_model m;
    init_model(&m, &c);
    tg_params_values(m.ps)[3] = NAN;
    if (lm_save(d.path, &m, NULL, "word", "x\n", &st) != TG_OK) fail_msg("lm_save: %s", st.msg);
    lm_model_deinit(&m);
    char *vocab;
    assert_int_equal(lm_load(d.path, &m, "word", &vocab, 0, &st), TG_EFORMAT);
    assert_status_has(&st, TG_EFORMAT, d.path, "non-finite", "TG_CKPT_NONFINITE_OK", NULL);
    assert_null(vocab);
    assert_int_equal(lm_load(d.path, &m, "word", &vocab, TG_CKPT_NONFINITE_OK, &st), TG_OK);
    assert_true(isnan(tg_params_values(m.ps)[3]));
    lm_model_deinit(&m);
    free(vocab);
    tmpdir_remove(&d);
}

/* A model and its trainer loaded from a checkpoint of save_tiny's, over n tokens of tok, for
 * lm_load_training to resume into. */
typedef struct resumed {
    lm_model m;
    lm_trainer tr;
    char *vocab;
} resumed;

static void resumed_open(resumed *r, const char *path, const int32_t *tok, size_t n)
{
    tg_status st = {0};
    if (lm_load(path, &r->m, "word", &r->vocab, 0, &st) != TG_OK) fail_msg("%s", st.msg);
    init_trainer(&r->tr, &r->m, tok, n);
}

static void resumed_close(resumed *r)
{
    lm_trainer_deinit(&r->tr);
    lm_model_deinit(&r->m);
    free(r->vocab);
}

/* Item 9: a stored epoch counter of 2^64 - 1 was accepted and shown as epoch 0 (epoch + 1
 * wrapped); it is refused naming the field, and the largest epoch that can be shown loads. */
static void test_item9_an_epoch_counter_that_wraps_is_refused(void **state)
{
    (void)state;
    tmpdir d, e;
    tmpdir_make(&d, "good.safetensors");
    tmpdir_make(&e, "bad.safetensors");
    int32_t *tok = make_tokens(60, 7, 0);
    save_tiny(d.path, "word", tok, 60);
    const uint64_t last[2] = {UINT64_MAX, UINT64_MAX - 1};
    for (size_t i = 0; i < 2; i++) {
        uint64_t counters[4] = {3, 3, last[i], 0}; /* step, optimizer steps, epoch, offset */
        copy_replacing(d.path, e.path, "train.counters", (const double *)(const void *)counters,
                       NULL, NULL);
        tg_status st = {0};
        resumed r;
        resumed_open(&r, e.path, tok, 60);
        if (i == 0) {
            assert_int_equal(lm_load_training(e.path, &r.tr, &st), TG_EFORMAT);
            assert_status_has(&st, TG_EFORMAT, e.path, "train.counters",
                              "epoch 18446744073709551615", NULL);
        } else {
            if (lm_load_training(e.path, &r.tr, &st) != TG_OK) fail_msg("%s", st.msg);
            assert_true(tg_trainer_epoch(&r.tr) == SIZE_MAX);
        }
        resumed_close(&r);
    }
    free(tok);
    tmpdir_remove(&d);
    tmpdir_remove(&e);
}

/* Item 4: a saved learning rate that is NaN or negative, or a step count an optimizer cannot
 * hold, is refused before anything of the trainer changes. */
static void test_item4_training_state_out_of_range_is_refused_before_anything_changes(void **state)
{
    (void)state;
    tmpdir d, e;
    tmpdir_make(&d, "good.safetensors");
    tmpdir_make(&e, "bad.safetensors");
    int32_t *tok = make_tokens(60, 7, 0);
    save_tiny(d.path, "word", tok, 60);
    const double bad_lr[] = {NAN, -1.0, INFINITY, 1e39}; /* 1e39: infinite as a float */
    for (size_t i = 0; i < 4; i++) {
        copy_replacing(d.path, e.path, "train.lr", &bad_lr[i], NULL, NULL);
        tg_status st = {0};
        resumed r;
        resumed_open(&r, e.path, tok, 60);
        uint64_t rng_before = r.m.rng.s[0];
        assert_int_equal(lm_load_training(e.path, &r.tr, &st), TG_EFORMAT);
        /* NaN and infinity are refused by the reader itself (any F64 array), the others by the
         * training state's own check (nn/trainer_state.c) */
        assert_status_has(
            &st, TG_EFORMAT, e.path, "train.lr",
            isfinite(bad_lr[i]) ? ">= 0 and at most" : "non-finite values are refused", NULL);
        assert_true(r.m.rng.s[0] == rng_before);
        assert_true(tg_optim_lr(r.tr.opt) == 0.01); /* the configured rate, untouched */
        resumed_close(&r);
    }
    free(tok);
    tmpdir_remove(&d);
    tmpdir_remove(&e);
}

/* ---- Configuration errors ------------------------------------------------------------- */

static void assert_init_fails(const lm_config *c, const char *what, const char *detail)
{
    tg_status st = {0};
    lm_model m;
    assert_int_equal(lm_model_init(&m, c, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, what, detail, NULL);
}

static void test_model_init_rejects_bad_configurations(void **state)
{
    (void)state;
    lm_config c = tiny_config();
    c.tied = 1, c.H = 6;
    assert_init_fails(&c, "weight tying", "(E 8, H 6)");
    c = tiny_config();
    c.dropout = 1;
    assert_init_fails(&c, "dropout must be in [0, 1)", "got 1");
    c = tiny_config();
    c.V = 0;
    assert_init_fails(&c, "at least 1", "V 0");
    c = tiny_config();
    c.L = 0;
    assert_init_fails(&c, "at least 1", "layers 0");
    c = tiny_config();
    c.tied = 1, c.E = c.H = 8; /* tying with E == H is fine */
    lm_model m;
    init_model(&m, &c);
    lm_model_deinit(&m);
}

/* ---- Memory --------------------------------------------------------------------------- */

static void test_training_makes_no_heap_allocation_after_the_first_window(void **state)
{
    (void)state;
    lm_config c = tiny_config();
    size_t N = 3 * 121; /* 120 pairs a row: 24 full windows of T 5, no ragged one before 20 */
    int32_t *tok = make_tokens(N, c.V, 0);
    lm_model m;
    lm_trainer tr;
    init_model(&m, &c);
    init_trainer(&tr, &m, tok, N);
    double loss[20];
    tg_tape_stats at2, at20;
    train_windows(&tr, 2, loss);
    tg_tape_get_stats(tr.tape, &at2);
    train_windows(&tr, 18, loss + 2);
    tg_tape_get_stats(tr.tape, &at20);
    assert_int_equal(lm_trainer_epoch(&tr), 1);
    assert_true(at2.heap_allocs > 0);
    if (at20.heap_allocs != at2.heap_allocs)
        fail_msg("tape heap allocations grew from %zu (window 2) to %zu (window 20)",
                 at2.heap_allocs, at20.heap_allocs);
    assert_int_equal(at20.bytes_used, at2.bytes_used);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    free(tok);
}

/* A window whose gradient is not finite takes no step: the trainer says so, naming the step
 * and the norm, and leaves every parameter as it was. */
static void test_a_non_finite_gradient_takes_no_step_and_says_so(void **state)
{
    (void)state;
    lm_config c = tiny_config();
    size_t N = 3 * 121;
    int32_t *tok = make_tokens(N, c.V, 0);
    lm_model m;
    lm_trainer tr;
    init_model(&m, &c);
    init_trainer(&tr, &m, tok, N);
    double loss;
    train_windows(&tr, 1, &loss);
    tg_tensor *w = tg_params_find(m.ps, "decoder.weight");
    assert_non_null(w);
    w->val[0] = (tg_real)INFINITY; /* logits inf - inf: NaN loss and gradients */
    size_t n = tg_params_numel(m.ps);
    tg_real *before = malloc(n * sizeof *before);
    assert_non_null(before);
    memcpy(before, tg_params_values(m.ps), n * sizeof *before);
    tg_status st = {0};
    assert_int_equal(lm_train_window(&tr, &loss, &st), -1);
    assert_status_has(&st, TG_ERANGE, "training step 2", "gradient norm is", "not taken", NULL);
    assert_memory_equal(tg_params_values(m.ps), before, n * sizeof *before);
    free(before);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resumed_training_equals_uninterrupted_training),
        cmocka_unit_test(test_tiny_char_model_overfits_a_short_text),
        cmocka_unit_test(test_sum_over_steps_objective_scales_the_gradient_by_the_window_length),
        cmocka_unit_test(test_sampling_with_a_fixed_seed_is_reproducible),
        cmocka_unit_test(test_zero_temperature_and_top_1_draw_the_argmax),
        cmocka_unit_test(test_top_k_draws_only_among_the_k_largest_logits),
        cmocka_unit_test(test_top_k_counts_tied_scores_and_keeps_nothing_below_them),
        cmocka_unit_test(test_load_rejects_a_truncated_checkpoint),
        cmocka_unit_test(test_load_rejects_a_checkpoint_of_another_kind_naming_both),
        cmocka_unit_test(test_load_rejects_safetensors_without_the_metadata),
        cmocka_unit_test(test_load_rejects_parameters_that_do_not_fit_the_configuration),
        cmocka_unit_test(test_load_training_rejects_another_corpus),
        cmocka_unit_test(test_model_init_rejects_bad_configurations),
        cmocka_unit_test(test_training_makes_no_heap_allocation_after_the_first_window),
        cmocka_unit_test(test_a_non_finite_gradient_takes_no_step_and_says_so),
        cmocka_unit_test(
            test_item1_window_sizes_that_overflow_are_refused_and_huge_ones_cost_nothing),
        cmocka_unit_test(test_item1_a_checkpoint_whose_window_overflows_fails_to_load),
        cmocka_unit_test(test_item3_a_vocabulary_shorter_than_v_is_refused),
        cmocka_unit_test(test_load_names_an_unregistered_cell_type),
        cmocka_unit_test(test_item4_training_state_out_of_range_is_refused_before_anything_changes),
        cmocka_unit_test(test_item9_an_epoch_counter_that_wraps_is_refused),
        cmocka_unit_test(test_item9_non_finite_weights_load_only_with_allow_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
