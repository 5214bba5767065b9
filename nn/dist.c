/* dist.c: the tg_comm of nn/dist.h over MPI (built with -DTG_HAVE_MPI when meson finds MPI),
 * or the one-rank stand-in without it.
 *
 * Invariant: d->mpi is NULL exactly when d->comm.ranks is 1 and MPI was not started here.
 * Read dist.h first.
 */
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

/* Elements per MPI call: counts are int. */
#define PIECE ((size_t)1 << 30)

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

/* One rank's view of the ranks: world (a duplicate of MPI_COMM_WORLD), the ranks of its node
 * (node), the first rank of every node (leaders, MPI_COMM_NULL on the others) and the node's
 * shared window: 2 buffers of `chunk` bytes a rank, base[r] rank r's (node numbering). */
typedef struct net {
    MPI_Comm world, node, leaders;
    MPI_Win win;
    char **base;
    int node_rank, node_ranks, nodes;
    size_t chunk; /* bytes of one buffer, a multiple of 64 */
    size_t turn;  /* which of the two buffers the next piece uses (counts pieces) */
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

/* Every element's order of addition is rank 0's value, plus rank 1's, ... on every rank. */
#define ADD_SLOTS(T)                                                                               \
    for (size_t i = lo; i < hi; i++) {                                                             \
        T a = ((T *)L->base[0])[off + i];                                                          \
        for (int r = 1; r < L->node_ranks; r++) a += ((T *)L->base[r])[off + i];                   \
        ((T *)L->base[0])[off + i] = a;                                                            \
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

/* The node's ranks all reach this point, their stores to the window seen by the others. */
static int node_sync(net *L)
{
    int err = MPI_Win_sync(L->win);
    if (err == MPI_SUCCESS) err = MPI_Barrier(L->node);
    if (err == MPI_SUCCESS) err = MPI_Win_sync(L->win);
    return err;
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
    memcpy(L->base[L->node_rank] + off * es, v, m * es);
    int err = node_sync(L);
    if (err != MPI_SUCCESS) return err;
    add_share(L, dt, off, lo, hi);
    err = node_sync(L);
    if (err == MPI_SUCCESS && L->nodes > 1) {
        if (L->leaders != MPI_COMM_NULL)
            err =
                MPI_Allreduce(MPI_IN_PLACE, L->base[0] + off * es, (int)m, t, MPI_SUM, L->leaders);
        if (err == MPI_SUCCESS) err = node_sync(L);
    }
    if (err == MPI_SUCCESS) memcpy(v, L->base[0] + off * es, m * es);
    return err;
}

static int sum(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    MPI_Datatype t;
    if (!mpi_type(dt, &t)) return bad_type("tg_comm sum", dt, st);
    net *L = ctx;
    size_t es = dtype_size(dt), piece = L->chunk / es;
    for (size_t i = 0; i < n; i += piece) {
        int err = sum_piece(L, (char *)v + i * es, n - i < piece ? n - i : piece, es, dt, t);
        if (err != MPI_SUCCESS) return check(err, "tg_comm sum (shared memory)", n, st);
    }
    return TG_OK;
}

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

/* Frees what open_link made of L (any part may be missing) and L. */
static void close_link(net *L)
{
    if (L->win != MPI_WIN_NULL) {
        MPI_Win_unlock_all(L->win);
        MPI_Win_free(&L->win);
    }
    if (L->leaders != MPI_COMM_NULL) MPI_Comm_free(&L->leaders);
    if (L->node != MPI_COMM_NULL) MPI_Comm_free(&L->node);
    if (L->world != MPI_COMM_NULL) MPI_Comm_free(&L->world);
    free(L->base);
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

/* The communicators and the node's shared window of L (collective over world). */
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
    L->base = calloc((size_t)L->node_ranks, sizeof *L->base);
    if (!L->base) return MPI_ERR_NO_MEM;
    void *mine;
    err = MPI_Win_allocate_shared((MPI_Aint)(2 * L->chunk), 64, MPI_INFO_NULL, L->node, &mine,
                                  &L->win);
    if (err != MPI_SUCCESS) return L->win = MPI_WIN_NULL, err;
    err = MPI_Win_set_errhandler(L->win, MPI_ERRORS_RETURN);
    for (int r = 0; r < L->node_ranks && err == MPI_SUCCESS; r++) {
        MPI_Aint size;
        int unit;
        err = MPI_Win_shared_query(L->win, r, &size, &unit, &L->base[r]);
    }
    if (err == MPI_SUCCESS) err = MPI_Win_lock_all(MPI_MODE_NOCHECK, L->win);
    return err;
}

/* World (a duplicate of MPI_COMM_WORLD that returns its errors), the node's shared window and
 * the leaders' communicator; rank and size into d. */
static int open_world(tg_dist *d, tg_status *st)
{
    net *L = calloc(1, sizeof *L);
    if (!L) return tg_status_set(st, TG_ENOMEM, "tg_dist_init: out of memory");
    L->world = L->node = L->leaders = MPI_COMM_NULL, L->win = MPI_WIN_NULL;
    int rank = 0, size = 1, err = MPI_Comm_dup(MPI_COMM_WORLD, &L->world);
    if (err == MPI_SUCCESS) err = MPI_Comm_set_errhandler(L->world, MPI_ERRORS_RETURN);
    if (err == MPI_SUCCESS) err = MPI_Comm_rank(L->world, &rank);
    if (err == MPI_SUCCESS) err = MPI_Comm_size(L->world, &size);
    if (err == MPI_SUCCESS) err = open_shared(L, rank);
    if (err != MPI_SUCCESS) {
        if (L->win != MPI_WIN_NULL) MPI_Win_free(&L->win), L->win = MPI_WIN_NULL;
        close_link(L);
        return check(err, "tg_dist_init: the communicators and the shared window", 0, st);
    }
    d->mpi = L;
    d->comm = (tg_comm){.rank = (size_t)rank,
                        .ranks = (size_t)size,
                        .ctx = L,
                        .sum = sum,
                        .gather = gather,
                        .bcast = bcast};
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
