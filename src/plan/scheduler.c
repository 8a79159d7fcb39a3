/* Running a planned pipeline: a pool of stage workers takes stages whose
 * inputs are done, in pipeline order. The thread budget is shared: a stage
 * starts only when a thread is free and gets an equal share of the free
 * threads, so stage concurrency x OpenMP team never exceeds the budget. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/fsutil.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "ops/ops_int.h"
#include "plan/cache.h"
#include "plan/budget.h"
#include "plan/exec_int.h"
#include "plan/expand.h"
#include "plan/journal.h"
#include "dist/dist.h"
#include "sluice/version.h"

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sl__exec_progress(sl_exec *ex, const char *pass, int64_t done, int64_t total)
{
    sl_event ev = {.kind = SL_EVENT_PROGRESS, .stage = ex->st->index, .name = ex->st->name, .pass = pass,
                   .done = done, .total = total};
    ex->rc->emit(ex->rc, &ev);
}

void sl__exec_warning(sl_exec *ex, const char *message)
{
    sl_event ev = {.kind = SL_EVENT_WARNING, .stage = ex->st->index, .name = ex->st->name, .message = message};
    ex->rc->emit(ex->rc, &ev);
}

void sl_exec_epoch(sl_exec *ex, int64_t epoch, int64_t epochs, double loss)
{
    sl_event ev = {.kind = SL_EVENT_EPOCH, .stage = ex->st->index, .name = ex->st->name, .done = epoch,
                   .total = epochs, .loss = loss};
    ex->rc->emit(ex->rc, &ev);
}

/* ---- one stage ---- */

static int64_t rows_hint(const sl_stage *st)
{
    int64_t r = sl_frame_rows(st->output);
    if (r >= 0)
        return r;
    if (st->rows_bound > 0) /* a model of one row a class: not its input's rows */
        return st->rows_bound;
    for (size_t j = 0; j < st->n_inputs; j++) {
        int64_t in = sl_frame_rows(st->pipe->stages[st->inputs[j].stage].output);
        if (in > r)
            r = in;
    }
    return r;
}

/* Writes arrays an op set in memory, as one chunk. */
static sl_status write_memory_output(sl_stage *st, sl__ckpt_writer *w, sl_error *err)
{
    sl_frame *f = st->output;
    size_t n = sl_frame_count(f);
    if (n == 0)
        return SL_OK;
    if (sl_frame_rows(f) < 0)
        return sl_stage_error(st, err, SL_ERR_INTERNAL, NULL, "op '%s' produced no rows count for its output",
                              st->op->name);
    sl_chunk_array *arrays = calloc(n, sizeof *arrays);
    if (!arrays)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = SL_OK;
    for (size_t i = 0; i < n && s == SL_OK; i++) {
        arrays[i].info = sl_frame_array(f, i);
        arrays[i].data = (void *)sl__frame_mem(f, i);
        if (!arrays[i].data)
            s = sl_stage_error(st, err, SL_ERR_INTERNAL, NULL, "op '%s' did not produce its output array '%s'",
                               st->op->name, arrays[i].info->name);
    }
    if (s == SL_OK) {
        sl_chunk c = {.index = 0, .row0 = 0, .rows = sl_frame_rows(f), .n_arrays = n, .arrays = arrays};
        sl__h5_lock();
        s = sl__ckpt_append_locked(w, &c, err);
        sl__h5_unlock();
    }
    free(arrays);
    return s;
}

static void iso_time(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The keys of the stage's results in the order the op recorded them, one a
 * line (sluice_results), for a reuse to give them back in that order: HDF5
 * lists attributes by name. */
static sl_status write_result_order_locked(const sl_stage *st, sl__ckpt_writer *w, sl_error *err)
{
    size_t len = 1, used = 0;
    for (size_t k = 0; k < st->n_results; k++)
        len += strlen(st->results[k].key) + 1;
    char *order = malloc(len);
    if (!order)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    order[0] = '\0';
    for (size_t k = 0; k < st->n_results; k++)
        used += (size_t)snprintf(order + used, len - used, "%s%s", k ? "\n" : "", st->results[k].key);
    sl_status s = sl__ckpt_attr_string_locked(w, "sluice_results", order, err);
    free(order);
    return s;
}

static sl_status write_attrs_locked(sl_stage *st, sl__ckpt_writer *w, sl_error *err)
{
    char *params = sl__params_canonical(st->params);
    if (!params)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    char when[32], host[256] = "";
    iso_time(when, sizeof when);
    gethostname(host, sizeof host - 1);
    sl_status s = sl__ckpt_attr_string_locked(w, "sluice_stage", st->name, err);
    if (!s)
        s = sl__ckpt_attr_string_locked(w, "sluice_op", st->op->name, err);
    char plugin[SL__PLUGIN_TEXT_MAX];
    sl__stage_plugin_text(st, plugin, sizeof plugin);
    if (!s && plugin[0]) /* says why the stage is stale after its plugin's version changed */
        s = sl__ckpt_attr_string_locked(w, "sluice_plugin", plugin, err);
    if (!s)
        s = sl__ckpt_attr_string_locked(w, "sluice_params", params, err);
    if (!s)
        s = sl__ckpt_attr_string_locked(w, "sluice_version", SL_VERSION, err);
    if (!s)
        s = sl__ckpt_attr_string_locked(w, "sluice_pipeline", st->pipe->name, err);
    if (!s)
        s = sl__ckpt_attr_string_locked(w, "sluice_created", when, err);
    if (!s)
        s = sl__ckpt_attr_string_locked(w, "sluice_host", host, err);
    if (!s)
        s = sl__ckpt_attr_int_locked(w, "sluice_rows", sl__ckpt_rows(w), err);
    if (!s)
        s = sl__ckpt_attr_int_locked(w, "sluice_chunk_rows", sl_stage_chunk_rows(st), err);
    if (!s)
        s = sl__ckpt_attr_string_locked(w, "sluice_key", st->key, err);
    if (!s)
        s = sl__ckpt_attr_int_locked(w, "sluice_compression", st->compression, err);
    char *inputs = sl__stage_inputs_text(st);
    if (!s)
        s = inputs ? sl__ckpt_attr_string_locked(w, "sluice_inputs", inputs, err)
                   : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    free(inputs);
    if (!s)
        s = sl__ckpt_attr_string_locked(w, "sluice_sources", st->sources ? st->sources : "", err);
    if (!s && (st->op->flags & SL_OP_SINK)) {
        char *outputs = NULL;
        s = sl__stage_outputs(st, &outputs, err);
        if (!s)
            s = sl__ckpt_attr_string_locked(w, "sluice_outputs", outputs, err);
        free(outputs);
    }
    for (size_t i = 0; !s && i < sl_frame_count(st->output); i++)
        s = sl__ckpt_frame_columns_locked(w, st->output, i, err);
    for (size_t i = 0; !s && i < sl_frame_count(st->output); i++)
        for (size_t k = 0; !s && k < sl_frame_attr_count(st->output, i); k++) {
            const char *key = sl_frame_attr_key(st->output, i, k);
            size_t n = 0;
            const double *v = sl_frame_attr(st->output, sl_frame_array(st->output, i)->name, key, &n);
            s = sl__ckpt_array_attr_locked(w, i, key, v, n, err);
        }
    for (size_t k = 0; !s && k < st->n_results; k++) {
        char key[SL_NAME_MAX + 16];
        snprintf(key, sizeof key, "result.%s", st->results[k].key);
        s = sl__ckpt_attr_double_locked(w, key, st->results[k].value, err);
    }
    if (!s && st->n_results)
        s = write_result_order_locked(st, w, err);
    free(params);
    return s;
}

/* A source stored in place (op stored_at, no compression): its data is not
 * copied. The stage runs as usual but its writer only hashes the rows, so
 * the output hash is the one a copy would have (a touched but unchanged
 * source leaves the stages after it fresh); the checkpoint records where the
 * data is, and readers read the source file. */
int sl__stage_in_place(const sl_stage *st)
{
    /* auto: a copy of a source would only add a write */
    return st->op->stored_at && (st->compression == SL__COMP_NONE || st->compression == SL__COMP_AUTO);
}

/* run.log's "resume" field: the rows kept, and where each recorded pass
 * takes up (so a user, or a test, sees which work the rerun skipped). */
static void describe_resume(const sl__journal *jr, int64_t max_rows, char *out, size_t size)
{
    int n = snprintf(out, size, "resumed at row %lld of %lld (rows verified)", (long long)jr->w_rows,
                     (long long)max_rows);
    for (size_t k = 0; k < jr->n_passes && n > 0 && (size_t)n < size; k++) {
        const sl__pass_record *r = &jr->passes[k];
        const char *sep = k ? ", " : "; passes: ";
        if (r->done)
            n += snprintf(out + n, size - (size_t)n, "%s%s complete", sep, r->name);
        else
            n += snprintf(out + n, size - (size_t)n, "%s%s from chunk %lld of %lld", sep, r->name,
                          (long long)r->chunks_done, (long long)r->nchunks);
    }
}

/* Opens the stage's temporary checkpoint: the one an interrupted run left,
 * when its journal says how far it got, or a new one. */
static sl_status open_output(sl__run_ctx *rc, sl_stage *st, const char *path, sl__journal *jr, int *use_journal,
                             sl__ckpt_writer **w, sl__stage_io *io, sl_error *err)
{
    int64_t max_rows = rows_hint(st);
    size_t n = sl_frame_count(st->output);
    *use_journal = 0;
    sl_status s = SL_OK;
    if (sl__stage_in_place(st) && max_rows >= 0) {
        sl__h5_lock();
        s = sl__ckpt_open_hash_only_locked(path, st->output, max_rows, w, err);
        sl__h5_unlock();
        return s;
    }
    /* compression auto: measured once per run. When compressing cannot pay
     * for any data (the disk writes a byte faster than deflate compresses a
     * byte of zeros), the stage is written as with none: preallocated,
     * resumable mid-stage. Else the first rows decide, array by array. */
    int comp = st->compression;
    sl__comp_probe probe;
    if (comp == SL__COMP_AUTO) {
        sl__h5_lock();
        if (!rc->comp_probed) {
            sl__comp_probe_measure(rc->workdir, &rc->comp_probe);
            rc->comp_probed = 1;
        }
        probe = rc->comp_probe;
        sl__h5_unlock();
        if (!sl__comp_may_pay(&probe))
            comp = SL__COMP_NONE;
        else if (max_rows >= 0 && sl__dist_size() == 1) {
            /* written through HDF5, so not resumable: a journal an earlier
             * run left (auto resolved to none there) is for another file */
            s = sl__journal_open(jr, path, st->key, rc->chunk_rows, max_rows, n, err);
            if (s)
                return s;
            sl__journal_remove(jr);
        }
    }
    /* Under MPI a stage's passes are split over the ranks and no rank alone
     * could take up another's part: no journal, a killed stage starts over */
    if (max_rows >= 0 && comp == SL__COMP_NONE && sl__dist_size() == 1) {
        s = sl__journal_open(jr, path, st->key, rc->chunk_rows, max_rows, n, err);
        if (s)
            return s;
        *use_journal = 1;
        if (jr->loaded) {
            sl_error why;
            sl_error_clear(&why);
            sl__h5_lock();
            sl_status r = sl__ckpt_reopen_locked(path, st->output, rc->chunk_rows, max_rows, jr->w_rows, jr->w_bytes,
                                                 jr->hash_states, jr->leaves, jr->n_leaves, w, &why);
            if (r == SL_OK && st->compression == SL__COMP_AUTO)
                sl__ckpt_auto_locked(*w, &probe);
            sl__h5_unlock();
            if (r == SL_OK) {
                describe_resume(jr, max_rows, io->resume, sizeof io->resume);
                return SL_OK;
            }
            /* what the interrupted run left cannot be trusted: start over */
            snprintf(io->resume, sizeof io->resume, "restarted: %.300s", why.message);
            sl__journal_truncate(jr, 0);
            jr->loaded = 0;
        }
        sl__journal_remove(jr);
    }
    sl__h5_lock();
    s = sl__ckpt_open_locked(path, st->output, rc->chunk_rows, max_rows, (sl__compression)comp, w, err);
    if (s == SL_OK && st->compression == SL__COMP_AUTO)
        sl__ckpt_auto_locked(*w, &probe);
    sl__h5_unlock();
    return s;
}

sl_status sl__stage_place(sl_stage *st, char **file_out, sl_error *err)
{
    size_t n = sl_frame_count(st->output);
    const char **dsets = calloc(n ? n : 1, sizeof *dsets);
    if (!dsets)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    const char *file = NULL;
    sl_status s = SL_OK;
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        const char *f = NULL;
        s = st->op->stored_at(st, i, &f, &dsets[i], err);
        if (s == SL_OK && file && strcmp(file, f) != 0)
            s = sl__error_set(err, SL_ERR_INTERNAL, "op '%s': arrays in place must be in one file", st->op->name);
        file = f;
    }
    /* the absolute path: the workdir's state must not depend on the cwd */
    char *abs = s == SL_OK && file ? realpath(file, NULL) : NULL;
    if (s == SL_OK && !abs)
        s = sl__error_set(err, SL_ERR_IO, "cannot open HDF5 file '%s': %s", file ? file : "", strerror(errno));
    if (s == SL_OK)
        s = sl__frame_set_path(st->output, abs, err);
    if (s == SL_OK)
        s = sl__frame_set_datasets(st->output, dsets, err);
    free(dsets);
    if (s == SL_OK && file_out)
        *file_out = abs;
    else
        free(abs);
    return s;
}

