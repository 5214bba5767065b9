/* test_autograd_walk.c: tg_walk_backward's story checked against the gradients it tells of,
 * and labels. The walk is written to a temporary file and read back. */
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* README's expression: c = a + b, d = a*b + b*b, e = tanh(c * d/10), a = -4, b = 2. */
typedef struct {
    tg_tape *t;
    tg_tensor *a, *b, *e;
} expr;

static expr record_expression(void)
{
    expr x = {tg_tape_new(), tg_tensor_new(1, 1, 1), tg_tensor_new(1, 1, 1), NULL};
    x.a->val[0] = -4, x.b->val[0] = 2;
    tg_label(x.a, "a"), tg_label(x.b, "b");
    tg_tensor *c = tg_label(tg_add(x.t, x.a, x.b), "c");
    tg_tensor *ab = tg_mul(x.t, x.a, x.b), *bb = tg_mul(x.t, x.b, x.b);
    tg_tensor *d = tg_label(tg_add(x.t, ab, bb), "d");
    x.e = tg_label(tg_tanh(x.t, tg_mul(x.t, c, tg_scale(x.t, d, 0.1))), "e");
    assert_non_null(x.e);
    return x;
}

static void release(expr *x)
{
    tg_tape_free(x->t);
    tg_tensor_free(x->a);
    tg_tensor_free(x->b);
}

/* The walk's text as a heap string; asserts the walk returned TG_OK. */
static char *walk(tg_tape *t, tg_tensor *loss)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(tg_walk_backward(t, loss, f), TG_OK);
    long size = ftell(f);
    char *s = calloc((size_t)size + 1, 1);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return s;
}

/* The numbers of a printed value ("0.5" or "[1 -2 3]") from s on, up to n; how many were read. */
static size_t numbers(const char *s, double *v, size_t n)
{
    size_t k = 0;
    s += strspn(s, " [");
    for (char *end; k < n && *s != ']' && *s != '\n'; s = end + strspn(end, " ")) {
        v[k] = strtod(s, &end);
        if (end == s) break;
        k++;
    }
    return k;
}

static int close_to(double want, double got)
{
    return fabs(want - got) <= 1e-3 * (fabs(want) + fabs(got)) + 1e-6;
}

/* The tensor a "to REF:" line names: "#k" a node of t, "leaf NAME" one of the leaves. */
static tg_tensor *receiver(const expr *x, const char *ref)
{
    if (ref[0] == '#') return tg_tape_node(x->t, strtoul(ref + 1, NULL, 10));
    if (strncmp(ref, "leaf ", 5) != 0 || (ref[6] != ':' && ref[6] != ' ')) return NULL;
    return ref[5] == 'a' ? x->a : ref[5] == 'b' ? x->b : NULL;
}

/* Checks one "to REF: upstream U × local L = downstream D" line; adds D into sums[REF]. */
static void check_line(const expr *x, const char *line, double *node_sums, double *leaf_sums)
{
    const char *ref = strstr(line, "to ") + 3, *up = strstr(line, "upstream ");
    const char *loc = strstr(line, "× local "), *down = strstr(line, "downstream ");
    double u = 0, l = 0, d = 0;
    assert_non_null(up), assert_non_null(loc), assert_non_null(down);
    assert_int_equal(numbers(up + 9, &u, 1), 1);
    assert_int_equal(numbers(loc + strlen("× local "), &l, 1), 1);
    assert_int_equal(numbers(down + 11, &d, 1), 1);
    assert_true(close_to(u * l, d));
    tg_tensor *r = receiver(x, ref);
    assert_non_null(r);
    if (r->op)
        node_sums[strtoul(ref + 1, NULL, 10)] += d;
    else
        leaf_sums[r == x->b] += d;
}

static void
walk_of_the_expression_multiplies_up_to_every_gradient_and_ends_with_readme_numbers(void **state)
{
    (void)state;
    expr x = record_expression();
    char *s = walk(x.t, x.e);
    double node_sums[16] = {0}, leaf_sums[2] = {0};
    size_t lines = 0;
    for (char *line = strstr(s, "    to "); line; line = strstr(line + 1, "    to ")) {
        check_line(&x, line, node_sums, leaf_sums);
        lines++;
    }
    assert_int_equal(lines, 11); /* tanh 1, mul 2, scale 1, add 2, b*b 1, a*b 2, a+b 2 */
    for (size_t i = 0; i + 1 < tg_tape_size(x.t); i++)
        assert_true(close_to(tg_tape_node(x.t, i)->grad[0], node_sums[i]));
    assert_true(close_to(x.a->grad[0], leaf_sums[0]));
    assert_true(close_to(x.b->grad[0], leaf_sums[1]));
    assert_non_null(strstr(s, "    de/da = -0.4472\n"));
    assert_non_null(strstr(s, "    de/db = -0.2236\n"));
    assert_true(strstr(s, "de/da") < strstr(s, "de/db")); /* leaves in the order of first use */
    assert_string_equal(strstr(s, "de/db = ") + strlen("de/db = -0.2236\n"), "");
    free(s);
    release(&x);
}

