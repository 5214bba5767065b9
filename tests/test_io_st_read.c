/* test_io_st_read.c: the safetensors reader (io/st_read.c): bit-exact round trips of arrays and
 * metadata; every way a file can be damaged, each read through its message naming the file,
 * the tensor or field and the byte offset; checksums; escaped strings from the file. */
#include "ckpt_files.h"

static const char *tricky = "q\"uote \\back/slash\n\t\r\b\f\x01\x1f\x7f h\xc3\xa9llo \xe2\x9c\x93 "
                            "\xf0\x9f\x98\x80 [\"a\",\"\\n\"]";

static void test_arrays_and_metadata_round_trip_bit_exact(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_real vals[6];
    fill_uniform(vals, 6, &r, -3, 3);
    uint64_t rng_state[4] = {r.s[0], r.s[1], r.s[2], UINT64_MAX};
    int64_t step = -1234567890123LL;
    int32_t ids[5] = {0, -1, 7, INT32_MAX, INT32_MIN};
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add(w, "w", TG_DT_REAL, 2, (size_t[]){2, 3}, vals, &st), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "rng", TG_DT_U64, 1, (size_t[]){4}, rng_state, &st),
                     TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "step", TG_DT_I64, 0, NULL, &step, &st), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "ids", TG_DT_I32, 1, (size_t[]){5}, ids, &st), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "empty", TG_DT_F64, 2, (size_t[]){0, 5}, NULL, &st),
                     TG_OK);
    assert_int_equal(tg_ckpt_writer_meta(w, "vocab", tricky, &st), TG_OK);
    assert_int_equal(tg_ckpt_writer_meta(w, "k\xc3\xa9y \"2\"", "", &st), TG_OK);
    save_ok(w, in_dir("a.safetensors"));
    tg_ckpt_writer_free(w);

    tg_ckpt *ck = open_ok(in_dir("a.safetensors"));
    assert_int_equal(tg_ckpt_count(ck), 5);
    const tg_ckpt_entry *e = tg_ckpt_find(ck, "w");
    assert_non_null(e);
    assert_int_equal(e->dtype, TG_DT_REAL);
    assert_int_equal(e->ndim, 2);
    assert_int_equal(e->shape[0], 2);
    assert_int_equal(e->shape[1], 3);
    e = tg_ckpt_find(ck, "step");
    assert_int_equal(e->ndim, 0);
    assert_int_equal(e->numel, 1);
    assert_int_equal(tg_ckpt_find(ck, "empty")->numel, 0);
    assert_string_equal(tg_ckpt_entry_at(ck, 0)->name, "w"); /* data order = order of adding */

    tg_real vals2[6];
    uint64_t rng2[4];
    int64_t step2;
    int32_t ids2[5];
    assert_int_equal(tg_ckpt_read_reals(ck, "w", vals2, 6, &st), TG_OK);
    assert_int_equal(tg_ckpt_read(ck, "rng", TG_DT_U64, rng2, 4, &st), TG_OK);
    assert_int_equal(tg_ckpt_read(ck, "step", TG_DT_I64, &step2, 1, &st), TG_OK);
    assert_int_equal(tg_ckpt_read(ck, "ids", TG_DT_I32, ids2, 5, &st), TG_OK);
    assert_int_equal(tg_ckpt_read(ck, "empty", TG_DT_F64, NULL, 0, &st), TG_OK);
    assert_memory_equal(vals2, vals, sizeof vals);
    assert_memory_equal(rng2, rng_state, sizeof rng2);
    assert_memory_equal(&step2, &step, sizeof step);
    assert_memory_equal(ids2, ids, sizeof ids);
    assert_string_equal(tg_ckpt_meta(ck, "vocab"), tricky);
    assert_string_equal(tg_ckpt_meta(ck, "k\xc3\xa9y \"2\""), "");
    assert_null(tg_ckpt_meta(ck, "absent"));
    assert_int_equal(tg_ckpt_meta_count(ck), 2);
    assert_string_equal(tg_ckpt_meta_key(ck, 0), "vocab");
    tg_ckpt_close(ck);
}

