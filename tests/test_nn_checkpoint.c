/* test_nn_checkpoint.c: safetensors checkpoints: bit-exact round trips of arrays, metadata
 * and parameter stores; every way a file can be damaged, each read through its message; and
 * atomic saves that leave the previous file byte-identical when they fail part way. Files live
 * in a mkdtemp directory that the group teardown removes. */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include "nn/checkpoint_internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

/* dir/name in a static buffer (one of four, so a call can use two paths). */
static const char *in_dir(const char *name)
{
    static char bufs[4][1024];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

static int make_dir(void **s)
{
    (void)s;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/tg_ckpt_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **s)
{
    (void)s;
    DIR *d = opendir(dir);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) remove(in_dir(e->d_name));
    closedir(d);
    return rmdir(dir);
}

/* The message contains every one of the NULL-terminated substrings. */
static void assert_msg_has(const char *msg, ...)
{
    if (!msg) fail_msg("expected an error message, found none");
    va_list ap;
    va_start(ap, msg);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(msg, s)) fail_msg("message \"%s\" does not mention \"%s\"", msg, s);
    va_end(ap);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *p = malloc(1 << 20);
    assert_non_null(p);
    *len = fread(p, 1, 1 << 20, f);
    fclose(f);
    return p;
}

static void spit(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A file with the given header (not padded) and `data` zero bytes after it. */
static void spit_raw(const char *path, const char *json, size_t data)
{
    size_t n = strlen(json);
    unsigned char *p = calloc(8 + n + data + 1, 1);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(p + 8, json, n);
    spit(path, p, 8 + n + data);
    free(p);
}

/* Open must fail with TG_EFORMAT and a message naming the file and each substring. */
#define assert_open_fails(path, ...)                                                               \
    do {                                                                                           \
        tg_ckpt *ck_ = (tg_ckpt *)1;                                                               \
        char err_[TG_CKPT_ERRLEN];                                                                 \
        assert_int_equal(tg_ckpt_open(&ck_, path, err_, sizeof err_), TG_EFORMAT);                 \
        assert_null(ck_);                                                                          \
        assert_msg_has(err_, path, __VA_ARGS__, NULL);                                             \
    } while (0)

static tg_ckpt *open_ok(const char *path)
{
    tg_ckpt *ck;
    char err[TG_CKPT_ERRLEN];
    int rc = tg_ckpt_open(&ck, path, err, sizeof err);
    if (rc) fail_msg("tg_ckpt_open: %s: %s", tg_strerror(rc), err);
    return ck;
}

static void save_ok(tg_ckpt_writer *w, const char *path)
{
    int rc = tg_ckpt_writer_save(w, path);
    if (rc) fail_msg("save: %s: %s", tg_strerror(rc), tg_ckpt_writer_error(w));
}

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
    assert_int_equal(tg_ckpt_writer_add(w, "w", TG_DT_REAL, 2, (size_t[]){2, 3}, vals), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "rng", TG_DT_U64, 1, (size_t[]){4}, rng_state), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "step", TG_DT_I64, 0, NULL, &step), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "ids", TG_DT_I32, 1, (size_t[]){5}, ids), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "empty", TG_DT_F64, 2, (size_t[]){0, 5}, NULL), TG_OK);
    assert_int_equal(tg_ckpt_writer_meta(w, "vocab", tricky), TG_OK);
    assert_int_equal(tg_ckpt_writer_meta(w, "k\xc3\xa9y \"2\"", ""), TG_OK);
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
    assert_int_equal(tg_ckpt_read_reals(ck, "w", vals2, 6), TG_OK);
    assert_int_equal(tg_ckpt_read(ck, "rng", TG_DT_U64, rng2, 4), TG_OK);
    assert_int_equal(tg_ckpt_read(ck, "step", TG_DT_I64, &step2, 1), TG_OK);
    assert_int_equal(tg_ckpt_read(ck, "ids", TG_DT_I32, ids2, 5), TG_OK);
    assert_int_equal(tg_ckpt_read(ck, "empty", TG_DT_F64, NULL, 0), TG_OK);
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

