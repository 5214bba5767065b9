/* vocab.c: character and word vocabularies.
 *
 * Characters: a bitmap over the whole code-point range (U+0000..U+10FFFF, 136 KiB) marks the
 * characters present, so building is one pass over the text plus one over the bitmap, and the
 * sorted array it yields is searched by bisection.
 *
 * Words: a scanner cuts the text into words and "<eos>" tokens and knows the line of each. An
 * open-addressing hash table (FNV-1a, linear probing, at most half full) maps a word to its
 * id; building counts words in first-seen order, then sorts them by (count desc, bytes asc) and
 * rebuilds the table for the final ids.
 *
 * Read next: the programs in models/ that use these (corpus_stats.c first).
 */
#include "models/vocab.h"
#include "io/utf8.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---- characters ---- */

int lm_charvocab_build(lm_charvocab *v, const uint32_t *text, size_t n, tg_status *st)
{
    v->chars = NULL;
    v->size = 0;
    if (n == 0) return tg_status_set(st, TG_EFORMAT, "cannot build a vocabulary: empty text");
    unsigned char *seen = calloc(LM_MAX_CODEPOINT / 8 + 1, 1); /* bit cp%8 of byte cp/8 */
    if (!seen) return tg_status_set(st, TG_ENOMEM, "out of memory building a vocabulary");
    for (size_t i = 0; i < n; i++) {
        if (text[i] > LM_MAX_CODEPOINT) {
            free(seen);
            return tg_status_set(st, TG_ERANGE, "character %zu (0x%X) is past U+10FFFF", i,
                                 (unsigned)text[i]);
        }
        seen[text[i] >> 3] |= (unsigned char)(1u << (text[i] & 7));
    }
    size_t count = 0;
    for (uint32_t cp = 0; cp <= LM_MAX_CODEPOINT; cp++) count += seen[cp >> 3] >> (cp & 7) & 1;
    v->chars = malloc(count * sizeof *v->chars);
    if (!v->chars) {
        free(seen);
        return tg_status_set(st, TG_ENOMEM, "out of memory building a vocabulary");
    }
    for (uint32_t cp = 0; cp <= LM_MAX_CODEPOINT; cp++)
        if (seen[cp >> 3] >> (cp & 7) & 1) v->chars[v->size++] = cp;
    free(seen);
    return TG_OK;
}

int32_t lm_charvocab_id(const lm_charvocab *v, uint32_t cp)
{
    size_t lo = 0, hi = v->size; /* cp, if present, is in chars[lo..hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->chars[mid] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->size && v->chars[lo] == cp ? (int32_t)lo : -1;
}

uint32_t lm_charvocab_char(const lm_charvocab *v, int32_t id)
{
    assert(id >= 0 && (size_t)id < v->size);
    return v->chars[id];
}

int lm_charvocab_encode(const lm_charvocab *v, const char *name, const uint32_t *text, size_t n,
                        int32_t **ids, tg_status *st)
{
    *ids = NULL;
    int32_t *out = n < SIZE_MAX / sizeof *out ? malloc((n + 1) * sizeof *out) : NULL;
    if (!out) return tg_status_set(st, TG_ENOMEM, "out of memory encoding characters");
    for (size_t i = 0; i < n; i++) {
        out[i] = lm_charvocab_id(v, text[i]);
        if (out[i] < 0) {
            char utf8[5] = {0}, shown[16];
            lm_utf8_put(text[i], utf8); /* a control character is shown escaped: '\x01' */
            free(out);
            return tg_status_set(st, TG_ERANGE,
                                 "%s: character %zu, U+%04X '%s', is not in the vocabulary",
                                 name ? name : "input", i, (unsigned)text[i],
                                 tg_utf8_escape(shown, sizeof shown, utf8));
        }
    }
    *ids = out;
    return TG_OK;
}

int lm_charvocab_encode_string(const lm_charvocab *v, const char *name, const char *s,
                               int32_t **ids, size_t *n, tg_status *st)
{
    uint32_t *cps;
    *ids = NULL;
    *n = 0;
    int rc = lm_utf8_decode(name, s, strlen(s), &cps, n, st);
    if (rc == TG_OK) rc = lm_charvocab_encode(v, name, cps, *n, ids, st);
    if (rc != TG_OK) *n = 0;
    free(cps);
    return rc;
}

