/* test_autograd_rng.c: reproducible streams and the moments of each distribution. */
#include "testutil.h"

static void test_same_seed_gives_the_same_stream(void **s)
{
    (void)s;
    tg_rng a, b;
    tg_rng_seed(&a, 42);
    tg_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_true(tg_rng_u64(&a) == tg_rng_u64(&b));
    tg_rng_seed(&b, 43);
    assert_true(tg_rng_u64(&a) != tg_rng_u64(&b));
}

static void test_copying_the_state_resumes_the_stream(void **s)
{
    (void)s;
    tg_rng a;
    tg_rng_seed(&a, 5);
    tg_rng_u64(&a);
    tg_rng saved = a;
    uint64_t next = tg_rng_u64(&a);
    assert_true(tg_rng_u64(&saved) == next);
}

static void test_uniform_and_normal_have_the_right_moments(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 9);
    double su = 0, sn = 0, sn2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = tg_rng_uniform(&r), z = tg_rng_normal(&r);
        assert_true(u >= 0 && u < 1);
        su += u;
        sn += z;
        sn2 += z * z;
    }
    assert_true(fabs(su / n - 0.5) < 0.005);
    assert_true(fabs(sn / n) < 0.01);
    assert_true(fabs(sn2 / n - 1) < 0.02);
}

static void test_below_stays_in_range_and_hits_every_value(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 10);
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t k = tg_rng_below(&r, 7);
        assert_true(k < 7);
        seen[k]++;
    }
    for (int k = 0; k < 7; k++) assert_true(seen[k] > 800 && seen[k] < 1200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_gives_the_same_stream),
        cmocka_unit_test(test_copying_the_state_resumes_the_stream),
        cmocka_unit_test(test_uniform_and_normal_have_the_right_moments),
        cmocka_unit_test(test_below_stays_in_range_and_hits_every_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
