/* seq2seq.c: encoder-decoder models, their generated data, greedy and beam decoding, and the
 * attention picture (see seq2seq.h). */
#include "models/seq2seq.h"

#include "ops/binary.h"
#include "ops/embedding.h"
#include "ops/loss.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/softmax.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- data ------------------------------------------------------------------------------- */

static int data_alloc(s2s_data *d, size_t n, size_t S, size_t T, tg_status *st)
{
    memset(d, 0, sizeof *d);
    d->src = malloc(n * S + 1);
    d->tgt = malloc(n * T + 1);
    if (!d->src || !d->tgt) {
        s2s_data_free(d);
        return tg_status_set(st, TG_ENOMEM, "seq2seq data: no memory for %zu examples", n);
    }
    memset(d->src, ' ', n * S);
    memset(d->tgt, ' ', n * T);
    d->n = n, d->S = S, d->T = T;
    return TG_OK;
}

void s2s_data_free(s2s_data *d)
{
    free(d->src);
    free(d->tgt);
    memset(d, 0, sizeof *d);
}

s2s_data s2s_data_tail(const s2s_data *d, size_t held)
{
    size_t first = d->n - held;
    return (s2s_data){held, d->S, d->T, d->src + first * d->S, d->tgt + first * d->T};
}

/* Copy the string s into a field of width w (padded with spaces already). */
static void put(char *field, size_t w, const char *s)
{
    size_t len = strlen(s);
    memcpy(field, s, len < w ? len : w);
}

/* A key below `range`: uniform, or as a generator's `draw` makes it. */
typedef uint64_t (*key_fn)(tg_rng *rng, uint64_t range, size_t digits);

static uint64_t uniform_key(tg_rng *rng, uint64_t range, size_t digits)
{
    (void)digits;
    return tg_rng_below(rng, range);
}

/* An addition question a·10^digits + b whose operands first draw their number of digits,
 * uniform in 1..digits, then the digits (so "16+75", "795+3" and "706+796" are alike). */
static uint64_t mixed_key(tg_rng *rng, uint64_t range, size_t digits)
{
    (void)range;
    uint64_t ab[2], top = 1;
    for (size_t i = 0; i < digits; i++) top *= 10;
    for (int k = 0; k < 2; k++) {
        uint64_t width = 1;
        for (uint64_t w = 1 + tg_rng_below(rng, digits); w > 0; w--) width *= 10;
        ab[k] = tg_rng_below(rng, width);
    }
    return ab[0] * top + ab[1];
}

/* Draw n distinct keys below `range` with `draw` (a bitmap of those taken). */
static int distinct_keys(uint64_t *keys, size_t n, uint64_t range, key_fn draw, size_t digits,
                         tg_rng *rng, tg_status *st, const char *what)
{
    if (n > range / 2)
        return tg_status_set(st, TG_EINVAL,
                             "%s: %zu examples asked, but only %llu distinct ones exist (at most "
                             "half of them can be drawn)",
                             what, n, (unsigned long long)range);
    unsigned char *taken = calloc(range / 8 + 1, 1);
    if (!taken) return tg_status_set(st, TG_ENOMEM, "%s: no memory", what);
    for (size_t i = 0; i < n; i++) {
        uint64_t k;
        do k = draw(rng, range, digits);
        while (taken[k / 8] & (1u << (k % 8)));
        taken[k / 8] |= (unsigned char)(1u << (k % 8));
        keys[i] = k;
    }
    free(taken);
    return TG_OK;
}

