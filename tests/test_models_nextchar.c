/* test_models_nextchar.c: next-character probabilities along a text (models/nextchar.c): each
 * row is the softmax of the sampler's logits after the same characters, the candidates are
 * ranked, an unknown character is an error naming it, and the table and picture carry the
 * values. Float build only (the language model is built in float). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>

#include "testutil.h"

#include "models/nextchar.h"

/* A small fresh LSTM over the vocabulary "ehlo ". */
static void tiny_model(lm_model *m, lm_charvocab *v)
{
    tg_status st = {0};
    const uint32_t chars[] = {'h', 'e', 'l', 'o', ' '};
    if (lm_charvocab_build(v, chars, 5, &st) != TG_OK) fail_msg("%s", st.msg);
    lm_config c = lm_default_config();
    c.V = v->size, c.E = 4, c.H = 6, c.T = 4, c.B = 1;
    c.init = 0.8; /* large weights, so the probabilities differ visibly */
    if (lm_model_init(m, &c, &st) != TG_OK) fail_msg("%s", st.msg);
}

static void test_rows_are_the_softmax_after_the_same_characters(void **state)
{
    (void)state;
    lm_model m;
    lm_charvocab v;
    tiny_model(&m, &v);
    const uint32_t text[] = {'h', 'e', 'l', 'l', 'o', ' '};
    tg_status st = {0};
    lm_nextchar nc;
    if (lm_nextchar_compute(&nc, &m, &v, "t", text, 6, 9, &st) != TG_OK) fail_msg("%s", st.msg);
    assert_int_equal(nc.K, 5); /* cut to V */
    lm_sampler s;
    assert_int_equal(lm_sampler_init(&s, &m, &st), TG_OK);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(lm_sampler_feed(&s, lm_charvocab_id(&v, text[i]), &st), TG_OK);
        double sum = 0, p[5];
        for (size_t j = 0; j < 5; j++) sum += exp((double)s.logits[j]);
        for (size_t j = 0; j < 5; j++) p[j] = exp((double)s.logits[j]) / sum;
        double total = 0;
        for (size_t k = 0; k < 5; k++) {
            int32_t id = nc.top[i * 5 + k];
            assert_true(fabs(nc.top_p[i * 5 + k] - p[id]) < 1e-9);
            if (k > 0) assert_true(nc.top_p[i * 5 + k] <= nc.top_p[i * 5 + k - 1]);
            total += nc.top_p[i * 5 + k];
        }
        assert_true(fabs(total - 1) < 1e-9);
        if (i < 5)
            assert_true(fabs(nc.p_next[i] - p[lm_charvocab_id(&v, text[i + 1])]) < 1e-9);
        else
            assert_true(isnan(nc.p_next[i]));
    }
    lm_sampler_deinit(&s);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    lm_nextchar_print(f, &nc, &v);
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "    0  h   e     %7.4f  ", nc.p_next[0]);
    if (!strstr(buf, want)) fail_msg("no \"%s\" in\n%s", want, buf);
    assert_non_null(strstr(buf, "    5  \xE2\x90\xA3   -           -  ")); /* ␣, last row */
    assert_non_null(strstr(buf, "mean over the 5 predictions: "));
    free(buf);

    f = open_memstream(&buf, &len);
    assert_int_equal(lm_nextchar_svg(f, &nc, &v), TG_OK);
    fclose(f);
    size_t rects = 0, outlined = 0;
    for (const char *p = buf; (p = strstr(p, "<rect x=")); p++) rects++;
    for (const char *p = buf; (p = strstr(p, "stroke=\"#d62728\"")); p++) outlined++;
    assert_int_equal(rects, 6 * 5);
    assert_int_equal(outlined, 5); /* every actual next character is among all V candidates */
    free(buf);
    lm_nextchar_deinit(&nc);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
}

static void test_an_unknown_character_or_an_empty_text_is_refused(void **state)
{
    (void)state;
    lm_model m;
    lm_charvocab v;
    tiny_model(&m, &v);
    const uint32_t text[] = {'h', 0x1B, 'e'};
    tg_status st = {0};
    lm_nextchar nc;
    assert_int_equal(lm_nextchar_compute(&nc, &m, &v, "TEXT", text, 3, 2, &st), TG_ERANGE);
    assert_status_has(&st, TG_ERANGE, "TEXT: character 1, U+001B '\\x1B'", NULL);
    assert_null(nc.top);
    assert_int_equal(lm_nextchar_compute(&nc, &m, &v, "TEXT", text, 0, 2, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "TEXT: the text is empty", NULL);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_are_the_softmax_after_the_same_characters),
        cmocka_unit_test(test_an_unknown_character_or_an_empty_text_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
