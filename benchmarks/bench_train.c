/* bench_train.c: full training steps of a language model, timed.
 *
 *   bench_train --config NAME [--T n] [--B n] [--reps n] [--steps n] [--warmup n] [--threads n]
 *               [--profile]
 *
 * One step is a window of T tokens for each of B rows: embedding, the recurrent stack, the
 * decoder, softmax cross-entropy, backward, clipping to norm 5 and an SGD update, exactly the
 * loop of models/lm.c, on synthetic token ids. Reports tokens/s (the median of --reps timed
 * repetitions of --steps steps, after --warmup steps), the GEMM work per second of wall time,
 * and the peak resident memory. The last line is machine-readable for benchmarks/run.py.
 * --profile adds where a step's time goes (benchmarks/profile.c); its tokens/s then include the
 * profiler's own work, so time without it.
 *
 * Data parallel: under `mpirun -np N` the B rows are shared by N ranks (nn/dist.h); rank 0
 * reports the tokens/s of all ranks together and the share of a step spent summing the
 * gradients (allreduce_frac; with the sharded step, the barrier after the step too) and waiting
 * for the other ranks in it (allreduce_wait_frac). --data PATH trains on a word-level text
 * (PTB) instead of synthetic ids. --comm-table prints, for every configuration, the bytes
 * all-reduced per window, the GEMM work per window and the efficiency the ring model of
 * docs/scaling.md predicts for N = 2..256 ranks at --gflops GFLOP/s per rank (docs/scaling.md
 * quotes it).
 */
#define _POSIX_C_SOURCE 200809L
#include "benchmarks/profile.h"
#include "models/lm.h"
#include "models/text.h"
#include "models/vocab.h"
#include "nn/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "user_lstm.h"

typedef struct bench_config {
    const char *name;
    const char *cell; /* a registered cell type's name; --cell overrides it */
    size_t V, E, H, L, T, B;
} bench_config;

static const bench_config configs[] = {
    {"ptb-small", "lstm", 10000, 200, 200, 2, 20, 20},
    {"ptb-medium", "lstm", 10000, 650, 650, 2, 35, 20},
    {"char-h100-b1", "lstm", 65, 100, 100, 1, 25, 1},
    {"char-h100-b32", "lstm", 65, 100, 100, 1, 25, 32},
    {"char-h512-b32", "lstm", 65, 512, 512, 1, 25, 32},
    {"ptb-small-gru", "gru", 10000, 200, 200, 2, 20, 20},
    {"ptb-small-rnn", "rnn", 10000, 200, 200, 2, 20, 20},
};
enum { N_CONFIGS = sizeof configs / sizeof configs[0] };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Floating-point operations of the matrix products in one step: forward, and backward's two
 * products per forward product (the input's and the weight's gradients). Every weight matrix
 * of the cell type (a parameter of more than one row) is one product per token. */
static double gemm_flops(const lm_config *c)
{
    double TB = (double)c->T * (double)c->B, H = (double)c->H;
    double f = 0;
    for (size_t k = 0; k < c->L; k++)
        for (size_t p = 0; p < c->cell->n_params; p++) {
            size_t rows, cols;
            tg_cell_param_shape(c->cell, p, k ? c->H : c->E, c->H, &rows, &cols);
            if (rows > 1) f += 2 * TB * (double)rows * (double)cols; /* x·W_ihᵀ, h·W_hhᵀ, ... */
        }
    f += 2 * TB * H * (double)c->V; /* decoder */
    return 3 * f;
}

/* ---- The scaling model of docs/scaling.md ------------------------------------------------ */

/* A network: bandwidth in bytes/s and latency per message in seconds (stated assumptions). */
typedef struct network {
    const char *name;
    double bytes_per_s, latency;
} network;

static const network networks[] = {
    {"25GbE", 25e9 / 8, 20e-6}, /* TCP over 25 Gbit/s Ethernet */
    {"IB100", 100e9 / 8, 2e-6}, /* 100 Gbit/s InfiniBand (EDR), RDMA */
};

/* Ring all-reduce of S bytes over N ranks: 2(N − 1) steps of S/N bytes each. */
static double ring_seconds(double S, double N, const network *nw)
{
    return 2 * (N - 1) * nw->latency + 2 * (N - 1) / N * S / nw->bytes_per_s;
}

/* Weak scaling: every rank keeps the configuration's B rows, so a window costs each rank
 * flops / rate of compute plus the all-reduce (not overlapped). */
