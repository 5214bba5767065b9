/* test_nn_rnn.c: stacks of cells unrolled over time. Finite differences through every cell kind
 * (parameters, inputs, initial states) for T in {1, 2, 7}, B in {1, 3}, 1 and 2 layers; carried
 * state: one window is full BPTT exactly, two windows are a hand-written truncated loop exactly;
 * dropout only in training; many-to-one; errors; no allocation after the first window. */
#include "testutil.h"

#include <stdlib.h>

#include "nn/cells.h"
#include "nn/params.h"
#include "nn/rnn.h"

enum { I = 3, H = 4, TMAX = 7, LMAX = 2 }; /* B, T and L vary per test */

static const tg_cell_type *const kinds[] = {&tg_cell_rnn, &tg_cell_rnn_relu, &tg_cell_lstm,
                                            &tg_cell_gru};

typedef struct {
    tg_rnn rnn;
    tg_params *ps;
    size_t T, B;
    tg_tensor *xs[TMAX], *w[TMAX]; /* inputs (B x I), loss weights (B x H) */
    tg_state s0[LMAX];             /* initial states: leaves with gradients, or NULL (zeros) */
    uint64_t seed;                 /* dropout masks, redrawn identically at every call */
} seq;

static void seq_init(seq *q, const tg_cell_type *kind, size_t T, size_t B, size_t L, double dropout,
                     int given_state, tg_rng *r)
{
    memset(q, 0, sizeof *q);
    q->ps = tg_params_new();
    assert_int_equal(tg_rnn_init(&q->rnn, q->ps, "rnn.", kind, I, H, L, dropout, r, NULL), TG_OK);
    tg_params_init_uniform(q->ps, 0.8, r);
    q->T = T;
    q->B = B;
    for (size_t t = 0; t < T; t++) {
        q->xs[t] = rand_leaf(B, I, r, -1, 1);
        q->w[t] = rand_leaf(B, H, r, -1, 1);
    }
    for (size_t k = 0; given_state && k < L; k++) {
        q->s0[k].h = rand_leaf(B, H, r, -1, 1);
        if (kind->n_states > 1) q->s0[k].c = rand_leaf(B, H, r, -1, 1);
    }
    q->seed = 77;
}

static void seq_free(seq *q)
{
    for (size_t t = 0; t < q->T; t++) {
        tg_tensor_free(q->xs[t]);
        tg_tensor_free(q->w[t]);
    }
    for (size_t k = 0; k < LMAX; k++) {
        tg_tensor_free(q->s0[k].h);
        tg_tensor_free(q->s0[k].c);
    }
    tg_rnn_deinit(&q->rnn);
    tg_params_free(q->ps);
}

/* Σ_t sum(ys[t] ⊙ w[t0 + t]) over n steps: every output element matters. */
static tg_tensor *weighted(tg_tape *t, const seq *q, tg_tensor *const *ys, size_t t0, size_t n)
{
    tg_tensor *loss = tg_sum(t, tg_mul(t, ys[0], q->w[t0]));
    for (size_t i = 1; i < n; i++)
        loss = tg_add(t, loss, tg_sum(t, tg_mul(t, ys[i], q->w[t0 + i])));
    return loss;
}

static tg_tensor *seq_loss(tg_tape *t, void *p)
{
    seq *q = p;
    tg_rng r;
    tg_rng_seed(&r, q->seed);
    tg_state s[LMAX];
    memcpy(s, q->s0, sizeof s); /* forward overwrites its states with the final ones */
    tg_tensor *ys[TMAX];
    if (!tg_rnn_forward(t, &q->rnn, q->T, q->xs, s, ys, &r)) return NULL;
    return weighted(t, q, ys, 0, q->T);
}

/* assert_gradcheck with a step of 1e-5 in double: the loss sums T·B·H terms, so with the
 * default 1e-6 its rounding (~1e-15) over 2·eps already costs ~1e-9 in a derivative, and
 * derivatives near 1e-4 then miss the 1e-6 bar by noise alone. 1e-5 cuts the rounding ten
 * times for a truncation error (eps² · f‴ / 6) still below it. In float, seven steps of
 * third derivatives make the default 1e-2 step's truncation error itself a few percent. */
