/* CSV text: record boundaries that respect quoted fields, field splitting,
 * and parsing records into typed rows. Pure functions on bytes in memory:
 * load.csv (src/ops/load_csv.c) feeds them the file's bytes, the index pass
 * a block at a time and each chunk's reader the chunk's byte range. */
#ifndef SL_IO_CSV_SCAN_H
#define SL_IO_CSV_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"
#include "sluice/frame.h"

typedef struct sl__csv_dialect {
    char delim;   /* ',' or '\t' or any byte but '"', '\r', '\n' */
    char quote;   /* '"' */
    char comment; /* a record starting with it is skipped; 0: none */
} sl__csv_dialect;

/* Record scanning. A quote matters only at the start of a field: there it
 * opens a quoted field, in which "" is a quote and newlines and delimiters
 * are text. Length of the record starting at p (of n bytes): through its
 * '\n', or to n at the end of the file (at_eof). 0 when the record does not
 * end within n bytes and more text follows. At the end of the file inside a
 * quoted field, *open_quote is the offset of its opening quote (else -1).
 * *newlines: the '\n' in the record (more than 1 with quoted newlines). */
size_t sl__csv_record_len(const sl__csv_dialect *d, const char *p, size_t n, int at_eof, long long *open_quote,
                          int64_t *newlines);

/* 1 when the record (as sl__csv_record_len delimits it) holds no data: an
 * empty line, or a comment line. */
int sl__csv_record_skipped(const sl__csv_dialect *d, const char *p, size_t len);

/* One field of a record: its text between the delimiters (between the
 * quotes when quoted, "" not yet undone). bad: text after a closing quote. */
typedef struct sl__csv_field {
    const char *p;
    size_t n;
    unsigned char quoted, bad;
} sl__csv_field;

/* Splits a record (its line ending included or not) into fields; stores at
 * most max of them and returns how many there are. */
size_t sl__csv_split(const sl__csv_dialect *d, const char *rec, size_t len, sl__csv_field *f, size_t max);

/* The text of a quoted field with "" made ", into buf (size bytes, NUL
 * ended, cut to fit); its length. */
size_t sl__csv_unquote(const sl__csv_field *f, char quote, char *buf, size_t size);

/* What a record's fields become: file column c goes to column col[c] of
 * array arr[c] (-1: read by nobody). */
typedef struct sl__csv_reader {
    sl__csv_dialect d;
    size_t ncols;              /* fields a record must have */
    const int *arr;            /* per file column */
    const int64_t *col;        /* per file column */
    size_t n_arrays;
    const sl_dtype *dtype;     /* per array: float64, float32, int64 or int32 */
    const int64_t *cols;       /* per array */
    const char *const *na;     /* spellings of a missing value */
    size_t n_na;
    int na_numeric;            /* 1 when a spelling parses as a number: look it up first */
    int skip_bad;              /* 1: a bad record is skipped and counted, not an error */
    const char *file;          /* for messages */
    const char *const *names;  /* per file column, for messages */
} sl__csv_reader;

/* Parses the records of buf[0..len) (whole records; the last may lack its
 * '\n' at the end of the file) into rows row0.. of data[a] (row-major,
 * cols[a] values of dtype[a] a row), stopping after max_rows rows. line0: the
 * file's line number of buf[0], for messages. *rows: rows written;
 * *skipped: bad records skipped. Errors name file:line:column, the value,
 * the column and what to do. fields: scratch of ncols + 1 entries. */
sl_status sl__csv_parse(const sl__csv_reader *r, const char *buf, size_t len, int64_t line0, void *const *data,
                        int64_t max_rows, sl__csv_field *fields, int64_t *rows, int64_t *skipped, sl_error *err);

/* 1 when s[0..n) is valid UTF-8; else 0 with *bad the offset of the first
 * bad byte. */
int sl__csv_utf8_ok(const char *s, size_t n, size_t *bad);

#endif
