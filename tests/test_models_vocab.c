/* test_models_vocab.c: character vocabularies over the whole Unicode range and word
 * vocabularies over Penn Treebank-style text: building, lookups both ways, encoding, the
 * unknown-word error, and the checkpoint strings of both. */
#include <stdlib.h>

#include "testutil.h"

#include "models/vocab.h"

/* ---- characters ---- */

/* A character vocabulary of the UTF-8 text s. */
static lm_charvocab char_vocab_of(const char *s)
{
    tg_status st = {0};
    uint32_t *cps;
    size_t n;
    lm_charvocab v;
    assert_int_equal(lm_utf8_decode("s", s, strlen(s), &cps, &n, &st), TG_OK);
    if (lm_charvocab_build(&v, cps, n, &st) != TG_OK) fail_msg("%s", st.msg);
    free(cps);
    return v;
}

static void test_char_vocab_sorts_distinct_code_points(void **state)
{
    (void)state;
    /* "한글 hello\n😀é한": Korean, accented, emoji, repeats. */
    lm_charvocab v = char_vocab_of("\xED\x95\x9C\xEA\xB8\x80 hello\n\xF0\x9F\x98\x80\xC3\xA9"
                                   "\xED\x95\x9C");
    const uint32_t want[] = {'\n', ' ', 'e', 'h', 'l', 'o', 0xE9, 0xAE00, 0xD55C, 0x1F600};
    assert_int_equal(v.size, 10);
    for (int32_t id = 0; id < 10; id++) {
        assert_int_equal(lm_charvocab_char(&v, id), want[id]);
        assert_int_equal(lm_charvocab_id(&v, want[id]), id);
    }
    assert_int_equal(lm_charvocab_id(&v, 'a'), -1);
    assert_int_equal(lm_charvocab_id(&v, 0x10FFFF), -1);
    assert_int_equal(lm_charvocab_id(&v, 0), -1);
    lm_charvocab_deinit(&v);
}

static void test_char_vocab_encodes_text_to_ids(void **state)
{
    (void)state;
    lm_charvocab v = char_vocab_of("ba\xEA\xB8\x80");
    const uint32_t text[] = {0xAE00, 'a', 'b', 'a'};
    int32_t *ids;
    tg_status st = {0};
    assert_int_equal(lm_charvocab_encode(&v, "t", text, 4, &ids, &st), TG_OK);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 0);
    assert_int_equal(ids[2], 1);
    assert_int_equal(ids[3], 0);
    free(ids);
    lm_charvocab_deinit(&v);
}

static void test_char_vocab_encode_names_an_unknown_character(void **state)
{
    (void)state;
    lm_charvocab v = char_vocab_of("abc");
    const uint32_t text[] = {'a', 'b', 0xE9};
    int32_t *ids = (int32_t *)1;
    tg_status st = {0};
    assert_int_equal(lm_charvocab_encode(&v, "valid.txt", text, 3, &ids, &st), TG_ERANGE);
    assert_null(ids);
    assert_string_equal(st.msg,
                        "valid.txt: character 2, U+00E9 '\xC3\xA9', is not in the vocabulary");
    lm_charvocab_deinit(&v);
}

/* Issue 11: tg_charlm's --prime dropped a character the model never saw; it is now an error that
 * names the character, escaped when it is a control character (issue 13), and its index. */
static void test_char_vocab_encode_string_names_an_unknown_prime_character(void **state)
{
    (void)state;
    lm_charvocab v = char_vocab_of("abc");
    int32_t *ids = (int32_t *)1;
    size_t n = 7;
    tg_status st = {0};
    assert_int_equal(lm_charvocab_encode_string(&v, "--prime", "ab\x1b[2Jc", &ids, &n, &st),
                     TG_ERANGE);
    assert_null(ids);
    assert_int_equal(n, 0);
    assert_string_equal(st.msg, "--prime: character 2, U+001B '\\x1B', is not in the vocabulary");
    assert_int_equal(lm_charvocab_encode_string(&v, "--prime", "a\nb", &ids, &n, &st), TG_ERANGE);
    assert_status_has(&st, TG_ERANGE, "character 1, U+000A '\\n'", NULL);
    assert_int_equal(lm_charvocab_encode_string(&v, "--prime", "c\xC3", &ids, &n, &st), TG_EFORMAT);
    assert_status_has(&st, TG_EFORMAT, "--prime", "byte 1", NULL);
    assert_int_equal(lm_charvocab_encode_string(&v, "--prime", "cab", &ids, &n, &st), TG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 0);
    assert_int_equal(ids[2], 1);
    free(ids);
    lm_charvocab_deinit(&v);
}

