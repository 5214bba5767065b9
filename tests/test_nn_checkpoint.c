/* test_nn_checkpoint.c: the glue between parameter stores and safetensors files
 * (nn/checkpoint.c): bit-exact round trips of a store, loads that refuse another model, a
 * wrong dtype or shape and leave the store unchanged, and reads of tensors. */
#include "ckpt_files.h"

#include <time.h>

static void test_params_store_round_trips_bit_exact(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 5);
    tg_params *a = model(5, &r), *b = model(5, NULL);
    tg_real *gb = tg_params_grads(b);
    gb[0] = 9;
    save_model(a, in_dir("model.safetensors"), 1);
    tg_ckpt *ck = open_ok(in_dir("model.safetensors"));
    assert_int_equal(tg_ckpt_load_params(ck, b, "model.", &st), TG_OK);
    assert_memory_equal(tg_params_values(b), tg_params_values(a),
                        tg_params_numel(a) * sizeof(tg_real));
    assert_true(gb[0] == 9); /* gradients are kept */
    assert_string_equal(tg_ckpt_meta(ck, "hidden"), "5");
    tg_ckpt_close(ck);
    tg_params_free(a);
    tg_params_free(b);
}

/* Load into a model that differs; the failure is rc, the message has `what`, b is unchanged. */
static void check_load_fails(tg_params *b, const char *prefix, int rc, const char *what,
                             const char *what2)
{
    size_t n = tg_params_numel(b) * sizeof(tg_real);
    tg_real *before = malloc(n);
    memcpy(before, tg_params_values(b), n);
    tg_ckpt *ck = open_ok(in_dir("model.safetensors"));
    assert_int_equal(tg_ckpt_load_params(ck, b, prefix, &st), rc);
    assert_msg_has(st.msg, in_dir("model.safetensors"), what, what2, NULL);
    assert_memory_equal(tg_params_values(b), before, n);
    tg_ckpt_close(ck);
    free(before);
}

static void test_load_params_rejects_another_model(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 6);
    tg_params *a = model(5, &r);
    save_model(a, in_dir("model.safetensors"), 1);

    tg_params *wider = model(6, &r);
    check_load_fails(wider, "model.", TG_ESHAPE, "wrong shape for 'model.rnn.weight_ih'",
                     "file has (15 x 4), model has (18 x 4)");
    tg_params *more = model(5, &r);
    add_param(more, "encoder.weight", 2, 2);
    check_load_fails(more, "model.", TG_ERANGE, "'model.encoder.weight' is not in the file",
                     "checkpoint of another model?");
    tg_params *fewer = tg_params_new();
    add_param(fewer, "rnn.weight_ih", 15, 4);
    add_param(fewer, "rnn.bias", 1, 15);
    fill_uniform(tg_params_values(fewer), tg_params_numel(fewer), &r, -1, 1);
    check_load_fails(fewer, "model.", TG_ERANGE,
                     "'model.decoder.weight' is in the file but not in the model",
                     "checkpoint of another model?");
    /* Without a prefix, the training state counts as unexpected names too. */
    tg_params *same = model(5, &r);
    check_load_fails(same, "", TG_ERANGE, ": 'rnn.weight_ih' is not in the file", "");
    tg_params_free(a);
    tg_params_free(wider);
    tg_params_free(more);
    tg_params_free(fewer);
    tg_params_free(same);
}

static void test_load_params_rejects_wrong_dtype(void **s)
{
    (void)s;
    int64_t ints[4] = {1, 2, 3, 4};
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add(w, "p", TG_DT_I64, 2, (size_t[]){2, 2}, ints, &st), TG_OK);
    save_ok(w, in_dir("model.safetensors"));
    tg_ckpt_writer_free(w);
    tg_params *ps = tg_params_new();
    add_param(ps, "p", 2, 2);
    check_load_fails(ps, NULL, TG_EINVAL, "tensor 'p' has dtype I64", "expected F32 or F64");
    tg_params_free(ps);
}

