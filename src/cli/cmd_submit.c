/* sluice submit: writes sbatch scripts into workdir/slurm and submits them.
 *
 * One job runs the whole pipeline; with --per-stage, one job per stored stage
 * runs `sluice run FILE --until STAGE --wait` after the jobs of the stored
 * stages it reads (a streamed stage is computed inside its readers' jobs, so
 * it has none). All jobs are submitted held, the jobs file (each job's
 * descendants, which its script cancels when it fails) is written, and only
 * then are they released: a job can never fail before the file it needs to
 * clean up after itself exists, nor start before the jobs it depends on were
 * submitted. The jobs that wait for others are also submitted with
 * --kill-on-invalid-dep=yes, for the jobs that die without running their
 * script's cleanup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/slurm.h"

static const char submit_usage[] =
    "usage: sluice submit FILE [options]\n"
    "Writes an sbatch script into WORKDIR/slurm and submits it to Slurm; the job runs 'sluice run'.\n"
    "  --nodes N             nodes (more than one task in all: the MPI build under mpirun)\n"
    "  --ntasks-per-node N   tasks per node\n"
    "  --cpus-per-task N     CPUs of each task, its threads (-j)\n"
    "  --time T              time limit: minutes, h:m:s, days-h:m:s, UNLIMITED\n"
    "  --partition P         partition\n"
    "  --account A           account to charge\n"
    "  --mem M               memory per node: megabytes or a number with K, M, G, T\n"
    "  --per-stage           one job per stored stage, chained with --dependency=afterok\n"
    "  --print               print the script(s), submit nothing\n"
    "  --workdir DIR         where checkpoints go (default: the file's 'workdir')\n"
    "The same settings may be given under 'slurm:' in the pipeline file; the command line wins.\n";

typedef struct submit_args {
    const char *file, *workdir;
    sl_slurm_settings set; /* from the command line */
    int given[8];          /* which sl_slurm_keys the command line set */
    int per_stage, print;
} submit_args;

/* --ntasks-per-node -> ntasks_per_node; -1 when o is no Slurm option. */
static int slurm_option(const char *o)
{
    if (strncmp(o, "--", 2) != 0)
        return -1;
    for (int k = 0; sl_slurm_keys[k]; k++) {
        const char *key = sl_slurm_keys[k];
        size_t i = 0;
        for (; key[i] && o[2 + i]; i++)
            if (o[2 + i] != (key[i] == '_' ? '-' : key[i]))
                break;
        if (!key[i] && !o[2 + i])
            return k;
    }
    return -1;
}

static int parse(int argc, char **argv, submit_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int k = slurm_option(o);
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            fputs(submit_usage, stdout);
            return EXIT_OK;
        } else if (k >= 0) {
            const char *key = sl_slurm_keys[k];
            if (!val)
                return cli_usage_error("%s needs %s", o, sl_slurm_expects(key));
            if (sl_slurm_set(&a->set, key, val) != 1)
                return cli_usage_error("%s needs %s, found '%s'", o, sl_slurm_expects(key), val);
            a->given[k] = 1;
            i++;
        } else if (strcmp(o, "--per-stage") == 0) {
            a->per_stage = 1;
        } else if (strcmp(o, "--print") == 0) {
            a->print = 1;
        } else if (strcmp(o, "--workdir") == 0) {
            if (!val || !*val)
                return cli_usage_error("--workdir needs a folder");
            a->workdir = val;
            i++;
        } else if (o[0] == '-' && o[1]) {
            return cli_usage_error("unknown option '%s' for submit", o);
        } else if (!a->file) {
            a->file = o;
        } else {
            return cli_usage_error("submit takes one pipeline file; '%s' is extra", o);
        }
    }
    if (!a->file)
        return cli_usage_error("submit needs a pipeline file: sluice submit FILE");
    return -1;
}

/* The file's settings, each replaced by the command line's where it gave one. */
static void merge(sl_slurm_settings *out, const sl_slurm_settings *file, const submit_args *a)
{
    *out = *file;
    const sl_slurm_settings *c = &a->set;
    if (a->given[0])
        out->nodes = c->nodes;
    if (a->given[1])
        out->ntasks_per_node = c->ntasks_per_node;
    if (a->given[2])
        out->cpus_per_task = c->cpus_per_task;
    if (a->given[3])
        memcpy(out->time, c->time, sizeof out->time);
    if (a->given[4])
        memcpy(out->partition, c->partition, sizeof out->partition);
    if (a->given[5])
        memcpy(out->account, c->account, sizeof out->account);
    if (a->given[6])
        memcpy(out->mem, c->mem, sizeof out->mem);
}

