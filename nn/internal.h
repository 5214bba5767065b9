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

#endif
