/* seq2seq_main.c: tg_seq2seq, the encoder-decoder program (models/seq2seq_cmd.h). */
#include "models/seq2seq_cmd.h"

int main(int argc, char **argv)
{
    return s2s_main(argc, argv);
}
