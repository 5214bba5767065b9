/* bptt_adapt.c: moving weights and gradients between PyTorch's layout and the textbooks'.
 *
 * PyTorch keeps W_ih (G·H x I) and multiplies x·W_ihᵀ; textbooks keep W_x (I x G·H) and
 * multiply x·W_x, so every conversion is a transpose, with the gate blocks reordered by a
 * permutation the caller gives (the LSTM: PyTorch i, f, g, o; textbooks f, g, i, o). The map
 * of a gradient is the map of its weight, because both are linear in the same entries; only
 * the two biases need care (see nn/bptt.h). Nothing here knows a cell type: the caller says
 * how many gates and in which order.
 *
 * Read next: nn/bptt.h for the equations, tests/test_nn_bptt.c for the round trips.
 */
#include "nn/bptt.h"

#include <stdint.h>
#include <string.h>

const size_t tg_lstm_textbook_order[TG_LSTM_GATES] = {TG_LSTM_GATE_F, TG_LSTM_GATE_G,
                                                      TG_LSTM_GATE_I, TG_LSTM_GATE_O};

/* G gates of H units, textbook block q being PyTorch block order[q]. */
typedef struct layout {
    size_t G, H;
    const size_t *order; /* NULL: the same order */
} layout;

/* The PyTorch row of textbook column q·H + j. */
static size_t torch_row(const layout *l, size_t q, size_t j)
{
    return (l->order ? l->order[q] : q) * l->H + j;
}

/* TG_OK when G, I, H are at least 1, G·H·max(I, H) fits and order is a permutation of 0..G−1. */
static int layout_check(const char *fn, size_t G, const size_t *order, size_t I, size_t H,
                        tg_status *st)
{
    if (!G || !I || !H)
        return tg_status_set(st, TG_EINVAL, "%s: G = %zu, I = %zu, H = %zu must be at least 1", fn,
                             G, I, H);
    size_t K = I > H ? I : H;
    if (H > SIZE_MAX / G || K > SIZE_MAX / (G * H) / sizeof(tg_real))
        return tg_status_set(st, TG_ERANGE, "%s: G = %zu, I = %zu, H = %zu overflow", fn, G, I, H);
    for (size_t q = 0; order && q < G; q++) {
        size_t seen = 0;
        for (size_t p = 0; p < G; p++) seen += order[p] == order[q];
        if (order[q] >= G || seen != 1)
            return tg_status_set(st, TG_EINVAL,
                                 "%s: order[%zu] = %zu: the order must be a permutation of 0..%zu",
                                 fn, q, order[q], G - 1);
    }
    return TG_OK;
}

/* Textbook Wb (K x G·H) from PyTorch's W (G·H x K): Wb[k][q·H + j] = W[p(q)·H + j][k]. */
static void weights_to_book(const layout *l, size_t K, const tg_real *W, tg_real *Wb)
{
    size_t GH = l->G * l->H;
    for (size_t q = 0; q < l->G; q++)
        for (size_t j = 0; j < l->H; j++)
            for (size_t k = 0; k < K; k++)
                Wb[k * GH + q * l->H + j] = W[torch_row(l, q, j) * K + k];
}

/* The inverse: W[p(q)·H + j][k] = Wb[k][q·H + j]. */
static void weights_to_torch(const layout *l, size_t K, const tg_real *Wb, tg_real *W)
{
    size_t GH = l->G * l->H;
    for (size_t q = 0; q < l->G; q++)
        for (size_t j = 0; j < l->H; j++)
            for (size_t k = 0; k < K; k++)
                W[torch_row(l, q, j) * K + k] = Wb[k * GH + q * l->H + j];
}

/* The bias in textbook order from one or two PyTorch biases (b2 may be NULL). */
static void bias_to_book(const layout *l, const tg_real *b1, const tg_real *b2, tg_real *b)
{
    for (size_t q = 0; q < l->G; q++)
        for (size_t j = 0; j < l->H; j++) {
            size_t p = torch_row(l, q, j);
            b[q * l->H + j] = (tg_real)((double)b1[p] + (b2 ? b2[p] : 0));
        }
}

/* b1 and b2 in PyTorch order from the textbook bias; zero2 zeroes b2 instead. */
static void bias_to_torch(const layout *l, const tg_real *b, tg_real *b1, tg_real *b2, int zero2)
{
    for (size_t q = 0; q < l->G; q++)
        for (size_t j = 0; j < l->H; j++) {
            size_t p = torch_row(l, q, j);
            b1[p] = b[q * l->H + j];
            b2[p] = zero2 ? 0 : b[q * l->H + j];
        }
}