int lm_charvocab_to_string(const lm_charvocab *v, char **out, tg_status *st)
{
    *out = NULL;
    if (v->size > 0 && v->chars[0] == 0) /* sorted: U+0000 can only come first */
        return tg_status_set(st, TG_EINVAL,
                             "the character vocabulary holds U+0000, which a string cannot carry");
    return lm_utf8_encode(v->chars, v->size, out, NULL, st);
}

int lm_charvocab_from_string(lm_charvocab *v, const char *s, tg_status *st)
{
    const char *what = "character vocabulary";
    int rc = lm_utf8_decode(what, s, strlen(s), &v->chars, &v->size, st);
    if (rc != TG_OK) return rc;
    int bad = v->size == 0 ? tg_status_set(st, TG_EFORMAT, "%s: empty string", what) : TG_OK;
    for (size_t i = 1; i < v->size && bad == TG_OK; i++)
        if (v->chars[i] <= v->chars[i - 1])
            bad = tg_status_set(st, TG_EFORMAT,
                                "%s: character %zu (U+%04X) does not come after "
                                "U+%04X; the string is damaged",
                                what, i, (unsigned)v->chars[i], (unsigned)v->chars[i - 1]);
    if (bad != TG_OK) lm_charvocab_deinit(v);
    return bad;
}

void lm_charvocab_deinit(lm_charvocab *v)
{
    free(v->chars);
    v->chars = NULL;
    v->size = 0;
}

/* ---- words: scanning ---- */

typedef struct {
    const char *s;
    size_t len, pos;
    size_t line;     /* 1-based line of s[pos] */
    size_t tok_line; /* line of the token scan_next returned last */
    int open_line;   /* the current line has had a word, and no "<eos>" yet */
} scanner;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The next token into w[0..n): a word, or "<eos>" at a '\n' or after a final unterminated line
 * with words. Returns 0 at the end of the text. */
static int scan_next(scanner *sc, const char **w, size_t *n)
{
    while (sc->pos < sc->len && is_space(sc->s[sc->pos])) sc->pos++;
    sc->tok_line = sc->line;
    if (sc->pos == sc->len || sc->s[sc->pos] == '\n') {
        if (sc->pos == sc->len && !sc->open_line) return 0;
        if (sc->pos < sc->len) sc->pos++, sc->line++;
        sc->open_line = 0;
        *w = LM_EOS;
        *n = strlen(LM_EOS);
        return 1;
    }
    size_t start = sc->pos;
    while (sc->pos < sc->len && !is_space(sc->s[sc->pos]) && sc->s[sc->pos] != '\n') sc->pos++;
    sc->open_line = 1;
    *w = sc->s + start;
    *n = sc->pos - start;
    return 1;
}

static void scan_init(scanner *sc, const char *s, size_t len)
{
    memset(sc, 0, sizeof *sc);
    sc->s = s;
    sc->len = len;
    sc->line = 1;
}

/* Words are C strings: a word text must be valid UTF-8 without NUL bytes. */
static int check_text(const char *name, const char *text, size_t len, tg_status *st)
{
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return tg_status_set(st, TG_EFORMAT,
                             "%s: NUL byte at byte %zu; a word text cannot hold one", name,
                             (size_t)(nul - text));
    return lm_utf8_check(name, text, len, st);
}

/* ---- words: the table ---- */

static uint64_t fnv1a(const char *w, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64: h = (h ^ byte) * prime */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)w[i]) * 0x100000001b3u;
    return h;
}

/* The slot holding w[0..n), or the empty slot where it would go. */
static size_t find_slot(const lm_wordvocab *v, const char *w, size_t n)
{
    size_t mask = v->nslots - 1;
    for (size_t i = (size_t)fnv1a(w, n) & mask;; i = (i + 1) & mask) {
        int32_t id = v->slots[i];
        if (id < 0 || (strlen(v->words[id]) == n && memcmp(v->words[id], w, n) == 0)) return i;
    }
}

/* Make a table of at least 2*want+2 slots (a power of two) holding words[0..size). */
static int table_rebuild(lm_wordvocab *v, size_t want)
{
    size_t nslots = 16;
    while (nslots / 2 <= want) {
        if (nslots > SIZE_MAX / 2 / sizeof *v->slots) return TG_ENOMEM;
        nslots *= 2;
    }
    int32_t *slots = malloc(nslots * sizeof *slots);
    if (!slots) return TG_ENOMEM;
    for (size_t i = 0; i < nslots; i++) slots[i] = -1;
    free(v->slots);
    v->slots = slots;
    v->nslots = nslots;
    for (size_t id = 0; id < v->size; id++)
        v->slots[find_slot(v, v->words[id], strlen(v->words[id]))] = (int32_t)id;
    return TG_OK;
}

