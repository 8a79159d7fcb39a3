/* sluice: command-line entry point. The library reports errors as data; this
 * is the one place that prints them and picks exit codes. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>
#include "cli/cli.h"
#include "cli/slurm.h"
#ifdef SL_HAVE_MPI
#include <mpi.h>
#endif

static const char usage[] =
    "usage: sluice COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Runs checkpointed dataflow pipelines for numerical machine learning.\n"
    "\n"
    "commands:\n"
    "  run FILE      run a pipeline; every stage's output is checkpointed to its workdir,\n"
    "                and stages whose checkpoint is fresh are reused\n"
    "  status FILE   each stage fresh / stale (and why) / missing; exit 0 when all are fresh, 1 otherwise;\n"
    "                and the states of the Slurm jobs of the last 'submit'\n"
    "  clean FILE [STAGE...]  remove checkpoints (all, or the stages named)\n"
    "  submit FILE   submit the run to Slurm (sbatch), as one job or one per stage (see 'sluice submit --help')\n"
    "  check FILE    validate a pipeline (YAML, ops, parameters, inputs, shapes) without running it\n"
    "  graph FILE    print the pipeline's DAG as Graphviz DOT (--mermaid: as Mermaid)\n"
    "  report FILE   write the run report, one self-contained HTML page (DAG, stages, timeline, metrics,\n"
    "                loss curves, environment), to workdir/report.html (-o OUT: elsewhere)\n"
    "  ops [NAME]    list the ops with their parameters and defaults, and those of the plugins in\n"
    "                SLUICE_PLUGIN_PATH with their origin (--markdown: the op reference)\n"
    "  convert-csv IN.csv OUT.h5  write a CSV file's columns to an HDF5 file (see 'sluice convert-csv --help')\n"
    "  version       print the version\n"
    "\n"
    "options of run:\n"
    "  -j, --threads N     threads to use (default: the file's 'threads', then OMP_NUM_THREADS, then all cores)\n"
    "  --chunk-rows N      rows per chunk (default: the file's 'chunk_rows', then 8192)\n"
    "  --memory SIZE       budget for chunk buffers, e.g. 256MiB (default: the file's 'memory', then 1GiB)\n"
    "  --workdir DIR       where checkpoints go (default: the file's 'workdir', relative to the file)\n"
    "  --force STAGE       recompute STAGE and everything it feeds (repeatable)\n"
    "  --from STAGE        recompute STAGE and what it feeds, and nothing else not needed\n"
    "  --until STAGE       run only STAGE and what it needs\n"
    "  --dry-run           print what would run and why\n"
    "  --wait              wait for another run holding the workdir instead of failing\n"
    "  -q, --quiet         print only errors\n"
    "  --progress WHEN     live progress: auto (on a terminal), always, never\n"
    "  --report            write workdir/report.html after the run, failed or not (or 'report: true' in the file)\n"
    "\n"
    "exit codes: 0 ok, 1 the data cannot be processed (a stage failed, or check found bad data),\n"
    "            2 bad config or usage, 3 I/O error (a file missing, unreadable or unwritable)\n"
    "Relative paths in a pipeline file are relative to the file's folder. A pipeline's 'plugins:'\n"
    "are looked for beside it, then in the folders of SLUICE_PLUGIN_PATH (colon-separated).\n";

int cli_exit_code(sl_status s)
{
    switch (s) {
    case SL_OK: return EXIT_OK;
    case SL_ERR_CONFIG:
    case SL_ERR_USAGE: return EXIT_USAGE;
    case SL_ERR_IO: return EXIT_IO;
    default: return EXIT_RUNTIME;
    }
}

int cli_fail(const sl_error *err)
{
    if (cli_rank() > 0)
        return cli_exit_code(err->code); /* the ranks agreed on it: rank 0 says it */
    char buf[2048];
    fprintf(stderr, "sluice: %s\n", sl_error_format(err, buf, sizeof buf));
    return cli_exit_code(err->code);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nrun 'sluice --help' for usage\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_verror(int code, const char *fmt, va_list ap)
{
    fputs("sluice: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_parse_count(const char *s, long long max, long long *out)
{
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 1 || v > max)
        return 0;
    *out = v;
    return 1;
}

int cli_name_width(const sl_pipeline *p)
{
    size_t w = 16;
    for (size_t i = 0; i < sl_pipeline_stage_count(p); i++) {
        size_t n = strlen(sl_pipeline_stage_name(p, i));
        w = n > w ? n : w;
    }
    return (int)w;
}

static volatile sig_atomic_t stop_signal;

volatile sig_atomic_t *cli_stop_flag(void)
{
    return &stop_signal;
}

/* The first SIGINT or SIGTERM asks the run to stop at its next chunk
 * boundary (async-signal-safe: it only sets the flag the library polls); a
 * second one gets the default action, so that a user can always get out. */
static void on_stop_signal(int sig)
{
    if (stop_signal) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        raise(sig); /* blocked until this handler returns, then fatal */
        return;
    }
    stop_signal = sig;
}

