/* charviz_cmd.c: `tg_charlm visualize CKPT TEXTFILE [options]`, the command around charviz.c:
 * load, record, rank the units (by a pattern's |r|, or by variance), print the ranking and
 * write the page. Like the rest of tg_charlm it prints and exits on bad input, with a hint.
 */
#define _POSIX_C_SOURCE 200809L
#include "models/charviz.h"
#include "models/cli.h"
#include "models/text.h"
#include "io/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tg_charlm visualize: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

typedef struct viz_opts {
    const char *layer, *unit, *pattern, *out, *state, *lang;
    size_t top, sections, max_chars;
} viz_opts;

static void usage(const lm_opt *o, size_t n)
{
    printf("usage: tg_charlm visualize CKPT TEXTFILE [options]\n\n"
           "Feed TEXTFILE through the checkpoint's model one character at a time, record a\n"
           "state after each character (by default h of the last layer; --state c for an LSTM's\n"
           "cell, --state all for every state of every layer, ranked together), and colour the\n"
           "text by a unit's activation (blue negative, red positive) in a self-contained HTML\n"
           "page. With --pattern, list the units most correlated with the pattern (Pearson, |r|)\n"
           "and show the best ones; with --unit, show that unit; with neither, rank by variance.\n"
           "Characters the model's vocabulary lacks are skipped (and counted). The page's lang\n"
           "is --lang, or guessed from the text's dominant script: ko, ja, zh, th, el, hy, ka,\n"
           "he where the script implies the language, und-Latn, und-Cyrl, und-Arab, und-Deva\n"
           "where it does not, und without letters.\n\n"
           "patterns (the indicator after reading each character):\n"
           "  quotes      1 inside \"...\" (the opening quote included, the closing one not)\n"
           "  parens      1 inside (...), nesting counted\n"
           "  line-start  the column in the line, 0 at a line's first character (scaled to "
           "[0, 1])\n"
           "  upper       1 on an all-capital word of two or more letters (ROMEO, KING)\n"
           "  vowel       1 on a e i o u, either case\n"
           "  space       1 on whitespace (space, tab, newline, ...)\n\noptions:\n");
    lm_print_options(stdout, o, n);
}

/* A non-negative decimal number for option `name`. */
static size_t parse_index(const char *name, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno) fatal("--%s: expected a number, got '%s'", name, s);
    return (size_t)v;
}

/* The text, its first max_chars characters when max_chars > 0. */
static uint32_t *read_text(const char *path, size_t max_chars, size_t *n)
{
    tg_status st;
    uint32_t *text;
    if (lm_read_utf8(path, &text, n, &st) != TG_OK) fatal("%s", st.msg);
    if (max_chars && max_chars < *n) *n = max_chars;
    if (*n == 0) fatal("%s is empty: give a text to visualise", path);
    return text;
}

/* "skipped 12 characters not in the model's vocabulary (the first: U+201C '“')". */
static void report_skipped(const lm_charviz *cv, const lm_charvocab *v, const uint32_t *text,
                           size_t n)
{
    if (cv->skipped == 0) return;
    size_t i = 0;
    while (i < n && lm_charvocab_id(v, text[i]) >= 0) i++;
    char buf[5] = {0};
    if (text[i] >= 0x20) buf[lm_utf8_put(text[i], buf)] = '\0';
    printf("skipped %zu of %zu characters not in the model's vocabulary (the first: U+%04X "
           "'%s', character %zu)\n",
           cv->skipped, n, (unsigned)text[i], buf, i);
}

/* What is recorded: one state of one layer (k = 1), or every state of every layer. Scores run
 * over all k·H units: unit j is unit j % H of cv[j / H]. */
typedef struct viz_set {
    lm_charviz *cv;
    size_t k, H;
    const tg_cell_type *cell;
} viz_set;

/* "layer 0 c" for the recording of unit j: its layer and state name. */
static const lm_charviz *rec_of(const viz_set *vs, size_t j)
{
    return &vs->cv[j / vs->H];
}
static const char *state_name(const viz_set *vs, size_t j)
{
    return vs->cell->state_names[rec_of(vs, j)->state];
}