static void print_model(const bench_config *bc, const lm_config *c, size_t numel, double gflops)
{
    double S = (double)numel * sizeof(float), tc = gemm_flops(c) / (gflops * 1e9);
    printf("%s  %zu  %.2f  %.3f  %zu  %.1f\n", bc->name, numel, S / 1e6, gemm_flops(c) * 1e-9,
           c->T * c->B, tc * 1e3);
    for (size_t k = 0; k < sizeof networks / sizeof networks[0]; k++) {
        printf("%s/%s", bc->name, networks[k].name);
        for (double N = 2; N <= 256; N *= 2)
            printf("  %.2f", tc / (tc + ring_seconds(S, N, &networks[k])));
        printf("\n");
    }
}

static int comm_table(double gflops)
{
    for (size_t i = 0; i < N_CONFIGS; i++) {
        const bench_config *bc = &configs[i];
        lm_config c = lm_default_config();
        c.cell = tg_cell_type_find(bc->cell);
        c.V = bc->V, c.E = bc->E, c.H = bc->H, c.L = bc->L, c.T = bc->T, c.B = bc->B;
        lm_model m;
        tg_status st = {0};
        if (!c.cell || lm_model_init(&m, &c, &st) != TG_OK)
            return fprintf(stderr, "bench_train: %s: %s\n", bc->name, st.msg), 1;
        print_model(bc, &c, tg_params_numel(m.ps), gflops);
        lm_model_deinit(&m);
    }
    return 0;
}

/* ---- Data parallel: the gradient sum, timed ----------------------------------------------- */

typedef struct timed_comm {
    tg_comm comm;       /* dist's, with sum routed through timed_sum */
    const tg_comm *mpi; /* dist's own */
    double seconds;     /* spent in sums */
    double waiting;     /* of which waiting for the last rank to arrive */
} timed_comm;

/* A sum of more than one value is preceded by a sum of one (a barrier), timed as waiting, so
 * the rest is the sum itself. */
static int timed_sum(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    timed_comm *tc = ctx;
    double t0 = now(), t1 = t0, one = 1;
    int rc = n > 1 ? tc->mpi->sum(tc->mpi->ctx, &one, 1, TG_DT_F64, st) : TG_OK;
    if (n > 1) t1 = now(), tc->waiting += t1 - t0;
    if (rc == TG_OK) rc = tc->mpi->sum(tc->mpi->ctx, v, n, dt, st);
    tc->seconds += now() - t0;
    return rc;
}

/* The shared sum (scatter 0) or the scattered one (1), timed as sum: a barrier (waiting), then
 * the sum itself. */
static int time_shared(timed_comm *tc, int scatter, void *block, double *sumsq, tg_status *st)
{
    const tg_comm *m = tc->mpi;
    double t0 = now(), one = 1;
    int rc = m->sum(m->ctx, &one, 1, TG_DT_F64, st);
    tc->waiting += now() - t0;
    if (rc == TG_OK)
        rc = scatter ? m->sum_scatter(m->ctx, block, sumsq, st)
                     : m->sum_shared(m->ctx, block, sumsq, st);
    tc->seconds += now() - t0;
    return rc;
}

static int timed_sum_shared(void *ctx, void *block, double *sumsq, tg_status *st)
{
    return time_shared(ctx, 0, block, sumsq, st);
}

static int timed_sum_scatter(void *ctx, void *block, double *sumsq, tg_status *st)
{
    return time_shared(ctx, 1, block, sumsq, st);
}

/* The barrier after a sharded step, timed as sum and as waiting: it is nothing else. */
static int timed_sync(void *ctx, tg_status *st)
{
    timed_comm *tc = ctx;
    double t0 = now();
    int rc = tc->mpi->sync(tc->mpi->ctx, st);
    tc->seconds += now() - t0, tc->waiting += now() - t0;
    return rc;
}

static int timed_share_node(void *ctx, size_t n, tg_dtype dt, void **block, size_t *lo, size_t *hi,
                            tg_status *st)
{
    timed_comm *tc = ctx;
    return tc->mpi->share_node(tc->mpi->ctx, n, dt, block, lo, hi, st);
}

static int timed_share(void *ctx, size_t n, tg_dtype dt, void **block, tg_status *st)
{
    timed_comm *tc = ctx;
    return tc->mpi->share(tc->mpi->ctx, n, dt, block, st);
}

static void timed_unshare(void *ctx, void *block)
{
    timed_comm *tc = ctx;
    tc->mpi->unshare(tc->mpi->ctx, block);
}

static int timed_gather(void *ctx, const void *mine, void *all, size_t n, tg_dtype dt,
                        tg_status *st)
{
    timed_comm *tc = ctx;
    return tc->mpi->gather(tc->mpi->ctx, mine, all, n, dt, st);
}

