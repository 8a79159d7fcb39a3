/* load.csv: reads a delimited text file into a frame. Plan time reads the
 * header and a sample (column names, types, the arrays' shapes) and indexes
 * the whole file once (where every chunk's first record starts, so rows are
 * known at plan time like load.hdf5's); the run parses the chunks on all the
 * run's threads, each reading its own byte range with pread. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/error_int.h"
#include "core/fsutil.h"
#include "core/frame_int.h"
#include "io/csv_index.h"
#include "io/csv_num.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"file", SL_PARAM_PATH, 1, NULL, NULL, 0, 0,
     "CSV (or TSV) file to read, plain or gzip-compressed; a relative path is relative to the pipeline file's folder"},
    {"arrays", SL_PARAM_STRING_MAP, 0, NULL, NULL, 0, 0,
     "frame array name -> its columns, header names or 0-based indices, as a list or separated by commas, "
     "e.g. { X: [a, b, 2], y: price } or { X: 'a,b,2', y: price }; absent: one array X of every column"},
    {"dtypes", SL_PARAM_STRING_MAP, 0, NULL, NULL, 0, 0,
     "frame array name -> float64, float32, int64 or int32; an array not named is int64 when its columns hold "
     "only integers in the sample, float64 otherwise"},
    {"delimiter", SL_PARAM_STRING, 0, NULL, NULL, 0, 0,
     "the field delimiter, one character ('tab' or '\\t' for a tab); absent: a tab for .tsv files, ',' otherwise"},
    {"header", SL_PARAM_BOOL, 0, "true", NULL, 0, 0,
     "true: the first record names the columns; false: columns are named by their index (0, 1, ...)"},
    {"na_values", SL_PARAM_STRING_LIST, 0, "['', NA, N/A, NaN, nan, 'null', 'NULL']", NULL, 0, 0,
     "spellings of a missing value: NaN in a float array, an error in an integer array"},
    {"comment", SL_PARAM_STRING, 0, NULL, NULL, 0, 0,
     "one character: records starting with it are skipped (absent: no comments)"},
    {"on_bad_row", SL_PARAM_CHOICE, 0, "error", "error|skip", 0, 0,
     "error: a bad record (wrong field count, a value that is not a number) stops the stage; skip: it is left "
     "out and counted (result rows_skipped)"},
    {"sample_rows", SL_PARAM_INT, 0, "1000", NULL, 1, 1000000,
     "records read at plan time to infer the arrays' types"},
};

typedef struct csv_state {
    const char *file;
    sl__csv_source src;
    sl__csv_reader r;
    sl__csv_index ix;
    size_t ncols;
    char **names;   /* per file column */
    int *arr;
    int64_t *col;
    size_t n_arrays;
    sl_dtype *dtype;
    int64_t *cols;
    const char **na_owned; /* na_values as an array (the strings are the params') */
    size_t sample_end;     /* where the sample ends in the file's head */
    /* the chunks' text buffers, reused: a fresh malloc of a chunk's text
     * each time maps and faults in new pages, which serialises threads */
    pthread_mutex_t pool_mu;
    char *pool[64];
    size_t pool_size[64];
    size_t n_pool;
    int64_t sample_line;   /* the line the data starts on */
    int64_t sample_rows;   /* records in the sample */
} csv_state;