int s2s_addition_data(s2s_data *d, size_t n, size_t digits, int full_width, uint64_t seed,
                      tg_status *st)
{
    memset(d, 0, sizeof *d);
    if (digits < 1 || digits > 4)
        return tg_status_set(st, TG_EINVAL, "s2s_addition_data: digits is %zu, not 1 to 4", digits);
    uint64_t top = 1;
    for (size_t i = 0; i < digits; i++) top *= 10;
    uint64_t *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return tg_status_set(st, TG_ENOMEM, "s2s_addition_data: no memory");
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    int rc = distinct_keys(keys, n, top * top, full_width ? uniform_key : mixed_key, digits, &rng,
                           st, "s2s_addition_data");
    if (rc == TG_OK) rc = data_alloc(d, n, 2 * digits + 1, digits + 1, st);
    for (size_t i = 0; rc == TG_OK && i < n; i++) {
        unsigned long a = (unsigned long)(keys[i] / top), b = (unsigned long)(keys[i] % top);
        char q[48], ans[24];
        snprintf(q, sizeof q, "%lu+%lu", a, b);
        snprintf(ans, sizeof ans, "%lu", a + b);
        put(d->src + i * d->S, d->S, q);
        put(d->tgt + i * d->T, d->T, ans);
    }
    free(keys);
    return rc;
}

static const char *const month_name[12] = {"january",   "february", "march",    "april",
                                           "may",       "june",     "july",     "august",
                                           "september", "october",  "november", "december"};

static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* The date `day` days after 1970-01-01. */
static void date_of(uint64_t day, int *y, int *m, int *dd)
{
    *y = 1970, *m = 1;
    while (day >= (uint64_t)month_days(*y, *m)) {
        day -= (uint64_t)month_days(*y, *m);
        if (++*m == 13) *m = 1, ++*y;
    }
    *dd = (int)day + 1;
}

/* The date in format f: the human side of the translation. */
static void date_format(char *s, size_t size, int f, int y, int m, int d)
{
    char full[16], abbr[4];
    snprintf(full, sizeof full, "%s", month_name[m - 1]);
    snprintf(abbr, sizeof abbr, "%.3s", full);
    switch (f) {
    case 0:
        snprintf(s, size, "%s %d, %d", full, d, y);
        break; /* september 27, 1994 */
    case 1:    /* 27 SEP 1994 */
        for (char *p = abbr; *p; p++) *p = (char)(*p - 'a' + 'A');
        snprintf(s, size, "%d %s %d", d, abbr, y);
        break;
    case 2:
        snprintf(s, size, "%d/%d/%02d", m, d, y % 100);
        break; /* 9/27/94 */
    case 3:
        snprintf(s, size, "%02d.%02d.%d", d, m, y);
        break; /* 27.09.1994 */
    case 4:
        snprintf(s, size, "%d %s %d", d, full, y);
        break; /* 27 september 1994 */
    case 5:    /* Sep 27, 1994 */
        abbr[0] = (char)(abbr[0] - 'a' + 'A');
        snprintf(s, size, "%s %d, %d", abbr, d, y);
        break;
    case 6:
        snprintf(s, size, "%d/%d/%d", y, m, d);
        break; /* 1994/9/27 */
    default:   /* SEPTEMBER 27 1994 */
        for (char *p = full; *p; p++) *p = (char)(*p - 'a' + 'A');
        snprintf(s, size, "%s %02d %d", full, d, y);
        break;
    }
}

int s2s_dates_data(s2s_data *d, size_t n, uint64_t seed, tg_status *st)
{
    memset(d, 0, sizeof *d);
    const uint64_t days = 21915; /* 1970-01-01 .. 2029-12-31 */
    uint64_t *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return tg_status_set(st, TG_ENOMEM, "s2s_dates_data: no memory");
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    int rc =
        distinct_keys(keys, n, days * S2S_DATE_FORMATS, uniform_key, 0, &rng, st, "s2s_dates_data");
    if (rc == TG_OK) rc = data_alloc(d, n, 18, 10, st); /* "september 27, 1994" is the longest */
    for (size_t i = 0; rc == TG_OK && i < n; i++) {
        int y, m, dd;
        date_of(keys[i] / S2S_DATE_FORMATS, &y, &m, &dd);
        char s[64], iso[48];
        date_format(s, sizeof s, (int)(keys[i] % S2S_DATE_FORMATS), y, m, dd);
        snprintf(iso, sizeof iso, "%04d-%02d-%02d", y, m, dd);
        put(d->src + i * d->S, d->S, s);
        put(d->tgt + i * d->T, d->T, iso);
    }
    free(keys);
    return rc;
}

