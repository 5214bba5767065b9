/* lm_ckpt.c: a language model's checkpoint: parameters, configuration, vocabulary, and the
 * whole training state, so that a resumed run continues bit for bit.
 *
 * Layout (safetensors, see nn/checkpoint.h):
 *   model.<param>            every parameter (model.encoder.weight, model.rnn.weight_ih_l0, ...)
 *   train.optim.<state>      the optimizer's arrays (momentum_buffer, exp_avg, ...)
 *   train.counters           U64 [window steps, optimizer steps, batcher epoch, batcher offset]
 *   train.rng                U64 [4]: the dropout generator
 *   train.carry_h, _c        the carried state, (L·B x H)
 *   train.lr                 F64 [1]
 *   train.stream             U64 [length, checksum] of the training token stream
 *   metadata                 tapegrad.kind, tapegrad.vocab, config.<field> for every lm_config field
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
#include <stdarg.h>
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

/* FNV-1a (64-bit) over the stream's ids, one 32-bit id per step: enough to tell a resumed run
 * that it was given another corpus. */
static uint64_t stream_checksum(const tg_batcher *b)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < b->N; i++) h = (h ^ (uint32_t)b->tok[i]) * 0x100000001b3u;
    return h;
}

static int add_u64(tg_ckpt_writer *w, const char *name, const uint64_t *v, size_t n, tg_status *st)
{
    return tg_ckpt_writer_add(w, name, TG_DT_U64, 1, &n, v, st);
}

static int add_training(tg_ckpt_writer *w, const lm_trainer *tr, tg_status *st)
{
    const lm_model *m = tr->m;
    int rc = TG_OK;
    char name[96];
    for (size_t i = 0; rc == TG_OK && i < tg_optim_state_count(tr->opt); i++) {
        size_t n = tg_optim_numel(tr->opt);
        snprintf(name, sizeof name, "train.optim.%s", tg_optim_state_name(tr->opt, i));
        rc = tg_ckpt_writer_add(w, name, TG_DT_REAL, 1, &n, tg_optim_state((tg_optim *)tr->opt, i),
                                st);
    }
    uint64_t counters[4] = {tr->step, tg_optim_steps(tr->opt), tr->batch.epoch, tr->batch.offset};
    size_t shape[2] = {m->cfg.L * tr->carry.B, m->cfg.H}, one = 1;
    double lr = tg_optim_lr(tr->opt);
    uint64_t stream[2] = {tr->batch.N, stream_checksum(&tr->batch)};
    if (rc == TG_OK) rc = add_u64(w, "train.counters", counters, 4, st);
    if (rc == TG_OK) rc = add_u64(w, "train.rng", m->rng.s, 4, st);
    if (rc == TG_OK) rc = add_u64(w, "train.stream", stream, 2, st);
    if (rc == TG_OK) rc = tg_ckpt_writer_add(w, "train.lr", TG_DT_F64, 1, &one, &lr, st);
    if (rc == TG_OK)
        rc = tg_ckpt_writer_add(w, "train.carry_h", TG_DT_REAL, 2, shape, tr->carry.h, st);
    if (rc == TG_OK && tr->carry.c)
        rc = tg_ckpt_writer_add(w, "train.carry_c", TG_DT_REAL, 2, shape, tr->carry.c, st);
    return rc;
}

