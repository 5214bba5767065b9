/* checkpoint.h: saving and loading named arrays in the safetensors layout.
 *
 * A checkpoint file is: an 8-byte little-endian header length N; N bytes of JSON mapping each
 * tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into the data
 * section, contiguous), plus an optional "__metadata__" object of string -> string, padded with
 * spaces to a multiple of 8; then the raw little-endian data. numpy and PyTorch can read it.
 *
 * Writing goes through a tg_ckpt_writer that collects (copies) arrays and metadata, then saves
 * them atomically: to "<path>.tmp.<pid>", flushed and fsync'ed, renamed over <path>, then the
 * directory is fsync'ed. A crash or a failed save never leaves a half-written checkpoint.
 *
 * Reading opens and validates the whole header against the file size before anything can be
 * read; a damaged file fails with TG_EFORMAT and a message naming the file, the problem and,
 * where it applies, the tensor and the byte offset.
 *
 * A resumable training run saves its parameters under one prefix ("model.") and its state
 * (optimizer moments, step, RNG words, batcher position) under another ("train."), so that
 * tg_ckpt_load_params(ck, ps, "model.") can insist the file and the model have the same names.
 *
 * This is the only module of nn/ that touches files. Read next: checkpoint.c (the reader and
 * its checks), checkpoint_write.c (the atomic save), json.c (the header's JSON).
 */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include "autograd/tensor.h"
#include "nn/params.h"

#include <stddef.h>

TG_BEGIN_DECLS

/* Element types of the safetensors format. Arrays of every type can be written and listed;
 * tg_real can be read from F32 and F64. */
typedef enum tg_dtype {
    TG_DT_BOOL,
    TG_DT_U8,
    TG_DT_I8,
    TG_DT_F8_E5M2,
    TG_DT_F8_E4M3,
    TG_DT_I16,
    TG_DT_U16,
    TG_DT_F16,
    TG_DT_BF16,
    TG_DT_I32,
    TG_DT_U32,
    TG_DT_F32,
    TG_DT_F64,
    TG_DT_I64,
    TG_DT_U64,
    TG_DT_COUNT
} tg_dtype;

/* The dtype tg_real is written as: F32 in the float build, F64 in the double build. */
#ifdef TG_DOUBLE
#define TG_DT_REAL TG_DT_F64
#else
#define TG_DT_REAL TG_DT_F32
#endif

#define TG_CKPT_MAX_DIMS 8 /* arrays of higher rank are rejected */

const char *tg_dtype_name(tg_dtype dt); /* "F32", ...; "?" for a value out of range */
size_t tg_dtype_size(tg_dtype dt);      /* bytes per element; 0 for a value out of range */

/* ---- Writing ---------------------------------------------------------------------------- */

typedef struct tg_ckpt_writer tg_ckpt_writer;

tg_ckpt_writer *tg_ckpt_writer_new(void);    /* NULL when out of memory */
void tg_ckpt_writer_free(tg_ckpt_writer *w); /* NULL is allowed */

/* The message of the last failed call on w, or NULL. */
const char *tg_ckpt_writer_error(const tg_ckpt_writer *w);

/* Add an array of `dtype` with the given shape (ndim <= TG_CKPT_MAX_DIMS; ndim 0 is a scalar)
 * whose elements are in host byte order at `data` (numel elements; may be NULL when numel is
 * 0). The bytes are copied now, so `data` may change or go away before the save. The name must
 * be non-empty valid UTF-8, unique in w and not "__metadata__".
 * Returns TG_OK, TG_ENULL, TG_EINVAL (bad name, dtype or rank), TG_ERANGE (size overflows) or
 * TG_ENOMEM; on failure w is unchanged and tg_ckpt_writer_error says why. */
int tg_ckpt_writer_add(tg_ckpt_writer *w, const char *name, tg_dtype dtype, size_t ndim,
                       const size_t *shape, const void *data);

/* A tensor's values as a (rows x cols) array of TG_DT_REAL; the gradient is not saved. */
int tg_ckpt_writer_add_tensor(tg_ckpt_writer *w, const char *name, const tg_tensor *x);

/* Every parameter of the store, as "<prefix><name>" (prefix may be NULL for none). On failure
 * w is unchanged (no parameter of ps was added). */
int tg_ckpt_writer_add_params(tg_ckpt_writer *w, const tg_params *ps, const char *prefix);

