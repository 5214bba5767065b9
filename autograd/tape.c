/* tape.c: the arena, the list of recorded nodes, and the sticky error.
 *
 * The arena is a chain of chunks. Allocation bumps an offset in the current chunk and moves on
 * to the next chunk of the chain when it does not fit; only when no chunk is left does it call
 * malloc. Reset rewinds to the first chunk and keeps the chain, so a window that records the
 * same sequence of shapes as the one before finds every chunk it needs already there.
 *
 * Invariant: nodes[i]->index == i for every recorded node, and inputs precede their users.
 * Read next: backward.c.
 */
#include "autograd/internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ALIGN = 64, SMALL_ALIGN = 16, FIRST_CHUNK = 1 << 16, ERR_LEN = 512 };
#define MAX_GROWTH ((size_t)16 << 20) /* chunks double up to 16 MiB, then grow by that */

typedef struct chunk {
    struct chunk *next;
    size_t size, used; /* bytes of data[], bytes handed out */
    _Alignas(ALIGN) unsigned char data[];
} chunk;

struct tg_tape {
    chunk *first, *cur; /* the chain, and where allocation happens now */
    tg_tensor **nodes;  /* recorded nodes, in order; heap array grown by doubling */
    size_t n_nodes, cap_nodes;
    size_t heap_allocs; /* malloc/realloc calls made, for tg_tape_get_stats */
    int grad_enabled;   /* record gradient buffers (not no_grad) */
    int training;       /* dropout active */
    int backward_ran;   /* node gradients are dirty: the next backward clears them */
    int has_error;
    char error[ERR_LEN];                    /* first message since reset */
    tgi_deferred *deferred, *deferred_tail; /* work queued by backwards for the end of the walk */
    int reuse_grads;                        /* new nodes get their gradients in backward */
    struct grad_pool *pools;                /* released gradient buffers, one list per size */
};

/* Gradient buffers of one size that backward has released, linked through their first bytes;
 * the pool records themselves live in the arena, like the buffers. */
typedef struct grad_pool {
    size_t bytes;
    void *free;
    struct grad_pool *next;
} grad_pool;