int lm_save(const char *path, const lm_model *m, const lm_trainer *tr, const char *kind,
            const char *vocab, char *err, size_t errsz)
{
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    tg_status st;
    if (!w) return lm_fail(TG_ENOMEM, err, errsz, "%s: out of memory", path);
    int rc = tg_ckpt_writer_add_params(w, m->ps, "model.", &st);
    if (rc == TG_OK) rc = tg_ckpt_writer_meta(w, "tapegrad.kind", kind, &st);
    if (rc == TG_OK) rc = tg_ckpt_writer_meta(w, "tapegrad.vocab", vocab, &st);
    if (rc == TG_OK) rc = tg_ckpt_writer_meta(w, "config.cell", lm_cell_name(m->cfg.cell), &st);
    if (rc == TG_OK)
        rc = tg_ckpt_writer_meta(w, "config.optim", optim_names[m->cfg.optim.kind], &st);
    for (size_t i = 0; rc == TG_OK && i < N_FIELDS; i++) {
        char value[64];
        format_field(&m->cfg, &fields[i], value, sizeof value);
        rc = tg_ckpt_writer_meta(w, fields[i].key, value, &st);
    }
    if (rc == TG_OK && tr) rc = add_training(w, tr, &st);
    if (rc == TG_OK) rc = tg_ckpt_writer_save(w, path, &st);
    if (rc != TG_OK) lm_fail(rc, err, errsz, "%s", st.msg);
    tg_ckpt_writer_free(w);
    return rc;
}

/* ---- Loading ---------------------------------------------------------------------------- */

static int read_config(tg_ckpt *ck, const char *path, lm_config *c, char *err, size_t errsz)
{
    *c = lm_default_config();
    const char *cell = tg_ckpt_meta(ck, "config.cell"), *opt = tg_ckpt_meta(ck, "config.optim");
    int k = 0;
    while (opt && k < 3 && strcmp(opt, optim_names[k])) k++;
    if (!cell || lm_cell_parse(cell) < 0 || !opt || k == 3)
        return lm_fail(TG_EFORMAT, err, errsz,
                       "%s: metadata lacks a known config.cell or config.optim", path);
    c->cell = (tg_cell_kind)lm_cell_parse(cell);
    c->optim.kind = (tg_optim_kind)k;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *s = tg_ckpt_meta(ck, fields[i].key);
        if (!s)
            return lm_fail(TG_EFORMAT, err, errsz,
                           "%s: metadata has no '%s' (not a tapegrad language-model checkpoint?)",
                           path, fields[i].key);
        char e[160];
        if (!parse_field(c, &fields[i], s))
            return lm_fail(TG_EFORMAT, err, errsz,
                           "%s: metadata '%s' = \"%s\" is not a valid value", path, fields[i].key,
                           tg_utf8_escape(e, sizeof e, s));
    }
    return TG_OK;
}

int lm_load(const char *path, lm_model *m, const char *kind, char **vocab, char *err, size_t errsz)
{
    tg_ckpt *ck;
    tg_status st;
    char e[160];
    memset(m, 0, sizeof *m);
    *vocab = NULL;
    int rc = tg_ckpt_open(&ck, path, 0, &st);
    if (rc != TG_OK) return lm_fail(rc, err, errsz, "%s", st.msg);
    const char *k = tg_ckpt_meta(ck, "tapegrad.kind"), *v = tg_ckpt_meta(ck, "tapegrad.vocab");
    lm_config cfg;
    if (!k || !v)
        rc = lm_fail(TG_EFORMAT, err, errsz,
                     "%s: no tapegrad.kind/tapegrad.vocab metadata: not a tapegrad language model",
                     path);
    else if (strcmp(k, kind) != 0)
        rc = lm_fail(TG_EFORMAT, err, errsz,
                     "%s: a %s-level model; this program reads %s-level ones", path,
                     tg_utf8_escape(e, sizeof e, k), kind);
    if (rc == TG_OK) rc = read_config(ck, path, &cfg, err, errsz);
    if (rc == TG_OK && (rc = lm_model_init(m, &cfg, err, errsz)) != TG_OK && err && errsz) {
        char why[LM_ERRSZ];
        snprintf(why, sizeof why, "%s", err);
        lm_fail(rc, err, errsz, "%s: config.*: %s", path, why);
    }
    if (rc == TG_OK && (rc = tg_ckpt_load_params(ck, m->ps, "model.", &st)) != TG_OK) {
        lm_fail(rc, err, errsz, "%s", st.msg);
        lm_model_deinit(m);
    }
    if (rc == TG_OK && !(*vocab = strdup(v))) {
        rc = lm_fail(TG_ENOMEM, err, errsz, "%s: out of memory", path);
        lm_model_deinit(m);
    }
    tg_ckpt_close(ck);
    return rc;
}

