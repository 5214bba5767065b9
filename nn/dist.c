/* dist.c: the tg_comm of nn/dist.h over MPI (built with -DTG_HAVE_MPI when meson finds MPI),
 * or the one-rank stand-in without it.
 *
 * Invariant: d->mpi is NULL exactly when d->comm.ranks is 1 and MPI was not started here.
 * Read dist.h first.
 */
#define _POSIX_C_SOURCE 200809L /* shm_open, posix_fallocate, mmap */

#include "nn/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* Whether an MPI launcher started this process. */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

static void one_rank(tg_dist *d)
{
    memset(d, 0, sizeof *d);
    d->comm.ranks = 1;
}

const tg_comm *tg_dist_comm(const tg_dist *d)
{
    return d->comm.ranks > 1 ? &d->comm : NULL;
}

#ifdef TG_HAVE_MPI
#include <mpi.h>

#include "nn/internal.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

/* Elements per MPI call: counts are int. */
#define PIECE ((size_t)1 << 30)
/* Shared blocks a run can hold at once (a trainer alive takes a gradient block and a value block;
 * share and share_node say none past it). */
#define MAX_SHARED 16
/* Elements of a block added at a time in sum_shared: the total of a tile of every rank's block,
 * kept on the stack, is written to every block and squared before the next. */
#define TILE 512

static int mpi_type(tg_dtype dt, MPI_Datatype *t)
{
    *t = dt == TG_DT_F32 ? MPI_FLOAT : dt == TG_DT_F64 ? MPI_DOUBLE : MPI_UINT64_T;
    return dt == TG_DT_F32 || dt == TG_DT_F64 || dt == TG_DT_U64;
}

static size_t dtype_size(tg_dtype dt)
{
    return dt == TG_DT_F32 ? 4 : 8;
}

/* TG_OK for MPI_SUCCESS, else TG_EIO with st naming the call and MPI's words. */
static int check(int err, const char *call, size_t n, tg_status *st)
{
    if (err == MPI_SUCCESS) return TG_OK;
    char why[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, why, &len) != MPI_SUCCESS) snprintf(why, sizeof why, "error %d", err);
    return tg_status_set(st, TG_EIO, "%s of %zu values failed: %s (did another rank stop?)", call,
                         n, why);
}

static int bad_type(const char *call, tg_dtype dt, tg_status *st)
{
    return tg_status_set(st, TG_EINVAL, "%s: dtype %d is not F32, F64 or U64", call, (int)dt);
}

/* A segment of the node's shared memory (POSIX shm, mapped by every rank of the node): `parts`
 * parts of `bytes` (one a rank, or one for the node), part r at base(w, r). */
typedef struct window {
    char *map;    /* all the parts, parts · bytes; NULL when not made */
    size_t bytes; /* a part: a multiple of the page size */
    int parts;
} window;

static char *base(const window *w, int r)
{
    return w->map + (size_t)r * w->bytes;
}

/* A block shared by the node's ranks: a gradient block (comm->share), n reals a rank, then the
 * rank's TGI_NORM_BLOCKS sums of squares (its blocks' of the total, sum_shared); or one block of
 * n reals for the whole node (comm->share_node, node 1). */
typedef struct shared {
    window w;
    size_t cap; /* reals a block can hold */
    size_t n;   /* reals of its current use */
    int busy;   /* handed out by share or share_node, not yet given back by unshare */
    int node;   /* one block for the node (share_node), not one a rank */
} shared;

/* One rank's view of the ranks: world (a duplicate of MPI_COMM_WORLD), the ranks of its node
 * (node), the first rank of every node (leaders, MPI_COMM_NULL on the others), the node's
 * shared window for sum (2 buffers of `chunk` bytes a rank) and the shared gradient blocks. */
typedef struct net {
    MPI_Comm world, node, leaders;
    window w;
    int node_rank, node_ranks, nodes;
    int shm;      /* 1 when every rank made the window w: else sum is MPI_Allreduce, no share */
    size_t chunk; /* bytes of one buffer, a multiple of 64 */
    size_t turn;  /* which of the two buffers the next piece uses (counts pieces) */
    shared sh[MAX_SHARED];
} net;

