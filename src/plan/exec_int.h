/* Private: the executor's per-stage state. */
#ifndef SL_EXEC_INT_H
#define SL_EXEC_INT_H

#include <stdatomic.h>
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
};

/* The op name of a stage (for messages). */
const char *sl_stage_op_name(const sl_stage *st);

/* Monotonic seconds. */
double sl__now(void);

/* Reports chunks done of a pass to the progress callback. */
void sl__exec_progress(sl_exec *ex, const char *pass, int64_t done, int64_t total);

#endif
