/* batcher.c: truncated-BPTT windows over B rows of a token stream.
 *
 * Invariant: 0 <= offset <= L − 1; the next window covers pairs [offset, offset + T') of every
 * row with T' = min(T, L − 1 − offset), and offset == L − 1 means the epoch is used up.
 *
 * Read next: batcher.h for the layout and the ragged-end rule.
 */
#include "nn/batcher.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int tg_batcher_init_share(tg_batcher *b, const int32_t *tok, size_t N, size_t B, size_t T,
                          size_t rank, size_t ranks, tg_status *st)
{
    if (!b) return tg_status_set(st, TG_ENULL, "tg_batcher_init: the batcher is NULL");
    memset(b, 0, sizeof *b);
    if (!tok) return tg_status_set(st, TG_ENULL, "tg_batcher_init: the token stream is NULL");
    if (B == 0 || T == 0)
        return tg_status_set(st, TG_EINVAL,
                             "tg_batcher_init: %s must be at least 1 (N %zu, B %zu, T %zu)",
                             B == 0 ? "B" : "T", N, B, T);
    if (ranks == 0 || rank >= ranks || B % ranks != 0)
        return tg_status_set(st, TG_EINVAL,
                             "tg_batcher_init: B %zu rows cannot be shared by %zu ranks (rank "
                             "%zu): B must be a multiple of the number of ranks",
                             B, ranks, rank);
    if (T > SIZE_MAX / B / sizeof(int32_t))
        return tg_status_set(
            st, TG_EINVAL,
            "tg_batcher_init: a window of T·B ids overflows memory sizes (B %zu, T %zu)", B, T);
    if (N / B < 2)
        return tg_status_set(st, TG_ESHAPE,
                             "tg_batcher_init: %zu tokens cannot make %zu rows of at least 2 "
                             "tokens (N %zu, B %zu, T %zu; N must be at least 2·B)",
                             N, B, N, B, T);
    size_t share = B / ranks;
    *b = (tg_batcher){
        .tok = tok, .N = N, .B = share, .T = T, .L = N / B, .row0 = rank * share, .B_all = B};
    return TG_OK;
}

int tg_batcher_init(tg_batcher *b, const int32_t *tok, size_t N, size_t B, size_t T, tg_status *st)
{
    return tg_batcher_init_share(b, tok, N, B, T, 0, 1, st);
}

size_t tg_batcher_max_steps(const tg_batcher *b)
{
    return b->L == 0 ? 0 : b->T < b->L - 1 ? b->T : b->L - 1;
}

size_t tg_batcher_next(tg_batcher *b, int32_t *x, int32_t *y)
{
    if (b->L == 0) return 0;            // a failed init
    size_t left = b->L - 1 - b->offset; // pairs left in each row
    if (left == 0) {
        b->epoch++;
        b->offset = 0;
        return 0;
    }
    size_t Tw = left < b->T ? left : b->T, B = b->B;
    for (size_t t = 0; t < Tw; t++)
        for (size_t r = 0; r < B; r++) {
            size_t src = (b->row0 + r) * b->L + b->offset + t; // row k starts at k·L
            if (x) x[t * B + r] = b->tok[src];
            if (y) y[t * B + r] = b->tok[src + 1]; // target: one token further
        }
    b->offset += Tw;
    return Tw;
}

size_t tg_batcher_windows(const tg_batcher *b)
{
    return b->L == 0 ? 0 : (b->L - 1 + b->T - 1) / b->T; // ceil((L − 1) / T)
}

void tg_batcher_position(const tg_batcher *b, size_t *epoch, size_t *offset)
{
    if (epoch) *epoch = b->epoch;
    if (offset) *offset = b->offset;
}

int tg_batcher_set_position(tg_batcher *b, size_t epoch, size_t offset, tg_status *st)
{
    if (b->L == 0 || offset > b->L - 1)
        return tg_status_set(
            st, TG_ERANGE,
            "tg_batcher_set_position: offset %zu is past the %zu pairs of a row (L %zu)", offset,
            b->L ? b->L - 1 : 0, b->L);
    b->epoch = epoch;
    b->offset = offset;
    return TG_OK;
}
