/* test_nn_torch.c: 2-layer RNN (tanh), LSTM and GRU stacks (nn/rnn.h) against PyTorch.
 *
 * Reads only the fixtures committed under tests/data/ (written by
 * tests/tools/make_torch_fixtures.py; Python is not needed here): PyTorch's weights, input and
 * initial states are copied in, and the outputs, final states, the loss sum(output ⊙ G) and
 * every gradient (weights, input, initial states) must match. The hand-derived references
 * (nn/bptt.h), chained layer by layer, must match PyTorch too. */
#include "testutil.h"

#include <stdlib.h>

#include "nn/bptt.h"
#include "nn/params.h"
#include "nn/rnn.h"

#ifndef TG_TEST_DATA
#error "TG_TEST_DATA must name the tests/data directory (tests/meson.build sets it)"
#endif

enum { T = 5, B = 3, I = 4, H = 6, L = 2 };

/* |got - want| <= tol · max(|want|, TORCH_FLOOR): relative, absolute for values under the floor. */
#ifdef TG_DOUBLE
#define TORCH_TOL 1e-5
#else
#define TORCH_TOL 1e-4
#endif
#define TORCH_FLOOR 1e-2

/* ---- the fixture file: "<name> <rows> <cols>" then rows·cols numbers; '#' starts a comment ---- */

typedef struct {
    char name[64];
    size_t rows, cols;
    double *v;
} entry;

typedef struct {
    entry e[64];
    size_t n;
    double worst; /* the largest relative difference seen by check() */
} fixture;

static void fixture_load(fixture *fx, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TG_TEST_DATA, file);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (run tests/tools/make_torch_fixtures.py?)", path);
    memset(fx, 0, sizeof *fx);
    char line[256];
    while (fx->n < 64) {
        int c = fgetc(f);
        if (c == EOF) break;
        if (c == '#' || c == '\n') {
            if (c == '#' && !fgets(line, sizeof line, f)) break;
            continue;
        }
        ungetc(c, f);
        entry *e = &fx->e[fx->n];
        if (fscanf(f, "%63s %zu %zu", e->name, &e->rows, &e->cols) != 3)
            fail_msg("%s: bad header after %zu tensors", path, fx->n);
        e->v = malloc(e->rows * e->cols * sizeof *e->v);
        assert_non_null(e->v);
        for (size_t i = 0; i < e->rows * e->cols; i++)
            if (fscanf(f, "%lf", &e->v[i]) != 1) fail_msg("%s: %s: short of values", path, e->name);
        fx->n++;
    }
    fclose(f);
}

static void fixture_free(fixture *fx)
{
    for (size_t i = 0; i < fx->n; i++) free(fx->e[i].v);
}

static const entry *get(const fixture *fx, const char *name, size_t rows, size_t cols)
{
    for (size_t i = 0; i < fx->n; i++)
        if (!strcmp(fx->e[i].name, name)) {
            if (fx->e[i].rows != rows || fx->e[i].cols != cols)
                fail_msg("%s is (%zu x %zu) in the fixture, want (%zu x %zu)", name, fx->e[i].rows,
                         fx->e[i].cols, rows, cols);
            return &fx->e[i];
        }
    fail_msg("the fixture has no %s", name);
    return NULL;
}

static void load(tg_real *dst, const fixture *fx, const char *name, size_t rows, size_t cols)
{
    const entry *e = get(fx, name, rows, cols);
    for (size_t i = 0; i < rows * cols; i++) dst[i] = (tg_real)e->v[i];
}

/* got (n values, from row `from` of the fixture's tensor) against the fixture. */
static void check(fixture *fx, const char *name, size_t rows, size_t cols, size_t from,
                  const tg_real *got, size_t n)
{
    const entry *e = get(fx, name, rows, cols);
    for (size_t i = 0; i < n; i++) {
        double want = e->v[from * cols + i], d = fabs((double)got[i] - want);
        double rel = d / fmax(fabs(want), TORCH_FLOOR);
        if (!(rel <= TORCH_TOL))
            fail_msg("%s[%zu]: got %.17g, PyTorch %.17g (rel %.3g)", name, from * cols + i,
                     (double)got[i], want, rel);
        fx->worst = fmax(fx->worst, rel);
    }
}

/* ---- the stack on the tape ---- */

