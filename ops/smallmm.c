/* smallmm.c: products of few rows against a weight read where it lies, with no packing.
 *
 * A per-step recurrent product multiplies B = 1 to 32 rows of h (or of the step's gate
 * gradients) by the whole weight: h·W_hhᵀ forward, da·W_hh for dh. BLIS copies ("packs") the
 * weight into its own layout on every call, which for so few rows costs about as much as the
 * arithmetic, once per step, every step of the window. Here the weight is read in place:
 *
 *   c (m x n) = beta·c + a·b, b (k x n) stored by rows:   rows of c += a[i][p] · (row p of b),
 *     a tile of up to 6 rows by 64 columns of c held in 24 vector registers while p runs;
 *   c (m x n) = beta·c + a·bᵀ, b (n x k) stored by rows:  the same with the roles turned, on
 *     cᵀ = b·aᵀ: a tile of up to 12 rows of b by the m (≤ 32) columns of aᵀ, aᵀ written once
 *     into a small block on the stack, the tile turned back into c's rows at its end.
 *
 * Each element of c is one sum over p in order, by one thread, then added to c (beta 1) or
 * stored (beta 0): the same bits on any thread count, and (as for BLIS's own kernels) not the
 * same bits as another kernel set would give. AVX-512 only (ops/simd.c decides); elsewhere, and
 * for shapes outside the limits below, tgi_small_product returns 0 and BLIS does the product.
 *
 * Read next: ops/matmul.c (the caller, gemm()).
 */
#include "ops/internal.h"

#include <stddef.h>
#include <string.h>

/* At most this many rows of a; at most this many elements of aᵀ on the stack (64 KB). At least
 * MIN_ROWS_NN rows for a·b, MIN_ROWS_NT for a·bᵀ, and MIN_COLS columns: below, BLIS's
 * matrix-vector products (ops/matmul.c) were as fast or faster. Zen 5, 1 thread, 4 x 400 x 100:
 * a·b 87 GFLOP/s here against 40 as 4 gemv (2 rows: even; 1 row: gemv 42 against 20); a·bᵀ of
 * 1, 2 and 4 rows: gemv 30-39 against 8-34. */
enum { SMALL_MAX_ROWS = 32, AT_MAX = 16384, MIN_MACS_PER_THREAD = 1 << 19 };
enum { MIN_ROWS_NN = 3, MIN_ROWS_NT = 5, MIN_COLS = 5 };

#if TGI_SIMD
#include <immintrin.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* The first `cols` lanes of a 16-lane vector (cols in 0..16). */
TGI_AVX512 static inline __mmask16 lanes(size_t cols)
{
    return (__mmask16)(cols >= 16 ? 0xFFFFu : (1u << cols) - 1u);
}

/* c[0..R)[0..16·Q) (masked at the right by mk) = beta·c + a[0..R)·b[.., 0..16·Q). */
TGI_INLINE TGI_AVX512 void tile_nn(const int R, const int Q, size_t k, const float *a, size_t lda,
                                   const float *b, size_t ldb, const __mmask16 *mk, float beta,
                                   float *c, size_t ldc)
{
    __m512 acc[6][4];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        __m512 bv[4];
        for (int q = 0; q < Q; q++) bv[q] = _mm512_maskz_loadu_ps(mk[q], b + p * ldb + 16 * q);
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[r * lda + p]);
            for (int q = 0; q < Q; q++) acc[r][q] = _mm512_fmadd_ps(av, bv[q], acc[r][q]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++) {
            float *cp = c + r * ldc + 16 * q;
            __m512 v = acc[r][q];
            if (beta != 0) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk[q], cp), v);
            _mm512_mask_storeu_ps(cp, mk[q], v);
        }
}

/* One block of up to 64 columns of c, Q vectors wide, every row of c in tiles of 6. */
TGI_INLINE TGI_AVX512 void block_nn(const int Q, size_t m, size_t k, const float *a, const float *b,
                                    size_t ldb, const __mmask16 *mk, float beta, float *c,
                                    size_t ldc)
{
    for (size_t i = 0; i < m; i += 6) {
        const float *ai = a + i * k;
        float *ci = c + i * ldc;
        switch (MIN(m - i, 6)) {
        case 6:
            tile_nn(6, Q, k, ai, k, b, ldb, mk, beta, ci, ldc);
            break;
        case 5:
            tile_nn(5, Q, k, ai, k, b, ldb, mk, beta, ci, ldc);
            break;
        case 4:
            tile_nn(4, Q, k, ai, k, b, ldb, mk, beta, ci, ldc);
            break;
        case 3:
            tile_nn(3, Q, k, ai, k, b, ldb, mk, beta, ci, ldc);
            break;
        case 2:
            tile_nn(2, Q, k, ai, k, b, ldb, mk, beta, ci, ldc);
            break;
        default:
            tile_nn(1, Q, k, ai, k, b, ldb, mk, beta, ci, ldc);
            break;
        }
    }
}

