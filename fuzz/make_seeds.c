/* make_seeds.c: writes the seed checkpoints of fuzz/corpus/ (run from the build: 
 * `fuzz/make_seeds ../fuzz/corpus`): a tiny word-level and character-level language model with
 * their training state, and a file with one array of every dtype. Kept small so the fuzzer's
 * mutations stay fast. */
#include "models/lm.h"
#include "models/text.h"

#include <stdio.h>
#include <string.h>

static int model(const char *dir, const char *kind, const char *cell, const char *vocab)
{
    char path[1024];
    tg_status st = {0};
    lm_config c = lm_default_config();
    c.cell = tg_cell_type_find(cell), c.V = 4, c.E = 3, c.H = 3, c.L = 2, c.T = 4, c.B = 2;
    lm_model m;
    lm_trainer tr;
    int32_t tok[64];
    for (size_t i = 0; i < 64; i++) tok[i] = (int32_t)(i * 7 % 4);
    if (lm_model_init(&m, &c, &st) || lm_trainer_init(&tr, &m, tok, 64, &st))
        return fprintf(stderr, "%s\n", st.msg), 1;
    snprintf(path, sizeof path, "%s/%s_%s.safetensors", dir, kind, cell);
    int rc = lm_save(path, &m, &tr, kind, vocab, &st);
    if (rc) fprintf(stderr, "%s\n", st.msg);
    lm_trainer_deinit(&tr);
    lm_model_deinit(&m);
    return rc;
}

static int dtypes(const char *dir)
{
    char path[1024];
    unsigned char bytes[64] = {0, 1, 2, 3, 0x80, 0x3f, 0, 0, 0xff, 0x7f};
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    tg_status st;
    for (int dt = 0; dt < TG_DT_COUNT; dt++) {
        size_t shape[2] = {2, 1 + (size_t)dt % 3};
        tg_ckpt_writer_add(w, tg_dtype_name((tg_dtype)dt), (tg_dtype)dt, 1 + dt % 2, shape, bytes,
                           &st);
    }
    tg_ckpt_writer_meta(w, "note", "h\xc3\xa9llo\n", &st);
    snprintf(path, sizeof path, "%s/dtypes.safetensors", dir);
    int rc = tg_ckpt_writer_save(w, path, &st);
    if (rc) fprintf(stderr, "%s\n", st.msg);
    tg_ckpt_writer_free(w);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    return model(dir, "word", "lstm", "a\nb\n<unk>\n<eos>\n") | model(dir, "char", "gru", "\n ab") |
           model(dir, "word", "rnn", "x\ny\nz\n<eos>\n") | dtypes(dir);
}
