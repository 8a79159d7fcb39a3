/* sluice run / status / clean: the commands that act on a workdir. They share
 * their options, so that `status` and `run --dry-run` describe exactly what
 * `run` with the same options does. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/report.h"
#include "cli/slurm.h"

#define MAX_FORCE 256

typedef struct run_args {
    sl_run_options opt;
    const char *file;
    const char *progress;
    const char *force[MAX_FORCE + 1];
    const char **extra; /* clean: stage names */
    size_t n_force, n_extra;
    int quiet, dry_run, report;
} run_args;

static const char run_usage[] =
    "usage: sluice run FILE [options]\n"
    "  -j, --threads N     threads (default: the file's 'threads', then OMP_NUM_THREADS, then all cores)\n"
    "  --chunk-rows N      rows per chunk (default: the file's 'chunk_rows', then 8192)\n"
    "  --memory SIZE       budget for chunk buffers, e.g. 256MiB (default: the file's 'memory', then 1GiB)\n"
    "  --workdir DIR       where checkpoints go (default: the file's 'workdir')\n"
    "  --force STAGE       recompute STAGE and every stage it feeds (repeatable)\n"
    "  --from STAGE        recompute STAGE and what it feeds; run nothing else that is not needed\n"
    "  --until STAGE       run only STAGE and the stages it needs\n"
    "  --dry-run           print what would run and why, run nothing\n"
    "  --wait              wait for another run that holds the workdir instead of failing\n"
    "  -q, --quiet         print only errors\n"
    "  --progress WHEN     live progress line: auto (on a terminal), always, never\n"
    "  --report            write workdir/report.html after the run, failed or not (or 'report: true' in the file)\n";

/* Parses the options `cmd` accepts; returns -1 on success or an exit code. */
static int parse(int argc, char **argv, const char *cmd, run_args *a)
{
    memset(a, 0, sizeof *a);
    a->opt.abi = SL_ABI_VERSION;
    a->progress = "auto";
    a->extra = calloc((size_t)argc, sizeof *a->extra);
    if (!a->extra)
        return cli_usage_error("out of memory");
    int is_run = strcmp(cmd, "run") == 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            fputs(run_usage, stdout);
            return EXIT_OK;
        } else if (is_run && (strcmp(o, "-j") == 0 || strcmp(o, "--threads") == 0)) {
            if (!cli_parse_count(val, 4096, &v))
                return cli_usage_error("%s needs a thread count from 1 to 4096", o);
            a->opt.threads = (int)v;
            i++;
        } else if (is_run && strncmp(o, "-j", 2) == 0) {
            if (!cli_parse_count(o + 2, 4096, &v))
                return cli_usage_error("-j needs a thread count from 1 to 4096");
            a->opt.threads = (int)v;
        } else if (strcmp(o, "--chunk-rows") == 0) {
            if (!cli_parse_count(val, 1LL << 30, &v))
                return cli_usage_error("--chunk-rows needs a row count from 1 to %lld", 1LL << 30);
            a->opt.chunk_rows = v;
            i++;
        } else if (is_run && strcmp(o, "--memory") == 0) {
            int64_t bytes;
            if (!val || !sl_parse_size(val, &bytes) || bytes < ((int64_t)1 << 20))
                return cli_usage_error("--memory needs a size of at least 1MiB, such as 256MiB or 2GiB");
            a->opt.memory = bytes;
            i++;
        } else if (strcmp(o, "--workdir") == 0) {
            if (!val || !*val)
                return cli_usage_error("--workdir needs a folder");
            a->opt.workdir = val;
            i++;
        } else if (strcmp(cmd, "clean") != 0 && strcmp(o, "--force") == 0) {
            if (!val)
                return cli_usage_error("--force needs a stage name");
            if (a->n_force == MAX_FORCE)
                return cli_usage_error("at most %d --force options", MAX_FORCE);
            a->force[a->n_force++] = val;
            i++;
        } else if (strcmp(cmd, "clean") != 0 && (strcmp(o, "--from") == 0 || strcmp(o, "--until") == 0)) {
            if (!val)
                return cli_usage_error("%s needs a stage name", o);
            if (o[2] == 'f')
                a->opt.from = val;
            else
                a->opt.until = val;
            i++;
        } else if (is_run && strcmp(o, "--dry-run") == 0) {
            a->dry_run = 1;
        } else if (strcmp(cmd, "status") != 0 && strcmp(o, "--wait") == 0) {
            a->opt.wait_for_lock = 1;
        } else if (is_run && strcmp(o, "--report") == 0) {
            a->report = 1;
        } else if (is_run && (strcmp(o, "-q") == 0 || strcmp(o, "--quiet") == 0)) {
            a->quiet = 1;
        } else if (is_run && strcmp(o, "--progress") == 0) {
            if (!val || (strcmp(val, "auto") && strcmp(val, "always") && strcmp(val, "never")))
                return cli_usage_error("--progress needs auto, always or never");
            a->progress = val;
            i++;
        } else if (o[0] == '-' && o[1]) {
            return cli_usage_error("unknown option '%s' for %s", o, cmd);
        } else if (!a->file) {
            a->file = o;
        } else if (strcmp(cmd, "clean") == 0) {
            a->extra[a->n_extra++] = o;
        } else {
            return cli_usage_error("%s takes one pipeline file; '%s' is extra", cmd, o);
        }
    }
    if (!a->file)
        return cli_usage_error("%s needs a pipeline file: sluice %s FILE", cmd, cmd);
    a->opt.force = a->n_force ? a->force : NULL;
    return -1;
}

