/* profile.c: bench_train --profile, where a training step's time goes.
 *
 * The library has no timers: this file sits beside bench_train and sees the step through the
 * linker's --wrap of a few calls that cross object files (benchmarks/meson.build lists them).
 * A window runs as usual; its parts are measured like this:
 *   - tg_tape_reset starts the window's forward, tg_backward ends it.
 *   - At tg_backward, before the real walk, every recorded node's forward runs once more on its
 *     own, timed by op (the forward is a pure function of the inputs: the loss must come out
 *     bit for bit the same, which prof_report checks). The forward's wall time minus these is
 *     the tape's own recording cost. This replay is not counted in the step.
 *   - During the walk each node's op is a proxy whose backward times the real one. The walk's
 *     wall time minus the ops' is the tape's (walk, gradient buffers, stacking copies).
 *   - Every product (tgi_blis_gemm: ops/blis.c's call of BLIS; bli_sgemm_ex, bli_sgemv_ex; and
 *     tgi_small_product: ops/smallmm.c's products of few rows, which read the weight in place)
 *     during the replay and the walk is timed
 *     and filed by the weight it reads or writes: the decoder's, an input side's (W_ih, over all
 *     steps at once), a recurrent weight's (W_hh, per step); products run after the walk, with
 *     no node's backward open, are the deferred weight gradients. An op's own time excludes
 *     the products it calls (the timers form a stack).
 *   - tg_grad_norm, tg_optim_step_scaled and tg_optim_step_range (a data-parallel rank's share
 *     of the step) are clipping and the optimizer.
 * Each distinct product shape is then run again by BLIS alone (same kernels and threads, warm,
 * best of several loops), for "BLIS alone on the same shapes".
 *
 * Read next: benchmarks/bench_train.c (which calls prof_*), benchmarks/README.md (the tables).
 */
#define _POSIX_C_SOURCE 200809L
#include "benchmarks/profile.h"

#include "nn/optim.h"
#include "ops/internal.h"

#include <blis.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- Exclusive times: open timers form a stack; a closing one tells its parent how long it
 * took, so the parent's own time leaves it out. ---- */
typedef struct frame {
    double t0, child;
    struct frame *up;
} frame;

static frame *top; /* innermost open timer, NULL outside every op and product */

static void enter(frame *f)
{
    f->child = 0;
    f->up = top;
    top = f;
    f->t0 = now();
}

static double leave(frame *f) /* the frame's own seconds */
{
    double dt = now() - f->t0;
    top = f->up;
    if (top) top->child += dt;
    return dt - f->child;
}

/* ---- Where the step is ---- */
enum { OFF, FORWARD, REPLAY, WALK, AFTER };
static int on, phase = OFF, mismatch;
static double window_t0;

/* ---- What is added up in a window. Each window's sums are kept, and the report gives the
 * median over windows of each: on a shared machine a window that lost the CPU moves a sum a
 * lot and a median little. ---- */
enum { K_DECODER, K_INPUT, K_RECURRENT, K_DEFERRED, K_OTHER, N_KINDS };
enum { MAX_OPS = 64 };
enum {
    A_WINDOW,  /* from one tg_tape_reset to the next, less the replay */
    A_FORWARD, /* from tg_tape_reset to tg_backward */
    A_REPLAY,  /* the replayed forward (not part of the step) */
    A_WALK,    /* tg_backward */
    A_OPTIM,   /* tg_grad_norm, tg_optim_step_scaled, tg_optim_step_range */
    A_PROD_REPLAY,
    A_PROD_WALK,
    A_KIND,                      /* N_KINDS product kinds */
    A_OP_FWD = A_KIND + N_KINDS, /* MAX_OPS ops' own forward */
    A_OP_BWD = A_OP_FWD + MAX_OPS,
    N_ACC = A_OP_BWD + MAX_OPS
};
static double acc[N_ACC], *hist; /* this window's sums; earlier windows', N_ACC each */
static size_t windows, max_windows;
static const char *const kind_name[N_KINDS] = {
    "products: decoder (forward, dx, dW)",
    "products: input side over all steps (forward, dx, dW)",
    "products: recurrent, per step (forward, dh)",
    "products: deferred weight gradients (after the walk)",
    "products: other",
};

