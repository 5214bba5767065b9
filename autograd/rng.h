/* rng.h: a small seeded generator, so runs, dropout masks and samples are reproducible.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64. The whole state is the four
 * words of tg_rng: copying the struct saves it, which is what checkpoints do.
 */
#ifndef TG_RNG_H
#define TG_RNG_H

#include "autograd/export.h"

#include <stdint.h>

TG_BEGIN_DECLS

typedef struct tg_rng {
    uint64_t s[4]; /* generator state; never all zero after tg_rng_seed */
} tg_rng;

void tg_rng_seed(tg_rng *r, uint64_t seed);
uint64_t tg_rng_u64(tg_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double tg_rng_uniform(tg_rng *r);
/* Uniform integer in [0, n); n > 0. Unbiased (rejection). */
uint64_t tg_rng_below(tg_rng *r, uint64_t n);
/* Standard normal (Box-Muller; two uniforms per call, no cached second value). */
double tg_rng_normal(tg_rng *r);

TG_END_DECLS

#endif