static void assert_gradcheck_seq(seq *q, tg_tensor *const *xs, size_t n)
{
#ifdef TG_DOUBLE
    tg_gradcheck_opts opts = {1e-5, 0};
#else
    tg_gradcheck_opts opts = {5e-3, 1e-2}; /* float catches gross errors only; double checks */
#endif
    tg_tape *t = tg_tape_new();
    tg_gradcheck_report r;
    assert_int_equal(tg_gradcheck(t, seq_loss, q, xs, n, &opts, &r), TG_OK);
    if (!(r.max_rel <= GRAD_TOL))
        fail_msg("%s T %zu B %zu L %zu: rel %.3g at tensor %zu (%zu, %zu): analytic %.12g "
                 "numeric %.12g",
                 q->rnn.type->name, q->T, q->B, q->rnn.layers, r.max_rel, r.tensor, r.row, r.col,
                 r.analytic, r.numeric);
    tg_tape_free(t);
}

/* Every parameter, every input and every initial state. */
static size_t seq_checked(seq *q, tg_tensor **xs)
{
    size_t n = 0;
    for (size_t k = 0; k < q->rnn.layers; k++) {
        tg_cell *c = &q->rnn.cells[k];
        for (size_t j = 0; j < c->type->n_params; j++) xs[n++] = c->p[j];
        if (q->s0[k].h) xs[n++] = q->s0[k].h;
        if (q->s0[k].c) xs[n++] = q->s0[k].c;
    }
    for (size_t t = 0; t < q->T; t++) xs[n++] = q->xs[t];
    return n;
}

static void test_rnn_backward_matches_finite_differences(void **s)
{
    (void)s;
    const size_t Ts[] = {1, 2, 7}, Bs[] = {1, 3};
#ifdef TG_DOUBLE
    const size_t nT = 3;
#else
    const size_t nT = 2;                   /* float steps cross ReLU kinks over 7 steps; double is the check */
#endif
    tg_rng r;
    tg_rng_seed(&r, 13);
    for (size_t k = 0; k < 4; k++)
        for (size_t ti = 0; ti < nT; ti++)
            for (size_t bi = 0; bi < 2; bi++)
                for (size_t L = 1; L <= 2; L++) {
                    seq q;
                    seq_init(&q, kinds[k], Ts[ti], Bs[bi], L, 0, 1, &r);
                    tg_tensor *xs[4 * LMAX + 2 * LMAX + TMAX];
                    assert_gradcheck_seq(&q, xs, seq_checked(&q, xs));
                    seq_free(&q);
                }
}

static void test_rnn_with_dropout_between_layers_matches_finite_differences(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 14);
    for (size_t k = 0; k < 4; k++) {
        seq q;
        seq_init(&q, kinds[k], 3, 3, 2, 0.5, 1, &r);
        tg_tensor *xs[4 * LMAX + 2 * LMAX + TMAX];
        assert_gradcheck_seq(&q, xs, seq_checked(&q, xs));
        seq_free(&q);
    }
}

/* The final top-layer state, the returned tensor and the last output are one tensor. */
static void test_rnn_many_to_one_returns_the_last_top_output(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 15);
    seq q;
    seq_init(&q, &tg_cell_gru, 5, 3, 2, 0, 0, &r);
    tg_tape *t = tg_tape_new();
    tg_state st[LMAX] = {{{0}}};
    tg_tensor *ys[TMAX];
    tg_tensor *last = tg_rnn_forward(t, &q.rnn, q.T, q.xs, st, ys, NULL);
    assert_non_null(last);
    assert_ptr_equal(last, ys[q.T - 1]);
    assert_ptr_equal(last, st[1].h);
    assert_int_equal(last->rows, 3);
    assert_int_equal(last->cols, H);
    tg_tensor *again = tg_rnn_forward(t, &q.rnn, q.T, q.xs, NULL, NULL, NULL);
    assert_close(again->val, last->val, 3 * H, 0); /* no state, no outputs: same result */
    tg_tape_free(t);
    seq_free(&q);
}

static void test_rnn_zero_initial_state_equals_given_zeros(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 16);
    seq q;
    seq_init(&q, &tg_cell_lstm, 4, 3, 2, 0, 1, &r);
    for (size_t k = 0; k < 2; k++) {
        memset(q.s0[k].h->val, 0, 3 * H * sizeof(tg_real));
        memset(q.s0[k].c->val, 0, 3 * H * sizeof(tg_real));
    }
    tg_tape *t = tg_tape_new();
    tg_state st[LMAX];
    memcpy(st, q.s0, sizeof st); /* forward replaces them with the final states */
    tg_tensor *given = tg_rnn_forward(t, &q.rnn, q.T, q.xs, st, NULL, NULL);
    tg_tensor *zeros = tg_rnn_forward(t, &q.rnn, q.T, q.xs, NULL, NULL, NULL);
    assert_close(given->val, zeros->val, 3 * H, 0);
    tg_tape_free(t);
    seq_free(&q);
}

