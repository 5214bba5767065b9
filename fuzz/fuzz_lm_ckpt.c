/* fuzz_lm_ckpt.c: a language-model checkpoint as models/lm_ckpt.c interprets it: the model's
 * configuration from metadata, its parameters, the vocabulary check and the whole training
 * state of a resume. The input is a safetensors file; its tapegrad.crc32 checksums are removed
 * first (a file of another writer has none), so mutations reach the interpretation instead of
 * stopping at the checksum. */
#include "fuzz_file.h"
#include "models/lm.h"
#include "models/text.h"

#include <jansson.h>
#include <string.h>

/* The input with every "tapegrad.crc32*" metadata key removed; NULL when it has no JSON header.
 * *len is its length. */
static uint8_t *without_checksums(const uint8_t *data, size_t size, size_t *len)
{
    uint64_t n = 0;
    if (size < 8) return NULL;
    for (int i = 7; i >= 0; i--) n = n << 8 | data[i];
    if (n > size - 8) return NULL;
    json_t *root = json_loadb((const char *)data + 8, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    json_t *meta = json_object_get(root, "__metadata__");
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(meta, tmp, key, v) if (strncmp(key, "tapegrad.crc32", 14) == 0)
        json_object_del(meta, key);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text) return NULL;
    size_t h = strlen(text), rest = size - 8 - (size_t)n;
    uint8_t *out = malloc(8 + h + rest);
    for (int i = 0; out && i < 8; i++) out[i] = (uint8_t)((uint64_t)h >> (8 * i));
    if (out) memcpy(out + 8, text, h), memcpy(out + 8 + h, data + 8 + n, rest);
    free(text);
    *len = 8 + h + rest;
    return out;
}

static void resume(const char *path, lm_model *m)
{
    tg_status st = {0};
    int32_t tok[64];
    for (size_t i = 0; i < 64; i++) tok[i] = (int32_t)(i % m->cfg.V);
    lm_trainer tr;
    if (lm_trainer_init(&tr, m, tok, 64, &st) != TG_OK) return;
    lm_load_training(path, &tr, &st);
    lm_trainer_deinit(&tr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = 0;
    uint8_t *file = without_checksums(data, size, &len);
    const char *path = file ? fuzz_file(file, len) : fuzz_file(data, size);
    free(file);
    for (int kind = 0; kind < 2; kind++) {
        char *vocab;
        tg_status st = {0};
        lm_model m;
        if (lm_load(path, &m, kind ? "char" : "word", &vocab, 0, &st) != TG_OK) continue;
        lm_vocab_fits(path, m.cfg.V, &m, &st);
        if (m.cfg.T <= 64 && m.cfg.B <= 8) resume(path, &m); /* windows the harness can afford */
        lm_model_deinit(&m);
        free(vocab);
    }
    return 0;
}
