/* test_ops_threads.c: the thread count products and loops use, fixed and by default, and the
 * default's answer while other processes keep every CPU busy. main() sets BLIS_NUM_THREADS=4
 * before anything reads it, so the default's ceiling is 4 whatever the machine. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "testutil.h"

#include "ops/internal.h"

#include <sched.h>
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

#ifdef __linux__
/* A child that keeps a CPU busy for `busy_ms` of every 10 ms until it is killed. */
static pid_t busy_child(long busy_ms)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        for (;;) {
            double t0 = now();
            while (now() - t0 < 1e-3 * (double)busy_ms) continue;
            struct timespec rest = {0, (10 - busy_ms) * 1000 * 1000};
            if (busy_ms < 10) nanosleep(&rest, NULL);
        }
    return pid;
}

/* The default count after three looks (a quarter of a second apart) with `n_kids` children
 * running, each busy `busy_ms` of every 10 ms; asked between naps, the way a program's products
 * and loops would. */
static long default_beside(long n_kids, long busy_ms)
{
    pid_t kids[64];
    for (long i = 0; i < n_kids; i++) kids[i] = busy_child(busy_ms);
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
    return last;
}
#endif

static void test_the_default_is_one_thread_while_others_keep_every_cpu_busy(void **s)
{
    (void)s;
#ifdef __linux__
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(default_beside(cpus < 64 ? cpus : 64, 10), 1);
#else
    skip();
#endif
}

/* A CPU counts as free only when others leave at least 3/4 of it: a process busy half the time
 * takes one CPU out of the count (the rule counted a CPU half used by others as free). */
static void test_item11_a_cpu_half_used_by_another_process_is_not_free(void **s)
{
    (void)s;
#ifdef __linux__
    cpu_set_t mask;
    assert_int_equal(sched_getaffinity(0, sizeof mask, &mask), 0);
    long cpus = CPU_COUNT(&mask), top = cpus < 4 ? cpus : 4; /* the ceiling is 4 */
    long n = default_beside(1, 5);
    assert_true(n >= 1);
    assert_true(n <= (cpus <= 4 ? top - 1 : top) || top == 1);
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
        cmocka_unit_test(test_item11_a_cpu_half_used_by_another_process_is_not_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
