/* lm_ckpt.c: a language model's checkpoint: parameters, configuration, vocabulary, and the
 * whole training state, so that a resumed run continues bit for bit.
 *
 * Layout (safetensors, see nn/checkpoint.h):
 *   model.<param>            every parameter (model.encoder.weight, model.rnn.weight_ih_l0, ...)
 *   train.*                  the trainer's state (nn/trainer.h, tg_trainer_save_state)
 *   metadata                 tapegrad.kind, tapegrad.vocab, config.<field> for every lm_config
 *                            field, config.cell the cell type's name
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "models/lm.h"
#include "models/text.h"
#include "io/utf8.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const optim_names[] = {"sgd", "adagrad", "adam"};

/* Every numeric lm_config field, stored as metadata "config.<name>" -> its value as text.
 * Kinds: 'z' size_t, 'i' int, 'u' uint64_t, 'd' double. Writing and reading share this table. */
typedef struct cfg_field {
    const char *key;
    char kind;
    size_t off;
} cfg_field;

#define F(key, kind, member)                                                                       \
    {                                                                                              \
        "config." key, kind, offsetof(lm_config, member)                                           \
    }
static const cfg_field fields[] = {
    F("V", 'z', V),
    F("E", 'z', E),
    F("H", 'z', H),
    F("L", 'z', L),
    F("T", 'z', T),
    F("B", 'z', B),
    F("tied", 'i', tied),
    F("decay_after", 'z', decay_after),
    F("seed", 'u', seed),
    F("dropout", 'd', dropout),
    F("init", 'd', init),
    F("forget_bias", 'd', forget_bias),
    F("sum_steps", 'i', sum_steps),
    F("clip", 'd', clip),
    F("lr_decay", 'd', lr_decay),
    F("lr", 'd', optim.lr),
    F("momentum", 'd', optim.momentum),
    F("beta1", 'd', optim.beta1),
    F("beta2", 'd', optim.beta2),
    F("eps", 'd', optim.eps),
    F("weight_decay", 'd', optim.weight_decay),
};
#undef F
enum { N_FIELDS = sizeof fields / sizeof fields[0] };

static void format_field(const lm_config *c, const cfg_field *f, char *out, size_t n)
{
    const char *p = (const char *)c + f->off;
    if (f->kind == 'z') snprintf(out, n, "%zu", *(const size_t *)p);
    if (f->kind == 'i') snprintf(out, n, "%d", *(const int *)p);
    if (f->kind == 'u') snprintf(out, n, "%" PRIu64, *(const uint64_t *)p);
    if (f->kind == 'd') snprintf(out, n, "%.17g", *(const double *)p);
}

/* Parse text into the field; 0 when it is not a whole number of that kind within its type's
 * range, or a finite number. */
static int parse_field(lm_config *c, const cfg_field *f, const char *s)
{
    char *p = (char *)c + f->off, *end;
    errno = 0;
    if (f->kind == 'd') {
        *(double *)p = strtod(s, &end);
        return !errno && end != s && !*end && isfinite(*(double *)p);
    }
    if (*s < '0' || *s > '9') return 0; /* no sign, no space: strtoull would take them */
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long max = f->kind == 'i' ? INT_MAX : f->kind == 'z' ? SIZE_MAX : UINT64_MAX;
    if (errno || end == s || *end || v > max) return 0; /* 2^32 must not wrap to 0 */
    if (f->kind == 'z') *(size_t *)p = (size_t)v;
    if (f->kind == 'i') *(int *)p = (int)v;
    if (f->kind == 'u') *(uint64_t *)p = (uint64_t)v;
    return 1;
}

/* ---- Saving ----------------------------------------------------------------------------- */

int lm_save(const char *path, const lm_model *m, const lm_trainer *tr, const char *kind,
            const char *vocab, tg_status *st)
{
    if (tr && tr->cfg.comm && tr->cfg.comm->rank > 0) return tg_trainer_save_state(tr, NULL, st);
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    if (!w) return tg_status_set(st, TG_ENOMEM, "%s: out of memory", path);
    int rc = tg_ckpt_writer_add_params(w, m->ps, "model.", st);
    if (rc == TG_OK) rc = tg_ckpt_writer_meta(w, "tapegrad.kind", kind, st);
    if (rc == TG_OK) rc = tg_ckpt_writer_meta(w, "tapegrad.vocab", vocab, st);
    if (rc == TG_OK) rc = tg_ckpt_writer_meta(w, "config.cell", m->cfg.cell->name, st);
    if (rc == TG_OK)
        rc = tg_ckpt_writer_meta(w, "config.optim", optim_names[m->cfg.optim.kind], st);
    for (size_t i = 0; rc == TG_OK && i < N_FIELDS; i++) {
        char value[64];
        format_field(&m->cfg, &fields[i], value, sizeof value);
        rc = tg_ckpt_writer_meta(w, fields[i].key, value, st);
    }
    if (rc == TG_OK && tr) rc = tg_trainer_save_state(tr, w, st);
    if (rc == TG_OK) rc = tg_ckpt_writer_save(w, path, st);
    tg_ckpt_writer_free(w);
    return rc;
}

/* ---- Loading ---------------------------------------------------------------------------- */

