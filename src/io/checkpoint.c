#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "kernels/cast.h"

/* HDF5 chunks above this size waste memory in the chunk cache and hit HDF5's
 * 4 GiB chunk limit for wide arrays. */
#define SL_MAX_H5_CHUNK_BYTES (16u << 20)
/* Chunks per dataset before the cap on chunk bytes decides (see
 * chunk_rows_for): 1024 chunks of a 16 GiB array are 16 MiB each. */
#define SL_MAX_H5_CHUNKS 1024

/* Two ways to write. Direct (the rows are bounded, as for every stage
 * output): datasets are created at full size with their chunks allocated at
 * once and the file's metadata flushed; rows then go straight to the chunks'
 * file offsets with pwrite, never through HDF5, so the file's structure on
 * disk stays valid whatever moment the process dies, and a killed stage can
 * resume into the same file. Commit shrinks the datasets to the rows written.
 * Extendible (rows unbounded): HDF5 writes that grow the datasets. */
struct sl__ckpt_writer {
    char *path, *tmp;
    hid_t file;
    size_t n;
    hid_t *dsets;
    sl__hasher **hash; /* per array: its leaves' digests (a chunk's rows each) in row order */
    const sl_array_info *arrays;
    int64_t rows;
    int64_t bytes;
    int64_t max_rows;  /* direct mode: rows allocated; -1: extendible mode */
    int fd;            /* our own descriptor of the temporary file: direct writes, the writer's
                        * lock, and proof of which file is ours to remove */
    int64_t *h5_chunk_rows; /* per array: rows per HDF5 chunk */
    haddr_t **chunk_addr;   /* per array: file offset of each HDF5 chunk */
    int hash_only;          /* data read in place: rows are hashed, not written (no datasets) */
    int64_t *layout;        /* rows per chunk when not uniform (sl__ckpt_set_layout_locked) */
    int64_t nlayout;
    int64_t *leaves;        /* rows of each leaf hashed so far (sl__hash_leaf) */
    int64_t nleaves, cap_leaves;
    int part;               /* a rank's share of another rank's writer: no HDF5 file of its own */
    unsigned char *digests; /* part: each leaf's digests (n per leaf) for the writer's rank */
    int64_t *leaf_row0;     /* part: the first row of each leaf */
    int memory;             /* an in-memory run's output: rows go to mem, not to a file */
    unsigned char **mem;    /* memory: per array, room for mem_cap rows */
    int64_t mem_cap;
    int64_t chunk_rows;     /* the run's (datasets created late: compression auto) */
    int64_t rows_hint;      /* auto: the bound on rows the writer was opened with (-1: none), for
                             * the HDF5 chunks of datasets created late */
    int auto_on;            /* compression: auto: the choice and its figures are recorded */
    int auto_pending;       /* auto: no dataset yet; the first rows appended decide */
    sl__comp_probe probe;
    struct auto_choice *choice; /* auto: per array */
    const char *auto_why;   /* auto: why no array was measured ("" when they were) */
    unsigned char *narrow;  /* per array: float64 values that are float32's, stored as float32 */
};

/* compression: auto, one array: deflate (with shuffle) of a sample of its
 * first rows, and what it would save in writing. */
struct auto_choice {
    int64_t sample;  /* bytes compressed; 0: not measured */
    double ratio;    /* compressed / raw bytes of the sample */
    double cpu_ns;   /* CPU ns per raw byte (shuffle and deflate) */
    double saved_ns; /* write time saved per raw byte: (1 - ratio) / write_bw */
    int compress;
};

static sl_status h5_fail(sl_error *err, const char *what, const char *path)
{
    char why[256];
    sl__h5_error_text_locked(why, sizeof why);
    return sl__error_set(err, SL_ERR_IO, "cannot %s '%s': %s", what, path, why[0] ? why : "HDF5 error");
}

static void free_writer(sl__ckpt_writer *w)
{
    for (size_t i = 0; w->mem && i < w->n; i++)
        free(w->mem[i]);
    free(w->mem);
    free(w->choice);
    free(w->narrow);
    free(w->layout);
    free(w->leaves);
    free(w->digests);
    free(w->leaf_row0);
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; w->chunk_addr && i < w->n; i++)
        free(w->chunk_addr[i]);
    free(w->chunk_addr);
    free(w->h5_chunk_rows);
    for (size_t i = 0; w->hash && i < w->n; i++)
        sl__hasher_free(w->hash[i]);
    free(w->hash);
    for (size_t i = 0; w->dsets && i < w->n; i++)
        if (w->dsets[i] >= 0)
            H5Dclose(w->dsets[i]);
    if (w->file >= 0)
        H5Fclose(w->file);
    free(w->dsets);
    free(w->path);
    free(w->tmp);
    free(w);
}

/* Rows per HDF5 chunk: the run's chunk_rows, but never so few that a
 * dataset has more than SL_MAX_H5_CHUNKS chunks (HDF5 1.10 finds a chunk's
 * address by scanning the whole chunk index, so mapping n chunks costs n^2:
 * a million 1-row chunks would take hours), nor so many that a chunk
 * exceeds SL_MAX_H5_CHUNK_BYTES. The executor's chunks need not line up with
 * HDF5's: direct reads and writes split rows at HDF5 chunk edges. */
static hsize_t chunk_rows_for(int64_t chunk_rows, int64_t rows_hint, const sl_array_info *a)
{
    int64_t r = chunk_rows;
    if (rows_hint >= 0) {
        int64_t fewest = (rows_hint + SL_MAX_H5_CHUNKS - 1) / SL_MAX_H5_CHUNKS;
        if (r < fewest)
            r = fewest;
        if (rows_hint < r)
            r = rows_hint;
    }
    int64_t row_bytes = a->cols * (int64_t)sl_dtype_size(a->dtype);
    int64_t cap = (int64_t)SL_MAX_H5_CHUNK_BYTES / (row_bytes > 0 ? row_bytes : 1);
    if (r > cap)
        r = cap;
    return (hsize_t)(r < 1 ? 1 : r);
}

