/* test_nn_bptt.c: the hand-derived BPTT references (nn/bptt.c) against the tape for RNN, LSTM
 * and GRU over up to 50 steps; the comparison (nn/bptt_check.c) finding the step where a
 * perturbed hand gradient parts; the table; the layout adapters (nn/bptt_adapt.c) round-tripping
 * and giving the same outputs and gradients as the textbook cells, recorded here with ops. */
#include "testutil.h"

#include <stdlib.h>

#include "nn/bptt.h"
#include "nn/bptt_check.h"

enum { B = 3, I = 4, H = 5, TMAX = 50, GMAX = 4 };

/* Tape against the hand-derived reference: relative, and absolute (scaled by the floor) below
 * the floor. In float, a gradient element that is a sum of many terms cancelling to ~1e-5 carries
 * the rounding of its terms (~1e-8 absolute, about 1e-4 relative to 1e-4), so there elements
 * under 1e-2 are held to 1e-6 absolute instead. */
#ifdef TG_DOUBLE
#define REF_TOL   1e-10
#define REF_FLOOR 1e-6
#else
#define REF_TOL   1e-4
#define REF_FLOOR 1e-2
#endif

static const tg_cell_kind kinds[] = {TG_RNN_TANH, TG_RNN_RELU, TG_LSTM, TG_GRU};

typedef struct {
    tg_bptt_cell w;
    size_t T;
    tg_real W_ih[GMAX * H * I], W_hh[GMAX * H * H], b_ih[GMAX * H], b_hh[GMAX * H];
    tg_real x[TMAX * B * I], h0[B * H], c0[B * H], dy[TMAX * B * H];
} problem;

static void problem_init(problem *p, tg_cell_kind kind, size_t T, uint64_t seed)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    size_t GH = tg_cell_gates(kind) * H;
    memset(p, 0, sizeof *p);
    p->T = T;
    fill_uniform(p->W_ih, GH * I, &r, -0.6, 0.6);
    fill_uniform(p->W_hh, GH * H, &r, -0.6, 0.6);
    fill_uniform(p->b_ih, GH, &r, -0.3, 0.3);
    fill_uniform(p->b_hh, GH, &r, -0.3, 0.3);
    fill_uniform(p->x, T * B * I, &r, -1, 1);
    fill_uniform(p->h0, B * H, &r, -0.5, 0.5);
    fill_uniform(p->c0, B * H, &r, -0.5, 0.5);
    fill_uniform(p->dy, T * B * H, &r, -1, 1);
    p->w = (tg_bptt_cell){kind, I, H, p->W_ih, p->W_hh, p->b_ih, p->b_hh};
}

static void run_both(const problem *p, tg_bptt_grads *ref, tg_bptt_grads *tape)
{
    tg_cell_kind kind = p->w.kind;
    assert_int_equal(tg_bptt_grads_init(ref, kind, p->T, B, I, H), TG_OK);
    assert_int_equal(tg_bptt_grads_init(tape, kind, p->T, B, I, H), TG_OK);
    assert_int_equal(tg_bptt_reference(&p->w, p->T, B, p->x, p->h0, p->c0, p->dy, ref), TG_OK);
    tg_tape *t = tg_tape_new();
    int rc = tg_bptt_tape(t, &p->w, p->T, B, p->x, p->h0, p->c0, p->dy, tape);
    if (rc != TG_OK) fail_msg("tg_bptt_tape: %s (%s)", tg_strerror(rc), tg_tape_error(t));
    tg_tape_free(t);
}

static void check_reference_against_tape(tg_cell_kind kind)
{
    static const size_t Ts[] = {1, 2, 7, 50};
    for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++) {
        problem *p = malloc(sizeof *p);
        problem_init(p, kind, Ts[k], 100 + Ts[k]);
        tg_bptt_grads ref, tape;
        run_both(p, &ref, &tape);
        tg_bptt_report rep;
        assert_int_equal(tg_bptt_compare(&ref, &tape, REF_TOL, REF_FLOOR, &rep), TG_OK);
        if (!rep.ok) {
            tg_bptt_report_print(&rep, stderr);
            fail_msg("T = %zu: the reference and the tape differ", Ts[k]);
        }
        for (int q = 0; q < TG_BPTT_NQ; q++) {
            int lstm_only = q == TG_BPTT_DC0 || q == TG_BPTT_DC || q == TG_BPTT_CT;
            assert_true(rep.q[q].count > 0 || (lstm_only && kind != TG_LSTM));
        }
        static const char *const label[] = {"RNN tanh", "RNN ReLU", "LSTM", "GRU"};
        if (Ts[k] == 50)
            print_message("%s T = 50: worst relative difference %.3g (floor %g)\n", label[kind],
                          rep.max_rel, REF_FLOOR);
        tg_bptt_grads_deinit(&ref);
        tg_bptt_grads_deinit(&tape);
        free(p);
    }
}