void cli_catch_stop_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < 2; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART; /* no EINTR in the library's system calls */
        /* a signal ignored when sluice started (nohup, a background job) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
}

static int cli_main(int argc, char **argv)
{
    /* A reader of stdout that goes away (`sluice run p.yaml | head -1`)
     * must not kill a run half-way with SIGPIPE: writes to stdout then fail
     * with EPIPE, and the run stops writing there and goes on. */
    signal(SIGPIPE, SIG_IGN);
    /* HDF5's exit handler closes the files still open, and crashes on one
     * whose H5Fclose failed (a full disk at commit; HDF5 1.10). Every file
     * sluice wrote is closed or abandoned by then: skip the handler. */
    H5dont_atexit();
    /* before anything can call BLIS: it reads BLIS_ARCH_TYPE once */
    const char *kernels = sl_blis_select_kernels();
    if (argc < 2)
        return fputs(usage, stderr), EXIT_USAGE;
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
        return fputs(usage, stdout), EXIT_OK;
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("sluice %s\n", sl_version());
        printf("BLIS kernels: %s%s\n", sl_blis_kernels(),
               kernels ? " (chosen by sluice: this BLIS does not know this CPU; set BLIS_ARCH_TYPE to override)" : "");
        return EXIT_OK;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    if (strcmp(cmd, "clean") == 0)
        return cmd_clean(argc - 1, argv + 1);
    if (strcmp(cmd, "submit") == 0)
        return cmd_submit(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "graph") == 0)
        return cmd_graph(argc - 1, argv + 1);
    if (strcmp(cmd, "ops") == 0)
        return cmd_ops(argc - 1, argv + 1);
    if (strcmp(cmd, "convert-csv") == 0)
        return cmd_convert_csv(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s'; commands: run, status, clean, submit, check, graph, report, ops, "
                           "convert-csv, version",
                           cmd);
}

/* sluice-mpi (-Dmpi=enabled) starts MPI for `run`, alone as a singleton
 * when not started by mpirun. Stage workers make the MPI calls, one at a time
 * (docs/cluster.md): MPI_THREAD_SERIALIZED is what that needs. */
int main(int argc, char **argv)
{
    /* A thread that waits for its chunk's turn (the ordered merge) or for
     * the next pass sleeps instead of spinning, unless the user says
     * otherwise: on a machine whose cores other work also uses, libgomp's
     * default spinning took the core the computing thread needed (a 2M-row
     * logreg at load 1.7: -j 2 3.5 s spinning, 2.0 s passive, -j 1 1.7 s);
     * at a lighter load the wall times are the same and the CPU time 4 %
     * lower (farm-bench, 8 pairs, the 8M-row regression with
     * checkpoint: final). libgomp reads the variable when it is loaded,
     * before main, so setting it here takes a new image of this program
     * (GOMP_SPINCOUNT, shown by OMP_DISPLAY_ENV=verbose, is 0 then); when
     * that cannot be had, the run goes on as it is. */
    if (!getenv("OMP_WAIT_POLICY")) {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        setenv("OMP_WAIT_POLICY", "passive", 1);
        if (n > 0) {
            self[n] = '\0';
            execv(self, argv);
        }
    }
#ifdef SL_HAVE_MPI
    /* Only `run` splits work over ranks. The other commands stay out of
     * MPI: an MPI process (even a singleton) exports OpenMPI's and PMIx's
     * variables, and `submit` would hand them to sbatch, whose job's own
     * mpirun then takes itself for a child of this one and fails. */
    if (argc < 2 || strcmp(argv[1], "run") != 0)
        return cli_main(argc, argv);
    int provided = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
        fputs("sluice: MPI could not start; run sluice-mpi with mpirun, or use sluice\n", stderr);
        return EXIT_IO;
    }
    int rc;
    if (provided < MPI_THREAD_SERIALIZED) {
        fputs("sluice: this MPI library does not allow calls from more than one thread (MPI_THREAD_SERIALIZED); "
              "use an MPI built with thread support\n",
              stderr);
        rc = EXIT_IO;
    } else {
        rc = cli_main(argc, argv);
    }
    MPI_Finalize();
    return rc;
#else
    return cli_main(argc, argv);
#endif
}