/* A path that an #SBATCH line (double quotes) and the script can hold. */
static const char *unsafe_char(const char *path)
{
    const char *bad = strpbrk(path, "\"\\$`\n\r");
    if (!bad)
        return NULL;
    return *bad == '\n' || *bad == '\r' ? "a line break" : *bad == '"' ? "'\"'" : *bad == '\\' ? "'\\'"
           : *bad == '$' ? "'$'" : "'`'";
}

static int add_unique(size_t *list, size_t *n, size_t v)
{
    for (size_t i = 0; i < *n; i++)
        if (list[i] == v)
            return 0;
    list[(*n)++] = v;
    return 1;
}

/* The stored stages that stage i reads, directly or through streamed ones. */
static void stored_inputs(const sl_pipeline *p, size_t i, const long *job_of, size_t *deps, size_t *n,
                          unsigned char *seen)
{
    for (size_t j = 0; j < sl_pipeline_stage_input_count(p, i); j++) {
        size_t in = sl_pipeline_stage_input(p, i, j, NULL);
        if (seen[in])
            continue;
        seen[in] = 1;
        if (job_of[in] >= 0)
            add_unique(deps, n, (size_t)job_of[in]);
        else
            stored_inputs(p, in, job_of, deps, n, seen);
    }
}

static size_t *copy_list(const size_t *v, size_t n)
{
    size_t *c = malloc((n ? n : 1) * sizeof *c);
    if (c && n)
        memcpy(c, v, n * sizeof *c);
    return c;
}

/* Jobs, their dependencies and descendants; 0 when out of memory. Each list
 * is allocated to its size: a pipeline may have 10^5 stages, most of them
 * streamed. */
static int plan_jobs(const sl_pipeline *p, slurm_plan *pl)
{
    size_t ns = sl_pipeline_stage_count(p), nj = 0;
    if (!pl->per_stage) {
        pl->jobs = calloc(1, sizeof *pl->jobs);
        pl->n = pl->jobs ? 1 : 0;
        return pl->jobs != NULL;
    }
    for (size_t i = 0; i < ns; i++)
        nj += (size_t)sl_pipeline_stage_stored(p, i);
    if (nj > SLURM_MAX_JOBS) {
        pl->n = nj; /* the caller refuses it */
        return 1;
    }
    long *job_of = malloc((ns ? ns : 1) * sizeof *job_of);
    unsigned char *seen = malloc(ns ? ns : 1);
    size_t *tmp = malloc((ns ? ns : 1) * sizeof *tmp);
    pl->jobs = calloc(nj ? nj : 1, sizeof *pl->jobs);
    int ok = job_of && seen && tmp && pl->jobs;
    for (size_t i = 0; ok && i < ns; i++) {
        job_of[i] = -1;
        if (!sl_pipeline_stage_stored(p, i))
            continue;
        slurm_job *jb = &pl->jobs[pl->n++];
        jb->stage = sl_pipeline_stage_name(p, i);
        jb->stage_index = i;
        memset(seen, 0, ns);
        stored_inputs(p, i, job_of, tmp, &jb->n_deps, seen);
        ok = (jb->deps = copy_list(tmp, jb->n_deps)) != NULL;
        job_of[i] = (long)(pl->n - 1);
    }
    /* jobs are in topological order: a job's descendants are the jobs after
     * it that wait for it or for one of its descendants */
    for (size_t j = 0; ok && j < pl->n; j++) {
        unsigned char *down = seen;
        memset(down, 0, pl->n);
        down[j] = 1;
        for (size_t k = j + 1; k < pl->n; k++)
            for (size_t d = 0; d < pl->jobs[k].n_deps && !down[k]; d++)
                if (down[pl->jobs[k].deps[d]]) {
                    down[k] = 1;
                    tmp[pl->jobs[j].n_desc++] = k;
                }
        ok = (pl->jobs[j].desc = copy_list(tmp, pl->jobs[j].n_desc)) != NULL;
    }
    free(job_of);
    free(seen);
    free(tmp);
    return ok;
}

