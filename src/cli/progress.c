/* Progress of `sluice run`: a live status line on a terminal, and one summary
 * line per finished stage (rows, bytes, seconds, the figures it recorded). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"

typedef struct stage_view {
    int running;
    char why[512]; /* why it runs, when that is news (not a first run) */
    const char *pass;
    long long done, total;
} stage_view;

struct cli_progress {
    const sl_pipeline *p;
    FILE *out;
    int live, quiet, line_shown;
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

static void draw(cli_progress *pr)
{
    char line[160];
    int used = snprintf(line, sizeof line, "[%zu/%zu]", pr->finished, pr->n);
    for (size_t i = 0; i < pr->n && used < (int)sizeof line; i++) {
        const stage_view *v = &pr->stages[i];
        if (!v->running)
            continue;
        if (v->total <= 0) {
            used += snprintf(line + used, sizeof line - (size_t)used, " %s starting", sl_pipeline_stage_name(pr->p, i));
            continue;
        }
        int pct = (int)(100 * v->done / v->total);
        used += snprintf(line + used, sizeof line - (size_t)used, " %s %s %d%% (%lld/%lld chunks)",
                         sl_pipeline_stage_name(pr->p, i), v->pass ? v->pass : "", pct, v->done, v->total);
    }
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

static void print_done(cli_progress *pr, const sl_event *ev)
{
    char bytes[32];
    human_bytes(ev->bytes, bytes, sizeof bytes);
    if (ev->in_place)
        snprintf(bytes, sizeof bytes, "in place");
    const sl_op *op = sl_pipeline_stage_op(pr->p, ev->stage);
    if (ev->streamed)
        fprintf(pr->out, "%-16s %-12s %15s %10s %10s", ev->name, op->name, "", "", "streamed");
    else if (ev->reused)
        fprintf(pr->out, "%-16s %-12s %10lld rows %10s %10s", ev->name, op->name, (long long)ev->rows, "", "reused");
    else
        fprintf(pr->out, "%-16s %-12s %10lld rows %10s %8.3f s", ev->name, op->name, (long long)ev->rows, bytes,
                ev->seconds);
    size_t nr = sl_pipeline_stage_result_count(pr->p, ev->stage);
    for (size_t k = 0; k < nr; k++) {
        double v;
        const char *key = sl_pipeline_stage_result(pr->p, ev->stage, k, &v);
        fprintf(pr->out, "  %s=%.6g", key, v);
    }
    if (!ev->reused && pr->stages[ev->stage].why[0])
        fprintf(pr->out, "  (ran: %s)", pr->stages[ev->stage].why);
    fputc('\n', pr->out);
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

void cli_progress_event(const sl_event *ev, void *user)
{
    cli_progress *pr = user;
    count_event(pr, ev);
    if (pr->quiet)
        return;
    stage_view *v = &pr->stages[ev->stage];
    switch (ev->kind) {
    case SL_EVENT_STAGE_START:
        v->running = 1;
        snprintf(v->why, sizeof v->why, "%s",
                 ev->reason && strcmp(ev->reason, "no checkpoint yet") != 0 ? ev->reason : "");
        v->pass = NULL;
        v->done = v->total = 0;
        break;
    case SL_EVENT_PROGRESS:
        v->pass = ev->pass;
        v->done = ev->done;
        v->total = ev->total;
        break;
    case SL_EVENT_STAGE_DONE:
    case SL_EVENT_STAGE_FAILED:
        v->running = 0;
        pr->finished++;
        clear_line(pr);
        if (ev->kind == SL_EVENT_STAGE_DONE)
            print_done(pr, ev);
        else if (ev->status == SL_ERR_CANCELLED)
            fprintf(pr->out, "%-16s stopped after %.3f s%s\n", ev->name, ev->seconds,
                    ev->resumable ? " (its work so far is kept: the next run resumes it)" : "");
        else
            fprintf(pr->out, "%-16s failed after %.3f s\n", ev->name, ev->seconds);
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
