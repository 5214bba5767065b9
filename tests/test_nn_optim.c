/* test_nn_optim.c: SGD, momentum, weight decay, Adagrad and Adam against the PyTorch update
 * formulas written out per scalar for three steps; the fused step (scale, step, zero) against
 * the three calls it replaces, on one and two threads, and over runs of the store that cover it
 * (the sharded step); state access for checkpoints; rejected
 * hyperparameters with their messages; the step-decay schedule; every vector width against a
 * scalar loop, bit for bit. */
#include "testutil.h"

#include "nn/clip.h"
#include "nn/optim.h"
#include "ops/internal.h"

#include <float.h>
#include <stdlib.h>

#define NP    3 /* scalars in the test store */
#define STEPS 3 /* steps checked */

static const double P0[NP] = {1.0, -2.0, 0.5};
static const double G[STEPS][NP] = {{0.5, -1.0, 2.0}, {0.25, 0.5, -1.0}, {-0.5, 1.5, 0.0}};

/* A store with one (1 x 3) parameter holding P0. */
static tg_params *store(void)
{
    tg_params *ps = tg_params_new();
    assert_non_null(ps);
    tg_tensor *w = add_param(ps, "w", 1, NP);
    assert_non_null(w);
    for (size_t i = 0; i < NP; i++) w->val[i] = (tg_real)P0[i];
    return ps;
}

static void set_grads(tg_params *ps, const double *g)
{
    for (size_t i = 0; i < NP; i++) tg_params_grads(ps)[i] = (tg_real)g[i];
}

static tg_optim *make(tg_params *ps, tg_optim_config cfg)
{
    tg_optim *o = NULL;
    tg_status st = {0};
    int rc = tg_optim_new(&o, ps, &cfg, &st);
    if (rc != TG_OK) fail_msg("tg_optim_new: %s: %s", tg_strerror(rc), st.msg);
    return o;
}

/* Run STEPS steps with gradients G and compare with want[step][i] after each. */
static void check_steps(tg_params *ps, tg_optim *o, double want[STEPS][NP])
{
    for (size_t k = 0; k < STEPS; k++) {
        set_grads(ps, G[k]);
        assert_int_equal(tg_optim_step(o, NULL), TG_OK);
        tg_real w[NP];
        for (size_t i = 0; i < NP; i++) w[i] = (tg_real)want[k][i];
        assert_close(tg_params_values(ps), w, NP, VAL_TOL);
    }
    assert_int_equal(tg_optim_steps(o), STEPS);
}

static void test_sgd_subtracts_lr_times_gradient(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_optim *o = make(ps, tg_sgd_config(0.1, 0));
    double want[STEPS][NP], p[NP];
    memcpy(p, P0, sizeof p);
    for (size_t k = 0; k < STEPS; k++)
        for (size_t i = 0; i < NP; i++) want[k][i] = p[i] -= 0.1 * G[k][i]; // p -= lr·g
    assert_true(fabs(want[0][0] - 0.95) < 1e-15); /* 1 − 0.1·0.5 by hand */
    check_steps(ps, o, want);
    assert_int_equal(tg_optim_state_count(o), 0);
    assert_null(tg_optim_state(o, 0));
    tg_optim_free(o);
    tg_params_free(ps);
}

static void test_sgd_momentum_and_weight_decay_follow_pytorch(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_optim_config cfg = tg_sgd_config(0.1, 0.9);
    cfg.weight_decay = 0.01;
    tg_optim *o = make(ps, cfg);
    double want[STEPS][NP], p[NP], v[NP] = {0};
    memcpy(p, P0, sizeof p);
    for (size_t k = 0; k < STEPS; k++)
        for (size_t i = 0; i < NP; i++) {
            double g = G[k][i] + 0.01 * p[i]; // g += wd·p
            v[i] = 0.9 * v[i] + g;            // v = μ·v + g
            want[k][i] = p[i] -= 0.1 * v[i];  // p -= lr·v
        }
    /* By hand, scalar 0: v1 = 0.51, p1 = 0.949; v2 = 0.9·0.51 + 0.25 + 0.00949 = 0.71849. */
    assert_true(fabs(want[0][0] - 0.949) < 1e-12);
    assert_true(fabs(want[1][0] - (0.949 - 0.071849)) < 1e-12);
    check_steps(ps, o, want);
    assert_int_equal(tg_optim_state_count(o), 1);
    assert_string_equal(tg_optim_state_name(o, 0), "momentum_buffer");
    tg_real vr[NP];
    for (size_t i = 0; i < NP; i++) vr[i] = (tg_real)v[i];
    assert_close(tg_optim_state(o, 0), vr, NP, VAL_TOL);
    tg_optim_free(o);
    tg_params_free(ps);
}

