/* walk.c: tg_walk_backward, backward retold node by node (walk.h).
 *
 * The walk first runs tg_backward, so every gradient printed is the one the library computed.
 * It then goes down the tape in backward's order (recording order reversed, only the nodes the
 * loss reached) and, for each input of a node, asks the op's own backward what that input
 * received: the input's gradient is pointed at a zeroed scratch buffer for one call of the
 * node's backward (and the finish of any work it put off), then pointed back. The local
 * derivative is the same call with an upstream of ones. Views, which have no backward, pass
 * their gradient through unchanged into a window of their input's. Labels: label.c.
 *
 * Invariant: gradients are exactly as tg_backward left them when the walk returns.
 */
#include "autograd/walk.h"

#include "autograd/internal.h"
#include "autograd/show.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* n values in full ("0.5", "[1 -2 3]") when few, else their L2 norm. */
static void put_values(FILE *f, const tg_real *v, size_t n)
{
    double s = 0;
    if (n == 1) fprintf(f, "%.4g", (double)v[0]);
    if (n == 1) return;
    if (n <= TG_WALK_SHOW) {
        for (size_t i = 0; i < n; i++) fprintf(f, "%s%.4g", i ? " " : "[", (double)v[i]);
        fprintf(f, "]");
        return;
    }
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    fprintf(f, "‖%zu values‖₂ %.4g", n, sqrt(s));
}

/* "#3 (h_1)" for a node, "leaf W" or "leaf (2 x 3)" for a leaf. */
static void put_ref(FILE *f, const tg_tensor *x)
{
    if (x->op) fprintf(f, "#%zu", tgi_entry_of(x)->index);
    if (x->op && x->name) fprintf(f, " (%s)", x->name);
    if (!x->op && x->name) fprintf(f, "leaf %s", x->name);
    if (!x->op && !x->name) fprintf(f, "leaf " TG_SHAPE, TG_DIMS(x));
}

/* Scratch for one node's walk: what an input receives, the local derivative, ones, a sink for
 * what other inputs receive meanwhile, and the inputs' own gradient pointers. */
typedef struct scratch {
    tg_real *down, *local, *ones, *sink;
    tg_real **keep;
} scratch;

/* What y's backward sends to its input x when y's gradient is dy (y's own when dy is NULL):
 * written into out (numel(x) values). Every gradient is left as it was: the other inputs'
 * receive theirs into s->sink. */
static void sent(tg_tape *t, tg_tensor *y, tg_tensor *x, tg_real *dy, tg_real *out,
                 const scratch *s)
{
    tg_real *yg = y->grad;
    memset(out, 0, tg_numel(x) * sizeof *out);
    if (!y->op->backward) { /* a view: its gradient is a window of x's */
        memcpy(out + (y->val - x->val), dy ? dy : yg, tg_numel(y) * sizeof *out);
        return;
    }
    for (size_t k = 0; k < y->n_in; k++) s->keep[k] = y->in[k]->grad;
    for (size_t k = 0; k < y->n_in; k++)
        if (y->in[k]->grad) y->in[k]->grad = y->in[k] == x ? out : s->sink;
    if (dy) y->grad = dy;
    t->deferred = NULL;
    y->op->backward(t, y);
    for (tgi_deferred *d = t->deferred; d; d = d->next) d->op->finish(t, d->work);
    t->deferred = NULL;
    for (size_t k = y->n_in; k-- > 0;) y->in[k]->grad = s->keep[k];
    y->grad = yg;
}

/* The first position of x among y's inputs is k (x is not counted twice). */
static int first_use(const tg_tensor *y, size_t k)
{
    for (size_t j = 0; j < k; j++)
        if (y->in[j] == y->in[k]) return 0;
    return 1;
}

static int reached(const tg_tensor *y)
{
    return tgi_entry_of(y)->reached;
}

