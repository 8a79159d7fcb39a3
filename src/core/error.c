#include <stdio.h>
#include <string.h>
#include "core/error_int.h"

void sl_error_clear(sl_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

const char *sl_status_name(sl_status code)
{
    switch (code) {
    case SL_OK: return "ok";
    case SL_ERR_CONFIG: return "config error";
    case SL_ERR_USAGE: return "usage error";
    case SL_ERR_IO: return "I/O error";
    case SL_ERR_DATA: return "data error";
    case SL_ERR_NOMEM: return "out of memory";
    case SL_ERR_CANCELLED: return "cancelled";
    case SL_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

sl_status sl__error_vset(sl_error *err, sl_status code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return code;
}

sl_status sl__error_set(sl_error *err, sl_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl__error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

sl_status sl__error_at(sl_error *err, sl_status code, const char *file, int line, int col, const char *fmt, ...)
{
    if (!err)
        return code;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    err->col = col;
    va_list ap;
    va_start(ap, fmt);
    sl__error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void sl__error_stage(sl_error *err, const char *stage)
{
    if (err && stage && !err->stage[0])
        snprintf(err->stage, sizeof err->stage, "%s", stage);
}

void sl__error_append(sl_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    size_t used = strlen(err->message);
    if (used + 1 >= sizeof err->message)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message + used, sizeof err->message - used, fmt, ap);
    va_end(ap);
}

/* Appends to buf at *used, keeping it NUL-terminated when it fills up. */
static void put(char *buf, size_t size, size_t *used, const char *fmt, ...) SL_PRINTF(4, 5);

static void put(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (w > 0)
        *used = *used + (size_t)w < size ? *used + (size_t)w : size - 1;
}

const char *sl_error_format(const sl_error *err, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0';
    if (!err)
        return buf;
    size_t n = 0;
    if (err->file[0]) {
        put(buf, size, &n, "%s", err->file);
        if (err->line > 0)
            put(buf, size, &n, ":%d", err->line);
        if (err->line > 0 && err->col > 0)
            put(buf, size, &n, ":%d", err->col);
        put(buf, size, &n, ": ");
    }
    if (err->stage[0])
        put(buf, size, &n, "stage '%s': ", err->stage);
    put(buf, size, &n, "%s", err->message[0] ? err->message : sl_status_name(err->code));
    return buf;
}
