/* test_models_charviz.c: the hidden-state visualiser: pattern indicators on small strings,
 * Pearson's r on known vectors, ranking, HTML escaping and colours, and a recording on a small
 * fresh model checked against the sampler's carried state after every feed. Float build only
 * (the language model is built in float). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>

#include "testutil.h"

#include "models/charviz.h"

/* |a - b| <= tol, in double (cmocka's assert_float_equal rounds to float). */
#define assert_near(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s is %.17g, want %.17g", #a, a_, b_);            \
    } while (0)

/* The code points of the UTF-8 string s (malloc'd), *n of them. */
static uint32_t *decode(const char *s, size_t *n)
{
    tg_status st = {0};
    uint32_t *cps;
    if (lm_utf8_decode("s", s, strlen(s), &cps, n, &st) != TG_OK) fail_msg("%s", st.msg);
    return cps;
}

/* The indicator of pattern p over s equals want[0..strlen-in-characters). */
static void check_indicator(lm_pattern p, const char *s, const double *want)
{
    size_t n;
    uint32_t *text = decode(s, &n);
    double *ind = malloc(n * sizeof *ind);
    lm_pattern_indicator(p, text, n, ind);
    for (size_t i = 0; i < n; i++)
        if (ind[i] != want[i])
            fail_msg("%s over \"%s\": character %zu is %g, want %g", lm_pattern_name(p), s, i,
                     ind[i], want[i]);
    free(ind);
    free(text);
}

static void test_pattern_names_parse_and_unknown_is_rejected(void **state)
{
    (void)state;
    for (int p = 0; p < LM_PAT_COUNT; p++)
        assert_int_equal(lm_pattern_parse(lm_pattern_name((lm_pattern)p)), p);
    assert_int_equal(lm_pattern_parse("line-start"), LM_PAT_LINE_START);
    assert_int_equal(lm_pattern_parse("Quotes"), -1);
    assert_int_equal(lm_pattern_parse(""), -1);
}

static void test_quotes_indicator_opens_on_the_quote_and_closes_after_it(void **state)
{
    (void)state;
    /* a "bc" d */
    check_indicator(LM_PAT_QUOTES, "a\"bc\"d", (const double[]){0, 1, 1, 1, 0, 0});
    /* curly quotes open and close; an unclosed ASCII quote runs to the end */
    check_indicator(LM_PAT_QUOTES, "\xE2\x80\x9Cx\xE2\x80\x9Dy\"z",
                    (const double[]){1, 1, 0, 0, 1, 1});
}

static void test_parens_indicator_counts_nesting_and_ignores_a_stray_close(void **state)
{
    (void)state;
    check_indicator(LM_PAT_PARENS, ")a(b(c)d)e", (const double[]){0, 0, 1, 1, 1, 1, 1, 1, 0, 0});
}

static void test_line_start_indicator_is_the_column_over_the_longest(void **state)
{
    (void)state;
    /* "abcd\n" has columns 0..4 (the newline ends its line); "x\n" 0, 1; "yz" 0, 1 */
    check_indicator(LM_PAT_LINE_START, "abcd\nx\nyz",
                    (const double[]){0, 0.25, 0.5, 0.75, 1, 0, 0.25, 0, 0.25});
    check_indicator(LM_PAT_LINE_START, "\n\n", (const double[]){0, 0});
}

static void test_upper_indicator_marks_all_capital_words_of_two_letters_or_more(void **state)
{
    (void)state;
    /* "KING: I Am OK, xY ROMEO" */
    const char *s = "KING: I Am OK, xY ROMEO";
    const double want[] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    check_indicator(LM_PAT_UPPER, s, want);
    check_indicator(LM_PAT_UPPER, "AB'CD", (const double[]){1, 1, 0, 1, 1});
}

static void test_vowel_and_space_indicators(void **state)
{
    (void)state;
    check_indicator(LM_PAT_VOWEL, "AeIoUy b\xC3\xA9", (const double[]){1, 1, 1, 1, 1, 0, 0, 0, 0});
    check_indicator(LM_PAT_SPACE, "a b\tc\nd\r\xC2\xA0",
                    (const double[]){0, 1, 0, 1, 0, 1, 0, 1, 0});
}

