/* test_ops_smallmm.c: ops/smallmm.c's products of few rows, called directly, against a plain
 * scalar sum done in the order each kernel documents: the same bits, not merely close ones. For
 * every row count 1 to 32, odd inner and outer sizes, a·b, a·bᵀ and aᵀ·b, beta 0 (c is never
 * read) and 1, and nothing written past c; then the bits on one and two threads, and an
 * element's bits wherever it lies in a tile. On a CPU without AVX-512, and in the double build,
 * tgi_small_product declines every product (BLIS does them) and these tests check only that. */
#include "testutil.h"
#include "ops/internal.h"

#include <stdlib.h>

enum { GUARD = 40 }; /* elements after c that no product may write */

#ifdef TG_DOUBLE
#define FMA fma
#else
#define FMA fmaf
#endif

/* Whether tgi_small_product takes this shape (its limits, ops/smallmm.c). */
static int handled(int ta, int tb, size_t m, size_t n, size_t k)
{
    if (n < 5) return 0;
    if (ta) return k <= 32 && (m == 1 || m >= 3);
    return m <= 32 && !(tb && m > 1 && m * k > 16384);
}

/* The a·bᵀ shapes done as dot products: lane l of 16 sums the p ≡ l (mod 16) in order. */
static int dot_form(int ta, int tb, size_t m)
{
    return !ta && tb && m < 27;
}

/* Element (i, p) of op(a) (m x k) and (p, j) of op(b) (k x n), stored as the kernels expect. */
static tg_real elem_a(const tg_real *a, int ta, size_t m, size_t k, size_t i, size_t p)
{
    return ta ? a[p * m + i] : a[i * k + p];
}

static tg_real elem_b(const tg_real *b, int tb, size_t n, size_t k, size_t p, size_t j)
{
    return tb ? b[j * k + p] : b[p * n + j];
}

/* One element by the kernels' documented order: a fused multiply-add over p in order; or, for
 * the dot products, 16 such sums (lane l over p ≡ l mod 16) and the tree
 * ((B0 + B1) + (B2 + B3)), Bt = (s[4t] + s[4t+2]) + (s[4t+1] + s[4t+3]). */
static tg_real reference(int ta, int tb, size_t m, size_t n, size_t k, const tg_real *a,
                         const tg_real *b, size_t i, size_t j)
{
    if (!dot_form(ta, tb, m)) {
        tg_real acc = 0;
        for (size_t p = 0; p < k; p++)
            acc = FMA(elem_a(a, ta, m, k, i, p), elem_b(b, tb, n, k, p, j), acc);
        return acc;
    }
    float s[16] = {0};
    for (size_t p = 0; p < k; p++)
        s[p % 16] =
            fmaf((float)elem_a(a, ta, m, k, i, p), (float)elem_b(b, tb, n, k, p, j), s[p % 16]);
    float blk[4];
    for (int t = 0; t < 4; t++) blk[t] = (s[4 * t] + s[4 * t + 2]) + (s[4 * t + 1] + s[4 * t + 3]);
    return (tg_real)((blk[0] + blk[1]) + (blk[2] + blk[3]));
}

/* c (m x n, then GUARD more) after tgi_small_product with beta, c filled from c0 (NaN for beta 0:
 * a product that read c would show it); checks every element against the reference, the guard
 * untouched, and that the shape was taken exactly when `handled` says so. */
