/* shape.h: column and row slices and concatenations (gradients flow back to the pieces).
 * Column slices cut a fused gate product into its gates; row slices cut a product done for all
 * T steps at once, (T·B x N), into the steps. All copy, except a row slice, which is a view. */
#ifndef TG_SHAPE_H
#define TG_SHAPE_H

#include "autograd/tape.h"

TG_BEGIN_DECLS

/* Columns [start, start + len) of x: (rows x len). A range past x's columns is an error. */
tg_tensor *tg_slice_cols(tg_tape *t, tg_tensor *x, size_t start, size_t len);
/* Rows [start, start + len) of x: (len x cols), a view: its value and gradient are that block
 * of x's (no copy; writing into one writes into the other, and its gradient is the rows of
 * x's gradient, which includes what x's other users add). */
tg_tensor *tg_slice_rows(tg_tape *t, tg_tensor *x, size_t start, size_t len);
/* xs[0..n-1] side by side: every piece has the same rows; cols add up. n >= 1. */
tg_tensor *tg_concat_cols(tg_tape *t, size_t n, tg_tensor *const *xs);
/* xs[0..n-1] stacked: every piece has the same cols; rows add up. n >= 1. */
tg_tensor *tg_concat_rows(tg_tape *t, size_t n, tg_tensor *const *xs);

TG_END_DECLS

#endif
