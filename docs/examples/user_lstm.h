/* user_lstm.h: an LSTM written as a user would write it, outside the library, from public ops
 * only: the cell type "user-lstm" (docs/examples/user_lstm.c). */
#ifndef USER_LSTM_H
#define USER_LSTM_H

#include <tapegrad.h>

extern const tg_cell_type user_lstm;

/* Register "user-lstm" (tg_cell_type_register); TG_OK or its code with st. */
int user_lstm_register(tg_status *st);

#endif
