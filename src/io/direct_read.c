#define _GNU_SOURCE /* preadv2, RWF_NOWAIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "core/error_int.h"
#include "core/fsutil.h"
#include "io/direct_read.h"
#include "io/h5util.h"

/* about a second of lookups at most (HDF5 1.10.8, this kind of machine) */
#define SL_DIRECT_MAX_CHUNKS 4096

static int map_chunks_locked(hid_t dset, hid_t dcpl, int rank, int64_t cols, sl__direct_dset *d)
{
    hsize_t cdims[2] = {0, 0};
    if (H5Pget_chunk(dcpl, rank, cdims) != rank || cdims[0] == 0)
        return 0;
    if (rank == 2 && cdims[1] != (hsize_t)cols)
        return 0; /* a row would be split over several chunks */
    if (H5Pget_nfilters(dcpl) != 0)
        return 0;
    d->chunk_rows = (int64_t)cdims[0];
    d->nchunks = (d->rows + d->chunk_rows - 1) / d->chunk_rows;
    /* HDF5 1.10 has no way to list chunk addresses but one lookup per chunk,
     * each scanning the chunk index: n^2 in all. Past a few thousand chunks
     * (small chunks h5py chose for a big file) that costs more than reading
     * through HDF5, whose own reads walk the index as a tree. */
    if (d->nchunks > SL_DIRECT_MAX_CHUNKS)
        return 0;
    d->addr = malloc((size_t)(d->nchunks ? d->nchunks : 1) * sizeof *d->addr);
    if (!d->addr)
        return -1;
    for (int64_t k = 0; k < d->nchunks; k++) {
        hsize_t coord[2] = {(hsize_t)(k * d->chunk_rows), 0}, size = 0;
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        /* an unallocated chunk reads as the fill value: leave it to HDF5 */
        if (H5Dget_chunk_info_by_coord(dset, coord, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF || mask != 0)
            return 0;
        d->addr[k] = (uint64_t)addr;
    }
    return 1;
}

/* 1 when the dataset's own file (the one HDF5 reads it from: another file
 * when it was reached through an external link) is the file open as fd.
 * Compared by identity: HDF5's own descriptor of it (sec2 driver, the
 * default; any other driver: not proved) against fd. */
static int in_file_locked(hid_t dset, int fd)
{
    struct stat mine, its;
    if (fd < 0 || fstat(fd, &mine) != 0)
        return 0;
    hid_t file = H5Iget_file_id(dset);
    hid_t fapl = file >= 0 ? H5Fget_access_plist(file) : H5I_INVALID_HID;
    void *handle = NULL;
    int same = fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2 && H5Fget_vfd_handle(file, fapl, &handle) >= 0 &&
               handle && fstat(*(int *)handle, &its) == 0 && sl__same_file(&mine, &its);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (file >= 0)
        H5Fclose(file);
    return same;
}

int sl__direct_map_locked(hid_t dset, int fd, int64_t rows, int64_t cols, sl_dtype as, sl__direct_dset *d)
{
    memset(d, 0, sizeof *d);
    d->rows = rows;
    d->row_bytes = (size_t)cols * sl_dtype_size(as);
    hid_t type = H5Dget_type(dset), space = H5Dget_space(dset), dcpl = H5Dget_create_plist(dset);
    int ok = 0;
    if (type >= 0 && space >= 0 && dcpl >= 0 && H5Tequal(type, sl__h5_native(as)) > 0 &&
        H5Pget_external_count(dcpl) == 0 && in_file_locked(dset, fd)) {
        int rank = H5Sget_simple_extent_ndims(space);
        hsize_t dims[2] = {0, 0};
        if ((rank == 1 || rank == 2) && H5Sget_simple_extent_dims(space, dims, NULL) == rank &&
            (rows < 0 || dims[0] >= (hsize_t)rows) && (rank == 1 ? cols == 1 : dims[1] == (hsize_t)cols)) {
            if (rows < 0)
                d->rows = rows = (int64_t)dims[0];
            H5D_layout_t layout = H5Pget_layout(dcpl);
            if (layout == H5D_CONTIGUOUS) {
                haddr_t off = H5Dget_offset(dset);
                if (off != HADDR_UNDEF) {
                    d->addr = malloc(sizeof *d->addr);
                    ok = d->addr ? 1 : -1;
                    if (d->addr) {
                        d->addr[0] = (uint64_t)off;
                        d->nchunks = 1;
                    }
                }
            } else if (layout == H5D_CHUNKED) {
                ok = map_chunks_locked(dset, dcpl, rank, cols, d);
            }
        }
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    H5Eclear2(H5E_DEFAULT);
    if (ok != 1)
        sl__direct_free(d);
    return ok;
}

void sl__direct_free(sl__direct_dset *d)
{
    free(d->addr);
    memset(d, 0, sizeof *d);
}

static sl_status pread_all(int fd, char *buf, size_t len, uint64_t off, const char *path, const char *name,
                           sl_error *err)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = pread(fd, buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return sl__error_set(err, SL_ERR_IO, "cannot read '%s' in '%s': %s", name, path,
                                 r < 0 ? strerror(errno) : "the file is shorter than its datasets say (truncated?)");
        done += (size_t)r;
    }
    return SL_OK;
}

/* ---- read-ahead ----------------------------------------------------------------------
 * A pass reads each dataset front to back, one chunk per thread at a time.
 * From a cold page cache every pread then waits for the disk, and the
 * kernel's own read-ahead, which follows one stream per open file, is thrown
 * off by threads reading interleaved chunks of several datasets. So the
 * reader that passes the middle of the window asked for so far asks the
 * kernel (POSIX_FADV_WILLNEED) for the next window, which the disk then reads
 * while the threads compute. Unless the window's ends are already in the page
 * cache (a one-byte preadv2 with RWF_NOWAIT succeeds): on a warm cache that
 * costs two one-byte reads per window, where the advice would walk every page
 * of it (measured: 0.03 s more on the warm benchmark with advice alone). */
#define SL_READAHEAD_BYTES ((int64_t)32 << 20)

static uint64_t row_offset(const sl__direct_dset *d, int64_t row)
{
    if (d->chunk_rows == 0)
        return d->addr[0] + (uint64_t)row * d->row_bytes;
    return d->addr[row / d->chunk_rows] + (uint64_t)(row % d->chunk_rows) * d->row_bytes;
}

/* How many of the `rows` rows from `row` on lie in one piece of the file:
 * all of them when contiguous, else up to the end of row's chunk. */
static int64_t piece_rows(const sl__direct_dset *d, int64_t row, int64_t rows)
{
    int64_t left = d->chunk_rows ? d->chunk_rows - row % d->chunk_rows : rows;
    return left < rows ? left : rows;
}

static int in_page_cache(int fd, const sl__direct_dset *d, int64_t row)
{
    char byte;
    struct iovec v = {&byte, 1};
    return preadv2(fd, &v, 1, (off_t)row_offset(d, row), RWF_NOWAIT) == 1;
}

static void advise_rows(int fd, const sl__direct_dset *d, int64_t from, int64_t to)
{
    while (from < to) {
        int64_t n = piece_rows(d, from, to - from);
        /* advice only: a failure costs speed, never data */
        (void)posix_fadvise(fd, (off_t)row_offset(d, from), (off_t)((uint64_t)n * d->row_bytes),
                            POSIX_FADV_WILLNEED);
        from += n;
    }
}

static void read_ahead(sl__direct_dset *d, int fd, int64_t row0, int64_t rows)
{
    int64_t window = SL_READAHEAD_BYTES / (int64_t)(d->row_bytes ? d->row_bytes : 1);
    if (window < 1)
        window = 1;
    int64_t end = row0 + rows, ahead = atomic_load_explicit(&d->ahead, memory_order_relaxed);
    if (row0 == 0 && ahead > 0) {
        /* a new pass from the top: start over (the data may have left the cache) */
        if (!atomic_compare_exchange_strong(&d->ahead, &ahead, 0))
            return;
        ahead = 0;
    }
    if ((ahead > 0 && row0 > ahead) || ahead - end >= window / 2)
        return; /* not reading front to back, or enough asked for already */
    int64_t from = ahead > end ? ahead : end, to = end + window < d->rows ? end + window : d->rows;
    if (to <= from || !atomic_compare_exchange_strong(&d->ahead, &ahead, to))
        return; /* nothing left, or another thread is asking */
    if (!in_page_cache(fd, d, from) || !in_page_cache(fd, d, to - 1))
        advise_rows(fd, d, from, to);
}

sl_status sl__direct_read(sl__direct_dset *d, int fd, int64_t row0, int64_t rows, void *buf, const char *path,
                          const char *name, sl_error *err)
{
    if (row0 < 0 || rows < 0 || row0 + rows > d->rows)
        return sl__error_set(err, SL_ERR_INTERNAL, "rows %lld..%lld of '%s' are outside its %lld rows", (long long)row0,
                             (long long)(row0 + rows - 1), name, (long long)d->rows);
    if (rows > 0)
        read_ahead(d, fd, row0, rows);
    char *out = buf;
    while (rows > 0) {
        int64_t n = piece_rows(d, row0, rows);
        size_t len = (size_t)n * d->row_bytes;
        sl_status s = pread_all(fd, out, len, row_offset(d, row0), path, name, err);
        if (s)
            return s;
        out += len;
        row0 += n;
        rows -= n;
    }
    return SL_OK;
}
