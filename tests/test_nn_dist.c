/* test_nn_dist.c: data-parallel training (nn/dist.c and the trainer's communicator), run by
 * meson under `mpirun -np 2 --oversubscribe` when MPI is found. Every rank runs every test, so
 * every collective call is made by both. A small LSTM language model (2 layers) on a seeded
 * stream, 20 windows crossing two epoch ends, with clipping active:
 *   - 2 ranks × B/2 rows give the parameters of one process with B rows (max |Δ| / max |p|
 *     within 1e-12 in the double build, 1e-5 in float), the same mean loss, and bit-identical
 *     parameters on both ranks; evaluation split over the ranks equals one process;
 *   - a checkpoint written by rank 0 of a 2-rank run continues on 1 rank, and one of 1 rank on
 *     2, as the uninterrupted runs; with dropout, 2 ranks resumed continue bit for bit;
 *   - B not divisible by the ranks and a checkpoint of another model are refused, with a
 *     message, leaving the trainer as it was;
 *   - the same with Adam over a store of several runs, so each rank steps its own run and keeps
 *     its own run of the moments (the sharded step), and checkpoints of it from 2 ranks to 1, 1
 *     to 2 and 2 to 2 (bit for bit): the saved moments are whole;
 *   - the trainer keeps the store's gradients in the node's shared memory, and its values in the
 *     node's one block (the store refuses to grow meanwhile), and gives the store its own blocks
 *     back at deinit;
 *   - the sum itself, over more than one piece of the shared window, in F32, F64 and U64,
 *     gives every rank the exact totals, and so does the sum of shared blocks, with the sum of
 *     squares tg_grad_norm would give, bit for bit, on every rank; the scattered sum leaves each
 *     rank the total of its own run of one node-wide block; a block too large for the node's
 *     shared memory is refused on every rank, without an error.
 * meson runs it again with TG_DIST_NODE_RANKS=1 (each rank its own node: the node leaders'
 * MPI_Allreduce path) and with TG_DIST_NO_SHM=1 (no shared memory: MPI_Allreduce alone, no
 * block shared; the tests then check that every trainer fell back).
 * `test_nn_dist die PATH` and `verify PATH` are the halves of the rank-death test
 * (tests/tools/check_mpi_rank_death.py). */
#include "testutil.h"

#include "nn/dist.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* HBIG: a model of 53,173 parameters, 4 blocks of the gradient norm (clip.c), so each rank
 * steps a run of its own; with H, the whole store is one block, which rank 1 steps. */
enum { V = 13, E = 8, H = 10, HBIG = 64, LAYERS = 2, TMAX = 8, NTOK = 240 };

static tg_dist dist;

/* Whether this run has the node's shared memory (not with TG_DIST_NO_SHM=1, as nn/dist.h). */
static int shm_expected(void)
{
    const char *off = getenv("TG_DIST_NO_SHM");
    return !(off && *off && strcmp(off, "0") != 0);
}
/* Whether this run shares the parameter values among the ranks (the sharded step): shared memory,
 * and both ranks on one machine (not with TG_DIST_NODE_RANKS=1). */
static int sharded_expected(void)
{
    const char *per = getenv("TG_DIST_NODE_RANKS");
    return shm_expected() && !(per && strtol(per, NULL, 10) == 1);
}

static int32_t tok[NTOK];

/* The model: embedding, LSTM stack, decoder, softmax cross-entropy (models/lm.c in small). */
typedef struct toy {
    tg_params *ps;
    tg_embed emb;
    tg_rnn rnn;
    tg_linear dec;
    tg_rng rng;
    double dropout;
    tg_state s[LAYERS];
    tg_tensor *ys[TMAX];
} toy;

static void toy_init(toy *m, size_t hidden, double dropout)
{
    memset(m, 0, sizeof *m);
    tg_rng_seed(&m->rng, 42);
    m->ps = tg_params_new();
    m->dropout = dropout;
    assert_int_equal(tg_embed_init(&m->emb, m->ps, "emb", V, E, &m->rng, NULL), TG_OK);
    assert_int_equal(tg_rnn_init(&m->rnn, m->ps, "rnn.", &tg_cell_lstm, E, hidden, LAYERS, dropout,
                                 &m->rng, NULL),
                     TG_OK);
    assert_int_equal(tg_linear_init(&m->dec, m->ps, "dec", hidden, V, 1, &m->rng, NULL), TG_OK);
}

