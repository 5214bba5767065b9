/* embedding.c: rows of a table picked by integer ids.
 *
 * Forward copies row W[ids[i]] into row i of y; backward adds row i of dy back into row
 * W[ids[i]], so an id that occurs twice receives both rows. The ids are copied into the arena
 * and hang off y->saved, so the caller's buffer may be reused as soon as the op returns.
 * Dimension letters: n ids, V rows in the table, E columns (the embedding width).
 */
#include "ops/embedding.h"

#include "autograd/internal.h"

#include <string.h>

static void embedding_forward(tg_tape *t, tg_tensor *y)
{
    const tg_tensor *W = y->in[0];
    const int32_t *ids = y->saved;
    size_t E = W->cols;
    for (size_t i = 0; i < y->rows; i++)
        memcpy(&y->val[i * E], &W->val[(size_t)ids[i] * E], E * sizeof *y->val);
}

static void embedding_backward(tg_tape *t, tg_tensor *y) /* dW[ids[i]] += dy[i] */
{
    tg_tensor *W = y->in[0];
    const int32_t *ids = y->saved;
    size_t E = W->cols;
    if (!W->grad) return;
    for (size_t i = 0; i < y->rows; i++) {
        tg_real *dw = &W->grad[(size_t)ids[i] * E];
        const tg_real *dy = &y->grad[i * E];
        for (size_t j = 0; j < E; j++) dw[j] += dy[j];
    }
}

static const tg_op embedding_op = {"tg_embedding", embedding_forward, embedding_backward, NULL,
                                   "embedding lookup: adds each row's upstream gradient into the "
                                   "table row it looked up  dE[id_i] += dy[i]"};

tg_tensor *tg_embedding(tg_tape *t, tg_tensor *W, const int32_t *ids, size_t n)
{
    if (!tg_check_inputs(t, "tg_embedding", 1, &W)) return NULL;
    if (!ids && n > 0) return tg_fail(t, "tg_embedding: ids is NULL (n = %zu)", n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= W->rows)
            return tg_fail(t,
                           "tg_embedding: id %ld at position %zu is out of range for a table "
                           "of %zu rows " TG_SHAPE,
                           (long)ids[i], i, W->rows, TG_DIMS(W));
    int32_t *saved = tg_tape_alloc(t, n * sizeof *saved, "tg_embedding");
    if (!saved) return NULL;
    if (n > 0) memcpy(saved, ids, n * sizeof *saved);
    tg_tensor *y = tg_node(t, &embedding_op, n, W->cols, 1, &W);
    if (!y) return NULL;
    y->saved = saved;
    embedding_op.forward(t, y);
    return y;
}
