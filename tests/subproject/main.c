/* main.c: the sample program of tests/subproject. y = sum(tanh(x)) over a (2 x 3) matrix; the tape
 * must give dy/dx = 1 - tanh(x)^2 element by element. Exits 1 when it does not. Built once for
 * float (dependency 'tapegrad') and once for double ('tapegrad-f64', which adds -DTG_DOUBLE). */
#include <math.h>
#include <stdio.h>
#include <tapegrad.h>

int main(void)
{
    tg_tensor *x = tg_tensor_new(2, 3, 1);
    for (int i = 0; i < 6; i++) x->val[i] = (tg_real)(0.5 * i - 1.2);
    tg_tape *t = tg_tape_new();
    tg_backward(t, tg_sum(t, tg_tanh(t, x)));
    double worst = 0;
    for (int i = 0; i < 6; i++) {
        double th = tanh(x->val[i]), err = fabs(x->grad[i] - (1 - th * th));
        worst = err > worst ? err : worst;
    }
    printf("%s: largest error in dy/dx %.1e\n", sizeof(tg_real) == 8 ? "double" : "float", worst);
    tg_tape_free(t);
    tg_tensor_free(x);
    return worst < 1e-5 ? 0 : 1;
}
