/* arena.c: chunks, bump allocation, O(1) reset, and gradient buffers reused by size.
 *
 * Allocation bumps an offset in the current chunk and moves on along the chain when it does
 * not fit; only when no chunk is left does it call malloc, for one twice the size of the last
 * (capped at MAX_GROWTH) or as large as asked. Reset rewinds to the first chunk and keeps the
 * chain. A chunk entered again after a reset starts empty (its `used` is cleared on entry).
 *
 * Gradient buffers that backward takes back (tgi_arena_release) wait in a list per size,
 * linked through their own first bytes, for the next node of that size: an unrolled step's
 * nodes reuse the step before's buffers. The lists' records live in the arena too, so a reset
 * forgets them with everything else.
 * A node that assigns its inputs' first gradients (tg_assigns_first) is lent them unzeroed;
 * what its backward does not claim (tg_grad_first) is zeroed after it (tgi_zero_unclaimed).
 * At the end, the tape's two ways to ask for memory, which record a message when they fail.
 * Read next: tape.c (its user).
 */
#include "autograd/arena.h"

#include "autograd/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { FIRST_CHUNK = 1 << 16 };
#define MAX_GROWTH ((size_t)16 << 20) /* chunks double up to 16 MiB, then grow by that */

struct tgi_chunk {
    tgi_chunk *next;
    size_t size, used; /* bytes of data[], bytes handed out */
    _Alignas(TGI_ALIGN) unsigned char data[];
};

/* Released gradient buffers of one size, each holding the next one's address. */
struct tgi_pool {
    size_t bytes;
    void *free;
    tgi_pool *next;
};

/* A chunk of at least `size` bytes whose data starts on a cache line (malloc only promises 16
 * bytes: aligned_alloc, whose size must be a multiple of the alignment). */
static tgi_chunk *chunk_new(tgi_arena *a, size_t size)
{
    size = (size + TGI_ALIGN - 1) & ~(size_t)(TGI_ALIGN - 1);
    tgi_chunk *c = aligned_alloc(TGI_ALIGN, sizeof *c + size);
    if (!c) return NULL;
    a->heap_allocs++;
    *c = (tgi_chunk){.size = size};
    return c;
}

int tgi_arena_init(tgi_arena *a)
{
    *a = (tgi_arena){0};
    a->first = a->cur = chunk_new(a, FIRST_CHUNK);
    return a->first != NULL;
}

