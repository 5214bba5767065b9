/* fuzz_vocab.c: vocabulary strings as a checkpoint stores them (character and word), rebuilt,
 * written back (must round-trip) and used to encode the same bytes as a corpus. */
#include "models/text.h"
#include "models/vocab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void words(const char *s, size_t size)
{
    char *back = NULL;
    tg_status st = {0};
    lm_wordvocab v;
    if (lm_wordvocab_from_string(&v, s, &st) != TG_OK) return;
    if (lm_wordvocab_to_string(&v, &back, &st) == TG_OK && strcmp(back, s) != 0)
        abort(); /* what was accepted is written back as it was */
    int32_t *ids = NULL;
    size_t n = 0;
    lm_wordvocab_encode(&v, "fuzz", s, size, &ids, &n, NULL, &st);
    free(ids);
    free(back);
    lm_wordvocab_deinit(&v);
}

static void chars(const char *s, size_t size)
{
    char *back = NULL;
    tg_status st = {0};
    lm_charvocab v;
    if (lm_charvocab_from_string(&v, s, &st) != TG_OK) return;
    if (lm_charvocab_to_string(&v, &back, &st) == TG_OK && strcmp(back, s) != 0) abort();
    uint32_t *cps = NULL;
    size_t n = 0;
    int32_t *ids = NULL;
    if (lm_utf8_decode("fuzz", s, size, &cps, &n, &st) == TG_OK)
        lm_charvocab_encode(&v, "fuzz", cps, n, &ids, &st);
    free(ids);
    free(cps);
    free(back);
    lm_charvocab_deinit(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s); /* a checkpoint string ends at its first NUL */
    words(s, len);
    chars(s, len);
    free(s);
    return 0;
}