static sl_status alloc_writer(const char *path, const sl_frame *schema, int64_t max_rows, sl__ckpt_writer **out,
                              sl_error *err)
{
    sl__ckpt_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    w->file = H5I_INVALID_HID;
    w->fd = -1;
    w->max_rows = max_rows;
    w->auto_why = "";
    w->n = sl_frame_count(schema);
    size_t n1 = w->n ? w->n : 1;
    w->dsets = malloc(n1 * sizeof *w->dsets);
    w->hash = calloc(n1, sizeof *w->hash);
    w->h5_chunk_rows = calloc(n1, sizeof *w->h5_chunk_rows);
    w->chunk_addr = calloc(n1, sizeof *w->chunk_addr);
    w->narrow = calloc(n1, 1);
    w->path = strdup(path);
    w->tmp = malloc(strlen(path) + 5);
    int ok = w->dsets && w->hash && w->h5_chunk_rows && w->chunk_addr && w->narrow && w->path && w->tmp;
    /* SLUICE_CKPT_FLOAT32=off: such arrays stored as float64 (A/B, debugging) */
    const char *f32 = getenv("SLUICE_CKPT_FLOAT32");
    for (size_t i = 0; ok && i < w->n; i++)
        w->narrow[i] = (unsigned char)(sl__frame_f32_exact(schema, i) && !(f32 && strcmp(f32, "off") == 0));
    for (size_t i = 0; ok && i < w->n; i++) {
        w->dsets[i] = H5I_INVALID_HID;
        ok = (w->hash[i] = sl__hasher_new()) != NULL;
    }
    if (!ok) {
        if (!w->dsets)
            w->n = 0;
        free_writer(w);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    sprintf(w->tmp, "%s.tmp", path);
    w->arrays = sl_frame_array(schema, 0);
    *out = w;
    return SL_OK;
}

static hid_t file_access_plist(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    /* the 1.8 format stores large attributes (a loss per epoch) densely; the
     * earliest format caps an attribute at 64 KiB */
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    return fapl;
}

/* HDF5 chunks of array i's dataset (direct mode). */
static int64_t h5_chunk_count(const sl__ckpt_writer *w, size_t i)
{
    return (w->max_rows + w->h5_chunk_rows[i] - 1) / w->h5_chunk_rows[i];
}

/* Direct mode: the file offset of every HDF5 chunk of every dataset. */
static sl_status map_chunks_locked(sl__ckpt_writer *w, sl_error *err)
{
    for (size_t i = 0; i < w->n; i++) {
        int64_t cr = w->h5_chunk_rows[i];
        int64_t nchunks = h5_chunk_count(w, i);
        w->chunk_addr[i] = malloc((size_t)(nchunks ? nchunks : 1) * sizeof **w->chunk_addr);
        if (!w->chunk_addr[i])
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t k = 0; k < nchunks; k++) {
            hsize_t coord[2] = {(hsize_t)(k * cr), 0}, size = 0;
            unsigned mask = 0;
            haddr_t addr = HADDR_UNDEF;
            if (H5Dget_chunk_info_by_coord(w->dsets[i], coord, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF)
                return h5_fail(err, "locate the chunks of", w->tmp);
            w->chunk_addr[i][k] = addr;
        }
    }
    return SL_OK;
}

/* HDF5 filter ids: registered lz4 and blosc (which carries zstd) plugins */
#define FILTER_LZ4 32004
#define FILTER_BLOSC 32001
#define BLOSC_ZSTD 5

int sl__compression_from_name(const char *name)
{
    static const char *const names[] = {"none", "deflate", "lz4", "zstd", "auto"};
    for (int i = 0; i < 5; i++)
        if (name && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

sl_status sl__compression_check_locked(sl__compression c, sl_error *err)
{
    if (c == SL__COMP_DEFLATE && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
        return sl__error_set(err, SL_ERR_CONFIG, "this HDF5 library has no deflate filter; use compression: none");
    if (c == SL__COMP_LZ4 && H5Zfilter_avail(FILTER_LZ4) <= 0)
        return sl__error_set(err, SL_ERR_CONFIG,
                             "compression 'lz4' needs HDF5's LZ4 filter plugin: apt-get install hdf5-filter-plugin "
                             "(or set HDF5_PLUGIN_PATH)");
    if (c == SL__COMP_ZSTD && H5Zfilter_avail(FILTER_BLOSC) <= 0)
        return sl__error_set(err, SL_ERR_CONFIG,
                             "compression 'zstd' needs HDF5's Blosc filter plugin (zstd through Blosc): apt-get "
                             "install hdf5-filter-plugin-blosc-serial (or set HDF5_PLUGIN_PATH)");
    return SL_OK;
}

/* Byte shuffle first: float bytes of equal significance compress together. */
static void set_filters(hid_t dcpl, sl__compression c, const sl_array_info *a, hsize_t chunk_rows)
{
    size_t elem = sl_dtype_size(a->dtype);
    if (c == SL__COMP_DEFLATE) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 4);
    } else if (c == SL__COMP_LZ4) {
        unsigned cd[1] = {0};
        H5Pset_shuffle(dcpl);
        H5Pset_filter(dcpl, FILTER_LZ4, H5Z_FLAG_MANDATORY, 1, cd);
    } else if (c == SL__COMP_ZSTD) {
        /* blosc's own shuffle; cd_values 0-3 are filled in by the filter */
        unsigned cd[7] = {2, 2, (unsigned)elem, (unsigned)(chunk_rows * (hsize_t)a->cols * elem), 5, 1, BLOSC_ZSTD};
        H5Pset_filter(dcpl, FILTER_BLOSC, H5Z_FLAG_MANDATORY, 7, cd);
    }
}

/* Creates w->tmp anew, empty, as our own file: refused when another live
 * process is writing it (its writer's lock); a stale file, or a link or
 * FIFO someone put there, is unlinked, never followed (sl__create_new). The
 * new file is locked at once and its descriptor kept in w->fd. */
static sl_status claim_tmp(sl__ckpt_writer *w, sl_error *err)
{
    long pid = 0;
    w->fd = sl__create_locked(w->tmp, &pid);
    if (w->fd >= 0)
        return SL_OK;
    int e = errno;
    if (e == EBUSY) {
        char who[48] = "";
        if (pid > 0)
            snprintf(who, sizeof who, " (pid %ld)", pid);
        return sl__error_set(err, SL_ERR_IO,
                             "another process%s is writing '%s' (its temporary file '%s' is locked); wait for it "
                             "to finish, or write to another file",
                             who, w->path, w->tmp);
    }
    char why[256];
    struct stat sb;
    if (lstat(w->tmp, &sb) != 0)
        memset(&sb, 0, sizeof sb);
    return sl__error_set(err, SL_ERR_IO, "cannot create '%s': %s", w->tmp, sl__open_error_text(e, &sb, why, sizeof why));
}

/* 1 when HDF5's descriptor of w->file is the file we created (HDF5 opens by
 * path and follows links: one planted between our create and its open
 * would redirect every write). */
static int h5_file_is_ours(const sl__ckpt_writer *w)
{
    int *handle = NULL;
    struct stat a, b;
    return H5Fget_vfd_handle(w->file, H5P_DEFAULT, (void **)&handle) >= 0 && handle && fstat(*handle, &a) == 0 &&
           fstat(w->fd, &b) == 0 && sl__same_file(&a, &b);
}

/* A writer for `path` whose `path`.tmp is created empty. */
static sl_status create_writer(const char *path, const sl_frame *schema, int64_t max_rows, sl__ckpt_writer **out,
                               sl_error *err)
{
    sl__ckpt_writer *w;
    sl_status s = alloc_writer(path, schema, max_rows, &w, err);
    if (s)
        return s;
    s = claim_tmp(w, err);
    if (s) {
        free_writer(w);
        return s;
    }
    hid_t fapl = file_access_plist();
    errno = 0;
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (w->file < 0) {
        s = errno ? sl__error_set(err, SL_ERR_IO, "cannot create '%s': %s", w->tmp, strerror(errno))
                  : h5_fail(err, "create", w->tmp);
        sl__ckpt_abort_locked(w);
        return s;
    }
    if (!h5_file_is_ours(w)) {
        s = sl__error_set(err, SL_ERR_IO,
                          "'%s' was replaced while sluice created it (by a link or another file); sluice follows "
                          "no link where it writes: find out what else writes there",
                          w->tmp);
        sl__ckpt_abort_locked(w);
        return s;
    }
    *out = w;
    return SL_OK;
}

sl_status sl__ckpt_open_hash_only_locked(const char *path, const sl_frame *schema, int64_t rows,
                                         sl__ckpt_writer **out, sl_error *err)
{
    sl_status s = create_writer(path, schema, rows, out, err);
    if (s == SL_OK)
        (*out)->hash_only = 1;
    return s;
}

static size_t array_row_bytes(const sl__ckpt_writer *w, size_t i);
static sl_status put_string_attr(sl__ckpt_writer *w, hid_t obj, const char *key, const char *value, sl_error *err);

/* Creates array i's dataset: preallocated for direct writes when
 * w->max_rows >= 0, else growing, through `comp`'s filters. */
static sl_status create_dataset_locked(sl__ckpt_writer *w, size_t i, sl__compression comp, sl_error *err)
{
    sl_status s = SL_OK;
    int direct = w->max_rows >= 0;
    const sl_array_info *a = &w->arrays[i];
    hsize_t dims[2] = {(hsize_t)(direct ? w->max_rows : 0), (hsize_t)a->cols};
    hsize_t maxdims[2] = {H5S_UNLIMITED, (hsize_t)a->cols};
    w->h5_chunk_rows[i] = (int64_t)chunk_rows_for(w->chunk_rows, w->auto_on ? w->rows_hint : w->max_rows, a);
    hsize_t chunk[2] = {(hsize_t)w->h5_chunk_rows[i], (hsize_t)a->cols};
    hid_t space = H5Screate_simple(2, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    if (direct) {
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    }
    if (comp == SL__COMP_AUTO) {
        /* auto compresses with deflate's fastest level: every HDF5 reads it */
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 1);
    } else {
        set_filters(dcpl, comp, a, chunk[0]);
    }
    hid_t type = w->narrow[i] ? H5T_NATIVE_FLOAT : sl__h5_native(a->dtype);
    w->dsets[i] = H5Dcreate2(w->file, a->name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (w->dsets[i] < 0)
        s = h5_fail(err, "create a dataset in", w->tmp); /* before closes clear the stack */
    H5Pclose(dcpl);
    H5Sclose(space);
    /* stored as float32: the frame's type, for whoever reads the file */
    if (s == SL_OK && w->narrow[i])
        s = put_string_attr(w, w->dsets[i], "sluice_dtype", sl_dtype_name(a->dtype), err);
    return s;
}

sl_status sl__ckpt_open_locked(const char *path, const sl_frame *schema, int64_t chunk_rows, int64_t max_rows,
                               sl__compression comp, sl__ckpt_writer **out, sl_error *err)
{
    int64_t rows_hint = max_rows;
    if (comp != SL__COMP_NONE)
        max_rows = -1; /* compressed chunks have no fixed place to pwrite into */
    sl__ckpt_writer *w = NULL;
    sl_status s = create_writer(path, schema, max_rows, &w, err);
    if (s)
        return s;
    w->chunk_rows = chunk_rows;
    w->rows_hint = rows_hint;
    if (comp == SL__COMP_AUTO) {
        w->auto_on = w->auto_pending = 1;
        w->choice = calloc(w->n ? w->n : 1, sizeof *w->choice);
        if (!w->choice) {
            sl__ckpt_abort_locked(w);
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        }
        *out = w;
        return SL_OK;
    }
    for (size_t i = 0; i < w->n; i++) {
        s = create_dataset_locked(w, i, comp, err);
        if (s) {
            sl__ckpt_abort_locked(w);
            return s;
        }
    }
    if (max_rows >= 0) {
        if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0)
            s = h5_fail(err, "flush", w->tmp);
        if (s == SL_OK)
            s = map_chunks_locked(w, err);
        if (s) {
            sl__ckpt_abort_locked(w);
            return s;
        }
    }
    *out = w;
    return SL_OK;
}

/* ---- compression: auto ---- */

/* Bytes of the timed write of the probe (written from a buffer of 1 MiB),
 * and the most of an array's first rows that are compressed to decide (and
 * of zeros, for deflate's floor). */
#define SL_COMP_PROBE_BYTES (8u << 20)
#define SL_COMP_SAMPLE_BYTES (256u << 10)

static double thread_cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* HDF5's shuffle: byte k of every element, then byte k + 1, ... */
static void shuffle_bytes(const unsigned char *in, unsigned char *out, size_t n, size_t elem)
{
    size_t count = n / elem;
    for (size_t k = 0; k < elem; k++)
        for (size_t j = 0; j < count; j++)
            out[k * count + j] = in[j * elem + k];
    memcpy(out + count * elem, in + count * elem, n - count * elem);
}

/* Shuffles and deflates (level 1, as auto's datasets) n bytes of elements
 * of `elem` bytes, into scratch (2 * n + compressBound): the compressed
 * size, or 0 on failure; *cpu gets the thread's CPU seconds it took. */
static size_t deflate_sample(const unsigned char *data, size_t n, size_t elem, unsigned char *scratch, double *cpu)
{
    double t0 = thread_cpu_seconds();
    shuffle_bytes(data, scratch, n, elem);
    uLongf out = compressBound((uLong)n);
    int rc = compress2(scratch + n, &out, scratch, (uLong)n, 1);
    *cpu = thread_cpu_seconds() - t0;
    return rc == Z_OK ? (size_t)out : 0;
}

static double env_bandwidth(void)
{
    const char *v = getenv("SLUICE_WRITE_BANDWIDTH");
    char *end = NULL;
    double bw = v && *v ? strtod(v, &end) : 0;
    return end && *end == '\0' && bw > 0 ? bw : 0;
}

static int write_all(int fd, const unsigned char *buf, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t wr = write(fd, buf + done, n - done);
        if (wr <= 0)
            return -1;
        done += (size_t)wr;
    }
    return 0;
}

/* The write+fsync bandwidth of dir: a new file there gets 4 KiB and an
 * fdatasync (the fixed cost of a sync: the journal's commit, the device's
 * flush), then SL_COMP_PROBE_BYTES and another fdatasync; the bandwidth is
 * those bytes over the second step's time less the first's. The file is
 * removed. 0 when it failed. */
static double measure_write_bw(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.sluice.bwprobe.%ld", dir ? dir : ".", (long)getpid()) >= (int)sizeof path)
        return 0;
    size_t piece = 1u << 20;
    unsigned char *buf = malloc(piece);
    if (!buf)
        return 0;
    for (size_t k = 0; k < piece; k++)
        buf[k] = (unsigned char)(k * 2654435761u >> 13); /* not zeros: no file system may elide it */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    double bw = 0;
    if (fd >= 0) {
        double t0 = monotonic_seconds();
        int ok = write_all(fd, buf, 4096) == 0 && fdatasync(fd) == 0;
        double t1 = monotonic_seconds();
        for (size_t done = 0; ok && done < SL_COMP_PROBE_BYTES; done += piece)
            ok = write_all(fd, buf, piece) == 0;
        ok = ok && fdatasync(fd) == 0;
        double t2 = monotonic_seconds();
        double dt = (t2 - t1) - (t1 - t0);
        if (ok)
            bw = (double)SL_COMP_PROBE_BYTES / (dt > 1e-5 ? dt : 1e-5);
        close(fd);
        unlink(path);
    }
    free(buf);
    return bw;
}

void sl__comp_probe_measure(const char *dir, sl__comp_probe *p)
{
    memset(p, 0, sizeof *p);
    p->write_bw = env_bandwidth();
    p->bw_from_env = p->write_bw > 0;
    if (!p->bw_from_env)
        p->write_bw = measure_write_bw(dir);
    /* deflate's best case: the least time of three on SL_COMP_SAMPLE_BYTES of zeros */
    size_t n = SL_COMP_SAMPLE_BYTES;
    unsigned char *zeros = calloc(1, n), *scratch = malloc(2 * n + compressBound((uLong)n));
    p->floor_ns = 0;
    for (int k = 0; zeros && scratch && k < 3; k++) {
        double cpu;
        if (deflate_sample(zeros, n, 8, scratch, &cpu) == 0)
            break;
        double ns = 1e9 * cpu / (double)n;
        if (k == 0 || ns < p->floor_ns)
            p->floor_ns = ns;
    }
    free(zeros);
    free(scratch);
}

int sl__comp_may_pay(const sl__comp_probe *p)
{
    return p->write_bw > 0 && 1e9 / p->write_bw > p->floor_ns;
}

void sl__ckpt_auto_locked(sl__ckpt_writer *w, const sl__comp_probe *p)
{
    w->auto_on = 1;
    w->probe = *p;
    if (!w->auto_pending)
        w->auto_why = p->write_bw > 0 ? "writing a byte takes less time than deflating a byte of zeros"
                                      : "the write bandwidth could not be measured";
}

/* The first rows (chunk c; NULL: none came) decide each array: deflate a
 * sample, compress when the write time it saves exceeds the CPU time it
 * costs. Then the datasets are created. */
static sl_status auto_decide_locked(sl__ckpt_writer *w, const sl_chunk *c, sl_error *err)
{
    size_t most = 0;
    for (size_t i = 0; c && i < w->n; i++) {
        size_t b = (size_t)c->rows * array_row_bytes(w, i);
        if (b > most)
            most = b;
    }
    if (most > SL_COMP_SAMPLE_BYTES)
        most = SL_COMP_SAMPLE_BYTES;
    unsigned char *scratch = most ? malloc(2 * most + compressBound((uLong)most)) : NULL;
    if (most && !scratch)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (!c)
        w->auto_why = "no rows";
    for (size_t i = 0; i < w->n; i++) {
        struct auto_choice *ch = &w->choice[i];
        size_t elem = sl_dtype_size(w->arrays[i].dtype);
        size_t n = c ? (size_t)c->rows * array_row_bytes(w, i) : 0;
        if (n > most)
            n = most;
        n -= n % (elem ? elem : 1);
        /* an array stored as float32: what is compressed is its float32 values */
        const void *sample = c && n ? c->arrays[i].data : NULL;
        float *narrowed = NULL;
        if (sample && w->narrow[i]) {
            size_t k = n / sizeof(double);
            if (!(narrowed = malloc(k * sizeof *narrowed))) {
                free(scratch);
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            }
            sl__cast(narrowed, SL_FLOAT32, sample, SL_FLOAT64, k);
            sample = narrowed;
            n = k * sizeof *narrowed;
            elem = sizeof *narrowed;
        }
        double cpu = 0;
        size_t z = sample ? deflate_sample(sample, n, elem, scratch, &cpu) : 0;
        free(narrowed);
        if (z > 0) {
            ch->sample = (int64_t)n;
            ch->ratio = (double)z / (double)n;
            ch->cpu_ns = 1e9 * cpu / (double)n;
            ch->saved_ns = w->probe.write_bw > 0 ? 1e9 * (1 - ch->ratio) / w->probe.write_bw : 0;
            ch->compress = ch->saved_ns > ch->cpu_ns;
        }
    }
    free(scratch);
    w->auto_pending = 0;
    /* nothing compressed and the rows bounded: preallocated datasets and
     * pwrite, as with none (with no journal: the stage was not opened as
     * resumable) */
    size_t on = 0;
    for (size_t i = 0; i < w->n; i++)
        on += w->choice[i].compress != 0;
    if (on == 0 && w->rows_hint >= 0)
        w->max_rows = w->rows_hint;
    for (size_t i = 0; i < w->n; i++) {
        sl_status s = create_dataset_locked(w, i, w->choice[i].compress ? SL__COMP_AUTO : SL__COMP_NONE, err);
        if (s)
            return s;
    }
    if (w->max_rows >= 0) {
        if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0)
            return h5_fail(err, "flush", w->tmp);
        return map_chunks_locked(w, err);
    }
    return SL_OK;
}

