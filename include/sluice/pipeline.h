/* sluice: pipelines. Load a YAML pipeline, plan it (validate everything before
 * data moves), run it. */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"
#include "sluice/frame.h"
#include "sluice/op.h"
#include "sluice/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_pipeline sl_pipeline;

/* Parses and plans a pipeline file: YAML syntax, settings, ops and their
 * parameters, inputs, cycles, and the shapes/dtypes of every stage's output.
 * Relative paths in the file are relative to the file's folder. */
sl_status sl_pipeline_load_file(const char *path, sl_pipeline **out, sl_error *err);
/* The same from text; `name` is used in error positions, `base_dir` resolves
 * relative paths (NULL: the current directory). */
sl_status sl_pipeline_load_string(const char *yaml, size_t len, const char *name, const char *base_dir,
                                  sl_pipeline **out, sl_error *err);
/* Reads only the structure of a pipeline file: YAML syntax, settings, stages,
 * their ops and parameters, inputs and cycles, and which stages are stored;
 * no data file is opened, so it works before the data exists (`sluice
 * graph`). The stages are not planned: their output frames are empty, and
 * sl_pipeline_run and sl_pipeline_status refuse such a pipeline. */
sl_status sl_pipeline_read_file(const char *path, sl_pipeline **out, sl_error *err);
/* 1 for a pipeline loaded (and so planned) by sl_pipeline_load_* or
 * sl_pipeline_plan, 0 for one sl_pipeline_read_file read or not planned yet. */
int sl_pipeline_planned(const sl_pipeline *p);

/* ---- pipelines built in code ---------------------------------------------
 * sl_pipeline_new starts an empty pipeline; stages and settings are added,
 * then sl_pipeline_plan validates and plans it exactly as a loaded file
 * (same checks, same errors, located at the stage and parameter instead of
 * a line). Until then it cannot run. Relative paths resolve against the
 * current directory at sl_pipeline_new. The setters replace an earlier
 * value of the same parameter; types are checked by sl_pipeline_plan
 * against the op's parameter table (an INT parameter given a string fails
 * there, naming the stage and parameter). */
sl_pipeline *sl_pipeline_new(const char *name); /* NULL: out of memory */
/* A setting, as in a pipeline file: "workdir", "chunk_rows", "threads",
 * "memory", "checkpoint", "compression"... given as text. The workdir
 * ":memory:" keeps every output in memory and writes no file. */
sl_status sl_pipeline_set(sl_pipeline *p, const char *key, const char *value, sl_error *err);
sl_status sl_pipeline_add_stage(sl_pipeline *p, const char *stage, const char *op, sl_error *err);
sl_status sl_pipeline_set_int(sl_pipeline *p, const char *stage, const char *param, int64_t value, sl_error *err);
sl_status sl_pipeline_set_number(sl_pipeline *p, const char *stage, const char *param, double value, sl_error *err);
sl_status sl_pipeline_set_bool(sl_pipeline *p, const char *stage, const char *param, int value, sl_error *err);
/* STRING, CHOICE and PATH parameters. */
sl_status sl_pipeline_set_string(sl_pipeline *p, const char *stage, const char *param, const char *value,
                                 sl_error *err);
/* An INPUT parameter: the stage `from` that this stage reads. */
sl_status sl_pipeline_set_input(sl_pipeline *p, const char *stage, const char *param, const char *from,
                                sl_error *err);
sl_status sl_pipeline_set_strings(sl_pipeline *p, const char *stage, const char *param, const char *const *values,
                                  size_t n, sl_error *err);
sl_status sl_pipeline_set_numbers(sl_pipeline *p, const char *stage, const char *param, const double *values,
                                  size_t n, sl_error *err);
sl_status sl_pipeline_set_map(sl_pipeline *p, const char *stage, const char *param, const char *const *keys,
                              const char *const *values, size_t n, sl_error *err);
