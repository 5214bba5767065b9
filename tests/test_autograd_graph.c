/* test_autograd_graph.c: tg_tape_print and tg_tape_dot on a tiny recording, read back from a
 * temporary file. */
#include "testutil.h"

#include <math.h>
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

/* What dot or print (with flags) produced, as a heap string; asserts it returned TG_OK. */
static char *capture(const tg_tape *t, int dot, int flags)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(dot ? tg_tape_dot(t, f, flags) : tg_tape_print_flags(t, f, flags), TG_OK);
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

/* y = b + x·Wᵀ (one tg_addmm), its columns [2, 4), then y2 = s + s ⊙ s (one tg_addcmul) and
 * the cross-entropy of y2 against targets {1, 0}, after backward. */
typedef struct {
    tg_tape *t;
    tg_tensor *W, *b, *x, *y, *loss;
} fused;

static fused record_fused(void)
{
    static const int32_t targets[2] = {1, 0};
    fused f = {tg_tape_new(), tg_tensor_new(4, 2, 1), tg_tensor_new(1, 4, 1), NULL, NULL, NULL};
    f.x = tg_input(f.t, 2, 2, (const tg_real[]){-1.5, -0.5, 0.5, 1.5});
    f.W->name = "W", f.b->name = "b";
    for (size_t i = 0; i < 8; i++) f.W->val[i] = (tg_real)(0.1 * ((double)i - 3));
    for (size_t i = 0; i < 4; i++) f.b->val[i] = (tg_real)(0.25 * (double)i);
    f.y = tg_addmm(f.t, f.b, f.x, f.W, TG_TRANS_B);
    tg_tensor *s = tg_label(tg_slice_cols(f.t, f.y, 2, 2), "right");
    f.loss = tg_softmax_xent(f.t, tg_addcmul(f.t, s, s, s), targets, 2);
    assert_int_equal(tg_backward(f.t, f.loss), TG_OK);
    return f;
}

static void release_fused(fused *f)
{
    tg_tape_free(f->t);
    tg_tensor_free(f->W);
    tg_tensor_free(f->b);
}

static void test_print_shows_slice_ranges_and_transposed_inputs(void **s)
{
    (void)s;
    fused f = record_fused();
    char *out = capture(f.t, 0, 0);
    assert_has(out, "  0  tg_addmm  in: leaf(2x2) leaf(W 4x2)ᵀ leaf(b 1x4)  ->  (2 x 4)\n");
    assert_has(out, "  1  tg_slice_cols [2, 4) (right)  in: #0  ->  (2 x 2)\n");
    assert_has(out, "  2  tg_addcmul  in: #1 #1 #1  ->  (2 x 2)\n");
    assert_has(out, "  3  tg_softmax_xent  in: #2  ->  (1 x 1)\n");
    free(out);
    release_fused(&f);
}

static void test_print_unfused_shows_the_ops_a_learner_expects(void **s)
{
    (void)s;
    fused f = record_fused();
    char *out = capture(f.t, 0, TG_UNFUSED);
    assert_string_equal(out, "  0a tg_matmul  in: leaf(2x2) leaf(W 4x2)ᵀ  ->  (2 x 4)\n"
                             "  0  tg_add  in: #0a leaf(b 1x4)  ->  (2 x 4)\n"
                             "  1  tg_slice_cols [2, 4) (right)  in: #0  ->  (2 x 2)\n"
                             "  2a tg_mul  in: #1 #1  ->  (2 x 2)\n"
                             "  2  tg_add  in: #1 #2a  ->  (2 x 2)\n"
                             "  3a tg_softmax  in: #2  ->  (2 x 2)\n"
                             "  3  nll (mean −log p[target])  in: #3a  ->  (1 x 1)\n");
    free(out);
    release_fused(&f);
}

/* The parts' values are computed for display: x·Wᵀ, s ⊙ s, the softmax; their gradients are
 * the node's, and d(nll)/dp = −1 / (n·p) at the targets. */
