/* sluice report: one self-contained HTML file about a pipeline and its
 * workdir. It gathers what the workdir records (run.log, the checkpoints'
 * results and loss attributes) and what the library says now (each stage's
 * freshness), and writes the page: the DAG, the stage table, the timeline of
 * the most recent run, the metrics, the loss curves and the environment.
 * Inline CSS and SVG only: it opens offline, with no script. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <hdf5.h>
#include "cli/cli.h"
#include "cli/report.h"

/* What the report knows of one stage. */
typedef struct stage_info {
    const rl_entry *last; /* its latest run.log line, from any run */
    int have_status;
    sl_stage_status status;
    int has_ckpt;
    long long ckpt_rows, file_bytes, array_bytes;
    char **rkey; /* results, in the order the op recorded them */
    double *rval;
    size_t nres;
    double *loss; /* the `loss` attribute of an array (a trained model) */
    size_t nloss;
    double *vloss; /* its `validation_loss` attribute (logreg's `validation`) */
    size_t nvloss;
} stage_info;

typedef struct report {
    const char *file;
    sl_pipeline *p;
    int planned;
    char *load_error; /* why the pipeline could not be planned (its data is missing, say) */
    char *status_error;
    const char *workdir;
    rl_log log;
    int log_missing;    /* no run.log: not run yet */
    char *log_error;    /* run.log there but unreadable */
    stage_info *st;
    size_t n;
} report;

/* ---- gathering ---- */

static char *fmt_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

/* A string attribute of loc (fixed or variable length), malloc'd; NULL when
 * absent or not a string. */
static char *read_str_attr(hid_t loc, const char *name)
{
    if (H5Aexists(loc, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    char *out = NULL;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(t)); /* HDF5 converts no ASCII <-> UTF-8 */
        if (H5Tis_variable_str(t) > 0) {
            char *v = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &v) >= 0 && v) {
                out = strdup(v);
                H5free_memory(v);
            }
        } else {
            size_t size = H5Tget_size(t);
            H5Tset_size(mt, size + 1);
            out = calloc(size + 2, 1);
            if (out && H5Aread(a, mt, out) < 0) {
                free(out);
                out = NULL;
            }
        }
        H5Tclose(mt);
    }
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return out;
}