/* The choice as JSON: {"choice": deflate|none|mixed, the probe's figures,
 * and each measured array's}. */
static void auto_json(const sl__ckpt_writer *w, int arrays, char *out, size_t size)
{
    size_t on = 0, measured = 0;
    double raw = 0, packed = 0;
    for (size_t i = 0; w->choice && i < w->n; i++) {
        on += w->choice[i].compress != 0;
        measured += w->choice[i].sample > 0;
        raw += (double)w->choice[i].sample;
        packed += w->choice[i].ratio * (double)w->choice[i].sample;
    }
    const char *choice = on == 0 ? "none" : on == w->n ? "deflate" : "mixed";
    int len = snprintf(out, size, "{\"choice\":\"%s\"", choice);
    if (measured && len > 0 && (size_t)len < size)
        len += snprintf(out + len, size - (size_t)len, ",\"ratio\":%.4g", raw > 0 ? packed / raw : 1.0);
    if (len > 0 && (size_t)len < size)
        len += snprintf(out + len, size - (size_t)len, ",\"write_bw\":%.4g,\"bw_from\":\"%s\",\"deflate_floor_ns\":%.4g",
                        w->probe.write_bw, w->probe.bw_from_env ? "SLUICE_WRITE_BANDWIDTH" : "probe",
                        w->probe.floor_ns);
    if (w->auto_why[0] && len > 0 && (size_t)len < size)
        len += snprintf(out + len, size - (size_t)len, ",\"why\":\"%s\"", w->auto_why);
    if (!arrays && measured && len > 0 && (size_t)len < size)
        len += snprintf(out + len, size - (size_t)len, ",\"arrays\":\"in sluice_compression_auto\"");
    if (!arrays)
        measured = 0;
    if (measured && len > 0 && (size_t)len < size)
        len += snprintf(out + len, size - (size_t)len, ",\"arrays\":{");
    for (size_t i = 0, k = 0; measured && i < w->n && len > 0 && (size_t)len < size; i++) {
        const struct auto_choice *ch = &w->choice[i];
        if (ch->sample == 0)
            continue;
        len += snprintf(out + len, size - (size_t)len,
                        "%s\"%s\":{\"compression\":\"%s\",\"ratio\":%.4g,\"cpu_ns_per_byte\":%.4g,"
                        "\"saved_ns_per_byte\":%.4g,\"sample_bytes\":%lld}",
                        k++ ? "," : "", w->arrays[i].name, ch->compress ? "deflate" : "none", ch->ratio, ch->cpu_ns,
                        ch->saved_ns, (long long)ch->sample);
    }
    if (measured && len > 0 && (size_t)len < size)
        len += snprintf(out + len, size - (size_t)len, "}");
    if (len > 0 && (size_t)len + 1 < size)
        snprintf(out + len, size - (size_t)len, "}");
    else if (size > 1)
        snprintf(out, size, "{\"choice\":\"%s\"}", choice); /* too many arrays to list: the choice alone */
}

sl_status sl__ckpt_auto_finish_locked(sl__ckpt_writer *w, char *json, size_t size, sl_error *err)
{
    if (size)
        json[0] = '\0';
    if (!w->auto_on)
        return SL_OK;
    sl_status s = w->auto_pending ? auto_decide_locked(w, NULL, err) : SL_OK;
    char *text = malloc(65536);
    if (!text)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    auto_json(w, 1, text, 65536);
    if (s == SL_OK)
        s = sl__ckpt_attr_string_locked(w, "sluice_compression_auto", text, err);
    /* run.log: the arrays' figures when they fit */
    if (size && strlen(text) < size)
        memcpy(json, text, strlen(text) + 1);
    else if (size)
        auto_json(w, 0, json, size);
    free(text);
    return s;
}

