/* test_models_text.c: whole-file reads, strict UTF-8 decoding (each kind of invalid sequence
 * with its exact message and byte offset), encoding, and round trips. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#include "models/text.h"

/* Decode s (len bytes), require success, and compare with want[0..n). */
static void assert_decodes(const char *s, size_t len, const uint32_t *want, size_t n)
{
    tg_status st = {0};
    uint32_t *cps;
    size_t got;
    int rc = lm_utf8_decode("t.txt", s, len, &cps, &got, &st);
    if (rc != TG_OK) fail_msg("decode failed: %s", st.msg);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        if (cps[i] != want[i])
            fail_msg("code point %zu: got U+%04X, want U+%04X", i, cps[i], want[i]);
    free(cps);
}

/* Decode s (len bytes), require TG_EFORMAT with exactly this message, and no output. */
static void assert_rejects(const char *s, size_t len, const char *message)
{
    tg_status st = {0};
    uint32_t *cps = (uint32_t *)1;
    size_t n = 99;
    assert_int_equal(lm_utf8_decode("t.txt", s, len, &cps, &n, &st), TG_EFORMAT);
    assert_string_equal(st.msg, message);
    assert_null(cps);
    assert_int_equal(n, 0);
    st.msg[0] = '\0';
    assert_int_equal(lm_utf8_check("t.txt", s, len, &st), TG_EFORMAT);
    assert_string_equal(st.msg, message);
}

static void test_decode_reads_one_to_four_byte_sequences(void **state)
{
    (void)state;
    /* "café 한글 😀": 2-byte é, 3-byte Hangul, 4-byte emoji. */
    const char s[] = "caf\xC3\xA9 \xED\x95\x9C\xEA\xB8\x80 \xF0\x9F\x98\x80";
    const uint32_t want[] = {'c', 'a', 'f', 0xE9, ' ', 0xD55C, 0xAE00, ' ', 0x1F600};
    assert_decodes(s, sizeof s - 1, want, 9);
}

static void test_decode_accepts_the_edges_of_each_length(void **state)
{
    (void)state;
    const char s[] = "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"
                     "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF";
    const uint32_t want[] = {0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF};
    assert_decodes(s, sizeof s - 1, want, 9);
}

static void test_decode_keeps_nul_and_control_characters(void **state)
{
    (void)state;
    const uint32_t want[] = {'a', 0, '\n', '\t', 0x01, 'b'};
    assert_decodes("a\0\n\t\001b", 6, want, 6);
    assert_decodes("", 0, want, 0);
}

static void test_decode_rejects_a_continuation_byte_without_lead(void **state)
{
    (void)state;
    assert_rejects("ab\x80", 3,
                   "t.txt: invalid UTF-8 at byte 2 (byte 0x80 is a continuation byte "
                   "with no lead byte before it)");
}

static void test_decode_rejects_bytes_that_never_appear(void **state)
{
    (void)state;
    assert_rejects("abc\xFF", 4,
                   "t.txt: invalid UTF-8 at byte 3 (byte 0xFF never appears in UTF-8)");
    assert_rejects("\xF8\x88\x80\x80\x80", 5,
                   "t.txt: invalid UTF-8 at byte 0 (byte 0xF8 never appears in UTF-8)");
}

static void test_decode_rejects_a_bad_continuation_byte(void **state)
{
    (void)state;
    assert_rejects("x\xC3(", 3,
                   "t.txt: invalid UTF-8 at byte 1 (byte 0xC3 is not followed by a "
                   "continuation byte)");
    assert_rejects("xy\xE2\x82\x41", 5,
                   "t.txt: invalid UTF-8 at byte 2 (byte 3 of the 3-byte "
                   "sequence starting with 0xE2 is 0x41, not a continuation byte)");
    assert_rejects("\xC3\xA9\xF0\x9F\x98\xC3\xA9", 7,
                   "t.txt: invalid UTF-8 at byte 2 (byte 4 of "
                   "the 4-byte sequence starting with 0xF0 is 0xC3, not a continuation byte)");
}

static void test_decode_rejects_a_sequence_cut_short(void **state)
{
    (void)state;
    assert_rejects("ab\xF0\x9F\x98", 5,
                   "t.txt: invalid UTF-8 at byte 2 (the 4-byte sequence "
                   "starting with 0xF0 is cut short by the end of the input)");
    assert_rejects("\xC3", 1,
                   "t.txt: invalid UTF-8 at byte 0 (the 2-byte sequence starting with "
                   "0xC3 is cut short by the end of the input)");
}

static void test_decode_rejects_overlong_encodings(void **state)
{
    (void)state;
    assert_rejects("\xC0\xAF", 2,
                   "t.txt: invalid UTF-8 at byte 0 (overlong encoding of U+002F in 2 bytes)");
    assert_rejects("a\xE0\x80\xAF", 4,
                   "t.txt: invalid UTF-8 at byte 1 (overlong encoding of U+002F in 3 bytes)");
    assert_rejects("ab\xF0\x82\x82\xAC", 6,
                   "t.txt: invalid UTF-8 at byte 2 (overlong encoding of U+20AC in 4 bytes)");
}

static void test_decode_rejects_surrogates(void **state)
{
    (void)state;
    assert_rejects("\xC3\xA9\xED\xA0\x80", 5,
                   "t.txt: invalid UTF-8 at byte 2 (U+D800 is a "
                   "UTF-16 surrogate, not a character)");
    assert_rejects("\xED\xBF\xBF", 3,
                   "t.txt: invalid UTF-8 at byte 0 (U+DFFF is a UTF-16 "
                   "surrogate, not a character)");
}

