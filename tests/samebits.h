/* samebits.h: a check the element-wise ops' tests share (test_ops_unary.c, test_ops_binary.c,
 * test_ops_fused.c): an op gives the same bits at every vector width the library may choose
 * (tgi_simd_cap, ops/simd.c), its values and its inputs' gradients, on lengths that end in every
 * way against 4, 8 and 16 lanes. A level this CPU lacks runs its widest, so the check can fail
 * only where the CPU has AVX2 or AVX-512; it prints which. */
#ifndef TG_TESTS_SAMEBITS_H
#define TG_TESTS_SAMEBITS_H

#include "testutil.h"

#include "ops/internal.h"

#include <stdlib.h>

typedef tg_tensor *(*nary_op)(tg_tape *t, tg_tensor *const *x);

/* y = f(x), then x's gradients after backward of sum(y ⊙ w): (1 + n_in)·n values in a heap
 * block, n = w's size and each x's. */
static inline tg_real *values_and_gradients(nary_op f, tg_tensor *const *x, size_t n_in,
                                            const tg_tensor *w)
{
    size_t n = tg_numel(w);
    tg_real *out = malloc((1 + n_in) * n * sizeof *out);
    assert_non_null(out);
    for (size_t k = 0; k < n_in; k++) memset(x[k]->grad, 0, n * sizeof *out);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = f(t, x);
    assert_non_null(y);
    memcpy(out, y->val, n * sizeof *out);
    assert_int_equal(tg_backward(t, tg_sum(t, tg_mul(t, y, (tg_tensor *)w))), TG_OK);
    for (size_t k = 0; k < n_in; k++) memcpy(out + (k + 1) * n, x[k]->grad, n * sizeof *out);
    tg_tape_free(t);
    return out;
}

/* f of n_in (1 x n) inputs uniform in [lo, hi), at every level, for each awkward length n. */
static inline void assert_same_bits_at_every_width(nary_op f, size_t n_in, double lo, double hi)
{
    static const size_t lengths[] = {1, 7, 15, 16, 17, 100, 1003};
    tg_rng r;
    tg_rng_seed(&r, 29);
    print_message("this CPU's widest level: %d of %d\n", tgi_simd_level(), TGI_SIMD_AVX512);
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        size_t n = lengths[l];
        tg_tensor *x[3], *w = rand_leaf(1, n, &r, -1, 1);
        tg_real *got[TGI_SIMD_AVX512 + 1];
        for (size_t k = 0; k < n_in; k++) x[k] = rand_leaf(1, n, &r, lo, hi);
        for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++) {
            tgi_simd_cap(level);
            got[level] = values_and_gradients(f, x, n_in, w);
        }
        tgi_simd_cap(-1);
        for (int level = TGI_SIMD_AVX2; level <= TGI_SIMD_AVX512; level++)
            if (memcmp(got[0], got[level], (1 + n_in) * n * sizeof(tg_real)) != 0)
                fail_msg("length %zu: level %d differs from level 0", n, level);
        for (int level = TGI_SIMD_BASE; level <= TGI_SIMD_AVX512; level++) free(got[level]);
        for (size_t k = 0; k < n_in; k++) tg_tensor_free(x[k]);
        tg_tensor_free(w);
    }
}

#endif
