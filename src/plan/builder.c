/* Pipelines built in code (sl_pipeline_new, sl_pipeline_add_stage, the
 * typed setters, sl_pipeline_plan) and frames bound to stages.
 *
 * A draft records settings and stages with typed values. Planning writes
 * them out as the YAML a user would have written, one parameter a line, and
 * loads that through the same parser and planner as a file: a built
 * pipeline is validated, planned and cached exactly as a loaded one. A line
 * map turns an error's position in that text back into the stage and
 * parameter it came from. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/fsutil.h"
#include "plan/pipeline_int.h"

typedef struct draft_value {
    char *key;  /* parameter or setting */
    char *yaml; /* its value as one line of YAML (flow style) */
} draft_value;

typedef struct draft_stage {
    char *name;
    char *op;
    size_t n, cap;
    draft_value *params;
} draft_stage;

struct sl__draft {
    char *name;
    char *yaml;       /* a draft made from YAML text (sl_pipeline_new_from_string); NULL: built here */
    size_t yaml_len;
    char *base_dir;
    size_t n_settings, cap_settings;
    draft_value *settings;
    size_t n, cap;
    draft_stage *stages;
};

/* ---- text ---- */

/* Text written with printf calls into a growing string: a memory stream,
 * as run.log's lines are made (scheduler.c), opened at the first write. */
typedef struct text {
    FILE *f;
    char *s;
    size_t len;
    int failed;
} text;

static void put(text *t, const char *fmt, ...) SL_PRINTF(2, 3);
static void put(text *t, const char *fmt, ...)
{
    if (!t->f && !t->failed && !(t->f = open_memstream(&t->s, &t->len)))
        t->failed = 1;
    if (t->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(t->f, fmt, ap) < 0)
        t->failed = 1;
    va_end(ap);
}

/* A YAML double-quoted scalar: every string the caller gives is data, never
 * YAML syntax (a stage named "a: b" or a path with '#' stays one string). */
static void put_quoted(text *t, const char *s)
{
    put(t, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            put(t, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            put(t, "\\x%02x", *c);
        else
            put(t, "%c", *c);
    }
    put(t, "\"");
}

static void put_number(text *t, double v)
{
    if (isnan(v))
        put(t, ".nan");
    else if (isinf(v))
        put(t, v > 0 ? ".inf" : "-.inf");
    else
        put(t, "%.17g", v);
}

/* The text written (malloc'd; "" when nothing was), or NULL when a write or
 * an allocation failed. */
static char *take(text *t)
{
    if (t->f && fclose(t->f) != 0)
        t->failed = 1;
    t->f = NULL;
    if (t->failed) {
        free(t->s);
        return NULL;
    }
    return t->s ? t->s : strdup("");
}

/* ---- the draft ---- */

static sl_status not_draft(const sl_pipeline *p, const char *call, sl_error *err)
{
    if (!p)
        return sl__error_set(err, SL_ERR_USAGE, "%s needs a pipeline", call);
    return sl__error_set(err, SL_ERR_USAGE,
                         "%s: pipeline '%s' is already planned; stages and settings are added before "
                         "sl_pipeline_plan, to a pipeline made by sl_pipeline_new",
                         call, p->name);
}

static void free_values(draft_value *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].yaml);
    }
    free(v);
}

void sl__draft_free(sl__draft *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->stages[i].name);
        free(d->stages[i].op);
        free_values(d->stages[i].params, d->stages[i].n);
    }
    free(d->stages);
    free_values(d->settings, d->n_settings);
    free(d->name);
    free(d->yaml);
    free(d->base_dir);
    free(d);
}

sl_pipeline *sl_pipeline_new(const char *name)
{
    sl_pipeline *p = calloc(1, sizeof *p);
    sl__draft *d = calloc(1, sizeof *d);
    char *cwd = getcwd(NULL, 0);
    if (p && d && cwd) {
        d->name = strdup(name && name[0] ? name : "pipeline");
        d->base_dir = sl__path_normalize(cwd);
        p->path = d->name ? strdup(d->name) : NULL;
    }
    free(cwd);
    if (!p || !d || !d->name || !d->base_dir || !p->path) {
        if (p)
            free(p->path);
        free(p);
        sl__draft_free(d);
        return NULL;
    }
    p->draft = d;
    p->name = d->name;
    return p;
}