static void test_read_checks_name_dtype_and_count(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 8);
    tg_params *a = model(5, &r);
    save_model(a, in_dir("model.safetensors"), 1);
    tg_ckpt *ck = open_ok(in_dir("model.safetensors"));
    tg_real buf[64];
    uint64_t u;
    assert_int_equal(tg_ckpt_read_reals(ck, "nope", buf, 1, &st), TG_ERANGE);
    assert_msg_has(st.msg, "no tensor 'nope'", NULL);
    assert_int_equal(tg_ckpt_read(ck, "train.step", TG_DT_I64, &u, 1, &st), TG_EINVAL);
    assert_msg_has(st.msg, "'train.step' has dtype U64, expected I64", NULL);
    assert_int_equal(tg_ckpt_read_reals(ck, "model.rnn.bias", buf, 14, &st), TG_ESHAPE);
    assert_msg_has(st.msg, "'model.rnn.bias' has 15 elements", "14", NULL);
    tg_tensor x;
    tg_tensor_init(&x, 15, 1, buf, NULL); /* a 1-D file shape fits a row only */
    assert_int_equal(tg_ckpt_read_tensor(ck, "model.rnn.bias", &x, &st), TG_ESHAPE);
    assert_msg_has(st.msg, "file has (1 x 15), tensor has (15 x 1)", NULL);
    double d[15];
    assert_int_equal(tg_ckpt_read_float(ck, "model.rnn.bias", TG_DT_U64, d, 15, &st), TG_ENULL);
    assert_msg_has(st.msg, "tg_ckpt_read_float", "dtype not F32/F64", NULL);
    assert_int_equal(tg_ckpt_read_float(ck, "nope", TG_DT_F64, d, 1, &st), TG_ERANGE);
    assert_msg_has(st.msg, "no tensor 'nope'", NULL);
    assert_int_equal(tg_ckpt_read_float(ck, "model.rnn.bias", TG_DT_F64, d, 15, &st), TG_OK);
    tg_ckpt_close(ck);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add_tensor(w, "x", NULL, &st), TG_ENULL);
    assert_msg_has(st.msg, "tg_ckpt_writer_add_tensor: NULL tensor", NULL);
    tg_ckpt_writer_free(w);
    tg_params_free(a);
}

/* Item 9: NaN or infinite weights loaded silently (sampling then printed newlines). They are
 * refused, naming the tensor and the element, unless the file is opened for inspection. */
static void test_item9_non_finite_weights_are_refused_unless_asked_for(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 12);
    tg_params *a = model(3, &r), *b = model(3, NULL);
    tg_real *v = tg_params_values(a);
    v[5] = (tg_real)NAN;
    v[7] = (tg_real)INFINITY;
    const char *path = in_dir("nan.safetensors");
    save_model(a, path, 0);
    tg_ckpt *ck = open_ok(path);
    assert_int_equal(tg_ckpt_load_params(ck, b, "model.", &st), TG_EFORMAT);
    assert_msg_has(st.msg, path, "tensor 'model.rnn.weight_ih' element 5 is nan",
                   "TG_CKPT_NONFINITE_OK", NULL);
    assert_true(tg_params_values(b)[0] == 0); /* unchanged */
    tg_ckpt_close(ck);
    assert_int_equal(tg_ckpt_open(&ck, path, TG_CKPT_NONFINITE_OK, &st), TG_OK);
    assert_int_equal(tg_ckpt_load_params(ck, b, "model.", &st), TG_OK);
    assert_true(isnan(tg_params_values(b)[5]) && isinf(tg_params_values(b)[7]));
    tg_ckpt_close(ck);
    tg_params_free(a);
    tg_params_free(b);
}

/* Item 5: adding parameters was quadratic (a name scan and a whole-block copy per add): 30,000
 * layers took a minute. 100,000 adds must now take well under a second. */
static void test_item5_adding_many_parameters_is_not_quadratic(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    clock_t t0 = clock();
    for (size_t i = 0; i < 100000; i++) {
        char name[32];
        snprintf(name, sizeof name, "l%zu.w", i);
        add_param(ps, name, 1, 2);
    }
    for (size_t i = 0; i < 100000; i += 997) {
        char name[32];
        snprintf(name, sizeof name, "l%zu.w", i);
        assert_true(tg_params_find(ps, name) == tg_params_get(ps, i));
        assert_true(tg_params_get(ps, i)->val == tg_params_values(ps) + 2 * i);
    }
    assert_null(tg_params_find(ps, "l100000.w"));
    tg_tensor *x;
    assert_int_equal(tg_params_add(ps, "l5.w", 1, 1, &x, NULL), TG_EINVAL); /* a duplicate */
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (secs > 2) fail_msg("100,000 adds took %.1f s of CPU", secs);
    tg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_store_round_trips_bit_exact),
        cmocka_unit_test(test_load_params_rejects_another_model),
        cmocka_unit_test(test_load_params_rejects_wrong_dtype),
        cmocka_unit_test(test_read_checks_name_dtype_and_count),
        cmocka_unit_test(test_item9_non_finite_weights_are_refused_unless_asked_for),
        cmocka_unit_test(test_item5_adding_many_parameters_is_not_quadratic),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