static void test_adagrad_divides_by_root_of_summed_squares(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_optim *o = make(ps, tg_adagrad_config(0.1));
    double want[STEPS][NP], p[NP], sum[NP] = {0}, eps = 1e-10;
    memcpy(p, P0, sizeof p);
    for (size_t k = 0; k < STEPS; k++)
        for (size_t i = 0; i < NP; i++) {
            sum[i] += G[k][i] * G[k][i];                               // s += g²
            want[k][i] = p[i] -= 0.1 * G[k][i] / (sqrt(sum[i]) + eps); // p -= lr·g/(√s + ε)
        }
    /* The first step is lr·sign(g): g / sqrt(g²). */
    for (size_t i = 0; i < NP; i++)
        assert_true(fabs(want[0][i] - (P0[i] - 0.1 * (G[0][i] > 0 ? 1 : -1))) < 1e-9);
    check_steps(ps, o, want);
    assert_string_equal(tg_optim_state_name(o, 0), "sum");
    tg_real sr[NP];
    for (size_t i = 0; i < NP; i++) sr[i] = (tg_real)sum[i];
    assert_close(tg_optim_state(o, 0), sr, NP, VAL_TOL);
    tg_optim_free(o);
    tg_params_free(ps);
}

/* Adam's expected values, from the formulas, with weight decay wd. */
static void adam_reference(double lr, double wd, double want[STEPS][NP], double m[NP], double v[NP])
{
    double b1 = 0.9, b2 = 0.999, eps = 1e-8, p[NP];
    memcpy(p, P0, sizeof p);
    for (size_t i = 0; i < NP; i++) m[i] = v[i] = 0;
    for (size_t k = 0; k < STEPS; k++) {
        double t = (double)(k + 1);
        for (size_t i = 0; i < NP; i++) {
            double g = G[k][i] + wd * p[i];        // g += wd·p
            m[i] = b1 * m[i] + (1 - b1) * g;       // m = β1·m + (1 − β1)·g
            v[i] = b2 * v[i] + (1 - b2) * g * g;   // v = β2·v + (1 − β2)·g²
            double mhat = m[i] / (1 - pow(b1, t)); // bias corrections
            double vhat = v[i] / (1 - pow(b2, t));
            want[k][i] = p[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
    }
}

static void test_adam_matches_formulas_with_bias_correction(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_optim *o = make(ps, tg_adam_config(0.01));
    const tg_optim_config *c = tg_optim_get_config(o);
    assert_true(c->beta1 == 0.9 && c->beta2 == 0.999 && c->eps == 1e-8);
    double want[STEPS][NP], m[NP], v[NP];
    adam_reference(0.01, 0, want, m, v);
    /* Step 1, bias-corrected: m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps) ≈ lr·sign(g). */
    for (size_t i = 0; i < NP; i++) {
        double g = G[0][i];
        assert_true(fabs(want[0][i] - (P0[i] - 0.01 * g / (fabs(g) + 1e-8))) < 1e-12);
        assert_true(fabs(want[0][i] - (P0[i] - 0.01 * (g > 0 ? 1 : -1))) < 1e-9);
    }
    check_steps(ps, o, want);
    assert_int_equal(tg_optim_state_count(o), 2);
    assert_string_equal(tg_optim_state_name(o, 0), "exp_avg");
    assert_string_equal(tg_optim_state_name(o, 1), "exp_avg_sq");
    assert_null(tg_optim_state_name(o, 2));
    tg_real mr[NP], vr[NP];
    for (size_t i = 0; i < NP; i++) mr[i] = (tg_real)m[i], vr[i] = (tg_real)v[i];
    assert_close(tg_optim_state(o, 0), mr, NP, VAL_TOL);
    assert_close(tg_optim_state(o, 1), vr, NP, VAL_TOL);
    tg_optim_free(o);
    tg_params_free(ps);
}

static void test_adam_weight_decay_is_added_to_the_gradient(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_optim_config cfg = tg_adam_config(0.05);
    cfg.weight_decay = 0.1;
    tg_optim *o = make(ps, cfg);
    double want[STEPS][NP], m[NP], v[NP];
    adam_reference(0.05, 0.1, want, m, v);
    check_steps(ps, o, want);
    tg_optim_free(o);
    tg_params_free(ps);
}

/* A store of BIG scalars in two parameters, values and gradients U(-1, 1) from seed: large
 * enough for two threads, not a multiple of any chunk. */
#define BIG 300001

static tg_params *big_store(uint64_t seed)
{
    tg_params *ps = tg_params_new();
    add_param(ps, "a", 1000, 257);
    add_param(ps, "b", BIG - 257000, 1);
    tg_rng r;
    tg_rng_seed(&r, seed);
    fill_uniform(tg_params_values(ps), BIG, &r, -1, 1);
    fill_uniform(tg_params_grads(ps), BIG, &r, -1, 1);
    return ps;
}

/* Steps of o on ps with max_norm clipping, given gradients U(-1, 1) from seed before each:
 * fused: tg_optim_step_scaled(o, tg_clip_scale(norm), 1); else the three separate calls. */
static void take_steps(tg_params *ps, tg_optim *o, int fused, const double *max_norm, size_t k)
{
    tg_rng r;
    tg_rng_seed(&r, 11);
    for (size_t step = 0; step < k; step++) {
        fill_uniform(tg_params_grads(ps), BIG, &r, -1, 1);
        if (fused) {
            double scale = tg_clip_scale(tg_grad_norm(ps), max_norm[step]);
            assert_int_equal(tg_optim_step_scaled(o, scale, 1, NULL), TG_OK);
        } else {
            tg_clip_grad_norm(ps, max_norm[step]);
            assert_int_equal(tg_optim_step(o, NULL), TG_OK);
            tg_params_zero_grad(ps);
        }
    }
}

/* Values, state and gradients of a and b are the same bits. */
static void assert_same_bits(tg_params *a, tg_optim *oa, tg_params *b, tg_optim *ob)
{
    size_t bytes = BIG * sizeof(tg_real);
    assert_memory_equal(tg_params_values(a), tg_params_values(b), bytes);
    assert_memory_equal(tg_params_grads(a), tg_params_grads(b), bytes);
    for (size_t i = 0; i < tg_optim_state_count(oa); i++)
        assert_memory_equal(tg_optim_state(oa, i), tg_optim_state(ob, i), bytes);
    assert_true(tg_optim_steps(oa) == tg_optim_steps(ob));
}

static void test_scaled_step_equals_clip_step_and_zero_grad_on_one_and_two_threads(void **s)
{
    (void)s;
    tg_optim_config cfgs[] = {tg_sgd_config(0.5, 0), tg_sgd_config(0.1, 0.9),
                              tg_adagrad_config(0.1), tg_adam_config(0.01)};
    cfgs[1].weight_decay = cfgs[2].weight_decay = cfgs[3].weight_decay = 1e-3;
    const double max_norm[3] = {100, 1e9, 50}; /* clipped, not clipped, clipped */
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        tg_params *ref = big_store(5);
        tg_optim *oref = make(ref, cfgs[c]);
        tg_set_num_threads(1);
        take_steps(ref, oref, 0, max_norm, 3);
        for (int threads = 1; threads <= 2; threads++) {
            tg_params *ps = big_store(5);
            tg_optim *o = make(ps, cfgs[c]);
            tg_set_num_threads(threads);
            take_steps(ps, o, 1, max_norm, 3);
            assert_same_bits(ref, oref, ps, o);
            tg_optim_free(o);
            tg_params_free(ps);
        }
        tg_set_num_threads(0);
        for (size_t i = 0; i < BIG; i++) assert_true(tg_params_grads(ref)[i] == 0);
        tg_optim_free(oref);
        tg_params_free(ref);
    }
}

/* Steps over three runs of the store that cover it, each as step t (the count set back between
 * them, as on three ranks that each count every step), leave the bits of the full steps; a range
 * outside the store is refused with nothing changed. */
static void test_steps_over_runs_that_cover_the_store_equal_the_full_step(void **s)
{
    (void)s;
    tg_optim_config cfgs[] = {tg_sgd_config(0.5, 0), tg_sgd_config(0.1, 0.9),
                              tg_adagrad_config(0.1), tg_adam_config(0.01)};
    cfgs[1].weight_decay = cfgs[3].weight_decay = 1e-3;
    const size_t cut[4] = {0, 4097, 200000, BIG}; /* not on a chunk's edge */
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        tg_params *ref = big_store(5), *ps = big_store(5);
        tg_optim *oref = make(ref, cfgs[c]), *o = make(ps, cfgs[c]);
        tg_rng r;
        tg_rng_seed(&r, 11);
        for (int step = 0; step < 3; step++) {
            fill_uniform(tg_params_grads(ref), BIG, &r, -1, 1);
            memcpy(tg_params_grads(ps), tg_params_grads(ref), BIG * sizeof(tg_real));
            assert_int_equal(tg_optim_step_scaled(oref, 0.75, 1, NULL), TG_OK);
            for (int k = 0; k < 3; k++) {
                assert_int_equal(tg_optim_set_steps(o, (uint64_t)step, NULL), TG_OK);
                assert_int_equal(tg_optim_step_range(o, cut[k], cut[k + 1], 0.75, 1, NULL), TG_OK);
            }
        }
        assert_same_bits(ref, oref, ps, o);
        tg_status st = {0};
        assert_int_equal(tg_optim_step_range(o, 5, 4, 1, 1, &st), TG_EINVAL);
        assert_status_has(&st, TG_EINVAL, "tg_optim_step_range", "[5, 4)", NULL);
        assert_int_equal(tg_optim_step_range(o, 0, BIG + 1, 1, 1, &st), TG_EINVAL);
        assert_int_equal(tg_optim_step_range(o, BIG, BIG, 1, 1, &st), TG_OK); /* empty: counts */
        assert_true(tg_optim_steps(o) == 4);
        tg_optim_free(oref), tg_optim_free(o);
        tg_params_free(ref), tg_params_free(ps);
    }
}

