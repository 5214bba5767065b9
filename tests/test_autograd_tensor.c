/* test_autograd_tensor.c: heap leaves (autograd/tensor.c) and the status channel
 * (autograd/status.h): sizes that overflow are refused, statuses carry code and message. */
#include "testutil.h"

/* Item 2 of the reliability issue: 2^63 x 1 with a gradient needs 2·2^63 values, which wraps
 * size_t; it used to return a tensor backed by 4 bytes. */
static void test_item2_tensor_new_refuses_sizes_whose_buffer_overflows(void **s)
{
    (void)s;
    assert_null(tg_tensor_new((size_t)1 << 63, 1, 1));
    assert_null(tg_tensor_new((size_t)1 << 63, 1, 0)); /* 2^63 floats: bytes overflow too */
    assert_null(tg_tensor_new(SIZE_MAX, 2, 0));        /* rows·cols itself wraps */
    assert_null(tg_tensor_new((size_t)1 << 40, (size_t)1 << 40, 0));
    tg_tensor *x = tg_tensor_new(3, 2, 1);
    assert_non_null(x);
    assert_non_null(x->grad);
    assert_true(x->grad == x->val + 6);
    tg_tensor_free(x);
}

static void test_status_set_keeps_code_and_formatted_message(void **s)
{
    (void)s;
    tg_status st;
    tg_status_clear(&st);
    assert_int_equal(st.code, TG_OK);
    assert_string_equal(st.msg, "");
    assert_int_equal(tg_status_set(&st, TG_ERANGE, "f: %d is out of %s", 7, "range"), TG_ERANGE);
    assert_int_equal(st.code, TG_ERANGE);
    assert_string_equal(st.msg, "f: 7 is out of range");
    assert_int_equal(tg_status_set(NULL, TG_EIO, "ignored"), TG_EIO);
    char longer[2 * sizeof st.msg];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    tg_status_set(&st, TG_EINVAL, "%s", longer); /* truncated, still terminated */
    assert_int_equal(strlen(st.msg), sizeof st.msg - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item2_tensor_new_refuses_sizes_whose_buffer_overflows),
        cmocka_unit_test(test_status_set_keeps_code_and_formatted_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