void s2s_vocab_build(s2s_vocab *v, const s2s_data *d)
{
    int seen[256] = {0};
    seen[(unsigned char)S2S_GO] = 1;
    for (size_t i = 0; i < d->n * d->S; i++) seen[(unsigned char)d->src[i]] = 1;
    for (size_t i = 0; i < d->n * d->T; i++) seen[(unsigned char)d->tgt[i]] = 1;
    v->V = 0;
    for (int c = 0; c < 256; c++) {
        v->id[c] = -1;
        if (seen[c] && c < 128 && v->V < sizeof v->ch)
            v->id[c] = (int32_t)v->V, v->ch[v->V++] = (char)c;
    }
}

/* ---- model ------------------------------------------------------------------------------ */

int s2s_model_init(s2s_model *m, const s2s_config *cfg, tg_status *st)
{
    memset(m, 0, sizeof *m);
    if (!cfg->cell) return tg_status_set(st, TG_EINVAL, "s2s_model_init: no cell type");
    if (!cfg->V || !cfg->E || !cfg->H || !cfg->S || !cfg->T || cfg->S > S2S_MAX_WIDTH ||
        cfg->T > S2S_MAX_WIDTH)
        return tg_status_set(st, TG_EINVAL,
                             "s2s_model_init: sizes V %zu, E %zu, H %zu must be positive and "
                             "widths S %zu, T %zu in 1..%d",
                             cfg->V, cfg->E, cfg->H, cfg->S, cfg->T, S2S_MAX_WIDTH);
    m->cfg = *cfg;
    m->ps = tg_params_new();
    if (!m->ps) return tg_status_set(st, TG_ENOMEM, "s2s_model_init: no memory");
    tg_rng rng;
    tg_rng_seed(&rng, cfg->seed);
    size_t H = cfg->H;
    size_t din = cfg->E + (cfg->peeky ? H : 0);
    size_t dout = H + (cfg->peeky ? H : 0) + (cfg->attention ? H : 0);
    int rc = tg_embed_init(&m->src_embed, m->ps, "src_embed", cfg->V, cfg->E, &rng, st);
    if (rc == TG_OK)
        rc = tg_embed_init(&m->tgt_embed, m->ps, "tgt_embed", cfg->V, cfg->E, &rng, st);
    if (rc == TG_OK)
        rc = tg_rnn_init(&m->encoder, m->ps, "encoder.", cfg->cell, cfg->E, H, 1, 0, &rng, st);
    if (rc == TG_OK)
        rc = tg_cell_init(&m->decoder, m->ps, "decoder.", 0, cfg->cell, din, H, &rng, st);
    if (rc == TG_OK) rc = tg_linear_init(&m->out, m->ps, "out", dout, cfg->V, 1, &rng, st);
    if (rc != TG_OK) {
        tg_rnn_deinit(&m->encoder);
        tg_params_free(m->ps);
        memset(m, 0, sizeof *m);
    }
    return rc;
}

void s2s_model_deinit(s2s_model *m)
{
    tg_rnn_deinit(&m->encoder);
    tg_params_free(m->ps);
    memset(m, 0, sizeof *m);
}

int s2s_batch_init(s2s_batch *b, const s2s_model *m, size_t B, tg_status *st)
{
    memset(b, 0, sizeof *b);
    b->m = m, b->B = B;
    b->src = malloc(m->cfg.S * B * sizeof *b->src);
    b->din = malloc(m->cfg.T * B * sizeof *b->din);
    b->dout = malloc(m->cfg.T * B * sizeof *b->dout);
    if (!B || !b->src || !b->din || !b->dout) {
        s2s_batch_deinit(b);
        return tg_status_set(st, B ? TG_ENOMEM : TG_EINVAL, "s2s_batch_init: %zu rows", B);
    }
    return TG_OK;
}

void s2s_batch_deinit(s2s_batch *b)
{
    free(b->src);
    free(b->din);
    free(b->dout);
    memset(b, 0, sizeof *b);
}

