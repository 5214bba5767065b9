/* charviz.c: recording a layer's activations over a text, pattern indicators, correlation and
 * ranking, and the coloured HTML page. The map is in charviz.h. */
#include "models/charviz.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/text.h"

/* ---- patterns ---- */

static const char *const pattern_names[LM_PAT_COUNT] = {
    "quotes", "parens", "line-start", "upper", "vowel", "space",
};

const char *lm_pattern_name(lm_pattern p)
{
    return p < LM_PAT_COUNT ? pattern_names[p] : "?";
}

int lm_pattern_parse(const char *name)
{
    for (int p = 0; p < LM_PAT_COUNT; p++)
        if (strcmp(name, pattern_names[p]) == 0) return p;
    return -1;
}

static int is_upper(uint32_t c)
{
    return c >= 'A' && c <= 'Z';
}
static int is_letter(uint32_t c)
{
    return is_upper(c) || (c >= 'a' && c <= 'z');
}

/* Inside "...": an ASCII '"' toggles; U+201C opens and U+201D closes. */
static void quotes(const uint32_t *text, size_t n, double *ind)
{
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = text[i];
        if (c == '"')
            in = !in;
        else if (c == 0x201C)
            in = 1;
        else if (c == 0x201D)
            in = 0;
        ind[i] = in;
    }
}

/* Inside (...): the depth after reading the character is positive; a stray ')' is ignored. */
static void parens(const uint32_t *text, size_t n, double *ind)
{
    size_t depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '(')
            depth++;
        else if (text[i] == ')' && depth > 0)
            depth--;
        ind[i] = depth > 0;
    }
}

/* Column in the line over the longest line's last column. */
static void line_start(const uint32_t *text, size_t n, double *ind)
{
    size_t col = 0, max = 0;
    for (size_t i = 0; i < n; i++) {
        ind[i] = (double)col;
        if (col > max) max = col;
        col = text[i] == '\n' ? 0 : col + 1;
    }
    for (size_t i = 0; i < n && max > 0; i++) ind[i] /= (double)max;
}

/* Every letter of a run of two or more ASCII letters, all capitals. */
static void upper(const uint32_t *text, size_t n, double *ind)
{
    for (size_t i = 0; i < n;) {
        size_t j = i, caps = 0;
        while (j < n && is_letter(text[j])) caps += is_upper(text[j++]);
        int all = j - i >= 2 && caps == j - i;
        for (size_t k = i; k < j; k++) ind[k] = all;
        if (j == i) ind[j++] = 0; /* not a letter */
        i = j;
    }
}

void lm_pattern_indicator(lm_pattern p, const uint32_t *text, size_t n, double *ind)
{
    switch (p) {
    case LM_PAT_QUOTES:
        quotes(text, n, ind);
        return;
    case LM_PAT_PARENS:
        parens(text, n, ind);
        return;
    case LM_PAT_LINE_START:
        line_start(text, n, ind);
        return;
    case LM_PAT_UPPER:
        upper(text, n, ind);
        return;
    default:
        break;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t c = is_upper(text[i]) ? text[i] + ('a' - 'A') : text[i];
        if (p == LM_PAT_VOWEL)
            ind[i] = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
        else
            ind[i] = text[i] == ' ' || (text[i] >= '\t' && text[i] <= '\r');
    }
}

/* ---- statistics ---- */

double lm_pearson(const double *x, const float *y, size_t stride, size_t n)
{
    if (n < 2) return 0;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i * stride];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0; /* r = Σ dx·dy / sqrt(Σ dx² · Σ dy²) */
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i * stride] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx <= 0 || syy <= 0) return 0;
    return sxy / sqrt(sxx * syy);
}

void lm_charviz_variance(const lm_charviz *cv, double *var)
{
    for (size_t u = 0; u < cv->H; u++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < cv->n; i++) mean += cv->act[i * cv->H + u];
        mean /= (double)cv->n;
        for (size_t i = 0; i < cv->n; i++) {
            double d = cv->act[i * cv->H + u] - mean;
            ss += d * d;
        }
        var[u] = ss / (double)cv->n; /* Σ (a - mean)² / n */
    }
}

void lm_charviz_correlate(const lm_charviz *cv, const double *ind, double *r)
{
    for (size_t u = 0; u < cv->H; u++) r[u] = lm_pearson(ind, cv->act + u, cv->H, cv->n);
}

static int chosen(const size_t *top, size_t j, size_t u)
{
    for (size_t i = 0; i < j; i++)
        if (top[i] == u) return 1;
    return 0;
}

