/* Private: where a frame's data lives. A frame's arrays live either in memory
 * (small frames: models, statistics) or in an HDF5 file (a committed
 * checkpoint). While a stage runs, its output frame has a writer attached that
 * the executor appends chunks to. */
#ifndef SL_FRAME_INT_H
#define SL_FRAME_INT_H

#include "sluice/frame.h"

struct sl__ckpt_writer;

/* In-memory data of array i, or NULL. */
const void *sl__frame_mem(const sl_frame *f, size_t i);
/* What identifies a caller's frame's data in a cache key: "version V" when
 * the caller named it (sl_frame_set_version), else "content H" with H a
 * hash of its schema, column names and every byte of its arrays. Fails
 * when an array has no data in memory. */
sl_status sl__frame_content_id(const sl_frame *f, char *out, size_t size, sl_error *err);

/* Makes buf (malloc'd, rows x cols elements) the in-memory data of array i;
 * the frame frees it. */
void sl__frame_take_mem(sl_frame *f, size_t i, void *buf);

/* The HDF5 file holding the frame's arrays (one dataset per array, named as
 * the array unless sl__frame_set_datasets said otherwise), or NULL. */
const char *sl__frame_path(const sl_frame *f);
sl_status sl__frame_set_path(sl_frame *f, const char *path, sl_error *err);
/* Moves the frame to `path` (malloc'd; the frame takes it), for a checkpoint
 * renamed into place while other stages may be reading it: called with the
 * HDF5 lock held, under which readers open files by path. The old string
 * stays valid until the frame's data are dropped. */
void sl__frame_move_path_locked(sl_frame *f, char *path);
/* Data read in place (a source's own file): names[i] is the dataset of
 * array i in the frame's path. Cleared by sl__frame_drop_data. */
sl_status sl__frame_set_datasets(sl_frame *f, const char *const *names, sl_error *err);
/* The dataset holding array i: its name, or what sl__frame_set_datasets gave. */
const char *sl__frame_dataset(const sl_frame *f, size_t i);
/* Forgets where the data lives and any in-memory data (the schema stays). */
void sl__frame_drop_data(sl_frame *f);

void sl__frame_set_writer(sl_frame *f, struct sl__ckpt_writer *w);
struct sl__ckpt_writer *sl__frame_writer(const sl_frame *f);

/* A streamed frame has no data of its own: a generator pass (a copy of the
 * producing stage's output pass) computes each chunk from the same chunk of
 * its input frame, itself stored or streamed. */
struct sl_pass;
sl_status sl__frame_set_generator(sl_frame *f, const struct sl_pass *pass, sl_error *err);
const struct sl_pass *sl__frame_generator(const sl_frame *f);
/* A streamed source whose read() fills only the arrays of the chunk that
 * have a buffer (data != NULL) and leaves the others alone: a pass that
 * reads some of its arrays then reads only those from the file. The public
 * contract (op.h) has read() fill every array, so only sluice's own sources
 * say so, after their output pass was captured. */
void sl__frame_set_partial_source(sl_frame *f);
int sl__frame_partial_source(const sl_frame *f);

/* A streamed frame whose generator computes each row of its output from
 * the same row of its input alone (a filter keeps or drops each row on its
 * own), and whose partial is scratch it writes before it reads: its chunk()
 * may then run on consecutive runs of a chunk's rows one after another,
 * the partial cleared once per chunk, and write the same rows it writes for
 * the whole chunk (a block-streamed pass, exec.c). Set by the executor when
 * it captures an output pass the op said so of (sl__exec_row_local_next). */
void sl__frame_set_row_local(sl_frame *f);
int sl__frame_row_local(const sl_frame *f);

/* Two properties of a row-local generator, set after sl__frame_set_row_local
 * (sl__exec_widening_next, sl__exec_any_float_next): it only widens float32
 * arrays to float64 and copies the others, same columns, value for value
 * (a convert to float64); its chunk() takes any float32 array of its input
 * as the float64 array such a generator would make of it, with the same
 * bits out (normalize's apply). Between two such levels of a block-streamed
 * pass the executor skips the widening (exec.c, stream_blocks). */
/* Array i (float64) holds float32 values only, widened (convert's float32
 * arrays cast to float64): a checkpoint stores it as float32 on disk, half
 * the bytes, and readers widen it back, value for value (io/checkpoint.c).
 * Only a stage that makes the values so says it. */
void sl__frame_set_f32_exact(sl_frame *f, size_t i);
int sl__frame_f32_exact(const sl_frame *f, size_t i);
void sl__frame_set_widening(sl_frame *f);
int sl__frame_widening(const sl_frame *f);
void sl__frame_set_any_float(sl_frame *f);
int sl__frame_any_float(const sl_frame *f);

/* How the frame's rows are cut into chunks, when not in chunks of the run's
 * chunk_rows: a filter's output and every map of it keep the chunks of the
 * frame the filter read, each with the rows it kept (some may be empty), so
 * that a pass gives the same bits whether that output is stored or streamed.
 * sizes[c] is the rows of chunk c; n == 0 or sizes NULL: uniform chunks.
 * Cleared by sl__frame_drop_data. */
sl_status sl__frame_set_layout(sl_frame *f, const int64_t *sizes, int64_t n, sl_error *err);
/* Rows of each chunk (n of them), or NULL for uniform chunks. */
const int64_t *sl__frame_layout(const sl_frame *f, int64_t *n);
/* Chunks a pass over the frame makes, and where chunk c lies. */
int64_t sl__frame_chunks(const sl_frame *f, int64_t chunk_rows);
void sl__frame_chunk_span(const sl_frame *f, int64_t chunk_rows, int64_t c, int64_t *row0, int64_t *rows);

/* Checks an array or stage name: 1..SL_NAME_MAX-1 chars of [A-Za-z0-9_.-],
 * not starting with '.' or '-'. Safe as an HDF5 dataset name and a file name. */
int sl__name_ok(const char *name);

#endif