typedef struct weight {
    const float *val, *grad;
    size_t n;
    int kind;
} weight;

static weight weights[64];
static size_t n_weights;

enum { CALL_GEMM, CALL_GEMV, CALL_SMALL }; /* key.gemv: bli_sgemm_ex, bli_sgemv_ex, smallmm */

typedef struct key { /* all long: compared with memcmp, no padding */
    long gemv, kind, ta, tb, zero_beta, threads, m, n, k, rsa, csa, rsb, csb, rsc, csc;
} key;

typedef struct call {
    key k;
    size_t count;
    double sec, alone; /* in place; BLIS alone, one call */
} call;

static call calls[512];
static size_t n_calls, lost_calls;

static int within(const float *p, const float *base, size_t n)
{
    return base && p >= base && p < base + n;
}

static int kind_of(const float *a, const float *b, const float *c)
{
    if (phase == WALK && !top) return K_DEFERRED;
    for (size_t i = 0; i < n_weights; i++) {
        const weight *w = &weights[i];
        if (within(c, w->grad, w->n) || within(a, w->val, w->n) || within(b, w->val, w->n))
            return w->kind;
    }
    return K_OTHER;
}

static void record(const key *k, double sec)
{
    acc[A_KIND + k->kind] += sec;
    acc[phase == REPLAY ? A_PROD_REPLAY : A_PROD_WALK] += sec;
    static size_t last;
    if (last < n_calls && memcmp(&calls[last].k, k, sizeof *k) == 0) goto found;
    for (last = 0; last < n_calls; last++)
        if (memcmp(&calls[last].k, k, sizeof *k) == 0) goto found;
    if (n_calls == sizeof calls / sizeof calls[0]) {
        lost_calls++;
        return;
    }
    calls[n_calls++] = (call){*k, 0, 0, 0};
found:
    calls[last].count++;
    calls[last].sec += sec;
}

static int timing_products(void)
{
    return on && (phase == REPLAY || phase == WALK);
}

void __real_bli_sgemm_ex(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, float *alpha, float *a,
                         inc_t rsa, inc_t csa, float *b, inc_t rsb, inc_t csb, float *beta,
                         float *c, inc_t rsc, inc_t csc, cntx_t *cntx, rntm_t *rntm);
void __wrap_bli_sgemm_ex(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, float *alpha, float *a,
                         inc_t rsa, inc_t csa, float *b, inc_t rsb, inc_t csb, float *beta,
                         float *c, inc_t rsc, inc_t csc, cntx_t *cntx, rntm_t *rntm);
void __real_bli_sgemv_ex(trans_t ta, conj_t cx, dim_t m, dim_t n, float *alpha, float *a, inc_t rsa,
                         inc_t csa, float *x, inc_t incx, float *beta, float *y, inc_t incy,
                         cntx_t *cntx, rntm_t *rntm);
void __wrap_bli_sgemv_ex(trans_t ta, conj_t cx, dim_t m, dim_t n, float *alpha, float *a, inc_t rsa,
                         inc_t csa, float *x, inc_t incx, float *beta, float *y, inc_t incy,
                         cntx_t *cntx, rntm_t *rntm);

void __wrap_bli_sgemm_ex(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, float *alpha, float *a,
                         inc_t rsa, inc_t csa, float *b, inc_t rsb, inc_t csb, float *beta,
                         float *c, inc_t rsc, inc_t csc, cntx_t *cntx, rntm_t *rntm)
{
    if (!timing_products()) {
        __real_bli_sgemm_ex(ta, tb, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc,
                            cntx, rntm);
        return;
    }
    key kk = {CALL_GEMM,
              kind_of(a, b, c),
              ta != BLIS_NO_TRANSPOSE,
              tb != BLIS_NO_TRANSPOSE,
              *beta == 0,
              rntm ? (long)bli_rntm_num_threads(rntm) : 1,
              m,
              n,
              k,
              rsa,
              csa,
              rsb,
              csb,
              rsc,
              csc};
    frame f;
    enter(&f);
    __real_bli_sgemm_ex(ta, tb, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, cntx,
                        rntm);
    record(&kk, leave(&f));
}

