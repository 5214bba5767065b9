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

/* A window function whose recording fails: evaluation names it with the tape's message. */
static tg_tensor *failing_window(tg_tape *t, void *model, tg_rnn_carry *carry, const int32_t *x,
                                 const int32_t *y, size_t Tw, size_t B, int training)
{
    (void)model, (void)carry, (void)x, (void)y, (void)Tw, (void)B, (void)training;
    return tg_add(t, NULL, NULL);
}

/* tg_evaluate's failures, each with its message: no window function, a stream too short for
 * its rows, a recording that fails. */
static void test_evaluate_names_what_went_wrong(void **s)
{
    (void)s;
    int32_t tok[20];
    for (int i = 0; i < 20; i++) tok[i] = i % 5;
    tg_status st = {0};
    double nll;
    assert_int_equal(tg_evaluate(NULL, NULL, NULL, tok, 20, 2, 3, &nll, &st), TG_ENULL);
    assert_status_has(&st, TG_ENULL, "tg_evaluate: the window function is NULL", NULL);
    assert_int_equal(tg_evaluate(failing_window, NULL, NULL, tok, 3, 2, 3, &nll, &st), TG_ESHAPE);
    assert_status_has(&st, TG_ESHAPE, "3 tokens cannot make 2 rows", NULL);
    assert_int_equal(tg_evaluate(failing_window, NULL, NULL, tok, 20, 2, 3, &nll, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "evaluation: tg_add: input 1 is NULL", NULL);
}

/* Rank 0 of a communicator of 2 ranks whose other rank holds this one's values: a sum doubles,
 * a gather repeats, a broadcast keeps; with fail set every call fails as a dead rank would. */
typedef struct mirror {
    int fail;
} mirror;

static int mirror_sum(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    if (((mirror *)ctx)->fail)
        return tg_status_set(st, TG_EIO, "MPI_Allreduce of %zu values failed", n);
    for (size_t i = 0; i < n; i++)
        if (dt == TG_DT_F64)
            ((double *)v)[i] *= 2;
        else
            ((tg_real *)v)[i] *= 2;
    return TG_OK;
}

static int mirror_gather(void *ctx, const void *mine, void *all, size_t n, tg_dtype dt,
                         tg_status *st)
{
    size_t bytes = n * (dt == TG_DT_F32 ? 4 : 8);
    memcpy(all, mine, bytes);
    memcpy((char *)all + bytes, mine, bytes);
    return TG_OK;
}

static int mirror_bcast(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    return TG_OK;
}

/* One process (t1, its line q1 in store *ps1) and rank 0 of comm (t2, q2, *ps2) made alike;
 * returns t2's config. */
static tg_trainer_config start_beside(tg_trainer *t1, line *q1, tg_params **ps1, tg_trainer *t2,
                                      line *q2, tg_params **ps2, const tg_comm *comm)
{
    line_init(q1, *ps1 = tg_params_new());
    line_init(q2, *ps2 = tg_params_new());
    tg_trainer_config c1 = sgd_config(0.1, 0.5), c2 = c1;
    c2.comm = comm;
    tg_status st = {0};
    assert_int_equal(tg_trainer_init(t1, &c1, *ps1, NULL, NULL, NULL, NULL, NULL, 0, &st), TG_OK);
    assert_int_equal(tg_trainer_init(t2, &c2, *ps2, NULL, NULL, NULL, NULL, NULL, 0, &st), TG_OK);
    return c2;
}

/* 20 steps of one process (t1) and of rank 0 of a mirror (t2), side by side: the same losses,
 * norms and parameters, and clipping fired. */
static void steps_beside(tg_trainer *t1, line *q1, tg_trainer *t2, line *q2)
{
    tg_status st = {0};
    double l1, l2;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(tg_trainer_step(t1, line_loss, q1, &l1, &st), TG_OK);
        assert_int_equal(tg_trainer_step(t2, line_loss, q2, &l2, &st), TG_OK);
        assert_true(l1 == l2 && t1->last_norm == t2->last_norm);
    }
    assert_true(t2->clipped == t1->clipped && t1->clipped > 0);
    assert_true(q1->w->val[0] == q2->w->val[0] && q1->b->val[0] == q2->b->val[0]);
}

/* share, sum_shared and unshare of the mirror: a block of its own, doubled in place. */
typedef struct mirror_block {
    mirror m;
    tg_real *block; /* handed out by share; NULL when given back */
    size_t n;
} mirror_block;

static int mirror_share(void *ctx, size_t n, tg_dtype dt, void **block, tg_status *st)
{
    mirror_block *mb = ctx;
    assert_int_equal(dt, TG_DT_REAL);
    assert_null(mb->block);
    *block = mb->block = calloc(n, sizeof(tg_real));
    mb->n = n;
    return TG_OK;
}

