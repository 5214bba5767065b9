/* clip.c: global-norm clipping: one pass that sums squares, one that scales.
 *
 * Invariant: the norm of a store is the same number for any thread count. The sum of squares is
 * cut into at most MAX_BLOCKS blocks whose length depends only on the store's size; each block
 * is summed in LANES independent double partial sums (written out so the compiler can keep
 * them in SIMD registers without reassociating anything itself), blocks are shared among
 * threads, and the block sums are added in block order. nn/dist.c sums the same blocks as it
 * adds the ranks' gradients (through the tgi_ helpers below), so its norm has the same bits.
 *
 * Read next: optim.c (the step that can apply the clip factor itself, tg_optim_step_scaled).
 */
#include "nn/clip.h"
#include "nn/internal.h"
#include "ops/internal.h"

#include <math.h>
#include <string.h>

#define LANES          TGI_NORM_LANES
#define MAX_BLOCKS     TGI_NORM_BLOCKS
#define MIN_BLOCK      16384 /* elements: fewer blocks for small stores */
#define BLOCK_ALIGN    16    /* block lengths are a multiple: LANES, and 64 bytes in either type */
#define MIN_PER_THREAD 32768 /* elements per thread: below 2x this, one thread (as optim.c) */

void tgi_squares_into(double *acc, const tg_real *g, size_t n)
{
    double a[LANES]; /* a copy the compiler can keep in registers: acc may alias nothing here */
    memcpy(a, acc, sizeof a);
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (size_t k = 0; k < LANES; k++) a[k] += (double)g[i + k] * (double)g[i + k]; // g²
    for (; i < n; i++) a[i % LANES] += (double)g[i] * (double)g[i];
    memcpy(acc, a, sizeof a);
}

double tgi_lanes_sum(const double *acc)
{
    double sum = 0;
    for (size_t k = 0; k < LANES; k++) sum += acc[k];
    return sum;
}

/* Σ g² over g[0..n), in LANES interleaved partial sums added at the end. */
static double sum_squares(const tg_real *g, size_t n)
{
    double acc[LANES] = {0};
    tgi_squares_into(acc, g, n);
    return tgi_lanes_sum(acc);
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
    TGI_PARALLEL_FOR(tgi_threads_for(n, MIN_PER_THREAD), b, nb,
                     part[b] = sum_squares(g + b * len, n - b * len < len ? n - b * len : len));
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
    size_t n = tg_params_numel(ps);
    TGI_PARALLEL_FOR(tgi_threads_for(n, MIN_PER_THREAD), i, n,
                     g[i] = (tg_real)(g[i] * s)); // g *= max / norm
    return norm;
}