void __wrap_bli_sgemv_ex(trans_t ta, conj_t cx, dim_t m, dim_t n, float *alpha, float *a, inc_t rsa,
                         inc_t csa, float *x, inc_t incx, float *beta, float *y, inc_t incy,
                         cntx_t *cntx, rntm_t *rntm)
{
    if (!timing_products()) {
        __real_bli_sgemv_ex(ta, cx, m, n, alpha, a, rsa, csa, x, incx, beta, y, incy, cntx, rntm);
        return;
    }
    key kk = {CALL_GEMV,
              kind_of(a, x, y),
              ta != BLIS_NO_TRANSPOSE,
              0,
              *beta == 0,
              1,
              m,
              n,
              1,
              rsa,
              csa,
              incx,
              0,
              incy,
              0};
    frame f;
    enter(&f);
    __real_bli_sgemv_ex(ta, cx, m, n, alpha, a, rsa, csa, x, incx, beta, y, incy, cntx, rntm);
    record(&kk, leave(&f));
}

void __real_tgi_blis_gemm(int ta, int tb, size_t m, size_t n, size_t k, const float *a,
                          const float *b, float beta, float *c, long threads);
void __wrap_tgi_blis_gemm(int ta, int tb, size_t m, size_t n, size_t k, const float *a,
                          const float *b, float beta, float *c, long threads);

/* tapegrad's own BLIS call (ops/blis.c: the object API with its packer), filed as the same
 * product through bli_sgemm_ex with contiguous rows, which "BLIS alone" runs. */
void __wrap_tgi_blis_gemm(int ta, int tb, size_t m, size_t n, size_t k, const float *a,
                          const float *b, float beta, float *c, long threads)
{
    if (!timing_products()) {
        __real_tgi_blis_gemm(ta, tb, m, n, k, a, b, beta, c, threads);
        return;
    }
    long rsa = ta ? (long)m : (long)k, rsb = tb ? (long)k : (long)n;
    key kk = {CALL_GEMM, kind_of(a, b, c), ta,      tb,  beta == 0, threads,
              (long)m,   (long)n,          (long)k, rsa, 1,         rsb,
              1,         (long)n,          1};
    frame f;
    enter(&f);
    __real_tgi_blis_gemm(ta, tb, m, n, k, a, b, beta, c, threads);
    record(&kk, leave(&f));
}

int __real_tgi_small_product(int ta, int tb, size_t m, size_t n, size_t k, const float *a,
                             const float *b, float beta, float *c);
int __wrap_tgi_small_product(int ta, int tb, size_t m, size_t n, size_t k, const float *a,
                             const float *b, float beta, float *c);

/* Filed with the strides of the same product through bli_sgemm_ex, which "BLIS alone" runs. */
int __wrap_tgi_small_product(int ta, int tb, size_t m, size_t n, size_t k, const float *a,
                             const float *b, float beta, float *c)
{
    if (!timing_products()) return __real_tgi_small_product(ta, tb, m, n, k, a, b, beta, c);
    long threads = tgi_threads_for(m * n * k, 1 << 19), rsb = tb ? (long)k : (long)n;
    long rsa = ta ? (long)m : (long)k;
    key kk = {CALL_SMALL, kind_of(a, b, c), ta,      tb,  beta == 0, threads,
              (long)m,    (long)n,          (long)k, rsa, 1,         rsb,
              1,          (long)n,          1};
    frame f;
    enter(&f);
    int done = __real_tgi_small_product(ta, tb, m, n, k, a, b, beta, c);
    double sec = leave(&f);
    if (done) record(&kk, sec);
    return done;
}

