/* params.c: the parameter store: two flat blocks (values, gradients) and a table of named views.
 *
 * Invariant: parameter i's tensor points at values + off[i] and grads + off[i], the parameters
 * are laid out in the order they were added without gaps, and `numel` is the sum of their
 * sizes. The tensors themselves are separate heap structs, so their addresses never change;
 * only their val/grad pointers are re-pointed when tg_params_add grows the blocks, or the
 * values or the gradients move to a block of the caller's and back (bind, unbind). A bound
 * block is not the store's: it is never grown nor freed, so adding is refused while bound.
 *
 * Read next: nn/layers.c and nn/cells.c (who adds parameters), the optimizers (who loop over
 * the flat blocks).
 */
#include "nn/params.h"
#include "ops/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN    63
#define ZERO_CHUNK      65536  /* tg_params_zero_grad clears this many gradients per memset, */
#define ZERO_PER_THREAD 262144 /* and uses a second thread from twice this many */

typedef struct entry {
    char name[NAME_MAX_LEN + 1]; /* copied at add */
    size_t off;                  /* where the parameter starts in both blocks */
    tg_tensor *x;                /* owned: a view into the blocks */
} entry;

struct tg_params {
    entry *e; /* n entries, capacity cap; owned */
    size_t n, cap;
    size_t numel;  /* scalars in use in each block */
    tg_real *val;  /* numel values; owned */
    tg_real *grad; /* numel gradients; owned unless bound */
    int bound;     /* grad is the caller's block (tg_params_bind_grads), of numel only */
    int vbound;    /* val is the caller's block (tg_params_bind_values), of numel only */
    size_t room;   /* scalars allocated in each block (>= numel), doubled as it grows */
    size_t *slots; /* open-addressing index by name: entry i is i + 1, 0 is empty; owned */
    size_t nslots; /* a power of two, more than twice n (0 before the first add) */
};

tg_params *tg_params_new(void)
{
    return calloc(1, sizeof(tg_params));
}

void tg_params_free(tg_params *ps)
{
    if (!ps) return;
    for (size_t i = 0; i < ps->n; i++) free(ps->e[i].x);
    free(ps->e);
    free(ps->slots);
    if (!ps->vbound) free(ps->val);
    if (!ps->bound) free(ps->grad);
    free(ps);
}

static int fail(tg_status *st, int code, const char *name, size_t rows, size_t cols,
                const char *why)
{
    return tg_status_set(st, code, "tg_params_add: %.*s \"%.*s\" (%zu x %zu)", 40, why,
                         NAME_MAX_LEN + 8, name ? name : "(null)", rows, cols);
}

static void repoint(tg_params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        ps->e[i].x->val = ps->val + ps->e[i].off;
        ps->e[i].x->grad = ps->grad + ps->e[i].off;
    }
}

/* Make room for total scalars in both blocks, doubling, so n adds copy O(numel) in all (they
 * were quadratic: a 30,000-layer model took a minute). 0 on failure, with the blocks (possibly
 * moved) still valid for the old size. */
static int grow(tg_params *ps, size_t total)
{
    if (total <= ps->room) return 1;
    size_t room = total < ps->room * 2 && ps->room <= SIZE_MAX / 2 ? ps->room * 2 : total;
    if (room > SIZE_MAX / sizeof(tg_real)) return 0;
    tg_real *v = realloc(ps->val, room * sizeof *v);
    if (v) ps->val = v;
    tg_real *g = v ? realloc(ps->grad, room * sizeof *g) : NULL;
    if (g) ps->grad = g;
    repoint(ps);
    if (g) ps->room = room;
    return g != NULL;
}

/* FNV-1a of a name: where its search starts in the index. */
static size_t hash(const char *s)
{
    size_t h = (size_t)14695981039346656037u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * (size_t)1099511628211u;
    return h;
}

