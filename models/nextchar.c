/* nextchar.c: next-character probabilities along a text, as a table and as an SVG picture.
 * The map is in nextchar.h. */
#include "models/nextchar.h"

#include "io/utf8.h"
#include "models/charviz.h" /* lm_html_char: a character as HTML, also SVG */
#include "models/text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void lm_nextchar_deinit(lm_nextchar *nc)
{
    free(nc->text);
    free(nc->p_next);
    free(nc->top);
    free(nc->top_p);
    memset(nc, 0, sizeof *nc);
}

/* p[0..V) = softmax(z): p_j = exp(z_j - max z) / Σ_k exp(z_k - max z). */
static void softmax(const tg_real *z, size_t V, double *p)
{
    double zmax = z[0], sum = 0;
    for (size_t j = 1; j < V; j++) zmax = fmax(zmax, z[j]);
    for (size_t j = 0; j < V; j++) sum += p[j] = exp(z[j] - zmax);
    for (size_t j = 0; j < V; j++) p[j] /= sum;
}

/* Row i: the K likeliest of p[0..V) (ties to the lower id) and the actual next's probability. */
static void fill_row(lm_nextchar *nc, size_t i, const double *p, size_t V, int32_t next)
{
    int32_t *top = nc->top + i * nc->K;
    for (size_t k = 0; k < nc->K; k++) {
        size_t best = V;
        for (size_t j = 0; j < V; j++) {
            int taken = 0;
            for (size_t q = 0; q < k; q++) taken |= top[q] == (int32_t)j;
            if (!taken && (best == V || p[j] > p[best])) best = j;
        }
        top[k] = (int32_t)best;
        nc->top_p[i * nc->K + k] = p[best];
    }
    nc->p_next[i] = next >= 0 ? p[next] : NAN;
}

int lm_nextchar_compute(lm_nextchar *nc, lm_model *m, const lm_charvocab *v, const char *name,
                        const uint32_t *text, size_t n, size_t K, tg_status *st)
{
    memset(nc, 0, sizeof *nc);
    if (n == 0) return tg_status_set(st, TG_EINVAL, "%s: the text is empty", name);
    size_t V = m->cfg.V;
    int32_t *ids;
    int rc = lm_charvocab_encode(v, name, text, n, &ids, st);
    if (rc != TG_OK) return rc;
    nc->n = n;
    nc->K = K < V ? K : V;
    nc->text = malloc(n * sizeof *nc->text);
    nc->p_next = malloc(n * sizeof *nc->p_next);
    size_t cells =
        n <= SIZE_MAX / sizeof(double) / (nc->K ? nc->K : 1) ? n * (nc->K ? nc->K : 1) : 0;
    nc->top = cells ? malloc(cells * sizeof *nc->top) : NULL; /* 0: n·K overflows */
    nc->top_p = cells ? malloc(cells * sizeof *nc->top_p) : NULL;
    double *p = malloc(V * sizeof *p);
    lm_sampler s;
    if (!nc->text || !nc->p_next || !nc->top || !nc->top_p || !p)
        rc = tg_status_set(st, TG_ENOMEM, "%s: out of memory for %zu positions of %zu candidates",
                           name, n, V);
    else
        rc = lm_sampler_init(&s, m, st); /* its own message */
    if (rc != TG_OK) {
        free(ids);
        free(p);
        lm_nextchar_deinit(nc);
        return rc;
    }
    memcpy(nc->text, text, n * sizeof *text);
    for (size_t i = 0; i < n && rc == TG_OK; i++) {
        if ((rc = lm_sampler_feed(&s, ids[i], st)) != TG_OK) break;
        softmax(s.logits, V, p);
        fill_row(nc, i, p, V, i + 1 < n ? ids[i + 1] : -1);
    }
    lm_sampler_deinit(&s);
    free(ids);
    free(p);
    if (rc != TG_OK) lm_nextchar_deinit(nc);
    return rc;
}

/* The character cp as shown: U+2423 for a space, control characters escaped (\n, \x01). */
static const char *shown(uint32_t cp, char out[16])
{
    char utf8[5] = {0};
    if (cp == ' ') cp = 0x2423;
    utf8[lm_utf8_put(cp, utf8)] = '\0';
    return tg_utf8_escape(out, 16, utf8);
}