static void free_state(void *p)
{
    csv_state *s = p;
    if (!s)
        return;
    sl__csv_source_close(&s->src);
    for (size_t c = 0; s->names && c < s->ncols; c++)
        free(s->names[c]);
    free(s->names);
    free(s->arr);
    free(s->col);
    free(s->dtype);
    free(s->cols);
    free(s->na_owned);
    for (size_t i = 0; i < s->n_pool; i++)
        free(s->pool[i]);
    pthread_mutex_destroy(&s->pool_mu);
    sl__csv_index_free(&s->ix);
    free(s);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* A one-character parameter: 0 when absent, -1 when not one character. */
static int one_char(const sl_params *p, const char *name)
{
    const char *v = sl_params_string(p, name);
    if (!v)
        return 0;
    if (strcmp(v, "tab") == 0 || strcmp(v, "\\t") == 0)
        return '\t';
    return strlen(v) == 1 && v[0] != '"' && v[0] != '\n' && v[0] != '\r' ? (unsigned char)v[0] : -1;
}

/* The head of the file, up to `max` bytes, NUL ended. */
static sl_status read_head(csv_state *s, char **out, size_t *len, sl_error *err)
{
    size_t max = (size_t)8 << 20;
    char *buf = malloc(max + 1);
    if (!buf)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    size_t got = 0, k = 1;
    while (got < max && k > 0) {
        sl_status rc = sl__csv_source_read(&s->src, buf + got, max - got, (int64_t)got, &k, err);
        if (rc) {
            free(buf);
            return rc;
        }
        got += k;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return SL_OK;
}

/* Finds the next data record of head[*pos..len): its length, 0 at the end of
 * the head; *line follows the lines. at_eof: the head is the whole file. */
static size_t next_record(const csv_state *s, const char *head, size_t len, size_t *pos, int64_t *line, int at_eof)
{
    while (*pos < len) {
        long long open;
        int64_t nl;
        size_t n = sl__csv_record_len(&s->r.d, head + *pos, len - *pos, at_eof, &open, &nl);
        if (n == 0 || open >= 0)
            return 0; /* cut by the head's end, or unterminated: the index says where */
        if (!sl__csv_record_skipped(&s->r.d, head + *pos, n))
            return n;
        *pos += n;
        *line += nl;
    }
    return 0;
}

static sl_status read_header(sl_stage *st, csv_state *s, const char *head, size_t len, size_t *pos, int64_t *line,
                             int at_eof, sl_error *err)
{
    int header = sl_params_bool(sl_stage_params(st), "header");
    size_t n = next_record(s, head, len, pos, line, at_eof);
    if (n == 0)
        return sl_stage_error(st, err, SL_ERR_DATA, "file",
                              "'%s' has no records%s; check the file (and 'comment', 'delimiter')", s->file,
                              len >= ((size_t)8 << 20) ? " in its first 8 MiB" : "");
    size_t k = sl__csv_split(&s->r.d, head + *pos, n, NULL, 0);
    sl__csv_field *f = malloc(k * sizeof *f);
    s->names = calloc(k, sizeof *s->names);
    if (!f || !s->names) {
        free(f);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    s->ncols = k;
    sl__csv_split(&s->r.d, head + *pos, n, f, k);
    sl_status rc = SL_OK;
    for (size_t c = 0; c < k && rc == SL_OK; c++) {
        char buf[32];
        size_t bad;
        if (header && !sl__csv_utf8_ok(f[c].p, f[c].n, &bad)) {
            rc = sl_stage_error(st, err, SL_ERR_DATA, "file",
                                "%s:%lld:%lld: the header's column %zu is not valid UTF-8 (byte 0x%02x); save the "
                                "file as UTF-8, or set header: false",
                                s->file, (long long)*line, (long long)(f[c].p + bad - (head + *pos)) + 1, c + 1,
                                (unsigned char)f[c].p[bad]);
            break;
        }
        size_t size = header ? f[c].n + 1 : sizeof buf;
        s->names[c] = malloc(size);
        if (!s->names[c])
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        else if (header)
            sl__csv_unquote(&f[c], s->r.d.quote, s->names[c], size);
        else
            snprintf(s->names[c], size, "%zu", c);
    }
    free(f);
    if (rc == SL_OK && header) {
        *pos += n;
        *line += 1;
        for (size_t q = *pos - n; q + 1 < *pos; q++) /* quoted newlines in the header */
            *line += head[q] == '\n';
    }
    return rc;
}

/* Column reference `ref` (a header name, else a 0-based index): its index, or -1. */
static long find_column(const csv_state *s, const char *ref)
{
    for (size_t c = 0; c < s->ncols; c++)
        if (strcmp(s->names[c], ref) == 0)
            return (long)c;
    char *end;
    long v = strtol(ref, &end, 10);
    return *ref && *end == '\0' && v >= 0 && (size_t)v < s->ncols ? v : -1;
}

/* Maps the columns named by `arrays` to frame arrays. */
static sl_status map_columns(sl_stage *st, csv_state *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    size_t na = sl_params_len(p, "arrays");
    s->n_arrays = na ? na : 1;
    s->arr = malloc(s->ncols * sizeof *s->arr);
    s->col = calloc(s->ncols, sizeof *s->col);
    s->cols = calloc(s->n_arrays, sizeof *s->cols);
    s->dtype = calloc(s->n_arrays, sizeof *s->dtype);
    if (!s->arr || !s->col || !s->cols || !s->dtype)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < s->ncols; c++)
        s->arr[c] = na ? -1 : 0;
    if (!na) {
        for (size_t c = 0; c < s->ncols; c++)
            s->col[c] = (int64_t)c;
        s->cols[0] = (int64_t)s->ncols;
        return SL_OK;
    }
    for (size_t a = 0; a < na; a++) {
        const char *list = sl_params_map_value(p, "arrays", a), *name = sl_params_map_key(p, "arrays", a);
        for (const char *q = list;;) {
            const char *e = strchr(q, ',');
            size_t k = e ? (size_t)(e - q) : strlen(q);
            char ref[256];
            while (k && *q == ' ') {
                q++;
                k--;
            }
            while (k && q[k - 1] == ' ')
                k--;
            snprintf(ref, sizeof ref, "%.*s", (int)k, q);
            long c = find_column(s, ref);
            if (c < 0) {
                char some[512] = "";
                for (size_t j = 0; j < s->ncols && strlen(some) < 400; j++)
                    snprintf(some + strlen(some), sizeof some - strlen(some), "%s'%s'", j ? ", " : "", s->names[j]);
                return sl_stage_error(st, err, SL_ERR_CONFIG, "arrays",
                                      "array '%s': '%s' has no column '%s' (its %zu columns: %s%s); name a column "
                                      "of the header, or give its 0-based index",
                                      name, s->file, ref, s->ncols, some, strlen(some) >= 400 ? ", ..." : "");
            }
            if (s->arr[c] >= 0)
                return sl_stage_error(st, err, SL_ERR_CONFIG, "arrays",
                                      "column '%s' of '%s' is named twice in 'arrays' (arrays '%s' and '%s'); "
                                      "name each column once",
                                      s->names[c], s->file, sl_params_map_key(p, "arrays", (size_t)s->arr[c]), name);
            s->arr[c] = (int)a;
            s->col[c] = s->cols[a]++;
            if (!e)
                break;
            q = e + 1;
        }
    }
    return SL_OK;
}

/* The arrays' types: given in dtypes, else inferred from the sample. */
static sl_status infer_types(sl_stage *st, csv_state *s, const char *head, size_t len, size_t pos, int64_t line,
                             int at_eof, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    int64_t sample = sl_params_int(p, "sample_rows");
    unsigned char *not_int = calloc(s->n_arrays, 1);
    sl__csv_field *f = malloc((s->ncols + 1) * sizeof *f);
    if (!not_int || !f) {
        free(not_int);
        free(f);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    sl_status rc = SL_OK;
    for (int64_t k = 0; k < sample && rc == SL_OK; k++) {
        size_t n = next_record(s, head, len, &pos, &line, at_eof);
        if (n == 0)
            break;
        s->sample_rows++;
        size_t nf = sl__csv_split(&s->r.d, head + pos, n, f, s->ncols + 1);
        for (size_t c = 0; c < s->ncols && c < nf; c++) {
            int64_t i;
            int a = s->arr[c];
            if (a >= 0 && !not_int[a] && (f[c].quoted || sl__csv_parse_int64(f[c].p, f[c].n, &i) != 1))
                not_int[a] = 1;
        }
        long long open;
        int64_t nl;
        sl__csv_record_len(&s->r.d, head + pos, n, 1, &open, &nl);
        pos += n;
        line += nl;
    }
    s->sample_end = pos;
    size_t nd = sl_params_len(p, "dtypes");
    for (size_t a = 0; a < s->n_arrays; a++)
        s->dtype[a] = not_int[a] ? SL_FLOAT64 : SL_INT64;
    for (size_t d = 0; d < nd && rc == SL_OK; d++) {
        const char *name = sl_params_map_key(p, "dtypes", d), *t = sl_params_map_value(p, "dtypes", d);
        size_t a = 0;
        while (a < s->n_arrays && strcmp(sl_params_len(p, "arrays") ? sl_params_map_key(p, "arrays", a) : "X", name))
            a++;
        sl_dtype dt = sl_dtype_from_name(t);
        if (a == s->n_arrays)
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "dtypes",
                                "'dtypes' names array '%s', which 'arrays' does not make; name one of its arrays",
                                name);
        else if (dt != SL_FLOAT64 && dt != SL_FLOAT32 && dt != SL_INT64 && dt != SL_INT32)
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "dtypes",
                                "array '%s': dtype '%s' is not one load.csv reads; give float64, float32, int64 or "
                                "int32",
                                name, t);
        else
            s->dtype[a] = dt;
    }
    free(not_int);
    free(f);
    return rc;
}

/* Parses the sample with the run's parser, so that a bad value or row in
 * it fails `sluice check` with the message the run would give. */
static sl_status check_sample(csv_state *s, const char *head, size_t start, sl_error *err)
{
    int64_t width = 0, rows, skipped;
    for (size_t a = 0; a < s->n_arrays; a++)
        width += s->cols[a];
    int64_t cap = s->sample_rows ? s->sample_rows : 1;
    double *scratch = malloc((size_t)(width ? width : 1) * (size_t)cap * 8);
    void **data = calloc(s->n_arrays, sizeof *data);
    sl__csv_field *f = malloc((s->ncols + 1) * sizeof *f);
    sl_status rc = scratch && data && f ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t a = 0, k = 0; rc == SL_OK && a < s->n_arrays; k += (size_t)(s->cols[a] * cap), a++)
        data[a] = scratch + k;
    if (rc == SL_OK)
        rc = sl__csv_parse(&s->r, head + start, s->sample_end - start, s->sample_line, data, cap, f, &rows,
                           &skipped, err);
    free(scratch);
    free(data);
    free(f);
    return rc;
}