static void test_scaled_step_without_zero_grad_keeps_the_gradients(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_optim *o = make(ps, tg_sgd_config(0.1, 0));
    set_grads(ps, G[0]);
    assert_int_equal(tg_optim_step_scaled(o, 0.5, 0, NULL), TG_OK);
    tg_real want[NP], grads[NP];
    for (size_t i = 0; i < NP; i++) {
        want[i] = (tg_real)(P0[i] - 0.1 * 0.5 * G[0][i]); // p -= lr·(scale·g)
        grads[i] = (tg_real)G[0][i];
    }
    assert_close(tg_params_values(ps), want, NP, VAL_TOL);
    assert_memory_equal(tg_params_grads(ps), grads, sizeof grads);
    tg_optim_free(o);
    tg_params_free(ps);
}

/* A checkpoint round trip: copy values, state and step count into a fresh store and optimizer;
 * both then take the same steps and stay bit-identical. */
static void test_restored_state_continues_exactly(void **s)
{
    (void)s;
    tg_optim_config cfgs[] = {tg_sgd_config(0.1, 0.9), tg_adagrad_config(0.1),
                              tg_adam_config(0.01)};
    for (size_t c = 0; c < 3; c++) {
        tg_params *a = store(), *b = store();
        tg_optim *oa = make(a, cfgs[c]), *ob = make(b, cfgs[c]);
        set_grads(a, G[0]);
        tg_optim_step(oa, NULL);
        set_grads(a, G[1]);
        tg_optim_step(oa, NULL);
        assert_int_equal(tg_optim_numel(oa), NP);
        memcpy(tg_params_values(b), tg_params_values(a), NP * sizeof(tg_real));
        for (size_t i = 0; i < tg_optim_state_count(oa); i++)
            memcpy(tg_optim_state(ob, i), tg_optim_state(oa, i), NP * sizeof(tg_real));
        assert_int_equal(tg_optim_set_steps(ob, tg_optim_steps(oa), NULL), TG_OK);
        set_grads(a, G[2]);
        set_grads(b, G[2]);
        tg_optim_step(oa, NULL);
        tg_optim_step(ob, NULL);
        assert_memory_equal(tg_params_values(a), tg_params_values(b), NP * sizeof(tg_real));
        tg_optim_free(oa);
        tg_optim_free(ob);
        tg_params_free(a);
        tg_params_free(b);
    }
}

