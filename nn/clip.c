/* clip.c: global-norm clipping: one pass that sums squares, one that scales.
 *
 * Invariant: the norm of a store is the same number for any thread count and any vector width.
 * The sum of squares is cut into at most MAX_BLOCKS blocks whose length depends only on the
 * store's size; element i of a block goes into partial sum i mod LANES of that block (LANES
 * independent double sums, added in lane order at the end), and the block sums are added in
 * block order. nn/dist.c sums the same blocks as it adds the ranks' gradients (through the tgi_
 * helpers below), so its norm has the same bits.
 *
 * Speed: the loops are compiled for SSE2, AVX2 and AVX-512 and chosen at run time (ops/simd.c).
 * One block's sums are LANES chains of dependent additions, so a block costs its length / LANES
 * times an addition's latency however wide the vectors are; but blocks are independent. The
 * AVX-512 version keeps a block's partial sums in one GCC vector of LANES doubles (one register;
 * GCC leaves LANES explicit scalars unvectorised at that width) and sums GROUP blocks in
 * one loop, GROUP · LANES chains at once; on several threads each takes a contiguous run of
 * blocks, so the groups stay whole. SSE2 and AVX2 run the plain arrays a block at a time
 * (a vector of LANES doubles lowered to narrower registers goes through memory). Each lane still
 * adds its own elements in order, so every width gives the same bits (tests/test_nn_clip.c).
 *
 * Read next: optim.c (the step that can apply the clip factor itself, tg_optim_step_scaled).
 */
#include "nn/clip.h"
#include "nn/internal.h"
#include "ops/internal.h"

#include <math.h>
#include <string.h>

#define LANES       TGI_NORM_LANES
#define MAX_BLOCKS  TGI_NORM_BLOCKS
#define GROUP       4     /* blocks summed in one loop */
#define MIN_BLOCK   16384 /* elements: fewer blocks for small stores */
#define BLOCK_ALIGN 16    /* block lengths are a multiple: LANES, and 64 bytes in either type */
/* Elements per thread: below 2x this, one thread. Measured (AVX-512 loops, each thread a run of
 * blocks, 2 cores under load, best of 300), one thread against two: 70K 3.0 vs 4.8 us, 94K 4.7
 * vs 5.3, 131K 5.2 vs 5.6-5.9, 300K 13.2 vs 9.9. (The SSE2 loops would gain from 2 threads at
 * 131K: 19.0 vs 13.1.) */
#define MIN_PER_THREAD 65536

/* acc[i % LANES] += g[i]² for i < n, as plain arrays: GCC vectorises this for SSE2 (LANES
 * doubles in four registers) but not wider. */
TGI_INLINE void squares_into(double *acc, const tg_real *g, size_t n)
{
    double a[LANES]; /* a copy the compiler can keep in registers: acc may alias nothing here */
    memcpy(a, acc, sizeof a);
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (size_t k = 0; k < LANES; k++) a[k] += (double)g[i + k] * (double)g[i + k]; // g²
    for (; i < n; i++) a[i % LANES] += (double)g[i] * (double)g[i];
    memcpy(acc, a, sizeof a);
}

/* part[b] = Σ g² over block b of len elements, for blocks [b0, b1) of the n in g (only the last
 * block of the store may be shorter), one block at a time. */
TGI_INLINE void block_squares(double *part, const tg_real *g, size_t n, size_t len, size_t b0,
                              size_t b1)
{
    for (size_t b = b0; b < b1; b++) {
        double acc[LANES] = {0};
        squares_into(acc, g + b * len, n - b * len < len ? n - b * len : len);
        part[b] = tgi_lanes_sum(acc);
    }
}

#if TGI_SIMD
/* The same sums with the LANES partial sums in one GCC vector of LANES doubles, whose operations
 * act lane by lane: one AVX-512 register (lowered to narrower registers, GCC keeps it in memory,
 * so only the AVX-512 loops use it). */
typedef double lanes __attribute__((vector_size(LANES * sizeof(double))));

/* Lane k of a += (double)g[k] · (double)g[k], k < LANES. */
TGI_INLINE void add_squares(lanes *a, const tg_real *g)
{
    lanes d;
    for (size_t k = 0; k < LANES; k++) d[k] = (double)g[k]; /* one conversion instruction */
    *a += d * d;                                            // g²
}

TGI_INLINE void squares_into_wide(double *acc, const tg_real *g, size_t n)
{
    lanes a;
    memcpy(&a, acc, sizeof a);
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) add_squares(&a, g + i);
    memcpy(acc, &a, sizeof a);
    for (; i < n; i++) acc[i % LANES] += (double)g[i] * (double)g[i];
}

/* part[j] = Σ g² over the k blocks g + j·len (k <= GROUP, len a multiple of LANES), each as
 * squares_into sums it, all in one loop: k independent sets of LANES chains. The last block
 * may hold only last (<= len) elements: the loop runs all k over its whole vectors, then the
 * other k - 1 on to len, then adds its remainder. Each lane still adds its elements in order. */