static sl_status write_place_locked(sl_stage *st, sl__ckpt_writer *w, sl_error *err)
{
    sl_status s = sl__ckpt_attr_string_locked(w, "sluice_in_place", sl__frame_path(st->output), err);
    for (size_t i = 0; s == SL_OK && i < sl_frame_count(st->output); i++) {
        char key[SL_NAME_MAX + 32];
        snprintf(key, sizeof key, "sluice_dataset.%s", sl_frame_array(st->output, i)->name);
        s = sl__ckpt_attr_string_locked(w, key, sl__frame_dataset(st->output, i), err);
    }
    return s;
}

/* What rank 0 tells the other ranks of a stage it computed and sealed. */
typedef struct stage_outcome {
    int64_t rows;
    char out_hash[SL_HASH_HEX];
} stage_outcome;

/* Under MPI, the end of a stage on every rank: the ranks agree on how it
 * went, then rank 0 (which wrote and sealed its checkpoint) gives the others
 * its row count and output hash. */
static sl_status share_outcome(sl_stage *st, sl_status s, sl_error *err)
{
    s = sl__dist_agree(s, err);
    stage_outcome o;
    memset(&o, 0, sizeof o);
    o.rows = sl_frame_rows(st->output);
    memcpy(o.out_hash, st->out_hash, SL_HASH_HEX);
    if (s == SL_OK)
        s = sl__dist_bcast(&o, sizeof o, 0, err);
    if (s == SL_OK && sl__dist_rank() > 0) {
        sl_frame_set_rows(st->output, o.rows);
        memcpy(st->out_hash, o.out_hash, SL_HASH_HEX);
    }
    return s;
}

/* A stage on a rank other than 0 of an MPI run (dist.h): it runs the op
 * like rank 0, whose passes split their chunks with it, but writes nothing:
 * rank 0 writes the checkpoint (or a sink's file, alone) and then tells the
 * others the rows and the output hash. The frame then points at where the
 * checkpoint will be once rank 0 committed it, before the next stage. */
static sl_status stage_run_follower(sl__run_ctx *rc, sl_stage *st, int threads, sl_error *err)
{
    sl__frame_drop_data(st->output);
    st->n_results = 0;
    sl__stage_clear_warnings(st);
    sl_exec ex = {.rc = rc, .st = st, .threads = threads, .chunk_rows = rc->chunk_rows, .cancel = rc->cancel};
    st->exec = &ex;
    sl_status s = st->op->flags & SL_OP_SINK ? SL_OK : st->op->run(st, &ex, err);
    st->exec = NULL;
    s = share_outcome(st, s, err);
    if (s == SL_OK) {
        if (sl__stage_in_place(st) && rows_hint(st) >= 0) {
            s = sl__stage_place(st, NULL, err);
        } else {
            char *path = sl__ckpt_path(rc->workdir, st->name);
            s = path ? sl__frame_set_path(st->output, path, err) : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            free(path);
        }
    }
    if (s != SL_OK) {
        sl__frame_drop_data(st->output);
        sl__error_stage(err, st->name);
    }
    return s;
}

/* What a stage's run moved, for its event and run.log line. */
static void tally_io(sl__stage_io *io, const sl_exec *ex, int64_t rows, int64_t bytes)
{
    io->rows = rows;
    io->bytes = bytes;
    io->bytes_read = ex->bytes_read;
    io->blas_flops = ex->blas.flops;
    io->blas_seconds = ex->blas.seconds;
    io->rank_sync_seconds = ex->rank_sync_seconds;
    io->passes = (int64_t)ex->pass_no;
    io->shared_passes = ex->shared_passes;
}

/* In-memory runs: 1 when the stage's frame holds the output of its
 * current key (st->key, computed), to be reused; else 0 with why in reason. */
static int held_in_memory(const sl_stage *st, char *reason, size_t size)
{
    int held = st->mem_key[0] && memcmp(st->mem_key, st->key, SL_HASH_HEX) == 0;
    snprintf(reason, size, "%s", held ? "" : st->mem_key[0] ? "its inputs or parameters changed" : "not in memory yet");
    return held;
}

/* A stage of an in-memory run (workdir ":memory:"): its output goes to
 * memory, hashed as a checkpoint's would be; no file is written, so there
 * is nothing to resume and no journal. A source read in place (load.hdf5)
 * is only hashed, and its readers read the source file, as in a workdir. */
static sl_status stage_run_memory(sl__run_ctx *rc, sl_stage *st, int threads, sl__stage_io *io, sl_error *err)
{
    sl__frame_drop_data(st->output);
    st->n_results = 0;
    sl__stage_clear_warnings(st);
    st->mem_key[0] = '\0';
    sl__ckpt_writer *w = NULL;
    int64_t max_rows = rows_hint(st);
    int in_place = sl__stage_in_place(st) && max_rows >= 0;
    sl_status s = sl__ckpt_open_memory(st->name, st->output, max_rows, &w, err);
    if (s == SL_OK && in_place)
        sl__ckpt_memory_in_frame(w);
    sl_exec ex = {.rc = rc, .st = st, .threads = threads, .chunk_rows = rc->chunk_rows, .cancel = rc->cancel,
                  .writer = w, .scan = st->scan, .scan_member = st->scan_member};
    st->exec = &ex;
    if (s == SL_OK) {
        sl__frame_set_writer(st->output, w);
        s = st->op->run(st, &ex, err);
        sl__frame_set_writer(st->output, NULL);
    }
    if (ex.scan)
        sl__scan_leave(ex.scan, ex.scan_member); /* no more passes: the others need not wait for it */
    st->exec = NULL;
    if (s == SL_OK && !ex.streamed_output) {
        sl__ckpt_memory_in_frame(w); /* the op set its arrays in memory: they stay there */
        s = write_memory_output(st, w, err);
    }
    int64_t nlayout = 0;
    const int64_t *layout = sl__frame_layout(st->output, &nlayout);
    if (s == SL_OK && layout)
        s = sl__ckpt_set_layout_locked(w, layout, nlayout, err);
    if (s == SL_OK) {
        int64_t rows = sl__ckpt_rows(w);
        tally_io(io, &ex, rows, in_place ? 0 : sl__ckpt_bytes(w));
        s = sl__ckpt_seal_memory(w, st->output, st->out_hash, err);
        w = NULL;
        sl_frame_set_rows(st->output, rows);
        if (s == SL_OK && in_place)
            s = sl__stage_place(st, NULL, err);
    }
    if (w)
        sl__ckpt_close_locked(w); /* no file: nothing to remove */
    if (s == SL_OK) {
        memcpy(st->mem_key, st->key, SL_HASH_HEX);
        io->ready = wall_seconds();
    } else {
        sl__frame_drop_data(st->output);
        sl__error_stage(err, st->name);
    }
    return s;
}