/* Bytes of a row of array i in memory (the frame's type) and in the file. */
static size_t array_row_bytes(const sl__ckpt_writer *w, size_t i)
{
    return (size_t)w->arrays[i].cols * sl_dtype_size(w->arrays[i].dtype);
}

static size_t file_row_bytes(const sl__ckpt_writer *w, size_t i)
{
    return w->narrow[i] ? (size_t)w->arrays[i].cols * sizeof(float) : array_row_bytes(w, i);
}

/* Values narrowed to float32 for one pwrite, in a buffer on the stack (the
 * writes of a stage run on several threads at once): 64 KiB. */
#define CONVERT_BLOCK 16384

/* The rows of array i from `row` on that lie together in the file (at most
 * `rows`, within one HDF5 chunk), and where they start. */
static int64_t piece_at(const sl__ckpt_writer *w, size_t i, int64_t row, int64_t rows, off_t *off)
{
    int64_t cr = w->h5_chunk_rows[i], k = row / cr, in = row % cr;
    *off = (off_t)(w->chunk_addr[i][k] + (haddr_t)((size_t)in * file_row_bytes(w, i)));
    return cr - in < rows ? cr - in : rows;
}

static sl_status pwrite_all(const sl__ckpt_writer *w, const char *data, size_t len, off_t off, sl_error *err)
{
    for (size_t done = 0; done < len;) {
        ssize_t wr = pwrite(w->fd, data + done, len - done, off + (off_t)done);
        if (wr < 0)
            return sl__error_set(err, SL_ERR_IO, "cannot write '%s': %s", w->tmp, strerror(errno));
        done += (size_t)wr;
    }
    return SL_OK;
}

/* Writes n float64 values that are float32's as float32 at off. */
static sl_status pwrite_narrowed(const sl__ckpt_writer *w, const double *v, size_t n, off_t off, sl_error *err)
{
    float buf[CONVERT_BLOCK];
    sl_status s = SL_OK;
    for (size_t k = 0; s == SL_OK && k < n; k += CONVERT_BLOCK) {
        size_t m = n - k < CONVERT_BLOCK ? n - k : CONVERT_BLOCK;
        sl__cast(buf, SL_FLOAT32, v + k, SL_FLOAT64, m);
        s = pwrite_all(w, (const char *)buf, m * sizeof *buf, off + (off_t)(k * sizeof *buf), err);
    }
    return s;
}

/* Writes rows [row0, row0 + rows) of array i straight to its chunks. */
static sl_status write_direct(sl__ckpt_writer *w, size_t i, int64_t row0, int64_t rows, const char *data,
                              sl_error *err)
{
    size_t rb = array_row_bytes(w, i), fb = file_row_bytes(w, i);
    while (rows > 0) {
        off_t off;
        int64_t n = piece_at(w, i, row0, rows, &off);
        size_t len = (size_t)n * fb;
        sl_status s = w->narrow[i] ? pwrite_narrowed(w, (const double *)data, (size_t)n * (size_t)w->arrays[i].cols,
                                                     off, err)
                                   : pwrite_all(w, data, len, off, err);
        if (s)
            return s;
        /* Every checkpoint is fsynced before it is committed: starting its
         * writeback now overlaps the disk with the computing of the next
         * chunks, where the fsync alone wrote the whole file at the end.
         * Interleaved A/B runs, 8M rows, every stage stored: 0.89x the wall
         * time with -j 2; at 2 ranks x 1 thread (each rank's rows), 3.5 s
         * in place of 4.1-4.6 s. */
        sl__start_writeback(w->fd, off, (off_t)len);
        data += (size_t)n * rb;
        row0 += n;
        rows -= n;
    }
    return SL_OK;
}

sl_status sl__ckpt_sync(sl__ckpt_writer *w, sl_error *err)
{
    if (w->fd >= 0 && fdatasync(w->fd) != 0)
        return sl__error_set(err, SL_ERR_IO, "cannot sync '%s' to disk: %s", w->tmp, strerror(errno));
    return SL_OK;
}

int sl__ckpt_resumable(const sl__ckpt_writer *w)
{
    return w->max_rows >= 0;
}

size_t sl__ckpt_hash_state_size(void)
{
    return sl__hasher_state_size();
}

void sl__ckpt_save_state(const sl__ckpt_writer *w, int64_t *rows, int64_t *bytes, void *hash_states)
{
    *rows = w->rows;
    *bytes = w->bytes;
    for (size_t i = 0; i < w->n; i++)
        sl__hasher_save(w->hash[i], (char *)hash_states + i * sl__hasher_state_size());
}

const int64_t *sl__ckpt_leaves(const sl__ckpt_writer *w, int64_t *n)
{
    *n = w->nleaves;
    return w->leaves;
}

static int64_t rows_bytes(const sl__ckpt_writer *w, int64_t rows)
{
    int64_t b = 0;
    for (size_t i = 0; i < w->n; i++)
        b += rows * (int64_t)(w->memory ? array_row_bytes(w, i) : file_row_bytes(w, i));
    return b;
}

static sl_status push_leaf(sl__ckpt_writer *w, int64_t row0, int64_t rows, sl_error *err)
{
    if (w->nleaves == w->cap_leaves) {
        int64_t cap = w->cap_leaves ? 2 * w->cap_leaves : 64;
        int64_t *l = realloc(w->leaves, (size_t)cap * sizeof *l);
        int64_t *r = w->part ? realloc(w->leaf_row0, (size_t)cap * sizeof *r) : NULL;
        unsigned char *d = w->part ? realloc(w->digests, (size_t)cap * (w->n ? w->n : 1) * SL_LEAF_BYTES) : NULL;
        if (l)
            w->leaves = l;
        if (r)
            w->leaf_row0 = r;
        if (d)
            w->digests = d;
        if (!l || (w->part && (!r || !d)))
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        w->cap_leaves = cap;
    }
    w->leaves[w->nleaves] = rows;
    if (w->part)
        w->leaf_row0[w->nleaves] = row0;
    w->nleaves++;
    return SL_OK;
}

/* Adds one leaf's digests (one per array) for rows [row0, row0 + rows). A
 * writer's own leaves go into its hashers in row order; a part keeps them
 * for its writer's rank (sl__ckpt_part_items). */
static sl_status add_leaf(sl__ckpt_writer *w, int64_t row0, int64_t rows, const unsigned char *digests,
                          sl_error *err)
{
    sl_status s = push_leaf(w, row0, rows, err);
    if (s)
        return s;
    if (w->part)
        memcpy(w->digests + (size_t)(w->nleaves - 1) * w->n * SL_LEAF_BYTES, digests, w->n * SL_LEAF_BYTES);
    else
        for (size_t i = 0; i < w->n; i++)
            sl__hasher_add(w->hash[i], digests + i * SL_LEAF_BYTES, SL_LEAF_BYTES);
    w->bytes += rows_bytes(w, rows);
    if (!w->part)
        w->rows += rows;
    return SL_OK;
}

/* A chunk's rows are one leaf of every array's hash. */
static sl_status add_chunk_leaf(sl__ckpt_writer *w, const sl_chunk *c, int64_t row0, sl_error *err)
{
    if (c->rows <= 0)
        return SL_OK;
    unsigned char stack[8 * SL_LEAF_BYTES];
    unsigned char *d = w->n <= 8 ? stack : malloc(w->n * SL_LEAF_BYTES);
    if (!d)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < w->n; i++)
        sl__hash_leaf(c->arrays[i].data, (size_t)c->rows * array_row_bytes(w, i), d + i * SL_LEAF_BYTES);
    sl_status s = add_leaf(w, row0, c->rows, d, err);
    if (d != stack)
        free(d);
    return s;
}

/* Feeds rows [row0, row0 + rows) of array i, read back from the file, to h. */
static sl_status hash_back(const sl__ckpt_writer *w, size_t i, int64_t row0, int64_t rows, char *buf, size_t size,
                           sl__hasher *h, sl_error *err)
{
    size_t rb = array_row_bytes(w, i), fb = file_row_bytes(w, i);
    int64_t step = rb ? (int64_t)(size / rb) : rows;
    if (step < 1)
        step = 1;
    for (int64_t r = row0; r < row0 + rows;) {
        off_t off;
        int64_t n = piece_at(w, i, r, row0 + rows - r < step ? row0 + rows - r : step, &off);
        size_t len = (size_t)n * fb;
        /* float32 in the file: read into the back half, widened to the values hashed */
        char *into = w->narrow[i] ? buf + (size_t)n * rb - len : buf;
        for (size_t done = 0; done < len;) {
            ssize_t got = pread(w->fd, into + done, len - done, off + (off_t)done);
            if (got <= 0)
                return sl__error_set(err, SL_ERR_IO, "cannot read back '%s': %s", w->tmp,
                                     got < 0 ? strerror(errno) : "the file is shorter than its datasets say");
            done += (size_t)got;
        }
        if (w->narrow[i])
            sl__widen_f32_in_place(buf, (size_t)n * (size_t)w->arrays[i].cols);
        sl__hasher_add(h, buf, (size_t)n * rb);
        r += n;
    }
    return SL_OK;
}

/* The rows an interrupted run wrote are kept only if they are the rows it
 * hashed: each array's rows [0, rows) are read back and hashed afresh, leaf
 * by leaf as the journal recorded them, and the digest must equal that of
 * the state the journal saved. Otherwise a damaged or altered temporary
 * file would be committed under the hash of the rows it should have held
 * (issue 14). */
