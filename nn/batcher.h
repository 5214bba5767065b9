/* batcher.h: windows of a token stream for truncated backpropagation through time.
 *
 * The stream tok[0..N) is cut into B rows of L = N / B tokens each; row b is
 * tok[b·L .. b·L + L), and the last N mod B tokens are dropped. Each row is read left to
 * right in windows of T steps: the inputs are the row's tokens at positions [off, off + T'),
 * the targets the tokens one further, [off + 1, off + T' + 1). Consecutive windows continue
 * each row's text, so the hidden state carried from one window to the next (a detach, see
 * DESIGN decision 8) belongs to the same text.
 *
 * A row has L − 1 (input, target) pairs. An epoch is ceil((L − 1) / T) windows:
 *
 *   RAGGED END: every window has T' = T steps except the last of an epoch, which has
 *   T' = (L − 1) mod T steps when that is not 0 (1 <= T' < T). No pair is dropped and none is
 *   repeated. After the last window tg_batcher_next returns 0 once, ends the epoch (epoch + 1,
 *   offset 0) and the next call starts the next epoch from the beginning of every row.
 *
 * Layout of a window: time-major, step t of row b at index t·B + b, for inputs and targets
 * alike, so rows t·B .. t·B + B − 1 of a (T'·B x E) embedding are step t's minibatch.
 *
 * Position: (epoch, offset), with offset the number of pairs of each row already handed out in
 * this epoch (0 <= offset <= L − 1). Reading it after a step and setting it on a fresh batcher
 * of the same stream, B and T resumes exactly the same windows (checkpoints do this).
 *
 * SHARES: data-parallel training (nn/dist.h) gives each of R processes B / R of the rows. The
 * share of rank r is rows [r·B/R, (r + 1)·B/R) of the cut into B rows (same L, same offsets),
 * handed out as its own B/R-row windows, so the R shares of a window are, row for row, the
 * window of one batcher of B rows.
 *
 * The batcher is a caller-owned struct; it borrows the stream, allocates nothing and needs no
 * deinit. The stream must outlive it and not change.
 *
 * Read next: optim.h (what consumes the gradients of each window).
 */
#ifndef TG_BATCHER_H
#define TG_BATCHER_H

#include "autograd/status.h"
#include "autograd/tensor.h"

#include <stddef.h>
#include <stdint.h>

TG_BEGIN_DECLS

typedef struct tg_batcher {
    const int32_t *tok; /* the stream, N ids; borrowed */
    size_t N;           /* stream length */
    size_t B;           /* rows this batcher hands out (its share) */
    size_t T;           /* steps per full window */
    size_t L;           /* tokens per row, N / B_all */
    size_t row0;        /* the first of its rows in the cut into B_all rows */
    size_t B_all;       /* rows the stream is cut into (B times the ranks sharing it) */
    size_t epoch;       /* completed epochs */
    size_t offset;      /* pairs of each row consumed in this epoch, 0 .. L − 1 */
} tg_batcher;

/* Set b up over tok[0..N) (borrowed) with B rows and windows of T steps, at epoch 0, offset 0.
 * Returns TG_OK; TG_ENULL (b or tok NULL), TG_EINVAL (B == 0 or T == 0) or TG_ESHAPE (N < 2·B:
 * some row would have fewer than 2 tokens, so no target), with a message in st that names N, B
 * and T. On failure *b is zeroed (next then returns 0). */
int tg_batcher_init(tg_batcher *b, const int32_t *tok, size_t N, size_t B, size_t T, tg_status *st);

/* The share of rank `rank` of `ranks` (see SHARES above): B / ranks rows of the cut into B.
 * Fails as tg_batcher_init, and with TG_EINVAL when ranks is 0, rank >= ranks or B is not a
 * multiple of ranks (the message names B and the ranks). tg_batcher_init is rank 0 of 1. */
int tg_batcher_init_share(tg_batcher *b, const int32_t *tok, size_t N, size_t B, size_t T,
                          size_t rank, size_t ranks, tg_status *st);

/* The longest window this batcher gives: min(T, L − 1) steps, so buffers of
 * tg_batcher_max_steps(b)·B ids are enough however large T is. */
size_t tg_batcher_max_steps(const tg_batcher *b);

/* The next window: writes T'·B inputs into x and T'·B targets into y (time-major, see above;
 * each buffer must hold tg_batcher_max_steps(b)·B ids; either may be NULL to skip it) and
 * returns T'. Returns 0 at
 * the end of an epoch, writing nothing; the following call starts the next epoch. */
size_t tg_batcher_next(tg_batcher *b, int32_t *x, int32_t *y);

/* Windows per epoch: ceil((L − 1) / T). */
size_t tg_batcher_windows(const tg_batcher *b);

/* Where the batcher is, and where to put it. set_position returns TG_OK, or TG_ERANGE with a
 * message when offset > L − 1 (the position is then unchanged). */
void tg_batcher_position(const tg_batcher *b, size_t *epoch, size_t *offset);
int tg_batcher_set_position(tg_batcher *b, size_t epoch, size_t offset, tg_status *st);

TG_END_DECLS

#endif
