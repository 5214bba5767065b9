/* fuzz_options.c: command lines as the language-model programs parse them: the input split at
 * NUL bytes into argv, parsed against every kind of option (sizes, counts, numbers, strings,
 * flags), then turned into a model configuration. */
#include "models/cli.h"
#include "models/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *argv[64], *pos[4];
    tg_status st = {0};
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int argc = 0;
    argv[argc++] = "tg_fuzz";
    for (size_t i = 0; i < size && argc < 64; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    lm_model_opts mo = {"lstm", "sgd", 1, 8, 0, 4, 2, 0, 0, 1, 1, 5, 0.1, 0, 0, 0, 1};
    double temperature = 1, time_limit = 0;
    size_t threads = 1, npos = 0;
    uint64_t steps = 0;
    const char *save = NULL;
    int quiet = 0, help = 0;
    const lm_opt opts[] = {
        {"layers", 'z', &mo.layers, ""},
        {"hidden", 'z', &mo.hidden, ""},
        {"seq", 'z', &mo.T, ""},
        {"batch", 'z', &mo.B, ""},
        {"dropout", 'd', &mo.dropout, ""},
        {"lr", 'd', &mo.lr, ""},
        {"cell", 's', &mo.cell, ""},
        {"optim", 's', &mo.optim, ""},
        {"seed", 'u', &mo.seed, ""},
        {"steps", 'u', &steps, ""},
        {"threads", 'z', &threads, ""},
        {"temperature", 'd', &temperature, ""},
        {"time-limit", 'd', &time_limit, ""},
        {"save", 's', &save, ""},
        {"quiet", 'f', &quiet, ""},
    };
    if (lm_parse(argc, argv, opts, sizeof opts / sizeof opts[0], pos, 4, &npos, &help, &st) == 0) {
        lm_config c;
        lm_config_from_opts(&mo, 50, &c, &st);
    }
    free(buf);
    return 0;
}