static void walk_leaves_every_gradient_as_plain_backward_computes_it(void **state)
{
    (void)state;
    expr x = record_expression(), y = record_expression();
    free(walk(x.t, x.e));
    assert_int_equal(tg_backward(y.t, y.e), TG_OK);
    for (size_t i = 0; i < tg_tape_size(x.t); i++)
        assert_true(tg_tape_node(x.t, i)->grad[0] == tg_tape_node(y.t, i)->grad[0]);
    assert_true(x.a->grad[0] == y.a->grad[0] && x.b->grad[0] == y.b->grad[0]);
    release(&x);
    release(&y);
}

static void walk_lists_the_contributions_a_leaf_used_three_times_sums(void **state)
{
    (void)state;
    expr x = record_expression();
    char *s = walk(x.t, x.e);
    const char *b = strstr(s, "leaf b\n");
    assert_non_null(b);
    assert_non_null(strstr(b, "its gradient sums 3 contributions: from #0 "));
    assert_non_null(strstr(s, "rule: add: passes the upstream gradient to both inputs"));
    assert_non_null(strstr(s, "#6 tg_tanh (e) of #5\n"));
    assert_non_null(strstr(s, "to leaf b (its 2 uses here together): upstream "));
    free(s);
    release(&x);
}

/* loss = sum(x·W) with x (2 x 4) an input, W (4 x 3) a parameter: the product's weight gradient
 * is put off to matmul's finish, and the tensors are large enough to be shown as norms. */
