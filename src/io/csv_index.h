/* The index of a CSV file: the byte offset and line of every `every`-th
 * data record, found by one sequential pass over the file (pread, a block
 * at a time, so memory stays at a block plus the longest record). With it
 * each chunk of rows is read and parsed on its own thread. */
#ifndef SL_IO_CSV_INDEX_H
#define SL_IO_CSV_INDEX_H

#include <stdint.h>
#include "io/csv_scan.h"
#include "io/csv_source.h"

typedef struct sl__csv_index {
    int64_t every;      /* records between entries (the chunk rows) */
    int64_t rows;       /* data records (bad ones skipped when the reader skips them) */
    int64_t skipped;    /* bad records skipped */
    int64_t first_skipped_line;
    size_t n;           /* entries; off[n], line[n]: the end of the data */
    int64_t *off;
    int64_t *line;
} sl__csv_index;

/* Indexes the records of src from byte `start` (line `line0`). r->skip_bad:
 * each record is also parsed, so that bad ones are skipped and not counted
 * (the run's parse makes the same choices); otherwise records are only
 * delimited. Errors (an unterminated quote, a read error) name the file. */
sl_status sl__csv_index_build(sl__csv_source *src, const sl__csv_reader *r, int64_t start, int64_t line0,
                              int64_t every, sl__csv_index *ix, sl_error *err);
void sl__csv_index_free(sl__csv_index *ix);

#endif
