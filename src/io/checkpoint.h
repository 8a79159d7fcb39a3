/* Private: checkpoint files. A checkpoint is an HDF5 file with one 2-D dataset
 * per array of a frame (named as the array) and attributes describing how it
 * was made. It is written under `<path>.tmp` and renamed into place only when
 * complete and durable (fsync of file and folder), so a reader never sees a
 * partial checkpoint. All functions expect the HDF5 lock to be held. */
#ifndef SL_CHECKPOINT_H
#define SL_CHECKPOINT_H

#include <hdf5.h>
#include "sluice/frame.h"
#include "sluice/op.h"
#include "core/hash.h"
#include "io/direct_read.h"

typedef struct sl__ckpt_writer sl__ckpt_writer;

/* Checkpoint compression. Compressed datasets are written through HDF5
 * (extendible mode), so a compressed stage does not resume mid-stage.
 * SL__COMP_AUTO decides per array from a measurement (sl__comp_probe, and
 * deflate on the first chunk's rows of each array). */
typedef enum sl__compression {
    SL__COMP_NONE,
    SL__COMP_DEFLATE,
    SL__COMP_LZ4,
    SL__COMP_ZSTD,
    SL__COMP_AUTO
} sl__compression;

#include "io/comp_probe.h"

/* Measures the probe: SLUICE_WRITE_BANDWIDTH (bytes per second) when set,
 * else a timed write and fdatasync of SL_COMP_PROBE_BYTES in `dir`. */
void sl__comp_probe_measure(const char *dir, sl__comp_probe *p);
/* 1 when compressing may pay for some data: writing a byte takes longer
 * than deflating a byte of zeros. */
int sl__comp_may_pay(const sl__comp_probe *p);

/* Parses "none", "deflate", "lz4", "zstd", "auto"; -1 for anything else. */
int sl__compression_from_name(const char *name);
/* Checks that HDF5 can use the filter; fills err with how to install it. */
sl_status sl__compression_check_locked(sl__compression c, sl_error *err);

/* compression: auto. Gives the writer the run's probe; a writer opened
 * with another compression (auto resolved to none at open) records that
 * choice and why. */
void sl__ckpt_auto_locked(sl__ckpt_writer *w, const sl__comp_probe *p);
/* compression: auto, before sealing: decides (no rows: none) if no rows
 * came, writes the decision and its figures as the root attribute
 * sluice_compression_auto, and copies that JSON into json. */
sl_status sl__ckpt_auto_finish_locked(sl__ckpt_writer *w, char *json, size_t size, sl_error *err);

/* Creates `path`.tmp with a dataset per array of `schema`. With comp
 * SL__COMP_AUTO the datasets are created when the first rows are appended,
 * each compressed or not as a sample of those rows says (sl__ckpt_auto_locked
 * must be called before). With max_rows >= 0
 * (at most that many rows will be appended) the datasets are preallocated
 * and written directly, which makes the file resumable; with -1 they grow. */
sl_status sl__ckpt_open_locked(const char *path, const sl_frame *schema, int64_t chunk_rows, int64_t max_rows,
                               sl__compression comp, sl__ckpt_writer **out, sl_error *err);
/* The checkpoint of data read in place (op stored_at): `path`.tmp gets no
 * datasets; the rows appended (at most `rows`) are hashed as a direct
 * writer hashes them and not written, so the output hash is the one a copy
 * would have. The caller records where the data is. */
sl_status sl__ckpt_open_hash_only_locked(const char *path, const sl_frame *schema, int64_t rows,
                                         sl__ckpt_writer **out, sl_error *err);
/* Reopens the `path`.tmp of an interrupted direct writer that had appended
 * `rows` rows (`bytes` bytes, hash states saved by sl__ckpt_save_state). On
 * failure the file is left for the caller to remove. */
sl_status sl__ckpt_reopen_locked(const char *path, const sl_frame *schema, int64_t chunk_rows, int64_t max_rows,
                                 int64_t rows, int64_t bytes, const void *hash_states, const int64_t *leaves,
                                 int64_t nleaves, sl__ckpt_writer **out, sl_error *err);
/* Direct writers only: 1 when the writer can be resumed. */
/* A writer for an in-memory run (workdir ":memory:"): the rows go to
 * buffers in memory, hashed as a file's would be; nothing touches a file.
 * `name` (the stage) is for messages. max_rows >= 0 reserves that many rows
 * and lets rows be claimed and written in place; -1 grows by appends. */
sl_status sl__ckpt_open_memory(const char *name, const sl_frame *schema, int64_t max_rows, sl__ckpt_writer **out,
                               sl_error *err);
/* The data is already in the frame's memory (an op set it): the writer only
 * hashes the rows appended, and sealing leaves the frame's data alone. */
void sl__ckpt_memory_in_frame(sl__ckpt_writer *w);
/* Gives the rows written to frame f (which takes the buffers) and the output
 * hash; frees the writer, also on failure. */