static int char_id(const s2s_vocab *v, char c, size_t example, tg_status *st, int32_t *id)
{
    *id = v->id[(unsigned char)c];
    if (*id < 0)
        return tg_status_set(st, TG_EINVAL,
                             "seq2seq: character 0x%02x of example %zu is not in the vocabulary",
                             (unsigned char)c, example);
    return TG_OK;
}

int s2s_batch_fill(s2s_batch *b, const s2s_vocab *v, const s2s_data *d, const size_t *idx, size_t B,
                   tg_status *st)
{
    size_t S = d->S, T = d->T;
    if (B > b->B || S != b->m->cfg.S || T != b->m->cfg.T)
        return tg_status_set(st, TG_EINVAL,
                             "s2s_batch_fill: %zu rows of widths %zu, %zu into a batch of %zu "
                             "rows for widths %zu, %zu",
                             B, S, T, b->B, b->m->cfg.S, b->m->cfg.T);
    b->B = B;
    for (size_t r = 0; r < B; r++) {
        const char *src = d->src + idx[r] * S, *tgt = d->tgt + idx[r] * T;
        for (size_t j = 0; j < S; j++) {
            char c = src[b->m->cfg.reverse ? S - 1 - j : j];
            if (char_id(v, c, idx[r], st, &b->src[j * B + r]) != TG_OK)
                return st ? st->code : TG_EINVAL;
        }
        b->din[r] = v->id[(unsigned char)S2S_GO];
        for (size_t k = 0; k < T; k++) {
            if (char_id(v, tgt[k], idx[r], st, &b->dout[k * B + r]) != TG_OK)
                return st ? st->code : TG_EINVAL;
            if (k + 1 < T) b->din[(k + 1) * B + r] = b->dout[k * B + r];
        }
    }
    return TG_OK;
}

/* The encoder over a batch's source ids (S·B, time-major) for B rows: the final states in *s
 * and the S outputs in ys. Returns the summary h_S, or NULL (message on the tape). */
static tg_tensor *encode(tg_tape *t, const s2s_model *m, const int32_t *src, size_t B, tg_state *s,
                         tg_tensor **ys)
{
    tg_tensor *x = tg_embed_forward(t, &m->src_embed, src, m->cfg.S * B);
    *s = (tg_state){{NULL}};
    return tg_rnn_forward_rows(t, &m->encoder, m->cfg.S, x, s, ys, NULL);
}

/* Attention of h (B x H) over ys[0..S) (each B x H): a = softmax_j(h · y_j) (B x S), returned
 * in *a; the context Σ_j a_j ⊙ y_j (B x H), a's column j broadcast over y_j's columns. */
static tg_tensor *attend(tg_tape *t, tg_tensor *h, tg_tensor *const *ys, size_t S, tg_tensor **a)
{
    tg_tensor *score[S2S_MAX_WIDTH] = {NULL};
    for (size_t j = 0; j < S; j++) score[j] = tg_row_sum(t, tg_mul(t, h, ys[j])); /* h · y_j */
    *a = tg_softmax(t, tg_concat_cols(t, S, score));
    tg_tensor *ctx = NULL;
    for (size_t j = 0; j < S; j++) {
        tg_tensor *part = tg_mul(t, tg_slice_cols(t, *a, j, 1), ys[j]); /* a_j y_j */
        ctx = ctx ? tg_add(t, ctx, part) : part;
    }
    return ctx;
}

/* One decoder step from the embedded previous character x: the state moves on in *s, the
 * logits (B x V) are returned; *a gets the attention weights when the model attends. */
static tg_tensor *decode_step(tg_tape *t, const s2s_model *m, tg_tensor *x, tg_state *s,
                              tg_tensor *summary, tg_tensor *const *ys, tg_tensor **a)
{
    if (m->cfg.peeky) x = tg_concat_cols(t, 2, (tg_tensor *[]){x, summary}); /* [x ; h_S] */
    *s = tg_cell_step(t, &m->decoder, x, *s);
    tg_tensor *parts[3];
    size_t n = 0;
    parts[n++] = s->h;
    if (m->cfg.peeky) parts[n++] = summary;
    if (m->cfg.attention) parts[n++] = attend(t, s->h, ys, m->cfg.S, a);
    return tg_linear_forward(t, &m->out, n == 1 ? parts[0] : tg_concat_cols(t, n, parts));
}

