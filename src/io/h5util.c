#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/error_int.h"
#include "core/fsutil.h"
#include "io/h5util.h"

hid_t sl__h5_native(sl_dtype t)
{
    switch (t) {
    case SL_INT8: return H5T_NATIVE_INT8;
    case SL_INT16: return H5T_NATIVE_INT16;
    case SL_INT32: return H5T_NATIVE_INT32;
    case SL_INT64: return H5T_NATIVE_INT64;
    case SL_UINT8: return H5T_NATIVE_UINT8;
    case SL_UINT16: return H5T_NATIVE_UINT16;
    case SL_UINT32: return H5T_NATIVE_UINT32;
    case SL_UINT64: return H5T_NATIVE_UINT64;
    case SL_FLOAT32: return H5T_NATIVE_FLOAT;
    case SL_FLOAT64: return H5T_NATIVE_DOUBLE;
    default: return H5I_INVALID_HID;
    }
}

sl_dtype sl__h5_dtype_locked(hid_t type)
{
    size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
        int sign = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
        case 1: return sign ? SL_INT8 : SL_UINT8;
        case 2: return sign ? SL_INT16 : SL_UINT16;
        case 4: return sign ? SL_INT32 : SL_UINT32;
        case 8: return sign ? SL_INT64 : SL_UINT64;
        default: return SL_DTYPE_NONE;
        }
    }
    case H5T_FLOAT:
        /* half and long double have no sluice dtype */
        return size == 4 ? SL_FLOAT32 : size == 8 ? SL_FLOAT64 : SL_DTYPE_NONE;
    default:
        return SL_DTYPE_NONE;
    }
}

#define SL_H5_DESC_MAX 2048

static herr_t first_error(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    if (n == 0 && e->desc)
        snprintf(buf, SL_H5_DESC_MAX, "%s", e->desc);
    return 0;
}

/* HDF5's file drivers describe a failed system call as "file write failed:
 * time = <ctime, with its newline>, filename = ..., errno = 28, error message
 * = 'No space left on device', buf = 0x..., ...": keep what failed and the
 * system's reason ("file write failed: No space left on device"), so that an
 * error stays one line and names no addresses or times. */
static void tidy_desc(const char *desc, char *buf, size_t size)
{
    static const char *const cuts[] = {": time =", ": name =", ", errno =", ", filename =", "\n"};
    size_t len = strlen(desc);
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *c = strstr(desc, cuts[i]);
        if (c && (size_t)(c - desc) < len)
            len = (size_t)(c - desc);
    }
    const char *why = strstr(desc, "error message = '");
    if (why) {
        why += strlen("error message = '");
        const char *end = strchr(why, '\'');
        snprintf(buf, size, "%.*s: %.*s", (int)len, desc, (int)(end ? (size_t)(end - why) : strlen(why)), why);
    } else {
        snprintf(buf, size, "%.*s", (int)len, desc);
    }
}

void sl__h5_error_text_locked(char *buf, size_t size)
{
    char tmp[SL_H5_DESC_MAX] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, tmp);
    tidy_desc(tmp, buf, size);
}

sl_status sl__h5_open_read_locked(const char *path, hid_t *file, sl_error *err)
{
    /* HDF5 opens the path with a blocking open(): a FIFO would hang it, a
     * device (a link to /dev/zero) feed it without end. Only a regular file
     * (links followed) goes on. */
    struct stat sb;
    int fd = sl__open_read(path, &sb);
    if (fd < 0) {
        char why[256];
        sl__open_error_text(errno, &sb, why, sizeof why);
        return sl__error_set(err, SL_ERR_IO, "cannot open HDF5 file '%s': %s", path, why);
    }
    close(fd);
#if H5_VERSION_GE(1, 12, 0)
    htri_t is = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is = H5Fis_hdf5(path);
#endif
    if (is <= 0)
        return sl__error_set(err, SL_ERR_IO, "'%s' is not an HDF5 file (%lld bytes, no HDF5 signature)", path,
                             (long long)sb.st_size);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        char why[256];
        sl__h5_error_text_locked(why, sizeof why);
        return sl__error_set(err, SL_ERR_IO, "cannot open HDF5 file '%s': %s", path, why);
    }
    *file = f;
    return SL_OK;
}

