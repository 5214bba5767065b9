/* bench_matmul.c: how close tg_matmul comes to this core's peak, and to BLIS called directly.
 *
 * 1. The peak: a small FMA loop (12 independent accumulators of 8 floats) gives one core's
 *    single-precision FLOP/s, the ceiling every product below is compared with.
 * 2. tg_matmul (forward only, tape reset between repetitions, median of the repetitions) against
 *    bli_sgemm_ex with the same kernels and thread count but BLIS's own blocksizes (the context
 *    BLIS registered, not tapegrad's tuned copy), on squares and on the shapes an LSTM language
 *    model multiplies, with 1 and 2 threads. The two alternate repetition by repetition; "ratio"
 *    is the median of the per-repetition ratios, with their quartiles: on the large products,
 *    where tg_matmul is BLIS with tapegrad's context, it is what ops/blis.c's tuning gains.
 * 3. The 1024^3 product on every kernel set this CPU can run: the choice of kernels matters.
 * With 1., one core's read bandwidth from L2 (a 160 KB block summed): what bounds a batch-1
 * step's one-row products, each of which reads a 160 KB weight once.
 *
 * Usage: bench_matmul            (the bar: >= 70% of peak on 1024^3, 1 thread)
 *        bench_matmul --kernels skx,zen3,haswell [--threads n]
 *                                 (every shape below on each named kernel set, side by side:
 *                                  which set this CPU should run)
 *        --match TEXT             (either mode: only the shapes whose name contains TEXT)
 *        --threads n              (the first mode: n threads only, instead of 1 then 2)
 *        --cpu-time 1             (with --threads 1: time the thread's CPU, not the wall clock,
 *                                  on a machine others load)
 *        --blocks MC,KC,NC        (the first mode: the direct column with these single-precision
 *                                  blocksizes instead of BLIS's, each D or D/MAX, 0 keeping one:
 *                                  a tuning to try, e.g. --blocks 0,384/768,0)
 *        --pack 0                 (tg_matmul packs with BLIS's own code, not ops/blis.c's
 *                                  32-row packer: with --blocks 0,384/768,0 on both runs, the
 *                                  packer's gain is the ratio with it over the ratio without)
 */
#define _POSIX_C_SOURCE 200809L

#include "ops/internal.h" /* tgi_blis_stock_context: the direct call's kernels */
#include "tapegrad.h"

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_FMA_LOOP 1
#endif

/* --cpu-time: the calling thread's CPU time instead of the wall clock. With one thread BLIS and
 * tg_matmul compute on the calling thread, so a time slice another process takes from this core
 * is not counted (its traffic through the shared caches still is). */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#ifdef HAVE_FMA_LOOP
/* iters rounds of 12 independent 8-wide FMAs: 12 * 8 * 2 = 192 flops per round. Twelve
 * accumulators cover the FMA latency (4-5 cycles) times the FMA ports (2). */