tg_tensor *s2s_batch_loss(tg_tape *t, void *ctx)
{
    const s2s_batch *b = ctx;
    const s2s_model *m = b->m;
    size_t B = b->B, T = m->cfg.T;
    tg_state s[1];
    tg_tensor *ys[S2S_MAX_WIDTH], *logits[S2S_MAX_WIDTH], *a = NULL;
    tg_tensor *summary = encode(t, m, b->src, B, s, ys);
    tg_tensor *x = tg_embed_forward(t, &m->tgt_embed, b->din, T * B);
    tg_state st = s[0];
    for (size_t k = 0; k < T; k++)
        logits[k] =
            decode_step(t, m, x ? tg_slice_rows(t, x, k * B, B) : NULL, &st, summary, ys, &a);
    return tg_softmax_xent(t, tg_concat_rows(t, T, logits), b->dout, T * B);
}

/* ---- decoding --------------------------------------------------------------------------- */

static int tape_failed(tg_tape *t, tg_status *st)
{
    const char *e = tg_tape_error(t);
    return tg_status_set(st, TG_EINVAL, "s2s_decode: %s", e ? e : "recording failed");
}

static void copy_weights(double *weights, const tg_tensor *a, size_t row, size_t k, size_t T,
                         size_t S)
{
    for (size_t j = 0; j < S; j++) weights[(row * T + k) * S + j] = a->val[row * S + j];
}

/* Greedy: each step's most likely character is the next input. */
static int decode_greedy(tg_tape *t, const s2s_batch *b, int32_t *out, double *weights,
                         tg_status *st)
{
    const s2s_model *m = b->m;
    size_t B = b->B, T = m->cfg.T, S = m->cfg.S;
    tg_state s[1];
    tg_tensor *ys[S2S_MAX_WIDTH], *a = NULL;
    tg_tensor *summary = encode(t, m, b->src, B, s, ys);
    tg_state state = s[0];
    int32_t *prev = malloc(B * sizeof *prev);
    if (!prev) return tg_status_set(st, TG_ENOMEM, "s2s_decode: no memory");
    for (size_t r = 0; r < B; r++) prev[r] = b->din[r]; /* GO */
    int rc = TG_OK;
    for (size_t k = 0; k < T && rc == TG_OK; k++) {
        tg_tensor *x = tg_embed_forward(t, &m->tgt_embed, prev, B);
        tg_tensor *logits = decode_step(t, m, x, &state, summary, ys, &a);
        if (!logits || tg_row_argmax(logits, prev, st) != TG_OK) {
            rc = tape_failed(t, st);
            break;
        }
        for (size_t r = 0; r < B; r++) {
            out[r * T + k] = prev[r];
            if (weights && m->cfg.attention) copy_weights(weights, a, r, k, T, S);
        }
    }
    free(prev);
    return rc;
}

/* Beam search for row r of b: K copies of the row decode side by side; after each step the K
 * best (beam, character) pairs by summed log-probability survive, their states gathered. */
