/* test_nn_cells.c: the RNN (tanh, ReLU), LSTM and GRU cells against naive references written
 * from PyTorch's equations, against finite differences (every parameter, the input, the state),
 * and their parameter names, forget-gate bias and error messages. */
#include "testutil.h"

#include "nn/cells.h"
#include "nn/params.h"

enum { I = 3, H = 4 }; /* input and hidden sizes; B varies per test */

static const tg_cell_type *const kinds[] = {&tg_cell_rnn, &tg_cell_rnn_relu, &tg_cell_lstm,
                                            &tg_cell_gru};
enum { W_IH, W_HH, B_IH, B_HH }; /* the built-ins' parameter order */

static double sigm(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* out (B x G·H) = x (B x n)·Wᵀ + b, W (G·H x n), in double. */
static void ref_affine(const tg_real *x, size_t B, size_t n, const tg_tensor *W, const tg_tensor *b,
                       double *out)
{
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < W->rows; j++) {
            double a = b->val[j];
            for (size_t k = 0; k < n; k++) a += (double)x[r * n + k] * W->val[j * n + k];
            out[r * W->rows + j] = a;
        }
}

/* One step of the cell by PyTorch's equations, element by element: h1, c1 (B x H). */
static void ref_step(const tg_cell *p, size_t B, const tg_real *x, const tg_real *h,
                     const tg_real *c, double *h1, double *c1)
{
    double gx[3 * 4 * H], gh[3 * 4 * H]; /* enough for B <= 3, G <= 4 */
    size_t G = (p->p[W_IH]->rows / H), GH = G * H;
    ref_affine(x, B, I, p->p[W_IH], p->p[B_IH], gx);
    ref_affine(h, B, H, p->p[W_HH], p->p[B_HH], gh);
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < H; j++) {
            const double *a = gx + r * GH, *u = gh + r * GH;
            double hp = h[r * H + j], out;
            if (p->type == &tg_cell_lstm) {
                double i = sigm(a[j] + u[j]), f = sigm(a[H + j] + u[H + j]);
                double g = tanh(a[2 * H + j] + u[2 * H + j]), o = sigm(a[3 * H + j] + u[3 * H + j]);
                c1[r * H + j] = f * c[r * H + j] + i * g;
                out = o * tanh(c1[r * H + j]);
            } else if (p->type == &tg_cell_gru) {
                double rr = sigm(a[j] + u[j]), z = sigm(a[H + j] + u[H + j]);
                double n = tanh(a[2 * H + j] + rr * u[2 * H + j]);
                out = (1 - z) * n + z * hp;
            } else {
                double v = a[j] + u[j];
                out = p->type == &tg_cell_rnn_relu ? (v > 0 ? v : 0) : tanh(v);
            }
            h1[r * H + j] = out;
        }
}

static tg_cell make_cell(tg_params *ps, const tg_cell_type *kind, tg_rng *r)
{
    tg_cell cell;
    assert_int_equal(tg_cell_init(&cell, ps, "rnn.", 0, kind, I, H, r, NULL), TG_OK);
    tg_params_init_uniform(ps, 0.8, r); /* a little larger than PyTorch's 0.5: livelier gates */
    return cell;
}

static void test_cells_forward_matches_pytorch_equations(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 5);
    for (size_t k = 0; k < 4; k++)
        for (size_t B = 1; B <= 3; B += 2) {
            tg_params *ps = tg_params_new();
            tg_cell cell = make_cell(ps, kinds[k], &r);
            tg_tensor *x = rand_leaf(B, I, &r, -1, 1), *h = rand_leaf(B, H, &r, -1, 1);
            tg_tensor *c = rand_leaf(B, H, &r, -1, 1);
            tg_tape *t = tg_tape_new();
            tg_state out =
                tg_cell_step(t, &cell, x, (tg_state){{h, kinds[k] == &tg_cell_lstm ? c : NULL}});
            assert_non_null(out.h);
            assert_int_equal(out.h->rows, B);
            assert_int_equal(out.h->cols, H);
            double h1[3 * H], c1[3 * H];
            ref_step(&cell, B, x->val, h->val, c->val, h1, c1);
            for (size_t i = 0; i < B * H; i++) {
                tg_real want = (tg_real)h1[i];
                assert_close(&out.h->val[i], &want, 1, VAL_TOL);
                if (kinds[k] != &tg_cell_lstm) continue;
                want = (tg_real)c1[i];
                assert_close(&out.c->val[i], &want, 1, VAL_TOL);
            }
            if (kinds[k] != &tg_cell_lstm) assert_null(out.c);
            tg_tape_free(t);
            tg_tensor_free(x);
            tg_tensor_free(h);
            tg_tensor_free(c);
            tg_params_free(ps);
        }
}

