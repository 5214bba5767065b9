/* Lesson 1: the add node and the multiply node, in README's expression, walked backward. */
#include <stdio.h>
#include <string.h>
#include <tapegrad.h>

int main(int argc, char **argv) /* --dot: the graph after backward, for Graphviz */
{
    tg_tensor *a = tg_label(tg_tensor_new(1, 1, 1), "a"),
              *b = tg_label(tg_tensor_new(1, 1, 1), "b");
    a->val[0] = -4.0f;
    b->val[0] = 2.0f;
    tg_tape *t = tg_tape_new();
    tg_tensor *c = tg_label(tg_add(t, a, b), "c");    /* c = a + b          */
    tg_tensor *ab = tg_label(tg_mul(t, a, b), "a*b"); /* the multiply nodes */
    tg_tensor *bb = tg_label(tg_mul(t, b, b), "b*b");
    tg_tensor *d = tg_label(tg_add(t, ab, bb), "d"); /* d = a*b + b*b      */
    tg_tensor *d10 = tg_label(tg_scale(t, d, 0.1), "d/10");
    tg_tensor *e = tg_label(tg_tanh(t, tg_label(tg_mul(t, c, d10), "c*d/10")), "e");
    int dot = argc > 1 && strcmp(argv[1], "--dot") == 0, rc;
    if (dot)
        rc = tg_backward(t, e) || tg_tape_dot(t, stdout, TG_DOT_VALUES);
    else
        rc = tg_tape_print(t, stdout) || tg_walk_backward(t, e, stdout); /* told node by node */
    tg_tape_free(t);
    tg_tensor_free(a);
    tg_tensor_free(b);
    return rc == TG_OK ? 0 : 1;
}
