/* load.hdf5: reads named datasets of an HDF5 file into a frame, chunk by
 * chunk. Checks everything (file, paths, types, ranks, row counts) at plan
 * time, so `sluice check` finds a bad source before any stage runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/error_int.h"
#include "core/fsutil.h"
#include "core/frame_int.h"
#include "io/direct_read.h"
#include "io/h5util.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"file", SL_PARAM_PATH, 1, NULL, NULL, 0, 0,
     "HDF5 file to read; a relative path is relative to the pipeline file's folder"},
    {"arrays", SL_PARAM_STRING_MAP, 1, NULL, NULL, 0, 0,
     "frame array name -> dataset path in the file, e.g. { X: /X, y: /y }; 1-D datasets become one column"},
};

typedef struct src_array {
    const char *dataset;
    int rank;
    hid_t dset;
    sl__direct_dset direct;
} src_array;

typedef struct load_state {
    const char *file;
    size_t n;
    src_array *arrays;
    hid_t fid;
    int fd;         /* >= 0: every array is read with pread (io/direct_read.h) */
} load_state;

static void close_locked(load_state *s);

static void free_state(void *p)
{
    load_state *s = p;
    if (!s)
        return;
    if (s->arrays) {
        sl__h5_lock();
        close_locked(s);
        sl__h5_unlock();
    }
    free(s->arrays);
    free(s);
}

/* When link `link` of `file` is an external link: 1 with the file HDF5 will
 * open for it in target (a regular file), -1 when that is not a regular file
 * (st says what), 0 when it is no external link or its file is missing (the
 * open that follows says so). `parent`: the path of the file holding it. */
static int elink_target_locked(hid_t file, const char *link, const char *parent, char *target, size_t size,
                               struct stat *st)
{
    H5L_info_t info;
    if (H5Lget_info(file, link, &info, H5P_DEFAULT) < 0 || info.type != H5L_TYPE_EXTERNAL)
        return 0;
    char *val = malloc(info.u.val_size ? info.u.val_size : 1);
    const char *name = NULL, *obj = NULL;
    unsigned flags = 0;
    int r = 0;
    if (val && H5Lget_val(file, link, val, info.u.val_size, H5P_DEFAULT) >= 0 &&
        H5Lunpack_elink_val(val, info.u.val_size, &flags, &name, &obj) >= 0 && name)
        r = sl__h5_find_linked(parent, name, "HDF5_EXT_PREFIX", target, size, st);
    free(val);
    return r;
}

/* Walks `path` in `file` (whose path is file_path) one link at a time: 1 when
 * every group on the way and the object itself exist, 0 when one is missing,
 * -1 when an external link on the way names a file that is not a regular
 * file (HDF5 would block opening a FIFO): target and st then say which, and
 * what it is. Each link is checked before HDF5 follows it. */
static int walk_path_locked(hid_t file, const char *file_path, const char *path, char *target, size_t size,
                            struct stat *st)
{
    char buf[1024], parent[4096];
    if (strlen(path) >= sizeof buf)
        return 0;
    strcpy(buf, path);
    snprintf(parent, sizeof parent, "%s", file_path);
    for (char *p = buf + (buf[0] == '/');; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (buf[0] && strcmp(buf, "/") != 0) {
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0)
                return 0;
            int r = elink_target_locked(file, buf, parent, target, size, st);
            if (r < 0)
                return -1;
            if (r > 0) /* the links below this one are in the target file */
                snprintf(parent, sizeof parent, "%s", target);
        }
        if (c == '\0')
            return 1;
        *p = c;
    }
}

/* The file dataset d lives in, as HDF5 opened it (the target of an external
 * link, else the file sluice opened); malloc'd, NULL when unknown. */
static char *dataset_file_name_locked(hid_t d)
{
    hid_t f = H5Iget_file_id(d);
    ssize_t n = f >= 0 ? H5Fget_name(f, NULL, 0) : -1;
    char *name = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (name && H5Fget_name(f, name, (size_t)n + 1) < 0) {
        free(name);
        name = NULL;
    }
    if (f >= 0)
        H5Fclose(f);
    return name;
}

/* Checks source `i` of virtual dataset dcpl: its file is found, a regular
 * file, and holds the source dataset. HDF5 reads a missing source as the
 * fill value, without an error. 1 when fine, 0 when not (why in why). */
