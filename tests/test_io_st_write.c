/* test_io_st_write.c: the safetensors writer (io/st_write.c): the file's layout byte by byte,
 * names it refuses, and atomic saves: a failed save leaves the previous file byte-identical and
 * no temporary file; temporaries are created exclusively, never through a link, and stale ones
 * from a killed run are removed by the next save. */
#include "ckpt_files.h"

#include <sys/wait.h>

static void test_file_has_the_safetensors_layout(void **s)
{
    (void)s;
    double d[3] = {0.1, -2.5, 1e300};
    float f[2] = {0.25f, -1.0f / 3.0f};
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add(w, "d", TG_DT_F64, 1, (size_t[]){3}, d, &st), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "f", TG_DT_F32, 2, (size_t[]){1, 2}, f, &st), TG_OK);
    save_ok(w, in_dir("layout.safetensors"));
    tg_ckpt_writer_free(w);
    size_t len;
    unsigned char *p = slurp(in_dir("layout.safetensors"), &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | p[i];
    assert_int_equal(n % 8, 0);
    assert_int_equal(len, 8 + n + 3 * 8 + 2 * 4);
    assert_int_equal(p[8], '{');
    /* The checksums of the (empty) metadata and of each tensor's little-endian bytes. */
    char want[512];
    snprintf(want, sizeof want,
             "{\"__metadata__\":{\"tapegrad.crc32\":\"00000000\",\"tapegrad.crc32.d\":\"%08x\","
             "\"tapegrad.crc32.f\":\"%08x\"},"
             "\"d\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]},"
             "\"f\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[24,32]}}",
             (unsigned)tgi_crc32(0, p + 8 + n, 24), (unsigned)tgi_crc32(0, p + 8 + n + 24, 8));
    assert_int_equal(strlen(want), strcspn((char *)p + 8, " "));
    assert_memory_equal(p + 8, want, strlen(want));
    for (size_t i = strlen(want); i < n; i++) assert_int_equal(p[8 + i], ' ');
    assert_int_equal(p[8 + n + 24 + 3], 0x3e); /* 0.25f = 0x3e800000, little-endian */
    free(p);

    /* F64 and F32 both read into tg_real. */
    tg_ckpt *ck = open_ok(in_dir("layout.safetensors"));
    tg_real r[3];
    tg_tensor x;
    tg_tensor_init(&x, 1, 2, r, NULL);
    assert_int_equal(tg_ckpt_read_reals(ck, "d", r, 3, &st), TG_OK);
    assert_true(r[0] == (tg_real)0.1 && r[1] == (tg_real)-2.5);
    assert_int_equal(tg_ckpt_read_tensor(ck, "f", &x, &st), TG_OK);
    assert_true(r[0] == (tg_real)0.25f && r[1] == (tg_real)(-1.0f / 3.0f));
    tg_ckpt_close(ck);
}

