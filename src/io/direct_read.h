/* Private: reading rows of an HDF5 dataset with pread, outside HDF5.
 *
 * HDF5 (Debian's serial build) is not thread-safe, so every H5Dread runs under
 * sluice's one HDF5 lock, one chunk at a time. A dataset whose bytes sit in
 * the file as they are in memory (contiguous, or chunked in full-width row
 * blocks without filters, every chunk allocated, stored in the native type)
 * can be read with plain pread at offsets HDF5 gives once, from any number of
 * threads at once. Checkpoints are always laid out so; most source files are. */
#ifndef SL_DIRECT_READ_H
#define SL_DIRECT_READ_H

#include <hdf5.h>
#include <stdatomic.h>
#include <stdint.h>
#include "sluice/error.h"
#include "sluice/frame.h"

typedef struct sl__direct_dset {
    int64_t rows;       /* rows of the dataset */
    int64_t chunk_rows; /* rows per HDF5 chunk; 0: contiguous */
    int64_t nchunks;
    uint64_t *addr;     /* file offset of each chunk (or of the data when contiguous) */
    size_t row_bytes;
    _Atomic int64_t ahead; /* read-ahead: rows up to which the kernel has been asked for the data */
} sl__direct_dset;

/* Maps dataset `dset` (a rows x cols array of `as`, rank 1 or 2; rows < 0:
 * all the dataset's rows) for direct reads from `fd`, a descriptor of the
 * file the caller opened. Returns 1 when it can be read directly, 0 when not
 * (d is then empty), -1 when out of memory. Never fails on the dataset's
 * layout. Only raw bytes proved to lie in fd's own file are mapped: a dataset
 * reached through an external link lives in another file, and virtual,
 * compact, external-storage or filtered datasets are not bytes at an offset
 * at all; those return 0 and are read through HDF5 (issue 14). */
int sl__direct_map_locked(hid_t dset, int fd, int64_t rows, int64_t cols, sl_dtype as, sl__direct_dset *d);
void sl__direct_free(sl__direct_dset *d);

/* Reads rows [row0, row0 + rows) into buf from fd (the dataset's file).
 * Thread-safe; needs no lock. path and name are for messages. Reads that
 * go front to back also ask the kernel for the rows ahead (read-ahead). */
sl_status sl__direct_read(sl__direct_dset *d, int fd, int64_t row0, int64_t rows, void *buf, const char *path,
                          const char *name, sl_error *err);

#endif
