/* layers.h: the linear and embedding layers, in PyTorch's layout, with weight tying.
 *
 * Dimension letters: B rows of a batch, I input features, O output features, V vocabulary,
 * E embedding width. A layer is a small struct of borrowed parameter tensors (the tg_params
 * store owns them); forward records ordinary ops, so a layer has no backward of its own.
 *
 * Names follow PyTorch's state_dict keys: "<prefix>.weight", "<prefix>.bias", e.g.
 * "encoder.weight", "decoder.weight", "decoder.bias".
 */
#ifndef TG_LAYERS_H
#define TG_LAYERS_H

#include "autograd/rng.h"
#include "autograd/tape.h"
#include "nn/params.h"

#include <stddef.h>
#include <stdint.h>

TG_BEGIN_DECLS

typedef struct tg_linear {
    size_t in, out; /* I and O */
    tg_tensor *W;   /* (O x I), PyTorch's layout; borrowed from the store */
    tg_tensor *b;   /* (1 x O), or NULL for no bias; borrowed */
} tg_linear;

typedef struct tg_embed {
    size_t V, E;  /* table size */
    tg_tensor *W; /* (V x E); borrowed from the store */
} tg_embed;

/* Add "<prefix>.weight" (out x in) and, when bias is non-zero, "<prefix>.bias" (1 x out) to ps,
 * initialised as PyTorch's nn.Linear: U(-k, k), k = 1/sqrt(in) (zeros when rng is NULL).
 * Returns TG_OK, or tg_params_add's code and message (a bad or duplicate name, a zero size, out
 * of memory); on failure *l is zeroed and a weight added before a failing bias stays in ps. */
int tg_linear_init(tg_linear *l, tg_params *ps, const char *prefix, size_t in, size_t out, int bias,
                   tg_rng *rng, tg_status *st);

/* Weight tying: a (E -> V) output layer whose W is e's table itself, so gradients from the
 * embedding and from this layer accumulate in one tensor. Adds only "<prefix>.bias" (1 x V)
 * when bias is non-zero (zeros). Same returns as tg_linear_init. */
int tg_linear_init_tied(tg_linear *l, tg_params *ps, const char *prefix, const tg_embed *e,
                        int bias, tg_status *st);

/* y = x·Wᵀ + b: x (B x I), y (B x O). One tg_matmul with TG_TRANS_B, nothing copied. NULL on
 * error (message on the tape: a wrong width names tg_matmul and both shapes). */
tg_tensor *tg_linear_forward(tg_tape *t, const tg_linear *l, tg_tensor *x);

/* Add "<prefix>.weight" (V x E), initialised N(0, 1) as PyTorch's nn.Embedding (zeros when rng
 * is NULL). Same returns as tg_linear_init. */
int tg_embed_init(tg_embed *e, tg_params *ps, const char *prefix, size_t V, size_t E, tg_rng *rng,
                  tg_status *st);

/* y[i] = W[ids[i]]: (n x E). ids are copied. NULL on error (message on the tape). */
tg_tensor *tg_embed_forward(tg_tape *t, const tg_embed *e, const int32_t *ids, size_t n);

TG_END_DECLS

#endif