static int vds_source_ok_locked(sl_stage *st, hid_t dcpl, size_t i, hid_t own, const char *own_path, char *why,
                                size_t size)
{
    ssize_t fn = H5Pget_virtual_filename(dcpl, i, NULL, 0), dn = H5Pget_virtual_dsetname(dcpl, i, NULL, 0);
    char *fname = fn >= 0 ? malloc((size_t)fn + 1) : NULL, *dname = dn >= 0 ? malloc((size_t)dn + 1) : NULL;
    int ok = 1;
    if (fname && dname && H5Pget_virtual_filename(dcpl, i, fname, (size_t)fn + 1) >= 0 &&
        H5Pget_virtual_dsetname(dcpl, i, dname, (size_t)dn + 1) >= 0 && !strchr(fname, '%') && !strchr(dname, '%')) {
        /* names with '%' are printf-style patterns of an unlimited mapping: not checked */
        char found[4096], target[4096];
        struct stat sb;
        int r = strcmp(fname, ".") == 0 ? 1 : sl__h5_find_linked(own_path, fname, "HDF5_VDS_PREFIX", found,
                                                                   sizeof found, &sb);
        hid_t src = r == 1 && strcmp(fname, ".") != 0 ? H5Fopen(found, H5F_ACC_RDONLY, H5P_DEFAULT) : own;
        int walk = r == 1 && src >= 0 ? walk_path_locked(src, strcmp(fname, ".") ? found : own_path, dname, target,
                                                         sizeof target, &sb)
                                      : 0;
        if (r < 0 || walk < 0) {
            char kind[128];
            sl__open_error_text(SL__ENOTREG, &sb, kind, sizeof kind);
            snprintf(why, size, "'%s': %s, and sluice opens only regular files", r < 0 ? found : target, kind);
            ok = 0;
        } else if (walk == 0) {
            snprintf(why, size, "'%s' in '%s', which %s (HDF5 would read those rows as the fill value)", dname, fname,
                     r == 1 && src >= 0 ? "has no such dataset" : "cannot be found or opened");
            ok = 0;
        }
        if (ok && r == 1 && strcmp(fname, ".") != 0 && sl__stage_add_linked_file(st, found, NULL) != SL_OK) {
            snprintf(why, size, "(out of memory)");
            ok = 0;
        }
        if (src >= 0 && src != own)
            H5Fclose(src);
    }
    free(fname);
    free(dname);
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

/* External raw storage file `name`, as HDF5 1.10 opens it: as is when
 * absolute, else under $HDF5_EXTFILE_PREFIX (${ORIGIN}: the folder of the
 * dataset's file) or the current folder. 1 when fine, 0 when not (why). */
static int external_file_ok(sl_stage *st, const char *name, const char *own_path, char *why, size_t size)
{
    const char *prefix = getenv("HDF5_EXTFILE_PREFIX");
    char path[4096], dir[4096] = "";
    if (name[0] != '/' && prefix && *prefix) {
        const char *slash = strrchr(own_path, '/');
        if (strncmp(prefix, "${ORIGIN}", 9) == 0)
            snprintf(dir, sizeof dir, "%.*s%s", slash ? (int)(slash - own_path) : 1, slash ? own_path : ".",
                     prefix + 9);
        else
            snprintf(dir, sizeof dir, "%s", prefix);
    }
    snprintf(path, sizeof path, "%s%s%s", dir, dir[0] ? "/" : "", name);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(why, size, "'%s', which cannot be found: HDF5 looks for it %s", path,
                 name[0] == '/'  ? "there"
                 : dir[0]        ? "under HDF5_EXTFILE_PREFIX"
                                 : "in the current folder (run sluice there, or set "
                                   "HDF5_EXTFILE_PREFIX='${ORIGIN}' to look beside the HDF5 file)");
        return 0;
    }
    if (!S_ISREG(sb.st_mode)) {
        char kind[128];
        snprintf(why, size, "'%s': %s, and sluice opens only regular files", path,
                 sl__open_error_text(SL__ENOTREG, &sb, kind, sizeof kind));
        return 0;
    }
    if (sl__stage_add_linked_file(st, path, NULL) != SL_OK) {
        snprintf(why, size, "'%s' (out of memory)", path);
        return 0;
    }
    return 1;
}

