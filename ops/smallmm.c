/* smallmm.c: products of few rows against a weight read where it lies, with no packing.
 *
 * A per-step recurrent product multiplies B = 1 to 32 rows of h (or of the step's gate
 * gradients) by the whole weight: h·W_hhᵀ forward, da·W_hh for dh. BLIS copies ("packs") the
 * weight into its own layout on every call, which for so few rows costs about as much as the
 * arithmetic, once per step, every step of the window. Here the weight is read in place:
 *
 *   c (m x n) = beta·c + a·b, b (k x n) stored by rows:   rows of c += a[i][p] · (row p of b),
 *     a tile of up to 12 rows by 16 to 64 columns of c held in at most 24 vector registers while p
 *     runs, as few tiles of rows as fit (each tile reads the weight's block again), b's rows
 *     fetched a few ahead;
 *   c (m x n) = beta·c + a·bᵀ, b (n x k) stored by rows: both operands run along k, so as dot
 *     products: up to 12 rows of a by 2 to 4 rows of b, each pair a vector of 16 partial sums
 *     along k (lane l takes the p ≡ l mod 16, in order), its lanes then summed by a fixed tree
 *     (lane_sums16); a copied once into aligned rows padded with zeros;
 *   a·bᵀ of 27 to 32 rows, where m (nearly) fills the lanes: on cᵀ = b·aᵀ, a tile of up to 12
 *     rows of b by the m columns of aᵀ, aᵀ written once into a small block on the stack, the tile
 *     turned back into c's rows at its end;
 *   one row (batch 1): a·b as the first with 128 columns at once, a·bᵀ as 16 dot products at a
 *     time whose lanes are summed by the same tree;
 *   c (m x n) = beta·c + aᵀ·b, a (k x m) of few rows: the first with a read down its columns
 *     (a weight's gradient from the T·B rows of a batch-1 window, dW += dyᵀ·x);
 *   a·b and aᵀ·b of many rows but few columns (at most TALL_MAX_COLS) and a short k: the first
 *     two again, over bands of TALL_BAND rows shared among threads. BLIS puts c by columns, so its
 *     32-row micro-panels run along n and pad it to a multiple of 32 (100 columns are four panels,
 *     128 rows of work; 200 are seven, 224); here a tile holds 48 or 64 columns of 8 or 6 rows, the
 *     weight's block of k rows staying in L2 (the gradient products of an H = 100 or 200 model's
 *     input side, its dh and dW over all steps, and of its small decoder).
 *
 * Each element of c is one fixed computation, by one thread, then added to c (beta 1) or stored
 * (beta 0): a sum over p in order, or for the dot products 16 such sums and the fixed tree over
 * them. Which one depends on the shape alone, never on the thread count or on where the element
 * lies in a tile: the same bits on any thread count, and (as for BLIS's own kernels) not the
 * same bits as another kernel set would give. AVX-512 only (ops/simd.c decides); elsewhere, and
 * for shapes outside the limits below, tgi_small_product returns 0 and BLIS does the product.
 *
 * Read next: ops/matmul.c (the caller, gemm()).
 */
#include "ops/internal.h"

#include <stddef.h>
#include <string.h>

/* At most this many rows of a; at most this many elements of a or aᵀ on the stack (64 KB, and
 * product_dot's padding). At least MIN_COLS columns, and for aᵀ·b MIN_ROWS_TA rows of c (or
 * one): below, BLIS's matrix-vector products (ops/matmul.c) were as fast or faster. a·b and
 * a·bᵀ of any 1 to 32 rows are faster here than as that many gemv: Zen 5, 1 thread, 2 rows,
 * (2 x 100)·(400 x 100)ᵀ 77 GFLOP/s against 38, (2 x 2600)·(2600 x 650) 71 against 36; 4 rows
 * 130-179 against 36-38; one row has kernels of its own (row_block_nn, row_nt): (1 x 100)·
 * (400 x 100)ᵀ 67 against 46, (1 x 400)·(400 x 100) 80 against 48. */
enum { SMALL_MAX_ROWS = 32, AT_MAX = 16384 };
enum { MIN_ROWS_TA = 3, MIN_COLS = 5 };