static void test_set_lr_changes_the_next_step(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_optim *o = make(ps, tg_sgd_config(0.1, 0));
    assert_int_equal(tg_optim_set_lr(o, 0.5, NULL), TG_OK);
    assert_true(tg_optim_lr(o) == 0.5);
    set_grads(ps, G[0]);
    tg_optim_step(o, NULL);
    tg_real want = (tg_real)(P0[0] - 0.5 * G[0][0]);
    assert_close(tg_params_values(ps), &want, 1, VAL_TOL);
    tg_optim_free(o);
    tg_params_free(ps);
}

static void expect_rejected(tg_params *ps, tg_optim_config cfg, int code, const char *part)
{
    static int dummy;
    tg_optim *o = (tg_optim *)&dummy; /* not NULL, so the test sees it cleared */
    tg_status st = {0};
    assert_int_equal(tg_optim_new(&o, ps, &cfg, &st), code);
    assert_status_has(&st, code, "tg_optim_new", part, NULL);
    assert_null(o);
}

static void test_optim_new_rejects_bad_hyperparameters_with_a_message(void **s)
{
    (void)s;
    tg_params *ps = store();
    expect_rejected(ps, tg_sgd_config(-0.1, 0), TG_EINVAL, "lr");
    expect_rejected(ps, tg_sgd_config(NAN, 0), TG_EINVAL, "lr");
    /* SGD computes in tg_real: past its largest value, lr·0 would be NaN. */
    double huge = sizeof(tg_real) == sizeof(float) ? 2.0 * FLT_MAX : INFINITY;
    expect_rejected(ps, tg_sgd_config(huge, 0), TG_EINVAL, "lr");
    tg_optim_config d = tg_sgd_config(0.1, 0);
    d.weight_decay = huge;
    expect_rejected(ps, d, TG_EINVAL, "weight_decay");
    expect_rejected(ps, tg_sgd_config(0.1, 1.0), TG_EINVAL, "momentum");
    tg_optim_config c = tg_adam_config(0.01);
    c.beta1 = 1.0;
    expect_rejected(ps, c, TG_EINVAL, "beta1");
    c = tg_adam_config(0.01);
    c.beta2 = -0.5;
    expect_rejected(ps, c, TG_EINVAL, "beta2");
    c = tg_adagrad_config(0.01);
    c.eps = -1;
    expect_rejected(ps, c, TG_EINVAL, "eps");
    c.eps = 0;
    c.weight_decay = -1;
    expect_rejected(ps, c, TG_EINVAL, "weight_decay");
    c = tg_sgd_config(0.1, 0);
    c.kind = (tg_optim_kind)7;
    expect_rejected(ps, c, TG_EINVAL, "kind 7");
    tg_params *empty = tg_params_new();
    expect_rejected(empty, tg_sgd_config(0.1, 0), TG_EINVAL, "empty");
    expect_rejected(NULL, tg_sgd_config(0.1, 0), TG_ENULL, "store is NULL");
    tg_params_free(empty);
    tg_params_free(ps);
}