/* The table's header: "units of layer 1 (h) ..." or "units of every layer and state ...". */
static void print_header(const viz_set *vs, const char *what, const char *cols)
{
    if (vs->k == 1)
        printf("units of layer %zu (%s) %s:\n  rank  unit  %s\n", vs->cv[0].layer,
               state_name(vs, 0), what, cols);
    else
        printf(
            "units of all layers and states (%zu recordings) %s:\n  rank  layer  state  unit  %s\n",
            vs->k, what, cols);
}

static void print_row(const viz_set *vs, size_t rank, size_t j, const char *value)
{
    if (vs->k == 1)
        printf("  %4zu  %4zu  %s\n", rank, j % vs->H, value);
    else
        printf("  %4zu  %5zu  %5s  %4zu  %s\n", rank, rec_of(vs, j)->layer, state_name(vs, j),
               j % vs->H, value);
}

/* The ranking by a pattern: r[] filled, top[] ranked by |r|; returns how many. */
static size_t rank_pattern(const viz_set *vs, lm_pattern p, double *r, size_t *top, size_t k)
{
    const lm_charviz *cv = &vs->cv[0];
    double *ind = malloc(cv->n * sizeof *ind);
    if (!ind) fatal("out of memory");
    lm_pattern_indicator(p, cv->text, cv->n, ind);
    size_t ones = 0;
    for (size_t i = 0; i < cv->n; i++) ones += ind[i] != 0;
    if (ones == 0 || (ones == cv->n && p != LM_PAT_LINE_START))
        printf("note: pattern '%s' is %s on every character of this text, so no unit can "
               "correlate with it (r = 0)\n",
               lm_pattern_name(p), ones ? "1" : "0");
    for (size_t j = 0; j < vs->k; j++) lm_charviz_correlate(&vs->cv[j], ind, r + j * vs->H);
    free(ind);
    k = lm_top_units(r, vs->k * vs->H, 1, k, top);
    char what[96], value[32];
    snprintf(what, sizeof what, "most correlated with '%s' (Pearson r, ranked by |r|)",
             lm_pattern_name(p));
    print_header(vs, what, "      r");
    for (size_t j = 0; j < k; j++) {
        snprintf(value, sizeof value, "%+7.4f", r[top[j]]);
        print_row(vs, j + 1, top[j], value);
    }
    if (vs->k > 1 && k > 0)
        printf("best: layer %zu, state %s, unit %zu, r = %+.4f\n", rec_of(vs, top[0])->layer,
               state_name(vs, top[0]), top[0] % vs->H, r[top[0]]);
    return k;
}

static size_t rank_variance(const viz_set *vs, double *var, size_t *top, size_t k)
{
    for (size_t j = 0; j < vs->k; j++) lm_charviz_variance(&vs->cv[j], var + j * vs->H);
    k = lm_top_units(var, vs->k * vs->H, 0, k, top);
    print_header(vs, "with the largest variance over the text", "variance");
    char value[32];
    for (size_t j = 0; j < k; j++) {
        snprintf(value, sizeof value, "%8.5f", var[top[j]]);
        print_row(vs, j + 1, top[j], value);
    }
    return k;
}

/* Headings for the units top[0..nsec): their r with the pattern, their variance, or neither. */
static void headings(const viz_set *vs, const viz_opts *o, int pat, const double *score,
                     const size_t *top, size_t nsec, lm_charviz_section *sec, char (*head)[96])
{
    for (size_t j = 0; j < nsec; j++) {
        size_t u = top[j] % vs->H;
        const lm_charviz *cv = rec_of(vs, top[j]);
        int at = snprintf(head[j], 96, "layer %zu, state %s, unit %zu", cv->layer,
                          state_name(vs, top[j]), u);
        if (pat >= 0)
            snprintf(head[j] + at, 96 - (size_t)at, ": r = %.2f with '%s'", score[top[j]],
                     o->pattern);
        else if (!o->unit)
            snprintf(head[j] + at, 96 - (size_t)at, ": variance %.4f", score[top[j]]);
        sec[j] = (lm_charviz_section){u, head[j], cv};
    }
}