static void free_plan(slurm_plan *pl)
{
    for (size_t j = 0; pl->jobs && j < pl->n; j++) {
        free(pl->jobs[j].deps);
        free(pl->jobs[j].desc);
    }
    free(pl->jobs);
    free(pl->workdir);
    free(pl->dir);
    free(pl->pipeline);
    free(pl->sluice);
}

/* "afterok:12:13" for job j (submitted jobs), or with names "load, fit";
 * "" when it waits for none. Allocated: a truncated list would submit a job
 * that does not wait for all its inputs. NULL when out of memory. */
static char *dependency(const slurm_plan *pl, size_t j, int names)
{
    const slurm_job *jb = &pl->jobs[j];
    size_t cap = 16;
    for (size_t d = 0; d < jb->n_deps; d++) {
        const slurm_job *dep = &pl->jobs[jb->deps[d]];
        cap += strlen(names ? dep->stage : dep->id) + 2;
    }
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t o = 0;
    out[0] = '\0';
    for (size_t d = 0; d < jb->n_deps; d++) {
        const slurm_job *dep = &pl->jobs[jb->deps[d]];
        o += (size_t)snprintf(out + o, cap - o, "%s%s", d ? (names ? ", " : ":") : (names ? "" : "afterok:"),
                              names ? dep->stage : dep->id);
    }
    return out;
}

static int mkdir_p(const char *path)
{
    char *s = strdup(path);
    if (!s)
        return ENOMEM;
    int rc = 0;
    for (char *c = s + 1; rc == 0; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char save = *c;
        *c = '\0';
        if (mkdir(s, 0777) != 0 && errno != EEXIST)
            rc = errno;
        *c = save;
        if (!save)
            break;
    }
    free(s);
    return rc;
}

static int write_file(const char *path, const char *text, int mode)
{
    /* written whole under another name, then renamed: a job or `status`
     * reading the jobs file never sees half of it */
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        return ENOMEM;
    snprintf(tmp, n, "%s.tmp", path);
    /* a new file, never through a link someone left at that name (unlink
     * removes the link itself, or what a killed submit left) */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        free(tmp);
        return e;
    }
    errno = 0;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    int e = 0;
    if (bad || chmod(tmp, (mode_t)mode) != 0 || rename(tmp, path) != 0) {
        e = errno ? errno : EIO;
        unlink(tmp);
    }
    free(tmp);
    return e;
}

/* Cancels the jobs submitted so far (a submission failed half-way). */
static void cancel_submitted(const slurm_plan *pl)
{
    char *argv[1026] = {"scancel"};
    size_t k = 1;
    for (size_t j = 0; j < pl->n && k < 1025; j++)
        if (pl->jobs[j].id[0])
            argv[k++] = (char *)pl->jobs[j].id;
    if (k == 1)
        return;
    char out[256], errt[256];
    int e;
    slurm_cmd(argv, out, sizeof out, errt, sizeof errt, &e, 0);
}

static int missing_program(const char *prog, int e)
{
    return slurm_error(EXIT_IO,
                       "cannot run '%s': %s; sluice submit needs Slurm's client commands (sbatch, scontrol, "
                       "scancel): install them (Debian: slurm-client, which slurm-wlm includes) or submit from a "
                       "login node of the cluster",
                       prog, strerror(e));
}

/* The first line of a command's stderr, for messages. */
static const char *first_line(char *text)
{
    text[strcspn(text, "\n")] = '\0';
    return text[0] ? text : "no message";
}

