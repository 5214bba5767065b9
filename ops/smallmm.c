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
 *     into a small block on the stack, the tile turned back into c's rows at its end;
 *   one row (batch 1): a·b as the first with 128 columns at once, a·bᵀ as 16 dot products at a
 *     time whose lanes are summed by a fixed tree (lane_sums16);
 *   c (m x n) = beta·c + aᵀ·b, a (k x m) of few rows: the first with a read down its columns
 *     (a weight's gradient from the T·B rows of a batch-1 window, dW += dyᵀ·x).
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
 * a·b 87 GFLOP/s here against 40 as 4 gemv (2 rows: even; 1 row through tile_nn: gemv 42
 * against 20); a·bᵀ of 1, 2 and 4 rows: gemv 30-39 against 8-34. Exactly one row has kernels of
 * its own (row_block_nn, row_nt), faster than gemv: (1 x 100)·(400 x 100)ᵀ 67 GFLOP/s against
 * 46, (1 x 400)·(400 x 100) 80 against 48. */
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

/* The masks of a block of w columns in Q vectors: vector q holds columns 16q to 16q + 15. */
TGI_AVX512 static inline void block_lanes(size_t w, int Q, __mmask16 *mk)
{
    for (int q = 0; q < Q; q++) mk[q] = lanes(w > 16 * (size_t)q ? w - 16 * (size_t)q : 0);
}

/* c[0..R)[0..16·Q) (masked at the right by mk) = beta·c + a[0..R)·b[.., 0..16·Q). */
TGI_INLINE TGI_AVX512 void tile_nn(const int R, const int Q, size_t k, const float *a, size_t rs,
                                   size_t cs, const float *b, size_t ldb, const __mmask16 *mk,
                                   float beta, float *c, size_t ldc)
{
    __m512 acc[6][4];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        __m512 bv[4];
        for (int q = 0; q < Q; q++) bv[q] = _mm512_maskz_loadu_ps(mk[q], b + p * ldb + 16 * q);
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[r * rs + p * cs]);
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
TGI_INLINE TGI_AVX512 void block_nn(const int Q, size_t m, size_t k, const float *a, size_t rs,
                                    size_t cs, const float *b, size_t ldb, const __mmask16 *mk,
                                    float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i += 6) {
        const float *ai = a + i * rs;
        float *ci = c + i * ldc;
        switch (MIN(m - i, 6)) {
        case 6:
            tile_nn(6, Q, k, ai, rs, cs, b, ldb, mk, beta, ci, ldc);
            break;
        case 5:
            tile_nn(5, Q, k, ai, rs, cs, b, ldb, mk, beta, ci, ldc);
            break;
        case 4:
            tile_nn(4, Q, k, ai, rs, cs, b, ldb, mk, beta, ci, ldc);
            break;
        case 3:
            tile_nn(3, Q, k, ai, rs, cs, b, ldb, mk, beta, ci, ldc);
            break;
        case 2:
            tile_nn(2, Q, k, ai, rs, cs, b, ldb, mk, beta, ci, ldc);
            break;
        default:
            tile_nn(1, Q, k, ai, rs, cs, b, ldb, mk, beta, ci, ldc);
            break;
        }
    }
}

#define CASE_Q(q, call)                                                                            \
    case q:                                                                                        \
        call;                                                                                      \
        break

/* A block of w ≤ 64 columns of c (m x ldc), Q = w/16 rounded up chosen at compile time. */
TGI_AVX512 static void columns_nn(size_t w, size_t m, size_t k, const float *a, size_t rs,
                                  size_t cs, const float *b, size_t ld, const __mmask16 *mk,
                                  float beta, float *c)
{
    switch ((w + 15) / 16) {
        CASE_Q(4, block_nn(4, m, k, a, rs, cs, b, ld, mk, beta, c, ld));
        CASE_Q(3, block_nn(3, m, k, a, rs, cs, b, ld, mk, beta, c, ld));
        CASE_Q(2, block_nn(2, m, k, a, rs, cs, b, ld, mk, beta, c, ld));
    default:
        block_nn(1, m, k, a, rs, cs, b, ld, mk, beta, c, ld);
    }
}