/* 1: out is a regular file, -1: it exists and is not, 0: it does not exist */
#if defined(__GNUC__)
/* not inlined: GCC's sanitizer builds, inlining it into its caller's loop,
 * warned of a NULL destination that cannot be */
__attribute__((noinline))
#endif
static int candidate(const char *dir, const char *name, char *out, size_t size, struct stat *st)
{
    snprintf(out, size, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    if (stat(out, st) != 0)
        return 0;
    return S_ISREG(st->st_mode) ? 1 : -1;
}

int sl__h5_find_linked(const char *parent, const char *name, const char *env, char *out, size_t size,
                       struct stat *st)
{
    int r;
    if (name[0] == '/') {
        if ((r = candidate(NULL, name, out, size, st)) != 0)
            return r;
        name = strrchr(name, '/') + 1; /* HDF5 then looks for the last part */
    }
    const char *prefixes = getenv(env);
    char dir[4096];
    while (prefixes && *prefixes) {
        size_t n = strcspn(prefixes, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)n, prefixes);
        if (n > 0 && (r = candidate(dir, name, out, size, st)) != 0)
            return r;
        prefixes += n + (prefixes[n] == ':');
    }
    const char *slash = strrchr(parent, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - parent) : 1, slash ? parent : ".");
    if ((r = candidate(slash == parent ? "" : dir, name, out, size, st)) != 0)
        return r;
    return candidate(NULL, name, out, size, st);
}

int sl__h5_rank_locked(hid_t dset)
{
    hid_t sp = H5Dget_space(dset);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (sp >= 0)
        H5Sclose(sp);
    return rank == 1 || rank == 2 ? rank : 2;
}

sl_status sl__h5_read_rows_locked(hid_t dset, int rank, int64_t row0, int64_t rows, int64_t cols, sl_dtype as,
                                  void *buf, const char *path, const char *name, sl_error *err)
{
    if (rows == 0)
        return SL_OK;
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)rows, (hsize_t)cols};
    hid_t fspace = H5Dget_space(dset);
    hid_t mspace = H5Screate_simple(rank, count, NULL);
    herr_t rc = -1;
    if (fspace >= 0 && mspace >= 0 && H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
        rc = H5Dread(dset, sl__h5_native(as), mspace, fspace, H5P_DEFAULT, buf);
    char why[256] = "";
    if (rc < 0) /* before the next HDF5 call clears the error stack */
        sl__h5_error_text_locked(why, sizeof why);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (rc < 0)
        return sl__error_set(err, SL_ERR_IO, "cannot read rows %lld..%lld of '%s' in '%s': %s", (long long)row0,
                             (long long)(row0 + rows - 1), name, path, why[0] ? why : "HDF5 error");
    return SL_OK;
}

sl_status sl__h5_read_whole_locked(const char *path, const char *name, sl_dtype as, int64_t rows, int64_t cols,
                                   void *buf, sl_error *err)
{
    hid_t f = H5I_INVALID_HID, d = H5I_INVALID_HID;
    sl_status s = sl__h5_open_read_locked(path, &f, err);
    if (s == SL_OK) {
        d = H5Dopen2(f, name, H5P_DEFAULT);
        if (d < 0)
            s = sl__error_set(err, SL_ERR_IO, "'%s' has no dataset '%s'", path, name);
    }
    if (s == SL_OK)
        s = sl__h5_read_rows_locked(d, sl__h5_rank_locked(d), 0, rows, cols, as, buf, path, name, err);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    return s;
}