static void test_writer_rejects_bad_names(void **s)
{
    (void)s;
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    int32_t v = 1;
    assert_int_equal(tg_ckpt_writer_add(w, "model.rnn.bias", TG_DT_I32, 0, NULL, &v, &st), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "model.rnn.bias", TG_DT_I32, 0, NULL, &v, &st),
                     TG_EINVAL);
    assert_msg_has(st.msg, "name 'model.rnn.bias' is already used", NULL);
    assert_int_equal(tg_ckpt_writer_add(w, "", TG_DT_I32, 0, NULL, &v, &st), TG_EINVAL);
    assert_int_equal(tg_ckpt_writer_add(w, "__metadata__", TG_DT_I32, 0, NULL, &v, &st), TG_EINVAL);
    assert_int_equal(tg_ckpt_writer_add(w, "bad\xff", TG_DT_I32, 0, NULL, &v, &st), TG_EINVAL);
    assert_msg_has(st.msg, "not valid UTF-8", NULL);
    assert_int_equal(tg_ckpt_writer_add(w, "x", TG_DT_COUNT, 0, NULL, &v, &st), TG_EINVAL);
    assert_int_equal(tg_ckpt_writer_add(w, "x", TG_DT_U8, 9, (size_t[9]){0}, &v, &st), TG_EINVAL);
    assert_int_equal(tg_ckpt_writer_add(w, "x", TG_DT_U64, 2, (size_t[]){SIZE_MAX, 2}, &v, &st),
                     TG_ERANGE);
    assert_int_equal(tg_ckpt_writer_meta(w, "k", "\xed\xa0\x80", &st), TG_EINVAL); /* a surrogate */
    assert_int_equal(tg_ckpt_writer_meta(w, "k", "v", &st), TG_OK);
    assert_int_equal(tg_ckpt_writer_meta(w, "k", "v", &st), TG_EINVAL);
    /* A clash part way through add_params leaves the writer as it was. */
    tg_params *ps = model(5, NULL);
    assert_int_equal(tg_ckpt_writer_add_params(w, ps, "model.", &st), TG_EINVAL);
    save_ok(w, in_dir("names.safetensors"));
    tg_ckpt *ck = open_ok(in_dir("names.safetensors"));
    assert_int_equal(tg_ckpt_count(ck), 1);
    tg_ckpt_close(ck);
    tg_params_free(ps);
    tg_ckpt_writer_free(w);
}

static void test_failed_save_leaves_previous_checkpoint_byte_identical(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 10);
    tg_params *a = model(5, &r), *b = model(5, &r);
    const char *path = in_dir("keep.safetensors");
    save_model(a, path, 0); /* the same size as b's, so len - 1 fails at the last byte */
    size_t len, len2;
    unsigned char *before = slurp(path, &len);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add_params(w, b, "model.", &st), TG_OK);
    size_t limits[] = {0, 5, 8, 40, len / 2, len - 1};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        tgi_ckpt_writer_fail_after(w, limits[i]);
        assert_int_equal(tg_ckpt_writer_save(w, path, &st), TG_EIO);
        assert_msg_has(st.msg, path, "No space left on device", "the previous file is unchanged",
                       NULL);
        unsigned char *after = slurp(path, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(after, before, len);
        free(after);
        assert_int_equal(temporaries_left(), 0);
    }
    tgi_ckpt_writer_fail_after(w, SIZE_MAX); /* the same writer then saves fine */
    save_ok(w, path);
    tg_ckpt *ck = open_ok(path);
    assert_int_equal(tg_ckpt_load_params(ck, a, "model.", &st), TG_OK);
    assert_memory_equal(tg_params_values(a), tg_params_values(b),
                        tg_params_numel(a) * sizeof(tg_real));
    tg_ckpt_close(ck);
    assert_int_equal(temporaries_left(), 0);
    free(before);
    tg_ckpt_writer_free(w);
    tg_params_free(a);
    tg_params_free(b);
}

static void test_save_into_a_missing_directory_fails_cleanly(void **s)
{
    (void)s;
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    const char *path = in_dir("no/such/dir.safetensors");
    assert_int_equal(tg_ckpt_writer_save(w, path, &st), TG_EIO);
    assert_msg_has(st.msg, path, "cannot create the temporary file", ".tmp.", "No such file", NULL);
    tg_ckpt_writer_free(w);
}

static void test_save_over_a_directory_removes_the_temporary(void **s)
{
    (void)s;
    const char *path = in_dir("adir");
    assert_int_equal(mkdir(path, 0700), 0);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_save(w, path, &st), TG_EIO);
    assert_msg_has(st.msg, "renaming the temporary file", NULL);
    assert_int_equal(temporaries_left(), 0);
    assert_int_equal(rmdir(path), 0);
    tg_ckpt_writer_free(w);
}

/* Item 7: the temporary file was opened with fopen("wb") at a predictable name, so a planted
 * link made a save overwrite another file. Plant links and files at every name a save could
 * pick next: the victim stays intact, and the save either succeeds at another name or fails. */
