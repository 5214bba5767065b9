/* test_nn_trainer.c: the trainer (nn/trainer.c) without a language model: minibatch steps of
 * a caller's loss fit a line, clipping fires and is counted, a non-finite gradient takes no
 * step, a window step on a stream-less trainer and bad configurations are refused with a
 * message, and the training state round-trips through a checkpoint writer and reader. The
 * language model's windows, resume and evaluation are tests/test_models_lm.c. */
#include "testutil.h"

#include <stdlib.h>

/* Least squares: loss = mean((x·w + b − y)²) over 8 points of y = 3x − 1. */
typedef struct line {
    tg_tensor *w, *b; /* (1 x 1) each, from the store */
    tg_real x[8], y[8];
    double scale; /* the loss is multiplied by this (a NaN makes the gradient non-finite) */
} line;

static tg_tensor *line_loss(tg_tape *t, void *ctx)
{
    line *q = ctx;
    tg_tensor *x = tg_input(t, 8, 1, q->x), *y = tg_input(t, 8, 1, q->y);
    tg_tensor *d = tg_sub(t, tg_add(t, tg_matmul(t, x, q->w, 0), q->b), y);
    return tg_scale(t, tg_mean(t, tg_mul(t, d, d)), q->scale);
}

static void line_init(line *q, tg_params *ps)
{
    q->w = add_param(ps, "w", 1, 1);
    q->b = add_param(ps, "b", 1, 1);
    assert_non_null(q->w);
    assert_non_null(q->b);
    for (int i = 0; i < 8; i++) q->x[i] = (tg_real)(i - 4) / 4, q->y[i] = 3 * q->x[i] - 1;
    q->scale = 1;
}

static tg_trainer_config sgd_config(double lr, double clip)
{
    tg_trainer_config c = {0};
    c.optim = tg_sgd_config(lr, 0.9);
    c.clip = clip;
    c.lr_decay = 1;
    return c;
}

static void test_minibatch_steps_of_a_callers_loss_fit_a_line(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    line q;
    line_init(&q, ps);
    tg_trainer tr;
    tg_trainer_config c = sgd_config(0.1, 0);
    tg_status st = {0};
    assert_int_equal(tg_trainer_init(&tr, &c, ps, NULL, NULL, NULL, NULL, NULL, 0, &st), TG_OK);
    double loss = 0;
    for (int i = 0; i < 300; i++)
        if (tg_trainer_step(&tr, line_loss, &q, &loss, &st) != TG_OK) fail_msg("%s", st.msg);
    assert_true(loss < 1e-6);
    assert_true(fabs(q.w->val[0] - 3) < 1e-3 && fabs(q.b->val[0] + 1) < 1e-3);
    assert_int_equal(tr.step, 300);
    assert_true(q.w->grad[0] == 0); /* zeroed after each step */
    assert_int_equal(tg_trainer_window(&tr, &loss, &st), -1);
    assert_non_null(strstr(st.msg, "no stream"));
    tg_trainer_deinit(&tr);
    tg_params_free(ps);
}

static void test_clipping_is_counted_and_a_non_finite_gradient_takes_no_step(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    line q;
    line_init(&q, ps);
    tg_trainer tr;
    tg_trainer_config c = sgd_config(0.01, 0.5); /* the first gradients exceed 0.5 */
    assert_int_equal(tg_trainer_init(&tr, &c, ps, NULL, NULL, NULL, NULL, NULL, 0, NULL), TG_OK);
    double loss;
    assert_int_equal(tg_trainer_step(&tr, line_loss, &q, &loss, NULL), TG_OK);
    assert_int_equal(tr.clipped, 1);
    assert_true(fabs(tr.last_norm) > 0.5);
    tg_real w = q.w->val[0], b = q.b->val[0];
    q.scale = NAN;
    tg_status st;
    assert_int_equal(tg_trainer_step(&tr, line_loss, &q, &loss, &st), TG_ERANGE);
    assert_non_null(strstr(st.msg, "training step 2"));
    assert_non_null(strstr(st.msg, "the parameters are as they were"));
    assert_true(q.w->val[0] == w && q.b->val[0] == b);
    assert_true(q.w->grad[0] == 0 && q.b->grad[0] == 0);
    assert_int_equal(tr.step, 1);
    tg_trainer_deinit(&tr);
    tg_params_free(ps);
}

static tg_tensor *failing_loss(tg_tape *t, void *ctx)
{
    (void)ctx;
    return tg_add(t, tg_input(t, 2, 2, NULL), tg_input(t, 3, 3, NULL));
}

static void test_a_failed_recording_and_bad_configurations_are_named(void **s)
{
    (void)s;
    tg_params *ps = tg_params_new();
    line q;
    line_init(&q, ps);
    tg_trainer tr;
    tg_status st;
    tg_trainer_config c = sgd_config(0.1, -1);
    assert_int_equal(tg_trainer_init(&tr, &c, ps, NULL, NULL, NULL, NULL, NULL, 0, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "clip -1"));
    c = sgd_config(0.1, 0), c.lr_decay = 2;
    assert_int_equal(tg_trainer_init(&tr, &c, ps, NULL, NULL, NULL, NULL, NULL, 0, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "lr_decay 2"));
    c = sgd_config(-1, 0);
    assert_int_equal(tg_trainer_init(&tr, &c, ps, NULL, NULL, NULL, NULL, NULL, 0, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "lr"));
    c = sgd_config(0.1, 0);
    assert_int_equal(tg_trainer_init(&tr, &c, ps, NULL, NULL, NULL, NULL, NULL, 0, &st), TG_OK);
    double loss;
    assert_int_equal(tg_trainer_step(&tr, failing_loss, NULL, &loss, &st), TG_EINVAL);
    assert_non_null(strstr(st.msg, "training step 1: tg_add"));
    assert_int_equal(tg_trainer_step(&tr, NULL, NULL, &loss, &st), TG_ENULL);
    tg_trainer_deinit(&tr);
    tg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minibatch_steps_of_a_callers_loss_fit_a_line),
        cmocka_unit_test(test_clipping_is_counted_and_a_non_finite_gradient_takes_no_step),
        cmocka_unit_test(test_a_failed_recording_and_bad_configurations_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