/* The files a dataset's values live in besides its own (virtual datasets'
 * sources, external raw storage) must be there and be regular files: HDF5
 * reads a missing virtual source as fill values, a missing raw file fails
 * only at run time, and opening a FIFO blocks (issue 14). */
static sl_status check_other_files_locked(sl_stage *st, hid_t d, const char *path, const char *dataset,
                                          const char *name, sl_error *err)
{
    hid_t dcpl = H5Dget_create_plist(d), own = H5Iget_file_id(d);
    char *own_path = dataset_file_name_locked(d);
    char why[8192] = "";
    int vds = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_VIRTUAL, ok = 1;
    size_t n = 0;
    if (vds && H5Pget_virtual_count(dcpl, &n) < 0)
        n = 0;
    for (size_t i = 0; ok && own_path && own >= 0 && i < n; i++)
        ok = vds_source_ok_locked(st, dcpl, i, own, own_path, why, sizeof why);
    int next = !vds && dcpl >= 0 ? H5Pget_external_count(dcpl) : 0;
    int ext_ok = 1;
    for (int i = 0; ok && ext_ok && own_path && i < next; i++) {
        char fname[4096] = "";
        off_t off;
        hsize_t sz;
        if (H5Pget_external(dcpl, (unsigned)i, sizeof fname, fname, &off, &sz) < 0)
            continue;
        /* HDF5 1.10 copies the name with strncpy: one that fills the buffer
         * comes back without its NUL */
        if (fname[sizeof fname - 1] != '\0') {
            fname[64] = '\0';
            snprintf(why, sizeof why, "'%s...', a name longer than %zu bytes", fname, sizeof fname - 1);
            ext_ok = 0;
        } else {
            ext_ok = external_file_ok(st, fname, own_path, why, sizeof why);
        }
    }
    free(own_path);
    if (own >= 0)
        H5Fclose(own);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    H5Eclear2(H5E_DEFAULT);
    if (!ok)
        return sl_stage_error(st, err, SL_ERR_IO, "arrays",
                              "virtual dataset '%s' in '%s' (for array '%s') maps rows to %s; restore its source "
                              "files, or name a dataset that holds the data",
                              dataset, path, name, why);
    if (!ext_ok)
        return sl_stage_error(st, err, SL_ERR_IO, "arrays",
                              "dataset '%s' in '%s' (for array '%s') keeps its values in the external file %s; or "
                              "rewrite the dataset into the HDF5 file",
                              dataset, path, name, why);
    return SL_OK;
}

/* Reads the string-array attribute `columns` of a dataset when it has one
 * name per column; anything else is ignored (names are optional). */
static sl_status read_column_names_locked(hid_t d, sl_frame *out, const char *name, int64_t cols, sl_error *err)
{
    if (H5Aexists(d, "columns") <= 0)
        return SL_OK;
    hid_t a = H5Aopen(d, "columns", H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID, sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    sl_status rc = SL_OK;
    if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING && H5Sget_simple_extent_npoints(sp) == cols) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        int vlen = H5Tis_variable_str(ft) > 0;
        size_t width = vlen ? 0 : H5Tget_size(ft);
        H5Tset_size(mt, vlen ? H5T_VARIABLE : width + 1);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char **names = calloc((size_t)cols, sizeof *names);
        char *fixed = vlen ? NULL : calloc((size_t)cols, width + 1);
        if (!names || (!vlen && !fixed))
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        else if (H5Aread(a, mt, vlen ? (void *)names : (void *)fixed) >= 0) {
            for (int64_t c = 0; !vlen && c < cols; c++)
                names[c] = fixed + (size_t)c * (width + 1);
            rc = sl_frame_set_columns(out, name, (const char *const *)names, err);
            if (vlen)
                H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, names);
        }
        free(names);
        free(fixed);
        H5Tclose(mt);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

/* chunks counted one by one at plan time at most (a fraction of a second) */
#define SL_COUNT_CHUNKS_MAX ((uint64_t)1 << 20)

/* a * b, saturating: a declared shape can overflow a chunk count */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

/* Chunks never written (and contiguous storage never allocated) read as the
 * fill value, not data: a 1.6 KB file declaring 10^12 rows streamed fill
 * values for hours (issue 14). Checked cheaply, at plan time: H5Dget_num_chunks
 * counts the chunks written when there are few; past that, a file smaller
 * than the unfiltered chunks it declares cannot hold them all. */