/* A copy of every parameter's gradient. */
static void grads_of(tg_params *ps, tg_real *out)
{
    memcpy(out, tg_params_grads(ps), tg_params_numel(ps) * sizeof *out);
}

/* The hand-written truncated loop: cell steps from zero states over the windows [0, T1) and
 * [T1, T), detaching (tg_detach) the state between them, one backward per window, all on one
 * tape, layer by layer as tg_rnn_forward goes (so the arithmetic is the same to the bit).
 * Final top-layer h values into last. */
static void hand_truncated(seq *q, size_t T1, tg_real *last)
{
    size_t L = q->rnn.layers, B = q->B;
    int lstm = q->rnn.type == &tg_cell_lstm;
    tg_tape *t = tg_tape_new();
    tg_state st[LMAX];
    for (size_t k = 0; k < L; k++)
        st[k] = (tg_state){{tg_input(t, B, H, NULL), lstm ? tg_input(t, B, H, NULL) : NULL}};
    for (size_t t0 = 0; t0 < q->T; t0 = T1) {
        size_t t1 = t0 == 0 ? T1 : q->T;
        tg_tensor *ys[TMAX], *x = tg_concat_rows(t, t1 - t0, q->xs + t0);
        for (size_t k = 0; k < L; k++) { /* layer by layer, input side in one product */
            tg_tensor *gx = tg_cell_input(t, &q->rnn.cells[k], x);
            for (size_t step = 0; step < t1 - t0; step++)
                ys[step] = (st[k] = tg_cell_step_gx(t, &q->rnn.cells[k],
                                                    tg_slice_rows(t, gx, step * B, B), st[k]))
                               .h;
            x = tg_concat_rows(t, t1 - t0, ys);
        }
        assert_int_equal(tg_backward(t, weighted(t, q, ys, t0, t1 - t0)), TG_OK);
        for (size_t k = 0; k < L; k++) { /* the detach between windows */
            st[k].h = tg_detach(t, st[k].h);
            if (lstm) st[k].c = tg_detach(t, st[k].c);
        }
        if (t1 == q->T) break;
    }
    memcpy(last, st[L - 1].h->val, B * H * sizeof *last);
    tg_tape_free(t);
}

/* The same with the library: tg_rnn_forward per window, the carry between, a reset after
 * each window. Final top-layer h values into last. */
static void carried(seq *q, size_t T1, tg_real *last)
{
    tg_tape *t = tg_tape_new();
    tg_rnn_carry cs;
    assert_int_equal(tg_rnn_carry_init(&cs, &q->rnn, q->B, NULL), TG_OK);
    for (size_t t0 = 0; t0 < q->T; t0 = T1) {
        size_t t1 = t0 == 0 ? T1 : q->T;
        tg_state st[LMAX];
        tg_tensor *ys[TMAX];
        assert_int_equal(tg_rnn_carry_load(t, &cs, st), TG_OK);
        assert_non_null(tg_rnn_forward(t, &q->rnn, t1 - t0, q->xs + t0, st, ys, NULL));
        assert_int_equal(tg_backward(t, weighted(t, q, ys, t0, t1 - t0)), TG_OK);
        assert_int_equal(tg_rnn_carry_store(&cs, st, NULL), TG_OK);
        tg_tape_reset(t);
        if (t1 == q->T) break;
    }
    size_t L = q->rnn.layers, BH = q->B * H;
    memcpy(last, cs.v[0] + (L - 1) * BH, BH * sizeof *last);
    tg_rnn_carry_deinit(&cs);
    tg_tape_free(t);
}

static void check_carry_against_hand_loop(size_t T1)
{
    tg_rng r;
    tg_rng_seed(&r, 17);
    for (size_t k = 0; k < 4; k++) {
        seq q;
        seq_init(&q, kinds[k], 6, 3, 2, 0, 0, &r);
        size_t n = tg_params_numel(q.ps);
        tg_real *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
        tg_real last_want[3 * H], last_got[3 * H];
        tg_params_zero_grad(q.ps);
        hand_truncated(&q, T1, last_want);
        grads_of(q.ps, want);
        tg_params_zero_grad(q.ps);
        carried(&q, T1, last_got);
        grads_of(q.ps, got);
        assert_memory_equal(got, want, n * sizeof *got); /* the same arithmetic: exactly */
        assert_memory_equal(last_got, last_want, sizeof last_got);
        free(want);
        free(got);
        seq_free(&q);
    }
}