static void test_step_fails_when_the_store_grew(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_optim *o = make(ps, tg_adam_config(0.01));
    add_param(ps, "late", 2, 2);
    set_grads(ps, G[0]);
    tg_real before[NP + 4], grads[NP + 4];
    memcpy(before, tg_params_values(ps), sizeof before);
    memcpy(grads, tg_params_grads(ps), sizeof grads);
    tg_status st = {0};
    assert_int_equal(tg_optim_step(o, &st), TG_ESHAPE);
    assert_status_has(&st, TG_ESHAPE, "tg_optim_step", "holds 7 values", "made for 3", NULL);
    assert_int_equal(tg_optim_step_scaled(o, 0.5, 1, NULL), TG_ESHAPE);
    assert_memory_equal(tg_params_values(ps), before, sizeof before);
    assert_memory_equal(tg_params_grads(ps), grads, sizeof grads);
    assert_int_equal(tg_optim_steps(o), 0);
    tg_optim_free(o);
    tg_params_free(ps);
}

static void test_step_decay_follows_zaremba_schedules(void **s)
{
    (void)s;
    for (size_t e = 1; e <= 4; e++) assert_true(tg_lr_step_decay(1.0, 0.5, 4, e) == 1.0);
    assert_true(tg_lr_step_decay(1.0, 0.5, 4, 5) == 0.5);
    assert_true(tg_lr_step_decay(1.0, 0.5, 4, 7) == 0.125);
    assert_true(tg_lr_step_decay(1.0, 0.8, 6, 6) == 1.0);
    assert_true(fabs(tg_lr_step_decay(1.0, 0.8, 6, 8) - 0.64) < 1e-15);
    assert_true(tg_lr_step_decay(2.0, 0.5, 0, 0) == 2.0);
    assert_true(tg_lr_step_decay(2.0, 0.5, 0, 1) == 1.0);
}

