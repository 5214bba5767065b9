/* test_io_utf8.c: the one UTF-8 module (io/utf8.c): checking, encoding, the reason given for
 * each kind of bad sequence, and escaping text from files for messages (issue 13, item 8).
 * The CRC-32 of io/crc32.c is checked here too, against zlib's published check value. */
#include "testutil.h"

#include "io/st_internal.h"
#include "io/utf8.h"

static void test_valid_accepts_every_length_and_names_the_first_bad_byte(void **s)
{
    (void)s;
    const char ok[] = "a\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80";
    size_t bad = 99;
    assert_true(tg_utf8_valid(ok, sizeof ok - 1, &bad));
    assert_int_equal(bad, 99);
    static const struct {
        const char *s;
        size_t at;
    } cases[] = {
        {"ab\x80", 2},           {"a\xc3(", 1},         {"\xc0\xaf", 0}, {"x\xed\xa0\x80", 1},
        {"\xf4\x90\x80\x80", 0}, {"ok\xf0\x9f\x98", 2}, {"\xff", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_false(tg_utf8_valid(cases[i].s, strlen(cases[i].s), &bad));
        assert_int_equal(bad, cases[i].at);
    }
    assert_true(tg_utf8_valid("a\0b", 3, NULL)); /* lengths, not NUL, end the text */
}

static void test_decode_one_says_which_rule_is_broken(void **s)
{
    (void)s;
    static const struct {
        const char *s, *why;
    } cases[] = {
        {"\x80", "continuation byte with no lead byte"},
        {"\xc3(", "byte 0xC3 is not followed by a continuation byte"},
        {"\xe2\x9c(", "byte 3 of the 3-byte sequence starting with 0xE2 is 0x28"},
        {"\xc0\xaf", "overlong encoding of U+002F in 2 bytes"},
        {"\xed\xa0\x80", "U+D800 is a UTF-16 surrogate"},
        {"\xf4\x90\x80\x80", "0x110000 is past the last code point"},
        {"\xfe", "byte 0xFE never appears in UTF-8"},
        {"\xf0\x9f", "cut short by the end of the input"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[160] = "";
        uint32_t cp;
        size_t n = strlen(cases[i].s);
        assert_int_equal(
            tg_utf8_decode_one((const unsigned char *)cases[i].s, n, &cp, why, sizeof why), 0);
        if (!strstr(why, cases[i].why)) fail_msg("case %zu: \"%s\"", i, why);
    }
    uint32_t cp;
    char why[8];
    assert_int_equal(tg_utf8_decode_one((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp, why, 8),
                     4);
    assert_int_equal(cp, 0x1F600);
}

static void test_put_encodes_and_refuses_surrogates_and_values_past_the_last(void **s)
{
    (void)s;
    char b[4];
    assert_int_equal(tg_utf8_put(0x41, b), 1);
    assert_int_equal(tg_utf8_put(0xE9, b), 2);
    assert_memory_equal(b, "\xc3\xa9", 2);
    assert_int_equal(tg_utf8_put(0x2713, b), 3);
    assert_int_equal(tg_utf8_put(0x1F600, b), 4);
    assert_memory_equal(b, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(tg_utf8_put(0xD800, b), 0);
    assert_int_equal(tg_utf8_put(0x110000, b), 0);
}

/* Item 8: a \u001b (ESC) from a file reached the terminal raw in an error message. */
static void test_item8_escape_sequences_from_files_are_shown_escaped(void **s)
{
    (void)s;
    char out[128];
    tg_utf8_escape(out, sizeof out,
                   "a\x1b[2Jb\n\t\"\\\x7f\xc2\x9b"
                   "c\xff h\xc3\xa9");
    assert_string_equal(out, "a\\x1B[2Jb\\n\\t\\\"\\\\\\x7F\\u009Bc\\xFF h\xc3\xa9");
    for (const char *p = out; *p; p++) assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    char small[6]; /* cut at a character boundary, never inside an escape */
    assert_string_equal(tg_utf8_escape(small, sizeof small,
                                       "ab\x1b"
                                       "cd"),
                        "ab");
    assert_string_equal(tg_utf8_escape(small, sizeof small, "\xc3\xa9\xc3\xa9\xc3\xa9"),
                        "\xc3\xa9\xc3\xa9");
}

static void test_crc32_matches_zlib(void **s)
{
    (void)s;
    assert_int_equal(tgi_crc32(0, "123456789", 9), 0xCBF43926u); /* zlib's check value */
    assert_int_equal(tgi_crc32(tgi_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    assert_int_equal(tgi_crc32(0, "", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_accepts_every_length_and_names_the_first_bad_byte),
        cmocka_unit_test(test_decode_one_says_which_rule_is_broken),
        cmocka_unit_test(test_put_encodes_and_refuses_surrogates_and_values_past_the_last),
        cmocka_unit_test(test_item8_escape_sequences_from_files_are_shown_escaped),
        cmocka_unit_test(test_crc32_matches_zlib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