static void test_open_rejects_truncated_files(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 9);
    tg_params *a = model(5, &r);
    save_model(a, in_dir("model.safetensors"), 0);
    size_t len;
    unsigned char *p = slurp(in_dir("model.safetensors"), &len);
    size_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    const char *path = in_dir("cut.safetensors");
    size_t short_cuts[] = {0, 3, 7};
    for (size_t i = 0; i < 3; i++) {
        spit(path, p, short_cuts[i]);
        assert_open_fails(path, "too short for the 8-byte header length");
    }
    size_t header_cuts[] = {8, 9, 8 + hlen / 2, 8 + hlen - 1};
    for (size_t i = 0; i < 4; i++) {
        spit(path, p, header_cuts[i]);
        assert_open_fails(path, "header length", "at byte 0 runs past the end of the file");
    }
    size_t data_cuts[] = {8 + hlen, 8 + hlen + 1, len - 4, len - 1};
    for (size_t i = 0; i < 4; i++) {
        spit(path, p, data_cuts[i]);
        assert_open_fails(path, "run past the end of the file", "data bytes)", "tensor 'model.");
    }
    free(p);
    tg_params_free(a);
}

static void test_open_rejects_bad_header_json(void **s)
{
    (void)s;
    const char *path = in_dir("bad.safetensors");
    static const struct {
        const char *json, *problem;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}",
         "header is not valid JSON: '}' expected near end of file at byte 61"},
        {"{\"a\": tru}", "header is not valid JSON: invalid token near 'tru' at byte 17"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
         "tensor 'a' (byte 9): \"shape\" is not an array of at most 8 non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
         "tensor 'a' (byte 9): \"shape\" is not an array"},
        {"{\"a\":{}} x", "header is not valid JSON: end of file expected near 'x' at byte 18"},
        {"{\"a\\q\":{}}", "header is not valid JSON: invalid escape near '\\\"a\\\\q' at byte 13"},
        {"{\"\\ud800x\":{}}", "invalid Unicode '\\\\uD800'"},
        {"{\"a\n\":{}}", "header is not valid JSON: unexpected newline near '\\\"a' at byte 11"},
        {"{\"a\":{\"shape\":[99999999999999999999]}}", "too big integer"},
        {"", "header is not valid JSON: '[' or '{' expected near end of file at byte 8"},
        {"{\"a\":{},\"a\":{}}", "duplicate object key near '\\\"a\\\"' at byte 19"},
        {"{\"a\\u0000\":{}}", "NUL byte in object key not supported"},
        {"{\"\\udc00\":{}}", "invalid Unicode '\\\\uDC00'"},
        {"{\"a\xff\":{}}", "unable to decode byte 0xff"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spit_raw(path, cases[i].json, 4);
        assert_open_fails(path, cases[i].problem);
    }
    char deep[3000]; /* jansson stops at 2048 levels, so a header cannot exhaust the stack */
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    spit_raw(path, deep, 0);
    assert_open_fails(path, "maximum parsing depth reached");
    spit_raw(path, "[1, 2]", 0);
    assert_open_fails(path, "header is not a JSON object");
    spit_raw(path, "{\"a\":[1]}", 0);
    assert_open_fails(path, "tensor 'a' (byte 9): entry is not an object");
    spit_raw(path, "{\"__metadata__\":{\"k\":1}}", 0);
    assert_open_fails(path, "__metadata__ value of 'k' (byte 25) is not a string");
}

static void test_open_rejects_absurd_header_length(void **s)
{
    (void)s;
    const char *path = in_dir("long.safetensors");
    unsigned char p[16] = {0, 0, 0, 0, 0, 1, 0, 0, '{', '}'}; /* 2^40 */
    spit(path, p, sizeof p);
    assert_open_fails(path, "header length 1099511627776 at byte 0 is absurd");
    p[5] = 0, p[0] = 9; /* 9 > 8 bytes present */
    spit(path, p, sizeof p);
    assert_open_fails(path, "header length 9 at byte 0 runs past the end", "(8 bytes follow it)");
}