sl_status sl__stage_run(sl__run_ctx *rc, sl_stage *st, int threads, sl__stage_io *io, sl_error *err)
{
    if (rc->memory)
        return stage_run_memory(rc, st, threads, io, err);
    if (sl__dist_rank() > 0)
        return stage_run_follower(rc, st, threads, err);
    char *path = sl__ckpt_path(rc->workdir, st->name);
    if (!path)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl__journal jr;
    memset(&jr, 0, sizeof jr);
    sl_status s;
    int attempt = 0;
again:
    sl__frame_drop_data(st->output);
    st->n_results = 0;
    sl__stage_clear_warnings(st);
    sl__ckpt_writer *w = NULL;
    int use_journal = 0;
    s = open_output(rc, st, path, &jr, &use_journal, &w, io, err);
    sl_exec ex = {.rc = rc, .st = st, .threads = threads, .chunk_rows = rc->chunk_rows, .cancel = rc->cancel,
                  .jr = use_journal && attempt == 0 ? &jr : NULL, .writer = w,
                  /* a sink writes its file from rank 0 alone: its passes are not split */
                  .solo = sl__dist_size() > 1 && (st->op->flags & SL_OP_SINK),
                  /* a run started over (journal mismatch) has left its scan group */
                  .scan = attempt == 0 ? st->scan : NULL, .scan_member = st->scan_member};
    jr.last_save = sl__now();
    st->exec = &ex;
    if (s == SL_OK) {
        sl__frame_set_writer(st->output, w);
        s = st->op->run(st, &ex, err);
        sl__frame_set_writer(st->output, NULL);
    }
    if (ex.scan)
        sl__scan_leave(ex.scan, ex.scan_member); /* no more passes: the others need not wait for it */
    if (ex.journal_mismatch && attempt == 0) {
        /* the journal was for another sequence of passes: start over without it */
        sl__h5_lock();
        sl__ckpt_abort_locked(w);
        sl__h5_unlock();
        sl__journal_remove(&jr);
        sl__journal_close(&jr);
        sl_error_clear(err);
        attempt = 1;
        goto again;
    }
    if (s == SL_OK && !ex.streamed_output)
        s = write_memory_output(st, w, err);
    if (s == SL_OK) {
        sl_frame_set_rows(st->output, sl__ckpt_rows(w));
        /* in place: hashed, not written */
        tally_io(io, &ex, sl__ckpt_rows(w), sl__stage_in_place(st) ? 0 : sl__ckpt_bytes(w));
        /* no journal may outlive the checkpoint it was for, even if the
         * process dies right after the rename */
        sl__journal_remove(&jr);
        if (s == SL_OK && sl__stage_in_place(st) && rows_hint(st) >= 0)
            s = sl__stage_place(st, NULL, err);
        sl__h5_lock();
        if (s == SL_OK)
            s = write_attrs_locked(st, w, err);
        if (s == SL_OK && sl__frame_path(st->output))
            s = write_place_locked(st, w, err);
        int64_t nlayout = 0;
        const int64_t *layout = sl__frame_layout(st->output, &nlayout);
        if (s == SL_OK && layout)
            s = sl__ckpt_set_layout_locked(w, layout, nlayout, err);
        if (s == SL_OK)
            s = sl__ckpt_auto_finish_locked(w, io->compression, sizeof io->compression, err);
        if (s == SL_OK) {
            s = sl__ckpt_seal_locked(w, st->out_hash, &io->sealed, err);
            w = NULL;
        }
        sl__h5_unlock();
    }
    st->exec = NULL;
    if (sl__dist_size() > 1)
        s = share_outcome(st, s, err); /* the other ranks wait in stage_run_follower */
    /* readers find it under its temporary name until the commit renames it */
    if (s == SL_OK && !sl__frame_path(st->output))
        s = sl__frame_set_path(st->output, sl__ckpt_sealed_tmp(io->sealed), err);
    if (s != SL_OK && io->sealed) {
        sl__ckpt_sealed_abort(io->sealed);
        io->sealed = NULL;
    }
    if (s == SL_OK)
        io->ready = wall_seconds();
    /* An interrupted stage whose journal was saved where it stopped keeps
     * its temporary checkpoint and journal: the next run resumes there. A
     * failure leaves nothing to resume: the same inputs would fail the same
     * way. */
    io->resumable = s == SL_ERR_CANCELLED && ex.resume_kept && w;
    if (w) {
        sl__h5_lock();
        if (io->resumable)
            sl__ckpt_close_locked(w);
        else
            sl__ckpt_abort_locked(w);
        sl__h5_unlock();
    }
    if (!io->resumable)
        sl__journal_remove(&jr);
    sl__journal_close(&jr);
    if (s != SL_OK) {
        sl__frame_drop_data(st->output);
        sl__error_stage(err, st->name);
    }
    free(path);
    return s;
}

/* ---- which stages a run touches ---- */

/* Marks the stage called name, or every member of the stage of the file
 * called name; returns how many (0: no such stage). */
static size_t mark_named(const sl_pipeline *p, const char *name, unsigned char *mark)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (sl__stage_is(&p->stages[i], name)) {
            if (mark)
                mark[i] = 1;
            n++;
        }
    return n;
}

static sl_status unknown_stage(const sl_pipeline *p, const char *name, const char *flag, sl_error *err)
{
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < p->n && used < sizeof list; i++) {
        /* an expanded stage once, by the name that means all its members */
        const sl_stage *st = &p->stages[i];
        if (st->group && st->member != 0)
            continue;
        int w = snprintf(list + used, sizeof list - used, "%s%s%s", used ? ", " : "",
                         st->group ? st->group->name : st->name, st->group ? "[...]" : "");
        used += w > 0 ? (size_t)w : 0;
    }
    return sl__error_set(err, SL_ERR_USAGE, "%s names stage '%s', which pipeline '%s' does not have; its stages: %s",
                         flag, name, p->name, list);
}

/* Marks seeds and every stage that reads from them (stages are in
 * topological order, so one forward sweep suffices). */
static void mark_descendants(const sl_pipeline *p, unsigned char *mark)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; !mark[i] && j < p->stages[i].n_inputs; j++)
            if (mark[p->stages[i].inputs[j].stage])
                mark[i] = 1;
}

/* Marks every stage that a marked stage needs (one backward sweep). */
static void mark_ancestors(const sl_pipeline *p, unsigned char *mark)
{
    for (size_t i = p->n; i-- > 0;)
        if (mark[i])
            for (size_t j = 0; j < p->stages[i].n_inputs; j++)
                mark[p->stages[i].inputs[j].stage] = 1;
}

/* selected: stages this run considers; forced: stages it must recompute. */
static sl_status select_stages(const sl_pipeline *p, const sl_run_options *opt, unsigned char *selected,
                               unsigned char *forced, sl_error *err)
{
    memset(forced, 0, p->n);
    memset(selected, 1, p->n);
    for (const char *const *f = opt->force; f && *f; f++)
        if (!mark_named(p, *f, forced))
            return unknown_stage(p, *f, "--force", err);
    if (opt->from) {
        if (!mark_named(p, opt->from, NULL))
            return unknown_stage(p, opt->from, "--from", err);
        memset(selected, 0, p->n);
        mark_named(p, opt->from, selected);
        mark_named(p, opt->from, forced);
        mark_descendants(p, selected);
        mark_ancestors(p, selected);
    }
    mark_descendants(p, forced);
    if (opt->until) {
        unsigned char *need = calloc(p->n, 1);
        if (!need)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        if (!mark_named(p, opt->until, need)) {
            free(need);
            return unknown_stage(p, opt->until, "--until", err);
        }
        mark_ancestors(p, need);
        for (size_t i = 0; i < p->n; i++)
            selected[i] = selected[i] && need[i];
        free(need);
    }
    return SL_OK;
}

/* ---- the workdir: lock and run log ---- */

/* Takes the workdir's flock; with wait, waits for it, polling so that a
 * cancel request (sl_run_options.cancel: the CLI's SIGINT) ends the wait. */
static int take_lock(int fd, int wait, volatile sig_atomic_t *cancel, int *cancelled)
{
    *cancelled = 0;
    if (!wait)
        return flock(fd, LOCK_EX | LOCK_NB);
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK)
            return -1;
        if (cancel && *cancel) {
            *cancelled = 1;
            return -1;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static sl_status lock_workdir(const char *workdir, int wait, volatile sig_atomic_t *cancel, int *fd_out,
                              sl_error *err)
{
    size_t n = strlen(workdir) + 16;
    char *path = malloc(n);
    if (!path)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    snprintf(path, n, "%s/.sluice.lock", workdir);
    /* the workdir may be shared: a link planted here must not make sluice
     * create or truncate the file it points to */
    struct stat sb;
    int fd = sl__open_own(path, O_RDWR | O_CREAT, &sb);
    if (fd < 0) {
        char why[256];
        sl_status s = sl__error_set(err, SL_ERR_IO, "cannot open lock file '%s': %s", path,
                                    sl__open_error_text(errno, &sb, why, sizeof why));
        free(path);
        return s;
    }
    int cancelled = 0;
    int locked = take_lock(fd, wait, cancel, &cancelled) == 0;
    if (!locked && cancelled) {
        close(fd);
        free(path);
        return sl__error_set(err, SL_ERR_CANCELLED, "the run was interrupted while it waited for the workdir");
    }
    if (!locked && errno != EWOULDBLOCK) {
        /* Lustre without -o flock, some FUSE file systems */
        sl_status s = sl__error_set(err, SL_ERR_IO,
                                    "cannot lock '%s': %s; the workdir's file system does not support flock "
                                    "(on Lustre, mount with -o flock), use a workdir on another file system",
                                    path, strerror(errno));
        close(fd);
        free(path);
        return s;
    }
    if (!locked) {
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        sl_status s = sl__error_set(err, SL_ERR_IO,
                                    "workdir '%s' is in use by another sluice run%s%s%s; wait for it to finish, "
                                    "or give this run another --workdir",
                                    workdir, pid[0] ? " (process " : "", pid, pid[0] ? ")" : "");
        free(path);
        return s;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* the pid is only for messages; the lock itself holds */
    }
    free(path);
    *fd_out = fd;
    return SL_OK;
}

/* Opens workdir/run.log for appending before the first stage runs, so that
 * a log that cannot be written (a folder, a link, a full disk) stops the
 * run before it starts rather than being dropped in silence. */
static sl_status open_run_log(const char *workdir, int *fd_out, sl_error *err)
{
    size_t n = strlen(workdir) + 16;
    char *path = malloc(n);
    if (!path)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    snprintf(path, n, "%s/run.log", workdir);
    struct stat sb;
    *fd_out = sl__open_own(path, O_WRONLY | O_APPEND | O_CREAT, &sb);
    sl_status s = SL_OK;
    if (*fd_out < 0) {
        char why[256];
        s = sl__error_set(err, SL_ERR_IO, "cannot write run log '%s': %s; remove or free it, the run records every stage there",
                          path, sl__open_error_text(errno, &sb, why, sizeof why));
    }
    free(path);
    return s;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

typedef struct log_entry {
    const sl_stage *st;
    const char *status;
    const char *reason;
    const char *error;
    double start, end;
    sl__stage_io io;
    /* the run's: when it started (all its lines share it, so a reader such
     * as `sluice report` tells one run from the next) and its thread budget */
    double run_start;
    int threads;
} log_entry;

/* The run.log line of a stage, malloc'd (length in *len); NULL on OOM. */
static char *log_line(const log_entry *e, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fputs("{\"stage\":", f);
    json_string(f, e->st->name);
    fputs(",\"op\":", f);
    json_string(f, e->st->op->name);
    fputs(",\"status\":", f);
    json_string(f, e->status);
    fputs(",\"key\":", f);
    json_string(f, e->st->key);
    fprintf(f,
            ",\"start\":%.6f,\"end\":%.6f,\"seconds\":%.6f,\"rows\":%lld,\"bytes\":%lld,\"bytes_read\":%lld,"
            "\"passes\":%lld,\"pid\":%ld",
            e->start, e->end, e->end - e->start, (long long)e->io.rows, (long long)e->io.bytes,
            (long long)e->io.bytes_read, (long long)e->io.passes, (long)getpid());
    if (e->run_start > 0)
        fprintf(f, ",\"run_start\":%.6f,\"threads\":%d", e->run_start, e->threads);
    if (e->io.ready > 0)
        fprintf(f, ",\"ready\":%.6f", e->io.ready);
    if (e->io.scan_group) {
        fputs(",\"scan_group\":", f);
        json_string(f, e->io.scan_group);
        fprintf(f, ",\"shared_passes\":%lld", (long long)e->io.shared_passes);
    }
    if (e->io.blas_flops > 0)
        fprintf(f, ",\"blas_flops\":%.0f,\"blas_seconds\":%.6f", e->io.blas_flops, e->io.blas_seconds);
    if (sl__dist_size() > 1)
        fprintf(f, ",\"ranks\":%d,\"rank_sync_seconds\":%.6f", sl__dist_size(), e->io.rank_sync_seconds);
    if (e->reason) {
        fputs(",\"reason\":", f);
        json_string(f, e->reason);
    }
    if (e->io.resume[0]) {
        fputs(",\"resume\":", f);
        json_string(f, e->io.resume);
    }
    if (e->io.compression[0])
        fprintf(f, ",\"compression\":%s", e->io.compression);
    if (e->error) {
        fputs(",\"error\":", f);
        json_string(f, e->error);
    }
    if (e->st->warnings) {
        fputs(",\"warnings\":[", f);
        for (const char *w = e->st->warnings; w;) {
            const char *nl = strchr(w, '\n');
            char *one = nl ? strndup(w, (size_t)(nl - w)) : strdup(w);
            json_string(f, one ? one : "");
            free(one);
            w = nl ? nl + 1 : NULL;
            if (w)
                fputc(',', f);
        }
        fputc(']', f);
    }
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Appends a stage's line to run.log (one write, with O_APPEND: lines of
 * concurrent runs do not interleave). A failure fails the run: the log is
 * the record of what each stage did. */
static sl_status write_log(int fd, const char *workdir, const log_entry *e, sl_error *err)
{
    size_t len = 0;
    char *line = log_line(e, &len);
    if (!line)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = SL_OK;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, line + done, len - done);
        if (w < 0) {
            s = sl__error_set(err, SL_ERR_IO, "cannot write run log '%s/run.log': %s; free space, and run again",
                              workdir, strerror(errno));
            sl__error_stage(err, e->st->name);
            break;
        }
        done += (size_t)w;
    }
    free(line);
    return s;
}

