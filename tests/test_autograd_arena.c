/* test_autograd_arena.c: the tape's memory (autograd/arena.c): chunks handed out again after a
 * reset without malloc, alignment, gradient buffers reused by size, sizes refused. */
#include "testutil.h"

#include "autograd/internal.h"

#include <stdint.h>

enum { PIECES = 300, PIECE = 5000 }; /* 1.5 MB: several chunks */

static void test_reset_hands_out_the_same_memory_again_without_malloc(void **state)
{
    (void)state;
    tgi_arena a;
    assert_true(tgi_arena_init(&a));
    void *first[PIECES];
    for (size_t i = 0; i < PIECES; i++) assert_non_null(first[i] = tgi_arena_alloc(&a, PIECE, 16));
    size_t allocs = a.heap_allocs, used, reserved;
    tgi_arena_usage(&a, &used, &reserved);
    assert_true(allocs > 1 && used >= PIECES * PIECE && reserved >= used);
    for (int window = 0; window < 3; window++) {
        tgi_arena_reset(&a);
        for (size_t i = 0; i < PIECES; i++)
            assert_ptr_equal(tgi_arena_alloc(&a, PIECE, 16), first[i]);
    }
    size_t used2, reserved2;
    tgi_arena_usage(&a, &used2, &reserved2);
    assert_int_equal(a.heap_allocs, allocs);
    assert_int_equal(used2, used);
    assert_int_equal(reserved2, reserved);
    tgi_arena_deinit(&a);
}

static void test_every_request_keeps_its_alignment(void **state)
{
    (void)state;
    tgi_arena a;
    assert_true(tgi_arena_init(&a));
    for (size_t i = 1; i < 2000; i += 7) {
        size_t align = i % 2 ? TGI_SMALL_ALIGN : TGI_ALIGN;
        unsigned char *p = tgi_arena_alloc(&a, i, align);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        p[i - 1] = 1; /* the whole request is ours */
    }
    tgi_arena_deinit(&a);
}

static void test_a_request_larger_than_any_chunk_gets_a_chunk_of_its_own(void **state)
{
    (void)state;
    tgi_arena a;
    assert_true(tgi_arena_init(&a));
    size_t big = (size_t)64 << 20; /* past the growth cap of 16 MiB */
    unsigned char *p = tgi_arena_alloc(&a, big, TGI_ALIGN);
    assert_non_null(p);
    p[0] = p[big - 1] = 1;
    size_t used, reserved;
    tgi_arena_usage(&a, &used, &reserved);
    assert_true(reserved >= big);
    tgi_arena_deinit(&a);
}

static void test_sizes_near_size_max_are_refused(void **state)
{
    (void)state;
    tgi_arena a;
    assert_true(tgi_arena_init(&a));
    assert_null(tgi_arena_alloc(&a, SIZE_MAX, 16));
    assert_null(tgi_arena_alloc(&a, SIZE_MAX / 2 + 1, TGI_ALIGN));
    assert_non_null(tgi_arena_alloc(&a, 8, 16)); /* and the arena still works */
    tgi_arena_deinit(&a);
}

static void test_a_released_gradient_buffer_serves_the_next_of_its_size_zeroed(void **state)
{
    (void)state;
    tgi_arena a;
    assert_true(tgi_arena_init(&a));
    tg_real *g = tgi_arena_grad(&a, 10 * sizeof(tg_real));
    for (int i = 0; i < 10; i++) assert_true(g[i] == 0);
    for (int i = 0; i < 10; i++) g[i] = (tg_real)i + 1;
    tgi_arena_release(&a, g, 10 * sizeof(tg_real));
    tg_real *other = tgi_arena_grad(&a, 12 * sizeof(tg_real)); /* another size: new memory */
    assert_ptr_not_equal(other, g);
    tg_real *again = tgi_arena_grad(&a, 10 * sizeof(tg_real));
    assert_ptr_equal(again, g);
    for (int i = 0; i < 10; i++) assert_true(again[i] == 0);
    tg_real *third = tgi_arena_grad(&a, 10 * sizeof(tg_real)); /* the list is empty again */
    assert_ptr_not_equal(third, g);
    tgi_arena_deinit(&a);
}

static void test_reset_forgets_released_buffers(void **state)
{
    (void)state;
    tgi_arena a;
    assert_true(tgi_arena_init(&a));
    tg_real *tiny = tgi_arena_grad(&a, sizeof(tg_real)); /* smaller than a link: still works */
    tgi_arena_release(&a, tiny, sizeof(tg_real));
    tgi_arena_reset(&a);
    assert_null(a.pools);
    assert_non_null(tgi_arena_grad(&a, sizeof(tg_real)));
    tgi_arena_deinit(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_hands_out_the_same_memory_again_without_malloc),
        cmocka_unit_test(test_every_request_keeps_its_alignment),
        cmocka_unit_test(test_a_request_larger_than_any_chunk_gets_a_chunk_of_its_own),
        cmocka_unit_test(test_sizes_near_size_max_are_refused),
        cmocka_unit_test(test_a_released_gradient_buffer_serves_the_next_of_its_size_zeroed),
        cmocka_unit_test(test_reset_forgets_released_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
