/* bench_allreduce.c: the gradient sum alone. Under `mpirun -np R`, times the sum over the ranks
 * of n floats (tg_real: the build's type) for n from 1e4 to 2e7, by the trainer's communicator
 * (nn/dist.h: tg_comm.sum of a private vector, tg_comm.sum_shared of a block from
 * tg_comm.share, which also gives the sum of squares, and tg_comm.sum_scatter of the same block,
 * which leaves each rank the total of its own run only: the sharded step's) and by one
 * MPI_Allreduce in place, and prints one line a size:
 *
 *     mpirun -np 2 build/benchmarks/bench_allreduce [--reps K] [--max N] [--mpi-only]
 *
 * (--mpi-only: MPI_Allreduce alone; --comm-only: the communicator's two sums alone)
 *
 * Each time is the best (least) of --reps timed calls (after one untimed) of the same buffer:
 * on a machine shared with other work, the call that was not descheduled mid-way; GB/s is
 * n · sizeof(tg_real) over it (the bytes of one rank's vector, as in docs/scaling.md).
 * A barrier precedes every timed call, so waiting for a late rank is not counted. Rank 0 prints.
 */
#include "nn/dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* The least seconds of reps calls of one sum (0: tg_comm sum, 1: MPI_Allreduce, 2: tg_comm
 * sum_shared of a shared block of n, 3: tg_comm sum_scatter of it) of v[0..n). */
static double time_sum(int how, const tg_comm *c, tg_real *v, size_t n, int reps, double *t,
                       double *sys, double *faults)
{
    void *block = NULL;
    tg_status st = {0};
    int shared = how == 2 || how == 3;
    if (shared && (c->share(c->ctx, n, TG_DT_REAL, &block, &st) != TG_OK || !block)) {
        fprintf(stderr, "bench_allreduce: no shared block of %zu: %s\n", n, st.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (shared) v = block;
    struct rusage u0, u1;
    MPI_Datatype type = sizeof(tg_real) == 4 ? MPI_FLOAT : MPI_DOUBLE;
    tg_dtype dt = sizeof(tg_real) == 4 ? TG_DT_F32 : TG_DT_F64;
    for (int r = -1; r < reps; r++) {
        for (size_t i = 0; i < n; i++) v[i] = (tg_real)1 / (tg_real)(1 + (i & 1023));
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        tg_status st = {0};
        if (how == 0 && c->sum(c->ctx, v, n, dt, &st) != TG_OK) {
            fprintf(stderr, "%s\n", st.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (how == 1) MPI_Allreduce(MPI_IN_PLACE, v, (int)n, type, MPI_SUM, MPI_COMM_WORLD);
        double sumsq;
        if (shared && (how == 2 ? c->sum_shared(c->ctx, block, &sumsq, &st)
                                : c->sum_scatter(c->ctx, block, &sumsq, &st)) != TG_OK) {
            fprintf(stderr, "%s\n", st.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (r >= 0) t[r] = MPI_Wtime() - t0;
        if (r < 0) getrusage(RUSAGE_SELF, &u0);
    }
    getrusage(RUSAGE_SELF, &u1);
    if (block) c->unshare(c->ctx, block);
    *sys = ((double)(u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
            1e-6 * (double)(u1.ru_stime.tv_usec - u0.ru_stime.tv_usec)) /
           reps;
    *faults = (double)(u1.ru_minflt - u0.ru_minflt) / reps;
    double best = t[0];
    for (int r = 1; r < reps; r++) best = t[r] < best ? t[r] : best;
    return best;
}

int main(int argc, char **argv)
{
    int reps = 9, mpi_only = 0, comm_only = 0;
    size_t max = 20000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc)
            max = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--mpi-only") == 0)
            mpi_only = 1;
        else if (strcmp(argv[i], "--comm-only") == 0)
            comm_only = 1;
        else
            return fprintf(
                       stderr,
                       "usage: bench_allreduce [--reps K] [--max N] [--mpi-only | --comm-only]\n"),
                   2;
    }
    if (reps < 1 || reps > 1000 || max < 1 || max > ((size_t)1 << 30))
        return fprintf(stderr, "bench_allreduce: --reps 1..1000, --max 1..2^30\n"), 2;
    tg_status st = {0};
    tg_dist d;
    if (tg_dist_init(&d, &argc, &argv, &st) != TG_OK) return fprintf(stderr, "%s\n", st.msg), 1;
    const tg_comm *c = tg_dist_comm(&d);
    if (!c) return fprintf(stderr, "bench_allreduce: start it with mpirun -np 2 (or more)\n"), 1;
    tg_real *v = malloc(max * sizeof *v);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!v || !t) return fprintf(stderr, "bench_allreduce: out of memory\n"), 1;
    /* One shared block of max, given back at once: every smaller share below reuses it. */
    void *block = NULL;
    if (!mpi_only && (c->share(c->ctx, max, TG_DT_REAL, &block, &st) != TG_OK || !block))
        return fprintf(stderr, "bench_allreduce: no shared block: %s\n", st.msg), 1;
    if (block) c->unshare(c->ctx, block);
    /* The scattered sum only where the sharded step runs: a node block is handed out. */
    void *node = NULL;
    size_t lo, hi;
    if (!mpi_only && c->share_node &&
        c->share_node(c->ctx, max, TG_DT_REAL, &node, &lo, &hi, &st) != TG_OK)
        return fprintf(stderr, "bench_allreduce: %s\n", st.msg), 1;
    if (node) c->unshare(c->ctx, node);
    if (c->rank == 0)
        printf("ranks %zu, %zu-byte reals, best of %d; sys ms and minor faults: rank 0's mean\n"
               "%10s %10s %6s %8s %8s %10s %6s %10s %6s %10s %6s %8s %8s\n",
               c->ranks, sizeof(tg_real), reps, "n", "tg_comm ms", "GB/s", "sys ms", "faults",
               "shared ms", "GB/s", "scatter ms", "GB/s", "Allred. ms", "GB/s", "sys ms", "faults");
    for (size_t n = 10000; n <= max; n = n * 2 > max && n < max ? max : n * 2) {
        double sa = 0, fa = 0, sb = 0, fb = 0, sc, fc;
        double a = mpi_only ? 0 : time_sum(0, c, v, n, reps, t, &sa, &fa);
        double h = mpi_only ? 0 : time_sum(2, c, v, n, reps, t, &sc, &fc);
        double z = node ? time_sum(3, c, v, n, reps, t, &sc, &fc) : 0;
        double b = comm_only ? 0 : time_sum(1, c, v, n, reps, t, &sb, &fb);
        double bytes = (double)n * sizeof(tg_real) / 1e9;
        if (c->rank == 0)
            printf("%10zu %10.3f %6.2f %8.3f %8.0f %10.3f %6.2f %10.3f %6.2f %10.3f %6.2f %8.3f "
                   "%8.0f\n",
                   n, 1e3 * a, a > 0 ? bytes / a : 0, 1e3 * sa, fa, 1e3 * h, h > 0 ? bytes / h : 0,
                   1e3 * z, z > 0 ? bytes / z : 0, 1e3 * b, b > 0 ? bytes / b : 0, 1e3 * sb, fb);
        fflush(stdout);
    }
    free(v), free(t);
    tg_dist_finalize(&d);
    return 0;
}
