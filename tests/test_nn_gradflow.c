/* test_nn_gradflow.c: the gradient-flow measurement (nn/gradflow.c). The tape's ∂L/∂h_t on a tiny tanh
 * RNN equal the hand-written chain dh_{t-1} = (dh_t ⊙ (1 − h_t²))·W_hh (PyTorch layout, h' =
 * tanh(x·W_ihᵀ + h·W_hhᵀ + b)); the norms grow back through time for a large W_hh scale and
 * shrink for a small one on a fixed seed; every state of a type (the LSTM's c) gets
 * gradients; bad specs are named. The classic experiment: the RNN without an activation,
 * started from ∂L/∂h_T = ones, gives exactly ones·W_hh^k k steps back; σ_max of a matrix
 * whose singular values are known, and of the spec's W_hh at two scales. */
#include "testutil.h"

#include <stdlib.h>

#include "nn/gradflow.h"

enum { T = 3, H = 2, I = 1 };

static void test_tape_state_gradients_equal_the_hand_chain(void **state)
{
    (void)state;
    tg_rng r;
    tg_rng_seed(&r, 11);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    assert_int_equal(tg_cell_init(&cell, ps, NULL, 0, &tg_cell_rnn, I, H, &r, NULL), TG_OK);
    const tg_real W[H * H] = {0.9, -1.3, 0.7, 1.1}; /* W_hh[i][j]: row i is unit i's weights */
    memcpy(tg_cell_param_named(&cell, "weight_hh")->val, W, sizeof W);
    tg_tape *t = tg_tape_new();
    const tg_real x[T] = {0.5, -1.0, 2.0}, v[H] = {0.8, -0.6};
    tg_tensor *xs[T], *vt = tg_input(t, 1, H, v);
    for (size_t k = 0; k < T; k++) xs[k] = tg_input(t, 1, I, &x[k]);
    tg_state hs[T];
    assert_int_equal(tg_gradflow_record(t, &cell, T, xs, vt, hs), TG_OK);

    tg_real d[H] = {v[0], v[1]}; /* ∂L/∂h_T = v */
    for (size_t k = T; k-- > 0;) {
        assert_close(hs[k].h->grad, d, H, VAL_TOL);
        const tg_real *h = hs[k].h->val;
        tg_real dt[H], prev[H] = {0, 0};
        for (size_t i = 0; i < H; i++) dt[i] = d[i] * (1 - h[i] * h[i]); /* dt = dh ⊙ (1 − h²) */
        for (size_t i = 0; i < H; i++)
            for (size_t j = 0; j < H; j++) prev[j] += dt[i] * W[i * H + j]; /* dt·W_hh */
        double norm = sqrt((double)d[0] * d[0] + (double)d[1] * d[1]);
        assert_true(fabs(tg_grad_norm_of(hs[k].h) - norm) <= VAL_TOL * fmax(1, norm));
        memcpy(d, prev, sizeof d);
    }
    tg_tape_free(t);
    tg_params_free(ps);
}

/* ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ for a tanh RNN with W_hh entries N(0, 1)·scale. */
static double rnn_ratio(double scale, size_t steps)
{
    tg_gradflow_spec s = {&tg_cell_rnn, steps, 1, 4, 32, scale, 0, 0, 0, 5, 0};
    double *dh = calloc(steps, sizeof *dh);
    assert_non_null(dh);
    assert_int_equal(tg_gradflow_measure(&s, &dh, NULL), TG_OK);
    for (size_t k = 0; k < steps; k++) assert_true(isfinite(dh[k]) && dh[k] > 0);
    double ratio = dh[0] / dh[steps - 1];
    free(dh);
    return ratio;
}

static void test_norms_grow_for_a_large_scale_and_shrink_for_a_small_one(void **state)
{
    (void)state;
    double big = rnn_ratio(2.0, 20), small = rnn_ratio(0.1, 20); /* H = 32: radius ~11, ~0.6 */
    if (!(big > 1e3)) fail_msg("scale 2: ratio %g, expected growth > 1e3", big);
    if (!(small < 1e-3)) fail_msg("scale 0.1: ratio %g, expected shrinking < 1e-3", small);
}

static void test_lstm_reports_both_h_and_cell_state_norms(void **state)
{
    (void)state;
    tg_gradflow_spec s = {&tg_cell_lstm, 10, 2, 3, 5, 0, 0, 1.0, 1, 9, 0};
    double dh[10], dc[10], *ds[2] = {dh, dc};
    assert_int_equal(tg_gradflow_measure(&s, ds, NULL), TG_OK);
    for (size_t k = 0; k < 10; k++) assert_true(dh[k] > 0 && dc[k] > 0);
}