sl_status sl_pipeline_new_from_string(const char *yaml, size_t len, const char *name, const char *base_dir,
                                      sl_pipeline **out, sl_error *err)
{
    sl_error_clear(err);
    if (!yaml || !out)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_new_from_string needs text and an output pointer");
    *out = NULL;
    sl_pipeline *p = sl_pipeline_new(name ? name : "<string>");
    char *copy = p ? malloc(len + 1) : NULL;
    char *dir = base_dir && p ? sl__path_normalize(base_dir) : NULL;
    if (!p || !copy || (base_dir && !dir)) {
        free(copy);
        free(dir);
        sl_pipeline_free(p);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, yaml, len);
    copy[len] = '\0';
    p->draft->yaml = copy;
    p->draft->yaml_len = len;
    if (dir) {
        free(p->draft->base_dir);
        p->draft->base_dir = dir;
    }
    *out = p;
    return SL_OK;
}

static draft_stage *find_draft_stage(sl__draft *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->stages[i].name, name) == 0)
            return &d->stages[i];
    return NULL;
}

/* Sets key to yaml in a list of values (replacing an earlier value). */
static sl_status set_value(draft_value **list, size_t *n, size_t *cap, const char *key, char *yaml, sl_error *err)
{
    if (!yaml)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i].key, key) == 0) {
            free((*list)[i].yaml);
            (*list)[i].yaml = yaml;
            return SL_OK;
        }
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 8;
        draft_value *v = realloc(*list, c * sizeof *v);
        if (!v) {
            free(yaml);
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        }
        *list = v;
        *cap = c;
    }
    char *k = strdup(key);
    if (!k) {
        free(yaml);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    (*list)[(*n)++] = (draft_value){k, yaml};
    return SL_OK;
}

static sl_status check_builder(sl_pipeline *p, const char *call, sl_error *err)
{
    sl_error_clear(err);
    if (!p || !p->draft)
        return not_draft(p, call, err);
    if (p->draft->yaml)
        return sl__error_set(err, SL_ERR_USAGE,
                             "%s: pipeline '%s' comes from YAML text; add its stages there, or build it with "
                             "sl_pipeline_new",
                             call, p->name);
    return SL_OK;
}

sl_status sl_pipeline_set(sl_pipeline *p, const char *key, const char *value, sl_error *err)
{
    sl_status s = check_builder(p, "sl_pipeline_set", err);
    if (s)
        return s;
    if (!key || !value)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_set needs a setting name and a value");
    if (strcmp(key, "stages") == 0 || strcmp(key, "pipeline") == 0)
        return sl__error_set(err, SL_ERR_USAGE,
                             "sl_pipeline_set: '%s' is not a setting; the name is sl_pipeline_new's, stages come "
                             "from sl_pipeline_add_stage",
                             key);
    /* plain when it can only be read one way, so that numbers are numbers
     * ("4096" quoted is a string, which chunk_rows refuses) */
    int plain = value[0] != '\0';
    for (const char *c = value; *c && plain; c++)
        plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                *c == '.' || *c == '+' || *c == '-';
    text t = {0};
    if (plain)
        put(&t, "%s", value);
    else
        put_quoted(&t, value);
    sl__draft *d = p->draft;
    return set_value(&d->settings, &d->n_settings, &d->cap_settings, key, take(&t), err);
}

