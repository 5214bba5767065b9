/* trainer_state.c: the trainer's state as checkpoint arrays, so that a resumed run continues
 * bit for bit: optimizer arrays and counters, the dropout generator, the batcher's position,
 * the carried state and the learning rate, with the stream's length and checksum to tell a
 * resumed run that it was given another corpus.
 *
 * Loading reads every array into scratch and checks every value before the trainer changes,
 * so a damaged or foreign file leaves it as it was. Read trainer.h first.
 */
#include "nn/internal.h"
#include "nn/trainer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a (64-bit) over the stream's ids, one 32-bit id per step. */
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

/* "train.carry_<state name>", e.g. train.carry_h, train.carry_c */
static void carry_name(const tg_trainer *tr, size_t j, char *out, size_t n)
{
    snprintf(out, n, "train.carry_%s", tr->carry.type->state_names[j]);
}

/* Rows of the whole batch, and the first of this rank's (a trainer without a stream has B). */
static size_t rows_all(const tg_trainer *tr)
{
    return tr->window ? tr->batch.B_all : tr->carry.B;
}

/* all (rank after rank, each L·Bl·H, layer after layer) into full (layer after layer, each
 * the B = R·Bl rows in rank order). */
static void interleave_ranks(const tg_rnn_carry *cs, size_t R, const tg_real *all, tg_real *full)
{
    size_t Bl = cs->B, H = cs->H, per_rank = cs->layers * Bl * H;
    for (size_t k = 0; k < R; k++)
        for (size_t l = 0; l < cs->layers; l++)
            memcpy(full + (l * R * Bl + k * Bl) * H, all + k * per_rank + l * Bl * H,
                   Bl * H * sizeof *full);
}

/* Carried state j of all B rows: this rank's own buffer with one process; gathered from every
 * rank into *buf (owned by the caller, rank 0 only) with several. */
static int gather_carry(const tg_trainer *tr, size_t j, tg_real **full, tg_real **buf,
                        tg_status *st)
{
    const tg_rnn_carry *cs = &tr->carry;
    const tg_comm *m = tr->cfg.comm;
    *full = cs->v[j];
    if (!m || m->ranks == 1) return TG_OK;
    size_t n = cs->layers * cs->B * cs->H, R = m->ranks; /* R·n is the carry of B rows: fits */
    tg_real *all = NULL;
    if (m->rank == 0 && !(*buf || (*buf = malloc(2 * R * n * sizeof **buf))))
        return tg_status_set(st, TG_ENOMEM, "saving the training state: out of memory");
    if (m->rank == 0) all = *buf + R * n, *full = *buf;
    int rc = m->gather(m->ctx, cs->v[j], all, n, TG_DT_REAL, st);
    if (rc == TG_OK && m->rank == 0) interleave_ranks(cs, R, all, *full);
    return rc;
}

static int add_carry(const tg_trainer *tr, tg_ckpt_writer *w, tg_status *st)
{
    const tg_rnn_carry *cs = &tr->carry;
    size_t shape[2] = {cs->layers * rows_all(tr), cs->H};
    tg_real *buf = NULL, *full;
    char name[96];
    int rc = TG_OK;
    for (size_t j = 0; rc == TG_OK && j < cs->n_states; j++) {
        carry_name(tr, j, name, sizeof name);
        rc = gather_carry(tr, j, &full, &buf, st);
        if (rc == TG_OK && w) rc = tg_ckpt_writer_add(w, name, TG_DT_REAL, 2, shape, full, st);
    }
    free(buf);
    return rc;
}

/* After sharded steps each rank's optimizer state is current on its own run [lo, hi) only: every
 * rank fills the rest with −0.0 and the arrays are summed over the ranks, so each element is its
 * owner's value plus −0.0s, which is that value bit for bit (x + −0.0 = x for every x, +0.0 and
 * −0.0 included; +0.0 would turn an owner's −0.0 into +0.0). Every rank then holds the whole
 * state. Collective; nothing to do without the sharded step. */