typedef struct {
    tg_params *ps;
    tg_rnn rnn;
    tg_tensor *x, *h0[L], *c0[L];
} model;

static void model_init(model *m, const fixture *fx, const tg_cell_type *kind)
{
    memset(m, 0, sizeof *m);
    m->ps = tg_params_new();
    assert_int_equal(tg_rnn_init(&m->rnn, m->ps, NULL, kind, I, H, L, 0, NULL, NULL), TG_OK);
    for (size_t i = 0; i < tg_params_count(m->ps); i++) {
        tg_tensor *p = tg_params_get(m->ps, i);
        load(p->val, fx, tg_params_name(m->ps, i), p->rows, p->cols);
    }
    m->x = tg_tensor_new(T * B, I, 1);
    load(m->x->val, fx, "x", T * B, I);
    tg_real s[L * B * H];
    load(s, fx, "h0", L * B, H);
    for (size_t k = 0; k < L; k++) {
        m->h0[k] = tg_tensor_new(B, H, 1);
        memcpy(m->h0[k]->val, s + k * B * H, sizeof(tg_real) * B * H);
    }
    if (kind->n_states < 2) return;
    load(s, fx, "c0", L * B, H);
    for (size_t k = 0; k < L; k++) {
        m->c0[k] = tg_tensor_new(B, H, 1);
        memcpy(m->c0[k]->val, s + k * B * H, sizeof(tg_real) * B * H);
    }
}

static void model_free(model *m)
{
    tg_tensor_free(m->x);
    for (size_t k = 0; k < L; k++) tg_tensor_free(m->h0[k]), tg_tensor_free(m->c0[k]);
    tg_rnn_deinit(&m->rnn);
    tg_params_free(m->ps);
}

static void check_against_torch(const tg_cell_type *kind, const char *file)
{
    fixture fx;
    fixture_load(&fx, file);
    model m;
    model_init(&m, &fx, kind);
    tg_tape *t = tg_tape_new();
    tg_state s[L];
    for (size_t k = 0; k < L; k++) s[k] = (tg_state){{m.h0[k], m.c0[k]}};
    tg_tensor *ys[T];
    assert_non_null(tg_rnn_forward_rows(t, &m.rnn, T, m.x, s, ys, NULL));
    tg_real G[T * B * H];
    load(G, &fx, "G", T * B, H);
    tg_tensor *loss = NULL;
    for (size_t k = 0; k < T; k++) {
        tg_tensor *term = tg_sum(t, tg_mul(t, ys[k], tg_input(t, B, H, G + k * B * H)));
        loss = loss ? tg_add(t, loss, term) : term; /* loss = sum(output ⊙ G) */
    }
    if (tg_backward(t, loss) != TG_OK) fail_msg("%s", tg_tape_error(t));

    for (size_t k = 0; k < T; k++) check(&fx, "output", T * B, H, k * B, ys[k]->val, B * H);
    for (size_t k = 0; k < L; k++) {
        check(&fx, "hn", L * B, H, k * B, s[k].h->val, B * H);
        check(&fx, "grad.h0", L * B, H, k * B, m.h0[k]->grad, B * H);
        if (kind->n_states < 2) continue;
        check(&fx, "cn", L * B, H, k * B, s[k].c->val, B * H);
        check(&fx, "grad.c0", L * B, H, k * B, m.c0[k]->grad, B * H);
    }
    check(&fx, "loss", 1, 1, 0, loss->val, 1);
    check(&fx, "grad.x", T * B, I, 0, m.x->grad, T * B * I);
    for (size_t i = 0; i < tg_params_count(m.ps); i++) {
        tg_tensor *p = tg_params_get(m.ps, i);
        char name[80];
        snprintf(name, sizeof name, "grad.%s", tg_params_name(m.ps, i));
        check(&fx, name, p->rows, p->cols, 0, p->grad, tg_numel(p));
    }
    print_message("%s: tape against PyTorch, worst relative difference %.3g (floor %g)\n", file,
                  fx.worst, TORCH_FLOOR);
    tg_tape_free(t);
    model_free(&m);
    fixture_free(&fx);
}

static void test_rnn_tanh_stack_matches_pytorch(void **s)
{
    (void)s;
    check_against_torch(&tg_cell_rnn, "torch_rnn_tanh.txt");
}