/* Bytes of one buffer of the shared window: 1 MiB over the node's ranks, 64 KiB to 512 KiB, so
 * that a piece of every rank stays in cache between its copy-in and the adds (512 KiB for 2
 * ranks reached 9 GB/s where 2 MiB and more reached 2; docs/scaling.md). */
static size_t chunk_bytes(int node_ranks)
{
    size_t c = ((size_t)1 << 20) / (size_t)node_ranks, lo = (size_t)64 << 10,
           hi = (size_t)512 << 10;
    return (c < lo ? lo : c > hi ? hi : c) & ~(size_t)63;
}

/* Whether `mine` (0 or 1) holds on every rank (1 only when it does). */
static int everyone(net *L, int mine, int *all)
{
    return MPI_Allreduce(&mine, all, 1, MPI_INT, MPI_MIN, L->world);
}

/* This rank's attempt at the node's segment `name` of `total` bytes, created and reserved
 * (posix_fallocate: a full /dev/shm fails here, not later with SIGBUS) by the node's first rank
 * and opened by the others once it exists. MAP_FAILED when it cannot be had. */
static char *map_segment(net *L, const char *name, size_t total, int *err)
{
    int ok = 1, fd = -1;
    if (L->node_rank == 0) {
        fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        ok = fd >= 0 && posix_fallocate(fd, 0, (off_t)total) == 0;
    }
    *err = MPI_Bcast(&ok, 1, MPI_INT, 0, L->node);
    if (*err == MPI_SUCCESS && ok && L->node_rank != 0) fd = shm_open(name, O_RDWR, 0);
    void *map = *err == MPI_SUCCESS && ok && fd >= 0
                    ? mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                    : MAP_FAILED;
    if (fd >= 0) close(fd);
    return map;
}

/* A segment of `bytes` a rank for the node's ranks (collective over world), made when every
 * rank of every node can map its node's: *made 1, else 0 and nothing is left. The name is
 * unlinked once every rank has mapped it, so nothing stays in /dev/shm whatever happens next.
 * Open MPI's MPI_Win_allocate_shared was not used: it hangs when its file cannot be made. */
static int window_open(net *L, window *w, size_t bytes, int parts, int *made)
{
    static unsigned long serial;
    bytes = (bytes + 4095) & ~(size_t)4095;
    size_t total = bytes * (size_t)parts;
    unsigned long id[2] = {(unsigned long)getpid(), serial++};
    int err = MPI_Bcast(id, 2, MPI_UNSIGNED_LONG, 0, L->node);
    char name[64];
    snprintf(name, sizeof name, "/tapegrad-%lu-%lu", id[0], id[1]);
    char *map = MAP_FAILED;
    int ok = err == MPI_SUCCESS && total / bytes == (size_t)parts && total < (SIZE_MAX >> 1);
    if (ok) map = map_segment(L, name, total, &err);
    if (err == MPI_SUCCESS) err = everyone(L, map != MAP_FAILED, made);
    if (L->node_rank == 0) shm_unlink(name); /* harmless when it was not made */
    if (map != MAP_FAILED && (err != MPI_SUCCESS || !*made)) munmap(map, total), map = MAP_FAILED;
    w->map = map == MAP_FAILED ? NULL : map, w->bytes = bytes, w->parts = parts;
    return err;
}

static void window_close(window *w)
{
    if (w->map) munmap(w->map, w->bytes * (size_t)w->parts);
    w->map = NULL;
}

/* The node's ranks all reach this point, their stores to shared memory seen by the others. */
static int node_sync(net *L)
{
    atomic_thread_fence(memory_order_seq_cst);
    int err = MPI_Barrier(L->node);
    atomic_thread_fence(memory_order_seq_cst);
    return err;
}

/* v[0..n) summed in place over comm, in calls of at most PIECE elements. */
static int allreduce(void *v, size_t n, size_t es, MPI_Datatype t, MPI_Comm comm)
{
    int err = MPI_SUCCESS;
    for (size_t i = 0; i < n && err == MPI_SUCCESS; i += PIECE)
        err = MPI_Allreduce(MPI_IN_PLACE, (char *)v + i * es, (int)(n - i < PIECE ? n - i : PIECE),
                            t, MPI_SUM, comm);
    return err;
}