static int assemble_state(const tg_trainer *tr, tg_status *st)
{
    const tg_comm *m = tr->cfg.comm;
    size_t n = tg_optim_numel(tr->opt);
    int rc = TG_OK;
    for (size_t i = 0; tr->values && rc == TG_OK && i < tg_optim_state_count(tr->opt); i++) {
        tg_real *s = tg_optim_state(tr->opt, i);
        for (size_t k = 0; k < tr->lo; k++) s[k] = (tg_real)-0.0;
        for (size_t k = tr->hi; k < n; k++) s[k] = (tg_real)-0.0;
        rc = m->sum(m->ctx, s, n, TG_DT_REAL, st);
    }
    return rc;
}

int tg_trainer_save_state(const tg_trainer *tr, tg_ckpt_writer *w, tg_status *st)
{
    if (!w && !(tr->cfg.comm && tr->cfg.comm->rank > 0))
        return tg_status_set(st, TG_ENULL, "tg_trainer_save_state: the writer is NULL");
    int rc = assemble_state(tr, st);
    if (rc != TG_OK) return rc;
    if (!w) return add_carry(tr, NULL, st); /* a rank > 0 sends its rows */
    char name[96];
    size_t n = tg_optim_numel(tr->opt), one = 1;
    for (size_t i = 0; rc == TG_OK && i < tg_optim_state_count(tr->opt); i++) {
        snprintf(name, sizeof name, "train.optim.%s", tg_optim_state_name(tr->opt, i));
        rc = tg_ckpt_writer_add(w, name, TG_DT_REAL, 1, &n, tg_optim_state((tg_optim *)tr->opt, i),
                                st);
    }
    uint64_t counters[4] = {tr->step, tg_optim_steps(tr->opt), tr->batch.epoch, tr->batch.offset};
    uint64_t stream[2] = {tr->batch.N, stream_checksum(&tr->batch)}, none[4] = {0};
    double lr = tg_optim_lr(tr->opt);
    if (rc == TG_OK) rc = add_u64(w, "train.counters", counters, 4, st);
    if (rc == TG_OK) rc = add_u64(w, "train.rng", tr->rng ? tr->rng->s : none, 4, st);
    if (rc == TG_OK) rc = add_u64(w, "train.stream", stream, 2, st);
    if (rc == TG_OK) rc = tg_ckpt_writer_add(w, "train.lr", TG_DT_F64, 1, &one, &lr, st);
    int sent = add_carry(tr, rc == TG_OK ? w : NULL, st); /* the other ranks wait for it */
    return rc != TG_OK ? rc : sent;
}

/* Everything a load reads, before any of it reaches the trainer. */
typedef struct loaded {
    uint64_t counters[4], rng[4];
    double lr;
    tg_real *arrays; /* the optimizer's arrays, then the carried states; owned */
} loaded;

/* Read and check the small arrays; TG_OK or a code with st naming the file and the array. */
static int read_small(const tg_trainer *tr, tg_ckpt *ck, const char *path, loaded *ld,
                      tg_status *st)
{
    uint64_t stream[2], expect[2] = {tr->batch.N, stream_checksum(&tr->batch)};
    int rc = tg_ckpt_read(ck, "train.stream", TG_DT_U64, stream, 2, st);
    if (rc == TG_OK && (stream[0] != expect[0] || stream[1] != expect[1]))
        return tg_status_set(st, TG_EINVAL,
                             "%s: was trained on another corpus (%" PRIu64
                             " tokens, this one has %" PRIu64 ")",
                             path, stream[0], expect[0]);
    if (rc == TG_OK) rc = tg_ckpt_read(ck, "train.counters", TG_DT_U64, ld->counters, 4, st);
    if (rc == TG_OK) rc = tg_ckpt_read(ck, "train.rng", TG_DT_U64, ld->rng, 4, st);
    if (rc == TG_OK) rc = tg_ckpt_read(ck, "train.lr", TG_DT_F64, &ld->lr, 1, st);
    if (rc != TG_OK) return rc; /* st names the file and the array */
    if (!(ld->lr >= 0 && ld->lr <= TG_OPTIM_MAX_HYPER))
        return tg_status_set(st, TG_EFORMAT,
                             "%s: train.lr is %g; a learning rate must be >= 0 and at most %g",
                             path, ld->lr, TG_OPTIM_MAX_HYPER);
    if (ld->counters[1] > TG_OPTIM_MAX_STEPS)
        return tg_status_set(st, TG_EFORMAT,
                             "%s: train.counters[1] (optimizer steps) is %" PRIu64
                             ", above the %" PRIu64 " an optimizer counts",
                             path, ld->counters[1], (uint64_t)TG_OPTIM_MAX_STEPS);
    if (ld->counters[3] > tr->batch.L - 1 || ld->counters[2] >= SIZE_MAX) /* epoch + 1 fits */
        return tg_status_set(st, TG_EFORMAT,
                             "%s: train.counters: epoch %" PRIu64 ", offset %" PRIu64
                             " do not fit a stream of rows of %zu tokens",
                             path, ld->counters[2], ld->counters[3], tr->batch.L);
    return TG_OK;
}

