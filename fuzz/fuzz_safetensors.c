/* fuzz_safetensors.c: any bytes as a safetensors file: open, list, and read every array the way
 * the library would (exact dtype, and F32/F64 converted), with and without non-finite values
 * allowed. Nothing may crash, leak or read outside what the checks allowed. */
#include "fuzz_file.h"
#include "io/safetensors.h"

#include <string.h>

static void read_all(tg_ckpt *ck)
{
    for (size_t i = 0; i < tg_ckpt_count(ck); i++) {
        const tg_ckpt_entry *e = tg_ckpt_entry_at(ck, i);
        size_t bytes = e->end - e->begin;
        if (bytes > (1u << 20)) continue; /* the reader checked it fits the file; keep runs fast */
        void *buf = malloc(bytes ? bytes : 1), *conv = malloc((e->numel ? e->numel : 1) * 8);
        tg_status st;
        if (buf && conv) {
            tg_ckpt_read(ck, e->name, e->dtype, buf, e->numel, &st);
            tg_ckpt_read_float(ck, e->name, TG_DT_F64, conv, e->numel, &st);
            tg_ckpt_read_float(ck, e->name, TG_DT_F32, conv, e->numel, &st);
            tg_ckpt_read(ck, e->name, TG_DT_U8, buf, e->numel, &st); /* wrong dtype or count */
        }
        free(buf);
        free(conv);
    }
    for (size_t i = 0; i < tg_ckpt_meta_count(ck); i++) {
        const char *k = tg_ckpt_meta_key(ck, i), *v = tg_ckpt_meta(ck, k);
        if (!v) abort(); /* every listed key has a value */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    for (unsigned flags = 0; flags <= TG_CKPT_NONFINITE_OK; flags += TG_CKPT_NONFINITE_OK) {
        tg_ckpt *ck;
        tg_status st;
        if (tg_ckpt_open(&ck, path, flags, &st) == TG_OK) {
            read_all(ck);
            tg_ckpt_close(ck);
        } else if (!st.msg[0]) {
            abort(); /* every failure says why */
        }
    }
    return 0;
}