static void test_item7_temporary_is_created_exclusively_and_never_through_a_link(void **s)
{
    (void)s;
    const char *path = in_dir("victim_target.safetensors"), *victim = in_dir("victim.txt");
    spit(victim, "precious", 8);
    /* The pid part of the name is known; plant a link for each of the next counters. */
    for (unsigned n = 0; n < 64; n++) {
        char link[1100];
        snprintf(link, sizeof link, "%s.tmp.%ld.%u", path, (long)getpid(), n);
        assert_int_equal(symlink(victim, link), 0);
    }
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    int32_t v = 7;
    assert_int_equal(tg_ckpt_writer_add(w, "v", TG_DT_I32, 0, NULL, &v, &st), TG_OK);
    int rc = tg_ckpt_writer_save(w, path, &st);
    assert_true(rc == TG_OK || rc == TG_EIO);
    if (rc) assert_msg_has(st.msg, "cannot create the temporary file", "File exists", NULL);
    size_t len;
    unsigned char *p = slurp(victim, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(p, "precious", 8);
    free(p);
    tg_ckpt_writer_free(w);
    for (unsigned n = 0; n < 64; n++) {
        char link[1100];
        snprintf(link, sizeof link, "%s.tmp.%ld.%u", path, (long)getpid(), n);
        unlink(link);
    }
}

/* Item 7: after kill -9 during a save, 38 of 100 runs left "<path>.tmp.<pid>" behind. A save
 * removes the temporaries of its target left by processes that are gone, and keeps others. */
static void test_item7_stale_temporaries_of_a_killed_run_are_removed_by_the_next_save(void **s)
{
    (void)s;
    const char *path = in_dir("stale.safetensors");
    pid_t dead = fork(); /* a process that has exited: its pid names no running process */
    assert_true(dead >= 0);
    if (dead == 0) _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    char stale[1100], live[1100], other[1100];
    snprintf(stale, sizeof stale, "%s.tmp.%ld.3", path, (long)dead);
    snprintf(live, sizeof live, "%s.tmp.%ld.0", path, (long)getppid()); /* still running */
    snprintf(other, sizeof other, "%s.tmp.%ld.0", in_dir("another.safetensors"), (long)dead);
    spit(stale, "half a checkpoint", 17);
    spit(live, "in progress", 11);
    spit(other, "not ours", 8);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    save_ok(w, path);
    tg_ckpt_writer_free(w);
    struct stat sb;
    assert_int_equal(stat(stale, &sb), -1); /* removed */
    assert_int_equal(stat(live, &sb), 0);   /* its writer may still be saving */
    assert_int_equal(stat(other, &sb), 0);  /* another target's */
    unlink(live);
    unlink(other);
    assert_int_equal(temporaries_left(), 0);
}

/* Item 9: --save into a missing folder was found only after training. */
static void test_item9_a_save_into_a_missing_folder_is_found_before_training(void **s)
{
    (void)s;
    assert_int_equal(tg_ckpt_check_writable(in_dir("nope/x.safetensors"), &st), TG_EIO);
    assert_msg_has(st.msg, "nope/x.safetensors", "cannot be saved there", "No such file", NULL);
    assert_int_equal(tg_ckpt_check_writable(in_dir("fine.safetensors"), &st), TG_OK);
    assert_int_equal(temporaries_left(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_has_the_safetensors_layout),
        cmocka_unit_test(test_writer_rejects_bad_names),
        cmocka_unit_test(test_failed_save_leaves_previous_checkpoint_byte_identical),
        cmocka_unit_test(test_save_into_a_missing_directory_fails_cleanly),
        cmocka_unit_test(test_save_over_a_directory_removes_the_temporary),
        cmocka_unit_test(test_item7_temporary_is_created_exclusively_and_never_through_a_link),
        cmocka_unit_test(test_item7_stale_temporaries_of_a_killed_run_are_removed_by_the_next_save),
        cmocka_unit_test(test_item9_a_save_into_a_missing_folder_is_found_before_training),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
