/* mgu.h: the minimal gated unit (Zhou et al. 2016) as a cell type, defined outside the library
 * the way a user defines their own cell: a descriptor (nn/cells.h) and a registration call.
 *
 *     f  = σ(x·Wfᵀ + h·Ufᵀ + bf)            the forget gate
 *     h̃  = tanh(x·Whᵀ + (f ⊙ h)·Uhᵀ + bh)    the candidate
 *     h' = (1 − f) ⊙ h + f ⊙ h̃
 *
 * Parameters, in this order: Wf (H x I), Uf (H x H), bf (1 x H), Wh (H x I), Uh (H x H),
 * bh (1 x H). One state, h.
 *
 * Read next: mgu.c (the equations), mgu_bptt.c and docs/check-your-cell.md (its backward
 * derived by hand and checked against the tape).
 */
#ifndef MGU_H
#define MGU_H

#include <tapegrad.h>

/* The parameters' positions in cell->p and in tg_bptt_cell's param. */
enum { MGU_WF, MGU_UF, MGU_BF, MGU_WH, MGU_UH, MGU_BH };

extern const tg_cell_type mgu_type; /* named "mgu" */

/* Make "mgu" findable by name (tg_cell_type_find); TG_OK, or as tg_cell_type_register. */
int mgu_register(tg_status *st);

#endif