static void test_pearson_matches_known_vectors(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4, 5};
    const float up[] = {2, 4, 6, 8, 10}, down[] = {5, 4, 3, 2, 1}, flat[] = {3, 3, 3, 3, 3};
    assert_near(lm_pearson(x, up, 1, 5), 1.0, 1e-12);
    assert_near(lm_pearson(x, down, 1, 5), -1.0, 1e-12);
    assert_near(lm_pearson(x, flat, 1, 5), 0.0, 0);
    assert_near(lm_pearson(x, up, 1, 1), 0.0, 0);
    /* x = 1..5, y = 2 1 4 3 5: Σdxdy = 8, Σdx² = Σdy² = 10, r = 0.8; read with stride 2 */
    const float strided[] = {2, -9, 1, -9, 4, -9, 3, -9, 5, -9};
    assert_near(lm_pearson(x, strided, 2, 5), 0.8, 1e-12);
    /* an indicator: x = 0 0 1 1, y = 1 2 3 6: r = 5 / sqrt(1 · 14) */
    const double ind[] = {0, 0, 1, 1};
    const float y[] = {1, 2, 3, 6};
    assert_near(lm_pearson(ind, y, 1, 4), 3.0 / sqrt(14.0), 1e-12);
}

static void test_top_units_rank_by_score_or_magnitude_ties_to_the_lower(void **state)
{
    (void)state;
    const double score[] = {0.1, -0.9, 0.5, 0.5, 0.7};
    size_t top[5];
    assert_int_equal(lm_top_units(score, 5, 1, 3, top), 3);
    assert_int_equal(top[0], 1);
    assert_int_equal(top[1], 4);
    assert_int_equal(top[2], 2);
    assert_int_equal(lm_top_units(score, 5, 0, 9, top), 5);
    const size_t want[] = {4, 2, 3, 0, 1};
    for (size_t j = 0; j < 5; j++) assert_int_equal(top[j], want[j]);
}

static void test_html_char_escapes_markup_and_keeps_line_breaks(void **state)
{
    (void)state;
    char buf[8];
    assert_string_equal(lm_html_char('<', buf), "&lt;");
    assert_string_equal(lm_html_char('>', buf), "&gt;");
    assert_string_equal(lm_html_char('&', buf), "&amp;");
    assert_string_equal(lm_html_char('"', buf), "&quot;");
    assert_string_equal(lm_html_char('\'', buf), "&#39;");
    assert_string_equal(lm_html_char('\n', buf), "\xE2\x86\xB5\n"); /* a ↵, then the break */
    assert_string_equal(lm_html_char('a', buf), "a");
    assert_string_equal(lm_html_char(0xE9, buf), "\xC3\xA9");
    assert_string_equal(lm_html_char(0x1F600, buf), "\xF0\x9F\x98\x80");
    assert_string_equal(lm_html_char('\r', buf), "\xE2\x90\x8D"); /* U+240D */
}

static void test_colour_is_white_at_zero_red_positive_blue_negative(void **state)
{
    (void)state;
    char c[8];
    lm_charviz_colour(0, 1, c);
    assert_string_equal(c, "#ffffff");
    lm_charviz_colour(1, 1, c);
    assert_string_equal(c, "#d62728");
    lm_charviz_colour(-3, 2, c); /* clamped at full colour */
    assert_string_equal(c, "#1f77b4");
    lm_charviz_colour(0.5, 1, c); /* halfway: 255 + (214 - 255) / 2 = 234.5 -> 235 */
    assert_string_equal(c, "#eb9394");
}

/* A fresh 2-layer LSTM over the vocabulary of "abc <>&\"\n", small sizes. */
static void tiny_model(lm_model *m, lm_charvocab *v)
{
    tg_status st = {0};
    size_t n;
    uint32_t *text = decode("abc <>&\"\n", &n);
    if (lm_charvocab_build(v, text, n, &st) != TG_OK) fail_msg("%s", st.msg);
    free(text);
    lm_config c = lm_default_config();
    c.V = v->size;
    c.E = 4;
    c.H = 5;
    c.L = 2;
    c.T = 4;
    c.B = 1;
    c.init = 0.8; /* large weights, so units differ visibly */
    if (lm_model_init(m, &c, &st) != TG_OK) fail_msg("%s", st.msg);
}