static void toy_deinit(toy *m)
{
    tg_rnn_deinit(&m->rnn);
    tg_params_free(m->ps);
}

static tg_tensor *toy_window(tg_tape *t, void *model, tg_rnn_carry *carry, const int32_t *x,
                             const int32_t *y, size_t Tw, size_t B, int training)
{
    toy *m = model;
    tg_rng *rng = training && m->dropout > 0 ? &m->rng : NULL;
    if (tg_rnn_carry_load(t, carry, m->s) != TG_OK) return NULL;
    tg_tensor *e = tg_dropout(t, tg_embed_forward(t, &m->emb, x, Tw * B), m->dropout, rng);
    if (!tg_rnn_forward_rows(t, &m->rnn, Tw, e, m->s, m->ys, rng)) return NULL;
    tg_tensor *h = tg_concat_rows(t, Tw, m->ys);
    tg_tensor *L = tg_softmax_xent(t, tg_linear_forward(t, &m->dec, h), y, Tw * B);
    if (L && tg_rnn_carry_store(carry, m->s, NULL) != TG_OK) return NULL;
    return L;
}

/* SGD with momentum, clipping that fires, Zaremba's objective; comm NULL for one process. */
static tg_trainer_config config(size_t B, const tg_comm *comm)
{
    tg_trainer_config c = {0};
    c.T = 6, c.B = B, c.clip = 0.25, c.lr_decay = 0.5, c.decay_after = 1, c.sum_steps = 1;
    c.optim = tg_sgd_config(0.5, 0.9);
    c.comm = comm;
    return c;
}

/* Adam with weight decay, for the tests that pass it (NULL: config's SGD with momentum). */
static const tg_optim_config *adam(void)
{
    static tg_optim_config c;
    c = tg_adam_config(0.01);
    c.weight_decay = 1e-4;
    return &c;
}

static void trainer_init_with(tg_trainer *tr, toy *m, size_t B, const tg_comm *comm,
                              const tg_optim_config *optim)
{
    tg_trainer_config c = config(B, comm);
    if (optim) c.optim = *optim;
    tg_status st = {0};
    if (tg_trainer_init(tr, &c, m->ps, &m->rnn, toy_window, m, &m->rng, tok, NTOK, &st) != TG_OK)
        fail_msg("tg_trainer_init: %s", st.msg);
}

static void trainer_init(tg_trainer *tr, toy *m, size_t B, const tg_comm *comm)
{
    trainer_init_with(tr, m, B, comm, NULL);
}

/* n windows (epoch ends are not counted); the mean loss of the last into *loss. */
static void train(tg_trainer *tr, int n, double *loss)
{
    tg_status st = {0};
    double l = 0;
    for (int done = 0; done < n;) {
        long Tw = tg_trainer_window(tr, &l, &st);
        if (Tw < 0) fail_msg("rank %zu: %s", dist.comm.rank, st.msg);
        done += Tw > 0;
    }
    if (loss) *loss = l;
}

/* max |a − b| / max |a| over the flat blocks. */
static double rel_diff(tg_params *a, tg_params *b)
{
    size_t n = tg_params_numel(a);
    assert_int_equal(n, tg_params_numel(b));
    const tg_real *x = tg_params_values(a), *y = tg_params_values(b);
    double d = 0, big = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)x[i] - (double)y[i]));
        big = fmax(big, fabs((double)x[i]));
    }
    return d / big;
}

#ifdef TG_DOUBLE
#define SAME_TOL 1e-12
#else
#define SAME_TOL 1e-5
#endif

static void expect_same(tg_params *a, tg_params *b, const char *what)
{
    double r = rel_diff(a, b);
    if (dist.comm.rank == 0) print_message("%s: max |diff| / max |p| = %.3g\n", what, r);
    if (!(r <= SAME_TOL)) fail_msg("rank %zu: %s differ by %g relative", dist.comm.rank, what, r);
}

