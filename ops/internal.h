/* ops/internal.h: what the ops layer shares with its own files and with the layers above (nn),
 * not for users: BLIS's set-up and the thread policy of ops/blis.c, on top of everything
 * autograd/internal.h gives an op family. Nothing in autograd/ includes this file.
 *
 * Read next: ops/blis.c (the definitions), ops/matmul.c (their main user).
 */
#ifndef TG_OPS_INTERNAL_H
#define TG_OPS_INTERNAL_H

#include "autograd/internal.h"

#include <stddef.h>

/* BLIS, as ops/blis.c set it up: the context (a cntx_t *) every bli_?gemm_ex call passes, NULL
 * for BLIS's default. The first call initialises BLIS and chooses the kernels. */
void *tgi_blis_context(void);

/* BLIS's own context for the same kernels, with BLIS's blocksizes (NULL where tgi_blis_context is
 * NULL): what tgi_blis_context's tuning is measured against (benchmarks/bench_matmul.c). */
void *tgi_blis_stock_context(void);

/* Threads (ops/threads.c): the count fixed by tg_set_num_threads, 0 under the default policy;
 * the count products and loops use now (the fixed one, else as many cores as others leave
 * free); the most the default policy would use. */
int tgi_blis_threads(void);

/* c (m x n) = op(a)·op(b) + beta·c by BLIS on `threads` threads, as bli_?gemm_ex with
 * tgi_blis_context would, with a stored (m x k), or (k x m) when ta, b (k x n), or (n x k) when
 * tb, c (m x n), all by rows without gaps; with skx's kernels on a CPU running AVX-512, through
 * ops/blis.c's own packing of 32-row panels (the same bits, sooner). */
void tgi_blis_gemm(int ta, int tb, size_t m, size_t n, size_t k, const tg_real *a, const tg_real *b,
                   tg_real beta, tg_real *c, long threads);

/* on = 0 turns that packing off, 1 on again, -1 asks (tests and benchmarks compare). 1 when
 * products with the kernels now chosen use it. */
int tgi_blis_fast_pack(int on);

/* That packing kernel (a BLIS spackm_ker_ft, as bli_spackm_struc_cxk but taking BLIS's params
 * last), or NULL where this build or CPU cannot run it: tests compare it with BLIS's. */
typedef void (*tgi_fn)(void);
tgi_fn tgi_blis_packer(void);
long tgi_threads_now(void);
long tgi_threads_ceiling(void);

/* How many threads a loop of `work` units should use: tgi_threads_now(), but never fewer than
 * min_per_thread units per thread, so a small loop stays on one thread and pays no fork. For
 * `#pragma omp parallel for num_threads(...)` in element-wise and reduction loops, and for each
 * product's thread count. */
int tgi_threads_for(size_t work, size_t min_per_thread);

/* for (size_t i = 0; i < n; i++) body (the last arguments), on `threads` threads, entering no
 * OpenMP region when threads is 1: a parallel region of one thread still costs about 0.25 us
 * (Zen 5, GCC 12's libgomp), more than a batch-1 step's loops and products take. Every loop of
 * ops/ and nn/ that may run on several threads goes through it. */
#define TGI_PARALLEL_FOR(threads, i, n, ...)                                                       \
    do {                                                                                           \
        int nt_ = (threads);                                                                       \
        size_t n_ = (n);                                                                           \
        if (nt_ > 1) {                                                                             \
            _Pragma("omp parallel for num_threads(nt_) schedule(static)") for (size_t i = 0;       \
                                                                               i < n_; i++)        \
                __VA_ARGS__;                                                                       \
        } else {                                                                                   \
            for (size_t i = 0; i < n_; i++) __VA_ARGS__;                                           \
        }                                                                                          \
    } while (0)

