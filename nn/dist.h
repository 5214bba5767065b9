/* dist.h: data-parallel training over MPI: a tg_comm (nn/trainer.h) whose calls are MPI
 * collectives, for a program started by mpirun.
 *
 *     tg_dist d;
 *     if (tg_dist_init(&d, &argc, &argv, &st) != TG_OK) ...   every rank, first thing
 *     cfg.comm = tg_dist_comm(&d);                              NULL when there is one rank
 *     ... tg_trainer_init, tg_trainer_window on every rank; rank 0 prints and saves ...
 *     tg_trainer_deinit(&tr);                                    before finalize
 *     tg_dist_finalize(&d);
 *
 * A program not started by an MPI launcher (none of the environment variables Open MPI, PMIx
 * or MPICH's Hydra set) is one rank and never calls MPI, so a build with MPI runs as before,
 * and under sanitizers. Without MPI at build time (meson -Dmpi=disabled, or no libopenmpi-dev)
 * the same calls exist: init gives one rank, and fails with TG_EINVAL when a launcher started
 * the process (N copies of a one-rank program would each train alone).
 *
 * Shared memory among the ranks of one machine (MPI_COMM_TYPE_SHARED): one POSIX shared-memory
 * segment per use (shm_open in /dev/shm, reserved with posix_fallocate, unlinked as soon as
 * every rank has mapped it, so nothing is left behind whatever happens), not MPI-3 windows:
 * Open MPI 4.1's MPI_Win_allocate_shared hangs when its backing file cannot be made, where
 * this falls back. Three uses:
 *   - share (tg_comm): a gradient block of n reals a rank. The trainer keeps its store's
 *     gradients there (tg_params_bind_grads), so sum_shared needs no copy: a barrier; each
 *     rank takes a contiguous run of the gradient norm's blocks (tgi_norm_block: they depend
 *     only on n), adds each element over the node's blocks in rank order (rank 0's value, plus
 *     rank 1's, ..., whatever the timing), writes the total into every rank's block (the runs
 *     are disjoint) and the sum of squares of each of its blocks into a slot of its own; a
 *     barrier; every rank adds the slots in block order, so every rank has the same norm, with
 *     the bits of tg_grad_norm over the total, without another pass. Each rank reads its 1/R of
 *     every rank's block and writes it back: for ptb-medium's 79 MB, 158 MB of memory traffic
 *     a rank, against about 440 through sum's copies and 79 more for the norm. Several
 *     machines: the node's totals go to the first rank's block, the first ranks of the machines
 *     sum them with MPI_Allreduce, and the others copy the result (then the squares of their
 *     run). At most MAX_SHARED blocks are in use at
 *     once; one given back (unshare) is handed out again to a later share that it holds.
 *   - share_node (tg_comm): one block of n reals for all the node's ranks (one segment, mapped
 *     by each), and the run [lo, hi) of it the rank steps: its run of the norm's blocks in
 *     sum_shared. The trainer keeps its store's values there (tg_params_bind_values) and shards
 *     the optimizer step: sum_scatter is sum_shared except that each rank writes the total of its
 *     run into its own block only and zeros into the others' there (each block is then the total
 *     on its rank's run and zero elsewhere; the same norm), the rank steps its run of the values
 *     (tg_optim_step_range), and sync (a barrier of the node) keeps every rank from recording
 *     the next window before all runs are written. Per rank and step, for ptb-medium's 79 MB of
 *     float gradients: the sum reads and writes 158 MB as before, and the step (SGD without
 *     momentum: the gradient read and zeroed, the value read and written) moves 158 MB where it
 *     moved 316, with one copy of the values on the node instead of one a rank. Several
 *     machines, or no shared memory: share_node gives no block, and every rank steps
 *     everything.
 *   - sum (tg_comm), of any vector: in pieces of at most 512 KiB, each rank copies its piece
 *     into its buffer of a small segment, adds its 1/R share of the piece over all the buffers
 *     into the first rank's, and copies the total back; two barriers a piece. Several machines:
 *     the first rank of each sums the machines' totals with MPI_Allreduce before the copy back.
 * Every reduction Open MPI chooses adds each pair of partial sums the same way on every rank, so
 * every rank receives the same bits, and the same bits from run to run; tests/test_nn_dist.c
 * checks both. Test switches in the environment: TG_DIST_NODE_RANKS=k takes blocks of k
 * consecutive ranks as one machine (the several-machine path on one machine); TG_DIST_NO_SHM=1
 * uses no shared memory at all (sum is MPI_Allreduce, share gives no block), which is also what
 * happens when a segment cannot be had on some rank (a full /dev/shm): the trainer then sums
 * with sum. Open MPI's own MPI_Allreduce of the 79 MB of ptb-medium was 3 to 10 times slower on
 * 2 ranks of one machine (docs/scaling.md). Errors are returned, not fatal (MPI_ERRORS_RETURN
 * on a duplicate of MPI_COMM_WORLD); a rank that dies is normally noticed first by mpirun,
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
/* Stop MPI (after every rank's last collective call) and unmap the shared memory: deinit every
 * trainer that uses d's communicator first (its store's gradients may live there). */
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