/* Every rank's store equals rank 0's, bit for bit. */
static void expect_bit_identical_across_ranks(tg_params *ps)
{
    size_t n = tg_params_numel(ps);
    tg_real *copy = malloc(n * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, tg_params_values(ps), n * sizeof *copy);
    tg_status st = {0};
    if (dist.comm.bcast(dist.comm.ctx, copy, n, TG_DT_REAL, &st) != TG_OK) fail_msg("%s", st.msg);
    assert_memory_equal(copy, tg_params_values(ps), n * sizeof *copy);
    free(copy);
}

/* 2 ranks x 2 rows against 1 process x 4 rows, 20 windows of a model of `hidden` units with
 * optim (NULL: SGD with momentum). */
static void two_ranks_follow_one_process(size_t hidden, const tg_optim_config *optim)
{
    assert_int_equal(dist.comm.ranks, 2); /* meson runs this under mpirun -np 2 */
    toy m2, m1;
    toy_init(&m2, hidden, 0);
    toy_init(&m1, hidden, 0);
    tg_trainer tr2, tr1;
    trainer_init_with(&tr2, &m2, 4, tg_dist_comm(&dist), optim);
    trainer_init_with(&tr1, &m1, 4, NULL, optim);
    assert_int_equal(tr2.batch.B, 2);
    assert_int_equal(tr2.batch.row0, 2 * dist.comm.rank);
    assert_int_equal(tr2.shared != NULL, shm_expected());
    if (tr2.shared) assert_ptr_equal(tg_params_grads(m2.ps), tr2.shared);
    assert_int_equal(tr2.values != NULL, sharded_expected());
    if (tr2.values) assert_ptr_equal(tg_params_values(m2.ps), tr2.values);
    if (tr2.values && hidden == HBIG) /* a run of its own, not all or nothing */
        assert_true(tr2.lo < tr2.hi && tr2.hi - tr2.lo < tg_params_numel(m2.ps));
    if (dist.comm.rank == 0)
        print_message("%zu parameters, rank 0 steps [%zu, %zu)\n", tg_params_numel(m2.ps), tr2.lo,
                      tr2.hi);
    double loss2, loss1;
    train(&tr2, 20, &loss2);
    train(&tr1, 20, &loss1);
    assert_int_equal(tr2.step, 20);
    assert_true(tr2.clipped > 0 && tr2.clipped == tr1.clipped);
    assert_true(tg_trainer_epoch(&tr2) == 2 && tg_trainer_epoch(&tr1) == 2); /* 10 a pass */
    expect_same(m1.ps, m2.ps, "the parameters of 2 ranks x 2 rows and 1 process x 4 rows");
    assert_true(fabs(loss2 - loss1) <= SAME_TOL * fabs(loss1));
    assert_true(fabs(tr2.last_norm - tr1.last_norm) <= SAME_TOL * tr1.last_norm);
    expect_bit_identical_across_ranks(m2.ps);
    for (size_t i = 0; i < tg_params_numel(m2.ps); i++) /* every gradient zeroed by the step */
        if (tg_params_grads(m2.ps)[i] != 0) fail_msg("rank %zu: gradient %zu", dist.comm.rank, i);

    double nll2, nll1;
    tg_status st = {0};
    assert_int_equal(tg_evaluate_shared(toy_window, &m2, &m2.rnn, tok, NTOK, 4, 5,
                                        tg_dist_comm(&dist), &nll2, &st),
                     TG_OK);
    assert_int_equal(tg_evaluate(toy_window, &m2, &m2.rnn, tok, NTOK, 4, 5, &nll1, &st), TG_OK);
    assert_true(fabs(nll2 - nll1) <= SAME_TOL * nll1);
    tg_trainer_deinit(&tr2);
    tg_trainer_deinit(&tr1);
    toy_deinit(&m2);
    toy_deinit(&m1);
}

static void test_two_ranks_of_half_the_rows_follow_one_process_of_all(void **s)
{
    (void)s;
    two_ranks_follow_one_process(H, NULL);
}

/* A store of several norm blocks (so each rank steps a run of its own) and Adam's two moments,
 * which each rank keeps current on its run only. */
static void test_with_adam_two_ranks_follow_one_process(void **s)
{
    (void)s;
    two_ranks_follow_one_process(HBIG, adam());
}

