/* checkpoint.c: the glue between parameter stores and safetensors files (io/safetensors.h).
 *
 * Saving copies each tensor's values into the writer; loading checks every name, shape and
 * dtype and reads everything into one scratch block before it copies anything into the store,
 * so a failed load leaves the model as it was. Read next: io/st_read.c, which checks the file.
 */
#include "nn/checkpoint.h"
#include "io/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tg_ckpt_writer_add_tensor(tg_ckpt_writer *w, const char *name, const tg_tensor *x,
                              tg_status *st)
{
    if (!x) return tg_status_set(st, TG_ENULL, "tg_ckpt_writer_add_tensor: NULL tensor");
    size_t shape[2] = {x->rows, x->cols};
    return tg_ckpt_writer_add(w, name, TG_DT_REAL, 2, shape, x->val, st);
}

/* "<prefix><name>", malloc'd, or NULL when out of memory. */
static char *joined(const char *prefix, const char *name)
{
    char *s = malloc(strlen(prefix) + strlen(name) + 1);
    return s ? strcat(strcpy(s, prefix), name) : NULL;
}

int tg_ckpt_writer_add_params(tg_ckpt_writer *w, const tg_params *ps, const char *prefix,
                              tg_status *st)
{
    if (!w || !ps) return tg_status_set(st, TG_ENULL, "tg_ckpt_writer_add_params: NULL argument");
    size_t n0 = tg_ckpt_writer_count(w);
    int rc = TG_OK;
    for (size_t i = 0; i < tg_params_count(ps) && !rc; i++) {
        char *name = joined(prefix ? prefix : "", tg_params_name(ps, i));
        rc = name ? tg_ckpt_writer_add_tensor(w, name, tg_params_get(ps, i), st)
                  : tg_status_set(st, TG_ENOMEM, "tg_ckpt_writer_add_params: out of memory");
        free(name);
    }
    if (rc) tg_ckpt_writer_truncate(w, n0); /* w is unchanged on failure */
    return rc;
}

int tg_ckpt_read_reals(tg_ckpt *ck, const char *name, tg_real *dst, size_t n, tg_status *st)
{
    return tg_ckpt_read_float(ck, name, TG_DT_REAL, dst, n, st);
}

/* e's shape is (rows x cols), or (cols) for a single row. */
static int fits(const tg_ckpt_entry *e, size_t rows, size_t cols)
{
    return (e->ndim == 2 && e->shape[0] == rows && e->shape[1] == cols) ||
           (e->ndim == 1 && rows == 1 && e->shape[0] == cols);
}

/* "(a x b)" into buf. */
static const char *fmt_shape(char *buf, size_t len, const tg_ckpt_entry *e)
{
    size_t at = (size_t)snprintf(buf, len, "(");
    for (size_t i = 0; i < e->ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? " x %zu" : "%zu", e->shape[i]);
    if (at < len) snprintf(buf + at, len - at, ")");
    return buf;
}

/* A real entry `name` of x's shape; the message says "model" or "tensor" for x. */
static int check_like(tg_ckpt *ck, const char *name, const tg_tensor *x, const char *who,
                      tg_status *st)
{
    const tg_ckpt_entry *e = tg_ckpt_find(ck, name);
    char s[160], en[160], path[256];
    tg_utf8_escape(en, sizeof en, name);
    tg_utf8_escape(path, sizeof path, tg_ckpt_path(ck));
    if (!e)
        return tg_status_set(st, TG_ERANGE,
                             "%s: '%s' is not in the file (checkpoint of another "
                             "model?)",
                             path, en);
    if (e->dtype != TG_DT_F32 && e->dtype != TG_DT_F64)
        return tg_status_set(st, TG_EINVAL, "%s: tensor '%s' has dtype %s, expected F32 or F64",
                             path, en, tg_dtype_name(e->dtype));
    if (!fits(e, x->rows, x->cols))
        return tg_status_set(st, TG_ESHAPE,
                             "%s: wrong shape for '%s': file has %s, %s has (%zu x "
                             "%zu)",
                             path, en, fmt_shape(s, sizeof s, e), who, x->rows, x->cols);
    return TG_OK;
}

int tg_ckpt_read_tensor(tg_ckpt *ck, const char *name, tg_tensor *x, tg_status *st)
{
    if (!ck || !name || !x)
        return tg_status_set(st, TG_ENULL, "tg_ckpt_read_tensor: NULL argument");
    int rc = check_like(ck, name, x, "tensor", st);
    return rc ? rc : tg_ckpt_read_reals(ck, name, x->val, tg_numel(x), st);
}

/* A file array under the prefix that the store does not have, or TG_OK. */
static int check_no_extra(tg_ckpt *ck, const tg_params *ps, const char *prefix, tg_status *st)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < tg_ckpt_count(ck); i++) {
        const char *fn = tg_ckpt_entry_at(ck, i)->name;
        char en[160], path[256];
        if (strncmp(fn, prefix, plen) == 0 && !tg_params_find(ps, fn + plen))
            return tg_status_set(st, TG_ERANGE,
                                 "%s: tensor '%s' is in the file but not in the "
                                 "model (checkpoint of another model?)",
                                 tg_utf8_escape(path, sizeof path, tg_ckpt_path(ck)),
                                 tg_utf8_escape(en, sizeof en, fn));
    }
    return TG_OK;
}

/* Every check of tg_ckpt_load_params, then every read into tmp (numel of the store). */
static int load_checked(tg_ckpt *ck, const tg_params *ps, const char *prefix, tg_real *tmp,
                        tg_status *st)
{
    size_t np = tg_params_count(ps);
    int rc = TG_OK;
    for (size_t i = 0; i < np && !rc; i++) {
        char *name = joined(prefix, tg_params_name(ps, i));
        rc = name ? check_like(ck, name, tg_params_get(ps, i), "model", st)
                  : tg_status_set(st, TG_ENOMEM, "tg_ckpt_load_params: out of memory");
        free(name);
    }
    if (!rc) rc = check_no_extra(ck, ps, prefix, st);
    for (size_t i = 0, at = 0; i < np && !rc; i++) {
        char *name = joined(prefix, tg_params_name(ps, i));
        size_t n = tg_numel(tg_params_get(ps, i));
        rc = name ? tg_ckpt_read_reals(ck, name, tmp + at, n, st)
                  : tg_status_set(st, TG_ENOMEM, "tg_ckpt_load_params: out of memory");
        free(name);
        at += n;
    }
    return rc;
}

int tg_ckpt_load_params(tg_ckpt *ck, tg_params *ps, const char *prefix, tg_status *st)
{
    if (!ck || !ps) return tg_status_set(st, TG_ENULL, "tg_ckpt_load_params: NULL argument");
    size_t total = tg_params_numel(ps);
    tg_real *tmp = total < SIZE_MAX / sizeof(tg_real) ? malloc((total + 1) * sizeof *tmp) : NULL;
    if (!tmp)
        return tg_status_set(st, TG_ENOMEM, "tg_ckpt_load_params: out of memory for %zu values",
                             total);
    int rc = load_checked(ck, ps, prefix ? prefix : "", tmp, st);
    for (size_t i = 0, at = 0; i < tg_params_count(ps) && !rc; i++) {
        tg_tensor *x = tg_params_get(ps, i);
        memcpy(x->val, tmp + at, tg_numel(x) * sizeof *tmp);
        at += tg_numel(x);
    }
    free(tmp);
    return rc;
}