typedef struct {
    const tg_cell *cell;
    tg_tensor *x, *h, *c, *wh, *wc;
} step_ctx;

/* loss = sum(h' ⊙ wh) (+ sum(c' ⊙ wc) for the LSTM): every output element matters. */
static tg_tensor *step_loss(tg_tape *t, void *p)
{
    step_ctx *k = p;
    tg_state s = tg_cell_step(t, k->cell, k->x, (tg_state){{k->h, k->c}});
    tg_tensor *loss = tg_sum(t, tg_mul(t, s.h, k->wh));
    return k->c ? tg_add(t, loss, tg_sum(t, tg_mul(t, s.c, k->wc))) : loss;
}

static void test_cells_backward_matches_finite_differences(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 9);
    for (size_t k = 0; k < 4; k++)
        for (size_t B = 1; B <= 3; B += 2) {
            tg_params *ps = tg_params_new();
            tg_cell cell = make_cell(ps, kinds[k], &r);
            int lstm = kinds[k] == &tg_cell_lstm;
            step_ctx c = {&cell,
                          rand_leaf(B, I, &r, -1, 1),
                          rand_leaf(B, H, &r, -1, 1),
                          lstm ? rand_leaf(B, H, &r, -1, 1) : NULL,
                          rand_leaf(B, H, &r, -1, 1),
                          rand_leaf(B, H, &r, -1, 1)};
            tg_tensor *xs[] = {cell.p[W_IH], cell.p[W_HH], cell.p[B_IH], cell.p[B_HH],
                               c.x,          c.h,          c.c};
            assert_gradcheck(step_loss, &c, xs, lstm ? 7 : 6);
            tg_tensor *own[] = {c.x, c.h, c.c, c.wh, c.wc};
            for (int i = 0; i < 5; i++) tg_tensor_free(own[i]);
            tg_params_free(ps);
        }
}

static void test_cell_params_have_pytorch_names_and_shapes(void **s)
{
    (void)s;
    const size_t G[] = {1, 1, 4, 3};
    for (size_t k = 0; k < 4; k++) {
        tg_params *ps = tg_params_new();
        tg_cell cell;
        assert_int_equal(tg_cell_init(&cell, ps, "rnn.", 2, kinds[k], I, H, NULL, NULL), TG_OK);
        assert_ptr_equal(tg_params_find(ps, "rnn.weight_ih_l2"), cell.p[W_IH]);
        assert_ptr_equal(tg_params_find(ps, "rnn.weight_hh_l2"), cell.p[W_HH]);
        assert_ptr_equal(tg_params_find(ps, "rnn.bias_ih_l2"), cell.p[B_IH]);
        assert_ptr_equal(tg_params_find(ps, "rnn.bias_hh_l2"), cell.p[B_HH]);
        assert_int_equal(cell.p[W_IH]->rows, G[k] * H);
        assert_int_equal(cell.p[W_IH]->cols, I);
        assert_int_equal(cell.p[W_HH]->rows, G[k] * H);
        assert_int_equal(cell.p[W_HH]->cols, H);
        assert_int_equal(cell.p[B_IH]->rows, 1);
        assert_int_equal(cell.p[B_HH]->cols, G[k] * H);
        assert_int_equal(tg_params_numel(ps), G[k] * H * (I + H + 2));
        tg_params_free(ps);
    }
}

static void test_cell_init_uses_pytorch_default_range(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    assert_int_equal(tg_cell_init(&cell, ps, NULL, 0, &tg_cell_gru, I, H, &r, NULL), TG_OK);
    assert_non_null(tg_params_find(ps, "weight_ih_l0"));
    double k = 1.0 / sqrt((double)H), biggest = 0;
    for (size_t i = 0; i < tg_params_numel(ps); i++)
        biggest = fmax(biggest, fabs(tg_params_values(ps)[i]));
    assert_true(biggest <= k && biggest > 0.8 * k);
    tg_params_free(ps);
}

