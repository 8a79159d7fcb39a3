/* Unit tests of direct reads (src/io/direct_read.c): rows come back right
 * from contiguous and chunked layouts (chunks stored out of order, reads
 * across chunk boundaries); and read-ahead: after the file's pages are
 * evicted, reading its first chunk has the kernel fetch the next 32 MiB of
 * the dataset (what a 512 KiB read alone would not make it do) and nothing
 * far beyond. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "io/direct_read.h"

#define ROW_BYTES 64 /* 16 float32 columns */
#define ROWS ((int64_t)(96 << 20) / ROW_BYTES)
#define CHUNK_ROWS 65536 /* 4 MiB chunks */

typedef struct fixture {
    char path[64];
    int fd;
} fixture;

/* Row r holds the 16 uint32 values r * 16 + j. With chunks, chunk k is
 * stored at slot nchunks - 1 - k (reversed), so offsets must come from the map. */
static uint32_t value_at(int64_t row, int j)
{
    return (uint32_t)(row * 16 + j);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->path, sizeof f->path, "direct-read-XXXXXX");
    f->fd = mkstemp(f->path);
    if (f->fd < 0)
        return -1;
    uint32_t *buf = malloc((size_t)CHUNK_ROWS * ROW_BYTES);
    if (!buf)
        return -1;
    int64_t nchunks = ROWS / CHUNK_ROWS;
    for (int64_t k = 0; k < nchunks; k++) {
        for (int64_t r = 0; r < CHUNK_ROWS; r++)
            for (int j = 0; j < 16; j++)
                buf[r * 16 + j] = value_at(k * CHUNK_ROWS + r, j);
        off_t at = (off_t)(nchunks - 1 - k) * CHUNK_ROWS * ROW_BYTES;
        if (pwrite(f->fd, buf, (size_t)CHUNK_ROWS * ROW_BYTES, at) != (ssize_t)CHUNK_ROWS * ROW_BYTES)
            return -1;
    }
    free(buf);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close(f->fd);
    unlink(f->path);
    free(f);
    return 0;
}

static sl__direct_dset chunked_map(void)
{
    sl__direct_dset d;
    memset(&d, 0, sizeof d);
    d.rows = ROWS;
    d.chunk_rows = CHUNK_ROWS;
    d.nchunks = ROWS / CHUNK_ROWS;
    d.row_bytes = ROW_BYTES;
    d.addr = malloc((size_t)d.nchunks * sizeof *d.addr);
    assert_non_null(d.addr);
    for (int64_t k = 0; k < d.nchunks; k++)
        d.addr[k] = (uint64_t)(d.nchunks - 1 - k) * CHUNK_ROWS * ROW_BYTES;
    return d;
}

static void check_rows(const uint32_t *got, int64_t row0, int64_t rows)
{
    for (int64_t r = 0; r < rows; r++)
        for (int j = 0; j < 16; j++)
            if (got[r * 16 + j] != value_at(row0 + r, j))
                fail_msg("row %lld column %d: %u, expected %u", (long long)(row0 + r), j, got[r * 16 + j],
                         value_at(row0 + r, j));
}

static void test_rows_come_back(void **state)
{
    fixture *f = *state;
    sl__direct_dset d = chunked_map();
    /* in order, across chunk boundaries, backwards, and a single row at the end */
    static const int64_t spans[][2] = {{0, 8192},      {8192, 8192},       {CHUNK_ROWS - 100, 300},
                                       {3 * CHUNK_ROWS - 1, CHUNK_ROWS + 2}, {ROWS - 1, 1},
                                       {CHUNK_ROWS, 0}, {5, 3}};
    uint32_t *buf = malloc((size_t)(CHUNK_ROWS + 2) * ROW_BYTES);
    assert_non_null(buf);
    sl_error err;
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        memset(buf, 0xff, (size_t)(CHUNK_ROWS + 2) * ROW_BYTES);
        assert_int_equal(sl__direct_read(&d, f->fd, spans[i][0], spans[i][1], buf, f->path, "X", &err), SL_OK);
        check_rows(buf, spans[i][0], spans[i][1]);
    }
    /* rows past the end are an error that names the dataset */
    assert_int_equal(sl__direct_read(&d, f->fd, ROWS - 1, 2, buf, f->path, "X", &err), SL_ERR_INTERNAL);
    assert_non_null(strstr(err.message, "'X'"));
    free(buf);
    sl__direct_free(&d);
}

static void test_contiguous_rows_come_back(void **state)
{
    fixture *f = *state;
    /* the file read as one contiguous dataset of its first chunk slot: that is chunk nchunks-1 */
    sl__direct_dset d;
    memset(&d, 0, sizeof d);
    d.rows = CHUNK_ROWS;
    d.nchunks = 1;
    d.row_bytes = ROW_BYTES;
    d.addr = malloc(sizeof *d.addr);
    assert_non_null(d.addr);
    d.addr[0] = 0;
    uint32_t *buf = malloc(1000 * ROW_BYTES);
    assert_non_null(buf);
    sl_error err;
    assert_int_equal(sl__direct_read(&d, f->fd, 123, 1000, buf, f->path, "X", &err), SL_OK);
    check_rows(buf, (ROWS / CHUNK_ROWS - 1) * CHUNK_ROWS + 123, 1000);
    free(buf);
    sl__direct_free(&d);
}

/* Whether the file page at byte offset `at` is in the page cache. */
static int cached(const fixture *f, off_t at)
{
    long page = sysconf(_SC_PAGESIZE);
    off_t base = at - at % page;
    void *p = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, f->fd, base);
    assert_true(p != MAP_FAILED);
    unsigned char v = 0;
    assert_int_equal(mincore(p, (size_t)page, &v), 0);
    munmap(p, (size_t)page);
    return v & 1;
}

static int cached_within(const fixture *f, off_t at, double seconds)
{
    for (double waited = 0; waited < seconds; waited += 0.01) {
        if (cached(f, at))
            return 1;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return cached(f, at);
}

static void test_read_ahead(void **state)
{
    fixture *f = *state;
    sl__direct_dset d = chunked_map();
    /* row r of the dataset lies in the file at d.addr[r / CHUNK_ROWS] + ... */
    off_t row_24mib = (off_t)d.addr[(24 << 20) / ROW_BYTES / CHUNK_ROWS];
    off_t row_80mib = (off_t)d.addr[(80 << 20) / ROW_BYTES / CHUNK_ROWS];
    assert_int_equal(fdatasync(f->fd), 0);
    assert_int_equal(posix_fadvise(f->fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    if (cached(f, row_24mib) || cached(f, row_80mib)) {
        sl__direct_free(&d);
        print_message("the page cache keeps this file's pages (tmpfs?): read-ahead not observable here\n");
        skip();
    }
    uint32_t *buf = malloc((size_t)8192 * ROW_BYTES);
    assert_non_null(buf);
    sl_error err;
    assert_int_equal(sl__direct_read(&d, f->fd, 0, 8192, buf, f->path, "X", &err), SL_OK);
    check_rows(buf, 0, 8192);
    if (!cached_within(f, row_24mib, 5.0))
        fail_msg("24 MiB into the dataset is not in the page cache 5 s after reading its first 512 KiB");
    assert_false(cached(f, row_80mib));
    /* a pass from the top again, with the window already cached: the rows still come back */
    assert_int_equal(sl__direct_read(&d, f->fd, 0, 8192, buf, f->path, "X", &err), SL_OK);
    check_rows(buf, 0, 8192);
    free(buf);
    sl__direct_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_come_back),
        cmocka_unit_test(test_contiguous_rows_come_back),
        cmocka_unit_test(test_read_ahead),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