/* ---- the stage pool ---- */

enum { ST_WAITING, ST_RUNNING, ST_DONE, ST_FAILED, ST_SKIPPED };

typedef struct sched {
    sl__run_ctx rc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t emit_mu;
    pthread_mutex_t file_mu; /* the manifest and run.log */
    int log_fd;              /* run.log, opened before the first stage */
    pthread_mutex_t realize_mu; /* streamed stages are set up once, by their first reader */
    pthread_mutex_t plan_mu;    /* stages planned in the run, one at a time */
    int threads, free_threads;
    double run_start; /* wall clock, for run.log */
    size_t n, finished;
    int *state;
    size_t *unmet; /* inputs not done yet */
    size_t *rd_off, *rd; /* the stages reading stage i: rd[rd_off[i] .. rd_off[i + 1]) */
    size_t *heap, heap_n; /* waiting stages whose inputs are done, smallest index first */
    size_t stale;         /* entries of heap taken already, in a scan group (no longer ST_WAITING) */
    int scans;            /* shared scans (SLUICE_SHARED_SCANS): ready stages that read one frame run together */
    unsigned char *forced;
    atomic_int cancel;
    int failed;
    sl_error first_err;
    sl_status first_status;
    /* Sealed checkpoints wait here for the committer thread, which makes
     * them durable and puts them in place while the stages that read them
     * already run: the disk writes one stage's output while the next
     * computes. */
    pthread_mutex_t commit_mu;
    pthread_cond_t commit_cv;
    struct commit_job *q_head, *q_tail;
    int closing, committer_started;
    pthread_t committer;
} sched;

typedef struct commit_job {
    size_t stage;
    sl__ckpt_sealed *sealed;
    char *final_path; /* the stage's frame moves there when renamed; NULL: stays (in place) */
    double t0, w0;
    char reason[512];
    sl__stage_io io;
    struct commit_job *next;
} commit_job;

static void emit(sl__run_ctx *rc, const sl_event *ev)
{
    sched *sc = rc->sched;
    if (!rc->opt || !rc->opt->progress)
        return;
    pthread_mutex_lock(&sc->emit_mu);
    if (rc->opt->progress(ev, rc->opt->user) != 0)
        atomic_store(&rc->pipe->cancel, 1);
    pthread_mutex_unlock(&sc->emit_mu);
}

/* The ready stages form a binary min-heap of stage indices, so that taking
 * the first ready stage in pipeline order and releasing a finished stage's
 * readers cost O(log n) each: a pipeline may have 10^5 stages. */
static void ready_push(sched *sc, size_t i)
{
    size_t k = sc->heap_n++;
    while (k > 0 && sc->heap[(k - 1) / 2] > i) {
        sc->heap[k] = sc->heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    sc->heap[k] = i;
}

static size_t ready_pop(sched *sc)
{
    size_t top = sc->heap[0], last = sc->heap[--sc->heap_n], k = 0;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= sc->heap_n)
            break;
        if (c + 1 < sc->heap_n && sc->heap[c + 1] < sc->heap[c])
            c++;
        if (sc->heap[c] >= last)
            break;
        sc->heap[k] = sc->heap[c];
        k = c;
    }
    if (sc->heap_n > 0)
        sc->heap[k] = last;
    return top;
}

/* Who reads whom, as compressed rows (rd_off has n + 1 entries). */
static int index_readers(sched *sc, const sl_pipeline *p)
{
    sc->rd_off = calloc(p->n + 1, sizeof *sc->rd_off);
    size_t edges = 0;
    for (size_t i = 0; i < p->n; i++)
        edges += p->stages[i].n_inputs;
    sc->rd = malloc((edges ? edges : 1) * sizeof *sc->rd);
    sc->heap = malloc((p->n ? p->n : 1) * sizeof *sc->heap);
    if (!sc->rd_off || !sc->rd || !sc->heap)
        return 0;
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->stages[i].n_inputs; j++)
            sc->rd_off[p->stages[i].inputs[j].stage + 1]++;
    for (size_t i = 0; i < p->n; i++)
        sc->rd_off[i + 1] += sc->rd_off[i];
    size_t *fill = calloc(p->n ? p->n : 1, sizeof *fill);
    if (!fill)
        return 0;
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->stages[i].n_inputs; j++) {
            size_t in = p->stages[i].inputs[j].stage;
            sc->rd[sc->rd_off[in] + fill[in]++] = i;
        }
    free(fill);
    return 1;
}

/* Chunks of the largest frame a stage streams: its largest input, or its
 * output for a source; a frame whose rows are not known yet counts as big. */
static int64_t stage_chunks(const sched *sc, const sl_stage *st)
{
    const sl_pipeline *p = sc->rc.pipe;
    int64_t cr = sc->rc.chunk_rows, most = 0;
    size_t n = st->n_inputs ? st->n_inputs : 1;
    for (size_t j = 0; j < n; j++) {
        const sl_frame *f = st->n_inputs ? p->stages[st->inputs[j].stage].output : st->output;
        int64_t rows = sl_frame_rows(f);
        int64_t c = rows < 0 ? INT64_MAX / 2 : (rows + cr - 1) / cr;
        most = c > most ? c : most;
    }
    return most;
}

/* The first failure of the run stops it: nothing new starts, running
 * stages are cancelled. */
static void run_failed_locked(sched *sc, sl_status s, const sl_error *err)
{
    if (!sc->failed) {
        sc->failed = 1;
        sc->first_status = s;
        sc->first_err = *err;
        atomic_store(&sc->cancel, 1);
    }
}

/* Picks the first ready stage and its team size; SIZE_MAX when none can
 * start. A stage with enough chunks for every free thread (two each) takes
 * them all: stages that stream the same data then run one after the other at
 * full width rather than side by side at part width, which is as fast while
 * memory bandwidth is the limit, and lets the later ones reuse what the
 * earlier computed (shared reductions, exec_int.h). Smaller stages share the
 * free threads equally among the ready ones. */
/* The most stages one scan group holds: each runs on a thread of its own. */
#define SCAN_MAX 8

/* A scan group to start: its stages (the first is the one take_stage
 * picked), each one's team, and the threads it holds in all. */
typedef struct take {
    size_t stage[SCAN_MAX];
    int team[SCAN_MAX];
    int n, total;
} take;

/* The other ready stages that read one of stage i's inputs, for a scan
 * group with it (at most SCAN_MAX in all, and one per free thread but at
 * least 2). Streamed stages run nothing. */
static void gather_group(sched *sc, size_t i, take *t)
{
    const sl_pipeline *p = sc->rc.pipe;
    const sl_stage *st = &p->stages[i];
    /* at most one member per free thread (two with one): members work side
     * by side outside the scans, at least one thread each */
    int most = sc->free_threads > 2 ? sc->free_threads : 2;
    most = most < SCAN_MAX ? most : SCAN_MAX;
    if (!sc->scans || st->checkpoint == SL__CKPT_STREAM)
        return;
    for (size_t j = 0; j < st->n_inputs && t->n < most; j++) {
        size_t in = st->inputs[j].stage;
        for (size_t r = sc->rd_off[in]; r < sc->rd_off[in + 1] && t->n < most; r++) {
            size_t k = sc->rd[r];
            int seen = 0;
            for (int m = 0; m < t->n; m++)
                seen |= t->stage[m] == k;
            if (seen || sc->state[k] != ST_WAITING || sc->unmet[k] != 0 ||
                p->stages[k].checkpoint == SL__CKPT_STREAM)
                continue;
            sc->state[k] = ST_RUNNING; /* its heap entry is now stale */
            sc->stale++;
            t->stage[t->n++] = k;
        }
    }
}

/* Picks the first ready stage and its team size; SIZE_MAX when none can
 * start. A stage with enough chunks for every free thread (two each) takes
 * them all: stages that stream the same data then run one after the other at
 * full width rather than side by side at part width, which is as fast while
 * memory bandwidth is the limit, and lets the later ones reuse what the
 * earlier computed (shared reductions, exec_int.h). Smaller stages share the
 * free threads equally among the ready ones. With shared scans, the ready
 * stages that read one of its inputs start with it as a scan group
 * (exec_int.h), which holds what they would take together (at most the free
 * threads), split among them. */
static size_t take_stage(sched *sc, take *t)
{
    if (!sc->failed && sc->heap_n > sc->stale && sl__run_interrupted(&sc->rc) && sl__dist_size() == 1) {
        /* the caller stopped the run: start nothing more */
        sl_error e;
        sl__error_set(&e, SL_ERR_CANCELLED, "the run was interrupted");
        run_failed_locked(sc, SL_ERR_CANCELLED, &e);
    }
    if (sc->failed || sc->free_threads < 1 || sc->heap_n == sc->stale)
        return SIZE_MAX;
    size_t ready = sc->heap_n - sc->stale;
    size_t i;
    while (sc->state[i = ready_pop(sc)] != ST_WAITING)
        sc->stale--;
    int64_t useful = (stage_chunks(sc, &sc->rc.pipe->stages[i]) + 1) / 2;
    int share;
    if (useful >= sc->free_threads) {
        share = sc->free_threads;
    } else {
        share = (int)((size_t)sc->free_threads / ready);
        if (share > useful)
            share = (int)useful;
    }
    share = share < 1 ? 1 : share;
    sc->state[i] = ST_RUNNING;
    t->n = 1;
    t->stage[0] = i;
    gather_group(sc, i, t);
    t->total = share;
    if (t->n > 1 && share < sc->free_threads)
        t->total = share * t->n < sc->free_threads ? share * t->n : sc->free_threads;
    for (int m = 0; m < t->n; m++) {
        int each = t->total / t->n + (m < t->total % t->n);
        t->team[m] = each < 1 ? 1 : each;
    }
    sc->free_threads -= t->total;
    return i;
}

