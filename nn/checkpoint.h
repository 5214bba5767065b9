/* checkpoint.h: tensors and parameter stores to and from safetensors files.
 *
 * The file format, its checksums and the atomic save are io/safetensors.h; this is the glue
 * between that layer and nn/: a tensor is saved as a (rows x cols) array of TG_DT_REAL, a
 * parameter store as one array per parameter under a prefix, and reads convert F32 or F64
 * into tg_real.
 *
 * A resumable training run saves its parameters under one prefix ("model.") and its state
 * (optimizer moments, step, RNG words, batcher position) under another ("train."), so that
 * tg_ckpt_load_params(ck, ps, "model.", st) can insist the file and the model have the same
 * names.
 *
 * Read next: checkpoint.c; io/safetensors.h for everything else a checkpoint can do.
 */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include "autograd/status.h"
#include "autograd/tensor.h"
#include "io/safetensors.h"
#include "nn/params.h"

#include <stddef.h>

TG_BEGIN_DECLS

/* The dtype tg_real is written as: F32 in the float build, F64 in the double build. */
#ifdef TG_DOUBLE
#define TG_DT_REAL TG_DT_F64
#else
#define TG_DT_REAL TG_DT_F32
#endif

/* A tensor's values as a (rows x cols) array of TG_DT_REAL; the gradient is not saved. Fails
 * as tg_ckpt_writer_add. */
int tg_ckpt_writer_add_tensor(tg_ckpt_writer *w, const char *name, const tg_tensor *x,
                              tg_status *st);

/* Every parameter of the store, as "<prefix><name>" (prefix may be NULL for none). On failure
 * w is unchanged (no parameter of ps was added). */
int tg_ckpt_writer_add_params(tg_ckpt_writer *w, const tg_params *ps, const char *prefix,
                              tg_status *st);

/* tg_ckpt_read_float into n tg_real. */
int tg_ckpt_read_reals(tg_ckpt *ck, const char *name, tg_real *dst, size_t n, tg_status *st);

/* Read `name` into x->val; the file's shape must be (rows x cols), or (cols) when x has one
 * row (a PyTorch bias). Failures as tg_ckpt_read_reals; the gradient is untouched. */
int tg_ckpt_read_tensor(tg_ckpt *ck, const char *name, tg_tensor *x, tg_status *st);

/* Load every parameter of ps from "<prefix><name>" (prefix may be NULL for none). The file's
 * arrays whose names start with the prefix must be exactly the store's parameters, with the
 * same shapes and a real dtype, undamaged and finite (see tg_ckpt_open). Everything is checked
 * and read before anything is copied: on any failure (TG_ERANGE: a name missing or unexpected;
 * TG_ESHAPE; TG_EINVAL: dtype; TG_EFORMAT: damaged or non-finite; TG_EIO; TG_ENOMEM) the store
 * is unchanged and the message says what differs. Gradients are kept. */
int tg_ckpt_load_params(tg_ckpt *ck, tg_params *ps, const char *prefix, tg_status *st);

TG_END_DECLS

#endif
