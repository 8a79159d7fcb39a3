/* Progress of `sluice run`: a live status line on a terminal, and one summary
 * line per finished stage (rows, bytes, seconds, the figures it recorded). */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"

typedef struct stage_view {
    int running;
    char why[512]; /* why it runs, when that is news (not a first run) */
    const char *pass;
    long long done, total;
    double pass_t0;              /* when the current pass started (for its ETA) */
    long long epoch, epochs;     /* training: the last epoch done, of how many (0: none) */
    double loss, epochs_t0;      /* its loss; when the first epoch started */
} stage_view;

struct cli_progress {
    const sl_pipeline *p;
    FILE *out;
    int live, quiet, line_shown;
    int name_w; /* the stage-name column */
    size_t n, finished;
    size_t committed;   /* stages computed and committed by this run */
    char resume[512];   /* stages an interruption left to resume: "'a', 'b'" */
    stage_view *stages;
    double last_draw;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

cli_progress *cli_progress_new(const sl_pipeline *p, FILE *out, int live, int quiet)
{
    cli_progress *pr = calloc(1, sizeof *pr);
    if (!pr)
        return NULL;
    pr->p = p;
    pr->out = out;
    pr->live = live;
    pr->quiet = quiet;
    pr->n = sl_pipeline_stage_count(p);
    pr->name_w = cli_name_width(p);
    pr->stages = calloc(pr->n ? pr->n : 1, sizeof *pr->stages);
    if (!pr->stages) {
        free(pr);
        return NULL;
    }
    return pr;
}

void cli_progress_free(cli_progress *pr)
{
    if (pr) {
        free(pr->stages);
        free(pr);
    }
}

static void clear_line(cli_progress *pr)
{
    if (pr->line_shown) {
        fputs("\r\033[K", pr->out);
        pr->line_shown = 0;
    }
}

/* Columns of the terminal the line goes to. Asked at every redraw: after a
 * resize (SIGWINCH) the next redraw fits the new width, with no signal
 * handler. Not a terminal (`--progress always` into a pipe or a log):
 * $COLUMNS, else 160, where nothing wraps. */
static int columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int v = c ? atoi(c) : 0;
    return v > 0 ? v : 160;
}

