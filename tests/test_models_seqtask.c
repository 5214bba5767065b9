/* test_models_seqtask.c: the sequence tasks (models/seqtask.c, seqtask_caption.c) train small
 * seeded instances to stated thresholds in seconds (the adding problem, parity, the copy task,
 * balanced brackets, captions from attribute vectors), a user's registered cell type (the MGU of
 * docs/examples/mgu.c) trains through the same call, and bad configurations fail with messages
 * that say what is wrong. Float build only. */
#include "testutil.h"

#include "docs/examples/mgu.h"
#include "models/seqtask.h"

/* Dimension letters as in seqtask.h: T length, S symbols, H hidden, B rows. Steps are about
 * twice what each instance needed when written (adding: MSE 0.027 at 300 steps; parity: 100%
 * at 150; copy: loss 0.45 of the memoryless one, 63% recalled at 1500). */
#define ADD_STEPS     600
#define PAR_STEPS     400
#define COPY_STEPS    1500
#define MGU_STEPS     400
#define CAPTION_STEPS 1000
#define SEEDS         5   /* seeds 7 to 11, where one seed's held-out result is a draw (below) */
#define BRACKET_STEPS 400 /* 98.8% at 100 steps, 100% from 200 on */

static seqtask_result train_ok(const seqtask_config *c)
{
    seqtask_result r;
    tg_status st = {0};
    if (seqtask_train(c, &r, NULL, &st) != TG_OK) fail_msg("%s", st.msg);
    assert_int_equal(r.steps, c->steps);
    return r;
}

static seqtask_config small(const char *task, const char *cell, size_t T, size_t steps)
{
    seqtask_config c = seqtask_defaults();
    c.task = task, c.cell = cell, c.T = T, c.steps = steps;
    c.hidden = 16, c.B = 16, c.eval_n = 256, c.lr = 1e-2, c.seed = 7;
    return c;
}

static void test_an_lstm_solves_the_adding_problem_at_t_10(void **s)
{
    (void)s;
    seqtask_config c = small("adding", "lstm", 10, ADD_STEPS);
    seqtask_result r = train_ok(&c);
    assert_true(r.baseline > 0.166 && r.baseline < 0.167);
    assert_true(r.accuracy == -1);
    if (!(r.loss < 0.05)) fail_msg("held-out MSE %g, not below 0.05", r.loss);
}

static void test_a_gru_learns_the_parity_of_six_bits(void **s)
{
    (void)s;
    seqtask_config c = small("parity", "gru", 6, PAR_STEPS);
    seqtask_result r = train_ok(&c);
    assert_true(fabs(r.baseline - log(2.0)) < 1e-12);
    if (!(r.accuracy >= 0.95)) fail_msg("held-out accuracy %g, not 95%%", r.accuracy);
}

static void test_an_lstm_tells_balanced_brackets_of_length_16(void **s)
{
    (void)s;
    seqtask_config c = small("brackets", "lstm", 16, BRACKET_STEPS);
    seqtask_result r = train_ok(&c);
    assert_true(fabs(r.baseline - log(2.0)) < 1e-12);
    if (!(r.accuracy >= 0.95)) fail_msg("brackets of 16: held-out accuracy %g", r.accuracy);
}

/* The copy task's held-out loss depends on the seed too: over seeds 1 to 12 at this size it was
 * 0.11-0.60 of the memoryless loss, recalling 48-93% of the symbols (2026-12-03), and seed 4
 * missed 0.6. So most of seeds 7 to 11 must get below 0.6 of it and recall more than 45% (chance
 * recalls 1/8), and every one below 0.8. */
static void test_an_lstm_recalls_symbols_after_a_blank_better_than_memoryless(void **s)
{
    (void)s;
    seqtask_config c = small("copy", "lstm", 5, COPY_STEPS);
    c.S = 3, c.hidden = 32;
    int good = 0;
    for (int k = 0; k < SEEDS; k++) {
        c.seed = 7 + (uint64_t)k;
        seqtask_result r = train_ok(&c);
        assert_true(fabs(r.baseline - 3 * log(8.0) / 11) < 1e-12);
        print_message("copy, seed %d: loss %g (memoryless %g), accuracy %g\n", 7 + k, r.loss,
                      r.baseline, r.accuracy);
        if (!(r.loss < 0.8 * r.baseline))
            fail_msg("copy, seed %d: loss %g, memoryless %g", 7 + k, r.loss, r.baseline);
        good += r.loss < 0.6 * r.baseline && r.accuracy > 0.45;
    }
    if (!(2 * good > SEEDS))
        fail_msg("copy: %d of %d seeds below 0.6 of the memoryless loss recalling 45%%", good,
                 SEEDS);
}

static void test_a_users_registered_cell_trains_through_the_same_call(void **s)
{
    (void)s;
    assert_int_equal(mgu_register(NULL), TG_OK);
    seqtask_config c = small("parity", "mgu", 4, MGU_STEPS);
    seqtask_result r = train_ok(&c);
    if (!(r.accuracy >= 0.9)) fail_msg("MGU parity of 4 bits: accuracy %g", r.accuracy);
}

/* Which of the 32 held-out combinations a small model gets right depends on its seed, and so on
 * any change of rounding in training: over seeds 1 to 18 at this size, before and after one
 * such change (softmax-xent's gradient, 2026-12-03), exact match ranged 0.66-1 (median 0.97)
 * and token accuracy 0.94-1. One seed's result is a draw from that spread, so the test asks it
 * of several: most seeds caption at least 85% of the held-out combinations exactly, and every
 * seed gets at least 90% of their words. */