static sl_status verify_rows(const sl__ckpt_writer *w, int64_t rows, const void *hash_states, const int64_t *leaves,
                             int64_t nleaves, sl_error *err)
{
    enum { BUF = 1 << 20 };
    int64_t sum = 0;
    for (int64_t k = 0; k < nleaves && sum <= rows; k++)
        sum = leaves[k] > 0 && leaves[k] <= rows ? sum + leaves[k] : rows + 1;
    if (sum != rows)
        return sl__error_set(err, SL_ERR_DATA, "cannot resume '%s': its journal's chunks do not add up to its rows",
                             w->tmp);
    char *buf = malloc(BUF);
    sl__hasher *fresh = sl__hasher_new(), *saved = sl__hasher_new(), *leaf = sl__hasher_new();
    sl_status s = buf && fresh && saved && leaf ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == SL_OK && i < w->n; i++) {
        const sl_array_info *a = &w->arrays[i];
        sl__hasher_reset(fresh);
        int64_t row0 = 0;
        for (int64_t k = 0; s == SL_OK && k < nleaves; k++) {
            sl__hasher_reset(leaf);
            s = hash_back(w, i, row0, leaves[k], buf, BUF, leaf, err);
            sl__hasher_add_leaf(fresh, leaf);
            row0 += leaves[k];
        }
        if (s != SL_OK)
            break;
        char want[SL_HASH_HEX], got[SL_HASH_HEX];
        sl__hasher_restore(saved, (const char *)hash_states + i * sl__hasher_state_size());
        sl__hasher_hex(saved, want);
        sl__hasher_hex(fresh, got);
        if (strcmp(want, got) != 0)
            s = sl__error_set(err, SL_ERR_DATA,
                              "the %lld rows of array '%s' that an interrupted run wrote to '%s' are not the rows "
                              "its resume journal recorded (the file was altered or damaged)",
                              (long long)rows, a->name, w->tmp);
    }
    sl__hasher_free(fresh);
    sl__hasher_free(saved);
    sl__hasher_free(leaf);
    free(buf);
    return s;
}

sl_status sl__ckpt_reopen_locked(const char *path, const sl_frame *schema, int64_t chunk_rows, int64_t max_rows,
                                 int64_t rows, int64_t bytes, const void *hash_states, const int64_t *leaves,
                                 int64_t nleaves, sl__ckpt_writer **out, sl_error *err)
{
    if (max_rows < 0 || rows < 0 || rows > max_rows)
        return sl__error_set(err, SL_ERR_INTERNAL, "cannot resume '%s': it has no fixed size", path);
    sl__ckpt_writer *w;
    sl_status s = alloc_writer(path, schema, max_rows, &w, err);
    if (s)
        return s;
    struct stat sb;
    if (lstat(w->tmp, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        /* a link or special file planted where the run left its file: never
         * followed; the caller starts over with a new file */
        s = sl__error_set(err, SL_ERR_IO, "cannot resume '%s': it is not the regular file an interrupted run left",
                          w->tmp);
        free_writer(w);
        return s;
    }
    hid_t fapl = file_access_plist();
    w->file = H5Fopen(w->tmp, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (w->file < 0)
        s = h5_fail(err, "reopen", w->tmp);
    for (size_t i = 0; s == SL_OK && i < w->n; i++) {
        const sl_array_info *a = &w->arrays[i];
        w->h5_chunk_rows[i] = (int64_t)chunk_rows_for(chunk_rows, max_rows, a);
        w->dsets[i] = H5Dopen2(w->file, a->name, H5P_DEFAULT);
        hsize_t dims[2] = {0, 0};
        hid_t space = w->dsets[i] >= 0 ? H5Dget_space(w->dsets[i]) : H5I_INVALID_HID;
        /* the element type this writer writes: a file another setting left (float64 where
         * float32 is written now) is started over, never written at the wrong offsets */
        hid_t type = w->dsets[i] >= 0 ? H5Dget_type(w->dsets[i]) : H5I_INVALID_HID;
        if (space < 0 || H5Sget_simple_extent_ndims(space) != 2 || H5Sget_simple_extent_dims(space, dims, NULL) < 0 ||
            dims[0] != (hsize_t)max_rows || dims[1] != (hsize_t)a->cols || type < 0 ||
            H5Tequal(type, w->narrow[i] ? H5T_NATIVE_FLOAT : sl__h5_native(a->dtype)) <= 0)
            s = sl__error_set(err, SL_ERR_IO, "cannot resume '%s': array '%s' is not laid out as expected", w->tmp,
                              a->name);
        if (type >= 0)
            H5Tclose(type);
        if (space >= 0)
            H5Sclose(space);
        sl__hasher_restore(w->hash[i], (const char *)hash_states + i * sl__hasher_state_size());
    }
    if (s == SL_OK)
        s = map_chunks_locked(w, err);
    if (s == SL_OK && (w->fd = sl__open_own(w->tmp, O_RDWR, NULL)) < 0)
        s = sl__error_set(err, SL_ERR_IO, "cannot open '%s' for writing: %s", w->tmp, strerror(errno));
    if (s == SL_OK && bytes != rows_bytes(w, rows))
        s = sl__error_set(err, SL_ERR_DATA, "cannot resume '%s': its journal's byte count does not fit its rows",
                          w->tmp);
    if (s == SL_OK)
        s = verify_rows(w, rows, hash_states, leaves, nleaves, err);
    for (int64_t k = 0; s == SL_OK && k < nleaves; k++)
        s = push_leaf(w, 0, leaves[k], err);
    if (s) {
        free_writer(w); /* keep the file: the caller decides whether to start over */
        return s;
    }
    w->rows = rows;
    w->bytes = bytes;
    *out = w;
    return SL_OK;
}

static sl_status check_claim(const sl__ckpt_writer *w, const sl_chunk *c, int64_t row0, sl_error *err)
{
    if (w->max_rows < 0)
        return sl__error_set(err, SL_ERR_INTERNAL, "'%s' is not written directly", w->tmp);
    if (c->rows <= 0)
        return SL_OK;
    if (row0 < 0 || row0 + c->rows > w->max_rows)
        return sl__error_set(err, SL_ERR_INTERNAL, "'%s' was sized for %lld rows; rows %lld to %lld do not fit",
                             w->tmp, (long long)w->max_rows, (long long)row0, (long long)(row0 + c->rows));
    for (size_t i = 0; i < w->n; i++)
        if (!c->arrays[i].data)
            return sl__error_set(err, SL_ERR_INTERNAL, "chunk %lld has no data for array '%s'", (long long)c->index,
                                 w->arrays[i].name);
    return SL_OK;
}

sl_status sl__ckpt_claim(sl__ckpt_writer *w, const sl_chunk *c, int64_t *row0, sl_error *err)
{
    *row0 = w->rows;
    sl_status s = w->part ? sl__error_set(err, SL_ERR_INTERNAL, "a part of '%s' claims rows by place", w->tmp)
                          : check_claim(w, c, w->rows, err);
    return s ? s : add_chunk_leaf(w, c, w->rows, err);
}

sl_status sl__ckpt_claim_at(sl__ckpt_writer *w, const sl_chunk *c, int64_t row0, sl_error *err)
{
    /* a writer's own rows come first, in order; a part's anywhere */
    sl_status s = !w->part && row0 != w->rows
                      ? sl__error_set(err, SL_ERR_INTERNAL, "rows %lld on of '%s' claimed after %lld rows",
                                      (long long)row0, w->tmp, (long long)w->rows)
                      : check_claim(w, c, row0, err);
    return s ? s : add_chunk_leaf(w, c, row0, err);
}

/* ---- a writer shared by ranks (dist.h) ---- */

/* What a part needs: rows allocated, whether rows are written at all, the
 * file's inode, and per array its HDF5 chunk rows and chunks' offsets. */
sl_status sl__ckpt_part_export(const sl__ckpt_writer *w, void **out, size_t *len, sl_error *err)
{
    struct stat sb;
    int64_t head[4] = {w->max_rows, w->hash_only, (int64_t)w->n, 0};
    if (!w->hash_only) {
        if (fstat(w->fd, &sb) != 0)
            return sl__error_set(err, SL_ERR_IO, "cannot read the inode of '%s': %s", w->tmp, strerror(errno));
        head[3] = (int64_t)sb.st_ino;
    }
    size_t plen = (strlen(w->path) + 8) / 8; /* in int64s, NUL included */
    size_t n = sizeof head + (1 + plen) * sizeof(int64_t);
    for (size_t i = 0; !w->hash_only && i < w->n; i++)
        n += 3 * sizeof(int64_t) + (size_t)h5_chunk_count(w, i) * 8;
    int64_t *b = malloc(n);
    if (!b)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    memcpy(b, head, sizeof head);
    b[4] = (int64_t)plen;
    memset(b + 5, 0, plen * sizeof *b);
    memcpy(b + 5, w->path, strlen(w->path));
    int64_t *p = b + 5 + plen;
    for (size_t i = 0; !w->hash_only && i < w->n; i++) {
        int64_t nchunks = h5_chunk_count(w, i);
        *p++ = w->h5_chunk_rows[i];
        *p++ = nchunks;
        *p++ = w->narrow[i]; /* rank 0's choice, whatever this rank's environment says */
        for (int64_t k = 0; k < nchunks; k++)
            *p++ = (int64_t)w->chunk_addr[i][k];
    }
    *out = b;
    *len = n;
    return SL_OK;
}

sl_status sl__ckpt_part_open(const sl_frame *schema, const void *plan, size_t len, sl__ckpt_writer **out,
                             sl_error *err)
{
    const int64_t *p = plan, *end = p + len / sizeof *p;
    int64_t plen = len >= 5 * sizeof *p ? p[4] : -1;
    const char *path = (const char *)(p + 5);
    if (plen < 1 || plen > end - p - 5 || path[plen * 8 - 1] != '\0' || p[2] != (int64_t)sl_frame_count(schema) ||
        p[0] < 0)
        return sl__error_set(err, SL_ERR_INTERNAL, "the plan for writing a checkpoint does not fit its arrays");
    sl__ckpt_writer *w;
    sl_status s = alloc_writer(path, schema, p[0], &w, err);
    if (s)
        return s;
    w->part = 1;
    w->hash_only = (int)p[1];
    int64_t ino = p[3];
    p += 5 + plen;
    for (size_t i = 0; s == SL_OK && !w->hash_only && i < w->n; i++) {
        int64_t cr = p + 3 <= end ? p[0] : 0, nchunks = p + 3 <= end ? p[1] : -1;
        w->narrow[i] = p + 3 <= end && p[2] == 1;
        p += 3;
        w->h5_chunk_rows[i] = cr;
        if (cr < 1 || nchunks != h5_chunk_count(w, i) || end - p < nchunks)
            s = sl__error_set(err, SL_ERR_INTERNAL, "the plan for writing a checkpoint does not fit its arrays");
        else if (!(w->chunk_addr[i] = malloc((size_t)(nchunks ? nchunks : 1) * sizeof **w->chunk_addr)))
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t k = 0; s == SL_OK && k < nchunks; k++)
            w->chunk_addr[i][k] = (haddr_t)*p++;
    }
    struct stat sb;
    if (s == SL_OK && !w->hash_only) {
        /* the file rank 0 created, never one a link points to (sl__open_own) */
        w->fd = sl__open_own(w->tmp, O_RDWR, &sb);
        if (w->fd < 0)
            s = sl__error_set(err, SL_ERR_IO, "cannot open '%s' to write this rank's rows: %s", w->tmp,
                              strerror(errno));
        else if ((int64_t)sb.st_ino != ino)
            s = sl__error_set(err, SL_ERR_IO,
                              "'%s' is not the file rank 0 created (another file has its name here): the workdir "
                              "must be the same folder on every node",
                              w->tmp);
    }
    if (s) {
        free_writer(w);
        return s;
    }
    *out = w;
    return SL_OK;
}

size_t sl__ckpt_leaf_item_size(const sl__ckpt_writer *w)
{
    return 2 * sizeof(int64_t) + w->n * SL_LEAF_BYTES;
}

int64_t sl__ckpt_part_items(const sl__ckpt_writer *w, void **items, sl_error *err)
{
    size_t size = sl__ckpt_leaf_item_size(w);
    char *b = malloc((size_t)w->nleaves * size + 1);
    if (!b) {
        sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (int64_t k = 0; k < w->nleaves; k++) {
        char *e = b + (size_t)k * size;
        memcpy(e, &w->leaf_row0[k], sizeof(int64_t));
        memcpy(e + sizeof(int64_t), &w->leaves[k], sizeof(int64_t));
        memcpy(e + 2 * sizeof(int64_t), w->digests + (size_t)k * w->n * SL_LEAF_BYTES, w->n * SL_LEAF_BYTES);
    }
    *items = b;
    return w->nleaves;
}

sl_status sl__ckpt_add_item(sl__ckpt_writer *w, const void *item, sl_error *err)
{
    int64_t row0, rows;
    memcpy(&row0, item, sizeof row0);
    memcpy(&rows, (const char *)item + sizeof row0, sizeof rows);
    if (row0 != w->rows || rows <= 0 || rows > w->max_rows - w->rows)
        return sl__error_set(err, SL_ERR_INTERNAL,
                             "another rank's rows %lld to %lld of '%s' do not follow the %lld rows before them",
                             (long long)row0, (long long)(row0 + rows), w->tmp, (long long)w->rows);
    return add_leaf(w, row0, rows, (const unsigned char *)item + 2 * sizeof(int64_t), err);
}

sl_status sl__ckpt_part_close(sl__ckpt_writer *w, int sync, sl_error *err)
{
    sl_status s = sync ? sl__ckpt_sync(w, err) : SL_OK;
    free_writer(w);
    return s;
}

/* ---- an in-memory run's outputs (workdir ":memory:") ---- */

static sl_status write_hashes_locked(sl__ckpt_writer *w, char out[SL_HASH_HEX], sl_error *err);

/* Room for `rows` rows in every array of a memory writer. */
static sl_status grow_memory(sl__ckpt_writer *w, int64_t rows, sl_error *err)
{
    if (rows <= w->mem_cap)
        return SL_OK;
    int64_t cap = w->mem_cap * 2 > rows ? w->mem_cap * 2 : rows;
    for (size_t i = 0; i < w->n; i++) {
        size_t rb = array_row_bytes(w, i);
        if (rb && (uint64_t)cap > SIZE_MAX / rb)
            return sl__error_set(err, SL_ERR_NOMEM, "array '%s' of %lld rows is too large to hold in memory",
                                 w->arrays[i].name, (long long)cap);
        unsigned char *b = realloc(w->mem[i], (size_t)cap * rb + 1);
        if (!b)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory holding %lld rows of array '%s' of '%s'",
                                 (long long)cap, w->arrays[i].name, w->path);
        w->mem[i] = b;
    }
    w->mem_cap = cap;
    return SL_OK;
}

sl_status sl__ckpt_open_memory(const char *name, const sl_frame *schema, int64_t max_rows, sl__ckpt_writer **out,
                               sl_error *err)
{
    sl__ckpt_writer *w = NULL;
    sl_status s = alloc_writer(name, schema, max_rows, &w, err);
    if (s)
        return s;
    w->memory = 1;
    w->mem = calloc(w->n ? w->n : 1, sizeof *w->mem);
    /* the room is only reserved: pages are touched as rows arrive */
    s = w->mem ? grow_memory(w, max_rows > 0 ? max_rows : 0, err) : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s) {
        free_writer(w);
        return s;
    }
    *out = w;
    return SL_OK;
}

