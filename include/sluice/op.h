/* sluice: the op interface. An op is a const table: a name, a parameter schema,
 * plan (check inputs, declare the output frame) and run (stream passes over
 * chunks through the executor). Built-in ops and user ops use the same table. */
#ifndef SLUICE_OP_H
#define SLUICE_OP_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"
#include "sluice/frame.h"
#include "sluice/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- parameters ---------------------------------------------------------- */

typedef enum sl_param_type {
    SL_PARAM_INT,         /* integer, within [min, max] when min < max */
    SL_PARAM_NUMBER,      /* real number, within [min, max] when min < max */
    SL_PARAM_BOOL,        /* true / false */
    SL_PARAM_STRING,      /* any string */
    SL_PARAM_CHOICE,      /* one of `choices` ("a|b|c") */
    SL_PARAM_INPUT,       /* the name of another stage: an edge of the DAG */
    SL_PARAM_PATH,        /* a file path; relative paths are relative to the pipeline file */
    SL_PARAM_STRING_LIST, /* [a, b, ...]; a single string is a list of one */
    SL_PARAM_NUMBER_LIST, /* [1, 2.5, ...]; a single number is a list of one */
    SL_PARAM_STRING_MAP   /* { key: value, ... } with string values */
} sl_param_type;

typedef struct sl_param_spec {
    const char *name;
    sl_param_type type;
    int required;             /* 1: must be given */
    const char *default_text; /* default as YAML text, NULL: absent unless given */
    const char *choices;      /* SL_PARAM_CHOICE: "a|b|c" */
    double min, max;          /* numeric bounds when min < max */
    const char *doc;          /* one sentence for `sluice ops` and docs/ */
} sl_param_spec;

const char *sl_param_type_name(sl_param_type t);

/* Validated parameter values of one stage. Getters never fail: planning has
 * checked every value against the op's schema; an absent optional parameter
 * without default reads as 0 / NULL / an empty list. */
typedef struct sl_params sl_params;

int sl_params_has(const sl_params *p, const char *name);
int64_t sl_params_int(const sl_params *p, const char *name);
double sl_params_number(const sl_params *p, const char *name);
int sl_params_bool(const sl_params *p, const char *name);
/* STRING, CHOICE, INPUT and PATH (the path already resolved) values. */
const char *sl_params_string(const sl_params *p, const char *name);
/* Lists (STRING_LIST, NUMBER_LIST) and maps (STRING_MAP). */
size_t sl_params_len(const sl_params *p, const char *name);
const char *sl_params_list_string(const sl_params *p, const char *name, size_t i);
double sl_params_list_number(const sl_params *p, const char *name, size_t i);
const char *sl_params_map_key(const sl_params *p, const char *name, size_t i);
const char *sl_params_map_value(const sl_params *p, const char *name, size_t i);

/* ---- chunks and passes --------------------------------------------------- */

/* One array of a chunk: rows x info->cols elements of info->dtype, row-major. */
typedef struct sl_chunk_array {
    const sl_array_info *info;
    void *data; /* NULL when the pass did not ask for this array */
} sl_chunk_array;

/* A block of consecutive rows of a frame. */
typedef struct sl_chunk {
    int64_t index;  /* chunk number within the pass, from 0 */
    int64_t row0;   /* first row of the chunk in the input frame */
    int64_t rows;   /* input: rows present; output: capacity on entry, rows written on return */
    size_t n_arrays;
    sl_chunk_array *arrays; /* one per array of the frame, in the frame's order */
} sl_chunk;

/* Data of the array called name, or NULL. */
void *sl_chunk_data(const sl_chunk *c, const char *name);

/* A pass streams the chunks of `input` (or of a source when input is NULL)
 * once. Per chunk it may write an output chunk (output != NULL), and it may
 * compute a partial result (partial_size > 0) that is folded into the caller's
 * accumulator with merge(), strictly in chunk order, so results do not depend
 * on the thread count. chunk() runs on many threads at once, on distinct
 * chunks; merge() and read() run on one thread at a time. */