sl_status sl__ckpt_seal_memory(sl__ckpt_writer *w, sl_frame *f, char out_hash[SL_HASH_HEX], sl_error *err);
int sl__ckpt_resumable(const sl__ckpt_writer *w);
/* Makes the rows appended so far durable (fdatasync); no HDF5 lock needed. */
sl_status sl__ckpt_sync(sl__ckpt_writer *w, sl_error *err);
/* Bytes of one array's saved hash state; states of all arrays are saved
 * back to back. */
size_t sl__ckpt_hash_state_size(void);
void sl__ckpt_save_state(const sl__ckpt_writer *w, int64_t *rows, int64_t *bytes, void *hash_states);
/* The rows of each leaf hashed so far (a chunk's rows each, hash.h); a
 * resume hands them back to sl__ckpt_reopen_locked. */
const int64_t *sl__ckpt_leaves(const sl__ckpt_writer *w, int64_t *n);
/* Direct writers, in two steps so that the writes can run in parallel:
 * claim (one caller at a time, in row order) takes the next c->rows rows for
 * c, adds its values to the hashes and says where they go; write_at then
 * writes them with pwrite, from any thread. Neither needs the HDF5 lock. */
sl_status sl__ckpt_claim(sl__ckpt_writer *w, const sl_chunk *c, int64_t *row0, sl_error *err);
/* A part's claim (sl__ckpt_part_open): the rows' place is known, row0. */
sl_status sl__ckpt_claim_at(sl__ckpt_writer *w, const sl_chunk *c, int64_t row0, sl_error *err);
sl_status sl__ckpt_write_at(sl__ckpt_writer *w, const sl_chunk *c, int64_t row0, sl_error *err);
/* Under MPI, every rank writes its own rows of a direct writer's file
 * (docs/cluster.md). Rank 0's writer exports where its datasets' chunks lie;
 * the other ranks open a part from that (their own descriptor of the same
 * file, no HDF5), claim_at and write_at their chunks, and hand rank 0 their
 * leaves' digests as items, which rank 0 adds after its own, in row order. */
sl_status sl__ckpt_part_export(const sl__ckpt_writer *w, void **plan, size_t *len, sl_error *err);
sl_status sl__ckpt_part_open(const sl_frame *schema, const void *plan, size_t len, sl__ckpt_writer **out,
                             sl_error *err);
/* Bytes of one item: the leaf's first row, its rows, a digest per array. */
size_t sl__ckpt_leaf_item_size(const sl__ckpt_writer *w);
/* A part's items, malloc'd into *items; -1 on OOM. */
int64_t sl__ckpt_part_items(const sl__ckpt_writer *w, void **items, sl_error *err);
/* Rank 0: one item of another rank; it must start at the rows so far. */
sl_status sl__ckpt_add_item(sl__ckpt_writer *w, const void *item, sl_error *err);
/* Closes a part, after making its rows durable when `sync`. */
sl_status sl__ckpt_part_close(sl__ckpt_writer *w, int sync, sl_error *err);
/* Appends c->rows rows of every array of c (arrays in the schema's order). */
sl_status sl__ckpt_append_locked(sl__ckpt_writer *w, const sl_chunk *c, sl_error *err);
/* Rows appended so far, and bytes of array data they make. */
int64_t sl__ckpt_rows(const sl__ckpt_writer *w);
int64_t sl__ckpt_bytes(const sl__ckpt_writer *w);
/* Root attributes. */
sl_status sl__ckpt_attr_string_locked(sl__ckpt_writer *w, const char *key, const char *value, sl_error *err);
sl_status sl__ckpt_attr_double_locked(sl__ckpt_writer *w, const char *key, double value, sl_error *err);
sl_status sl__ckpt_attr_int_locked(sl__ckpt_writer *w, const char *key, int64_t value, sl_error *err);
/* The end of a checkpoint's output hash, after its arrays' hashes: its rows
 * and, when not uniform, the rows of each chunk. */
void sl__ckpt_hash_tail(sl__hasher *all, int64_t rows, const int64_t *layout, int64_t nlayout);
/* Records the output's chunks when they are not uniform (a filter's, see
 * sl__frame_set_layout): attribute sluice_chunk_sizes, and in the hash. */
sl_status sl__ckpt_set_layout_locked(sl__ckpt_writer *w, const int64_t *sizes, int64_t n, sl_error *err);
/* Attribute `key` (a vector of n doubles) of array i's dataset. */
sl_status sl__ckpt_array_attr_locked(sl__ckpt_writer *w, size_t i, const char *key, const double *values, size_t n,
                                     sl_error *err);
/* Column names of array i, as the string-array attribute `columns`. */
sl_status sl__ckpt_array_columns_locked(sl__ckpt_writer *w, size_t i, const char *const *names, size_t n,
                                       sl_error *err);
/* The column names of array i of frame f (which has the writer's arrays),
 * when it has them: sl__ckpt_array_columns_locked. */