/* Item 4 of the reliability issue: a learning rate that is NaN, infinite or negative, and a
 * step count past 2^53, are refused with a message, and the optimizer is unchanged. */
static void test_item4_set_lr_and_set_steps_refuse_values_out_of_range(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    add_param(ps, "w", 2, 2);
    tg_optim *o;
    tg_optim_config cfg = tg_adam_config(0.1);
    assert_int_equal(tg_optim_new(&o, ps, &cfg, NULL), TG_OK);
    tg_status st;
    /* the last: 1e39, infinite as a float (SGD computes in tg_real); NaN again in double */
    const double bad[] = {NAN, INFINITY, -1.0, sizeof(tg_real) == sizeof(float) ? 1e39 : NAN};
    for (size_t i = 0; i < 4; i++) {
        tg_status_clear(&st);
        assert_int_equal(tg_optim_set_lr(o, bad[i], &st), TG_EINVAL);
        assert_int_equal(st.code, TG_EINVAL);
        assert_non_null(strstr(st.msg, "tg_optim_set_lr"));
        assert_non_null(strstr(st.msg, ">= 0 and at most"));
        assert_true(tg_optim_lr(o) == 0.1);
    }
    assert_int_equal(tg_optim_set_steps(o, UINT64_MAX, &st), TG_ERANGE);
    assert_non_null(strstr(st.msg, "18446744073709551615"));
    assert_int_equal(tg_optim_steps(o), 0);
    assert_int_equal(tg_optim_set_steps(o, TG_OPTIM_MAX_STEPS, &st), TG_OK);
    assert_int_equal(tg_optim_step(o, &st), TG_ERANGE); /* a step past the count changes nothing */
    assert_status_has(&st, TG_ERANGE, "tg_optim_step", "9007199254740992 steps", "2^53", NULL);
    assert_true(tg_params_values(ps)[0] == 0);
    assert_int_equal(tg_optim_set_steps(o, 5, NULL), TG_OK);
    assert_int_equal(tg_optim_step(o, NULL), TG_OK);
    assert_int_equal(tg_optim_steps(o), 6);
    tg_optim_free(o);
    tg_params_free(ps);
}

/* Element i of one step of c (step t, gradient grad·scale) as optim.c computes it: the formulas
 * of optim.h in this order, SGD's in tg_real and the others' in double; s0, s1 the state arrays
 * (NULL when c has fewer). */