static void test_file_has_the_safetensors_layout(void **s)
{
    (void)s;
    double d[3] = {0.1, -2.5, 1e300};
    float f[2] = {0.25f, -1.0f / 3.0f};
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add(w, "d", TG_DT_F64, 1, (size_t[]){3}, d), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "f", TG_DT_F32, 2, (size_t[]){1, 2}, f), TG_OK);
    save_ok(w, in_dir("layout.safetensors"));
    tg_ckpt_writer_free(w);
    size_t len;
    unsigned char *p = slurp(in_dir("layout.safetensors"), &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | p[i];
    assert_int_equal(n % 8, 0);
    assert_int_equal(len, 8 + n + 3 * 8 + 2 * 4);
    assert_int_equal(p[8], '{');
    const char *want = "{\"d\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]},"
                       "\"f\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[24,32]}}";
    assert_memory_equal(p + 8, want, strlen(want));
    for (size_t i = strlen(want); i < n; i++) assert_int_equal(p[8 + i], ' ');
    assert_int_equal(p[8 + n + 24 + 3], 0x3e); /* 0.25f = 0x3e800000, little-endian */
    free(p);

    /* F64 and F32 both read into tg_real. */
    tg_ckpt *ck = open_ok(in_dir("layout.safetensors"));
    tg_real r[3];
    tg_tensor x;
    tg_tensor_init(&x, 1, 2, r, NULL);
    assert_int_equal(tg_ckpt_read_reals(ck, "d", r, 3), TG_OK);
    assert_true(r[0] == (tg_real)0.1 && r[1] == (tg_real)-2.5);
    assert_int_equal(tg_ckpt_read_tensor(ck, "f", &x), TG_OK);
    assert_true(r[0] == (tg_real)0.25f && r[1] == (tg_real)(-1.0f / 3.0f));
    tg_ckpt_close(ck);
}

static tg_params *model(size_t hidden, tg_rng *r)
{
    tg_params *ps = tg_params_new();
    assert_non_null(ps);
    assert_non_null(tg_params_add(ps, "rnn.weight_ih", 3 * hidden, 4));
    assert_non_null(tg_params_add(ps, "rnn.bias", 1, 3 * hidden));
    assert_non_null(tg_params_add(ps, "decoder.weight", 7, hidden));
    if (r) fill_uniform(tg_params_values(ps), tg_params_numel(ps), r, -1, 1);
    return ps;
}