static void test_one_window_over_the_sequence_equals_full_bptt_exactly(void **s)
{
    (void)s;
    check_carry_against_hand_loop(6);
}

static void test_two_windows_with_carried_state_equal_a_hand_truncated_loop(void **s)
{
    (void)s;
    check_carry_against_hand_loop(4);
}

/* The layer-by-layer stack records the same maths as the step-by-step loop of cells a reader
 * would write; only the order of floating-point sums differs. */
static void test_layer_major_stack_equals_a_step_by_step_loop_of_cells(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 18);
    for (size_t k = 0; k < 4; k++) {
        seq q;
        seq_init(&q, kinds[k], 5, 3, 2, 0, 0, &r);
        size_t n = tg_params_numel(q.ps), L = q.rnn.layers, B = q.B;
        tg_real *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
        tg_tape *t = tg_tape_new();
        tg_state st[LMAX];
        tg_tensor *ys[TMAX] = {NULL}, *zs[TMAX] = {NULL};
        for (size_t l = 0; l < L; l++)
            st[l] = (tg_state){{tg_input(t, B, H, NULL), k == 2 ? tg_input(t, B, H, NULL) : NULL}};
        for (size_t step = 0; step < q.T; step++) {
            tg_tensor *x = q.xs[step];
            for (size_t l = 0; l < L; l++)
                x = (st[l] = tg_cell_step(t, &q.rnn.cells[l], x, st[l])).h;
            ys[step] = x;
        }
        assert_int_equal(tg_backward(t, weighted(t, &q, ys, 0, q.T)), TG_OK);
        grads_of(q.ps, want);
        tg_params_zero_grad(q.ps);
        assert_non_null(tg_rnn_forward(t, &q.rnn, q.T, q.xs, NULL, zs, NULL));
        assert_int_equal(tg_backward(t, weighted(t, &q, zs, 0, q.T)), TG_OK);
        grads_of(q.ps, got);
        for (size_t step = 0; step < q.T; step++)
            assert_close(zs[step]->val, ys[step]->val, B * H, VAL_TOL * 10);
        assert_close(got, want, n, VAL_TOL * 100);
        tg_tape_free(t);
        free(want);
        free(got);
        seq_free(&q);
    }
}

static void test_dropout_acts_only_in_training_mode(void **s)
{
    (void)s;
    tg_rng r, dr;
    tg_rng_seed(&r, 18);
    seq q;
    seq_init(&q, &tg_cell_lstm, 3, 3, 2, 0.5, 0, &r);
    tg_rnn plain = q.rnn;
    plain.dropout = 0;
    tg_tape *t = tg_tape_new();
    tg_tensor *ref = tg_rnn_forward(t, &plain, q.T, q.xs, NULL, NULL, NULL);
    tg_tensor *eval = tg_rnn_forward(t, &q.rnn, q.T, q.xs, NULL, NULL, NULL); /* no rng: eval */
    assert_close(eval->val, ref->val, 3 * H, 0);
    tg_rng_seed(&dr, 1);
    tg_tensor *train = tg_rnn_forward(t, &q.rnn, q.T, q.xs, NULL, NULL, &dr);
    int differs = 0;
    for (size_t i = 0; i < 3 * H; i++) differs |= train->val[i] != ref->val[i];
    assert_true(differs);
    tg_tape_free(t);
    seq_free(&q);
}

static void test_rnn_init_names_every_layer_like_pytorch(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_rnn rnn;
    assert_int_equal(tg_rnn_init(&rnn, ps, "lstm.", &tg_cell_lstm, I, H, 2, 0.2, NULL, NULL),
                     TG_OK);
    assert_int_equal(tg_params_count(ps), 8);
    tg_tensor *w1 = tg_params_find(ps, "lstm.weight_ih_l1");
    assert_ptr_equal(w1, rnn.cells[1].p[0]);
    assert_int_equal(w1->rows, 4 * H);
    assert_int_equal(w1->cols, H); /* layer 1 reads layer 0's h */
    assert_int_equal(tg_params_find(ps, "lstm.weight_ih_l0")->cols, I);
    assert_non_null(tg_params_find(ps, "lstm.bias_hh_l1"));
    tg_rnn_deinit(&rnn);
    tg_status st = {0};
    assert_int_equal(tg_rnn_init(&rnn, ps, "lstm.", &tg_cell_lstm, I, H, 1, 0, NULL, &st),
                     TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "tg_cell_init", "duplicate", "lstm.weight_ih_l0", NULL);
    assert_null(rnn.cells);
    assert_int_equal(tg_rnn_init(&rnn, ps, "g.", &tg_cell_gru, I, H, 0, 0, NULL, NULL), TG_EINVAL);
    assert_int_equal(tg_rnn_init(&rnn, ps, "g.", &tg_cell_gru, I, H, 1, 1.0, NULL, NULL),
                     TG_EINVAL);
    tg_params_free(ps);
}