/* Tall products of few columns run here past SMALL_MAX_ROWS rows when n <= TALL_MAX_COLS and
 * k <= TALL_MAX_K (a block of 64 columns of b, 512 KB, stays in L2), and for aᵀ·b when m <=
 * TALL_MAX_ROWS_TA (a tile reads 6 adjacent values of each of a's k rows, m apart). Zen 5, 1
 * thread, CPU time, under load (2026-12-03): (800 x 400)·(400 x 100) 147 -> 198 GFLOP/s,
 * (800 x 400)ᵀ·(800 x 100) 141 -> 202, (800 x 65)ᵀ·(800 x 100) 111 -> 198,
 * (400 x 800)·(800 x 200) 164 -> 223, (400 x 800)ᵀ·(400 x 200) 182 -> 212,
 * (10000 x 400)·(400 x 200) 170 -> 194; with k = 10000 (147 against 155) or aᵀ·b of 10000 rows
 * (121 against 152) BLIS stays faster, so those stay BLIS's. */
enum { TALL_MAX_COLS = 256, TALL_MAX_K = 2048, TALL_MAX_ROWS_TA = 1024 };

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

/* How many rows of b ahead tile_nn asks for the next ones, all the lines its Q vectors touch: the
 * rows p of a block are a whole row of the weight apart, a stride the hardware's prefetcher
 * follows too late, worst when the weight comes from memory (a 6.8 MB weight rarely stays in
 * this machine's share of L3). Zen 5, 10 x 2600 x 650, weights rotated through 68 MB: 25-33
 * GFLOP/s with no prefetch, 41 fetching one line 8 rows ahead, 147 all lines 16 rows ahead; with
 * the weight warm 130 and 190. */
enum { AHEAD = 16 };

/* c[0..R)[0..16·Q) (masked at the right by mk) = beta·c + op(a)[0..R)·b[.., 0..16·Q), R·Q ≤ 24,
 * op(a) = a (rows lda apart) or, when TA, aᵀ (a's rows lda apart); with pf, b's row p + AHEAD is
 * fetched while row p is used. */