static int decode_beam_row(tg_tape *t, const s2s_batch *b, size_t r, size_t K, int32_t *out,
                           double *weights, tg_status *st)
{
    const s2s_model *m = b->m;
    size_t B = b->B, T = m->cfg.T, S = m->cfg.S, V = m->cfg.V;
    int32_t src[S2S_MAX_WIDTH * S2S_MAX_BEAM], prev[S2S_MAX_BEAM], from[S2S_MAX_BEAM];
    int32_t hist[S2S_MAX_BEAM][S2S_MAX_WIDTH], nhist[S2S_MAX_BEAM][S2S_MAX_WIDTH];
    static double wts[S2S_MAX_BEAM][S2S_MAX_WIDTH][S2S_MAX_WIDTH];
    static double nwts[S2S_MAX_BEAM][S2S_MAX_WIDTH][S2S_MAX_WIDTH];
    tg_real score[S2S_MAX_BEAM] = {0};
    size_t pos[S2S_MAX_BEAM];
    for (size_t j = 0; j < S; j++)
        for (size_t i = 0; i < K; i++) src[j * K + i] = b->src[j * B + r];
    tg_tape_reset(t);
    tg_state s[1];
    tg_tensor *ys[S2S_MAX_WIDTH], *a = NULL;
    tg_tensor *summary = encode(t, m, src, K, s, ys);
    tg_state state = s[0];
    for (size_t i = 0; i < K; i++) prev[i] = b->din[r], score[i] = i ? -INFINITY : 0;
    for (size_t k = 0; k < T; k++) {
        tg_tensor *x = tg_embed_forward(t, &m->tgt_embed, prev, K);
        tg_tensor *logits = decode_step(t, m, x, &state, summary, ys, &a);
        tg_tensor *total = tg_add(t, tg_log_softmax(t, logits), tg_input(t, K, 1, score));
        if (!total) return tape_failed(t, st);
        if (tg_top_k(total, K, pos, st) != TG_OK) return st ? st->code : TG_ERANGE;
        for (size_t i = 0; i < K; i++) {
            from[i] = (int32_t)(pos[i] / V), prev[i] = (int32_t)(pos[i] % V);
            score[i] = total->val[pos[i]];
            memcpy(nhist[i], hist[from[i]], k * sizeof hist[0][0]);
            nhist[i][k] = prev[i];
            if (weights && m->cfg.attention) {
                memcpy(nwts[i], wts[from[i]], k * sizeof wts[0][0]);
                for (size_t j = 0; j < S; j++) nwts[i][k][j] = a->val[(size_t)from[i] * S + j];
            }
        }
        memcpy(hist, nhist, sizeof hist);
        if (weights && m->cfg.attention) memcpy(wts, nwts, sizeof wts);
        for (size_t q = 0; q < m->cfg.cell->n_states; q++) /* the survivors' states */
            state.v[q] = tg_embedding(t, state.v[q], from, K);
    }
    for (size_t k = 0; k < T; k++) {
        out[r * T + k] = hist[0][k];
        if (weights && m->cfg.attention)
            for (size_t j = 0; j < S; j++) weights[(r * T + k) * S + j] = wts[0][k][j];
    }
    return TG_OK;
}

int s2s_decode(tg_tape *t, const s2s_batch *b, size_t beam, int32_t *out, double *weights,
               tg_status *st)
{
    if (beam > S2S_MAX_BEAM || beam > b->m->cfg.V)
        return tg_status_set(st, TG_EINVAL,
                             "s2s_decode: beam %zu is more than %d or the %zu characters", beam,
                             S2S_MAX_BEAM, b->m->cfg.V);
    int was = tg_tape_set_grad(t, 0);
    int rc = TG_OK;
    tg_tape_reset(t);
    if (beam <= 1)
        rc = decode_greedy(t, b, out, weights, st);
    else
        for (size_t r = 0; r < b->B && rc == TG_OK; r++)
            rc = decode_beam_row(t, b, r, beam, out, weights, st);
    tg_tape_reset(t);
    tg_tape_set_grad(t, was);
    return rc;
}

int s2s_accuracy(const s2s_model *m, const s2s_vocab *v, const s2s_data *d, size_t B, size_t beam,
                 double *acc, tg_status *st)
{
    s2s_batch b;
    int rc = s2s_batch_init(&b, m, B, st);
    if (rc != TG_OK) return rc;
    tg_tape *t = tg_tape_new();
    int32_t *out = malloc(B * m->cfg.T * sizeof *out);
    size_t *idx = malloc(B * sizeof *idx), right = 0;
    if (!t || !out || !idx) rc = tg_status_set(st, TG_ENOMEM, "s2s_accuracy: no memory");
    for (size_t i0 = 0; rc == TG_OK && i0 < d->n; i0 += B) {
        size_t n = d->n - i0 < B ? d->n - i0 : B;
        for (size_t r = 0; r < n; r++) idx[r] = i0 + r;
        b.B = B;
        rc = s2s_batch_fill(&b, v, d, idx, n, st);
        if (rc == TG_OK) rc = s2s_decode(t, &b, beam, out, NULL, st);
        for (size_t r = 0; rc == TG_OK && r < n; r++) {
            size_t k = 0;
            while (k < d->T && v->ch[out[r * d->T + k]] == d->tgt[(i0 + r) * d->T + k]) k++;
            right += k == d->T;
        }
    }
    if (rc == TG_OK) *acc = d->n ? (double)right / (double)d->n : 0;
    free(out);
    free(idx);
    tg_tape_free(t);
    s2s_batch_deinit(&b);
    return rc;
}

