/* seq2seq_cmd.h: the tg_seq2seq program (models/seq2seq_cmd.c) as a library call, so a user's
 * program that registers its own cell type first is the full program for it, the type a
 * --cell choice like the built-ins:
 *
 *     int main(int argc, char **argv)
 *     {
 *         mgu_register(NULL);               (now --cell mgu works)
 *         return s2s_main(argc, argv);
 *     }
 *
 * Read next: models/seq2seq.h (the model), models/cli.h (the options).
 */
#ifndef S2S_SEQ2SEQ_CMD_H
#define S2S_SEQ2SEQ_CMD_H

#include <stdio.h>

/* tg_seq2seq's main: argv[1] is the task (addition or dates); see --help. Returns the exit
 * status (0 done, 1 a failure while running, 2 a bad command line), with errors on stderr. */
int s2s_main(int argc, char **argv);

/* The same, writing what s2s_main writes to stdout to out instead; when acc is not NULL it gets
 * the last epoch's held-out exact match (left alone when no epoch finished). */
int s2s_main_to(FILE *out, double *acc, int argc, char **argv);

#endif