void sl__ckpt_memory_in_frame(sl__ckpt_writer *w)
{
    w->hash_only = 1;
}

sl_status sl__ckpt_seal_memory(sl__ckpt_writer *w, sl_frame *f, char out_hash[SL_HASH_HEX], sl_error *err)
{
    sl_status s = write_hashes_locked(w, out_hash, err);
    for (size_t i = 0; s == SL_OK && !w->hash_only && i < w->n; i++) {
        size_t used = (size_t)w->rows * array_row_bytes(w, i);
        unsigned char *b = realloc(w->mem[i], used + 1); /* shrinking: gives back what was never written */
        sl__frame_take_mem(f, i, b ? b : w->mem[i]);
        w->mem[i] = NULL;
    }
    free_writer(w);
    return s;
}

sl_status sl__ckpt_write_at(sl__ckpt_writer *w, const sl_chunk *c, int64_t row0, sl_error *err)
{
    if (w->hash_only)
        return SL_OK;
    if (w->memory) {
        for (size_t i = 0; i < w->n && c->rows > 0; i++)
            memcpy(w->mem[i] + (size_t)row0 * array_row_bytes(w, i), c->arrays[i].data,
                   (size_t)c->rows * array_row_bytes(w, i));
        return SL_OK;
    }
    for (size_t i = 0; i < w->n && c->rows > 0; i++) {
        sl_status s = write_direct(w, i, row0, c->rows, c->arrays[i].data, err);
        if (s)
            return s;
    }
    return SL_OK;
}

sl_status sl__ckpt_append_locked(sl__ckpt_writer *w, const sl_chunk *c, sl_error *err)
{
    if (c->rows <= 0)
        return SL_OK;
    if (w->auto_pending) {
        sl_status s = auto_decide_locked(w, c, err);
        if (s)
            return s;
    }
    if (w->max_rows >= 0) {
        int64_t row0;
        sl_status s = sl__ckpt_claim(w, c, &row0, err);
        return s ? s : sl__ckpt_write_at(w, c, row0, err);
    }
    if (w->memory) {
        sl_status s = w->hash_only ? SL_OK : grow_memory(w, w->rows + c->rows, err);
        if (s == SL_OK && !w->hash_only)
            s = sl__ckpt_write_at(w, c, w->rows, err);
        return s ? s : add_chunk_leaf(w, c, w->rows, err);
    }
    for (size_t i = 0; i < w->n; i++) {
        const sl_array_info *a = &w->arrays[i];
        hsize_t dims[2] = {(hsize_t)(w->rows + c->rows), (hsize_t)a->cols};
        hsize_t start[2] = {(hsize_t)w->rows, 0}, count[2] = {(hsize_t)c->rows, (hsize_t)a->cols};
        if (!c->arrays[i].data)
            return sl__error_set(err, SL_ERR_INTERNAL, "chunk %lld has no data for array '%s'", (long long)c->index,
                                 a->name);
        if (H5Dset_extent(w->dsets[i], dims) < 0)
            return h5_fail(err, "extend a dataset in", w->tmp);
        hid_t fspace = H5Dget_space(w->dsets[i]);
        hid_t mspace = H5Screate_simple(2, count, NULL);
        herr_t rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        if (rc >= 0)
            rc = H5Dwrite(w->dsets[i], sl__h5_native(a->dtype), mspace, fspace, H5P_DEFAULT, c->arrays[i].data);
        sl_status s = rc < 0 ? h5_fail(err, "write", w->tmp) : SL_OK; /* before closes clear the stack */
        H5Sclose(mspace);
        H5Sclose(fspace);
        if (s)
            return s;
    }
    return add_chunk_leaf(w, c, w->rows, err);
}

int64_t sl__ckpt_rows(const sl__ckpt_writer *w)
{
    return w->rows;
}

int64_t sl__ckpt_bytes(const sl__ckpt_writer *w)
{
    return w->bytes;
}

/* A scalar attribute of obj (the file or a dataset of w), replaced when there. */
static sl_status put_obj_attr(sl__ckpt_writer *w, hid_t obj, const char *key, hid_t type, const void *value,
                              sl_error *err)
{
    hid_t space = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, key) > 0)
        H5Adelete(obj, key);
    hid_t a = H5Acreate2(obj, key, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
    sl_status s = rc < 0 ? h5_fail(err, "write an attribute to", w->tmp) : SL_OK; /* before closes clear the stack */
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return s;
}

static sl_status put_attr(sl__ckpt_writer *w, const char *key, hid_t type, const void *value, sl_error *err)
{
    return put_obj_attr(w, w->file, key, type, value, err);
}