/* c (m x n) = beta·c + a (m x k)·b (k x n), all stored by rows without gaps. */
TGI_AVX512 static void product_nn(size_t m, size_t n, size_t k, const float *a, const float *b,
                                  float beta, float *c, int threads)
{
    size_t blocks = (n + 63) / 64;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (size_t blk = 0; blk < blocks; blk++) {
        size_t j = blk * 64, w = MIN(n - j, 64);
        __mmask16 mk[4];
        for (int q = 0; q < 4; q++) mk[q] = lanes(w > 16 * (size_t)q ? w - 16 * (size_t)q : 0);
        switch ((w + 15) / 16) {
        case 4:
            block_nn(4, m, k, a, b + j, n, mk, beta, c + j, n);
            break;
        case 3:
            block_nn(3, m, k, a, b + j, n, mk, beta, c + j, n);
            break;
        case 2:
            block_nn(2, m, k, a, b + j, n, mk, beta, c + j, n);
            break;
        default:
            block_nn(1, m, k, a, b + j, n, mk, beta, c + j, n);
            break;
        }
    }
}

/* Rows j0..j0+R of cᵀ, i.e. columns of c: cᵀ[j] = Σ_p b[j][p]·aᵀ[p] over the m (≤ 16·Q) lanes
 * of aᵀ's rows; then c[i][j0 + j] = beta·c[i][j0 + j] + cᵀ[j][i]. */
TGI_INLINE TGI_AVX512 void tile_nt(const int R, const int Q, size_t m, size_t k, const float *at,
                                   const float *b, const __mmask16 *mk, float beta, float *c,
                                   size_t ldc)
{
    __m512 acc[12][2];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        __m512 av[2];
        for (int q = 0; q < Q; q++) av[q] = _mm512_maskz_loadu_ps(mk[q], at + p * m + 16 * q);
        for (int r = 0; r < R; r++) {
            __m512 bv = _mm512_set1_ps(b[r * k + p]);
            for (int q = 0; q < Q; q++) acc[r][q] = _mm512_fmadd_ps(bv, av[q], acc[r][q]);
        }
    }
    float out[12][32];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++) _mm512_storeu_ps(out[r] + 16 * q, acc[r][q]);
    for (size_t i = 0; i < m; i++)
        for (int r = 0; r < R; r++) {
            float *cp = c + i * ldc + r;
            *cp = beta != 0 ? *cp + out[r][i] : out[r][i];
        }
}

TGI_INLINE TGI_AVX512 void rows_nt(const int Q, size_t j, size_t n, size_t m, size_t k,
                                   const float *at, const float *b, const __mmask16 *mk, float beta,
                                   float *c)
{
    const float *bj = b + j * k;
    switch (MIN(n - j, 12)) {
    case 12:
        tile_nt(12, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 11:
        tile_nt(11, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 10:
        tile_nt(10, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 9:
        tile_nt(9, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 8:
        tile_nt(8, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 7:
        tile_nt(7, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 6:
        tile_nt(6, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 5:
        tile_nt(5, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 4:
        tile_nt(4, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 3:
        tile_nt(3, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    case 2:
        tile_nt(2, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    default:
        tile_nt(1, Q, m, k, at, bj, mk, beta, c + j, n);
        break;
    }
}

/* c (m x n) = beta·c + a (m x k)·bᵀ, b (n x k); m ≤ 32 and m·k ≤ AT_MAX. */
TGI_AVX512 static void product_nt(size_t m, size_t n, size_t k, const float *a, const float *b,
                                  float beta, float *c, int threads)
{
    float at[AT_MAX];
    for (size_t i = 0; i < m; i++)
        for (size_t p = 0; p < k; p++) at[p * m + i] = a[i * k + p];
    __mmask16 mk[2] = {lanes(MIN(m, 16)), lanes(m > 16 ? m - 16 : 0)};
    size_t tiles = (n + 11) / 12;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (size_t t = 0; t < tiles; t++) {
        if (m > 16)
            rows_nt(2, t * 12, n, m, k, at, b, mk, beta, c);
        else
            rows_nt(1, t * 12, n, m, k, at, b, mk, beta, c);
    }
}
#endif

int tgi_small_product(int tb, size_t m, size_t n, size_t k, const tg_real *a, const tg_real *b,
                      tg_real beta, tg_real *c)
{
#if TGI_SIMD
    if (m < (tb ? MIN_ROWS_NT : MIN_ROWS_NN) || m > SMALL_MAX_ROWS || n < MIN_COLS) return 0;
    if (tgi_simd_level() < TGI_SIMD_AVX512) return 0;
    if (tb && m * k > AT_MAX) return 0;
    int threads = tgi_threads_for(m * n * k, MIN_MACS_PER_THREAD);
    if (tb)
        product_nt(m, n, k, a, b, beta, c, threads);
    else
        product_nn(m, n, k, a, b, beta, c, threads);
    return 1;
#else
    (void)tb, (void)m, (void)n, (void)k, (void)a, (void)b, (void)beta, (void)c;
    return 0;
#endif
}