static chunk *chunk_new(tg_tape *t, size_t size)
{
    chunk *c = malloc(sizeof *c + size);
    if (!c) return NULL;
    t->heap_allocs++;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

/* Bump-allocate `bytes` aligned to `align` (a power of two, at most ALIGN). */
static void *arena_alloc(tg_tape *t, size_t bytes, size_t align, const char *who)
{
    size_t need = (bytes + align - 1) & ~(align - 1);
    if (need < bytes) return tgi_fail(t, "%s: allocation of %zu bytes overflows", who, bytes);
    for (chunk *c = t->cur; c; c = c->next) {
        size_t at = (c->used + align - 1) & ~(align - 1);
        if (at <= c->size && c->size - at >= need) {
            c->used = at + need;
            t->cur = c;
            return c->data + at;
        }
        if (c->next) c->next->used = 0; /* entering a chunk from an earlier window */
    }
    /* Nothing left in the chain: append a chunk twice the last one (capped), or as needed. */
    chunk *last = t->cur;
    while (last->next) last = last->next;
    size_t size = last->size < MAX_GROWTH ? 2 * last->size : MAX_GROWTH;
    if (size < need) size = need;
    chunk *c = chunk_new(t, size);
    if (!c) return tgi_fail(t, "%s: out of memory (asked for %zu bytes)", who, bytes);
    last->next = c;
    t->cur = c;
    c->used = need;
    return c->data;
}

void *tgi_alloc(tg_tape *t, size_t bytes, const char *who)
{
    return arena_alloc(t, bytes, ALIGN, who);
}

tg_tape *tg_tape_new(void)
{
    tg_tape *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->heap_allocs = 1;
    t->first = t->cur = chunk_new(t, FIRST_CHUNK);
    if (!t->first) {
        free(t);
        return NULL;
    }
    t->grad_enabled = 1;
    t->training = 1;
    return t;
}

void tg_tape_free(tg_tape *t)
{
    if (!t) return;
    for (chunk *c = t->first, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(t->nodes);
    free(t);
}

void tg_tape_reset(tg_tape *t)
{
    t->first->used = 0;
    t->cur = t->first;
    t->n_nodes = 0;
    t->backward_ran = 0;
    t->deferred = t->deferred_tail = NULL;
    t->pools = NULL;
    tg_tape_clear_error(t);
}

tg_tensor *tgi_fail(tg_tape *t, const char *fmt, ...)
{
    if (t->has_error) return NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof t->error, fmt, ap);
    va_end(ap);
    t->has_error = 1;
    return NULL;
}

int tgi_check(tg_tape *t, const char *name, size_t n, tg_tensor *const *in)
{
    for (size_t i = 0; i < n; i++)
        if (!in[i]) {
            tgi_fail(t, "%s: input %zu is NULL", name, i + 1);
            return 0;
        }
    return 1;
}

static int push_node(tg_tape *t, tg_tensor *y)
{
    if (t->n_nodes == t->cap_nodes) {
        size_t cap = t->cap_nodes ? 2 * t->cap_nodes : 1024;
        tg_tensor **nodes = realloc(t->nodes, cap * sizeof *nodes);
        if (!nodes) return 0;
        t->heap_allocs++;
        t->nodes = nodes;
        t->cap_nodes = cap;
    }
    y->index = t->n_nodes;
    t->nodes[t->n_nodes++] = y;
    return 1;
}

/* A tensor struct, its input array and its value (and gradient) in one arena allocation. Values
 * of more than a cache line start on a cache line; small ones (a (1 x 1) loss, a scalar chain)
 * only 16-byte aligned, so tiny nodes stay small. */
static tg_tensor *new_tensor(tg_tape *t, const char *who, size_t rows, size_t cols, size_t n_in,
                             int with_grad)
{
    size_t n = rows * cols;
    if (cols != 0 && n / cols != rows)
        return tgi_fail(t, "%s: shape (%zu x %zu) overflows", who, rows, cols);
    size_t nval = with_grad ? 2 * n : n;
    if (n > SIZE_MAX / 4 / sizeof(tg_real) || n_in > SIZE_MAX / 4 / sizeof(tg_tensor *))
        return tgi_fail(t, "%s: shape (%zu x %zu) is too large", who, rows, cols);
    size_t bytes = nval * sizeof(tg_real);
    size_t align = n * sizeof(tg_real) > ALIGN ? ALIGN : SMALL_ALIGN;
    size_t head = (sizeof(tg_tensor) + n_in * sizeof(tg_tensor *) + align - 1) & ~(align - 1);
    unsigned char *p = arena_alloc(t, head + bytes, align, who);
    if (!p) return NULL;
    tg_tensor *y = (tg_tensor *)p;
    *y = (tg_tensor){.rows = rows, .cols = cols};
    y->in = (tg_tensor **)(p + sizeof *y);
    y->val = (tg_real *)(p + head);
    if (with_grad) {
        y->grad = y->val + n;
        memset(y->grad, 0, n * sizeof *y->grad);
    }
    return y;
}

/* A node that will want a gradient: now (with_grad), or in backward when gradients are reused. */
static tg_tensor *new_node_tensor(tg_tape *t, const char *who, size_t rows, size_t cols,
                                  size_t n_in, int wants_grad)
{
    int later = wants_grad && t->reuse_grads;
    tg_tensor *y = new_tensor(t, who, rows, cols, n_in, wants_grad && !later);
    if (y) y->grad_later = later;
    return y;
}

tg_tensor *tgi_node(tg_tape *t, const tg_op *op, size_t rows, size_t cols, size_t n,
                    tg_tensor *const *in)
{
    int with_grad = 0;
    for (size_t i = 0; i < n; i++) with_grad |= in[i]->grad != NULL || in[i]->grad_later;
    tg_tensor *y = new_node_tensor(t, op->name, rows, cols, n, with_grad && t->grad_enabled);
    if (!y) return NULL;
    y->op = op;
    y->n_in = n;
    memcpy(y->in, in, n * sizeof *in);
    if (!push_node(t, y)) return tgi_fail(t, "%s: out of memory growing the node list", op->name);
    return y;
}

tg_tensor *tgi_view(tg_tape *t, const tg_op *op, tg_tensor *x, size_t offset, size_t rows,
                    size_t cols)
{
    tg_tensor *y = new_tensor(t, op->name, 0, 0, 1, 0); /* the header and its input only */
    if (!y) return NULL;
    *y = (tg_tensor){.op = op, .in = y->in, .n_in = 1, .rows = rows, .cols = cols};
    y->in[0] = x;
    y->val = x->val + offset;
    if (x->grad && t->grad_enabled) y->grad = x->grad + offset;
    y->grad_later = x->grad_later && t->grad_enabled; /* pointed into x's in backward */
    if (!push_node(t, y)) return tgi_fail(t, "%s: out of memory growing the node list", op->name);
    return y;
}

tg_tensor *tgi_record(tg_tape *t, const tg_op *op, size_t rows, size_t cols, size_t n,
                      tg_tensor *const *in)
{
    tg_tensor *y = tgi_node(t, op, rows, cols, n, in);
    if (y) op->forward(y);
    return y;
}

tg_tensor *tg_leaf(tg_tape *t, size_t rows, size_t cols, const tg_real *data, int requires_grad)
{
    tg_tensor *x = new_tensor(t, "tg_leaf", rows, cols, 0, requires_grad && t->grad_enabled);
    if (!x) return NULL;
    if (data)
        memcpy(x->val, data, tg_numel(x) * sizeof *data);
    else
        memset(x->val, 0, tg_numel(x) * sizeof *x->val);
    return x;
}

tg_tensor *tg_input(tg_tape *t, size_t rows, size_t cols, const tg_real *data)
{
    return tg_leaf(t, rows, cols, data, 0);
}

tg_tensor *tg_detach(tg_tape *t, tg_tensor *x)
{
    if (!tgi_check(t, "tg_detach", 1, &x)) return NULL;
    return tg_leaf(t, x->rows, x->cols, x->val, 0);
}

int tg_tape_set_grad(tg_tape *t, int enabled)
{
    int old = t->grad_enabled;
    t->grad_enabled = enabled != 0;
    return old;
}

int tg_tape_reuse_grads(tg_tape *t, int reuse)
{
    int old = t->reuse_grads;
    t->reuse_grads = reuse != 0;
    return old;
}

/* Gradient buffers are at least this large, so a released one can hold the list's link. */
static size_t grad_bytes(const tg_tensor *x)
{
    size_t bytes = tg_numel(x) * sizeof(tg_real);
    return bytes < SMALL_ALIGN ? SMALL_ALIGN : bytes;
}

int tgi_grad_give(tg_tape *t, tg_tensor *x)
{
    size_t bytes = grad_bytes(x);
    grad_pool *p = t->pools;
    while (p && p->bytes != bytes) p = p->next;
    if (p && p->free) {
        x->grad = p->free;
        memcpy(&p->free, p->free, sizeof p->free); /* the next buffer of the list */
    } else {
        x->grad = arena_alloc(t, bytes, bytes > ALIGN ? ALIGN : SMALL_ALIGN, x->op->name);
        if (!x->grad) return 0;
    }
    memset(x->grad, 0, tg_numel(x) * sizeof *x->grad);
    return 1;
}

void tgi_grad_release(tg_tape *t, tg_tensor *x)
{
    size_t bytes = grad_bytes(x);
    grad_pool *p = t->pools;
    while (p && p->bytes != bytes) p = p->next;
    if (!p) {
        p = arena_alloc(t, sizeof *p, SMALL_ALIGN, x->op->name);
        if (!p) { /* the buffer is simply not reused */
            x->grad = NULL;
            return;
        }
        *p = (grad_pool){bytes, NULL, t->pools};
        t->pools = p;
    }
    memcpy(x->grad, &p->free, sizeof p->free);
    p->free = x->grad;
    x->grad = NULL;
}

int tg_tape_set_training(tg_tape *t, int training)
{
    int old = t->training;
    t->training = training != 0;
    return old;
}

int tg_tape_training(const tg_tape *t)
{
    return t->training;
}

const char *tg_tape_error(const tg_tape *t)
{
    return t->has_error ? t->error : NULL;
}

void tg_tape_clear_error(tg_tape *t)
{
    t->has_error = 0;
    t->error[0] = '\0';
}

size_t tg_tape_size(const tg_tape *t)
{
    return t->n_nodes;
}

tg_tensor *tg_tape_node(const tg_tape *t, size_t i)
{
    return i < t->n_nodes ? t->nodes[i] : NULL;
}

void tg_tape_get_stats(const tg_tape *t, tg_tape_stats *s)
{
    s->nodes = t->n_nodes;
    s->bytes_used = 0;
    s->bytes_reserved = 0;
    int before_cur = 1;
    for (const chunk *c = t->first; c; c = c->next) {
        s->bytes_reserved += c->size;
        if (before_cur) s->bytes_used += c->used;
        if (c == t->cur) before_cur = 0;
    }
    s->heap_allocs = t->heap_allocs;
}

void tgi_defer(tg_tape *t, tgi_deferred *d)
{
    d->next = NULL;
    d->done = 0;
    if (t->deferred_tail)
        t->deferred_tail->next = d;
    else
        t->deferred = d;
    t->deferred_tail = d;
}

void tgi_run_deferred(tg_tape *t)
{
    for (tgi_deferred *d = t->deferred; d; d = d->next)
        if (!d->done) d->run(t, d);
    t->deferred = t->deferred_tail = NULL;
}

/* backward.c needs the node list and the dirty flag; it is the only other reader. */
tg_tensor **tgi_tape_nodes(tg_tape *t, size_t *n, int **backward_ran)
{
    *n = t->n_nodes;
    *backward_ran = &t->backward_ran;
    return t->nodes;
}
