/* bptt_check.h: the tape's BPTT gradients for one cell over T steps, and a comparison that
 * says how far, and from which step on, another set of gradients (hand-derived) parts from
 * them.
 *
 * The loss is the one a hand derivation is usually written for: the outputs h_1..h_T each
 * receive an upstream gradient dy_t from outside the recurrence. On the tape that is
 *     loss = Σ_t sum(h_t ⊙ G_t)   with G_t = dy_t fixed,   so dL/dh_t (from outside) = G_t,
 * and after tg_backward each h_t node holds the total gradient reaching it, which is what a
 * hand derivation calls dh_t. A typical check, in the double build:
 *
 *     tg_bptt_grads mine, tape;            (both tg_bptt_grads_init'ed, or mine filled by hand)
 *     my_hand_bptt(..., &mine);            (or tg_bptt_reference(&w, T, B, x, h0, c0, dy, &mine))
 *     tg_bptt_tape(t, &w, T, B, x, h0, c0, dy, &tape);
 *     tg_bptt_compare(&mine, &tape, 1e-10, 1e-12, &rep);
 *     tg_bptt_report_print(&rep, stderr);  (the library never prints by itself)
 *
 * Read next: nn/bptt.h (the reference and the layout adapters), tests/test_nn_bptt.c.
 */
#ifndef TG_BPTT_CHECK_H
#define TG_BPTT_CHECK_H

#include "autograd/tape.h"
#include "nn/bptt.h"

#include <stddef.h>
#include <stdio.h>

TG_BEGIN_DECLS

/* The same quantities as tg_bptt_reference, from the tape: records the cell (nn/cells.h,
 * tg_cell_step) for T steps on t, which is reset first, with copies of the weights, of x, h0
 * and c0 as leaves of t (the caller's parameters and their gradients are not touched), the loss
 * above, and tg_backward. The recording stays on t for inspection until the caller resets it.
 * Arguments and return codes as tg_bptt_reference; a failed recording returns TG_ENOMEM (or
 * tg_backward's code) with the message on t, and then g is unchanged. */
int tg_bptt_tape(tg_tape *t, const tg_bptt_cell *w, size_t T, size_t B, const tg_real *x,
                 const tg_real *h0, const tg_real *c0, const tg_real *dy, tg_bptt_grads *g);

/* The quantities compared, in report order. */
enum {
    TG_BPTT_DW_IH, /* parameters, each a sum over the T steps */
    TG_BPTT_DW_HH,
    TG_BPTT_DB_IH,
    TG_BPTT_DB_HH,
    TG_BPTT_DH0, /* initial states ("step 0") */
    TG_BPTT_DC0,
    TG_BPTT_DH, /* per step, t = 1..T */
    TG_BPTT_DC,
    TG_BPTT_DX,
    TG_BPTT_HT, /* the forward states h_t and c_t, per step */
    TG_BPTT_CT,
    TG_BPTT_NQ
};

#define TG_BPTT_NONE ((size_t)-1) /* no step exceeds the tolerance */

typedef struct tg_bptt_diff {
    const char *name; /* "dW_ih", "db_hh", "dh0", "dh", "dx", "h", ... */
    size_t count;     /* elements compared; 0 when either side has NULL for this quantity */
    size_t bad;       /* elements whose relative difference exceeds the tolerance */
    double max_abs;   /* largest |mine − ref| */
    double max_rel;   /* largest |mine − ref| / max(|mine|, |ref|, floor); 0 where both agree */
    size_t step;      /* where max_rel is: step 1..T for per-step quantities, else 0, */
    size_t row, col;  /* and the element: (b, j) for states, (row, col) for a weight */
    double mine, ref; /* the two values there */
    /* The first step, in the order the computation visits steps, with an element over the
     * tolerance: backward order (t = T first) for dh, dc, dx, whose errors flow to earlier
     * steps, so this is where a hand derivation parts from the tape; forward order (t = 1
     * first) for h and c; 0 for dh0 and dc0. TG_BPTT_NONE when none exceeds it, and always
     * for parameters, which are sums over all steps (see bad). */
    size_t first_step;
} tg_bptt_diff;

typedef struct tg_bptt_report {
    tg_cell_kind kind;
    size_t T, B, I, H;
    double tol, floor;          /* as given to tg_bptt_compare */
    int ok;                     /* 1 when no element of any quantity exceeds tol */
    double max_rel;             /* the worst relative difference over every quantity */
    size_t part_step;           /* the largest first_step of dh, dc, dx (the step where the
                                 * backward walks part), 0 when only dh0/dc0 differ, or
                                 * TG_BPTT_NONE */
    tg_bptt_diff q[TG_BPTT_NQ]; /* indexed by TG_BPTT_DW_IH ... TG_BPTT_CT */
} tg_bptt_report;

/* Compare every quantity both mine and ref hold (non-NULL on both sides). An element exceeds
 * the tolerance when |mine − ref| / max(|mine|, |ref|, floor) > tol: relative for values above
 * floor, absolute (scaled by floor) below it; floor may be 0. Returns TG_OK, TG_ENULL for a
 * NULL argument, TG_EINVAL for a negative or NaN tol or floor, TG_ESHAPE when the two differ
 * in kind, T, B, I or H (rep is then zeroed). A NaN on either side counts as exceeding. */
int tg_bptt_compare(const tg_bptt_grads *mine, const tg_bptt_grads *ref, double tol, double floor,
                    tg_bptt_report *rep);

/* A readable table of rep, one line per quantity compared, and a verdict line, written to f.
 * Returns TG_OK, TG_ENULL or TG_EIO when writing fails. */
int tg_bptt_report_print(const tg_bptt_report *rep, FILE *f);

TG_END_DECLS

#endif
