/* load.hdf5: reads named datasets of an HDF5 file into a frame, chunk by
 * chunk. Checks everything (file, paths, types, ranks, row counts) at plan
 * time, so `sluice check` finds a bad source before any stage runs. */
#include <fcntl.h>
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

/* True when every group on the way to `path` and the object itself exist. */
static int path_exists_locked(hid_t file, const char *path)
{
    char buf[1024];
    if (strlen(path) >= sizeof buf)
        return 0;
    strcpy(buf, path);
    for (char *p = buf + (buf[0] == '/');; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (buf[0] && strcmp(buf, "/") != 0 && H5Lexists(file, buf, H5P_DEFAULT) <= 0)
            return 0;
        if (c == '\0')
            return 1;
        *p = c;
    }
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
    if (!path_exists_locked(file, dataset))
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
    H5Fclose(file);
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
 * its lock. */
static sl_status read_chunk(void *ctx, sl_chunk *out, sl_error *err)
{
    load_state *s = ctx;
    sl__h5_lock();
    sl_status rc = open_locked(s, out, err);
    int fd = s->fd;
    if (rc != SL_OK || fd < 0) {
        for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
            const sl_array_info *a = out->arrays[i].info;
            rc = sl__h5_read_rows_locked(s->arrays[i].dset, s->arrays[i].rank, out->row0, out->rows, a->cols,
                                         a->dtype, out->arrays[i].data, s->file, s->arrays[i].dataset, err);
        }
        sl__h5_unlock();
        return rc;
    }
    sl__h5_unlock();
    for (size_t i = 0; i < s->n && rc == SL_OK; i++)
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
    if (!sl__frame_generator(out)) {
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
    "- every chunk of each dataset was written (unwritten chunks would read as\n"
    "  the fill value: error gives how many of how many, exit 1).\n"
    "\n"
    "The output frame's row count is known at plan time.\n";

const sl_op sl__op_load_hdf5 = {
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
