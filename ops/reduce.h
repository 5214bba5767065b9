/* reduce.h: sums and means of all elements (a loss), of each row or of each column; and, not
 * differentiated, the index of each row's largest element (greedy decoding) and the positions
 * of the k largest elements (beam search).
 *
 * x is (B x N). Each op returns NULL on a NULL input (keeping the first message); a mean of
 * nothing (no element, no column, no row) records "<op>: nothing to average: x is (B x N)".
 */
#ifndef TG_REDUCE_H
#define TG_REDUCE_H

#include "autograd/status.h"
#include "autograd/tape.h"

#include <stdint.h>

TG_BEGIN_DECLS

tg_tensor *tg_sum(tg_tape *t, tg_tensor *x);  /* y = Σ x          (1 x 1) */
tg_tensor *tg_mean(tg_tape *t, tg_tensor *x); /* y = Σ x / numel  (1 x 1); x must not be empty */

/* Each row's sum, y[i] = Σ_j x[i][j]: (B x 1). With tg_mul it is a batch of dot products (an
 * attention score per row); with the column broadcast of tg_sub/tg_div, a per-row centring. */
tg_tensor *tg_row_sum(tg_tape *t, tg_tensor *x);
tg_tensor *tg_row_mean(tg_tape *t, tg_tensor *x); /* y[i] = Σ_j x[i][j] / N  (B x 1); N >= 1 */
/* Each column's sum over the rows, y[j] = Σ_i x[i][j]: (1 x N). */
tg_tensor *tg_col_sum(tg_tape *t, tg_tensor *x);
tg_tensor *tg_col_mean(tg_tape *t, tg_tensor *x); /* y[j] = Σ_i x[i][j] / B  (1 x N); B >= 1 */

/* ids[i] = the column of row i's largest value, for i < B (ids holds B entries): greedy
 * decoding from logits or probabilities. Ties go to the first; a NaN counts as the largest.
 * Not an op: nothing is recorded and no gradient flows. Returns TG_OK; TG_ENULL for a NULL x or
 * ids; TG_ESHAPE when x has no columns or more than 2^31 - 1 (ids are int32_t, as tg_embedding
 * and tg_softmax_xent take them). ids is unchanged on failure. */
int tg_row_argmax(const tg_tensor *x, int32_t *ids, tg_status *st);

/* pos[0..k) = the positions (row-major, i·N + j) of x's k largest values, largest first: beam
 * search's choice among K beams' scores for N tokens, (K x N), is pos / N (the beam) and pos % N
 * (the token). Equal values keep their order; a NaN counts as the largest. Not an op. Takes
 * O(numel·k) time, for a beam's small k. Returns TG_OK; TG_ENULL for a NULL x or pos; TG_ERANGE
 * when k is more than x's elements. pos is unchanged on failure. */
int tg_top_k(const tg_tensor *x, size_t k, size_t *pos, tg_status *st);

TG_END_DECLS

#endif