/* A path every rank agrees on: rank 0's process id. */
static void shared_path(char *path, size_t n, const char *name)
{
    uint64_t pid = (uint64_t)getpid();
    tg_status st = {0};
    if (dist.comm.bcast(dist.comm.ctx, &pid, 1, TG_DT_U64, &st) != TG_OK) fail_msg("%s", st.msg);
    const char *dir = getenv("TMPDIR");
    snprintf(path, n, "%s/tg_dist_%llu_%s.safetensors", dir ? dir : "/tmp", (unsigned long long)pid,
             name);
}

/* Every rank waits until all got here (a sum of nothing much). */
static void barrier(void)
{
    double one = 1;
    tg_status st = {0};
    if (dist.comm.sum(dist.comm.ctx, &one, 1, TG_DT_F64, &st) != TG_OK) fail_msg("%s", st.msg);
}

/* The parameters and the training state; written by rank 0, every rank sends its rows. */
static void save(const char *path, tg_trainer *tr, toy *m)
{
    tg_status st = {0};
    const tg_comm *comm = tr->cfg.comm;
    tg_ckpt_writer *w = NULL;
    if (!comm || comm->rank == 0) {
        assert_non_null(w = tg_ckpt_writer_new());
        assert_int_equal(tg_ckpt_writer_add_params(w, m->ps, "model.", &st), TG_OK);
    }
    if (tg_trainer_save_state(tr, w, &st) != TG_OK) fail_msg("save: %s", st.msg);
    if (w && tg_ckpt_writer_save(w, path, &st) != TG_OK) fail_msg("save: %s", st.msg);
    tg_ckpt_writer_free(w);
}

static int load(const char *path, tg_trainer *tr, toy *m, tg_status *st)
{
    tg_ckpt *ck;
    int rc = tg_ckpt_open(&ck, path, 0, st);
    if (rc == TG_OK) rc = tg_ckpt_load_params(ck, m->ps, "model.", st);
    if (rc == TG_OK) rc = tg_trainer_load_state(tr, ck, path, st);
    tg_ckpt_close(ck);
    return rc;
}

/* Train 10 windows on a (a comm or NULL), save, resume on b for 10 windows; compare with 20
 * windows uninterrupted on b. A model of `hidden` units trained with optim (NULL: SGD with
 * momentum). */
static void resume_with(const tg_comm *a, const tg_comm *b, double dropout, size_t hidden,
                        const tg_optim_config *optim, const char *name)
{
    char path[512];
    shared_path(path, sizeof path, name);
    toy ma, mb, mc;
    toy_init(&ma, hidden, dropout);
    toy_init(&mb, hidden, dropout);
    toy_init(&mc, hidden, dropout);
    tg_trainer ta, tb, tc;
    trainer_init_with(&ta, &ma, 4, a, optim);
    train(&ta, 10, NULL);
    if (!a && dist.comm.rank != 0) { /* one-process runs: rank 0's file is the one */
    } else {
        save(path, &ta, &ma);
    }
    barrier(); /* the file is complete before anyone reads it */
    trainer_init_with(&tb, &mb, 4, b, optim);
    tg_status st = {0};
    if (load(path, &tb, &mb, &st) != TG_OK) fail_msg("load: %s", st.msg);
    assert_int_equal(tb.step, 10);
    train(&tb, 10, NULL);
    trainer_init_with(&tc, &mc, 4, b, optim);
    train(&tc, 20, NULL);
    if (a == b) /* same ranks: bit for bit */
        assert_memory_equal(tg_params_values(mb.ps), tg_params_values(mc.ps),
                            tg_params_numel(mb.ps) * sizeof(tg_real));
    else
        expect_same(mc.ps, mb.ps, "resumed and uninterrupted parameters");
    barrier();
    if (dist.comm.rank == 0) remove(path);
    tg_trainer_deinit(&ta);
    tg_trainer_deinit(&tb);
    tg_trainer_deinit(&tc);
    toy_deinit(&ma);
    toy_deinit(&mb);
    toy_deinit(&mc);
}

static void resume_across(const tg_comm *a, const tg_comm *b, double dropout, const char *name)
{
    resume_with(a, b, dropout, H, NULL, name);
}

/* Adam's moments, current on each rank's own run only, are gathered whole into the checkpoint:
 * 2 ranks resume on 1, 1 on 2, and 2 on 2 bit for bit. */
