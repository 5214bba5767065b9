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
 * The batcher is a caller-owned struct; it borrows the stream, allocates nothing and needs no
 * deinit. The stream must outlive it and not change.
 *
 * Read next: optim.h (what consumes the gradients of each window).
 */
#ifndef TG_BATCHER_H
#define TG_BATCHER_H

#include "autograd/tensor.h"

#include <stddef.h>
#include <stdint.h>

TG_BEGIN_DECLS

typedef struct tg_batcher {
    const int32_t *tok; /* the stream, N ids; borrowed */
    size_t N;           /* stream length */
    size_t B;           /* rows */
    size_t T;           /* steps per full window */
    size_t L;           /* tokens per row, N / B */
    size_t epoch;       /* completed epochs */
    size_t offset;      /* pairs of each row consumed in this epoch, 0 .. L − 1 */
} tg_batcher;

/* Set b up over tok[0..N) (borrowed) with B rows and windows of T steps, at epoch 0, offset 0.
 * Returns TG_OK; TG_ENULL (b or tok NULL), TG_EINVAL (B == 0 or T == 0) or TG_ESHAPE (N < 2·B:
 * some row would have fewer than 2 tokens, so no target), with a message in err[0..errsz) when
 * err is not NULL that names N, B and T. On failure *b is zeroed (next then returns 0). */
int tg_batcher_init(tg_batcher *b, const int32_t *tok, size_t N, size_t B, size_t T, char *err,
                    size_t errsz);

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
int tg_batcher_set_position(tg_batcher *b, size_t epoch, size_t offset, char *err, size_t errsz);

TG_END_DECLS

#endif
