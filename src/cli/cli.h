/* The sluice command-line tool: shared declarations. */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include "sluice/sluice.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_IO = 3 };

/* Exit code for a library status. */
int cli_exit_code(sl_status s);
/* Prints "sluice: <formatted error>" to stderr and returns the exit code. */
int cli_fail(const sl_error *err);
/* Prints a usage error to stderr and returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Prints "sluice: <message>" to stderr and returns code. */
int cli_verror(int code, const char *fmt, va_list ap);
/* "fresh", "stale", "missing", "streamed" or "skipped". */
const char *cli_freshness_name(sl_stage_freshness s);
/* The width of the stage-name column: 16, or the longest name (the members
 * of an expanded stage, fit[fold=0,l2=0.1], are long). */
int cli_name_width(const sl_pipeline *p);
/* Parses a positive integer option value; 0 on error. */
int cli_parse_count(const char *s, long long max, long long *out);

/* This process's rank under mpirun (sluice-mpi), 0 otherwise: only rank 0
 * prints progress, summaries and the errors the ranks agreed on. */
int cli_rank(void);
/* Every rank passes its exit code (and its error when it failed) for a step
 * the ranks take apart, such as loading the pipeline file; all return the
 * exit code of the first failing rank, which alone prints its error. */
int cli_settle(int rc, const sl_error *err);

int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_convert_csv(int argc, char **argv);

/* Progress display for `sluice run`. */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_new(const sl_pipeline *p, FILE *out, int live, int quiet);
void cli_progress_free(cli_progress *pr);
int cli_progress_event(const sl_event *ev, void *user);
/* Clears a live line before an error is printed. */
void cli_progress_finish(cli_progress *pr);
/* 1 when nothing more goes to stdout (-q, or its reader is gone). */
int cli_progress_quiet(const cli_progress *pr);
/* The one line on stderr for a run stopped by a signal: what was committed,
 * which stages will resume, what to do. pr may be NULL. */
void cli_progress_interrupted(const cli_progress *pr, const char *signame, const char *workdir);

/* SIGINT and SIGTERM set *cli_stop_flag() (the signal's number) and so stop a
 * run at its next chunk boundary; a second one ends the process at once. */
void cli_catch_stop_signals(void);
volatile sig_atomic_t *cli_stop_flag(void);

#endif