__attribute__((target("avx2,fma"))) static float fma_loop(long iters, float x)
{
    /* Distinct starting values: equal chains would be merged into one by the compiler. */
#define START(i) _mm256_set1_ps(x + 0.01f * (i))
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    __m256 r0 = START(0), r1 = START(1), r2 = START(2), r3 = START(3), r4 = START(4);
    __m256 r5 = START(5), r6 = START(6), r7 = START(7), r8 = START(8), r9 = START(9);
    __m256 r10 = START(10), r11 = START(11);
#undef START
    for (long i = 0; i < iters; i++) {
        r0 = _mm256_fmadd_ps(r0, m, c), r1 = _mm256_fmadd_ps(r1, m, c);
        r2 = _mm256_fmadd_ps(r2, m, c), r3 = _mm256_fmadd_ps(r3, m, c);
        r4 = _mm256_fmadd_ps(r4, m, c), r5 = _mm256_fmadd_ps(r5, m, c);
        r6 = _mm256_fmadd_ps(r6, m, c), r7 = _mm256_fmadd_ps(r7, m, c);
        r8 = _mm256_fmadd_ps(r8, m, c), r9 = _mm256_fmadd_ps(r9, m, c);
        r10 = _mm256_fmadd_ps(r10, m, c), r11 = _mm256_fmadd_ps(r11, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r0, r1), _mm256_add_ps(r2, r3)),
                             _mm256_add_ps(_mm256_add_ps(r4, r5), _mm256_add_ps(r6, r7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(r8, r9), _mm256_add_ps(r10, r11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

/* The same with 16-wide AVX-512 FMAs: 12 * 16 * 2 = 384 flops per round. On a CPU whose
 * AVX-512 units are full width (Zen 5, server Intel) this is twice the AVX2 loop. */
__attribute__((target("avx512f"))) static float fma_loop512(long iters, float x)
{
#define START(i) _mm512_set1_ps(x + 0.01f * (i))
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    __m512 r0 = START(0), r1 = START(1), r2 = START(2), r3 = START(3), r4 = START(4);
    __m512 r5 = START(5), r6 = START(6), r7 = START(7), r8 = START(8), r9 = START(9);
    __m512 r10 = START(10), r11 = START(11);
#undef START
    for (long i = 0; i < iters; i++) {
        r0 = _mm512_fmadd_ps(r0, m, c), r1 = _mm512_fmadd_ps(r1, m, c);
        r2 = _mm512_fmadd_ps(r2, m, c), r3 = _mm512_fmadd_ps(r3, m, c);
        r4 = _mm512_fmadd_ps(r4, m, c), r5 = _mm512_fmadd_ps(r5, m, c);
        r6 = _mm512_fmadd_ps(r6, m, c), r7 = _mm512_fmadd_ps(r7, m, c);
        r8 = _mm512_fmadd_ps(r8, m, c), r9 = _mm512_fmadd_ps(r9, m, c);
        r10 = _mm512_fmadd_ps(r10, m, c), r11 = _mm512_fmadd_ps(r11, m, c);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r0, r1), _mm512_add_ps(r2, r3)),
                             _mm512_add_ps(_mm512_add_ps(r4, r5), _mm512_add_ps(r6, r7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(r8, r9), _mm512_add_ps(r10, r11)));
    return _mm512_reduce_add_ps(s);
}

/* The sum of x[0..n), n a multiple of 64, x 64-byte aligned: four AVX-512 accumulators, so the
 * loop does nothing but read. */
__attribute__((target("avx512f"))) static float sum_loop512(const float *x, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_load_ps(x + i));
        s1 = _mm512_add_ps(s1, _mm512_load_ps(x + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_load_ps(x + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_load_ps(x + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
#endif

/* GB/s one core reads a block of 160 KB (char-h100's W_hh, 400 x 100 floats) that stays in its
 * L2, best of 5 runs of 20,000 passes; 0 without AVX-512. A batch-1 step's h·W_hhᵀ and dh each
 * read that block once, so this bounds them. */
static double l2_read_gbs(void)
{
#ifdef HAVE_FMA_LOOP
    if (!__builtin_cpu_supports("avx512f")) return 0;
    const size_t n = 400 * 100;
    float *x = aligned_alloc(64, n * sizeof *x);
    if (!x) return 0;
    for (size_t i = 0; i < n; i++) x[i] = 1e-3f * (float)(i % 7);
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        for (int pass = 0; pass < 20000; pass++) sink += sum_loop512(x, n);
        double g = 20000.0 * (double)(n * sizeof *x) / (now() - t0) * 1e-9;
        if (g > best) best = g;
    }
    free(x);
    return best;
#else
    return 0;
#endif
}

/* The widest FMA this CPU runs: 16 (AVX-512), 8 (AVX2 + FMA) or 0 floats. */
static int fma_width(void)
{
#ifdef HAVE_FMA_LOOP
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
#endif
    return 0;
}

/* One core's FP32 peak in GFLOP/s with the widest FMA it runs (best of 5 runs), or 0 when the
 * CPU has no AVX2/FMA. */
static double peak_gflops(void)
{
#ifdef HAVE_FMA_LOOP
    int width = fma_width();
    if (width == 0) return 0;
    const long iters = 50 * 1000 * 1000;
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        sink +=
            width == 16 ? fma_loop512(iters, 1e-3f * (float)r) : fma_loop(iters, 1e-3f * (float)r);
        double g = 24.0 * width * (double)iters / (now() - t0) * 1e-9;
        if (g > best) best = g;
    }
    (void)sink;
    return best;
#else
    return 0;
#endif
}

typedef struct {
    const char *what;
    size_t m, k, n; /* op(a) is (m x k), op(b) is (k x n) */
    int flags;
} shape;

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Repetitions for about half a second of work, at least 5, at most 101 (odd: a true median). */
static int reps_for(double seconds_each)
{
    int r = (int)(0.5 / (seconds_each > 1e-9 ? seconds_each : 1e-9));
    r = r < 5 ? 5 : r > 101 ? 101 : r;
    return r | 1;
}

/* --blocks: the direct call's context, BLIS's own with other float blocksizes, else NULL. */
static cntx_t trial;
static cntx_t *direct_cntx;

/* --blocks MC,KC,NC, each as D or D/MAX (0 keeps BLIS's; MAX defaults to D): the direct column
 * runs BLIS's context for the chosen kernels with these float blocksizes (BLIS cuts a dimension
 * into blocks of D unless what is left is at most MAX), to try a tuning against tapegrad's.
 * 0 on success. */
static int set_trial_blocks(const char *spec)
{
    cntx_t *stock = tgi_blis_stock_context();
    const bszid_t id[3] = {BLIS_MC, BLIS_KC, BLIS_NC};
    if (!stock) return -1;
    trial = *stock;
    for (int i = 0; i < 3; i++) {
        long def = 0, max = 0;
        int got = sscanf(spec, "%ld/%ld", &def, &max);
        if (got < 1 || def < 0 || max < 0 || (got == 2 && max < def)) return -1;
        blksz_t *b = bli_cntx_get_blksz(id[i], &trial);
        if (def > 0) {
            bli_blksz_set_def(def, BLIS_FLOAT, b);
            bli_blksz_set_max(got == 2 ? max : def, BLIS_FLOAT, b);
        }
        spec = strchr(spec, ',');
        if ((i < 2) != (spec != NULL)) return -1;
        if (spec) spec++;
    }
    direct_cntx = &trial;
    return 0;
}

/* The same product as tg_matmul, straight into BLIS with the same kernels and threads and
 * BLIS's own blocksizes (or --blocks'). */
static void direct(const shape *s, const float *a, const float *b, float *c, int threads)
{
    int ta = (s->flags & TG_TRANS_A) != 0, tb = (s->flags & TG_TRANS_B) != 0;
    float one = 1, zero = 0;
    rntm_t rntm;
    bli_rntm_init_from_global(&rntm);
    bli_rntm_set_num_threads(threads, &rntm);
    bli_sgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 (dim_t)s->m, (dim_t)s->n, (dim_t)s->k, &one, (float *)a, (inc_t)(ta ? s->m : s->k),
                 1, (float *)b, (inc_t)(tb ? s->k : s->n), 1, &zero, c, (inc_t)s->n, 1,
                 direct_cntx ? direct_cntx : tgi_blis_stock_context(), &rntm);
}

typedef struct {
    double tg, direct; /* GFLOP/s, medians */
    double ratio[3];   /* tg/direct per repetition: lower quartile, median, upper quartile */
} result;

/* Median GFLOP/s of tg_matmul and of the direct call on shape s with `threads` threads. */
static result measure(const shape *s, int threads, int with_direct)
{
    int ta = (s->flags & TG_TRANS_A) != 0, tb = (s->flags & TG_TRANS_B) != 0;
    tg_tensor *a = ta ? tg_tensor_new(s->k, s->m, 0) : tg_tensor_new(s->m, s->k, 0);
    tg_tensor *b = tb ? tg_tensor_new(s->n, s->k, 0) : tg_tensor_new(s->k, s->n, 0);
    float *c = malloc(s->m * s->n * sizeof *c);
    tg_tape *t = tg_tape_new();
    if (!a || !b || !c || !t) {
        fprintf(stderr, "bench_matmul: out of memory for %s\n", s->what);
        exit(1);
    }
    tg_rng r;
    tg_rng_seed(&r, 1);
    for (size_t i = 0; i < tg_numel(a); i++) a->val[i] = (float)tg_rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < tg_numel(b); i++) b->val[i] = (float)tg_rng_uniform(&r) - 0.5f;
    tg_set_num_threads(threads);
    double flops = 2.0 * (double)s->m * (double)s->k * (double)s->n, t0 = now();
    if (!tg_matmul(t, a, b, s->flags)) { /* warm-up: BLIS's buffers, the tape's arena */
        fprintf(stderr, "bench_matmul: %s\n", tg_tape_error(t));
        exit(1);
    }
    if (with_direct) direct(s, a->val, b->val, c, threads);
    int reps = reps_for(now() - t0);
    double *sec = malloc(2 * (size_t)reps * sizeof *sec);
    if (!sec) exit(1);
    double *sec_direct = sec + reps;
    for (int i = 0; i < reps; i++) { /* interleaved, so both see the same machine */
        tg_tape_reset(t);
        t0 = now();
        tg_matmul(t, a, b, s->flags);
        sec[i] = now() - t0;
        if (!with_direct) continue;
        t0 = now();
        direct(s, a->val, b->val, c, threads);
        sec_direct[i] = now() - t0;
    }
    result res = {flops / median(sec, reps) * 1e-9, 0, {0, 0, 0}};
    if (with_direct) {
        double *ratio = malloc((size_t)reps * sizeof *ratio);
        if (!ratio) exit(1);
        for (int i = 0; i < reps; i++) ratio[i] = sec_direct[i] / sec[i];
        res.ratio[1] = median(ratio, reps); /* sorts ratio */
        res.ratio[0] = ratio[reps / 4], res.ratio[2] = ratio[reps - 1 - reps / 4];
        res.direct = flops / median(sec_direct, reps) * 1e-9;
        free(ratio);
    }
    free(sec);
    free(c);
    tg_tape_free(t);
    tg_tensor_free(a);
    tg_tensor_free(b);
    return res;
}

static const char *flag_name(int flags)
{
    return flags == TG_TRANS_A ? "A^T" : flags == TG_TRANS_B ? "B^T" : flags ? "A^T B^T" : "-";
}

static double pct(double g, double peak)
{
    return peak > 0 ? 100.0 * g / peak : 0;
}

static const shape shapes[] = {
    {"square 256", 256, 256, 256, 0},
    {"square 512", 512, 512, 512, 0},
    {"square 1024", 1024, 1024, 1024, 0},
    {"square 2048", 2048, 2048, 2048, 0},
    {"x.W  (20x400).(400x800)", 20, 400, 800, 0},
    {"h.Wt (20x650).(2600x650)^T", 20, 650, 2600, TG_TRANS_B},
    {"X.W  (700x200).(200x800)", 700, 200, 800, 0},
    {"dW   (20x400)^T.(20x800)", 400, 20, 800, TG_TRANS_A},
    {"dh   (20x800).(400x800)^T", 20, 800, 400, TG_TRANS_B},
    /* Per-step recurrent products, where the thread count per product matters most. */
    {"h.Wt (20x200).(800x200)^T", 20, 200, 800, TG_TRANS_B},
    {"dh   (20x800).(800x200)", 20, 800, 200, 0},
    {"h.Wt (32x100).(400x100)^T", 32, 100, 400, TG_TRANS_B},
    {"h.Wt (8x100).(400x100)^T", 8, 100, 400, TG_TRANS_B},
    {"h.Wt (8x64).(256x64)^T", 8, 64, 256, TG_TRANS_B},
    {"X.Wt (25x100).(400x100)^T", 25, 100, 400, TG_TRANS_B},
    {"dW   (25x400)^T.(25x100)", 400, 25, 100, TG_TRANS_A},
    {"dX   (25x400).(400x100)", 25, 400, 100, 0},
    {"h.Wt (32x512).(2048x512)^T", 32, 512, 2048, TG_TRANS_B},
    /* ptb-medium's and char-h512-b32's per-step products at 10 (2 ranks of B = 20), 20, 32 rows. */
    {"h.Wt (10x650).(2600x650)^T", 10, 650, 2600, TG_TRANS_B},
    {"dh   (10x2600).(2600x650)", 10, 2600, 650, 0},
    {"dh   (20x2600).(2600x650)", 20, 2600, 650, 0},
    {"dh   (32x2048).(2048x512)", 32, 2048, 512, 0},
    /* ... and at 2 rows (10 ranks sharing B = 20). */
    {"h.Wt (2x650).(2600x650)^T", 2, 650, 2600, TG_TRANS_B},
    {"dh   (2x2600).(2600x650)", 2, 2600, 650, 0},
    {"h.Wt (1x100).(400x100)^T", 1, 100, 400, TG_TRANS_B},
    {"dh   (1x400).(400x100)", 1, 400, 100, 0},
    /* ptb-small's decoder (H = 200, V = 10,000, T·B = 400 rows). BLIS puts C by columns, so the
       backward products' 200 columns fill 200 of the 224 rows of skx's seven 32-row
       micro-panels; 192 and 224 columns are whole panels, for comparison. */
    {"dec  (400x200).(10000x200)^T", 400, 200, 10000, TG_TRANS_B},
    {"dh   (400x10000).(10000x200)", 400, 10000, 200, 0},
    {"dh   (400x10000).(10000x192)", 400, 10000, 192, 0},
    {"dh   (400x10000).(10000x224)", 400, 10000, 224, 0},
    {"dW   (400x10000)^T.(400x200)", 10000, 400, 200, TG_TRANS_A},
    {"dW   (400x10000)^T.(400x192)", 10000, 400, 192, TG_TRANS_A},
    {"dW   (400x10000)^T.(400x224)", 10000, 400, 224, TG_TRANS_A},
    /* ptb-medium's large products (H = 650, V = 10,000, T·B = 700 rows; 350 at B = 10):
       decoder, its two backward products, the gates over all steps and theirs. */
    {"dec  (700x650).(10000x650)^T", 700, 650, 10000, TG_TRANS_B},
    {"dh   (700x10000).(10000x650)", 700, 10000, 650, 0},
    {"dW   (700x10000)^T.(700x650)", 10000, 700, 650, TG_TRANS_A},
    {"gate (700x650).(2600x650)^T", 700, 650, 2600, TG_TRANS_B},
    {"dh   (700x2600).(2600x650)", 700, 2600, 650, 0},
    {"dW   (700x2600)^T.(700x650)", 2600, 700, 650, TG_TRANS_A},
    {"dW   (360x2600)^T.(360x650)", 2600, 360, 650, TG_TRANS_A},
    {"dec  (350x650).(10000x650)^T", 350, 650, 10000, TG_TRANS_B},
    {"dh   (350x10000).(10000x650)", 350, 10000, 650, 0},
    {"dW   (350x10000)^T.(350x650)", 10000, 350, 650, TG_TRANS_A},
    {"gate (350x650).(2600x650)^T", 350, 650, 2600, TG_TRANS_B},
    {"dh   (350x2600).(2600x650)", 350, 2600, 650, 0},
    {"dW   (350x2600)^T.(350x650)", 2600, 350, 650, TG_TRANS_A},
};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };

/* --kernels: each shape's tg_matmul GFLOP/s on each kernel set in `list` (comma-separated),
 * one column a set, and the flop-weighted total time of all shapes at the foot. */
static const char *match; /* --match: only shapes whose name contains this, or NULL */

static int wanted(const shape *s)
{
    return !match || strstr(s->what, match);
}

static int compare_kernels(char *list, int threads)
{
    const char *names[8];
    int n = 0;
    for (char *tok = strtok(list, ","); tok && n < 8; tok = strtok(NULL, ",")) {
        tg_status st;
        if (tg_blis_select(tok, &st) != TG_OK) {
            fprintf(stderr, "bench_matmul: %s\n", st.msg);
            return 2;
        }
        names[n++] = tok;
    }
    printf("tg_matmul GFLOP/s, %d thread(s), each kernel set in turn per shape\n%-30s %-7s",
           threads, "product", "flags");
    for (int j = 0; j < n; j++) printf(" %9s", names[j]);
    printf("\n");
    double total[8] = {0};
    for (size_t i = 0; i < N_SHAPES; i++) {
        if (!wanted(&shapes[i])) continue;
        printf("%-30s %-7s", shapes[i].what, flag_name(shapes[i].flags));
        for (int j = 0; j < n; j++) {
            tg_blis_select(names[j], NULL);
            result r = measure(&shapes[i], threads, 0);
            total[j] +=
                2e-9 * (double)shapes[i].m * (double)shapes[i].k * (double)shapes[i].n / r.tg;
            printf(" %9.1f", r.tg);
            fflush(stdout);
        }
        printf("\n");
    }
    printf("%-38s", "seconds for one of each");
    for (int j = 0; j < n; j++) printf(" %9.4f", total[j]);
    printf("\n");
    tg_blis_select("auto", NULL);
    tg_set_num_threads(0);
    return 0;
}

int main(int argc, char **argv)
{
    char *kernels = NULL;
    int threads = 0, bad = (argc - 1) % 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kernels") == 0)
            kernels = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            bad |= (threads = atoi(argv[i + 1])) < 1;
        else if (strcmp(argv[i], "--match") == 0)
            match = argv[i + 1];
        else if (strcmp(argv[i], "--blocks") == 0)
            bad |= set_trial_blocks(argv[i + 1]) != 0;
        else if (strcmp(argv[i], "--pack") == 0)
            tgi_blis_fast_pack(atoi(argv[i + 1]) != 0);
        else if (strcmp(argv[i], "--cpu-time") == 0)
            clock_id = atoi(argv[i + 1]) ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
        else
            bad = 1;
    }
    bad |= clock_id != CLOCK_MONOTONIC && threads != 1;
    if (bad) {
        fprintf(stderr, "usage: bench_matmul [--kernels set,set,...] [--threads n] [--match text] "
                        "[--cpu-time 1 (with --threads 1)] [--blocks MC,KC,NC] [--pack 0]\n");
        return 2;
    }
    printf("%s\n", tg_blis_config());
    printf("tg_matmul packs 32-row panels with %s\n",
           tgi_blis_fast_pack(-1) ? "ops/blis.c's packer" : "BLIS's own code");
    if (direct_cntx)
        printf("direct column: BLIS's context with MC %ld/%ld, KC %ld/%ld, NC %ld/%ld (floats, "
               "blocks/largest)\n",
               (long)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MC, direct_cntx),
               (long)bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_MC, direct_cntx),
               (long)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, direct_cntx),
               (long)bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, direct_cntx),
               (long)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NC, direct_cntx),
               (long)bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_NC, direct_cntx));
    if (kernels) return compare_kernels(kernels, threads ? threads : 1);
    double peak = peak_gflops();
    if (peak > 0)
        printf("peak FP32, one core (12 x %d-wide FMA chains): %.1f GFLOP/s\n\n", fma_width(),
               peak);
    else
        printf("peak FP32: not measured (no AVX2/FMA on this CPU); %% columns are 0\n\n");
    double l2 = l2_read_gbs();
    if (l2 > 0)
        printf("L2 read, one core (a 160 KB block summed): %.1f GB/s; a batch-1 step's one-row "
               "products read such a block once each\n\n",
               l2);

    printf("%-30s %-7s %3s %10s %10s %6s %13s %12s\n", "product", "flags", "thr", "tapegrad",
           "direct", "ratio", "ratio", "% of peak");
    printf("%-30s %-7s %3s %10s %10s %6s %13s %12s\n", "", "", "", "GFLOP/s", "GFLOP/s", "tg/dir",
           "quartiles", "(x threads)");
    for (int th = threads ? threads : 1; th <= (threads ? threads : 2); th++)
        for (size_t i = 0; i < N_SHAPES; i++) {
            if (!wanted(&shapes[i])) continue;
            result r = measure(&shapes[i], th, 1);
            printf("%-30s %-7s %3d %10.1f %10.1f %6.3f %6.3f-%.3f %11.1f%%\n", shapes[i].what,
                   flag_name(shapes[i].flags), th, r.tg, r.direct, r.ratio[1], r.ratio[0],
                   r.ratio[2], pct(r.tg, peak * th));
            fflush(stdout);
        }
    if (match) return 0;

    printf("\n1024^3 on every kernel set this CPU runs (tg_matmul, 1 thread):\n");
    const char *sets[] = {"zen3", "haswell", "zen2", "zen", "sandybridge", "generic", "skx"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        tg_status st;
        if (tg_blis_select(sets[i], &st) != TG_OK) {
            printf("  %-12s skipped: %s\n", sets[i], st.msg);
            continue;
        }
        result r = measure(&shapes[2], 1, 0);
        printf("  %-12s %7.1f GFLOP/s %6.1f%% of peak\n", sets[i], r.tg, pct(r.tg, peak));
        fflush(stdout);
    }
    tg_blis_select("auto", NULL);

    result r = measure(&shapes[2], 1, 0);
    printf("\nchosen kernels, 1024^3, 1 thread: %.1f GFLOP/s = %.1f%% of peak (target >= 70%%): "
           "%s\n",
           r.tg, pct(r.tg, peak), pct(r.tg, peak) >= 70 ? "met" : "NOT met");
    tg_set_num_threads(0);
    return 0;
}
