/* test_autograd_graph.c: tg_tape_print and tg_tape_dot on a tiny recording, read back from a
 * temporary file. */
#include "testutil.h"

#include <stdlib.h>

/* The recording: m = a ⊙ b, s = m + a, q = s ⊙ s, loss = sum(q); a is a named parameter of
 * ones, used twice, b an unnamed input. Seven inputs in all, two leaves. */
typedef struct {
    tg_tape *t;
    tg_tensor *a, *loss;
} fixture;

static fixture record(void)
{
    fixture f = {tg_tape_new(), tg_tensor_new(2, 3, 1), NULL};
    for (size_t i = 0; i < 6; i++) f.a->val[i] = 1;
    f.a->name = "a";
    tg_tensor *b = tg_input(f.t, 2, 3, NULL);
    tg_tensor *m = tg_mul(f.t, f.a, b);
    tg_tensor *sum = tg_add(f.t, m, f.a);
    f.loss = tg_sum(f.t, tg_mul(f.t, sum, sum));
    assert_non_null(f.loss);
    return f;
}

static void release(fixture *f)
{
    tg_tape_free(f->t);
    tg_tensor_free(f->a);
}

/* What the writer produced, as a heap string; asserts it returned TG_OK. */
static char *capture(const tg_tape *t, int dot, int flags)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(dot ? tg_tape_dot(t, f, flags) : tg_tape_print(t, f), TG_OK);
    long size = ftell(f);
    assert_true(size > 0);
    char *s = calloc((size_t)size + 1, 1);
    assert_non_null(s);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return s;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

static void assert_has(const char *s, const char *what)
{
    if (!s || !strstr(s, what)) fail_msg("output does not contain \"%s\":\n%s", what, s ? s : "");
}

static void test_print_shows_each_op_its_inputs_and_its_shape(void **s)
{
    (void)s;
    fixture f = record();
    char *out = capture(f.t, 0, 0);
    assert_int_equal(count(out, "\n"), 4); /* one line per node */
    assert_has(out, "  0  tg_mul  in: leaf(a 2x3) leaf(2x3)  ->  (2 x 3)");
    assert_has(out, "  1  tg_add  in: #0 leaf(a 2x3)  ->  (2 x 3)");
    assert_has(out, "  2  tg_mul  in: #1 #1  ->  (2 x 3)");
    assert_has(out, "  3  tg_sum  in: #2  ->  (1 x 1)");
    free(out);
    release(&f);
}

static void test_dot_is_a_digraph_with_one_edge_per_input(void **s)
{
    (void)s;
    fixture f = record();
    char *out = capture(f.t, 1, 0);
    assert_true(strncmp(out, "digraph", 7) == 0);
    assert_true(out[strlen(out) - 2] == '}');
    assert_int_equal(count(out, "->"), 7);
    assert_int_equal(count(out, "shape=ellipse"), 4);
    assert_int_equal(count(out, "shape=box"), 2); /* each leaf declared once */
    assert_has(out, "label=\"tg_mul\"");
    assert_has(out, "label=\"a\\n(2 x 3)\"");
    assert_has(out, "label=\"leaf\\n(2 x 3)\"");
    assert_int_equal(count(out, "[label=\"2 x 3\"]"), 7); /* every input is (2 x 3) */
    assert_has(out, "l0 -> n1");                          /* a's second use points at its one box */
    assert_int_equal(count(out, "[label=\"1 x 1\"]"), 0);
    assert_int_equal(count(out, "‖"), 0);
    free(out);
    release(&f);
}

static void test_dot_with_norms_labels_values_and_gradients(void **s)
{
    (void)s;
    fixture f = record();
    assert_int_equal(tg_backward(f.t, f.loss), TG_OK);
    char *out = capture(f.t, 1, TG_DOT_NORMS);
    assert_has(out, "‖value‖₂ = 2.449"); /* a: six ones, sqrt(6) */
    assert_has(out, "‖grad‖₂ = ");
    assert_has(out, "no grad"); /* b is an input */
    free(out);
    release(&f);
}

/* a = -4 times b = 2: the picture must keep the signs (-4, and a's gradient b = 2; b's -4). */
static void test_dot_with_values_shows_small_tensors_signed(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_real va = -4, vb = 2, ga = 0, gb = 0;
    tg_tensor a, b;
    tg_tensor_init(&a, 1, 1, &va, &ga);
    tg_tensor_init(&b, 1, 1, &vb, &gb);
    a.name = "a";
    assert_int_equal(tg_backward(t, tg_mul(t, &a, &b)), TG_OK);
    char *out = capture(t, 1, TG_DOT_VALUES);
    assert_has(out, "label=\"a\\n(1 x 1)\\nvalue -4\\ngrad 2\"");
    assert_has(out, "\\nvalue 2\\ngrad -4\"");
    assert_has(out, "label=\"tg_mul\\nvalue -8\\ngrad 1\"");
    free(out);
    tg_tape_free(t);
}

static void test_dot_with_values_shows_norms_past_six_elements(void **s)
{
    (void)s;
    fixture f = record();
    tg_tensor *wide = tg_concat_cols(f.t, 2, (tg_tensor *[]){f.a, f.a}); /* 12 ones */
    assert_non_null(wide);
    char *out = capture(f.t, 1, TG_DOT_VALUES);
    assert_has(out, "\\nvalue [1 1 1 1 1 1]\\ngrad [0 0 0 0 0 0]");
    assert_has(out, "\\n‖value‖₂ = 3.464");
    free(out);
    release(&f);
}

static void test_dot_escapes_quotes_in_names(void **s)
{
    (void)s;
    fixture f = record();
    f.a->name = "say \"hi\"";
    char *out = capture(f.t, 1, 0);
    assert_has(out, "label=\"say \\\"hi\\\"\\n(2 x 3)\"");
    free(out);
    release(&f);
}

static void test_print_and_dot_report_a_failed_write(void **s)
{
    (void)s;
    fixture f = record();
    FILE *ro = fopen("/dev/null", "r"); /* every write fails */
    assert_non_null(ro);
    assert_int_equal(tg_tape_print(f.t, ro), TG_EIO);
    clearerr(ro);
    assert_int_equal(tg_tape_dot(f.t, ro, TG_DOT_NORMS), TG_EIO);
    fclose(ro);
    release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_shows_each_op_its_inputs_and_its_shape),
        cmocka_unit_test(test_dot_is_a_digraph_with_one_edge_per_input),
        cmocka_unit_test(test_dot_with_norms_labels_values_and_gradients),
        cmocka_unit_test(test_dot_with_values_shows_small_tensors_signed),
        cmocka_unit_test(test_dot_with_values_shows_norms_past_six_elements),
        cmocka_unit_test(test_dot_escapes_quotes_in_names),
        cmocka_unit_test(test_print_and_dot_report_a_failed_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
