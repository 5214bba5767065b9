/* fuzz_file.h: what the libFuzzer targets share: the input written to a file of this process
 * (the readers under test take paths), in TMPDIR or /tmp. */
#ifndef TG_FUZZ_FILE_H
#define TG_FUZZ_FILE_H

#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Write data to this process's scratch file and return its path. */
static const char *fuzz_file(const uint8_t *data, size_t size)
{
    static char path[512];
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/tg_fuzz_%ld.safetensors", tmp && tmp[0] ? tmp : "/tmp",
                 (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    return path;
}

#endif
