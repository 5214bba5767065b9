/* test_models_lm_ckpt.c: how models/lm_ckpt.c interprets a checkpoint's metadata, for the items
 * of the reliability issue that concern it: values from the file are range-checked (no
 * wrapping), a configuration cannot demand more than the file holds, and strings from the file
 * are escaped in messages. The files are crafted from a tiny saved model with the writer, in the
 * mkdtemp folder of ckpt_files.h. Float build only, like the language model. */
#include "ckpt_files.h"

#include "models/lm.h"
#include "models/text.h"

#include <time.h>

/* A tiny word-level model saved (with its training state) at path. */
static void save_tiny(const char *path)
{
    tg_status st = {0};
    lm_config c = lm_default_config();
    c.V = 4, c.E = 3, c.H = 3, c.L = 1, c.T = 4, c.B = 2;
    lm_model m;
    if (lm_model_init(&m, &c, &st) != TG_OK) fail_msg("%s", st.msg);
    if (lm_save(path, &m, NULL, "word", "a\nb\nc\n<eos>\n", &st) != TG_OK) fail_msg("%s", st.msg);
    lm_model_deinit(&m);
}

/* Copy `from` to `to` through the writer with metadata `key` set to `value`. */
static void copy_with_meta(const char *from, const char *to, const char *key, const char *value)
{
    tg_ckpt *ck = open_ok(from);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    for (size_t i = 0; i < tg_ckpt_count(ck); i++) {
        const tg_ckpt_entry *e = tg_ckpt_entry_at(ck, i);
        void *buf = malloc(e->end - e->begin + 1);
        assert_int_equal(tg_ckpt_read(ck, e->name, e->dtype, buf, e->numel, &st), TG_OK);
        assert_int_equal(tg_ckpt_writer_add(w, e->name, e->dtype, e->ndim, e->shape, buf, &st),
                         TG_OK);
        free(buf);
    }
    for (size_t i = 0; i < tg_ckpt_meta_count(ck); i++) {
        const char *k = tg_ckpt_meta_key(ck, i);
        assert_int_equal(
            tg_ckpt_writer_meta(w, k, strcmp(k, key) == 0 ? value : tg_ckpt_meta(ck, k), &st),
            TG_OK);
    }
    save_ok(w, to);
    tg_ckpt_writer_free(w);
    tg_ckpt_close(ck);
}

/* lm_load of path fails with TG_EFORMAT naming the file and `what`. */
static void assert_load_fails(const char *path, const char *what, const char *what2)
{
    char *vocab = NULL;
    tg_status st = {0};
    lm_model m;
    assert_int_equal(lm_load(path, &m, "word", &vocab, 0, &st), TG_EFORMAT);
    assert_msg_has(st.msg, path, what, what2, NULL);
    assert_null(vocab);
}

/* Item 9: config.sum_steps = 2^32 wrapped to 0 through an int; every integer field is read
 * whole and in its type's range, and a number field must be finite. */
static void test_item9_config_values_past_their_type_are_refused(void **s)
{
    (void)s;
    const char *good = in_dir("good.safetensors"), *bad = in_dir("bad.safetensors");
    save_tiny(good);
    static const char *const cases[][2] = {
        {"config.sum_steps", "4294967296"},
        {"config.tied", "2147483648"},
        {"config.H", "18446744073709551616"},
        {"config.L", "-1"},
        {"config.L", " 1"},
        {"config.L", "+1"},
        {"config.dropout", "nan"},
        {"config.clip", "inf"},
        {"config.seed", "1x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        copy_with_meta(good, bad, cases[i][0], cases[i][1]);
        assert_load_fails(bad, cases[i][0], "is not a valid value");
    }
}

/* Item 5: a 30 KB file with config.L = 30000 spent a minute building a model before failing.
 * A configuration that needs more parameters than the file holds is refused before anything
 * is built. */
static void test_item5_a_configuration_larger_than_its_file_is_refused_at_once(void **s)
{
    (void)s;
    const char *good = in_dir("good.safetensors"), *bad = in_dir("big.safetensors");
    save_tiny(good);
    static const char *const cases[][2] = {
        {"config.L", "30000"},
        {"config.L", "100000"},
        {"config.H", "4294967296"},
        {"config.V", "1000000"},
        {"config.E", "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        copy_with_meta(good, bad, cases[i][0], cases[i][1]);
        clock_t t0 = clock();
        assert_load_fails(bad, "need more parameters than the file's", "model values");
        assert_true(clock() - t0 < CLOCKS_PER_SEC / 2);
    }
}

/* Item 8: a metadata value holding ESC was printed raw in lm_load's message. */
static void test_item8_escape_sequences_in_metadata_are_escaped_in_lm_messages(void **s)
{
    (void)s;
    const char *good = in_dir("good.safetensors"), *bad = in_dir("esc.safetensors");
    save_tiny(good);
    copy_with_meta(good, bad, "config.H", "\x1b[2J\x1b]0;owned\x07");
    assert_load_fails(bad, "'config.H' = \"\\x1B[2J\\x1B]0;owned\\x07\"", "not a valid value");
    copy_with_meta(good, bad, "tapegrad.kind", "w\x1b[31mord");
    assert_load_fails(bad, "a w\\x1B[31mord-level model", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item9_config_values_past_their_type_are_refused),
        cmocka_unit_test(test_item5_a_configuration_larger_than_its_file_is_refused_at_once),
        cmocka_unit_test(test_item8_escape_sequences_in_metadata_are_escaped_in_lm_messages),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
