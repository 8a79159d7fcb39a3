/* Private: the executor's per-stage state. */
#ifndef SL_EXEC_INT_H
#define SL_EXEC_INT_H

#include <stdatomic.h>
#include "core/clock.h"
#include "kernels/blas.h"
#include "plan/pipeline_int.h"

struct sl_exec {
    sl__run_ctx *rc;
    sl_stage *st;
    int threads;
    int64_t chunk_rows;
    atomic_int *cancel;
    int streamed_output; /* a pass wrote the stage's output frame */
    struct sl__journal *jr;  /* resume journal, or NULL when the stage cannot resume */
    struct sl__ckpt_writer *writer; /* the stage output's writer */
    size_t pass_no;          /* passes started so far in this stage */
    int journal_mismatch;    /* the journal described another sequence of passes */
    int capture;             /* the stage is streamed: keep its output pass instead of running it */
    int64_t bytes_read;      /* array bytes its passes read from files (checkpoints and sources) */
    sl__blas_counters blas;  /* what BLIS did in its passes' chunks, on all threads */
    int resume_kept;         /* interrupted with the journal saved: keep the temporary checkpoint */
    int solo;                /* an MPI run's rank 0 runs this stage alone (a sink): passes are not split */
    double rank_sync_seconds; /* MPI runs: time after this rank's part of each pass (pipeline_int.h) */
    struct sl__scan_group *scan; /* the stage's scan group, or NULL: its passes run alone */
    int scan_member;             /* its index in that group */
    int64_t shared_passes;       /* passes that ran in one scan with other members' passes */
    const char *memo_what;       /* inside sl__exec_pass_memo: the pass's reduction, for a scan group */
    int64_t sample_stride;       /* the next pass visits every sample_stride-th chunk only (0, 1: all) */
    int row_local_next;          /* the next pass is a row-local map or filter (sl__exec_row_local_next) */
    int widening_next;           /* ... that only widens float32 to float64 (sl__exec_widening_next) */
    int any_float_next;          /* ... that takes float32 input as float64 (sl__exec_any_float_next) */
    int64_t block_rows_next;     /* the next pass's chunk() composes over blocks of this many rows (0: no) */
};

/* 1 once the caller asked the run to stop (sl_run_options.cancel,
 * sl_pipeline_cancel, or a progress callback's answer). */
static inline int sl__run_interrupted(const sl__run_ctx *rc)
{
    if (!rc)
        return 0;
    if (rc->opt && rc->opt->cancel && *rc->opt->cancel)
        return 1;
    return rc->pipe && atomic_load(&rc->pipe->cancel);
}

/* Reductions shared by the stages of one run. Two stages that reduce the
 * same arrays of the same frame with the same pass (lstsq and gd both build
 * the co-moments of the normalized data) compute it once: the first stores
 * its result under a key naming the frame, the arrays and the reduction; the
 * second copies it. The result is what the second would have computed (the
 * same pass over the same chunks, merged in the same order), to the bit. */
typedef struct sl__memo sl__memo;
sl__memo *sl__memo_new(void);
void sl__memo_free(sl__memo *m);
/* Fills out (size bytes) from the entry for (frame, what); 1 when found. */
int sl__exec_memo_get(sl_exec *ex, const sl_frame *frame, const char *what, void *out, size_t size);
/* Stores data (size bytes) for (frame, what); best effort (out of memory: nothing stored). */
void sl__exec_memo_put(sl_exec *ex, const sl_frame *frame, const char *what, const void *data, size_t size);

/* Shared scans. The scheduler starts stages that are ready together and read
 * the same input as one scan group, each member's run() on a thread of its
 * own, and gives the group the members' teams together. A member's reduce
 * pass (input, partial_size > 0, no output, not sequential, no chunk_order)
 * waits in sl_exec_pass until no member of the group is busy outside a pass;
 * then the passes waiting over the same input frame run as one scan: every
 * chunk is read, and its streamed levels computed, once, then each member's
 * chunk() runs on it into its own partial, and each member's merge() folds
 * into its own accumulator in chunk order: the same calls on the same chunks,
 * in the same order, as alone. Other passes run alone, at the member's own
 * team, without making the others wait. A member leaves when its run() ends
 * (sl__scan_leave), so the others never wait for it. */