/* Records between index entries. The run's chunk rows may differ from the
 * plan's (`sluice run --chunk-rows`): an entry every 1024 records (or every
 * chunk, when chunks are smaller) bounds what a chunk starting between two
 * entries skips, and costs 24 bytes per 1024 rows. */
static int64_t index_every(const sl_stage *st)
{
    int64_t cr = sl_stage_chunk_rows(st);
    return cr > 0 && cr < 1024 ? cr : 1024;
}

static const char *const default_na[] = {"", "NA", "N/A", "NaN", "nan", "null", "NULL"};

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    csv_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->pool_mu, NULL);
    sl_stage_set_state(st, s);
    s->file = sl_params_string(p, "file");
    s->src.fd = -1;
    int delim = one_char(p, "delimiter"), comment = one_char(p, "comment");
    if (delim < 0 || comment < 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, delim < 0 ? "delimiter" : "comment",
                              "'%s' must be one character (not a quote or a line break), found '%s'",
                              delim < 0 ? "delimiter" : "comment", sl_params_string(p, delim < 0 ? "delimiter" : "comment"));
    /* the extension before a .gz names the format */
    size_t fl = strlen(s->file) - (ends_with(s->file, ".gz") ? 3 : 0);
    int tsv = (fl >= 4 && strncmp(s->file + fl - 4, ".tsv", 4) == 0) ||
              (fl >= 4 && strncmp(s->file + fl - 4, ".tab", 4) == 0);
    s->r.d.delim = (char)(delim ? delim : tsv ? '\t' : ',');
    s->r.d.quote = '"';
    s->r.d.comment = (char)comment;
    struct stat sb;
    int fd = sl__open_read(s->file, &sb);
    if (fd < 0) {
        char why[256];
        sl__open_error_text(errno, &sb, why, sizeof why);
        return sl_stage_error(st, err, SL_ERR_IO, "file",
                              "cannot open CSV file '%s': %s; check 'file' (a relative path is relative to the "
                              "pipeline file's folder)",
                              s->file, why);
    }
    sl_status rc = sl__csv_source_open(&s->src, fd, s->file, err);
    char *head = NULL;
    size_t len = 0;
    if (rc == SL_OK)
        rc = read_head(s, &head, &len, err);
    if (rc)
        return rc == SL_ERR_NOMEM ? rc : sl__stage_locate(st, err, "file");
    int at_eof = len < ((size_t)8 << 20); /* read_head stops at the end of the text only */
    size_t pos = len >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* a UTF-8 byte order mark */
    int64_t line = 1;
    rc = read_header(st, s, head, len, &pos, &line, at_eof, err);
    if (rc == SL_OK)
        rc = map_columns(st, s, err);
    if (rc == SL_OK)
        rc = infer_types(st, s, head, len, pos, line, at_eof, err);
    size_t data_start = pos;
    s->sample_line = line;
    if (rc) {
        free(head);
        return rc;
    }
    /* the reader the index (skip mode) and the chunks use */
    s->r.ncols = s->ncols;
    s->r.arr = s->arr;
    s->r.col = s->col;
    s->r.n_arrays = s->n_arrays;
    s->r.dtype = s->dtype;
    s->r.cols = s->cols;
    s->r.n_na = sl_params_has(p, "na_values") ? sl_params_len(p, "na_values") : 7;
    s->r.na = sl_params_has(p, "na_values") ? NULL : default_na;
    s->r.skip_bad = strcmp(sl_params_string(p, "on_bad_row"), "skip") == 0;
    s->r.file = s->file;
    s->r.names = (const char *const *)s->names;
    const char **na = NULL;
    if (!s->r.na) {
        na = calloc(s->r.n_na ? s->r.n_na : 1, sizeof *na);
        if (!na)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < s->r.n_na; i++)
            na[i] = sl_params_list_string(p, "na_values", i);
        s->r.na = s->na_owned = na; /* the strings are the params' */
    }
    /* a spelling that reads as a number other than NaN must be looked up
     * before parsing; NaN spellings give NaN either way */
    for (size_t i = 0; i < s->r.n_na; i++) {
        double d;
        int64_t v;
        size_t n = strlen(s->r.na[i]);
        s->r.na_numeric |= (sl__csv_parse_double(s->r.na[i], n, &d) && !isnan(d)) ||
                           sl__csv_parse_int64(s->r.na[i], n, &v) == 1;
    }
    if (!s->r.skip_bad)
        rc = check_sample(s, head, data_start, err);
    free(head);
    if (rc && rc != SL_ERR_NOMEM)
        sl__stage_locate(st, err, "file");
    if (rc == SL_OK)
        rc = sl__csv_index_build(&s->src, &s->r, (int64_t)data_start, s->sample_line, index_every(st),
                                 omp_get_max_threads(), &s->ix, err);
    if (rc && rc != SL_ERR_NOMEM)
        sl__stage_locate(st, err, "file");
    if (rc == SL_OK && s->ix.rows == 0)
        rc = sl_stage_error(st, err, SL_ERR_DATA, "file", "'%s' has a header but no data rows%s", s->file,
                            s->ix.skipped ? " that parse (every row was skipped as bad)" : "");
    sl_frame *out = sl_stage_output(st);
    for (size_t a = 0; a < s->n_arrays && rc == SL_OK; a++) {
        const char *name = sl_params_len(p, "arrays") ? sl_params_map_key(p, "arrays", a) : "X";
        rc = sl_frame_add(out, name, s->dtype[a], s->cols[a], err);
        const char **cn = rc == SL_OK ? calloc((size_t)s->cols[a], sizeof *cn) : NULL;
        if (rc == SL_OK && !cn)
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (size_t c = 0; cn && c < s->ncols; c++)
            if (s->arr[c] == (int)a)
                cn[s->col[c]] = s->names[c];
        if (cn)
            rc = sl_frame_set_columns(out, name, cn, err);
        free(cn);
        if (rc)
            sl__stage_locate(st, err, "arrays");
    }
    if (rc == SL_OK)
        sl_frame_set_rows(out, s->ix.rows);
    return rc;
}

