/* simd.c: which vector instructions the hot loops built for several (ops/internal.h's
 * TGI_VERSIONS, with TGI_AVX2 and TGI_AVX512) may use on this CPU.
 *
 * The library is compiled for the x86-64 baseline (SSE2), so a loop the compiler vectorises
 * runs 4 floats at a time. A few loops that dominate a step outside the products (the
 * softmax-xent's exponentials over the (T·B x V) logits, ops/loss.c; the recurrent cells'
 * element-wise ops, forward and backward: sigmoid and tanh in ops/unary.c, add, sub and mul of
 * equal shapes in ops/binary.c, addcmul in ops/fused.c, all through ops/vmath.h's tgi_map)
 * are also compiled for AVX2 and AVX-512 and chosen here at run time: the widest set the CPU
 * and its OS run (__builtin_cpu_supports checks both), never more. Each version does the same
 * operations in the same order on each element (no fused multiply-add: C11 mode keeps
 * contraction off, and the reductions keep their fixed partial sums), so all give the same
 * bits; tests compare them.
 *
 * TG_SIMD=base|avx2|avx512 in the environment caps the choice (for measuring one against
 * another); tgi_simd_cap does the same for tests.
 *
 * Read next: ops/loss.c (the first user), ops/vmath.h (the element-wise ops' loops); nn/clip.c's
 * norm and nn/optim.c's updates are others.
 */
#include "ops/internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int cap = -1; /* -1: not read from TG_SIMD yet */

static int cpu_level(void)
{
#if TGI_SIMD
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return TGI_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2")) return TGI_SIMD_AVX2;
#endif
    return TGI_SIMD_BASE;
}

static int env_cap(void)
{
    const char *e = getenv("TG_SIMD");
    if (e && strcmp(e, "base") == 0) return TGI_SIMD_BASE;
    if (e && strcmp(e, "avx2") == 0) return TGI_SIMD_AVX2;
    return TGI_SIMD_AVX512;
}

int tgi_simd_level(void)
{
    static atomic_int cpu = -1;
    int c = atomic_load(&cpu), m = atomic_load(&cap);
    if (c < 0) atomic_store(&cpu, c = cpu_level());
    if (m < 0) atomic_store(&cap, m = env_cap());
    return c < m ? c : m;
}

void tgi_simd_cap(int level)
{
    atomic_store(&cap, level < 0 ? env_cap() : level);
}
