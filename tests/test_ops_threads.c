/* test_ops_threads.c: the thread count products and loops use, fixed and by default, and the
 * default's answer while other processes keep every CPU busy. main() sets BLIS_NUM_THREADS=4
 * before anything reads it, so the default's ceiling is 4 whatever the machine. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include "ops/internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_a_fixed_count_is_used_as_set(void **s)
{
    (void)s;
    tg_set_num_threads(3);
    assert_int_equal(tgi_blis_threads(), 3);
    assert_int_equal(tgi_threads_now(), 3);
    assert_int_equal(tgi_threads_for(3000, 1000), 3);
    assert_int_equal(tgi_threads_for(2999, 1000), 2); /* never under min_per_thread each */
    tg_set_num_threads(0);
    assert_int_equal(tgi_blis_threads(), 0);
}

static void test_a_small_loop_stays_on_one_thread(void **s)
{
    (void)s;
    tg_set_num_threads(2);
    assert_int_equal(tgi_threads_for(1999, 1000), 1);
    tg_set_num_threads(0);
    assert_int_equal(tgi_threads_for(10, 1000), 1);
}

static void test_the_default_ceiling_comes_from_blis_num_threads(void **s)
{
    (void)s;
    assert_int_equal(tgi_threads_ceiling(), 4);
    long n = tgi_threads_now();
    assert_true(n >= 1 && n <= 4);
}

static void test_the_config_line_names_the_default_policy(void **s)
{
    (void)s;
    assert_non_null(strstr(tg_blis_config(), "(default: as many of 4 as are free)"));
    tg_set_num_threads(2);
    assert_null(strstr(tg_blis_config(), "default"));
    assert_non_null(strstr(tg_blis_config(), "threads 2"));
    tg_set_num_threads(0);
}

static void test_the_default_is_one_thread_while_others_keep_every_cpu_busy(void **s)
{
    (void)s;
#ifdef __linux__
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pid_t kids[64];
    long n_kids = cpus < 64 ? cpus : 64;
    for (long i = 0; i < n_kids; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0)
            for (volatile unsigned long x = 0;; x++) continue; /* busy until killed */
    }
    /* Three looks (a quarter of a second apart) with the children running; ask between naps,
     * the way a program's products and loops would. */
    long last = 0;
    for (double t0 = now(); now() - t0 < 1.2;) {
        last = tgi_threads_now();
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    for (long i = 0; i < n_kids; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    assert_int_equal(last, 1);
#else
    skip();
#endif
}

int main(void)
{
    setenv("BLIS_NUM_THREADS", "4", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_fixed_count_is_used_as_set),
        cmocka_unit_test(test_a_small_loop_stays_on_one_thread),
        cmocka_unit_test(test_the_default_ceiling_comes_from_blis_num_threads),
        cmocka_unit_test(test_the_config_line_names_the_default_policy),
        cmocka_unit_test(test_the_default_is_one_thread_while_others_keep_every_cpu_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