/* A buffer of at least n bytes from the pool (or new); *size: its size. */
static char *buf_take(csv_state *s, size_t n, size_t *size)
{
    char *b = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->n_pool) {
        s->n_pool--;
        b = s->pool[s->n_pool];
        *size = s->pool_size[s->n_pool];
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (b && *size >= n)
        return b;
    free(b);
    *size = n + n / 4 + 4096;
    return malloc(*size);
}

static void buf_give(csv_state *s, char *b, size_t size)
{
    pthread_mutex_lock(&s->pool_mu);
    if (b && s->n_pool < sizeof s->pool / sizeof s->pool[0]) {
        s->pool[s->n_pool] = b;
        s->pool_size[s->n_pool++] = size;
        b = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    free(b);
}

/* Runs on many threads at once (read_parallel): each chunk reads its own
 * byte range with pread and parses it. A chunk starts at an indexed record
 * when the executor's chunks are the index's (always, in a run); any other
 * row range is found by skipping records from the entry before it. */
static sl_status read_chunk(void *ctx, sl_chunk *out, sl_error *err)
{
    csv_state *s = ctx;
    const sl__csv_index *ix = &s->ix;
    size_t k = sl__csv_index_find(ix, out->row0), e = sl__csv_index_find(ix, out->row0 + out->rows);
    if (ix->rec[e] < out->row0 + out->rows) /* the range ends inside entry e: read it too */
        e++;
    if (out->row0 < 0 || out->row0 + out->rows > ix->rows)
        return sl__error_set(err, SL_ERR_INTERNAL, "load.csv: rows %lld..%lld are past the %lld indexed",
                             (long long)out->row0, (long long)(out->row0 + out->rows), (long long)ix->rows);
    size_t len = (size_t)(ix->off[e] - ix->off[k]), bsize = 0;
    char *buf = buf_take(s, len ? len : 1, &bsize);
    sl__csv_field *f = malloc((s->ncols + 1) * sizeof *f);
    void **data = calloc(s->n_arrays, sizeof *data);
    sl_status rc = buf && f && data ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (rc == SL_OK)
        rc = sl__csv_source_read_all(&s->src, buf, len, ix->off[k], err);
    size_t start = 0;
    int64_t line = ix->line[k];
    /* records before row0 in this byte range (bad ones do not count when skipped) */
    for (int64_t skip = out->row0 - ix->rec[k]; rc == SL_OK && skip > 0;) {
        long long open;
        int64_t nl, rows = 0, skipped = 0;
        size_t n = sl__csv_record_len(&s->r.d, buf + start, len - start, 1, &open, &nl);
        int data_rec = !sl__csv_record_skipped(&s->r.d, buf + start, n);
        if (data_rec && s->r.skip_bad) { /* does it count? parse it into the chunk's first row */
            for (size_t a = 0; a < s->n_arrays; a++)
                data[a] = out->arrays[a].data;
            sl__csv_parse(&s->r, buf + start, n, line, data, 1, f, &rows, &skipped, err);
            data_rec = rows == 1;
        }
        skip -= data_rec;
        start += n;
        line += nl;
    }
    int64_t rows = 0, skipped = 0;
    for (size_t a = 0; rc == SL_OK && a < s->n_arrays; a++)
        data[a] = out->arrays[a].data;
    if (rc == SL_OK)
        rc = sl__csv_parse(&s->r, buf + start, len - start, line, data, out->rows, f, &rows, &skipped, err);
    /* the parse stops after out->rows rows: the range may hold more */
    if (rc == SL_OK && rows < out->rows)
        rc = sl__error_set(err, SL_ERR_IO,
                           "'%s': rows %lld..%lld hold %lld records now, not the %lld indexed at plan time; did "
                           "the file change while sluice read it? Run again",
                           s->file, (long long)out->row0, (long long)(out->row0 + out->rows), (long long)rows,
                           (long long)out->rows);
    buf_give(s, buf, bsize);
    free(f);
    free(data);
    return rc;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    csv_state *s = sl_stage_state(st);
    sl_frame *out = sl_stage_output(st);
    sl_pass pass = {.name = "read",
                    .output = out,
                    .ctx = s,
                    .source_rows = sl_frame_rows(out),
                    .read = read_chunk,
                    /* gzip text is decompressed by one reader */
                    .read_parallel = !sl__csv_source_serial(&s->src)};
    sl_status rc = sl_exec_pass(ex, st, &pass, NULL, err);
    if (rc == SL_OK && s->r.skip_bad)
        rc = sl_stage_set_result(st, "rows_skipped", (double)s->ix.skipped, err);
    if (rc == SL_OK && s->ix.skipped)
        rc = sl_stage_set_result(st, "first_skipped_line", (double)s->ix.first_skipped_line, err);
    return rc;
}

static const char op_doc[] =
    "Reads a delimited text file (CSV, TSV, any one-character delimiter) into a\n"
    "frame. `arrays` says which columns fill which array, by header name or\n"
    "0-based index: `{ X: 'a,b,c', y: price }` makes X of 3 columns and y of 1\n"
    "(without `arrays`, one array X holds every column). The header's names become\n"
    "the arrays' column names.\n"
    "\n"
    "The text follows RFC 4180: a field that starts with `\"` is quoted, and may\n"
    "hold delimiters, line breaks and `\"\"` (one quote); a quote inside an\n"
    "unquoted field is text. Lines end in LF or CRLF; a UTF-8 byte order mark\n"
    "is skipped; empty lines, and lines starting with `comment`, are skipped.\n"
    "Surrounding spaces of a number are allowed.\n"
    "\n"
    "Numbers are read exactly: each is the double nearest its decimal value\n"
    "(the bits `strtod` gives), whatever the locale, so a CSV file and an HDF5\n"
    "file of the same numbers (written with 17 significant digits) give the\n"
    "same bits. `inf`, `infinity` and `nan` in any case, with a sign, are\n"
    "numbers; hexadecimal floats are not. float32 arrays hold each value's\n"
    "double rounded to float32. A missing value (`na_values`) is NaN in a float\n"
    "array and an error in an integer array. An array's type is `dtypes`' entry,\n"
    "else int64 when its columns hold only integers in the first `sample_rows`\n"
    "records, else float64.\n"
    "\n"
    "How it runs: at plan time it reads the header and the sample, then indexes\n"
    "the file (the byte offset of every 1024th record, found with the quoting\n"
    "rules above, so a quoted line break or delimiter never splits a record):\n"
    "the row count is known when the pipeline is planned. The index pass runs\n"
    "on all cores (OMP_NUM_THREADS): each thread takes a part of the file and\n"
    "guesses that the line after its start begins a record; the parts are\n"
    "joined in order and a part whose guess was wrong is scanned again, so the\n"
    "index is the sequential one. The run parses the chunks on all the run's threads, each chunk\n"
    "reading its own byte range; memory is a chunk's text per thread, whatever\n"
    "the file's size. The values do not depend on the thread count.\n"
    "\n"
    "A gzip file (`.csv.gz`, `.tsv.gz`; any file starting with gzip's magic\n"
    "bytes) is decompressed with zlib as it is read: the index pass and the\n"
    "chunks' reads are then sequential, on one thread (the parse of a chunk\n"
    "still overlaps the stages after it), and the text is decompressed twice,\n"
    "once to index it and once to read it.\n"
    "\n"
    "The file's identity (size and modification time, or its content with\n"
    "`verify: content`) is in the cache key: editing the file makes the stage\n"
    "and those after it stale. The stage's checkpoint stores the parsed arrays.\n"
    "\n"
    "Checked when the pipeline is planned (so `sluice check` finds it): the file\n"
    "opens and is a regular file (exit 3); the header is valid UTF-8; every\n"
    "column `arrays` names exists (the error lists the columns); `dtypes` names\n"
    "arrays it makes, with a type load.csv reads; every quote is closed (the\n"
    "error gives the line and column where the open quote starts); and the\n"
    "sample parses. Errors in the data (a row with too few or too many fields, a\n"
    "value that is not a number, a missing value in an integer array, text after\n"
    "a closing quote) name `file:line:column`, the value and the column, and stop\n"
    "the stage (exit 1), unless `on_bad_row: skip`: then the record is left out,\n"
    "and the results `rows_skipped` and `first_skipped_line` say how many and\n"
    "where the first was (skipping is decided at plan time, which then parses\n"
    "the whole file once more, on one thread).\n";

const sl_op sl__op_load_csv = {
    .abi = SL_ABI_VERSION,
    .name = "load.csv",
    .summary = "read columns of a CSV or TSV file into a frame",
    .doc = op_doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .flags = SL_OP_SOURCE | SL_OP_STREAMABLE,
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