/* A pipeline from YAML text that is not planned yet, so that frames can be
 * bound to its input stages first (sl_pipeline_bind, then sl_pipeline_plan). */
sl_status sl_pipeline_new_from_string(const char *yaml, size_t len, const char *name, const char *base_dir,
                                      sl_pipeline **out, sl_error *err);
/* Validates and plans a pipeline made by sl_pipeline_new or
 * sl_pipeline_new_from_string; the handle stays the same. On failure it is
 * unchanged: fix it and plan again. */
sl_status sl_pipeline_plan(sl_pipeline *p, sl_error *err);

/* ---- the caller's frames as inputs ---------------------------------------
 * A stage of op `input` reads a frame the program holds (see
 * sl_frame_borrow_data, sl_frame_set_data). Bind it before sl_pipeline_plan
 * (its arrays and rows plan the stages after it). A planned pipeline takes
 * another frame of the same arrays and rows for the next run. The frame is
 * the caller's: it must outlive the pipeline's runs. Its content is in the
 * input stage's cache key (sl_frame_set_version), so changed data is never
 * answered with results of the old. */
sl_status sl_pipeline_bind(sl_pipeline *p, const char *stage, const sl_frame *frame, sl_error *err);
/* sl_pipeline_add_stage(p, stage, "input") and sl_pipeline_bind. */
sl_status sl_pipeline_add_frame(sl_pipeline *p, const char *stage, const sl_frame *frame, sl_error *err);
void sl_pipeline_free(sl_pipeline *p);

const char *sl_pipeline_name(const sl_pipeline *p);
const char *sl_pipeline_workdir(const sl_pipeline *p);
int64_t sl_pipeline_chunk_rows(const sl_pipeline *p);
int sl_pipeline_threads(const sl_pipeline *p); /* 0: auto */
/* 1 when the file says `report: true` (the sluice command then writes
 * workdir/report.html after every run), else 0. */
int sl_pipeline_report(const sl_pipeline *p);

/* Stages, in a topological order (every stage after its inputs). Every
 * getter here answers NULL, 0 or SIZE_MAX for a NULL pipeline or an index out
 * of range; none crashes. */
size_t sl_pipeline_stage_count(const sl_pipeline *p);
const char *sl_pipeline_stage_name(const sl_pipeline *p, size_t i);
/* Index of the stage called name, or SIZE_MAX. */
size_t sl_pipeline_stage_find(const sl_pipeline *p, const char *name);
const sl_op *sl_pipeline_stage_op(const sl_pipeline *p, size_t i);
size_t sl_pipeline_stage_input_count(const sl_pipeline *p, size_t i);
/* j-th input of stage i: the index of the stage it reads, and the parameter
 * naming it (SIZE_MAX and NULL when there is no such input). */
size_t sl_pipeline_stage_input(const sl_pipeline *p, size_t i, size_t j, const char **param);
const sl_frame *sl_pipeline_stage_output(const sl_pipeline *p, size_t i);
/* 1 when stage i's output is stored in a checkpoint, 0 when it is streamed
 * to the stages that read it (`checkpoint: false` or `final`). */
int sl_pipeline_stage_stored(const sl_pipeline *p, size_t i);
/* Figures a finished stage recorded with sl_stage_set_result(). */
size_t sl_pipeline_stage_result_count(const sl_pipeline *p, size_t i);
const char *sl_pipeline_stage_result(const sl_pipeline *p, size_t i, size_t k, double *value);
/* The figure `key` of stage i into *value: 1, or 0 when the stage has none. */
int sl_pipeline_stage_result_find(const sl_pipeline *p, size_t i, const char *key, double *value);

typedef enum sl_event_kind {
    SL_EVENT_STAGE_START,
    SL_EVENT_PROGRESS,   /* chunks of a pass done */
    SL_EVENT_STAGE_DONE,
    SL_EVENT_STAGE_FAILED,
    SL_EVENT_EPOCH,      /* a training stage finished an epoch (sl_exec_epoch) */
    SL_EVENT_WARNING     /* a stage warns (sl_stage_warn): `message` says what */
} sl_event_kind;

