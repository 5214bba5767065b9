/* embedding.h: rows of a table picked by integer ids. */
#ifndef TG_EMBEDDING_H
#define TG_EMBEDDING_H

#include "autograd/tape.h"

#include <stdint.h>

TG_BEGIN_DECLS

/* y[i] = W[ids[i]] for i < n: (n x E) from W (V x E). ids are copied (the caller's buffer may
 * be reused at once). An id outside [0, V) records "tg_embedding: id <v> at position <i> is
 * out of range for a table of <V> rows (V x E)". Backward scatter-adds: dW[ids[i]] += dy[i],
 * so repeated ids accumulate. */
tg_tensor *tg_embedding(tg_tape *t, tg_tensor *W, const int32_t *ids, size_t n);

TG_END_DECLS

#endif
