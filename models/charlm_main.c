/* charlm_main.c: tg_charlm, the character-level language model (models/charlm.h). */
#include "models/charlm.h"

int main(int argc, char **argv)
{
    return lm_charlm_main(argc, argv);
}