/* The checks every adapter makes: the layout, then no NULL among the n arrays. */
static int adapter_check(const char *fn, size_t G, const size_t *order, size_t I, size_t H,
                         const void *const *arrays, size_t n, tg_status *st)
{
    int rc = layout_check(fn, G, order, I, H, st);
    for (size_t k = 0; rc == TG_OK && k < n; k++)
        if (!arrays[k])
            rc = tg_status_set(st, TG_ENULL, "%s: array %zu of %zu is NULL", fn, k + 1, n);
    return rc;
}

int tg_textbook_from_torch(size_t G, const size_t *order, size_t I, size_t H, const tg_real *W_ih,
                           const tg_real *W_hh, const tg_real *b_ih, const tg_real *b_hh,
                           tg_real *W_x, tg_real *W_h, tg_real *b, tg_status *st)
{
    const void *arrays[] = {W_ih, W_hh, b_ih, b_hh, W_x, W_h, b};
    int rc = adapter_check("tg_textbook_from_torch", G, order, I, H, arrays, 7, st);
    if (rc != TG_OK) return rc;
    layout l = {G, H, order};
    weights_to_book(&l, I, W_ih, W_x);
    weights_to_book(&l, H, W_hh, W_h);
    bias_to_book(&l, b_ih, b_hh, b); /* b = b_ih + b_hh */
    return TG_OK;
}

int tg_textbook_to_torch(size_t G, const size_t *order, size_t I, size_t H, const tg_real *W_x,
                         const tg_real *W_h, const tg_real *b, tg_real *W_ih, tg_real *W_hh,
                         tg_real *b_ih, tg_real *b_hh, tg_status *st)
{
    const void *arrays[] = {W_x, W_h, b, W_ih, W_hh, b_ih, b_hh};
    int rc = adapter_check("tg_textbook_to_torch", G, order, I, H, arrays, 7, st);
    if (rc != TG_OK) return rc;
    layout l = {G, H, order};
    weights_to_torch(&l, I, W_x, W_ih);
    weights_to_torch(&l, H, W_h, W_hh);
    bias_to_torch(&l, b, b_ih, b_hh, 1); /* b_ih = b, b_hh = 0 */
    return TG_OK;
}

int tg_textbook_grads_from_torch(size_t G, const size_t *order, size_t I, size_t H,
                                 const tg_real *dW_ih, const tg_real *dW_hh, const tg_real *db_ih,
                                 tg_real *dW_x, tg_real *dW_h, tg_real *db, tg_status *st)
{
    const void *arrays[] = {dW_ih, dW_hh, db_ih, dW_x, dW_h, db};
    int rc = adapter_check("tg_textbook_grads_from_torch", G, order, I, H, arrays, 6, st);
    if (rc != TG_OK) return rc;
    layout l = {G, H, order};
    weights_to_book(&l, I, dW_ih, dW_x);
    weights_to_book(&l, H, dW_hh, dW_h);
    bias_to_book(&l, db_ih, NULL, db); /* db = db_ih (= db_hh) */
    return TG_OK;
}

int tg_textbook_grads_to_torch(size_t G, const size_t *order, size_t I, size_t H,
                               const tg_real *dW_x, const tg_real *dW_h, const tg_real *db,
                               tg_real *dW_ih, tg_real *dW_hh, tg_real *db_ih, tg_real *db_hh,
                               tg_status *st)
{
    const void *arrays[] = {dW_x, dW_h, db, dW_ih, dW_hh, db_ih, db_hh};
    int rc = adapter_check("tg_textbook_grads_to_torch", G, order, I, H, arrays, 7, st);
    if (rc != TG_OK) return rc;
    layout l = {G, H, order};
    weights_to_torch(&l, I, dW_x, dW_ih);
    weights_to_torch(&l, H, dW_h, dW_hh);
    bias_to_torch(&l, db, db_ih, db_hh, 0); /* db_ih = db_hh = db */
    return TG_OK;
}

void tg_gru_flip_z(size_t I, size_t H, tg_real *W_ih, tg_real *W_hh, tg_real *b_ih, tg_real *b_hh)
{
    for (size_t j = H; j < 2 * H; j++) { /* the z block of r, z, n */
        for (size_t k = 0; W_ih && k < I; k++) W_ih[j * I + k] = -W_ih[j * I + k];
        for (size_t k = 0; W_hh && k < H; k++) W_hh[j * H + k] = -W_hh[j * H + k];
        if (b_ih) b_ih[j] = -b_ih[j];
        if (b_hh) b_hh[j] = -b_hh[j];
    }
}
