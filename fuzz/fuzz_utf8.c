/* fuzz_utf8.c: corpora as bytes: strict decoding (models/text.c over io/utf8.c), checked against
 * the validator and the encoder (decode then encode gives the same bytes), the escaper (its
 * output never holds a control byte), and a word vocabulary built from it. (Character
 * vocabularies are built by fuzz_vocab: building one scans all 1.1M code points, which would
 * make this target 100 times slower.) */
#include "io/utf8.h"
#include "models/text.h"
#include "models/vocab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void escape(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), out[256];
    if (!s) return;
    memcpy(s, data, size);
    s[size] = '\0';
    tg_utf8_escape(out, sizeof out, s);
    for (const unsigned char *p = (const unsigned char *)out; *p; p++)
        if (*p < 0x20 || *p == 0x7f) abort();
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_status st = {0};
    const char *s = (const char *)data;
    uint32_t *cps = NULL;
    size_t n = 0, bad;
    int ok = lm_utf8_decode("corpus", s, size, &cps, &n, &st) == TG_OK;
    if (ok != tg_utf8_valid(s, size, &bad)) abort(); /* two views of one module agree */
    if (ok) {
        char *back = NULL;
        size_t len = 0;
        if (lm_utf8_encode(cps, n, &back, &len, &st) == TG_OK &&
            (len != size || memcmp(back, s, size) != 0))
            abort();
        free(back);
        lm_wordvocab wv;
        if (lm_wordvocab_build(&wv, "corpus", s, size, &st) == TG_OK) lm_wordvocab_deinit(&wv);
    }
    free(cps);
    escape(data, size);
    return 0;
}