static void test_rnn_reference_matches_tape_over_50_steps(void **s)
{
    (void)s;
    check_reference_against_tape(TG_RNN_TANH);
    check_reference_against_tape(TG_RNN_RELU);
}

static void test_lstm_reference_matches_tape_over_50_steps(void **s)
{
    (void)s;
    check_reference_against_tape(TG_LSTM);
}

static void test_gru_reference_matches_tape_over_50_steps(void **s)
{
    (void)s;
    check_reference_against_tape(TG_GRU);
}

/* ---- the comparison ---- */

/* mine = a deep copy of g's arrays in a second block (same kind and sizes). */
static void clone(tg_bptt_grads *mine, const tg_bptt_grads *g)
{
    assert_int_equal(tg_bptt_grads_init(mine, g->kind, g->T, g->B, g->I, g->H), TG_OK);
    size_t GH = tg_cell_gates(g->kind) * g->H, TBH = g->T * g->B * g->H, BH = g->B * g->H;
    memcpy(mine->dW_ih, g->dW_ih, GH * g->I * sizeof(tg_real));
    memcpy(mine->dW_hh, g->dW_hh, GH * g->H * sizeof(tg_real));
    memcpy(mine->db_ih, g->db_ih, GH * sizeof(tg_real));
    memcpy(mine->db_hh, g->db_hh, GH * sizeof(tg_real));
    memcpy(mine->dh, g->dh, TBH * sizeof(tg_real));
    memcpy(mine->h, g->h, TBH * sizeof(tg_real));
    memcpy(mine->dx, g->dx, g->T * g->B * g->I * sizeof(tg_real));
    memcpy(mine->dh0, g->dh0, BH * sizeof(tg_real));
    if (g->kind != TG_LSTM) return;
    memcpy(mine->dc, g->dc, TBH * sizeof(tg_real));
    memcpy(mine->c, g->c, TBH * sizeof(tg_real));
    memcpy(mine->dc0, g->dc0, BH * sizeof(tg_real));
}

static void assert_only_bad(const tg_bptt_report *rep, const int *which, size_t n)
{
    for (int q = 0; q < TG_BPTT_NQ; q++) {
        int expect = 0;
        for (size_t k = 0; k < n; k++) expect |= which[k] == q;
        if (expect != (rep->q[q].bad != 0))
            fail_msg("%s: %zu elements over the tolerance", rep->q[q].name, rep->q[q].bad);
    }
}