static sl_status check_written_locked(sl_stage *st, hid_t d, int rank, const hsize_t *dims, const char *path,
                                      const char *dataset, const char *name, sl_error *err)
{
    hid_t dcpl = H5Dget_create_plist(d), type = H5Dget_type(d), space = H5Dget_space(d), file = H5Iget_file_id(d);
    H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    hsize_t cdims[H5S_MAX_RANK] = {0}, fsize = 0, written = 0;
    int chunked = layout == H5D_CHUNKED && H5Pget_chunk(dcpl, rank, cdims) == rank;
    int filtered = dcpl >= 0 && H5Pget_nfilters(dcpl) > 0;
    H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
    int unallocated = layout == H5D_CONTIGUOUS && H5Pget_external_count(dcpl) == 0 &&
                      H5Dget_space_status(d, &status) >= 0 && status == H5D_SPACE_STATUS_NOT_ALLOCATED;
    uint64_t total = 1, chunk_bytes = type >= 0 ? H5Tget_size(type) : 0;
    for (int i = 0; chunked && i < rank; i++) {
        chunked = cdims[i] > 0;
        total = mul_sat(total, chunked ? (dims[i] + cdims[i] - 1) / cdims[i] : 0);
        chunk_bytes = mul_sat(chunk_bytes, cdims[i]);
    }
    /* counting walks the chunk index, which for some index types (a fixed
     * array) has an entry per declared chunk: count only few, or filtered
     * chunks, which have no size to bound them by */
    int counted = chunked && (total <= SL_COUNT_CHUNKS_MAX || filtered) && space >= 0 &&
                  H5Dget_num_chunks(d, space, &written) >= 0;
    int bounded = chunked && !counted && chunk_bytes > 0 && file >= 0 && H5Fget_filesize(file, &fsize) >= 0 &&
                  fsize / chunk_bytes < total;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (file >= 0)
        H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    if (unallocated)
        return sl_stage_error(st, err, SL_ERR_DATA, "arrays",
                              "dataset '%s' in '%s' (for array '%s') was never written: it has no storage, and every "
                              "value would read as the fill value; write its data, or name a dataset that has it",
                              dataset, path, name);
    if (bounded)
        return sl_stage_error(st, err, SL_ERR_DATA, "arrays",
                              "dataset '%s' in '%s' (for array '%s') has at most %llu of its %llu chunks written: "
                              "its file is %llu bytes and each chunk takes %llu; unwritten chunks would read as the "
                              "fill value, not data: write the whole dataset, or name one that is",
                              dataset, path, name, (unsigned long long)(fsize / chunk_bytes),
                              (unsigned long long)total, (unsigned long long)fsize, (unsigned long long)chunk_bytes);
    if (counted && written < total)
        return sl_stage_error(st, err, SL_ERR_DATA, "arrays",
                              "dataset '%s' in '%s' (for array '%s') has %llu of its %llu chunks written; unwritten "
                              "chunks would read as the fill value, not data: write the whole dataset, or name one "
                              "that is",
                              dataset, path, name, (unsigned long long)written, (unsigned long long)total);
    return SL_OK;
}