/* A numeric attribute as doubles, malloc'd, its length in *n. */
static double *read_num_attr(hid_t loc, const char *name, size_t *n)
{
    *n = 0;
    if (H5Aexists(loc, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return NULL;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    double *v = NULL;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (np > 0 && (cls == H5T_FLOAT || cls == H5T_INTEGER)) {
        v = malloc((size_t)np * sizeof *v);
        if (v && H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0) {
            free(v);
            v = NULL;
        }
        if (v)
            *n = (size_t)np;
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return v;
}

static int add_result(stage_info *si, const char *key, double v)
{
    char **nk = realloc(si->rkey, (si->nres + 1) * sizeof *nk);
    if (!nk)
        return -1;
    si->rkey = nk;
    double *nv = realloc(si->rval, (si->nres + 1) * sizeof *nv);
    if (!nv)
        return -1;
    si->rval = nv;
    if (!(si->rkey[si->nres] = strdup(key)))
        return -1;
    si->rval[si->nres++] = v;
    return 0;
}

static herr_t result_by_name(hid_t loc, const char *name, const H5A_info_t *info, void *user)
{
    (void)info;
    if (strncmp(name, "result.", 7) != 0)
        return 0;
    size_t n;
    double *v = read_num_attr(loc, name, &n);
    int rc = v && n == 1 ? add_result(user, name + 7, v[0]) : 0;
    free(v);
    return rc < 0 ? -1 : 0;
}

/* The arrays of a checkpoint: their bytes (elements x element size, as a
 * reader gets them: a reused stage's run.log line says 0), and the first
 * with a `loss` attribute, a model's loss per epoch (the ops put it on
 * `coef`; any array that has one is a curve to show). Links are walked by
 * index: the iteration callbacks' and object info's types differ between
 * HDF5 1.10 and 1.12. */
static void scan_arrays(hid_t f, stage_info *si)
{
    H5G_info_t gi;
    si->array_bytes = 0;
    if (H5Gget_info(f, &gi) < 0)
        return;
    for (hsize_t k = 0; k < gi.nlinks; k++) {
        char name[SL_NAME_MAX + 1];
        ssize_t len = H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name, H5P_DEFAULT);
        if (len <= 0 || (size_t)len >= sizeof name)
            continue; /* longer than any array name sluice writes: not an array of the frame */
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT); /* fails on a group: skipped */
        if (d < 0)
            continue;
        hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
        hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
        if (np > 0 && t >= 0)
            si->array_bytes += (long long)np * (long long)H5Tget_size(t);
        if (sp >= 0)
            H5Sclose(sp);
        if (t >= 0)
            H5Tclose(t);
        if (!si->loss) {
            si->loss = read_num_attr(d, "loss", &si->nloss);
            if (si->loss)
                si->vloss = read_num_attr(d, "validation_loss", &si->nvloss);
        }
        H5Dclose(d);
    }
}

/* What the stage's checkpoint holds that the report shows: its rows, its
 * size on disk, its results and a loss curve. A checkpoint that cannot be
 * opened (none yet, damaged, held by a run) is simply not shown. */
static void read_checkpoint(const char *workdir, const char *stage, stage_info *si)
{
    char *path = fmt_alloc("%s/%s.h5", workdir, stage);
    struct stat sb;
    if (!path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        free(path);
        return;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    free(path);
    if (f < 0)
        return;
    si->has_ckpt = 1;
    si->file_bytes = (long long)sb.st_size;
    size_t n;
    double *rows = read_num_attr(f, "sluice_rows", &n);
    si->ckpt_rows = rows && n == 1 ? (long long)rows[0] : -1;
    free(rows);
    char *order = read_str_attr(f, "sluice_results");
    if (order) {
        for (char *k = order, *next; k && *k; k = next) {
            next = strchr(k, '\n');
            if (next)
                *next++ = '\0';
            char *an = fmt_alloc("result.%s", k);
            double *v = an ? read_num_attr(f, an, &n) : NULL;
            if (v && n == 1)
                add_result(si, k, v[0]);
            free(v);
            free(an);
        }
        free(order);
    } else {
        hsize_t idx = 0;
        H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, result_by_name, si);
    }
    scan_arrays(f, si);
    H5Fclose(f);
}

static void report_free(report *r)
{
    for (size_t i = 0; r->st && i < r->n; i++) {
        for (size_t k = 0; k < r->st[i].nres; k++)
            free(r->st[i].rkey[k]);
        free(r->st[i].rkey);
        free(r->st[i].rval);
        free(r->st[i].loss);
        free(r->st[i].vloss);
    }
    free(r->st);
    rl_free(&r->log);
    free(r->log_error);
    free(r->load_error);
    free(r->status_error);
    sl_pipeline_free(r->p);
}

/* Loads the pipeline (planned when its data is there, its structure only
 * otherwise), reads run.log and the checkpoints, asks for each stage's
 * freshness. Fails only when the pipeline file itself cannot be read (-1,
 * err says why) or on no memory (-2). */
static int gather(report *r, const char *file, const char *workdir, sl_error *err)
{
    memset(r, 0, sizeof *r);
    r->file = file;
    sl_error lerr;
    if (sl_pipeline_load_file(file, &r->p, &lerr) == SL_OK) {
        r->planned = 1;
    } else {
        char buf[2048];
        r->load_error = strdup(sl_error_format(&lerr, buf, sizeof buf));
        if (sl_pipeline_read_file(file, &r->p, err) != SL_OK)
            return -1;
    }
    r->workdir = workdir ? workdir : sl_pipeline_workdir(r->p);
    r->n = sl_pipeline_stage_count(r->p);
    r->st = calloc(r->n ? r->n : 1, sizeof *r->st);
    if (!r->st)
        return -2;
    char *logpath = fmt_alloc("%s/run.log", r->workdir);
    if (logpath && rl_read(logpath, &r->log) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            r->log_missing = 1;
        else
            r->log_error = fmt_alloc("cannot read '%s': %s", logpath, strerror(errno));
    }
    free(logpath);
    for (size_t k = 0; k < r->log.n; k++) {
        size_t i = sl_pipeline_stage_find(r->p, r->log.e[k].stage);
        if (i == SIZE_MAX)
            continue; /* a stage since renamed or removed */
        r->st[i].last = &r->log.e[k];
    }
    for (size_t i = 0; i < r->n; i++)
        if (sl_pipeline_stage_stored(r->p, i))
            read_checkpoint(r->workdir, sl_pipeline_stage_name(r->p, i), &r->st[i]);
    if (r->planned) {
        sl_stage_status *ss = calloc(r->n ? r->n : 1, sizeof *ss);
        sl_run_options opt = SL_RUN_OPTIONS_INIT;
        opt.workdir = workdir;
        sl_error serr;
        if (ss && sl_pipeline_status(r->p, &opt, ss, &serr) == SL_OK) {
            for (size_t i = 0; i < r->n; i++) {
                r->st[i].have_status = 1;
                r->st[i].status = ss[i];
            }
        } else if (ss) {
            char buf[2048];
            r->status_error = strdup(sl_error_format(&serr, buf, sizeof buf));
        }
        free(ss);
    }
    return 0;
}

/* ---- the page ---- */

/* How stage i fared in the run that last ran it: a CSS class and a word. */
static const char *stage_kind(const report *r, size_t i)
{
    const rl_entry *e = r->st[i].last;
    if (!e || !e->status)
        return "notrun";
    if (strcmp(e->status, "ran") == 0)
        return "ran";
    if (strcmp(e->status, "reused") == 0)
        return "reused";
    if (strcmp(e->status, "streamed") == 0)
        return "streamed";
    return "failed"; /* failed, interrupted */
}

static const char *kind_word(const char *kind)
{
    if (strcmp(kind, "ran") == 0)
        return "computed";
    if (strcmp(kind, "notrun") == 0)
        return "not run";
    return kind;
}

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1f2937;"
    "background:#f8fafc;margin:0}\n"
    "main{max-width:1080px;margin:0 auto;padding:24px 28px 48px}\n"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;padding-bottom:4px;"
    "border-bottom:1px solid #e2e8f0}\n"
    ".sub{color:#64748b;margin:0 0 12px}\n"
    ".banner{padding:10px 14px;border-radius:6px;margin:12px 0;border:1px solid}\n"
    ".banner.fail{background:#fef2f2;border-color:#fca5a5;color:#991b1b}\n"
    ".banner.info{background:#eff6ff;border-color:#93c5fd;color:#1e3a8a}\n"
    ".banner pre{white-space:pre-wrap;margin:6px 0 0;font-size:13px}\n"
    ".card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px;overflow-x:auto}\n"
    "table{border-collapse:collapse;width:100%;background:#fff}\n"
    "table.metrics{width:auto;min-width:320px}table.metrics td.num,table.metrics th.num{padding-left:32px}\n"
    ".summary{display:flex;gap:28px;flex-wrap:wrap;margin:14px 0 4px}\n"
    ".summary div{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px 14px;min-width:96px}\n"
    ".summary b{display:block;font-size:20px;font-variant-numeric:tabular-nums}\n"
    ".summary span{font-size:12px;color:#64748b;text-transform:uppercase;letter-spacing:.04em}\n"
    "th,td{padding:5px 9px;border-bottom:1px solid #eef2f7;text-align:left;vertical-align:top}\n"
    "th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#64748b;background:#f1f5f9}\n"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.why{color:#475569;font-size:13px}\n"
    "code,.mono{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12.5px}\n"
    ".badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;"
    "white-space:nowrap}\n"
    ".badge.ran{background:#dbeafe;color:#1e40af}.badge.reused{background:#dcfce7;color:#166534}\n"
    ".badge.streamed{background:#f1f5f9;color:#475569;border:1px dashed #94a3b8}"
    ".badge.failed{background:#fee2e2;color:#991b1b}.badge.notrun{background:#f3f4f6;color:#6b7280}\n"
    ".badge.fresh{background:#dcfce7;color:#166534}.badge.stale{background:#fef3c7;color:#92400e}"
    ".badge.missing{background:#f3f4f6;color:#6b7280}\n"
    ".legend-row{display:flex;gap:16px;flex-wrap:wrap;margin:8px 2px 0;font-size:13px;color:#475569}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}\n"
    "svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}\n"
    "svg{max-width:100%;height:auto}\n"
    ".node rect{stroke-width:1.6}\n"
    ".node.ran rect{fill:#eff6ff;stroke:#2563eb}.node.reused rect{fill:#f0fdf4;stroke:#16a34a}\n"
    ".node.failed rect{fill:#fef2f2;stroke:#dc2626}.node.notrun rect{fill:#f9fafb;stroke:#9ca3af}\n"
    ".node.streamed rect,.node.unstored rect{stroke-dasharray:5 4}\n"
    ".node.streamed rect{fill:#fff;stroke:#64748b}\n"
    ".node .name{font-size:13px;font-weight:600;fill:#111827}.node .op{font-size:11px;fill:#64748b}\n"
    ".edge{fill:none;stroke:#94a3b8;stroke-width:1.5}\n"
    ".elabel{font-size:10px;fill:#475569;paint-order:stroke;stroke:#fff;stroke-width:3px}\n"
    ".grid{stroke:#eef2f7}.axis{stroke:#94a3b8}\n"
    ".tick{font-size:11px;fill:#64748b}.alabel{font-size:12px;fill:#475569}\n"
    ".ctitle{font-size:13px;font-weight:600;fill:#1f2937}.legend{font-size:12px;fill:#334155}\n"
    ".series{fill:none;stroke-width:2}\n"
    ".blabel{font-size:12px;fill:#334155}\n"
    ".timeline rect.ran{fill:#3b82f6}.timeline rect.reused{fill:#22c55e}.timeline rect.streamed{fill:#cbd5e1;"
    "stroke:#64748b;stroke-dasharray:3 2}.timeline rect.failed{fill:#ef4444}.timeline rect.disk{fill:#93c5fd}\n"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:-1px;margin-right:5px}\n"
    "h1 code{font-size:inherit}\n"
    ".env th{width:210px}\n"
    "footer{margin-top:36px;color:#94a3b8;font-size:12px}\n";

/* Width of a stage's box: its name (13px, bold) or op (11px), whichever is
 * wider, from a mean glyph width; generous rather than tight. */
static double box_width(const char *name, const char *op)
{
    double a = 8.2 * (double)strlen(name), b = 6.6 * (double)strlen(op);
    return fmax(fmax(a, b) + 26, 84);
}

static void write_dag(FILE *f, const report *r)
{
    size_t n = r->n;
    double *w = calloc(n ? n : 1, sizeof *w);
    dag_layout l;
    if (!w)
        return;
    for (size_t i = 0; i < n; i++)
        w[i] = box_width(sl_pipeline_stage_name(r->p, i), sl_pipeline_stage_op(r->p, i)->name);
    const double bh = 44;
    if (dag_layout_make(r->p, w, bh, &l) != 0) {
        free(w);
        fputs("<p>out of memory while drawing the DAG</p>\n", f);
        return;
    }
    fprintf(f, "<div class=\"card\"><svg class=\"dag\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
               "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"the pipeline's stages and inputs\">\n",
            l.width, l.height, l.width, l.height);
    fputs("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" "
          "markerHeight=\"7\" orient=\"auto\"><path d=\"M0,1 L9,5 L0,9 z\" fill=\"#94a3b8\"/></marker></defs>\n",
          f);
    for (size_t e = 0; e < l.nedges; e++) {
        const dag_edge *ed = &l.edges[e];
        fputs("<path class=\"edge\" data-from=\"", f);
        rep_esc(f, sl_pipeline_stage_name(r->p, ed->from));
        fputs("\" data-to=\"", f);
        rep_esc(f, sl_pipeline_stage_name(r->p, ed->to));
        fputs("\" data-param=\"", f);
        rep_esc(f, ed->label);
        fprintf(f, "\" marker-end=\"url(#arrow)\" d=\"M%.1f,%.1f", ed->pts[0].x, ed->pts[0].y);
        /* each hop a cubic leaving and entering horizontally: smooth S-bends */
        for (size_t k = 1; k < ed->npts; k++) {
            const dag_point *a = &ed->pts[k - 1], *b = &ed->pts[k];
            double dx = (b->x - a->x) / 2;
            fprintf(f, " C%.1f,%.1f %.1f,%.1f %.1f,%.1f", a->x + dx, a->y, b->x - dx, b->y, b->x, b->y);
        }
        fputs("\"/>\n", f);
        /* the parameter naming the input, when it is not the plain `input`,
         * halfway along the last hop (the curve's midpoint: its tangents
         * are symmetric) */
        if (ed->label && strcmp(ed->label, "input") != 0) {
            const dag_point *a = &ed->pts[ed->npts - 2], *b = &ed->pts[ed->npts - 1];
            fprintf(f, "<text class=\"elabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (a->x + b->x) / 2,
                    (a->y + b->y) / 2 - 3);
            rep_esc(f, ed->label);
            fputs("</text>\n", f);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = sl_pipeline_stage_name(r->p, i), *kind = stage_kind(r, i);
        fputs("<g class=\"node ", f);
        fputs(kind, f);
        fputs(sl_pipeline_stage_stored(r->p, i) ? "" : " unstored", f);
        fputs("\" id=\"stage-", f);
        rep_esc(f, name);
        fputs("\" data-stage=\"", f);
        rep_esc(f, name);
        fputs("\"><title>", f);
        rep_esc(f, name);
        fprintf(f, " (%s): %s%s</title>", sl_pipeline_stage_op(r->p, i)->name, kind_word(kind),
                sl_pipeline_stage_stored(r->p, i) ? "" : ", not stored (streamed to its readers)");
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"8\"/>", l.x[i], l.y[i], l.w[i],
                l.h[i]);
        fprintf(f, "<text class=\"name\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", l.x[i] + l.w[i] / 2,
                l.y[i] + 19);
        rep_esc(f, name);
        fprintf(f, "</text><text class=\"op\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", l.x[i] + l.w[i] / 2,
                l.y[i] + 34);
        rep_esc(f, sl_pipeline_stage_op(r->p, i)->name);
        fputs("</text></g>\n", f);
    }
    fputs("</svg>\n<div class=\"legend-row\">"
          "<span><span class=\"sw\" style=\"background:#eff6ff;border:1.5px solid #2563eb\"></span>computed</span>"
          "<span><span class=\"sw\" style=\"background:#f0fdf4;border:1.5px solid #16a34a\"></span>reused "
          "(checkpoint fresh)</span>"
          "<span><span class=\"sw\" style=\"background:#fff;border:1.5px dashed #64748b\"></span>streamed "
          "(not stored)</span>"
          "<span><span class=\"sw\" style=\"background:#fef2f2;border:1.5px solid #dc2626\"></span>failed</span>"
          "<span><span class=\"sw\" style=\"background:#f9fafb;border:1.5px solid #9ca3af\"></span>not run</span>"
          "</div></div>\n",
          f);
    dag_layout_free(&l);
    free(w);
}

static void write_stage_table(FILE *f, const report *r)
{
    fputs("<div class=\"card\"><table class=\"stages\">\n<tr><th>stage</th><th>op</th><th>last run</th>"
          "<th class=\"num\">time</th><th class=\"num\">rows</th><th class=\"num\">bytes</th>"
          "<th class=\"num\">on disk</th><th>checkpoint now</th><th>why</th></tr>\n",
          f);
    for (size_t i = 0; i < r->n; i++) {
        const stage_info *si = &r->st[i];
        const rl_entry *e = si->last;
        const char *name = sl_pipeline_stage_name(r->p, i), *kind = stage_kind(r, i);
        char t[64], b[64], d[64];
        rep_seconds(t, sizeof t, e ? e->seconds : -1);
        /* of the checkpoint; of run.log for a stage without one (streamed);
         * a failed stage has none to show */
        int counted = e && strcmp(kind, "failed") != 0;
        long long rows = si->has_ckpt && si->ckpt_rows >= 0 ? si->ckpt_rows : counted ? e->rows : -1;
        long long bytes = si->has_ckpt ? si->array_bytes : counted ? e->bytes : -1;
        rep_bytes(b, sizeof b, bytes);
        rep_bytes(d, sizeof d, si->has_ckpt ? si->file_bytes : -1);
        fputs("<tr data-stage=\"", f);
        rep_esc(f, name);
        fputs("\"><td><code>", f);
        rep_esc(f, name);
        fputs("</code></td><td><code>", f);
        rep_esc(f, sl_pipeline_stage_op(r->p, i)->name);
        fprintf(f, "</code></td><td><span class=\"badge %s\">%s</span></td>", kind, kind_word(kind));
        fprintf(f, "<td class=\"num\">%s</td>", t);
        if (rows >= 0)
            fprintf(f, "<td class=\"num\" data-rows=\"%lld\">%lld</td>", rows, rows);
        else
            fputs("<td class=\"num\">–</td>", f);
        if (bytes >= 0)
            fprintf(f, "<td class=\"num\" data-bytes=\"%lld\">%s</td>", bytes, b);
        else
            fputs("<td class=\"num\">–</td>", f);
        fprintf(f, "<td class=\"num\">%s</td>", d);
        if (si->have_status)
            fprintf(f, "<td><span class=\"badge %s\">%s</span></td>", cli_freshness_name(si->status.state),
                    cli_freshness_name(si->status.state));
        else
            fputs("<td>–</td>", f);
        /* why: how the last run treated the stage, then why it would run now */
        fputs("<td class=\"why\">", f);
        if (e && e->error) {
            fputs("failed: ", f);
            rep_esc(f, e->error);
        } else if (e && strcmp(kind, "reused") == 0) {
            fputs("reused: its checkpoint was fresh", f);
        } else if (e && e->reason) {
            fputs(strcmp(kind, "ran") == 0 ? "recomputed: " : "", f);
            rep_esc(f, e->reason);
        }
        if (e && e->resume) {
            fputs("; ", f);
            rep_esc(f, e->resume);
        }
        if (si->have_status && si->status.reason[0] &&
            (si->status.state == SL_STAGE_STALE || si->status.state == SL_STAGE_MISSING)) {
            fputs(e ? "<br>now: " : "", f);
            rep_esc(f, si->status.reason);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static int by_start(const void *a, const void *b)
{
    const rep_bar *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void write_timeline(FILE *f, const report *r)
{
    const rl_log *lg = &r->log;
    size_t n = lg->n - lg->last_begin;
    if (n == 0) {
        fputs("<p>No run recorded yet.</p>\n", f);
        return;
    }
    rep_bar *b = calloc(n, sizeof *b);
    if (!b)
        return;
    double t0 = lg->e[lg->last_begin].run_start;
    for (size_t k = lg->last_begin; k < lg->n; k++)
        if (!(t0 > 0) || lg->e[k].start < t0)
            t0 = lg->e[k].start;
    for (size_t k = 0; k < n; k++) {
        const rl_entry *e = &lg->e[lg->last_begin + k];
        const char *st = e->status ? e->status : "";
        b[k].label = e->stage;
        b[k].start = e->start - t0;
        b[k].end = e->end - t0;
        b[k].ready = e->ready > 0 ? e->ready - t0 : -1;
        b[k].kind = strcmp(st, "ran") == 0 ? "ran" : strcmp(st, "reused") == 0 ? "reused"
                  : strcmp(st, "streamed") == 0 ? "streamed" : "failed";
    }
    /* run.log is in order of ending; a timeline reads best in order of starting */
    qsort(b, n, sizeof *b, by_start);
    fputs("<div class=\"card\">", f);
    rep_timeline(f, b, n);
    fputs("<div class=\"legend-row\"><span><span class=\"sw\" style=\"background:#3b82f6\"></span>computing</span>"
          "<span><span class=\"sw\" style=\"background:#93c5fd\"></span>committing its checkpoint to disk</span>"
          "<span><span class=\"sw\" style=\"background:#22c55e\"></span>reused</span>"
          "<span><span class=\"sw\" style=\"background:#cbd5e1;border:1px dashed #64748b\"></span>streamed</span>"
          "<span><span class=\"sw\" style=\"background:#ef4444\"></span>failed</span></div></div>\n",
          f);
    free(b);
}

static int is_metrics(const report *r, size_t i)
{
    return strcmp(sl_pipeline_stage_op(r->p, i)->name, "metrics") == 0 && r->st[i].nres > 0;
}

/* One table of the metrics stages: a row per metric, a column per stage. */
static void write_metrics(FILE *f, const report *r)
{
    size_t cols = 0;
    for (size_t i = 0; i < r->n; i++)
        cols += is_metrics(r, i);
    if (cols == 0) {
        fputs("<p>No metrics stage has results yet.</p>\n", f);
        return;
    }
    fputs("<div class=\"card\"><table class=\"metrics\"><tr><th>metric</th>", f);
    for (size_t i = 0; i < r->n; i++)
        if (is_metrics(r, i)) {
            fputs("<th class=\"num\"><code>", f);
            rep_esc(f, sl_pipeline_stage_name(r->p, i));
            fputs("</code></th>", f);
        }
    fputs("</tr>\n", f);
    /* the metrics in order of first appearance */
    for (size_t i = 0; i < r->n; i++) {
        if (!is_metrics(r, i))
            continue;
        for (size_t k = 0; k < r->st[i].nres; k++) {
            const char *key = r->st[i].rkey[k];
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                for (size_t m = 0; is_metrics(r, j) && m < r->st[j].nres && !seen; m++)
                    seen = strcmp(r->st[j].rkey[m], key) == 0;
            if (seen)
                continue;
            fputs("<tr><td><code>", f);
            rep_esc(f, key);
            fputs("</code></td>", f);
            for (size_t j = 0; j < r->n; j++) {
                if (!is_metrics(r, j))
                    continue;
                size_t m = 0;
                while (m < r->st[j].nres && strcmp(r->st[j].rkey[m], key) != 0)
                    m++;
                if (m == r->st[j].nres) {
                    fputs("<td class=\"num\">–</td>", f);
                    continue;
                }
                fputs("<td class=\"num\" data-stage=\"", f);
                rep_esc(f, sl_pipeline_stage_name(r->p, j));
                fputs("\" data-metric=\"", f);
                rep_esc(f, key);
                /* the exact value for a reader (or a test); six digits to look at */
                fprintf(f, "\" data-value=\"%.17g\">%.6g</td>", r->st[j].rval[m], r->st[j].rval[m]);
            }
            fputs("</tr>\n", f);
        }
    }
    fputs("</table></div>\n", f);
}

static void write_losses(FILE *f, const report *r)
{
    size_t models = 0;
    for (size_t i = 0; i < r->n; i++)
        models += r->st[i].nloss > 0;
    if (models == 0) {
        fputs("<p>No trained model with a loss per epoch or step has a checkpoint yet.</p>\n", f);
        return;
    }
    fputs("<div class=\"charts\">\n", f);
    for (size_t i = 0; i < r->n; i++) {
        const stage_info *si = &r->st[i];
        if (!si->nloss)
            continue;
        char *title = fmt_alloc("%s (%s): loss per epoch", sl_pipeline_stage_name(r->p, i),
                                sl_pipeline_stage_op(r->p, i)->name);
        rep_series s[2] = {{"training loss", si->loss, si->nloss}, {"validation loss", si->vloss, si->nvloss}};
        fputs("<div class=\"card loss\" data-stage=\"", f);
        rep_esc(f, sl_pipeline_stage_name(r->p, i));
        fprintf(f, "\" data-epochs=\"%zu\">", si->nloss);
        rep_line_chart(f, title ? title : "loss per epoch", "epoch", "loss", s, si->nvloss ? 2 : 1);
        fputs("</div>\n", f);
        free(title);
    }
    fputs("</div>\n<p class=\"sub\">The training loss of each epoch or Newton step, at the weights it starts "
          "from (the <code>loss</code> attribute of the model's <code>coef</code>), and, for a model given a "
          "<code>validation</code> stage, the validation frame's loss at the same weights "
          "(<code>validation_loss</code>).</p>\n",
          f);
}

static void env_row(FILE *f, const char *key, const char *val)
{
    fputs("<tr><th>", f);
    rep_esc(f, key);
    fputs("</th><td>", f);
    rep_esc(f, val);
    fputs("</td></tr>\n", f);
}

static void utc_text(char *buf, size_t size, double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    if (t > 0 && gmtime_r(&s, &tm))
        strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        snprintf(buf, size, "–");
}

static void write_env(FILE *f, const report *r)
{
    char buf[512];
    fputs("<div class=\"card\"><table class=\"env\">\n", f);
    const rl_log *lg = &r->log;
    const rl_entry *last = lg->n ? &lg->e[lg->n - 1] : NULL;
    if (last && last->threads > 0)
        snprintf(buf, sizeof buf, "%d (this machine has %ld cores)", last->threads, sysconf(_SC_NPROCESSORS_ONLN));
    else
        snprintf(buf, sizeof buf, "not recorded (this machine has %ld cores)", sysconf(_SC_NPROCESSORS_ONLN));
    env_row(f, "threads of the last run", buf);
    utc_text(buf, sizeof buf, last ? (last->run_start > 0 ? last->run_start : last->start) : 0);
    env_row(f, "last run started", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)sl_pipeline_chunk_rows(r->p));
    env_row(f, "rows per chunk", buf);
    env_row(f, "BLIS kernels", sl_blis_kernels());
    env_row(f, "sluice", sl_version());
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
    env_row(f, "HDF5", buf);
#if defined(__clang__)
    env_row(f, "compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
    env_row(f, "compiler", "gcc " __VERSION__);
#endif
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    env_row(f, "host", host);
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        env_row(f, "system", buf);
    }
    fputs("</table></div>\n<p class=\"sub\">Threads and start come from run.log; the rest describes the sluice "
          "that wrote this report.</p>\n",
          f);
}

/* The most recent run at a glance: how many stages it computed, reused,
 * streamed or lost, and its wall time. */
static void write_summary(FILE *f, const report *r)
{
    const rl_log *lg = &r->log;
    if (lg->n == lg->last_begin)
        return;
    size_t ran = 0, reused = 0, streamed = 0, failed = 0;
    double t0 = lg->e[lg->last_begin].run_start, t1 = 0;
    for (size_t k = lg->last_begin; k < lg->n; k++) {
        const rl_entry *e = &lg->e[k];
        const char *st = e->status ? e->status : "";
        ran += strcmp(st, "ran") == 0;
        reused += strcmp(st, "reused") == 0;
        streamed += strcmp(st, "streamed") == 0;
        failed += strcmp(st, "failed") == 0 || strcmp(st, "interrupted") == 0;
        if (!(t0 > 0) || e->start < t0)
            t0 = e->start;
        t1 = fmax(t1, e->end);
    }
    char wall[64];
    rep_seconds(wall, sizeof wall, t1 - t0);
    fprintf(f, "<div class=\"summary\"><div><b>%s</b><span>last run</span></div>"
               "<div><b>%zu</b><span>computed</span></div><div><b>%zu</b><span>reused</span></div>",
            wall, ran, reused);
    if (streamed)
        fprintf(f, "<div><b>%zu</b><span>streamed</span></div>", streamed);
    if (failed)
        fprintf(f, "<div><b>%zu</b><span>failed</span></div>", failed);
    fprintf(f, "<div><b>%zu</b><span>of %zu stages ran</span></div></div>\n", lg->n - lg->last_begin, r->n);
}

static void write_page(FILE *f, const report *r)
{
    const char *name = sl_pipeline_name(r->p);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>sluice report: ",
          f);
    rep_esc(f, name);
    fprintf(f, "</title>\n<style>\n%s</style></head>\n<body><main>\n<h1>Pipeline <code>", css);
    rep_esc(f, name);
    fputs("</code></h1>\n<p class=\"sub\">", f);
    size_t n = r->n;
    fprintf(f, "%zu stage%s · file <code>", n, n == 1 ? "" : "s");
    rep_esc(f, r->file);
    fputs("</code> · workdir <code class=\"workdir\">", f);
    rep_esc(f, r->workdir);
    fputs("</code></p>\n", f);
    /* what went wrong, first */
    const rl_log *lg = &r->log;
    for (size_t k = lg->last_begin; k < lg->n; k++)
        if (lg->e[k].status && (strcmp(lg->e[k].status, "failed") == 0 || strcmp(lg->e[k].status, "interrupted") == 0)) {
            fprintf(f, "<div class=\"banner fail\">The last run %s at stage <code>",
                    strcmp(lg->e[k].status, "failed") == 0 ? "failed" : "was interrupted");
            rep_esc(f, lg->e[k].stage);
            fputs("</code>.", f);
            if (lg->e[k].error) {
                fputs("<pre>", f);
                rep_esc(f, lg->e[k].error);
                fputs("</pre>", f);
            }
            fputs("</div>\n", f);
        }
    if (r->log_missing) {
        fputs("<div class=\"banner info not-run\">Not run yet: there is no <code>run.log</code> in the workdir. "
              "Run <code>sluice run</code> on the file, then make the report again.</div>\n",
              f);
    } else if (r->log_error) {
        fputs("<div class=\"banner fail\">", f);
        rep_esc(f, r->log_error);
        fputs("</div>\n", f);
    }
    if (lg->bad)
        fprintf(f, "<div class=\"banner info\">%zu line%s of run.log could not be read (a run killed while "
                   "writing it?) and %s left out.</div>\n",
                lg->bad, lg->bad == 1 ? "" : "s", lg->bad == 1 ? "is" : "are");
    if (r->load_error) {
        fputs("<div class=\"banner info\">The pipeline could not be planned, so the freshness of its "
              "checkpoints is not shown:<pre>",
              f);
        rep_esc(f, r->load_error);
        fputs("</pre></div>\n", f);
    }
    if (r->status_error) {
        fputs("<div class=\"banner info\">The checkpoints' freshness could not be judged:<pre>", f);
        rep_esc(f, r->status_error);
        fputs("</pre></div>\n", f);
    }
    write_summary(f, r);
    fputs("<h2>Stages and inputs</h2>\n", f);
    write_dag(f, r);
    fputs("<h2>Stages</h2>\n<p class=\"sub\">Last run: how the latest run that reached the stage treated it. "
          "Rows: of its checkpoint. Bytes: of its checkpoint's arrays, uncompressed; on disk: its checkpoint file. Checkpoint now: "
          "what a run would do with it now (<code>sluice status</code>).</p>\n",
          f);
    write_stage_table(f, r);
    fputs("<h2>Timeline of the last run</h2>\n", f);
    write_timeline(f, r);
    fputs("<h2>Metrics</h2>\n", f);
    write_metrics(f, r);
    fputs("<h2>Training loss</h2>\n", f);
    write_losses(f, r);
    fputs("<h2>Environment</h2>\n", f);
    write_env(f, r);
    char now[64];
    utc_text(now, sizeof now, (double)time(NULL));
    fprintf(f, "<footer>Written by <code>sluice report</code> %s, %s.</footer>\n</main></body></html>\n",
            sl_version(), now);
}

/* Prints "sluice: MESSAGE" for a report that cannot be written; exit 3.
 * (Its own name: the error catalogue's test finds its messages by it.) */
static int report_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static int report_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cli_verror(EXIT_IO, fmt, ap);
    va_end(ap);
    return rc;
}

/* mkdir -p: the default report goes into the workdir, which a pipeline not
 * run yet does not have. */
static int make_dirs(const char *dir)
{
    char *d = strdup(dir);
    if (!d)
        return -1;
    for (char *s = d + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(d, 0777) != 0 && errno != EEXIST)
                return free(d), -1;
            *s = '/';
        }
    int rc = mkdir(d, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(d);
    return rc;
}

int cli_report_write(const char *file, const char *workdir, const char *out_path, int quiet)
{
    report r;
    sl_error err;
    sl_error_clear(&err);
    /* a missing or damaged checkpoint is part of the report, not an HDF5 error trace */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int g = gather(&r, file, workdir, &err);
    if (g == 0 && strcmp(r.workdir, ":memory:") == 0) {
        /* nothing to read (no run.log, no checkpoints) and nowhere to write */
        report_free(&r);
        return cli_usage_error("a run in memory (workdir :memory:) keeps no run.log or checkpoints to report on; give "
                               "the pipeline a workdir for a report");
    }
    if (g != 0) {
        report_free(&r);
        if (g == -1)
            return cli_fail(&err);
        fputs("sluice: out of memory\n", stderr);
        return EXIT_RUNTIME;
    }
    char *path = out_path ? strdup(out_path) : fmt_alloc("%s/report.html", r.workdir);
    char *tmp = path ? fmt_alloc("%s.tmp", path) : NULL;
    int rc = EXIT_OK;
    if (!path || !tmp) {
        fputs("sluice: out of memory\n", stderr);
        rc = EXIT_RUNTIME;
    } else if (!out_path && make_dirs(r.workdir) != 0) {
        rc = report_fail("cannot write report '%s': cannot make the workdir: %s; check the workdir, or write the "
                         "report elsewhere with -o FILE",
                         path, strerror(errno));
    } else {
        /* written whole, then renamed: a browser never shows half a report */
        FILE *f = fopen(tmp, "w");
        if (!f) {
            rc = report_fail("cannot write report '%s': %s; check the folder, or write the report elsewhere with "
                             "-o FILE",
                             path, strerror(errno));
        } else {
            write_page(f, &r);
            int bad = ferror(f);
            if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
                rc = report_fail("cannot write report '%s': %s; free space, or write the report elsewhere with -o "
                                 "FILE",
                                 path, strerror(errno ? errno : EIO));
                unlink(tmp);
            } else if (!quiet) {
                printf("report in %s\n", path);
            }
        }
    }
    free(tmp);
    free(path);
    report_free(&r);
    return rc;
}

static const char report_usage[] = "usage: sluice report FILE [-o OUT.html] [--workdir DIR]\n"
                                   "  writes one self-contained HTML page about the pipeline and its workdir\n"
                                   "  (default: workdir/report.html) and prints its path\n";

int cmd_report(int argc, char **argv)
{
    const char *file = NULL, *out = NULL, *workdir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            fputs(report_usage, stdout);
            return EXIT_OK;
        } else if (strcmp(o, "-o") == 0 || strcmp(o, "--output") == 0) {
            if (!val || !*val)
                return cli_usage_error("%s needs a file name for the report", o);
            out = val;
            i++;
        } else if (strcmp(o, "--workdir") == 0) {
            if (!val || !*val)
                return cli_usage_error("--workdir needs a folder");
            workdir = val;
            i++;
        } else if (o[0] == '-' && o[1]) {
            return cli_usage_error("unknown option '%s' for %s", o, "report");
        } else if (!file) {
            file = o;
        } else {
            return cli_usage_error("%s takes one pipeline file; '%s' is extra", "report", o);
        }
    }
    if (!file)
        return cli_usage_error("%s needs a pipeline file: sluice %s FILE", "report", "report");
    return cli_report_write(file, workdir, out, 0);
}