static void test_compare_reports_the_step_of_one_perturbed_hand_gradient(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, TG_LSTM, 20, 5);
    tg_bptt_grads ref, tape, mine;
    run_both(p, &ref, &tape);
    clone(&mine, &ref);
    size_t BH = B * H;
    mine.dh[(13 - 1) * BH + 1 * H + 2] += (tg_real)1e-2; /* step 13, row 1, unit 2 */
    tg_bptt_report rep;
    assert_int_equal(tg_bptt_compare(&mine, &tape, REF_TOL, REF_FLOOR, &rep), TG_OK);
    assert_false(rep.ok);
    assert_int_equal(rep.part_step, 13);
    assert_int_equal(rep.q[TG_BPTT_DH].first_step, 13);
    assert_int_equal(rep.q[TG_BPTT_DH].bad, 1);
    assert_int_equal(rep.q[TG_BPTT_DH].step, 13);
    assert_int_equal(rep.q[TG_BPTT_DH].row, 1);
    assert_int_equal(rep.q[TG_BPTT_DH].col, 2);
    assert_true(fabs(rep.q[TG_BPTT_DH].max_abs - 1e-2) < 1e-4);
    const int dh_only[] = {TG_BPTT_DH};
    assert_only_bad(&rep, dh_only, 1);
    assert_true(rep.q[TG_BPTT_DW_IH].first_step == TG_BPTT_NONE);

    /* A forward state parts in forward order; it is not where the backward walks part. */
    tg_bptt_grads_deinit(&mine);
    clone(&mine, &ref);
    mine.h[(4 - 1) * BH] += 1, mine.h[(9 - 1) * BH] += 1;
    assert_int_equal(tg_bptt_compare(&mine, &tape, REF_TOL, REF_FLOOR, &rep), TG_OK);
    assert_int_equal(rep.q[TG_BPTT_HT].first_step, 4);
    assert_true(rep.part_step == TG_BPTT_NONE);
    assert_false(rep.ok);

    /* Only dh0 differs: the walks part at "step 0". */
    tg_bptt_grads_deinit(&mine);
    clone(&mine, &ref);
    mine.dh0[3] = (tg_real)NAN;
    assert_int_equal(tg_bptt_compare(&mine, &tape, REF_TOL, REF_FLOOR, &rep), TG_OK);
    assert_int_equal(rep.part_step, 0);
    assert_int_equal(rep.q[TG_BPTT_DH0].bad, 1);
    assert_true(isinf(rep.q[TG_BPTT_DH0].max_rel));
    tg_bptt_grads_deinit(&mine);
    tg_bptt_grads_deinit(&ref);
    tg_bptt_grads_deinit(&tape);
    free(p);
}

static void test_compare_finds_where_an_error_entering_one_step_flows_back(void **s)
{
    (void)s;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        problem *p = malloc(sizeof *p);
        problem_init(p, kinds[k], 20, 6);
        tg_bptt_grads tape, mine;
        run_both(p, &mine, &tape);
        /* A hand derivation that adds a wrong term at step 13: it reaches steps 13, 12, ..., 1,
         * dh0 and the parameters, but not steps after 13 nor the forward. */
        for (size_t e = 0; e < B * H; e++) p->dy[(13 - 1) * B * H + e] += (tg_real)0.5;
        assert_int_equal(tg_bptt_reference(&p->w, p->T, B, p->x, p->h0, p->c0, p->dy, &mine),
                         TG_OK);
        tg_bptt_report rep;
        assert_int_equal(tg_bptt_compare(&mine, &tape, REF_TOL, REF_FLOOR, &rep), TG_OK);
        assert_int_equal(rep.part_step, 13);
        assert_int_equal(rep.q[TG_BPTT_DH].first_step, 13);
        assert_int_equal(rep.q[TG_BPTT_DX].first_step, 13);
        if (kinds[k] == TG_LSTM) assert_int_equal(rep.q[TG_BPTT_DC].first_step, 13);
        assert_int_equal(rep.q[TG_BPTT_HT].bad, 0);
        assert_true(rep.q[TG_BPTT_DW_HH].bad > 0);
        assert_true(rep.q[TG_BPTT_DW_HH].first_step == TG_BPTT_NONE);
        tg_bptt_grads_deinit(&mine);
        tg_bptt_grads_deinit(&tape);
        free(p);
    }
}

static void test_compare_skips_what_the_user_did_not_compute(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, TG_GRU, 3, 8);
    tg_bptt_grads ref, tape;
    run_both(p, &ref, &tape);
    /* A user's own arrays: only dW_hh and dh, in a struct filled by hand. */
    tg_bptt_grads mine = {
        .kind = TG_GRU, .T = 3, .B = B, .I = I, .H = H, .dW_hh = ref.dW_hh, .dh = ref.dh};
    tg_bptt_report rep;
    assert_int_equal(tg_bptt_compare(&mine, &tape, REF_TOL, REF_FLOOR, &rep), TG_OK);
    assert_true(rep.ok);
    for (int q = 0; q < TG_BPTT_NQ; q++)
        assert_int_equal(rep.q[q].count != 0, q == TG_BPTT_DW_HH || q == TG_BPTT_DH);
    assert_int_equal(rep.q[TG_BPTT_DH].count, 3 * B * H);
    tg_bptt_grads_deinit(&ref);
    tg_bptt_grads_deinit(&tape);
    free(p);
}