static void test_with_adam_a_checkpoint_continues_across_rank_counts(void **s)
{
    (void)s;
    resume_with(tg_dist_comm(&dist), NULL, 0, HBIG, adam(), "adam2to1");
    resume_with(NULL, tg_dist_comm(&dist), 0, HBIG, adam(), "adam1to2");
    resume_with(tg_dist_comm(&dist), tg_dist_comm(&dist), 0, HBIG, adam(), "adam2to2");
}

static void test_a_checkpoint_of_two_ranks_continues_on_one(void **s)
{
    (void)s;
    resume_across(tg_dist_comm(&dist), NULL, 0, "2to1");
}

static void test_a_checkpoint_of_one_process_continues_on_two_ranks(void **s)
{
    (void)s;
    resume_across(NULL, tg_dist_comm(&dist), 0, "1to2");
}

/* Rank 1 draws other masks than rank 0 (its generator is jumped), and a resumed 2-rank run with
 * dropout continues bit for bit: the file's generator is rank 0's, rank 1 jumps it again. */
static void test_with_dropout_two_ranks_resume_bit_for_bit(void **s)
{
    (void)s;
    toy m;
    toy_init(&m, H, 0.3);
    tg_trainer tr;
    trainer_init(&tr, &m, 4, tg_dist_comm(&dist));
    uint64_t s0 = m.rng.s[0];
    tg_status st = {0};
    assert_int_equal(dist.comm.bcast(dist.comm.ctx, &s0, 1, TG_DT_U64, &st), TG_OK);
    assert_true((s0 == m.rng.s[0]) == (dist.comm.rank == 0));
    tg_trainer_deinit(&tr);
    toy_deinit(&m);
    resume_across(tg_dist_comm(&dist), tg_dist_comm(&dist), 0.3, "dropout");
}

static void test_rows_not_divisible_by_the_ranks_are_refused(void **s)
{
    (void)s;
    toy m;
    toy_init(&m, H, 0);
    tg_trainer tr;
    tg_trainer_config c = config(3, tg_dist_comm(&dist));
    tg_status st = {0};
    assert_int_equal(tg_trainer_init(&tr, &c, m.ps, &m.rnn, toy_window, &m, &m.rng, tok, NTOK, &st),
                     TG_EINVAL);
    assert_non_null(strstr(st.msg, "B 3 rows cannot be shared by 2 ranks"));
    double nll;
    assert_int_equal(
        tg_evaluate_shared(toy_window, &m, &m.rnn, tok, NTOK, 5, 4, tg_dist_comm(&dist), &nll, &st),
        TG_EINVAL);
    assert_non_null(strstr(st.msg, "B 5 rows cannot be shared by 2 ranks"));
    toy_deinit(&m);
}

static void test_a_checkpoint_of_another_model_is_refused(void **s)
{
    (void)s;
    char path[512];
    shared_path(path, sizeof path, "other");
    toy small, big;
    toy_init(&small, H, 0);
    toy_init(&big, H + 2, 0);
    tg_trainer ts, tb;
    trainer_init(&ts, &small, 4, tg_dist_comm(&dist));
    trainer_init(&tb, &big, 4, tg_dist_comm(&dist));
    train(&ts, 2, NULL);
    save(path, &ts, &small);
    barrier();
    size_t n = tg_params_numel(big.ps);
    tg_real *before = malloc(n * sizeof *before);
    assert_non_null(before);
    memcpy(before, tg_params_values(big.ps), n * sizeof *before);
    tg_status st = {0};
    assert_int_equal(load(path, &tb, &big, &st), TG_ESHAPE);
    if (!strstr(st.msg, "model.rnn.weight_ih_l0")) fail_msg("%s", st.msg);
    tg_ckpt *ck;
    assert_int_equal(tg_ckpt_open(&ck, path, 0, &st), TG_OK);
    assert_int_equal(tg_trainer_load_state(&tb, ck, path, &st), TG_ESHAPE);
    tg_ckpt_close(ck);
    assert_int_equal(tb.step, 0); /* as it was */
    assert_memory_equal(before, tg_params_values(big.ps), n * sizeof *before);
    barrier();
    if (dist.comm.rank == 0) remove(path);
    free(before);
    tg_trainer_deinit(&ts);
    tg_trainer_deinit(&tb);
    toy_deinit(&small);
    toy_deinit(&big);
}