/* The slot of `name` in the index: holding its entry, or the empty one where it would go. */
static size_t *slot_of(const tg_params *ps, const char *name)
{
    size_t mask = ps->nslots - 1, i = hash(name) & mask;
    while (ps->slots[i] && strcmp(ps->e[ps->slots[i] - 1].name, name) != 0) i = (i + 1) & mask;
    return &ps->slots[i];
}

/* Keep the index more than twice the size of the entries after one more add. */
static int index_room(tg_params *ps)
{
    if (2 * (ps->n + 1) < ps->nslots) return 1;
    size_t n = ps->nslots ? 2 * ps->nslots : 64;
    size_t *slots = n <= SIZE_MAX / sizeof *slots ? calloc(n, sizeof *slots) : NULL;
    if (!slots) return 0;
    free(ps->slots);
    ps->slots = slots, ps->nslots = n;
    for (size_t i = 0; i < ps->n; i++) *slot_of(ps, ps->e[i].name) = i + 1;
    return 1;
}

int tg_params_add(tg_params *ps, const char *name, size_t rows, size_t cols, tg_tensor **out,
                  tg_status *st)
{
    if (out) *out = NULL;
    if (!ps || !name || !out)
        return fail(st, TG_ENULL, name, rows, cols, "NULL store, name or out for");
    if (strlen(name) > NAME_MAX_LEN)
        return fail(st, TG_EINVAL, name, rows, cols, "name longer than 63 bytes:");
    if (tg_params_find(ps, name)) return fail(st, TG_EINVAL, name, rows, cols, "duplicate name");
    if (rows == 0 || cols == 0) return fail(st, TG_EINVAL, name, rows, cols, "zero-size shape for");
    size_t n = rows * cols;
    if (n / cols != rows || n > SIZE_MAX - ps->numel)
        return fail(st, TG_ERANGE, name, rows, cols, "too large:");
    if (ps->bound || ps->vbound)
        return tg_status_set(st, TG_EINVAL,
                             "tg_params_add: \"%.*s\" (%zu x %zu): the store's %s are bound to an "
                             "outside block (tg_params_bind_%s), which cannot grow; add every "
                             "parameter before training",
                             NAME_MAX_LEN + 8, name, rows, cols, ps->bound ? "gradients" : "values",
                             ps->bound ? "grads" : "values");
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        entry *e = realloc(ps->e, cap * sizeof *e);
        if (!e) return fail(st, TG_ENOMEM, name, rows, cols, "out of memory adding");
        ps->e = e;
        ps->cap = cap;
    }
    tg_tensor *x = malloc(sizeof *x);
    if (!x || !index_room(ps) || !grow(ps, ps->numel + n)) {
        free(x);
        return fail(st, TG_ENOMEM, name, rows, cols, "out of memory adding");
    }
    entry *e = &ps->e[ps->n++];
    memcpy(e->name, name, strlen(name) + 1);
    *slot_of(ps, e->name) = ps->n;
    e->off = ps->numel;
    e->x = x;
    tg_tensor_init(x, rows, cols, ps->val + e->off, ps->grad + e->off);
    x->name = e->name;
    memset(x->val, 0, n * sizeof *x->val);
    memset(x->grad, 0, n * sizeof *x->grad);
    ps->numel += n;
    *out = x;
    return TG_OK;
}

size_t tg_params_count(const tg_params *ps)
{
    return ps->n;
}

size_t tg_params_numel(const tg_params *ps)
{
    return ps->numel;
}

tg_tensor *tg_params_get(const tg_params *ps, size_t i)
{
    return i < ps->n ? ps->e[i].x : NULL;
}

tg_tensor *tg_params_find(const tg_params *ps, const char *name)
{
    if (!name || !ps->nslots) return NULL;
    size_t i = *slot_of(ps, name);
    return i ? ps->e[i - 1].x : NULL;
}

const char *tg_params_name(const tg_params *ps, size_t i)
{
    return i < ps->n ? ps->e[i].name : NULL;
}

tg_real *tg_params_values(tg_params *ps)
{
    return ps->val;
}

