/* test_nn_batcher.c: truncated-BPTT windows on a tiny corpus whose tokens are their own
 * positions (0..22), so every expected id is written out by hand: the rows' offsets,
 * time-major order, targets shifted by one, the ragged last window, the epoch restart, resuming
 * from a saved position, and the rejected shapes with their messages. */
#include "testutil.h"

#include "nn/batcher.h"

#define N 23
#define B 2
#define T 4

static int32_t corpus[N];

static void setup_batcher(tg_batcher *b)
{
    for (int32_t i = 0; i < N; i++) corpus[i] = i;
    tg_status st = {0};
    int rc = tg_batcher_init(b, corpus, N, B, T, &st);
    if (rc != TG_OK) fail_msg("tg_batcher_init: %s: %s", tg_strerror(rc), st.msg);
}

/* L = 11: row 0 is 0..10, row 1 is 11..21, token 22 is dropped. Ten pairs per row: windows of
 * 4, 4 and 2 steps. Index t·B + b. */
static const int32_t X1[] = {0, 11, 1, 12, 2, 13, 3, 14}, Y1[] = {1, 12, 2, 13, 3, 14, 4, 15};
static const int32_t X2[] = {4, 15, 5, 16, 6, 17, 7, 18}, Y2[] = {5, 16, 6, 17, 7, 18, 8, 19};
static const int32_t X3[] = {8, 19, 9, 20}, Y3[] = {9, 20, 10, 21};

static void expect_window(tg_batcher *b, size_t len, const int32_t *wx, const int32_t *wy)
{
    int32_t x[T * B], y[T * B];
    for (size_t i = 0; i < T * B; i++) x[i] = y[i] = -1;
    assert_int_equal(tg_batcher_next(b, x, y), len);
    assert_memory_equal(x, wx, len * B * sizeof(int32_t));
    assert_memory_equal(y, wy, len * B * sizeof(int32_t));
    for (size_t i = len * B; i < T * B; i++) assert_int_equal(x[i], -1); /* nothing past T'·B */
}

static void expect_epoch(tg_batcher *b)
{
    expect_window(b, 4, X1, Y1);
    expect_window(b, 4, X2, Y2);
    expect_window(b, 2, X3, Y3);
}

static void test_windows_are_time_major_with_targets_shifted_by_one(void **s)
{
    (void)s;
    tg_batcher b;
    setup_batcher(&b);
    assert_int_equal(tg_batcher_windows(&b), 3);
    expect_epoch(&b);
}

static void test_epoch_ends_with_zero_then_restarts(void **s)
{
    (void)s;
    tg_batcher b;
    setup_batcher(&b);
    size_t epoch, offset;
    expect_epoch(&b);
    tg_batcher_position(&b, &epoch, &offset);
    assert_int_equal(epoch, 0);
    assert_int_equal(offset, 10);
    int32_t x[T * B], y[T * B];
    assert_int_equal(tg_batcher_next(&b, x, y), 0);
    tg_batcher_position(&b, &epoch, &offset);
    assert_int_equal(epoch, 1);
    assert_int_equal(offset, 0);
    expect_epoch(&b);
    assert_int_equal(tg_batcher_next(&b, NULL, NULL), 0);
    tg_batcher_position(&b, &epoch, NULL);
    assert_int_equal(epoch, 2);
}

