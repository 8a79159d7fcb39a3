/* Running a planned pipeline: a pool of stage workers takes stages whose
 * inputs are done, in pipeline order. The thread budget is shared: a stage
 * starts only when a thread is free and gets an equal share of the free
 * threads, so stage concurrency x OpenMP team never exceeds the budget. */
#include <errno.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/fsutil.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "plan/exec_int.h"
#include "sluice/version.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sl__exec_progress(sl_exec *ex, const char *pass, int64_t done, int64_t total)
{
    sl_event ev = {.kind = SL_EVENT_PROGRESS, .stage = ex->st->index, .name = ex->st->name, .pass = pass,
                   .done = done, .total = total};
    ex->rc->emit(ex->rc, &ev);
}

/* ---- one stage ---- */

static int64_t rows_hint(const sl_stage *st)
{
    int64_t r = sl_frame_rows(st->output);
    if (r >= 0)
        return r;
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

static sl_status write_column_names_locked(const sl_frame *f, size_t i, sl__ckpt_writer *w, sl_error *err)
{
    int64_t cols = sl_frame_array(f, i)->cols;
    if (!sl_frame_column(f, i, 0))
        return SL_OK;
    const char **names = malloc((size_t)cols * sizeof *names);
    if (!names)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < cols; c++)
        names[c] = sl_frame_column(f, i, c);
    sl_status s = sl__ckpt_array_columns_locked(w, i, names, (size_t)cols, err);
    free(names);
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
    for (size_t i = 0; !s && i < sl_frame_count(st->output); i++)
        s = write_column_names_locked(st->output, i, w, err);
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
    free(params);
    return s;
}

sl_status sl__stage_run(sl__run_ctx *rc, sl_stage *st, int threads, int64_t *rows, int64_t *bytes, sl_error *err)
{
    size_t plen = strlen(rc->workdir) + strlen(st->name) + 8;
    char *path = malloc(plen);
    if (!path)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    snprintf(path, plen, "%s/%s.h5", rc->workdir, st->name);
    sl__frame_drop_data(st->output);
    st->n_results = 0;

    sl__ckpt_writer *w = NULL;
    sl__h5_lock();
    sl_status s = sl__ckpt_open_locked(path, st->output, rc->chunk_rows, rows_hint(st), &w, err);
    sl__h5_unlock();
    sl_exec ex = {.rc = rc, .st = st, .threads = threads, .chunk_rows = rc->chunk_rows, .cancel = rc->cancel};
    if (s == SL_OK) {
        sl__frame_set_writer(st->output, w);
        st->exec = &ex;
        s = st->op->run(st, &ex, err);
        st->exec = NULL;
        sl__frame_set_writer(st->output, NULL);
    }
    if (s == SL_OK && !ex.streamed_output)
        s = write_memory_output(st, w, err);
    if (s == SL_OK) {
        sl_frame_set_rows(st->output, sl__ckpt_rows(w));
        *rows = sl__ckpt_rows(w);
        *bytes = sl__ckpt_bytes(w);
        sl__h5_lock();
        s = write_attrs_locked(st, w, err);
        if (s == SL_OK) {
            s = sl__ckpt_commit_locked(w, err);
            w = NULL;
        }
        sl__h5_unlock();
    }
    if (s == SL_OK)
        s = sl__frame_set_path(st->output, path, err);
    if (w) {
        sl__h5_lock();
        sl__ckpt_abort_locked(w);
        sl__h5_unlock();
    }
    if (s != SL_OK) {
        sl__frame_drop_data(st->output);
        sl__error_stage(err, st->name);
    }
    free(path);
    return s;
}

/* ---- the stage pool ---- */

enum { ST_WAITING, ST_RUNNING, ST_DONE, ST_FAILED };

typedef struct sched {
    sl__run_ctx rc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t emit_mu;
    int threads, free_threads;
    size_t n, next_scan, finished;
    int *state;
    size_t *unmet; /* inputs not done yet */
    atomic_int cancel;
    int failed;
    sl_error first_err;
    sl_status first_status;
} sched;

static void emit(sl__run_ctx *rc, const sl_event *ev)
{
    sched *sc = rc->sched;
    if (!rc->opt || !rc->opt->progress)
        return;
    pthread_mutex_lock(&sc->emit_mu);
    rc->opt->progress(ev, rc->opt->user);
    pthread_mutex_unlock(&sc->emit_mu);
}

static size_t ready_count(sched *sc)
{
    size_t r = 0;
    for (size_t i = 0; i < sc->n; i++)
        if (sc->state[i] == ST_WAITING && sc->unmet[i] == 0)
            r++;
    return r;
}

/* Picks the first ready stage and its team size; SIZE_MAX when none can start. */
static size_t take_stage(sched *sc, int *team)
{
    if (sc->failed || sc->free_threads < 1)
        return SIZE_MAX;
    for (size_t i = 0; i < sc->n; i++)
        if (sc->state[i] == ST_WAITING && sc->unmet[i] == 0) {
            size_t ready = ready_count(sc);
            int share = (int)((size_t)sc->free_threads / (ready ? ready : 1));
            *team = share < 1 ? 1 : share;
            sc->state[i] = ST_RUNNING;
            sc->free_threads -= *team;
            return i;
        }
    return SIZE_MAX;
}