static void reference_update(const tg_optim_config *c, uint64_t t, tg_real scale, tg_real *p,
                             const tg_real *dp, tg_real *s0, tg_real *s1, size_t i)
{
    double grad = (double)(tg_real)(dp[i] * scale), lr = c->lr, wd = c->weight_decay;
    double g = grad + wd * (double)p[i];
    tg_real lr_r = (tg_real)lr, wd_r = (tg_real)wd, g_r = dp[i] * scale + wd_r * p[i];
    if (c->kind == TG_OPTIM_SGD && !s0) {
        p[i] -= lr_r * (wd_r == 0 ? dp[i] * scale : g_r);
    } else if (c->kind == TG_OPTIM_SGD) {
        s0[i] = (tg_real)c->momentum * s0[i] + g_r;
        p[i] -= lr_r * s0[i];
    } else if (c->kind == TG_OPTIM_ADAGRAD) {
        s0[i] = (tg_real)((double)s0[i] + g * g);
        p[i] = (tg_real)((double)p[i] - lr * g / (sqrt((double)s0[i]) + c->eps));
    } else {
        double b1 = c->beta1, b2 = c->beta2, step_size = lr / (1 - pow(b1, (double)t));
        s0[i] = (tg_real)(b1 * (double)s0[i] + (1 - b1) * g);
        s1[i] = (tg_real)(b2 * (double)s1[i] + (1 - b2) * g * g);
        double denom = sqrt((double)s1[i]) / sqrt(1 - pow(b2, (double)t)) + c->eps;
        p[i] = (tg_real)((double)p[i] - step_size * (double)s0[i] / denom);
    }
}

/* Inputs that the square roots of Adagrad and Adam must take as sqrt() does, planted in the run
 * [3, 3 + n) before each step, by i mod 11 so that each lands in every vector lane: a NaN
 * gradient; a huge gradient (its square overflows the float state); a state (both arrays, where
 * s0 and s1 are not NULL) that is subnormal, 0, negative (as only a corrupt state can be; its
 * root is NaN), huge, infinite or NaN. The first three states come with a zero gradient at
 * p = 0, so that the root is taken of that state. */
static void plant(size_t n, tg_real *p, tg_real *dp, tg_real *s0, tg_real *s1)
{
    double tiny = sizeof(tg_real) == sizeof(float) ? FLT_TRUE_MIN : DBL_TRUE_MIN;
    double huge = sizeof(tg_real) == sizeof(float) ? FLT_MAX : DBL_MAX;
    for (size_t i = 3; i < 3 + n; i++) {
        double v;
        switch (i % 11) {
        case 0:
            dp[i] = (tg_real)NAN;
            continue;
        case 1:
            dp[i] = (tg_real)(huge / 4);
            continue;
        case 2:
            v = tiny * (double)(i % 64 + 1);
            break;
        case 3:
            v = 0;
            break;
        case 4:
            v = -1;
            break;
        case 5:
            v = huge;
            break;
        case 6:
            v = INFINITY;
            break;
        case 7:
            v = NAN;
            break;
        default:
            continue;
        }
        if (i % 11 <= 4) p[i] = dp[i] = 0;
        if (s0) s0[i] = (tg_real)v;
        if (s1) s1[i] = (tg_real)v;
    }
}

/* Two fused steps (scale 0.75, zeroing the gradients when zero) of cfg over [3, 3 + n) of a
 * store of n + 5, the gradients from seed 5 before each, then plant's values when awkward. */
static tg_params *steps_on_a_run(tg_optim_config cfg, size_t n, int zero, int awkward,
                                 tg_optim **out)
{
    tg_params *ps = tg_params_new();
    add_param(ps, "w", 1, n + 5);
    tg_rng r;
    tg_rng_seed(&r, 5);
    fill_uniform(tg_params_values(ps), n + 5, &r, -1, 1);
    tg_optim *o = make(ps, cfg);
    for (int step = 0; step < 2; step++) {
        fill_uniform(tg_params_grads(ps), n + 5, &r, -2, 2);
        if (awkward)
            plant(n, tg_params_values(ps), tg_params_grads(ps), tg_optim_state(o, 0),
                  tg_optim_state(o, 1));
        assert_int_equal(tg_optim_step_range(o, 3, 3 + n, 0.75, zero, NULL), TG_OK);
    }
    *out = o;
    return ps;
}