static void test_char_vocab_string_round_trips_control_and_far_characters(void **state)
{
    (void)state;
    const char text[] = "\x01\t\n\x1F z\x7F\xC3\xA9\xED\x95\x9C\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF";
    lm_charvocab v = char_vocab_of(text), w;
    char *s;
    tg_status st = {0};
    assert_int_equal(lm_charvocab_to_string(&v, &s, &st), TG_OK);
    assert_string_equal(s, text); /* already sorted, so the string is the text itself */
    assert_int_equal(lm_charvocab_from_string(&w, s, &st), TG_OK);
    assert_int_equal(w.size, v.size);
    assert_memory_equal(w.chars, v.chars, v.size * sizeof v.chars[0]);
    free(s);
    lm_charvocab_deinit(&v);
    lm_charvocab_deinit(&w);
}

static void test_char_vocab_string_refuses_nul(void **state)
{
    (void)state;
    const uint32_t text[] = {'a', 0};
    lm_charvocab v;
    char *s = (char *)1;
    tg_status st = {0};
    assert_int_equal(lm_charvocab_build(&v, text, 2, &st), TG_OK);
    assert_int_equal(lm_charvocab_id(&v, 0), 0);
    assert_int_equal(lm_charvocab_to_string(&v, &s, &st), TG_EINVAL);
    assert_null(s);
    assert_string_equal(st.msg,
                        "the character vocabulary holds U+0000, which a string cannot carry");
    lm_charvocab_deinit(&v);
}

static void test_char_vocab_from_string_rejects_damaged_strings(void **state)
{
    (void)state;
    lm_charvocab v;
    tg_status st = {0};
    assert_int_equal(lm_charvocab_from_string(&v, "abdc", &st), TG_EFORMAT);
    assert_string_equal(st.msg, "character vocabulary: character 3 (U+0063) does not come after "
                                "U+0064; the string is damaged");
    assert_null(v.chars);
    assert_int_equal(lm_charvocab_from_string(&v, "aab", &st), TG_EFORMAT);
    assert_int_equal(lm_charvocab_from_string(&v, "", &st), TG_EFORMAT);
    assert_string_equal(st.msg, "character vocabulary: empty string");
    assert_int_equal(lm_charvocab_from_string(&v, "ab\xC3", &st), TG_EFORMAT);
    assert_string_equal(st.msg,
                        "character vocabulary: invalid UTF-8 at byte 2 (the 2-byte sequence "
                        "starting with 0xC3 is cut short by the end of the input)");
}

static void test_char_vocab_build_rejects_bad_input(void **state)
{
    (void)state;
    const uint32_t text[] = {'a', 0x110000};
    lm_charvocab v;
    tg_status st = {0};
    assert_int_equal(lm_charvocab_build(&v, text, 2, &st), TG_ERANGE);
    assert_string_equal(st.msg, "character 1 (0x110000) is past U+10FFFF");
    assert_int_equal(lm_charvocab_build(&v, text, 0, &st), TG_EFORMAT);
}

/* ---- words ---- */

/* Counts: <eos> 3, cat 2, the 2, then <unk>, a, dog, sat once each (ties in byte order). */
static const char train_text[] = " the cat sat \n the dog <unk> \n a cat\n";
static const char *const train_order[] = {"<eos>", "cat", "the", "<unk>", "a", "dog", "sat"};

static lm_wordvocab word_vocab_of(const char *s)
{
    tg_status st = {0};
    lm_wordvocab v;
    if (lm_wordvocab_build(&v, "train.txt", s, strlen(s), &st) != TG_OK) fail_msg("%s", st.msg);
    return v;
}