/* `die PATH`: 2 ranks train; rank 0 saves after window 3; rank 1 is killed in window 5. */
static int die_mid_run(const char *path)
{
    toy m;
    toy_init(&m, H, 0);
    tg_trainer tr;
    trainer_init(&tr, &m, 4, tg_dist_comm(&dist));
    tg_status st = {0};
    double loss;
    for (int w = 1; w <= 8; w++) {
        if (w == 5 && dist.comm.rank == 1) raise(SIGKILL);
        if (tg_trainer_window(&tr, &loss, &st) < 0) {
            fprintf(stderr, "test_nn_dist: rank %zu: %s\n", dist.comm.rank, st.msg);
            tg_dist_abort(&dist, 1);
        }
        if (w == 3) save(path, &tr, &m);
    }
    return 0; /* not reached by rank 0: the run stops at window 5 */
}

/* Element i of rank k's vector: small integers, so every order of addition is exact. */
static double term(size_t i, size_t k)
{
    return (double)((i * 7 + k * 3) % 101) - 50;
}

/* Sums of 3.3 million elements (several pieces of any window size) and of 1, in place. */
static void test_the_sum_is_exact_over_several_pieces(void **state)
{
    (void)state;
    const tg_comm *c = tg_dist_comm(&dist);
    assert_non_null(c);
    size_t n = 3300001, R = c->ranks;
    float *f = malloc(n * sizeof *f);
    double *d = malloc(n * sizeof *d);
    uint64_t *u = malloc(n * sizeof *u);
    assert_true(f && d && u);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)term(i, c->rank), d[i] = term(i, c->rank) / 4, u[i] = (uint64_t)1 << c->rank;
    tg_status st = {0};
    assert_int_equal(c->sum(c->ctx, f, n, TG_DT_F32, &st), TG_OK);
    assert_int_equal(c->sum(c->ctx, d, n, TG_DT_F64, &st), TG_OK);
    assert_int_equal(c->sum(c->ctx, u, n, TG_DT_U64, &st), TG_OK);
    assert_int_equal(c->sum(c->ctx, u + n - 1, 1, TG_DT_U64, &st), TG_OK); /* summed twice */
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        double want = 0;
        for (size_t k = 0; k < R; k++) want += term(i, k);
        uint64_t all = ((uint64_t)1 << R) - 1; /* each rank's own bit */
        wrong += f[i] != (float)want || d[i] != want / 4 || u[i] != (i < n - 1 ? all : R * all);
    }
    assert_int_equal(wrong, 0);
    free(f), free(d), free(u);
}

/* The trainer's store keeps its gradients in the node's shared memory, and its values in the
 * node's one block, and refuses to grow; a second trainer of the same store sums with
 * comm->sum; after tg_trainer_deinit the store has its own blocks again, gradients kept, and the
 * next trainer gets the same shared blocks. */
static void test_a_trainer_keeps_the_gradients_in_shared_memory_until_deinit(void **state)
{
    (void)state;
    toy m;
    toy_init(&m, H, 0);
    tg_trainer tr, again;
    trainer_init(&tr, &m, 4, tg_dist_comm(&dist));
    assert_int_equal(tr.shared != NULL, shm_expected());
    assert_int_equal(tr.values != NULL, sharded_expected());
    void *block = tr.shared, *values = tr.values;
    if (values) assert_ptr_equal(tg_params_values(m.ps), values);
    if (block) {
        assert_ptr_equal(tg_params_grads(m.ps), block);
        tg_tensor *x;
        tg_status st = {0};
        assert_int_equal(tg_params_add(m.ps, "late", 2, 3, &x, &st), TG_EINVAL);
        assert_status_has(&st, TG_EINVAL, "\"late\" (2 x 3)", "bound", NULL);
    }
    trainer_init(&again, &m, 4, tg_dist_comm(&dist)); /* the same store: already bound */
    assert_null(again.shared);
    tg_trainer_deinit(&again);
    train(&tr, 2, NULL);
    tg_params_grads(m.ps)[3] = 5;
    tg_trainer_deinit(&tr);
    assert_true(tg_params_grads(m.ps) != block && tg_params_grads(m.ps)[3] == 5);
    assert_true(!values || tg_params_values(m.ps) != values);
    trainer_init(&tr, &m, 4, tg_dist_comm(&dist));
    assert_ptr_equal(tr.shared, block);
    assert_ptr_equal(tr.values, values);
    assert_true(tg_params_grads(m.ps)[3] == 5);
    tg_trainer_deinit(&tr);
    add_param(m.ps, "late", 2, 3);
    toy_deinit(&m);
}

