/* arena.h: the tape's memory (internal to autograd/). A chain of chunks handed out by bumping
 * an offset and rewound in O(1), plus the gradient buffers backward lends and takes back.
 *
 * Invariant: memory is only ever handed out, never freed one piece at a time; a reset makes
 * all of it free again at once and keeps the chunks, so a window that asks for the same sizes
 * as the one before finds every chunk it needs and calls malloc no more.
 * Read next: arena.c; tape.c is its user.
 */
#ifndef TG_ARENA_H
#define TG_ARENA_H

#include "autograd/tensor.h"

#include <stddef.h>

enum {
    TGI_ALIGN = 64,       /* the alignment of tg_tape_alloc, and of values over a cache line */
    TGI_SMALL_ALIGN = 16, /* the alignment of small values (a (1 x 1) loss, a scalar chain) */
};

typedef struct tgi_chunk tgi_chunk;
typedef struct tgi_pool tgi_pool;

typedef struct tgi_arena {
    tgi_chunk *first, *cur; /* the chain (heap), and the chunk allocation happens in now */
    tgi_pool *pools;        /* released gradient buffers, one list per size (in the arena) */
    size_t heap_allocs;     /* malloc calls made for chunks, since init */
} tgi_arena;

/* An arena holding one chunk. 0 when out of memory. */
int tgi_arena_init(tgi_arena *a);
/* Free every chunk; everything handed out dies. */
void tgi_arena_deinit(tgi_arena *a);
/* Everything handed out is free again; the chunks are kept. O(1). */
void tgi_arena_reset(tgi_arena *a);

/* `bytes` aligned to `align` (a power of two, at most TGI_ALIGN), not zeroed. NULL when out of
 * memory or when bytes is more than SIZE_MAX / 2. */
void *tgi_arena_alloc(tgi_arena *a, size_t bytes, size_t align);

/* A zeroed gradient buffer of `bytes`: one released earlier with that size when there is one,
 * else new memory. NULL when out of memory. */
void *tgi_arena_grad(tgi_arena *a, size_t bytes);
/* The same buffer, not zeroed: for a gradient whose first contribution assigns (tg_grad_first). */
void *tgi_arena_grad_blank(tgi_arena *a, size_t bytes);
/* Take back a buffer from tgi_arena_grad (of the same `bytes`) for the next one of its size. */
void tgi_arena_release(tgi_arena *a, void *buf, size_t bytes);

/* Bytes handed out since the last reset, and bytes held in chunks. */
void tgi_arena_usage(const tgi_arena *a, size_t *used, size_t *reserved);

#endif
