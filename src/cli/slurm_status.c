/* sluice status: the Slurm jobs of the last submission for a workdir.
 *
 * One batched `sacct` call answers for every job where Slurm keeps an
 * accounting database. Where it has none (sacct fails, or does not know a job
 * it should), the controller is asked: one `squeue` call for the jobs it still
 * lists, then `scontrol show job` for each job squeue does not list or lists
 * as ended (for its exit code). A job nobody answers for is "unknown": Slurm
 * was busy, restarting or has forgotten it, which says nothing about how the
 * job went, so it is never shown as failed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/slurm.h"

#define OUT_CAP (1 << 20)

/* Set once squeue or scontrol got no answer in time: the controller is not
 * answering, and asking it again job by job would only multiply the wait.
 * (sacct asks slurmdbd, whose silence says nothing about the controller.) */
static int controller_silent;

static int query(char *const argv[], char *out, char *errt, size_t errcap, int *e, int controller)
{
    if (controller && controller_silent) {
        snprintf(errt, errcap, "not asked: the controller did not answer");
        return 124;
    }
    int status = slurm_cmd(argv, out, OUT_CAP, errt, errcap, e, SLURM_QUERY_SECONDS);
    if (controller && status == 124 && *e == ETIMEDOUT)
        controller_silent = 1;
    return status;
}

typedef struct job_row {
    char stage[64], id[32], state[32], elapsed[32], exit[16];
    int from_sacct;
} job_row;

static int ended(const char *state)
{
    static const char *const done[] = {"COMPLETED", "FAILED",  "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                       "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", NULL};
    for (int i = 0; done[i]; i++)
        if (strcmp(state, done[i]) == 0)
            return 1;
    return 0;
}

static job_row *find(job_row *rows, size_t n, const char *id, size_t idlen)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(rows[i].id) == idlen && strncmp(rows[i].id, id, idlen) == 0)
            return &rows[i];
    return NULL;
}

/* Copies field f (0-based) of a line split at sep, up to the next sep or end. */
static void field(const char *line, char sep, int f, char *out, size_t cap)
{
    for (; f > 0 && line; f--) {
        line = strchr(line, sep);
        if (line)
            line++;
    }
    size_t n = line ? strcspn(line, "\n") : 0;
    const char *end = line ? memchr(line, sep, n) : NULL;
    if (end)
        n = (size_t)(end - line);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, line ? line : "", n);
    out[n] = '\0';
}

/* "ids" of the rows still without a state, comma-separated; 0 when none. */
static size_t missing_ids(const job_row *rows, size_t n, char *out, size_t cap, int or_ended)
{
    size_t o = 0, k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((!rows[i].state[0] || (or_ended && ended(rows[i].state) && !rows[i].exit[0])) && o + 34 < cap) {
            o += (size_t)snprintf(out + o, cap - o, "%s%s", k ? "," : "", rows[i].id);
            k++;
        }
    return k;
}

/* sacct; why says why it answered for none of the jobs. */
static void ask_sacct(job_row *rows, size_t n, char *out, char *why, size_t whycap)
{
    char ids[OUT_CAP / 16], errt[1024];
    missing_ids(rows, n, ids, sizeof ids, 0);
    char *argv[] = {"sacct", "-X", "-j", ids, "--parsable2", "--noheader",
                    "--format=JobIDRaw,State,Elapsed,ExitCode", NULL};
    int e, status = query(argv, out, errt, sizeof errt, &e, 0);
    if (status != 0) {
        errt[strcspn(errt, "\n")] = '\0';
        const char *msg = strncmp(errt, "sacct: ", 7) == 0 ? errt + 7 : errt; /* "sacct: error: ..." */
        snprintf(why, whycap, "sacct: %.500s", status == 127 && e ? strerror(e) : msg[0] ? msg : "failed");
        return;
    }
    int any = 0;
    for (char *line = out; *line; line += strcspn(line, "\n"), line += *line == '\n') {
        job_row *r = find(rows, n, line, strcspn(line, "|\n"));
        if (!r)
            continue;
        char state[64];
        field(line, '|', 1, state, sizeof state);
        state[strcspn(state, " ")] = '\0'; /* "CANCELLED by 0" */
        if (!state[0])
            continue;
        snprintf(r->state, sizeof r->state, "%.31s", state);
        field(line, '|', 2, r->elapsed, sizeof r->elapsed);
        field(line, '|', 3, r->exit, sizeof r->exit);
        r->from_sacct = any = 1;
    }
    if (!any)
        snprintf(why, whycap, "sacct knew none of the jobs: no accounting database?");
}

