/* graph.c: looking at a recording: its nodes and memory counters, and the recording as text
 * (tg_tape_print) or as a Graphviz digraph (tg_tape_dot).
 *
 * Both walk the tape's node list in recording order. Leaves (parameters, inputs, detached
 * state) are not on that list: they are met as inputs of the nodes. The text form just names
 * them inline; the digraph declares each leaf once, as a box, which needs the set of leaves
 * already seen (a heap array, searched linearly: printing is not a hot path).
 *
 * Invariant: only the FILE given is written to; nothing is printed anywhere else.
 * Read next: tape.h (what a node holds), ops/binary.c (what the op names mean).
 */
#include "autograd/graph.h"

#include "autograd/internal.h"

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

static void print_input(FILE *f, const tg_tensor *x)
{
    if (x->op)
        fprintf(f, " #%zu", tgi_entry_of(x)->index);
    else if (x->name)
        fprintf(f, " leaf(%s %zux%zu)", x->name, TG_DIMS(x));
    else
        fprintf(f, " leaf(%zux%zu)", TG_DIMS(x));
}

int tg_tape_print(const tg_tape *t, FILE *f)
{
    for (size_t i = 0; i < tg_tape_size(t); i++) {
        const tg_tensor *y = tg_tape_node(t, i);
        fprintf(f, "%3zu  %s", i, y->op->name);
        if (y->name) fprintf(f, " (%s)", y->name);
        fprintf(f, "  in:");
        for (size_t k = 0; k < y->n_in; k++) print_input(f, y->in[k]);
        fprintf(f, "  ->  " TG_SHAPE "\n", TG_DIMS(y));
    }
    return finish(f);
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

/* The end of a node's label: the numbers when asked for, then the closing quote and bracket. */
static void end_label(FILE *f, const tg_tensor *x, int flags)
{
    if (flags & TG_DOT_VALUES) {
        put_signed(f, "value", x->val, tg_numel(x));
        if (x->grad) put_signed(f, "grad", x->grad, tg_numel(x));
    } else if (flags & TG_DOT_NORMS) {
        fprintf(f, "\\n‖value‖₂ = %.4g", norm2(x->val, tg_numel(x)));
        if (x->grad)
            fprintf(f, "\\n‖grad‖₂ = %.4g", norm2(x->grad, tg_numel(x)));
        else
            fprintf(f, "\\nno grad");
    }
    fprintf(f, "\"];\n");
}

static void dot_leaf(FILE *f, size_t id, const tg_tensor *x, int flags)
{
    fprintf(f, "  l%zu [shape=box, label=\"", id);
    put_escaped(f, x->name ? x->name : "leaf");
    fprintf(f, "\\n" TG_SHAPE, TG_DIMS(x));
    end_label(f, x, flags);
}

static void dot_node(FILE *f, const tg_tensor *y, int flags)
{
    fprintf(f, "  n%zu [shape=ellipse, label=\"%s", tgi_entry_of(y)->index, y->op->name);
    if (y->name) {
        fprintf(f, "\\n");
        put_escaped(f, y->name);
    }
    end_label(f, y, flags);
}

/* The edge from input x into node y, declaring x first when it is a leaf seen for the first
 * time. TG_ENOMEM when the leaf set cannot grow. */
static int dot_edge(FILE *f, leaf_set *leaves, const tg_tensor *x, const tg_tensor *y, int flags)
{
    if (x->op) {
        fprintf(f, "  n%zu -> n%zu", tgi_entry_of(x)->index, tgi_entry_of(y)->index);
    } else {
        int fresh;
        size_t id = leaf_find(leaves, x, &fresh);
        if (id == SIZE_MAX) return TG_ENOMEM;
        if (fresh) dot_leaf(f, id, x, flags);
        fprintf(f, "  l%zu -> n%zu", id, tgi_entry_of(y)->index);
    }
    fprintf(f, " [label=\"%zu x %zu\"];\n", TG_DIMS(x));
    return TG_OK;
}

int tg_tape_dot(const tg_tape *t, FILE *f, int flags)
{
    leaf_set leaves = {NULL, 0, 0};
    int rc = TG_OK;
    fprintf(f, "digraph tape {\n  rankdir=BT;\n");
    for (size_t i = 0; i < tg_tape_size(t) && rc == TG_OK; i++) {
        const tg_tensor *y = tg_tape_node(t, i);
        dot_node(f, y, flags);
        for (size_t k = 0; k < y->n_in && rc == TG_OK; k++)
            rc = dot_edge(f, &leaves, y->in[k], y, flags);
    }
    fprintf(f, "}\n");
    free(leaves.at);
    int io = finish(f);
    return rc != TG_OK ? rc : io;
}
