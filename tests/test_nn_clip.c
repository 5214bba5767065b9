/* test_nn_clip.c: the global gradient norm over several parameters (and over a store large
 * enough for several threads, against a long double sum), clipping above the threshold, no
 * change below it, the returned pre-clip norm, the clip factor, and the non-finite cases; the
 * sum of squares and the scaling give the bits of a plain scalar loop at every vector width. */
#include "testutil.h"

#include "nn/clip.h"
#include "nn/internal.h"
#include "ops/internal.h"

#include <stdlib.h>

/* Two parameters, gradients (3, 4) and (12): global norm 13. */
static tg_params *store(void)
{
    tg_params *ps = tg_params_new();
    assert_non_null(ps);
    tg_tensor *a = add_param(ps, "a", 1, 2), *b = add_param(ps, "b", 1, 1);
    assert_non_null(a);
    assert_non_null(b);
    a->grad[0] = 3;
    a->grad[1] = 4;
    b->grad[0] = 12;
    return ps;
}

static void test_grad_norm_spans_every_parameter(void **s)
{
    (void)s;
    tg_params *ps = store();
    assert_true(tg_grad_norm(ps) == 13.0);
    tg_params_free(ps);
    tg_params *empty = tg_params_new();
    assert_true(tg_grad_norm(empty) == 0.0);
    tg_params_free(empty);
}

static void test_clip_scales_to_max_norm_and_returns_the_norm_before(void **s)
{
    (void)s;
    tg_params *ps = store();
    double before = tg_clip_grad_norm(ps, 6.5);
    assert_true(before == 13.0);
    double after = tg_grad_norm(ps);
    assert_true(fabs(after - 6.5) <= 1e-6 * 6.5);
    tg_real want[3] = {1.5, 2, 6}; /* every gradient halved: the direction is kept */
    assert_close(tg_params_grads(ps), want, 3, VAL_TOL);
    tg_params_free(ps);
}

static void test_clip_scales_a_large_random_store_to_max_norm(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 3);
    for (size_t i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "p%zu", i);
        tg_tensor *w = add_param(ps, name, 100 + i, 37);
        assert_non_null(w);
    }
    fill_uniform(tg_params_grads(ps), tg_params_numel(ps), &r, -3, 3);
    double before = tg_grad_norm(ps);
    assert_true(before > 5);
    assert_true(tg_clip_grad_norm(ps, 5.0) == before);
    assert_true(fabs(tg_grad_norm(ps) - 5.0) <= 1e-6 * 5.0);
    tg_params_free(ps);
}

static void test_clip_leaves_gradients_below_max_norm_unchanged(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_real before[3];
    memcpy(before, tg_params_grads(ps), sizeof before);
    assert_true(tg_clip_grad_norm(ps, 13.0) == 13.0);
    assert_true(tg_clip_grad_norm(ps, 100.0) == 13.0);
    assert_memory_equal(tg_params_grads(ps), before, sizeof before);
    tg_params_free(ps);
}

static void test_clip_leaves_non_finite_gradients_and_bad_max_norm_alone(void **s)
{
    (void)s;
    tg_params *ps = store();
    tg_params_grads(ps)[2] = (tg_real)INFINITY;
    tg_real before[3];
    memcpy(before, tg_params_grads(ps), sizeof before);
    assert_true(isinf(tg_clip_grad_norm(ps, 1.0)));
    assert_memory_equal(tg_params_grads(ps), before, sizeof before);
    tg_params_grads(ps)[2] = 12;
    memcpy(before, tg_params_grads(ps), sizeof before);
    assert_true(isnan(tg_clip_grad_norm(ps, -1.0)));
    assert_true(isnan(tg_clip_grad_norm(ps, NAN)));
    assert_memory_equal(tg_params_grads(ps), before, sizeof before);
    tg_params_free(ps);
}

/* A store of n scalars in two parameters with gradients U(-1, 1); n is large enough for two
 * threads and not a multiple of any block or lane count. */
static tg_params *large_store(size_t n)
{
    tg_params *ps = tg_params_new();
    add_param(ps, "a", 1000, 257);
    add_param(ps, "b", n - 257000, 1);
    tg_rng r;
    tg_rng_seed(&r, 7);
    fill_uniform(tg_params_grads(ps), n, &r, -1, 1);
    return ps;
}

static void test_grad_norm_of_a_large_store_is_the_same_on_any_thread_count(void **s)
{
    (void)s;
    size_t n = 300001;
    tg_params *ps = large_store(n);
    long double exact = 0;
    for (size_t i = 0; i < n; i++)
        exact += (long double)tg_params_grads(ps)[i] * (long double)tg_params_grads(ps)[i];
    tg_set_num_threads(1);
    double one = tg_grad_norm(ps);
    tg_set_num_threads(2);
    double two = tg_grad_norm(ps);
    tg_set_num_threads(3);
    double three = tg_grad_norm(ps);
    tg_set_num_threads(0);
    assert_true(one == two && two == three);
    assert_true(fabs(one - (double)sqrtl(exact)) <= 1e-12 * one);
    tg_set_num_threads(2);
    assert_true(tg_clip_grad_norm(ps, 100.0) == one);
    tg_set_num_threads(0);
    assert_true(fabs(tg_grad_norm(ps) - 100.0) <= 1e-6 * 100.0);
    tg_params_free(ps);
}