static void test_word_vocab_orders_by_count_then_bytes(void **state)
{
    (void)state;
    lm_wordvocab v = word_vocab_of(train_text);
    assert_int_equal(v.size, 7);
    for (int32_t id = 0; id < 7; id++) {
        assert_string_equal(lm_wordvocab_word(&v, id), train_order[id]);
        assert_int_equal(lm_wordvocab_id(&v, train_order[id]), id);
    }
    assert_int_equal(v.counts[0], 3);
    assert_int_equal(v.counts[1], 2);
    assert_int_equal(lm_wordvocab_id(&v, "bird"), -1);
    assert_int_equal(lm_wordvocab_lookup(&v, "cats", 3), 1);
    lm_wordvocab_deinit(&v);
}

static void test_word_vocab_encodes_with_eos_and_unk(void **state)
{
    (void)state;
    lm_wordvocab v = word_vocab_of(train_text);
    /* The last line has no '\n' but still ends with <eos>; CR and tabs are whitespace. */
    const char other[] = "the bird\tsat\r\n\n fish";
    const int32_t want[] = {2, 3, 6, 0, 0, 3, 0};
    int32_t *ids;
    size_t n, unk;
    tg_status st = {0};
    assert_int_equal(
        lm_wordvocab_encode(&v, "valid.txt", other, sizeof other - 1, &ids, &n, &unk, &st), TG_OK);
    assert_int_equal(n, 7);
    assert_int_equal(unk, 2);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    lm_wordvocab_deinit(&v);
}

static void test_word_vocab_names_file_line_and_word_when_no_unk(void **state)
{
    (void)state;
    lm_wordvocab v = word_vocab_of("a b\nc\n");
    const char other[] = "a\nb zebra c\n";
    int32_t *ids = (int32_t *)1;
    size_t n;
    tg_status st = {0};
    assert_int_equal(
        lm_wordvocab_encode(&v, "valid.txt", other, sizeof other - 1, &ids, &n, NULL, &st),
        TG_ERANGE);
    assert_null(ids);
    assert_string_equal(st.msg,
                        "valid.txt:2: word \"zebra\" is not in the vocabulary, which has no "
                        "<unk>");
    lm_wordvocab_deinit(&v);
}

static void test_word_vocab_handles_korean_words(void **state)
{
    (void)state;
    /* "안녕 세계\n세계\n" */
    lm_wordvocab v = word_vocab_of("\xEC\x95\x88\xEB\x85\x95 \xEC\x84\xB8\xEA\xB3\x84\n"
                                   "\xEC\x84\xB8\xEA\xB3\x84\n");
    assert_int_equal(v.size, 3);
    assert_string_equal(lm_wordvocab_word(&v, 0), "<eos>");
    assert_string_equal(lm_wordvocab_word(&v, 1), "\xEC\x84\xB8\xEA\xB3\x84");
    lm_wordvocab_deinit(&v);
}

static void test_word_vocab_string_round_trips(void **state)
{
    (void)state;
    lm_wordvocab v = word_vocab_of(train_text), w;
    char *s;
    tg_status st = {0};
    assert_int_equal(lm_wordvocab_to_string(&v, &s, &st), TG_OK);
    assert_string_equal(s, "<eos>\ncat\nthe\n<unk>\na\ndog\nsat\n");
    assert_int_equal(lm_wordvocab_from_string(&w, s, &st), TG_OK);
    assert_int_equal(w.size, v.size);
    for (int32_t id = 0; id < 7; id++) {
        assert_string_equal(lm_wordvocab_word(&w, id), train_order[id]);
        assert_int_equal(lm_wordvocab_id(&w, train_order[id]), id);
    }
    free(s);
    lm_wordvocab_deinit(&v);
    lm_wordvocab_deinit(&w);
}

