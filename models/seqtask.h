/* seqtask.h: sequence tasks beyond language models, for recurrent stacks of any registered cell
 * type: long-range memory (the adding problem, the copy task) and many-to-one classification
 * (parity of a bit string, balanced brackets). Every task generates its data from a seed;
 * nothing is downloaded.
 *
 * Dimension letters: T the task's length parameter, L the steps of one sequence (T for adding
 * parity and brackets, T + 2·S for copy), B rows of a minibatch, H hidden units.
 *
 * A task is a descriptor (the sequence length for T, a generator of one minibatch, the loss of
 * the stack's outputs, the memoryless baseline), so the training and evaluation code names no
 * task. Training goes through the library's trainer (nn/trainer.h, tg_trainer_step on fresh
 * minibatches), evaluation through a fixed held-out set drawn from another seed.
 *
 * The whole program (tg_seqtask) is one call, so a user's program that registers its own cell
 * type first is the full program for it:
 *
 *     int main(int argc, char **argv)
 *     {
 *         mgu_register(NULL);               (now --cell mgu works)
 *         return seqtask_main(argc, argv);
 *     }
 */
#ifndef SEQTASK_H
#define SEQTASK_H

#include "autograd/status.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct seqtask_config {
    const char *task; /* "adding", "copy", "parity", "brackets" */
    const char *cell; /* a registered cell type: rnn, rnn-relu, lstm, gru, or a user's */
    size_t T;         /* adding, parity, brackets: length; copy: length of the blank */
    size_t S;         /* copy: symbols to recall (of 8) */
    size_t hidden, layers, B, steps;
    size_t eval_n;    /* held-out sequences */
    size_t log_every; /* steps between evaluations printed to log; 0 for none */
    double lr, clip;  /* Adam's learning rate, max gradient norm (0: no clipping) */
    uint64_t seed;
    double forget_bias; /* LSTM only: the forget-gate slice of bias_ih starts here (0: the
                           default init; non-zero for another type is an error) */
} seqtask_config;

/* Sensible defaults: adding, lstm, T 50, S 10, H 64, 1 layer, B 32, 1000 steps, 512 held out,
 * Adam lr 1e-3, clip 1, seed 1, forget bias 0 (the cells' default init). */
seqtask_config seqtask_defaults(void);

struct tg_rnn;
/* Every layer's forget-gate bias set to c->forget_bias when it is non-zero (seqtask_train and
 * seqtask_caption); TG_EINVAL naming the type for a cell without one. */
int seqtask_forget_bias(const seqtask_config *c, struct tg_rnn *rnn, tg_status *st);

typedef struct seqtask_result {
    double loss;           /* held-out loss: MSE (adding) or mean cross-entropy per target */
    double baseline;       /* the same loss of the memoryless predictor */
    double accuracy;       /* held out, per sequence or recalled symbol; -1 for adding */
    double token_accuracy; /* caption: held-out words right, greedy decoding */
    double train_loss;     /* the last minibatch's */
    size_t steps;          /* steps trained */
    double seconds;        /* wall-clock training time */
} seqtask_result;

/* Train a fresh model as cfg says and evaluate it on the held-out set; when log is not NULL,
 * print "step N train X eval Y acc Z" every log_every steps. TG_OK with *res, or a TG_* code
 * with the message in st (an unknown task or cell, a size out of range, a non-finite gradient,
 * out of memory). */
int seqtask_train(const seqtask_config *cfg, seqtask_result *res, FILE *log, tg_status *st);

/* One-to-many (models/seqtask_caption.c): a caption generated greedily from an attribute
 * vector through the decoder's initial state; accuracy is the held-out exact match and
 * token_accuracy the held-out words right (T, S and eval_n are not used). Same returns. */
int seqtask_caption(const seqtask_config *cfg, seqtask_result *res, FILE *log, tg_status *st);

/* tg_seqtask's main: argv[1] is the task (adding, copy, parity, brackets, caption); see --help.
 * Returns the exit status. */
int seqtask_main(int argc, char **argv);

#endif