static void test_rnn_forward_names_the_cell_and_shapes_of_a_wrong_input(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_rnn rnn;
    assert_int_equal(tg_rnn_init(&rnn, ps, NULL, &tg_cell_lstm, I, H, 2, 0, NULL, NULL), TG_OK);
    tg_tape *t = tg_tape_new();
    tg_tensor *xs[2] = {tg_input(t, 3, I, NULL), tg_input(t, 3, 5, NULL)};
    tg_tensor *ys[2];
    assert_null(tg_rnn_forward(t, &rnn, 2, xs, NULL, ys, NULL));
    assert_null(ys[0]);
    assert_null(ys[1]);
    assert_error_has(t, "tg_rnn_forward", "xs[1] is (3 x 5)", "(3 x 3)", NULL);
    tg_tape_reset(t);
    assert_null(tg_rnn_forward_rows(t, &rnn, 2, tg_input(t, 6, 5, NULL), NULL, NULL, NULL));
    assert_error_has(t, "tg_rnn_forward", "x is (6 x 5)", "T = 2", "(B x 3)", NULL);
    tg_tape_reset(t);
    assert_null(tg_rnn_forward(t, &rnn, 0, xs, NULL, NULL, NULL));
    assert_error_has(t, "tg_rnn_forward", "T = 0", NULL);
    tg_tape_reset(t);
    tg_tensor *none[1] = {NULL};
    assert_null(tg_rnn_forward(t, &rnn, 1, none, NULL, NULL, NULL));
    assert_error_has(t, "tg_rnn_forward", "NULL", NULL);
    tg_tape_free(t);
    tg_rnn_deinit(&rnn);
    tg_params_free(ps);
}

/* Each step's states are labelled by their step (with the layer in a stack of several); the
 * initial zeros are step 0; a caller's own leaf keeps its name. */
static void test_rnn_labels_each_steps_states(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_rnn one, two;
    assert_int_equal(tg_rnn_init(&one, ps, "a.", &tg_cell_lstm, I, H, 1, 0, NULL, NULL), TG_OK);
    assert_int_equal(tg_rnn_init(&two, ps, "b.", &tg_cell_gru, I, H, 2, 0, NULL, NULL), TG_OK);
    tg_tape *t = tg_tape_new();
    tg_tensor *xs[3] = {tg_input(t, 2, I, NULL), tg_input(t, 2, I, NULL), tg_input(t, 2, I, NULL)};
    tg_tensor *ys[3], *mine = tg_label(tg_input(t, 2, H, NULL), "mine");
    tg_state st[2] = {{{NULL, mine}}};
    assert_non_null(tg_rnn_forward(t, &one, 3, xs, st, ys, NULL));
    assert_string_equal(ys[0]->name, "h_1");
    assert_string_equal(ys[2]->name, "h_3");
    assert_string_equal(st[0].c->name, "c_3");
    assert_string_equal(mine->name, "mine");
    tg_state st2[2] = {{{NULL}}};
    assert_non_null(tg_rnn_forward(t, &two, 2, xs, st2, ys, NULL));
    assert_string_equal(ys[1]->name, "l1.h_2");
    assert_string_equal(st2[0].h->name, "l0.h_2");
    tg_rnn_carry cs;
    assert_int_equal(tg_rnn_carry_init(&cs, &one, 2, NULL), TG_OK);
    assert_int_equal(tg_rnn_carry_load(t, &cs, st), TG_OK);
    assert_string_equal(st[0].h->name, "h_0");
    assert_string_equal(st[0].c->name, "c_0");
    tg_rnn_carry_deinit(&cs);
    tg_tape_free(t);
    tg_rnn_deinit(&one);
    tg_rnn_deinit(&two);
    tg_params_free(ps);
}

