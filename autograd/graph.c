/* graph.c: looking at a recording: its nodes and memory counters, and the recording as text
 * (tg_tape_print) or as a Graphviz digraph (tg_tape_dot).
 *
 * Both walk the tape's node list in recording order. Leaves (parameters, inputs, detached
 * state) are not on that list: they are met as inputs of the nodes. The text form just names
 * them inline; the digraph declares each leaf once, as a box, which needs the set of leaves
 * already seen (a heap array, searched linearly: printing is not a hot path). Each node is
 * shown as show.c says: a slice with its range, a product's transposed inputs marked ᵀ, and with
 * TG_UNFUSED a fused node as the two ops a learner expects. TG_DOT_COLOUR_GRADS fills every
 * node by its gradient's norm on a log scale between the smallest and largest on the tape, so an
 * unrolled network shows where the gradient vanishes or explodes.
 *
 * Invariant: only the FILE given is written to; nothing is printed anywhere else.
 * Read next: tape.h (what a node holds), ops/binary.c (what the op names mean).
 */
#include "autograd/graph.h"

#include "autograd/internal.h"
#include "autograd/show.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

size_t tg_tape_size(const tg_tape *t)
{
    return t ? t->n_nodes : 0;
}

tg_tensor *tg_tape_node(const tg_tape *t, size_t i)
{
    return t && i < t->n_nodes ? t->nodes[i] : NULL;
}

void tg_tape_get_stats(const tg_tape *t, tg_tape_stats *s)
{
    *s = (tg_tape_stats){0};
    if (!t) return;
    s->nodes = t->n_nodes;
    tgi_arena_usage(&t->arena, &s->bytes_used, &s->bytes_reserved);
    s->heap_allocs = t->heap_allocs + t->arena.heap_allocs;
}

/* Flush f and report whether every write to it succeeded. */
static int finish(FILE *f)
{
    int flushed = fflush(f) == 0;
    return flushed && !ferror(f) ? TG_OK : TG_EIO;
}

/* " #5", " #5a" (the part before), " leaf(W 8x2)", with "ᵀ" when read transposed. */
static void print_input(FILE *f, const tgi_shown *y, tgi_shown_in in)
{
    const tg_tensor *x = in.x;
    if (!x)
        fprintf(f, " #%zua", y->index);
    else if (x->op)
        fprintf(f, " #%zu", tgi_entry_of(x)->index);
    else if (x->name)
        fprintf(f, " leaf(%s %zux%zu)", x->name, TG_DIMS(x));
    else
        fprintf(f, " leaf(%zux%zu)", TG_DIMS(x));
    if (in.trans) fprintf(f, "ᵀ");
}

static void print_shown(FILE *f, const tgi_shown *y)
{
    fprintf(f, "%3zu%s %s%s", y->index, y->part ? "a" : " ", y->op, y->range);
    if (y->label) fprintf(f, " (%s)", y->label);
    fprintf(f, "  in:");
    for (size_t k = 0; k < y->n_in; k++) print_input(f, y, y->in[k]);
    fprintf(f, "  ->  (%zu x %zu)\n", y->rows, y->cols);
}

int tg_tape_print_flags(const tg_tape *t, FILE *f, int flags)
{
    for (size_t i = 0; i < tg_tape_size(t); i++) {
        tgi_shown sh[2];
        size_t n = tgi_show_node(tg_tape_node(t, i), (flags & TG_UNFUSED) != 0, 0, sh);
        for (size_t k = 0; k < n; k++) print_shown(f, &sh[k]);
    }
    return finish(f);
}

int tg_tape_print(const tg_tape *t, FILE *f)
{
    return tg_tape_print_flags(t, f, 0);
}

/* The leaves declared so far; a leaf's position in `at` is its Graphviz name, l<position>. */
typedef struct leaf_set {
    const tg_tensor **at; /* heap array, owned */
    size_t n, cap;
} leaf_set;