size_t lm_top_units(const double *score, size_t H, int absolute, size_t k, size_t *top)
{
    if (k > H) k = H;
    for (size_t j = 0; j < k; j++) { /* k selection passes: H is a few hundred */
        double best = -INFINITY;
        top[j] = H;
        for (size_t u = 0; u < H; u++) {
            double s = absolute ? fabs(score[u]) : score[u];
            if (!chosen(top, j, u) && (top[j] == H || s > best)) top[j] = u, best = s;
        }
    }
    return k;
}

/* ---- recording ---- */

void lm_charviz_deinit(lm_charviz *cv)
{
    free(cv->text);
    free(cv->act);
    memset(cv, 0, sizeof *cv);
}

/* The vocabulary ids of text[0..n) into ids, the kept characters into kept; returns how many. */
static size_t keep_known(const lm_charvocab *v, const uint32_t *text, size_t n, int32_t *ids,
                         uint32_t *kept)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = lm_charvocab_id(v, text[i]);
        if (id < 0) continue;
        ids[k] = id;
        kept[k++] = text[i];
    }
    return k;
}

/* Check and set what cv[0..k) record: cv[j] records state states[j] of layer layers[j]. */
static int check_targets(lm_charviz *cv, size_t k, const lm_model *m, const size_t *layers,
                         const size_t *states, tg_status *st)
{
    size_t L = m->cfg.L, S = m->cfg.cell->n_states;
    memset(cv, 0, k * sizeof *cv);
    for (size_t j = 0; j < k; j++) {
        if (states[j] >= S)
            return tg_status_set(st, TG_ERANGE,
                                 "state %zu is out of range: %s carries %zu (0..%zu)", states[j],
                                 m->cfg.cell->name, S, S - 1);
        if (layers[j] >= L)
            return tg_status_set(st, TG_ERANGE,
                                 "layer %zu is out of range: the model has %zu "
                                 "layer%s (0..%zu)",
                                 layers[j], L, L == 1 ? "" : "s", L - 1);
        cv[j].layer = layers[j];
        cv[j].state = states[j];
        cv[j].H = m->cfg.H;
    }
    return TG_OK;
}

static void deinit_all(lm_charviz *cv, size_t k)
{
    for (size_t j = 0; j < k; j++) lm_charviz_deinit(&cv[j]);
}

/* The kept characters and their activations in cv[0..k), whose layer and state are set: one
 * pass of the sampler over the text records them all. */
static int record(lm_charviz *cv, size_t k, lm_model *m, const lm_charvocab *v,
                  const uint32_t *text, size_t n, tg_status *st)
{
    size_t H = m->cfg.H;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    uint32_t *kept = malloc((n ? n : 1) * sizeof *kept);
    size_t nk = ids && kept ? keep_known(v, text, n, ids, kept) : 0;
    if (!ids || !kept) goto nomem;
    if (nk == 0) {
        free(ids);
        free(kept);
        return tg_status_set(st, TG_EINVAL,
                             "none of the %zu characters of the text is in "
                             "the model's vocabulary",
                             n);
    }
    for (size_t j = 0; j < k; j++) {
        cv[j].n = nk;
        cv[j].skipped = n - nk;
        cv[j].text = malloc(nk * sizeof *cv[j].text);
        cv[j].act = nk <= SIZE_MAX / sizeof *cv[j].act / (H ? H : 1)
                        ? malloc(nk * (H ? H : 1) * sizeof *cv[j].act)
                        : NULL; /* nk·H overflows: out of memory */
        if (!cv[j].text || !cv[j].act) goto nomem;
        memcpy(cv[j].text, kept, nk * sizeof *kept);
    }
    lm_sampler s;
    if (lm_sampler_init(&s, m, st) != TG_OK) goto nomem;
    int rc = TG_OK;
    for (size_t i = 0; i < nk && rc == TG_OK; i++) {
        rc = lm_sampler_feed(&s, ids[i], st);
        for (size_t j = 0; j < k; j++) /* row i of each: its layer's block of its state */
            for (size_t u = 0; u < H; u++)
                cv[j].act[i * H + u] = (float)s.carry.v[cv[j].state][cv[j].layer * H + u];
    }
    lm_sampler_deinit(&s);
    free(ids);
    free(kept);
    if (rc != TG_OK) deinit_all(cv, k);
    return rc;
nomem:
    free(ids);
    free(kept);
    deinit_all(cv, k);
    return tg_status_set(st, TG_ENOMEM,
                         "out of memory recording %zu characters x %zu units in %zu recordings", n,
                         H, k);
}

