/* bptt_check.h: the tape's BPTT gradients for one cell of any type over T steps, and a
 * comparison that says how far, and from which step on, another set of gradients (derived by
 * hand) parts from them.
 *
 * The loss is the one a hand derivation is usually written for: the outputs h_1..h_T each
 * receive an upstream gradient dy_t from outside the recurrence. On the tape that is
 *     loss = Σ_t sum(h_t ⊙ G_t)   with G_t = dy_t fixed,   so dL/dh_t (from outside) = G_t,
 * and after tg_backward each state node holds the total gradient reaching it, which is what a
 * hand derivation calls dh_t (dc_t, ...). A typical check, in the double build:
 *
 *     tg_bptt_grads mine;             (tg_bptt_grads_init'ed, or your own arrays)
 *     my_hand_bptt(..., &mine);       (or tg_bptt_lstm_hand(&w, T, B, x, s0, dy, &mine, &st))
 *     tg_bptt_check(&mine, &w, x, s0, dy, 1e-10, 1e-12, &rep, &st);
 *     tg_bptt_report_print(&rep, stderr);  (the library never prints by itself)
 *
 * tg_bptt_check is tg_bptt_tape into a second tg_bptt_grads, then tg_bptt_compare; call those
 * two yourself to keep the tape's side or the recording.
 *
 * Read next: nn/bptt.h (the arrays, the built-in references), docs/check-your-cell.md.
 */
#ifndef TG_BPTT_CHECK_H
#define TG_BPTT_CHECK_H

#include "autograd/status.h"
#include "autograd/tape.h"
#include "nn/bptt.h"

#include <stddef.h>
#include <stdio.h>

TG_BEGIN_DECLS

/* The same quantities as a hand reference, from the tape: records w's type (tg_cell_step) for
 * T steps on t, which is reset first, with copies of the weights, of x and of the initial
 * states as leaves of t (the caller's parameters and their gradients are not touched), the
 * loss above, and tg_backward. s0[k] is initial state k (B·H); s0 NULL, or s0[k] NULL, means
 * zeros. The recording stays on t for inspection until the caller resets it. Every non-NULL
 * member of g is overwritten. Returns TG_OK; TG_ENULL for a NULL t, w, type, x, dy, g or
 * parameter; TG_EINVAL when g's type or sizes differ from w and T; TG_ENOMEM or tg_backward's
 * code when the recording fails (the tape's message is quoted in st). On failure g is
 * unchanged. */
int tg_bptt_tape(tg_tape *t, const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                 const tg_real *const *s0, const tg_real *dy, tg_bptt_grads *g, tg_status *st);

/* What a compared quantity is, which decides how its steps are read. */
typedef enum tg_bptt_role {
    TG_BPTT_PARAM,    /* "d<param>": a sum over the T steps */
    TG_BPTT_INITIAL,  /* "d<state>0": the gradient of an initial state ("step 0") */
    TG_BPTT_BACKWARD, /* "d<state>", "dx": per step, visited backwards (t = T first) */
    TG_BPTT_FORWARD   /* "<state>": the forward values, per step, visited t = 1 first */
} tg_bptt_role;

#define TG_BPTT_MAX_QUANTITIES (TG_CELL_MAX_PARAMS + 3 * TG_CELL_MAX_STATES + 1)
#define TG_BPTT_NONE           ((size_t)-1) /* no step exceeds the tolerance */

typedef struct tg_bptt_diff {
    char name[40]; /* "dweight_ih", "dh0", "dh", "dx", "h", ... */
    tg_bptt_role role;
    size_t count;     /* elements compared; 0 when either side has NULL for this quantity */
    size_t bad;       /* elements whose relative difference exceeds the tolerance */
    double max_abs;   /* largest |mine − ref| */
    double max_rel;   /* largest |mine − ref| / max(|mine|, |ref|, floor); 0 where both agree */
    size_t step;      /* where max_rel is: step 1..T for per-step quantities, else 0, */
    size_t row, col;  /* and the element: (b, j) for states, (row, col) for a parameter */
    double mine, ref; /* the two values there */
    /* The first step, in the order the computation visits steps, with an element over the
     * tolerance: backward order (t = T first) for per-step gradients, whose errors flow to
     * earlier steps, so this is where a hand derivation parts from the tape; forward order
     * (t = 1 first) for forward states; 0 for initial states. TG_BPTT_NONE when none exceeds
     * it, and always for parameters, which are sums over all steps (see bad). */
    size_t first_step;
} tg_bptt_diff;

typedef struct tg_bptt_report {
    char type_name[40]; /* the cell type's name */
    size_t T, B, I, H;
    double tol, floor; /* as given to tg_bptt_compare */
    int ok;            /* 1 when no element of any quantity exceeds tol */
    double max_rel;    /* the worst relative difference over every quantity */
    size_t part_step;  /* the largest first_step of the backward quantities (the step where
                        * the backward walks part), 0 when only initial states differ, or
                        * TG_BPTT_NONE */
    size_t n;          /* quantities in q: the type's n_params + 3·n_states + 1 */
    tg_bptt_diff q[TG_BPTT_MAX_QUANTITIES]; /* in order: d<param> for each parameter,
                                             * d<state>0, d<state>, dx, <state> */
} tg_bptt_report;

/* Compare every quantity both mine and ref hold (non-NULL on both sides). An element exceeds
 * the tolerance when |mine − ref| / max(|mine|, |ref|, floor) > tol: relative for values above
 * floor, absolute (scaled by floor) below it; floor may be 0. A NaN on either side counts as
 * exceeding. Returns TG_OK; TG_ENULL for a NULL argument or type; TG_EINVAL for a negative or
 * NaN tol or floor; TG_ESHAPE when the two differ in type, T, B, I or H; TG_ERANGE when their
 * sizes overflow (the message in st, rep zeroed). */
int tg_bptt_compare(const tg_bptt_grads *mine, const tg_bptt_grads *ref, double tol, double floor,
                    tg_bptt_report *rep, tg_status *st);

/* The whole check in one call: the tape's quantities for w over mine's T steps and B rows
 * (tg_bptt_tape on a tape of its own, freed before returning), compared with mine as by
 * tg_bptt_compare. x, s0 and dy as for tg_bptt_tape. Returns TG_OK (whether or not they agree:
 * see rep->ok), TG_ENULL for a NULL mine or type, or the code of tg_bptt_grads_init,
 * tg_bptt_tape or tg_bptt_compare, with the message in st and rep zeroed. */
int tg_bptt_check(const tg_bptt_grads *mine, const tg_bptt_cell *w, const tg_real *x,
                  const tg_real *const *s0, const tg_real *dy, double tol, double floor,
                  tg_bptt_report *rep, tg_status *st);

/* The quantity of that name in rep ("dweight_hh", "dc", ...), or NULL. */
const tg_bptt_diff *tg_bptt_report_find(const tg_bptt_report *rep, const char *name);

/* A readable table of rep, one line per quantity compared, and a verdict line, written to f.
 * Returns TG_OK, TG_ENULL or TG_EIO when writing fails. */
int tg_bptt_report_print(const tg_bptt_report *rep, FILE *f);

TG_END_DECLS

#endif
