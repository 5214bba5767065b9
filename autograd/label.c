/* label.c: names for nodes (tg_label, tg_labelf: walk.h), and the labels an op's error names.
 *
 * A label is a borrowed string in the tensor's `name`, shown by print, dot and the walk. When
 * an op has checked its inputs (tg_check_inputs), the tape notes their labels; if that op then
 * records an error (its message starts with its name and a colon), tg_fail appends them:
 *     tg_matmul: inner dimensions differ: a is (1 x 5), b is (16 x 4) (input 1 is h_3, ...)
 * The note is forgotten at the next check, error or reset; a message of another op never
 * takes it (the name must match), so a stale note cannot mislabel an error.
 * Read next: walk.c (the walk), graph.c (print, dot).
 */
#include "autograd/walk.h"

#include "autograd/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

tg_tensor *tg_label(tg_tensor *x, const char *name)
{
    if (x) x->name = name;
    return x;
}

/* Appends s[0..n) to buf (cap bytes, a terminating 0 kept room for) at *at; 0 when it is full. */
static int put(char *buf, size_t cap, size_t *at, const char *s, size_t n)
{
    if (n >= cap - *at) return 0;
    memcpy(buf + *at, s, n);
    *at += n;
    return 1;
}

/* Appends v in decimal, after a minus sign when negative. */
static int put_number(char *buf, size_t cap, size_t *at, int negative, unsigned long long v)
{
    char d[24];
    size_t n = sizeof d;
    do d[--n] = (char)('0' + v % 10);
    while (v /= 10);
    if (negative) d[--n] = '-';
    return put(buf, cap, at, d + n, sizeof d - n);
}

/* The name fmt gives, into buf (cap bytes), when it uses only the conversions labels use (%s,
 * %d, %zu, %%) and fits: its length, else -1 (then vsnprintf does it). A recurrent layer labels
 * every state of every step ("h_12"), and vsnprintf, twice, cost about as much as the step's
 * sigmoid (3% of a batch-1 LSTM window). */
static int format_label(char *buf, size_t cap, const char *fmt, va_list ap)
{
    size_t at = 0;
    for (const char *p = fmt; *p; p++) {
        int ok = 0;
        if (*p != '%') {
            ok = put(buf, cap, &at, p, 1);
        } else if (p[1] == '%') {
            ok = put(buf, cap, &at, "%", 1), p++;
        } else if (p[1] == 's') {
            const char *s = va_arg(ap, const char *);
            ok = s && put(buf, cap, &at, s, strlen(s)), p++;
        } else if (p[1] == 'd') {
            long long v = va_arg(ap, int);
            ok = put_number(buf, cap, &at, v < 0, (unsigned long long)(v < 0 ? -v : v)), p++;
        } else if (p[1] == 'z' && p[2] == 'u') {
            ok = put_number(buf, cap, &at, 0, va_arg(ap, size_t)), p += 2;
        }
        if (!ok) return -1;
    }
    buf[at] = '\0';
    return (int)at;
}

tg_tensor *tg_labelf(tg_tape *t, tg_tensor *x, const char *fmt, ...)
{
    if (!x) return x;
    char quick[64];
    va_list ap, count, write;
    va_start(ap, fmt);
    va_copy(count, ap);
    va_copy(write, ap);
    int len = format_label(quick, sizeof quick, fmt, ap), done = len >= 0;
    if (!done) len = vsnprintf(NULL, 0, fmt, count);
    char *name = len >= 0 ? tg_tape_alloc(t, (size_t)len + 1, "tg_labelf") : NULL;
    if (name && done)
        memcpy(name, quick, (size_t)len + 1);
    else if (name)
        vsnprintf(name, (size_t)len + 1, fmt, write);
    va_end(write);
    va_end(count);
    va_end(ap);
    return name ? tg_label(x, name) : x;
}

int tgi_note_inputs(tg_tape *t, const char *name, size_t n, tg_tensor *const *in)
{
    t->checking = name;
    t->n_checked = n < TGI_CHECKED_MAX ? n : TGI_CHECKED_MAX;
    for (size_t i = 0; i < t->n_checked; i++) t->checked[i] = in[i]->name;
    return 1;
}

void tgi_name_inputs(tg_tape *t)
{
    size_t n = t->n_checked, at = strlen(t->error), len = n ? strlen(t->checking) : 0;
    t->n_checked = 0;
    if (!n || strncmp(t->error, t->checking, len) != 0 || t->error[len] != ':') return;
    const char *sep = " (";
    for (size_t i = 0; i < n && at < sizeof t->error; i++) {
        if (!t->checked[i]) continue;
        int k = snprintf(t->error + at, sizeof t->error - at, "%sinput %zu is %s", sep, i + 1,
                         t->checked[i]);
        at += k > 0 ? (size_t)k : 0;
        sep = ", ";
    }
    if (at < sizeof t->error && sep[0] == ',') snprintf(t->error + at, sizeof t->error - at, ")");
}
