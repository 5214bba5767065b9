/* test_autograd_tape.c: recording, the arena, backward's contract, sticky errors. */
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* y = sum(x ⊙ x + x): one recording of a few nodes on a (rows x cols) parameter. */
static tg_tensor *square_plus(tg_tape *t, tg_tensor *x)
{
    return tg_sum(t, tg_add(t, tg_mul(t, x, x), x));
}

static void test_fan_out_accumulates_every_use(void **state)
{
    (void)state;
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_tensor *x = rand_leaf(3, 4, &r, -1, 1);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, square_plus(t, x)), TG_OK);
    for (size_t i = 0; i < tg_numel(x); i++) /* x is used three times: d/dx = 2x + 1 */
        assert_true(fabs(x->grad[i] - (2 * x->val[i] + 1)) < VAL_TOL * 10);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_parameter_gradients_accumulate_until_zeroed(void **state)
{
    (void)state;
    tg_tensor *x = tg_tensor_new(1, 1, 1);
    x->val[0] = 3;
    tg_tape *t = tg_tape_new();
    for (int k = 1; k <= 3; k++) {
        tg_tape_reset(t);
        assert_int_equal(tg_backward(t, square_plus(t, x)), TG_OK);
        assert_true(fabs(x->grad[0] - 7.0 * k) < 1e-5);
    }
    tg_tensor_zero_grad(x);
    assert_true(x->grad[0] == 0);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_second_backward_on_one_recording_clears_node_gradients(void **state)
{
    (void)state;
    tg_tensor *x = tg_tensor_new(1, 1, 1);
    x->val[0] = 2;
    tg_tape *t = tg_tape_new();
    tg_tensor *sq = tg_mul(t, x, x);
    tg_tensor *loss = tg_sum(t, sq);
    assert_int_equal(tg_backward(t, loss), TG_OK);
    assert_int_equal(tg_backward(t, loss), TG_OK);
    assert_true(sq->grad[0] == 1);            /* node: as after one backward */
    assert_true(fabs(x->grad[0] - 8) < 1e-6); /* leaf: two contributions of 2x */
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_reset_and_reuse_1000_times_allocates_nothing_after_first_window(void **state)
{
    (void)state;
    tg_rng r;
    tg_rng_seed(&r, 2);
    tg_tensor *x = rand_leaf(32, 64, &r, -1, 1);
    tg_tape *t = tg_tape_new();
    tg_tape_stats first, now;
    for (int cycle = 0; cycle < 1001; cycle++) {
        tg_tape_reset(t);
        tg_tensor *h = x;
        for (int k = 0; k < 40; k++) h = tg_add(t, tg_mul(t, h, x), x); /* > 1 chunk */
        assert_int_equal(tg_backward(t, tg_mean(t, h)), TG_OK);
        if (cycle == 0) tg_tape_get_stats(t, &first);
    }
    tg_tape_get_stats(t, &now);
    assert_true(first.bytes_reserved > 65536); /* the window really spans several chunks */
    assert_int_equal(now.heap_allocs, first.heap_allocs);
    assert_int_equal(now.bytes_reserved, first.bytes_reserved);
    assert_int_equal(now.bytes_used, first.bytes_used);
    assert_int_equal(now.nodes, 81);
    tg_tape_free(t);
    tg_tensor_free(x);
}

/* A small recurrent unroll that uses every kind of node backward treats apart: an input
 * product for all steps cut into per-step row views, a per-step tg_addmm whose weight gradient
 * is deferred to the end of the walk, fan-out (h feeds the next step and the loss), and a
 * column slice. loss = Σ_t sum(h_t[:, :3] ⊙ w) with h_t = tanh(gx_t + h_{t-1}·Wᵀ). */
enum { UT = 6, UB = 4, UI = 3, UH = 32 };
typedef struct {
    tg_tensor *x, *Wx, *W, *w;
} unroll_ctx;

static tg_tensor *unroll(tg_tape *t, const unroll_ctx *u)
{
    tg_tensor *gx = tg_matmul(t, u->x, u->Wx, 0), *h = tg_input(t, UB, UH, NULL), *loss = NULL;
    for (size_t s = 0; s < UT; s++) {
        h = tg_tanh(t, tg_addmm(t, tg_slice_rows(t, gx, s * UB, UB), h, u->W, TG_TRANS_B));
        tg_tensor *part = tg_sum(t, tg_mul(t, tg_slice_cols(t, h, 0, 3), u->w));
        loss = loss ? tg_add(t, loss, part) : part;
    }
    return loss;
}

/* Reused gradients give the leaves exactly the gradients kept ones give, twice over on a
 * second backward of the same recording; node gradients are gone afterwards, and the tape
 * holds less memory. */
static void test_reused_gradients_match_kept_ones_in_less_memory(void **state)
{
    (void)state;
    tg_rng r;
    tg_rng_seed(&r, 11);
    unroll_ctx u = {rand_leaf(UT * UB, UI, &r, -1, 1), rand_leaf(UI, UH, &r, -1, 1),
                    rand_leaf(UH, UH, &r, -1, 1), rand_leaf(UB, 3, &r, -1, 1)};
    tg_tensor *leaves[] = {u.x, u.Wx, u.W, u.w};
    tg_real *kept[4];
    size_t used[2];
    for (int reuse = 0; reuse < 2; reuse++) {
        for (int k = 0; k < 4; k++) tg_tensor_zero_grad(leaves[k]);
        tg_tape *t = tg_tape_new();
        assert_int_equal(tg_tape_reuse_grads(t, reuse), 0);
        tg_tensor *loss = unroll(t, &u);
        assert_int_equal(tg_backward(t, loss), TG_OK);
        tg_tape_stats st;
        tg_tape_get_stats(t, &st);
        used[reuse] = st.bytes_used;
        for (int k = 0; k < 4; k++) {
            size_t n = tg_numel(leaves[k]);
            if (!reuse) {
                kept[k] = malloc(n * sizeof *kept[k]);
                memcpy(kept[k], leaves[k]->grad, n * sizeof *kept[k]);
                continue;
            }
            for (size_t i = 0; i < n; i++) assert_true(leaves[k]->grad[i] == kept[k][i]);
        }
        if (reuse) {
            size_t with_grad = 0;
            for (size_t i = 0; i < tg_tape_size(t); i++) {
                const tg_tensor *y = tg_tape_node(t, i);
                if (!y->grad) continue;
                with_grad++; /* only products whose dy the end of the walk read: few rows */
                assert_true(strcmp(y->op->name, "tg_addmm") == 0 ||
                            strcmp(y->op->name, "tg_matmul") == 0);
            }
            assert_int_equal(with_grad, UT + 1); /* every step's, and the input product's */
            assert_int_equal(tg_backward(t, loss), TG_OK); /* again: the leaves get it twice */
            for (int k = 0; k < 4; k++)
                for (size_t i = 0; i < tg_numel(leaves[k]); i++)
                    assert_true(fabs(leaves[k]->grad[i] - 2 * kept[k][i]) <=
                                VAL_TOL * (1 + fabs(kept[k][i])));
        }
        tg_tape_free(t);
    }
    assert_true(used[1] < used[0]);
    for (int k = 0; k < 4; k++) {
        free(kept[k]);
        tg_tensor_free(leaves[k]);
    }
}

static void test_reset_rewinds_nodes_and_error(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_input(t, 2, 3, NULL), *b = tg_input(t, 3, 2, NULL);
    assert_null(tg_add(t, a, b));
    assert_non_null(tg_tape_error(t));
    tg_tape_reset(t);
    assert_null(tg_tape_error(t));
    assert_int_equal(tg_tape_size(t), 0);
    tg_tape_free(t);
}

static void test_backward_rejects_a_loss_that_is_not_1x1(void **state)
{
    (void)state;
    tg_tensor *x = tg_tensor_new(2, 3, 1);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_backward(t, tg_mul(t, x, x)), TG_ESHAPE);
    assert_error_has(t, "tg_backward", "(1 x 1)", "(2 x 3)", NULL);
    assert_true(x->grad[0] == 0);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_backward_rejects_null_loss_and_keeps_the_first_error(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_input(t, 2, 3, NULL), *b = tg_input(t, 4, 3, NULL);
    tg_tensor *bad = tg_sum(t, tg_mul(t, tg_add(t, a, b), a));
    assert_null(bad);
    assert_int_equal(tg_backward(t, bad), TG_ENULL);
    assert_error_has(t, "tg_add", "(2 x 3)", "(4 x 3)", NULL);
    tg_tape_free(t);
}

static void test_backward_rejects_a_loss_without_gradient(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *c = tg_input(t, 1, 1, NULL);
    assert_int_equal(tg_backward(t, tg_mul(t, c, c)), TG_EINVAL);
    assert_error_has(t, "tg_backward", "no gradient", NULL);
    tg_tape_free(t);
}

static void test_backward_rejects_a_loss_from_another_tape(void **state)
{
    (void)state;
    tg_tensor *x = tg_tensor_new(1, 1, 1);
    tg_tape *t = tg_tape_new(), *u = tg_tape_new();
    tg_tensor *loss = tg_mul(t, x, x);
    tg_mul(u, x, x);
    assert_int_equal(tg_backward(u, loss), TG_EINVAL);
    assert_error_has(u, "tg_backward", "not recorded on this tape", NULL);
    tg_tape_free(t);
    tg_tape_free(u);
    tg_tensor_free(x);
}

static void test_null_input_names_the_op_and_the_position(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_input(t, 1, 1, NULL);
    assert_null(tg_mul(t, a, NULL));
    assert_error_has(t, "tg_mul: input 2 is NULL", NULL);
    tg_tape_free(t);
}

static void test_no_grad_recording_makes_no_gradient_buffers(void **state)
{
    (void)state;
    tg_tensor *x = tg_tensor_new(2, 2, 1);
    tg_tape *t = tg_tape_new();
    assert_int_equal(tg_tape_set_grad(t, 0), 1);
    tg_tensor *y = tg_mul(t, x, x);
    assert_null(y->grad);
    assert_int_equal(tg_tape_set_grad(t, 1), 0);
    assert_non_null(tg_mul(t, x, x)->grad);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_detach_stops_the_gradient(void **state)
{
    (void)state;
    tg_tensor *x = tg_tensor_new(1, 1, 1);
    x->val[0] = 3;
    tg_tape *t = tg_tape_new();
    tg_tensor *sq = tg_detach(t, tg_mul(t, x, x)); /* a constant 9 */
    assert_null(sq->grad);
    assert_int_equal(tg_backward(t, tg_mul(t, sq, x)), TG_OK);
    assert_true(fabs(x->grad[0] - 9) < 1e-6);
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_input_copies_its_data(void **state)
{
    (void)state;
    tg_real data[6] = {1, 2, 3, 4, 5, 6};
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_input(t, 2, 3, data);
    data[0] = 100;
    assert_true(x->val[0] == 1 && x->val[5] == 6);
    assert_null(x->grad);
    assert_null(x->op);
    tg_tape_free(t);
}

static void test_nodes_are_listed_in_recording_order(void **state)
{
    (void)state;
    tg_tensor *x = tg_tensor_new(1, 2, 1);
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_mul(t, x, x), *b = tg_add(t, a, x), *c = tg_sum(t, b);
    assert_int_equal(tg_tape_size(t), 3);
    assert_ptr_equal(tg_tape_node(t, 0), a);
    assert_ptr_equal(tg_tape_node(t, 2), c);
    assert_null(tg_tape_node(t, 3));
    assert_string_equal(b->op->name, "tg_add");
    assert_ptr_equal(b->in[0], a);
    tg_tape_free(t);
    tg_tensor_free(x);
}

/* An op written with the public op API (autograd/op.h) that looks at the tape's contract from
 * inside: y = 2x; its backward checks the gradients it is handed, defers its dx to its finish
 * (keeping dy for it), and the finish counts its calls and the work it was left. */
static struct {
    int finishes, deferred, null_grads;
} probe;

typedef struct probe_work {
    int count;
    tg_tensor *ys[8];
} probe_work;

static void probe_forward(tg_tape *t, tg_tensor *y) /* y = 2x */
{
    for (size_t i = 0; i < tg_numel(y); i++) y->val[i] = 2 * y->in[0]->val[i];
}

static void probe_backward(tg_tape *t, tg_tensor *y) /* dx += 2 dy, in probe_finish */
{
    probe.null_grads += !y->grad || (tg_requires_grad(y->in[0]) && !y->in[0]->grad);
    void **slot = tg_defer(t, y->op);
    if (!*slot)
        *slot = memset(tg_tape_alloc(t, sizeof(probe_work), "probe"), 0, sizeof(probe_work));
    probe_work *w = *slot;
    w->ys[w->count++] = y;
    tg_keep_grad(t, y);
    probe.deferred++;
}

static void probe_finish(tg_tape *t, void *work)
{
    probe_work *w = work;
    probe.finishes++;
    for (int k = 0; k < w->count; k++) {
        tg_tensor *y = w->ys[k], *x = y->in[0];
        probe.null_grads += !y->grad;
        if (x->grad)
            for (size_t i = 0; i < tg_numel(y); i++) x->grad[i] += 2 * y->grad[i];
    }
}

static const tg_op probe_op = {"probe", probe_forward, probe_backward, probe_finish, NULL};

static tg_tensor *probe_rec(tg_tape *t, tg_tensor *x)
{
    if (!tg_check_inputs(t, "probe", 1, &x)) return NULL;
    return tg_record(t, &probe_op, x->rows, x->cols, 1, &x);
}

/* sum(tanh(probe(probe(x))) ⊙ x): two probes on one path, x used twice. */
static tg_tensor *probe_loss(tg_tape *t, void *p)
{
    tg_tensor *x = p;
    return tg_sum(t, tg_mul(t, tg_tanh(t, probe_rec(t, probe_rec(t, x))), x));
}

static void test_an_op_finish_runs_once_a_walk_with_all_its_deferred_work(void **state)
{
    (void)state;
    for (int reuse = 0; reuse <= 1; reuse++) {
        tg_rng r;
        tg_rng_seed(&r, 3);
        tg_tensor *x = rand_leaf(2, 3, &r, -1, 1);
        tg_tape *t = tg_tape_new();
        tg_tape_reuse_grads(t, reuse);
        memset(&probe, 0, sizeof probe);
        tg_tensor *loss = probe_loss(t, x);
        assert_int_equal(tg_backward(t, loss), TG_OK);
        assert_int_equal(probe.finishes, 1);
        assert_int_equal(probe.deferred, 2);
        assert_int_equal(tg_backward(t, loss), TG_OK); /* a second walk: a fresh slot */
        assert_int_equal(probe.finishes, 2);
        assert_int_equal(probe.deferred, 4);
        assert_int_equal(probe.null_grads, 0);
        tg_tape_free(t);
        tg_tensor_free(x);
    }
}

static void test_work_deferred_to_finish_gives_the_right_gradient(void **state)
{
    (void)state;
    tg_rng r;
    tg_rng_seed(&r, 4);
    tg_tensor *x = rand_leaf(2, 3, &r, -1, 1);
    assert_gradcheck(probe_loss, x, &x, 1);
    tg_tensor_free(x);
}

/* pick(a, b) = a, a node marked tg_assigns_first whose backward claims a's gradient (assigning
 * it when first, adding otherwise) and writes nothing into b's: the walk must zero b's buffer
 * after it, whatever a buffer of that size held before. */
static void pick_forward(tg_tape *t, tg_tensor *y)
{
    memcpy(y->val, y->in[0]->val, tg_numel(y) * sizeof *y->val);
}

static void pick_backward(tg_tape *t, tg_tensor *y)
{
    tg_tensor *a = y->in[0];
    if (!a->grad) return;
    int first = tg_grad_first(t, a);
    for (size_t i = 0; i < tg_numel(y); i++) a->grad[i] = (first ? 0 : a->grad[i]) + y->grad[i];
}

static const tg_op pick_op = {"pick", pick_forward, pick_backward, NULL, NULL};

static tg_tensor *pick(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[2] = {a, b}, *y = tg_node(t, &pick_op, a->rows, a->cols, 2, in);
    if (y) tg_assigns_first(t, y), pick_op.forward(t, y);
    return y;
}

/* sum(pick(a, b) + b² + 2a), a = tanh x, b = σ x. With pick recorded last, the walk reaches it
 * before the other users of a and b: a's buffer and b's are lent unzeroed, pick assigns a's and
 * leaves b's. Recorded first, it gets zeroed buffers and adds. */
static tg_tensor *pick_loss(tg_tape *t, tg_tensor *x, int pick_last)
{
    tg_tensor *a = tg_tanh(t, x), *b = tg_sigmoid(t, x), *p = pick_last ? NULL : pick(t, a, b);
    tg_tensor *sq = tg_mul(t, b, b), *u = tg_scale(t, a, 2);
    if (pick_last) p = pick(t, a, b);
    return tg_sum(t, tg_add(t, tg_add(t, p, sq), u));
}

static const int32_t xent_ids[6] = {0, 3, 2, 6, 1, 3};

/* softmax_xent(1.5 x) + sum(1.5 x) / 4. Variant 0: the sum recorded after the loss, so the walk
 * reaches it first and the loss adds into a zeroed buffer; 1: the sum first, the loss assigns;
 * 2: the loss of a view of all rows (its gradient a window of the scale's, always zeroed). */
static tg_tensor *xent_loss(tg_tape *t, tg_tensor *x, int variant)
{
    tg_tensor *z = tg_scale(t, x, 1.5), *other = variant == 1 ? tg_sum(t, z) : NULL;
    tg_tensor *loss = tg_softmax_xent(t, variant == 2 ? tg_slice_rows(t, z, 0, 6) : z, xent_ids, 6);
    if (variant != 1) other = tg_sum(t, z);
    return tg_add(t, loss, tg_scale(t, other, 0.25));
}

/* x's gradient from loss_of(t, x, variant) into want, from kept gradients; with reused ones,
 * over three walks of one recording (the later ones get buffers released before), the same
 * bits. */
static void walk_kept_and_reused(tg_tensor *(*loss_of)(tg_tape *, tg_tensor *, int), tg_tensor *x,
                                 int variant, tg_real *want)
{
    size_t bytes = tg_numel(x) * sizeof *want;
    for (int reuse = 0; reuse <= 1; reuse++) {
        tg_tape *t = tg_tape_new();
        tg_tape_reuse_grads(t, reuse);
        tg_tensor *loss = loss_of(t, x, variant);
        for (int walk = 0; walk < 3; walk++) {
            tg_tensor_zero_grad(x);
            assert_int_equal(tg_backward(t, loss), TG_OK);
            if (!reuse && walk == 0) memcpy(want, x->grad, bytes);
            assert_memory_equal(x->grad, want, bytes);
        }
        tg_tape_free(t);
    }
}

static void test_a_node_that_assigns_gives_the_bits_of_zeroed_buffers(void **state)
{
    (void)state;
    for (int pick_last = 0; pick_last <= 1; pick_last++) {
        tg_rng r;
        tg_rng_seed(&r, 5);
        tg_tensor *x = rand_leaf(3, 5, &r, -1, 1);
        tg_real want[15];
        walk_kept_and_reused(pick_loss, x, pick_last, want);
        for (size_t i = 0; i < 15; i++) { /* d/dx of 3 tanh x + σ² */
            double a = tanh(x->val[i]), b = 1 / (1 + exp(-x->val[i]));
            assert_true(fabs(want[i] - (3 * (1 - a * a) + 2 * b * b * (1 - b))) < 1e-5);
        }
        tg_tensor_free(x);
    }
}

static void test_softmax_xent_assigns_its_logits_gradient_with_the_bits_of_adding(void **state)
{
    (void)state;
    for (int variant = 0; variant <= 2; variant++) {
        tg_rng r;
        tg_rng_seed(&r, 6);
        tg_tensor *x = rand_leaf(6, 7, &r, -3, 3);
        tg_real want[42];
        walk_kept_and_reused(xent_loss, x, variant, want);
        for (size_t i = 0; i < 6; i++) { /* d/dx = 1.5 ((p - onehot) / 6 + 0.25) */
            double sum = 0;
            for (size_t j = 0; j < 7; j++) sum += exp(1.5 * x->val[i * 7 + j]);
            for (size_t j = 0; j < 7; j++) {
                double p = exp(1.5 * x->val[i * 7 + j]) / sum;
                double d = 1.5 * ((p - (j == (size_t)xent_ids[i])) / 6 + 0.25);
                assert_true(fabs(want[i * 7 + j] - d) < 1e-5);
            }
        }
        tg_tensor_free(x);
    }
}

static void test_grad_first_is_0_outside_a_marked_backward(void **state)
{
    (void)state;
    tg_tensor *x = tg_tensor_new(1, 3, 1);
    tg_tape *t = tg_tape_new();
    tg_tape_reuse_grads(t, 1);
    tg_tensor *y = tg_tanh(t, x);
    assert_int_equal(tg_grad_first(t, NULL), 0);
    assert_int_equal(tg_grad_first(t, x), 0); /* a leaf: its gradient is the user's */
    assert_int_equal(tg_grad_first(t, y), 0); /* a node, but no walk lent it a blank buffer */
    tg_assigns_first(t, NULL);                /* nothing to mark: no crash */
    tg_assigns_first(NULL, x);                /* a leaf is not marked */
    assert_int_equal(tg_backward(t, tg_sum(t, y)), TG_OK);
    assert_int_equal(tg_grad_first(t, y), 0); /* after the walk */
    tg_tape_free(t);
    tg_tensor_free(x);
}

static void test_requires_grad_holds_the_invariants_of_tensor_h(void **state)
{
    (void)state;
    tg_tensor *w = tg_tensor_new(2, 2, 1), *c = tg_tensor_new(2, 2, 0);
    tg_tape *t = tg_tape_new();
    assert_true(tg_requires_grad(w) && w->grad); /* a leaf: iff grad != NULL */
    assert_true(!tg_requires_grad(c) && !c->grad);
    tg_tensor *kept = tg_mul(t, w, c), *constant = tg_add(t, c, c);
    assert_true(tg_requires_grad(kept) && kept->grad); /* kept gradients: from recording on */
    assert_true(!tg_requires_grad(constant) && !constant->grad);
    tg_tape_set_grad(t, 0);
    tg_tensor *nograd = tg_mul(t, w, w);
    assert_true(!tg_requires_grad(nograd) && !nograd->grad);
    tg_tape_set_grad(t, 1);
    tg_tape_reuse_grads(t, 1);
    tg_tensor *later = tg_tanh(t, kept), *loss = tg_sum(t, later);
    assert_true(tg_requires_grad(later) && !later->grad); /* reused: NULL until backward */
    assert_int_equal(tg_backward(t, loss), TG_OK);
    assert_true(tg_requires_grad(later) && !later->grad); /* and NULL again after */
    assert_non_null(kept->grad);
    tg_tape_free(t);
    tg_tensor_free(w);
    tg_tensor_free(c);
}

static void test_a_shape_too_large_is_refused_naming_the_call_and_the_shape(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    assert_null(tg_leaf(t, SIZE_MAX / 2, 4, NULL, 0));
    assert_error_has(t, "tg_leaf", "is too large", NULL);
    tg_tape_reset(t);
    tg_tensor *x = tg_input(t, 1, 1, NULL);
    assert_null(tg_record(t, &probe_op, SIZE_MAX / 8, 8, 1, &x));
    assert_error_has(t, "probe: shape (", "x 8) is too large", NULL);
    tg_tape_free(t);
}

static void test_tape_alloc_refuses_an_overflowing_size_naming_the_caller(void **state)
{
    (void)state;
    tg_tape *t = tg_tape_new();
    assert_null(tg_tape_alloc(t, SIZE_MAX - 8, "my_op"));
    assert_error_has(t, "my_op: allocation of", "bytes overflows", NULL);
    tg_tape_clear_error(t);
    assert_non_null(tg_tape_alloc(t, 100, "my_op"));
    assert_null(tg_tape_error(t));
    tg_tape_free(t);
}

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    for (int c = TG_OK; c <= TG_ECPU; c++) assert_string_not_equal(tg_strerror(c), tg_strerror(-1));
}

/* Issue 13 item 10: a NULL tape (tg_tape_new out of memory) crashed tg_add and tg_backward. Every
 * op family, leaf and tape call given one now returns NULL, TG_ENULL or nothing. */
static void test_item10_a_null_tape_crashes_no_call(void **s)
{
    (void)s;
    tg_tensor *a = tg_tensor_new(2, 2, 1), *b = tg_tensor_new(2, 2, 1);
    int32_t ids[2] = {0, 1};
    assert_null(tg_add(NULL, a, b));
    assert_null(tg_mul(NULL, a, b));
    assert_null(tg_div(NULL, a, b));
    assert_null(tg_addcmul(NULL, a, a, b));
    assert_null(tg_matmul(NULL, a, b, 0));
    assert_null(tg_addmm(NULL, a, a, b, 0));
    assert_null(tg_tanh(NULL, a));
    assert_null(tg_scale(NULL, a, 2.0));
    assert_null(tg_sum(NULL, a));
    assert_null(tg_row_sum(NULL, a));
    assert_null(tg_slice_cols(NULL, a, 0, 1));
    assert_null(tg_concat_rows(NULL, 2, (tg_tensor *[]){a, b}));
    assert_null(tg_softmax(NULL, a));
    assert_null(tg_softmax_xent(NULL, a, ids, 2));
    assert_null(tg_embedding(NULL, a, ids, 2));
    assert_null(tg_dropout(NULL, a, 0.5, NULL));
    assert_null(tg_leaf(NULL, 2, 2, NULL, 1));
    assert_null(tg_input(NULL, 2, 2, NULL));
    assert_null(tg_detach(NULL, a));
    assert_null(tg_tape_alloc(NULL, 8, "test"));
    assert_null(tg_fail(NULL, "%s", "nowhere to keep this"));
    assert_int_equal(tg_check_inputs(NULL, "test", 1, &a), 0);
    assert_int_equal(tg_backward(NULL, a), TG_ENULL);
    assert_string_equal(tg_tape_error(NULL), "the tape is NULL");
    assert_int_equal(tg_tape_set_grad(NULL, 0), 0);
    assert_int_equal(tg_tape_reuse_grads(NULL, 1), 0);
    assert_int_equal(tg_tape_size(NULL), 0);
    assert_null(tg_tape_node(NULL, 0));
    tg_tape_stats st;
    tg_tape_get_stats(NULL, &st);
    assert_int_equal(st.nodes, 0);
    tg_tape_reset(NULL);
    tg_tape_clear_error(NULL);
    tg_tape_free(NULL);
    tg_params *ps = tg_params_new();
    for (size_t k = 0; k < 4; k++) { /* every built-in cell type's step */
        const tg_cell_type *type = tg_cell_type_at(k);
        tg_cell cell;
        assert_int_equal(tg_cell_init(&cell, ps, NULL, k, type, 2, 2, NULL, NULL), TG_OK);
        tg_state h = tg_cell_step(NULL, &cell, a, (tg_state){{b, b}});
        assert_null(h.v[0]);
    }
    tg_params_free(ps);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fan_out_accumulates_every_use),
        cmocka_unit_test(test_parameter_gradients_accumulate_until_zeroed),
        cmocka_unit_test(test_second_backward_on_one_recording_clears_node_gradients),
        cmocka_unit_test(test_reset_and_reuse_1000_times_allocates_nothing_after_first_window),
        cmocka_unit_test(test_reused_gradients_match_kept_ones_in_less_memory),
        cmocka_unit_test(test_reset_rewinds_nodes_and_error),
        cmocka_unit_test(test_backward_rejects_a_loss_that_is_not_1x1),
        cmocka_unit_test(test_backward_rejects_null_loss_and_keeps_the_first_error),
        cmocka_unit_test(test_backward_rejects_a_loss_without_gradient),
        cmocka_unit_test(test_backward_rejects_a_loss_from_another_tape),
        cmocka_unit_test(test_null_input_names_the_op_and_the_position),
        cmocka_unit_test(test_no_grad_recording_makes_no_gradient_buffers),
        cmocka_unit_test(test_detach_stops_the_gradient),
        cmocka_unit_test(test_input_copies_its_data),
        cmocka_unit_test(test_nodes_are_listed_in_recording_order),
        cmocka_unit_test(test_an_op_finish_runs_once_a_walk_with_all_its_deferred_work),
        cmocka_unit_test(test_work_deferred_to_finish_gives_the_right_gradient),
        cmocka_unit_test(test_a_node_that_assigns_gives_the_bits_of_zeroed_buffers),
        cmocka_unit_test(test_softmax_xent_assigns_its_logits_gradient_with_the_bits_of_adding),
        cmocka_unit_test(test_grad_first_is_0_outside_a_marked_backward),
        cmocka_unit_test(test_requires_grad_holds_the_invariants_of_tensor_h),
        cmocka_unit_test(test_a_shape_too_large_is_refused_naming_the_call_and_the_shape),
        cmocka_unit_test(test_tape_alloc_refuses_an_overflowing_size_naming_the_caller),
        cmocka_unit_test(test_strerror_names_every_code),
        cmocka_unit_test(test_item10_a_null_tape_crashes_no_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