/* Writes a stage's run.log line (with file_mu held); a failure fails the
 * run like a failed stage. */
static void log_stage(sched *sc, const log_entry *e)
{
    if (sl__dist_rank() > 0 || sc->log_fd < 0)
        return; /* rank 0 keeps the workdir's files; an in-memory run has none */
    sl_error err;
    sl_error_clear(&err);
    log_entry line = *e;
    line.run_start = sc->run_start;
    line.threads = sc->threads;
    if (write_log(sc->log_fd, sc->rc.workdir, &line, &err) == SL_OK)
        return;
    pthread_mutex_lock(&sc->mu);
    run_failed_locked(sc, err.code, &err);
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
}

static void stage_finished(sched *sc, size_t i, int team, sl_status s, const sl_error *err)
{
    sc->state[i] = s == SL_OK ? ST_DONE : ST_FAILED;
    sc->free_threads += team;
    sc->finished++;
    if (s != SL_OK)
        run_failed_locked(sc, s, err);
    for (size_t r = sc->rd_off[i]; s == SL_OK && r < sc->rd_off[i + 1]; r++) {
        size_t k = sc->rd[r];
        if (--sc->unmet[k] == 0 && sc->state[k] == ST_WAITING)
            ready_push(sc, k);
    }
    pthread_cond_broadcast(&sc->cv);
}

static int all_settled(sched *sc)
{
    /* after a failure nothing new starts: wait only for the running stages */
    if (sc->failed) {
        for (size_t i = 0; i < sc->n; i++)
            if (sc->state[i] == ST_RUNNING)
                return 0;
        return 1;
    }
    return sc->finished == sc->n;
}

/* The scratch names a stage's checkpoint path gets: its temporary file, its
 * resume journal, and a journal being saved. */
static const char *const scratch_suffixes[] = {".tmp", ".tmp.resume", ".tmp.resume.tmp"};
#define N_SCRATCH (sizeof scratch_suffixes / sizeof *scratch_suffixes)

/* The temporary files of a recomputation that was killed, when the stage's
 * stored checkpoint turned out fresh after all: nothing will resume them. */
static void remove_leftovers(const char *workdir, const char *stage)
{
    char *path = sl__ckpt_path(workdir, stage);
    if (!path)
        return;
    for (size_t k = 0; k < N_SCRATCH; k++) {
        size_t n = strlen(path) + strlen(scratch_suffixes[k]) + 1;
        char *f = malloc(n);
        if (f) {
            snprintf(f, n, "%s%s", path, scratch_suffixes[k]);
            unlink(f);
            free(f);
        }
    }
    free(path);
}

/* Runs a streamed stage's op in capture mode: passes before its output pass
 * (a fit) run; the output pass is kept in the output frame for the readers.
 * Its streamed inputs must be realized. What those passes read and ran is
 * added to *io: the stage that needed them reports it, as its time includes
 * them. Called with realize_mu held. */
static sl_status realize_one_locked(sched *sc, sl_stage *st, int threads, sl__stage_io *io, sl_error *err)
{
    sl__run_ctx *rc = &sc->rc;
    sl__frame_drop_data(st->output);
    st->n_results = 0;
    sl__stage_clear_warnings(st);
    sl_exec ex = {.rc = rc, .st = st, .threads = threads, .chunk_rows = rc->chunk_rows, .cancel = rc->cancel,
                  .capture = 1};
    st->exec = &ex;
    sl_status s = st->op->run(st, &ex, err);
    st->exec = NULL;
    io->bytes_read += ex.bytes_read;
    io->passes += (int64_t)ex.pass_no;
    io->blas_flops += ex.blas.flops;
    io->blas_seconds += ex.blas.seconds;
    io->rank_sync_seconds += ex.rank_sync_seconds;
    const sl_pass *g = sl__frame_generator(st->output);
    if (s == SL_OK && !g)
        s = sl_stage_error(st, err, SL_ERR_INTERNAL, NULL, "op '%s' is marked streamable but ran no output pass",
                           st->op->name);
    if (s == SL_OK && !g->out_rows) /* rows planned as unknown (after a filter) are the input's */
        sl_frame_set_rows(st->output, g->input ? sl_frame_rows(g->input) : g->source_rows);
    if (s != SL_OK)
        sl__error_stage(err, st->name);
    st->realized = s == SL_OK;
    return s;
}

/* Realizes a streamed stage after the streamed stages it reads, depth first
 * in input order. The walk keeps its own stack: a chain of streamed stages
 * is as deep as the user makes it (100,000 stages), far deeper than a
 * thread's stack would take as a recursion. A stage is on the stack at most
 * once (the graph has no cycles), so n entries suffice. Called with
 * realize_mu held. */
static sl_status realize_locked(sched *sc, sl_stage *root, int threads, sl__stage_io *io, sl_error *err)
{
    if (root->realized)
        return SL_OK;
    typedef struct walk {
        sl_stage *st;
        size_t next; /* its next input to look at */
    } walk;
    walk *stack = malloc(sc->n * sizeof *stack);
    if (!stack)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    size_t depth = 0;
    stack[depth++] = (walk){root, 0};
    sl_status s = SL_OK;
    while (depth > 0 && s == SL_OK) {
        walk *w = &stack[depth - 1];
        if (w->next < w->st->n_inputs) {
            sl_stage *in = &sc->rc.pipe->stages[w->st->inputs[w->next++].stage];
            if (in->checkpoint == SL__CKPT_STREAM && !in->realized)
                stack[depth++] = (walk){in, 0};
            continue;
        }
        depth--;
        if (!w->st->realized) /* reached twice through two readers */
            s = realize_one_locked(sc, w->st, threads, io, err);
    }
    free(stack);
    return s;
}

static sl_status realize_inputs(sched *sc, sl_stage *st, int threads, sl__stage_io *io, sl_error *err)
{
    sl_status s = SL_OK;
    pthread_mutex_lock(&sc->realize_mu);
    for (size_t j = 0; j < st->n_inputs && s == SL_OK; j++) {
        sl_stage *in = &sc->rc.pipe->stages[st->inputs[j].stage];
        if (in->checkpoint == SL__CKPT_STREAM)
            s = realize_locked(sc, in, threads, io, err);
    }
    pthread_mutex_unlock(&sc->realize_mu);
    return s;
}

/* A streamed stage is not run where it stands: its key (a hash of what it
 * would compute) stands for its values, and its readers compute it. */
static sl_status stream_stage(sched *sc, size_t i, sl_error *err)
{
    sl__run_ctx *rc = &sc->rc;
    sl_stage *st = &rc->pipe->stages[i];
    double t0 = sl__now(), w0 = wall_seconds();
    st->reused = 0;
    st->realized = 0;
    sl__frame_drop_data(st->output);
    sl_status s = sl__stage_key(st, rc->chunk_rows, err);
    if (s == SL_OK)
        memcpy(st->out_hash, st->key, SL_HASH_HEX);
    sl_event done = {.kind = s == SL_OK ? SL_EVENT_STAGE_DONE : SL_EVENT_STAGE_FAILED, .stage = i, .name = st->name,
                     .rows = sl_frame_rows(st->output), .seconds = sl__now() - t0, .streamed = 1, .status = s};
    emit(rc, &done);
    log_entry e = {st, s == SL_OK ? "streamed" : "failed", NULL, NULL, w0, wall_seconds(),
                   {.rows = done.rows}, 0, 0};
    pthread_mutex_lock(&sc->file_mu);
    log_stage(sc, &e);
    pthread_mutex_unlock(&sc->file_mu);
    return s;
}

/* Says how a stage ended: the event and its run.log line. */
static void report_stage(sched *sc, size_t i, sl_status s, const sl_error *err, double t0, double w0,
                         const char *reason, sl__stage_io io)
{
    sl__run_ctx *rc = &sc->rc;
    sl_stage *st = &rc->pipe->stages[i];
    sl_event done = {.kind = s == SL_OK ? SL_EVENT_STAGE_DONE : SL_EVENT_STAGE_FAILED, .stage = i, .name = st->name,
                     .rows = s == SL_OK ? sl_frame_rows(st->output) : 0, .bytes = io.bytes,
                     .seconds = sl__now() - t0, .reused = st->reused,
                     .in_place = s == SL_OK && sl__stage_in_place(st), .status = s, .resumable = io.resumable};
    emit(rc, &done);
    char msg[2048] = "";
    if (s != SL_OK)
        sl_error_format(err, msg, sizeof msg);
    /* stopped by the caller, not by its data: "interrupted" */
    const char *failed = s == SL_ERR_CANCELLED && sl__run_interrupted(rc) ? "interrupted" : "failed";
    log_entry e = {st, s != SL_OK ? failed : st->reused ? "reused" : "ran", st->reused ? NULL : reason,
                   s != SL_OK ? msg : NULL, w0, wall_seconds(), io, 0, 0};
    e.io.rows = done.rows;
    pthread_mutex_lock(&sc->file_mu);
    log_stage(sc, &e);
    pthread_mutex_unlock(&sc->file_mu);
}

/* Where a run-time error happened, for the message. */
static void locate_error(sched *sc, size_t i, sl_error *err)
{
    if (!err->file[0])
        sl__stage_locate(&sc->rc.pipe->stages[i], err, NULL); /* where in the file, for run-time errors */
    else
        sl__error_stage(err, sc->rc.pipe->stages[i].name);
}

typedef struct move_ctx {
    sl_stage *st;
    char *final_path;
} move_ctx;

static void frame_renamed_locked(void *arg, const char *path)
{
    (void)path;
    move_ctx *m = arg;
    if (m->final_path)
        sl__frame_move_path_locked(m->st->output, m->final_path);
    m->final_path = NULL;
}

/* Makes a sealed checkpoint durable, puts it in place, records it and
 * reports the stage. Frees j. */
static sl_status run_commit(sched *sc, commit_job *j, sl_error *err)
{
    sl__run_ctx *rc = &sc->rc;
    sl_stage *st = &rc->pipe->stages[j->stage];
    if (sl__dist_rank() > 0) {
        /* rank 0 commits; the worker's agreement after the stage waits for it */
        report_stage(sc, j->stage, SL_OK, err, j->t0, j->w0, j->reason, j->io);
        free(j->final_path);
        free(j);
        return SL_OK;
    }
    move_ctx m = {st, j->final_path};
    sl_status s = sl__ckpt_finish(j->sealed, frame_renamed_locked, &m, err);
    free(m.final_path);
    if (s == SL_OK) {
        pthread_mutex_lock(&sc->file_mu);
        s = sl__manifest_record(rc->pipe->manifest, st->name, err);
        pthread_mutex_unlock(&sc->file_mu);
    }
    if (s != SL_OK)
        locate_error(sc, j->stage, err);
    report_stage(sc, j->stage, s, err, j->t0, j->w0, j->reason, j->io);
    free(j);
    return s;
}