/* 1 when down = up ⊙ local elementwise (up broadcast when y is a scalar), to 1e-4 relative. */
static int elementwise(const tg_tensor *y, const tg_tensor *x, const tg_real *local,
                       const tg_real *down)
{
    size_t n = tg_numel(x);
    if (tg_numel(y) != 1 && tg_numel(y) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        double u = y->grad[tg_numel(y) == 1 ? 0 : i], d = down[i], p = u * local[i];
        if (fabs(p - d) > 1e-4 * (fabs(p) + fabs(d)) + 1e-30) return 0;
    }
    return 1;
}

/* One line: what x receives from y ("to X: upstream U × local L = downstream D"). */
static void put_sent(tg_tape *t, FILE *f, tg_tensor *y, tg_tensor *x, const scratch *s)
{
    size_t n = tg_numel(x);
    sent(t, y, x, NULL, s->down, s);
    sent(t, y, x, s->ones, s->local, s);
    size_t uses = 0;
    for (size_t k = 0; k < y->n_in; k++) uses += y->in[k] == x;
    fprintf(f, "    to ");
    put_ref(f, x);
    fprintf(f, uses > 1 ? " (its %zu uses here together): " : ": ", uses);
    if (elementwise(y, x, s->local, s->down)) {
        fprintf(f, "upstream ");
        put_values(f, y->grad, tg_numel(y));
        fprintf(f, " × local ");
        put_values(f, s->local, n);
        fprintf(f, " = ");
    }
    fprintf(f, "downstream ");
    put_values(f, s->down, n);
    fprintf(f, "\n");
}

/* The users of x among reached nodes from position `from` up, counted (and listed with what
 * each sent when f is not NULL). */
static size_t users(tg_tape *t, FILE *f, tg_tensor *x, size_t from, const scratch *s)
{
    size_t n = 0;
    for (size_t i = from; i < t->n_nodes; i++) {
        tg_tensor *u = t->nodes[i];
        for (size_t k = 0; k < u->n_in && reached(u); k++) {
            if (u->in[k] != x || !first_use(u, k)) continue;
            n++;
            if (!f) continue;
            sent(t, u, x, NULL, s->local, s);
            fprintf(f, "%s from #%zu ", n > 1 ? " +" : "", i);
            put_values(f, s->local, tg_numel(x));
        }
    }
    return n;
}

/* "its gradient sums 2 contributions: from #3 0.1 + from #5 0.2" when x has several users. */
static void put_fan_in(tg_tape *t, FILE *f, tg_tensor *x, size_t from, const scratch *s)
{
    size_t n = users(t, NULL, x, from, s);
    if (n < 2) return;
    fprintf(f, "    its gradient sums %zu contributions:", n);
    users(t, f, x, from, s);
    fprintf(f, "\n");
}

/* A node's paragraph: header, value, gradient, rule, then what each input receives. */
static void put_node(tg_tape *t, FILE *f, tg_tensor *y, const scratch *s)
{
    char range[48];
    tgi_show_range(y, range);
    fprintf(f, "#%zu %s%s", tgi_entry_of(y)->index, y->op->name, range);
    if (y->name) fprintf(f, " (%s)", y->name);
    fprintf(f, " of");
    for (size_t k = 0; k < y->n_in; k++) fprintf(f, k ? ", " : " "), put_ref(f, y->in[k]);
    fprintf(f, "\n    value ");
    put_values(f, y->val, tg_numel(y));
    fprintf(f, ", upstream gradient ");
    put_values(f, y->grad, tg_numel(y));
    fprintf(f, "\n");
    put_fan_in(t, f, y, tgi_entry_of(y)->index + 1, s);
    fprintf(f, "    rule: %s\n", y->op->rule ? y->op->rule : "(this op states no rule)");
    for (size_t k = 0; k < y->n_in; k++)
        if (y->in[k]->grad && first_use(y, k)) put_sent(t, f, y, y->in[k], s);
}

