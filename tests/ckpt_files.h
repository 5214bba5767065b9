/* ckpt_files.h: what the checkpoint tests share: a mkdtemp folder (the group setup makes it,
 * the teardown removes it), writing raw and damaged files, opening and saving that must work,
 * message assertions, and a small parameter store. Included by one test file each; static. */
#ifndef TG_CKPT_FILES_H
#define TG_CKPT_FILES_H

#define _GNU_SOURCE /* memmem */

#include "testutil.h"

#include "io/st_internal.h"
#include "io/utf8.h"
#include "nn/checkpoint.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static tg_status st; /* the status every call under test reports into */

static char dir[512];

/* dir/name in a static buffer (one of four, so a call can use two paths). */
static inline const char *in_dir(const char *name)
{
    static char bufs[4][1024];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

static inline int make_dir(void **s)
{
    (void)s;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/tg_ckpt_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static inline int remove_dir(void **s)
{
    (void)s;
    DIR *d = opendir(dir);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) remove(in_dir(e->d_name));
    closedir(d);
    return rmdir(dir);
}

/* The message contains every one of the NULL-terminated substrings. */
static inline void assert_msg_has(const char *msg, ...)
{
    if (!msg) fail_msg("expected an error message, found none");
    va_list ap;
    va_start(ap, msg);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(msg, s)) fail_msg("message \"%s\" does not mention \"%s\"", msg, s);
    va_end(ap);
}

static inline unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *p = malloc(1 << 20);
    assert_non_null(p);
    *len = fread(p, 1, 1 << 20, f);
    fclose(f);
    return p;
}

static inline void spit(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A file with the given header (not padded) and `data` zero bytes after it. */
static inline void spit_raw(const char *path, const char *json, size_t data)
{
    size_t n = strlen(json);
    unsigned char *p = calloc(8 + n + data + 1, 1);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(p + 8, json, n);
    spit(path, p, 8 + n + data);
    free(p);
}

/* Open must fail with TG_EFORMAT and a message naming the file and each substring. */
#define assert_open_fails(path, ...)                                                               \
    do {                                                                                           \
        tg_ckpt *ck_ = (tg_ckpt *)1;                                                               \
        tg_status st_;                                                                             \
        assert_int_equal(tg_ckpt_open(&ck_, path, 0, &st_), TG_EFORMAT);                           \
        assert_null(ck_);                                                                          \
        assert_msg_has(st_.msg, path, __VA_ARGS__, NULL);                                          \
    } while (0)

static inline tg_ckpt *open_ok(const char *path)
{
    tg_ckpt *ck;
    tg_status st;
    int rc = tg_ckpt_open(&ck, path, 0, &st);
    if (rc) fail_msg("tg_ckpt_open: %s: %s", tg_strerror(rc), st.msg);
    return ck;
}

static inline void save_ok(tg_ckpt_writer *w, const char *path)
{
    tg_status st;
    int rc = tg_ckpt_writer_save(w, path, &st);
    if (rc) fail_msg("save: %s: %s", tg_strerror(rc), st.msg);
}

static inline tg_params *model(size_t hidden, tg_rng *r)
{
    tg_params *ps = tg_params_new();
    assert_non_null(ps);
    add_param(ps, "rnn.weight_ih", 3 * hidden, 4);
    add_param(ps, "rnn.bias", 1, 3 * hidden);
    add_param(ps, "decoder.weight", 7, hidden);
    if (r) fill_uniform(tg_params_values(ps), tg_params_numel(ps), r, -1, 1);
    return ps;
}

static inline void save_model(const tg_params *ps, const char *path, int with_state)
{
    tg_ckpt_writer *w = tg_ckpt_writer_new();
    assert_int_equal(tg_ckpt_writer_add_params(w, ps, "model.", &st), TG_OK);
    if (with_state) {
        uint64_t step = 42;
        assert_int_equal(tg_ckpt_writer_add(w, "train.step", TG_DT_U64, 0, NULL, &step, &st),
                         TG_OK);
        assert_int_equal(tg_ckpt_writer_meta(w, "hidden", "5", &st), TG_OK);
    }
    save_ok(w, path);
    tg_ckpt_writer_free(w);
}

/* Names in dir containing ".tmp." */
static inline int temporaries_left(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* Flip one bit of the byte at file offset `at` of path. */
static inline void flip_byte(const char *path, size_t at)
{
    size_t len;
    unsigned char *p = slurp(path, &len);
    assert_true(at < len);
    p[at] ^= 0x10;
    spit(path, p, len);
    free(p);
}

/* The file offset where path's data section starts. */
static inline size_t data_start(const char *path)
{
    size_t len, n = 0;
    unsigned char *p = slurp(path, &len);
    for (int i = 7; i >= 0; i--) n = n << 8 | p[i];
    free(p);
    return 8 + n;
}

#endif