const char *cli_freshness_name(sl_stage_freshness s)
{
    switch (s) {
    case SL_STAGE_FRESH: return "fresh";
    case SL_STAGE_STALE: return "stale";
    case SL_STAGE_MISSING: return "missing";
    case SL_STAGE_STREAMED: return "streamed";
    default: return "skipped";
    }
}

/* Prints one line per stage; returns the number of stages not fresh. */
static size_t print_status(const sl_pipeline *p, const sl_stage_status *st, const char *verb_run)
{
    size_t n = sl_pipeline_stage_count(p), todo = 0;
    int w = cli_name_width(p);
    for (size_t i = 0; i < n; i++) {
        const char *name = sl_pipeline_stage_name(p, i);
        if (verb_run) {
            if (st[i].state == SL_STAGE_SKIPPED)
                printf("%-*s skip\n", w, name);
            else if (st[i].state == SL_STAGE_STREAMED)
                printf("%-*s stream  %s\n", w, name, st[i].reason);
            else if (st[i].state == SL_STAGE_FRESH)
                printf("%-*s reuse   checkpoint is fresh\n", w, name);
            else
                printf("%-*s %-7s %s\n", w, name, verb_run, st[i].reason);
        } else {
            printf("%-*s %-8s%s%s\n", w, name, cli_freshness_name(st[i].state), st[i].reason[0] ? " " : "",
                   st[i].reason);
        }
        todo += st[i].state == SL_STAGE_STALE || st[i].state == SL_STAGE_MISSING;
    }
    return todo;
}

/* A select stage's table, read back from its output frame. */
typedef struct select_table {
    size_t n_params, rows;
    const char *params[16];
    int numeric[16];
    double *vals[16], *mean, *std;
    int64_t *rank;
} select_table;

static void free_table(select_table *t)
{
    for (size_t a = 0; a < t->n_params; a++)
        free(t->vals[a]);
    free(t->mean);
    free(t->std);
    free(t->rank);
}

/* The summary table of select stage i (ops/select.c), the best row marked:
 * what a user of a sweep looks at first. Values that are not numbers are
 * shown by their index in the sweep's list (#k), as the table stores them. */