tg_real *tg_params_grads(tg_params *ps)
{
    return ps->grad;
}

/* The store's block *own (its values or its gradients) moved into block, the caller's: copied,
 * freed, the tensors re-pointed. `what` names the call in messages. */
static int bind(tg_params *ps, tg_real **own, int *bound, tg_real *block, const char *what,
                tg_status *st)
{
    if (*bound || ps->numel == 0)
        return tg_status_set(st, TG_EINVAL, "%s: the store (%zu values) is %s", what, ps->numel,
                             *bound ? "already bound" : "empty");
    memcpy(block, *own, ps->numel * sizeof *block);
    free(*own);
    *own = block, *bound = 1;
    repoint(ps);
    return TG_OK;
}

/* A block of the store's own again for *own, bound to the caller's: allocated, copied from the
 * bound block, the tensors re-pointed. */
static int unbind(tg_params *ps, tg_real **own, int *bound, const char *what, tg_status *st)
{
    if (!*bound) return TG_OK;
    tg_real *mine = malloc(ps->room * sizeof *mine); /* room >= numel > 0, checked when grown */
    if (!mine)
        return tg_status_set(st, TG_ENOMEM, "%s: out of memory for %zu reals", what, ps->room);
    memcpy(mine, *own, ps->numel * sizeof *mine);
    *own = mine, *bound = 0;
    repoint(ps);
    return TG_OK;
}

int tg_params_bind_grads(tg_params *ps, tg_real *block, tg_status *st)
{
    if (!ps || !block)
        return tg_status_set(st, TG_ENULL, "tg_params_bind_grads: the store or the block is NULL");
    return bind(ps, &ps->grad, &ps->bound, block, "tg_params_bind_grads", st);
}

int tg_params_unbind_grads(tg_params *ps, tg_status *st)
{
    return unbind(ps, &ps->grad, &ps->bound, "tg_params_unbind_grads", st);
}

int tg_params_bind_values(tg_params *ps, tg_real *block, tg_status *st)
{
    if (!ps || !block)
        return tg_status_set(st, TG_ENULL, "tg_params_bind_values: the store or the block is NULL");
    return bind(ps, &ps->val, &ps->vbound, block, "tg_params_bind_values", st);
}

int tg_params_unbind_values(tg_params *ps, tg_status *st)
{
    return unbind(ps, &ps->val, &ps->vbound, "tg_params_unbind_values", st);
}

void tg_params_zero_grad(tg_params *ps)
{
    size_t n = ps->numel, chunks = (n + ZERO_CHUNK - 1) / ZERO_CHUNK;
    TGI_PARALLEL_FOR(tgi_threads_for(n, ZERO_PER_THREAD), ch, chunks, {
        size_t lo = ch * ZERO_CHUNK, len = n - lo < ZERO_CHUNK ? n - lo : ZERO_CHUNK;
        memset(ps->grad + lo, 0, len * sizeof *ps->grad);
    });
}

void tg_init_uniform(tg_tensor *w, double lo, double hi, tg_rng *rng)
{
    size_t n = tg_numel(w);
    for (size_t i = 0; i < n; i++) w->val[i] = (tg_real)(lo + (hi - lo) * tg_rng_uniform(rng));
}

void tg_init_normal(tg_tensor *w, double mean, double std, tg_rng *rng)
{
    size_t n = tg_numel(w);
    for (size_t i = 0; i < n; i++) w->val[i] = (tg_real)(mean + std * tg_rng_normal(rng));
}

void tg_init_xavier(tg_tensor *w, tg_rng *rng)
{
    double a = sqrt(6.0 / (double)(w->cols + w->rows)); /* fan_in = cols, fan_out = rows */
    tg_init_uniform(w, -a, a, rng);
}

void tg_params_init_uniform(tg_params *ps, double k, tg_rng *rng)
{
    for (size_t i = 0; i < ps->n; i++) tg_init_uniform(ps->e[i].x, -k, k, rng);
}