static void write_page(const viz_set *vs, const char *out, const lm_charviz_section *sec,
                       size_t nsec, const char *title, const char *lang)
{
    const lm_charviz *cv = &vs->cv[0];
    char note[256];
    snprintf(note, sizeof note,
             "%zu characters, %zu units per layer; %s. Blue: negative, red: positive, white: 0.",
             cv->n, cv->H, vs->k == 1 ? "one state of one layer" : "every state of every layer");
    FILE *f = fopen(out, "w");
    if (!f) fatal("cannot write %s: %s", out, strerror(errno));
    int rc = lm_charviz_write_html(f, cv, sec, nsec, title, note, lang);
    if (fclose(f) != 0 || rc != TG_OK) fatal("writing %s failed: %s", out, strerror(errno));
    printf("wrote %s (lang %s): %zu characters coloured by", out, lang, cv->n);
    for (size_t j = 0; j < nsec; j++)
        printf("%s layer %zu %s unit %zu", j ? "," : "", sec[j].from->layer,
               vs->cell->state_names[sec[j].from->state], sec[j].unit);
    printf("\n");
}

/* Rank (and print) the units, then write the page with the best ones, or the one asked for. */
static void visualise(const viz_set *vs, const viz_opts *o, const char *title, const char *lang)
{
    int pat = o->pattern ? lm_pattern_parse(o->pattern) : -1;
    if (vs->H && vs->k > SIZE_MAX / sizeof(double) / vs->H) fatal("out of memory");
    size_t all = vs->k * vs->H;
    double *score = malloc(all * sizeof *score);
    size_t *top = malloc(all * sizeof *top), k = o->top ? o->top : 1;
    if (!score || !top) fatal("out of memory");
    if (pat >= 0)
        k = rank_pattern(vs, (lm_pattern)pat, score, top, k);
    else if (!o->unit)
        k = rank_variance(vs, score, top, k);
    size_t nsec = o->sections == 0 ? 1 : o->sections < k ? o->sections : k;
    if (nsec > 64) nsec = 64;
    if (o->unit) { /* the one unit asked for (checked against H already; one recording) */
        top[0] = parse_index("unit", o->unit);
        nsec = 1;
    }
    lm_charviz_section sec[64];
    char head[64][96];
    headings(vs, o, pat, score, top, nsec, sec, head);
    write_page(vs, o->out, sec, nsec, title, lang);
    free(score);
    free(top);
}

/* The index of the state named name in the cell type, or fatal. */
static size_t find_state(const tg_cell_type *cell, const char *name)
{
    for (size_t s = 0; s < cell->n_states; s++)
        if (strcmp(name, cell->state_names[s]) == 0) return s;
    char names[128] = "";
    for (size_t s = 0; s < cell->n_states; s++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", s ? ", " : "",
                 cell->state_names[s]);
    fatal("--state %s: a %s cell carries no state of that name (it has %s; or all)", name,
          cell->name, names);
    return 0;
}

/* Record what the options ask: --state all, or one state (h by default) of one layer. */
static viz_set record_set(lm_model *m, const lm_charvocab *v, const uint32_t *text, size_t n,
                          const viz_opts *o)
{
    tg_status st;
    const tg_cell_type *cell = m->cfg.cell;
    int all = o->state && strcmp(o->state, "all") == 0;
    if (all && (o->unit || o->layer))
        fatal("--state all records every layer and state: give --unit or --layer with one "
              "--state instead");
    viz_set vs = {NULL, all ? m->cfg.L * cell->n_states : 1, m->cfg.H, cell};
    vs.cv = calloc(vs.k, sizeof *vs.cv);
    if (!vs.cv) fatal("out of memory");
    size_t layer = o->layer ? parse_index("layer", o->layer) : m->cfg.L - 1;
    size_t state = o->state && !all ? find_state(cell, o->state) : 0;
    int rc = all ? lm_charviz_record_all(vs.cv, m, v, text, n, &st)
                 : lm_charviz_record(vs.cv, m, v, text, n, layer, state, &st);
    if (rc != TG_OK) fatal("%s", st.msg);
    return vs;
}

