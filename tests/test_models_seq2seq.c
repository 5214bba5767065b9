/* Encoder-decoder models (models/seq2seq.c): the generated data, the model's errors, small
 * seeded instances trained through the library's trainer to stated accuracies, beam search,
 * a user-registered cell, and the attention picture. */
#include "testutil.h"

#include "docs/examples/mgu.h"
#include "models/seq2seq.h"
#include "models/seq2seq_cmd.h"

#include <stdlib.h>
#include <unistd.h>

static void assert_msg_has(const tg_status *st, const char *part)
{
    if (!strstr(st->msg, part)) fail_msg("message \"%s\" lacks \"%s\"", st->msg, part);
}

static void test_addition_questions_are_distinct_and_answered_correctly(void **s)
{
    (void)s;
    s2s_data d;
    assert_int_equal(s2s_addition_data(&d, 2000, 2, 1, 7, NULL), TG_OK);
    assert_int_equal(d.S, 5);
    assert_int_equal(d.T, 3);
    for (size_t i = 0; i < d.n; i++) {
        char q[8] = {0}, a[8] = {0};
        memcpy(q, d.src + i * d.S, d.S), memcpy(a, d.tgt + i * d.T, d.T);
        unsigned x, y, sum;
        assert_int_equal(sscanf(q, "%u+%u", &x, &y), 2);
        assert_int_equal(sscanf(a, "%u", &sum), 1);
        assert_true(x < 100 && y < 100);
        assert_int_equal(sum, x + y);
        for (size_t j = 0; j < i; j++) assert_false(memcmp(q, d.src + j * d.S, d.S) == 0);
    }
    s2s_data_free(&d);
}

/* The default draws each operand's digit count first, as the well-known question set does: about
 * a third of the operands are one digit wide (below 10); full width makes them rare (1%). */
static void test_addition_operands_draw_their_width_first_unless_full_width(void **s)
{
    (void)s;
    for (int full = 0; full < 2; full++) {
        s2s_data d;
        assert_int_equal(s2s_addition_data(&d, 3000, 3, full, 9, NULL), TG_OK);
        size_t narrow = 0;
        for (size_t i = 0; i < d.n; i++) {
            char q[8] = {0};
            unsigned x, y;
            memcpy(q, d.src + i * d.S, d.S);
            assert_int_equal(sscanf(q, "%u+%u", &x, &y), 2);
            narrow += (x < 10) + (y < 10);
        }
        double share = (double)narrow / (double)(2 * d.n);
        if (full ? !(share < 0.03) : !(share > 0.25 && share < 0.4))
            fail_msg("full_width %d: %.3f of the operands below 10", full, share);
        s2s_data_free(&d);
    }
}

static void test_addition_data_refuses_bad_digits_and_too_many_examples(void **s)
{
    (void)s;
    s2s_data d;
    tg_status st = {0};
    assert_int_equal(s2s_addition_data(&d, 10, 0, 1, 1, &st), TG_EINVAL);
    assert_msg_has(&st, "digits is 0");
    assert_int_equal(s2s_addition_data(&d, 60, 1, 1, 1, &st), TG_EINVAL);
    assert_msg_has(&st, "60 examples asked, but only 100 distinct");
    assert_null(d.src);
}

