#include <stdio.h>
#include <tapegrad.h>

int main(void)
{
    tg_tensor *a = tg_tensor_new(1, 1, 1), *b = tg_tensor_new(1, 1, 1); /* leaves with gradients */
    a->val[0] = -4.0f;
    b->val[0] = 2.0f;
    tg_tape *t = tg_tape_new();
    tg_tensor *c = tg_add(t, a, b);                               /* c = a + b        */
    tg_tensor *d = tg_add(t, tg_mul(t, a, b), tg_mul(t, b, b));   /* d = a*b + b*b    */
    tg_tensor *e = tg_tanh(t, tg_mul(t, c, tg_scale(t, d, 0.1))); /* e = tanh(c * d/10) */
    tg_backward(t, e);                                            /* de/da, de/db     */
    printf("e = %.4f  de/da = %.4f  de/db = %.4f\n", e->val[0], a->grad[0], b->grad[0]);
    tg_tape_free(t);
    tg_tensor_free(a);
    tg_tensor_free(b);
    return 0;
}