/* Vector instructions (ops/simd.c). A hot loop is written once as an always-inline function and
 * wrapped three times by TGI_VERSIONS below: plain, TGI_AVX2 and TGI_AVX512 (attributes that
 * compile the wrapper, and what is inlined into it, for that set); tgi_simd_level() says which
 * wrapper to call. The float build with GCC on x86-64 only (TGI_SIMD); elsewhere the level is
 * always TGI_SIMD_BASE. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(TG_DOUBLE)
#define TGI_SIMD 1
#define TGI_AVX2 __attribute__((target("avx2")))
#define TGI_AVX512                                                                                 \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512")))
#else
#define TGI_SIMD 0
#endif
#define TGI_INLINE static inline __attribute__((always_inline))
enum { TGI_SIMD_BASE, TGI_SIMD_AVX2, TGI_SIMD_AVX512 };

/* One loop, three versions, one picked at run time:
 *     TGI_VERSIONS(ret, name, (params), body)
 * defines three functions `static ret name_SET(params) { body }`, SET base (plain), avx2
 * (TGI_AVX2) and avx512 (TGI_AVX512): body calls the always-inline loop, which is so compiled
 * once per instruction set. With them come their type name_fn and their table name_versions,
 * indexed by TGI_SIMD_* level; TGI_PICK(name_versions) is the version for this CPU
 * (tgi_simd_level()). For example
 *     TGI_VERSIONS(void, bias_block, (tg_real *dc, ...), bias_block(dc, ...);)
 *     bias_block_fn *block = TGI_PICK(bias_block_versions);
 * A body that needs a helper of its own width names it by TGI_PER_LEVEL(base, avx2, avx512):
 * the one for the version it is in (each declares its level as the constant tgi_level), chosen
 * as it compiles. Without TGI_SIMD there is name_base alone, in every slot of the table, and
 * TGI_PER_LEVEL is always its base. */
#define TGI_VERSION_(attr, level, set, ret, name, params, ...)                                     \
    attr static ret name##_##set params                                                            \
    {                                                                                              \
        enum { tgi_level = level };                                                                \
        __VA_ARGS__                                                                                \
    }
#if TGI_SIMD
#define TGI_WIDE_VERSIONS_(ret, name, params, ...)                                                 \
    TGI_VERSION_(TGI_AVX2, TGI_SIMD_AVX2, avx2, ret, name, params, __VA_ARGS__)                    \
    TGI_VERSION_(TGI_AVX512, TGI_SIMD_AVX512, avx512, ret, name, params, __VA_ARGS__)
#define TGI_SLOTS_(name) name##_base, name##_avx2, name##_avx512
#define TGI_PER_LEVEL(base, avx2, avx512)                                                          \
    ((int)tgi_level == TGI_SIMD_AVX512 ? (avx512)                                                  \
     : (int)tgi_level == TGI_SIMD_AVX2 ? (avx2)                                                    \
                                       : (base))
#else
#define TGI_WIDE_VERSIONS_(ret, name, params, ...)
#define TGI_SLOTS_(name)                  name##_base, name##_base, name##_base
#define TGI_PER_LEVEL(base, avx2, avx512) (base)
#endif
#define TGI_VERSIONS(ret, name, params, ...)                                                       \
    typedef ret name##_fn params;                                                                  \
    TGI_VERSION_(, TGI_SIMD_BASE, base, ret, name, params, __VA_ARGS__)                            \
    TGI_WIDE_VERSIONS_(ret, name, params, __VA_ARGS__)                                             \
    static name##_fn *const name##_versions[3] = {TGI_SLOTS_(name)};
#define TGI_PICK(versions) ((versions)[TGI_SIMD ? tgi_simd_level() : TGI_SIMD_BASE])

/* The widest TGI_SIMD_* this CPU and OS run, capped by TG_SIMD=base|avx2|avx512 in the
 * environment or by tgi_simd_cap (tests; a negative level goes back to the environment's). */
int tgi_simd_level(void);
void tgi_simd_cap(int level);

/* c (m x n) = beta·c + op(a)·op(b) for op(a) (m x k) of few rows (a stored (m x k)), or aᵀ·b
 * for a stored (k x m) of few rows (ta), or a·b and aᵀ·b of many rows but few columns and a
 * short k; b (k x n), or (n x k) read transposed when tb, all stored by rows without gaps, beta 0
 * or 1 (ops/smallmm.c). 1 when done; 0 when this CPU or shape is not one it handles (then the
 * caller asks BLIS). */
int tgi_small_product(int ta, int tb, size_t m, size_t n, size_t k, const tg_real *a,
                      const tg_real *b, tg_real beta, tg_real *c);
/* Its multiply-adds a thread: twice BLIS's (ops/matmul.c), as it takes half BLIS's time. Zen 5,
 * 2 cores, idle, 2026-12-03 13:19, 1 thread / 2: (32 x 100)·(400 x 100)ᵀ (1.28M) 13.9 / 15.7 us,
 * (32 x 100)·(800 x 100)ᵀ 27.2 / 23.0, (20 x 200)·(800 x 200)ᵀ 36.1 / 26.0. */
enum { TGI_SMALL_MIN_MACS = 1 << 20 };
/* Elements a thread: the unary ops' loops (why: ops/unary.c) and tg_addmm's bias copy and sums
 * (ops/matmul.c). */
enum { TGI_UNARY_MIN_PER_THREAD = 32768, TGI_STREAM_PER_THREAD = 1 << 20 };

#endif