static void test_compare_rejects_mismatched_sizes_and_bad_tolerances(void **s)
{
    (void)s;
    tg_bptt_grads a, b;
    tg_bptt_report rep;
    assert_int_equal(tg_bptt_grads_init(&a, TG_GRU, 4, B, I, H), TG_OK);
    assert_int_equal(tg_bptt_grads_init(&b, TG_GRU, 5, B, I, H), TG_OK);
    assert_int_equal(tg_bptt_compare(&a, &b, 1e-6, 0, &rep), TG_ESHAPE);
    assert_int_equal(tg_bptt_compare(&a, &a, -1, 0, &rep), TG_EINVAL);
    assert_int_equal(tg_bptt_compare(&a, &a, 1e-6, NAN, &rep), TG_EINVAL);
    assert_int_equal(tg_bptt_compare(NULL, &a, 1e-6, 0, &rep), TG_ENULL);
    assert_int_equal(tg_bptt_compare(&a, &a, 0, 0, &rep), TG_OK); /* zeros agree exactly */
    assert_true(rep.ok);
    assert_true(rep.max_rel == 0);
    tg_bptt_grads_deinit(&a);
    tg_bptt_grads_deinit(&b);
}

static void test_report_prints_a_table_naming_the_step_where_they_part(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, TG_LSTM, 20, 5);
    tg_bptt_grads ref, tape;
    run_both(p, &ref, &tape);
    ref.dx[(17 - 1) * B * I] += 1;
    tg_bptt_report rep;
    assert_int_equal(tg_bptt_compare(&ref, &tape, REF_TOL, REF_FLOOR, &rep), TG_OK);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(tg_bptt_report_print(&rep, f), TG_OK);
    char buf[4096];
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    const char *want[] = {"BPTT check: LSTM, T = 20",
                          "dW_ih",
                          "db_hh",
                          "dc0",
                          "dx",
                          "t=17 (0, 0)",
                          "DIFFER in 1 quantities",
                          "first part at t = 17"};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        if (!strstr(buf, want[k])) fail_msg("table lacks \"%s\":\n%s", want[k], buf);
    assert_int_equal(tg_bptt_report_print(&rep, NULL), TG_ENULL);
    f = fopen("/dev/null", "r"); /* writing fails */
    if (f) {
        assert_int_equal(tg_bptt_report_print(&rep, f), TG_EIO);
        fclose(f);
    }
    tg_bptt_grads_deinit(&ref);
    tg_bptt_grads_deinit(&tape);
    free(p);
}

static void test_reference_and_tape_reject_bad_arguments(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, TG_RNN_TANH, 4, 9);
    tg_bptt_grads g;
    assert_int_equal(tg_bptt_grads_init(&g, TG_RNN_TANH, 0, B, I, H), TG_EINVAL);
    assert_null(g.block);
    tg_bptt_grads_deinit(&g);
    assert_int_equal(tg_bptt_grads_init(&g, TG_LSTM, 4, B, I, H), TG_OK); /* wrong kind */
    assert_int_equal(tg_bptt_reference(&p->w, 4, B, p->x, NULL, NULL, p->dy, &g), TG_EINVAL);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_bptt_tape(t, &p->w, 4, B, p->x, NULL, NULL, p->dy, &g), TG_EINVAL);
    tg_bptt_grads_deinit(&g);
    assert_int_equal(tg_bptt_grads_init(&g, TG_RNN_TANH, 4, B, I, H), TG_OK);
    assert_int_equal(tg_bptt_reference(&p->w, 3, B, p->x, NULL, NULL, p->dy, &g), TG_EINVAL);
    assert_int_equal(tg_bptt_reference(&p->w, 4, B, NULL, NULL, NULL, p->dy, &g), TG_ENULL);
    assert_int_equal(tg_bptt_tape(t, &p->w, 4, B, p->x, NULL, NULL, NULL, &g), TG_ENULL);
    /* NULL initial states are zeros on both sides. */
    assert_int_equal(tg_bptt_reference(&p->w, 4, B, p->x, NULL, NULL, p->dy, &g), TG_OK);
    tg_bptt_grads tg;
    assert_int_equal(tg_bptt_grads_init(&tg, TG_RNN_TANH, 4, B, I, H), TG_OK);
    assert_int_equal(tg_bptt_tape(t, &p->w, 4, B, p->x, NULL, NULL, p->dy, &tg), TG_OK);
    tg_bptt_report rep;
    assert_int_equal(tg_bptt_compare(&g, &tg, REF_TOL, REF_FLOOR, &rep), TG_OK);
    assert_true(rep.ok);
    tg_tape_free(t);
    tg_bptt_grads_deinit(&g);
    tg_bptt_grads_deinit(&tg);
    free(p);
}

