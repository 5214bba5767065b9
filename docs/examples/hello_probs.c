/* hello_probs.c: the 'hello' figure. A tiny LSTM (vocabulary h e l o, 16 units) trained on
 * "hellohello...", then asked, character by character, how likely each next character is.
 * The first 'l' must be followed by 'l' and the second by 'o': the same input, two answers,
 * which only the carried state can tell apart. Seeded; runs in well under a second.
 * docs/hello.md quotes its output, and meson test compares the two.
 *
 *   hello_probs [PICTURE.svg]   print the training and the table; draw the table as an SVG
 */
#include "models/lm.h"
#include "models/nextchar.h"
#include "models/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int rc, const tg_status *st)
{
    if (rc != TG_OK) {
        fprintf(stderr, "hello_probs: %s\n", st->msg);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    tg_status st;
    uint32_t text[200]; /* "hello" 40 times */
    for (size_t i = 0; i < 200; i++) text[i] = (uint32_t) "hello"[i % 5];
    lm_charvocab v;
    int32_t *ids;
    check(lm_charvocab_build(&v, text, 5, &st), &st); /* e h l o: ids 0 1 2 3 */
    check(lm_charvocab_encode(&v, "hello", text, 200, &ids, &st), &st);

    lm_config c = lm_default_config(); /* an LSTM, clipping at 5, seed 1 */
    c.V = v.size, c.E = 8, c.H = 16, c.T = 10, c.B = 4;
    c.optim = tg_adam_config(0.01);
    lm_model m;
    lm_trainer tr;
    check(lm_model_init(&m, &c, &st), &st);
    check(lm_trainer_init(&tr, &m, ids, 200, &st), &st);
    printf("an LSTM of %zu units trained on \"hello\" x 40 (vocabulary %zu: e h l o)\n", c.H,
           v.size);
    const uint32_t hello[] = {'h', 'e', 'l', 'l', 'o'};
    const uint64_t show[] = {0, 10, 100}; /* windows trained before each table */
    lm_nextchar nc = {0};
    for (size_t k = 0; k < 3; k++) {
        double loss = 0;
        while (tr.step < show[k])
            if (lm_train_window(&tr, &loss, &st) < 0) check(TG_EINVAL, &st);
        lm_nextchar_deinit(&nc);
        check(lm_nextchar_compute(&nc, &m, &v, "hello", hello, 5, 4, &st), &st);
        if (tr.step == 0)
            printf("\nuntrained, from the zero state:\n");
        else
            printf("\nafter %llu windows (last training loss %.4f), from the zero state:\n",
                   (unsigned long long)tr.step, loss);
        lm_nextchar_print(stdout, &nc, &v);
    }
    if (argc > 1) { /* the last table as a picture */
        FILE *f = fopen(argv[1], "w");
        if (!f || lm_nextchar_svg(f, &nc, &v) != TG_OK || fclose(f) != 0) {
            fprintf(stderr, "hello_probs: cannot write %s\n", argv[1]);
            return 1;
        }
    }
    lm_nextchar_deinit(&nc);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
    free(ids);
    return 0;
}