static int days_in(int y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return n[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

static void test_dates_are_valid_and_their_sources_name_the_day(void **s)
{
    (void)s;
    s2s_data d;
    assert_int_equal(s2s_dates_data(&d, 3000, 3, NULL), TG_OK);
    int formats_seen[4] = {0};
    for (size_t i = 0; i < d.n; i++) {
        char src[32] = {0}, iso[16] = {0};
        memcpy(src, d.src + i * d.S, d.S), memcpy(iso, d.tgt + i * d.T, d.T);
        int y, m, dd;
        assert_int_equal(sscanf(iso, "%4d-%2d-%2d", &y, &m, &dd), 3);
        assert_true(y >= 1970 && y <= 2029 && m >= 1 && m <= 12 && dd >= 1);
        assert_true(dd <= days_in(y, m));
        char yy[8];
        snprintf(yy, sizeof yy, "%02d", y % 100);
        assert_non_null(strstr(src, yy)); /* every format writes the year */
        formats_seen[0] += strstr(src, "/") != NULL;
        formats_seen[1] += strstr(src, ",") != NULL;
        formats_seen[2] += strstr(src, ".") != NULL;
        formats_seen[3] += src[0] >= 'A' && src[0] <= 'Z';
        assert_null(strchr(src, S2S_GO));
    }
    for (int f = 0; f < 4; f++) assert_true(formats_seen[f] > 100);
    s2s_vocab v;
    s2s_vocab_build(&v, &d);
    assert_true(v.id['_'] >= 0 && v.id['S'] >= 0 && v.id['-'] >= 0 && v.id['#'] < 0);
    s2s_data_free(&d);
}

static void test_a_model_without_a_cell_type_or_with_a_wide_source_is_refused(void **s)
{
    (void)s;
    s2s_model m;
    tg_status st = {0};
    s2s_config c = {NULL, 12, 8, 8, 5, 3, 0, 0, 0, 1};
    assert_int_equal(s2s_model_init(&m, &c, &st), TG_EINVAL);
    assert_msg_has(&st, "no cell type");
    c.cell = tg_cell_type_find("gru");
    c.S = S2S_MAX_WIDTH + 1;
    assert_int_equal(s2s_model_init(&m, &c, &st), TG_EINVAL);
    assert_msg_has(&st, "widths S 65");
}

/* Train a model of cell `cell` on n examples of data d (10% held out) for `epochs`; return the
 * held-out exact match of greedy decoding, or of beam search when beam > 1. */
static double train(const s2s_data *d, const char *cell, int reverse, int peeky, int attention,
                    size_t H, size_t epochs, size_t beam, double *greedy)
{
    s2s_vocab v;
    s2s_vocab_build(&v, d);
    s2s_config c = {tg_cell_type_find(cell), v.V, 16, H, d->S, d->T, reverse, peeky, attention, 5};
    assert_non_null(c.cell);
    s2s_model m;
    tg_status st = {0};
    if (s2s_model_init(&m, &c, &st) != TG_OK) fail_msg("%s", st.msg);
    tg_trainer tr;
    tg_trainer_config tc = {0};
    tc.optim = tg_adam_config(0.01);
    tc.clip = 5;
    tc.lr_decay = 1;
    assert_int_equal(tg_trainer_init(&tr, &tc, m.ps, NULL, NULL, NULL, NULL, NULL, 0, &st), TG_OK);
    size_t held = d->n / 10;
    s2s_data test = s2s_data_tail(d, held);
    tg_rng rng;
    tg_rng_seed(&rng, 11);
    double loss = 0, acc = 0;
    for (size_t e = 0; e < epochs; e++)
        if (s2s_train_epoch(&tr, &m, &v, d, d->n - held, 32, &rng, &loss, &st) != TG_OK)
            fail_msg("%s", st.msg);
    if (greedy && s2s_accuracy(&m, &v, &test, 64, 1, greedy, &st) != TG_OK) fail_msg("%s", st.msg);
    if (s2s_accuracy(&m, &v, &test, 64, beam, &acc, &st) != TG_OK) fail_msg("%s", st.msg);
    print_message("%s%s%s%s H %zu, %zu epochs: loss %.4f, held-out exact match %.3f (beam %zu)\n",
                  cell, reverse ? " reversed" : "", peeky ? " peeky" : "",
                  attention ? " attention" : "", H, epochs, loss, acc, beam);
    tg_trainer_deinit(&tr);
    s2s_model_deinit(&m);
    return acc;
}

/* 2-digit addition, 3,000 questions, read reversed by a peeky decoder of cell `cell`. */
static double addition_accuracy(const char *cell)
{
    s2s_data d;
    assert_int_equal(s2s_addition_data(&d, 3000, 2, 1, 1, NULL), TG_OK);
    double acc = train(&d, cell, 1, 1, 0, 64, 12, 1, NULL);
    s2s_data_free(&d);
    return acc;
}

static void test_two_digit_addition_reversed_and_peeky_is_learned(void **s)
{
    (void)s;
    assert_true(addition_accuracy("lstm") >= 0.75); /* 0.873 measured */
}

/* A user's cell type: the GRU's equations registered under another name, found by name. */
static void test_a_user_registered_cell_trains_the_addition_model(void **s)
{
    (void)s;
    static tg_cell_type mine;
    mine = tg_cell_gru;
    mine.name = "my-gru";
    assert_int_equal(tg_cell_type_register(&mine, NULL), TG_OK);
    assert_true(addition_accuracy("my-gru") >= 0.55); /* 0.697 measured */
}

/* The whole program with a user's cell type as its --cell choice: the MGU of
 * docs/examples/mgu.c, registered the way a user's main does before calling s2s_main. */
static void test_the_program_runs_a_user_registered_cell_chosen_on_the_command_line(void **s)
{
    (void)s;
    assert_int_equal(mgu_register(NULL), TG_OK);
    char *argv[] = {"tg_seq2seq", "addition", "--cell",       "mgu",       "--n",     "3000",
                    "--digits",   "2",        "--full-width", "--reverse", "--peeky", "--hidden",
                    "64",         "--epochs", "12",           "--lr",      "0.01",    "--seed",
                    "1"};
    FILE *out = tmpfile();
    assert_non_null(out);
    double acc = -1;
    assert_int_equal(s2s_main_to(out, &acc, (int)(sizeof argv / sizeof *argv), argv), 0);
    char line[256], first[256] = "", last[256] = "";
    rewind(out);
    while (fgets(line, sizeof line, out))
        if (!first[0])
            strcpy(first, line);
        else if (strncmp(line, "epoch ", 6) == 0)
            strcpy(last, line);
    fclose(out);
    print_message("%s%s", first, last);
    assert_non_null(strstr(first, "cell mgu"));
    assert_non_null(strstr(last, "epoch 12 "));
    if (!(acc >= 0.6)) fail_msg("MGU through s2s_main: held-out exact match %g", acc);
}

/* A negative rate or clip makes no sense: the command line refuses it before training. */
static void test_the_program_refuses_a_negative_learning_rate(void **s)
{
    (void)s;
    char *argv[] = {"tg_seq2seq", "addition", "--lr", "-0.01"};
    double acc = -1;
    FILE *err = tmpfile();
    assert_non_null(err);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0 && dup2(fileno(err), 2) == 2);
    int status = s2s_main_to(stdout, &acc, 4, argv);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    char msg[256] = "";
    rewind(err);
    assert_non_null(fgets(msg, sizeof msg, err));
    fclose(err);
    assert_int_equal(status, 2);
    assert_true(acc == -1);
    if (!strstr(msg, "--lr") || !strstr(msg, "-0.01") || !strstr(msg, ">= 0"))
        fail_msg("message \"%s\" does not name the option, its value and the bound", msg);
}

static void test_dates_with_attention_are_translated_and_beam_search_agrees(void **s)
{
    (void)s;
    s2s_data d;
    assert_int_equal(s2s_dates_data(&d, 2000, 2, NULL), TG_OK);
    double greedy = 0;
    double beam = train(&d, "lstm", 0, 0, 1, 64, 16, 3, &greedy);
    print_message("greedy: held-out exact match %.3f\n", greedy);
    assert_true(greedy >= 0.85);
    assert_true(beam >= 0.85);
    assert_true(beam >= greedy - 0.05);
    s2s_data_free(&d);
}

static void test_attention_weights_sum_to_one_and_draw_as_svg(void **s)
{
    (void)s;
    s2s_data d;
    assert_int_equal(s2s_dates_data(&d, 100, 4, NULL), TG_OK);
    s2s_vocab v;
    s2s_vocab_build(&v, &d);
    s2s_config c = {tg_cell_type_find("gru"), v.V, 8, 8, d.S, d.T, 0, 0, 1, 3};
    s2s_model m;
    tg_status st = {0};
    assert_int_equal(s2s_model_init(&m, &c, &st), TG_OK);
    s2s_batch b;
    size_t idx[2] = {0, 1};
    assert_int_equal(s2s_batch_init(&b, &m, 2, NULL), TG_OK);
    assert_int_equal(s2s_batch_fill(&b, &v, &d, idx, 2, NULL), TG_OK);
    tg_tape *t = tg_tape_new();
    int32_t out[2 * 10];
    double w[2 * 10 * 18];
    assert_int_equal(s2s_decode(t, &b, 1, out, w, NULL), TG_OK);
    for (size_t r = 0; r < 2 * 10; r++) {
        double sum = 0;
        for (size_t j = 0; j < 18; j++) sum += w[r * 18 + j];
        assert_true(fabs(sum - 1) < 1e-5);
    }
    const char *src[2] = {d.src, d.src + d.S}, *dec[2] = {d.tgt, d.tgt + d.T};
    const char *path = "test_models_seq2seq_attention.svg";
    assert_int_equal(s2s_attention_svg(path, 2, src, dec, w, d.S, d.T, &st), TG_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char head[64] = {0};
    assert_true(fread(head, 1, sizeof head - 1, f) > 0);
    fclose(f);
    remove(path);
    assert_non_null(strstr(head, "<svg"));
    assert_int_equal(s2s_attention_svg("no-such-dir/x.svg", 2, src, dec, w, d.S, d.T, &st), TG_EIO);
    assert_msg_has(&st, "cannot write no-such-dir/x.svg");
    assert_int_equal(s2s_decode(t, &b, S2S_MAX_BEAM + 1, out, NULL, &st), TG_EINVAL);
    assert_msg_has(&st, "beam 17");
    tg_tape_free(t);
    s2s_batch_deinit(&b);
    s2s_model_deinit(&m);
    s2s_data_free(&d);
}

static void test_a_character_outside_the_vocabulary_is_named(void **s)
{
    (void)s;
    s2s_data d;
    assert_int_equal(s2s_addition_data(&d, 20, 1, 1, 1, NULL), TG_OK);
    s2s_vocab v;
    s2s_vocab_build(&v, &d);
    s2s_config c = {tg_cell_type_find("rnn"), v.V, 4, 4, d.S, d.T, 0, 0, 0, 3};
    s2s_model m;
    assert_int_equal(s2s_model_init(&m, &c, NULL), TG_OK);
    s2s_batch b;
    assert_int_equal(s2s_batch_init(&b, &m, 4, NULL), TG_OK);
    d.src[2 * d.S] = '#';
    size_t idx[2] = {1, 2};
    tg_status st = {0};
    assert_int_equal(s2s_batch_fill(&b, &v, &d, idx, 2, &st), TG_EINVAL);
    assert_msg_has(&st, "character 0x23 of example 2");
    s2s_batch_deinit(&b);
    s2s_model_deinit(&m);
    s2s_data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addition_questions_are_distinct_and_answered_correctly),
        cmocka_unit_test(test_addition_operands_draw_their_width_first_unless_full_width),
        cmocka_unit_test(test_addition_data_refuses_bad_digits_and_too_many_examples),
        cmocka_unit_test(test_dates_are_valid_and_their_sources_name_the_day),
        cmocka_unit_test(test_a_model_without_a_cell_type_or_with_a_wide_source_is_refused),
        cmocka_unit_test(test_two_digit_addition_reversed_and_peeky_is_learned),
        cmocka_unit_test(test_a_user_registered_cell_trains_the_addition_model),
        cmocka_unit_test(test_the_program_runs_a_user_registered_cell_chosen_on_the_command_line),
        cmocka_unit_test(test_the_program_refuses_a_negative_learning_rate),
        cmocka_unit_test(test_dates_with_attention_are_translated_and_beam_search_agrees),
        cmocka_unit_test(test_attention_weights_sum_to_one_and_draw_as_svg),
        cmocka_unit_test(test_a_character_outside_the_vocabulary_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
