/* sluice: error reporting. Every library call that can fail returns an sl_status
 * and fills an sl_error with what went wrong, where, and what to do about it. */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_status {
    SL_OK = 0,
    SL_ERR_CONFIG,   /* the pipeline file or a parameter is wrong */
    SL_ERR_USAGE,    /* the caller used the API or CLI wrongly */
    SL_ERR_IO,       /* a file could not be read or written */
    SL_ERR_DATA,     /* the data cannot be processed (shape, dtype, NaN, singular) */
    SL_ERR_NOMEM,    /* an allocation failed */
    SL_ERR_CANCELLED,/* the run was cancelled */
    SL_ERR_INTERNAL  /* a bug in sluice */
} sl_status;

#define SL_ERROR_MESSAGE_MAX 1024
#define SL_ERROR_NAME_MAX 512

typedef struct sl_error {
    sl_status code;
    /* where: any of these may be empty / zero when they do not apply */
    char file[SL_ERROR_NAME_MAX];   /* the pipeline file or data file the error is about */
    int line, col;                   /* 1-based position in a text file, 0 when none */
    char stage[128];                 /* the stage that failed, "" when none */
    char message[SL_ERROR_MESSAGE_MAX];
} sl_error;

/* Resets err to SL_OK with no message. err may be NULL. */
void sl_error_clear(sl_error *err);

/* Short name of a status ("config error", "I/O error", ...). */
const char *sl_status_name(sl_status code);

/* Writes "file:line:col: stage 'S': message" (the parts that are set) into buf.
 * Returns buf. */
const char *sl_error_format(const sl_error *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