/* One row (a batch-1 step), up to 128 columns of c (1 x n) = beta·c + a (1 x k)·b (k x n), Q
 * vectors held while p runs: more columns at once than tile_nn's 64 keep enough FMAs in flight
 * with one row, and each element is still one sum over p in order. */
TGI_INLINE TGI_AVX512 void row_block_nn(const int Q, size_t k, const float *a, const float *b,
                                        size_t ldb, const __mmask16 *mk, float beta, float *c)
{
    __m512 acc[8];
    for (int q = 0; q < Q; q++) acc[q] = _mm512_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        __m512 av = _mm512_set1_ps(a[p]);
        for (int q = 0; q < Q; q++)
            acc[q] =
                _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(mk[q], b + p * ldb + 16 * q), acc[q]);
    }
    for (int q = 0; q < Q; q++) {
        __m512 v = acc[q];
        if (beta != 0) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk[q], c + 16 * q), v);
        _mm512_mask_storeu_ps(c + 16 * q, mk[q], v);
    }
}

/* A block of w ≤ 128 columns of c (1 x ld). */
TGI_AVX512 static void columns_row_nn(size_t w, size_t k, const float *a, const float *b, size_t ld,
                                      const __mmask16 *mk, float beta, float *c)
{
    switch ((w + 15) / 16) {
        CASE_Q(8, row_block_nn(8, k, a, b, ld, mk, beta, c));
        CASE_Q(7, row_block_nn(7, k, a, b, ld, mk, beta, c));
        CASE_Q(6, row_block_nn(6, k, a, b, ld, mk, beta, c));
        CASE_Q(5, row_block_nn(5, k, a, b, ld, mk, beta, c));
        CASE_Q(4, row_block_nn(4, k, a, b, ld, mk, beta, c));
        CASE_Q(3, row_block_nn(3, k, a, b, ld, mk, beta, c));
        CASE_Q(2, row_block_nn(2, k, a, b, ld, mk, beta, c));
    default:
        row_block_nn(1, k, a, b, ld, mk, beta, c);
    }
}

/* c (m x n) = beta·c + op(a) (m x k)·b (k x n), all stored by rows without gaps, a read
 * transposed when ta (stored (k x m)), in blocks of 64 columns (128 for one row, where a is a
 * row either way). */
TGI_AVX512 static void product_nn(int ta, size_t m, size_t n, size_t k, const float *a,
                                  const float *b, float beta, float *c, int threads)
{
    size_t width = m == 1 ? 128 : 64, blocks = (n + width - 1) / width;
    TGI_PARALLEL_FOR(threads, blk, blocks, {
        size_t j = blk * width, w = MIN(n - j, width);
        __mmask16 mk[8];
        block_lanes(w, 8, mk);
        if (m == 1)
            columns_row_nn(w, k, a, b + j, n, mk, beta, c + j);
        else
            columns_nn(w, m, k, a, ta ? 1 : k, ta ? m : 1, b + j, n, mk, beta, c + j);
    });
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
    TGI_PARALLEL_FOR(threads, t, tiles, {
        if (m > 16)
            rows_nt(2, t * 12, n, m, k, at, b, mk, beta, c);
        else
            rows_nt(1, t * 12, n, m, k, at, b, mk, beta, c);
    });
}

/* ---- a·bᵀ of one row (a batch-1 step): dot products along the rows of b ------------------ */

/* Lane r of the result is the sum of v[r]'s 16 lanes, by a fixed tree: pairs of vectors
 * interleaved and added (within 128-bit lanes, 32 then 64 bits), then 128-bit lanes. */
