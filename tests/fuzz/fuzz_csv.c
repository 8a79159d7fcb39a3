/* Fuzz harness: the CSV reader (src/io/csv_*.c) and load.csv on hostile text.
 *
 * The first byte of an input picks the dialect and the run's shape (bits 0-1:
 * delimiter ',', ';', tab or '|'; bit 2: a '#' comment character; bit 3:
 * on_bad_row: skip; bit 4: header: false; bits 5-7: chunk rows 1, 2, 3, 5,
 * 7, 64, 1000, 8192); the rest is the file's text. Each input:
 *
 *   1. the number parser on the whole text (when short) and on every field:
 *      when it accepts, glibc's strtod must accept the same bytes and give
 *      the same bits; the int64 parser must agree with strtoll;
 *   2. the record scanner: each record found at the end of the file is found
 *      again, or reported incomplete, when the text is cut half-way through
 *      what is left (more to follow); every field lies inside its record;
 *   3. in.csv is written (read as gzip when it starts with gzip's magic
 *      bytes) and `load.csv -> describe` planned and, when it plans, run
 *      twice, on 1 and 2 threads: both must fail alike or both give describe
 *      checkpoints of the same size. The index pass splits even these small
 *      texts among its threads (sl__csv_min_segment = 1).
 *
 * Oracles besides the sanitizers: the above, and well-formed errors
 * (fuzz_util.c: a code, a message, never SL_ERR_INTERNAL). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/csv_index.h"
#include "io/csv_num.h"
#include "io/csv_scan.h"
#include "sluice/pipeline.h"

static char dir[512];
static char wd[600];
static char in_path[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_make_tmpdir("csv", dir, sizeof dir);
    /* split even tiny texts among the index pass's threads, so that its
     * speculation (and the rescans of wrong guesses) is fuzzed too */
    sl__csv_min_segment = 1;
    snprintf(wd, sizeof wd, "%s/w", dir);
    snprintf(in_path, sizeof in_path, "%s/in.csv", dir);
    return 0;
}

static void check_number(const char *p, size_t n)
{
    if (n == 0 || n > 80)
        return;
    char buf[96];
    memcpy(buf, p, n);
    buf[n] = '\0';
    double d;
    if (sl__csv_parse_double(p, n, &d)) {
        char *end;
        double want = strtod(buf, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end != '\0')
            fz_fail("sl__csv_parse_double accepted '%s', which strtod stops reading at '%s'", buf, end);
        if (memcmp(&d, &want, sizeof d) != 0 && !(isnan(d) && isnan(want)))
            fz_fail("sl__csv_parse_double('%s') = %.17g, strtod %.17g", buf, d, want);
    }
    int64_t v;
    int k = sl__csv_parse_int64(p, n, &v);
    if (k != 0) {
        errno = 0;
        char *end;
        long long want = strtoll(buf, &end, 10);
        if (k == 1 && (errno || v != want))
            fz_fail("sl__csv_parse_int64('%s') = %lld, strtoll %lld", buf, (long long)v, want);
        if (k == -1 && errno != ERANGE)
            fz_fail("sl__csv_parse_int64('%s') says out of range, strtoll %lld", buf, want);
    }
}

static void check_records(const sl__csv_dialect *d, const char *t, size_t n)
{
    size_t off = 0;
    sl__csv_field f[8];
    while (off < n) {
        long long open;
        int64_t nl, nl2;
        size_t len = sl__csv_record_len(d, t + off, n - off, 1, &open, &nl);
        if (len == 0 || len > n - off)
            fz_fail("record at %zu: length %zu of %zu bytes at the end of the file", off, len, n - off);
        /* cut short, with more to follow: either incomplete, or the same record */
        size_t cut = off + (n - off) / 2;
        if (cut > off) {
            size_t l2 = sl__csv_record_len(d, t + off, cut - off, 0, &open, &nl2);
            if (l2 != 0 && l2 != len)
                fz_fail("record at %zu: %zu bytes, but %zu when the text is cut at %zu", off, len, l2, cut);
        }
        size_t k = sl__csv_split(d, t + off, len, f, 8);
        for (size_t i = 0; i < k && i < 8; i++) {
            if (f[i].p < t + off || f[i].p + f[i].n > t + off + len)
                fz_fail("field %zu of the record at %zu lies outside it", i, off);
            check_number(f[i].p, f[i].n);
        }
        off += len;
    }
}

static int run_once(const char *yaml, int threads, char *hash, size_t size, char *msg, size_t msize)
{
    sl_pipeline *p = NULL;
    sl_error err = {0};
    sl_status s = sl_pipeline_load_string(yaml, strlen(yaml), "csv.yaml", dir, &p, &err);
    fz_check_error(s, &err, "sl_pipeline_load_string");
    hash[0] = '\0';
    if (s == SL_OK) {
        sl_run_options opt;
        memset(&opt, 0, sizeof opt);
        opt.abi = SL_ABI_VERSION;
        opt.threads = threads;
        opt.workdir = wd;
        s = sl_pipeline_run(p, &opt, &err);
        fz_check_error(s, &err, "sl_pipeline_run");
        if (s == SL_OK) {
            char path[700];
            snprintf(path, sizeof path, "%s/d.h5", wd);
            FILE *f = fopen(path, "rb"); /* its size: the same values make the same file */
            if (f) {
                fseek(f, 0, SEEK_END);
                snprintf(hash, size, "%ld", ftell(f));
                fclose(f);
            }
        }
        fz_empty_dir(wd);
    }
    snprintf(msg, msize, "%s", s == SL_OK ? "" : err.message);
    sl_pipeline_free(p);
    return (int)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    static const char delims[] = {',', ';', '\t', '|'};
    static const int chunks[] = {1, 2, 3, 5, 7, 64, 1000, 8192};
    unsigned cfg = data[0];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    sl__csv_dialect d = {delims[cfg & 3], '"', (cfg & 4) ? '#' : 0};
    check_number(text, n);
    check_records(&d, text, n);

    fz_write_file(in_path, text, n);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pipeline: csv\nchunk_rows: %d\nstages:\n"
             "  load: { op: load.csv, file: in.csv, delimiter: '%s'%s%s%s }\n"
             "  d: { op: describe, input: load }\n",
             chunks[cfg >> 5], (cfg & 3) == 2 ? "tab" : (char[]){delims[cfg & 3], 0},
             (cfg & 4) ? ", comment: '#'" : "", (cfg & 8) ? ", on_bad_row: skip" : "",
             (cfg & 16) ? ", header: false" : "");
    char h1[64], h2[64], m1[1024], m2[1024];
    int s1 = run_once(yaml, 1, h1, sizeof h1, m1, sizeof m1);
    int s2 = run_once(yaml, 2, h2, sizeof h2, m2, sizeof m2);
    if (s1 != s2 || strcmp(h1, h2) != 0)
        fz_fail("1 and 2 threads differ: status %d '%s' (%s) vs %d '%s' (%s)", s1, m1, h1, s2, m2, h2);
    return 0;
}
