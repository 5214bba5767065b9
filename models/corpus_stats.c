/* corpus_stats: what the language models will see in a corpus, counted by models/text.c and
 * models/vocab.c.
 *
 *     corpus_stats TRAIN [OTHER...]
 *
 * For each file: bytes, lines, characters and distinct characters (the char LM's vocabulary),
 * then words split as in Penn Treebank, tokens with one "<eos>" per line, and distinct tokens.
 * Each OTHER file is also encoded with TRAIN's word vocabulary, as a word LM would see it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "models/text.h"
#include "models/vocab.h"

/* The characters of a small vocabulary, with control characters and '\' escaped. */
static void print_chars(const lm_charvocab *cv)
{
    printf("  characters in order   ");
    for (size_t i = 0; i < cv->size; i++) {
        uint32_t c = cv->chars[i];
        char b[5] = {0};
        if (c == '\n')
            printf("\\n");
        else if (c == '\\')
            printf("\\\\");
        else if (c < 0x20 || c == 0x7F)
            printf("\\x%02X", (unsigned)c);
        else if (lm_utf8_put(c, b))
            printf("%s", b);
    }
    printf("\n");
}

static void char_stats(const char *path, const char *data, size_t len)
{
    tg_status st;
    uint32_t *cps;
    size_t n, lines = 0;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    lines += len > 0 && data[len - 1] != '\n';
    printf("%s\n  bytes                 %zu\n  lines                 %zu\n", path, len, lines);
    lm_charvocab cv = {0};
    if (lm_utf8_decode(path, data, len, &cps, &n, &st) != TG_OK ||
        (n > 0 && lm_charvocab_build(&cv, cps, n, &st) != TG_OK)) {
        fprintf(stderr, "corpus_stats: %s\n  (convert the file to UTF-8, e.g. with iconv)\n",
                st.msg);
        exit(1);
    }
    printf("  characters            %zu\n  distinct characters   %zu\n", n, cv.size);
    if (cv.size <= 200) print_chars(&cv);
    lm_charvocab_deinit(&cv);
    free(cps);
}

/* Tokens of text under vocabulary wv, or the reason it cannot be encoded. */
static void word_stats(const char *label, const lm_wordvocab *wv, const char *path,
                       const char *data, size_t len)
{
    tg_status st;
    int32_t *ids;
    size_t n, unk, eos = 0;
    if (lm_wordvocab_encode(wv, path, data, len, &ids, &n, &unk, &st) != TG_OK) {
        printf("  %-21s %s\n", label, st.msg);
        return;
    }
    int32_t eos_id = lm_wordvocab_id(wv, LM_EOS);
    for (size_t i = 0; i < n; i++) eos += ids[i] == eos_id;
    printf("  %-21s %zu words + %zu <eos> = %zu tokens, %zu mapped to <unk>\n", label, n - eos, eos,
           n, unk);
    free(ids);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: corpus_stats TRAIN [OTHER...]\n"
                        "  counts characters and Penn Treebank-style words (one <eos> per line);\n"
                        "  OTHER files are also encoded with TRAIN's word vocabulary\n");
        return 2;
    }
    tg_status st;
    lm_wordvocab train = {0};
    for (int a = 1; a < argc; a++) {
        char *data;
        size_t len;
        if (lm_read_file(argv[a], &data, &len, &st) != TG_OK) {
            fprintf(stderr, "corpus_stats: %s\n", st.msg);
            return 1;
        }
        char_stats(argv[a], data, len);
        lm_wordvocab own;
        if (lm_wordvocab_build(&own, argv[a], data, len, &st) != TG_OK) {
            printf("  words                 %s\n", st.msg);
        } else {
            word_stats("tokens", &own, argv[a], data, len);
            printf("  distinct tokens       %zu\n", own.size);
            if (a > 1) word_stats("with TRAIN's vocab", &train, argv[a], data, len);
        }
        if (a == 1)
            train = own;
        else
            lm_wordvocab_deinit(&own);
        free(data);
    }
    lm_wordvocab_deinit(&train);
    return 0;
}
