/* test_nn_bptt.c: the hand-derived BPTT references (nn/bptt.c) against the tape for RNN, LSTM
 * and GRU over up to 50 steps; the general check on a two-state type defined here; the
 * comparison (nn/bptt_check.c) finding the step where a perturbed hand gradient parts; the
 * table; the error messages; the layout adapters (nn/bptt_adapt.c) round-tripping and giving
 * the same outputs and gradients as the textbook cells, recorded here with ops. */
#include "testutil.h"

#include <stdlib.h>

#include "nn/bptt.h"
#include "nn/bptt_check.h"

enum { B = 3, I = 4, H = 5, TMAX = 50, GMAX = 4 };
enum { W_IH, W_HH, B_IH, B_HH }; /* PyTorch's parameters, in the built-in types' order */

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

typedef int (*hand_fn)(const tg_bptt_cell *, size_t, size_t, const tg_real *,
                       const tg_real *const *, const tg_real *, tg_bptt_grads *, tg_status *);

/* A built-in type, the library's hand derivation of it, and its gates. */
typedef struct family {
    const tg_cell_type *type;
    hand_fn hand;
    size_t G;
} family;

static const family rnn_tanh = {&tg_cell_rnn, tg_bptt_rnn_tanh_hand, 1};
static const family rnn_relu = {&tg_cell_rnn_relu, tg_bptt_rnn_relu_hand, 1};
static const family lstm = {&tg_cell_lstm, tg_bptt_lstm_hand, 4};
static const family gru = {&tg_cell_gru, tg_bptt_gru_hand, 3};
static const family *const families[] = {&rnn_tanh, &rnn_relu, &lstm, &gru};

typedef struct {
    const family *fam;
    tg_bptt_cell w;
    size_t T;
    tg_real W_ih[GMAX * H * I], W_hh[GMAX * H * H], b_ih[GMAX * H], b_hh[GMAX * H];
    tg_real x[TMAX * B * I], h0[B * H], c0[B * H], dy[TMAX * B * H];
    const tg_real *s0[2];
} problem;

static void problem_init(problem *p, const family *fam, size_t T, uint64_t seed)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    size_t GH = fam->G * H;
    memset(p, 0, sizeof *p);
    p->fam = fam, p->T = T;
    fill_uniform(p->W_ih, GH * I, &r, -0.6, 0.6);
    fill_uniform(p->W_hh, GH * H, &r, -0.6, 0.6);
    fill_uniform(p->b_ih, GH, &r, -0.3, 0.3);
    fill_uniform(p->b_hh, GH, &r, -0.3, 0.3);
    fill_uniform(p->x, T * B * I, &r, -1, 1);
    fill_uniform(p->h0, B * H, &r, -0.5, 0.5);
    fill_uniform(p->c0, B * H, &r, -0.5, 0.5);
    fill_uniform(p->dy, T * B * H, &r, -1, 1);
    p->w = (tg_bptt_cell){fam->type, I, H, {p->W_ih, p->W_hh, p->b_ih, p->b_hh}};
    p->s0[0] = p->h0, p->s0[1] = p->c0;
}

static void grads_init(tg_bptt_grads *g, const problem *p)
{
    tg_status st;
    if (tg_bptt_grads_init(g, p->fam->type, p->T, B, I, H, &st) != TG_OK) fail_msg("%s", st.msg);
}

static void run_hand(const problem *p, tg_bptt_grads *g)
{
    tg_status st;
    if (p->fam->hand(&p->w, p->T, B, p->x, p->s0, p->dy, g, &st) != TG_OK) fail_msg("%s", st.msg);
}

static void run_tape(const problem *p, tg_bptt_grads *g)
{
    tg_status st;
    tg_tape *t = tg_tape_new();
    if (tg_bptt_tape(t, &p->w, p->T, B, p->x, p->s0, p->dy, g, &st) != TG_OK)
        fail_msg("%s", st.msg);
    tg_tape_free(t);
}

static void run_both(const problem *p, tg_bptt_grads *ref, tg_bptt_grads *tape)
{
    grads_init(ref, p), grads_init(tape, p);
    run_hand(p, ref);
    run_tape(p, tape);
}

static tg_bptt_report compare(const tg_bptt_grads *mine, const tg_bptt_grads *ref)
{
    tg_bptt_report rep;
    tg_status st;
    if (tg_bptt_compare(mine, ref, REF_TOL, REF_FLOOR, &rep, &st) != TG_OK) fail_msg("%s", st.msg);
    return rep;
}

/* The quantity of that name, which must be in the report. */
static const tg_bptt_diff *q(const tg_bptt_report *rep, const char *name)
{
    const tg_bptt_diff *d = tg_bptt_report_find(rep, name);
    if (!d) fail_msg("the report has no quantity \"%s\"", name);
    return d;
}

static void check_reference_against_tape(const family *fam)
{
    static const size_t Ts[] = {1, 2, 7, 50};
    for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++) {
        problem *p = malloc(sizeof *p);
        problem_init(p, fam, Ts[k], 100 + Ts[k]);
        tg_bptt_grads ref, tape;
        run_both(p, &ref, &tape);
        tg_bptt_report rep = compare(&ref, &tape);
        if (!rep.ok) {
            tg_bptt_report_print(&rep, stderr);
            fail_msg("T = %zu: the reference and the tape differ", Ts[k]);
        }
        assert_int_equal(rep.n, 4 + 3 * fam->type->n_states + 1);
        for (size_t i = 0; i < rep.n; i++) assert_true(rep.q[i].count > 0);
        if (Ts[k] == 50)
            print_message("%s T = 50: worst relative difference %.3g (floor %g)\n", fam->type->name,
                          rep.max_rel, REF_FLOOR);
        tg_bptt_grads_deinit(&ref);
        tg_bptt_grads_deinit(&tape);
        free(p);
    }
}