static void test_reference_takes_weights_from_a_tape_cell(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    assert_int_equal(tg_cell_init(&cell, ps, NULL, 0, TG_GRU, I, H, &r), TG_OK);
    tg_bptt_cell w = tg_bptt_cell_of(&cell);
    assert_int_equal(w.kind, TG_GRU);
    assert_int_equal(w.in, I);
    assert_int_equal(w.hidden, H);
    assert_ptr_equal(w.W_ih, cell.W_ih->val);
    assert_ptr_equal(w.b_hh, cell.b_hh->val);
    tg_params_free(ps);
}

/* ---- adapters: textbook cells recorded with ops, in their own layout ---- */

#ifdef TG_DOUBLE
#define ADAPT_TOL 1e-12
#else
#define ADAPT_TOL 1e-5
#endif

typedef struct {
    tg_cell_kind kind;
    tg_tensor *W1, *W2, *b1, *b2; /* textbook: W_x, W_h, b (b2 NULL); GRU: PyTorch layout */
} book;

static tg_tensor *gate(tg_tape *t, tg_tensor *a, size_t q)
{
    return tg_slice_cols(t, a, q * H, H);
}

/* a = x·W_x + h·W_h + b; RNN h' = tanh(a); LSTM with gates f, g, i, o. */
static tg_state book_step(tg_tape *t, const book *m, tg_tensor *x, tg_state s)
{
    tg_tensor *a =
        tg_add(t, tg_add(t, tg_matmul(t, x, m->W1, 0), tg_matmul(t, s.h, m->W2, 0)), m->b1);
    if (m->kind == TG_RNN_TANH) return (tg_state){tg_tanh(t, a), NULL};
    tg_tensor *f = tg_sigmoid(t, gate(t, a, 0)), *g = tg_tanh(t, gate(t, a, 1));
    tg_tensor *i = tg_sigmoid(t, gate(t, a, 2)), *o = tg_sigmoid(t, gate(t, a, 3));
    tg_tensor *c = tg_add(t, tg_mul(t, f, s.c), tg_mul(t, i, g));
    return (tg_state){tg_mul(t, o, tg_tanh(t, c)), c};
}

/* The textbook GRU in PyTorch's layout: h' = z ⊙ n + (1 − z) ⊙ h. */
static tg_state book_gru(tg_tape *t, const book *m, tg_tensor *x, tg_state s)
{
    tg_tensor *gx = tg_add(t, tg_matmul(t, x, m->W1, TG_TRANS_B), m->b1);
    tg_tensor *gh = tg_add(t, tg_matmul(t, s.h, m->W2, TG_TRANS_B), m->b2);
    tg_tensor *r = tg_sigmoid(t, tg_add(t, gate(t, gx, 0), gate(t, gh, 0)));
    tg_tensor *z = tg_sigmoid(t, tg_add(t, gate(t, gx, 1), gate(t, gh, 1)));
    tg_tensor *n = tg_tanh(t, tg_add(t, gate(t, gx, 2), tg_mul(t, r, gate(t, gh, 2))));
    return (tg_state){tg_add(t, tg_mul(t, z, n), tg_mul(t, tg_one_minus(t, z), s.h)), NULL};
}

/* Run the textbook model over p's sequence with loss Σ sum(h_t ⊙ dy_t); h receives the T
 * outputs; the leaves' gradients hold dL/dW. */
