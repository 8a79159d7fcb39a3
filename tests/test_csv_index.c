/* Unit tests of the CSV index pass (src/io/csv_index.c): the parallel,
 * speculative pass gives the sequential pass's records whatever the thread
 * count, on a text whose quoted fields hold line breaks and delimiters
 * across every cut (so that guesses go wrong and are scanned again), with
 * comment and empty lines, CRLF, and bad records in skip mode; a gzip source
 * is indexed alike; an unclosed quote is reported at the same place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>
#include "io/csv_index.h"

static char path[256], gzpath[300];

static const char *const names[] = {"a", "b", "c"};
static const int arr[] = {0, -1, 1};
static const int64_t col[] = {0, 0, 0};
static const sl_dtype dts[] = {SL_FLOAT64, SL_INT64};
static const int64_t ncols[] = {1, 1};
static const char *const na[] = {""};

static sl__csv_reader reader(int skip)
{
    sl__csv_reader r = {{',', '"', '#'}, 3, arr, col, 2, dts, ncols, na, 1, 0, skip, "t.csv", names};
    return r;
}

/* A text of n records; every 7th has a quoted field with line breaks and
 * delimiters, every 11th is a comment, every 13th an empty line, every 17th
 * a bad record. */
static size_t make_text(char *buf, size_t size, int n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, size - k, "a,b,c\n");
    for (int i = 0; i < n; i++) {
        if (i % 11 == 0)
            k += (size_t)snprintf(buf + k, size - k, "# comment \"%d\n", i);
        if (i % 13 == 0)
            k += (size_t)snprintf(buf + k, size - k, "\r\n");
        if (i % 17 == 0)
            k += (size_t)snprintf(buf + k, size - k, "%d,bad\n", i);
        if (i % 7 == 0)
            k += (size_t)snprintf(buf + k, size - k, "%d.5,\"x\n,\n\"\"y\n\n\",%d\r\n", i, i);
        else
            k += (size_t)snprintf(buf + k, size - k, "%d,plain,%d\n", i, -i);
    }
    return k;
}

static sl__csv_source open_src(const char *p)
{
    sl__csv_source src;
    sl_error err = {0};
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(sl__csv_source_open(&src, fd, p, &err), SL_OK);
    return src;
}

static void compare(const char *p, int skip)
{
    sl__csv_reader r = reader(skip);
    sl__csv_source src = open_src(path);
    sl__csv_index all;
    sl_error err = {0};
    sl__csv_min_segment = 1;
    assert_int_equal(sl__csv_index_build(&src, &r, 6, 2, 1, 1, &all, &err), SL_OK);
    sl__csv_source_close(&src);
    assert_int_equal((int64_t)all.n, all.rows);
    for (int threads = 1; threads <= 9; threads++) {
        for (int64_t every = 1; every <= 5; every += 2) {
            sl__csv_source s2 = open_src(p);
            sl__csv_index ix;
            assert_int_equal(sl__csv_index_build(&s2, &r, 6, 2, every, threads, &ix, &err), SL_OK);
            sl__csv_source_close(&s2);
            assert_int_equal(ix.rows, all.rows);
            assert_int_equal(ix.skipped, all.skipped);
            assert_int_equal(ix.first_skipped_line, all.first_skipped_line);
            assert_true(ix.rec[ix.n] == ix.rows && ix.off[ix.n] == all.off[all.n] && ix.line[ix.n] == all.line[all.n]);
            for (size_t i = 0; i < ix.n; i++) {
                int64_t k = ix.rec[i];
                if (ix.off[i] != all.off[k] || ix.line[i] != all.line[k])
                    fail_msg("%s, %d threads, every %lld: record %lld at %lld line %lld, sequentially %lld line %lld",
                             p, threads, (long long)every, (long long)k, (long long)ix.off[i], (long long)ix.line[i],
                             (long long)all.off[k], (long long)all.line[k]);
                if (i > 0 && ix.rec[i] - ix.rec[i - 1] > every)
                    fail_msg("entries %zu and %zu are more than %lld records apart", i - 1, i, (long long)every);
            }
            assert_int_equal(sl__csv_index_find(&ix, 0), 0);
            sl__csv_index_free(&ix);
        }
    }
    sl__csv_index_free(&all);
}

static void test_parallel_equals_sequential(void **state)
{
    (void)state;
    compare(path, 0);
    compare(gzpath, 0);
}

static void test_parallel_skip_mode(void **state)
{
    (void)state;
    compare(path, 1);
}

static void test_unclosed_quote(void **state)
{
    (void)state;
    FILE *f = fopen(path, "wb");
    fputs("a,b,c\n1,x,2\n", f);
    for (int i = 0; i < 200; i++)
        fputs("3,y,4\n", f);
    fputs("5,\"open\n6,z,7\n", f);
    fclose(f);
    sl__csv_reader r = reader(0);
    for (int threads = 1; threads <= 4; threads++) {
        sl__csv_source src = open_src(path);
        sl__csv_index ix;
        sl_error err = {0};
        sl__csv_min_segment = 1;
        assert_int_equal(sl__csv_index_build(&src, &r, 6, 2, 4, threads, &ix, &err), SL_ERR_DATA);
        sl__csv_source_close(&src);
        if (!strstr(err.message, "t.csv:203:3: the quoted field that starts here is never closed"))
            fail_msg("%d threads: %s", threads, err.message);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "%s/sluice-test-index-%d.csv", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    snprintf(gzpath, sizeof gzpath, "%s.gz", path);
    size_t size = 1 << 20;
    char *buf = malloc(size);
    size_t n = make_text(buf, size, 3000);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    gzFile g = gzopen(gzpath, "wb");
    gzwrite(g, buf, (unsigned)n);
    gzclose(g);
    free(buf);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    unlink(gzpath);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_equals_sequential),
        cmocka_unit_test(test_parallel_skip_mode),
        cmocka_unit_test(test_unclosed_quote),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