static void test_rnn_reference_matches_tape_over_50_steps(void **s)
{
    (void)s;
    check_reference_against_tape(&rnn_tanh);
    check_reference_against_tape(&rnn_relu);
}

static void test_lstm_reference_matches_tape_over_50_steps(void **s)
{
    (void)s;
    check_reference_against_tape(&lstm);
}

static void test_gru_reference_matches_tape_over_50_steps(void **s)
{
    (void)s;
    check_reference_against_tape(&gru);
}

/* ---- the comparison ---- */

/* mine = a deep copy of g's arrays in a second block (same type and sizes). */
static void clone(tg_bptt_grads *mine, const tg_bptt_grads *g)
{
    assert_int_equal(tg_bptt_grads_init(mine, g->type, g->T, g->B, g->I, g->H, NULL), TG_OK);
    size_t TBH = g->T * g->B * g->H, BH = g->B * g->H;
    for (size_t k = 0; k < g->type->n_params; k++)
        memcpy(mine->dparam[k], g->dparam[k], tg_bptt_param_numel(g, k) * sizeof(tg_real));
    for (size_t k = 0; k < g->type->n_states; k++) {
        memcpy(mine->dstate[k], g->dstate[k], TBH * sizeof(tg_real));
        memcpy(mine->state[k], g->state[k], TBH * sizeof(tg_real));
        memcpy(mine->dstate0[k], g->dstate0[k], BH * sizeof(tg_real));
    }
    memcpy(mine->dx, g->dx, g->T * g->B * g->I * sizeof(tg_real));
}

/* Exactly the quantities named in the NULL-terminated list have elements over the tolerance. */
static void assert_only_bad(const tg_bptt_report *rep, ...)
{
    const char *bad[TG_BPTT_MAX_QUANTITIES];
    size_t n = 0;
    va_list ap;
    va_start(ap, rep);
    for (const char *s; (s = va_arg(ap, const char *));) bad[n++] = s;
    va_end(ap);
    for (size_t k = 0; k < rep->n; k++) {
        int expect = 0;
        for (size_t i = 0; i < n; i++) expect |= strcmp(bad[i], rep->q[k].name) == 0;
        if (expect != (rep->q[k].bad != 0))
            fail_msg("%s: %zu elements over the tolerance", rep->q[k].name, rep->q[k].bad);
    }
}

static void test_compare_reports_the_step_of_one_perturbed_hand_gradient(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, &lstm, 20, 5);
    tg_bptt_grads ref, tape, mine;
    run_both(p, &ref, &tape);
    clone(&mine, &ref);
    size_t BH = B * H;
    mine.dstate[0][(13 - 1) * BH + 1 * H + 2] += (tg_real)1e-2; /* dh: step 13, row 1, unit 2 */
    tg_bptt_report rep = compare(&mine, &tape);
    const tg_bptt_diff *dh = q(&rep, "dh");
    assert_false(rep.ok);
    assert_int_equal(rep.part_step, 13);
    assert_int_equal(dh->first_step, 13);
    assert_int_equal(dh->bad, 1);
    assert_int_equal(dh->step, 13);
    assert_int_equal(dh->row, 1);
    assert_int_equal(dh->col, 2);
    assert_int_equal(dh->role, TG_BPTT_BACKWARD);
    assert_true(fabs(dh->max_abs - 1e-2) < 1e-4);
    assert_only_bad(&rep, "dh", NULL);
    assert_true(q(&rep, "dweight_ih")->first_step == TG_BPTT_NONE);

    /* A forward state parts in forward order; it is not where the backward walks part. */
    tg_bptt_grads_deinit(&mine);
    clone(&mine, &ref);
    mine.state[0][(4 - 1) * BH] += 1, mine.state[0][(9 - 1) * BH] += 1;
    rep = compare(&mine, &tape);
    assert_int_equal(q(&rep, "h")->first_step, 4);
    assert_true(rep.part_step == TG_BPTT_NONE);
    assert_false(rep.ok);

    /* Only dh0 differs: the walks part at "step 0". */
    tg_bptt_grads_deinit(&mine);
    clone(&mine, &ref);
    mine.dstate0[0][3] = (tg_real)NAN;
    rep = compare(&mine, &tape);
    assert_int_equal(rep.part_step, 0);
    assert_int_equal(q(&rep, "dh0")->bad, 1);
    assert_true(isinf(q(&rep, "dh0")->max_rel));
    tg_bptt_grads_deinit(&mine);
    tg_bptt_grads_deinit(&ref);
    tg_bptt_grads_deinit(&tape);
    free(p);
}

static void test_compare_finds_where_an_error_entering_one_step_flows_back(void **s)
{
    (void)s;
    for (size_t k = 0; k < sizeof families / sizeof families[0]; k++) {
        problem *p = malloc(sizeof *p);
        problem_init(p, families[k], 20, 6);
        tg_bptt_grads tape, mine;
        run_both(p, &mine, &tape);
        /* A hand derivation that adds a wrong term at step 13: it reaches steps 13, 12, ..., 1,
         * dh0 and the parameters, but not steps after 13 nor the forward. */
        for (size_t e = 0; e < B * H; e++) p->dy[(13 - 1) * B * H + e] += (tg_real)0.5;
        run_hand(p, &mine);
        tg_bptt_report rep = compare(&mine, &tape);
        assert_int_equal(rep.part_step, 13);
        assert_int_equal(q(&rep, "dh")->first_step, 13);
        assert_int_equal(q(&rep, "dx")->first_step, 13);
        if (families[k] == &lstm) assert_int_equal(q(&rep, "dc")->first_step, 13);
        assert_int_equal(q(&rep, "h")->bad, 0);
        assert_true(q(&rep, "dweight_hh")->bad > 0);
        assert_true(q(&rep, "dweight_hh")->first_step == TG_BPTT_NONE);
        tg_bptt_grads_deinit(&mine);
        tg_bptt_grads_deinit(&tape);
        free(p);
    }
}