/* s, then spaces up to `width` characters (code points, not bytes: '␣' is three bytes). */
static void put_padded(FILE *f, const char *s, size_t width)
{
    size_t chars = 0;
    for (const char *c = s; *c; c++) chars += ((unsigned char)*c & 0xC0) != 0x80;
    fputs(s, f);
    for (; chars < width; chars++) fputc(' ', f);
}

void lm_nextchar_print(FILE *f, const lm_nextchar *nc, const lm_charvocab *v)
{
    char a[16], b[16];
    double bits = 0;
    fprintf(f, "  pos  in  next  p(next)  likeliest next\n");
    for (size_t i = 0; i < nc->n; i++) {
        int last = i + 1 == nc->n;
        fprintf(f, "  %3zu  ", i);
        put_padded(f, shown(nc->text[i], a), 4);
        put_padded(f, last ? "-" : shown(nc->text[i + 1], b), 6);
        if (last)
            fprintf(f, "%7s", "-");
        else
            fprintf(f, "%7.4f", nc->p_next[i]);
        for (size_t k = 0; k < nc->K; k++)
            fprintf(f, "  %s %.3f", shown(lm_charvocab_char(v, nc->top[i * nc->K + k]), a),
                    nc->top_p[i * nc->K + k]);
        fputc('\n', f);
        if (!last) bits -= log2(nc->p_next[i]); /* -log2 P(actual next) */
    }
    if (nc->n > 1)
        fprintf(f, "mean over the %zu predictions: %.4f bits per character\n", nc->n - 1,
                bits / (double)(nc->n - 1));
}

/* One cell: a rectangle shaded by p (white to blue), the candidate and p inside, outlined when
 * it is the actual next character. */
static void svg_cell(FILE *f, double x, double y, double p, uint32_t cp, int actual)
{
    int shade = (int)lround(255 - 200 * p); /* p = 1: (55, 95, 255)-ish blue */
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"56\" height=\"30\" fill=\"rgb(%d,%d,255)\" "
            "stroke=\"%s\" stroke-width=\"%d\"/>\n",
            x, y, shade, (shade + 255) / 2, actual ? "#d62728" : "#999", actual ? 3 : 1);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">", x + 28, y + 20,
            p > 0.6 ? "white" : "black");
    char buf[8];
    fprintf(f, "%s %.2f</text>\n", lm_html_char(cp == ' ' ? 0x2423 : cp, buf), p);
}

int lm_nextchar_svg(FILE *f, const lm_nextchar *nc, const lm_charvocab *v)
{
    double W = fmax(90 + 64.0 * (double)nc->n, 400), Hgt = 110 + 34.0 * (double)nc->K;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"monospace\" font-size=\"14\" text-anchor=\"middle\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"10\" y=\"24\" font-family=\"sans-serif\" text-anchor=\"start\">"
            "P(next character); red: the actual next</text>\n",
            W, Hgt);
    char buf[8];
    for (size_t i = 0; i < nc->n; i++) {
        double x = 80 + 64.0 * (double)i;
        for (size_t k = 0; k < nc->K; k++) {
            int32_t id = nc->top[i * nc->K + k];
            int actual = i + 1 < nc->n && lm_charvocab_char(v, id) == nc->text[i + 1];
            svg_cell(f, x, 44 + 34.0 * (double)k, nc->top_p[i * nc->K + k],
                     lm_charvocab_char(v, id), actual);
        }
        uint32_t cp = nc->text[i] == ' ' ? 0x2423 : nc->text[i];
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">%s</text>\n", x + 28,
                64 + 34.0 * (double)nc->K, lm_html_char(cp, buf));
    }
    fprintf(f,
            "<text x=\"40\" y=\"64\" font-family=\"sans-serif\">next</text>\n"
            "<text x=\"40\" y=\"%.0f\" font-family=\"sans-serif\">input</text>\n</svg>\n",
            64 + 34.0 * (double)nc->K);
    return fflush(f) == 0 && !ferror(f) ? TG_OK : TG_EIO;
}
