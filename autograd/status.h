/* status.h: the one error channel of every fallible call that does not record on a tape.
 *
 * Calls that record (ops, cells, stacks) keep the tape's sticky error (tape.h). Every other call
 * that can fail takes a `tg_status *st` as its last argument and returns its TG_* code:
 *
 *     tg_status st;
 *     if (tg_optim_new(&opt, ps, &cfg, &st) != TG_OK) fprintf(stderr, "%s\n", st.msg);
 *
 * On failure the call writes the code and a message naming the call and the values at fault
 * into *st; on success it leaves *st as it was. st may be NULL when the caller only wants the
 * code. Each call's header comment says what state it leaves behind when it fails.
 *
 * Read next: tensor.h (the codes), tape.h (the sticky error of recording calls).
 */
#ifndef TG_STATUS_H
#define TG_STATUS_H

#include "autograd/tensor.h"

TG_BEGIN_DECLS

typedef struct tg_status {
    int code;      /* TG_OK, or the TG_* code of the last failure reported here */
    char msg[512]; /* that failure in words, NUL-terminated; "" when code is TG_OK */
} tg_status;

/* A status that says TG_OK with an empty message. */
void tg_status_clear(tg_status *st);

/* Report a failure: when st is not NULL, set st->code = code and format the message into
 * st->msg (truncated to fit). Returns code, so a call can `return tg_status_set(st, ...)`.
 * Public so that user code built on tapegrad can report the same way. */
int tg_status_set(tg_status *st, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

TG_END_DECLS

#endif