static void test_compare_skips_what_the_user_did_not_compute(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, &gru, 3, 8);
    tg_bptt_grads ref, tape;
    run_both(p, &ref, &tape);
    /* A user's own arrays: only dweight_hh and dh, in a struct filled by hand. */
    tg_bptt_grads mine = {.type = &tg_cell_gru, .T = 3, .B = B, .I = I, .H = H};
    mine.dparam[W_HH] = ref.dparam[W_HH], mine.dstate[0] = ref.dstate[0];
    tg_bptt_report rep = compare(&mine, &tape);
    assert_true(rep.ok);
    for (size_t k = 0; k < rep.n; k++) {
        int computed = !strcmp(rep.q[k].name, "dweight_hh") || !strcmp(rep.q[k].name, "dh");
        assert_int_equal(rep.q[k].count != 0, computed);
    }
    assert_int_equal(q(&rep, "dh")->count, 3 * B * H);
    tg_bptt_grads_deinit(&ref);
    tg_bptt_grads_deinit(&tape);
    free(p);
}

static void test_compare_rejects_mismatched_sizes_and_bad_tolerances_naming_them(void **s)
{
    (void)s;
    tg_bptt_grads a, b, c;
    tg_bptt_report rep;
    tg_status st;
    assert_int_equal(tg_bptt_grads_init(&a, &tg_cell_gru, 4, B, I, H, NULL), TG_OK);
    assert_int_equal(tg_bptt_grads_init(&b, &tg_cell_gru, 5, B, I, H, NULL), TG_OK);
    assert_int_equal(tg_bptt_grads_init(&c, &tg_cell_lstm, 4, B, I, H, NULL), TG_OK);
    assert_int_equal(tg_bptt_compare(&a, &b, 1e-6, 0, &rep, &st), TG_ESHAPE);
    assert_non_null(strstr(st.msg, "tg_bptt_compare: mine is gru, T = 4"));
    assert_non_null(strstr(st.msg, "ref is gru, T = 5"));
    assert_int_equal(tg_bptt_compare(&a, &c, 1e-6, 0, &rep, &st), TG_ESHAPE);
    assert_non_null(strstr(st.msg, "ref is lstm"));
    assert_int_equal(tg_bptt_compare(&a, &a, -1, 0, &rep, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "tol = -1 and floor = 0 must be at least 0"));
    assert_int_equal(tg_bptt_compare(&a, &a, 1e-6, NAN, &rep, &st), TG_EINVAL);
    assert_int_equal(tg_bptt_compare(NULL, &a, 1e-6, 0, &rep, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_bptt_compare: mine, ref, rep or a type is NULL"));
    tg_bptt_grads huge = {.type = &tg_cell_gru, .T = SIZE_MAX / 2, .B = 4, .I = I, .H = H};
    assert_int_equal(tg_bptt_compare(&huge, &huge, 1e-6, 0, &rep, &st), TG_ERANGE);
    assert_non_null(strstr(st.msg, "the sizes overflow"));
    assert_int_equal(tg_bptt_compare(&a, &a, 0, 0, &rep, NULL), TG_OK); /* zeros agree exactly */
    assert_true(rep.ok);
    assert_true(rep.max_rel == 0);
    tg_bptt_grads_deinit(&a);
    tg_bptt_grads_deinit(&b);
    tg_bptt_grads_deinit(&c);
}

static void test_grads_init_rejects_no_type_zero_and_overflowing_sizes_naming_them(void **s)
{
    (void)s;
    tg_bptt_grads g;
    tg_status st;
    assert_int_equal(tg_bptt_grads_init(&g, &tg_cell_lstm, 0, B, I, H, &st), TG_EINVAL);
    assert_null(g.block);
    assert_non_null(strstr(st.msg, "tg_bptt_grads_init: lstm with T = 0, B = 3, I = 4, H = 5"));
    tg_bptt_grads_deinit(&g);
    assert_int_equal(tg_bptt_grads_init(&g, NULL, 1, B, I, H, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "the cell type is NULL"));
    assert_int_equal(tg_bptt_grads_init(&g, &tg_cell_rnn, SIZE_MAX / 2, 4, I, H, &st), TG_ERANGE);
    assert_non_null(strstr(st.msg, "the sizes overflow"));
    assert_null(g.type);
    /* What init lays out: the type's parameters and states, nothing past them. */
    assert_int_equal(tg_bptt_grads_init(&g, &tg_cell_lstm, 2, B, I, H, &st), TG_OK);
    assert_int_equal(tg_bptt_param_numel(&g, W_IH), 4 * H * I);
    assert_int_equal(tg_bptt_param_numel(&g, B_HH), 4 * H);
    assert_int_equal(tg_bptt_param_numel(&g, 4), 0);
    assert_non_null(g.dstate[1]);
    assert_null(g.dstate[2]);
    assert_null(g.dparam[4]);
    assert_ptr_equal(tg_bptt_dparam(&g, "bias_ih"), g.dparam[B_IH]); /* parameters by name */
    assert_null(tg_bptt_dparam(&g, "bias"));
    tg_bptt_grads_deinit(&g);
}

static void test_report_prints_a_table_naming_the_step_where_they_part(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, &lstm, 20, 5);
    tg_bptt_grads ref, tape;
    run_both(p, &ref, &tape);
    ref.dx[(17 - 1) * B * I] += 1;
    tg_bptt_report rep = compare(&ref, &tape);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(tg_bptt_report_print(&rep, f), TG_OK);
    char buf[4096];
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    const char *want[] = {
        "BPTT check: lstm, T = 20", "dweight_ih",          "dbias_hh", "dc0", "dx", "t=17 (0, 0)",
        "DIFFER in 1 quantities",   "first part at t = 17"};
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

static void test_reference_and_tape_reject_bad_arguments_naming_them(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, &rnn_tanh, 4, 9);
    tg_bptt_grads g, tg;
    tg_status st;
    assert_int_equal(tg_bptt_grads_init(&g, &tg_cell_lstm, 4, B, I, H, NULL), TG_OK);
    assert_int_equal(tg_bptt_rnn_tanh_hand(&p->w, 4, B, p->x, NULL, p->dy, &g, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "tg_bptt_rnn_tanh_hand: g is for lstm, T = 4"));
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_bptt_tape(t, &p->w, 4, B, p->x, NULL, p->dy, &g, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "tg_bptt_tape: g is for lstm"));
    /* The LSTM's hand derivation given a tanh RNN cell: not its layout. */
    assert_int_equal(tg_bptt_lstm_hand(&p->w, 4, B, p->x, NULL, p->dy, &g, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "tg_bptt_lstm_hand: a rnn cell"));
    assert_non_null(strstr(st.msg, "4 parameters for 4 gates and 2 states"));
    assert_int_equal(tg_bptt_rnn_relu_hand(&p->w, 4, B, p->x, NULL, p->dy, &g, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "tg_bptt_rnn_relu_hand: g is for lstm"));
    assert_int_equal(tg_bptt_gru_hand(&p->w, 4, B, p->x, NULL, p->dy, &g, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "tg_bptt_gru_hand"));
    tg_bptt_grads_deinit(&g);
    assert_int_equal(tg_bptt_grads_init(&g, &tg_cell_rnn, 4, B, I, H, NULL), TG_OK);
    assert_int_equal(tg_bptt_rnn_tanh_hand(&p->w, 3, B, p->x, NULL, p->dy, &g, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "not rnn, 3, 3, 4, 5"));
    assert_int_equal(tg_bptt_rnn_tanh_hand(&p->w, 4, B, NULL, NULL, p->dy, &g, &st), TG_ENULL);
    assert_int_equal(tg_bptt_tape(t, &p->w, 4, B, p->x, NULL, NULL, &g, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_bptt_tape: the tape, the cell, its type, x, dy or g"));
    p->w.param[B_HH] = NULL;
    assert_int_equal(tg_bptt_tape(t, &p->w, 4, B, p->x, NULL, p->dy, &g, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "rnn parameter bias_hh is NULL"));
    p->w.param[B_HH] = p->b_hh;
    /* NULL initial states are zeros on both sides. */
    assert_int_equal(tg_bptt_rnn_tanh_hand(&p->w, 4, B, p->x, NULL, p->dy, &g, &st), TG_OK);
    assert_int_equal(tg_bptt_grads_init(&tg, &tg_cell_rnn, 4, B, I, H, NULL), TG_OK);
    assert_int_equal(tg_bptt_tape(t, &p->w, 4, B, p->x, NULL, p->dy, &tg, &st), TG_OK);
    assert_true(compare(&g, &tg).ok);
    tg_tape_free(t);
    tg_bptt_grads_deinit(&g);
    tg_bptt_grads_deinit(&tg);
    free(p);
}

static void test_check_in_one_call_agrees_or_names_what_failed(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, &lstm, 9, 12);
    tg_bptt_grads mine;
    tg_bptt_report rep;
    tg_status st;
    grads_init(&mine, p);
    run_hand(p, &mine);
    assert_int_equal(tg_bptt_check(&mine, &p->w, p->x, p->s0, p->dy, REF_TOL, REF_FLOOR, &rep, &st),
                     TG_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.n, 4 + 3 * 2 + 1);
    mine.dstate[1][(5 - 1) * B * H] += 1; /* dc at step 5 */
    assert_int_equal(tg_bptt_check(&mine, &p->w, p->x, p->s0, p->dy, REF_TOL, REF_FLOOR, &rep, &st),
                     TG_OK);
    assert_int_equal(rep.part_step, 5);
    assert_int_equal(q(&rep, "dc")->first_step, 5);
    assert_int_equal(tg_bptt_check(NULL, &p->w, p->x, p->s0, p->dy, 0, 0, &rep, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_bptt_check: mine or its type is NULL"));
    assert_int_equal(tg_bptt_check(&mine, &p->w, p->x, p->s0, NULL, 0, 0, &rep, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_bptt_tape:"));
    assert_int_equal(rep.n, 0);
    tg_bptt_grads_deinit(&mine);
    free(p);
}

static void test_reference_takes_weights_from_a_tape_cell(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    assert_int_equal(tg_cell_init(&cell, ps, NULL, 0, &tg_cell_gru, I, H, &r, NULL), TG_OK);
    tg_bptt_cell w = tg_bptt_cell_of(&cell);
    assert_ptr_equal(w.type, &tg_cell_gru);
    assert_int_equal(w.in, I);
    assert_int_equal(w.hidden, H);
    assert_ptr_equal(w.param[W_IH], cell.p[W_IH]->val);
    assert_ptr_equal(w.param[B_HH], cell.p[B_HH]->val);
    assert_null(w.param[4]);
    tg_params_free(ps);
}

/* ---- the general check on a type of our own: two states, its own names ---- */

/* m' = m + h,  h' = tanh(x·Wᵀ + m'·Uᵀ): a toy with a second state that only accumulates. */
static tg_state acc_step(tg_tape *t, const tg_cell *c, tg_tensor *x, tg_state s)
{
    tg_tensor *m = tg_add(t, s.v[1], s.h);                         /* m' = m + h */
    tg_tensor *a = tg_add(t, tg_matmul(t, x, c->p[0], TG_TRANS_B), /* x·Wᵀ */
                          tg_matmul(t, m, c->p[1], TG_TRANS_B));   /* + m'·Uᵀ */
    return (tg_state){{tg_tanh(t, a), m}};                         /* h' = tanh(a) */
}

static const tg_cell_type acc_type = {
    "acc", 2,       {"h", "m"}, 2, {{"W", {1, 0, 0}, {0, 1, 0}}, {"U", {1, 0, 0}, {1, 0, 0}}},
    NULL,  acc_step};

enum { TA = 6 }; /* steps of the toy's check */

/* y (B x N) = base + a (B x K)·Wᵀ, W (N x K); base may be NULL. */
static void times_wt(tg_real *y, const tg_real *base, const tg_real *a, const tg_real *W, size_t K,
                     size_t N)
{
    for (size_t r = 0; r < B; r++)
        for (size_t n = 0; n < N; n++) {
            double v = base ? base[r * N + n] : 0;
            for (size_t k = 0; k < K; k++) v += (double)a[r * K + k] * W[n * K + k];
            y[r * N + n] = (tg_real)v;
        }
}

/* y (B x K) = a (B x N)·W (N x K), and dW (N x K) += aᵀ·x for x (B x K). */
static void times_w(tg_real *y, const tg_real *a, const tg_real *W, size_t K, size_t N)
{
    for (size_t r = 0; r < B; r++)
        for (size_t k = 0; k < K; k++) {
            double v = 0;
            for (size_t n = 0; n < N; n++) v += (double)a[r * N + n] * W[n * K + k];
            y[r * K + k] = (tg_real)v;
        }
}

static void outer_acc(tg_real *dW, const tg_real *a, const tg_real *x, size_t K, size_t N)
{
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < K; k++)
            for (size_t r = 0; r < B; r++) dW[n * K + k] += a[r * N + n] * x[r * K + k];
}

/* The toy's hand derivation from zero initial states. Forward m_t = m_{t−1} + h_{t−1},
 * h_t = tanh(x_t·Wᵀ + m_t·Uᵀ). Walking back with dh, dm sent from step t + 1:
 *   dh_t = dy_t + dh sent,  da = dh_t ⊙ (1 − h_t²),  dm_t = da·U + dm sent,
 *   dW += daᵀ·x_t,  dU += daᵀ·m_t,  dx_t = da·W,  sent back: dh = dm = dm_t. */
static void acc_hand(const tg_real *W, const tg_real *U, const tg_real *x, const tg_real *dy,
                     tg_bptt_grads *g)
{
    enum { BH = B * H };
    tg_real h[(TA + 1) * BH] = {0}, m[(TA + 1) * BH] = {0}, dh[BH] = {0}, dm[BH] = {0}, da[BH];
    for (size_t t = 1; t <= TA; t++) {
        for (size_t e = 0; e < BH; e++) m[t * BH + e] = m[(t - 1) * BH + e] + h[(t - 1) * BH + e];
        times_wt(&h[t * BH], NULL, &x[(t - 1) * B * I], W, I, H);
        times_wt(&h[t * BH], &h[t * BH], &m[t * BH], U, H, H);
        for (size_t e = 0; e < BH; e++) h[t * BH + e] = (tg_real)tanh(h[t * BH + e]);
    }
    memcpy(g->state[0], h + BH, TA * BH * sizeof *h),
        memcpy(g->state[1], m + BH, TA * BH * sizeof *m);
    for (size_t t = TA; t >= 1; t--) {
        tg_real *dht = g->dstate[0] + (t - 1) * BH, *dmt = g->dstate[1] + (t - 1) * BH;
        for (size_t e = 0; e < BH; e++) {
            dht[e] = dy[(t - 1) * BH + e] + dh[e];
            da[e] = dht[e] * (1 - h[t * BH + e] * h[t * BH + e]);
        }
        times_w(dmt, da, U, H, H);
        for (size_t e = 0; e < BH; e++) dmt[e] += dm[e];
        outer_acc(g->dparam[0], da, &x[(t - 1) * B * I], I, H);
        outer_acc(g->dparam[1], da, &m[t * BH], H, H);
        times_w(&g->dx[(t - 1) * B * I], da, W, I, H);
        memcpy(dh, dmt, sizeof dh), memcpy(dm, dmt, sizeof dm);
    }
    memcpy(g->dstate0[0], dh, sizeof dh), memcpy(g->dstate0[1], dm, sizeof dm);
}

static void test_a_type_of_our_own_gets_a_report_with_its_own_names(void **s)
{
    (void)s;
    enum { T = TA };
    tg_rng r;
    tg_rng_seed(&r, 11);
    tg_real W[H * I], U[H * H], x[T * B * I], dy[T * B * H];
    fill_uniform(W, H * I, &r, -0.6, 0.6), fill_uniform(U, H * H, &r, -0.6, 0.6);
    fill_uniform(x, T * B * I, &r, -1, 1), fill_uniform(dy, T * B * H, &r, -1, 1);
    tg_bptt_cell w = {&acc_type, I, H, {W, U}};
    tg_bptt_grads tape, mine;
    assert_int_equal(tg_bptt_grads_init(&tape, &acc_type, T, B, I, H, NULL), TG_OK);
    assert_int_equal(tg_bptt_grads_init(&mine, &acc_type, T, B, I, H, NULL), TG_OK);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_bptt_tape(t, &w, T, B, x, NULL, dy, &tape, NULL), TG_OK);
    acc_hand(W, U, x, dy, &mine);
    tg_bptt_report rep = compare(&mine, &tape);
    static const char *const names[] = {"dW", "dU", "dh0", "dm0", "dh", "dm", "dx", "h", "m"};
    assert_int_equal(rep.n, 9);
    for (size_t k = 0; k < rep.n; k++) assert_string_equal(rep.q[k].name, names[k]);
    if (!rep.ok) {
        tg_bptt_report_print(&rep, stderr);
        fail_msg("the hand derivation differs");
    }
    tg_tape_free(t);
    tg_bptt_grads_deinit(&tape);
    tg_bptt_grads_deinit(&mine);
}

/* A type whose step multiplies x by a parameter of the wrong width: the recording fails. */
static tg_state broken_step(tg_tape *t, const tg_cell *c, tg_tensor *x, tg_state s)
{
    (void)s;
    return (tg_state){{tg_matmul(t, x, c->p[0], TG_TRANS_B)}}; /* W is (H x H), x (B x I) */
}

static const tg_cell_type broken_type = {
    "broken", 1, {"h"}, 1, {{"W", {1, 0, 0}, {1, 0, 0}}}, NULL, broken_step};

static void test_tape_reports_a_failed_recording_and_leaves_g_unchanged(void **s)
{
    (void)s;
    tg_real W[H * H] = {0}, x[2 * B * I] = {0}, dy[2 * B * H] = {0};
    tg_bptt_cell w = {&broken_type, I, H, {W}};
    tg_bptt_grads g;
    tg_status st;
    assert_int_equal(tg_bptt_grads_init(&g, &broken_type, 2, B, I, H, NULL), TG_OK);
    g.state[0][0] = 42;
    tg_tape *t = tg_tape_new();
    assert_int_not_equal(tg_bptt_tape(t, &w, 2, B, x, NULL, dy, &g, &st), TG_OK);
    assert_non_null(strstr(st.msg, "tg_bptt_tape: recording broken failed: tg_matmul"));
    assert_true(g.state[0][0] == 42);
    tg_tape_free(t);
    tg_bptt_grads_deinit(&g);
}

/* ---- adapters: textbook cells recorded with ops, in their own layout ---- */

#ifdef TG_DOUBLE
#define ADAPT_TOL 1e-12
#else
#define ADAPT_TOL 1e-5
#endif

typedef struct {
    size_t G;                     /* 1: tanh RNN, 4: LSTM in the books' order, 3: GRU */
    tg_tensor *W1, *W2, *b1, *b2; /* textbook: W_x, W_h, b (b2 NULL); GRU: PyTorch layout */
} book;

static tg_tensor *gate(tg_tape *t, tg_tensor *a, size_t k)
{
    return tg_slice_cols(t, a, k * H, H);
}

/* a = x·W_x + h·W_h + b; RNN h' = tanh(a); LSTM with gates f, g, i, o. */
static tg_state book_step(tg_tape *t, const book *m, tg_tensor *x, tg_state s)
{
    tg_tensor *a =
        tg_add(t, tg_add(t, tg_matmul(t, x, m->W1, 0), tg_matmul(t, s.h, m->W2, 0)), m->b1);
    if (m->G == 1) return (tg_state){{tg_tanh(t, a)}};
    tg_tensor *f = tg_sigmoid(t, gate(t, a, 0)), *g = tg_tanh(t, gate(t, a, 1));
    tg_tensor *i = tg_sigmoid(t, gate(t, a, 2)), *o = tg_sigmoid(t, gate(t, a, 3));
    tg_tensor *c = tg_add(t, tg_mul(t, f, s.c), tg_mul(t, i, g));
    return (tg_state){{tg_mul(t, o, tg_tanh(t, c)), c}};
}

/* The textbook GRU in PyTorch's layout: h' = z ⊙ n + (1 − z) ⊙ h. */
static tg_state book_gru(tg_tape *t, const book *m, tg_tensor *x, tg_state s)
{
    tg_tensor *gx = tg_add(t, tg_matmul(t, x, m->W1, TG_TRANS_B), m->b1);
    tg_tensor *gh = tg_add(t, tg_matmul(t, s.h, m->W2, TG_TRANS_B), m->b2);
    tg_tensor *r = tg_sigmoid(t, tg_add(t, gate(t, gx, 0), gate(t, gh, 0)));
    tg_tensor *z = tg_sigmoid(t, tg_add(t, gate(t, gx, 1), gate(t, gh, 1)));
    tg_tensor *n = tg_tanh(t, tg_add(t, gate(t, gx, 2), tg_mul(t, r, gate(t, gh, 2))));
    return (tg_state){{tg_add(t, tg_mul(t, z, n), tg_mul(t, tg_one_minus(t, z), s.h))}};
}

/* Run the textbook model over p's sequence with loss Σ sum(h_t ⊙ dy_t); h receives the T
 * outputs; the leaves' gradients hold dL/dW. */
static void book_run(book *m, const problem *p, tg_real *h)
{
    tg_tape *t = tg_tape_new();
    tg_state st = {{tg_input(t, B, H, p->h0), m->G == 4 ? tg_input(t, B, H, p->c0) : NULL}};
    tg_tensor *loss = NULL;
    for (size_t k = 0; k < p->T; k++) {
        tg_tensor *x = tg_input(t, B, I, p->x + k * B * I);
        st = m->G == 3 ? book_gru(t, m, x, st) : book_step(t, m, x, st);
        tg_tensor *term = tg_sum(t, tg_mul(t, st.h, tg_input(t, B, H, p->dy + k * B * H)));
        loss = loss ? tg_add(t, loss, term) : term;
        if (st.h) memcpy(h + k * B * H, st.h->val, B * H * sizeof *h);
    }
    if (tg_backward(t, loss) != TG_OK) fail_msg("textbook model: %s", tg_tape_error(t));
    tg_tape_free(t);
}

static void check_textbook_adapter(const family *fam, const size_t *order)
{
    problem *p = malloc(sizeof *p);
    problem_init(p, fam, 6, 21);
    size_t G = fam->G, GH = G * H;
    tg_bptt_grads tp, un;
    run_both(p, &un, &tp); /* tp: the PyTorch-layout cell on the tape */
    book m = {G, tg_tensor_new(I, GH, 1), tg_tensor_new(H, GH, 1), tg_tensor_new(1, GH, 1), NULL};
    assert_int_equal(tg_textbook_from_torch(G, order, I, H, p->W_ih, p->W_hh, p->b_ih, p->b_hh,
                                            m.W1->val, m.W2->val, m.b1->val, NULL),
                     TG_OK);
    /* The same outputs from the textbook cell with the converted weights. */
    tg_real h[6 * B * H];
    book_run(&m, p, h);
    assert_close(h, tp.state[0], p->T * B * H, ADAPT_TOL);
    /* Gradients map like the weights: the textbook model's equal the converted tape ones. */
    tg_real dWx[GMAX * H * I], dWh[GMAX * H * H], db[GMAX * H];
    assert_int_equal(tg_textbook_grads_from_torch(G, order, I, H, tp.dparam[W_IH], tp.dparam[W_HH],
                                                  tp.dparam[B_IH], dWx, dWh, db, NULL),
                     TG_OK);
    assert_close(dWx, m.W1->grad, GH * I, ADAPT_TOL);
    assert_close(dWh, m.W2->grad, GH * H, ADAPT_TOL);
    assert_close(db, m.b1->grad, GH, ADAPT_TOL);
    tg_real dW_ih[GMAX * H * I], dW_hh[GMAX * H * H], db_ih[GMAX * H], db_hh[GMAX * H];
    assert_int_equal(tg_textbook_grads_to_torch(G, order, I, H, m.W1->grad, m.W2->grad, m.b1->grad,
                                                dW_ih, dW_hh, db_ih, db_hh, NULL),
                     TG_OK);
    assert_close(dW_ih, tp.dparam[W_IH], GH * I, ADAPT_TOL);
    assert_close(dW_hh, tp.dparam[W_HH], GH * H, ADAPT_TOL);
    assert_close(db_ih, tp.dparam[B_IH], GH, ADAPT_TOL);
    assert_close(db_hh, tp.dparam[B_HH], GH, ADAPT_TOL);
    /* Round trips: textbook -> PyTorch -> textbook is exact; PyTorch -> textbook -> PyTorch
     * keeps the weights exactly and moves the whole bias into b_ih. */
    tg_real W_ih[GMAX * H * I], W_hh[GMAX * H * H], b_ih[GMAX * H], b_hh[GMAX * H];
    assert_int_equal(tg_textbook_to_torch(G, order, I, H, m.W1->val, m.W2->val, m.b1->val, W_ih,
                                          W_hh, b_ih, b_hh, NULL),
                     TG_OK);
    assert_memory_equal(W_ih, p->W_ih, GH * I * sizeof(tg_real));
    assert_memory_equal(W_hh, p->W_hh, GH * H * sizeof(tg_real));
    for (size_t j = 0; j < GH; j++) {
        assert_true(b_hh[j] == 0);
        assert_true(b_ih[j] == (tg_real)((double)p->b_ih[j] + p->b_hh[j]));
    }
    tg_real Wx2[GMAX * H * I], Wh2[GMAX * H * H], b2[GMAX * H];
    assert_int_equal(
        tg_textbook_from_torch(G, order, I, H, W_ih, W_hh, b_ih, b_hh, Wx2, Wh2, b2, NULL), TG_OK);
    assert_memory_equal(Wx2, m.W1->val, GH * I * sizeof(tg_real));
    assert_memory_equal(Wh2, m.W2->val, GH * H * sizeof(tg_real));
    assert_memory_equal(b2, m.b1->val, GH * sizeof(tg_real));
    /* ... and the round-tripped PyTorch weights give the same outputs on the tape cell. */
    problem *q2 = malloc(sizeof *q2);
    *q2 = *p;
    memcpy(q2->b_ih, b_ih, sizeof b_ih), memcpy(q2->b_hh, b_hh, sizeof b_hh);
    q2->w = (tg_bptt_cell){fam->type, I, H, {q2->W_ih, q2->W_hh, q2->b_ih, q2->b_hh}};
    q2->s0[0] = q2->h0, q2->s0[1] = q2->c0;
    tg_bptt_grads tq, uq;
    run_both(q2, &uq, &tq);
    assert_close(tq.state[0], tp.state[0], p->T * B * H, ADAPT_TOL);
    tg_tensor_free(m.W1), tg_tensor_free(m.W2), tg_tensor_free(m.b1);
    tg_bptt_grads_deinit(&tp), tg_bptt_grads_deinit(&un);
    tg_bptt_grads_deinit(&tq), tg_bptt_grads_deinit(&uq);
    free(p), free(q2);
}

static void test_lstm_textbook_layout_round_trips_with_equal_outputs_and_gradients(void **s)
{
    (void)s;
    check_textbook_adapter(&lstm, tg_lstm_textbook_order);
}

static void test_rnn_textbook_layout_round_trips_with_equal_outputs_and_gradients(void **s)
{
    (void)s;
    check_textbook_adapter(&rnn_tanh, NULL);
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
    assert_int_equal(tg_textbook_from_torch(4, tg_lstm_textbook_order, I, H, W_ih, W_hh, b_ih, b_hh,
                                            W_x, W_h, b, NULL),
                     TG_OK);
    static const int order[4] = {1, 2, 0, 3}; /* f, g, i, o in PyTorch's numbering */
    for (size_t q = 0; q < 4; q++)
        for (size_t j = 0; j < H; j++) {
            for (size_t k = 0; k < I; k++) assert_true(W_x[k * 4 * H + q * H + j] == order[q]);
            for (size_t k = 0; k < H; k++) assert_true(W_h[k * 4 * H + q * H + j] == 10 + order[q]);
            assert_true(b[q * H + j] == 100 + order[q]);
        }
}

static void test_textbook_adapters_reject_a_bad_order_zero_gates_and_null_arrays(void **s)
{
    (void)s;
    tg_real a[4 * H * H] = {0}, b[4 * H * H] = {0};
    tg_status st;
    static const size_t twice[4] = {0, 1, 1, 3}, past[4] = {0, 1, 2, 4};
    assert_int_equal(tg_textbook_from_torch(4, twice, I, H, a, a, a, a, b, b, b, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "tg_textbook_from_torch: order[1] = 1: the order must be a "
                                   "permutation of 0..3"));
    assert_int_equal(tg_textbook_to_torch(4, past, I, H, a, a, a, b, b, b, b, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "order[3] = 4"));
    assert_int_equal(tg_textbook_grads_from_torch(0, NULL, I, H, a, a, a, b, b, b, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "G = 0, I = 4, H = 5 must be at least 1"));
    assert_int_equal(tg_textbook_grads_to_torch(1, NULL, I, SIZE_MAX / 2, a, a, a, b, b, b, b, &st),
                     TG_ERANGE);
    assert_non_null(strstr(st.msg, "tg_textbook_grads_to_torch: G = 1"));
    assert_int_equal(tg_textbook_from_torch(1, NULL, I, H, a, NULL, a, a, b, b, b, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "tg_textbook_from_torch: array 2 of 7 is NULL"));
    assert_int_equal(tg_textbook_to_torch(1, NULL, I, H, a, a, a, b, b, b, NULL, NULL), TG_ENULL);
}

static void test_gru_with_z_reversed_is_pytorch_gru_with_z_rows_negated(void **s)
{
    (void)s;
    problem *p = malloc(sizeof *p);
    problem_init(p, &gru, 7, 31);
    size_t GH = 3 * H;
    tg_bptt_grads tp, un;
    run_both(p, &un, &tp);
    book m = {3, tg_tensor_new(GH, I, 1), tg_tensor_new(GH, H, 1), tg_tensor_new(1, GH, 1),
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
    assert_close(h, tp.state[0], p->T * B * H, ADAPT_TOL); /* textbook GRU, flipped = PyTorch */
    tg_gru_flip_z(I, H, m.W1->grad, m.W2->grad, m.b1->grad, m.b2->grad); /* gradients too */
    assert_close(m.W1->grad, tp.dparam[W_IH], GH * I, ADAPT_TOL);
    assert_close(m.W2->grad, tp.dparam[W_HH], GH * H, ADAPT_TOL);
    assert_close(m.b1->grad, tp.dparam[B_IH], GH, ADAPT_TOL);
    assert_close(m.b2->grad, tp.dparam[B_HH], GH, ADAPT_TOL);
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
        cmocka_unit_test(test_compare_rejects_mismatched_sizes_and_bad_tolerances_naming_them),
        cmocka_unit_test(test_grads_init_rejects_no_type_zero_and_overflowing_sizes_naming_them),
        cmocka_unit_test(test_report_prints_a_table_naming_the_step_where_they_part),
        cmocka_unit_test(test_reference_and_tape_reject_bad_arguments_naming_them),
        cmocka_unit_test(test_check_in_one_call_agrees_or_names_what_failed),
        cmocka_unit_test(test_reference_takes_weights_from_a_tape_cell),
        cmocka_unit_test(test_tape_reports_a_failed_recording_and_leaves_g_unchanged),
        cmocka_unit_test(test_a_type_of_our_own_gets_a_report_with_its_own_names),
        cmocka_unit_test(test_lstm_textbook_layout_round_trips_with_equal_outputs_and_gradients),
        cmocka_unit_test(test_rnn_textbook_layout_round_trips_with_equal_outputs_and_gradients),
        cmocka_unit_test(test_lstm_textbook_gate_order_is_f_g_i_o),
        cmocka_unit_test(test_textbook_adapters_reject_a_bad_order_zero_gates_and_null_arrays),
        cmocka_unit_test(test_gru_with_z_reversed_is_pytorch_gru_with_z_rows_negated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