static void test_cell_init_rejects_a_duplicate_layer(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_cell cell;
    assert_int_equal(tg_cell_init(&cell, ps, "lstm.", 0, &tg_cell_lstm, I, H, NULL, NULL), TG_OK);
    tg_status st;
    assert_int_equal(tg_cell_init(&cell, ps, "lstm.", 0, &tg_cell_lstm, I, H, NULL, &st),
                     TG_EINVAL);
    assert_non_null(strstr(st.msg, "tg_cell_init: lstm parameter lstm.weight_ih_l0"));
    assert_non_null(strstr(st.msg, "duplicate"));
    assert_null(cell.p[W_IH]);
    assert_int_equal(tg_cell_init(&cell, ps, "x.", 0, &tg_cell_gru, I, 0, NULL, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "gru with I = 3, H = 0"));
    assert_int_equal(tg_cell_init(&cell, ps, "y.", 0, NULL, I, H, NULL, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "NULL"));
    tg_params_free(ps);
}

static void test_lstm_forget_bias_sets_only_the_f_slice_of_b_ih(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_cell cell, gru;
    assert_int_equal(tg_cell_init(&cell, ps, NULL, 0, &tg_cell_lstm, I, H, NULL, NULL), TG_OK);
    assert_int_equal(tg_lstm_set_forget_bias(&cell, 1.0, NULL), TG_OK);
    for (size_t j = 0; j < 4 * H; j++) {
        assert_true(cell.p[B_IH]->val[j] == (j >= H && j < 2 * H ? 1 : 0));
        assert_true(cell.p[B_HH]->val[j] == 0);
    }
    assert_int_equal(tg_cell_init(&gru, ps, NULL, 1, &tg_cell_gru, I, H, NULL, NULL), TG_OK);
    tg_status st;
    assert_int_equal(tg_lstm_set_forget_bias(&gru, 1.0, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "the cell is gru, not lstm"));
    tg_params_free(ps);
}

static void test_cells_reject_a_wrong_input_width_naming_the_cell_and_shapes(void **s)
{
    (void)s;
    for (size_t k = 0; k < 4; k++) {
        tg_params *ps = tg_params_new();
        tg_cell cell;
        assert_int_equal(tg_cell_init(&cell, ps, NULL, 0, kinds[k], I, H, NULL, NULL), TG_OK);
        tg_tape *t = tg_tape_new();
        tg_state s0 = {{tg_input(t, 2, H, NULL), tg_input(t, 2, H, NULL)}};
        if (kinds[k] != &tg_cell_lstm) s0.c = NULL;
        tg_state out = tg_cell_step(t, &cell, tg_input(t, 2, 5, NULL), s0);
        assert_null(out.h);
        assert_null(out.c);
        assert_error_has(t, kinds[k]->name, "x is (2 x 5)", "(B x 3)", NULL);
        tg_tape_reset(t);
        s0.h = tg_input(t, 2, 6, NULL);
        assert_null(tg_cell_step(t, &cell, tg_input(t, 2, I, NULL), s0).h);
        assert_error_has(t, kinds[k]->name, "state h is (2 x 6)", "(2 x 4) or (1 x 4)", NULL);
        tg_tape_free(t);
        tg_params_free(ps);
    }
}

/* The node labelled `name` on t, which must be there once. */
static const tg_tensor *labelled(const tg_tape *t, const char *name)
{
    const tg_tensor *found = NULL;
    for (size_t i = 0; i < tg_tape_size(t); i++) {
        const tg_tensor *x = tg_tape_node(t, i);
        if (!x->name || strcmp(x->name, name) != 0) continue;
        assert_null(found);
        found = x;
    }
    if (!found) fail_msg("no node labelled %s", name);
    return found;
}

/* The LSTM's gates are labelled i, f, g, o and the GRU's r, z, n, each the activation of the
 * gate's slice (its range in print: gate k is columns [k·H, k·H + H)). */