/* 3.3 million reals in shared blocks, summed in place: every rank's block holds the exact
 * totals, and the sum of squares is tg_grad_norm's of the total, bit for bit, on every rank. */
static void test_the_shared_sum_is_exact_and_gives_the_norm_of_the_total(void **state)
{
    (void)state;
    const tg_comm *c = tg_dist_comm(&dist);
    size_t n = 3300001, R = c->ranks;
    void *block = NULL;
    tg_status st = {0};
    assert_int_equal(c->share(c->ctx, n, TG_DT_REAL, &block, &st), TG_OK);
    assert_int_equal(block != NULL, shm_expected());
    if (!block) return;
    tg_params *ps = tg_params_new();
    add_param(ps, "g", n, 1);
    assert_int_equal(tg_params_bind_grads(ps, block, &st), TG_OK);
    tg_real *v = block;
    for (size_t i = 0; i < n; i++) v[i] = (tg_real)(term(i, c->rank) / 4);
    double sumsq = 0;
    assert_int_equal(c->sum_shared(c->ctx, block, &sumsq, &st), TG_OK);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        double want = 0;
        for (size_t k = 0; k < R; k++) want += term(i, k);
        wrong += v[i] != (tg_real)(want / 4);
    }
    assert_int_equal(wrong, 0);
    assert_true(sqrt(sumsq) == tg_grad_norm(ps) && sumsq > 0);
    double rank0 = sumsq;
    assert_int_equal(c->bcast(c->ctx, &rank0, 1, TG_DT_F64, &st), TG_OK);
    assert_memory_equal(&rank0, &sumsq, sizeof sumsq);
    assert_int_equal(tg_params_unbind_grads(ps, &st), TG_OK);
    c->unshare(c->ctx, block);
    tg_params_free(ps);
}

/* share_node gives every rank of the machine the same memory and runs that are disjoint and cover
 * the store; sum_scatter leaves the exact total in each rank's own run of its block, zeros
 * elsewhere in every block, and the sum of squares of sum_shared, bit for bit. With the ranks on
 * several machines share_node gives no block and sum_scatter refuses, naming them. */
static void test_the_scattered_sum_leaves_each_rank_the_total_of_its_own_run(void **state)
{
    (void)state;
    const tg_comm *c = tg_dist_comm(&dist);
    size_t n = 3300001, lo = 0, hi = 0;
    void *block = NULL, *node = NULL;
    tg_status st = {0};
    assert_int_equal(c->share_node(c->ctx, n, TG_DT_REAL, &node, &lo, &hi, &st), TG_OK);
    assert_int_equal(node != NULL, sharded_expected());
    if (!node) { /* several machines (or no shared memory): a scattered sum is refused */
        assert_int_equal(c->share(c->ctx, n, TG_DT_REAL, &block, &st), TG_OK);
        if (!block) return; /* no shared memory at all */
        double sq;
        assert_int_equal(c->sum_scatter(c->ctx, block, &sq, &st), TG_EINVAL);
        assert_status_has(&st, TG_EINVAL, "tg_comm sum_scatter", "machines", NULL);
        c->unshare(c->ctx, block);
        return;
    }
    size_t run[2] = {lo, hi}, all[4];
    assert_int_equal(c->gather(c->ctx, run, all, 2, TG_DT_U64, &st), TG_OK);
    assert_int_equal(c->bcast(c->ctx, all, 4, TG_DT_U64, &st), TG_OK);
    assert_true(all[0] == 0 && all[1] == all[2] && all[3] == n && lo < hi);
    tg_real *v = node;
    for (size_t i = lo; i < hi; i++) v[i] = (tg_real)(c->rank + 1); /* my run of the one block */
    assert_int_equal(c->sync(c->ctx, &st), TG_OK);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += v[i] != (tg_real)(i < all[1] ? 1 : 2);
    assert_int_equal(c->share(c->ctx, n, TG_DT_REAL, &block, &st), TG_OK);
    assert_non_null(block);
    tg_real *g = block;
    double sumsq = 0, norm = 0;
    for (size_t i = 0; i < n; i++) g[i] = (tg_real)(term(i, c->rank) / 4);
    assert_int_equal(c->sum_shared(c->ctx, block, &norm, &st), TG_OK);
    for (size_t i = 0; i < n; i++) g[i] = (tg_real)(term(i, c->rank) / 4);
    assert_int_equal(c->sum_scatter(c->ctx, block, &sumsq, &st), TG_OK);
    for (size_t i = 0; i < n; i++) {
        double want = 0;
        for (size_t k = 0; k < c->ranks; k++) want += term(i, k);
        wrong += g[i] != (i >= lo && i < hi ? (tg_real)(want / 4) : 0);
    }
    assert_int_equal(wrong, 0);
    assert_memory_equal(&sumsq, &norm, sizeof sumsq);
    c->unshare(c->ctx, block);
    c->unshare(c->ctx, node);
}