void tgi_arena_deinit(tgi_arena *a)
{
    for (tgi_chunk *c = a->first, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    *a = (tgi_arena){0};
}

void tgi_arena_reset(tgi_arena *a)
{
    a->first->used = 0;
    a->cur = a->first;
    a->pools = NULL;
}

/* No room in the current chunk: the next chunk of the chain with room, or a new one. */
static void *alloc_further(tgi_arena *a, size_t need, size_t align)
{
    for (tgi_chunk *c = a->cur; c; c = c->next) {
        size_t at = (c->used + align - 1) & ~(align - 1);
        if (at <= c->size && c->size - at >= need) {
            c->used = at + need;
            a->cur = c;
            return c->data + at;
        }
        if (c->next) c->next->used = 0; /* entering a chunk from an earlier window */
    }
    tgi_chunk *last = a->cur;
    while (last->next) last = last->next;
    size_t size = last->size < MAX_GROWTH ? 2 * last->size : MAX_GROWTH;
    tgi_chunk *c = chunk_new(a, size < need ? need : size);
    if (!c) return NULL;
    last->next = a->cur = c;
    c->used = need;
    return c->data;
}

static inline void *bump(tgi_arena *a, size_t bytes, size_t align)
{
    if (bytes > SIZE_MAX / 2) return NULL; /* no such block exists; the sums below cannot wrap */
    tgi_chunk *c = a->cur;
    size_t need = (bytes + align - 1) & ~(align - 1), at = (c->used + align - 1) & ~(align - 1);
    if (at > c->size || c->size - at < need) return alloc_further(a, need, align);
    c->used = at + need;
    return c->data + at;
}

void *tgi_arena_alloc(tgi_arena *a, size_t bytes, size_t align)
{
    return bump(a, bytes, align);
}

/* A tensor in one block: `head` bytes of header (a tg_tensor, or a node's entry), room for n_in
 * input pointers (t->in), then rows·cols values and, when with_grad, as many zeroed gradient
 * values. Values of more than a cache line start on one; small ones are 16-byte aligned, so a
 * chain of scalars stays small. Every other field is zero. NULL when out of memory; the caller
 * has checked that twice the values and the inputs fit in size_t. */
static tg_tensor *arena_tensor(tgi_arena *a, size_t head, size_t rows, size_t cols, size_t n_in,
                               int with_grad)
{
    size_t n = rows * cols;
    size_t align = n * sizeof(tg_real) > TGI_ALIGN ? TGI_ALIGN : TGI_SMALL_ALIGN;
    size_t body = (head + n_in * sizeof(tg_tensor *) + align - 1) & ~(align - 1);
    unsigned char *p = bump(a, body + (with_grad ? 2 : 1) * n * sizeof(tg_real), align);
    if (!p) return NULL;
    tg_tensor *y = (tg_tensor *)p;
    /* Copied from a zero struct: GCC clears a compound literal with `rep stos`, slow to start
     * for 88 bytes (perf, char-h100-b1: this function 1.20% -> 0.75-0.92% of the samples). */
    static const tg_tensor zero;
    memcpy(y, &zero, sizeof zero);
    y->in = (tg_tensor **)(p + head), y->rows = rows, y->cols = cols;
    y->val = (tg_real *)(p + body);
    if (with_grad) y->grad = memset(y->val + n, 0, n * sizeof(tg_real));
    return y;
}

/* Buffers hold at least a pointer, so a released one can link to the next. */
static size_t pool_size(size_t bytes)
{
    return bytes < TGI_SMALL_ALIGN ? TGI_SMALL_ALIGN : bytes;
}

static tgi_pool *pool_of(tgi_arena *a, size_t size)
{
    tgi_pool *p = a->pools;
    while (p && p->bytes != size) p = p->next;
    return p;
}

void *tgi_arena_grad_blank(tgi_arena *a, size_t bytes)
{
    size_t size = pool_size(bytes);
    tgi_pool *p = pool_of(a, size);
    void *buf = p ? p->free : NULL;
    if (buf)
        memcpy(&p->free, buf, sizeof p->free); /* the next buffer of the list */
    else
        buf = tgi_arena_alloc(a, size, size > TGI_ALIGN ? TGI_ALIGN : TGI_SMALL_ALIGN);
    return buf;
}

void *tgi_arena_grad(tgi_arena *a, size_t bytes)
{
    void *buf = tgi_arena_grad_blank(a, bytes);
    return buf ? memset(buf, 0, bytes) : NULL;
}

void tgi_arena_release(tgi_arena *a, void *buf, size_t bytes)
{
    size_t size = pool_size(bytes);
    tgi_pool *p = pool_of(a, size);
    if (!p) {
        p = tgi_arena_alloc(a, sizeof *p, TGI_SMALL_ALIGN);
        if (!p) return; /* the buffer is simply not reused */
        *p = (tgi_pool){size, NULL, a->pools};
        a->pools = p;
    }
    memcpy(buf, &p->free, sizeof p->free);
    p->free = buf;
}

/* Gradients whose first contribution assigns (op.h): the node's mark, the claim, and the
 * zeroing of what was not claimed. */
void tg_assigns_first(tg_tape *t, tg_tensor *y)
{
    (void)t;
    if (y && y->op) tgi_entry_of(y)->assigns = 1;
}

int tg_grad_first(tg_tape *t, tg_tensor *x)
{
    (void)t;
    if (!x || !x->op || tgi_entry_of(x)->grad != TGI_GRAD_BLANK) return 0;
    tgi_entry_of(x)->grad = TGI_GRAD_LENT;
    return 1;
}

void tgi_zero_unclaimed(tg_tensor *y)
{
    for (size_t k = 0; k < y->n_in; k++) {
        tg_tensor *x = y->in[k];
        if (!x->op || tgi_entry_of(x)->grad != TGI_GRAD_BLANK) continue;
        memset(x->grad, 0, tg_numel(x) * sizeof(tg_real));
        tgi_entry_of(x)->grad = TGI_GRAD_LENT;
    }
}

void tgi_arena_usage(const tgi_arena *a, size_t *used, size_t *reserved)
{
    *used = *reserved = 0;
    int before_cur = 1;
    for (const tgi_chunk *c = a->first; c; c = c->next) {
        *reserved += c->size;
        if (before_cur) *used += c->used;
        if (c == a->cur) before_cur = 0;
    }
}

void *tg_tape_alloc(tg_tape *t, size_t bytes, const char *who)
{
    if (!t) return NULL;
    void *p = tgi_arena_alloc(&t->arena, bytes, TGI_ALIGN);
    if (!p && bytes > SIZE_MAX / 2)
        return tg_fail(t, "%s: allocation of %zu bytes overflows", who, bytes);
    return p ? p : tg_fail(t, "%s: out of memory (asked for %zu bytes)", who, bytes);
}

tg_tensor *tgi_tape_tensor(tg_tape *t, const char *who, size_t head, size_t rows, size_t cols,
                           size_t n_in, int with_grad)
{
    size_t n = rows * cols, max = SIZE_MAX / 4 / sizeof(tg_real);
    if (!t) return NULL;
    if ((cols != 0 && n / cols != rows) || n > max || n_in > max)
        return tg_fail(t, "%s: shape (%zu x %zu) is too large", who, rows, cols);
    tg_tensor *y = arena_tensor(&t->arena, head, rows, cols, n_in, with_grad);
    return y ? y : tg_fail(t, "%s: out of memory for a (%zu x %zu) tensor", who, rows, cols);
}
