/* bptt_adapt.c: moving weights and gradients between PyTorch's layout and the textbooks'.
 *
 * PyTorch keeps W_ih (G·H x I) and multiplies x·W_ihᵀ; textbooks keep W_x (I x G·H) and
 * multiply x·W_x, so every conversion is a transpose, with the LSTM's gate blocks reordered
 * (PyTorch i, f, g, o; textbooks f, g, i, o). The map of a gradient is the map of its weight,
 * because both are linear in the same entries; only the two biases need care (see nn/bptt.h).
 *
 * Read next: nn/bptt.h for the equations, tests/test_nn_bptt.c for the round trips.
 */
#include "nn/bptt.h"

#include <string.h>

/* The PyTorch gate block that textbook block q holds: textbook f, g, i, o = PyTorch 1, 2, 0, 3. */
static size_t torch_block(tg_cell_kind kind, size_t q)
{
    static const size_t lstm[4] = {1, 2, 0, 3};
    return kind == TG_LSTM ? lstm[q] : q;
}

static int mergeable(tg_cell_kind kind)
{
    return kind == TG_RNN_TANH || kind == TG_RNN_RELU || kind == TG_LSTM;
}

static size_t gate_count(tg_cell_kind kind)
{
    return kind == TG_LSTM ? 4 : 1;
}

/* Textbook Wb (K x G·H) from PyTorch's W (G·H x K): Wb[k][q·H + j] = W[p(q)·H + j][k]. */
static void weights_to_book(tg_cell_kind kind, size_t K, size_t H, const tg_real *W, tg_real *Wb)
{
    size_t GH = gate_count(kind) * H;
    for (size_t q = 0; q < gate_count(kind); q++)
        for (size_t j = 0; j < H; j++)
            for (size_t k = 0; k < K; k++)
                Wb[k * GH + q * H + j] = W[(torch_block(kind, q) * H + j) * K + k];
}

/* The inverse: W[p(q)·H + j][k] = Wb[k][q·H + j]. */
static void weights_to_torch(tg_cell_kind kind, size_t K, size_t H, const tg_real *Wb, tg_real *W)
{
    size_t GH = gate_count(kind) * H;
    for (size_t q = 0; q < gate_count(kind); q++)
        for (size_t j = 0; j < H; j++)
            for (size_t k = 0; k < K; k++)
                W[(torch_block(kind, q) * H + j) * K + k] = Wb[k * GH + q * H + j];
}

/* The bias in textbook order from one or two PyTorch biases (b2 may be NULL). */
static void bias_to_book(tg_cell_kind kind, size_t H, const tg_real *b1, const tg_real *b2,
                         tg_real *b)
{
    size_t G = gate_count(kind);
    for (size_t q = 0; q < G; q++)
        for (size_t j = 0; j < H; j++) {
            size_t p = torch_block(kind, q) * H + j;
            b[q * H + j] = (tg_real)((double)b1[p] + (b2 ? b2[p] : 0));
        }
}

/* b1 (and b2, when not NULL) in PyTorch order from the textbook bias; zero2 zeroes b2 instead. */
static void bias_to_torch(tg_cell_kind kind, size_t H, const tg_real *b, tg_real *b1, tg_real *b2,
                          int zero2)
{
    size_t G = gate_count(kind);
    for (size_t q = 0; q < G; q++)
        for (size_t j = 0; j < H; j++) {
            size_t p = torch_block(kind, q) * H + j;
            b1[p] = b[q * H + j];
            b2[p] = zero2 ? 0 : b[q * H + j];
        }
}

int tg_textbook_from_torch(tg_cell_kind kind, size_t I, size_t H, const tg_real *W_ih,
                           const tg_real *W_hh, const tg_real *b_ih, const tg_real *b_hh,
                           tg_real *W_x, tg_real *W_h, tg_real *b)
{
    if (!mergeable(kind)) return TG_EINVAL;
    if (!W_ih || !W_hh || !b_ih || !b_hh || !W_x || !W_h || !b) return TG_ENULL;
    weights_to_book(kind, I, H, W_ih, W_x);
    weights_to_book(kind, H, H, W_hh, W_h);
    bias_to_book(kind, H, b_ih, b_hh, b); /* b = b_ih + b_hh */
    return TG_OK;
}

int tg_textbook_to_torch(tg_cell_kind kind, size_t I, size_t H, const tg_real *W_x,
                         const tg_real *W_h, const tg_real *b, tg_real *W_ih, tg_real *W_hh,
                         tg_real *b_ih, tg_real *b_hh)
{
    if (!mergeable(kind)) return TG_EINVAL;
    if (!W_x || !W_h || !b || !W_ih || !W_hh || !b_ih || !b_hh) return TG_ENULL;
    weights_to_torch(kind, I, H, W_x, W_ih);
    weights_to_torch(kind, H, H, W_h, W_hh);
    bias_to_torch(kind, H, b, b_ih, b_hh, 1); /* b_ih = b, b_hh = 0 */
    return TG_OK;
}

int tg_textbook_grads_from_torch(tg_cell_kind kind, size_t I, size_t H, const tg_real *dW_ih,
                                 const tg_real *dW_hh, const tg_real *db_ih, tg_real *dW_x,
                                 tg_real *dW_h, tg_real *db)
{
    if (!mergeable(kind)) return TG_EINVAL;
    if (!dW_ih || !dW_hh || !db_ih || !dW_x || !dW_h || !db) return TG_ENULL;
    weights_to_book(kind, I, H, dW_ih, dW_x);
    weights_to_book(kind, H, H, dW_hh, dW_h);
    bias_to_book(kind, H, db_ih, NULL, db); /* db = db_ih (= db_hh) */
    return TG_OK;
}

int tg_textbook_grads_to_torch(tg_cell_kind kind, size_t I, size_t H, const tg_real *dW_x,
                               const tg_real *dW_h, const tg_real *db, tg_real *dW_ih,
                               tg_real *dW_hh, tg_real *db_ih, tg_real *db_hh)
{
    if (!mergeable(kind)) return TG_EINVAL;
    if (!dW_x || !dW_h || !db || !dW_ih || !dW_hh || !db_ih || !db_hh) return TG_ENULL;
    weights_to_torch(kind, I, H, dW_x, dW_ih);
    weights_to_torch(kind, H, H, dW_h, dW_hh);
    bias_to_torch(kind, H, db, db_ih, db_hh, 0); /* db_ih = db_hh = db */
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