static void test_open_rejects_bad_entries_and_offsets(void **s)
{
    (void)s;
    const char *path = in_dir("entries.safetensors");
    static const struct {
        const char *json;
        size_t data;
        const char *problem;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "tensor 'a' (byte 9): unknown dtype \"F17\""},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a' (byte 9): no \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         "\"shape\" is not an array of at most 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
         "tensor 'a' (byte 9): \"data_offsets\" is not a pair"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
         "tensor 'a': data_offsets [4, 0] are out of order"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[300],\"data_offsets\":[0,1200]}}", 1000,
         "tensor 'a': data_offsets [0, 1200] run past the end of the file (1000 data bytes)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
         "tensor 'a': data_offsets [0, 8] hold 8 bytes, but F32 (3) needs 12"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, "tensor 'b': data_offsets [8, 12] leave a gap of 4 bytes at data byte 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6,
         "data section is 6 bytes but the tensors cover 4"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,0]}}",
         0, "tensor 'a': shape is too large"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spit_raw(path, cases[i].json, cases[i].data);
        assert_open_fails(path, cases[i].problem);
    }
}

static void test_open_decodes_json_escapes(void **s)
{
    (void)s;
    const char *path = in_dir("escapes.safetensors");
    spit_raw(path,
             " {\"__metadata__\" : {\"m\":\"a\\\"b\\\\c\\/d\\n\\u00e9\\u2713\\ud83d\\ude00\"},"
             "\"w\\u00e9\\uD83D\\uDE00\" : {\"shape\":[],\"dtype\":\"I8\","
             "\"data_offsets\":[0,1],\"extra\":[{}]}}  \n ",
             1);
    tg_ckpt *ck = open_ok(path);
    assert_string_equal(tg_ckpt_meta(ck, "m"), "a\"b\\c/d\n\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80");
    assert_non_null(tg_ckpt_find(ck, "w\xc3\xa9\xf0\x9f\x98\x80"));
    tg_ckpt_close(ck);
}

static void test_open_reports_a_missing_file(void **s)
{
    (void)s;
    tg_ckpt *ck;
    assert_int_equal(tg_ckpt_open(&ck, in_dir("absent.safetensors"), 0, &st), TG_EIO);
    assert_null(ck);
    assert_msg_has(st.msg, "absent.safetensors: cannot open: No such file", NULL);
}

/* Item 9: 40 of 40 byte flips in the data section loaded silently. Flip every byte of a saved
 * model's data in turn: each read names the damaged tensor. */
static void test_item9_every_flipped_data_byte_is_refused_naming_the_tensor(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 11);
    tg_params *a = model(2, &r);
    const char *path = in_dir("flip.safetensors"), *bad = in_dir("flipped.safetensors");
    save_model(a, path, 1);
    size_t len, start = data_start(path);
    unsigned char *p = slurp(path, &len);
    for (size_t at = start; at < len; at++) {
        p[at] ^= 0x10;
        spit(bad, p, len);
        p[at] ^= 0x10;
        tg_ckpt *ck = open_ok(bad);
        int damaged = 0;
        for (size_t i = 0; i < tg_ckpt_count(ck); i++) {
            const tg_ckpt_entry *e = tg_ckpt_entry_at(ck, i);
            unsigned char buf[512];
            if (tg_ckpt_read(ck, e->name, e->dtype, buf, e->numel, &st) == TG_OK) continue;
            char want[160];
            snprintf(want, sizeof want, "tensor '%s' is damaged", e->name);
            assert_msg_has(st.msg, bad, want, "checksum", NULL);
            assert_true(start + e->begin <= at && at < start + e->end); /* the right one */
            damaged++;
        }
        assert_int_equal(damaged, 1);
        tg_ckpt_close(ck);
    }
    free(p);
    tg_params_free(a);
}

/* Item 9: duplicate metadata keys were accepted (we took the first, Python's json the last). */
static void test_item9_duplicate_metadata_keys_are_refused(void **s)
{
    (void)s;
    const char *path = in_dir("dup.safetensors");
    spit_raw(path, "{\"__metadata__\":{\"config.H\":\"8\",\"config.H\":\"800000\"}}", 0);
    assert_open_fails(path, "header is not valid JSON: duplicate object key near", "config.H",
                      "at byte");
}