/* ---- sum: through the window w in pieces -------------------------------------------------- */

/* Every element's order of addition is rank 0's value, plus rank 1's, ... on every rank. */
#define ADD_SLOTS(T)                                                                               \
    for (size_t i = lo; i < hi; i++) {                                                             \
        T a = ((T *)base(&L->w, 0))[off + i];                                                      \
        for (int r = 1; r < L->node_ranks; r++) a += ((T *)base(&L->w, r))[off + i];               \
        ((T *)base(&L->w, 0))[off + i] = a;                                                        \
    }

/* base[0][off + lo .. off + hi) += the same elements of the other ranks' buffers. */
static void add_share(net *L, tg_dtype dt, size_t off, size_t lo, size_t hi)
{
    if (dt == TG_DT_F32)
        ADD_SLOTS(float)
    else if (dt == TG_DT_F64)
        ADD_SLOTS(double)
    else
        ADD_SLOTS(uint64_t)
}

/* v[0..m) (m elements of size es, m · es <= chunk) summed over all ranks, in place: each rank
 * copies its piece into its buffer, adds its share of the piece over the node's buffers into
 * the first rank's, the node leaders sum the node totals with MPI_Allreduce (several nodes),
 * and every rank copies the total back. Two buffers taken in turn make the copy-in of the
 * next piece safe without a third barrier: a rank reuses a buffer only after every rank has
 * passed the barrier that follows its copy-out. */
static int sum_piece(net *L, char *v, size_t m, size_t es, tg_dtype dt, MPI_Datatype t)
{
    size_t off = (L->turn++ & 1) * L->chunk / es, share = (m + L->node_ranks - 1) / L->node_ranks;
    share = (share + 15) & ~(size_t)15; /* whole cache lines apart */
    size_t lo = (size_t)L->node_rank * share, hi = lo + share;
    lo = lo < m ? lo : m, hi = hi < m ? hi : m;
    memcpy(base(&L->w, L->node_rank) + off * es, v, m * es);
    int err = node_sync(L);
    if (err != MPI_SUCCESS) return err;
    add_share(L, dt, off, lo, hi);
    err = node_sync(L);
    if (err == MPI_SUCCESS && L->nodes > 1) {
        if (L->leaders != MPI_COMM_NULL)
            err = allreduce(base(&L->w, 0) + off * es, m, es, t, L->leaders);
        if (err == MPI_SUCCESS) err = node_sync(L);
    }
    if (err == MPI_SUCCESS) memcpy(v, base(&L->w, 0) + off * es, m * es);
    return err;
}

static int sum(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    MPI_Datatype t;
    if (!mpi_type(dt, &t)) return bad_type("tg_comm sum", dt, st);
    net *L = ctx;
    size_t es = dtype_size(dt), piece = L->chunk / es;
    if (!L->shm)
        return check(allreduce(v, n, es, t, L->world), "tg_comm sum (MPI_Allreduce)", n, st);
    for (size_t i = 0; i < n; i += piece) {
        int err = sum_piece(L, (char *)v + i * es, n - i < piece ? n - i : piece, es, dt, t);
        if (err != MPI_SUCCESS) return check(err, "tg_comm sum (shared memory)", n, st);
    }
    return TG_OK;
}

/* ---- share and sum_shared: gradient blocks that live in shared memory -------------------- */

/* Bytes of the block part of a window of cap reals (its sums of squares follow). */
static size_t block_bytes(size_t cap)
{
    return (cap * sizeof(tg_real) + 63) & ~(size_t)63;
}

static tg_real *block_of(const shared *s, int r)
{
    return (tg_real *)base(&s->w, r);
}

static double *squares_of(const shared *s, int r)
{
    return (double *)(base(&s->w, r) + block_bytes(s->cap));
}

/* Makes sh[k] a window for n reals a rank (node 0) or for the node (node 1), when every rank
 * can (collective): 1 if made. */