static double flops(const key *k)
{
    return 2.0 * (double)k->m * (double)k->n * (double)k->k;
}

/* ---- Ops: each node's forward replayed and timed, its backward timed through a proxy ---- */
typedef struct opstat {
    const tg_op *op;
    size_t index; /* in stats[] */
    size_t nf, nb;
} opstat;

typedef struct proxy {
    tg_op op; /* first: a node's op pointer points here during the walk */
    const tg_op *orig;
    opstat *stat;
} proxy;

static opstat stats[MAX_OPS];
static proxy proxies[MAX_OPS];
static size_t n_ops;

static size_t op_index(const tg_op *op)
{
    for (size_t i = 0; i < n_ops; i++)
        if (stats[i].op == op) return i;
    if (n_ops == sizeof stats / sizeof stats[0]) return SIZE_MAX;
    stats[n_ops] = (opstat){op, n_ops, 0, 0};
    return n_ops++;
}

static void timed_backward(tg_tape *t, tg_tensor *y)
{
    const proxy *p = (const proxy *)y->op;
    frame f;
    enter(&f);
    p->orig->backward(t, y);
    acc[A_OP_BWD + p->stat->index] += leave(&f);
    p->stat->nb++;
}

static int is_proxy(const tg_op *op)
{
    return op >= &proxies[0].op && (const void *)op < (const void *)&proxies[n_ops];
}

static void replay(tg_tape *t, tg_tensor **nodes, size_t n, const tg_tensor *loss)
{
    float before = loss->val[0];
    phase = REPLAY;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        const tg_op *op = nodes[i]->op;
        size_t s = op && op->forward ? op_index(op) : SIZE_MAX;
        if (s == SIZE_MAX) continue;
        frame f;
        enter(&f);
        op->forward(t, nodes[i]);
        acc[A_OP_FWD + s] += leave(&f);
        stats[s].nf++;
    }
    acc[A_REPLAY] += now() - t0;
    if (memcmp(&before, &loss->val[0], sizeof before) != 0) mismatch = 1;
}

static void install_proxies(tg_tensor **nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const tg_op *op = nodes[i]->op;
        size_t s = op && op->backward ? op_index(op) : SIZE_MAX;
        if (s == SIZE_MAX) continue;
        proxies[s] = (proxy){*op, op, &stats[s]};
        proxies[s].op.backward = timed_backward;
        nodes[i]->op = &proxies[s].op;
    }
}

static void remove_proxies(tg_tensor **nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (nodes[i]->op && is_proxy(nodes[i]->op))
            nodes[i]->op = ((const proxy *)nodes[i]->op)->orig;
}

/* ---- The window's boundaries ---- */
void __real_tg_tape_reset(tg_tape *t);
void __wrap_tg_tape_reset(tg_tape *t);
int __real_tg_backward(tg_tape *t, tg_tensor *loss);
int __wrap_tg_backward(tg_tape *t, tg_tensor *loss);
double __real_tg_grad_norm(tg_params *ps);
double __wrap_tg_grad_norm(tg_params *ps);
int __real_tg_optim_step_scaled(tg_optim *o, double grad_scale, int zero_grad, tg_status *st);
int __wrap_tg_optim_step_scaled(tg_optim *o, double grad_scale, int zero_grad, tg_status *st);
int __real_tg_optim_step_range(tg_optim *o, size_t lo, size_t hi, double grad_scale, int zero_grad,
                               tg_status *st);
int __wrap_tg_optim_step_range(tg_optim *o, size_t lo, size_t hi, double grad_scale, int zero_grad,
                               tg_status *st);

/* Closes the window that started at window_t0, if one did. */
static void close_window(double t)
{
    if (phase == OFF || windows == max_windows) return;
    acc[A_WINDOW] = t - window_t0 - acc[A_REPLAY];
    memcpy(hist + windows++ * N_ACC, acc, sizeof acc);
    memset(acc, 0, sizeof acc);
}

