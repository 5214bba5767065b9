/* test_models_cli.c: the option parser and the progress lines of the language-model programs
 * (models/cli.c). */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include "testutil.h"

#include "models/cli.h"
#include "models/text.h"

/* Parse one "--name value" against a table of a number, a size and a count. */
static int parse1(const char *name, const char *value, tg_status *st)
{
    double d = 1;
    size_t z = 1, npos;
    uint64_t u = 1;
    int help;
    char *pos[1];
    const lm_opt opts[] = {
        {"temperature", 'd', &d, ""}, {"threads", 'z', &z, ""}, {"steps", 'u', &u, ""}};
    char *argv[] = {(char *)name, (char *)value};
    return lm_parse(2, argv, opts, 3, pos, 1, &npos, &help, st);
}

/* Item 9: --temperature nan and --time-limit nan were accepted (NaN passes every comparison
 * that would have bounded it); a number must be finite, a count a plain whole number. */
static void test_item9_non_finite_numbers_and_signed_counts_are_refused(void **s)
{
    (void)s;
    tg_status st = {0};
    static const char *const bad[][2] = {
        {"--temperature", "nan"},  {"--temperature", "inf"},
        {"--temperature", "-inf"}, {"--temperature", "1e999"},
        {"--threads", "-1"},       {"--threads", " 2"},
        {"--threads", "+2"},       {"--steps", "18446744073709551616"},
        {"--steps", "2x"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_status_clear(&st);
        if (parse1(bad[i][0], bad[i][1], &st) != TG_EINVAL)
            fail_msg("%s %s was accepted", bad[i][0], bad[i][1]);
        if (!strstr(st.msg, bad[i][0] + 2)) fail_msg("message \"%s\"", st.msg);
    }
    assert_int_equal(parse1("--temperature", "0.7", &st), 0);
    assert_int_equal(parse1("--threads", "2", &st), 0);
}

/* Item 9: --threads 4294967295 was taken (and cast to int), --time-limit -1 meant "no limit"
 * by accident; a thread count is bounded, a limit, rate or time is a finite number >= 0. */
static void test_item9_thread_counts_and_limits_out_of_range_are_refused(void **s)
{
    (void)s;
    size_t threads = 0;
    double limit = 0, bias = 0;
    const lm_opt opts[] = {{"threads", 'n', &threads, ""},
                           {"time-limit", 'p', &limit, ""},
                           {"forget-bias", 'd', &bias, ""}};
    static const char *const bad[][3] = {
        {"--threads", "4294967295", "thread count (0 to 1024)"},
        {"--threads", "1025", "thread count"},
        {"--threads", "18446744073709551615", "thread count"},
        {"--time-limit", "-1", "finite number >= 0"},
        {"--time-limit", "nan", "finite number >= 0"},
        {"--time-limit", "inf", "finite number >= 0"},
        {"--time-limit", "-0.5", "finite number >= 0"},
    };
    char *pos[1];
    size_t npos;
    int help;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {(char *)bad[i][0], (char *)bad[i][1]};
        tg_status st = {0};
        assert_int_equal(lm_parse(2, argv, opts, 3, pos, 1, &npos, &help, &st), TG_EINVAL);
        assert_status_has(&st, TG_EINVAL, bad[i][0], bad[i][1], bad[i][2], NULL);
    }
    char *good[] = {"--threads", "1024", "--time-limit", "0", "--forget-bias", "-1"};
    assert_int_equal(lm_parse(6, good, opts, 3, pos, 1, &npos, &help, NULL), TG_OK);
    assert_int_equal(threads, 1024);
    assert_true(limit == 0 && bias == -1); /* a bias may be negative: kind 'd' */
}

/* Issue 11: a progress line shows the last window's loss, perplexity, gradient norm and how many
 * of the windows since the previous line were clipped. */
static void test_progress_line_shows_perplexity_gradient_norm_and_clipping(void **s)
{
    (void)s;
    lm_trainer tr = {.step = 100, .clipped = 40};
    lm_progress p;
    lm_progress_init(&p, &tr);
    char buf[512] = "";
    p.out = fmemopen(buf, sizeof buf, "w");
    assert_non_null(p.out);
    p.tty = 0;
    tr.step = 150, tr.clipped = 52, tr.last_norm = 7.25;
    lm_progress_show(&p, &tr, 150, 1000, 1.0, "bpc", 1 / log(2.0), 4096, 0);
    tr.step = 160, tr.clipped = 53, tr.last_norm = 0.5;
    lm_progress_show(&p, &tr, 160, 1000, log(90.0), NULL, 0, 8192, 0);
    fclose(p.out);
    char *line2 = strchr(buf, '\n');
    assert_non_null(line2);
    *line2++ = '\0';
    const char *want1 = "step 150/1000  loss 1.0000  bpc 1.4427  ppl 2.72  grad norm 7.25  "
                        "clipped 12 of 50  ",
               *want2 = "step 160/1000  loss 4.4998  ppl 90.00  grad norm 0.5  clipped 1 of 10  ";
    if (strncmp(buf, want1, strlen(want1)) != 0) fail_msg("line 1: %s", buf);
    if (strncmp(line2, want2, strlen(want2)) != 0) fail_msg("line 2: %s", line2);
}

/* A subcommand's command line: -1 to go on with the positionals in place, else the exit
 * status: 1 for a bad option, 0 for --help, 2 for another count of positionals. */
static void test_a_subcommand_line_parses_or_gives_the_exit_status(void **s)
{
    (void)s;
    size_t top = 3;
    const lm_opt opts[] = {{"top", 'z', &top, "how many"}};
    char *pos[2];
    char a0[] = "CKPT", a1[] = "TEXT", a2[] = "--top", a3[] = "5", bad[] = "--bottom",
         help[] = "--help";
    char *ok[] = {a0, a2, a3, a1}, *unknown[] = {a0, bad, a1}, *asked[] = {help}, *one[] = {a0};
    assert_int_equal(lm_parse_command("prog", 4, ok, opts, 1, pos, 2, "usage: prog\n"), -1);
    assert_string_equal(pos[0], "CKPT");
    assert_string_equal(pos[1], "TEXT");
    assert_int_equal(top, 5);
    assert_int_equal(lm_parse_command("prog", 3, unknown, opts, 1, pos, 2, "usage: prog\n"), 1);
    assert_int_equal(lm_parse_command("prog", 1, asked, opts, 1, pos, 2, "usage: prog\n"), 0);
    assert_int_equal(lm_parse_command("prog", 1, one, opts, 1, pos, 2, "usage: prog\n"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item9_non_finite_numbers_and_signed_counts_are_refused),
        cmocka_unit_test(test_progress_line_shows_perplexity_gradient_norm_and_clipping),
        cmocka_unit_test(test_item9_thread_counts_and_limits_out_of_range_are_refused),
        cmocka_unit_test(test_a_subcommand_line_parses_or_gives_the_exit_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
