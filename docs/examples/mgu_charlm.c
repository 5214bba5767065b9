/* mgu_charlm.c: the full character-level language-model program (training with progress and
 * validation, checkpoints, resuming, sampling, the visualiser) for a cell type of the user's:
 * register it, then hand over to the program. Try:
 *     build/docs/mgu_charlm train --cell mgu --time-limit 60 --save mgu.safetensors
 *     build/docs/mgu_charlm sample mgu.safetensors
 */
#include "mgu.h"
#include "models/charlm.h"

int main(int argc, char **argv)
{
    if (mgu_register(NULL) != TG_OK) return 1;
    return lm_charlm_main(argc, argv);
}