typedef struct sl_event {
    sl_event_kind kind;
    size_t stage;         /* index into the pipeline's stages */
    const char *name;     /* stage name */
    const char *pass;     /* PROGRESS: the pass's name */
    int64_t done, total;  /* PROGRESS: chunks of the pass; EPOCH: epochs done (from 1), of total */
    int64_t rows;         /* DONE: rows of the output frame */
    int64_t bytes;        /* DONE: bytes of the checkpoint's arrays */
    double seconds;       /* DONE / FAILED: wall time of the stage */
    int reused;           /* DONE: the checkpoint was fresh; nothing was computed */
    int streamed;         /* DONE: the stage is not stored; readers compute it as they read */
    int in_place;         /* DONE: a source stored in place: its data is read from the source file */
    const char *reason;   /* START: why the stage runs ("no checkpoint yet", ...) */
    sl_status status;     /* FAILED: why; SL_ERR_CANCELLED when the run was cancelled (sl_run_options.cancel) */
    int resumable;        /* FAILED: cancelled with its work so far kept; the next run resumes it */
    double loss;          /* EPOCH: the training loss of that epoch */
    const char *message;  /* WARNING: what the stage warns of */
} sl_event;

/* Called from the scheduler's threads, one call at a time. Returns 0 to go
 * on; anything else cancels the run as sl_pipeline_cancel() does. */
typedef int (*sl_progress_fn)(const sl_event *ev, void *user);

/* Options of a run. Start from SL_RUN_OPTIONS_INIT (or set .abi yourself):
 * a zero `abi` is refused. */
typedef struct sl_run_options {
    int abi;                   /* SL_ABI_VERSION of the program that filled it */
    int threads;               /* 0: from the pipeline file, then OMP_NUM_THREADS, then cores */
    int64_t chunk_rows;        /* 0: from the pipeline file */
    int64_t memory;            /* bytes for chunk buffers; 0: from the pipeline file (default 1 GiB) */
    const char *workdir;       /* NULL: from the pipeline file */
    sl_progress_fn progress;   /* may be NULL */
    void *user;
    const char *const *force;  /* NULL-terminated stages to recompute, with all they feed */
    const char *from;          /* run this stage (recomputed) and what it feeds, nothing else */
    const char *until;         /* run only this stage and what it needs */
    int wait_for_lock;         /* another run holds the workdir: 1 wait, 0 fail at once */
    /* Cancels the run once *cancel is nonzero (NULL: never). Set it from any
     * thread or from a signal handler (the library installs none). No new
     * stage starts; running passes stop at their next chunk boundary; the
     * stages already computed are still committed; a stage stopped in a
     * resumable pass keeps <stage>.h5.tmp and its resume journal, synced, so
     * the next run continues where it stopped (its FAILED event says
     * resumable); other temporary files are removed. The run then returns
     * SL_ERR_CANCELLED, unless every stage had already finished. */
    volatile sig_atomic_t *cancel;
} sl_run_options;

#define SL_RUN_OPTIONS_INIT {.abi = SL_ABI_VERSION}

/* Parses a size such as "512MiB", "2 GiB", "300MB" or "1e9" into bytes
 * (units B, KB, MB, GB, TB in powers of 1000; KiB or K, MiB or M, GiB or G,
 * TiB in powers of 1024). Returns 1 on success, 0 for anything else. */
int sl_parse_size(const char *text, int64_t *bytes);

/* Runs the pipeline; each stage's output is checkpointed to
 * workdir/<stage>.h5. A stage whose checkpoint is fresh (same cache key,
 * file intact) is reused without reading its data. One run at a time holds
 * a workdir (workdir/.sluice.lock). Every stage is logged to
 * workdir/run.log as a JSON line. */
sl_status sl_pipeline_run(sl_pipeline *p, const sl_run_options *opt, sl_error *err);