int32_t lm_wordvocab_lookup(const lm_wordvocab *v, const char *w, size_t n)
{
    return v->nslots ? v->slots[find_slot(v, w, n)] : -1;
}

int32_t lm_wordvocab_id(const lm_wordvocab *v, const char *word)
{
    return lm_wordvocab_lookup(v, word, strlen(word));
}

const char *lm_wordvocab_word(const lm_wordvocab *v, int32_t id)
{
    assert(id >= 0 && (size_t)id < v->size);
    return v->words[id];
}

/* Append w[0..n) as id v->size with count 0; *cap is the capacity of words and counts. */
static int add_word(lm_wordvocab *v, const char *w, size_t n, size_t *cap)
{
    if (v->size == (size_t)INT32_MAX) return TG_ERANGE;
    if (v->size == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        char **words = realloc(v->words, c * sizeof *words);
        if (words) v->words = words;
        uint64_t *counts = words ? realloc(v->counts, c * sizeof *counts) : NULL;
        if (!counts) return TG_ENOMEM;
        v->counts = counts;
        *cap = c;
    }
    if ((v->size + 1) * 2 >= v->nslots && table_rebuild(v, v->size + 1) != TG_OK) return TG_ENOMEM;
    char *copy = malloc(n + 1);
    if (!copy) return TG_ENOMEM;
    memcpy(copy, w, n);
    copy[n] = '\0';
    v->slots[find_slot(v, w, n)] = (int32_t)v->size;
    v->words[v->size] = copy;
    v->counts[v->size++] = 0;
    return TG_OK;
}

typedef struct {
    char *word;
    uint64_t count;
} counted;

/* Descending count, then ascending bytes. */
static int by_count(const void *pa, const void *pb)
{
    const counted *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return strcmp(a->word, b->word);
}

/* Put words and counts in final id order and rebuild the table for those ids. */
static int sort_by_count(lm_wordvocab *v)
{
    counted *c = malloc(v->size * sizeof *c);
    if (!c) return TG_ENOMEM;
    for (size_t i = 0; i < v->size; i++) c[i] = (counted){v->words[i], v->counts[i]};
    qsort(c, v->size, sizeof *c, by_count);
    for (size_t i = 0; i < v->size; i++) v->words[i] = c[i].word, v->counts[i] = c[i].count;
    free(c);
    return table_rebuild(v, v->size);
}

/* ---- words: the public calls ---- */

int lm_wordvocab_build(lm_wordvocab *v, const char *name, const char *text, size_t len,
                       tg_status *st)
{
    memset(v, 0, sizeof *v);
    name = name ? name : "input";
    int rc = check_text(name, text, len, st);
    if (rc != TG_OK) return rc;
    scanner sc;
    scan_init(&sc, text, len);
    size_t cap = 0;
    const char *w;
    size_t n;
    while (rc == TG_OK && scan_next(&sc, &w, &n)) {
        int32_t id = lm_wordvocab_lookup(v, w, n);
        if (id < 0 && (rc = add_word(v, w, n, &cap)) == TG_OK) id = (int32_t)v->size - 1;
        if (rc == TG_OK) v->counts[id]++;
    }
    if (rc == TG_OK && v->size == 0) rc = TG_EFORMAT;
    if (rc == TG_OK) rc = sort_by_count(v);
    if (rc == TG_OK) return TG_OK;
    lm_wordvocab_deinit(v);
    if (rc == TG_EFORMAT) return tg_status_set(st, rc, "%s: no words", name);
    if (rc == TG_ERANGE)
        return tg_status_set(st, rc, "%s: more than %ld distinct words", name, (long)INT32_MAX);
    return tg_status_set(st, rc, "%s: out of memory building the word vocabulary", name);
}