/* Read the optimizer's arrays and the carried states into ld->arrays. */
static int read_arrays(const tg_trainer *tr, tg_ckpt *ck, loaded *ld, tg_status *st)
{
    const tg_rnn_carry *cs = &tr->carry;
    size_t n = tg_optim_numel(tr->opt), S = tg_optim_state_count(tr->opt);
    size_t nc = cs->layers * rows_all(tr) * cs->H; /* every row's: the file's shape */
    if (!(ld->arrays = malloc((S * n + cs->n_states * nc + 1) * sizeof(tg_real))))
        return tg_status_set(st, TG_ENOMEM, "loading the training state: out of memory");
    char name[96];
    int rc = TG_OK;
    for (size_t i = 0; rc == TG_OK && i < S; i++) {
        snprintf(name, sizeof name, "train.optim.%s", tg_optim_state_name(tr->opt, i));
        rc = tg_ckpt_read_reals(ck, name, ld->arrays + i * n, n, st);
    }
    for (size_t j = 0; rc == TG_OK && j < cs->n_states; j++) {
        carry_name(tr, j, name, sizeof name);
        rc = tg_ckpt_read_reals(ck, name, ld->arrays + S * n + j * nc, nc, st);
    }
    return rc;
}

/* This rank's rows of a carried state of every row, layer after layer. */
static void take_rows(tg_rnn_carry *cs, size_t j, size_t B_all, size_t row0, const tg_real *full)
{
    size_t Bl = cs->B, H = cs->H;
    for (size_t l = 0; l < cs->layers; l++)
        memcpy(cs->v[j] + l * Bl * H, full + (l * B_all + row0) * H, Bl * H * sizeof *full);
}

/* Everything was read and checked: hand it to the trainer. */
static void commit(tg_trainer *tr, const loaded *ld)
{
    tg_rnn_carry *cs = &tr->carry;
    size_t n = tg_optim_numel(tr->opt), S = tg_optim_state_count(tr->opt);
    size_t nc = cs->layers * rows_all(tr) * cs->H;
    for (size_t i = 0; i < S; i++)
        memcpy(tg_optim_state(tr->opt, i), ld->arrays + i * n, n * sizeof(tg_real));
    for (size_t j = 0; j < cs->n_states; j++)
        take_rows(cs, j, rows_all(tr), tr->batch.row0, ld->arrays + S * n + j * nc);
    if (tr->rng) memcpy(tr->rng->s, ld->rng, sizeof ld->rng);
    tgi_trainer_rank_rng(tr); /* the file holds rank 0's generator */
    tg_batcher_set_position(&tr->batch, (size_t)ld->counters[2], (size_t)ld->counters[3], NULL);
    tr->step = ld->counters[0];
    tg_optim_set_steps(tr->opt, ld->counters[1], NULL); /* both checked in read_small */
    tg_optim_set_lr(tr->opt, ld->lr, NULL);
}

int tg_trainer_load_state(tg_trainer *tr, tg_ckpt *ck, const char *path, tg_status *st)
{
    if (!tg_ckpt_find(ck, "train.counters"))
        return tg_status_set(st, TG_EFORMAT,
                             "%s: holds no training state (saved for sampling only)", path);
    loaded ld = {0};
    int rc = read_small(tr, ck, path, &ld, st);
    if (rc == TG_OK) rc = read_arrays(tr, ck, &ld, st);
    if (rc == TG_OK) commit(tr, &ld);
    free(ld.arrays);
    return rc;
}