static int make_shared(net *L, int k, size_t n, int node, int *made)
{
    shared *s = &L->sh[k];
    size_t bytes = node ? block_bytes(n) : block_bytes(n) + TGI_NORM_BLOCKS * sizeof(double);
    int err = window_open(L, &s->w, bytes, node ? 1 : L->node_ranks, made);
    if (err == MPI_SUCCESS && *made) s->cap = n, s->node = node;
    return err;
}

/* The entry share (node 0) or share_node (node 1) hands out for n reals, the same on every rank,
 * or -1: an idle block of that kind of every rank that holds n (the same entry on all), else a
 * new one. */
static int pick_shared(net *L, size_t n, int node, int *k)
{
    int idle = -1, empty = -1;
    for (int i = MAX_SHARED - 1; i >= 0; i--) {
        const shared *s = &L->sh[i];
        if (!s->w.map)
            empty = i;
        else if (!s->busy && s->cap >= n && s->node == node)
            idle = i;
    }
    /* minima over the ranks of (idle, −idle, empty, −empty): all equal when the ranks agree */
    int mine[4] = {idle, -idle, empty, -empty}, all[4];
    int err = MPI_Allreduce(mine, all, 4, MPI_INT, MPI_MIN, L->world);
    *k = -1;
    if (err != MPI_SUCCESS) return err;
    int made = 1;
    if (all[0] >= 0 && all[0] == -all[1])
        *k = all[0];
    else if (all[2] >= 0 && all[2] == -all[3] &&
             (err = make_shared(L, all[2], n, node, &made)) == MPI_SUCCESS && made)
        *k = all[2];
    return err;
}

/* This rank's block of s: its own part, or the node's one. */
static tg_real *rank_block(const net *L, const shared *s)
{
    return block_of(s, s->node ? 0 : L->node_rank);
}

/* share (node 0) and share_node (node 1): an entry for n reals handed out, its block in *block,
 * or NULL on every rank when there is none. */
static int hand_out(net *L, size_t n, tg_dtype dt, int node, void **block, tg_status *st)
{
    const char *call = node ? "tg_comm share_node" : "tg_comm share";
    *block = NULL;
    if (dt != TG_DT_REAL)
        return tg_status_set(st, TG_EINVAL, "%s: dtype %d is not this build's real", call, (int)dt);
    if (!L->shm || n == 0 || n > (SIZE_MAX >> 1) / sizeof(tg_real)) return TG_OK; /* use sum */
    if (node && L->nodes > 1) return TG_OK; /* every rank steps everything */
    int k, err = pick_shared(L, n, node, &k);
    if (err != MPI_SUCCESS) return check(err, call, n, st);
    if (k < 0) return TG_OK;
    L->sh[k].busy = 1, L->sh[k].n = n;
    *block = rank_block(L, &L->sh[k]);
    return TG_OK;
}

static int share(void *ctx, size_t n, tg_dtype dt, void **block, tg_status *st)
{
    return hand_out(ctx, n, dt, 0, block, st);
}

/* The norm's blocks of a store of n reals (tgi_norm_block) that node rank me of R sums: [b0, b1),
 * and their elements [lo, hi). */
static void run_of(size_t n, size_t me, size_t R, size_t *b0, size_t *b1, size_t *lo, size_t *hi)
{
    size_t len = tgi_norm_block(n), nb = (n + len - 1) / len;
    *b0 = nb * me / R, *b1 = nb * (me + 1) / R;
    *lo = *b0 * len < n ? *b0 * len : n, *hi = *b1 * len < n ? *b1 * len : n;
}

static int share_node(void *ctx, size_t n, tg_dtype dt, void **block, size_t *lo, size_t *hi,
                      tg_status *st)
{
    net *L = ctx;
    size_t b0, b1;
    run_of(n, (size_t)L->node_rank, (size_t)L->node_ranks, &b0, &b1, lo, hi);
    return hand_out(L, n, dt, 1, block, st);
}

static shared *find_shared(net *L, const void *block)
{
    for (int k = 0; k < MAX_SHARED; k++)
        if (L->sh[k].w.map && L->sh[k].busy && rank_block(L, &L->sh[k]) == block) return &L->sh[k];
    return NULL;
}

