/* bench_tape_overhead.c: what the tape costs per node, apart from the maths of the op.
 *
 * Records a chain of 1,000,000 tg_tanh nodes on a (1 x 1) leaf with a gradient, then runs
 * tg_backward on tg_sum of the last, and prints ns per node for recording, for backward and in
 * total: the median of 5 repetitions after a warm-up, with tg_tape_reset between them (so after
 * the warm-up the arena makes no allocation), and the arena's bytes reserved.
 * Target: <= 100 ns per node in total.
 *
 *   ./build/benchmarks/bench_tape_overhead [nodes]
 */
#define _POSIX_C_SOURCE 200809L

#include "tapegrad.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { REPS = 5 };

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, by_value);
    return v[n / 2];
}

/* One repetition on a reset tape: the ns spent recording and in backward. TG_OK or a code. */
static int run(tg_tape *t, tg_tensor *x, size_t n, double *rec, double *back)
{
    tg_tape_reset(t);
    tg_tensor_zero_grad(x);
    double t0 = now_ns();
    tg_tensor *y = x;
    for (size_t i = 0; i < n; i++) y = tg_tanh(t, y);
    tg_tensor *loss = tg_sum(t, y);
    double t1 = now_ns();
    int rc = tg_backward(t, loss);
    *rec = t1 - t0;
    *back = now_ns() - t1;
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_tensor_new(1, 1, 1);
    if (!t || !x || n == 0) {
        fprintf(stderr, "bench_tape_overhead: out of memory, or a node count of 0 was given\n");
        return 1;
    }
    x->val[0] = 0.5;
    double rec[REPS], back[REPS], total[REPS];
    for (int r = -1; r < REPS; r++) { /* r = -1 is the warm-up: it grows the arena */
        double a, b;
        int rc = run(t, x, n, &a, &b);
        if (rc != TG_OK) {
            fprintf(stderr, "bench_tape_overhead: %s: %s\n", tg_strerror(rc), tg_tape_error(t));
            return 1;
        }
        if (r < 0) continue;
        rec[r] = a / (double)n;
        back[r] = b / (double)n;
        total[r] = (a + b) / (double)n;
    }
    tg_tape_stats st;
    tg_tape_get_stats(t, &st);
    printf("tanh chain of %zu nodes on (1 x 1), median of %d runs:\n", n, REPS);
    printf("  record   %7.1f ns/node\n", median(rec, REPS));
    printf("  backward %7.1f ns/node\n", median(back, REPS));
    printf("  total    %7.1f ns/node (target <= 100)\n", median(total, REPS));
    printf("  arena    %zu bytes reserved (%.0f per node), %zu heap allocations in all\n",
           st.bytes_reserved, (double)st.bytes_reserved / (double)n, st.heap_allocs);
    tg_tensor_free(x);
    tg_tape_free(t);
    return 0;
}