typedef struct sl_pass {
    const char *name;                 /* shown in progress: "fit", "apply", ... */
    const sl_frame *input;            /* frame to stream; NULL for a source pass */
    const char *const *input_arrays;  /* NULL-terminated names to read; NULL: all */
    sl_frame *output;                 /* stage output written by this pass, or NULL */
    size_t partial_size;              /* bytes of per-chunk partial state, 0: none */
    void *ctx;                        /* the op's own data, passed back to callbacks */

    /* Source passes only: total rows, and read() fills `out` (all of the
     * output frame's arrays) with rows [out->row0, out->row0 + out->rows).
     * Called with sluice's HDF5 lock held, unless read_parallel. */
    int64_t source_rows;
    sl_status (*read)(void *ctx, sl_chunk *out, sl_error *err);
    /* Source passes: 1 when read() may run on several threads at once,
     * without the HDF5 lock (it reads with pread, or takes the lock itself
     * around HDF5 calls). The executor then reads each chunk on the thread
     * that computes it, so reading runs in parallel. */
    int read_parallel;

    /* in: the input chunk (for a source pass, the chunk read()); out: NULL
     * unless output is set; partial: zeroed partial_size bytes, or NULL. A
     * filter writes fewer rows than it reads and sets out->rows. When chunk is
     * NULL, a source pass writes what read() produced. */
    sl_status (*chunk)(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err);
    sl_status (*merge)(void *ctx, void *acc, const void *partial, sl_error *err);

    /* Optional, for passes that update shared state chunk after chunk
     * (mini-batch training): sequential runs chunk() on one thread in
     * processing order; chunk_order (n_chunks entries, a permutation of
     * 0..n_chunks-1) sets that order. A pass with chunk_order writes no
     * output. */
    int sequential;
    const int64_t *chunk_order;

    /* Bytes of the accumulator (0: partial_size). The executor saves it, so
     * that a run killed in the middle of a reduce resumes it; set it when the
     * accumulator is not laid out like one partial. */
    size_t acc_size;

    /* Optional, for a filter's output pass: the rows it keeps of each chunk
     * of the input (sl_stage_input_chunks() entries), known from an earlier
     * pass. The output then keeps the input's chunks, each with the rows
     * kept (chunk() must write exactly that many), so the stages that read
     * it see the same chunks whether it is stored or streamed, and a
     * streamable op's filter can be streamed. Must stay valid while the
     * stage's state lives. */
    const int64_t *out_rows;

    /* 1 when merge() reads the input chunk itself (through a pointer its
     * partial keeps) instead of only the partial: such a pass cannot merge
     * a chunk away from where it was computed, so under MPI the ranks run
     * it one after another (docs/cluster.md). */
    int merge_reads_input;
} sl_pass;


/* ---- stages -------------------------------------------------------------- */

typedef struct sl_stage sl_stage;
typedef struct sl_exec sl_exec;

const char *sl_stage_name(const sl_stage *st);
/* Name of the stage's op ("normalize", or a user op's). */
const char *sl_stage_op_name(const sl_stage *st);
const sl_params *sl_stage_params(const sl_stage *st);
/* Output frame of the stage named by INPUT parameter `param` ("input", "model", ...). */
const sl_frame *sl_stage_input(const sl_stage *st, const char *param);
/* This stage's output frame: plan() declares its arrays, run() fills it. */
sl_frame *sl_stage_output(sl_stage *st);
int64_t sl_stage_chunk_rows(const sl_stage *st);
/* Chunks a pass over `rows` rows of chunk_rows each makes in this stage. */
int64_t sl_stage_chunk_count(const sl_stage *st, int64_t rows);
/* Chunks a pass over frame `in` makes (for chunk_order and out_rows): after a
 * filter that declared out_rows, the chunks of the filter's input, each
 * holding at most chunk_rows rows (some may be empty). */
int64_t sl_stage_input_chunks(const sl_stage *st, const sl_frame *in);
/* For plan() of an op whose output schema depends on its inputs' data (a
 * one-hot encoder's categories, the classes of a multi-class model): plan()
 * checks what it can, then `if (sl_stage_plan_later(st)) return SL_OK;`.
 * The stage is then planned again by the same plan(), in the run, once its
 * inputs have been computed (they are stored, not streamed): their frames
 * hold rows, attributes and data (sl_frame_read_all), and this call returns
 * 0. What the first plan() declared or set as state is dropped. The stages
 * reading it are planned after it, in the run. */
int sl_stage_plan_later(sl_stage *st);
void sl_stage_set_state(sl_stage *st, void *state);
void *sl_stage_state(const sl_stage *st);
/* Records a named figure of the run (rows dropped, mse, ...): printed in the run
 * summary and stored with the checkpoint. */
sl_status sl_stage_set_result(sl_stage *st, const char *key, double value, sl_error *err);
/* A warning of the run (a model that did not converge): sent to the run's
 * progress callback as an SL_EVENT_WARNING (`sluice run` prints it), and
 * written to the stage's run.log line. The run goes on. */