static int submit_all(slurm_plan *pl)
{
    int rc = mkdir_p(pl->dir);
    if (rc)
        return slurm_error(EXIT_IO, "cannot create folder '%s' for the job scripts: %s", pl->dir, strerror(rc));
    for (size_t j = 0; j < pl->n; j++) {
        char *path = slurm_script_path(pl, j), *text = slurm_script(pl, j);
        int e = path && text ? write_file(path, text, 0755) : ENOMEM;
        if (e) {
            int code = slurm_error(EXIT_IO, "cannot write job script '%s': %s", path ? path : pl->dir, strerror(e));
            free(path);
            free(text);
            return code;
        }
        free(text);
        char out[512], errt[1024];
        char *dep = dependency(pl, j, 0);
        size_t dl = dep ? strlen(dep) + 16 : 0;
        char *dep_opt = dep ? malloc(dl) : NULL;
        if (!dep_opt) {
            free(dep);
            free(path);
            cancel_submitted(pl);
            return slurm_error(EXIT_RUNTIME, "out of memory");
        }
        snprintf(dep_opt, dl, "--dependency=%s", dep);
        char *argv[8];
        int k = 0;
        argv[k++] = "sbatch";
        argv[k++] = "--parsable";
        if (pl->per_stage)
            argv[k++] = "--hold";
        if (dep[0]) {
            argv[k++] = dep_opt;
            /* the scripts cancel the jobs downstream of one that fails; this
             * has Slurm do it for one that never ran its script to the end
             * (killed outright, cancelled before it started, a lost node) */
            argv[k++] = "--kill-on-invalid-dep=yes";
        }
        argv[k++] = path;
        argv[k] = NULL;
        int status = slurm_cmd(argv, out, sizeof out, errt, sizeof errt, &e, 0);
        free(dep);
        free(dep_opt);
        if (status == 127 && e) {
            free(path);
            cancel_submitted(pl);
            return missing_program("sbatch", e);
        }
        size_t idlen = strspn(out, "0123456789");
        if (status != 0 || idlen == 0 || idlen >= sizeof pl->jobs[j].id) {
            int code = slurm_error(EXIT_IO, "sbatch refused job script '%s' (exit %d): %s", path, status,
                                   first_line(errt[0] ? errt : out));
            free(path);
            cancel_submitted(pl);
            return code;
        }
        memcpy(pl->jobs[j].id, out, idlen);
        pl->jobs[j].id[idlen] = '\0';
        free(path);
    }
    return EXIT_OK;
}

/* The jobs file: one line per job, "stage TAB job TAB after TAB cancelled on
 * failure" (ids separated by ','; '-' for none). */
static int write_jobs(const slurm_plan *pl)
{
    char *text = NULL, *path = slurm_jobs_file(pl->dir, pl->job_name);
    size_t len = 0;
    FILE *f = path ? open_memstream(&text, &len) : NULL;
    if (!f) {
        free(path);
        return slurm_error(EXIT_RUNTIME, "out of memory");
    }
    fprintf(f, "# sluice submit %s: stage\tjob\tafter\tcancelled when it fails\n", pl->pipeline);
    for (size_t j = 0; j < pl->n; j++) {
        const slurm_job *jb = &pl->jobs[j];
        fprintf(f, "%s\t%s\t", jb->stage ? jb->stage : "-", jb->id);
        for (size_t d = 0; d < jb->n_deps; d++)
            fprintf(f, "%s%s", d ? "," : "", pl->jobs[jb->deps[d]].id);
        fprintf(f, "%s\t", jb->n_deps ? "" : "-");
        for (size_t d = 0; d < jb->n_desc; d++)
            fprintf(f, "%s%s", d ? "," : "", pl->jobs[jb->desc[d]].id);
        fprintf(f, "%s\n", jb->n_desc ? "" : "-");
    }
    if (fclose(f) != 0 || !text) {
        free(text);
        free(path);
        return slurm_error(EXIT_RUNTIME, "out of memory");
    }
    int e = write_file(path, text, 0644);
    int rc = e ? slurm_error(EXIT_IO, "cannot write the jobs file '%s': %s", path, strerror(e)) : EXIT_OK;
    free(text);
    free(path);
    return rc;
}

static int release_all(const slurm_plan *pl)
{
    size_t cap = pl->n * 32 + 1;
    char *ids = malloc(cap), out[256], errt[1024];
    if (!ids)
        return slurm_error(EXIT_RUNTIME, "out of memory");
    size_t o = 0;
    for (size_t j = 0; j < pl->n; j++)
        o += (size_t)snprintf(ids + o, cap - o, "%s%s", j ? "," : "", pl->jobs[j].id);
    char *argv[] = {"scontrol", "release", ids, NULL};
    int e, status = slurm_cmd(argv, out, sizeof out, errt, sizeof errt, &e, 0);
    int rc = EXIT_OK;
    if (status == 127 && e)
        rc = missing_program("scontrol", e);
    else if (status != 0)
        rc = slurm_error(EXIT_IO, "scontrol release %s failed (exit %d): %s; the jobs were cancelled", ids, status,
                         first_line(errt[0] ? errt : out));
    if (rc != EXIT_OK)
        cancel_submitted(pl);
    free(ids);
    return rc;
}

