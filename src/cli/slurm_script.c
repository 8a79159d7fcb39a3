/* The sbatch scripts of `sluice submit`. A script only runs `sluice run` (or
 * its MPI build under mpirun) with absolute paths, since a job may start in
 * another folder or on another node; what to run is sluice's business, where
 * and when is Slurm's. When the run fails, the script cancels the jobs
 * downstream of its own: Slurm would leave them pending forever
 * (DependencyNeverSatisfied). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/slurm.h"

typedef struct buf {
    char *s;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

void slurm_sh_word(char *out, size_t cap, const char *s)
{
    int safe = s[0] != '\0';
    for (const char *c = s; *c && safe; c++)
        safe = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./,:=+@%", *c) != NULL;
    if (safe) {
        snprintf(out, cap, "%s", s);
        return;
    }
    /* 'it'\''s': a single quote ends the quoting, is escaped, and reopens it */
    size_t o = 0;
    if (o + 1 < cap)
        out[o++] = '\'';
    for (const char *c = s; *c; c++) {
        const char *piece = *c == '\'' ? "'\\''" : NULL;
        size_t pl = piece ? 4 : 1;
        if (o + pl + 2 > cap)
            break;
        if (piece)
            memcpy(out + o, piece, pl);
        else
            out[o] = *c;
        o += pl;
    }
    if (o + 1 < cap)
        out[o++] = '\'';
    out[o < cap ? o : cap - 1] = '\0';
}

/* The file names of job j: <job name> or <job name>.<stage>. */
static void base_name(const slurm_plan *pl, size_t j, char *out, size_t cap)
{
    if (pl->jobs[j].stage)
        snprintf(out, cap, "%s.%s", pl->job_name, pl->jobs[j].stage);
    else
        snprintf(out, cap, "%s", pl->job_name);
}

char *slurm_script_path(const slurm_plan *pl, size_t j)
{
    char base[256];
    base_name(pl, j, base, sizeof base);
    size_t n = strlen(pl->dir) + strlen(base) + 16;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s.sbatch", pl->dir, base);
    return s;
}

char *slurm_script(const slurm_plan *pl, size_t j)
{
    const slurm_job *job = &pl->jobs[j];
    const sl_slurm_settings *st = &pl->set;
    char base[256];
    base_name(pl, j, base, sizeof base);
    buf b = {0};
    put(&b, "#!/bin/bash\n");
    put(&b, "# Written by 'sluice submit': %s%s%s.\n", pl->pipeline, job->stage ? ", stage " : "",
        job->stage ? job->stage : "");
    /* #SBATCH values: paths go in double quotes (sbatch reads them so), and
     * submit refuses paths with a '"', '\\', '$', '`' or newline */
    put(&b, "#SBATCH --job-name=%s\n", pl->job_name);
    put(&b, "#SBATCH --output=\"%s/%s-%%j.out\"\n", pl->dir, base);
    put(&b, "#SBATCH --error=\"%s/%s-%%j.err\"\n", pl->dir, base);
    put(&b, "#SBATCH --chdir=\"%s\"\n", pl->workdir);
    if (st->nodes)
        put(&b, "#SBATCH --nodes=%lld\n", (long long)st->nodes);
    if (st->ntasks_per_node)
        put(&b, "#SBATCH --ntasks-per-node=%lld\n", (long long)st->ntasks_per_node);
    if (st->cpus_per_task)
        put(&b, "#SBATCH --cpus-per-task=%lld\n", (long long)st->cpus_per_task);
    if (st->time[0])
        put(&b, "#SBATCH --time=%s\n", st->time);
    if (st->partition[0])
        put(&b, "#SBATCH --partition=%s\n", st->partition);
    if (st->account[0])
        put(&b, "#SBATCH --account=%s\n", st->account);
    if (st->mem[0])
        put(&b, "#SBATCH --mem=%s\n", st->mem);
    /* a path of PATH_MAX characters, each a quote written as 4 */
    char w[4 * 4096 + 8];
    put(&b, "set -eu\n\n");
    slurm_sh_word(w, sizeof w, pl->dir);
    put(&b, "jobs_file=%s/%s.jobs\n", w, pl->job_name);
    put(&b, "# Slurm leaves the jobs that wait for this one (afterok) pending forever\n"
            "# (DependencyNeverSatisfied) when it fails: cancel them. Their ids are in\n"
            "# the jobs file, written after every job was submitted held and before\n"
            "# any was released.\n"
            "cancel_descendants() {\n"
            "    ids=$(awk -F '\\t' -v j=\"$SLURM_JOB_ID\" '$2 == j { gsub(\",\", \" \", $4); print $4 }' "
            "\"$jobs_file\" || true)\n"
            "    if [ -n \"$ids\" ] && [ \"$ids\" != \"-\" ]; then\n"
            "        echo \"sluice job: cancelling the jobs downstream: $ids\" >&2\n"
            "        scancel $ids || echo \"sluice job: scancel $ids failed\" >&2\n"
            "    fi\n"
            "}\n"
            "# a time limit or scancel sends SIGTERM first: cancel them then too\n"
            "trap 'cancel_descendants; exit 143' TERM\n\n");
    /* one task: the serial program; more: its MPI build, one rank a task */
    int64_t tasks = (st->nodes ? st->nodes : 1) * (st->ntasks_per_node ? st->ntasks_per_node : 1);
    if (tasks > 1) {
        size_t dl = strrchr(pl->sluice, '/') ? (size_t)(strrchr(pl->sluice, '/') - pl->sluice) : 0;
        char mpi[4096 + sizeof SLUICE_MPI_BINARY + 2];
        snprintf(mpi, sizeof mpi, "%.*s/%s", (int)dl, pl->sluice, SLUICE_MPI_BINARY);
        slurm_sh_word(w, sizeof w, mpi);
        put(&b, "%s -np \"$SLURM_NTASKS\" %s run ", SLUICE_MPIRUN, w);
    } else {
        slurm_sh_word(w, sizeof w, pl->sluice);
        put(&b, "%s run ", w);
    }
    slurm_sh_word(w, sizeof w, pl->pipeline);
    put(&b, "%s --workdir ", w);
    slurm_sh_word(w, sizeof w, pl->workdir);
    put(&b, "%s -j \"${SLURM_CPUS_PER_TASK:-1}\" --progress never", w);
    /* the jobs of independent stages share the workdir's lock: each waits
     * for the run that holds it */
    /* a member's name, fit[fold=0,l2=0.1], is a glob to the shell */
    if (job->stage) {
        slurm_sh_word(w, sizeof w, job->stage);
        put(&b, " --until %s --wait", w);
    }
    put(&b, " &\nwait $! || { rc=$?; cancel_descendants; exit \"$rc\"; }\n");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
