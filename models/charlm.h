/* charlm.h: the whole character-level language-model program (tg_charlm) as one call, so that
 * a user's program can register its own cell type and then be the full program for it:
 *
 *     #include "mgu.h"                  (a cell type of the user's, docs/examples/mgu.c)
 *     #include "models/charlm.h"
 *     int main(int argc, char **argv)
 *     {
 *         mgu_register(NULL);           (now --cell mgu works, and checkpoints name it)
 *         return lm_charlm_main(argc, argv);
 *     }
 *
 * (docs/examples/mgu_charlm.c is exactly this.) Training, progress, validation, checkpoints,
 * resuming, sampling and the visualiser all take the registered type.
 */
#ifndef LM_CHARLM_H
#define LM_CHARLM_H

/* tg_charlm's main: argv[1] is train, sample or visualize; see `--help`. Returns the exit
 * status. */
int lm_charlm_main(int argc, char **argv);

#endif