static void print_scripts(const slurm_plan *pl)
{
    for (size_t j = 0; j < pl->n; j++) {
        char *path = slurm_script_path(pl, j), *text = slurm_script(pl, j), *dep = dependency(pl, j, 1);
        printf("%s# ---- %s\n", j ? "\n" : "", path ? path : "?");
        if (pl->per_stage)
            printf("# submitted held, then released: sbatch --parsable --hold%s%s%s %s\n",
                   dep && dep[0] ? " --dependency=afterok:<jobs of " : "", dep ? dep : "",
                   dep && dep[0] ? "> --kill-on-invalid-dep=yes" : "", path ? path : "?");
        else
            printf("# submitted as: sbatch --parsable %s\n", path ? path : "?");
        fputs(text ? text : "(out of memory)\n", stdout);
        free(path);
        free(text);
        free(dep);
    }
}

int cmd_submit(int argc, char **argv)
{
    submit_args a;
    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    sl_pipeline *p = NULL;
    sl_error err;
    if (sl_pipeline_load_file(a.file, &p, &err) != SL_OK)
        return cli_fail(&err);
    slurm_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.per_stage = a.per_stage;
    merge(&pl.set, sl_pipeline_slurm(p), &a);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = '\0';
    pl.workdir = slurm_abs_path(a.workdir ? a.workdir : sl_pipeline_workdir(p));
    pl.pipeline = slurm_abs_path(a.file);
    pl.sluice = sl > 0 ? strdup(self) : NULL;
    if (pl.workdir) {
        size_t n = strlen(pl.workdir) + sizeof SLURM_SUBDIR + 2;
        if ((pl.dir = malloc(n)))
            snprintf(pl.dir, n, "%s/%s", pl.workdir, SLURM_SUBDIR);
    }
    if (!pl.workdir || !pl.pipeline || !pl.sluice || !pl.dir || !plan_jobs(p, &pl)) {
        rc = slurm_error(EXIT_RUNTIME, "out of memory");
        goto done;
    }
    if (pl.n > SLURM_MAX_JOBS) {
        rc = slurm_error(EXIT_USAGE,
                         "--per-stage would submit %zu jobs, more than the %d one submission may hold (Slurm "
                         "itself holds 10000 jobs by default, MaxJobCount); store fewer stages (checkpoint: false "
                         "or final) or submit the pipeline as one job",
                         pl.n, SLURM_MAX_JOBS);
        pl.n = 0;
        goto done;
    }
    if (pl.n == 0) {
        rc = slurm_error(EXIT_USAGE,
                         "--per-stage: pipeline '%s' stores no stage (every stage is streamed), so no stage gets a "
                         "job of its own; submit it as one job, without --per-stage",
                         sl_pipeline_name(p));
        goto done;
    }
    slurm_job_name(sl_pipeline_name(p), pl.workdir, pl.job_name, sizeof pl.job_name);
    const char *paths[] = {pl.workdir, pl.pipeline, pl.sluice};
    for (int i = 0; i < 3; i++) {
        const char *bad = unsafe_char(paths[i]);
        if (bad) {
            rc = slurm_error(EXIT_USAGE,
                             "cannot submit: the path '%s' has %s, which a job script cannot hold safely; use a "
                             "path without quotes, '\\', '$', '`' or line breaks",
                             paths[i], bad);
            goto done;
        }
    }
    if (a.print) {
        print_scripts(&pl);
        rc = EXIT_OK;
        goto done;
    }
    rc = submit_all(&pl);
    if (rc == EXIT_OK) {
        rc = write_jobs(&pl);
        if (rc != EXIT_OK)
            cancel_submitted(&pl);
    }
    if (rc == EXIT_OK && pl.per_stage)
        rc = release_all(&pl);
    if (rc == EXIT_OK) {
        for (size_t j = 0; j < pl.n; j++) {
            char *dep = dependency(&pl, j, 1);
            printf("%-16s job %s%s%s\n", pl.jobs[j].stage ? pl.jobs[j].stage : "(all stages)", pl.jobs[j].id,
                   dep && dep[0] ? ", after " : "", dep ? dep : "");
            free(dep);
        }
        printf("submitted %zu job%s named %s; scripts and logs in %s\n", pl.n, pl.n == 1 ? "" : "s", pl.job_name,
               pl.dir);
    }
done:
    free_plan(&pl);
    sl_pipeline_free(p);
    return rc;
}
