/* internal.h: what nn/'s files share and do not export (tgi_ names, hidden).
 *
 * Read next: trainer.h (the data-parallel rules these serve).
 */
#ifndef TG_NN_INTERNAL_H
#define TG_NN_INTERNAL_H

#include "nn/trainer.h"

/* Rank k of a data-parallel trainer draws from the model's generator jumped k times (2^128
 * draws each); nothing happens without a communicator or a generator. */
void tgi_trainer_rank_rng(tg_trainer *tr);

/* The blocks of the global gradient norm (clip.c). tg_grad_norm cuts a store of n gradients
 * into blocks of tgi_norm_block(n) elements (a multiple of 16; at most TGI_NORM_BLOCKS blocks),
 * sums each block's squares into TGI_NORM_LANES partial sums (tgi_squares_into, then
 * tgi_lanes_sum) and adds the block sums in block order. A data-parallel sum that computes the
 * block sums of its share as it adds (nn/dist.c) gets the norm's bits without a pass of its
 * own. */
#define TGI_NORM_LANES  8
#define TGI_NORM_BLOCKS 256
size_t tgi_norm_block(size_t n);
/* acc[i % TGI_NORM_LANES] += g[i]² for i = 0, 1, ... n − 1, in that order: a block summed in
 * pieces whose lengths are multiples of TGI_NORM_LANES (the last excepted) gets the bits of
 * one call over the whole block. */
void tgi_squares_into(double *acc, const tg_real *g, size_t n);
/* acc[0] + acc[1] + ... in that order. */
double tgi_lanes_sum(const double *acc);

#endif
