/* Lesson 1: the add node and the multiply node, in README's expression, walked backward. */
#include <stdio.h>
#include <tapegrad.h>

int main(void)
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
    tg_tape_print(t, stdout);
    int rc = tg_walk_backward(t, e, stdout); /* backward, told node by node */
    tg_tape_free(t);
    tg_tensor_free(a);
    tg_tensor_free(b);
    return rc == TG_OK ? 0 : 1;
}