static void test_record_equals_the_samplers_state_after_every_feed(void **state)
{
    (void)state;
    lm_model m;
    lm_charvocab v;
    tiny_model(&m, &v);
    size_t n;
    uint32_t *text = decode("ab\xC3\xA9 c<a>\n\"bb\"&zc", &n); /* é and z are not known */
    tg_status st = {0};
    for (size_t layer = 0; layer < 2; layer++) {
        lm_charviz cv;
        if (lm_charviz_record(&cv, &m, &v, text, n, layer, 0, &st) != TG_OK) fail_msg("%s", st.msg);
        assert_int_equal(cv.n, n - 2);
        assert_int_equal(cv.skipped, 2);
        assert_int_equal(cv.H, 5);
        assert_int_equal(cv.text[2], ' ');
        lm_sampler s;
        assert_int_equal(lm_sampler_init(&s, &m, &st), TG_OK);
        for (size_t i = 0; i < cv.n; i++) {
            assert_int_equal(lm_sampler_feed(&s, lm_charvocab_id(&v, cv.text[i]), &st), TG_OK);
            for (size_t u = 0; u < 5; u++)
                assert_true(cv.act[i * 5 + u] == (float)s.carry.v[0][layer * 5 + u]);
        }
        double var[5];
        lm_charviz_variance(&cv, var);
        for (size_t u = 0; u < 5; u++) assert_true(var[u] > 0); /* the units do move */
        lm_sampler_deinit(&s);
        lm_charviz_deinit(&cv);
    }
    free(text);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
}

static void test_record_rejects_a_layer_past_the_last_and_an_unknown_text(void **state)
{
    (void)state;
    lm_model m;
    lm_charvocab v;
    tiny_model(&m, &v);
    const uint32_t text[] = {'a', 'b'}, alien[] = {'x', 'y'};
    tg_status st = {0};
    lm_charviz cv;
    assert_int_equal(lm_charviz_record(&cv, &m, &v, text, 2, 2, 0, &st), TG_ERANGE);
    assert_string_equal(st.msg, "layer 2 is out of range: the model has 2 layers (0..1)");
    assert_null(cv.act);
    assert_int_equal(lm_charviz_record(&cv, &m, &v, alien, 2, 0, 0, &st), TG_EINVAL);
    assert_string_equal(st.msg,
                        "none of the 2 characters of the text is in the model's vocabulary");
    lm_charviz_deinit(&cv);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
}

/* The page of a recording, read back as one string. */
static char *page_of(const lm_charviz *cv, const lm_charviz_section *sec, size_t nsec,
                     const char *lang)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(lm_charviz_write_html(f, cv, sec, nsec, "t<1>", "n&b", lang), TG_OK);
    long len = ftell(f);
    rewind(f);
    char *s = malloc((size_t)len + 1);
    assert_int_equal(fread(s, 1, (size_t)len, f), (size_t)len);
    s[len] = '\0';
    fclose(f);
    return s;
}

static void test_page_escapes_the_text_keeps_breaks_and_titles_each_value(void **state)
{
    (void)state;
    lm_model m;
    lm_charvocab v;
    tiny_model(&m, &v);
    size_t n;
    uint32_t *text = decode("a<b>&\"c\"\nb", &n);
    char want[96];
    tg_status st = {0};
    lm_charviz cv;
    if (lm_charviz_record(&cv, &m, &v, text, n, 1, 0, &st) != TG_OK) fail_msg("%s", st.msg);
    lm_charviz_section sec[2] = {{3, "unit 3, r = 0.50", NULL}, {0, "<unit 0>", &cv}};
    char *page = page_of(&cv, sec, 2, "de-CH");
    assert_non_null(strstr(page, "<!DOCTYPE html>\n<html lang=\"de-CH\">"));
    assert_non_null(strstr(page, "<title>t&lt;1&gt;</title>"));
    assert_non_null(strstr(page, "n&amp;b"));
    assert_non_null(strstr(page, "<h2>unit 3, r = 0.50</h2>"));
    assert_non_null(strstr(page, "<h2>&lt;unit 0&gt;</h2>"));
    assert_non_null(strstr(page, "white-space: pre-wrap"));
    assert_null(strstr(page, "<b>")); /* no character of the text became markup */
    assert_non_null(strstr(page, ">&lt;</span>"));
    assert_non_null(strstr(page, ">&amp;</span>"));
    assert_non_null(strstr(page, ">&quot;</span>"));
    assert_non_null(strstr(page, ">\xE2\x86\xB5</span>\n")); /* the line break, after the ↵ */
    char c[8];
    double a = cv.act[0 * cv.H + 3]; /* the first character, 'a', in unit 3's block */
    lm_charviz_colour(a, 1, c);
    snprintf(want, sizeof want, "<span style=\"background:%s\" title=\"%.3f\">a</span>", c, a);
    assert_non_null(strstr(page, want));
    /* one span per character per section */
    size_t spans = 0;
    for (const char *p = page; (p = strstr(p, "title=\"")); p++) spans++;
    assert_int_equal(spans, 2 * n);
    free(page);
    free(text);
    lm_charviz_deinit(&cv);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
}

