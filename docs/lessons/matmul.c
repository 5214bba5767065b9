/* Lesson 3: the MatMul node, and why its gradients hold transposes: dA = dY·Bᵀ, dB = Aᵀ·dY. */
#include <stdio.h>
#include <string.h>
#include <tapegrad.h>

enum { M = 2, K = 3, N = 2 }; /* A is (M x K), B is (K x N), Y = A·B is (M x N) */

/* Print the (rows x cols) matrix v, one row per line after the title. */
static void show(const char *title, const tg_real *v, size_t rows, size_t cols)
{
    printf("%s\n", title);
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++) printf(" %8.3g", (double)v[i * cols + j]);
        printf("\n");
    }
}

/* The two products by hand, from dY: dA = dY·Bᵀ and dB = Aᵀ·dY. */
static void by_hand(const tg_real *A, const tg_real *B, const tg_real *dY, tg_real *dA, tg_real *dB)
{
    for (size_t i = 0; i < M; i++)
        for (size_t k = 0; k < K; k++) {
            dA[i * K + k] = 0;
            for (size_t j = 0; j < N; j++)
                dA[i * K + k] += dY[i * N + j] * B[k * N + j]; /* dY·Bᵀ */
        }
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < N; j++) {
            dB[k * N + j] = 0;
            for (size_t i = 0; i < M; i++)
                dB[k * N + j] += A[i * K + k] * dY[i * N + j]; /* Aᵀ·dY */
        }
}

int main(int argc, char **argv) /* --dot: the graph after backward, for Graphviz */
{
    const tg_real Av[M * K] = {1, 2, 0, -1, 3, 1}, Bv[K * N] = {2, -1, 0, 1, 1, 4};
    const tg_real Gv[M * N] = {1, 0, -2, 0.5}; /* the loss weights: dL/dY = G */
    tg_tensor *A = tg_label(tg_tensor_new(M, K, 1), "A"),
              *B = tg_label(tg_tensor_new(K, N, 1), "B");
    memcpy(A->val, Av, sizeof Av);
    memcpy(B->val, Bv, sizeof Bv);
    tg_tape *t = tg_tape_new();
    tg_tensor *G = tg_label(tg_input(t, M, N, Gv), "G");
    tg_tensor *Y = tg_label(tg_matmul(t, A, B, 0), "Y = A·B");
    tg_tensor *L = tg_label(tg_sum(t, tg_label(tg_mul(t, Y, G), "Y*G")), "L"); /* L = Σ Y ⊙ G */
    if (argc > 1 && strcmp(argv[1], "--dot") == 0) {
        int rc = tg_backward(t, L) || tg_tape_dot(t, stdout, TG_DOT_VALUES);
        tg_tape_free(t), tg_tensor_free(A), tg_tensor_free(B);
        return rc == TG_OK ? 0 : 1;
    }
    int rc = tg_walk_backward(t, L, stdout);
    tg_real dA[M * K], dB[K * N];
    by_hand(Av, Bv, Y->grad, dA, dB);
    printf("\n");
    show("dL/dY (upstream, 2 x 2):", Y->grad, M, N);
    show("dA by hand = dY·Bᵀ (2 x 2 times 2 x 3):", dA, M, K);
    show("dA from the tape:", A->grad, M, K);
    show("dB by hand = Aᵀ·dY (3 x 2 times 2 x 2):", dB, K, N);
    show("dB from the tape:", B->grad, K, N);
    int same = 1;
    for (size_t i = 0; i < M * K; i++) same &= dA[i] == A->grad[i];
    for (size_t i = 0; i < K * N; i++) same &= dB[i] == B->grad[i];
    printf("%s\n", same ? "by hand and the tape agree" : "DIFFER: see above");
    tg_tape_free(t);
    tg_tensor_free(A);
    tg_tensor_free(B);
    return rc == TG_OK && same ? 0 : 1;
}