static void book_run(book *m, const problem *p, tg_real *h)
{
    tg_tape *t = tg_tape_new();
    tg_state st = {tg_input(t, B, H, p->h0), m->kind == TG_LSTM ? tg_input(t, B, H, p->c0) : NULL};
    tg_tensor *loss = NULL;
    for (size_t k = 0; k < p->T; k++) {
        tg_tensor *x = tg_input(t, B, I, p->x + k * B * I);
        st = m->kind == TG_GRU ? book_gru(t, m, x, st) : book_step(t, m, x, st);
        tg_tensor *term = tg_sum(t, tg_mul(t, st.h, tg_input(t, B, H, p->dy + k * B * H)));
        loss = loss ? tg_add(t, loss, term) : term;
        if (st.h) memcpy(h + k * B * H, st.h->val, B * H * sizeof *h);
    }
    if (tg_backward(t, loss) != TG_OK) fail_msg("textbook model: %s", tg_tape_error(t));
    tg_tape_free(t);
}

static void check_textbook_adapter(tg_cell_kind kind)
{
    problem *p = malloc(sizeof *p);
    problem_init(p, kind, 6, 21);
    size_t GH = tg_cell_gates(kind) * H;
    tg_bptt_grads tp, un;
    run_both(p, &un, &tp); /* tp: the PyTorch-layout cell on the tape */
    book m = {kind, tg_tensor_new(I, GH, 1), tg_tensor_new(H, GH, 1), tg_tensor_new(1, GH, 1),
              NULL};
    assert_int_equal(tg_textbook_from_torch(kind, I, H, p->W_ih, p->W_hh, p->b_ih, p->b_hh,
                                            m.W1->val, m.W2->val, m.b1->val),
                     TG_OK);
    /* The same outputs from the textbook cell with the converted weights. */
    tg_real h[6 * B * H];
    book_run(&m, p, h);
    assert_close(h, tp.h, p->T * B * H, ADAPT_TOL);
    /* Gradients map like the weights: the textbook model's equal the converted tape ones. */
    tg_real dWx[GMAX * H * I], dWh[GMAX * H * H], db[GMAX * H];
    assert_int_equal(
        tg_textbook_grads_from_torch(kind, I, H, tp.dW_ih, tp.dW_hh, tp.db_ih, dWx, dWh, db),
        TG_OK);
    assert_close(dWx, m.W1->grad, GH * I, ADAPT_TOL);
    assert_close(dWh, m.W2->grad, GH * H, ADAPT_TOL);
    assert_close(db, m.b1->grad, GH, ADAPT_TOL);
    tg_real dW_ih[GMAX * H * I], dW_hh[GMAX * H * H], db_ih[GMAX * H], db_hh[GMAX * H];
    assert_int_equal(tg_textbook_grads_to_torch(kind, I, H, m.W1->grad, m.W2->grad, m.b1->grad,
                                                dW_ih, dW_hh, db_ih, db_hh),
                     TG_OK);
    assert_close(dW_ih, tp.dW_ih, GH * I, ADAPT_TOL);
    assert_close(dW_hh, tp.dW_hh, GH * H, ADAPT_TOL);
    assert_close(db_ih, tp.db_ih, GH, ADAPT_TOL);
    assert_close(db_hh, tp.db_hh, GH, ADAPT_TOL);
    /* Round trips: textbook -> PyTorch -> textbook is exact; PyTorch -> textbook -> PyTorch
     * keeps the weights exactly and moves the whole bias into b_ih. */
    tg_real W_ih[GMAX * H * I], W_hh[GMAX * H * H], b_ih[GMAX * H], b_hh[GMAX * H];
    assert_int_equal(
        tg_textbook_to_torch(kind, I, H, m.W1->val, m.W2->val, m.b1->val, W_ih, W_hh, b_ih, b_hh),
        TG_OK);
    assert_memory_equal(W_ih, p->W_ih, GH * I * sizeof(tg_real));
    assert_memory_equal(W_hh, p->W_hh, GH * H * sizeof(tg_real));
    for (size_t j = 0; j < GH; j++) {
        assert_true(b_hh[j] == 0);
        assert_true(b_ih[j] == (tg_real)((double)p->b_ih[j] + p->b_hh[j]));
    }
    tg_real Wx2[GMAX * H * I], Wh2[GMAX * H * H], b2[GMAX * H];
    assert_int_equal(tg_textbook_from_torch(kind, I, H, W_ih, W_hh, b_ih, b_hh, Wx2, Wh2, b2),
                     TG_OK);
    assert_memory_equal(Wx2, m.W1->val, GH * I * sizeof(tg_real));
    assert_memory_equal(Wh2, m.W2->val, GH * H * sizeof(tg_real));
    assert_memory_equal(b2, m.b1->val, GH * sizeof(tg_real));
    /* ... and the round-tripped PyTorch weights give the same outputs on the tape cell. */
    problem *q = malloc(sizeof *q);
    *q = *p;
    memcpy(q->b_ih, b_ih, sizeof b_ih), memcpy(q->b_hh, b_hh, sizeof b_hh);
    q->w = (tg_bptt_cell){kind, I, H, q->W_ih, q->W_hh, q->b_ih, q->b_hh};
    tg_bptt_grads tq, uq;
    run_both(q, &uq, &tq);
    assert_close(tq.h, tp.h, p->T * B * H, ADAPT_TOL);
    tg_tensor_free(m.W1), tg_tensor_free(m.W2), tg_tensor_free(m.b1);
    tg_bptt_grads_deinit(&tp), tg_bptt_grads_deinit(&un);
    tg_bptt_grads_deinit(&tq), tg_bptt_grads_deinit(&uq);
    free(p), free(q);
}