static void save_model(const tg_params *ps, const char *path, int with_state)
{
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add_params(w, ps, "model."), TG_OK);
    if (with_state) {
        uint64_t step = 42;
        assert_int_equal(tg_ckpt_writer_add(w, "train.step", TG_DT_U64, 0, NULL, &step), TG_OK);
        assert_int_equal(tg_ckpt_writer_meta(w, "hidden", "5"), TG_OK);
    }
    save_ok(w, path);
    tg_ckpt_writer_free(w);
}

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
    assert_int_equal(tg_ckpt_load_params(ck, b, "model."), TG_OK);
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
    assert_int_equal(tg_ckpt_load_params(ck, b, prefix), rc);
    assert_msg_has(tg_ckpt_error(ck), in_dir("model.safetensors"), what, what2, NULL);
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
    assert_non_null(tg_params_add(more, "encoder.weight", 2, 2));
    check_load_fails(more, "model.", TG_ERANGE, "'model.encoder.weight' is not in the file",
                     "checkpoint of another model?");
    tg_params *fewer = tg_params_new();
    assert_non_null(tg_params_add(fewer, "rnn.weight_ih", 15, 4));
    assert_non_null(tg_params_add(fewer, "rnn.bias", 1, 15));
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
    assert_int_equal(tg_ckpt_writer_add(w, "p", TG_DT_I64, 2, (size_t[]){2, 2}, ints), TG_OK);
    save_ok(w, in_dir("model.safetensors"));
    tg_ckpt_writer_free(w);
    tg_params *ps = tg_params_new();
    assert_non_null(tg_params_add(ps, "p", 2, 2));
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
    assert_int_equal(tg_ckpt_read_reals(ck, "nope", buf, 1), TG_ERANGE);
    assert_msg_has(tg_ckpt_error(ck), "no tensor 'nope'", NULL);
    assert_int_equal(tg_ckpt_read(ck, "train.step", TG_DT_I64, &u, 1), TG_EINVAL);
    assert_msg_has(tg_ckpt_error(ck), "'train.step' has dtype U64, expected I64", NULL);
    assert_int_equal(tg_ckpt_read_reals(ck, "model.rnn.bias", buf, 14), TG_ESHAPE);
    assert_msg_has(tg_ckpt_error(ck), "'model.rnn.bias' has 15 elements", "14", NULL);
    tg_tensor x;
    tg_tensor_init(&x, 15, 1, buf, NULL); /* a 1-D file shape fits a row only */
    assert_int_equal(tg_ckpt_read_tensor(ck, "model.rnn.bias", &x), TG_ESHAPE);
    assert_msg_has(tg_ckpt_error(ck), "file has (1 x 15), tensor has (15 x 1)", NULL);
    tg_ckpt_close(ck);
    tg_params_free(a);
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
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", "expected ',' or '}'"},
        {"{\"a\": tru}", "unexpected character at byte 14"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1]}}", "negative number"},
        {"{\"a\":{\"shape\":[1.5]}}", "not an integer"},
        {"{\"a\":{}} x", "text after the value"},
        {"{\"a\\q\":{}}", "unknown escape"},
        {"{\"\\ud800x\":{}}", "high surrogate"},
        {"{\"a\n\":{}}", "control character"},
        {"{\"a\":{\"shape\":[99999999999999999999]}}", "integer too large"},
        {"", "unexpected end of text at byte 8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spit_raw(path, cases[i].json, 4);
        assert_open_fails(path, "header is not valid JSON", cases[i].problem);
    }
    char deep[200];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    spit_raw(path, deep, 0);
    assert_open_fails(path, "nested too deeply");
    spit_raw(path, "[1, 2]", 0);
    assert_open_fails(path, "header is not a JSON object");
    spit_raw(path, "{\"a\":[1]}", 0);
    assert_open_fails(path, "tensor 'a' (byte 13): entry is not an object");
    spit_raw(path, "{\"__metadata__\":{\"k\":1}}", 0);
    assert_open_fails(path, "__metadata__ value of 'k' (byte 29) is not a string");
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
         "tensor 'a' (byte 22): unknown dtype \"F17\""},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a' (byte 13): no \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         "\"shape\" is not an array of at most 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
         "tensor 'a' (byte 13): \"data_offsets\" is not a pair"},
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
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
         "\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}",
         0, "tensor 'a' appears twice"},
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
    spit_raw(path, "{\"a\\u0000\":{}}", 0);
    assert_open_fails(path, "\\u0000 in a string");
    spit_raw(path, "{\"\\udc00\":{}}", 0);
    assert_open_fails(path, "lone low surrogate");
}

static void test_open_reports_a_missing_file(void **s)
{
    (void)s;
    tg_ckpt *ck;
    char err[TG_CKPT_ERRLEN];
    assert_int_equal(tg_ckpt_open(&ck, in_dir("absent.safetensors"), err, sizeof err), TG_EIO);
    assert_null(ck);
    assert_msg_has(err, "absent.safetensors: cannot open: No such file", NULL);
}