int lm_vocab_fits(const char *path, size_t vocab_size, const lm_model *m, char *err, size_t errsz)
{
    if (vocab_size == m->cfg.V) return TG_OK;
    return lm_fail(TG_EFORMAT, err, errsz,
                   "%s: metadata tapegrad.vocab has %zu entries but config.V is %zu", path,
                   vocab_size, m->cfg.V);
}

static int read_training(tg_ckpt *ck, const char *path, lm_trainer *tr, char *err, size_t errsz)
{
    lm_model *m = tr->m;
    uint64_t counters[4], stream[2], expect[2] = {tr->batch.N, stream_checksum(&tr->batch)};
    double lr;
    tg_status st;
    int rc = tg_ckpt_read(ck, "train.stream", TG_DT_U64, stream, 2, &st);
    if (rc == TG_OK && (stream[0] != expect[0] || stream[1] != expect[1]))
        return lm_fail(TG_EINVAL, err, errsz,
                       "%s: was trained on another corpus (%" PRIu64
                       " tokens, this one has %" PRIu64 ")",
                       path, stream[0], expect[0]);
    if (rc == TG_OK) rc = tg_ckpt_read(ck, "train.counters", TG_DT_U64, counters, 4, &st);
    if (rc == TG_OK) rc = tg_ckpt_read(ck, "train.lr", TG_DT_F64, &lr, 1, &st);
    if (rc == TG_OK && !(lr >= 0 && lr < INFINITY)) /* checked before anything changes */
        return lm_fail(TG_EFORMAT, err, errsz,
                       "%s: train.lr is %g; a learning rate must be finite and >= 0", path, lr);
    if (rc == TG_OK && counters[1] > TG_OPTIM_MAX_STEPS)
        return lm_fail(TG_EFORMAT, err, errsz,
                       "%s: train.counters[1] (optimizer steps) is %" PRIu64 ", above the %" PRIu64
                       " an optimizer counts",
                       path, counters[1], (uint64_t)TG_OPTIM_MAX_STEPS);
    if (rc == TG_OK) rc = tg_ckpt_read(ck, "train.rng", TG_DT_U64, m->rng.s, 4, &st);
    size_t n = m->cfg.L * tr->carry.B * m->cfg.H;
    if (rc == TG_OK) rc = tg_ckpt_read_reals(ck, "train.carry_h", tr->carry.h, n, &st);
    if (rc == TG_OK && tr->carry.c)
        rc = tg_ckpt_read_reals(ck, "train.carry_c", tr->carry.c, n, &st);
    for (size_t i = 0; rc == TG_OK && i < tg_optim_state_count(tr->opt); i++) {
        char name[96];
        snprintf(name, sizeof name, "train.optim.%s", tg_optim_state_name(tr->opt, i));
        rc = tg_ckpt_read_reals(ck, name, tg_optim_state(tr->opt, i), tg_optim_numel(tr->opt), &st);
    }
    if (rc != TG_OK) return lm_fail(rc, err, errsz, "%s", st.msg); /* names the file */
    rc = tg_batcher_set_position(&tr->batch, counters[2], counters[3], err, errsz);
    if (rc != TG_OK) return rc;
    tr->step = counters[0];
    tg_optim_set_steps(tr->opt, counters[1], NULL); /* both checked above */
    tg_optim_set_lr(tr->opt, lr, NULL);
    return TG_OK;
}

int lm_load_training(const char *path, lm_trainer *tr, char *err, size_t errsz)
{
    tg_ckpt *ck;
    tg_status st;
    int rc = tg_ckpt_open(&ck, path, 0, &st);
    if (rc != TG_OK) return lm_fail(rc, err, errsz, "%s", st.msg);
    if (!tg_ckpt_find(ck, "train.counters"))
        rc = lm_fail(TG_EFORMAT, err, errsz,
                     "%s: holds no training state (saved for sampling only)", path);
    if (rc == TG_OK) rc = read_training(ck, path, tr, err, errsz);
    tg_ckpt_close(ck);
    return rc;
}