static void unshare(void *ctx, void *block)
{
    shared *s = find_shared(ctx, block);
    if (s) s->busy = 0;
}

/* Where add_blocks writes the total: every rank's block, the first rank's, or this rank's (and
 * zeros into the others'). */
enum { TO_ALL, TO_FIRST, TO_MINE };

/* Blocks [b0, b1) of the total (blocks of len reals, n in all): every element is rank 0's
 * value, plus rank 1's, ... (in that order, whatever the timing), written as `to` says; with
 * sq, sq[b] = the block's Σ total², as tg_grad_norm sums it. */
static void add_blocks(const net *L, const shared *s, size_t b0, size_t b1, size_t len, int to,
                       double *sq)
{
    int R = L->node_ranks, me = to == TO_MINE ? L->node_rank : 0;
    tg_real t[TILE];
    for (size_t b = b0; b < b1; b++) {
        size_t lo = b * len, hi = lo + len < s->n ? lo + len : s->n;
        double acc[TGI_NORM_LANES] = {0};
        for (size_t i = lo; i < hi; i += TILE) {
            size_t m = hi - i < TILE ? hi - i : TILE;
            const tg_real *g0 = block_of(s, 0) + i;
            for (size_t k = 0; k < m; k++) t[k] = g0[k];
            for (int r = 1; r < R; r++) {
                const tg_real *g = block_of(s, r) + i;
                for (size_t k = 0; k < m; k++) t[k] += g[k]; // Σ over ranks, in rank order
            }
            for (int r = 0; r < R; r++)
                if (to == TO_ALL || r == me)
                    memcpy(block_of(s, r) + i, t, m * sizeof *t);
                else if (to == TO_MINE)
                    memset(block_of(s, r) + i, 0, m * sizeof *t);
            if (sq) tgi_squares_into(acc, t, m);
        }
        if (sq) sq[b] = tgi_lanes_sum(acc);
    }
}

/* Several nodes: the node totals (in the first rank's block) summed by the leaders, copied to
 * every rank of the node, and this rank's blocks [b0, b1) of the squares taken from it. */
static int across_nodes(net *L, const shared *s, size_t b0, size_t b1, size_t len)
{
    int err = node_sync(L);
    MPI_Datatype t = sizeof(tg_real) == 4 ? MPI_FLOAT : MPI_DOUBLE;
    if (err == MPI_SUCCESS && L->leaders != MPI_COMM_NULL)
        err = allreduce(block_of(s, 0), s->n, sizeof(tg_real), t, L->leaders);
    if (err == MPI_SUCCESS) err = node_sync(L);
    if (err != MPI_SUCCESS) return err;
    tg_real *mine = block_of(s, L->node_rank);
    if (L->node_rank) memcpy(mine, block_of(s, 0), s->n * sizeof *mine);
    for (size_t b = b0; b < b1; b++) {
        size_t lo = b * len, hi = lo + len < s->n ? lo + len : s->n;
        double acc[TGI_NORM_LANES] = {0};
        tgi_squares_into(acc, mine + lo, hi - lo);
        squares_of(s, L->node_rank)[b] = tgi_lanes_sum(acc);
    }
    return MPI_SUCCESS;
}

/* Each node rank takes a contiguous run of the norm's blocks (tgi_norm_block, run_of): adds them
 * over the node's blocks, writes the totals to every block (scatter 0) or to its own only, with
 * zeros in the others' (scatter 1), and their sums of squares to its slots; after a barrier every
 * rank adds all the slots in block order. The blocks and their order depend only on n, so every
 * rank and node gets the same bits, and those of tg_grad_norm. */