static void *committer(void *arg)
{
    sched *sc = arg;
    pthread_mutex_lock(&sc->commit_mu);
    for (;;) {
        while (!sc->q_head && !sc->closing)
            pthread_cond_wait(&sc->commit_cv, &sc->commit_mu);
        commit_job *j = sc->q_head;
        if (!j)
            break;
        sc->q_head = j->next;
        if (!sc->q_head)
            sc->q_tail = NULL;
        pthread_mutex_unlock(&sc->commit_mu);
        /* A failure fails the run. The stages that already read the sealed
         * file stand (its values were complete): a rerun recomputes only
         * this stage, to the same hash. */
        sl_error err;
        sl_error_clear(&err);
        sl_status s = run_commit(sc, j, &err);
        if (s != SL_OK) {
            pthread_mutex_lock(&sc->mu);
            run_failed_locked(sc, s, &err);
            pthread_cond_broadcast(&sc->cv);
            pthread_mutex_unlock(&sc->mu);
        }
        pthread_mutex_lock(&sc->commit_mu);
    }
    pthread_mutex_unlock(&sc->commit_mu);
    return NULL;
}

/* Hands a stage's sealed checkpoint to the committer, or commits it here
 * when commits are inline (no committer thread). The commit reports the
 * stage, and so does this when it cannot hand it over. */
static sl_status queue_commit(sched *sc, size_t i, double t0, double w0, const char *reason, sl__stage_io io,
                              sl_error *err)
{
    sl_stage *st = &sc->rc.pipe->stages[i];
    commit_job *j = calloc(1, sizeof *j);
    char *final_path = sl__stage_in_place(st) ? NULL : sl__ckpt_path(sc->rc.workdir, st->name);
    if (!j || (!final_path && !sl__stage_in_place(st))) {
        free(j);
        free(final_path);
        sl__ckpt_sealed_abort(io.sealed);
        io.sealed = NULL;
        sl_status s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        locate_error(sc, i, err);
        report_stage(sc, i, s, err, t0, w0, reason, io);
        return s;
    }
    *j = (commit_job){.stage = i, .sealed = io.sealed, .final_path = final_path, .t0 = t0, .w0 = w0, .io = io};
    snprintf(j->reason, sizeof j->reason, "%s", reason);
    if (!sc->committer_started)
        return run_commit(sc, j, err);
    pthread_mutex_lock(&sc->commit_mu);
    if (sc->q_tail)
        sc->q_tail->next = j;
    else
        sc->q_head = j;
    sc->q_tail = j;
    pthread_cond_signal(&sc->commit_cv);
    pthread_mutex_unlock(&sc->commit_mu);
    return SL_OK;
}

/* Reuses the stage's checkpoint when it is fresh, otherwise computes it. A
 * computed checkpoint is committed by the committer, which reports the
 * stage; its readers may start at once. */
/* A stage whose plan waited for its inputs is planned now that they have
 * been computed, and its chunks checked against the memory budget (an
 * in-memory run keeps the plan of an output it still holds). */
static sl_status plan_in_run(sched *sc, sl_stage *st, sl_error *err)
{
    /* a { best: ... } value first: it is in the key and the plan */
    sl_status chosen = st->n_best ? sl__dist_agree(sl__best_apply(st, err), err) : SL_OK;
    if (chosen != SL_OK || st->plan_later == SL__PLAN_NOW)
        return chosen;
    char reason[64];
    if (sc->rc.memory && !sc->forced[st->index] && sl__stage_key(st, sc->rc.chunk_rows, err) == SL_OK &&
        held_in_memory(st, reason, sizeof reason))
        return SL_OK;
    /* one at a time: the budget check reads every stage's output frame,
     * which a stage planned now replaces (stages of a scan group plan side
     * by side) */
    pthread_mutex_lock(&sc->plan_mu);
    sl_status s = sl__stage_replan(st, err);
    if (s == SL_OK) {
        unsigned char *one = calloc(sc->n, 1);
        s = one ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        if (one)
            one[st->index] = 1;
        if (s == SL_OK)
            s = sl__budget_check(sc->rc.pipe, one, sc->rc.chunk_rows, sc->rc.budget->total, err);
        free(one);
    }
    pthread_mutex_unlock(&sc->plan_mu);
    return sl__dist_agree(s, err);
}

/* Runs stage i on `team` threads; its streamed inputs are realized on
 * realize_team threads (a scan group's: the others wait for them). */
static sl_status process_stage(sched *sc, size_t i, int team, int realize_team, sl_error *err)
{
    sl__run_ctx *rc = &sc->rc;
    sl_stage *st = &rc->pipe->stages[i];
    sl_status planned = plan_in_run(sc, st, err);
    if (planned != SL_OK) {
        double t0 = sl__now(), w0 = wall_seconds();
        report_stage(sc, i, planned, err, t0, w0, "", (sl__stage_io){0});
        return planned;
    }
    if (st->checkpoint == SL__CKPT_STREAM) {
        sl_status s = stream_stage(sc, i, err);
        if (s != SL_OK)
            locate_error(sc, i, err);
        return s;
    }
    char reason[512] = "forced (--force or --from)";
    double t0 = sl__now(), w0 = wall_seconds();
    st->reused = 0;
    sl_status s = sl__stage_key(st, rc->chunk_rows, err);
    /* what the pipeline holds in memory from its last run is reused */
    if (rc->memory && s == SL_OK && !sc->forced[i])
        st->reused = held_in_memory(st, reason, sizeof reason);
    int fresh = s == SL_OK && !rc->memory && !sc->forced[i] && sl__dist_rank() == 0 &&
                sl__stage_fresh(st, rc->workdir, rc->chunk_rows, reason, sizeof reason, err);
    if (sl__dist_size() > 1) {
        /* rank 0 judges the workdir (its manifest); the others follow */
        s = sl__dist_agree(s, err);
        if (s == SL_OK)
            s = sl__dist_bcast(&fresh, sizeof fresh, 0, err);
        if (s == SL_OK)
            s = sl__dist_bcast(reason, sizeof reason, 0, err);
    }
    if (s == SL_OK && fresh) {
        pthread_mutex_lock(&sc->file_mu);
        s = sl__stage_adopt(st, rc->workdir, err);
        pthread_mutex_unlock(&sc->file_mu);
        s = sl__dist_agree(s, err);
        st->reused = s == SL_OK;
        if (st->reused && sl__dist_rank() == 0)
            remove_leftovers(rc->workdir, st->name);
    }
    sl__stage_io io = {0};
    if (s == SL_OK && !st->reused) {
        sl_event ev = {.kind = SL_EVENT_STAGE_START, .stage = i, .name = st->name, .reason = reason};
        emit(rc, &ev);
        sl__stage_io fits = {0}; /* passes of the streamed inputs realized for this stage */
        s = realize_inputs(sc, st, realize_team, &fits, err);
        if (s == SL_OK)
            s = sl__stage_run(rc, st, team, &io, err);
        io.bytes_read += fits.bytes_read;
        io.passes += fits.passes;
        io.blas_flops += fits.blas_flops;
        io.blas_seconds += fits.blas_seconds;
        io.rank_sync_seconds += fits.rank_sync_seconds;
        io.scan_group = st->scan ? st->scan_first : NULL;
        if (s == SL_OK && !rc->memory)
            return queue_commit(sc, i, t0, w0, reason, io, err);
    }
    if (s != SL_OK)
        locate_error(sc, i, err);
    report_stage(sc, i, s, err, t0, w0, reason, io);
    return s;
}

/* ---- threads ---- */

typedef struct probe_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
} probe_gate;

static void *probe_wait(void *arg)
{
    probe_gate *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* How many threads, up to want, this process can have at once beside its
 * own now: starts them (small stacks, doing nothing) until one fails, then
 * ends them. *why: the error of the one that failed. */
static size_t probe_threads(size_t want, int *why)
{
    probe_gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    pthread_t *t = malloc((want ? want : 1) * sizeof *t);
    pthread_attr_t attr;
    size_t n = 0;
    *why = 0;
    if (!t || pthread_attr_init(&attr) != 0) {
        free(t);
        return want; /* cannot tell: let the run try */
    }
    pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN > 65536 ? PTHREAD_STACK_MIN : 65536);
    for (; n < want; n++)
        if ((*why = pthread_create(&t[n], &attr, probe_wait, &g)) != 0)
            break;
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    for (size_t k = 0; k < n; k++)
        pthread_join(t[k], NULL);
    free(t);
    return n;
}

/* How many stage workers the run starts (at most one per thread of the
 * budget and per stage). The threads alive at once, beside the calling one:
 * the workers, the committer, and the OpenMP threads of the running stages,
 * whose teams (each worker's own thread included) add up to at most T: a
 * worker gives its OpenMP threads back when its stage ends (worker()). That
 * is at most workers + T. libgomp ends the process when it cannot create a
 * thread (RLIMIT_NPROC, ulimit -u, on a login node), so before any stage
 * starts the run makes sure that many threads can exist; when they cannot,
 * it runs fewer stages at once, or fails saying what to do. With -j 1 no
 * OpenMP thread is ever made and the run can go on this thread alone. */
static sl_status plan_workers(int threads, size_t *nworkers, sl_error *err)
{
    if (threads <= 1 || *nworkers == 0)
        return SL_OK;
    size_t want = *nworkers + (size_t)threads;
    int why = 0;
    size_t can = probe_threads(want, &why);
    if (can >= want)
        return SL_OK;
    if (can > (size_t)threads) {
        *nworkers = can - (size_t)threads; /* fewer stages side by side; the same results */
        return SL_OK;
    }
    char limit[96] = "";
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        snprintf(limit, sizeof limit, "; the limit on processes, ulimit -u, is %llu", (unsigned long long)rl.rlim_cur);
    return sl__error_set(err, SL_ERR_IO,
                         "cannot start the %zu threads a run with %d threads needs: only %zu could be started (%s%s); "
                         "run with -j %zu (or 'threads: %zu'), or raise the limit",
                         want, threads, can, strerror(why), limit, can > 1 ? can - 1 : 1, can > 1 ? can - 1 : 1);
}

/* One member of a scan group, on a thread of its own (the first on the
 * worker's). Its threads go back to the budget when the whole group ends. */
typedef struct member_job {
    sched *sc;
    size_t stage;
    int team, total;
} member_job;