TGI_INLINE TGI_AVX512 __m512 lane_sums16(const __m512 *v)
{
    __m512 x[8], y[4];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        x[r] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * r], v[2 * r + 1]),
                             _mm512_unpackhi_ps(v[2 * r], v[2 * r + 1]));
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
        __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(x[2 * s]), _mm512_castps_pd(x[2 * s + 1]));
        __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(x[2 * s]), _mm512_castps_pd(x[2 * s + 1]));
        y[s] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
    }
    __m512 w01 = _mm512_add_ps(_mm512_shuffle_f32x4(y[0], y[1], 0x88),
                               _mm512_shuffle_f32x4(y[0], y[1], 0xDD));
    __m512 w23 = _mm512_add_ps(_mm512_shuffle_f32x4(y[2], y[3], 0x88),
                               _mm512_shuffle_f32x4(y[2], y[3], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(w01, w23, 0x88),
                         _mm512_shuffle_f32x4(w01, w23, 0xDD));
}

/* c[j..j+R) = beta·c + rows j..j+R of b (n x k) times a (1 x k), R ≤ 16: sixteen dot products
 * along k held in vectors, their lanes summed by lane_sums16. Rows past R repeat the last one
 * and are not stored. */
TGI_AVX512 static void rows_dot(size_t R, size_t k, const float *a, const float *b, float beta,
                                float *c)
{
    size_t off[16];
    for (size_t r = 0; r < 16; r++) off[r] = MIN(r, R - 1) * k;
    __m512 acc[16];
#pragma GCC unroll 16
    for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
    for (size_t p = 0; p < k; p += 16) {
        __mmask16 mk = lanes(k - p);
        __m512 av = _mm512_maskz_loadu_ps(mk, a + p);
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, b + off[r] + p), av, acc[r]);
    }
    __m512 v = lane_sums16(acc);
    __mmask16 mr = lanes(R);
    if (beta != 0) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mr, c), v);
    _mm512_mask_storeu_ps(c, mr, v);
}

/* c (1 x n) = beta·c + a (1 x k)·bᵀ, b (n x k): rows of b 16 at a time. */
TGI_AVX512 static void row_nt(size_t n, size_t k, const float *a, const float *b, float beta,
                              float *c, int threads)
{
    size_t groups = (n + 15) / 16;
    TGI_PARALLEL_FOR(threads, g, groups,
                     rows_dot(MIN(n - 16 * g, 16), k, a, b + 16 * g * k, beta, c + 16 * g));
}
#endif

#if TGI_SIMD
/* Whether the shape is one of those above: op(a) of 1 or MIN_ROWS_NN.. (MIN_ROWS_NT.. for a·bᵀ)
 * to SMALL_MAX_ROWS rows, or aᵀ·b with a stored as (k x m) of at most SMALL_MAX_ROWS rows (a
 * parameter's weight gradient from the T·B rows of a batch-1 window). */
static int fits(int ta, int tb, size_t m, size_t n, size_t k)
{
    if (n < MIN_COLS || (ta && tb)) return 0;
    if (ta) return k <= SMALL_MAX_ROWS && (m == 1 || m >= MIN_ROWS_NN);
    if (m == 1) return 1;
    return m <= SMALL_MAX_ROWS && m >= (tb ? MIN_ROWS_NT : MIN_ROWS_NN) && !(tb && m * k > AT_MAX);
}
#endif

int tgi_small_product(int ta, int tb, size_t m, size_t n, size_t k, const tg_real *a,
                      const tg_real *b, tg_real beta, tg_real *c)
{
#if TGI_SIMD
    if (!fits(ta, tb, m, n, k) || tgi_simd_level() < TGI_SIMD_AVX512) return 0;
    int threads = tgi_threads_for(m * n * k, MIN_MACS_PER_THREAD);
    if (m == 1 && tb)
        row_nt(n, k, a, b, beta, c, threads);
    else if (tb)
        product_nt(m, n, k, a, b, beta, c, threads);
    else
        product_nn(ta, m, n, k, a, b, beta, c, threads);
    return 1;
#else
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)a, (void)b, (void)beta, (void)c;
    return 0;
#endif
}
