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

tg_tensor *tg_labelf(tg_tape *t, tg_tensor *x, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    char *name = x && len >= 0 ? tg_tape_alloc(t, (size_t)len + 1, "tg_labelf") : NULL;
    if (name) vsnprintf(name, (size_t)len + 1, fmt, again);
    va_end(again);
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