static int mirror_sum_shared(void *ctx, void *block, double *sumsq, tg_status *st)
{
    mirror_block *mb = ctx;
    assert_ptr_equal(block, mb->block);
    int rc = mirror_sum(&mb->m, block, mb->n, TG_DT_REAL, st);
    *sumsq = 0;
    for (size_t i = 0; i < mb->n; i++) *sumsq += (double)mb->block[i] * (double)mb->block[i];
    return rc;
}

static void mirror_unshare(void *ctx, void *block)
{
    mirror_block *mb = ctx;
    assert_ptr_equal(block, mb->block);
    free(mb->block);
    mb->block = NULL;
}

static int mirror_block_sum(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    return mirror_sum(&((mirror_block *)ctx)->m, v, n, dt, st);
}

/* With share, the store's gradients live in the communicator's block from tg_trainer_init to
 * tg_trainer_deinit, and training follows one process as with sum alone. */
static void test_a_communicator_that_shares_memory_holds_the_gradients(void **s)
{
    (void)s;
    mirror_block mb = {{0}, NULL, 0};
    tg_comm comm = {.rank = 0,
                    .ranks = 2,
                    .ctx = &mb,
                    .sum = mirror_block_sum,
                    .gather = mirror_gather,
                    .bcast = mirror_bcast,
                    .share = mirror_share,
                    .sum_shared = mirror_sum_shared,
                    .unshare = mirror_unshare};
    tg_trainer t1, t2;
    line q1, q2;
    tg_params *ps1, *ps2;
    tg_trainer_config c2 = start_beside(&t1, &q1, &ps1, &t2, &q2, &ps2, &comm);
    tg_status st = {0};
    assert_true(t2.shared && t2.shared == mb.block && tg_params_grads(ps2) == mb.block);
    assert_int_equal(mb.n, tg_params_numel(ps2));
    tg_tensor *x;
    assert_int_equal(tg_params_add(ps2, "late", 1, 1, &x, &st), TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "bound", NULL);
    steps_beside(&t1, &q1, &t2, &q2);
    tg_trainer_deinit(&t2);
    assert_null(mb.block); /* given back, and the store has a block of its own */
    assert_int_equal(tg_params_add(ps2, "late", 1, 1, &x, &st), TG_OK);
    comm.unshare = NULL;
    assert_int_equal(tg_trainer_init(&t2, &c2, ps2, NULL, NULL, NULL, NULL, NULL, 0, &st),
                     TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "share, sum_shared and unshare go together", NULL);
    tg_trainer_deinit(&t1);
    tg_params_free(ps1);
    tg_params_free(ps2);
}

/* The sum of 2 identical ranks, scaled by 1/2, is one process's gradient exactly; a failed sum
 * names the step and the ranks; a communicator without a function is refused. */
static void test_a_communicator_sums_the_gradients_before_the_step(void **s)
{
    (void)s;
    mirror mr = {0};
    tg_comm comm = {.rank = 0,
                    .ranks = 2,
                    .ctx = &mr,
                    .sum = mirror_sum,
                    .gather = mirror_gather,
                    .bcast = mirror_bcast};
    tg_trainer t1, t2;
    line q1, q2;
    tg_params *ps1, *ps2;
    tg_trainer_config c2 = start_beside(&t1, &q1, &ps1, &t2, &q2, &ps2, &comm);
    tg_status st = {0};
    steps_beside(&t1, &q1, &t2, &q2);
    mr.fail = 1;
    double l2;
    assert_int_equal(tg_trainer_step(&t2, line_loss, &q2, &l2, &st), TG_EIO);
    assert_status_has(&st, TG_EIO, "training step 21", "summing the gradients of 2 ranks",
                      "MPI_Allreduce", NULL);
    assert_int_equal(tg_trainer_save_state(&t1, NULL, &st), TG_ENULL);
    assert_status_has(&st, TG_ENULL, "tg_trainer_save_state: the writer is NULL", NULL);
    tg_trainer_deinit(&t1);
    tg_trainer_deinit(&t2);
    comm.sum = NULL;
    assert_int_equal(tg_trainer_init(&t2, &c2, ps2, NULL, NULL, NULL, NULL, NULL, 0, &st),
                     TG_EINVAL);
    assert_status_has(&st, TG_EINVAL, "lacks a function", NULL);
    tg_params_free(ps1);
    tg_params_free(ps2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minibatch_steps_of_a_callers_loss_fit_a_line),
        cmocka_unit_test(test_clipping_is_counted_and_a_non_finite_gradient_takes_no_step),
        cmocka_unit_test(test_a_failed_recording_and_bad_configurations_are_named),
        cmocka_unit_test(test_evaluate_names_what_went_wrong),
        cmocka_unit_test(test_a_communicator_sums_the_gradients_before_the_step),
        cmocka_unit_test(test_a_communicator_that_shares_memory_holds_the_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
