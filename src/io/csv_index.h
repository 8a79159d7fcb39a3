/* The index of a CSV file: the byte offset and line of every `every`-th
 * data record (and of some more, where the parallel pass's segments join),
 * found by one pass over the file (a block at a time, so memory stays at a
 * block plus the longest record per thread). With it each chunk of rows is
 * read and parsed on its own thread. */
#ifndef SL_IO_CSV_INDEX_H
#define SL_IO_CSV_INDEX_H

#include <stdint.h>
#include "io/csv_scan.h"
#include "io/csv_source.h"

typedef struct sl__csv_index {
    int64_t rows;       /* data records (bad ones skipped when the reader skips them) */
    int64_t skipped;    /* bad records skipped */
    int64_t first_skipped_line;
    size_t n;           /* entries, by record; rec[n], off[n], line[n]: the end of the data */
    int64_t *rec;       /* the data record's number (from 0), at most `every` apart */
    int64_t *off;       /* its byte offset */
    int64_t *line;      /* its line */
} sl__csv_index;

/* Indexes the records of src from byte `start` (line `line0`) on up to
 * `threads` threads (one for a gzip source); the index is the same for any
 * thread count. r->skip_bad: each record is also parsed, so that bad ones
 * are skipped and not counted (the run's parse makes the same choices);
 * otherwise records are only delimited. Errors (an unterminated quote, a
 * read error) name the file. */
sl_status sl__csv_index_build(sl__csv_source *src, const sl__csv_reader *r, int64_t start, int64_t line0,
                              int64_t every, int threads, sl__csv_index *ix, sl_error *err);
/* The smallest segment of text a thread of the index pass takes (16 MiB;
 * the unit tests lower it to split small texts). */
extern int64_t sl__csv_min_segment;

/* The last entry at or before data record `row`. */
size_t sl__csv_index_find(const sl__csv_index *ix, int64_t row);
void sl__csv_index_free(sl__csv_index *ix);

#endif