static void test_measure_names_a_bad_spec(void **state)
{
    (void)state;
    tg_gradflow_spec s = {&tg_cell_gru, 0, 1, 3, 5, 1, 0, 0, 0, 1, 0};
    double dh[4], *ds[1] = {dh};
    tg_status st;
    assert_int_equal(tg_gradflow_measure(&s, ds, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "T = 0"));
    s = (tg_gradflow_spec){&tg_cell_gru, 4, 1, 3, 5, 0, 0, 1.0, 1, 1, 0};
    assert_int_equal(tg_gradflow_measure(&s, ds, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "the cell is gru, not lstm"));
    s = (tg_gradflow_spec){NULL, 4, 1, 3, 5, 0, 0, 0, 0, 1, 0};
    assert_int_equal(tg_gradflow_measure(&s, ds, &st), TG_ENULL);
    assert_non_null(strstr(st.msg, "no cell type"));
}

static void test_linear_rnn_from_ones_is_ones_times_powers_of_w_hh(void **state)
{
    (void)state;
    enum { B = 2, STEPS = 4, N = 3 };
    tg_gradflow_spec s = {&tg_cell_rnn_linear, STEPS, B, N, N, 1.0, 0, 0, 0, 3, 1};
    double dh[STEPS], *ds[1] = {dh}, sigma;
    assert_int_equal(tg_gradflow_measure(&s, ds, NULL), TG_OK);
    /* The same W_hh, from the same draws: tg_cell_init's, then N(0, 1) for weight_hh. */
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_params *ps = tg_params_new();
    tg_cell cell;
    assert_int_equal(tg_cell_init(&cell, ps, NULL, 0, &tg_cell_rnn, N, N, &r, NULL), TG_OK);
    tg_tensor *W = tg_cell_param_named(&cell, "weight_hh");
    tg_init_normal(W, 0, 1, &r);
    double d[N] = {1, 1, 1}; /* one row of ∂L/∂h_T; both rows are the same */
    for (size_t k = STEPS; k-- > 0;) {
        double norm = sqrt(B * (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]));
        if (fabs(dh[k] - norm) > 1e-5 * norm)
            fail_msg("step %zu: %g, by hand %g", k + 1, dh[k], norm);
        double prev[N] = {0};
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++) prev[j] += d[i] * W->val[i * N + j]; /* dh·W_hh */
        memcpy(d, prev, sizeof d);
    }
    assert_int_equal(tg_gradflow_sigma_max(&s, &sigma, NULL), TG_OK);
    double half;
    s.scale = 0.5;
    assert_int_equal(tg_gradflow_sigma_max(&s, &half, NULL), TG_OK);
    assert_true(sigma > 0 && fabs(half - sigma / 2) <= 1e-6 * sigma);
    double direct;
    assert_int_equal(tg_sigma_max(W->val, N, N, &direct, NULL), TG_OK);
    assert_true(fabs(direct - sigma) <= 1e-6 * sigma);
    tg_params_free(ps);
}

static void test_sigma_max_of_known_matrices(void **state)
{
    (void)state;
    const tg_real A[4] = {3, 0, 4, 5}; /* AᵀA = [[25, 20], [20, 25]]: eigenvalues 45 and 5 */
    const tg_real D[6] = {0.5, 0, 0, 0, -2, 0}; /* (2 x 3), singular values 2 and 0.5 */
    const tg_real Z[4] = {0};
    double sigma;
    tg_status st;
    assert_int_equal(tg_sigma_max(A, 2, 2, &sigma, NULL), TG_OK);
    assert_true(fabs(sigma - sqrt(45.0)) <= 1e-9);
    assert_int_equal(tg_sigma_max(D, 2, 3, &sigma, NULL), TG_OK);
    assert_true(fabs(sigma - 2) <= 1e-9);
    assert_int_equal(tg_sigma_max(Z, 2, 2, &sigma, NULL), TG_OK);
    assert_true(sigma == 0);
    assert_int_equal(tg_sigma_max(A, 0, 2, &sigma, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "(0 x 2)"));
    assert_int_equal(tg_sigma_max(NULL, 2, 2, &sigma, &st), TG_ENULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tape_state_gradients_equal_the_hand_chain),
        cmocka_unit_test(test_norms_grow_for_a_large_scale_and_shrink_for_a_small_one),
        cmocka_unit_test(test_lstm_reports_both_h_and_cell_state_norms),
        cmocka_unit_test(test_measure_names_a_bad_spec),
        cmocka_unit_test(test_linear_rnn_from_ones_is_ones_times_powers_of_w_hh),
        cmocka_unit_test(test_sigma_max_of_known_matrices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