static int sum_blocks(net *L, void *block, double *sumsq, int scatter, tg_status *st)
{
    const char *call = scatter ? "tg_comm sum_scatter" : "tg_comm sum_shared";
    shared *s = find_shared(L, block);
    if (!s || s->node)
        return tg_status_set(st, TG_EINVAL, "%s: the block is not one of share's", call);
    if (scatter && L->nodes > 1)
        return tg_status_set(st, TG_EINVAL, "%s: the ranks are on %d machines", call, L->nodes);
    size_t len = tgi_norm_block(s->n), R = (size_t)L->node_ranks, b0, b1, lo, hi;
    run_of(s->n, (size_t)L->node_rank, R, &b0, &b1, &lo, &hi);
    int err = node_sync(L); /* every rank's gradients are complete */
    if (err == MPI_SUCCESS) {
        int to = scatter ? TO_MINE : L->nodes == 1 ? TO_ALL : TO_FIRST;
        add_blocks(L, s, b0, b1, len, to, L->nodes == 1 ? squares_of(s, L->node_rank) : NULL);
        if (L->nodes > 1) err = across_nodes(L, s, b0, b1, len);
    }
    if (err == MPI_SUCCESS) err = node_sync(L); /* the totals and squares are written */
    if (err != MPI_SUCCESS) return check(err, call, s->n, st);
    size_t nb = (s->n + len - 1) / len;
    double total = 0;
    for (size_t r = 0; r < R; r++)
        for (size_t b = nb * r / R; b < nb * (r + 1) / R; b++) total += squares_of(s, (int)r)[b];
    *sumsq = total;
    return TG_OK;
}

static int sum_shared(void *ctx, void *block, double *sumsq, tg_status *st)
{
    return sum_blocks(ctx, block, sumsq, 0, st);
}

static int sum_scatter(void *ctx, void *block, double *sumsq, tg_status *st)
{
    return sum_blocks(ctx, block, sumsq, 1, st);
}

static int sync_node(void *ctx, tg_status *st)
{
    return check(node_sync(ctx), "tg_comm sync", 0, st);
}

/* ---- gather, bcast ------------------------------------------------------------------------ */

static int gather(void *ctx, const void *mine, void *all, size_t n, tg_dtype dt, tg_status *st)
{
    MPI_Datatype t;
    if (!mpi_type(dt, &t)) return bad_type("MPI_Gather", dt, st);
    if (n > PIECE)
        return tg_status_set(st, TG_EINVAL, "MPI_Gather: %zu values a rank is more than %zu", n,
                             PIECE);
    return check(MPI_Gather(mine, (int)n, t, all, (int)n, t, 0, ((net *)ctx)->world), "MPI_Gather",
                 n, st);
}

static int bcast(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    MPI_Datatype t;
    if (!mpi_type(dt, &t)) return bad_type("MPI_Bcast", dt, st);
    char *p = v;
    for (size_t i = 0; i < n; i += PIECE) {
        int count = (int)(n - i < PIECE ? n - i : PIECE);
        int err = MPI_Bcast(p + i * dtype_size(dt), count, t, 0, ((net *)ctx)->world);
        if (err != MPI_SUCCESS) return check(err, "MPI_Bcast", n, st);
    }
    return TG_OK;
}

/* ---- opening and closing ------------------------------------------------------------------ */

/* Frees what open_world made of L (any part may be missing) and L. */
static void close_link(net *L)
{
    for (int k = 0; k < MAX_SHARED; k++) window_close(&L->sh[k].w);
    window_close(&L->w);
    if (L->leaders != MPI_COMM_NULL) MPI_Comm_free(&L->leaders);
    if (L->node != MPI_COMM_NULL) MPI_Comm_free(&L->node);
    if (L->world != MPI_COMM_NULL) MPI_Comm_free(&L->world);
    free(L);
}

/* The ranks sharing this one's memory: MPI_COMM_TYPE_SHARED, or with TG_DIST_NODE_RANKS=k in
 * the environment, blocks of k consecutive ranks (tests the several-node path on one machine). */
static int split_node(net *L, int rank)
{
    const char *k = getenv("TG_DIST_NODE_RANKS");
    long per = k ? strtol(k, NULL, 10) : 0;
    if (per > 0) return MPI_Comm_split(L->world, (int)(rank / per), rank, &L->node);
    return MPI_Comm_split_type(L->world, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &L->node);
}

/* The communicators and the node's shared window of L (collective over world). A window that
 * cannot be made on some rank is made on none: sum is then MPI_Allreduce, and share gives no
 * block. */