static void test_clip_scale_is_the_factor_clipping_applies(void **s)
{
    (void)s;
    assert_true(tg_clip_scale(13.0, 6.5) == 0.5);
    assert_true(tg_clip_scale(13.0, 0.0) == 0.0);
    assert_true(tg_clip_scale(13.0, 13.0) == 1.0);
    assert_true(tg_clip_scale(13.0, 100.0) == 1.0);
    assert_true(tg_clip_scale(INFINITY, 1.0) == 1.0);
    assert_true(tg_clip_scale(NAN, 1.0) == 1.0);
    assert_true(tg_clip_scale(13.0, -1.0) == 1.0);
    assert_true(tg_clip_scale(13.0, NAN) == 1.0);
}

/* The norm as clip.c defines it, one element at a time: element i of block b (blocks of
 * tgi_norm_block(n)) into partial sum i mod 8 of the block, the partial sums in order, the
 * block sums in order. */
static double reference_norm(const tg_real *g, size_t n)
{
    size_t len = tgi_norm_block(n);
    double sum = 0;
    for (size_t lo = 0; lo < n; lo += len) {
        double acc[TGI_NORM_LANES] = {0}, block = 0;
        for (size_t i = 0; i < len && lo + i < n; i++)
            acc[i % TGI_NORM_LANES] += (double)g[lo + i] * (double)g[lo + i];
        for (size_t k = 0; k < TGI_NORM_LANES; k++) block += acc[k];
        sum += block;
    }
    return sqrt(sum);
}

/* The loops run as SSE2, AVX2 or AVX-512 code, whichever the CPU runs (ops/simd.c): at each
 * level this CPU has, on lengths with and without a partial run of 8 and on stores of several
 * blocks (summed four, two and one at a time, the last block, shorter, in a group of each
 * size), the norm, tgi_squares_into and the clip give the bits of the scalar loops above. */
static void test_norm_and_clip_give_the_scalar_bits_at_every_vector_width(void **s)
{
    (void)s;
    const size_t lens[] = {
        0, 1, 7, 8, 17, 1003, 16384 * 7 + 5, 16384 * 3, 16384 * 5 + 12001, 16384 * 4 + 3};
    tg_rng r;
    tg_rng_seed(&r, 11);
    for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
        size_t n = lens[c];
        tg_params *ps = tg_params_new();
        if (n) add_param(ps, "w", 1, n);
        tg_real *g = tg_params_grads(ps), *g0 = malloc((n + 1) * sizeof *g0);
        assert_non_null(g0);
        fill_uniform(g, n, &r, -3, 3);
        if (n) memcpy(g0, g, n * sizeof *g); /* an empty store has no gradient block */
        double want = reference_norm(g, n), acc0[TGI_NORM_LANES] = {0};
        for (size_t i = 0; i < n; i++) acc0[i % TGI_NORM_LANES] += (double)g[i] * (double)g[i];
        for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++) {
            tgi_simd_cap(level);
            double norm = tg_grad_norm(ps), acc[TGI_NORM_LANES] = {0};
            assert_memory_equal(&norm, &want, sizeof norm);
            tgi_squares_into(acc, g, n);
            assert_memory_equal(acc, acc0, sizeof acc);
            double max = want / 3, scale = tg_clip_scale(want, max);
            assert_true(n == 0 || tg_clip_grad_norm(ps, max) == want);
            for (size_t i = 0; i < n; i++) {
                tg_real clipped = (tg_real)(g0[i] * (tg_real)scale);
                assert_memory_equal(&g[i], &clipped, sizeof clipped);
            }
            if (n) memcpy(g, g0, n * sizeof *g);
        }
        tgi_simd_cap(-1);
        free(g0);
        tg_params_free(ps);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_norm_spans_every_parameter),
        cmocka_unit_test(test_clip_scales_to_max_norm_and_returns_the_norm_before),
        cmocka_unit_test(test_clip_scales_a_large_random_store_to_max_norm),
        cmocka_unit_test(test_clip_leaves_gradients_below_max_norm_unchanged),
        cmocka_unit_test(test_clip_leaves_non_finite_gradients_and_bad_max_norm_alone),
        cmocka_unit_test(test_grad_norm_of_a_large_store_is_the_same_on_any_thread_count),
        cmocka_unit_test(test_clip_scale_is_the_factor_clipping_applies),
        cmocka_unit_test(test_norm_and_clip_give_the_scalar_bits_at_every_vector_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