static void test_lstm_and_gru_label_their_gates(void **s)
{
    (void)s;
    static const char *const names[2][4] = {{"i", "f", "g", "o"}, {"r", "z", "n", NULL}};
    const tg_cell_type *types[2] = {&tg_cell_lstm, &tg_cell_gru};
    for (size_t k = 0; k < 2; k++) {
        tg_params *ps = tg_params_new();
        tg_cell cell;
        assert_int_equal(tg_cell_init(&cell, ps, NULL, 0, types[k], I, H, NULL, NULL), TG_OK);
        tg_tape *t = tg_tape_new();
        tg_state s0 = {{tg_input(t, 2, H, NULL), k == 0 ? tg_input(t, 2, H, NULL) : NULL}};
        assert_non_null(tg_cell_step(t, &cell, tg_input(t, 2, I, NULL), s0).h);
        for (size_t g = 0; g < 4 && names[k][g]; g++) {
            const tg_tensor *gate = labelled(t, names[k][g]);
            const tg_tensor *cut = k == 0 ? gate->in[0] : NULL; /* the GRU's n adds two gates */
            if (cut) assert_string_equal(cut->op->name, "tg_slice_cols");
            if (cut) assert_int_equal(cut->iarg, g * H);
            assert_int_equal(gate->cols, H);
        }
        char out[4096] = {0};
        FILE *f = tmpfile();
        assert_int_equal(tg_tape_print(t, f), TG_OK);
        rewind(f);
        assert_true(fread(out, 1, sizeof out - 1, f) > 0);
        fclose(f);
        assert_non_null(
            strstr(out, k == 0 ? "tg_slice_cols [4, 8)  in:" : "tg_slice_cols [8, 12)"));
        assert_non_null(strstr(out, k == 0 ? "tg_sigmoid (f)  in: #" : "tg_tanh (n)  in: #"));
        tg_tape_free(t);
        tg_params_free(ps);
    }
}

static void test_cells_given_null_return_null_and_keep_the_first_error(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_cell lstm, gru;
    assert_int_equal(tg_cell_init(&lstm, ps, NULL, 0, &tg_cell_lstm, I, H, NULL, NULL), TG_OK);
    assert_int_equal(tg_cell_init(&gru, ps, NULL, 1, &tg_cell_gru, I, H, NULL, NULL), TG_OK);
    tg_tape *t = tg_tape_new();
    tg_tensor *h = tg_input(t, 2, H, NULL);
    tg_state out = tg_cell_step(t, &lstm, NULL, (tg_state){{h, h}});
    assert_null(out.h);
    assert_null(out.c);
    assert_error_has(t, "lstm", "x is NULL", NULL);
    tg_tape_reset(t);
    h = tg_input(t, 2, H, NULL);
    tg_tensor *bad = tg_add(t, h, tg_input(t, 3, 3, NULL)); /* the first error */
    assert_null(tg_cell_step(t, &gru, bad, (tg_state){{h}}).h);
    assert_null(tg_cell_step(t, &lstm, tg_input(t, 2, I, NULL), (tg_state){{h, NULL}}).h);
    assert_error_has(t, "tg_add", "(2 x 4)", "(3 x 3)", NULL);
    tg_tape_reset(t);
    h = tg_input(t, 2, H, NULL);
    assert_null(tg_cell_step(t, &lstm, tg_input(t, 2, I, NULL), (tg_state){{h, NULL}}).h);
    assert_error_has(t, "lstm", "state c is NULL", NULL); /* an LSTM needs c */
    tg_tape_free(t);
    tg_params_free(ps);
}

static void test_a_one_row_state_broadcasts_over_the_batch(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 2);
    tg_params *ps = tg_params_new();
    tg_cell cell = make_cell(ps, &tg_cell_lstm, &r);
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_input(t, 3, I, NULL);
    fill_uniform(x->val, 3 * I, &r, -1, 1);
    tg_tensor *h1 = tg_input(t, 1, H, NULL), *c1 = tg_input(t, 1, H, NULL);
    fill_uniform(h1->val, H, &r, -1, 1);
    fill_uniform(c1->val, H, &r, -1, 1);
    tg_tensor *h3 = tg_input(t, 3, H, NULL), *c3 = tg_input(t, 3, H, NULL);
    for (size_t b = 0; b < 3; b++) {
        memcpy(h3->val + b * H, h1->val, H * sizeof *h1->val);
        memcpy(c3->val + b * H, c1->val, H * sizeof *c1->val);
    }
    tg_state a = tg_cell_step(t, &cell, x, (tg_state){{h1, c1}});
    tg_state b = tg_cell_step(t, &cell, x, (tg_state){{h3, c3}});
    assert_int_equal(a.h->rows, 3);
    assert_close(a.h->val, b.h->val, 3 * H, VAL_TOL);
    assert_close(a.c->val, b.c->val, 3 * H, VAL_TOL);
    tg_tape_free(t);
    tg_params_free(ps);
}