static int read_config(tg_ckpt *ck, const char *path, lm_config *c, tg_status *st)
{
    *c = lm_default_config();
    const char *cell = tg_ckpt_meta(ck, "config.cell"), *opt = tg_ckpt_meta(ck, "config.optim");
    int k = 0;
    while (opt && k < 3 && strcmp(opt, optim_names[k])) k++;
    if (!cell || !opt || k == 3)
        return tg_status_set(st, TG_EFORMAT,
                             "%s: metadata lacks config.cell or a known config.optim", path);
    char names[256], e[160];
    if (!(c->cell = tg_cell_type_find(cell)))
        return tg_status_set(st, TG_EFORMAT,
                             "%s: config.cell '%s' is not a cell type this program knows (%s); a "
                             "program that registers it (tg_cell_type_register) can load it",
                             path, tg_utf8_escape(e, sizeof e, cell),
                             lm_cell_names(names, sizeof names));
    c->optim.kind = (tg_optim_kind)k;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *s = tg_ckpt_meta(ck, fields[i].key);
        if (!s)
            return tg_status_set(
                st, TG_EFORMAT,
                "%s: metadata has no '%s' (not a tapegrad language-model checkpoint?)", path,
                fields[i].key);
        if (!parse_field(c, &fields[i], s))
            return tg_status_set(st, TG_EFORMAT, "%s: metadata '%s' = \"%s\" is not a valid value",
                                 path, fields[i].key, tg_utf8_escape(e, sizeof e, s));
    }
    return TG_OK;
}

/* *out = a·b; 1 when that overflows. */
static int mul(size_t a, size_t b, size_t *out)
{
    if (b && a > SIZE_MAX / b) return 1;
    *out = a * b;
    return 0;
}

/* The parameters a configuration needs are at least V·E (the embedding) plus L·H·H (one H x H
 * matrix a layer, whatever the cell): refuse a configuration the file's "model." arrays cannot
 * hold before building anything, so a small file cannot make a huge model (a 30 KB file with
 * config.L = 30000 used to spend a minute building one). */
static int check_size(tg_ckpt *ck, const char *path, const lm_config *c, tg_status *st)
{
    size_t have = 0, ve, hh, lhh;
    for (size_t i = 0; i < tg_ckpt_count(ck); i++) {
        const tg_ckpt_entry *e = tg_ckpt_entry_at(ck, i);
        if (strncmp(e->name, "model.", 6) == 0) have += e->numel; /* each fits the file */
    }
    int over =
        mul(c->V, c->E, &ve) || mul(c->H, c->H, &hh) || mul(c->L, hh, &lhh) || ve > SIZE_MAX - lhh;
    if (over || ve + lhh > have)
        return tg_status_set(
            st, TG_EFORMAT,
            "%s: config.V %zu, E %zu, H %zu, L %zu need more parameters than the file's "
            "%zu model values",
            path, c->V, c->E, c->H, c->L, have);
    return TG_OK;
}

int lm_load(const char *path, lm_model *m, const char *kind, char **vocab, unsigned flags,
            tg_status *st)
{
    tg_ckpt *ck;
    tg_status inner;
    char e[160];
    memset(m, 0, sizeof *m);
    *vocab = NULL;
    int rc = tg_ckpt_open(&ck, path, flags, st);
    if (rc != TG_OK) return rc;
    const char *k = tg_ckpt_meta(ck, "tapegrad.kind"), *v = tg_ckpt_meta(ck, "tapegrad.vocab");
    lm_config cfg;
    if (!k || !v)
        rc = tg_status_set(
            st, TG_EFORMAT,
            "%s: no tapegrad.kind/tapegrad.vocab metadata: not a tapegrad language model", path);
    else if (strcmp(k, kind) != 0)
        rc = tg_status_set(st, TG_EFORMAT, "%s: a %s-level model; this program reads %s-level ones",
                           path, tg_utf8_escape(e, sizeof e, k), kind);
    if (rc == TG_OK) rc = read_config(ck, path, &cfg, st);
    if (rc == TG_OK) rc = check_size(ck, path, &cfg, st);
    if (rc == TG_OK && (rc = lm_model_init(m, &cfg, &inner)) != TG_OK)
        tg_status_set(st, rc, "%s: config.*: %s", path, inner.msg);
    if (rc == TG_OK && (rc = tg_ckpt_load_params(ck, m->ps, "model.", st)) != TG_OK)
        lm_model_deinit(m);
    if (rc == TG_OK && !(*vocab = strdup(v))) {
        rc = tg_status_set(st, TG_ENOMEM, "%s: out of memory", path);
        lm_model_deinit(m);
    }
    tg_ckpt_close(ck);
    return rc;
}

int lm_vocab_fits(const char *path, size_t vocab_size, const lm_model *m, tg_status *st)
{
    if (vocab_size == m->cfg.V) return TG_OK;
    return tg_status_set(st, TG_EFORMAT,
                         "%s: metadata tapegrad.vocab has %zu entries but config.V is %zu", path,
                         vocab_size, m->cfg.V);
}

int lm_load_training(const char *path, lm_trainer *tr, tg_status *st)
{
    tg_ckpt *ck;
    int rc = tg_ckpt_open(&ck, path, 0, st);
    if (rc != TG_OK) return rc;
    rc = tg_trainer_load_state(tr, ck, path, st);
    tg_ckpt_close(ck);
    return rc;
}