int lm_wordvocab_encode(const lm_wordvocab *v, const char *name, const char *text, size_t len,
                        int32_t **ids, size_t *n, size_t *n_unk, tg_status *st)
{
    *ids = NULL;
    *n = 0;
    name = name ? name : "input";
    int rc = check_text(name, text, len, st);
    if (rc != TG_OK) return rc;
    scanner sc;
    const char *w;
    size_t wn, count = 0, unk_count = 0;
    for (scan_init(&sc, text, len); scan_next(&sc, &w, &wn);) count++;
    int32_t *out = count < SIZE_MAX / sizeof *out ? malloc((count + 1) * sizeof *out) : NULL;
    if (!out) return tg_status_set(st, TG_ENOMEM, "%s: out of memory encoding words", name);
    int32_t unk = lm_wordvocab_id(v, LM_UNK);
    for (size_t i = (scan_init(&sc, text, len), 0); scan_next(&sc, &w, &wn); i++) {
        out[i] = lm_wordvocab_lookup(v, w, wn);
        if (out[i] >= 0) continue;
        if (unk < 0) {
            free(out);
            int shown = wn > 60 ? 60 : (int)wn;
            return tg_status_set(
                st, TG_ERANGE, "%s:%zu: word \"%.*s%s\" is not in the vocabulary, which has no %s",
                name, sc.tok_line, shown, w, (size_t)shown < wn ? "..." : "", LM_UNK);
        }
        out[i] = unk;
        unk_count++;
    }
    *ids = out;
    *n = count;
    if (n_unk) *n_unk = unk_count;
    return TG_OK;
}

int lm_wordvocab_to_string(const lm_wordvocab *v, char **out, tg_status *st)
{
    size_t total = 1;
    for (size_t i = 0; i < v->size; i++) {
        size_t k = strlen(v->words[i]) + 1;
        if (total > SIZE_MAX - k)
            total = SIZE_MAX; /* saturate; malloc will refuse it */
        else
            total += k;
    }
    char *s = *out = malloc(total);
    if (!s) return tg_status_set(st, TG_ENOMEM, "out of memory writing the word vocabulary");
    for (size_t i = 0; i < v->size; i++) {
        size_t k = strlen(v->words[i]);
        memcpy(s, v->words[i], k);
        s[k] = '\n';
        s += k + 1;
    }
    *s = '\0';
    return TG_OK;
}

/* Check one line of a serialised vocabulary: non-empty, no whitespace, not seen before. */
static int check_line(const lm_wordvocab *v, const char *w, size_t n, size_t line, tg_status *st)
{
    const char *what = "word vocabulary";
    if (n == 0) return tg_status_set(st, TG_EFORMAT, "%s:%zu: empty word", what, line);
    for (size_t i = 0; i < n; i++)
        if (is_space(w[i]))
            return tg_status_set(st, TG_EFORMAT, "%s:%zu: word holds whitespace", what, line);
    if (lm_wordvocab_lookup(v, w, n) >= 0)
        return tg_status_set(st, TG_EFORMAT, "%s:%zu: word \"%.*s\" appears twice", what, line,
                             n > 60 ? 60 : (int)n, w);
    return TG_OK;
}

int lm_wordvocab_from_string(lm_wordvocab *v, const char *s, tg_status *st)
{
    const char *what = "word vocabulary";
    memset(v, 0, sizeof *v);
    size_t len = strlen(s), cap = 0, line = 1;
    int rc = lm_utf8_check(what, s, len, st);
    if (rc == TG_OK && len == 0) rc = tg_status_set(st, TG_EFORMAT, "%s: no words", what);
    if (rc == TG_OK && s[len - 1] != '\n')
        rc =
            tg_status_set(st, TG_EFORMAT,
                          "%s: the last word has no '\\n' after it: the string is cut short", what);
    for (const char *p = s; rc == TG_OK && *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p);
        rc = check_line(v, p, n, line, st);
        if (rc == TG_OK && (rc = add_word(v, p, n, &cap)) != TG_OK)
            tg_status_set(st, rc, "%s:%zu: %s", what, line,
                          rc == TG_ENOMEM ? "out of memory" : "more than INT32_MAX words");
        p = nl + 1;
    }
    if (rc != TG_OK) lm_wordvocab_deinit(v);
    return rc;
}

void lm_wordvocab_deinit(lm_wordvocab *v)
{
    for (size_t i = 0; i < v->size; i++) free(v->words[i]);
    free(v->words);
    free(v->counts);
    free(v->slots);
    memset(v, 0, sizeof *v);
}
