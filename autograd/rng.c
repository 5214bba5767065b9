/* rng.c: xoshiro256** and splitmix64, from their published definitions. */
#include "autograd/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void tg_rng_seed(tg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t tg_rng_u64(tg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double tg_rng_uniform(tg_rng *r)
{
    return (double)(tg_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t tg_rng_below(tg_rng *r, uint64_t n)
{
    uint64_t limit =
        UINT64_MAX - UINT64_MAX % n; /* accept [0, limit) so every residue is equally likely */
    uint64_t x;
    do x = tg_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double tg_rng_normal(tg_rng *r)
{
    double u = 1.0 - tg_rng_uniform(r); /* (0, 1]: log is finite */
    double v = tg_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * 3.14159265358979323846 * v);
}