/* The largest tensor of the walk, in values, and the most inputs of a node: scratch sizes. */
static size_t largest(const tg_tape *t, size_t last, size_t *n_in)
{
    size_t n = 1;
    *n_in = 1;
    for (size_t i = 0; i <= last; i++) {
        const tg_tensor *y = t->nodes[i];
        if (tg_numel(y) > n) n = tg_numel(y);
        if (y->n_in > *n_in) *n_in = y->n_in;
        for (size_t k = 0; k < y->n_in; k++)
            if (tg_numel(y->in[k]) > n) n = tg_numel(y->in[k]);
    }
    return n;
}

/* 1 when x is an input of a reached node before position i. */
static int used_before(const tg_tape *t, const tg_tensor *x, size_t i)
{
    for (size_t j = 0; j < i; j++)
        for (size_t m = 0; m < t->nodes[j]->n_in; m++)
            if (reached(t->nodes[j]) && t->nodes[j]->in[m] == x) return 1;
    return 0;
}

/* The leaves' lines: fan-in, then "de/da = G", each leaf once, in the order of their first use. */
static void put_leaves(tg_tape *t, FILE *f, const tg_tensor *loss, size_t last, const scratch *s)
{
    for (size_t i = 0; i <= last; i++) {
        tg_tensor *y = t->nodes[i];
        for (size_t k = 0; k < y->n_in && reached(y); k++) {
            tg_tensor *x = y->in[k];
            if (x->op || !x->grad || !first_use(y, k) || used_before(t, x, i)) continue;
            fprintf(f, "leaf %s\n", x->name ? x->name : "(unnamed)");
            put_fan_in(t, f, x, 0, s);
            fprintf(f, "    d%s/d%s = ", loss->name ? loss->name : "loss",
                    x->name ? x->name : "leaf");
            put_values(f, x->grad, tg_numel(x));
            fprintf(f, "\n");
        }
    }
}

/* 1 when every node the loss reached kept its gradient (not lent and taken back). */
static int grads_kept(const tg_tape *t, size_t last)
{
    for (size_t i = 0; i <= last; i++)
        if (reached(t->nodes[i]) && !t->nodes[i]->grad) return 0;
    return 1;
}

static int scratch_new(scratch *s, size_t n, size_t n_in)
{
    s->down = malloc(n * sizeof(tg_real));
    s->local = malloc(n * sizeof(tg_real));
    s->ones = malloc(n * sizeof(tg_real));
    s->sink = malloc(n * sizeof(tg_real));
    s->keep = malloc(n_in * sizeof *s->keep);
    for (size_t i = 0; s->ones && i < n; i++) s->ones[i] = 1;
    return s->down && s->local && s->ones && s->sink && s->keep;
}

static void scratch_free(scratch *s)
{
    free(s->down), free(s->local), free(s->ones), free(s->sink), free(s->keep);
}

int tg_walk_backward(tg_tape *t, tg_tensor *loss, FILE *f)
{
    int rc = tg_backward(t, loss);
    if (rc != TG_OK) return rc;
    size_t last = tgi_entry_of(loss)->index, n_in, n = largest(t, last, &n_in);
    if (!grads_kept(t, last))
        return tg_fail(t, "tg_walk_backward: the tape reuses gradients (tg_tape_reuse_grads): "
                          "the nodes' gradients are gone after backward"),
               TG_EINVAL;
    scratch s;
    if (!scratch_new(&s, n, n_in)) {
        scratch_free(&s);
        return tg_fail(t, "tg_walk_backward: out of memory (%zu values)", 4 * n), TG_ENOMEM;
    }
    for (size_t i = last + 1; i-- > 0;)
        if (reached(t->nodes[i])) put_node(t, f, t->nodes[i], &s);
    put_leaves(t, f, loss, last, &s);
    scratch_free(&s);
    return fflush(f) == 0 && !ferror(f) ? TG_OK : TG_EIO;
}