int lm_charviz_record(lm_charviz *cv, lm_model *m, const lm_charvocab *v, const uint32_t *text,
                      size_t n, size_t layer, size_t state, tg_status *st)
{
    int rc = check_targets(cv, 1, m, &layer, &state, st);
    return rc == TG_OK ? record(cv, 1, m, v, text, n, st) : rc;
}

int lm_charviz_record_all(lm_charviz *cv, lm_model *m, const lm_charvocab *v, const uint32_t *text,
                          size_t n, tg_status *st)
{
    size_t L = m->cfg.L, S = m->cfg.cell->n_states, k = L * S;
    memset(cv, 0, k * sizeof *cv);
    size_t *layers = malloc(k * sizeof *layers), *states = malloc(k * sizeof *states);
    int rc = layers && states ? TG_OK
                              : tg_status_set(st, TG_ENOMEM, "out of memory listing %zu states", k);
    for (size_t j = 0; rc == TG_OK && j < k; j++) layers[j] = j / S, states[j] = j % S;
    if (rc == TG_OK) rc = check_targets(cv, k, m, layers, states, st);
    if (rc == TG_OK) rc = record(cv, k, m, v, text, n, st);
    free(layers);
    free(states);
    return rc;
}

/* ---- the page ---- */

const char *lm_html_char(uint32_t cp, char buf[8])
{
    switch (cp) {
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '&':
        return "&amp;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    case '\n':
        return "\xE2\x86\xB5\n"; /* ↵, then the break (the block is white-space: pre) */
    case '\t':
        return "\t";
    default:
        break;
    }
    if (cp < 0x20) cp += 0x2400; /* control pictures: U+240D ␍ for '\r' */
    if (cp == 0x7F) cp = 0x2421;
    size_t k = lm_utf8_put(cp, buf);
    if (k == 0) k = lm_utf8_put(0xFFFD, buf);
    buf[k] = '\0';
    return buf;
}

void lm_charviz_colour(double a, double scale, char out[8])
{
    double t = fabs(a) / scale;
    if (!(t <= 1)) t = 1; /* also NaN */
    /* white blended towards red (214, 39, 40) or blue (31, 119, 180) by t */
    int r = a > 0 ? 214 : 31, g = a > 0 ? 39 : 119, b = a > 0 ? 40 : 180;
    r = (int)lround(255 + (r - 255) * t);
    g = (int)lround(255 + (g - 255) * t);
    b = (int)lround(255 + (b - 255) * t);
    snprintf(out, 8, "#%02x%02x%02x", r, g, b);
}

/* Plain text s, escaped byte by byte (UTF-8 passes through). */
static void put_escaped(FILE *f, const char *s)
{
    char buf[8];
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x80 && c != '\n')
            fputs(lm_html_char(c, buf), f);
        else
            fputc(c == '\n' ? ' ' : c, f);
    }
}

static const char page_head[] =
    "<head>\n<meta charset=\"utf-8\">\n"
    "<style>\n"
    "body { font-family: sans-serif; margin: 2em; max-width: 70em; color: #222; }\n"
    "h2 { font-size: 1.1em; margin: 1.5em 0 0.4em; }\n"
    ".text { font-family: monospace; font-size: 14px; line-height: 1.45; white-space: pre-wrap;\n"
    "        border: 1px solid #ccc; padding: 0.8em; }\n"
    ".legend span { font-family: monospace; padding: 0.1em 0.5em; }\n"
    "</style>\n";

static void write_legend(FILE *f)
{
    char c[8];
    fputs("<p class=\"legend\">activation: ", f);
    for (int k = -4; k <= 4; k++) {
        lm_charviz_colour(k / 4.0, 1, c);
        fprintf(f, "<span style=\"background:%s\">%+.2f</span>", c, k / 4.0);
    }
    fputs(" &nbsp;(hover a character for its value)</p>\n", f);
}

/* One block: every character coloured by unit u, scaled so that |a| = max(1, max |a|) is
 * full colour (tanh-range units keep the absolute scale). */
static void write_block(FILE *f, const lm_charviz *cv, size_t u)
{
    double scale = 1;
    for (size_t i = 0; i < cv->n; i++) scale = fmax(scale, fabs(cv->act[i * cv->H + u]));
    fputs("<div class=\"text\">", f);
    char c[8], buf[8];
    for (size_t i = 0; i < cv->n; i++) {
        double a = cv->act[i * cv->H + u];
        lm_charviz_colour(a, scale, c);
        fprintf(f, "<span style=\"background:%s\" title=\"%.3f\">", c, a);
        const char *s = lm_html_char(cv->text[i], buf);
        size_t len = strlen(s);
        int nl = len > 0 && s[len - 1] == '\n';
        fwrite(s, 1, len - (size_t)nl, f); /* the break goes after the span */
        fputs(nl ? "</span>\n" : "</span>", f);
    }
    fputs("</div>\n", f);
}