static void stage_finished(sched *sc, size_t i, int team, sl_status s, const sl_error *err)
{
    sl_pipeline *p = sc->rc.pipe;
    sc->state[i] = s == SL_OK ? ST_DONE : ST_FAILED;
    sc->free_threads += team;
    sc->finished++;
    if (s != SL_OK && !sc->failed) {
        sc->failed = 1;
        sc->first_status = s;
        sc->first_err = *err;
        atomic_store(&sc->cancel, 1);
    }
    if (s == SL_OK)
        for (size_t k = i + 1; k < sc->n; k++)
            for (size_t j = 0; j < p->stages[k].n_inputs; j++)
                if (p->stages[k].inputs[j].stage == i)
                    sc->unmet[k]--;
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

static void *worker(void *arg)
{
    sched *sc = arg;
    sl_pipeline *p = sc->rc.pipe;
    pthread_mutex_lock(&sc->mu);
    for (;;) {
        int team = 1;
        size_t i = take_stage(sc, &team);
        if (i == SIZE_MAX) {
            if (all_settled(sc))
                break;
            pthread_cond_wait(&sc->cv, &sc->mu);
            continue;
        }
        pthread_mutex_unlock(&sc->mu);
        sl_stage *st = &p->stages[i];
        sl_event ev = {.kind = SL_EVENT_STAGE_START, .stage = i, .name = st->name};
        emit(&sc->rc, &ev);
        double t0 = now_seconds();
        sl_error err;
        sl_error_clear(&err);
        int64_t rows = 0, bytes = 0;
        sl_status s = sl__stage_run(&sc->rc, st, team, &rows, &bytes, &err);
        sl_event done = {.kind = s == SL_OK ? SL_EVENT_STAGE_DONE : SL_EVENT_STAGE_FAILED, .stage = i,
                         .name = st->name, .rows = rows, .bytes = bytes, .seconds = now_seconds() - t0};
        emit(&sc->rc, &done);
        pthread_mutex_lock(&sc->mu);
        stage_finished(sc, i, team, s, &err);
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

sl_status sl__schedule(sl_pipeline *p, const sl_run_options *opt, int threads, int64_t chunk_rows,
                       const char *workdir, sl_error *err)
{
    sl_status s = sl__make_dirs(workdir, "workdir", err);
    if (s)
        return s;
    sched sc;
    memset(&sc, 0, sizeof sc);
    sc.rc = (sl__run_ctx){.pipe = p, .opt = opt, .chunk_rows = chunk_rows, .workdir = workdir,
                          .cancel = &sc.cancel, .emit = emit, .sched = &sc};
    sc.threads = sc.free_threads = threads;
    sc.n = p->n;
    sc.state = calloc(p->n, sizeof *sc.state);
    sc.unmet = calloc(p->n, sizeof *sc.unmet);
    if (!sc.state || !sc.unmet) {
        free(sc.state);
        free(sc.unmet);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n; i++)
        sc.unmet[i] = p->stages[i].n_inputs;
    atomic_init(&sc.cancel, 0);
    pthread_mutex_init(&sc.mu, NULL);
    pthread_mutex_init(&sc.emit_mu, NULL);
    pthread_cond_init(&sc.cv, NULL);
    size_t nworkers = (size_t)threads < p->n ? (size_t)threads : p->n;
    pthread_t *tids = calloc(nworkers, sizeof *tids);
    size_t started = 0;
    if (tids)
        for (; started < nworkers; started++)
            if (pthread_create(&tids[started], NULL, worker, &sc) != 0)
                break;
    if (started == 0) {
        /* no thread could start: run the pool on this thread */
        worker(&sc);
    }
    for (size_t k = 0; k < started; k++)
        pthread_join(tids[k], NULL);
    free(tids);
    if (sc.failed) {
        s = sc.first_status;
        if (err)
            *err = sc.first_err;
    }
    pthread_cond_destroy(&sc.cv);
    pthread_mutex_destroy(&sc.mu);
    pthread_mutex_destroy(&sc.emit_mu);
    free(sc.state);
    free(sc.unmet);
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

sl_status sl_pipeline_run(sl_pipeline *p, const sl_run_options *opt, sl_error *err)
{
    sl_error_clear(err);
    if (!p)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_run needs a pipeline");
    sl_run_options none = {0};
    if (!opt)
        opt = &none;
    int threads = opt->threads > 0 ? opt->threads : p->threads > 0 ? p->threads : threads_from_env();
    int64_t chunk_rows = opt->chunk_rows > 0 ? opt->chunk_rows : p->chunk_rows;
    const char *workdir = opt->workdir ? opt->workdir : p->workdir;
    return sl__schedule(p, opt, threads, chunk_rows, workdir, err);
}