static void print_selection(const sl_pipeline *p, size_t i)
{
    const sl_frame *f = sl_pipeline_stage_output(p, i);
    double best = -1;
    int64_t rows = sl_frame_rows(f);
    if (!sl_pipeline_stage_result_find(p, i, "best_index", &best) || rows <= 0)
        return;
    select_table t = {.rows = (size_t)rows};
    sl_error err;
    int ok = (t.mean = malloc(t.rows * sizeof *t.mean)) && (t.std = malloc(t.rows * sizeof *t.std)) &&
             (t.rank = malloc(t.rows * sizeof *t.rank)) &&
             sl_frame_read_all(f, "mean", SL_FLOAT64, t.mean, t.rows, &err) == SL_OK &&
             sl_frame_read_all(f, "std", SL_FLOAT64, t.std, t.rows, &err) == SL_OK &&
             sl_frame_read_all(f, "rank", SL_INT64, t.rank, t.rows, &err) == SL_OK;
    int64_t folds = 1;
    for (size_t k = 0; ok && k < sl_frame_count(f); k++) {
        const sl_array_info *a = sl_frame_array(f, k);
        if (strcmp(a->name, "scores") == 0)
            folds = a->cols;
        if (strncmp(a->name, "param.", 6) != 0 || t.n_params == sizeof t.params / sizeof t.params[0])
            continue;
        char key[SL_NAME_MAX + 8];
        snprintf(key, sizeof key, "best.%s", a->name + 6);
        t.params[t.n_params] = a->name + 6;
        t.numeric[t.n_params] = sl_pipeline_stage_result_find(p, i, key, NULL);
        ok = (t.vals[t.n_params] = malloc(t.rows * sizeof(double))) != NULL;
        t.n_params++;
        ok = ok && sl_frame_read_all(f, a->name, SL_FLOAT64, t.vals[t.n_params - 1], t.rows, &err) == SL_OK;
    }
    if (ok) {
        printf("%s: %zu setting%s, mean and std over %lld fold%s (* the best)\n", sl_pipeline_stage_name(p, i),
               t.rows, t.rows == 1 ? "" : "s", (long long)folds, folds == 1 ? "" : "s");
        printf("   ");
        for (size_t a = 0; a < t.n_params; a++)
            printf(" %12s", t.params[a]);
        printf(" %12s %12s %5s\n", "mean", "std", "rank");
        for (size_t r = 0; r < t.rows; r++) {
            printf(" %s ", (double)r == best ? "*" : " ");
            for (size_t a = 0; a < t.n_params; a++) {
                char v[32];
                snprintf(v, sizeof v, t.numeric[a] ? "%g" : "#%.0f", t.vals[a][r]);
                printf(" %12s", v);
            }
            printf(" %12.6g %12.6g %5lld\n", t.mean[r], t.std[r], (long long)t.rank[r]);
        }
    }
    free_table(&t);
}

static int load(const char *file, sl_pipeline **p)
{
    sl_error err;
    sl_status s = sl_pipeline_load_file(file, p, &err);
    /* under mpirun a rank may not see a file the others see */
    return cli_settle(s == SL_OK ? EXIT_OK : cli_exit_code(s), s == SL_OK ? NULL : &err);
}

