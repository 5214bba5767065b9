/* ops/internal.h: what the ops layer shares with its own files and with the layers above (nn),
 * not for users: BLIS's set-up and the thread policy of ops/blis.c, on top of everything
 * autograd/internal.h gives an op family. Nothing in autograd/ includes this file.
 *
 * Read next: ops/blis.c (the definitions), ops/matmul.c (their main user).
 */
#ifndef TG_OPS_INTERNAL_H
#define TG_OPS_INTERNAL_H

#include "autograd/internal.h"

#include <stddef.h>

/* BLIS, as ops/blis.c set it up: the context (a cntx_t *) every bli_?gemm_ex call passes, NULL
 * for BLIS's default. The first call initialises BLIS and chooses the kernels. */
void *tgi_blis_context(void);

/* Threads (ops/threads.c): the count fixed by tg_set_num_threads, 0 under the default policy;
 * the count products and loops use now (the fixed one, else as many cores as others leave
 * free); the most the default policy would use. */
int tgi_blis_threads(void);
long tgi_threads_now(void);
long tgi_threads_ceiling(void);

/* How many threads a loop of `work` units should use: tgi_threads_now(), but never fewer than
 * min_per_thread units per thread, so a small loop stays on one thread and pays no fork. For
 * `#pragma omp parallel for num_threads(...)` in element-wise and reduction loops, and for each
 * product's thread count. */
int tgi_threads_for(size_t work, size_t min_per_thread);

#endif
