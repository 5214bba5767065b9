/* seqtask_main.c: tg_seqtask, the sequence-task program (models/seqtask.h). */
#include "models/seqtask.h"

int main(int argc, char **argv)
{
    return seqtask_main(argc, argv);
}
