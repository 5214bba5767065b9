/* charviz_cmd.c: `tg_charlm visualize CKPT TEXTFILE [options]`, the command around charviz.c:
 * load, record, rank the units (by a pattern's |r|, or by variance), print the ranking and
 * write the page. Like the rest of tg_charlm it prints and exits on bad input, with a hint.
 */
#define _POSIX_C_SOURCE 200809L
#include "models/charviz.h"
#include "models/cli.h"
#include "models/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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
    const char *layer, *unit, *pattern, *out, *state;
    size_t top, sections, max_chars;
} viz_opts;

static void usage(const lm_opt *o, size_t n)
{
    printf("usage: tg_charlm visualize CKPT TEXTFILE [options]\n\n"
           "Feed TEXTFILE through the checkpoint's model one character at a time, record one\n"
           "layer's hidden state h after each character, and colour the text by a unit's\n"
           "activation (blue negative, red positive) in a self-contained HTML page. With\n"
           "--pattern, list the units most correlated with the pattern (Pearson, |r|) and show\n"
           "the best ones; with --unit, show that unit; with neither, rank by variance.\n"
           "Characters the model's vocabulary lacks are skipped (and counted).\n\n"
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

/* The ranking by a pattern: r[] filled, top[] ranked by |r|; returns how many. */
static size_t rank_pattern(const lm_charviz *cv, lm_pattern p, double *r, size_t *top, size_t k)
{
    double *ind = malloc(cv->n * sizeof *ind);
    if (!ind) fatal("out of memory");
    lm_pattern_indicator(p, cv->text, cv->n, ind);
    size_t ones = 0;
    for (size_t i = 0; i < cv->n; i++) ones += ind[i] != 0;
    if (ones == 0 || (ones == cv->n && p != LM_PAT_LINE_START))
        printf("note: pattern '%s' is %s on every character of this text, so no unit can "
               "correlate with it (r = 0)\n",
               lm_pattern_name(p), ones ? "1" : "0");
    lm_charviz_correlate(cv, ind, r);
    free(ind);
    k = lm_top_units(r, cv->H, 1, k, top);
    printf("units of layer %zu most correlated with '%s' (Pearson r, ranked by |r|):\n"
           "  rank  unit        r\n",
           cv->layer, lm_pattern_name(p));
    for (size_t j = 0; j < k; j++) printf("  %4zu  %4zu  %+7.4f\n", j + 1, top[j], r[top[j]]);
    return k;
}

static size_t rank_variance(const lm_charviz *cv, double *var, size_t *top, size_t k)
{
    lm_charviz_variance(cv, var);
    k = lm_top_units(var, cv->H, 0, k, top);
    printf("units of layer %zu with the largest variance over the text:\n"
           "  rank  unit  variance\n",
           cv->layer);
    for (size_t j = 0; j < k; j++) printf("  %4zu  %4zu  %8.5f\n", j + 1, top[j], var[top[j]]);
    return k;
}

/* Headings for the units top[0..nsec): their r with the pattern, their variance, or neither. */
static void headings(const viz_opts *o, int pat, const double *score, const size_t *top,
                     size_t nsec, lm_charviz_section *sec, char (*head)[96])
{
    for (size_t j = 0; j < nsec; j++) {
        size_t u = top[j];
        if (pat >= 0)
            snprintf(head[j], 96, "unit %zu, r = %.2f with '%s'", u, score[u], o->pattern);
        else if (!o->unit)
            snprintf(head[j], 96, "unit %zu, variance %.4f", u, score[u]);
        else
            snprintf(head[j], 96, "unit %zu", u);
        sec[j] = (lm_charviz_section){u, head[j]};
    }
}

static void write_page(const lm_charviz *cv, const char *out, const lm_charviz_section *sec,
                       size_t nsec, const char *title)
{
    char note[256];
    snprintf(note, sizeof note,
             "%zu characters, layer %zu, %zu units. Blue: negative, red: "
             "positive, white: 0.",
             cv->n, cv->layer, cv->H);
    FILE *f = fopen(out, "w");
    if (!f) fatal("cannot write %s: %s", out, strerror(errno));
    int rc = lm_charviz_write_html(f, cv, sec, nsec, title, note);
    if (fclose(f) != 0 || rc != TG_OK) fatal("writing %s failed: %s", out, strerror(errno));
    printf("wrote %s: %zu characters coloured by unit%s", out, cv->n, nsec > 1 ? "s" : "");
    for (size_t j = 0; j < nsec; j++) printf(" %zu", sec[j].unit);
    printf("\n");
}

/* Rank (and print) the units, then write the page with the best ones, or the one asked for. */
static void visualise(const lm_charviz *cv, const viz_opts *o, const char *title)
{
    int pat = o->pattern ? lm_pattern_parse(o->pattern) : -1;
    double *score = malloc(cv->H * sizeof *score);
    size_t *top = malloc(cv->H * sizeof *top), k = o->top ? o->top : 1;
    if (!score || !top) fatal("out of memory");
    if (pat >= 0)
        k = rank_pattern(cv, (lm_pattern)pat, score, top, k);
    else if (!o->unit)
        k = rank_variance(cv, score, top, k);
    size_t nsec = o->sections == 0 ? 1 : o->sections < k ? o->sections : k;
    if (nsec > 64) nsec = 64;
    if (o->unit) { /* the one unit asked for (checked against H already) */
        top[0] = parse_index("unit", o->unit);
        nsec = 1;
    }
    lm_charviz_section sec[64];
    char head[64][96];
    headings(o, pat, score, top, nsec, sec, head);
    write_page(cv, o->out, sec, nsec, title);
    free(score);
    free(top);
}

int lm_charviz_command(int argc, char **argv)
{
    viz_opts o = {.top = 10, .sections = 3, .max_chars = 2000, .out = "charviz.html"};
    const lm_opt opts[] = {
        {"pattern", 's', &o.pattern, "rank units by |r| with this pattern (see above)"},
        {"unit", 's', &o.unit, "colour the text by this unit (0..H-1)"},
        {"layer", 's', &o.layer, "the layer to record, 0..L-1 (default: the last)"},
        {"state", 's', &o.state, "the state to record by name: h (default), or c for an LSTM"},
        {"top", 'z', &o.top, "units to list"},
        {"sections", 'z', &o.sections, "coloured blocks on the page, the best units first"},
        {"max-chars", 'z', &o.max_chars, "feed only the first N characters (0: all)"},
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

    lm_model m;
    lm_charvocab v;
    char *vocab;
    if (lm_load(pos[0], &m, "char", &vocab, 0, &st) != TG_OK) fatal("%s", st.msg);
    if (lm_charvocab_from_string(&v, vocab, &st) != TG_OK ||
        lm_vocab_fits(pos[0], v.size, &m, &st) != TG_OK)
        fatal("%s", st.msg);
    size_t n, layer = o.layer ? parse_index("layer", o.layer) : m.cfg.L - 1;
    if (o.unit && parse_index("unit", o.unit) >= m.cfg.H)
        fatal("--unit %zu is out of range: the model has H = %zu units per layer (0..%zu)",
              parse_index("unit", o.unit), m.cfg.H, m.cfg.H - 1);
    uint32_t *text = read_text(pos[1], o.max_chars, &n);
    lm_charviz cv;
    size_t state = 0;
    while (o.state && state < m.cfg.cell->n_states &&
           strcmp(o.state, m.cfg.cell->state_names[state]) != 0)
        state++;
    if (o.state && state == m.cfg.cell->n_states)
        fatal("--state %s: a %s cell carries no state of that name", o.state, m.cfg.cell->name);
    if (lm_charviz_record(&cv, &m, &v, text, n, layer, state, &st) != TG_OK) fatal("%s", st.msg);
    report_skipped(&cv, &v, text, n);
    printf("%zu characters of %s through layer %zu of %zu (%s, H = %zu)\n", cv.n, pos[1], layer,
           m.cfg.L, m.cfg.cell->name, m.cfg.H);
    char title[512];
    snprintf(title, sizeof title, "%s on %s: hidden units of layer %zu", pos[0], pos[1], layer);
    visualise(&cv, &o, title);
    lm_charviz_deinit(&cv);
    lm_model_deinit(&m);
    lm_charvocab_deinit(&v);
    free(vocab);
    free(text);
    return 0;
}