sl_status sl_pipeline_add_stage(sl_pipeline *p, const char *stage, const char *op, sl_error *err)
{
    sl_status s = check_builder(p, "sl_pipeline_add_stage", err);
    if (s)
        return s;
    if (!stage || !op)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_add_stage needs a stage name and an op name");
    sl__draft *d = p->draft;
    if (find_draft_stage(d, stage))
        return sl__error_set(err, SL_ERR_USAGE, "pipeline '%s' already has a stage named '%s'", p->name, stage);
    if (d->n == d->cap) {
        size_t c = d->cap ? 2 * d->cap : 8;
        draft_stage *v = realloc(d->stages, c * sizeof *v);
        if (!v)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        d->stages = v;
        d->cap = c;
    }
    draft_stage *st = &d->stages[d->n];
    memset(st, 0, sizeof *st);
    st->name = strdup(stage);
    st->op = strdup(op);
    if (!st->name || !st->op) {
        free(st->name);
        free(st->op);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    d->n++;
    return SL_OK;
}

/* Sets parameter `param` of a draft's stage to a value already in YAML. */
static sl_status set_param(sl_pipeline *p, const char *call, const char *stage, const char *param, text *t,
                           sl_error *err)
{
    sl_status s = check_builder(p, call, err);
    draft_stage *st = s == SL_OK && stage ? find_draft_stage(p->draft, stage) : NULL;
    if (s == SL_OK && (!stage || !param))
        s = sl__error_set(err, SL_ERR_USAGE, "%s needs a stage name and a parameter name", call);
    else if (s == SL_OK && !st)
        s = sl__error_set(err, SL_ERR_USAGE, "%s: pipeline '%s' has no stage named '%s'; add it first with "
                          "sl_pipeline_add_stage", call, p->name, stage);
    else if (s == SL_OK && strcmp(param, "op") == 0)
        s = sl__error_set(err, SL_ERR_USAGE, "%s: a stage's op is given to sl_pipeline_add_stage", call);
    if (s) {
        free(take(t));
        return s;
    }
    return set_value(&st->params, &st->n, &st->cap, param, take(t), err);
}

sl_status sl_pipeline_set_int(sl_pipeline *p, const char *stage, const char *param, int64_t value, sl_error *err)
{
    text t = {0};
    put(&t, "%lld", (long long)value);
    return set_param(p, "sl_pipeline_set_int", stage, param, &t, err);
}

sl_status sl_pipeline_set_number(sl_pipeline *p, const char *stage, const char *param, double value, sl_error *err)
{
    text t = {0};
    put_number(&t, value);
    return set_param(p, "sl_pipeline_set_number", stage, param, &t, err);
}

sl_status sl_pipeline_set_bool(sl_pipeline *p, const char *stage, const char *param, int value, sl_error *err)
{
    text t = {0};
    put(&t, "%s", value ? "true" : "false");
    return set_param(p, "sl_pipeline_set_bool", stage, param, &t, err);
}

sl_status sl_pipeline_set_string(sl_pipeline *p, const char *stage, const char *param, const char *value,
                                 sl_error *err)
{
    if (!value)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_set_string needs a value");
    text t = {0};
    put_quoted(&t, value);
    return set_param(p, "sl_pipeline_set_string", stage, param, &t, err);
}

sl_status sl_pipeline_set_input(sl_pipeline *p, const char *stage, const char *param, const char *from,
                                sl_error *err)
{
    if (!from)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_set_input needs the stage it reads");
    text t = {0};
    put_quoted(&t, from);
    return set_param(p, "sl_pipeline_set_input", stage, param, &t, err);
}

sl_status sl_pipeline_set_strings(sl_pipeline *p, const char *stage, const char *param, const char *const *values,
                                  size_t n, sl_error *err)
{
    if (n && !values)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_set_strings needs %zu values", n);
    text t = {0};
    put(&t, "[");
    for (size_t i = 0; i < n; i++) {
        put(&t, i ? ", " : "");
        put_quoted(&t, values[i] ? values[i] : "");
    }
    put(&t, "]");
    return set_param(p, "sl_pipeline_set_strings", stage, param, &t, err);
}

sl_status sl_pipeline_set_numbers(sl_pipeline *p, const char *stage, const char *param, const double *values,
                                  size_t n, sl_error *err)
{
    if (n && !values)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_set_numbers needs %zu values", n);
    text t = {0};
    put(&t, "[");
    for (size_t i = 0; i < n; i++) {
        put(&t, i ? ", " : "");
        put_number(&t, values[i]);
    }
    put(&t, "]");
    return set_param(p, "sl_pipeline_set_numbers", stage, param, &t, err);
}

sl_status sl_pipeline_set_map(sl_pipeline *p, const char *stage, const char *param, const char *const *keys,
                              const char *const *values, size_t n, sl_error *err)
{
    if (n && (!keys || !values))
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_set_map needs %zu keys and values", n);
    text t = {0};
    put(&t, "{");
    for (size_t i = 0; i < n; i++) {
        put(&t, i ? ", " : "");
        put_quoted(&t, keys[i] ? keys[i] : "");
        put(&t, ": ");
        put_quoted(&t, values[i] ? values[i] : "");
    }
    put(&t, "}");
    return set_param(p, "sl_pipeline_set_map", stage, param, &t, err);
}

/* ---- planning ---- */

/* Which stage and parameter each line of the written YAML holds. */
typedef struct line_origin {
    const char *stage; /* NULL: a setting or the frame of the file */
    const char *key;   /* the parameter or setting; NULL: the stage's own line */
} line_origin;

static char *write_yaml(const sl__draft *d, line_origin **lines, size_t *n_lines)
{
    size_t n = 4 + d->n_settings;
    for (size_t i = 0; i < d->n; i++)
        n += 2 + d->stages[i].n;
    line_origin *o = calloc(n + 1, sizeof *o);
    if (!o)
        return NULL;
    size_t line = 1; /* o[line]: YAML lines count from 1 */
    text t = {0};
    put(&t, "pipeline: ");
    put_quoted(&t, d->name);
    put(&t, "\n");
    line++;
    for (size_t i = 0; i < d->n_settings; i++, line++) {
        o[line].key = d->settings[i].key;
        put_quoted(&t, d->settings[i].key);
        put(&t, ": %s\n", d->settings[i].yaml);
    }
    put(&t, "stages:%s\n", d->n ? "" : " {}");
    line++;
    for (size_t i = 0; i < d->n; i++) {
        const draft_stage *st = &d->stages[i];
        o[line++].stage = st->name;
        put(&t, "  ");
        put_quoted(&t, st->name);
        put(&t, ":\n    op: ");
        o[line].stage = st->name;
        o[line++].key = "op";
        put_quoted(&t, st->op);
        put(&t, "\n");
        for (size_t k = 0; k < st->n; k++, line++) {
            o[line] = (line_origin){st->name, st->params[k].key};
            put(&t, "    ");
            put_quoted(&t, st->params[k].key);
            put(&t, ": %s\n", st->params[k].yaml);
        }
    }
    char *s = take(&t);
    if (!s) {
        free(o);
        return NULL;
    }
    *lines = o;
    *n_lines = line;
    return s;
}

/* An error located in the written YAML, located instead at the stage and
 * parameter it came from: the text is sluice's, not the caller's. */
static void relocate(const sl__draft *d, const line_origin *lines, size_t n_lines, sl_error *err)
{
    if (!err || err->line <= 0)
        return;
    line_origin o = (size_t)err->line < n_lines ? lines[err->line] : (line_origin){NULL, NULL};
    if (o.key) {
        text t = {0};
        put(&t, "%s '%s': %s", o.stage ? "parameter" : "setting", o.key, err->message);
        char *msg = take(&t);
        if (msg) {
            size_t n = strlen(msg) < sizeof err->message - 1 ? strlen(msg) : sizeof err->message - 1;
            memcpy(err->message, msg, n);
            err->message[n] = '\0';
        }
        free(msg);
    }
    if (o.stage)
        snprintf(err->stage, sizeof err->stage, "%s", o.stage);
    snprintf(err->file, sizeof err->file, "pipeline '%s' (built in code)", d->name);
    err->line = err->col = 0;
}

sl_status sl_pipeline_plan(sl_pipeline *p, sl_error *err)
{
    sl_error_clear(err);
    if (!p || !p->draft)
        return not_draft(p, "sl_pipeline_plan", err);
    sl__draft *d = p->draft;
    line_origin *lines = NULL;
    size_t n_lines = 0;
    char *yaml = d->yaml ? d->yaml : write_yaml(d, &lines, &n_lines);
    if (!yaml)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    size_t len = d->yaml ? d->yaml_len : strlen(yaml);
    sl_pipeline *q = NULL;
    sl_status s = sl__pipeline_load_bound(yaml, len, d->name, d->base_dir, p->bindings,
                                          p->n_bindings, &q, err);
    if (s != SL_OK && !d->yaml)
        relocate(d, lines, n_lines, err);
    if (!d->yaml)
        free(yaml);
    free(lines);
    if (s != SL_OK)
        return s; /* p stays a draft: the caller may fix it and plan again */
    /* p takes q's planned state: the caller's handle stays valid */
    sl__binding *bindings = p->bindings;
    size_t n_bindings = p->n_bindings;
    char *path = p->path;
    *p = *q;
    for (size_t i = 0; i < p->n; i++)
        p->stages[i].pipe = p;
    p->bindings = bindings;
    p->n_bindings = n_bindings;
    free(path);
    free(q);
    sl__draft_free(d);
    p->draft = NULL;
    return SL_OK;
}

/* ---- frames bound to stages ---- */

static int same_schema(const sl_frame *a, const sl_frame *b)
{
    if (sl_frame_count(a) != sl_frame_count(b))
        return 0;
    for (size_t i = 0; i < sl_frame_count(a); i++) {
        const sl_array_info *x = sl_frame_array(a, i), *y = sl_frame_array(b, i);
        if (strcmp(x->name, y->name) != 0 || x->dtype != y->dtype || x->cols != y->cols)
            return 0;
    }
    return 1;
}

const sl_frame *sl__pipeline_bound(const sl_pipeline *p, const char *stage)
{
    for (size_t i = 0; p && i < p->n_bindings; i++)
        if (strcmp(p->bindings[i].stage, stage) == 0)
            return p->bindings[i].frame;
    return NULL;
}

sl_status sl_pipeline_bind(sl_pipeline *p, const char *stage, const sl_frame *frame, sl_error *err)
{
    sl_error_clear(err);
    if (!p || !stage || !frame)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_bind needs a pipeline, a stage name and a frame");
    if (sl_frame_rows(frame) < 0)
        return sl__error_set(err, SL_ERR_USAGE, "the frame bound to stage '%s' has no rows set", stage);
    if (!p->draft) {
        /* planned: the stage's output was planned from the frame bound then */
        size_t i = sl_pipeline_stage_find(p, stage);
        const sl_frame *old = sl__pipeline_bound(p, stage);
        if (i == SIZE_MAX || !old)
            return sl__error_set(err, SL_ERR_USAGE,
                                 "pipeline '%s' has no stage '%s' of op 'input' bound to a frame; bind frames "
                                 "before sl_pipeline_plan",
                                 p->name, stage);
        if (!same_schema(old, frame) || sl_frame_rows(old) != sl_frame_rows(frame))
            return sl__error_set(err, SL_ERR_USAGE,
                                 "the frame for stage '%s' differs in its arrays or rows from the one its pipeline "
                                 "was planned with: plan a new pipeline for it",
                                 stage);
    }
    for (size_t i = 0; i < p->n_bindings; i++)
        if (strcmp(p->bindings[i].stage, stage) == 0) {
            p->bindings[i].frame = frame;
            return SL_OK;
        }
    sl__binding *b = realloc(p->bindings, (p->n_bindings + 1) * sizeof *b);
    if (!b)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    p->bindings = b;
    char *name = strdup(stage);
    if (!name)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    p->bindings[p->n_bindings++] = (sl__binding){name, frame};
    return SL_OK;
}

sl_status sl_pipeline_add_frame(sl_pipeline *p, const char *stage, const sl_frame *frame, sl_error *err)
{
    sl_status s = sl_pipeline_add_stage(p, stage, "input", err);
    return s ? s : sl_pipeline_bind(p, stage, frame, err);
}

void sl__bindings_free(sl_pipeline *p)
{
    for (size_t i = 0; i < p->n_bindings; i++)
        free(p->bindings[i].stage);
    free(p->bindings);
    p->bindings = NULL;
    p->n_bindings = 0;
}