/* ---- one op on frames in memory (as libvips' vips_call) -----------------
 * Runs op on the caller's frames with parameters given in code, in memory
 * (no file is written), and returns its output frame in *out (the
 * caller's, to sl_frame_free). The arguments after err are a list of
 * SL_ARG_* items ended by SL_ARG_END; each names a parameter of the op:
 *
 *   sl_frame *z = NULL;
 *   sl_op_call("normalize", &z, &err, SL_ARG_FRAME("input", x),
 *              SL_ARG_STRING("method", "zscore"), SL_ARG_END);
 *
 * An INPUT parameter takes a frame; the others take the type the macro
 * names (checked against the op's table, as for a pipeline file). Threads:
 * OMP_NUM_THREADS, else every core. */
enum {
    SL_ARG_END_ = 0,
    SL_ARG_FRAME_ = 0x5100,
    SL_ARG_INT_,
    SL_ARG_NUMBER_,
    SL_ARG_BOOL_,
    SL_ARG_STRING_,
    SL_ARG_STRINGS_,
    SL_ARG_NUMBERS_
};
#define SL_ARG_FRAME(name, frame) SL_ARG_FRAME_, (const char *)(name), (const sl_frame *)(frame)
#define SL_ARG_INT(name, v) SL_ARG_INT_, (const char *)(name), (int64_t)(v)
#define SL_ARG_NUMBER(name, v) SL_ARG_NUMBER_, (const char *)(name), (double)(v)
#define SL_ARG_BOOL(name, v) SL_ARG_BOOL_, (const char *)(name), (int)(v)
#define SL_ARG_STRING(name, v) SL_ARG_STRING_, (const char *)(name), (const char *)(v)
#define SL_ARG_STRINGS(name, v, n) SL_ARG_STRINGS_, (const char *)(name), (const char *const *)(v), (size_t)(n)
#define SL_ARG_NUMBERS(name, v, n) SL_ARG_NUMBERS_, (const char *)(name), (const double *)(v), (size_t)(n)
#define SL_ARG_END SL_ARG_END_
sl_status sl_op_call(const char *op, sl_frame **out, sl_error *err, ...);

/* Cancels the run of p in progress, as sl_run_options.cancel does (same
 * effects: no new stage starts, passes stop at a chunk boundary, completed
 * checkpoints are kept, interrupted resumable stages resume next time).
 * Safe from any thread, while sl_pipeline_run runs on another. A request
 * made while no run is in progress cancels the next run at its start; the
 * request is cleared when sl_pipeline_run returns. Not async-signal-safe:
 * from a signal handler, use sl_run_options.cancel. */
void sl_pipeline_cancel(sl_pipeline *p);

typedef enum sl_stage_freshness {
    SL_STAGE_FRESH,   /* the checkpoint would be reused */
    SL_STAGE_STALE,   /* a checkpoint exists but would be recomputed */
    SL_STAGE_MISSING, /* no checkpoint */
    SL_STAGE_SKIPPED, /* outside the part of the DAG the options select */
    SL_STAGE_STREAMED /* not stored: computed while the stages that read it run */
} sl_stage_freshness;

typedef struct sl_stage_status {
    sl_stage_freshness state;
    char reason[512]; /* why it is stale or missing, one line */
} sl_stage_status;

/* What a run with these options would do, stage by stage (out has one entry
 * per stage, in pipeline order), without running or locking anything. A
 * stage whose input would be recomputed is STALE until then; at run time it
 * may still be reused if that input's values come out unchanged. */
sl_status sl_pipeline_status(sl_pipeline *p, const sl_run_options *opt, sl_stage_status *out, sl_error *err);

/* Removes the checkpoints of the named stages (NULL: all) and their
 * temporary files from the workdir; *removed counts the files removed. */
sl_status sl_pipeline_clean(sl_pipeline *p, const sl_run_options *opt, const char *const *stages, size_t *removed,
                            sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