static int open_shared(net *L, int rank)
{
    int err = split_node(L, rank);
    if (err == MPI_SUCCESS) err = MPI_Comm_set_errhandler(L->node, MPI_ERRORS_RETURN);
    if (err == MPI_SUCCESS) err = MPI_Comm_rank(L->node, &L->node_rank);
    if (err == MPI_SUCCESS) err = MPI_Comm_size(L->node, &L->node_ranks);
    if (err != MPI_SUCCESS) return err;
    int lead = L->node_rank == 0;
    err = MPI_Comm_split(L->world, lead ? 0 : MPI_UNDEFINED, rank, &L->leaders);
    if (err == MPI_SUCCESS) err = MPI_Allreduce(&lead, &L->nodes, 1, MPI_INT, MPI_SUM, L->world);
    if (err != MPI_SUCCESS) return err;
    L->chunk = chunk_bytes(L->node_ranks);
    const char *off = getenv("TG_DIST_NO_SHM");
    if (off && *off && strcmp(off, "0") != 0) return everyone(L, 0, &L->shm);
    return window_open(L, &L->w, 2 * L->chunk, L->node_ranks, &L->shm);
}

/* World (a duplicate of MPI_COMM_WORLD that returns its errors), the node's shared window and
 * the leaders' communicator; rank and size into d. */
static int open_world(tg_dist *d, tg_status *st)
{
    net *L = calloc(1, sizeof *L);
    if (!L) return tg_status_set(st, TG_ENOMEM, "tg_dist_init: out of memory");
    L->world = L->node = L->leaders = MPI_COMM_NULL;
    int rank = 0, size = 1, err = MPI_Comm_dup(MPI_COMM_WORLD, &L->world);
    if (err == MPI_SUCCESS) err = MPI_Comm_set_errhandler(L->world, MPI_ERRORS_RETURN);
    if (err == MPI_SUCCESS) err = MPI_Comm_rank(L->world, &rank);
    if (err == MPI_SUCCESS) err = MPI_Comm_size(L->world, &size);
    if (err == MPI_SUCCESS) err = open_shared(L, rank);
    if (err != MPI_SUCCESS) {
        close_link(L);
        return check(err, "tg_dist_init: the communicators and the shared window", 0, st);
    }
    d->mpi = L;
    d->comm = (tg_comm){.rank = (size_t)rank,
                        .ranks = (size_t)size,
                        .ctx = L,
                        .sum = sum,
                        .gather = gather,
                        .bcast = bcast,
                        .share = share,
                        .sum_shared = sum_shared,
                        .unshare = unshare,
                        .share_node = share_node,
                        .sum_scatter = sum_scatter,
                        .sync = sync_node};
    return TG_OK;
}

int tg_dist_init(tg_dist *d, int *argc, char ***argv, tg_status *st)
{
    one_rank(d);
    if (!launched()) return TG_OK;
    int err = MPI_Init(argc, argv);
    if (err != MPI_SUCCESS) return check(err, "tg_dist_init: MPI_Init", 0, st);
    int rc = open_world(d, st);
    if (rc != TG_OK) {
        MPI_Finalize();
        one_rank(d);
    }
    return rc;
}

void tg_dist_finalize(tg_dist *d)
{
    if (d->mpi) {
        close_link(d->mpi);
        MPI_Finalize();
    }
    one_rank(d);
}

void tg_dist_abort(tg_dist *d, int code)
{
    if (d->mpi) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int tg_dist_available(void)
{
    return 1;
}

#else /* built without MPI */

int tg_dist_init(tg_dist *d, int *argc, char ***argv, tg_status *st)
{
    (void)argc, (void)argv;
    one_rank(d);
    if (launched())
        return tg_status_set(
            st, TG_EINVAL,
            "tg_dist_init: started by an MPI launcher, but tapegrad was built "
            "without MPI (install libopenmpi-dev and reconfigure with -Dmpi=enabled)");
    return TG_OK;
}

void tg_dist_finalize(tg_dist *d)
{
    one_rank(d);
}

void tg_dist_abort(tg_dist *d, int code)
{
    (void)d;
    exit(code);
}

int tg_dist_available(void)
{
    return 0;
}

#endif
