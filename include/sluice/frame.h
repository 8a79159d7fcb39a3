/* sluice: element types and frames. A frame is a set of named 2-D arrays
 * (rows x cols, row-major) that share one row count. */
#ifndef SLUICE_FRAME_H
#define SLUICE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_dtype {
    SL_DTYPE_NONE = 0,
    SL_INT8, SL_INT16, SL_INT32, SL_INT64,
    SL_UINT8, SL_UINT16, SL_UINT32, SL_UINT64,
    SL_FLOAT32, SL_FLOAT64,
    SL_DTYPE_COUNT
} sl_dtype;

size_t sl_dtype_size(sl_dtype t);
/* "float32", "int64", ... ; "none" for SL_DTYPE_NONE. */
const char *sl_dtype_name(sl_dtype t);
/* Parses a dtype name (also accepts "f4", "f8", "float", "double", "int"). */
sl_dtype sl_dtype_from_name(const char *name);
int sl_dtype_is_float(sl_dtype t);
int sl_dtype_is_signed(sl_dtype t);

#define SL_NAME_MAX 64
/* Arrays one frame may hold: a guard against plans that multiply arrays. */
#define SL_MAX_ARRAYS 10000

/* Shape and type of one array of a frame. */
typedef struct sl_array_info {
    char name[SL_NAME_MAX];
    sl_dtype dtype;
    int64_t cols;
} sl_array_info;

/* A frame: its arrays' schema, the row count (-1 while unknown, e.g. before a
 * filter has run), and where the data lives (opaque to ops). */
typedef struct sl_frame sl_frame;

sl_frame *sl_frame_new(void);
void sl_frame_free(sl_frame *f);

int64_t sl_frame_rows(const sl_frame *f);
size_t sl_frame_count(const sl_frame *f);
const sl_array_info *sl_frame_array(const sl_frame *f, size_t i);
/* Index of the array called name, or -1. */
long sl_frame_find(const sl_frame *f, const char *name);

/* Adds an array to a frame's schema (plan time). Fails on a duplicate or bad name. */
sl_status sl_frame_add(sl_frame *f, const char *name, sl_dtype dtype, int64_t cols, sl_error *err);
/* Adds array i of src (name, columns, column names) to f with element type
 * dtype (SL_DTYPE_NONE: src's). */
sl_status sl_frame_add_like(sl_frame *f, const sl_frame *src, size_t i, sl_dtype dtype, sl_error *err);
/* Sets the row count a frame will have (-1: not known before the run). */
void sl_frame_set_rows(sl_frame *f, int64_t rows);
/* Copies the schema (arrays and rows) of src into dst, which must be empty. */
sl_status sl_frame_copy_schema(sl_frame *dst, const sl_frame *src, sl_error *err);

/* Small frames (models, statistics) are held in memory. Sets the whole data of
 * array `name` (rows x cols elements of its dtype, copied). The frame's rows
 * must be known. */
sl_status sl_frame_set_data(sl_frame *f, const char *name, const void *data, sl_error *err);
/* Points array `name` at the caller's memory (rows x cols elements of its
 * dtype, row-major) instead of copying it: no copy is made, the library
 * never writes there, and the memory must stay valid and unchanged while a
 * run reads it (until sl_pipeline_run or sl_op_call returns). The frame's
 * rows must be set. */
sl_status sl_frame_borrow_data(sl_frame *f, const char *name, const void *data, sl_error *err);
/* Names the content of a caller's frame (any string that changes whenever
 * the data does: a version, a timestamp, a hash the program already has).
 * A pipeline input's cache key then holds this name instead of a hash of
 * every byte, which is computed at every run otherwise. NULL: hash again. */
sl_status sl_frame_set_version(sl_frame *f, const char *version, sl_error *err);
const char *sl_frame_version(const sl_frame *f);
/* Reads the whole array `name` into buf (rows x cols elements converted to
 * `as`), from memory or from the checkpoint behind the frame. Meant for small
 * arrays; streaming ops read chunks through passes instead. */
sl_status sl_frame_read_all(const sl_frame *f, const char *name, sl_dtype as, void *buf, size_t buf_elems,
                            sl_error *err);

/* A copy of a frame held in memory: its arrays, rows, column names and
 * attributes, the data read whole from memory or from the checkpoint behind
 * it (a model of a pipeline's stage, to use after the pipeline is freed or
 * as an input of another). The caller frees it. */
sl_status sl_frame_copy(const sl_frame *src, sl_frame **out, sl_error *err);

/* Column names of an array (from the `columns` attribute of a source dataset,
 * or set by an op). `names` has one entry per column; each is copied. */
sl_status sl_frame_set_columns(sl_frame *f, const char *array, const char *const *names, sl_error *err);
/* Name of column `col` of array i, or NULL when the array has no names. */
const char *sl_frame_column(const sl_frame *f, size_t i, int64_t col);

/* Fitted values that belong to an array but not to its rows (a scaler's
 * mean and std per column, a model's loss per epoch): named vectors of
 * doubles attached to an array. Checkpoints store them as attributes of the
 * array's dataset. Setting a key again replaces it. */
sl_status sl_frame_set_attr(sl_frame *f, const char *array, const char *key, const double *values, size_t n,
                            sl_error *err);
/* The vector `key` of `array` and its length, or NULL when absent. */
const double *sl_frame_attr(const sl_frame *f, const char *array, const char *key, size_t *n);
/* Number of attributes of array i, and the k-th one's key. */
size_t sl_frame_attr_count(const sl_frame *f, size_t i);
const char *sl_frame_attr_key(const sl_frame *f, size_t i, size_t k);

#ifdef __cplusplus
}
#endif
#endif