int lm_charviz_write_html(FILE *f, const lm_charviz *cv, const lm_charviz_section *sec, size_t nsec,
                          const char *title, const char *note, const char *lang)
{
    fputs("<!DOCTYPE html>\n<html lang=\"", f);
    put_escaped(f, lang);
    fputs("\">\n", f);
    fputs(page_head, f);
    fputs("<title>", f);
    put_escaped(f, title);
    fputs("</title>\n</head>\n<body>\n<h1>", f);
    put_escaped(f, title);
    fputs("</h1>\n<p>", f);
    put_escaped(f, note);
    fputs("</p>\n", f);
    write_legend(f);
    for (size_t k = 0; k < nsec; k++) {
        fputs("<h2>", f);
        put_escaped(f, sec[k].heading);
        fputs("</h2>\n", f);
        write_block(f, sec[k].from ? sec[k].from : cv, sec[k].unit);
    }
    fputs("</body>\n</html>\n", f);
    return fflush(f) == 0 && !ferror(f) ? TG_OK : TG_EIO;
}

/* ---- the page's language ---- */

/* Scripts told apart by lm_charviz_guess_lang, and the tag each implies. */
enum { LATN, GREK, CYRL, ARMN, HEBR, ARAB, DEVA, THAI, GEOR, HANG, KANA, HANI, NSCRIPT };
static const char *const script_tag[NSCRIPT] = {
    "und-Latn", "el", "und-Cyrl", "hy", "he", "und-Arab", "und-Deva", "th", "ka", "ko", "ja", "zh",
};
static const struct {
    uint32_t lo, hi;
    int script;
} script_ranges[] = {
    {'A', 'Z', LATN},       {'a', 'z', LATN},       {0x00C0, 0x024F, LATN}, {0x1E00, 0x1EFF, LATN},
    {0x0370, 0x03FF, GREK}, {0x1F00, 0x1FFF, GREK}, {0x0400, 0x052F, CYRL}, {0x0531, 0x058F, ARMN},
    {0x0590, 0x05FF, HEBR}, {0x0600, 0x06FF, ARAB}, {0x0750, 0x077F, ARAB}, {0x0900, 0x097F, DEVA},
    {0x0E00, 0x0E7F, THAI}, {0x10A0, 0x10FF, GEOR}, {0x1100, 0x11FF, HANG}, {0x3130, 0x318F, HANG},
    {0xAC00, 0xD7AF, HANG}, {0x3040, 0x30FF, KANA}, {0x3400, 0x4DBF, HANI}, {0x4E00, 0x9FFF, HANI},
};

static int script_of(uint32_t c)
{
    if (c == 0xD7 || c == 0xF7) return -1; /* x and / signs inside Latin-1's letters */
    for (size_t k = 0; k < sizeof script_ranges / sizeof script_ranges[0]; k++)
        if (c >= script_ranges[k].lo && c <= script_ranges[k].hi) return script_ranges[k].script;
    return -1;
}

const char *lm_charviz_guess_lang(const uint32_t *text, size_t n)
{
    size_t count[NSCRIPT] = {0};
    for (size_t i = 0; i < n; i++) {
        int sc = script_of(text[i]);
        if (sc >= 0) count[sc]++;
    }
    size_t kana = count[KANA];
    count[HANI] += kana; /* Japanese mixes kana and Han: one script here, Japanese if any kana */
    count[KANA] = 0;
    int best = -1;
    for (int sc = 0; sc < NSCRIPT; sc++)
        if (count[sc] > 0 && (best < 0 || count[sc] > count[best])) best = sc;
    if (best < 0) return "und";
    return best == HANI && kana > 0 ? script_tag[KANA] : script_tag[best];
}

int lm_lang_tag_valid(const char *s)
{
    size_t len = strlen(s), run = 0, subtag = 0;
    if (len == 0 || len > 63) return 0;
    for (size_t i = 0; i <= len; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'), digit = c >= '0' && c <= '9';
        if (c == '-' || c == '\0') { /* a subtag ends: 1 to 8 characters */
            if (run == 0 || run > 8) return 0;
            run = 0;
            subtag++;
        } else if (alpha || (digit && subtag > 0)) { /* the language subtag is letters only */
            run++;
        } else {
            return 0;
        }
    }
    return 1;
}