void __wrap_tg_tape_reset(tg_tape *t)
{
    if (!on) {
        __real_tg_tape_reset(t);
        return;
    }
    close_window(now());
    __real_tg_tape_reset(t);
    phase = FORWARD;
    window_t0 = now();
}

int __wrap_tg_backward(tg_tape *t, tg_tensor *loss)
{
    if (!on || phase != FORWARD || !loss) return __real_tg_backward(t, loss);
    acc[A_FORWARD] += now() - window_t0;
    size_t n = t->n_nodes;
    tg_tensor **nodes = t->nodes;
    replay(t, nodes, n, loss);
    install_proxies(nodes, n);
    phase = WALK;
    double t0 = now();
    int rc = __real_tg_backward(t, loss);
    acc[A_WALK] += now() - t0;
    remove_proxies(nodes, n);
    phase = AFTER;
    return rc;
}

double __wrap_tg_grad_norm(tg_params *ps)
{
    if (!on) return __real_tg_grad_norm(ps);
    double t0 = now(), norm = __real_tg_grad_norm(ps);
    acc[A_OPTIM] += now() - t0;
    return norm;
}

int __wrap_tg_optim_step_scaled(tg_optim *o, double grad_scale, int zero_grad, tg_status *st)
{
    if (!on) return __real_tg_optim_step_scaled(o, grad_scale, zero_grad, st);
    double t0 = now();
    int rc = __real_tg_optim_step_scaled(o, grad_scale, zero_grad, st);
    acc[A_OPTIM] += now() - t0;
    return rc;
}

/* A data-parallel rank's share of the step (the sharded step on one machine). */
int __wrap_tg_optim_step_range(tg_optim *o, size_t lo, size_t hi, double grad_scale, int zero_grad,
                               tg_status *st)
{
    if (!on) return __real_tg_optim_step_range(o, lo, hi, grad_scale, zero_grad, st);
    double t0 = now();
    int rc = __real_tg_optim_step_range(o, lo, hi, grad_scale, zero_grad, st);
    acc[A_OPTIM] += now() - t0;
    return rc;
}

/* ---- Set-up ---- */
void prof_init(tg_params *ps)
{
    for (size_t i = 0; i < tg_params_count(ps) && n_weights < 64; i++) {
        const char *name = tg_params_name(ps, i);
        int kind = strcmp(name, "decoder.weight") == 0 ? K_DECODER
                   : strstr(name, "weight_ih")         ? K_INPUT
                   : strstr(name, "weight_hh")         ? K_RECURRENT
                                                       : -1;
        tg_tensor *w = tg_params_get(ps, i);
        if (kind >= 0) weights[n_weights++] = (weight){w->val, w->grad, tg_numel(w), kind};
    }
}

int prof_start(size_t windows_at_most)
{
    free(hist);
    hist = malloc(windows_at_most * sizeof acc);
    if (!hist) return 0;
    max_windows = windows_at_most;
    windows = 0;
    memset(acc, 0, sizeof acc);
    on = 1;
    phase = OFF;
    return 1;
}

void prof_stop(void)
{
    close_window(now());
    on = 0;
    phase = OFF;
}

/* ---- BLIS alone on one recorded shape: seconds a call, warm, best of 5 loops ---- */
static size_t extent(long rows, long cols, long rs, long cs)
{
    long e = (rows - 1) * (rs < 0 ? -rs : rs) + (cols - 1) * (cs < 0 ? -cs : cs) + 1;
    return rows > 0 && cols > 0 ? (size_t)e : 1;
}

static void run_alone(const key *k, float *a, float *b, float *c)
{
    float one = 1, beta = k->zero_beta ? 0.0f : 1.0f;
    trans_t ta = k->ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    if (k->gemv == CALL_GEMV) {
        __real_bli_sgemv_ex(ta, BLIS_NO_CONJUGATE, k->m, k->n, &one, a, k->rsa, k->csa, b, k->rsb,
                            &beta, c, k->rsc, tgi_blis_context(), NULL);
        return;
    }
    rntm_t rntm;
    bli_rntm_init_from_global(&rntm);
    bli_rntm_set_num_threads(k->threads, &rntm);
    __real_bli_sgemm_ex(ta, k->tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, k->m, k->n, k->k, &one, a,
                        k->rsa, k->csa, b, k->rsb, k->csb, &beta, c, k->rsc, k->csc,
                        tgi_blis_context(), &rntm);
}