TGI_INLINE TGI_AVX512 void tile_nn(const int R, const int Q, const int TA, size_t k, const float *a,
                                   size_t lda, const float *b, size_t ldb, const __mmask16 *mk,
                                   float beta, float *c, size_t ldc, int pf)
{
    __m512 acc[12][4];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        if (pf && p + AHEAD < k)
            for (int q = 0; q <= Q; q++) /* Q + 1 lines: the vectors need not be aligned */
                _mm_prefetch((const char *)(b + (p + AHEAD) * ldb + 16 * q), _MM_HINT_T0);
        __m512 bv[4];
        for (int q = 0; q < Q; q++) bv[q] = _mm512_maskz_loadu_ps(mk[q], b + p * ldb + 16 * q);
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(TA ? a[p * lda + r] : a[r * lda + p]);
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

/* switch (n) over 1 to 12, X(r) with the literal r (so the compiler knows a tile's height). */
// clang-format off
#define SWITCH_1_TO_12(n, X)                                                                       \
    switch (n) {                                                                                   \
    case 12: X(12); break;  case 11: X(11); break;  case 10: X(10); break;  case 9: X(9); break;   \
    case 8: X(8); break;    case 7: X(7); break;    case 6: X(6); break;    case 5: X(5); break;   \
    case 4: X(4); break;    case 3: X(3); break;    case 2: X(2); break;    default: X(1);         \
    }
// clang-format on

/* One block of up to 16·Q columns of c, its m rows in `tiles` tiles of nearly equal height
 * (each ≤ 12 rows, rows·Q ≤ 24: the caller's choice, nn_tiling). */
TGI_INLINE TGI_AVX512 void block_nn(const int Q, const int TA, size_t m, size_t tiles, size_t k,
                                    const float *a, size_t lda, const float *b, size_t ldb,
                                    const __mmask16 *mk, float beta, float *c, size_t ldc, int pf)
{
    for (size_t t = 0; t < tiles; t++) {
        size_t i = t * m / tiles, rows = (t + 1) * m / tiles - i;
        const float *ai = TA ? a + i : a + i * lda;
        float *ci = c + i * ldc;
/* tiles taller than 24 / Q never come (nn_tiling): none compiled */
#define TILE(r)                                                                                    \
    if (r * Q <= 24) tile_nn(r, Q, TA, k, ai, lda, b, ldb, mk, beta, ci, ldc, pf)
        SWITCH_1_TO_12(rows, TILE)
#undef TILE
    }
}

#define CASE_Q(q, call)                                                                            \
    case q:                                                                                        \
        call;                                                                                      \
        break

/* A block of w ≤ 64 columns of c (m x ldc), Q = w/16 rounded up chosen at compile time, and
 * whether a is read transposed (a's strides known to the compiler: 10 x 2600 x 650 ran at 147
 * GFLOP/s with them passed at run time, 206 with them known). */
TGI_INLINE TGI_AVX512 void columns_nn(const int TA, size_t w, size_t m, size_t tiles, size_t k,
                                      const float *a, size_t lda, const float *b, size_t ld,
                                      const __mmask16 *mk, float beta, float *c, int pf)
{
    switch ((w + 15) / 16) {
        CASE_Q(4, block_nn(4, TA, m, tiles, k, a, lda, b, ld, mk, beta, c, ld, pf));
        CASE_Q(3, block_nn(3, TA, m, tiles, k, a, lda, b, ld, mk, beta, c, ld, pf));
        CASE_Q(2, block_nn(2, TA, m, tiles, k, a, lda, b, ld, mk, beta, c, ld, pf));
    default:
        block_nn(1, TA, m, tiles, k, a, lda, b, ld, mk, beta, c, ld, pf);
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

/* The tiles of a·b for m rows of c, chosen by m alone (never by the thread count): at most `rows`
 * rows by 16·q columns. Each row of a weight b is read once per tile of rows, so few tall tiles:
 * up to 12 rows in one tile (10 x 2600 x 650: 10 rows by 32 columns 177 GFLOP/s, 6 + 4 by 64
 * columns 150), else tiles of 8 by 48 (20 rows: 191 against 157; 32 rows: 206 against 182).
 * aᵀ·b (a batch-1 window's dW, k ≤ 32 rows of b) keeps tiles of 6 by 64. */
static void nn_tiling(int ta, size_t m, size_t *rows, int *q)
{
    if (ta)
        *rows = 6, *q = 4;
    else if (m <= 12)
        *rows = m, *q = m <= 6 ? 4 : m <= 8 ? 3 : 2;
    else
        *rows = 8, *q = 3;
}

/* Where part `part` of `parts` of v units starts (c's vectors of 16 columns, or b's rows): at a
 * whole block of `per` units, the one nearest an equal share (part = parts: v). */
static size_t share_start(size_t v, size_t per, size_t part, size_t parts)
{
    size_t at = (2 * v * part / parts + per) / (2 * per) * per;
    return part < parts ? MIN(at, v) : v;
}

/* c (m x n) = beta·c + op(a) (m x k)·b (k x n), all stored by rows without gaps, a read
 * transposed when ta (stored (k x m)), in blocks of nn_tiling's columns (128 for one row, where a
 * is a row either way). On several threads each takes the whole blocks nearest an equal share
 * of the columns: taking blocks in turn split ptb-small's dh (20 x 800)·(800 x 200) on 2 threads
 * as 48 + 48 + 48 | 48 + 8 columns, now 48 + 48 | 48 + 48 + 8 (Zen 5, bench_matmul --threads 2,
 * alternated, 2026-12-03: 257 -> 339 GFLOP/s; (10 x 2600)·(2600 x 650) 332 -> 389; (32 x 2048)·
 * (2048 x 512) 319 -> 334). Shares of equal width in narrower blocks were slower where the weight
 * streams from memory (char-h512-b32's 4 MB W_hh), so blocks stay widest first. Each element is
 * the same sum over p in order in any block, so the bits do not depend on the thread count. */
TGI_AVX512 static void product_nn(int ta, size_t m, size_t n, size_t k, const float *a,
                                  const float *b, float beta, float *c, int threads)
{
    size_t rows;
    int q;
    nn_tiling(ta, m, &rows, &q);
    size_t per = m == 1 ? 8 : (size_t)q, v = (n + 15) / 16, tiles = (m + rows - 1) / rows;
    size_t parts = threads > 1 ? (size_t)threads : 1;
    TGI_PARALLEL_FOR(threads, part, parts, {
        size_t end = share_start(v, per, part + 1, parts);
        for (size_t u = share_start(v, per, part, parts); u < end; u += per) {
            size_t j = 16 * u, w = MIN(n, 16 * MIN(end, u + per)) - j;
            __mmask16 mk[8];
            block_lanes(w, 8, mk);
            if (m == 1)
                columns_row_nn(w, k, a, b + j, n, mk, beta, c + j);
            else if (ta)
                columns_nn(1, w, m, tiles, k, a, m, b + j, n, mk, beta, c + j, 0);
            else
                columns_nn(0, w, m, tiles, k, a, k, b + j, n, mk, beta, c + j, 1);
        }
    });
}

/* A tall product (more than SMALL_MAX_ROWS rows) of few columns: product_nn's tiles over bands
 * of at most TALL_BAND rows, as many bands for each thread and of nearly equal height (a band does
 * every block of columns, so every thread works whatever n is). Each element is the same sum as
 * in product_nn, whatever the band, so the bands may depend on the thread count. */
enum { TALL_BAND = 96 };

TGI_AVX512 static void product_nn_tall(int ta, size_t m, size_t n, size_t k, const float *a,
                                       const float *b, float beta, float *c, int threads)
{
    size_t rows, per = threads > 1 ? (size_t)threads : 1;
    size_t bands = per * ((m + per * TALL_BAND - 1) / (per * TALL_BAND));
    int q;
    nn_tiling(ta, m, &rows, &q);
    size_t width = 16 * (size_t)q, blocks = (n + width - 1) / width;
    TGI_PARALLEL_FOR(threads, band, bands, {
        size_t i = band * m / bands, h = (band + 1) * m / bands - i, tiles = (h + rows - 1) / rows;
        for (size_t blk = 0; blk < blocks; blk++) {
            size_t j = blk * width, w = MIN(n - j, width);
            __mmask16 mk[8];
            block_lanes(w, 8, mk);
            if (ta)
                columns_nn(1, w, h, tiles, k, a + i, m, b + j, n, mk, beta, c + i * n + j, 0);
            else
                columns_nn(0, w, h, tiles, k, a + i * k, k, b + j, n, mk, beta, c + i * n + j, 1);
        }
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

/* ---- a·bᵀ of 5 to 26 rows: dot products along k, several rows of a by several of b -------- */

/* How far along b's rows tile_dot asks for what it reads next (floats): 8 lines. The rows are
 * read front to back, but only RB at a time, too few streams to keep memory busy: 10 x 650 x
 * 2600 with weights rotated through 68 MB, 76 -> 105 GFLOP/s. Past a row's end it is the next
 * row's start, read next by this tile or the next one (a prefetch never faults). */
enum { DOT_AHEAD = 128 };

/* out[r·RB + s] = row r of a · row s of b, r < RA, s < RB ≤ 4, RA·RB ≤ 24: RA·RB vectors of 16
 * lanes along k (lane l sums the p ≡ l mod 16 in order), each then summed by lane_sums16's tree.
 * a is packed (rows kp ≥ k apart, 64-byte aligned, zero past k); b's rows are k apart. */
TGI_INLINE TGI_AVX512 void tile_dot(const int RA, const int RB, size_t k, size_t kp, const float *a,
                                    const float *b, float *out)
{
    __m512 acc[24], bv[4];
#pragma GCC unroll 24
    for (int i = 0; i < RA * RB; i++) acc[i] = _mm512_setzero_ps();
    size_t p = 0;
    for (; p + 16 <= k; p += 16) {
#pragma GCC unroll 4
        for (int s = 0; s < RB; s++) {
            bv[s] = _mm512_loadu_ps(b + s * k + p);
            _mm_prefetch((const char *)(b + s * k + p + DOT_AHEAD), _MM_HINT_T0);
        }
#pragma GCC unroll 12
        for (int r = 0; r < RA; r++) {
            __m512 av = _mm512_load_ps(a + r * kp + p);
            /* In a register: else GCC reads the row again for each FMA that uses it, and the loads,
             * not the FMAs, bound the loop (10 x 650 x 2600: 96 against 196 GFLOP/s). */
            __asm__("" : "+v"(av));
#pragma GCC unroll 4
            for (int s = 0; s < RB; s++)
                acc[r * RB + s] = _mm512_fmadd_ps(av, bv[s], acc[r * RB + s]);
        }
    }
    if (p < k) { /* the last k - p < 16 lanes; a is zero past k */
        __mmask16 mk = lanes(k - p);
#pragma GCC unroll 4
        for (int s = 0; s < RB; s++) bv[s] = _mm512_maskz_loadu_ps(mk, b + s * k + p);
#pragma GCC unroll 12
        for (int r = 0; r < RA; r++) {
            __m512 av = _mm512_load_ps(a + r * kp + p);
#pragma GCC unroll 4
            for (int s = 0; s < RB; s++)
                acc[r * RB + s] = _mm512_fmadd_ps(av, bv[s], acc[r * RB + s]);
        }
    }
#pragma GCC unroll 2
    for (int i = 0; i < RA * RB; i += 16) {
        __m512 v[16];
#pragma GCC unroll 16
        for (int x = 0; x < 16; x++) v[x] = i + x < RA * RB ? acc[i + x] : _mm512_setzero_ps();
        _mm512_storeu_ps(out + i, lane_sums16(v));
    }
}

/* c[r][j] = beta·c[r][j] + out[r·RB + j], r < RA, j < RB; c's rows are ldc apart. */
TGI_INLINE void store_dot(const int RA, const int RB, const float *out, float beta, float *c,
                          size_t ldc)
{
    for (int r = 0; r < RA; r++)
        for (int s = 0; s < RB; s++) {
            float *cp = c + r * ldc + s;
            *cp = beta != 0 ? *cp + out[r * RB + s] : out[r * RB + s];
        }
}

/* Columns j0..j1 of RA rows of c (ci, rows n apart) from RA packed rows of a and rows j0..j1 of
 * b: RB rows of b at a time, RB as large as 24 accumulators allow (at most 4), the rest one by
 * one. Each element's sum is the same whatever RB. */
TGI_INLINE TGI_AVX512 void group_dot(const int RA, size_t k, size_t kp, const float *ai,
                                     const float *b, size_t j0, size_t j1, size_t n, float beta,
                                     float *ci)
{
    const int RB = RA <= 6 ? 4 : RA <= 8 ? 3 : 2;
    float out[32];
    size_t j = j0;
    for (; j + (size_t)RB <= j1; j += (size_t)RB) {
        tile_dot(RA, RB, k, kp, ai, b + j * k, out);
        store_dot(RA, RB, out, beta, ci + j, n);
    }
    for (; j < j1; j++) {
        tile_dot(RA, 1, k, kp, ai, b + j * k, out);
        store_dot(RA, 1, out, beta, ci + j, n);
    }
}

/* Rows j0..j1 of b against every row of a: a's m rows in groups of nearly equal size, one group
 * when m ≤ 12 (b's rows are then read once), else groups of at most 8 (the block's rows, in L1
 * or L2, read again by each group). */
TGI_AVX512 static void block_dot(size_t m, size_t k, size_t kp, const float *ap, const float *b,
                                 size_t j0, size_t j1, size_t n, float beta, float *c)
{
    size_t groups = m <= 12 ? 1 : (m + 7) / 8;
    for (size_t g = 0; g < groups; g++) {
        size_t i = g * m / groups, ra = (g + 1) * m / groups - i;
        const float *ai = ap + i * kp;
        float *ci = c + i * n;
#define GROUP(r) group_dot(r, k, kp, ai, b, j0, j1, n, beta, ci)
        SWITCH_1_TO_12(ra, GROUP)
#undef GROUP
    }
}

/* Whether a·bᵀ of m rows goes as dot products (product_dot) rather than as tiles of b's rows by
 * the m lanes of aᵀ (product_nt), which waste the lanes past m in each vector: Zen 5, 1 thread,
 * (m x 200)·(800 x 200)ᵀ, the dot products faster from 5 to 26 rows (10: 179 against 102 GFLOP/s,
 * 20: 173 against 127), even at 16 and 27, slower from 28 (31: 171 against 190); at k = 512 the
 * dot products gain at 16 rows too (193 against 159) and lose at 32 (189 against 202). */
static int dot_form(size_t m)
{
    return m < 27;
}

/* Rows of b a thread takes at a time: a multiple of every RB (2, 3, 4), about 125 KB of a
 * 650-wide weight, so the groups after the first find it in L2. */
enum { DOT_BLOCK = 48 };

/* Each thread takes rows of b from a multiple of this (every RB divides it) nearest an equal
 * share, in blocks of DOT_BLOCK: whole blocks in turn split ptb-small's 800 rows on 2 threads as
 * 432 and 368 (GRU's 600: 336 and 264); now 396 and 404 (300 and 300): (20 x 200)·
 * (800 x 200)ᵀ 231 -> 244 GFLOP/s, same run as product_nn's. */
enum { DOT_SHARE = 12 };

/* c (m x n) = beta·c + a (m x k)·bᵀ, b (n x k); m ≤ 32 and m·k ≤ AT_MAX. a is copied once into
 * rows of whole vectors (aligned, zero past k); then blocks of DOT_BLOCK rows of b. */
TGI_AVX512 static void product_dot(size_t m, size_t n, size_t k, const float *a, const float *b,
                                   float beta, float *c, int threads)
{
    _Alignas(64) float ap[AT_MAX + 16 * SMALL_MAX_ROWS];
    size_t kp = (k + 15) / 16 * 16;
    for (size_t i = 0; i < m; i++) {
        memcpy(ap + i * kp, a + i * k, k * sizeof *ap);
        memset(ap + i * kp + k, 0, (kp - k) * sizeof *ap);
    }
    size_t parts = threads > 1 ? (size_t)threads : 1;
    TGI_PARALLEL_FOR(threads, part, parts, {
        size_t end = share_start(n, DOT_SHARE, part + 1, parts);
        for (size_t j = share_start(n, DOT_SHARE, part, parts); j < end; j += DOT_BLOCK)
            block_dot(m, k, kp, ap, b, j, MIN(end, j + DOT_BLOCK), n, beta, c);
    });
}
#endif

#if TGI_SIMD
/* Whether the shape is one of those above: op(a) of 1 to SMALL_MAX_ROWS rows (a·bᵀ with a at most
 * AT_MAX elements), or aᵀ·b with a stored as (k x m) of at most SMALL_MAX_ROWS rows (a
 * parameter's weight gradient from the T·B rows of a batch-1 window) and m 1 or MIN_ROWS_TA..,
 * or a tall a·b or aᵀ·b within the TALL_ limits. */
static int fits(int ta, int tb, size_t m, size_t n, size_t k)
{
    if (n < MIN_COLS || (ta && tb)) return 0;
    if (!tb && m > SMALL_MAX_ROWS)
        return n <= TALL_MAX_COLS && k <= TALL_MAX_K && (!ta || m <= TALL_MAX_ROWS_TA);
    if (ta) return k <= SMALL_MAX_ROWS && (m == 1 || m >= MIN_ROWS_TA);
    return m <= SMALL_MAX_ROWS && !(tb && m > 1 && m * k > AT_MAX);
}
#endif

int tgi_small_product(int ta, int tb, size_t m, size_t n, size_t k, const tg_real *a,
                      const tg_real *b, tg_real beta, tg_real *c)
{
#if TGI_SIMD
    if (!fits(ta, tb, m, n, k) || tgi_simd_level() < TGI_SIMD_AVX512) return 0;
    int threads = tgi_threads_for(m * n * k, TGI_SMALL_MIN_MACS);
    if (m == 1 && tb)
        row_nt(n, k, a, b, beta, c, threads);
    else if (tb && dot_form(m))
        product_dot(m, n, k, a, b, beta, c, threads);
    else if (tb)
        product_nt(m, n, k, a, b, beta, c, threads);
    else if (m > SMALL_MAX_ROWS)
        product_nn_tall(ta, m, n, k, a, b, beta, c, threads);
    else
        product_nn(ta, m, n, k, a, b, beta, c, threads);
    return 1;
#else
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)a, (void)b, (void)beta, (void)c;
    return 0;
#endif
}