static void test_lstm_textbook_layout_round_trips_with_equal_outputs_and_gradients(void **s)
{
    (void)s;
    check_textbook_adapter(TG_LSTM);
}

static void test_rnn_textbook_layout_round_trips_with_equal_outputs_and_gradients(void **s)
{
    (void)s;
    check_textbook_adapter(TG_RNN_TANH);
}

static void test_lstm_textbook_gate_order_is_f_g_i_o(void **s)
{
    (void)s;
    /* W_ih rows of PyTorch block q hold the value q; the textbook columns read f, g, i, o. */
    tg_real W_ih[4 * H * I], W_hh[4 * H * H], b_ih[4 * H], b_hh[4 * H];
    for (size_t r = 0; r < 4 * H; r++) {
        for (size_t k = 0; k < I; k++) W_ih[r * I + k] = (tg_real)(r / H);
        for (size_t k = 0; k < H; k++) W_hh[r * H + k] = (tg_real)(10 + r / H);
        b_ih[r] = (tg_real)(r / H), b_hh[r] = 100;
    }
    tg_real W_x[I * 4 * H], W_h[H * 4 * H], b[4 * H];
    assert_int_equal(tg_textbook_from_torch(TG_LSTM, I, H, W_ih, W_hh, b_ih, b_hh, W_x, W_h, b),
                     TG_OK);
    static const int order[4] = {1, 2, 0, 3}; /* f, g, i, o in PyTorch's numbering */
    for (size_t q = 0; q < 4; q++)
        for (size_t j = 0; j < H; j++) {
            for (size_t k = 0; k < I; k++) assert_true(W_x[k * 4 * H + q * H + j] == order[q]);
            for (size_t k = 0; k < H; k++) assert_true(W_h[k * 4 * H + q * H + j] == 10 + order[q]);
            assert_true(b[q * H + j] == 100 + order[q]);
        }
}

static void test_textbook_adapters_reject_the_gru_and_null_arrays(void **s)
{
    (void)s;
    tg_real a[3 * H * H] = {0}, b[3 * H * H] = {0};
    assert_int_equal(tg_textbook_from_torch(TG_GRU, I, H, a, a, a, a, b, b, b), TG_EINVAL);
    assert_int_equal(tg_textbook_to_torch(TG_GRU, I, H, a, a, a, b, b, b, b), TG_EINVAL);
    assert_int_equal(tg_textbook_grads_from_torch(TG_GRU, I, H, a, a, a, b, b, b), TG_EINVAL);
    assert_int_equal(tg_textbook_grads_to_torch(TG_GRU, I, H, a, a, a, b, b, b, b), TG_EINVAL);
    assert_int_equal(tg_textbook_from_torch(TG_RNN_TANH, I, H, a, NULL, a, a, b, b, b), TG_ENULL);
    assert_int_equal(tg_textbook_to_torch(TG_RNN_TANH, I, H, a, a, a, b, b, b, NULL), TG_ENULL);
}