/* 2^44 reals a rank (64 TiB and more) cannot be had from any node's shared memory: every rank
 * gets no block and no error, and the ranks still talk. */
static void test_a_block_too_large_for_shared_memory_is_refused_on_every_rank(void **state)
{
    (void)state;
    const tg_comm *c = tg_dist_comm(&dist);
    void *block = &block;
    tg_status st = {0};
    assert_int_equal(c->share(c->ctx, (size_t)1 << 44, TG_DT_REAL, &block, &st), TG_OK);
    assert_null(block);
    double one = 1;
    assert_int_equal(c->sum(c->ctx, &one, 1, TG_DT_F64, &st), TG_OK);
    assert_true(one == (double)c->ranks);
}

/* `verify PATH` (one process): the checkpoint is whole and holds 3 windows. */
static int verify(const char *path)
{
    toy m;
    toy_init(&m, H, 0);
    tg_trainer tr;
    trainer_init(&tr, &m, 4, NULL);
    tg_status st = {0};
    if (load(path, &tr, &m, &st) != TG_OK) return fprintf(stderr, "%s\n", st.msg), 1;
    printf("%s: whole, %llu windows trained\n", path, (unsigned long long)tr.step);
    return tr.step == 3 ? 0 : 1;
}

int main(int argc, char **argv)
{
    tg_status st = {0};
    if (tg_dist_init(&dist, &argc, &argv, &st) != TG_OK) return fprintf(stderr, "%s\n", st.msg), 1;
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (size_t i = 0; i < NTOK; i++) /* a stream with some structure to learn */
        tok[i] = (int32_t)((i % 5 == 0 ? tg_rng_below(&r, V) : (3 * i) % V));
    if (argc == 3 && strcmp(argv[1], "die") == 0) return die_mid_run(argv[2]);
    if (argc == 3 && strcmp(argv[1], "verify") == 0) return verify(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_ranks_of_half_the_rows_follow_one_process_of_all),
        cmocka_unit_test(test_with_adam_two_ranks_follow_one_process),
        cmocka_unit_test(test_with_adam_a_checkpoint_continues_across_rank_counts),
        cmocka_unit_test(test_a_checkpoint_of_two_ranks_continues_on_one),
        cmocka_unit_test(test_a_checkpoint_of_one_process_continues_on_two_ranks),
        cmocka_unit_test(test_with_dropout_two_ranks_resume_bit_for_bit),
        cmocka_unit_test(test_rows_not_divisible_by_the_ranks_are_refused),
        cmocka_unit_test(test_a_checkpoint_of_another_model_is_refused),
        cmocka_unit_test(test_the_sum_is_exact_over_several_pieces),
        cmocka_unit_test(test_a_trainer_keeps_the_gradients_in_shared_memory_until_deinit),
        cmocka_unit_test(test_the_shared_sum_is_exact_and_gives_the_norm_of_the_total),
        cmocka_unit_test(test_the_scattered_sum_leaves_each_rank_the_total_of_its_own_run),
        cmocka_unit_test(test_a_block_too_large_for_shared_memory_is_refused_on_every_rank),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    tg_dist_finalize(&dist);
    return failed;
}