/* A cell type of a user's: h' = tanh(x·W_xᵀ + h·W_hᵀ) with one weight per operand, no bias. */
static tg_state tiny_step(tg_tape *t, const tg_cell *c, tg_tensor *x, tg_state s)
{
    tg_tensor *a = tg_addmm(t, tg_matmul(t, x, c->p[0], TG_TRANS_B), s.h, c->p[1], TG_TRANS_B);
    return (tg_state){{tg_tanh(t, a)}};
}

static const tg_cell_type tiny = {
    "tiny-test", 1,        {"h"}, 2, {{"w_x", {1, 0, 0}, {0, 1, 0}}, {"w_h", {1, 0, 0}, {1, 0, 0}}},
    NULL,        tiny_step};

static void test_a_registered_user_type_is_found_by_name_and_steps(void **s)
{
    (void)s;
    assert_ptr_equal(tg_cell_type_find("lstm"), &tg_cell_lstm);
    assert_ptr_equal(tg_cell_type_at(0), &tg_cell_rnn);
    assert_null(tg_cell_type_find("tiny-test"));
    assert_int_equal(tg_cell_type_register(&tiny, NULL), TG_OK);
    assert_int_equal(tg_cell_type_register(&tiny, NULL), TG_OK); /* again: a no-op */
    assert_ptr_equal(tg_cell_type_find("tiny-test"), &tiny);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    assert_int_equal(tg_cell_init(&cell, ps, "u.", 1, &tiny, I, H, NULL, NULL), TG_OK);
    assert_ptr_equal(tg_params_find(ps, "u.w_h_l1"), tg_cell_param_named(&cell, "w_h"));
    assert_int_equal(cell.p[0]->rows, H);
    assert_int_equal(cell.p[0]->cols, I);
    tg_tape *t = tg_tape_new();
    tg_state out =
        tg_cell_step(t, &cell, tg_input(t, 2, I, NULL), (tg_state){{tg_input(t, 2, H, NULL)}});
    assert_non_null(out.h);
    assert_null(out.c);
    tg_tape_free(t);
    tg_params_free(ps);
}

static void test_register_refuses_malformed_types_and_taken_names(void **s)
{
    (void)s;
    tg_status st;
    tg_cell_type bad = tiny;
    bad.name = "lstm"; /* taken by the built-in */
    assert_int_equal(tg_cell_type_register(&bad, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "another type is already named 'lstm'"));
    bad = tiny, bad.name = "no-step", bad.step = NULL;
    assert_int_equal(tg_cell_type_register(&bad, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "'no-step': it has no step"));
    bad = tiny, bad.name = "many", bad.n_states = 5;
    assert_int_equal(tg_cell_type_register(&bad, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "n_states"));
    assert_null(tg_cell_type_find("many"));
    assert_int_equal(tg_cell_type_register(NULL, &st), TG_ENULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cells_forward_matches_pytorch_equations),
        cmocka_unit_test(test_a_registered_user_type_is_found_by_name_and_steps),
        cmocka_unit_test(test_register_refuses_malformed_types_and_taken_names),
        cmocka_unit_test(test_cells_backward_matches_finite_differences),
        cmocka_unit_test(test_cell_params_have_pytorch_names_and_shapes),
        cmocka_unit_test(test_cell_init_uses_pytorch_default_range),
        cmocka_unit_test(test_cell_init_rejects_a_duplicate_layer),
        cmocka_unit_test(test_lstm_forget_bias_sets_only_the_f_slice_of_b_ih),
        cmocka_unit_test(test_cells_reject_a_wrong_input_width_naming_the_cell_and_shapes),
        cmocka_unit_test(test_lstm_and_gru_label_their_gates),
        cmocka_unit_test(test_cells_given_null_return_null_and_keep_the_first_error),
        cmocka_unit_test(test_a_one_row_state_broadcasts_over_the_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