/* The same two steps by reference_update into p, s (two arrays of n + 5) and dp. */
static void reference_steps(const tg_optim_config *c, size_t n, int zero, int awkward, tg_real *p,
                            tg_real *s, tg_real *dp)
{
    tg_rng r;
    tg_rng_seed(&r, 5);
    fill_uniform(p, n + 5, &r, -1, 1);
    memset(s, 0, 2 * (n + 5) * sizeof *s);
    int stateful = c->kind != TG_OPTIM_SGD || c->momentum > 0;
    for (uint64_t t = 1; t <= 2; t++) {
        fill_uniform(dp, n + 5, &r, -2, 2);
        if (awkward)
            plant(n, p, dp, stateful ? s : NULL, c->kind == TG_OPTIM_ADAM ? s + n + 5 : NULL);
        for (size_t i = 3; i < 3 + n; i++) {
            reference_update(c, t, (tg_real)0.75, p, dp, stateful ? s : NULL, s + n + 5, i);
            if (zero) dp[i] = 0;
        }
    }
}

/* The update loops run as SSE2, AVX2 or AVX-512 code, whichever the CPU runs (ops/simd.c): at
 * each level this CPU has, SGD (with and without decay), momentum, Adagrad and Adam over runs of
 * awkward lengths at an odd offset give the bits of the scalar reference, in the values, the
 * state and the gradients (zeroed or kept), and leave the elements outside the run alone; so
 * they do with plant's awkward values (NaN, infinite, huge, 0, subnormal, negative), which go
 * through every lane of the vector square roots of Adagrad and Adam. */
static void test_steps_give_the_scalar_bits_at_every_vector_width(void **s)
{
    (void)s;
    tg_optim_config cfgs[] = {tg_sgd_config(0.5, 0), tg_sgd_config(0.5, 0), tg_sgd_config(0.1, 0.9),
                              tg_adagrad_config(0.1), tg_adam_config(0.01)};
    cfgs[1].weight_decay = cfgs[2].weight_decay = cfgs[3].weight_decay = 1e-2;
    cfgs[4].weight_decay = 1e-2;
    const size_t lens[] = {0, 1, 7, 8, 17, 1003, 4096 + 37};
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++)
        for (size_t k = 0; k < 2 * sizeof lens / sizeof lens[0]; k++) {
            size_t n = lens[k / 2], bytes = (n + 5) * sizeof(tg_real);
            int zero = (int)(k / 2 % 2), awkward = (int)(k % 2);
            tg_real *want = malloc(4 * bytes);
            assert_non_null(want);
            reference_steps(&cfgs[c], n, zero, awkward, want, want + n + 5, want + 3 * (n + 5));
            for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++) {
                tgi_simd_cap(level);
                tg_optim *o;
                tg_params *ps = steps_on_a_run(cfgs[c], n, zero, awkward, &o);
                assert_memory_equal(tg_params_values(ps), want, bytes);
                assert_memory_equal(tg_params_grads(ps), want + 3 * (n + 5), bytes);
                for (size_t i = 0; i < tg_optim_state_count(o); i++)
                    assert_memory_equal(tg_optim_state(o, i), want + (1 + i) * (n + 5), bytes);
                tg_optim_free(o);
                tg_params_free(ps);
            }
            tgi_simd_cap(-1);
            free(want);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_subtracts_lr_times_gradient),
        cmocka_unit_test(test_sgd_momentum_and_weight_decay_follow_pytorch),
        cmocka_unit_test(test_adagrad_divides_by_root_of_summed_squares),
        cmocka_unit_test(test_adam_matches_formulas_with_bias_correction),
        cmocka_unit_test(test_adam_weight_decay_is_added_to_the_gradient),
        cmocka_unit_test(test_scaled_step_equals_clip_step_and_zero_grad_on_one_and_two_threads),
        cmocka_unit_test(test_steps_over_runs_that_cover_the_store_equal_the_full_step),
        cmocka_unit_test(test_scaled_step_without_zero_grad_keeps_the_gradients),
        cmocka_unit_test(test_restored_state_continues_exactly),
        cmocka_unit_test(test_set_lr_changes_the_next_step),
        cmocka_unit_test(test_item4_set_lr_and_set_steps_refuse_values_out_of_range),
        cmocka_unit_test(test_optim_new_rejects_bad_hyperparameters_with_a_message),
        cmocka_unit_test(test_step_fails_when_the_store_grew),
        cmocka_unit_test(test_step_decay_follows_zaremba_schedules),
        cmocka_unit_test(test_steps_give_the_scalar_bits_at_every_vector_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
