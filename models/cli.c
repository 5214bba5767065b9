/* cli.c: option parsing and progress display for the programs in models/. */
#define _POSIX_C_SOURCE 200809L
#include "models/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int set_value(const lm_opt *o, const char *v)
{
    char *end;
    errno = 0;
    if (o->kind == 's') {
        *(const char **)o->dst = v;
        return 1;
    }
    if (o->kind == 'd' || o->kind == 'p') { /* finite: NaN passes no bound checked after it */
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x) || (o->kind == 'p' && x < 0)) return 0;
        *(double *)o->dst = x;
        return 1;
    }
    if (*v < '0' || *v > '9') return 0; /* no sign or space, which strtoull would take */
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end) return 0;
    if (o->kind == 'n' && x > LM_MAX_THREADS) return 0;
    if (o->kind == 'z' || o->kind == 'n') *(size_t *)o->dst = (size_t)x;
    if (o->kind == 'u') *(uint64_t *)o->dst = (uint64_t)x;
    return 1;
}

/* What a valid value of kind is, for the message. */
static const char *what(char kind)
{
    if (kind == 'd') return "finite number";
    if (kind == 'p') return "finite number >= 0";
    if (kind == 'n') return "thread count (0 to " LM_STR(LM_MAX_THREADS) ")";
    return "non-negative whole number";
}

int lm_parse(int argc, char **argv, const lm_opt *opts, size_t n, char **pos, size_t max_pos,
             size_t *npos, int *help, tg_status *st)
{
    *npos = 0;
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (*npos == max_pos)
                return tg_status_set(st, TG_EINVAL, "unexpected argument '%s'", a);
            pos[(*npos)++] = argv[i];
            continue;
        }
        size_t k = 0;
        while (k < n && strcmp(a + 2, opts[k].name) != 0) k++;
        if (k == n) return tg_status_set(st, TG_EINVAL, "unknown option '%s' (see --help)", a);
        if (opts[k].kind == 'f') {
            *(int *)opts[k].dst = 1;
            continue;
        }
        if (i + 1 == argc) return tg_status_set(st, TG_EINVAL, "option '%s' needs a value", a);
        if (!set_value(&opts[k], argv[++i]))
            return tg_status_set(st, TG_EINVAL, "option '%s': '%s' is not a valid %s", a, argv[i],
                                 what(opts[k].kind));
    }
    return TG_OK;
}

void lm_print_options(FILE *f, const lm_opt *opts, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const lm_opt *o = &opts[k];
        char arg[40] = "", def[64] = "";
        if (o->kind != 'f') snprintf(arg, sizeof arg, " %s", o->kind == 's' ? "TEXT" : "N");
        if (o->kind == 'z' || o->kind == 'n')
            snprintf(def, sizeof def, " (default %zu)", *(size_t *)o->dst);
        if (o->kind == 'u')
            snprintf(def, sizeof def, " (default %" PRIu64 ")", *(uint64_t *)o->dst);
        if (o->kind == 'd' || o->kind == 'p')
            snprintf(def, sizeof def, " (default %g)", *(double *)o->dst);
        if (o->kind == 's' && *(const char **)o->dst)
            snprintf(def, sizeof def, " (default %s)", *(const char **)o->dst);
        char head[64];
        snprintf(head, sizeof head, "--%s%s", o->name, arg);
        fprintf(f, "  %-22s %s%s\n", head, o->help, def);
    }
}

int lm_parse_command(const char *prog, int argc, char **argv, const lm_opt *opts, size_t n,
                     char **pos, size_t want, const char *usage)
{
    size_t npos;
    int help;
    tg_status st;
    if (lm_parse(argc, argv, opts, n, pos, want, &npos, &help, &st) != TG_OK) {
        fprintf(stderr, "%s: %s\n", prog, st.msg);
        return 1;
    }
    if (!help && npos == want) return -1;
    fputs(usage, stdout);
    lm_print_options(stdout, opts, n);
    return help ? 0 : 2;
}

