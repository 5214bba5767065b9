/* Lesson 2: the repeat (broadcast) node and the sum node, walked backward. */
#include <stdio.h>
#include <string.h>
#include <tapegrad.h>

int main(int argc, char **argv) /* --dot: the graph after backward, for Graphviz */
{
    const tg_real xv[6] = {1, 2, 3, -1, 0, 1}, bv[3] = {1, -1, 2};
    tg_tensor *x = tg_label(tg_tensor_new(2, 3, 1), "x"),
              *b = tg_label(tg_tensor_new(1, 3, 1), "b");
    memcpy(x->val, xv, sizeof xv);
    memcpy(b->val, bv, sizeof bv);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_label(tg_add(t, x, b), "y = x + b"); /* b (1 x 3) repeated on 2 rows */
    tg_tensor *s = tg_label(tg_row_sum(t, y), "s");        /* s_i = Σ_j y_ij        (2 x 1) */
    tg_tensor *L = tg_label(tg_sum(t, tg_label(tg_mul(t, s, s), "s*s")), "L"); /* L = Σ s_i² */
    int dot = argc > 1 && strcmp(argv[1], "--dot") == 0, rc;
    if (dot)
        rc = tg_backward(t, L) || tg_tape_dot(t, stdout, TG_DOT_VALUES);
    else
        rc = tg_tape_print(t, stdout) || tg_walk_backward(t, L, stdout);
    tg_tape_free(t);
    tg_tensor_free(x);
    tg_tensor_free(b);
    return rc == TG_OK ? 0 : 1;
}