/* A 1-D int64 attribute of the file (replaced when there). */
static sl_status put_i64s_attr(sl__ckpt_writer *w, const char *key, const int64_t *values, int64_t n, sl_error *err)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    if (H5Aexists(w->file, key) > 0)
        H5Adelete(w->file, key);
    hid_t a = H5Acreate2(w->file, key, H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT64, values) : -1;
    sl_status s = rc < 0 ? h5_fail(err, "write an attribute to", w->tmp) : SL_OK;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return s;
}

sl_status sl__ckpt_array_attr_locked(sl__ckpt_writer *w, size_t i, const char *key, const double *values, size_t n,
                                     sl_error *err)
{
    if (w->hash_only)
        return SL_OK; /* in place: the source's datasets are not ours to annotate */
    if (i >= w->n)
        return sl__error_set(err, SL_ERR_INTERNAL, "array %zu is not in the checkpoint", i);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = n ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_NULL);
    if (H5Aexists(w->dsets[i], key) > 0)
        H5Adelete(w->dsets[i], key);
    hid_t a = H5Acreate2(w->dsets[i], key, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a >= 0 ? (n ? H5Awrite(a, H5T_NATIVE_DOUBLE, values) : 0) : -1;
    sl_status s = rc < 0 ? h5_fail(err, "write an array attribute to", w->tmp) : SL_OK;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return s;
}

sl_status sl__ckpt_array_columns_locked(sl__ckpt_writer *w, size_t i, const char *const *names, size_t n,
                                       sl_error *err)
{
    if (w->hash_only)
        return SL_OK;
    if (i >= w->n)
        return sl__error_set(err, SL_ERR_INTERNAL, "array %zu is not in the checkpoint", i);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t space = H5Screate_simple(1, dims, NULL);
    if (H5Aexists(w->dsets[i], "columns") > 0)
        H5Adelete(w->dsets[i], "columns");
    hid_t a = H5Acreate2(w->dsets[i], "columns", t, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a >= 0 ? H5Awrite(a, t, names) : -1;
    sl_status s = rc < 0 ? h5_fail(err, "write column names to", w->tmp) : SL_OK;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
    return s;
}

sl_status sl__ckpt_frame_columns_locked(sl__ckpt_writer *w, const sl_frame *f, size_t i, sl_error *err)
{
    int64_t cols = sl_frame_array(f, i)->cols;
    if (!sl_frame_column(f, i, 0))
        return SL_OK;
    const char **names = malloc((size_t)(cols > 0 ? cols : 1) * sizeof *names);
    if (!names)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < cols; c++)
        names[c] = sl_frame_column(f, i, c);
    sl_status s = sl__ckpt_array_columns_locked(w, i, names, (size_t)cols, err);
    free(names);
    return s;
}

static sl_status put_string_attr(sl__ckpt_writer *w, hid_t obj, const char *key, const char *value, sl_error *err)
{
    /* variable-length UTF-8, so h5py reads a str and h5dump prints the text */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    sl_status s = put_obj_attr(w, obj, key, t, &value, err);
    H5Tclose(t);
    return s;
}

sl_status sl__ckpt_attr_string_locked(sl__ckpt_writer *w, const char *key, const char *value, sl_error *err)
{
    return put_string_attr(w, w->file, key, value, err);
}

sl_status sl__ckpt_set_layout_locked(sl__ckpt_writer *w, const int64_t *sizes, int64_t n, sl_error *err)
{
    free(w->layout);
    w->layout = malloc((size_t)(n > 0 ? n : 1) * sizeof *w->layout);
    if (!w->layout)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    memcpy(w->layout, sizes, (size_t)n * sizeof *sizes);
    w->nlayout = n;
    return w->hash_only || w->memory ? SL_OK : put_i64s_attr(w, "sluice_chunk_sizes", sizes, n, err);
}

sl_status sl__ckpt_attr_double_locked(sl__ckpt_writer *w, const char *key, double value, sl_error *err)
{
    return put_attr(w, key, H5T_NATIVE_DOUBLE, &value, err);
}

sl_status sl__ckpt_attr_int_locked(sl__ckpt_writer *w, const char *key, int64_t value, sl_error *err)
{
    return put_attr(w, key, H5T_NATIVE_INT64, &value, err);
}

/* fsyncs a folder (a file is synced through its writer's descriptor) */
static sl_status sync_dir(const char *path, sl_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sl__error_set(err, SL_ERR_IO, "cannot open '%s' to sync it: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return sl__error_set(err, SL_ERR_IO, "cannot sync '%s' to disk: %s", path, strerror(e));
    return SL_OK;
}

void sl__ckpt_hash_tail(sl__hasher *all, int64_t rows, const int64_t *layout, int64_t nlayout)
{
    sl__hasher_add_i64(all, rows);
    /* the chunks decide the order of downstream reductions, hence their bits */
    for (int64_t c = 0; layout && c < nlayout; c++)
        sl__hasher_add_i64(all, layout[c]);
}

/* Where the leaves of the values' hashes lie (sluice_hash_leaves), for
 * whoever hashes the values again: the rows of every leaf, or one number
 * when all leaves but a shorter last one have that many rows. */
static sl_status write_leaves_locked(sl__ckpt_writer *w, sl_error *err)
{
    int64_t n = w->nleaves, one = n ? w->leaves[0] : 0;
    int uniform = 1;
    for (int64_t k = 1; k < n && uniform; k++)
        uniform = w->leaves[k] == one || (k == n - 1 && w->leaves[k] < one);
    return put_i64s_attr(w, "sluice_hash_leaves", uniform ? &one : w->leaves, uniform ? 1 : n, err);
}

/* Each dataset gets the hash of its values (attribute sluice_hash); the file
 * gets one hash over all of them (sluice_output_hash), which is what
 * downstream cache keys depend on. */
static sl_status write_hashes_locked(sl__ckpt_writer *w, char out[SL_HASH_HEX], sl_error *err)
{
    sl__hasher *all = sl__hasher_new();
    if (!all)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = SL_OK;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, SL_HASH_HEX);
    for (size_t i = 0; i < w->n && s == SL_OK; i++) {
        char hex[SL_HASH_HEX];
        sl__hasher_hex(w->hash[i], hex);
        sl__hasher_add_str(all, w->arrays[i].name);
        sl__hasher_add_str(all, sl_dtype_name(w->arrays[i].dtype));
        sl__hasher_add_i64(all, w->arrays[i].cols);
        sl__hasher_add_str(all, hex);
        if (w->hash_only || w->memory)
            continue;
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(w->dsets[i], "sluice_hash", t, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, t, hex) < 0)
            s = h5_fail(err, "write a hash to", w->tmp);
        if (a >= 0)
            H5Aclose(a);
        H5Sclose(space);
    }
    H5Tclose(t);
    if (s == SL_OK && !w->memory)
        s = write_leaves_locked(w, err);
    sl__ckpt_hash_tail(all, w->rows, w->layout, w->nlayout);
    sl__hasher_hex(all, out);
    sl__hasher_free(all);
    if (s == SL_OK && !w->memory)
        s = sl__ckpt_attr_string_locked(w, "sluice_output_hash", out, err);
    return s;
}

struct sl__ckpt_sealed {
    char *path, *tmp;
    int fd; /* the temporary file: fsync'ed through it, and the writer's lock held until the rename */
};

sl_status sl__ckpt_seal_locked(sl__ckpt_writer *w, char out_hash[SL_HASH_HEX], sl__ckpt_sealed **out,
                               sl_error *err)
{
    char hash[SL_HASH_HEX];
    sl_status s = SL_OK;
    *out = NULL;
    if (w->auto_pending)
        s = auto_decide_locked(w, NULL, err);
    for (size_t i = 0; s == SL_OK && w->max_rows >= 0 && i < w->n; i++) {
        hsize_t dims[2] = {(hsize_t)w->rows, (hsize_t)w->arrays[i].cols};
        if (!w->hash_only && w->rows != w->max_rows && H5Dset_extent(w->dsets[i], dims) < 0) {
            s = h5_fail(err, "size a dataset in", w->tmp);
            break;
        }
    }
    if (s == SL_OK)
        s = write_hashes_locked(w, hash, err);
    if (s != SL_OK) {
        sl__ckpt_abort_locked(w);
        return s;
    }
    if (out_hash)
        memcpy(out_hash, hash, SL_HASH_HEX);
    /* closing a dataset writes the chunks HDF5 still caches (compressed
     * checkpoints): a failure there is a failed write, not to be ignored */
    for (size_t i = 0; i < w->n; i++) {
        if (w->dsets[i] >= 0 && H5Dclose(w->dsets[i]) < 0 && s == SL_OK)
            s = h5_fail(err, "write", w->tmp);
        w->dsets[i] = H5I_INVALID_HID;
    }
    herr_t rc = H5Fclose(w->file);
    w->file = H5I_INVALID_HID;
    if (s == SL_OK && rc < 0)
        s = h5_fail(err, "close", w->tmp);
    sl__ckpt_sealed *sealed = s == SL_OK ? calloc(1, sizeof *sealed) : NULL;
    if (s == SL_OK && !sealed)
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s != SL_OK) {
        sl__unlink_own(w->tmp, w->fd);
        free_writer(w);
        return s;
    }
    sealed->path = w->path;
    sealed->tmp = w->tmp;
    sealed->fd = w->fd;
    w->path = w->tmp = NULL;
    w->fd = -1;
    free_writer(w);
    *out = sealed;
    return SL_OK;
}

const char *sl__ckpt_sealed_tmp(const sl__ckpt_sealed *c)
{
    return c->tmp;
}

static void free_sealed(sl__ckpt_sealed *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->tmp);
    free(c->path);
    free(c);
}

void sl__ckpt_sealed_abort(sl__ckpt_sealed *c)
{
    if (!c)
        return;
    sl__unlink_own(c->tmp, c->fd);
    free_sealed(c);
}