static void check_shape(int ta, int tb, size_t m, size_t n, size_t k, tg_real beta, tg_rng *r)
{
    size_t na = m * k, nb = k * n, nc = m * n;
    tg_real *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    tg_real *c = malloc((nc + GUARD) * sizeof *c), *c0 = malloc(nc * sizeof *c0);
    assert_true(a && b && c && c0);
    fill_uniform(a, na, r, -1, 1);
    fill_uniform(b, nb, r, -1, 1);
    fill_uniform(c0, nc, r, -1, 1);
    for (size_t i = 0; i < nc + GUARD; i++) c[i] = i < nc && beta != 0 ? c0[i] : (tg_real)NAN;
    for (size_t i = nc; i < nc + GUARD; i++) c[i] = 12345;
    int done = tgi_small_product(ta, tb, m, n, k, a, b, beta, c);
    int want = tgi_simd_level() >= TGI_SIMD_AVX512 && TGI_SIMD && handled(ta, tb, m, n, k);
    if (done != want)
        fail_msg("ta %d tb %d (%zu x %zu x %zu): done %d, want %d", ta, tb, m, k, n, done, want);
    for (size_t i = 0; done && i < m; i++)
        for (size_t j = 0; j < n; j++) {
            tg_real sum = reference(ta, tb, m, n, k, a, b, i, j);
            tg_real want_c = beta != 0 ? c0[i * n + j] + sum : sum;
            if (!(c[i * n + j] == want_c))
                fail_msg("ta %d tb %d beta %g (%zu x %zu x %zu): c[%zu][%zu] = %.9g, want %.9g", ta,
                         tb, (double)beta, m, k, n, i, j, (double)c[i * n + j], (double)want_c);
        }
    for (size_t i = nc; i < nc + GUARD; i++)
        if (c[i] != 12345) fail_msg("(%zu x %zu x %zu): wrote c[%zu], past the end", m, k, n, i);
    free(a), free(b), free(c), free(c0);
}

/* Every row count 1..32 for a·b and a·bᵀ; for aᵀ·b every count 1..32 of a's stored rows (the
 * inner size), with 1 to 70 rows of c. Inner sizes odd (a tail of lanes) and even; outer sizes
 * across the column and row blocks (16 to 128 columns, 48 rows of b) with remainders. */
static void test_products_of_every_row_count_match_the_documented_sum_exactly(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 3);
    static const size_t ns[] = {5, 37, 203}, ks[] = {1, 17, 48, 203};
    for (size_t m = 1; m <= 32; m++)
        for (size_t x = 0; x < 3; x++)
            for (size_t y = 0; y < 4; y++)
                for (int beta = 0; beta < 2; beta++) {
                    check_shape(0, 0, m, ns[x], ks[y], (tg_real)beta, &r);
                    check_shape(0, 1, m, ns[x], ks[y], (tg_real)beta, &r);
                    check_shape(1, 0, (m * 7) % 70 + 1, ns[x], m, (tg_real)beta, &r);
                }
}

/* The per-step shapes of the benchmarks: ptb-medium at 10 and 20 rows, char-h512-b32. */
static void test_the_recurrent_shapes_match_the_documented_sum_exactly(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 4);
    static const size_t shapes[][3] = {{10, 650, 2600}, {20, 650, 2600}, {32, 512, 2048}};
    for (size_t i = 0; i < 3; i++) {
        size_t m = shapes[i][0], h = shapes[i][1], g = shapes[i][2];
        check_shape(0, 1, m, g, h, 0, &r); /* h·W_hhᵀ */
        check_shape(0, 0, m, h, g, 1, &r); /* dh += da·W_hh */
    }
}

/* c computed on one thread and on two (the products large enough to be split). */
static void test_small_products_give_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 5);
    static const size_t ms[] = {5, 10, 13, 20, 26, 31};
    size_t k = 650, n = 2600;
    tg_real *a = malloc(32 * n * sizeof *a), *b = malloc(k * n * sizeof *b);
    tg_real *c[2] = {malloc(32 * n * sizeof *a), malloc(32 * n * sizeof *a)};
    assert_true(a && b && c[0] && c[1]);
    fill_uniform(a, 32 * n, &r, -1, 1);
    fill_uniform(b, k * n, &r, -1, 1);
    for (size_t i = 0; i < 6; i++)
        for (int tb = 0; tb < 2; tb++) {
            size_t m = ms[i], inner = tb ? k : n, outer = tb ? n : k;
            int done[2];
            for (int th = 0; th < 2; th++) {
                tg_set_num_threads(th + 1);
                assert_int_equal(tgi_threads_for(m * outer * inner, TGI_SMALL_MIN_MACS), th + 1);
                done[th] = tgi_small_product(0, tb, m, outer, inner, a, b, 0, c[th]);
            }
            tg_set_num_threads(0);
            assert_int_equal(done[0], done[1]);
            if (!done[0]) continue;
            assert_memory_equal(c[0], c[1], m * outer * sizeof *c[0]);
        }
    free(a), free(b), free(c[0]), free(c[1]);
}

