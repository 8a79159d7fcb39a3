/* Private: HDF5 helpers. HDF5 is not thread-safe in Debian's serial build, so
 * every HDF5 call in sluice happens with the HDF5 lock held. Functions whose
 * name ends in _locked expect the caller to hold it; the others take it. */
#ifndef SL_H5UTIL_H
#define SL_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <sys/stat.h>
#include "sluice/frame.h"
#include "sluice/op.h"

/* Takes the process-wide HDF5 lock (and silences HDF5's own error printing). */
void sl__h5_lock(void);
void sl__h5_unlock(void);

/* Native HDF5 memory type of a dtype. */
hid_t sl__h5_native(sl_dtype t);
/* dtype of an HDF5 integer or float type; SL_DTYPE_NONE for other classes. */
sl_dtype sl__h5_dtype_locked(hid_t type);
/* The innermost message on HDF5's error stack ("" when none). */
void sl__h5_error_text_locked(char *buf, size_t size);

/* Opens an existing HDF5 file read-only with a clear error when it is missing,
 * unreadable or not HDF5. `what` names the file's role in the message. */
sl_status sl__h5_open_read_locked(const char *path, hid_t *file, sl_error *err);

/* Finds the file HDF5 1.10 opens for an external link (env
 * "HDF5_EXT_PREFIX") or a virtual dataset's source (env "HDF5_VDS_PREFIX")
 * named `name` in file `parent`: it tries the name when absolute, then each
 * folder of the environment variable, the folder of `parent`, the current
 * folder, and opens the first file it can. Returns 1 with the path in out
 * when that is a regular file; -1 with the path in out and st saying what it
 * is when a candidate is not a regular file (HDF5's open would block on a
 * FIFO); 0 when no candidate exists. No HDF5 call. */
int sl__h5_find_linked(const char *parent, const char *name, const char *env, char *out, size_t size,
                       struct stat *st);

/* Rank of a dataset sluice reads rows of: 1 or 2 (2 when it cannot be
 * read, so that the read that follows reports what is wrong). */
int sl__h5_rank_locked(hid_t dset);

/* Reads rows [row0, row0 + rows) of a 1-D (cols == 1) or 2-D dataset into buf
 * as `as`. */
sl_status sl__h5_read_rows_locked(hid_t dset, int rank, int64_t row0, int64_t rows, int64_t cols, sl_dtype as,
                                  void *buf, const char *path, const char *name, sl_error *err);

/* Reads a whole rows x cols dataset `name` of file `path` into buf as `as`. */
sl_status sl__h5_read_whole_locked(const char *path, const char *name, sl_dtype as, int64_t rows, int64_t cols,
                                   void *buf, sl_error *err);

#endif