static void test_decode_rejects_values_past_10ffff(void **state)
{
    (void)state;
    assert_rejects("a\xF4\x90\x80\x80", 5,
                   "t.txt: invalid UTF-8 at byte 1 (0x110000 is past the "
                   "last code point U+10FFFF)");
    assert_rejects("\xF5\x80\x80\x80", 4,
                   "t.txt: invalid UTF-8 at byte 0 (0x140000 is past the "
                   "last code point U+10FFFF)");
}

static void test_encode_then_decode_round_trips(void **state)
{
    (void)state;
    const uint32_t cps[] = {'A', 0xE9, 0xD55C, 0xAE00, 0x1F600, 0x10FFFF, '\n', 0x7FF, 0x800};
    const size_t n = sizeof cps / sizeof cps[0];
    char *s;
    tg_status st = {0};
    size_t len;
    assert_int_equal(lm_utf8_encode(cps, n, &s, &len, &st), TG_OK);
    assert_int_equal(len, 1 + 2 + 3 + 3 + 4 + 4 + 1 + 2 + 3);
    assert_int_equal(strlen(s), len);
    assert_memory_equal(s, "A\xC3\xA9\xED\x95\x9C", 6);
    assert_decodes(s, len, cps, n);
    free(s);
}

static void test_encode_rejects_surrogates_and_large_values(void **state)
{
    (void)state;
    char *s = (char *)1, four[4];
    tg_status st = {0};
    const uint32_t bad[] = {'a', 0xDC00};
    assert_int_equal(lm_utf8_encode(bad, 2, &s, NULL, &st), TG_ERANGE);
    assert_null(s);
    assert_string_equal(st.msg,
                        "code point 1 (0xDC00) cannot be encoded: it is a surrogate or past "
                        "U+10FFFF");
    assert_int_equal(lm_utf8_put(0x110000, four), 0);
    assert_int_equal(lm_utf8_put(0xD800, four), 0);
}

/* A temporary file holding data[0..len); the caller unlinks the returned path. */
static char *temp_file(const char *data, size_t len)
{
    static char path[64];
    strcpy(path, "/tmp/tg_models_text_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_read_file_returns_every_byte_and_a_nul(void **state)
{
    (void)state;
    char *data;
    tg_status st = {0};
    size_t len;
    const char body[] = "line one\n\0nul inside\n\xEA\xB8\x80";
    char *path = temp_file(body, sizeof body - 1);
    assert_int_equal(lm_read_file(path, &data, &len, &st), TG_OK);
    assert_int_equal(len, sizeof body - 1);
    assert_memory_equal(data, body, len);
    assert_int_equal(data[len], '\0');
    free(data);
    uint32_t *cps;
    size_t n;
    assert_int_equal(lm_read_utf8(path, &cps, &n, &st), TG_OK);
    assert_int_equal(n, sizeof body - 1 - 2); /* the 3-byte character is one code point */
    assert_int_equal(cps[n - 1], 0xAE00);
    free(cps);
    unlink(path);
}

static void test_read_utf8_names_the_file_and_offset(void **state)
{
    (void)state;
    tg_status st = {0};
    char want[sizeof st.msg];
    const char body[] = "ok\n\xC3\xA9\n\xC3(\n";
    char *path = temp_file(body, sizeof body - 1);
    uint32_t *cps;
    size_t n;
    assert_int_equal(lm_read_utf8(path, &cps, &n, &st), TG_EFORMAT);
    snprintf(want, sizeof want,
             "%s: invalid UTF-8 at byte 6 (byte 0xC3 is not followed by a continuation byte)",
             path);
    assert_string_equal(st.msg, want);
    unlink(path);
}

static void test_read_file_reports_a_missing_file(void **state)
{
    (void)state;
    char *data = (char *)1;
    tg_status st = {0};
    size_t len = 9;
    assert_int_equal(lm_read_file("/nonexistent/corpus.txt", &data, &len, &st), TG_EIO);
    assert_null(data);
    assert_int_equal(len, 0);
    assert_non_null(strstr(st.msg, "/nonexistent/corpus.txt: cannot open: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_reads_one_to_four_byte_sequences),
        cmocka_unit_test(test_decode_accepts_the_edges_of_each_length),
        cmocka_unit_test(test_decode_keeps_nul_and_control_characters),
        cmocka_unit_test(test_decode_rejects_a_continuation_byte_without_lead),
        cmocka_unit_test(test_decode_rejects_bytes_that_never_appear),
        cmocka_unit_test(test_decode_rejects_a_bad_continuation_byte),
        cmocka_unit_test(test_decode_rejects_a_sequence_cut_short),
        cmocka_unit_test(test_decode_rejects_overlong_encodings),
        cmocka_unit_test(test_decode_rejects_surrogates),
        cmocka_unit_test(test_decode_rejects_values_past_10ffff),
        cmocka_unit_test(test_encode_then_decode_round_trips),
        cmocka_unit_test(test_encode_rejects_surrogates_and_large_values),
        cmocka_unit_test(test_read_file_returns_every_byte_and_a_nul),
        cmocka_unit_test(test_read_utf8_names_the_file_and_offset),
        cmocka_unit_test(test_read_file_reports_a_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