static void ask_squeue(job_row *rows, size_t n, char *out)
{
    char ids[OUT_CAP / 16], errt[1024];
    if (!missing_ids(rows, n, ids, sizeof ids, 0))
        return;
    /* -t all: jobs that ended are listed too while the controller keeps them */
    char *argv[] = {"squeue", "-h", "-t", "all", "-j", ids, "-o", "%i|%T|%M", NULL};
    int e;
    if (query(argv, out, errt, sizeof errt, &e, 1) != 0)
        return;
    for (char *line = out; *line; line += strcspn(line, "\n"), line += *line == '\n') {
        job_row *r = find(rows, n, line, strcspn(line, "|\n"));
        if (!r || r->state[0])
            continue;
        field(line, '|', 1, r->state, sizeof r->state);
        field(line, '|', 2, r->elapsed, sizeof r->elapsed);
    }
}

/* The value of "Key=" in `scontrol -o` output. */
static void kv(const char *text, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(text, pat);
    out[0] = '\0';
    if (!p && strncmp(text, pat + 1, strlen(pat + 1)) == 0)
        p = text - 1;
    if (!p)
        return;
    p += strlen(pat);
    size_t len = strcspn(p, " \n");
    if (len >= cap)
        len = cap - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

static void ask_scontrol(job_row *rows, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        job_row *r = &rows[i];
        if (r->state[0] && !(ended(r->state) && !r->exit[0]))
            continue;
        char errt[512];
        char *argv[] = {"scontrol", "-o", "show", "job", r->id, NULL};
        int e;
        if (query(argv, out, errt, sizeof errt, &e, 1) != 0)
            continue;
        char state[32];
        kv(out, "JobState", state, sizeof state);
        if (!state[0])
            continue;
        snprintf(r->state, sizeof r->state, "%.31s", state);
        kv(out, "RunTime", r->elapsed, sizeof r->elapsed);
        kv(out, "ExitCode", r->exit, sizeof r->exit);
    }
}

/* The rows of the jobs file; NULL when there is none. */
static job_row *read_jobs(const char *path, size_t *n)
{
    *n = 0;
    /* only a regular file: a FIFO or device put there must not hang status */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return NULL;
    }
    size_t cap = 16;
    job_row *rows = calloc(cap, sizeof *rows);
    char line[1 << 16];
    while (rows && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (*n == cap) {
            job_row *r = realloc(rows, 2 * cap * sizeof *rows);
            if (!r)
                break;
            rows = r;
            memset(rows + cap, 0, cap * sizeof *rows);
            cap *= 2;
        }
        job_row *r = &rows[*n];
        field(line, '\t', 0, r->stage, sizeof r->stage);
        field(line, '\t', 1, r->id, sizeof r->id);
        if (r->id[0] && strspn(r->id, "0123456789") == strlen(r->id))
            (*n)++;
        else
            memset(r, 0, sizeof *r);
    }
    fclose(f);
    return rows;
}

void slurm_print_jobs(const sl_pipeline *p, const char *workdir)
{
    char *abs = slurm_abs_path(workdir), name[128];
    if (!abs)
        return;
    slurm_job_name(sl_pipeline_name(p), abs, name, sizeof name);
    size_t dl = strlen(abs) + sizeof SLURM_SUBDIR + 2;
    char *dir = malloc(dl);
    char *path = NULL;
    if (dir) {
        snprintf(dir, dl, "%s/%s", abs, SLURM_SUBDIR);
        path = slurm_jobs_file(dir, name);
    }
    size_t n = 0;
    job_row *rows = path ? read_jobs(path, &n) : NULL;
    char *out = rows && n ? malloc(OUT_CAP) : NULL;
    if (out) {
        char why[600] = "";
        /* the controller for what sacct did not answer: all jobs without a
         * database, the newest ones while its database lags */
        ask_sacct(rows, n, out, why, sizeof why);
        ask_squeue(rows, n, out);
        ask_scontrol(rows, n, out);
        printf("\njobs of the last submission (%s, %s):\n", name, path);
        printf("%-16s %-10s %-12s %-12s %s\n", "stage", "job", "state", "elapsed", "exit");
        int unknown = 0;
        size_t by_sacct = 0;
        for (size_t i = 0; i < n; i++) {
            job_row *r = &rows[i];
            unknown |= !r->state[0];
            by_sacct += (size_t)r->from_sacct;
            printf("%-16s %-10s %-12s %-12s %s\n", strcmp(r->stage, "-") ? r->stage : "(all stages)", r->id,
                   r->state[0] ? r->state : "unknown", r->elapsed[0] ? r->elapsed : "-", r->exit[0] ? r->exit : "-");
        }
        if (why[0])
            printf("states from squeue/scontrol (%s)\n", why);
        else if (by_sacct < n)
            printf("states from sacct, and from squeue/scontrol for the %zu job%s sacct does not know (yet)\n",
                   n - by_sacct, n - by_sacct == 1 ? "" : "s");
        if (unknown)
            printf("unknown: Slurm gave no answer for that job (controller busy or restarting, or the job is "
                   "older than it keeps); ask again\n");
    }
    free(out);
    free(rows);
    free(path);
    free(dir);
    free(abs);
}