/* Issue 11: every state of every layer in one pass, each equal to recording it alone. */
static void test_record_all_equals_each_state_recorded_alone(void **state)
{
    (void)state;
    lm_model m;
    lm_charvocab v;
    tiny_model(&m, &v);
    size_t n, S = m.cfg.cell->n_states;
    assert_int_equal(S, 2); /* the LSTM's h and c */
    uint32_t *text = decode("ab\xC3\xA9 c<a>\n\"bb\"&zc", &n);
    tg_status st = {0};
    lm_charviz all[4], one;
    if (lm_charviz_record_all(all, &m, &v, text, n, &st) != TG_OK) fail_msg("%s", st.msg);
    for (size_t j = 0; j < 4; j++) {
        assert_int_equal(all[j].layer, j / S);
        assert_int_equal(all[j].state, j % S);
        assert_int_equal(all[j].n, n - 2);
        assert_int_equal(all[j].skipped, 2);
        if (lm_charviz_record(&one, &m, &v, text, n, j / S, j % S, &st) != TG_OK)
            fail_msg("%s", st.msg);
        assert_memory_equal(all[j].act, one.act, one.n * one.H * sizeof *one.act);
        assert_memory_equal(all[j].text, one.text, one.n * sizeof *one.text);
        lm_charviz_deinit(&one);
        lm_charviz_deinit(&all[j]);
    }
    const uint32_t alien[] = {'x', 'y'};
    assert_int_equal(lm_charviz_record_all(all, &m, &v, alien, 2, &st), TG_EINVAL);
    for (size_t j = 0; j < 4; j++) assert_null(all[j].act);
    free(text);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
}

/* The page's lang attribute: guessed from the text's dominant script, else und. */
static void test_lang_is_guessed_from_the_dominant_script(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"int main(void) { return 0; }", "und-Latn"},
        {"\xEC\x95\x88\xEB\x85\x95\xED\x95\x98\xEC\x84\xB8\xEC\x9A\x94 hi", "ko"},
        {"\xE4\xB8\x96\xE7\x95\x8C\xE3\x81\xAE\xE3\x81\x93", "ja"},
        {"\xE4\xB8\xAD\xE6\x96\x87\xE6\x96\x87 ab", "zh"},
        {"\xD0\x9F\xD1\x80\xD0\xB8 x", "und-Cyrl"},
        {"\xCE\x93\xCE\xB5\xCE\xB9", "el"},
        {"12 + 3 = 15; {}", "und"},
        {"", "und"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n;
        uint32_t *text = decode(cases[k][0], &n);
        const char *got = lm_charviz_guess_lang(text, n);
        if (strcmp(got, cases[k][1]) != 0)
            fail_msg("\"%s\": %s, want %s", cases[k][0], got, cases[k][1]);
        free(text);
    }
    static const char *const good[] = {"en", "de-CH", "zh-Hant", "und", "und-Latn", "es-419"};
    static const char *const bad[] = {"", "e\"n", "1en", "en--x", "abcdefghi", "en<", "en-", "-en"};
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
        if (!lm_lang_tag_valid(good[k])) fail_msg("%s refused", good[k]);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (lm_lang_tag_valid(bad[k])) fail_msg("\"%s\" accepted", bad[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_names_parse_and_unknown_is_rejected),
        cmocka_unit_test(test_quotes_indicator_opens_on_the_quote_and_closes_after_it),
        cmocka_unit_test(test_parens_indicator_counts_nesting_and_ignores_a_stray_close),
        cmocka_unit_test(test_line_start_indicator_is_the_column_over_the_longest),
        cmocka_unit_test(test_upper_indicator_marks_all_capital_words_of_two_letters_or_more),
        cmocka_unit_test(test_vowel_and_space_indicators),
        cmocka_unit_test(test_pearson_matches_known_vectors),
        cmocka_unit_test(test_top_units_rank_by_score_or_magnitude_ties_to_the_lower),
        cmocka_unit_test(test_html_char_escapes_markup_and_keeps_line_breaks),
        cmocka_unit_test(test_colour_is_white_at_zero_red_positive_blue_negative),
        cmocka_unit_test(test_record_equals_the_samplers_state_after_every_feed),
        cmocka_unit_test(test_record_all_equals_each_state_recorded_alone),
        cmocka_unit_test(test_lang_is_guessed_from_the_dominant_script),
        cmocka_unit_test(test_record_rejects_a_layer_past_the_last_and_an_unknown_text),
        cmocka_unit_test(test_page_escapes_the_text_keeps_breaks_and_titles_each_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