int lm_config_from_opts(const lm_model_opts *o, size_t V, lm_config *c, tg_status *st)
{
    *c = lm_default_config();
    char names[256];
    const tg_cell_type *cell = tg_cell_type_find(o->cell);
    if (!cell)
        return tg_status_set(st, TG_EINVAL, "unknown --cell '%s' (%s)", o->cell,
                             lm_cell_names(names, sizeof names));
    if (strcmp(o->optim, "sgd") == 0)
        c->optim = tg_sgd_config(o->lr, 0);
    else if (strcmp(o->optim, "adam") == 0)
        c->optim = tg_adam_config(o->lr);
    else if (strcmp(o->optim, "adagrad") == 0)
        c->optim = tg_adagrad_config(o->lr);
    else
        return tg_status_set(st, TG_EINVAL, "unknown --optim '%s' (sgd, adam, adagrad)", o->optim);
    c->cell = cell;
    c->V = V;
    c->H = o->hidden;
    c->E = o->embed ? o->embed : o->hidden;
    c->L = o->layers;
    c->T = o->T;
    c->B = o->B;
    c->dropout = o->dropout;
    c->tied = o->tied;
    c->clip = o->clip;
    c->init = o->init;
    c->forget_bias = o->forget_bias;
    c->sum_steps = o->sum_steps;
    c->lr_decay = o->decay;
    c->decay_after = o->decay_after;
    c->seed = o->seed;
    return TG_OK;
}

double lm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Restart the clipping count at the trainer's present counts. */
static void restart_count(lm_progress *p, const lm_trainer *tr)
{
    p->step0 = tr->step;
    p->clipped0 = tr->clipped;
}

void lm_progress_init(lm_progress *p, const lm_trainer *tr)
{
    p->tty = isatty(STDOUT_FILENO);
    p->out = stdout;
    p->t0 = p->last = lm_now();
    p->tokens = 0;
    restart_count(p, tr);
}

/* Columns of the terminal on stdout; 80 when it does not say. */
static size_t term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && ws.ws_col < 320)
        return ws.ws_col;
    return 80;
}

static void format_time(double s, char *out, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

/* "loss 1.7573  bpc 2.5353  ppl 5.80  grad norm 0.912  clipped 0 of 197": the fields between
 * the step and the speed, into buf[0..n). */
static void format_stats(const lm_progress *p, const lm_trainer *tr, double loss, const char *unit,
                         double unit_value, char *buf, size_t n)
{
    int k = snprintf(buf, n, "loss %.4f  ", loss);
    if (unit && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "%s %.4f  ", unit, unit_value);
    if (k >= 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k,
                 "ppl %.2f  grad norm %.3g  clipped %" PRIu64 " of %" PRIu64, exp(loss),
                 tr->last_norm, tr->clipped - p->clipped0, tr->step - p->step0);
}

void lm_progress_show(lm_progress *p, const lm_trainer *tr, size_t step, size_t total, double loss,
                      const char *unit, double unit_value, size_t tokens, double every)
{
    double now = lm_now(), dt = now - p->t0;
    p->tokens = tokens;
    double rate = dt > 0 ? (double)tokens / dt : 0;
    char eta[32] = "?", bar[32], stats[160];
    if (total && step) format_time(dt * (double)(total - step) / (double)step, eta, sizeof eta);
    if (p->tty) {
        static double last_draw;
        if (now - last_draw < 0.1 && step != total) return;
        last_draw = now;
        size_t fill = total ? 20 * step / total : 0;
        for (size_t i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        format_stats(p, tr, loss, unit, unit_value, stats, sizeof stats);
        char line[320]; /* ASCII: one byte a column; cut to the terminal, padded over the last */
        snprintf(line, sizeof line, "[%s] step %zu/%zu  ETA %s  %s  %.0f tok/s", bar, step, total,
                 eta, stats, rate);
        int w = (int)term_width() - 1;
        fprintf(p->out, "\r%-*.*s", w, w, line);
        fflush(p->out);
    } else if (now - p->last >= every || step == total) {
        p->last = now;
        format_stats(p, tr, loss, unit, unit_value, stats, sizeof stats);
        fprintf(p->out, "step %zu/%zu  %s  %.0f tok/s  elapsed %.0fs  ETA %s\n", step, total, stats,
                rate, dt, eta);
        fflush(p->out);
        restart_count(p, tr);
    }
}

void lm_progress_break(lm_progress *p, const lm_trainer *tr)
{
    if (!p->tty) return;
    fprintf(p->out, "\n");
    restart_count(p, tr);
}