static void test_an_lstm_captions_held_out_attribute_combinations_greedily(void **s)
{
    (void)s;
    seqtask_config c = small("caption", "lstm", 10, CAPTION_STEPS);
    c.hidden = 32, c.B = 32;
    seqtask_result r;
    tg_status st = {0};
    int good = 0;
    for (int k = 0; k < SEEDS; k++) {
        c.seed = 7 + (uint64_t)k;
        if (seqtask_caption(&c, &r, NULL, &st) != TG_OK) fail_msg("%s", st.msg);
        assert_true(fabs(r.baseline - (log(3.0) + 3 * log(4.0)) / 7) < 1e-12);
        print_message("caption, seed %d: exact %g, tokens %g, loss %g\n", 7 + k, r.accuracy,
                      r.token_accuracy, r.loss);
        if (!(r.token_accuracy >= 0.9))
            fail_msg("caption, seed %d: tokens %g", 7 + k, r.token_accuracy);
        good += r.accuracy >= 0.85 && r.token_accuracy >= 0.95;
    }
    if (!(2 * good > SEEDS))
        fail_msg("caption: %d of %d seeds reach 85%% exact and 95%% of tokens", good, SEEDS);
    c.cell = "peephole";
    assert_int_equal(seqtask_caption(&c, &r, NULL, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "unknown cell type \"peephole\""));
}

/* --forget-bias reaches the LSTM's cells: untrained, the held-out loss moves with it; trained, an
 * LSTM started at forget bias 1 solves the adding problem at T = 10 as the default one does;
 * another type is refused by name. */
static void test_a_forget_bias_starts_the_lstm_and_is_refused_for_a_gru(void **s)
{
    (void)s;
    seqtask_config c = small("adding", "lstm", 10, 0);
    seqtask_result r0 = train_ok(&c);
    c.forget_bias = 3;
    seqtask_result r3 = train_ok(&c);
    assert_true(r0.loss != r3.loss);
    c.forget_bias = 1, c.steps = ADD_STEPS;
    seqtask_result r = train_ok(&c);
    if (!(r.loss < 0.05)) fail_msg("forget bias 1: held-out MSE %g, not below 0.05", r.loss);
    c.cell = "gru", c.steps = 1;
    tg_status st = {0};
    assert_int_equal(seqtask_train(&c, &r, NULL, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "tg_lstm_set_forget_bias: the cell is gru"));
}

/* The caption task reads --forget-bias too (it was ignored): one step from forget bias 3 gives
 * another held-out loss than from the default init, and a GRU decoder is refused by name. */
static void test_the_caption_task_takes_the_forget_bias(void **s)
{
    (void)s;
    seqtask_config c = small("caption", "lstm", 10, 1);
    seqtask_result r0, r3;
    tg_status st = {0};
    if (seqtask_caption(&c, &r0, NULL, &st) != TG_OK) fail_msg("%s", st.msg);
    c.forget_bias = 3;
    if (seqtask_caption(&c, &r3, NULL, &st) != TG_OK) fail_msg("%s", st.msg);
    assert_true(r0.loss != r3.loss);
    c.cell = "gru";
    assert_int_equal(seqtask_caption(&c, &r3, NULL, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_lstm_set_forget_bias: the cell is gru", NULL);
}

static void test_an_untrained_model_is_near_chance_on_parity(void **s)
{
    (void)s;
    seqtask_config c = small("parity", "rnn", 8, 0);
    seqtask_result r = train_ok(&c);
    assert_true(r.accuracy > 0.35 && r.accuracy < 0.65);
    assert_true(fabs(r.loss - log(2.0)) < 0.2);
}

static void test_an_unknown_task_cell_or_size_is_refused_by_name(void **s)
{
    (void)s;
    seqtask_result r;
    tg_status st = {0};
    seqtask_config c = small("sorting", "lstm", 10, 1);
    assert_int_equal(seqtask_train(&c, &r, NULL, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "unknown task \"sorting\""));
    c = small("adding", "peephole", 10, 1);
    assert_int_equal(seqtask_train(&c, &r, NULL, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "unknown cell type \"peephole\""));
    c = small("adding", "lstm", 1, 1);
    assert_int_equal(seqtask_train(&c, &r, NULL, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "T 1"));
    c = small("adding", "lstm", 10, 1);
    c.lr = 0;
    assert_int_equal(seqtask_train(&c, &r, NULL, NULL), TG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_lstm_solves_the_adding_problem_at_t_10),
        cmocka_unit_test(test_a_gru_learns_the_parity_of_six_bits),
        cmocka_unit_test(test_an_lstm_tells_balanced_brackets_of_length_16),
        cmocka_unit_test(test_an_lstm_recalls_symbols_after_a_blank_better_than_memoryless),
        cmocka_unit_test(test_a_users_registered_cell_trains_through_the_same_call),
        cmocka_unit_test(test_an_lstm_captions_held_out_attribute_combinations_greedily),
        cmocka_unit_test(test_a_forget_bias_starts_the_lstm_and_is_refused_for_a_gru),
        cmocka_unit_test(test_the_caption_task_takes_the_forget_bias),
        cmocka_unit_test(test_an_untrained_model_is_near_chance_on_parity),
        cmocka_unit_test(test_an_unknown_task_cell_or_size_is_refused_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
