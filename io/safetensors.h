/* safetensors.h: named arrays in the safetensors layout, read and written with checks.
 *
 * A file is: an 8-byte little-endian header length N; N bytes of JSON mapping each tensor name
 * to {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into the data section,
 * contiguous), plus an optional "__metadata__" object of string -> string, padded with spaces
 * to a multiple of 8; then the raw little-endian data. numpy and PyTorch can read it.
 *
 * Damage is detected. The writer stores the CRC-32 (zlib's, so Python's zlib.crc32 checks it)
 * of each tensor's bytes as metadata "tapegrad.crc32.<name>" and of the other metadata entries
 * as "tapegrad.crc32" (each key and value followed by a 0 byte, in file order), all as 8 hex
 * digits. A file that carries "tapegrad.crc32" must carry a checksum for every tensor; each read
 * verifies the tensor's bytes and fails with a message naming the tensor. Files written by
 * other programs have no checksums and are read without. Reads of F32 and F64 also refuse
 * NaN and infinite values unless the file was opened with TG_CKPT_NONFINITE_OK (to inspect a
 * diverged run). The checksum keys are the writer's: tg_ckpt_meta and its listing skip them.
 *
 * Saves are atomic: "<path>.tmp.<pid>.<n>" in the target's folder is created exclusively
 * (O_CREAT | O_EXCL | O_NOFOLLOW, so a planted link or file is never written through), written,
 * flushed and fsync'ed, renamed over <path>, and the folder is fsync'ed. Every failure removes
 * the temporary file. A save first removes the temporary files of <path> left by processes that
 * no longer run (a run killed while saving).
 *
 * Errors: every fallible call reports through tg_status (autograd/status.h). A damaged file
 * fails with TG_EFORMAT and a message naming the file, the tensor or metadata key, the field
 * and, for JSON errors and entries, the byte offset in the file. Strings from the file appear
 * escaped (tg_utf8_escape), so a file cannot send control sequences to a terminal.
 *
 * This layer knows nothing of tapes or parameters: nn/checkpoint.h is the glue that saves and
 * loads tensors and parameter stores with it. Read next: st_read.c, st_write.c.
 */
#ifndef TG_SAFETENSORS_H
#define TG_SAFETENSORS_H

#include "autograd/status.h"

#include <stddef.h>
#include <stdint.h>

TG_BEGIN_DECLS

/* Element types of the safetensors format. Arrays of every type can be written and listed. */
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

#define TG_CKPT_MAX_DIMS 8 /* arrays of higher rank are rejected */

const char *tg_dtype_name(tg_dtype dt); /* "F32", ...; "?" for a value out of range */
size_t tg_dtype_size(tg_dtype dt);      /* bytes per element; 0 for a value out of range */

/* ---- Writing ---------------------------------------------------------------------------- */

typedef struct tg_ckpt_writer tg_ckpt_writer;

tg_ckpt_writer *tg_ckpt_writer_new(void);    /* NULL when out of memory */
void tg_ckpt_writer_free(tg_ckpt_writer *w); /* NULL is allowed */

/* Add an array of `dtype` with the given shape (ndim <= TG_CKPT_MAX_DIMS; ndim 0 is a scalar)
 * whose elements are in host byte order at `data` (numel elements; may be NULL when numel is
 * 0). The bytes are copied now, so `data` may change or go away before the save. The name must
 * be non-empty valid UTF-8, unique in w and not "__metadata__".
 * Returns TG_OK, TG_ENULL, TG_EINVAL (bad name, dtype or rank), TG_ERANGE (size overflows) or
 * TG_ENOMEM; on failure w is unchanged. */
int tg_ckpt_writer_add(tg_ckpt_writer *w, const char *name, tg_dtype dtype, size_t ndim,
                       const size_t *shape, const void *data, tg_status *st);

/* The number of arrays added so far, and forgetting the last ones down to n (for a caller that
 * adds several and wants all or none). */
size_t tg_ckpt_writer_count(const tg_ckpt_writer *w);
void tg_ckpt_writer_truncate(tg_ckpt_writer *w, size_t n);

/* A metadata entry key -> value (both copied; valid UTF-8; keys unique and not starting with
 * "tapegrad.crc32"). Configuration, vocabularies and notes go here. Same failures as add. */
int tg_ckpt_writer_meta(tg_ckpt_writer *w, const char *key, const char *value, tg_status *st);

/* Write everything added so far to `path`, atomically (see the map above). Returns TG_OK,
 * TG_ENULL, TG_ENOMEM or TG_EIO (the message names the path, the step and the system's reason).
 * On any failure before the rename the previous file at `path`, if any, is unchanged and the
 * temporary file is removed. If only the final fsync of the folder fails, the new file is in
 * place but may not survive a crash; that too returns TG_EIO. w is unchanged either way. */
int tg_ckpt_writer_save(tg_ckpt_writer *w, const char *path, tg_status *st);

/* Check now that a save to `path` could create its temporary file (the folder exists and is
 * writable), so a program finds out before hours of training. TG_OK or TG_EIO. */
int tg_ckpt_check_writable(const char *path, tg_status *st);

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

/* Flags of tg_ckpt_open. */
enum {
    TG_CKPT_NONFINITE_OK = 1 /* let F32/F64 reads return NaN and infinities (inspection) */
};

/* Open and validate the checkpoint at `path`: the header's JSON (no duplicate keys), every
 * entry, their tiling of the data section, and the metadata checksum. On success *out is the
 * handle (close it with tg_ckpt_close). On failure *out is NULL and the return is TG_ENULL,
 * TG_EIO (cannot open or read), TG_EFORMAT (damaged or not a safetensors file) or TG_ENOMEM. */
int tg_ckpt_open(tg_ckpt **out, const char *path, unsigned flags, tg_status *st);
void tg_ckpt_close(tg_ckpt *ck); /* NULL is allowed */

const char *tg_ckpt_path(const tg_ckpt *ck);                            /* as opened */
size_t tg_ckpt_count(const tg_ckpt *ck);                                /* arrays; 0 for NULL */
const tg_ckpt_entry *tg_ckpt_entry_at(const tg_ckpt *ck, size_t i);     /* in data order */
const tg_ckpt_entry *tg_ckpt_find(const tg_ckpt *ck, const char *name); /* NULL if absent */

/* Metadata: the value of `key` (NULL if absent), and the keys in file order. */
const char *tg_ckpt_meta(const tg_ckpt *ck, const char *key);
size_t tg_ckpt_meta_count(const tg_ckpt *ck);
const char *tg_ckpt_meta_key(const tg_ckpt *ck, size_t i);

/* Read array `name` into dst, which holds n elements of `dtype` in host byte order. The file's
 * dtype must be `dtype` and its element count n. Returns TG_OK, TG_ENULL, TG_ERANGE (no such
 * name), TG_EINVAL (other dtype), TG_ESHAPE (other count) with dst untouched; TG_EFORMAT (the
 * checksum differs, or a non-finite value) or TG_EIO (the file shrank or a read failed) with
 * dst partly written. */
int tg_ckpt_read(tg_ckpt *ck, const char *name, tg_dtype dtype, void *dst, size_t n, tg_status *st);

/* Like tg_ckpt_read into n elements of `dtype` F32 or F64, converting from either. */
int tg_ckpt_read_float(tg_ckpt *ck, const char *name, tg_dtype dtype, void *dst, size_t n,
                       tg_status *st);

TG_END_DECLS

#endif