static void test_rows_divisible_by_t_have_no_ragged_window(void **s)
{
    (void)s;
    int32_t tok[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, x[4], y[4];
    tg_batcher b;
    assert_int_equal(tg_batcher_init(&b, tok, 9, 1, 4, NULL), TG_OK);
    assert_int_equal(tg_batcher_windows(&b), 2);
    assert_int_equal(tg_batcher_next(&b, x, y), 4);
    assert_int_equal(tg_batcher_next(&b, x, y), 4);
    int32_t wx[4] = {4, 5, 6, 7}, wy[4] = {5, 6, 7, 8};
    assert_memory_equal(x, wx, sizeof wx);
    assert_memory_equal(y, wy, sizeof wy);
    assert_int_equal(tg_batcher_next(&b, x, y), 0);
}

static void test_either_buffer_may_be_null(void **s)
{
    (void)s;
    tg_batcher b;
    setup_batcher(&b);
    int32_t x[T * B], y[T * B];
    assert_int_equal(tg_batcher_next(&b, x, NULL), 4);
    assert_memory_equal(x, X1, sizeof X1);
    assert_int_equal(tg_batcher_next(&b, NULL, y), 4);
    assert_memory_equal(y, Y2, sizeof Y2);
}

static void test_setting_the_position_resumes_the_same_windows(void **s)
{
    (void)s;
    tg_batcher a, b;
    setup_batcher(&a);
    setup_batcher(&b);
    int32_t x[T * B], y[T * B];
    assert_int_equal(tg_batcher_next(&a, x, y), 4);
    size_t epoch, offset;
    tg_batcher_position(&a, &epoch, &offset);
    assert_int_equal(offset, 4);
    assert_int_equal(tg_batcher_set_position(&b, epoch, offset, NULL), TG_OK);
    expect_window(&b, 4, X2, Y2);
    expect_window(&b, 2, X3, Y3);

    /* A saved end-of-epoch position: the next call ends that epoch. */
    assert_int_equal(tg_batcher_set_position(&b, 7, 10, NULL), TG_OK);
    assert_int_equal(tg_batcher_next(&b, x, y), 0);
    tg_batcher_position(&b, &epoch, &offset);
    assert_int_equal(epoch, 8);
    assert_int_equal(offset, 0);
    expect_window(&b, 4, X1, Y1);
}

static void test_set_position_rejects_an_offset_past_the_row(void **s)
{
    (void)s;
    tg_batcher b;
    setup_batcher(&b);
    tg_batcher_next(&b, NULL, NULL);
    tg_status st = {0};
    assert_int_equal(tg_batcher_set_position(&b, 1, 11, &st), TG_ERANGE);
    assert_non_null(strstr(st.msg, "tg_batcher_set_position: offset 11"));
    assert_non_null(strstr(st.msg, "10 pairs"));
    size_t epoch, offset;
    tg_batcher_position(&b, &epoch, &offset);
    assert_int_equal(epoch, 0);
    assert_int_equal(offset, 4);
}

static void expect_init_error(const int32_t *tok, size_t n, size_t rows, size_t steps, int code,
                              const char *part)
{
    tg_batcher b;
    tg_status st = {0};
    assert_int_equal(tg_batcher_init(&b, tok, n, rows, steps, &st), code);
    if (!strstr(st.msg, part)) fail_msg("message \"%s\" does not mention \"%s\"", st.msg, part);
    assert_non_null(strstr(st.msg, "tg_batcher_init"));
    assert_int_equal(tg_batcher_next(&b, NULL, NULL), 0); /* a failed batcher yields nothing */
    assert_int_equal(tg_batcher_windows(&b), 0);
}

static void test_init_rejects_bad_shapes_with_a_message(void **s)
{
    (void)s;
    for (int32_t i = 0; i < N; i++) corpus[i] = i;
    expect_init_error(corpus, N, 0, T, TG_EINVAL, "B must be at least 1");
    expect_init_error(corpus, N, B, 0, TG_EINVAL, "T must be at least 1");
    expect_init_error(corpus, 3, 2, T, TG_ESHAPE, "3 tokens cannot make 2 rows");
    expect_init_error(corpus, N, 12, T, TG_ESHAPE, "N must be at least 2");
    expect_init_error(NULL, N, B, T, TG_ENULL, "token stream is NULL");
    assert_int_equal(tg_batcher_init(NULL, corpus, N, B, T, NULL), TG_ENULL);
    tg_batcher b;
    assert_int_equal(tg_batcher_init(&b, corpus, 4, 2, 1, NULL), TG_OK); /* 2 tokens a row */
    int32_t x[2], y[2];
    assert_int_equal(tg_batcher_next(&b, x, y), 1);
    assert_int_equal(x[0], 0);
    assert_int_equal(y[1], 3);
}

#undef B /* the struct's field from here on */

/* Rows 0..5 of 6 cut by 3 ranks: rank 1 has rows 2 and 3, and the three shares of a window
 * are, row for row, the window of one batcher of 6 rows. */
static void test_shares_of_the_rows_make_the_window_of_all_rows(void **s)
{
    (void)s;
    enum { N6 = 60, B6 = 6, T6 = 3, R = 3 };
    int32_t tok[N6];
    for (int32_t i = 0; i < N6; i++) tok[i] = i;
    tg_batcher all, part[R];
    assert_int_equal(tg_batcher_init(&all, tok, N6, B6, T6, NULL), TG_OK);
    for (size_t k = 0; k < R; k++) {
        assert_int_equal(tg_batcher_init_share(&part[k], tok, N6, B6, T6, k, R, NULL), TG_OK);
        assert_int_equal(part[k].B, 2);
        assert_int_equal(part[k].L, 10); /* the same cut: N / B */
    }
    assert_int_equal(tg_batcher_windows(&part[2]), tg_batcher_windows(&all));
    for (size_t w = 0; w <= tg_batcher_windows(&all); w++) {
        int32_t x[T6 * B6], y[T6 * B6], px[T6 * 2], py[T6 * 2];
        size_t Tw = tg_batcher_next(&all, x, y);
        for (size_t k = 0; k < R; k++) {
            assert_int_equal(tg_batcher_next(&part[k], px, py), Tw);
            for (size_t t = 0; t < Tw; t++)
                for (size_t r = 0; r < 2; r++) {
                    assert_int_equal(px[t * 2 + r], x[t * B6 + k * 2 + r]);
                    assert_int_equal(py[t * 2 + r], y[t * B6 + k * 2 + r]);
                }
        }
    }
    assert_int_equal(part[1].epoch, 1); /* the epoch ended for every share */
}

static void test_a_share_needs_rows_divisible_by_the_ranks(void **s)
{
    (void)s;
    int32_t tok[40] = {0};
    tg_batcher b;
    tg_status st = {0};
    assert_int_equal(tg_batcher_init_share(&b, tok, 40, 5, 4, 0, 2, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "B 5 rows cannot be shared by 2 ranks"));
    assert_int_equal(tg_batcher_next(&b, NULL, NULL), 0);
    assert_int_equal(tg_batcher_init_share(&b, tok, 40, 4, 4, 2, 2, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "(rank 2)"));
    assert_int_equal(tg_batcher_init_share(&b, tok, 40, 4, 4, 0, 0, &st), TG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_are_time_major_with_targets_shifted_by_one),
        cmocka_unit_test(test_epoch_ends_with_zero_then_restarts),
        cmocka_unit_test(test_rows_divisible_by_t_have_no_ragged_window),
        cmocka_unit_test(test_either_buffer_may_be_null),
        cmocka_unit_test(test_setting_the_position_resumes_the_same_windows),
        cmocka_unit_test(test_set_position_rejects_an_offset_past_the_row),
        cmocka_unit_test(test_init_rejects_bad_shapes_with_a_message),
        cmocka_unit_test(test_shares_of_the_rows_make_the_window_of_all_rows),
        cmocka_unit_test(test_a_share_needs_rows_divisible_by_the_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