static void *run_member(void *arg)
{
    member_job *j = arg;
    sched *sc = j->sc;
    sl_stage *st = &sc->rc.pipe->stages[j->stage];
    sl_error err;
    sl_error_clear(&err);
    sl_status s = process_stage(sc, j->stage, j->team, j->total, &err);
    if (st->scan)
        sl__scan_leave(st->scan, st->scan_member); /* reused, failed before run(), ... */
    pthread_mutex_lock(&sc->mu);
    stage_finished(sc, j->stage, 0, s, &err);
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

/* Runs a scan group's stages side by side, each run() on its own thread,
 * their passes over one frame as shared scans (exec.c). A stage whose
 * thread cannot start runs after the others, alone. */
static void run_group(sched *sc, const take *t)
{
    sl_pipeline *p = sc->rc.pipe;
    member_job jobs[SCAN_MAX];
    pthread_t tid[SCAN_MAX];
    int started[SCAN_MAX] = {0};
    sl__scan_group *g = sl__scan_group_new(t->n, t->team, t->total);
    for (int m = 0; m < t->n; m++) {
        jobs[m] = (member_job){sc, t->stage[m], g ? t->team[m] : t->total, t->total};
        sl_stage *st = &p->stages[t->stage[m]];
        st->scan = g;
        st->scan_member = m;
        st->scan_first = p->stages[t->stage[0]].name;
    }
    for (int m = 1; g && m < t->n; m++) {
        started[m] = pthread_create(&tid[m], NULL, run_member, &jobs[m]) == 0;
        if (!started[m]) { /* it runs alone after the others */
            sl__scan_leave(g, m);
            p->stages[t->stage[m]].scan = NULL;
            jobs[m].team = t->total;
        }
    }
    run_member(&jobs[0]);
    for (int m = 1; m < t->n; m++)
        if (started[m])
            pthread_join(tid[m], NULL);
    for (int m = 0; m < t->n; m++)
        p->stages[t->stage[m]].scan = NULL;
    for (int m = 1; m < t->n; m++)
        if (!started[m])
            run_member(&jobs[m]);
    sl__scan_group_free(g);
}

static void *worker(void *arg)
{
    sched *sc = arg;
    pthread_mutex_lock(&sc->mu);
    for (;;) {
        take t;
        size_t i = take_stage(sc, &t);
        if (i == SIZE_MAX) {
            if (all_settled(sc))
                break;
            pthread_cond_wait(&sc->cv, &sc->mu);
            continue;
        }
        pthread_mutex_unlock(&sc->mu);
        if (t.n > 1) {
            run_group(sc, &t);
            if (t.total > 1)
                omp_pause_resource_all(omp_pause_soft);
            pthread_mutex_lock(&sc->mu);
            sc->free_threads += t.total;
            pthread_cond_broadcast(&sc->cv);
            continue;
        }
        int team = t.total;
        sl_error err;
        sl_error_clear(&err);
        sl_status s = process_stage(sc, i, team, team, &err);
        if (sl__dist_size() > 1) {
            /* every rank ends each stage the same way, and stops together
             * when the run is interrupted on any of them */
            if (s == SL_OK && sl__run_interrupted(&sc->rc))
                s = sl__error_set(&err, SL_ERR_CANCELLED, "the run was interrupted");
            s = sl__dist_agree(s, &err);
        }
        /* give the stage's OpenMP threads back (libgomp keeps them for this
         * thread's next team otherwise): threads alive stay within what
         * plan_workers checked */
        if (team > 1)
            omp_pause_resource_all(omp_pause_soft);
        pthread_mutex_lock(&sc->mu);
        stage_finished(sc, i, team, s, &err);
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

/* Everything a run does in the workdir before its first stage: create it,
 * refuse files that are the same as others, lock it, check its checkpoint
 * paths, open run.log, read the manifest (into p->manifest). On failure
 * nothing stays open. */
static sl_status open_workdir(sl_pipeline *p, const char *workdir, int wait, volatile sig_atomic_t *cancel,
                              int *lock_fd, int *log_fd, sl_error *err)
{
    *lock_fd = *log_fd = -1;
    sl_status s = sl__make_dirs(workdir, "workdir", err);
    if (s == SL_OK)
        s = sl__check_file_identities(p, workdir, err);
    if (s == SL_OK)
        s = lock_workdir(workdir, wait, cancel, lock_fd, err);
    if (s == SL_OK)
        s = sl__workdir_check(p, workdir, err);
    if (s == SL_OK)
        s = open_run_log(workdir, log_fd, err);
    if (s == SL_OK)
        s = sl__manifest_open(workdir, &p->manifest, err);
    if (s != SL_OK) {
        if (*log_fd >= 0)
            close(*log_fd);
        if (*lock_fd >= 0)
            close(*lock_fd);
        *lock_fd = *log_fd = -1;
    }
    return s;
}

/* The end of a run in the workdir: the manifest is written (after a
 * failure too: the stages committed before it are recorded), run.log and
 * the lock are closed. A failure to write the manifest fails a run that
 * had not failed. */
static void close_workdir(sched *sc, sl_pipeline *p, int lock_fd)
{
    sl_error e;
    sl_error_clear(&e);
    if (sl__manifest_save(p->manifest, &e) != SL_OK)
        run_failed_locked(sc, e.code, &e); /* the workers have ended: no lock needed */
    sl__manifest_free(p->manifest);
    p->manifest = NULL;
    close(sc->log_fd);
    close(lock_fd);
}

sl_status sl__schedule(sl_pipeline *p, const sl_run_options *opt, int threads, int64_t chunk_rows,
                       const char *workdir, sl_error *err)
{
    sched sc;
    memset(&sc, 0, sizeof sc);
    sl__budget budget;
    sl__budget_init(&budget, opt->memory > 0 ? opt->memory : p->memory);
    sc.rc = (sl__run_ctx){.pipe = p, .opt = opt, .chunk_rows = chunk_rows, .workdir = workdir,
                          .cancel = &sc.cancel, .budget = &budget, .memo = sl__memo_new(), .emit = emit,
                          .sched = &sc};
    sc.threads = sc.free_threads = threads;
    sc.run_start = wall_seconds();
    sc.n = p->n;
    sc.state = calloc(p->n, sizeof *sc.state);
    sc.unmet = calloc(p->n, sizeof *sc.unmet);
    sc.forced = calloc(p->n, 1);
    unsigned char *selected = calloc(p->n, 1);
    sl_status s = sc.state && sc.unmet && sc.forced && selected && index_readers(&sc, p)
                      ? SL_OK
                      : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s == SL_OK)
        s = select_stages(p, opt, selected, sc.forced, err);
    if (s == SL_OK)
        s = sl__budget_check(p, selected, chunk_rows, budget.total, err);
    size_t nworkers = (size_t)threads < p->n ? (size_t)threads : p->n;
    /* Under MPI the ranks take the stages one at a time, in the same order,
     * so that they meet in the same collective calls (dist.h) */
    int ranks = sl__dist_size();
    if (ranks > 1)
        nworkers = 1;
    if (s == SL_OK)
        s = plan_workers(threads, &nworkers, err);
    s = sl__dist_agree(s, err);
    int lock_fd = -1;
    sc.log_fd = -1;
    int memory = sl__workdir_is_memory(workdir);
    if (s == SL_OK && memory && ranks > 1)
        s = sl__error_set(err, SL_ERR_USAGE,
                          "an in-memory run (workdir \":memory:\") cannot be split over %d MPI ranks: give it a "
                          "workdir, or run it on one rank", ranks);
    sc.rc.memory = memory;
    if (s == SL_OK && sl__dist_rank() == 0 && !memory)
        s = open_workdir(p, workdir, opt->wait_for_lock, opt->cancel, &lock_fd, &sc.log_fd, err);
    s = sl__dist_agree(s, err);
    if (s != SL_OK) {
        free(sc.state);
        free(sc.unmet);
        free(sc.rd_off);
        free(sc.rd);
        free(sc.heap);
        free(sc.forced);
        free(selected);
        sl__budget_destroy(&budget);
        sl__memo_free(sc.rc.memo);
        return s;
    }
    for (size_t i = 0; i < p->n; i++) {
        sc.unmet[i] = p->stages[i].n_inputs;
        if (!selected[i]) {
            sc.state[i] = ST_SKIPPED;
            sc.finished++;
        } else if (sc.unmet[i] == 0) {
            ready_push(&sc, i);
        }
    }
    atomic_init(&sc.cancel, 0);
    /* SLUICE_SHARED_SCANS=0: every stage's passes read their input alone
     * (for A/B measurements and debugging). Under MPI the ranks take one
     * stage at a time. */
    const char *scans = getenv("SLUICE_SHARED_SCANS");
    sc.scans = ranks == 1 && !(scans && (strcmp(scans, "0") == 0 || strcmp(scans, "off") == 0 ||
                                         strcmp(scans, "false") == 0));
    pthread_mutex_init(&sc.mu, NULL);
    pthread_mutex_init(&sc.emit_mu, NULL);
    pthread_mutex_init(&sc.file_mu, NULL);
    pthread_mutex_init(&sc.realize_mu, NULL);
    pthread_mutex_init(&sc.plan_mu, NULL);
    pthread_mutex_init(&sc.commit_mu, NULL);
    pthread_cond_init(&sc.cv, NULL);
    pthread_cond_init(&sc.commit_cv, NULL);
    /* SLUICE_COMMIT=inline: each stage commits before its readers start, so
     * file system calls come in one order (the fault-injection tests) */
    const char *commit_mode = getenv("SLUICE_COMMIT");
    if ((!commit_mode || strcmp(commit_mode, "inline") != 0) && ranks == 1 && !memory)
        sc.committer_started = pthread_create(&sc.committer, NULL, committer, &sc) == 0;
    pthread_t *tids = calloc(nworkers, sizeof *tids);
    size_t started = 0;
    if (tids)
        for (; started < nworkers; started++)
            if (pthread_create(&tids[started], NULL, worker, &sc) != 0)
                break;
    if (started == 0)
        worker(&sc); /* no thread could start: run the pool on this thread */
    for (size_t k = 0; k < started; k++)
        pthread_join(tids[k], NULL);
    free(tids);
    if (sc.committer_started) {
        pthread_mutex_lock(&sc.commit_mu);
        sc.closing = 1;
        pthread_cond_signal(&sc.commit_cv);
        pthread_mutex_unlock(&sc.commit_mu);
        pthread_join(sc.committer, NULL);
    }
    if (sl__dist_rank() == 0 && !memory)
        close_workdir(&sc, p, lock_fd);
    if (sc.failed) {
        s = sc.first_status;
        if (err)
            *err = sc.first_err;
    }
    s = sl__dist_agree(s, err); /* rank 0's manifest may have failed */
    pthread_cond_destroy(&sc.cv);
    pthread_mutex_destroy(&sc.mu);
    pthread_mutex_destroy(&sc.emit_mu);
    pthread_mutex_destroy(&sc.file_mu);
    pthread_mutex_destroy(&sc.realize_mu);
    pthread_mutex_destroy(&sc.plan_mu);
    pthread_mutex_destroy(&sc.commit_mu);
    pthread_cond_destroy(&sc.commit_cv);
    sl__budget_destroy(&budget);
    sl__memo_free(sc.rc.memo);
    free(sc.state);
    free(sc.unmet);
    free(sc.rd_off);
    free(sc.rd);
    free(sc.heap);
    free(sc.forced);
    free(selected);
    return s;
}

/* ---- status and clean ---- */

static int checkpoint_exists(const char *workdir, const char *stage)
{
    char *path = sl__ckpt_path(workdir, stage);
    struct stat sb;
    int yes = path && stat(path, &sb) == 0;
    free(path);
    return yes;
}

static sl_status status_of(sl_pipeline *p, const sl_run_options *opt, int64_t chunk_rows, const char *workdir,
                           sl_stage_status *out, sl_error *err)
{
    unsigned char *selected = calloc(p->n, 1), *forced = calloc(p->n, 1), *will_run = calloc(p->n, 1);
    sl_status s = selected && forced && will_run ? select_stages(p, opt, selected, forced, err)
                                                 : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    int memory = sl__workdir_is_memory(workdir);
    /* what run would refuse or block on, status reports rather than opens */
    if (s == SL_OK && !memory)
        s = sl__workdir_check(p, workdir, err);
    if (s == SL_OK && !memory)
        s = sl__manifest_open(workdir, &p->manifest, err);
    for (size_t i = 0; s == SL_OK && i < p->n; i++) {
        sl_stage *st = &p->stages[i];
        sl_stage_status *o = &out[i];
        int exists = memory ? st->mem_key[0] != '\0' : checkpoint_exists(workdir, st->name);
        o->state = exists ? SL_STAGE_STALE : SL_STAGE_MISSING;
        if (!selected[i]) {
            o->state = SL_STAGE_SKIPPED;
            snprintf(o->reason, sizeof o->reason, "not selected by --from/--until");
            continue;
        }
        if (st->checkpoint == SL__CKPT_STREAM) {
            o->state = SL_STAGE_STREAMED;
            snprintf(o->reason, sizeof o->reason, "not stored: computed by the stages that read it");
            for (size_t j = 0; j < st->n_inputs; j++)
                will_run[i] |= will_run[st->inputs[j].stage];
            if ((s = sl__stage_key(st, chunk_rows, err)) == SL_OK)
                memcpy(st->out_hash, st->key, SL_HASH_HEX);
            continue;
        }
        will_run[i] = 1;
        long changed = -1;
        for (size_t j = 0; j < st->n_inputs && changed < 0; j++)
            if (will_run[st->inputs[j].stage])
                changed = (long)j;
        if (forced[i]) {
            snprintf(o->reason, sizeof o->reason, "forced (--force or --from)");
        } else if (changed >= 0) {
            const sl__input *in = &st->inputs[changed];
            snprintf(o->reason, sizeof o->reason, "input '%s' (stage '%s') will be recomputed", in->param,
                     p->stages[in->stage].name);
        } else if ((s = sl__best_apply_stored(st, workdir, err)) == SL_OK &&
                   (s = sl__stage_key(st, chunk_rows, err)) == SL_OK && memory) {
            int held = held_in_memory(st, o->reason, sizeof o->reason);
            o->state = held ? SL_STAGE_FRESH : o->state;
            will_run[i] = !held;
        } else if (s == SL_OK && sl__stage_fresh(st, workdir, chunk_rows, o->reason, sizeof o->reason, err)) {
            o->state = SL_STAGE_FRESH;
            o->reason[0] = '\0';
            will_run[i] = 0;
        }
    }
    sl__manifest_free(p->manifest);
    p->manifest = NULL;
    free(selected);
    free(forced);
    free(will_run);
    return s;
}

static int threads_from_env(void)
{
    const char *e = getenv("OMP_NUM_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if ((*end == '\0' || *end == ',') && v >= 1 && v <= 4096)
            return (int)v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)n : 1;
}

/* Refuses a pipeline that was never planned: read for its graph only, or
 * built in code and not planned yet. `to` says what the caller wanted. */
static sl_status refuse_unplanned(const sl_pipeline *p, const char *to, sl_error *err)
{
    if (p->graph_only)
        return sl__error_set(err, SL_ERR_USAGE,
                             "pipeline '%s' was read for its structure only (sl_pipeline_read_file): load it with "
                             "sl_pipeline_load_file to %s", p->name, to);
    if (p->draft)
        return sl__error_set(err, SL_ERR_USAGE, "pipeline '%s' is not planned yet: call sl_pipeline_plan first",
                             p->name);
    return SL_OK;
}

/* The caller's options, or the defaults for NULL, if their ABI is one this
 * library reads. */
static sl_status run_options(const sl_run_options **opt, sl_error *err)
{
    static const sl_run_options defaults = SL_RUN_OPTIONS_INIT;
    if (!*opt)
        *opt = &defaults;
    return sl__abi_check((*opt)->abi, "sl_run_options", err);
}

sl_status sl_pipeline_run(sl_pipeline *p, const sl_run_options *opt, sl_error *err)
{
    sl_error_clear(err);
    if (!p)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_run needs a pipeline");
    sl_status s = refuse_unplanned(p, "run it", err);
    if (s == SL_OK)
        s = run_options(&opt, err);
    if (s == SL_OK) {
        int threads = opt->threads > 0 ? opt->threads : p->threads > 0 ? p->threads : threads_from_env();
        int64_t chunk_rows = opt->chunk_rows > 0 ? opt->chunk_rows : p->chunk_rows;
        const char *workdir = opt->workdir ? opt->workdir : p->workdir;
        s = sl__schedule(p, opt, threads, chunk_rows, workdir, err);
    }
    atomic_store(&p->cancel, 0);
    return s;
}

void sl_pipeline_cancel(sl_pipeline *p)
{
    if (p)
        atomic_store(&p->cancel, 1);
}

sl_status sl_pipeline_status(sl_pipeline *p, const sl_run_options *opt, sl_stage_status *out, sl_error *err)
{
    sl_error_clear(err);
    if (!p || !out)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_status needs a pipeline and an output array");
    sl_status s = refuse_unplanned(p, "judge its checkpoints", err);
    if (s == SL_OK)
        s = run_options(&opt, err);
    if (s)
        return s;
    int64_t chunk_rows = opt->chunk_rows > 0 ? opt->chunk_rows : p->chunk_rows;
    return status_of(p, opt, chunk_rows, opt->workdir ? opt->workdir : p->workdir, out, err);
}

/* 1 when `path` is a checkpoint of `stage` that sluice wrote: its identity
 * is the one the manifest recorded, or (a run killed before it recorded it,
 * a checkpoint someone annotated) it is an HDF5 file that names the stage
 * as its maker and has a cache key. Anything else there
 * may be the user's data, which clean never deletes. */
static int clean_may_remove(sl__manifest *m, const char *stage, const char *path)
{
    if (sl__manifest_owns(m, stage, path))
        return 1;
    struct stat sb;
    sl__ckpt_info info;
    sl_error e;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sl__ckpt_info_read(path, &info, &e) != SL_OK)
        return 0;
    int ours = strcmp(info.stage, stage) == 0 && info.key[0];
    sl__ckpt_info_free(&info);
    return ours;
}

/* Removes a stage's checkpoint (when sluice wrote it) and its temporary
 * files. *kept gets the checkpoint's path when it was left in place. */
static sl_status clean_stage(sl__manifest *m, const char *workdir, const char *stage, size_t *count, char **kept,
                             sl_error *err)
{
    char *path = sl__ckpt_path(workdir, stage);
    size_t n = path ? strlen(path) + 20 : 0;
    char *other = path ? malloc(n) : NULL;
    if (!path || !other) {
        free(path);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    sl_status s = SL_OK;
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!clean_may_remove(m, stage, path)) {
            if (!*kept)
                *kept = strdup(path);
        } else if (unlink(path) == 0) {
            (*count)++;
        } else if (errno != ENOENT) {
            s = sl__error_set(err, SL_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
        }
    }
    /* scratch names of sluice's own: unlinking a link there removes the
     * link, never what it points to */
    for (size_t k = 0; s == SL_OK && k < N_SCRATCH; k++) {
        snprintf(other, n, "%s%s", path, scratch_suffixes[k]);
        if (unlink(other) == 0)
            (*count)++;
        else if (errno != ENOENT)
            s = sl__error_set(err, SL_ERR_IO, "cannot remove '%s': %s", other, strerror(errno));
    }
    if (s == SL_OK) /* removed, or not sluice's: either way no checkpoint of sluice's is there */
        sl__manifest_forget(m, stage);
    free(path);
    free(other);
    return s;
}

sl_status sl_pipeline_clean(sl_pipeline *p, const sl_run_options *opt, const char *const *stages, size_t *removed,
                            sl_error *err)
{
    sl_error_clear(err);
    if (!p)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_clean needs a pipeline");
    sl_status abi = run_options(&opt, err);
    if (abi)
        return abi;
    const char *workdir = opt->workdir ? opt->workdir : p->workdir;
    size_t count = 0;
    char *kept = NULL;
    for (const char *const *s = stages; s && *s; s++)
        if (!mark_named(p, *s, NULL))
            return unknown_stage(p, *s, "clean", err);
    if (sl__workdir_is_memory(workdir)) {
        /* an in-memory pipeline: cleaning gives back the memory its outputs hold */
        for (size_t i = 0; i < p->n; i++) {
            int named = !stages;
            for (const char *const *n = stages; n && *n && !named; n++)
                named = sl__stage_is(&p->stages[i], *n);
            if (named && p->stages[i].mem_key[0]) {
                sl__frame_drop_data(p->stages[i].output);
                p->stages[i].mem_key[0] = '\0';
                count++;
            }
        }
        if (removed)
            *removed = count;
        return SL_OK;
    }
    struct stat sb;
    if (stat(workdir, &sb) != 0) {
        if (removed)
            *removed = 0;
        return SL_OK; /* nothing was ever run */
    }
    int fd = -1;
    sl__manifest *m = NULL;
    sl_status s = sl__check_file_identities(p, workdir, err);
    if (s == SL_OK)
        s = lock_workdir(workdir, opt->wait_for_lock, opt->cancel, &fd, err);
    if (s == SL_OK)
        s = sl__manifest_open(workdir, &m, err);
    for (size_t i = 0; s == SL_OK && i < p->n; i++) {
        int chosen = !stages;
        for (const char *const *n = stages; n && *n; n++)
            chosen |= sl__stage_is(&p->stages[i], *n);
        if (chosen)
            s = clean_stage(m, workdir, p->stages[i].name, &count, &kept, err);
    }
    if (s == SL_OK)
        s = sl__manifest_save(m, err);
    if (s == SL_OK && kept)
        s = sl__error_set(err, SL_ERR_IO,
                          "left '%s' in place: sluice's manifest does not record it as a checkpoint sluice wrote, "
                          "so it may be your data; move it or remove it yourself (removed %zu other file%s)",
                          kept, count, count == 1 ? "" : "s");
    sl__manifest_free(m);
    free(kept);
    if (fd >= 0)
        close(fd);
    if (removed)
        *removed = count;
    return s;
}