static double alone(const key *k)
{
    size_t na, nb, nc;
    if (k->gemv == CALL_GEMV) { /* a (m x n) stored, x and y vectors */
        na = extent(k->m, k->n, k->rsa, k->csa);
        nb = extent(k->ta ? k->m : k->n, 1, k->rsb, 1);
        nc = extent(k->ta ? k->n : k->m, 1, k->rsc, 1);
    } else {
        na = k->ta ? extent(k->k, k->m, k->rsa, k->csa) : extent(k->m, k->k, k->rsa, k->csa);
        nb = k->tb ? extent(k->n, k->k, k->rsb, k->csb) : extent(k->k, k->n, k->rsb, k->csb);
        nc = extent(k->m, k->n, k->rsc, k->csc);
    }
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = calloc(nc, sizeof *c);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < na; i++) a[i] = 0.01f * (float)(i % 7);
        for (size_t i = 0; i < nb; i++) b[i] = 0.01f * (float)(i % 5);
        size_t reps = 1; /* calls in a loop of at least 2 ms */
        for (double t0 = 0; reps < ((size_t)1 << 30); reps *= 2) {
            t0 = now();
            for (size_t r = 0; r < reps; r++) run_alone(k, a, b, c);
            if (now() - t0 >= 2e-3) break;
        }
        for (int loop = 0; loop < 5; loop++) {
            double t0 = now();
            for (size_t r = 0; r < reps; r++) run_alone(k, a, b, c);
            double sec = (now() - t0) / (double)reps;
            if (loop == 0 || sec < best) best = sec;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* ---- The report ---- */
enum { F_XENT, F_ELEMENTWISE, F_EMBED, F_PRODUCT_OWN, N_FAMILIES };
static const char *const family_name[N_FAMILIES] = {
    "softmax-xent (forward, backward)",
    "element-wise and shape ops (forward, backward)",
    "embedding (forward, backward)",
    "products' own work: tg_addmm's bias copy and sum",
};

static int family(const char *name)
{
    if (strcmp(name, "tg_softmax_xent") == 0) return F_XENT;
    if (strcmp(name, "tg_embedding") == 0) return F_EMBED;
    if (strcmp(name, "tg_matmul") == 0 || strcmp(name, "tg_addmm") == 0) return F_PRODUCT_OWN;
    return F_ELEMENTWISE;
}

static void row(FILE *f, const char *what, double sec, double step, const char *extra)
{
    fprintf(f, "| %s | %.3f | %.1f%% | %s |\n", what, 1e3 * sec, 100 * sec / step, extra);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median over the windows of sum i. */
static double med(size_t i)
{
    static double v[4096];
    size_t n = windows < 4096 ? windows : 4096;
    for (size_t w = 0; w < n; w++) v[w] = hist[w * N_ACC + i];
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Per kind: the median time a step, the GFLOP/s that makes of a step's products, and BLIS
 * alone's on the same calls. */
static void product_rows(FILE *f, double step)
{
    double sec[N_KINDS] = {0}, fl[N_KINDS] = {0}, al[N_KINDS] = {0};
    for (size_t i = 0; i < n_calls; i++) {
        call *c = &calls[i];
        c->alone = alone(&c->k);
        sec[c->k.kind] += c->sec;
        fl[c->k.kind] += flops(&c->k) * (double)c->count;
        al[c->k.kind] += c->alone * (double)c->count;
    }
    for (int k = 0; k < N_KINDS; k++) {
        if (sec[k] == 0) continue;
        char extra[96];
        double m = med(A_KIND + k), per_step = fl[k] / (double)windows;
        snprintf(extra, sizeof extra, "%.1f | %.1f", 1e-9 * per_step / m, 1e-9 * fl[k] / al[k]);
        row(f, kind_name[k], med(A_KIND + k), step, extra);
    }
}

static void shape_rows(FILE *f, double per)
{
    fprintf(f, "\n| product kind | call | op(a) x op(b) | threads | calls a step | ms a step "
               "| GFLOP/s, all windows | BLIS alone |\n|---|---|---|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < N_KINDS; k++)
        for (size_t i = 0; i < n_calls; i++) {
            const call *c = &calls[i];
            if (c->k.kind != k) continue;
            char shape[96];
            if (c->k.gemv == CALL_GEMV)
                snprintf(shape, sizeof shape, "(%ld x %ld)%s.(%ld)", c->k.m, c->k.n,
                         c->k.ta ? "^T" : "", c->k.n);
            else
                snprintf(shape, sizeof shape, "(%ld x %ld)%s.(%ld x %ld)%s", c->k.m, c->k.k,
                         c->k.ta ? " a^T" : "", c->k.k, c->k.n, c->k.tb ? " b^T" : "");
            fprintf(f, "| %s | %s | %s | %ld | %.1f | %.3f | %.1f | %.1f |\n", kind_name[k] + 10,
                    c->k.gemv == CALL_GEMV ? "gemv"
                    : c->k.gemv            ? "in place"
                                           : "gemm",
                    shape, c->k.threads, (double)c->count * per, 1e3 * c->sec * per,
                    1e-9 * flops(&c->k) * (double)c->count / c->sec,
                    1e-9 * flops(&c->k) / c->alone);
        }
}

/* The window's median time less the medians of the parts measured inside it. */
static double rest(size_t whole, size_t prod, size_t ops)
{
    double r = med(whole) - med(prod);
    for (size_t i = 0; i < n_ops; i++) r -= med(ops + i);
    return r;
}

int prof_report(FILE *f, size_t steps)
{
    if (windows == 0) return fprintf(f, "profile: no window was profiled\n"), 1;
    double per = 1.0 / (double)windows, step = med(A_WINDOW);
    double fam_sec[N_FAMILIES] = {0};
    for (size_t i = 0; i < n_ops; i++)
        fam_sec[family(stats[i].op->name)] += med(A_OP_FWD + i) + med(A_OP_BWD + i);
    fprintf(f,
            "\nprofile: %zu windows (%zu asked), median %.3f ms a step (each part: its median "
            "over the windows)\n\n",
            windows, steps, 1e3 * step);
    fprintf(f, "| part | ms a step | share | GFLOP/s | BLIS alone, same shapes |\n"
               "|---|---:|---:|---:|---:|\n");
    product_rows(f, step);
    for (int k = 0; k < N_FAMILIES; k++) row(f, family_name[k], fam_sec[k], step, " | ");
    row(f, "clipping and the optimizer", med(A_OPTIM), step, " | ");
    row(f, "the tape: recording", rest(A_FORWARD, A_PROD_REPLAY, A_OP_FWD), step, " | ");
    row(f, "the tape: walk, gradient buffers, stacking", rest(A_WALK, A_PROD_WALK, A_OP_BWD), step,
        " | ");
    row(f, "the rest (batcher, carry, timers)", step - med(A_FORWARD) - med(A_WALK) - med(A_OPTIM),
        step, " | ");
    fprintf(f, "\n| op | forward ms a step | backward ms a step | nodes a step |\n"
               "|---|---:|---:|---:|\n");
    for (size_t i = 0; i < n_ops; i++)
        fprintf(f, "| %s | %.3f | %.3f | %.0f |\n", stats[i].op->name, 1e3 * med(A_OP_FWD + i),
                1e3 * med(A_OP_BWD + i), (double)stats[i].nf * per);
    shape_rows(f, per);
    if (lost_calls) fprintf(f, "(%zu products of unlisted shapes not counted)\n", lost_calls);
    if (mismatch) fprintf(f, "profile: the replayed forward changed the loss; figures invalid\n");
    return mismatch;
}
