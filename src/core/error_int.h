/* Private: filling sl_error. */
#ifndef SL_ERROR_INT_H
#define SL_ERROR_INT_H

#include <stdarg.h>
#include "sluice/error.h"

#if defined(__GNUC__)
#define SL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SL_PRINTF(a, b)
#endif

/* Sets code and message (keeps any location already set). Returns code. */
sl_status sl__error_set(sl_error *err, sl_status code, const char *fmt, ...) SL_PRINTF(3, 4);
sl_status sl__error_vset(sl_error *err, sl_status code, const char *fmt, va_list ap);
/* Sets code, message and a position in `file` (line/col 0 when none). Returns code. */
sl_status sl__error_at(sl_error *err, sl_status code, const char *file, int line, int col, const char *fmt,
                       ...) SL_PRINTF(6, 7);
/* Sets the stage name of an error unless one is set. */
void sl__error_stage(sl_error *err, const char *stage);
/* Appends text to the message (e.g. "; what to do"). */
void sl__error_append(sl_error *err, const char *fmt, ...) SL_PRINTF(2, 3);

#endif