static void test_carry_store_rejects_failed_or_misshapen_states(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_rnn rnn;
    assert_int_equal(tg_rnn_init(&rnn, ps, NULL, &tg_cell_lstm, I, H, 2, 0, NULL, NULL), TG_OK);
    tg_rnn_carry cs;
    assert_int_equal(tg_rnn_carry_init(&cs, &rnn, 3, NULL), TG_OK);
    assert_non_null(cs.v[1]);
    tg_tape *t = tg_tape_new();
    tg_state st[2];
    assert_int_equal(tg_rnn_carry_load(t, &cs, st), TG_OK);
    assert_null(st[0].h->grad); /* carried state enters without a gradient */
    for (size_t i = 0; i < 3 * H; i++) st[0].h->val[i] = st[1].h->val[i] = 1;
    st[1].c = NULL;
    tg_status why = {0};
    assert_int_equal(tg_rnn_carry_store(&cs, st, &why), TG_ENULL);
    assert_status_has(&why, TG_ENULL, "tg_rnn_carry_store", "state c of layer 1 is NULL", NULL);
    st[1].c = tg_input(t, 2, H, NULL);
    assert_int_equal(tg_rnn_carry_store(&cs, st, &why), TG_ESHAPE);
    assert_status_has(&why, TG_ESHAPE, "state c of layer 1 is (2 x 4)", "holds (3 x 4)", NULL);
    for (size_t i = 0; i < 2 * 3 * H; i++) assert_true(cs.v[0][i] == 0); /* unchanged */
    st[1].c = tg_input(t, 3, H, NULL);
    assert_int_equal(tg_rnn_carry_store(&cs, st, NULL), TG_OK);
    for (size_t i = 0; i < 2 * 3 * H; i++) assert_true(cs.v[0][i] == 1);
    tg_rnn_carry_zero(&cs);
    for (size_t i = 0; i < 2 * 3 * H; i++) assert_true(cs.v[0][i] == 0 && cs.v[1][i] == 0);
    tg_rnn_carry_deinit(&cs);
    assert_int_equal(tg_rnn_carry_init(&cs, &rnn, 0, &why), TG_EINVAL);
    assert_status_has(&why, TG_EINVAL, "tg_rnn_carry_init: 2 layers x 0 rows x 4 units", NULL);
    tg_tape_free(t);
    tg_rnn_deinit(&rnn);
    tg_params_free(ps);
}

static void test_windows_after_the_first_allocate_nothing(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 19);
    seq q;
    seq_init(&q, &tg_cell_lstm, 5, 3, 2, 0.3, 0, &r);
    tg_rnn_carry cs;
    assert_int_equal(tg_rnn_carry_init(&cs, &q.rnn, 3, NULL), TG_OK);
    tg_tape *t = tg_tape_new();
    tg_tape_stats st;
    size_t allocs = 0;
    for (int window = 0; window < 4; window++) {
        tg_state state[LMAX];
        tg_tensor *ys[TMAX];
        assert_int_equal(tg_rnn_carry_load(t, &cs, state), TG_OK);
        assert_non_null(tg_rnn_forward(t, &q.rnn, q.T, q.xs, state, ys, &r));
        assert_int_equal(tg_backward(t, weighted(t, &q, ys, 0, q.T)), TG_OK);
        assert_int_equal(tg_rnn_carry_store(&cs, state, NULL), TG_OK);
        tg_tape_reset(t);
        tg_tape_get_stats(t, &st);
        if (window == 0) allocs = st.heap_allocs;
        assert_int_equal(st.heap_allocs, allocs);
    }
    tg_tape_free(t);
    tg_rnn_carry_deinit(&cs);
    seq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_backward_matches_finite_differences),
        cmocka_unit_test(test_rnn_with_dropout_between_layers_matches_finite_differences),
        cmocka_unit_test(test_rnn_many_to_one_returns_the_last_top_output),
        cmocka_unit_test(test_rnn_zero_initial_state_equals_given_zeros),
        cmocka_unit_test(test_one_window_over_the_sequence_equals_full_bptt_exactly),
        cmocka_unit_test(test_two_windows_with_carried_state_equal_a_hand_truncated_loop),
        cmocka_unit_test(test_layer_major_stack_equals_a_step_by_step_loop_of_cells),
        cmocka_unit_test(test_dropout_acts_only_in_training_mode),
        cmocka_unit_test(test_rnn_init_names_every_layer_like_pytorch),
        cmocka_unit_test(test_rnn_forward_names_the_cell_and_shapes_of_a_wrong_input),
        cmocka_unit_test(test_rnn_labels_each_steps_states),
        cmocka_unit_test(test_carry_store_rejects_failed_or_misshapen_states),
        cmocka_unit_test(test_windows_after_the_first_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