int lm_charviz_command(int argc, char **argv)
{
    viz_opts o = {.top = 10, .sections = 3, .max_chars = 2000, .out = "charviz.html"};
    const lm_opt opts[] = {
        {"pattern", 's', &o.pattern, "rank units by |r| with this pattern (see above)"},
        {"unit", 's', &o.unit, "colour the text by this unit (0..H-1)"},
        {"layer", 's', &o.layer, "the layer to record, 0..L-1 (default: the last)"},
        {"state", 's', &o.state,
         "the state to record by its name: h (default), c for an LSTM, any state of the cell; "
         "all: every state of every layer, ranked together"},
        {"top", 'z', &o.top, "units to list"},
        {"sections", 'z', &o.sections, "coloured blocks on the page, the best units first"},
        {"max-chars", 'z', &o.max_chars, "feed only the first N characters (0: all)"},
        {"lang", 's', &o.lang,
         "the page's language tag, BCP 47 (default: guessed from the text's script, else und)"},
        {"out", 's', &o.out, "the HTML page to write"},
    };
    size_t nopt = sizeof opts / sizeof opts[0], npos;
    char *pos[2];
    tg_status st;
    int help;
    if (lm_parse(argc, argv, opts, nopt, pos, 2, &npos, &help, &st) != 0)
        fatal("%s (see tg_charlm visualize --help)", st.msg);
    if (help || npos != 2) return usage(opts, nopt), help ? 0 : 2;
    if (o.pattern && lm_pattern_parse(o.pattern) < 0)
        fatal("unknown --pattern '%s' (quotes, parens, line-start, upper, vowel, space)",
              o.pattern);
    if (o.lang && !lm_lang_tag_valid(o.lang)) {
        char shown[160];
        fatal("--lang '%s' is not a BCP 47 language tag (like en, de-CH, zh-Hant, und)",
              tg_utf8_escape(shown, sizeof shown, o.lang));
    }

    lm_model m;
    lm_charvocab v;
    char *vocab;
    if (lm_load(pos[0], &m, "char", &vocab, 0, &st) != TG_OK) fatal("%s", st.msg);
    if (lm_charvocab_from_string(&v, vocab, &st) != TG_OK ||
        lm_vocab_fits(pos[0], v.size, &m, &st) != TG_OK)
        fatal("%s", st.msg);
    size_t n;
    if (o.unit && parse_index("unit", o.unit) >= m.cfg.H)
        fatal("--unit %zu is out of range: the model has H = %zu units per layer (0..%zu)",
              parse_index("unit", o.unit), m.cfg.H, m.cfg.H - 1);
    uint32_t *text = read_text(pos[1], o.max_chars, &n);
    viz_set vs = record_set(&m, &v, text, n, &o);
    report_skipped(&vs.cv[0], &v, text, n);
    printf("%zu characters of %s through %s of %zu layer(s) (%s, H = %zu)\n", vs.cv[0].n, pos[1],
           vs.k > 1 ? "every state" : "one state", m.cfg.L, m.cfg.cell->name, m.cfg.H);
    char title[512];
    snprintf(title, sizeof title, "%s on %s: hidden units", pos[0], pos[1]);
    const char *lang = o.lang ? o.lang : lm_charviz_guess_lang(vs.cv[0].text, vs.cv[0].n);
    visualise(&vs, &o, title, lang);
    for (size_t j = 0; j < vs.k; j++) lm_charviz_deinit(&vs.cv[j]);
    free(vs.cv);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
    free(vocab);
    free(text);
    return 0;
}