static int timed_bcast(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    timed_comm *tc = ctx;
    return tc->mpi->bcast(tc->mpi->ctx, v, n, dt, st);
}

static void timed_init(timed_comm *tc, const tg_comm *mpi)
{
    tc->mpi = mpi;
    tc->seconds = tc->waiting = 0;
    tc->comm = *mpi;
    tc->comm.ctx = tc, tc->comm.sum = timed_sum, tc->comm.gather = timed_gather;
    tc->comm.bcast = timed_bcast;
    if (mpi->share)
        tc->comm.share = timed_share, tc->comm.sum_shared = timed_sum_shared,
        tc->comm.unshare = timed_unshare;
    if (mpi->share_node)
        tc->comm.share_node = timed_share_node, tc->comm.sum_scatter = timed_sum_scatter,
        tc->comm.sync = timed_sync;
}

/* ---- The token stream --------------------------------------------------------------------- */

/* Synthetic ids, or the words of `data` (its own vocabulary; ids past V wrap), N of them. */
static int32_t *make_stream(const char *data, size_t N, size_t V)
{
    int32_t *tok = malloc(N * sizeof *tok), *ids = NULL;
    if (!tok) return NULL;
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (size_t i = 0; i < N; i++) tok[i] = (int32_t)tg_rng_below(&r, V);
    char *text;
    size_t len, n = 0;
    tg_status st = {0};
    lm_wordvocab v;
    if (data && (lm_read_file(data, &text, &len, &st) != TG_OK ||
                 lm_wordvocab_build(&v, data, text, len, &st) != TG_OK ||
                 lm_wordvocab_encode(&v, data, text, len, &ids, &n, NULL, &st) != TG_OK)) {
        fprintf(stderr, "bench_train: %s\n", st.msg);
        exit(1);
    }
    for (size_t i = 0; data && i < N; i++) tok[i] = (int32_t)((size_t)ids[i % n] % V);
    if (data) free(text), free(ids), lm_wordvocab_deinit(&v);
    return tok;
}

