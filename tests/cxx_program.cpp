// cxx_program.cpp: a C++ program that includes <tapegrad.h> and links the shared library.
//
// The public headers declare C linkage for C++ (TG_BEGIN_DECLS in autograd/export.h); without it
// this compiles and then fails to link, every call looking for a mangled name. It runs the
// README's expression and checks de/da against the derivative worked out by hand.
#include <cmath>
#include <cstdio>
#include <tapegrad.h>

int main()
{
    tg_tensor *a = tg_tensor_new(1, 1, 1), *b = tg_tensor_new(1, 1, 1);
    a->val[0] = -4;
    b->val[0] = 2;
    tg_tape *t = tg_tape_new();
    tg_tensor *c = tg_add(t, a, b);                               // c = a + b
    tg_tensor *d = tg_add(t, tg_mul(t, a, b), tg_mul(t, b, b));   // d = a*b + b*b
    tg_tensor *e = tg_tanh(t, tg_mul(t, c, tg_scale(t, d, 0.1))); // e = tanh(c * d/10)
    tg_backward(t, e);
    // de/da = (1 - e^2) * (d + c*b) / 10
    double want = (1 - double(e->val[0]) * e->val[0]) * (-4.0 + -2.0 * 2) / 10;
    int ok = std::fabs(a->grad[0] - want) < 1e-5;
    std::printf("C++: de/da = %.4f (by hand %.4f): %s\n", double(a->grad[0]), want,
                ok ? "ok" : "differs");
    tg_tape_free(t);
    tg_tensor_free(a);
    tg_tensor_free(b);
    return ok ? 0 : 1;
}
