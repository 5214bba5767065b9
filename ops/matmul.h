/* matmul.h: matrix products through BLIS, with either operand read transposed in place.
 *
 * y = op(a) · op(b), op(x) = x or xᵀ by flags. Nothing is copied to transpose: BLIS reads the
 * stored matrix with swapped strides. Backward products accumulate into the gradients with
 * beta = 1. Which BLIS kernels run is chosen once (see tg_blis_config).
 */
#ifndef TG_MATMUL_H
#define TG_MATMUL_H

#include "autograd/tape.h"
#include "autograd/status.h"

#include <stddef.h>

TG_BEGIN_DECLS

enum {
    TG_TRANS_A = 1, /* use aᵀ */
    TG_TRANS_B = 2, /* use bᵀ */
};

/* op(a) is (m x k), op(b) is (k x n), y is (m x n). Mismatched inner dimensions record
 * "tg_matmul: inner dimensions differ: a is (.. x ..), b is (.. x ..)" (with the flags). */
tg_tensor *tg_matmul(tg_tape *t, tg_tensor *a, tg_tensor *b, int flags);

/* y = c + op(a)·op(b), like torch.addmm: c is (m x n), or (1 x n) and added to every row (a
 * bias). One node and one product with beta = 1 instead of a product and an add: an affine
 * layer or a recurrent step's pre-activation keeps one (m x n) value and gradient, not two.
 * Errors as tg_matmul's, and "tg_addmm: c is (..) but op(a)·op(b) is (..)". */
tg_tensor *tg_addmm(tg_tape *t, tg_tensor *c, tg_tensor *a, tg_tensor *b, int flags);

/* One line describing the BLIS in use: version, threading, the CPU configuration BLIS
 * detected, the kernels chosen and why, the thread count. Static storage; never NULL. */
const char *tg_blis_config(void);

/* Choose the BLIS kernel set by configuration name ("auto", or a name BLIS registers such as
 * "zen3", "haswell", "skx", "generic"). "auto" keeps BLIS's choice unless BLIS did not
 * recognise the CPU, in which case the best set this CPU can run is used. Returns TG_OK,
 * TG_EINVAL for a NULL, unknown or unregistered name, TG_ECPU when this CPU lacks the
 * instructions, with st naming the set (the choice is then unchanged). The environment
 * variable TG_BLIS_ARCH sets the first choice. */
int tg_blis_select(const char *name, tg_status *st);

/* Threads each product and each large loop uses: n >= 1 fixes the count. 0, the default, uses
 * the cores other processes leave free, up to BLIS_NUM_THREADS, else OMP_NUM_THREADS, else the
 * CPUs this process may run on, looking again every quarter of a second: on a busy machine that
 * is one thread, which never runs slower than one. Results are the same on any count. */
void tg_set_num_threads(int n);

TG_END_DECLS

#endif
