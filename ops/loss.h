/* loss.h: softmax cross-entropy from logits and integer targets. */
#ifndef TG_LOSS_H
#define TG_LOSS_H

#include "autograd/tape.h"

#include <stdint.h>

TG_BEGIN_DECLS

/* loss = mean over the n rows of -log softmax(logits[i])[targets[i]], a (1 x 1) tensor.
 * logits is (n x V); targets are copied. Stable: uses log-sum-exp with the row maximum.
 * Forward keeps each row's maximum and normaliser, from which backward recomputes the
 * probabilities p: dlogits += dloss * (p - onehot) / n.
 * A row count other than n, or a target outside [0, V), records an error naming the shapes or
 * the target and its position. */
tg_tensor *tg_softmax_xent(tg_tape *t, tg_tensor *logits, const int32_t *targets, size_t n);

TG_END_DECLS

#endif