static int status_or_dry_run(run_args *a, sl_pipeline *p, int dry)
{
    size_t n = sl_pipeline_stage_count(p);
    sl_stage_status *st = calloc(n, sizeof *st);
    if (!st)
        return cli_usage_error("out of memory");
    sl_error err;
    int rc;
    if (sl_pipeline_status(p, &a->opt, st, &err) != SL_OK) {
        rc = cli_fail(&err);
    } else {
        size_t todo = print_status(p, st, dry ? "run" : NULL);
        rc = dry ? EXIT_OK : todo ? 1 : EXIT_OK;
    }
    free(st);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_args a;
    int rc = parse(argc, argv, "run", &a);
    sl_pipeline *p = NULL;
    if (rc < 0)
        rc = load(a.file, &p);
    if (rc == EXIT_OK && p && a.dry_run) {
        rc = status_or_dry_run(&a, p, 1);
    } else if (rc == EXIT_OK && p) {
        if (cli_rank() > 0)
            a.quiet = 1; /* rank 0 shows the run */
        int live = !a.quiet && (strcmp(a.progress, "always") == 0 || (strcmp(a.progress, "auto") == 0 && isatty(1)));
        cli_progress *pr = cli_progress_new(p, stdout, live, a.quiet);
        a.opt.progress = pr ? cli_progress_event : NULL;
        a.opt.user = pr;
        a.opt.cancel = cli_stop_flag();
        cli_catch_stop_signals();
        sl_error err;
        sl_status s = sl_pipeline_run(p, &a.opt, &err);
        cli_progress_finish(pr);
        const char *workdir = a.opt.workdir ? a.opt.workdir : sl_pipeline_workdir(p);
        int sig = *cli_stop_flag();
        if (s == SL_ERR_CANCELLED && sig && cli_rank() > 0) {
            rc = 128 + sig;
        } else if (s == SL_ERR_CANCELLED && sig) {
            /* stopped by the user: one line saying what is kept, and 128 + the signal as a shell would */
            cli_progress_interrupted(pr, sig == SIGINT ? "SIGINT" : "SIGTERM", workdir);
            rc = 128 + sig;
        } else {
            rc = s == SL_OK ? EXIT_OK : cli_fail(&err);
        }
        for (size_t i = 0; s == SL_OK && !a.quiet && !cli_progress_quiet(pr) && i < sl_pipeline_stage_count(p); i++)
            if (strcmp(sl_pipeline_stage_op(p, i)->name, "select") == 0)
                print_selection(p, i);
        if (s == SL_OK && !a.quiet && !cli_progress_quiet(pr) && strcmp(workdir, ":memory:") == 0)
            printf("results were held in memory (workdir :memory:): nothing was written\n");
        else if (s == SL_OK && !a.quiet && !cli_progress_quiet(pr))
            printf("checkpoints in %s\n", workdir);
        /* the report shows a failed run too; a report that cannot be
         * written fails a run that did not */
        if ((a.report || sl_pipeline_report(p)) && cli_rank() == 0) {
            int rrc = cli_report_write(a.file, a.opt.workdir, NULL, a.quiet || cli_progress_quiet(pr));
            if (rc == EXIT_OK)
                rc = rrc;
        }
        cli_progress_free(pr);
    }
    sl_pipeline_free(p);
    free(a.extra);
    return rc;
}

int cmd_status(int argc, char **argv)
{
    run_args a;
    int rc = parse(argc, argv, "status", &a);
    sl_pipeline *p = NULL;
    if (rc < 0)
        rc = load(a.file, &p);
    if (rc == EXIT_OK && p)
        rc = status_or_dry_run(&a, p, 0);
    if (p && (rc == EXIT_OK || rc == 1))
        slurm_print_jobs(p, a.opt.workdir ? a.opt.workdir : sl_pipeline_workdir(p));
    sl_pipeline_free(p);
    free(a.extra);
    return rc;
}

int cmd_clean(int argc, char **argv)
{
    run_args a;
    int rc = parse(argc, argv, "clean", &a);
    sl_pipeline *p = NULL;
    if (rc < 0)
        rc = load(a.file, &p);
    if (rc == EXIT_OK && p) {
        a.extra[a.n_extra] = NULL;
        size_t removed = 0;
        sl_error err;
        if (sl_pipeline_clean(p, &a.opt, a.n_extra ? a.extra : NULL, &removed, &err) != SL_OK)
            rc = cli_fail(&err);
        else
            printf("removed %zu checkpoint file%s from %s\n", removed, removed == 1 ? "" : "s",
                   a.opt.workdir ? a.opt.workdir : sl_pipeline_workdir(p));
    }
    sl_pipeline_free(p);
    free(a.extra);
    return rc;
}