static void test_word_vocab_from_string_rejects_damaged_strings(void **state)
{
    (void)state;
    lm_wordvocab v;
    tg_status st = {0};
    assert_int_equal(lm_wordvocab_from_string(&v, "a\nb\na\n", &st), TG_EFORMAT);
    assert_string_equal(st.msg, "word vocabulary:3: word \"a\" appears twice");
    assert_null(v.words);
    assert_int_equal(lm_wordvocab_from_string(&v, "a\n\nb\n", &st), TG_EFORMAT);
    assert_string_equal(st.msg, "word vocabulary:2: empty word");
    assert_int_equal(lm_wordvocab_from_string(&v, "a\nb c\n", &st), TG_EFORMAT);
    assert_string_equal(st.msg, "word vocabulary:2: word holds whitespace");
    assert_int_equal(lm_wordvocab_from_string(&v, "a\nb", &st), TG_EFORMAT);
    assert_string_equal(st.msg,
                        "word vocabulary: the last word has no '\\n' after it: the string is "
                        "cut short");
    assert_int_equal(lm_wordvocab_from_string(&v, "", &st), TG_EFORMAT);
    assert_string_equal(st.msg, "word vocabulary: no words");
}

static void test_word_vocab_build_rejects_bad_text(void **state)
{
    (void)state;
    lm_wordvocab v;
    tg_status st = {0};
    assert_int_equal(lm_wordvocab_build(&v, "train.txt", "a b\nc \xC3\xA9\xC0\xAF\n", 11, &st),
                     TG_EFORMAT);
    assert_string_equal(st.msg,
                        "train.txt: invalid UTF-8 at byte 8 (overlong encoding of U+002F in "
                        "2 bytes)");
    assert_int_equal(lm_wordvocab_build(&v, "train.txt", "  \t ", 4, &st), TG_EFORMAT);
    assert_string_equal(st.msg, "train.txt: no words");
    assert_int_equal(lm_wordvocab_build(&v, "train.txt", "ab\nc\0d\n", 7, &st), TG_EFORMAT);
    assert_string_equal(st.msg, "train.txt: NUL byte at byte 4; a word text cannot hold one");
    assert_int_equal(v.size, 0);
    lm_wordvocab_deinit(&v);
}

static void test_word_vocab_grows_its_table_past_many_words(void **state)
{
    (void)state;
    static char text[5000 * 8];
    size_t n = 5000, len = 0;
    for (size_t i = 0; i < n; i++) /* ten words a line */
        len += (size_t)snprintf(&text[len], sizeof text - len, "w%zu%c", i, " \n"[i % 10 == 9]);
    lm_wordvocab v;
    tg_status st = {0};
    assert_int_equal(lm_wordvocab_build(&v, "big", text, len, &st), TG_OK);
    assert_int_equal(v.size, n + 1);
    assert_true(v.nslots > 2 * v.size);
    for (int32_t id = 0; (size_t)id < v.size; id++)
        assert_int_equal(lm_wordvocab_id(&v, lm_wordvocab_word(&v, id)), id);
    lm_wordvocab_deinit(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_char_vocab_sorts_distinct_code_points),
        cmocka_unit_test(test_char_vocab_encodes_text_to_ids),
        cmocka_unit_test(test_char_vocab_encode_names_an_unknown_character),
        cmocka_unit_test(test_char_vocab_encode_string_names_an_unknown_prime_character),
        cmocka_unit_test(test_char_vocab_string_round_trips_control_and_far_characters),
        cmocka_unit_test(test_char_vocab_string_refuses_nul),
        cmocka_unit_test(test_char_vocab_from_string_rejects_damaged_strings),
        cmocka_unit_test(test_char_vocab_build_rejects_bad_input),
        cmocka_unit_test(test_word_vocab_orders_by_count_then_bytes),
        cmocka_unit_test(test_word_vocab_encodes_with_eos_and_unk),
        cmocka_unit_test(test_word_vocab_names_file_line_and_word_when_no_unk),
        cmocka_unit_test(test_word_vocab_handles_korean_words),
        cmocka_unit_test(test_word_vocab_string_round_trips),
        cmocka_unit_test(test_word_vocab_from_string_rejects_damaged_strings),
        cmocka_unit_test(test_word_vocab_build_rejects_bad_text),
        cmocka_unit_test(test_word_vocab_grows_its_table_past_many_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