/* A metadata entry key -> value (both copied; valid UTF-8; keys unique). Configuration,
 * vocabularies and notes go here; the writer escapes them for JSON. Same failures as add. */
int tg_ckpt_writer_meta(tg_ckpt_writer *w, const char *key, const char *value);

/* Write everything added so far to `path`, atomically. Returns TG_OK, TG_ENULL, TG_ENOMEM or
 * TG_EIO (tg_ckpt_writer_error names the path, the step and the system's reason). On any
 * failure before the rename the previous file at `path`, if any, is unchanged and the temporary
 * file is removed. If only the final fsync of the directory fails, the new file is in place
 * but may not survive a crash; that too returns TG_EIO. w is unchanged and may be saved again. */
int tg_ckpt_writer_save(tg_ckpt_writer *w, const char *path);

/* ---- Reading ---------------------------------------------------------------------------- */

typedef struct tg_ckpt tg_ckpt;

/* One array of an open checkpoint; owned by the tg_ckpt, valid until tg_ckpt_close. */
typedef struct tg_ckpt_entry {
    const char *name;
    tg_dtype dtype;
    size_t ndim;                    /* 0 for a scalar */
    size_t shape[TG_CKPT_MAX_DIMS]; /* ndim sizes, outermost first */
    size_t numel;                   /* product of the shape (1 for a scalar) */
    size_t begin, end;              /* byte range in the data section */
} tg_ckpt_entry;

#define TG_CKPT_ERRLEN 512 /* a size for the err buffer of tg_ckpt_open; longer messages are cut */

/* Open and validate the checkpoint at `path`. On success *out is the handle (close it with
 * tg_ckpt_close). On failure *out is NULL, `err` (when not NULL) holds the message, and the
 * return is TG_ENULL, TG_EIO (cannot open or read), TG_EFORMAT (damaged or not a safetensors
 * file) or TG_ENOMEM. */
int tg_ckpt_open(tg_ckpt **out, const char *path, char *err, size_t errlen);
void tg_ckpt_close(tg_ckpt *ck); /* NULL is allowed */

/* The message of the last failed call on ck, or NULL. */
const char *tg_ckpt_error(const tg_ckpt *ck);

size_t tg_ckpt_count(const tg_ckpt *ck);                                /* number of arrays */
const tg_ckpt_entry *tg_ckpt_entry_at(const tg_ckpt *ck, size_t i);     /* in data order */
const tg_ckpt_entry *tg_ckpt_find(const tg_ckpt *ck, const char *name); /* NULL if absent */

/* Metadata: the value of `key` (NULL if absent), and the keys in file order. */
const char *tg_ckpt_meta(const tg_ckpt *ck, const char *key);
size_t tg_ckpt_meta_count(const tg_ckpt *ck);
const char *tg_ckpt_meta_key(const tg_ckpt *ck, size_t i);

/* Read array `name` into dst, which holds n elements of `dtype` in host byte order. The file's
 * dtype must be `dtype` and its element count n. Returns TG_OK, TG_ENULL, TG_ERANGE (no such
 * name), TG_EINVAL (other dtype), TG_ESHAPE (other count) with dst untouched, or TG_EIO (the
 * file shrank or a read failed) with dst partly written. */
int tg_ckpt_read(tg_ckpt *ck, const char *name, tg_dtype dtype, void *dst, size_t n);

/* Like tg_ckpt_read into n tg_real, converting from F32 or F64 (any other dtype: TG_EINVAL). */
int tg_ckpt_read_reals(tg_ckpt *ck, const char *name, tg_real *dst, size_t n);

/* Read `name` into x->val; the file's shape must be (rows x cols), or (cols) when x has one
 * row (a PyTorch bias). Failures as tg_ckpt_read_reals; the gradient is untouched. */
int tg_ckpt_read_tensor(tg_ckpt *ck, const char *name, tg_tensor *x);

/* Load every parameter of ps from "<prefix><name>" (prefix may be NULL for none). The file's
 * arrays whose names start with the prefix must be exactly the store's parameters, with the
 * same shapes and a real dtype. Everything is checked and read before anything is copied: on
 * any failure (TG_ERANGE: a name missing or unexpected; TG_ESHAPE; TG_EINVAL: dtype; TG_EIO;
 * TG_ENOMEM) the store is unchanged and tg_ckpt_error says what differs. Gradients are kept. */
int tg_ckpt_load_params(tg_ckpt *ck, tg_params *ps, const char *prefix);

TG_END_DECLS

#endif