static void test_dot_unfused_shows_the_parts_values_and_gradients(void **s)
{
    (void)s;
    fused f = record_fused();
    char *out = capture(f.t, 1, TG_UNFUSED | TG_DOT_VALUES);
    char want[256];
    const tg_real *p = f.y->val, *g = f.y->grad;
    snprintf(want, sizeof want, "n0a [shape=ellipse, label=\"tg_matmul\\n‖value‖₂ = %.4g",
             sqrt(pow(p[0], 2) + pow(p[1] - 0.25, 2) + pow(p[2] - 0.5, 2) + pow(p[3] - 0.75, 2) +
                  pow(p[4], 2) + pow(p[5] - 0.25, 2) + pow(p[6] - 0.5, 2) + pow(p[7] - 0.75, 2)));
    assert_has(out, want);
    assert_has(out, "  n0a -> n0 [label=\"2 x 4\"];");
    assert_has(out, "  l1 -> n0a [label=\"4 x 2, used ᵀ\"];");
    double gn = 0;
    for (size_t i = 0; i < 8; i++) gn += (double)g[i] * g[i];
    snprintf(want, sizeof want, "\\n‖grad‖₂ = %.4g\"];\n  l0 [", sqrt(gn)); /* the product's */
    assert_has(out, want);
    const tg_real *sv = tg_tape_node(f.t, 1)->val; /* s = y[:, 2:4] */
    snprintf(want, sizeof want, "label=\"tg_mul\\nvalue [%.4g %.4g %.4g %.4g]", sv[0] * sv[0],
             sv[1] * sv[1], sv[2] * sv[2], sv[3] * sv[3]);
    assert_has(out, want);
    const tg_real *m = tg_tape_node(f.t, 2)->val; /* softmax of the rows of s + s ⊙ s */
    double p01 = 1 / (1 + exp(m[0] - m[1])), p10 = 1 / (1 + exp(m[3] - m[2]));
    snprintf(want, sizeof want,
             "label=\"tg_softmax\\nvalue [%.4g %.4g %.4g %.4g]\\ngrad [0 %.4g %.4g 0]", 1 - p01,
             p01, p10, 1 - p10, -1 / (2 * p01), -1 / (2 * p10));
    assert_has(out, want);
    free(out);
    release_fused(&f);
}

/* The largest gradient on the tape is dark red, the smallest pale yellow, none unfilled. */
static void test_dot_colours_nodes_by_gradient_norm(void **s)
{
    (void)s;
    tg_tape *t = tg_tape_new();
    tg_real va = 3, ga = 0;
    tg_tensor a;
    tg_tensor_init(&a, 1, 1, &va, &ga);
    tg_tensor *c = tg_input(t, 1, 1, (const tg_real[]){2});
    tg_tensor *loss = tg_scale(t, tg_mul(t, tg_scale(t, &a, 0.01), c), 100);
    assert_int_equal(tg_backward(t, loss), TG_OK);
    char *out = capture(t, 1, TG_DOT_COLOUR_GRADS);
    assert_has(out, "label=\"fill: ‖grad‖₂ on a log scale, pale 1 to dark red 200\"");
    /* gradients: a·0.01 200, its product with c 100, the loss 1 */
    assert_has(out, "n0 [shape=ellipse, label=\"tg_scale\", style=filled, fillcolor=\"#bd0026\", "
                    "fontcolor=white]");
    assert_has(out, "n2 [shape=ellipse, label=\"tg_scale\", style=filled, fillcolor=\"#ffffcc\"]");
    assert_has(out, "label=\"leaf\\n(1 x 1)\"];"); /* c has no gradient: no fill */
    free(out);
    tg_tape_free(t);
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
        cmocka_unit_test(test_print_shows_slice_ranges_and_transposed_inputs),
        cmocka_unit_test(test_print_unfused_shows_the_ops_a_learner_expects),
        cmocka_unit_test(test_dot_unfused_shows_the_parts_values_and_gradients),
        cmocka_unit_test(test_dot_colours_nodes_by_gradient_norm),
        cmocka_unit_test(test_print_and_dot_report_a_failed_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
