/* sluice report: the run report (one self-contained HTML file). CLI-private:
 * the library never prints, so the layout and the SVG are made here. */
#ifndef SL_CLI_REPORT_H
#define SL_CLI_REPORT_H

#include <stddef.h>
#include <stdio.h>
#include "sluice/sluice.h"

/* ---- run.log (runlog.c) ---- */

/* One run.log line: the fields the report uses. Strings are NULL when the
 * line lacks them; numbers are -1 (times: 0) when absent. */
typedef struct rl_entry {
    char *stage, *op, *status, *reason, *error, *resume;
    double start, end, seconds, ready, run_start;
    long long rows, bytes, bytes_read, pid;
    int threads;
} rl_entry;

typedef struct rl_log {
    rl_entry *e;
    size_t n;
    size_t bad;        /* lines that are not a JSON object (a torn last line, say) */
    size_t last_begin; /* the most recent run is e[last_begin .. n) */
} rl_log;

/* Reads path into *log. 0 on success, -1 when the file cannot be opened
 * (errno says why); an empty log is a success with n == 0. */
int rl_read(const char *path, rl_log *log);
void rl_free(rl_log *log);

/* ---- HTML/SVG text (report_svg.c) ---- */

/* Writes s with &, <, >, " and ' escaped: safe in element text and in
 * double-quoted attribute values of HTML and SVG. */
void rep_esc(FILE *f, const char *s);
/* Byte count as "12.3 MiB". */
void rep_bytes(char *buf, size_t size, long long bytes);
/* Seconds as "0.8 ms", "1.24 s", "3 min 5 s". */
void rep_seconds(char *buf, size_t size, double s);

/* A line series for rep_line_chart. */
typedef struct rep_series {
    const char *name;
    const double *y; /* y[k] at x = k + 1 (epochs count from 1) */
    size_t n;
} rep_series;

/* An SVG line chart of the series (x: 1..n); a log y axis when the positive
 * values span more than two decades. */
void rep_line_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel, const rep_series *s,
                    size_t ns);

/* One bar of the timeline. */
typedef struct rep_bar {
    const char *label;
    double start, ready, end; /* seconds from the run's start; ready: computed, then written until end (<0: none) */
    const char *kind;         /* css class: ran, reused, streamed, failed */
} rep_bar;
void rep_timeline(FILE *f, const rep_bar *b, size_t n);

/* ---- the DAG (dag_layout.c) ---- */

typedef struct dag_point {
    double x, y;
} dag_point;

typedef struct dag_edge {
    size_t from, to;
    const char *label;  /* the input parameter's name */
    dag_point *pts;     /* the route: source port, two points (column in, out) per layer crossed, target port */
    size_t npts;
} dag_edge;

typedef struct dag_layout {
    size_t n;
    double *x, *y, *w, *h; /* each node's box: top-left corner and size */
    int *layer;
    dag_edge *edges;
    size_t nedges;
    double width, height;
} dag_layout;

/* Lays out the pipeline's stages left to right in layers (a stage one layer
 * after its latest input), orders each layer to cut crossings, and routes
 * every input edge. w[i]: the width stage i's box needs. 0 or -1 (OOM). */
int dag_layout_make(const sl_pipeline *p, const double *w, double h, dag_layout *out);
void dag_layout_free(dag_layout *l);

/* ---- the report (report.c) ---- */

/* Writes the report of the pipeline file `file` (workdir: NULL for the
 * file's) to out_path (NULL: workdir/report.html), then prints its path
 * unless quiet. An exit code. */
int cli_report_write(const char *file, const char *workdir, const char *out_path, int quiet);

#endif
