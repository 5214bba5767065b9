/* walk.h: backward told step by step, for learning (and for checking a hand derivation).
 *
 * tg_walk_backward runs tg_backward and then retells it: for each node in the order backward
 * visits it, the op, its label (tg_tensor's name), its inputs, its value and its complete
 * gradient (the upstream), the op's local rule in words and symbols (tg_op's rule), and what
 * each input receives from it. Where a node's gradient is a sum over several users (fan-out),
 * the contributions are listed. Tensors of at most TG_WALK_SHOW values are printed in full,
 * larger ones as their L2 norm. Read next: graph.h (the recording as text or a picture).
 */
#ifndef TG_WALK_H
#define TG_WALK_H

#include "autograd/tape.h"

#include <stdio.h>

TG_BEGIN_DECLS

enum { TG_WALK_SHOW = 6 /* tensors up to this many values are printed in full */ };

/* Run tg_backward(t, loss) and write the walk to f. Each input a node sends a gradient to gets
 * one line "to X: upstream U × local L = downstream D" when the op acts element by element there
 * (D = U ⊙ L, L being the local derivative ∂y/∂x), else "to X: downstream D". The walk ends with
 * one line per leaf with a gradient: "d<loss>/d<leaf> = G". The tape must keep gradients (the
 * default, not tg_tape_reuse_grads). Returns tg_backward's code, TG_EINVAL for reused gradients
 * (message on the tape), TG_ENOMEM, or TG_EIO when writing to f failed. */
int tg_walk_backward(tg_tape *t, tg_tensor *loss, FILE *f);

/* Name x for print, dot, the walk (x->name = name, borrowed: it must outlive x's use). Returns x;
 * NULL in, NULL out, so it wraps a recording: h = tg_label(tg_tanh(t, z), "h"). */
tg_tensor *tg_label(tg_tensor *x, const char *name);

/* tg_label with a printf-formatted name copied into t's arena (valid until the tape is reset):
 * tg_labelf(t, h, "h_%d", step). Returns x; x unchanged (and returned) when out of memory. */
tg_tensor *tg_labelf(tg_tape *t, tg_tensor *x, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

TG_END_DECLS

#endif