/* "12s", "3m05s", "2h07m": the time left at the rate so far. */
static void eta_text(double left, char *buf, size_t n)
{
    long long s = (long long)left + (left > (double)(long long)left);
    if (s < 60)
        snprintf(buf, n, "%llds", s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm%02llds", s / 60, s % 60);
    else
        snprintf(buf, n, "%lldh%02lldm", s / 3600, s % 3600 / 60);
}

/* One running stage at a level of detail: 2 everything (chunks, ETA, loss),
 * 1 the stage, its pass and percent (or epoch), 0 the stage and percent. */
static int stage_text(const cli_progress *pr, size_t i, int detail, double t, char *buf, size_t n)
{
    const stage_view *v = &pr->stages[i];
    const char *name = sl_pipeline_stage_name(pr->p, i);
    if (v->epochs > 0) {
        if (detail == 0)
            return snprintf(buf, n, "%s %lld/%lld", name, v->epoch, v->epochs);
        int k = snprintf(buf, n, "%s epoch %lld/%lld loss %.4g", name, v->epoch, v->epochs, v->loss);
        double spent = t - v->epochs_t0;
        if (detail == 2 && v->epoch < v->epochs && spent > 2) {
            char eta[32];
            eta_text(spent / (double)v->epoch * (double)(v->epochs - v->epoch), eta, sizeof eta);
            k += snprintf(buf + k, n > (size_t)k ? n - (size_t)k : 0, " ETA %s", eta);
        }
        return k;
    }
    if (v->total <= 0)
        return snprintf(buf, n, "%s starting", name);
    int pct = (int)(100 * v->done / v->total);
    if (detail == 0)
        return snprintf(buf, n, "%s %d%%", name, pct);
    int k = snprintf(buf, n, "%s %s %d%%", name, v->pass ? v->pass : "", pct);
    if (detail == 2) {
        k += snprintf(buf + k, n > (size_t)k ? n - (size_t)k : 0, " (%lld/%lld chunks)", v->done, v->total);
        double spent = t - v->pass_t0;
        if (v->done > 0 && v->done < v->total && spent > 2) {
            char eta[32];
            eta_text(spent / (double)v->done * (double)(v->total - v->done), eta, sizeof eta);
            k += snprintf(buf + k, n > (size_t)k ? n - (size_t)k : 0, " ETA %s", eta);
        }
    }
    return k;
}

/* The live line, never wider than the terminal: a wrapped line leaves its
 * first rows on the screen, since "\r" returns to the start of its last.
 * The most detail that fits; at the least, the stages that fit and "+N". */
static void draw(cli_progress *pr)
{
    char line[1024], part[256];
    int width = columns(pr->out) - 1; /* the last column would wrap on some terminals */
    if (width > (int)sizeof line - 1)
        width = (int)sizeof line - 1;
    double t = now();
    int used = 0;
    for (int detail = 2; detail >= 0; detail--) {
        used = snprintf(line, sizeof line, "[%zu/%zu]", pr->finished, pr->n);
        size_t shown = 0, running = 0;
        for (size_t i = 0; i < pr->n; i++) {
            if (!pr->stages[i].running)
                continue;
            running++;
            int k = stage_text(pr, i, detail, t, part, sizeof part);
            /* room left for " +N" when this is not the last running stage */
            if (used + 1 + k <= width - (detail == 0 ? 5 : 0) && used + 1 + k < (int)sizeof line) {
                used += snprintf(line + used, sizeof line - (size_t)used, " %s", part);
                shown++;
            } else if (detail > 0) {
                shown = SIZE_MAX; /* does not fit: less detail */
                break;
            }
        }
        if (shown == SIZE_MAX)
            continue;
        if (shown < running)
            used += snprintf(line + used, sizeof line - (size_t)used, " +%zu", running - shown);
        break;
    }
    if (used > width)
        used = width > 0 ? width : 0; /* a terminal narrower than the stage count */
    line[used] = '\0';
    clear_line(pr);
    fputs(line, pr->out);
    fflush(pr->out);
    pr->line_shown = 1;
}

static void human_bytes(long long b, char *buf, size_t n)
{
    const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* The matrix of a stage whose output has an array `confusion` with the
 * attributes `labels` (K) and `matrix` (K x K, row i the true label i), as
 * metrics writes: printed under the stage's line while it is narrow enough
 * to read there; a wider one is only named (the checkpoint has it). */
#define CONFUSION_PRINT_MAX 12

static void print_confusion(cli_progress *pr, const sl_event *ev)
{
    const sl_frame *f = sl_pipeline_stage_output(pr->p, ev->stage);
    size_t K = 0, KK = 0;
    const double *labels = f ? sl_frame_attr(f, "confusion", "labels", &K) : NULL;
    const double *m = f ? sl_frame_attr(f, "confusion", "matrix", &KK) : NULL;
    if (!labels || !m || K == 0 || KK != K * K)
        return;
    if (K > CONFUSION_PRINT_MAX) {
        fprintf(pr->out, "%-16s confusion matrix of %zu labels: see the attributes 'labels' and 'matrix' of its "
                "array 'confusion' in the checkpoint\n", "", K);
        return;
    }
    char cell[64];
    int w = 1;
    for (size_t i = 0; i < K; i++) {
        int n = snprintf(cell, sizeof cell, "%.6g", labels[i]);
        w = n > w ? n : w;
    }
    for (size_t c = 0; c < KK; c++) {
        int n = snprintf(cell, sizeof cell, "%.0f", m[c]);
        w = n > w ? n : w;
    }
    fprintf(pr->out, "%-16s confusion (rows: true label, columns: predicted label)\n", "");
    fprintf(pr->out, "%-16s %*s", "", w, "");
    for (size_t j = 0; j < K; j++) {
        snprintf(cell, sizeof cell, "%.6g", labels[j]);
        fprintf(pr->out, "  %*s", w, cell);
    }
    fputc('\n', pr->out);
    for (size_t i = 0; i < K; i++) {
        snprintf(cell, sizeof cell, "%.6g", labels[i]);
        fprintf(pr->out, "%-16s %*s", "", w, cell);
        for (size_t j = 0; j < K; j++)
            fprintf(pr->out, "  %*.0f", w, m[i * K + j]);
        fputc('\n', pr->out);
    }
}

static void print_done(cli_progress *pr, const sl_event *ev)
{
    char bytes[32];
    human_bytes(ev->bytes, bytes, sizeof bytes);
    if (ev->in_place)
        snprintf(bytes, sizeof bytes, "in place");
    const sl_op *op = sl_pipeline_stage_op(pr->p, ev->stage);
    if (ev->streamed)
        fprintf(pr->out, "%-*s %-12s %15s %10s %10s", pr->name_w, ev->name, op->name, "", "", "streamed");
    else if (ev->reused)
        fprintf(pr->out, "%-*s %-12s %10lld rows %10s %10s", pr->name_w, ev->name, op->name, (long long)ev->rows, "",
                "reused");
    else
        fprintf(pr->out, "%-*s %-12s %10lld rows %10s %8.3f s", pr->name_w, ev->name, op->name, (long long)ev->rows,
                bytes, ev->seconds);
    size_t nr = sl_pipeline_stage_result_count(pr->p, ev->stage);
    for (size_t k = 0; k < nr; k++) {
        double v;
        const char *key = sl_pipeline_stage_result(pr->p, ev->stage, k, &v);
        /* counts as integers (rows=7960135, not 7.96014e+06) */
        if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(long long)v)
            fprintf(pr->out, "  %s=%.0f", key, v);
        else
            fprintf(pr->out, "  %s=%.6g", key, v);
    }
    if (!ev->reused && pr->stages[ev->stage].why[0])
        fprintf(pr->out, "  (ran: %s)", pr->stages[ev->stage].why);
    fputc('\n', pr->out);
    if (!ev->streamed)
        print_confusion(pr, ev);
}

/* What an interruption leaves, for its message: counted even when quiet. */
static void count_event(cli_progress *pr, const sl_event *ev)
{
    if (ev->kind == SL_EVENT_STAGE_DONE && !ev->reused && !ev->streamed)
        pr->committed++;
    if (ev->kind == SL_EVENT_STAGE_FAILED && ev->resumable) {
        size_t used = strlen(pr->resume);
        snprintf(pr->resume + used, sizeof pr->resume - used, "%s'%s'", used ? ", " : "", ev->name);
    }
}

/* Once stdout's reader is gone (EPIPE: `sluice run p.yaml | head -1`),
 * nothing more is written there; the run goes on, and run.log has it all. */
static void check_out(cli_progress *pr)
{
    if (ferror(pr->out))
        pr->quiet = 1;
}

int cli_progress_event(const sl_event *ev, void *user)
{
    cli_progress *pr = user;
    count_event(pr, ev);
    if (ev->kind == SL_EVENT_WARNING) { /* on stderr, quiet or not: a result the user must not miss */
        if (!pr->quiet) {
            clear_line(pr);
            fflush(pr->out); /* stderr is not buffered: the line must be gone before the warning comes */
        }
        fprintf(stderr, "warning: stage '%s': %s\n", ev->name, ev->message ? ev->message : "");
        fflush(stderr);
        if (pr->live && !pr->quiet)
            draw(pr);
        return 0;
    }
    if (pr->quiet)
        return 0;
    stage_view *v = &pr->stages[ev->stage];
    switch (ev->kind) {
    case SL_EVENT_STAGE_START:
        v->running = 1;
        snprintf(v->why, sizeof v->why, "%s",
                 ev->reason && strcmp(ev->reason, "no checkpoint yet") != 0 ? ev->reason : "");
        v->pass = NULL;
        v->done = v->total = 0;
        v->epoch = v->epochs = 0;
        break;
    case SL_EVENT_PROGRESS:
        if (v->pass != ev->pass || ev->done < v->done || v->total != ev->total)
            v->pass_t0 = now(); /* a new pass: its ETA starts over */
        v->pass = ev->pass;
        v->done = ev->done;
        v->total = ev->total;
        break;
    case SL_EVENT_EPOCH:
        if (v->epochs == 0)
            v->epochs_t0 = v->pass_t0 ? v->pass_t0 : now();
        v->epoch = ev->done;
        v->epochs = ev->total;
        v->loss = ev->loss;
        break;
    case SL_EVENT_WARNING: /* printed above */
        break;
    case SL_EVENT_STAGE_DONE:
    case SL_EVENT_STAGE_FAILED:
        v->running = 0;
        pr->finished++;
        clear_line(pr);
        if (ev->kind == SL_EVENT_STAGE_DONE)
            print_done(pr, ev);
        else if (ev->status == SL_ERR_CANCELLED)
            fprintf(pr->out, "%-*s stopped after %.3f s%s\n", pr->name_w, ev->name, ev->seconds,
                    ev->resumable ? " (its work so far is kept: the next run resumes it)" : "");
        else
            fprintf(pr->out, "%-*s failed after %.3f s\n", pr->name_w, ev->name, ev->seconds);
        fflush(pr->out);
        check_out(pr);
        break;
    }
    if (pr->live) {
        double t = now();
        if (ev->kind != SL_EVENT_PROGRESS || t - pr->last_draw > 0.1) {
            draw(pr);
            check_out(pr);
            pr->last_draw = t;
        }
    }
    return 0;
}

void cli_progress_finish(cli_progress *pr)
{
    if (pr && !pr->quiet) {
        clear_line(pr);
        fflush(pr->out);
        check_out(pr);
    }
}

int cli_progress_quiet(const cli_progress *pr)
{
    return !pr || pr->quiet;
}

void cli_progress_interrupted(const cli_progress *pr, const char *signame, const char *workdir)
{
    size_t done = pr ? pr->committed : 0;
    const char *resume = pr ? pr->resume : "";
    fprintf(stderr, "sluice: interrupted by %s: %zu stage%s committed to %s%s%s%s; run again to continue\n",
            signame, done, done == 1 ? "" : "s", workdir, resume[0] ? ", " : "", resume,
            resume[0] ? (strchr(resume, ',') ? " will resume where they stopped" : " will resume where it stopped")
                      : "");
}