static void test_gru_with_z_reversed_is_pytorch_gru_with_z_rows_negated(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, TG_GRU, 7, 31);
    size_t GH = 3 * H;
    tg_bptt_grads tp, un;
    run_both(p, &un, &tp);
    book m = {TG_GRU, tg_tensor_new(GH, I, 1), tg_tensor_new(GH, H, 1), tg_tensor_new(1, GH, 1),
              tg_tensor_new(1, GH, 1)};
    memcpy(m.W1->val, p->W_ih, GH * I * sizeof(tg_real));
    memcpy(m.W2->val, p->W_hh, GH * H * sizeof(tg_real));
    memcpy(m.b1->val, p->b_ih, GH * sizeof(tg_real));
    memcpy(m.b2->val, p->b_hh, GH * sizeof(tg_real));
    tg_gru_flip_z(I, H, m.W1->val, m.W2->val, m.b1->val, m.b2->val);
    for (size_t j = 0; j < GH; j++) { /* only the z block changed, by its sign */
        tg_real want = j >= H && j < 2 * H ? -p->b_ih[j] : p->b_ih[j];
        assert_true(m.b1->val[j] == want);
    }
    tg_real h[7 * B * H];
    book_run(&m, p, h);
    assert_close(h, tp.h, p->T * B * H, ADAPT_TOL); /* textbook GRU, flipped = PyTorch GRU */
    tg_gru_flip_z(I, H, m.W1->grad, m.W2->grad, m.b1->grad, m.b2->grad); /* gradients too */
    assert_close(m.W1->grad, tp.dW_ih, GH * I, ADAPT_TOL);
    assert_close(m.W2->grad, tp.dW_hh, GH * H, ADAPT_TOL);
    assert_close(m.b1->grad, tp.db_ih, GH, ADAPT_TOL);
    assert_close(m.b2->grad, tp.db_hh, GH, ADAPT_TOL);
    tg_gru_flip_z(I, H, m.W1->val, m.W2->val, m.b1->val, NULL); /* its own inverse */
    tg_gru_flip_z(I, H, NULL, NULL, NULL, m.b2->val);
    assert_memory_equal(m.W1->val, p->W_ih, GH * I * sizeof(tg_real));
    assert_memory_equal(m.W2->val, p->W_hh, GH * H * sizeof(tg_real));
    assert_memory_equal(m.b1->val, p->b_ih, GH * sizeof(tg_real));
    assert_memory_equal(m.b2->val, p->b_hh, GH * sizeof(tg_real));
    tg_tensor_free(m.W1), tg_tensor_free(m.W2), tg_tensor_free(m.b1), tg_tensor_free(m.b2);
    tg_bptt_grads_deinit(&tp), tg_bptt_grads_deinit(&un);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_reference_matches_tape_over_50_steps),
        cmocka_unit_test(test_lstm_reference_matches_tape_over_50_steps),
        cmocka_unit_test(test_gru_reference_matches_tape_over_50_steps),
        cmocka_unit_test(test_compare_reports_the_step_of_one_perturbed_hand_gradient),
        cmocka_unit_test(test_compare_finds_where_an_error_entering_one_step_flows_back),
        cmocka_unit_test(test_compare_skips_what_the_user_did_not_compute),
        cmocka_unit_test(test_compare_rejects_mismatched_sizes_and_bad_tolerances),
        cmocka_unit_test(test_report_prints_a_table_naming_the_step_where_they_part),
        cmocka_unit_test(test_reference_and_tape_reject_bad_arguments),
        cmocka_unit_test(test_reference_takes_weights_from_a_tape_cell),
        cmocka_unit_test(test_lstm_textbook_layout_round_trips_with_equal_outputs_and_gradients),
        cmocka_unit_test(test_rnn_textbook_layout_round_trips_with_equal_outputs_and_gradients),
        cmocka_unit_test(test_lstm_textbook_gate_order_is_f_g_i_o),
        cmocka_unit_test(test_textbook_adapters_reject_the_gru_and_null_arrays),
        cmocka_unit_test(test_gru_with_z_reversed_is_pytorch_gru_with_z_rows_negated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
