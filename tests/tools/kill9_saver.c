/* kill9_saver.c: the program tests/tools/kill9_checkpoint.sh kills. 
 *   kill9_saver save PATH    save a 4 MB checkpoint at PATH over and over (each save's values
 *                            are its number), until killed
 *   kill9_saver once PATH    one save (the "next save" after a kill)
 *   kill9_saver check PATH   open PATH and read every array (checksums verified); exit 0 when
 *                            it is a whole checkpoint of one save */
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N (1u << 20) /* floats a save */

static int save(const char *path, float k)
{
    static float v[N];
    for (size_t i = 0; i < N; i++) v[i] = k;
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    tg_status st;
    size_t half = N / 2;
    int rc = tg_ckpt_writer_add(w, "a", TG_DT_F32, 1, &half, v, &st);
    if (!rc) rc = tg_ckpt_writer_add(w, "b", TG_DT_F32, 1, &half, v + half, &st);
    if (!rc) rc = tg_ckpt_writer_save(w, path, &st);
    if (rc) fprintf(stderr, "%s\n", st.msg);
    tg_ckpt_writer_free(w);
    return rc;
}

static int check(const char *path)
{
    static float v[N];
    tg_ckpt *ck;
    tg_status st;
    int rc = tg_ckpt_open(&ck, path, 0, &st);
    if (!rc) rc = tg_ckpt_read(ck, "a", TG_DT_F32, v, N / 2, &st);
    if (!rc) rc = tg_ckpt_read(ck, "b", TG_DT_F32, v + N / 2, N / 2, &st);
    for (size_t i = 1; !rc && i < N; i++)
        if (v[i] != v[0]) rc = 1, snprintf(st.msg, sizeof st.msg, "%s: two saves mixed", path);
    if (rc) fprintf(stderr, "%s\n", st.msg);
    tg_ckpt_close(ck);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) return fprintf(stderr, "usage: kill9_saver save|once|check PATH\n"), 2;
    if (strcmp(argv[1], "check") == 0) return check(argv[2]) ? 1 : 0;
    if (strcmp(argv[1], "once") == 0) return save(argv[2], -1) ? 1 : 0;
    for (float k = 0;; k++)
        if (save(argv[2], k)) return 1;
}