/* Checks one dataset and adds its array to the output frame. */
static sl_status plan_array_locked(sl_stage *st, hid_t file, const char *path, const char *name,
                                   const char *dataset, src_array *a, int64_t *rows, const char **rows_from,
                                   sl_error *err)
{
    char target[4096];
    struct stat sb;
    int walk = walk_path_locked(file, path, dataset, target, sizeof target, &sb);
    if (walk < 0) {
        char kind[128];
        return sl_stage_error(st, err, SL_ERR_IO, "arrays",
                              "'%s' in '%s' (for array '%s') is reached through an external link to '%s': %s; "
                              "sluice opens only regular files: point the link at an HDF5 file",
                              dataset, path, name, target, sl__open_error_text(SL__ENOTREG, &sb, kind, sizeof kind));
    }
    if (walk == 0)
        return sl_stage_error(st, err, SL_ERR_IO, "arrays",
                              "'%s' has no dataset '%s' (for array '%s'); list its contents with h5ls -r '%s'", path,
                              dataset, name, path);
    /* The link exists (checked above), so a failure here is about what it
     * points to: a soft link to a missing path, an external link to a missing
     * file, or a damaged object header. */
    hid_t obj = H5Oopen(file, dataset, H5P_DEFAULT);
    if (obj < 0)
        return sl_stage_error(st, err, SL_ERR_IO, "arrays",
                              "'%s' in '%s' cannot be opened (for array '%s'): a link to a missing object or file, "
                              "or a damaged object; check it with h5ls -r '%s'",
                              dataset, path, name, path);
    H5I_type_t kind = H5Iget_type(obj);
    H5Oclose(obj);
    if (kind != H5I_DATASET)
        return sl_stage_error(st, err, SL_ERR_DATA, "arrays", "'%s' in '%s' is not a dataset (for array '%s'); name a dataset, not a group",
                              dataset, path, name);
    hid_t d = H5Dopen2(file, dataset, H5P_DEFAULT);
    if (d < 0)
        return sl_stage_error(st, err, SL_ERR_IO, "arrays", "cannot open dataset '%s' in '%s'", dataset, path);
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    sl_dtype dt = sl__h5_dtype_locked(type);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK] = {0};
    if (rank > 0 && rank <= H5S_MAX_RANK)
        H5Sget_simple_extent_dims(space, dims, NULL);
    H5T_class_t cls = H5Tget_class(type);
    H5Tclose(type);
    H5Sclose(space);
    sl_status rc = SL_OK;
    if (dt != SL_DTYPE_NONE && rank >= 1 && rank <= 2 && dims[0] > 0 && (rank == 1 || dims[1] > 0) &&
        (*rows < 0 || (int64_t)dims[0] == *rows)) {
        rc = check_other_files_locked(st, d, path, dataset, name, err);
        /* a dataset reached through an external link lives in another file,
         * whose changes must make the stage stale */
        char *own = rc == SL_OK ? dataset_file_name_locked(d) : NULL;
        if (own && strcmp(own, path) != 0)
            rc = sl__stage_add_linked_file(st, own, err);
        free(own);
        if (rc == SL_OK)
            rc = check_written_locked(st, d, rank, dims, path, dataset, name, err);
        if (rc == SL_OK)
            rc = sl_frame_add(sl_stage_output(st), name, dt, rank == 2 ? (int64_t)dims[1] : 1, err);
        if (rc == SL_OK)
            rc = read_column_names_locked(d, sl_stage_output(st), name, rank == 2 ? (int64_t)dims[1] : 1, err);
        if (rc)
            sl__stage_locate(st, err, "arrays");
    }
    H5Dclose(d);
    if (rc)
        return rc;
    if (dt == SL_DTYPE_NONE)
        return sl_stage_error(st, err, SL_ERR_DATA, "arrays",
                              "dataset '%s' in '%s' holds %s values; sluice reads integer and float datasets only",
                              dataset, path,
                              cls == H5T_STRING     ? "string"
                              : cls == H5T_COMPOUND ? "compound"
                              : cls == H5T_ENUM     ? "enum"
                              : cls == H5T_FLOAT    ? "float values of a size other than 4 or 8 bytes, i.e. non-standard"
                                                    : "non-numeric");
    if (rank < 1 || rank > 2)
        return sl_stage_error(st, err, SL_ERR_DATA, "arrays",
                              "dataset '%s' in '%s' has %d dimensions; sluice reads 1-D (n) and 2-D (n x columns) "
                              "datasets",
                              dataset, path, rank);
    int64_t n = (int64_t)dims[0], cols = rank == 2 ? (int64_t)dims[1] : 1;
    if (n < 1 || cols < 1)
        return sl_stage_error(st, err, SL_ERR_DATA, "arrays", "dataset '%s' in '%s' is empty (%lld x %lld)", dataset,
                              path, (long long)n, (long long)cols);
    if (*rows >= 0 && n != *rows)
        return sl_stage_error(st, err, SL_ERR_DATA, "arrays",
                              "arrays of a frame must have the same number of rows: '%s' in '%s' has %lld rows, "
                              "'%s' has %lld",
                              dataset, path, (long long)n, *rows_from, (long long)*rows);
    *rows = n;
    *rows_from = dataset;
    a->dataset = dataset;
    a->rank = rank;
    a->dset = H5I_INVALID_HID;
    return SL_OK;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    load_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->file = sl_params_string(p, "file");
    s->n = sl_params_len(p, "arrays");
    s->fid = H5I_INVALID_HID;
    s->fd = -1;
    if (s->n == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "arrays", "'arrays' names no arrays; e.g. { X: /X, y: /y }");
    s->arrays = calloc(s->n, sizeof *s->arrays);
    if (!s->arrays)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++)
        s->arrays[i].dset = H5I_INVALID_HID;
    hid_t file;
    sl__h5_lock();
    sl_status rc = sl__h5_open_read_locked(s->file, &file, err);
    if (rc) {
        sl__h5_unlock();
        sl__error_append(err, "; check 'file' (a relative path is relative to the pipeline file's folder)");
        return sl__stage_locate(st, err, "file");
    }
    int64_t rows = -1;
    const char *rows_from = NULL;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++)
        rc = plan_array_locked(st, file, s->file, sl_params_map_key(p, "arrays", i),
                               sl_params_map_value(p, "arrays", i), &s->arrays[i], &rows, &rows_from, err);
    /* HDF5 can refuse to close a damaged file (tests/fuzz/KNOWN_HDF5_ISSUES.md) */
    if (H5Fclose(file) < 0 && rc == SL_OK) {
        char why[256];
        sl__h5_error_text_locked(why, sizeof why);
        rc = sl__error_set(err, SL_ERR_IO, "cannot close '%s' after reading its layout: %s", s->file,
                           why[0] ? why : "HDF5 error");
    }
    sl__h5_unlock();
    if (rc == SL_OK)
        sl_frame_set_rows(sl_stage_output(st), rows);
    return rc;
}