TGI_INLINE void group_squares(double *part, const tg_real *g, size_t len, size_t last, size_t k)
{
    lanes a[GROUP] = {0};
    size_t i = 0, common = last / LANES * LANES;
    for (; i < common; i += LANES)
        for (size_t j = 0; j < k; j++) add_squares(&a[j], g + j * len + i);
    for (; i < len; i += LANES)
        for (size_t j = 0; j + 1 < k; j++) add_squares(&a[j], g + j * len + i);
    for (size_t j = 0; j < k; j++) {
        double acc[LANES];
        memcpy(acc, &a[j], sizeof acc);
        if (j + 1 == k) /* the last block's remainder, as squares_into_wide adds it */
            for (i = common; i < last; i++)
                acc[i % LANES] += (double)g[j * len + i] * (double)g[j * len + i];
        part[j] = tgi_lanes_sum(acc);
    }
}

/* block_squares, GROUP blocks at a time, then two, then one (each k a constant, so the sums
 * stay in registers); the store's last block, maybe shorter, goes in the last group. */
TGI_INLINE void block_squares_wide(double *part, const tg_real *g, size_t n, size_t len, size_t b0,
                                   size_t b1)
{
    for (size_t b = b0, k; b < b1; b += k) {
        k = b1 - b >= GROUP ? GROUP : b1 - b >= 2 ? 2 : 1;
        size_t end = (b + k) * len, last = len - (end > n ? end - n : 0);
        if (k == GROUP)
            group_squares(part + b, g + b * len, len, last, GROUP);
        else if (k == 2)
            group_squares(part + b, g + b * len, len, last, 2);
        else
            group_squares(part + b, g + b * len, len, last, 1);
    }
}
#endif

TGI_INLINE void scale_by(tg_real *g, size_t n, tg_real s)
{
    for (size_t i = 0; i < n; i++) g[i] = (tg_real)(g[i] * s); // g *= max / norm
}

/* The three loops compiled plain, for AVX2 and for AVX-512 (ops/internal.h); the sums of
 * squares call the array helpers at the first two widths and the _wide ones at AVX-512
 * (TGI_PER_LEVEL's base, avx2, avx512). The functions below call this CPU's (TGI_PICK).
 * (clang-format 14 would read scale_by's first parameter as a product: `tg_real * g`.) */
// clang-format off
TGI_VERSIONS(void, squares_into, (double *acc, const tg_real *g, size_t n),
             TGI_PER_LEVEL(squares_into, squares_into, squares_into_wide)(acc, g, n);)
TGI_VERSIONS(void, block_squares,
             (double *part, const tg_real *g, size_t n, size_t len, size_t b0, size_t b1),
             TGI_PER_LEVEL(block_squares, block_squares, block_squares_wide)
                 (part, g, n, len, b0, b1);)
TGI_VERSIONS(void, scale_by, (tg_real *g, size_t n, tg_real s), scale_by(g, n, s);)
// clang-format on

void tgi_squares_into(double *acc, const tg_real *g, size_t n)
{
    TGI_PICK(squares_into_versions)(acc, g, n);
}

double tgi_lanes_sum(const double *acc)
{
    double sum = 0;
    for (size_t k = 0; k < LANES; k++) sum += acc[k];
    return sum;
}

size_t tgi_norm_block(size_t n)
{
    size_t len = n / MAX_BLOCKS + 1;
    if (len < MIN_BLOCK) len = MIN_BLOCK;
    return (len + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
}

double tg_grad_norm(tg_params *ps)
{
    const tg_real *g = tg_params_grads(ps);
    size_t n = tg_params_numel(ps), len = tgi_norm_block(n), nb = (n + len - 1) / len;
    double part[MAX_BLOCKS];
    block_squares_fn *f = TGI_PICK(block_squares_versions);
    size_t nt = (size_t)tgi_threads_for(n, MIN_PER_THREAD); /* each a run of nb / nt blocks */
    TGI_PARALLEL_FOR((int)nt, r, nt, f(part, g, n, len, r * nb / nt, (r + 1) * nb / nt));
    double sum = 0;
    for (size_t b = 0; b < nb; b++) sum += part[b]; // Σ g², blocks in order
    return sqrt(sum);
}

double tg_clip_scale(double norm, double max_norm)
{
    if (!(max_norm >= 0) || !isfinite(norm) || norm <= max_norm) return 1;
    return max_norm / norm;
}

double tg_clip_grad_norm(tg_params *ps, double max_norm)
{
    if (!(max_norm >= 0)) return NAN;
    double norm = tg_grad_norm(ps), scale = tg_clip_scale(norm, max_norm);
    if (scale == 1) return norm;
    tg_real *g = tg_params_grads(ps), s = (tg_real)scale;
    size_t n = tg_params_numel(ps), chunks = (n + MIN_BLOCK - 1) / MIN_BLOCK;
    scale_by_fn *f = TGI_PICK(scale_by_versions);
    TGI_PARALLEL_FOR(tgi_threads_for(n, MIN_PER_THREAD), c, chunks, {
        size_t lo = c * MIN_BLOCK;
        f(g + lo, n - lo < MIN_BLOCK ? n - lo : MIN_BLOCK, s);
    });
    return norm;
}
