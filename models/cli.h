/* cli.h: what the language-model programs share: a table of --options with their help, and a
 * progress line (a bar with ETA on a terminal, plain log lines otherwise). */
#ifndef LM_CLI_H
#define LM_CLI_H

#include "models/lm.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One --name option: kind 'z' (size_t), 'n' (a thread count: size_t, 0 to LM_MAX_THREADS),
 * 'u' (uint64_t), 'd' (a finite double), 'p' (a finite double >= 0: a rate, a limit, a time),
 * 's' (string), 'f' (a flag: int set to 1, takes no value). dst points at the variable to set.
 * Whole numbers take no sign and must fit their type. */
#define LM_MAX_THREADS 1024
#define LM_STR_(x)     #x
#define LM_STR(x)      LM_STR_(x)
typedef struct lm_opt {
    const char *name;
    char kind;
    void *dst;
    const char *help;
} lm_opt;

/* Parse argv[0..argc) against opts; arguments not starting with "--" are positional and go to
 * pos[0..max_pos) (their count in *npos). Returns TG_OK, or TG_EINVAL with the message in st
 * (unknown option, missing or malformed value, too many positionals); options before the bad
 * one are then set. "--help" sets *help. */
int lm_parse(int argc, char **argv, const lm_opt *opts, size_t n, char **pos, size_t max_pos,
             size_t *npos, int *help, tg_status *st);

/* "  --name VALUE   help (default: current value)" for every option. */
void lm_print_options(FILE *f, const lm_opt *opts, size_t n);

/* A subcommand's command line: options into opts, exactly `want` positional arguments into
 * pos. Returns -1 to go on; otherwise the program's exit status, after printing: 1 and
 * "PROG: message" on stderr for a bad option; 0 for --help and 2 for another count of
 * positional arguments, both after `usage` and the options on stdout. */
int lm_parse_command(const char *prog, int argc, char **argv, const lm_opt *opts, size_t n,
                     char **pos, size_t want, const char *usage);

/* The model and training fields both language-model programs take as options. */
typedef struct lm_model_opts {
    const char *cell, *optim; /* lstm, gru, rnn, rnn-relu; sgd, adam, adagrad */
    size_t layers, hidden, embed, T, B, decay_after;
    double dropout, lr, decay, clip, init, forget_bias;
    int tied, sum_steps;
    uint64_t seed;
} lm_model_opts;

/* The lm_config the options describe for a vocabulary of V (embed 0 means the hidden size).
 * Returns TG_OK, or TG_EINVAL with the message in st for an unknown cell or optimizer (*c is
 * then the default configuration). */
int lm_config_from_opts(const lm_model_opts *o, size_t V, lm_config *c, tg_status *st);

typedef struct lm_progress {
    int tty;           /* stdout is a terminal: redraw one line */
    FILE *out;         /* where lines go: stdout (a test may point it elsewhere) */
    double t0;         /* start time, seconds */
    double last;       /* time of the last plain log line */
    size_t tokens;     /* tokens trained since t0 */
    uint64_t step0;    /* the trainer's step count when the clipping count restarted */
    uint64_t clipped0; /* ... and its count of clipped windows then */
} lm_progress;

double lm_now(void); /* monotonic seconds */
/* Start the clock and the clipping count at trainer tr's present counts. */
void lm_progress_init(lm_progress *p, const lm_trainer *tr);
/* Report `step` of `total` (0: unknown) with the last window's loss, its perplexity exp(loss)
 * and, when unit is not NULL, another name/value pair (e.g. "bpc", loss/ln 2); then from the
 * trainer tr the gradient norm of its last window before clipping (what PyTorch's
 * clip_grad_norm_ returns) and "clipped C of N": of the N windows trained since the previous
 * line (on a terminal: since the bar was started or broken), C had their gradient scaled down
 * to the clip norm. Redraws at most ~10 times a second on a terminal (the bar, the step and the
 * ETA first, the line cut to the terminal's width); a plain line every `every` seconds
 * otherwise:
 *   step 400/1605  loss 1.7573  bpc 2.5353  ppl 5.80  grad norm 0.912  clipped 0 of 197  ...
 */
void lm_progress_show(lm_progress *p, const lm_trainer *tr, size_t step, size_t total, double loss,
                      const char *unit, double unit_value, size_t tokens, double every);
/* End a redrawn line before printing anything else (the clipping count restarts). */
void lm_progress_break(lm_progress *p, const lm_trainer *tr);

#endif