void sl_stage_warn(sl_stage *st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Fills err with code and a message located at parameter `param` of this stage
 * (its file:line:col), or at the stage when param is NULL. Returns code. */
sl_status sl_stage_error(const sl_stage *st, sl_error *err, sl_status code, const char *param,
                         const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Runs one pass over all chunks. For a reduce, acc is the caller's accumulator. */
sl_status sl_exec_pass(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, sl_error *err);
/* Threads this stage may use in its own parallel regions. */
int sl_exec_threads(const sl_exec *ex);
/* 1 when this run of the stage only prepares its output pass for the stages
 * that read it (a streamed stage): that pass does not run here, so its
 * partial results are not computed and must not be reported. */
int sl_exec_streaming(const sl_exec *ex);
/* A training stage reports that it finished epoch `epoch` (from 1) of
 * `epochs` with this loss: an SL_EVENT_EPOCH for the run's progress
 * callback (`sluice run` shows the epoch and loss on its live line). */
void sl_exec_epoch(sl_exec *ex, int64_t epoch, int64_t epochs, double loss);

/* ---- ops ----------------------------------------------------------------- */

enum {
    SL_OP_SOURCE = 1u << 0, /* reads files outside the pipeline */
    SL_OP_SINK = 1u << 1,   /* writes files outside the workdir */
    /* The pass that writes the stage's output keeps the rows (row i out for
     * row i in) or declares the rows it keeps of each chunk (out_rows), is
     * the last thing run() does, and its ctx lives in the stage's state.
     * Such a stage need not be stored: with `checkpoint: false` its output
     * pass is fused into the passes of the stages that read it, which
     * compute its chunks as they read (its partials, if any, are then
     * scratch: computed per chunk and dropped). */
    SL_OP_STREAMABLE = 1u << 2
};

typedef struct sl_op {
    /* SL_ABI_VERSION of the program that built this table. It also fixes the
     * layout of the table's sl_param_spec entries and of the sl_pass structs
     * run() hands to sl_exec_pass. */
    int abi;
    const char *name;
    const char *summary; /* one line */
    /* Markdown for the op reference (docs/ops.md, generated by `sluice ops
     * --markdown`): what it computes and how, what it checks, its errors,
     * what its output frame holds. May be NULL. */
    const char *doc;
    const sl_param_spec *params;
    size_t n_params;
    unsigned flags;
    /* Checks parameters against the input frames' schemas and declares the
     * output frame's arrays (and rows when known). No data moves. */
    sl_status (*plan)(sl_stage *st, sl_error *err);
    /* Computes the output frame with sl_exec_pass() and sl_frame_set_data(). */
    sl_status (*run)(sl_stage *st, sl_exec *ex, sl_error *err);
    /* Frees what plan() put in sl_stage_set_state(); may be NULL. */
    void (*free_state)(void *state);
    /* Optional, for sources whose output is data already stored in one HDF5
     * file, read as it is (HDF5 converts only the byte order or type the
     * frame declares): the file and the dataset path of output array i. A
     * stored stage with stored_at is not run and not copied: its checkpoint
     * records the source's identity (part of the cache key), and the stages
     * that read it read the source file in place. */
    sl_status (*stored_at)(const sl_stage *st, size_t i, const char **file, const char **dataset, sl_error *err);
} sl_op;

/* The op registry: the built-in ops, then those registered by the program. */
const sl_op *sl_op_find(const char *name);
size_t sl_op_count(void);
const sl_op *sl_op_at(size_t i);
/* Registers a user op. The table must outlive its use (until
 * sl_op_unregister). `user` is the op's own data, handed back to plan() and
 * run() through sl_stage_op_user(); `destroy` (may be NULL) frees it when
 * the op is unregistered, or when registration fails. Fails on a duplicate
 * name, a malformed table or an ABI version this library does not know.
 * Register ops before loading the pipelines that use them; the registry
 * itself is thread-safe. */
sl_status sl_op_register(const sl_op *op, void *user, void (*destroy)(void *user), sl_error *err);
/* Removes the user op called name and calls its destroy function. No
 * pipeline that uses it may be alive. Fails for a built-in or unknown op. */
sl_status sl_op_unregister(const char *name, sl_error *err);
/* The user data the stage's op was registered with (NULL for built-in ops). */
void *sl_stage_op_user(const sl_stage *st);

#ifdef __cplusplus
}
#endif
#endif
