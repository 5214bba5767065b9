/* dist.c: the tg_comm of nn/dist.h over MPI (built with -DTG_HAVE_MPI when meson finds MPI),
 * or the one-rank stand-in without it.
 *
 * Invariant: d->mpi is NULL exactly when d->comm.ranks is 1 and MPI was not started here.
 * Read dist.h first.
 */
#include "nn/dist.h"

#include <stdio.h>
#include <stdlib.h>
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

static int sum(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    MPI_Datatype t;
    if (!mpi_type(dt, &t)) return bad_type("MPI_Allreduce", dt, st);
    char *p = v;
    for (size_t i = 0; i < n; i += PIECE) {
        int count = (int)(n - i < PIECE ? n - i : PIECE);
        int err = MPI_Allreduce(MPI_IN_PLACE, p + i * dtype_size(dt), count, t, MPI_SUM,
                                *(MPI_Comm *)ctx);
        if (err != MPI_SUCCESS) return check(err, "MPI_Allreduce", n, st);
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
    return check(MPI_Gather(mine, (int)n, t, all, (int)n, t, 0, *(MPI_Comm *)ctx), "MPI_Gather", n,
                 st);
}

static int bcast(void *ctx, void *v, size_t n, tg_dtype dt, tg_status *st)
{
    MPI_Datatype t;
    if (!mpi_type(dt, &t)) return bad_type("MPI_Bcast", dt, st);
    char *p = v;
    for (size_t i = 0; i < n; i += PIECE) {
        int count = (int)(n - i < PIECE ? n - i : PIECE);
        int err = MPI_Bcast(p + i * dtype_size(dt), count, t, 0, *(MPI_Comm *)ctx);
        if (err != MPI_SUCCESS) return check(err, "MPI_Bcast", n, st);
    }
    return TG_OK;
}

/* A duplicate of MPI_COMM_WORLD that returns its errors; rank and size into d. */
static int open_world(tg_dist *d, tg_status *st)
{
    MPI_Comm *c = malloc(sizeof *c);
    if (!c) return tg_status_set(st, TG_ENOMEM, "tg_dist_init: out of memory");
    int rank = 0, size = 1, err = MPI_Comm_dup(MPI_COMM_WORLD, c);
    if (err == MPI_SUCCESS) err = MPI_Comm_set_errhandler(*c, MPI_ERRORS_RETURN);
    if (err == MPI_SUCCESS) err = MPI_Comm_rank(*c, &rank);
    if (err == MPI_SUCCESS) err = MPI_Comm_size(*c, &size);
    if (err != MPI_SUCCESS) {
        free(c);
        return check(err, "tg_dist_init: MPI_Comm_dup", 0, st);
    }
    d->mpi = c;
    d->comm = (tg_comm){.rank = (size_t)rank,
                        .ranks = (size_t)size,
                        .ctx = c,
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
        MPI_Comm_free(d->mpi);
        free(d->mpi);
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