static void test_lstm_stack_matches_pytorch(void **s)
{
    (void)s;
    check_against_torch(&tg_cell_lstm, "torch_lstm.txt");
}

static void test_gru_stack_matches_pytorch(void **s)
{
    (void)s;
    check_against_torch(&tg_cell_gru, "torch_gru.txt");
}

/* ---- the hand-derived references, chained: layer 1's dx is layer 0's dy ---- */

typedef int (*hand_fn)(const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                       const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g,
                       tg_status *st);

static void check_reference_against_torch(const tg_cell_type *kind, hand_fn hand, const char *file)
{
    fixture fx;
    fixture_load(&fx, file);
    model m;
    model_init(&m, &fx, kind);
    tg_bptt_grads g[L];
    const tg_real *x = m.x->val;
    for (size_t k = 0; k < L; k++) { /* forward, bottom up: each layer's h is the next one's x */
        size_t in = k ? H : I;
        assert_int_equal(tg_bptt_grads_init(&g[k], kind, T, B, in, H, NULL), TG_OK);
        tg_bptt_cell w = tg_bptt_cell_of(&m.rnn.cells[k]);
        tg_real *zeros = calloc(T * B * H, sizeof *zeros);
        const tg_real *s0[2] = {m.h0[k]->val, m.c0[k] ? m.c0[k]->val : NULL};
        assert_int_equal(hand(&w, T, B, x, s0, zeros, &g[k], NULL), TG_OK);
        free(zeros);
        x = g[k].state[0];
    }
    tg_real dy[T * B * H];
    load(dy, &fx, "G", T * B, H);
    for (size_t k = L; k-- > 0;) { /* backward, top down */
        tg_bptt_cell w = tg_bptt_cell_of(&m.rnn.cells[k]);
        const tg_real *xk = k ? g[k - 1].state[0] : m.x->val;
        const tg_real *s0[2] = {m.h0[k]->val, m.c0[k] ? m.c0[k]->val : NULL};
        assert_int_equal(hand(&w, T, B, xk, s0, dy, &g[k], NULL), TG_OK);
        size_t GH = m.rnn.cells[k].p[1]->rows, in = k ? H : I;
        const struct {
            const char *what;
            const tg_real *got;
            size_t rows, cols;
        } ps[4] = {{"weight_ih", g[k].dparam[0], GH, in},
                   {"weight_hh", g[k].dparam[1], GH, H},
                   {"bias_ih", g[k].dparam[2], 1, GH},
                   {"bias_hh", g[k].dparam[3], 1, GH}};
        for (int q = 0; q < 4; q++) {
            char name[40];
            snprintf(name, sizeof name, "grad.%s_l%zu", ps[q].what, k);
            check(&fx, name, ps[q].rows, ps[q].cols, 0, ps[q].got, ps[q].rows * ps[q].cols);
        }
        check(&fx, "grad.h0", L * B, H, k * B, g[k].dstate0[0], B * H);
        if (kind->n_states > 1) check(&fx, "grad.c0", L * B, H, k * B, g[k].dstate0[1], B * H);
        if (k)
            memcpy(dy, g[k].dx, sizeof dy); /* the layer below receives this layer's dx */
        else
            check(&fx, "grad.x", T * B, I, 0, g[0].dx, T * B * I);
    }
    check(&fx, "output", T * B, H, 0, g[L - 1].state[0], T * B * H);
    print_message("%s: hand-derived reference against PyTorch, worst relative difference %.3g\n",
                  file, fx.worst);
    for (size_t k = 0; k < L; k++) tg_bptt_grads_deinit(&g[k]);
    model_free(&m);
    fixture_free(&fx);
}

static void test_hand_derived_references_chained_over_layers_match_pytorch(void **s)
{
    (void)s;
    check_reference_against_torch(&tg_cell_rnn, tg_bptt_rnn_tanh_hand, "torch_rnn_tanh.txt");
    check_reference_against_torch(&tg_cell_lstm, tg_bptt_lstm_hand, "torch_lstm.txt");
    check_reference_against_torch(&tg_cell_gru, tg_bptt_gru_hand, "torch_gru.txt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_tanh_stack_matches_pytorch),
        cmocka_unit_test(test_lstm_stack_matches_pytorch),
        cmocka_unit_test(test_gru_stack_matches_pytorch),
        cmocka_unit_test(test_hand_derived_references_chained_over_layers_match_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