/* Position of x in s, appending it when new (*fresh = 1). SIZE_MAX when out of memory. */
static size_t leaf_find(leaf_set *s, const tg_tensor *x, int *fresh)
{
    *fresh = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->at[i] == x) return i;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        const tg_tensor **at = realloc(s->at, cap * sizeof *at);
        if (!at) return SIZE_MAX;
        s->at = at;
        s->cap = cap;
    }
    *fresh = 1;
    s->at[s->n] = x;
    return s->n++;
}

/* A string inside a double-quoted Graphviz label: quotes and backslashes escaped. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
}

/* sqrt(sum of squares) in double; the L2 norm of n values. */
static double norm2(const tg_real *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

/* "\nvalue -4" or "\ngrad [0.1 -0.2]": a few values, signed; more as their norm. */
static void put_signed(FILE *f, const char *what, const tg_real *v, size_t n)
{
    if (n > 6) fprintf(f, "\\n‖%s‖₂ = %.4g", what, norm2(v, n));
    if (n > 6) return;
    fprintf(f, "\\n%s %s", what, n > 1 ? "[" : "");
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%.4g", i ? " " : "", (double)v[i]);
    fprintf(f, "%s", n > 1 ? "]" : "");
}

/* The range of gradient norms the fill colours span: the smallest and largest non-zero norm
 * of a node or leaf gradient on the tape. */
typedef struct heat {
    double lo, hi;
} heat;

static void heat_add(heat *h, const tg_tensor *x)
{
    double g = x->grad ? norm2(x->grad, tg_numel(x)) : 0;
    if (g > 0 && g < INFINITY) h->lo = fmin(h->lo, g), h->hi = fmax(h->hi, g);
}

static heat heat_of(const tg_tape *t)
{
    heat h = {INFINITY, 0};
    for (size_t i = 0; i < tg_tape_size(t); i++) {
        const tg_tensor *y = tg_tape_node(t, i);
        heat_add(&h, y);
        for (size_t k = 0; k < y->n_in; k++)
            if (!y->in[k]->op) heat_add(&h, y->in[k]);
    }
    return h;
}

/* ", style=filled, fillcolor=..." for a gradient of norm g: pale yellow at the smallest norm
 * of the tape, through orange, to dark red at the largest, on a log scale; none for 0. */
static void put_fill(FILE *f, double g, const heat *h)
{
    static const int stop[3][3] = {{255, 255, 204}, {253, 141, 60}, {189, 0, 38}};
    if (!(g > 0) || !(h->hi > 0)) return;
    double span = log(h->hi / h->lo), u = span > 0 ? log(g / h->lo) / span : 1;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    int k = u > 0.5, c[3];
    double w = u * 2 - k;
    for (int j = 0; j < 3; j++) c[j] = (int)lround(stop[k][j] + (stop[k + 1][j] - stop[k][j]) * w);
    fprintf(f, ", style=filled, fillcolor=\"#%02x%02x%02x\"%s", c[0], c[1], c[2],
            u > 0.75 ? ", fontcolor=white" : "");
}

/* The end of a node's label: the numbers when asked for, the closing quote, the fill, the
 * closing bracket. */
static void end_label(FILE *f, const tg_real *val, const tg_real *grad, size_t n, int flags,
                      const heat *h)
{
    if ((flags & TG_DOT_VALUES) && val) {
        put_signed(f, "value", val, n);
        if (grad) put_signed(f, "grad", grad, n);
    } else if (flags & (TG_DOT_NORMS | TG_DOT_VALUES)) {
        if (val) fprintf(f, "\\n‖value‖₂ = %.4g", norm2(val, n));
        if (grad)
            fprintf(f, "\\n‖grad‖₂ = %.4g", norm2(grad, n));
        else
            fprintf(f, "\\nno grad");
    }
    fprintf(f, "\"");
    if (flags & TG_DOT_COLOUR_GRADS) put_fill(f, grad ? norm2(grad, n) : 0, h);
    fprintf(f, "];\n");
}

static void dot_leaf(FILE *f, size_t id, const tg_tensor *x, int flags, const heat *h)
{
    fprintf(f, "  l%zu [shape=box, label=\"", id);
    put_escaped(f, x->name ? x->name : "leaf");
    fprintf(f, "\\n" TG_SHAPE, TG_DIMS(x));
    end_label(f, x->val, x->grad, tg_numel(x), flags, h);
}

static void dot_node(FILE *f, const tgi_shown *y, int flags, const heat *h)
{
    fprintf(f, "  n%zu%s [shape=ellipse, label=\"", y->index, y->part ? "a" : "");
    put_escaped(f, y->op);
    put_escaped(f, y->range);
    if (y->label) {
        fprintf(f, "\\n");
        put_escaped(f, y->label);
    }
    end_label(f, y->val, y->grad, y->rows * y->cols, flags, h);
}

/* The edge from input `in` into node y, declaring a leaf first when it is seen for the first
 * time. TG_ENOMEM when the leaf set cannot grow. */
static int dot_edge(FILE *f, leaf_set *leaves, tgi_shown_in in, const tgi_shown *y,
                    const tgi_shown *part, int flags, const heat *h)
{
    size_t rows = in.x ? in.x->rows : part->rows, cols = in.x ? in.x->cols : part->cols;
    const tg_tensor *x = in.x;
    if (!x) {
        fprintf(f, "  n%zua -> n%zu", y->index, y->index);
    } else if (x->op) {
        fprintf(f, "  n%zu -> n%zu%s", tgi_entry_of(x)->index, y->index, y->part ? "a" : "");
    } else {
        int fresh;
        size_t id = leaf_find(leaves, x, &fresh);
        if (id == SIZE_MAX) return TG_ENOMEM;
        if (fresh) dot_leaf(f, id, x, flags, h);
        fprintf(f, "  l%zu -> n%zu%s", id, y->index, y->part ? "a" : "");
    }
    fprintf(f, " [label=\"%zu x %zu%s\"];\n", rows, cols, in.trans ? ", used ᵀ" : "");
    return TG_OK;
}

/* The shown entries of one recorded node: the ellipses, then their in-edges. */
static int dot_shown(FILE *f, leaf_set *leaves, const tgi_shown *sh, size_t n, int flags,
                     const heat *h)
{
    int rc = TG_OK;
    for (size_t j = 0; j < n && rc == TG_OK; j++) {
        dot_node(f, &sh[j], flags, h);
        for (size_t k = 0; k < sh[j].n_in && rc == TG_OK; k++)
            rc = dot_edge(f, leaves, sh[j].in[k], &sh[j], &sh[0], flags, h);
    }
    return rc;
}

int tg_tape_dot(const tg_tape *t, FILE *f, int flags)
{
    leaf_set leaves = {NULL, 0, 0};
    heat h = heat_of(t);
    int rc = TG_OK, values = (flags & (TG_DOT_NORMS | TG_DOT_VALUES | TG_DOT_COLOUR_GRADS)) != 0;
    fprintf(f, "digraph tape {\n  rankdir=BT;\n");
    if ((flags & TG_DOT_COLOUR_GRADS) && h.hi > 0)
        fprintf(f, "  label=\"fill: ‖grad‖₂ on a log scale, pale %.3g to dark red %.3g\";\n", h.lo,
                h.hi);
    for (size_t i = 0; i < tg_tape_size(t) && rc == TG_OK; i++) {
        tgi_shown sh[2];
        size_t n = tgi_show_node(tg_tape_node(t, i), (flags & TG_UNFUSED) != 0, values, sh);
        rc = n ? dot_shown(f, &leaves, sh, n, flags, &h) : TG_ENOMEM;
        tgi_shown_free(sh, n);
    }
    fprintf(f, "}\n");
    free(leaves.at);
    int io = finish(f);
    return rc != TG_OK ? rc : io;
}
