/* sluice submit and the job states in sluice status: what the Slurm files of
 * the CLI share. Slurm is driven only through its own commands (sbatch,
 * scontrol, scancel, sacct, squeue), never through libslurm, so that sluice
 * builds and runs where Slurm is not installed. */
#ifndef SL_CLI_SLURM_H
#define SL_CLI_SLURM_H

#include <stddef.h>
#include "sluice/sluice.h"

/* The MPI build the lead of issue 13 adds, installed beside `sluice`. A job
 * with more than one task runs `SLUICE_MPIRUN -np $SLURM_NTASKS <dir of
 * sluice>/SLUICE_MPI_BINARY run ...`; one task runs the serial `sluice run`. */
#define SLUICE_MPI_BINARY "sluice-mpi"
#define SLUICE_MPIRUN "mpirun"

/* The folder of the workdir that holds the job scripts, their output and the
 * jobs file of the last submission. */
#define SLURM_SUBDIR "slurm"

/* The most jobs one --per-stage submission makes: each job's line in the
 * jobs file lists every job downstream of it, so the file grows with the
 * square of the jobs; and Slurm holds 10000 jobs by default (MaxJobCount). */
#define SLURM_MAX_JOBS 2000

/* A job of a submission: the stage it runs (NULL: the whole pipeline). */
typedef struct slurm_job {
    const char *stage;
    size_t stage_index;
    char id[32];      /* Slurm's job id once submitted */
    size_t *deps;     /* indices of the jobs it waits for (afterok) */
    size_t n_deps;
    size_t *desc;     /* indices of every job downstream of it (cancelled when it fails) */
    size_t n_desc;
} slurm_job;

typedef struct slurm_plan {
    char job_name[128]; /* sluice-<pipeline>-<hash of the workdir>: one per run */
    char *workdir;      /* absolute */
    char *dir;          /* workdir/slurm */
    char *pipeline;     /* the pipeline file, absolute */
    char *sluice;       /* this program, absolute */
    sl_slurm_settings set;
    int per_stage;
    size_t n;
    slurm_job *jobs;
} slurm_plan;

/* Prints "sluice: <message>" to stderr and returns `code`. */
int slurm_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Runs argv[0] (searched in PATH) with no stdin; its stdout (at most `cap`-1
 * bytes kept, NUL-terminated) into out, its stderr likewise into errtext.
 * Returns the exit status, 127 when the program cannot be started (errno in
 * *spawn_errno), 128+N when killed by signal N; with timeout_s > 0, kills it
 * after that many seconds and returns 124 (*spawn_errno ETIMEDOUT). */
int slurm_cmd(char *const argv[], char *out, size_t cap, char *errtext, size_t errcap, int *spawn_errno,
              int timeout_s);

/* How long `status` waits for each of Slurm's commands: what has not
 * answered by then is shown as unknown. */
#define SLURM_QUERY_SECONDS 20

/* path made absolute against the current folder, with "." and ".." and
 * repeated '/' taken out (no link is followed: the workdir may not exist
 * yet, and `status` must find the name `submit` gave). Freed by the caller. */
char *slurm_abs_path(const char *path);

/* The job name of a run: sluice-<pipeline>-<8 hex digits of the absolute workdir>. */
void slurm_job_name(const char *pipeline, const char *abs_workdir, char *out, size_t cap);
/* workdir/slurm/<job name>.jobs: the jobs of the last submission. */
char *slurm_jobs_file(const char *dir, const char *job_name);

/* The text of the sbatch script of job j (freed by the caller). */
char *slurm_script(const slurm_plan *pl, size_t j);
/* Its path: dir/<job name>.sbatch, or dir/<job name>.<stage>.sbatch. */
char *slurm_script_path(const slurm_plan *pl, size_t j);
/* A word for a shell script: as is when safe, else in single quotes. */
void slurm_sh_word(char *out, size_t cap, const char *s);

/* sluice status: prints the jobs of the last submission for this workdir
 * (nothing when there was none). */
void slurm_print_jobs(const sl_pipeline *p, const char *workdir);

int cmd_submit(int argc, char **argv);

#endif