/* Item 9: a damaged metadata value (config.H "8" made "9") is caught by the metadata's own
 * checksum. */
static void test_item9_damaged_metadata_is_refused(void **s)
{
    (void)s;
    const char *path = in_dir("meta.safetensors");
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_meta(w, "config.H", "8", &st), TG_OK);
    save_ok(w, path);
    tg_ckpt_writer_free(w);
    size_t len;
    unsigned char *p = slurp(path, &len);
    unsigned char *hit = memmem(p, len, "\"8\"", 3);
    assert_non_null(hit);
    hit[1] = '9';
    spit(path, p, len);
    free(p);
    assert_open_fails(path, "__metadata__ is damaged: its checksum is");
}

/* Item 8: an ESC (\u001b) in checkpoint metadata reached the terminal raw in a message. */
static void test_item8_control_characters_from_the_file_are_escaped_in_messages(void **s)
{
    (void)s;
    const char *path = in_dir("esc.safetensors");
    spit_raw(path,
             "{\"x\\u001b[2J\\u0007\":{\"dtype\":\"\\u001b]0;owned\\u0007\",\"shape\":[],"
             "\"data_offsets\":[0,1]}}",
             1);
    tg_ckpt *ck = (tg_ckpt *)1;
    assert_int_equal(tg_ckpt_open(&ck, path, 0, &st), TG_EFORMAT);
    assert_msg_has(st.msg, "tensor 'x\\x1B[2J\\x07'", "unknown dtype \"\\x1B]0;owned\\x07\"", NULL);
    for (const char *c = st.msg; *c; c++) assert_true((unsigned char)*c >= 0x20);
    spit_raw(path, "{\"__metadata__\":{\"k\\u001b\":1}}", 0);
    assert_int_equal(tg_ckpt_open(&ck, path, 0, &st), TG_EFORMAT);
    assert_msg_has(st.msg, "value of 'k\\x1B'", NULL);
    spit_raw(path, "{\"a\x1b\":1}", 0); /* raw in the JSON: jansson's message quotes it */
    assert_int_equal(tg_ckpt_open(&ck, path, 0, &st), TG_EFORMAT);
    for (const char *c = st.msg; *c; c++) assert_true((unsigned char)*c >= 0x20);
}

/* Item 10: tg_ckpt_count(NULL) crashed; the look-ups of a NULL checkpoint find nothing. */
static void test_item10_a_null_checkpoint_has_nothing_in_it(void **s)
{
    (void)s;
    assert_int_equal(tg_ckpt_count(NULL), 0);
    assert_null(tg_ckpt_entry_at(NULL, 0));
    assert_null(tg_ckpt_find(NULL, "x"));
    assert_null(tg_ckpt_meta(NULL, "x"));
    assert_int_equal(tg_ckpt_meta_count(NULL), 0);
    assert_null(tg_ckpt_meta_key(NULL, 0));
    assert_int_equal(tg_ckpt_read(NULL, "x", TG_DT_U8, NULL, 0, &st), TG_ENULL);
    tg_ckpt_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arrays_and_metadata_round_trip_bit_exact),
        cmocka_unit_test(test_open_rejects_truncated_files),
        cmocka_unit_test(test_open_rejects_bad_header_json),
        cmocka_unit_test(test_open_rejects_absurd_header_length),
        cmocka_unit_test(test_open_rejects_bad_entries_and_offsets),
        cmocka_unit_test(test_open_decodes_json_escapes),
        cmocka_unit_test(test_open_reports_a_missing_file),
        cmocka_unit_test(test_item9_every_flipped_data_byte_is_refused_naming_the_tensor),
        cmocka_unit_test(test_item9_duplicate_metadata_keys_are_refused),
        cmocka_unit_test(test_item9_damaged_metadata_is_refused),
        cmocka_unit_test(test_item8_control_characters_from_the_file_are_escaped_in_messages),
        cmocka_unit_test(test_item10_a_null_checkpoint_has_nothing_in_it),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