static void walk_tells_what_a_matmul_weight_receives_and_norms_of_large_tensors(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *w = tg_label(tg_tensor_new(4, 3, 1), "W");
    tg_real xs[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (size_t i = 0; i < 12; i++) w->val[i] = (tg_real)i / 10;
    tg_tensor *y = tg_matmul(t, tg_label(tg_input(t, 2, 4, xs), "x"), w, 0);
    char *s = walk(t, tg_sum(t, y));
    double norm = 0;
    for (size_t i = 0; i < 12; i++) norm += (double)w->grad[i] * w->grad[i];
    const char *to_w = strstr(s, "    to leaf W: downstream ‖12 values‖₂ ");
    assert_non_null(to_w);
    double got = strtod(to_w + strlen("    to leaf W: downstream ‖12 values‖₂ "), NULL);
    assert_true(close_to(sqrt(norm), got));
    assert_true(w->grad[0] == 6 && w->grad[11] == 12); /* column sums of x, once, not twice */
    assert_non_null(strstr(s, "rule: matmul: the upstream gradient times the other input, "
                              "transposed  dA += dY·Bᵀ, dB += Aᵀ·dY"));
    free(s);
    tg_tape_free(t);
    tg_tensor_free(w);
}

static void walk_refuses_a_tape_that_reuses_gradients_and_says_why(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_tensor_new(1, 2, 1);
    tg_tape_reuse_grads(t, 1);
    tg_tensor *loss = tg_sum(t, tg_tanh(t, a));
    FILE *f = tmpfile();
    assert_int_equal(tg_walk_backward(t, loss, f), TG_EINVAL);
    assert_non_null(strstr(tg_tape_error(t), "tg_walk_backward: the tape reuses gradients"));
    fclose(f);
    tg_tape_free(t);
    tg_tensor_free(a);
}

static void walk_passes_on_a_bad_loss_as_backward_reports_it(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    FILE *f = tmpfile();
    assert_int_equal(tg_walk_backward(t, NULL, f), TG_ENULL);
    assert_string_equal(tg_tape_error(t), "tg_backward: loss is NULL");
    fclose(f);
    tg_tape_free(t);
}

static void labelf_copies_a_formatted_name_into_the_tape(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    char step[8] = "3";
    tg_tensor *h = tg_labelf(t, tg_input(t, 1, 1, NULL), "h_%s", step);
    step[0] = '9';
    assert_string_equal(h->name, "h_3");
    assert_null(tg_label(NULL, "x"));
    assert_null(tg_labelf(t, NULL, "h_%d", 1));
    tg_tape_free(t);
}

/* The conversions labels use are written without vsnprintf; anything else, or a name too long
 * for that path, goes through vsnprintf: the same names either way. */
static void labelf_formats_every_conversion_as_printf_does(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_input(t, 1, 1, NULL);
    char longer[200];
    memset(longer, 'a', sizeof longer - 1), longer[sizeof longer - 1] = '\0';
    assert_string_equal(tg_labelf(t, x, "l%zu.%s_%zu", (size_t)1, "c", (size_t)12345)->name,
                        "l1.c_12345");
    assert_string_equal(tg_labelf(t, x, "%zu", SIZE_MAX)->name, "18446744073709551615");
    assert_string_equal(tg_labelf(t, x, "%d|%d|%d", 0, -7, INT_MIN)->name, "0|-7|-2147483648");
    assert_string_equal(tg_labelf(t, x, "100%% %s", "")->name, "100% ");
    assert_string_equal(tg_labelf(t, x, "%s", "")->name, "");
    assert_string_equal(tg_labelf(t, x, "h%03d_%x", 7, 255u)->name, "h007_ff"); /* vsnprintf */
    assert_string_equal(tg_labelf(t, x, "%s!", longer)->name + 195, "aaaa!");   /* too long */
    assert_int_equal(strlen(tg_labelf(t, x, "%s%s", longer, longer)->name), 2 * 199);
    tg_tape_free(t);
}

/* A slice is told with its range and label: the walk of an LSTM step names its gates. */
static void walk_names_a_slice_by_its_range_and_label(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_label(tg_tensor_new(1, 4, 1), "a");
    tg_tensor *f = tg_label(tg_sigmoid(t, tg_slice_cols(t, a, 2, 2)), "f");
    char *s = walk(t, tg_sum(t, f));
    assert_non_null(strstr(s, "#1 tg_sigmoid (f) of #0\n"));
    assert_non_null(strstr(s, "#0 tg_slice_cols [2, 4) of leaf a\n"));
    assert_non_null(strstr(s, "    to leaf a: downstream [0 0 0.25 0.25]\n"));
    free(s);
    tg_tape_free(t);
    tg_tensor_free(a);
}

/* An op's error names its inputs' labels; an op that checked no inputs of its own names none. */
static void an_ops_error_names_the_labels_of_its_inputs(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *h = tg_label(tg_input(t, 1, 2, NULL), "h_3"), *w = tg_input(t, 3, 4, NULL);
    assert_null(tg_mul(t, h, tg_label(w, "W")));
    assert_non_null(strstr(tg_tape_error(t), "tg_mul: "));
    assert_non_null(strstr(tg_tape_error(t), "(1 x 2)"));
    assert_non_null(strstr(tg_tape_error(t), " (input 1 is h_3, input 2 is W)"));
    tg_tape_reset(t);
    h = tg_input(t, 1, 2, NULL), w = tg_label(tg_input(t, 3, 4, NULL), "W");
    assert_null(tg_mul(t, h, w)); /* only the labelled input */
    assert_string_equal(strstr(tg_tape_error(t), " (input"), " (input 2 is W)");
    tg_tape_reset(t);
    h = tg_label(tg_input(t, 1, 2, NULL), "h");
    assert_non_null(tg_add(t, h, h));     /* checked, recorded */
    assert_null(tg_addmm(t, w, h, h, 0)); /* addmm's own message: not add's inputs */
    assert_null(strstr(tg_tape_error(t), "input 1 is"));
    tg_tape_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            walk_of_the_expression_multiplies_up_to_every_gradient_and_ends_with_readme_numbers),
        cmocka_unit_test(walk_leaves_every_gradient_as_plain_backward_computes_it),
        cmocka_unit_test(walk_lists_the_contributions_a_leaf_used_three_times_sums),
        cmocka_unit_test(walk_tells_what_a_matmul_weight_receives_and_norms_of_large_tensors),
        cmocka_unit_test(walk_refuses_a_tape_that_reuses_gradients_and_says_why),
        cmocka_unit_test(walk_passes_on_a_bad_loss_as_backward_reports_it),
        cmocka_unit_test(labelf_copies_a_formatted_name_into_the_tape),
        cmocka_unit_test(labelf_formats_every_conversion_as_printf_does),
        cmocka_unit_test(walk_names_a_slice_by_its_range_and_label),
        cmocka_unit_test(an_ops_error_names_the_labels_of_its_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