static size_t parse(const char *flag, const char *v)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*v == '-' || end == v || *end) {
        fprintf(stderr, "bench_train: %s takes a whole number, got '%s'\n", flag, v);
        exit(2);
    }
    return (size_t)x;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_train --config NAME [--T n] [--B n] [--reps n] [--steps n] "
               "[--warmup n] [--threads n] [--cell NAME] [--data PATH] [--profile]\n"
               "       bench_train --comm-table [--gflops G]\nconfigurations:");
    for (size_t i = 0; i < N_CONFIGS; i++) fprintf(f, " %s", configs[i].name);
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    const char *name = NULL, *cell = NULL, *data = NULL;
    double rate_g = 0;        /* --gflops */
    user_lstm_register(NULL); /* a cell defined outside the library, timed like the built-ins */
    size_t T = 0, B = 0, reps = 5, steps = 10, warmup = 3, threads = 0;
    int profile = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) return usage(stdout), 0;
        if (strcmp(argv[i], "--profile") == 0 || strcmp(argv[i], "--comm-table") == 0) {
            profile = strcmp(argv[i], "--profile") == 0 ? 1 : 2;
            continue;
        }
        if (i + 1 == argc) return usage(stderr), 2;
        const char *f = argv[i], *v = argv[++i];
        if (strcmp(f, "--config") == 0)
            name = v;
        else if (strcmp(f, "--T") == 0)
            T = parse(f, v);
        else if (strcmp(f, "--B") == 0)
            B = parse(f, v);
        else if (strcmp(f, "--reps") == 0)
            reps = parse(f, v);
        else if (strcmp(f, "--steps") == 0)
            steps = parse(f, v);
        else if (strcmp(f, "--warmup") == 0)
            warmup = parse(f, v);
        else if (strcmp(f, "--threads") == 0)
            threads = parse(f, v);
        else if (strcmp(f, "--cell") == 0)
            cell = v;
        else if (strcmp(f, "--data") == 0)
            data = v;
        else if (strcmp(f, "--gflops") == 0)
            rate_g = (double)parse(f, v);
        else
            return fprintf(stderr, "bench_train: unknown option %s\n", f), usage(stderr), 2;
    }
    if (profile == 2) return comm_table(rate_g > 0 ? rate_g : 40);
    const bench_config *bc = NULL;
    for (size_t i = 0; name && i < N_CONFIGS; i++)
        if (strcmp(name, configs[i].name) == 0) bc = &configs[i];
    if (!bc || reps == 0 || steps == 0) return usage(stderr), 2;
    if (threads) tg_set_num_threads((int)threads);

    tg_status st = {0};
    tg_dist dist; /* one rank unless started by mpirun */
    if (tg_dist_init(&dist, NULL, NULL, &st) != TG_OK) return fprintf(stderr, "%s\n", st.msg), 1;
    timed_comm tcomm;
    if (tg_dist_comm(&dist)) timed_init(&tcomm, tg_dist_comm(&dist));
    if (dist.comm.rank > 0 && !freopen("/dev/null", "w", stdout)) return 1;
    char names[256];
    lm_config c = lm_default_config();
    if (!(c.cell = tg_cell_type_find(cell ? cell : bc->cell)))
        return fprintf(stderr, "bench_train: unknown --cell '%s' (%s)\n", cell,
                       lm_cell_names(names, sizeof names)),
               2;
    c.V = bc->V, c.E = bc->E, c.H = bc->H, c.L = bc->L;
    c.T = T ? T : bc->T, c.B = B ? B : bc->B;
    c.init = 0.1;
    c.clip = 5;
    c.optim = tg_sgd_config(1.0, 0);
    lm_model m;
    if (lm_model_init(&m, &c, &st) != TG_OK) return fprintf(stderr, "%s\n", st.msg), 1;
    m.comm = tg_dist_comm(&dist) ? &tcomm.comm : NULL;

    /* A stream long enough that no window is ragged: B rows of T·windows + 1 tokens. */
    size_t windows = warmup + reps * steps, N = c.B * (c.T * windows + 1);
    int32_t *tok = make_stream(data, N, c.V);
    if (!tok) return fprintf(stderr, "bench_train: out of memory\n"), 1;
    lm_trainer tr;
    if (lm_trainer_init(&tr, &m, tok, N, &st) != TG_OK) return fprintf(stderr, "%s\n", st.msg), 1;

    double loss, *rate = calloc(reps, sizeof *rate);
    for (size_t i = 0; i < warmup; i++)
        if (lm_train_window(&tr, &loss, &st) <= 0) return fprintf(stderr, "%s\n", st.msg), 1;
    double timed_s = 0;
    tcomm.seconds = tcomm.waiting = 0;
    if (profile) {
        prof_init(m.ps);
        if (!prof_start(reps * steps)) return fprintf(stderr, "bench_train: out of memory\n"), 1;
    }
    for (size_t k = 0; k < reps; k++) {
        double t0 = now();
        for (size_t i = 0; i < steps; i++)
            if (lm_train_window(&tr, &loss, &st) <= 0) return fprintf(stderr, "%s\n", st.msg), 1;
        rate[k] = (double)(steps * c.T * c.B) / (now() - t0);
        timed_s += now() - t0;
    }
    double frac = m.comm ? tcomm.seconds / timed_s : 0, wait = m.comm ? tcomm.waiting / timed_s : 0;
    if (profile) prof_stop();
    qsort(rate, reps, sizeof *rate, cmp_double);
    double tps = rate[reps / 2], gflops = gemm_flops(&c) * tps / (double)(c.T * c.B) * 1e-9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    printf("%s: %s V %zu E %zu H %zu L %zu T %zu B %zu, %zu parameters\n", bc->name, c.cell->name,
           c.V, c.E, c.H, c.L, c.T, c.B, tg_params_numel(m.ps));
    printf("  %.0f tokens/s (median of %zu x %zu steps; min %.0f, max %.0f), loss %.3f\n", tps,
           reps, steps, rate[0], rate[reps - 1], loss);
    printf("  GEMM work %.1f GFLOP/s of wall time, peak RSS %.1f MB\n", gflops, rss_mb);
    printf("  %s\n", tg_blis_config());
    if (m.comm)
        printf("  %zu ranks x %zu rows; %.1f%% of the time in the gradient sum (all-reduce), "
               "of which %.1f%% of the time waiting for the other ranks to arrive\n",
               dist.comm.ranks, c.B / dist.comm.ranks, 100 * frac, 100 * wait);
    if (profile && prof_report(stdout, reps * steps)) return 1;
    printf(
        "RESULT config=%s cell=%s tokens_per_s=%.1f gemm_gflops=%.2f peak_rss_mb=%.1f blis=\"%s\" "
        "threads=%zu T=%zu B=%zu ranks=%zu allreduce_frac=%.4f allreduce_wait_frac=%.4f\n",
        bc->name, c.cell->name, tps, gflops, rss_mb, tg_blis_config(), threads, c.T, c.B,
        dist.comm.ranks, frac, wait);
    lm_trainer_deinit(&tr); /* before the communicator ends: its store is bound to shared memory */
    tg_dist_finalize(&dist);
    lm_model_deinit(&m);
    free(tok);
    free(rate);
    return 0;
}
