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
 */
#define _POSIX_C_SOURCE 200809L
#include "benchmarks/profile.h"
#include "models/lm.h"

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
               "[--warmup n] [--threads n] [--cell NAME] [--profile]\nconfigurations:");
    for (size_t i = 0; i < N_CONFIGS; i++) fprintf(f, " %s", configs[i].name);
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    const char *name = NULL, *cell = NULL;
    user_lstm_register(NULL); /* a cell defined outside the library, timed like the built-ins */
    size_t T = 0, B = 0, reps = 5, steps = 10, warmup = 3, threads = 0;
    int profile = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) return usage(stdout), 0;
        if (strcmp(argv[i], "--profile") == 0) {
            profile = 1;
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
        else
            return fprintf(stderr, "bench_train: unknown option %s\n", f), usage(stderr), 2;
    }
    const bench_config *bc = NULL;
    for (size_t i = 0; name && i < N_CONFIGS; i++)
        if (strcmp(name, configs[i].name) == 0) bc = &configs[i];
    if (!bc || reps == 0 || steps == 0) return usage(stderr), 2;
    if (threads) tg_set_num_threads((int)threads);

    tg_status st = {0};
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

    /* A stream long enough that no window is ragged: B rows of T·windows + 1 tokens. */
    size_t windows = warmup + reps * steps, N = c.B * (c.T * windows + 1);
    int32_t *tok = malloc(N * sizeof *tok);
    if (!tok) return fprintf(stderr, "bench_train: out of memory\n"), 1;
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (size_t i = 0; i < N; i++) tok[i] = (int32_t)tg_rng_below(&r, c.V);
    lm_trainer tr;
    if (lm_trainer_init(&tr, &m, tok, N, &st) != TG_OK) return fprintf(stderr, "%s\n", st.msg), 1;

    double loss, *rate = calloc(reps, sizeof *rate);
    for (size_t i = 0; i < warmup; i++)
        if (lm_train_window(&tr, &loss, &st) <= 0) return fprintf(stderr, "%s\n", st.msg), 1;
    if (profile) {
        prof_init(m.ps);
        if (!prof_start(reps * steps)) return fprintf(stderr, "bench_train: out of memory\n"), 1;
    }
    for (size_t k = 0; k < reps; k++) {
        double t0 = now();
        for (size_t i = 0; i < steps; i++)
            if (lm_train_window(&tr, &loss, &st) <= 0) return fprintf(stderr, "%s\n", st.msg), 1;
        rate[k] = (double)(steps * c.T * c.B) / (now() - t0);
    }
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
    if (profile && prof_report(stdout, reps * steps)) return 1;
    printf(
        "RESULT config=%s cell=%s tokens_per_s=%.1f gemm_gflops=%.2f peak_rss_mb=%.1f blis=\"%s\" "
        "threads=%zu T=%zu B=%zu\n",
        bc->name, c.cell->name, tps, gflops, rss_mb, tg_blis_config(), threads, c.T, c.B);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    free(tok);
    free(rate);
    return 0;
}
