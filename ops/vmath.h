/* vmath.h: the ops layer's vector loops. Internal to ops/, not installed.
 *
 * First, element-wise loops written once and compiled per instruction set (TGI_MAP_LOOP,
 * tgi_map), which the element-wise ops of the recurrent cells run through: sigmoid, tanh, add,
 * sub, mul and addcmul, forward and backward. Then exp and expm1 of non-positive arguments,
 * written so that a loop calling them vectorises (softmax-xent, sigmoid, tanh).
 *
 * libm's expf is a call per element, which stops the compiler from vectorising the loop around
 * it. These are pure arithmetic instead: no branch, no table, integer selects for the clamps.
 * In the double build they are libm's exp and expm1: accuracy first.
 *
 * Method: x = n·ln2 + r with n = round(x / ln2) and |r| <= ln2/2, a Taylor polynomial in r,
 * then 2^n put in the exponent bits. Checked against double exp and expm1 over every float in
 * [-104, 0] and [-32, 0]: exp_nonpos within 1.22 ulp, subnormal results included, and
 * expm1_nonpos within 0.85 ulp.
 */
#ifndef TG_OPS_VMATH_H
#define TG_OPS_VMATH_H

#include "ops/internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Element-wise loops compiled per instruction set as ops/internal.h describes (TGI_SIMD), for
 * ops/unary.c, binary.c and fused.c. A loop reads up to three arrays and writes up to three,
 * over elements lo..hi:
 *     TGI_MAP_LOOP(name, (p, q, r), (o, o2, o3), body)
 * defines `for (size_t i = lo; i < hi; i++) body` as an always-inline function of those arrays
 * (p, q, r: m->in[0..2]; o, o2, o3: m->out[0..2]; unused ones take any name), all restrict
 * parameters, which GCC keeps through inlining where restrict pointers copied out of a struct
 * do not vectorise; and its versions per instruction set (TGI_MAP_VERSIONS below), in the
 * table name_versions. tgi_map runs this CPU's version over n elements, in one piece a thread
 * when there are at least 2·min_per_thread (each caller's own). The arrays written fill
 * out[] from the first (a NULL ends them). tgi_map returns 0 and runs nothing when one
 * overlaps another array of m's: the caller then takes a loop that allows that. */
typedef struct tgi_map_args {
    const tg_real *in[3];
    tg_real *out[3];
} tgi_map_args;
typedef void tgi_map_fn(const tgi_map_args *m, size_t lo, size_t hi);
int tgi_map(tgi_map_fn *const versions[3], const tgi_map_args *m, size_t n, size_t min_per_thread);

#define TGI_MAP_IN_(p, q, r)                                                                       \
    const tg_real *restrict p, const tg_real *restrict q, const tg_real *restrict r
#define TGI_MAP_OUT_(o, o2, o3) tg_real *restrict o, tg_real *restrict o2, tg_real *restrict o3
#define TGI_MAP_LOOP(name, ins, outs, body)                                                        \
    TGI_INLINE void name(TGI_MAP_IN_ ins, TGI_MAP_OUT_ outs, size_t lo, size_t hi)                 \
    {                                                                                              \
        for (size_t i = lo; i < hi; i++) body;                                                     \
    }                                                                                              \
    TGI_MAP_VERSIONS(name)
/* name's versions (ops/internal.h) over tgi_map's arguments: name_base, _avx2, _avx512 and the
 * table name_versions that tgi_map picks from. */
#define TGI_MAP_VERSIONS(name)                                                                     \
    TGI_VERSIONS(void, name, (const tgi_map_args *m, size_t lo, size_t hi),                        \
                 name(m->in[0], m->in[1], m->in[2], m->out[0], m->out[1], m->out[2], lo, hi);)

#ifdef TG_DOUBLE
static inline tg_real exp_nonpos(tg_real x)
{
    return exp(x);
}

static inline tg_real expm1_nonpos(tg_real x)
{
    return expm1(x);
}

static inline tg_real nan_or(tg_real x, tg_real r)
{
    return x == x ? r : x;
}
#else
/* max(x, lo) for x <= 0 (or a NaN with its sign bit set) on the bits: negative floats' bits
 * grow with |x|, and an integer select vectorises where a float one (NaN rules) does not.
 * A NaN comes out as lo, so the conversions below never see one. */
static inline float clamp_below(float x, uint32_t lo_bits)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    b = b > lo_bits ? lo_bits : b;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* x when x is a NaN, else r: a select on the bits, which vectorises where x == x ? r : x
 * (an unordered comparison) does not. */
static inline float nan_or(float x, float r)
{
    uint32_t xb, rb;
    memcpy(&xb, &x, sizeof xb);
    memcpy(&rb, &r, sizeof rb);
    uint32_t m = 0u - (uint32_t)((xb & 0x7FFFFFFFu) > 0x7F800000u); /* all ones for a NaN */
    rb = (rb & ~m) | (xb & m);
    memcpy(&r, &rb, sizeof r);
    return r;
}

/* 2^n for n in [-126, 127], built in the exponent bits. */
static inline float pow2i(int32_t n)
{
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* n = round(x / ln2) for x <= 0 (truncation rounds up: nearest), and r = x - n·ln2 in
 * [-ln2/2, ln2/2] to rounding, ln2 split in two so that n·LN2_HI is exact. */
static inline int32_t reduce_ln2(float x, float *r)
{
    int32_t n = (int32_t)(x * 1.44269504f - 0.5f);
    *r = (x - (float)n * 0.693145752f) - (float)n * 1.42860677e-6f;
    return n;
}

/* e^x for x <= 0, subnormal results included; below -104 (and for NaN) 0. e^r by its Taylor
 * polynomial to degree 7 (truncation below 6e-9 relative); 2^n, n down to -150, goes in as
 * 2^(n+63)·2^-63 so that both factors are normal floats and only the last product rounds. */
static inline float exp_nonpos(float x)
{
    float r;
    int32_t n = reduce_ln2(clamp_below(x, 0xC2D00000u), &r); /* 0xC2D00000 is -104.0f */
    float p = 1.0f / 5040;
    p = 1.0f / 720 + r * p;
    p = 1.0f / 120 + r * p;
    p = 1.0f / 24 + r * p;
    p = 1.0f / 6 + r * p;
    p = 0.5f + r * p;
    p = 1 + r * p;
    p = 1 + r * p;
    return p * pow2i(n + 63) * 0x1p-63f;
}

/* e^x - 1 for x <= 0, to full relative precision near 0, where n = 0 and r = x exactly;
 * -1 below -32 (and for NaN). expm1(r) by its Taylor polynomial to degree 8. */
static inline float expm1_nonpos(float x)
{
    float r;
    int32_t n = reduce_ln2(clamp_below(x, 0xC2000000u), &r); /* 0xC2000000 is -32.0f */
    float p = 1.0f / 40320;
    p = 1.0f / 5040 + r * p;
    p = 1.0f / 720 + r * p;
    p = 1.0f / 120 + r * p;
    p = 1.0f / 24 + r * p;
    p = 1.0f / 6 + r * p;
    p = 0.5f + r * p;
    float q = r + r * r * p, two_n = pow2i(n);
    return two_n * q + (two_n - 1); /* 2^n·e^r - 1; the product is exact */
}
#endif

#endif