/* a·b and aᵀ·b split by columns, each thread an equal share of whole vectors: shares that cut
 * blocks of nn_tiling's widths (ptb-small's dh, 200 columns; char-h100-b32's, 100), one row in
 * blocks of 128 columns, and aᵀ·b of a batch-1 window. The same bits on one and two threads. */
static void test_shares_of_columns_give_the_same_bits_on_one_and_two_threads(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 7);
    static const size_t shapes[][4] = {/* ta, m, n, k */
                                       {0, 20, 200, 800},  {0, 32, 100, 800}, {0, 7, 1001, 300},
                                       {0, 1, 2000, 1200}, {1, 30, 2400, 32}, {1, 3, 30000, 25}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t ta = shapes[i][0], m = shapes[i][1], n = shapes[i][2], k = shapes[i][3];
        tg_real *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
        tg_real *c[2] = {malloc(m * n * sizeof *a), malloc(m * n * sizeof *a)};
        assert_true(a && b && c[0] && c[1]);
        fill_uniform(a, m * k, &r, -1, 1);
        fill_uniform(b, k * n, &r, -1, 1);
        fill_uniform(c[0], m * n, &r, -1, 1);
        memcpy(c[1], c[0], m * n * sizeof *c[0]);
        int done[2];
        for (int th = 0; th < 2; th++) {
            tg_set_num_threads(th + 1);
            assert_int_equal(tgi_threads_for(m * n * k, TGI_SMALL_MIN_MACS), th + 1);
            done[th] = tgi_small_product((int)ta, 0, m, n, k, a, b, 1, c[th]);
        }
        tg_set_num_threads(0);
        assert_int_equal(done[0], done[1]);
        if (done[0]) assert_memory_equal(c[0], c[1], m * n * sizeof *c[0]);
        free(a), free(b), free(c[0]), free(c[1]);
    }
}

/* An element's bits do not depend on where it falls among the tiles: the product with b's first
 * 3 rows dropped (other blocks, other tails of 2 to 4 rows) and with a's first row dropped (other
 * groups of rows) gives the same bits for the elements both have. */
static void test_an_element_of_a_dot_product_does_not_depend_on_its_tile(void **s)
{
    (void)s;
    tg_rng r;
    tg_rng_seed(&r, 6);
    size_t m = 21, n = 203, k = 75;
    tg_real *a = malloc(m * k * sizeof *a), *b = malloc(n * k * sizeof *b);
    tg_real *c = malloc(m * n * sizeof *c), *c2 = malloc(m * n * sizeof *c);
    assert_true(a && b && c && c2);
    fill_uniform(a, m * k, &r, -1, 1);
    fill_uniform(b, n * k, &r, -1, 1);
    if (!tgi_small_product(0, 1, m, n, k, a, b, 0, c)) {
        free(a), free(b), free(c), free(c2);
        skip();
    }
    assert_true(tgi_small_product(0, 1, m, n - 3, k, a, b + 3 * k, 0, c2));
    for (size_t i = 0; i < m; i++)
        assert_memory_equal(c2 + i * (n - 3), c + i * n + 3, (n - 3) * sizeof *c);
    assert_true(tgi_small_product(0, 1, m - 1, n, k, a + k, b, 0, c2));
    assert_memory_equal(c2, c + n, (m - 1) * n * sizeof *c);
    free(a), free(b), free(c), free(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_products_of_every_row_count_match_the_documented_sum_exactly),
        cmocka_unit_test(test_the_recurrent_shapes_match_the_documented_sum_exactly),
        cmocka_unit_test(test_small_products_give_the_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_shares_of_columns_give_the_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_an_element_of_a_dot_product_does_not_depend_on_its_tile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
