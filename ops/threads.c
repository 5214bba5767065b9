/* threads.c: how many threads a product or a loop may use, on a machine shared with others.
 *
 * tg_set_num_threads(n > 0) fixes the count. The default (0) takes the cores nobody else is
 * using: up to a ceiling (BLIS_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may
 * run on), one thread for each CPU that other processes left at least 3/4 free over the last
 * quarter of a second or so, and at least one. Why: OpenMP threads meet at a barrier after each
 * product and each threaded loop, so a thread that waits for a core another process holds
 * stalls its partner too; on 2 cores shared with one busy process, 2 threads ran a step several
 * times slower than 1 (issue 13, item 11). One thread loses nothing there, and on an idle
 * machine the count goes back up within the next look.
 *
 * How "free" is measured, on Linux: /proc/stat gives the time each of our CPUs spent busy (user,
 * nice, system, irq, softirq, steal: a KVM host's other guests count too), this process's CPU
 * time (CLOCK_PROCESS_CPUTIME_ID) is ours; busy minus ours, over the wall time between two looks,
 * is what the others used. A look happens when a product or loop asks and LOOK_EVERY has passed
 * since the last (a coarse clock read otherwise): a few tens of microseconds every quarter
 * second. Until the first two looks, and wherever /proc/stat cannot be read, one thread (Linux)
 * or the ceiling (elsewhere). The count only changes between products and loops, and every
 * product and loop gives the same bits on any thread count, so results do not depend on it.
 *
 * Read next: ops/blis.c (kernels), ops/matmul.c (the products that ask).
 */
#if defined(__linux__)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, CLOCK_MONOTONIC_COARSE */
#include <sched.h>
#include <unistd.h>
#define HAVE_PROC_STAT 1
#else
#define HAVE_PROC_STAT 0
#endif

#include "ops/matmul.h"

#include "ops/internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds between looks at /proc/stat: long enough that its 10 ms ticks give the others' share
 * to about 0.05 of a core on 2 CPUs. */
#define LOOK_EVERY 0.25
/* A CPU counts as free when other processes used less than this share of it. */
#define OTHERS_MAX 0.25

static atomic_int fixed;   /* tg_set_num_threads; 0: the default policy */
static atomic_long chosen; /* the default policy's current count; 0 before the first choice */

void tg_set_num_threads(int n)
{
    atomic_store(&fixed, n > 0 ? n : 0);
}

int tgi_blis_threads(void)
{
    return atomic_load(&fixed);
}

/* A positive count from the environment variable, or 0. */
static long env_count(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    return v && end != v && n > 0 ? n : 0;
}

#if HAVE_PROC_STAT
static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Busy seconds of the CPUs in `mask` since boot from /proc/stat, or -1. */
static double busy_seconds(const cpu_set_t *mask)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    char line[512];
    double ticks = 0;
    int any = 0;
    while (fgets(line, sizeof line, f) && strncmp(line, "cpu", 3) == 0) {
        int cpu;
        unsigned long long u, ni, sy, idle, io, irq, sirq, steal = 0;
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &u, &ni, &sy, &idle,
                   &io, &irq, &sirq, &steal) < 8)
            continue; /* the first line, "cpu  ...", is the total */
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, mask)) continue;
        ticks += (double)(u + ni + sy + irq + sirq + steal);
        any = 1;
    }
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return any && hz > 0 ? ticks / (double)hz : -1;
}

typedef struct look {
    double wall, own, busy; /* seconds: monotonic, this process's CPU, our CPUs' busy */
} look;

/* Threads for the CPUs others left free between looks a and b, within [1, ceiling]. Others'
 * use, in cores, is taken as packed onto as few CPUs as it fills: cpus - others is some whole
 * CPUs and one partly free, which counts when others left at least 1 - OTHERS_MAX of it. */
static long free_cpus(const look *a, const look *b, long cpus, long ceiling)
{
    double span = b->wall - a->wall;
    double others = ((b->busy - a->busy) - (b->own - a->own)) / span; /* in cores */
    long n = (long)((double)cpus - others + OTHERS_MAX);
    return n < 1 ? 1 : n > ceiling ? ceiling : n;
}

/* The default policy's count, looking again when LOOK_EVERY has passed. One caller looks at a
 * time; the others take the last count. */
static long default_count(long ceiling)
{
    static atomic_flag busy = ATOMIC_FLAG_INIT;
    static look last;
    static double next_look; /* coarse clock; guarded by busy */
    static cpu_set_t mask;
    static long cpus;
    long n = atomic_load(&chosen);
    if (atomic_flag_test_and_set(&busy)) return n ? n : 1;
    double t = clock_s(CLOCK_MONOTONIC_COARSE);
    if (t >= next_look) {
        if (cpus == 0 && sched_getaffinity(0, sizeof mask, &mask) == 0) cpus = CPU_COUNT(&mask);
        look now = {clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID),
                    cpus ? busy_seconds(&mask) : -1};
        if (now.busy >= 0 && last.wall > 0 && now.wall > last.wall)
            n = free_cpus(&last, &now, cpus, ceiling);
        last = now.busy >= 0 ? now : (look){0, 0, 0};
        next_look = t + LOOK_EVERY;
        atomic_store(&chosen, n);
    }
    atomic_flag_clear(&busy);
    return n ? n : 1;
}

static long cpus_allowed(void)
{
    cpu_set_t mask;
    return sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : 1;
}
#else
static long default_count(long ceiling)
{
    return ceiling;
}

static long cpus_allowed(void)
{
    return 1;
}
#endif

/* The most threads the default policy uses. */
static long ceiling(void)
{
    static atomic_long cached;
    long n = atomic_load(&cached);
    if (n) return n;
    n = env_count("BLIS_NUM_THREADS");
    if (!n) n = env_count("OMP_NUM_THREADS");
    if (!n) n = cpus_allowed();
    atomic_store(&cached, n);
    return n;
}

long tgi_threads_now(void)
{
    long n = atomic_load(&fixed);
    if (n > 0) return n;
    long top = ceiling();
    return top > 1 ? default_count(top) : 1;
}

long tgi_threads_ceiling(void)
{
    long n = atomic_load(&fixed);
    return n > 0 ? n : ceiling();
}

int tgi_threads_for(size_t work, size_t min_per_thread)
{
    if (work < 2 * min_per_thread) return 1;
    long n = tgi_threads_now();
    if ((size_t)n > work / min_per_thread) n = (long)(work / min_per_thread);
    return n > 1 ? (int)n : 1;
}