/* Opens the file and datasets if they are not open: when the stage is
 * streamed, its readers call read_chunk long after run() returned. */
/* Opens the file and datasets once; out gives the arrays' types. */
static sl_status open_locked(load_state *s, const sl_chunk *out, sl_error *err)
{
    if (s->fid >= 0)
        return SL_OK;
    sl_status rc = sl__h5_open_read_locked(s->file, &s->fid, err);
    /* the descriptor the direct reads use; each dataset is mapped only when
     * it lies in this very file (on failure, HDF5 reads) */
    s->fd = rc == SL_OK ? sl__open_read(s->file, NULL) : -1;
    int direct = s->fd >= 0;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        src_array *a = &s->arrays[i];
        a->dset = H5Dopen2(s->fid, a->dataset, H5P_DEFAULT);
        if (a->dset < 0) {
            rc = sl__error_set(err, SL_ERR_IO, "cannot open dataset '%s' in '%s' (did the file change since planning?)",
                               a->dataset, s->file);
            break;
        }
        const sl_array_info *info = out->arrays[i].info;
        int d = sl__direct_map_locked(a->dset, s->fd, -1, info->cols, info->dtype, &a->direct);
        if (d < 0)
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        direct = direct && d == 1;
    }
    if (!direct && s->fd >= 0) {
        close(s->fd); /* read_chunk reads through HDF5 when fd < 0 */
        s->fd = -1;
    }
    if (rc != SL_OK)
        close_locked(s); /* the next call tries again and reports again */
    return rc;
}

static void close_locked(load_state *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->arrays[i].dset >= 0) {
            H5Dclose(s->arrays[i].dset);
            s->arrays[i].dset = H5I_INVALID_HID;
        }
        sl__direct_free(&s->arrays[i].direct);
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->fid >= 0)
        H5Fclose(s->fid);
    s->fid = H5I_INVALID_HID;
}

/* Runs on many threads at once (read_parallel): plain datasets are read with
 * pread; anything HDF5 must convert or decompress goes through HDF5 under
 * its lock. Streamed, it reads only the arrays the pass gave a buffer
 * (sl__frame_set_partial_source). */
static sl_status read_chunk(void *ctx, sl_chunk *out, sl_error *err)
{
    load_state *s = ctx;
    sl__h5_lock();
    sl_status rc = open_locked(s, out, err);
    int fd = s->fd;
    if (rc != SL_OK || fd < 0) {
        for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
            const sl_array_info *a = out->arrays[i].info;
            if (!out->arrays[i].data)
                continue;
            rc = sl__h5_read_rows_locked(s->arrays[i].dset, s->arrays[i].rank, out->row0, out->rows, a->cols,
                                         a->dtype, out->arrays[i].data, s->file, s->arrays[i].dataset, err);
        }
        sl__h5_unlock();
        return rc;
    }
    sl__h5_unlock();
    for (size_t i = 0; i < s->n && rc == SL_OK; i++)
        if (out->arrays[i].data)
            rc = sl__direct_read(&s->arrays[i].direct, fd, out->row0, out->rows, out->arrays[i].data, s->file,
                                 s->arrays[i].dataset, err);
    return rc;
}