static void test_writer_rejects_bad_names(void **s)
{
    (void)s;
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    int32_t v = 1;
    assert_int_equal(tg_ckpt_writer_add(w, "model.rnn.bias", TG_DT_I32, 0, NULL, &v), TG_OK);
    assert_int_equal(tg_ckpt_writer_add(w, "model.rnn.bias", TG_DT_I32, 0, NULL, &v), TG_EINVAL);
    assert_msg_has(tg_ckpt_writer_error(w), "name 'model.rnn.bias' is already used", NULL);
    assert_int_equal(tg_ckpt_writer_add(w, "", TG_DT_I32, 0, NULL, &v), TG_EINVAL);
    assert_int_equal(tg_ckpt_writer_add(w, "__metadata__", TG_DT_I32, 0, NULL, &v), TG_EINVAL);
    assert_int_equal(tg_ckpt_writer_add(w, "bad\xff", TG_DT_I32, 0, NULL, &v), TG_EINVAL);
    assert_msg_has(tg_ckpt_writer_error(w), "not valid UTF-8", NULL);
    assert_int_equal(tg_ckpt_writer_add(w, "x", TG_DT_COUNT, 0, NULL, &v), TG_EINVAL);
    assert_int_equal(tg_ckpt_writer_add(w, "x", TG_DT_U8, 9, (size_t[9]){0}, &v), TG_EINVAL);
    assert_int_equal(tg_ckpt_writer_add(w, "x", TG_DT_U64, 2, (size_t[]){SIZE_MAX, 2}, &v),
                     TG_ERANGE);
    assert_int_equal(tg_ckpt_writer_meta(w, "k", "\xed\xa0\x80"), TG_EINVAL); /* a surrogate */
    assert_int_equal(tg_ckpt_writer_meta(w, "k", "v"), TG_OK);
    assert_int_equal(tg_ckpt_writer_meta(w, "k", "v"), TG_EINVAL);
    /* A clash part way through add_params leaves the writer as it was. */
    tg_params *ps = model(5, NULL);
    assert_int_equal(tg_ckpt_writer_add_params(w, ps, "model."), TG_EINVAL);
    save_ok(w, in_dir("names.safetensors"));
    tg_ckpt *ck = open_ok(in_dir("names.safetensors"));
    assert_int_equal(tg_ckpt_count(ck), 1);
    tg_ckpt_close(ck);
    tg_params_free(ps);
    tg_ckpt_writer_free(w);
}

/* Names in dir containing ".tmp." */
static int temporaries_left(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
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
    assert_int_equal(tg_ckpt_writer_add_params(w, b, "model."), TG_OK);
    size_t limits[] = {0, 5, 8, 40, len / 2, len - 1};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        tgi_ckpt_writer_fail_after(w, limits[i]);
        assert_int_equal(tg_ckpt_writer_save(w, path), TG_EIO);
        assert_msg_has(tg_ckpt_writer_error(w), path, "No space left on device",
                       "the previous file is unchanged", NULL);
        unsigned char *after = slurp(path, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(after, before, len);
        free(after);
        assert_int_equal(temporaries_left(), 0);
    }
    tgi_ckpt_writer_fail_after(w, SIZE_MAX); /* the same writer then saves fine */
    save_ok(w, path);
    tg_ckpt *ck = open_ok(path);
    assert_int_equal(tg_ckpt_load_params(ck, a, "model."), TG_OK);
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
    assert_int_equal(tg_ckpt_writer_save(w, path), TG_EIO);
    assert_msg_has(tg_ckpt_writer_error(w), path, "cannot create the temporary file", ".tmp.",
                   "No such file", NULL);
    tg_ckpt_writer_free(w);
}

static void test_save_over_a_directory_removes_the_temporary(void **s)
{
    (void)s;
    const char *path = in_dir("adir");
    assert_int_equal(mkdir(path, 0700), 0);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_save(w, path), TG_EIO);
    assert_msg_has(tg_ckpt_writer_error(w), "renaming the temporary file", NULL);
    assert_int_equal(temporaries_left(), 0);
    assert_int_equal(rmdir(path), 0);
    tg_ckpt_writer_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arrays_and_metadata_round_trip_bit_exact),
        cmocka_unit_test(test_file_has_the_safetensors_layout),
        cmocka_unit_test(test_params_store_round_trips_bit_exact),
        cmocka_unit_test(test_load_params_rejects_another_model),
        cmocka_unit_test(test_load_params_rejects_wrong_dtype),
        cmocka_unit_test(test_read_checks_name_dtype_and_count),
        cmocka_unit_test(test_open_rejects_truncated_files),
        cmocka_unit_test(test_open_rejects_bad_header_json),
        cmocka_unit_test(test_open_rejects_absurd_header_length),
        cmocka_unit_test(test_open_rejects_bad_entries_and_offsets),
        cmocka_unit_test(test_open_decodes_json_escapes),
        cmocka_unit_test(test_open_reports_a_missing_file),
        cmocka_unit_test(test_writer_rejects_bad_names),
        cmocka_unit_test(test_failed_save_leaves_previous_checkpoint_byte_identical),
        cmocka_unit_test(test_save_into_a_missing_directory_fails_cleanly),
        cmocka_unit_test(test_save_over_a_directory_removes_the_temporary),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
