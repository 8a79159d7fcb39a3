/* Private: the planned pipeline and its stages. */
#ifndef SL_PIPELINE_INT_H
#define SL_PIPELINE_INT_H

#include <stdatomic.h>
#include "sluice/pipeline.h"
#include "sluice/slurm.h"
#include "config/yaml_doc.h"
#include "core/hash.h"
#include "io/comp_probe.h"

typedef struct sl__input {
    const char *param; /* the INPUT parameter naming it ("best" for a best edge) */
    size_t stage;      /* index of the stage it reads (in the pipeline's order) */
    /* 1: the edge of a parameter given as { best: STAGE } (plan/expand.h):
     * it orders the stages and the stage's plan waits for it, but only the
     * value it gives is in the cache key, not the stage's output hash */
    int best;
} sl__input;

typedef struct sl__result {
    char key[SL_NAME_MAX];
    double value;
} sl__result;

struct sl_stage {
    sl_pipeline *pipe;
    size_t index;
    const char *name;          /* points into the YAML document */
    const sl_op *op;
    const sl__ynode *node;     /* the stage's mapping */
    int line, col;             /* position of the stage's name */
    sl_params *params;
    size_t n_inputs;
    sl__input *inputs;
    sl_frame *output;
    void *state;
    size_t n_results;
    sl__result *results;
    /* run time */
    struct sl_exec *exec;
    char key[SL_HASH_HEX];      /* cache key, once the inputs are known */
    char out_hash[SL_HASH_HEX]; /* hash of the output values, once run or reused */
    int reused;                 /* the checkpoint was fresh and not recomputed */
    int verify_content;         /* `verify: content`: source files are identified by their hash */
    int checkpoint;             /* SL__CKPT_STORE / _STREAM: the effective `checkpoint` policy */
    int realized;               /* streamed: its output pass has been captured in this run */
    int compression;            /* sl__compression of its checkpoint */
    char *sources;              /* identity of the source files, from the last key */
    char mem_key[SL_HASH_HEX];  /* in-memory runs: the key of the output the frame holds ("" when none) */
    char **linked;              /* other files a source's values come from (sl__stage_add_linked_file) */
    size_t n_linked;
    int plan_later;             /* SL__PLAN_*: when plan() runs */
    int replanning;             /* inside the plan() made once the inputs were computed */
    char *warnings;             /* this run's sl_stage_warn messages, one a line (NULL: none) */
    int64_t rows_bound;         /* the op's bound on its output rows when their number is unknown (0: none) */
    /* expansion over axes (plan/expand.h) */
    const struct sl__group *group; /* the stage of the file it is a member of; NULL: not expanded */
    size_t member;                 /* its index among the group's members */
    /* shared scans (exec_int.h): the scan group the scheduler started it in, or NULL */
    struct sl__scan_group *scan;
    int scan_member;               /* its index in that group */
    const char *scan_first;        /* the name of that group's first stage */
    struct sl__best *best;         /* parameters given as { best: STAGE } */
    size_t n_best;
};

/* Forgets the warnings of the stage's last run. */
void sl__stage_clear_warnings(sl_stage *st);

/* When a stage is planned: with the pipeline (NOW), or in the run once its
 * inputs have been computed, because its op asked for its inputs' data
 * (sl_stage_plan_later: DATA), because an input is planned then (INPUT), or
 * because a parameter takes the value a select stage chooses in the run
 * ({ best: STAGE }: BEST). */
enum { SL__PLAN_NOW = 0, SL__PLAN_DATA = 1, SL__PLAN_INPUT = 2, SL__PLAN_BEST = 3 };

/* Plans a stage whose plan waited for its inputs (plan_later != NOW) in a
 * run, its inputs computed: a new output frame, a new state, plan() called
 * with the inputs' data at hand. Errors are located at the stage. */
sl_status sl__stage_replan(sl_stage *st, sl_error *err);

/* Records, at plan time, a file a source stage's values come from besides
 * the files its parameters name: an external link's target, a virtual
 * dataset's source, external raw storage. Its identity joins the stage's
 * cache key, so that a change to it makes the stage stale. */
sl_status sl__stage_add_linked_file(sl_stage *st, const char *path, sl_error *err);

enum { SL__CKPT_STORE = 1, SL__CKPT_STREAM = 0 };

#define SL_MAX_STAGES 100000
/* Keys of a stage's mapping that are not parameters of its op. */
extern const char *const sl__stage_reserved[];

/* A frame of the caller's bound to an `input` stage (sl_pipeline_bind). */
typedef struct sl__binding {
    char *stage;
    const sl_frame *frame;
} sl__binding;

/* A pipeline being built in code, not planned yet (plan/builder.c). */
typedef struct sl__draft sl__draft;
void sl__draft_free(sl__draft *d);
void sl__bindings_free(sl_pipeline *p);
/* The caller's frame bound to stage, or NULL. */
const sl_frame *sl__pipeline_bound(const sl_pipeline *p, const char *stage);
/* sl_pipeline_load_string with frames bound to its input stages while it
 * is planned (the bindings are the caller's: the new pipeline does not own
 * them). */
sl_status sl__pipeline_load_bound(const char *text, size_t len, const char *name, const char *base_dir,
                                  sl__binding *bindings, size_t n_bindings, sl_pipeline **out, sl_error *err);