int s2s_train_epoch(tg_trainer *tr, const s2s_model *m, const s2s_vocab *v, const s2s_data *d,
                    size_t n, size_t B, tg_rng *rng, double *loss, tg_status *st)
{
    s2s_batch b;
    int rc = s2s_batch_init(&b, m, B, st);
    if (rc != TG_OK) return rc;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) rc = tg_status_set(st, TG_ENOMEM, "s2s_train_epoch: no memory");
    for (size_t i = 0; rc == TG_OK && i < n; i++) order[i] = i;
    for (size_t i = n; rc == TG_OK && i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)tg_rng_below(rng, i), tmp = order[i - 1];
        order[i - 1] = order[j], order[j] = tmp;
    }
    double sum = 0;
    size_t batches = 0;
    for (size_t i0 = 0; rc == TG_OK && i0 + B <= n; i0 += B) { /* whole batches only */
        b.B = B;
        rc = s2s_batch_fill(&b, v, d, order + i0, B, st);
        double l = 0;
        if (rc == TG_OK) rc = tg_trainer_step(tr, s2s_batch_loss, &b, &l, st);
        sum += l, batches++;
    }
    if (rc == TG_OK) *loss = batches ? sum / (double)batches : 0;
    free(order);
    s2s_batch_deinit(&b);
    return rc;
}

/* ---- the attention picture -------------------------------------------------------------- */

static void svg_char(FILE *f, double x, double y, char c)
{
    const char *esc = c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : NULL;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y);
    if (esc)
        fputs(esc, f);
    else if (c == ' ')
        fputs("\xc2\xb7", f); /* a visible space: middle dot */
    else
        fputc(c, f);
    fputs("</text>\n", f);
}

int s2s_attention_svg(const char *path, size_t count, const char *const *src,
                      const char *const *out, const double *weights, size_t S, size_t T,
                      tg_status *st)
{
    FILE *f = fopen(path, "w");
    if (!f) return tg_status_set(st, TG_EIO, "s2s_attention_svg: cannot write %s", path);
    const double cell = 16, left = 24, top = 24, gap = 24;
    double pw = left + cell * (double)S + gap, ph = top + cell * (double)T;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"monospace\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n",
            pw * (double)count, ph + 8);
    for (size_t e = 0; e < count; e++) {
        double x0 = pw * (double)e;
        for (size_t j = 0; j < S; j++)
            svg_char(f, x0 + left + cell * ((double)j + 0.5), top - 8, src[e][j]);
        for (size_t k = 0; k < T; k++) {
            svg_char(f, x0 + left / 2, top + cell * ((double)k + 0.7), out[e][k]);
            for (size_t j = 0; j < S; j++) {
                double w = weights[(e * T + k) * S + j];
                int g = (int)lround(255 * (1 - (w < 0 ? 0 : w > 1 ? 1 : w)));
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" "
                        "fill=\"rgb(%d,%d,%d)\" stroke=\"#ddd\" stroke-width=\"0.5\"/>\n",
                        x0 + left + cell * (double)j, top + cell * (double)k, cell, cell, g, g,
                        255);
            }
        }
    }
    fputs("</svg>\n", f);
    if (fclose(f) != 0)
        return tg_status_set(st, TG_EIO, "s2s_attention_svg: writing %s failed", path);
    return TG_OK;
}