static sl_status stored_at(const sl_stage *st, size_t i, const char **file, const char **dataset, sl_error *err)
{
    const load_state *s = sl_stage_state(st);
    if (!s || i >= s->n)
        return sl__error_set(err, SL_ERR_INTERNAL, "load.hdf5: no array %zu", i);
    *file = s->file;
    *dataset = s->arrays[i].dataset;
    return SL_OK;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    load_state *s = sl_stage_state(st);
    sl_frame *out = sl_stage_output(st);
    sl_pass pass = {.name = "read",
                    .output = out,
                    .ctx = s,
                    .source_rows = sl_frame_rows(out),
                    .read = read_chunk,
                    .read_parallel = 1};
    sl_status rc = sl_exec_pass(ex, st, &pass, NULL, err);
    if (sl__frame_generator(out)) {
        sl__frame_set_partial_source(out);
    } else {
        /* stored: done with the file (a streamed stage keeps it open) */
        sl__h5_lock();
        close_locked(s);
        sl__h5_unlock();
    }
    return rc;
}

static const char op_doc[] =
    "Reads datasets of one HDF5 file into a frame, one chunk of rows at a time\n"
    "(memory stays at a few chunks whatever the file's size). Each entry of\n"
    "`arrays` names a frame array and the dataset that fills it: a 1-D dataset\n"
    "of n values becomes an n x 1 array, a 2-D dataset an n x c array. Every\n"
    "integer type (8 to 64 bits, signed or not) and float32/float64 are read\n"
    "as they are stored (big-endian files are converted); chunked, contiguous\n"
    "and compressed datasets all work. A string-array attribute `columns` with\n"
    "one name per column becomes the array's column names.\n"
    "\n"
    "Stored, the stage does not copy the data: it reads and hashes it once\n"
    "(its output hash is the one a copy would have), its checkpoint records\n"
    "the source file and datasets (the file's identity is in the cache key),\n"
    "and the stages that read it read the source in place, with `pread` where the\n"
    "bytes lie as in memory in the file itself (contiguous, or unfiltered\n"
    "full-width chunks, in the native byte order) and through HDF5 otherwise\n"
    "(external links, virtual datasets, external raw storage, compact or\n"
    "filtered datasets). With `compression:`\n"
    "the stage stores a compressed copy instead.\n"
    "\n"
    "Checked when the pipeline is planned (so `sluice check` finds it):\n"
    "\n"
    "- the file exists, is readable, is a regular file (links are followed; a\n"
    "  FIFO, a device or a folder is refused, never opened) and is HDF5 (error:\n"
    "  \"cannot open HDF5 file\" or \"is not an HDF5 file\", exit code 3);\n"
    "- each dataset path exists (error names the file and the path and suggests\n"
    "  `h5ls -r`, exit 3) and is a dataset, not a group;\n"
    "- each dataset is numeric (string, compound, enum: error, exit 1), has 1 or\n"
    "  2 dimensions (error gives the rank), and is not empty;\n"
    "- all datasets have the same number of rows (error names both datasets and\n"
    "  their row counts);\n"
    "- the other files a dataset's values come from (an external link's\n"
    "  target, a virtual dataset's sources, external raw storage) are there and\n"
    "  are regular files (a missing virtual source would read as fill values;\n"
    "  error names the dataset and the file, exit 3);\n"
    "- every chunk of each dataset was written (unwritten chunks would read as\n"
    "  the fill value: error gives how many of how many, exit 1).\n"
    "\n"
    "The output frame's row count is known at plan time.\n";

const sl_op sl__op_load_hdf5 = {
    .abi = SL_ABI_VERSION,
    .name = "load.hdf5",
    .summary = "read datasets of an HDF5 file into a frame",
    .doc = op_doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .flags = SL_OP_SOURCE | SL_OP_STREAMABLE,
    .plan = plan,
    .run = run,
    .free_state = free_state,
    .stored_at = stored_at,
};