sl_status sl__ckpt_finish(sl__ckpt_sealed *c, void (*renamed_locked)(void *arg, const char *path), void *arg,
                          sl_error *err)
{
    /* the data reach the disk before the name does: after a crash the
     * final name holds a whole checkpoint or nothing */
    sl_status s = SL_OK;
    if (fsync(c->fd) != 0)
        s = sl__error_set(err, SL_ERR_IO, "cannot sync '%s' to disk: %s", c->tmp, strerror(errno));
    if (s == SL_OK) {
        sl__h5_lock();
        if (rename(c->tmp, c->path) != 0)
            s = sl__error_set(err, SL_ERR_IO, "cannot rename '%s' to '%s': %s", c->tmp, c->path, strerror(errno));
        else if (renamed_locked)
            renamed_locked(arg, c->path);
        sl__h5_unlock();
    }
    if (s == SL_OK) {
        char *copy = strdup(c->path);
        if (!copy)
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        else {
            s = sync_dir(dirname(copy), err);
            free(copy);
        }
    }
    if (s != SL_OK)
        sl__unlink_own(c->tmp, c->fd);
    free_sealed(c);
    return s;
}

sl_status sl__ckpt_commit_locked(sl__ckpt_writer *w, char out_hash[SL_HASH_HEX], sl_error *err)
{
    sl__ckpt_sealed *c = NULL;
    sl_status s = sl__ckpt_seal_locked(w, out_hash, &c, err);
    if (s != SL_OK)
        return s;
    sl__h5_unlock(); /* finish takes the lock for the rename only */
    s = sl__ckpt_finish(c, NULL, NULL, err);
    sl__h5_lock();
    return s;
}

void sl__ckpt_abort_locked(sl__ckpt_writer *w)
{
    if (!w)
        return;
    /* only the file this writer made or reopened: never another process's */
    if (w->tmp)
        sl__unlink_own(w->tmp, w->fd);
    free_writer(w);
}

void sl__ckpt_close_locked(sl__ckpt_writer *w)
{
    if (w)
        free_writer(w);
}

sl_status sl__ckpt_reader_open_locked(sl__ckpt_reader *r, const sl_frame *f, const unsigned char *want,
                                      sl_error *err)
{
    size_t n = sl_frame_count(f);
    memset(r, 0, sizeof *r);
    r->frame = f;
    r->n = n;
    r->file = H5I_INVALID_HID;
    r->fd = -1;
    /* a copy: the frame moves to another name when its checkpoint is
     * committed, under the lock held here, while this reader reads without it */
    r->path = sl__frame_path(f) ? strdup(sl__frame_path(f)) : NULL;
    const char *path = r->path;
    r->dsets = malloc((n ? n : 1) * sizeof *r->dsets);
    r->direct = calloc(n ? n : 1, sizeof *r->direct);
    r->ranks = calloc(n ? n : 1, sizeof *r->ranks);
    r->narrow = calloc(n ? n : 1, 1);
    if (!r->dsets || !r->direct || !r->ranks || !r->narrow || (sl__frame_path(f) && !r->path)) {
        free(r->dsets);
        free(r->direct);
        free(r->ranks);
        free(r->narrow);
        free(r->path);
        r->dsets = NULL;
        r->direct = NULL;
        r->ranks = NULL;
        r->narrow = NULL;
        r->path = NULL;
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        r->dsets[i] = H5I_INVALID_HID;
    if (!path)
        return sl__error_set(err, SL_ERR_INTERNAL, "the input frame has no data file");
    sl_status s = sl__h5_open_read_locked(path, &r->file, err);
    /* a descriptor of our own: HDF5's is private, and pread on it from other
     * threads would race with nothing but is not ours to share; datasets are
     * mapped only when they lie in this very file (issue 14) */
    if (s == SL_OK)
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
    r->all_direct = r->fd >= 0;
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        if (want && !want[i])
            continue;
        const sl_array_info *a = sl_frame_array(f, i);
        const char *dname = sl__frame_dataset(f, i);
        r->dsets[i] = H5Dopen2(r->file, dname, H5P_DEFAULT);
        if (r->dsets[i] < 0) {
            s = sl__error_set(err, SL_ERR_IO, "checkpoint '%s' has no dataset '%s'; remove it and run again", path,
                              dname);
            break;
        }
        /* a source read in place may hold a 1-D dataset for an n x 1 array */
        r->ranks[i] = sl__h5_rank_locked(r->dsets[i]);
        /* float64 values stored as float32 (sl__frame_set_f32_exact): read as
         * such, then widened; HDF5's reads convert by themselves */
        hid_t t = H5Dget_type(r->dsets[i]);
        r->narrow[i] = a->dtype == SL_FLOAT64 && t >= 0 && H5Tequal(t, H5T_NATIVE_FLOAT) > 0;
        if (t >= 0)
            H5Tclose(t);
        int d = sl__direct_map_locked(r->dsets[i], r->fd, sl_frame_rows(f), a->cols,
                                      r->narrow[i] ? SL_FLOAT32 : a->dtype, &r->direct[i]);
        if (d < 0)
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        if (d != 1)
            r->all_direct = 0;
    }
    if (!r->all_direct && r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    return s;
}

sl_status sl__ckpt_reader_read_locked(sl__ckpt_reader *r, sl_chunk *c, sl_error *err)
{
    for (size_t i = 0; i < c->n_arrays; i++) {
        if (!c->arrays[i].data || r->dsets[i] < 0)
            continue;
        const sl_array_info *a = c->arrays[i].info;
        sl_status s = sl__h5_read_rows_locked(r->dsets[i], r->ranks[i], c->row0, c->rows, a->cols, a->dtype,
                                              c->arrays[i].data, r->path, a->name, err);
        if (s)
            return s;
    }
    return SL_OK;
}

sl_status sl__ckpt_reader_read_direct(const sl__ckpt_reader *r, sl_chunk *c, sl_error *err)
{
    for (size_t i = 0; i < c->n_arrays; i++) {
        if (!c->arrays[i].data || r->dsets[i] < 0)
            continue;
        size_t n = (size_t)c->rows * (size_t)c->arrays[i].info->cols;
        char *into = (char *)c->arrays[i].data + (r->narrow[i] ? n * sizeof(float) : 0);
        sl_status s = sl__direct_read(&r->direct[i], r->fd, c->row0, c->rows, into, r->path,
                                      c->arrays[i].info->name, err);
        if (s)
            return s;
        if (r->narrow[i])
            sl__widen_f32_in_place(c->arrays[i].data, n);
    }
    return SL_OK;
}

void sl__ckpt_reader_close_locked(sl__ckpt_reader *r)
{
    if (r->dsets) {
        for (size_t i = 0; i < r->n; i++)
            if (r->dsets[i] >= 0)
                H5Dclose(r->dsets[i]);
        free(r->dsets);
        r->dsets = NULL;
    }
    if (r->direct) {
        for (size_t i = 0; i < r->n; i++)
            sl__direct_free(&r->direct[i]);
        free(r->direct);
        r->direct = NULL;
    }
    free(r->ranks);
    r->ranks = NULL;
    free(r->narrow);
    r->narrow = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    if (r->file >= 0)
        H5Fclose(r->file);
    r->file = H5I_INVALID_HID;
    free(r->path);
    r->path = NULL;
}

sl_status sl__row_reader_open(sl__row_reader *rr, const sl_frame *f, const unsigned char *want, sl_error *err)
{
    memset(rr, 0, sizeof *rr);
    rr->frame = f;
    size_t n = sl_frame_count(f);
    unsigned char *file_want = calloc(n ? n : 1, 1);
    if (!file_want)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= file_want[i] = (unsigned char)((!want || want[i]) && !sl__frame_mem(f, i));
    sl_status s = SL_OK;
    if (any) {
        /* under the lock: a checkpoint being committed moves to its own name under it */
        sl__h5_lock();
        if (!sl__frame_path(f))
            s = sl__error_set(err, SL_ERR_INTERNAL,
                              "a frame read by row range has no data file%s: its stage was streamed or has not run",
                              sl__frame_generator(f) ? " (it is streamed)" : "");
        else if ((s = sl__ckpt_reader_open_locked(&rr->r, f, file_want, err)) != SL_OK)
            sl__ckpt_reader_close_locked(&rr->r);
        rr->open = s == SL_OK;
        sl__h5_unlock();
    }
    free(file_want);
    return s;
}

sl_status sl__row_reader_read(sl__row_reader *rr, sl_chunk *c, sl_error *err)
{
    const sl_frame *f = rr->frame;
    if (c->row0 < 0 || c->rows < 0 || c->row0 + c->rows > sl_frame_rows(f))
        return sl__error_set(err, SL_ERR_INTERNAL, "rows %lld to %lld read from a frame of %lld rows",
                             (long long)c->row0, (long long)(c->row0 + c->rows), (long long)sl_frame_rows(f));
    int from_file = 0;
    for (size_t i = 0; i < c->n_arrays; i++) {
        if (!c->arrays[i].data)
            continue;
        const char *mem = sl__frame_mem(f, i);
        if (!mem) {
            from_file = 1;
            continue;
        }
        size_t rb = (size_t)c->arrays[i].info->cols * sl_dtype_size(c->arrays[i].info->dtype);
        memcpy(c->arrays[i].data, mem + (size_t)c->row0 * rb, (size_t)c->rows * rb);
    }
    if (!from_file || c->rows == 0)
        return SL_OK;
    if (!rr->open)
        return sl__error_set(err, SL_ERR_INTERNAL, "a frame read by row range was not opened for those arrays");
    /* the reader skips the arrays it did not open: those in memory */
    if (rr->r.all_direct)
        return sl__ckpt_reader_read_direct(&rr->r, c, err);
    sl__h5_lock();
    sl_status s = sl__ckpt_reader_read_locked(&rr->r, c, err);
    sl__h5_unlock();
    return s;
}

void sl__row_reader_close(sl__row_reader *rr)
{
    if (rr->open) {
        sl__h5_lock();
        sl__ckpt_reader_close_locked(&rr->r);
        sl__h5_unlock();
    }
    rr->open = 0;
}
