/* Where a CSV file's text comes from: a plain file, read with pread at any
 * offset from any thread, or a gzip file, decompressed by zlib for one
 * reader at a time (offsets are in the decompressed text; reading behind
 * the last read decompresses again from the start). */
#ifndef SL_IO_CSV_SOURCE_H
#define SL_IO_CSV_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"

typedef struct sl__csv_source {
    int fd;           /* owned */
    void *gz;         /* gzFile over a dup of fd, or NULL for plain text */
    const char *file; /* for messages */
} sl__csv_source;

/* Takes fd (open on `file`); gzip when the file starts with gzip's magic bytes. */
sl_status sl__csv_source_open(sl__csv_source *src, int fd, const char *file, sl_error *err);
/* The size of a plain file's text (-1 when unknown). */
int64_t sl__csv_source_size(const sl__csv_source *src);
/* 1 for a gzip file: only one thread may read at a time. */
int sl__csv_source_serial(const sl__csv_source *src);
/* Reads up to n bytes at offset off into buf; *got is 0 at the end. */
sl_status sl__csv_source_read(sl__csv_source *src, char *buf, size_t n, int64_t off, size_t *got, sl_error *err);
/* Reads exactly n bytes at off (the file ending first is an error). */
sl_status sl__csv_source_read_all(sl__csv_source *src, char *buf, size_t n, int64_t off, sl_error *err);
void sl__csv_source_close(sl__csv_source *src);

#endif
