/* dist.h: data-parallel training over MPI: a tg_comm (nn/trainer.h) whose calls are MPI
 * collectives, for a program started by mpirun.
 *
 *     tg_dist d;
 *     if (tg_dist_init(&d, &argc, &argv, &st) != TG_OK) ...   every rank, first thing
 *     cfg.comm = tg_dist_comm(&d);                              NULL when there is one rank
 *     ... tg_trainer_init, tg_trainer_window on every rank; rank 0 prints and saves ...
 *     tg_dist_finalize(&d);
 *
 * A program not started by an MPI launcher (none of the environment variables Open MPI, PMIx
 * or MPICH's Hydra set) is one rank and never calls MPI, so a build with MPI runs as before,
 * and under sanitizers. Without MPI at build time (meson -Dmpi=disabled, or no libopenmpi-dev)
 * the same calls exist: init gives one rank, and fails with TG_EINVAL when a launcher started
 * the process (N copies of a one-rank program would each train alone).
 *
 * The sum goes through shared memory among the ranks of one machine (MPI_COMM_TYPE_SHARED):
 * in pieces of at most 512 KiB, each rank copies its piece into its buffer of an MPI-3 shared
 * window, adds its 1/R share of the piece over all the buffers (rank 0's value, plus rank
 * 1's, ... in that order, whatever the timing) into the first rank's buffer, and copies the
 * total back; two barriers a piece. Ranks on several machines add a step: the first rank of
 * each machine sums the machines' totals with MPI_Allreduce before the copy back (every
 * reduction Open MPI chooses adds each pair of partial sums the same way on every rank). So
 * every rank receives the same bits, and the same bits from run to run; tests/test_nn_dist.c
 * checks both, and with TG_DIST_NODE_RANKS=k in the environment (blocks of k consecutive
 * ranks taken as one machine, for tests) the several-machine path on one machine. Open MPI's
 * own MPI_Allreduce of the 79 MB of ptb-medium was 3 to 10 times slower on 2 ranks of one
 * machine (docs/scaling.md). Errors are returned, not fatal (MPI_ERRORS_RETURN on a duplicate
 * of MPI_COMM_WORLD and on the window); a rank that dies is normally noticed first by mpirun,
 * which stops the others with a message naming it.
 *
 * Read next: trainer.h (what the trainer does with the communicator), docs/scaling.md.
 */
#ifndef TG_DIST_H
#define TG_DIST_H

#include "autograd/status.h"
#include "nn/trainer.h"

#include <stddef.h>

TG_BEGIN_DECLS

typedef struct tg_dist {
    tg_comm comm; /* rank, ranks and the MPI calls; ranks is 1 when MPI is not used */
    void *mpi;    /* the duplicated communicator (owned); NULL when MPI is not used */
} tg_dist;

/* Start MPI when a launcher started this process (argc and argv may be NULL), else one rank.
 * TG_OK, or TG_EINVAL (launched, but built without MPI) or TG_EIO (MPI failed to start) with a
 * message in st; on failure d is one rank and needs no finalize. */
int tg_dist_init(tg_dist *d, int *argc, char ***argv, tg_status *st);
/* Stop MPI (after every rank's last collective call). */
void tg_dist_finalize(tg_dist *d);
/* Stop every rank at once with exit code `code` (MPI_Abort); with one rank, exit(code). For
 * programs: the library itself never exits. */
void tg_dist_abort(tg_dist *d, int code);

/* The communicator for tg_trainer_config.comm and tg_evaluate_shared: NULL with one rank. */
const tg_comm *tg_dist_comm(const tg_dist *d);
/* 1 when MPI support was built in. */
int tg_dist_available(void);

TG_END_DECLS

#endif