struct sl_pipeline {
    char *path;       /* the pipeline file as given, or the name for a string */
    char *base_dir;   /* folder relative paths are resolved against */
    const char *name; /* `pipeline:` or the file's base name */
    char *name_owned;
    char *workdir;
    int64_t chunk_rows;
    int64_t memory;   /* bytes of the chunk-buffer budget (plan/budget.h) */
    int threads;      /* 0: auto */
    int report;       /* `report: true`: the CLI writes workdir/report.html after a run */
    const char *checkpoint; /* the pipeline's `checkpoint` setting: "true", "false" or "final" */
    int compression;        /* the pipeline's `compression` setting (sl__compression) */
    sl_slurm_settings slurm; /* `slurm:`, for `sluice submit` */
    sl__ydoc *doc;
    size_t n;
    sl_stage *stages; /* in topological order */
    struct sl__manifest *manifest; /* the workdir's, while a run or status reads it (plan/cache.h) */
    int graph_only; /* read by sl_pipeline_read_file: stages not planned, cannot run */
    atomic_int cancel; /* sl_pipeline_cancel() or a progress callback asked the run to stop */
    sl__draft *draft;  /* built in code and not planned yet: no stages until sl_pipeline_plan */
    sl__binding *bindings; /* the caller's frames bound to input stages */
    size_t n_bindings;
    struct sl__expansion *expansion; /* the stages' axes and members (plan/expand.h) */
};

/* Puts the position of parameter `param` of st (or of the stage) and the
 * stage's name on an error whose message is already set. Returns err->code. */
sl_status sl__stage_locate(const sl_stage *st, sl_error *err, const char *param);

/* Orders stages so every stage comes after its inputs (stable: file order
 * among independent stages) and rejects cycles, naming the stages on one.
 * `inputs` are indices in file order; on success order[k] is the file index
 * of the k-th stage. */
sl_status sl__dag_sort(size_t n, const size_t *n_inputs, const size_t *const *inputs, const char *const *names,
                       size_t *order, size_t *cycle_at, sl_error *err);

/* Refuses a pipeline whose outputs or checkpoints (in `workdir`) would
 * replace a file it reads, the pipeline file, another output, or anything
 * that is not a regular file, comparing files by device and inode after
 * links (a file not there yet: by its resolved folder and name). Called at
 * load and again by run and clean, whose workdir may differ. */
sl_status sl__check_file_identities(const sl_pipeline *p, const char *workdir, sl_error *err);

/* 1 for the workdir ":memory:": a run that keeps every output in memory
 * and writes no file (no checkpoints, run.log, lock or manifest). */
int sl__workdir_is_memory(const char *workdir);

/* Runs the stages in dependency order, independent stages at the same time. */
sl_status sl__schedule(sl_pipeline *p, const sl_run_options *opt, int threads, int64_t chunk_rows,
                       const char *workdir, sl_error *err);

/* Runs one stage: opens its checkpoint, calls the op, commits. */
typedef struct sl__run_ctx {
    sl_pipeline *pipe;
    const sl_run_options *opt;
    int64_t chunk_rows;
    const char *workdir;
    atomic_int *cancel;
    int memory;             /* workdir ":memory:": outputs stay in memory, no file is written */
    struct sl__budget *budget;
    struct sl__memo *memo;
    void (*emit)(struct sl__run_ctx *rc, const sl_event *ev);
    void *sched; /* the scheduler's own data for emit */
    int comp_probed; /* comp_probe is measured (once per run, by the first stage of compression auto;
                      * under the HDF5 lock) */
    sl__comp_probe comp_probe;
} sl__run_ctx;

/* What a stage's run moved: rows and bytes of its checkpoint, bytes its
 * passes read from files, passes run; and its checkpoint, sealed (complete,
 * readable under its temporary name) but not yet durable and in place. */
struct sl__ckpt_sealed;
typedef struct sl__stage_io {
    int64_t rows, bytes, bytes_read, passes;
    double blas_flops, blas_seconds; /* BLIS's work in its passes, seconds summed over threads */
    double rank_sync_seconds; /* MPI runs: time rank 0 spent after its part of each pass, for the
                                 others' partials, the ordered fold and the agreements */
    struct sl__ckpt_sealed *sealed;
    double ready; /* wall clock when the output was complete (sealed), 0: not run */
    char resume[320]; /* how an interrupted run's work was taken up ("" when there was none) */
    int resumable; /* interrupted: its temporary checkpoint and journal are kept for the next run */
    char compression[2048]; /* compression auto: its choice and figures, JSON ("" otherwise) */
    int64_t shared_passes; /* passes that ran in one scan with other stages' passes (exec_int.h) */
    const char *scan_group; /* the first stage of its scan group, or NULL when it ran in none */
} sl__stage_io;
sl_status sl__stage_run(sl__run_ctx *rc, sl_stage *st, int threads, sl__stage_io *io, sl_error *err);
/* 1 when a stored stage of this op keeps its data in place (op stored_at,
 * compression none or auto): its checkpoint has no arrays, its readers read the source. */
int sl__stage_in_place(const sl_stage *st);
/* Points a source stage's output frame at its data in place (op stored_at):
 * the source file's absolute path (returned in *file when not NULL, to free)
 * and its datasets. */
sl_status sl__stage_place(sl_stage *st, char **file, sl_error *err);

#endif
