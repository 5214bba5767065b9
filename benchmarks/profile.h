/* profile.h: bench_train --profile, where a training step's time goes.
 *
 * Nothing of this is in the library. bench_train is linked with -Wl,--wrap for the two BLIS
 * products tapegrad calls and for the calls that bound a training window (tg_tape_reset,
 * tg_backward, tg_grad_norm, tg_optim_step_scaled); profile.c defines the wrappers, which pass
 * straight through (one branch) until prof_start. See profile.c for what is measured and how.
 */
#ifndef BENCH_PROFILE_H
#define BENCH_PROFILE_H

#include "nn/params.h"

#include <stdio.h>

/* Products are told apart by the weight they read or write: ps's parameters named like
 * PyTorch's ("decoder.weight", "...weight_ih...", "...weight_hh..."). */
void prof_init(tg_params *ps);

/* Profile the windows between these two calls (after warm-up), at most windows_at_most of
 * them. 0 when out of memory. */
int prof_start(size_t windows_at_most);
void prof_stop(void);

/* The breakdown per step of `steps` windows of `tokens` tokens each, as a markdown table, then
 * each product kind's shapes re-timed with BLIS alone. Returns 0, or 1 when the replayed forward
 * did not reproduce the loss bit for bit (the profile would then be of something else). */
int prof_report(FILE *f, size_t steps);

#endif