sl_status sl__ckpt_frame_columns_locked(sl__ckpt_writer *w, const sl_frame *f, size_t i, sl_error *err);
/* Committing is two steps, so that the disk writes a checkpoint while the
 * stages that read it run. Seal: hashes every array's values into the file
 * (sluice_hash per dataset, sluice_output_hash for the file, copied to
 * out_hash when not NULL) and closes it; the temporary file is then complete
 * and readable, not yet durable; frees w in every case. */
typedef struct sl__ckpt_sealed sl__ckpt_sealed;
sl_status sl__ckpt_seal_locked(sl__ckpt_writer *w, char out_hash[SL_HASH_HEX], sl__ckpt_sealed **out,
                               sl_error *err);
/* The temporary file of a sealed checkpoint (where readers find it until it
 * is renamed). */
const char *sl__ckpt_sealed_tmp(const sl__ckpt_sealed *c);
/* Finish: fsyncs the file, renames it into place (under the HDF5 lock, where
 * renamed_locked, if not NULL, is told the new path: readers open files
 * under that lock) and fsyncs the folder. Called without the HDF5 lock. On
 * failure the temporary file is removed. Frees c in every case. */
sl_status sl__ckpt_finish(sl__ckpt_sealed *c, void (*renamed_locked)(void *arg, const char *path), void *arg,
                          sl_error *err);
/* Removes a sealed checkpoint's temporary file; frees c. c may be NULL. */
void sl__ckpt_sealed_abort(sl__ckpt_sealed *c);
/* Seal and finish at once (save.hdf5's file). Called, and returns, with the
 * HDF5 lock held; releases it while it syncs. */
sl_status sl__ckpt_commit_locked(sl__ckpt_writer *w, char out_hash[SL_HASH_HEX], sl_error *err);
/* Closes and removes the temporary file; frees w. w may be NULL. */
void sl__ckpt_abort_locked(sl__ckpt_writer *w);
/* Closes the temporary file and keeps it, for the next run to resume from
 * its journal (an interrupted run); frees w. w may be NULL. */
void sl__ckpt_close_locked(sl__ckpt_writer *w);

/* Reads chunks of a frame stored in a checkpoint (or any file laid out the
 * same way). */
typedef struct sl__ckpt_reader {
    const sl_frame *frame;
    size_t n;                /* arrays of the frame (closing need not read a frame that may be gone) */
    char *path;              /* the frame's file when opened */
    hid_t file;
    hid_t *dsets;            /* one per array of the frame; negative when not wanted */
    int *ranks;              /* per array: its dataset's rank (1 or 2) */
    unsigned char *narrow;   /* per array: float64 stored as float32, widened when read directly */
    sl__direct_dset *direct; /* one per array: its direct map when `direct` */
    int fd;                  /* the file, for direct reads */
    int all_direct;          /* every wanted array can be read with sl__ckpt_reader_read_direct */
} sl__ckpt_reader;

/* Opens the datasets of the arrays with want[i] != 0 (want NULL: all). */
sl_status sl__ckpt_reader_open_locked(sl__ckpt_reader *r, const sl_frame *f, const unsigned char *want,
                                      sl_error *err);
/* Fills the arrays of c whose data is not NULL with rows [c->row0, c->row0 + c->rows). */
sl_status sl__ckpt_reader_read_locked(sl__ckpt_reader *r, sl_chunk *c, sl_error *err);
/* The same without HDF5, from any thread at once; only when all_direct. */
sl_status sl__ckpt_reader_read_direct(const sl__ckpt_reader *r, sl_chunk *c, sl_error *err);
void sl__ckpt_reader_close_locked(sl__ckpt_reader *r);

/* Rows of a frame by row range, outside the executor's passes: for a stage
 * that reads a second frame row-aligned with the chunks of its input
 * (join's `with`), from the threads that compute those chunks. The frame is
 * stored (a checkpoint, a source read in place) or held in memory; a
 * streamed frame has no rows to read by range (sl__op_reads_by_range keeps
 * such a frame stored). These take the HDF5 lock themselves. */
typedef struct sl__row_reader {
    const sl_frame *frame;
    sl__ckpt_reader r;
    int open; /* r is open: a wanted array lives in a file */
} sl__row_reader;

/* Opens the arrays with want[i] != 0 (want NULL: all). */
sl_status sl__row_reader_open(sl__row_reader *rr, const sl_frame *f, const unsigned char *want, sl_error *err);
/* Fills the arrays of c (the frame's arrays, in its order) whose data is
 * not NULL with rows [c->row0, c->row0 + c->rows), from any thread: with
 * pread when the file allows it, else through HDF5 under the lock. */
sl_status sl__row_reader_read(sl__row_reader *rr, sl_chunk *c, sl_error *err);
/* Closes the file, if one was opened; rr may be closed again. */
void sl__row_reader_close(sl__row_reader *rr);

#endif