typedef struct sl__scan_group sl__scan_group;
/* A group of n members; team[k]: member k's threads, what its own passes
 * use; total: the threads the group holds (each member has at least one,
 * so with fewer threads than members the teams add up to more), which a
 * scan never exceeds. */
sl__scan_group *sl__scan_group_new(int n, const int *team, int total);
void sl__scan_group_free(sl__scan_group *g);
/* Member k has no more passes to run (idempotent). */
void sl__scan_leave(sl__scan_group *g, int k);

/* A reduce pass whose result depends only on its input frame, the arrays it
 * reads and the chunk size, named by `what`: taken from the run's memo when
 * a stage computed it already, else run and stored there. In a scan group,
 * members that submit the same `what` over the same frame at once run it
 * once: the others get a copy of the accumulator, as from the memo. */
sl_status sl__exec_pass_memo(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, const char *what,
                             sl_error *err);

/* The stage's next pass (a reduce pass over an input frame) visits only
 * chunks 0, stride, 2·stride, ...: a sample of the rows that costs what it
 * reads (a solver's warm start). Its partials merge in that order, the same
 * on any thread or rank count; the stage's own passes only (not shared
 * with a scan group). */
static inline void sl__exec_sample_next(sl_exec *ex, int64_t stride)
{
    ex->sample_stride = stride;
}

/* The stage's next pass, when it is its output pass and the stage is
 * streamed, computes each output row from the same input row alone, and
 * its partial is scratch (frame_int.h, sl__frame_set_row_local): the
 * passes that read the stage may then compute it a block of rows at a
 * time. */
static inline void sl__exec_row_local_next(sl_exec *ex)
{
    ex->row_local_next = 1;
}

/* With sl__exec_row_local_next: the next pass only widens float32 arrays
 * to float64 and copies the others (same arrays, same columns). */
static inline void sl__exec_widening_next(sl_exec *ex)
{
    ex->widening_next = 1;
}

/* With sl__exec_row_local_next: the next pass's chunk() gives the same
 * bits when a float32 array comes in where its input frame has the float64
 * array made of it by widening (frame_int.h, sl__frame_set_any_float). */
static inline void sl__exec_any_float_next(sl_exec *ex)
{
    ex->any_float_next = 1;
}

/* The stage's next pass (a reduce pass) has a chunk() that composes over
 * blocks of `rows` rows: calling it on the first k·rows rows of a chunk and
 * then, with the partial as it left it, on the rest, gives the bits of one
 * call on the whole chunk, for any k. Over an input streamed through
 * row-local stages, the executor then computes the input a block at a time,
 * in the cache, and hands the pass its rows in such runs (exec.c). */
static inline void sl__exec_blocks_next(sl_exec *ex, int64_t rows)
{
    ex->block_rows_next = rows;
}

/* The data of row r of a chunk's array (NULL when the array has none). */
static inline void *sl__chunk_array_row(const sl_chunk_array *a, int64_t r)
{
    return a->data ? (char *)a->data + (size_t)r * (size_t)a->info->cols * sl_dtype_size(a->info->dtype) : NULL;
}

/* v: rows [r0, r0 + n) of chunk c, its arrays pointing into c's (v->arrays
 * holds c->n_arrays entries). */
void sl__chunk_view(const sl_chunk *c, int64_t r0, int64_t n, sl_chunk *v);

/* Reports chunks done of a pass to the progress callback. */
void sl__exec_progress(sl_exec *ex, const char *pass, int64_t done, int64_t total);
/* Sends a stage's warning to the run's progress callback. */
void sl__exec_warning(sl_exec *ex, const char *message);

#endif
