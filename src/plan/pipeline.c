/* Loading a pipeline: YAML -> settings and stages -> parameters -> DAG ->
 * each op's plan. Everything a run needs is checked here, before data moves. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config/params_int.h"
#include "config/slurm_int.h"
#include "ops/ops_int.h"
#include "ops/plugin_int.h"
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/fsutil.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "plan/budget.h"
#include "plan/exec_int.h"
#include "plan/expand.h"

/* Small enough that a chunk of every level of a fused chain (8192 rows of 17
 * float64 columns: 1.1 MB) stays in the core's L2/L3 between the steps that
 * touch it: on the reference workload 65536 rows took 1.6x as long (each step
 * then goes to DRAM), and 2048 rows no faster than 8192 (per-chunk costs). */
#define SL_DEFAULT_CHUNK_ROWS 8192
#define SL_MAX_CHUNK_ROWS (1 << 30)
#define SL_MAX_THREADS 4096

static const char *const settings_keys[] = {"pipeline",   "description", "workdir", "chunk_rows", "threads",
                                            "checkpoint", "compression", "memory",  "slurm",
                                            "plugins",    "report",     "stages"};
const char *const sl__stage_reserved[] = {"op", "description", "verify", "checkpoint", "compression", "sweep", NULL};

static sl_status at_node(const sl_pipeline *p, const sl__ynode *n, sl_error *err, sl_status code, const char *fmt,
                         ...) SL_PRINTF(5, 6);

static sl_status at_node(const sl_pipeline *p, const sl__ynode *n, sl_error *err, sl_status code, const char *fmt,
                         ...)
{
    if (!err)
        return code;
    snprintf(err->file, sizeof err->file, "%s", p->path);
    err->line = n ? n->line : 0;
    err->col = n ? n->col : 0;
    va_list ap;
    va_start(ap, fmt);
    sl__error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *join_path(const char *dir, const char *rel)
{
    if (!rel)
        return NULL;
    if (rel[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0)
        return strdup(rel);
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, rel);
    return s;
}

/* Parses a plain scalar as a decimal integer in [lo, hi]. */
static int parse_int(const sl__ynode *n, long long lo, long long hi, long long *out)
{
    if (!n || n->kind != SL_Y_SCALAR || !n->plain || !n->text[0])
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(n->text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* "true", "false" or "final" for a valid `checkpoint` node, else NULL. */
static const char *checkpoint_value(const sl__ynode *n)
{
    if (!n || n->kind != SL_Y_SCALAR)
        return NULL;
    /* "final" is a word whichever way it is written (a pipeline built in
     * code quotes every string); true and false must be YAML's booleans */
    if (strcmp(n->text, "final") == 0 || (n->plain && (strcmp(n->text, "true") == 0 || strcmp(n->text, "false") == 0)))
        return n->text;
    return NULL;
}

static sl_status parse_compression(const sl_pipeline *p, const sl__ynode *n, int *out, sl_error *err)
{
    int c = n->kind == SL_Y_SCALAR ? sl__compression_from_name(n->text) : -1;
    if (c < 0)
        return at_node(p, n, err, SL_ERR_CONFIG,
                       "'compression' must be none, auto, deflate, lz4 or zstd (of checkpoint files), found %s",
                       n->kind == SL_Y_SCALAR ? n->text : sl__ynode_kind_name(n));
    sl__h5_lock();
    sl_status s = sl__compression_check_locked((sl__compression)c, err);
    sl__h5_unlock();
    if (s) {
        char msg[SL_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err->message);
        return at_node(p, n, err, s, "%s", msg);
    }
    *out = c;
    return SL_OK;
}

/* `plugins: [name-or-path, ...]`, loaded before the stages are read: their
 * ops must be known when a stage names them. A bare name is looked for in
 * the pipeline's folder, then in SLUICE_PLUGIN_PATH; a path is relative to
 * the pipeline's folder. Errors point at the item. */
static sl_status load_plugins(const sl_pipeline *p, const sl__ynode *n, sl_error *err)
{
    size_t count = n->kind == SL_Y_SEQ ? n->n : 1;
    if (n->kind == SL_Y_MAP || (n->kind == SL_Y_SEQ && n->n == 0))
        return at_node(p, n, err, SL_ERR_CONFIG,
                       "'plugins' must be a list of plugin names or paths, such as [clipper, ./lib/my.so], found %s",
                       n->kind == SL_Y_SEQ ? "an empty list" : sl__ynode_kind_name(n));
    for (size_t i = 0; i < count; i++) {
        const sl__ynode *item = n->kind == SL_Y_SEQ ? n->vals[i] : n;
        if (item->kind != SL_Y_SCALAR)
            return at_node(p, item, err, SL_ERR_CONFIG, "a plugin must be a name or a path, found %s",
                           sl__ynode_kind_name(item));
        sl_status s = sl__plugin_load(item->text, p->base_dir, NULL, err);
        if (s) {
            char msg[SL_ERROR_MESSAGE_MAX];
            snprintf(msg, sizeof msg, "%s", err->message);
            return at_node(p, item, err, s, "%s", msg);
        }
    }
    return SL_OK;
}

static sl_status parse_settings(sl_pipeline *p, const sl__ynode *root, const sl__ynode **stages, sl_error *err)
{
    if (root->kind != SL_Y_MAP)
        return at_node(p, root, err, SL_ERR_CONFIG,
                       "a pipeline file must be a mapping with a 'stages' key, found %s", sl__ynode_kind_name(root));
    size_t nkeys = sizeof settings_keys / sizeof settings_keys[0];
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->text;
        size_t j = 0;
        while (j < nkeys && strcmp(k, settings_keys[j]) != 0)
            j++;
        if (j == nkeys) {
            const char *s = sl__suggest(k, settings_keys, nkeys);
            return at_node(p, root->keys[i], err, SL_ERR_CONFIG,
                           "unknown top-level key '%s'%s%s%s; expected pipeline, description, workdir, chunk_rows, "
                           "threads, checkpoint, compression, memory, slurm, plugins, report or stages",
                           k, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
    }
    const sl__ynode *n;
    if ((n = sl__ynode_get(root, "plugins"))) {
        sl_status ps = load_plugins(p, n, err);
        if (ps)
            return ps;
    }
    if ((n = sl__ynode_get(root, "pipeline"))) {
        if (n->kind != SL_Y_SCALAR || !sl__name_ok(n->text))
            return at_node(p, n, err, SL_ERR_CONFIG,
                           "'pipeline' must be a name of letters, digits, '_', '.' or '-', found %s",
                           n->kind == SL_Y_SCALAR ? n->text : sl__ynode_kind_name(n));
        p->name = n->text;
    }
    if ((n = sl__ynode_get(root, "description")) && n->kind != SL_Y_SCALAR)
        return at_node(p, n, err, SL_ERR_CONFIG, "'description' must be text, found %s", sl__ynode_kind_name(n));
    if ((n = sl__ynode_get(root, "chunk_rows"))) {
        long long v;
        if (!parse_int(n, 1, SL_MAX_CHUNK_ROWS, &v))
            return at_node(p, n, err, SL_ERR_CONFIG, "'chunk_rows' must be an integer from 1 to %d, found %s",
                           SL_MAX_CHUNK_ROWS, n->kind == SL_Y_SCALAR ? n->text : sl__ynode_kind_name(n));
        p->chunk_rows = v;
    }
    if ((n = sl__ynode_get(root, "threads"))) {
        long long v;
        if (n->kind == SL_Y_SCALAR && strcmp(n->text, "auto") == 0)
            p->threads = 0;
        else if (parse_int(n, 1, SL_MAX_THREADS, &v))
            p->threads = (int)v;
        else
            return at_node(p, n, err, SL_ERR_CONFIG, "'threads' must be 'auto' or an integer from 1 to %d, found %s",
                           SL_MAX_THREADS, n->kind == SL_Y_SCALAR ? n->text : sl__ynode_kind_name(n));
    }
    if ((n = sl__ynode_get(root, "memory"))) {
        int64_t v;
        if (n->kind != SL_Y_SCALAR || !sl_parse_size(n->text, &v) || v < SL__MIN_MEMORY)
            return at_node(p, n, err, SL_ERR_CONFIG,
                           "'memory' must be a size of at least 1 MiB, such as 512MiB or 2GiB, found %s",
                           n->kind == SL_Y_SCALAR ? n->text : sl__ynode_kind_name(n));
        p->memory = v;
    }
    if ((n = sl__ynode_get(root, "checkpoint"))) {
        if (!checkpoint_value(n))
            return at_node(p, n, err, SL_ERR_CONFIG,
                           "'checkpoint' must be true (store every stage), false (stream what can be streamed) or "
                           "final (store only what no stage reads), found %s",
                           n->kind == SL_Y_SCALAR ? n->text : sl__ynode_kind_name(n));
        p->checkpoint = checkpoint_value(n);
    }
    if ((n = sl__ynode_get(root, "report"))) {
        if (n->kind != SL_Y_SCALAR || !n->plain || (strcmp(n->text, "true") && strcmp(n->text, "false")))
            return at_node(p, n, err, SL_ERR_CONFIG,
                           "'report' must be true (write workdir/report.html after every run) or false, found %s",
                           n->kind == SL_Y_SCALAR ? n->text : sl__ynode_kind_name(n));
        p->report = strcmp(n->text, "true") == 0;
    }
    if ((n = sl__ynode_get(root, "compression"))) {
        sl_status cs = parse_compression(p, n, &p->compression, err);
        if (cs)
            return cs;
    }
    if ((n = sl__ynode_get(root, "slurm"))) {
        sl_status ss = sl__slurm_parse(n, p->path, &p->slurm, err);
        if (ss)
            return ss;
    }
    if ((n = sl__ynode_get(root, "workdir"))) {
        if (n->kind != SL_Y_SCALAR || !n->text[0])
            return at_node(p, n, err, SL_ERR_CONFIG, "'workdir' must be a folder path, found %s",
                           n->kind == SL_Y_SCALAR ? "an empty string" : sl__ynode_kind_name(n));
        if (sl__workdir_is_memory(n->text)) {
            p->workdir = strdup(n->text);
            if (!p->workdir)
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            goto workdir_done;
        }
        p->workdir = join_path(p->base_dir, n->text);
    } else {
        char rel[SL_NAME_MAX + 8];
        snprintf(rel, sizeof rel, "runs/%s", p->name);
        p->workdir = join_path(p->base_dir, rel);
    }
    char *norm = p->workdir ? sl__path_normalize(p->workdir) : NULL;
    free(p->workdir);
    p->workdir = norm;
    if (!p->workdir)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
workdir_done:
    *stages = sl__ynode_get(root, "stages");
    if (!*stages)
        return at_node(p, root, err, SL_ERR_CONFIG,
                       "the pipeline has no 'stages'; add a mapping of stage names to stages, e.g. "
                       "'stages: { load: { op: load.hdf5, ... } }'");
    if ((*stages)->kind != SL_Y_MAP || (*stages)->n == 0)
        return at_node(p, *stages, err, SL_ERR_CONFIG,
                       "'stages' must be a non-empty mapping of stage names to stages, found %s",
                       (*stages)->kind == SL_Y_MAP ? "an empty mapping" : sl__ynode_kind_name(*stages));
    if ((*stages)->n > SL_MAX_STAGES)
        return at_node(p, *stages, err, SL_ERR_CONFIG, "the pipeline has %zu stages; at most %d are allowed",
                       (*stages)->n, SL_MAX_STAGES);
    return SL_OK;
}

static const char **op_names(size_t *n)
{
    *n = sl_op_count();
    const char **names = malloc((*n ? *n : 1) * sizeof *names);
    if (names)
        for (size_t i = 0; i < *n; i++)
            names[i] = sl_op_at(i)->name;
    return names;
}

/* The op and settings of stage i (file order), into st; its parameters
 * are built by the expansion (plan/expand.c), which knows the values of
 * its sweep and of its inputs' members. */
static sl_status parse_stage(sl_pipeline *p, const sl__ynode *key, const sl__ynode *val, sl_stage *st,
                             sl_error *err)
{
    st->pipe = p;
    st->name = key->text;
    st->node = val;
    st->line = key->line;
    st->col = key->col;
    if (!sl__name_ok(st->name))
        return at_node(p, key, err, SL_ERR_CONFIG,
                       "stage name '%s' is not valid: use 1 to %d letters, digits, '_', '.' or '-', not starting "
                       "with '.' or '-' (it names the checkpoint file)",
                       st->name, SL_NAME_MAX - 1);
    if (val->kind != SL_Y_MAP)
        return at_node(p, val, err, SL_ERR_CONFIG, "stage '%s' must be a mapping with an 'op' key, found %s",
                       st->name, sl__ynode_kind_name(val));
    const sl__ynode *opn = sl__ynode_get(val, "op");
    if (!opn)
        return at_node(p, key, err, SL_ERR_CONFIG,
                       "stage '%s' has no 'op'; add 'op: NAME' (see 'sluice ops' for the list)", st->name);
    if (opn->kind != SL_Y_SCALAR)
        return at_node(p, opn, err, SL_ERR_CONFIG, "'op' must be an op name, found %s", sl__ynode_kind_name(opn));
    st->op = sl_op_find(opn->text);
    if (!st->op) {
        size_t n;
        const char **names = op_names(&n);
        const char *s = names ? sl__suggest(opn->text, names, n) : NULL;
        if (s)
            at_node(p, opn, err, SL_ERR_CONFIG, "unknown op '%s' (did you mean '%s'?); run 'sluice ops' to list the "
                    "ops", opn->text, s);
        else /* most likely an op of a plugin the file does not name */
            at_node(p, opn, err, SL_ERR_CONFIG, "unknown op '%s'; run 'sluice ops' to list the ops (an op of a "
                    "plugin needs the plugin in the pipeline's 'plugins:' list)", opn->text);
        sl__error_stage(err, st->name);
        free(names);
        return SL_ERR_CONFIG;
    }
    const sl__ynode *verify = sl__ynode_get(val, "verify");
    if (verify) {
        if (verify->kind != SL_Y_SCALAR || (strcmp(verify->text, "stat") && strcmp(verify->text, "content")))
            return at_node(p, verify, err, SL_ERR_CONFIG, "'verify' must be 'stat' (size and time of the files read) "
                           "or 'content' (their hash), found %s",
                           verify->kind == SL_Y_SCALAR ? verify->text : sl__ynode_kind_name(verify));
        if (!(st->op->flags & SL_OP_SOURCE))
            return at_node(p, verify, err, SL_ERR_CONFIG,
                           "'verify' applies to stages that read files (like load.hdf5); op '%s' reads none",
                           st->op->name);
        st->verify_content = strcmp(verify->text, "content") == 0;
    }
    const sl__ynode *ck = sl__ynode_get(val, "checkpoint");
    if (ck && !checkpoint_value(ck))
        return at_node(p, ck, err, SL_ERR_CONFIG,
                       "'checkpoint' must be true (store this stage's output), false (stream it to the stages that "
                       "read it, if its op can) or final (store it only if no stage reads it), found %s",
                       ck->kind == SL_Y_SCALAR ? ck->text : sl__ynode_kind_name(ck));
    const sl__ynode *comp = sl__ynode_get(val, "compression");
    st->compression = p->compression;
    if (comp)
        return parse_compression(p, comp, &st->compression, err);
    return SL_OK;
}

/* Stage names sorted, for lookups in O(log n): a pipeline may have 10^5
 * stages, and every edge is looked up. */
typedef struct name_index {
    const char *name;
    size_t stage;
} name_index;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const name_index *)a)->name, ((const name_index *)b)->name);
}

static long find_stage(const name_index *sorted, size_t n, const char *name)
{
    name_index key = {name, 0};
    const name_index *hit = bsearch(&key, sorted, n, sizeof *sorted, by_name);
    return hit ? (long)hit->stage : -1;
}

static sl_status resolve_inputs(sl_pipeline *p, sl_stage *stages, sl_error *err)
{
    const char **names = malloc(p->n * sizeof *names);
    name_index *sorted = malloc(p->n * sizeof *sorted);
    if (!names || !sorted) {
        free(names);
        free(sorted);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n; i++) {
        names[i] = stages[i].name;
        sorted[i] = (name_index){stages[i].name, i};
    }
    qsort(sorted, p->n, sizeof *sorted, by_name);
    sl_status s = SL_OK;
    for (size_t i = 0; i < p->n && s == SL_OK; i++) {
        sl_stage *st = &stages[i];
        st->inputs = calloc(st->op->n_params ? st->op->n_params : 1, sizeof *st->inputs);
        if (!st->inputs) {
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t j = 0; j < st->op->n_params; j++) {
            const sl_param_spec *ps = &st->op->params[j];
            if (ps->type != SL_PARAM_INPUT || !sl_params_has(st->params, ps->name))
                continue;
            const char *target = sl_params_string(st->params, ps->name);
            long k = find_stage(sorted, p->n, target);
            if (k < 0 && (sl__op_flags(st->op) & SL__OP_GATHER) && sl__expand_is_group(p, target))
                continue; /* every member: sl__expand_link */
            if (k < 0) {
                const char *sug = sl__suggest(target, names, p->n);
                int line, col;
                sl__params_pos(st->params, ps->name, &line, &col);
                sl__error_at(err, SL_ERR_CONFIG, p->path, line, col,
                             "'%s' names stage '%s', which the pipeline does not have%s%s%s", ps->name, target,
                             sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
                sl__error_stage(err, st->name);
                s = SL_ERR_CONFIG;
                break;
            }
            st->inputs[st->n_inputs].param = ps->name;
            st->inputs[st->n_inputs].stage = (size_t)k;
            st->n_inputs++;
        }
    }
    free(names);
    free(sorted);
    return s;
}

/* Sorts stages topologically and renumbers their inputs. */
static sl_status order_stages(sl_pipeline *p, sl_stage *stages, sl_error *err)
{
    size_t n = p->n;
    size_t *n_in = calloc(n, sizeof *n_in), *order = calloc(n, sizeof *order), *rank = calloc(n, sizeof *rank);
    size_t **in = calloc(n, sizeof *in);
    const char **names = calloc(n, sizeof *names);
    sl_status s = SL_OK;
    if (!n_in || !order || !rank || !in || !names)
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        n_in[i] = stages[i].n_inputs;
        names[i] = stages[i].name;
        in[i] = malloc((n_in[i] ? n_in[i] : 1) * sizeof **in);
        if (!in[i]) {
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t j = 0; j < n_in[i]; j++)
            in[i][j] = stages[i].inputs[j].stage;
    }
    size_t cycle_at = 0;
    if (s == SL_OK) {
        s = sl__dag_sort(n, n_in, (const size_t *const *)in, names, order, &cycle_at, err);
        if (s == SL_ERR_CONFIG) {
            err->line = stages[cycle_at].line;
            err->col = stages[cycle_at].col;
            snprintf(err->file, sizeof err->file, "%s", p->path);
        }
    }
    if (s == SL_OK) {
        p->stages = calloc(n, sizeof *p->stages);
        if (!p->stages)
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (s == SL_OK) {
        for (size_t k = 0; k < n; k++)
            rank[order[k]] = k;
        for (size_t k = 0; k < n; k++) {
            p->stages[k] = stages[order[k]];
            p->stages[k].index = k;
            for (size_t j = 0; j < p->stages[k].n_inputs; j++)
                p->stages[k].inputs[j].stage = rank[p->stages[k].inputs[j].stage];
        }
    }
    for (size_t i = 0; in && i < n; i++)
        free(in[i]);
    free(in);
    free(n_in);
    free(order);
    free(rank);
    free(names);
    return s;
}

/* Whether each stage's output is stored or streamed. Streaming needs an op
 * whose output pass can be fused into its readers (SL_OP_STREAMABLE); any
 * other stage (filters, reductions, models) is stored whatever the policy
 * says, so that `checkpoint: false` never fails. So is a stage whose reader
 * reads it other than chunk by chunk in its passes: one planned from its
 * inputs' data, or one reading an input by row range (join's `with`). */
static sl_status decide_checkpoints(sl_pipeline *p, sl_error *err)
{
    unsigned char *read_by_others = calloc(p->n ? p->n : 1, 2), *feeds_plan = read_by_others + (p->n ? p->n : 1);
    if (!read_by_others)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->stages[i].n_inputs; j++) {
            const sl_stage *r = &p->stages[i];
            read_by_others[r->inputs[j].stage] = 1;
            feeds_plan[r->inputs[j].stage] |=
                r->plan_later == SL__PLAN_DATA || sl__op_reads_by_range(r->op, r->inputs[j].param);
        }
    for (size_t k = 0; k < p->n; k++) {
        sl_stage *st = &p->stages[k];
        const sl__ynode *ck = sl__ynode_get(st->node, "checkpoint");
        const char *policy = ck ? ck->text : p->checkpoint ? p->checkpoint : "true";
        int want_stream = strcmp(policy, "false") == 0 || (strcmp(policy, "final") == 0 && read_by_others[k]);
        /* a streamable op keeps its input's rows (the executor checks it);
         * a stage whose plan needs its inputs' data reads them stored */
        int can_stream = (st->op->flags & SL_OP_STREAMABLE) && !feeds_plan[k] &&
                         (p->graph_only || st->plan_later != SL__PLAN_NOW || sl_frame_count(st->output) > 0);
        st->checkpoint = want_stream && can_stream ? SL__CKPT_STREAM : SL__CKPT_STORE;
    }
    free(read_by_others);
    return SL_OK;
}

static void locate_plan_error(const sl_stage *st, sl_error *err)
{
    if (err && !err->file[0]) {
        snprintf(err->file, sizeof err->file, "%s", st->pipe->path);
        err->line = st->line;
        err->col = st->col;
    }
    sl__error_stage(err, st->name);
}

static void drop_plan(sl_stage *st)
{
    if (st->state && st->op->free_state)
        st->op->free_state(st->state);
    st->state = NULL;
    sl_frame_free(st->output);
    st->output = NULL;
}

static sl_status plan_stages(sl_pipeline *p, sl_error *err)
{
    for (size_t k = 0; k < p->n; k++) {
        sl_stage *st = &p->stages[k];
        st->output = sl_frame_new();
        if (!st->output)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        st->plan_later = SL__PLAN_NOW;
        st->rows_bound = 0;
        for (size_t j = 0; j < st->n_inputs; j++)
            if (p->stages[st->inputs[j].stage].plan_later != SL__PLAN_NOW)
                st->plan_later = SL__PLAN_INPUT;
        /* read for the graph only: outputs stay empty, no file is opened;
         * a stage reading one planned in the run is planned after it */
        if (p->graph_only || st->plan_later != SL__PLAN_NOW || !st->op->plan)
            continue;
        sl_status s = st->op->plan(st, err);
        if (s) {
            locate_plan_error(st, err);
            return s;
        }
        /* planned with the first swept value, for the checks; planned
         * again in the run with the value chosen */
        if (st->n_best && st->plan_later == SL__PLAN_NOW)
            st->plan_later = SL__PLAN_BEST;
        if (st->plan_later != SL__PLAN_NOW) { /* what it declared waits for the data */
            drop_plan(st);
            if (!(st->output = sl_frame_new()))
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        }
    }
    return SL_OK;
}

void sl_stage_warn(sl_stage *st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t had = st->warnings ? strlen(st->warnings) : 0, n = strlen(msg);
    char *w = realloc(st->warnings, had + n + 2);
    if (w) { /* out of memory: the event still goes out */
        if (had)
            w[had++] = '\n';
        memcpy(w + had, msg, n + 1);
        st->warnings = w;
    }
    if (st->exec)
        sl__exec_warning(st->exec, msg);
}

void sl__stage_clear_warnings(sl_stage *st)
{
    free(st->warnings);
    st->warnings = NULL;
}

int sl_stage_plan_later(sl_stage *st)
{
    if (!st || st->replanning)
        return 0;
    st->plan_later = SL__PLAN_DATA;
    return 1;
}

sl_status sl__stage_replan(sl_stage *st, sl_error *err)
{
    drop_plan(st);
    st->mem_key[0] = '\0';
    st->rows_bound = 0;
    if (!(st->output = sl_frame_new()))
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    st->replanning = 1;
    sl_status s = st->op->plan ? st->op->plan(st, err) : SL_OK;
    st->replanning = 0;
    if (s)
        locate_plan_error(st, err);
    return s;
}

/* A file a stage reads or writes outside the workdir. */
typedef struct file_use {
    const sl_stage *st;
    const char *param;
    char *path; /* normalized */
    int writes;
} file_use;

static sl_status file_conflict(const sl_pipeline *p, const file_use *a, const file_use *b, sl_error *err)
{
    const sl_stage *st = a->st;
    if (b->writes)
        return sl_stage_error(st, err, SL_ERR_CONFIG, a->param,
                              "'%s' is written by stage '%s' too; give each stage its own file", a->path,
                              b->st->name);
    return sl_stage_error(st, err, SL_ERR_CONFIG, a->param,
                          "'%s' is read by stage '%s'; writing it would overwrite that stage's input", a->path,
                          b->st->name);
    (void)p;
}

/* Sinks must not write the same file, a file a source reads, or a checkpoint:
 * each would make the result depend on the order stages happen to run in. */
static sl_status check_files(sl_pipeline *p, sl_error *err)
{
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < p->n; i++)
        cap += p->stages[i].op->n_params;
    file_use *uses = calloc(cap ? cap : 1, sizeof *uses);
    if (!uses)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = SL_OK;
    for (size_t i = 0; s == SL_OK && i < p->n; i++) {
        const sl_stage *st = &p->stages[i];
        for (size_t j = 0; j < st->op->n_params; j++) {
            const sl_param_spec *ps = &st->op->params[j];
            if (ps->type != SL_PARAM_PATH || !sl_params_has(st->params, ps->name) ||
                !(st->op->flags & (SL_OP_SOURCE | SL_OP_SINK)))
                continue;
            file_use *u = &uses[n++];
            u->st = st;
            u->param = ps->name;
            u->writes = (st->op->flags & SL_OP_SINK) != 0;
            u->path = sl__path_normalize(sl_params_string(st->params, ps->name));
            if (!u->path) {
                s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
                break;
            }
        }
    }
    char *workdir = s == SL_OK ? sl__path_normalize(p->workdir) : NULL;
    for (size_t a = 0; s == SL_OK && workdir && a < n; a++) {
        if (!uses[a].writes)
            continue;
        for (size_t b = 0; s == SL_OK && b < n; b++)
            if (b != a && strcmp(uses[a].path, uses[b].path) == 0 && (b < a || !uses[b].writes))
                s = file_conflict(p, &uses[a], &uses[b], err);
        size_t wl = strlen(workdir);
        if (s == SL_OK && strncmp(uses[a].path, workdir, wl) == 0 && uses[a].path[wl] == '/' &&
            strchr(uses[a].path + wl + 1, '/') == NULL) {
            const char *base = uses[a].path + wl + 1;
            for (size_t i = 0; s == SL_OK && i < p->n; i++) {
                size_t nl = strlen(p->stages[i].name);
                if (strncmp(base, p->stages[i].name, nl) == 0 && strncmp(base + nl, ".h5", 3) == 0)
                    s = sl_stage_error(uses[a].st, err, SL_ERR_CONFIG, uses[a].param,
                                       "'%s' is the checkpoint of stage '%s'; write outside the workdir or to another "
                                       "name",
                                       uses[a].path, p->stages[i].name);
            }
        }
    }
    if (s == SL_OK && !workdir)
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++)
        free(uses[k].path);
    free(uses);
    free(workdir);
    return s;
}

/* ---- files compared by identity ---- */

/* A file the run reads or writes, known by what it is rather than by its
 * path's text: a link, a symlinked folder or "a/../b" lead to the same
 * file as another path (issue 14). An existing file is its device and
 * inode, links followed; one not there yet is its folder's (resolved)
 * device and inode plus its last name. */
enum { USE_READS, USE_WRITES, USE_CHECKPOINT, USE_PIPELINE };

typedef struct file_ident {
    int exists;
    dev_t dev;
    ino_t ino;
    mode_t mode;
    const char *base; /* when not existing: the name in that folder */
    int role;         /* USE_* */
    const sl_stage *st;
    const char *param;
    const char *path;
    char *owned;      /* path, when made here */
} file_ident;

/* Fills id for `path`; 0 when nothing can be said (its folder is missing,
 * so no file sluice reads can be there either). */
static int identify(const char *path, file_ident *id)
{
    struct stat sb;
    if (stat(path, &sb) == 0) {
        id->exists = 1;
        id->dev = sb.st_dev;
        id->ino = sb.st_ino;
        id->mode = sb.st_mode;
        return 1;
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *real = dir ? realpath(dir, NULL) : NULL;
    int ok = real && stat(real, &sb) == 0;
    free(real);
    free(dir);
    if (!ok)
        return 0;
    id->exists = 0;
    id->dev = sb.st_dev;
    id->ino = sb.st_ino;
    id->base = slash ? slash + 1 : path;
    return 1;
}

static int by_identity(const void *pa, const void *pb)
{
    const file_ident *a = pa, *b = pb;
    if (a->exists != b->exists)
        return a->exists - b->exists;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return a->exists ? 0 : strcmp(a->base, b->base);
}

static void describe_use(const file_ident *u, char *buf, size_t n)
{
    if (u->role == USE_CHECKPOINT)
        snprintf(buf, n, "'%s', the checkpoint of stage '%s',", u->path, u->st->name);
    else if (u->role == USE_PIPELINE)
        snprintf(buf, n, "'%s', the pipeline file,", u->path);
    else
        snprintf(buf, n, "'%s', which stage '%s' %s,", u->path, u->st->name, u->role == USE_WRITES ? "writes" : "reads");
}

/* The error for writer w replacing the file u stands for. */
static sl_status same_file_error(const file_ident *w, const file_ident *u, sl_error *err)
{
    char a[1200], b[1200];
    describe_use(w, a, sizeof a);
    describe_use(u, b, sizeof b);
    b[strlen(b) - 1] = '\0';
    return sl_stage_error(w->st, err, SL_ERR_CONFIG, w->role == USE_WRITES ? w->param : NULL,
                          "%s is the same file as %s; sluice never replaces a file it reads or another stage "
                          "writes: %s",
                          a, b, w->role == USE_CHECKPOINT ? "rename the stage or use another workdir"
                                                          : "write to another file");
}

/* Collects every file the run reads or writes: sources, sinks, the
 * checkpoints of stored stages in `workdir`, the pipeline file. */
static sl_status collect_uses(const sl_pipeline *p, const char *workdir, file_ident **out, size_t *n_out,
                              sl_error *err)
{
    size_t cap = p->n + 1, n = 0;
    for (size_t i = 0; i < p->n; i++)
        cap += p->stages[i].op->n_params;
    file_ident *u = calloc(cap, sizeof *u);
    if (!u)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = SL_OK;
    /* a missing workdir holds no file the run reads: no checkpoint can clash */
    struct stat wd;
    char *real_wd = realpath(workdir, NULL);
    int have_wd = real_wd && stat(real_wd, &wd) == 0 && !sl__workdir_is_memory(workdir);
    free(real_wd);
    if (p->path && identify(p->path, &u[n]) && u[n].exists && S_ISREG(u[n].mode)) {
        u[n].role = USE_PIPELINE;
        u[n++].path = p->path;
    }
    for (size_t i = 0; s == SL_OK && i < p->n; i++) {
        const sl_stage *st = &p->stages[i];
        for (size_t j = 0; (st->op->flags & (SL_OP_SOURCE | SL_OP_SINK)) && j < st->op->n_params; j++) {
            const sl_param_spec *ps = &st->op->params[j];
            if (ps->type != SL_PARAM_PATH || !sl_params_has(st->params, ps->name))
                continue;
            file_ident *f = &u[n];
            memset(f, 0, sizeof *f);
            f->path = sl_params_string(st->params, ps->name);
            if (!identify(f->path, f))
                continue;
            f->role = (st->op->flags & SL_OP_SINK) ? USE_WRITES : USE_READS;
            f->st = st;
            f->param = ps->name;
            n++;
        }
        if (st->checkpoint != SL__CKPT_STORE || !have_wd)
            continue;
        size_t len = strlen(workdir) + strlen(st->name) + 8;
        file_ident *f = &u[n];
        memset(f, 0, sizeof *f);
        if (!(f->owned = malloc(len))) {
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(f->owned, len, "%s/%s.h5", workdir, st->name);
        f->path = f->owned;
        f->role = USE_CHECKPOINT;
        f->st = st;
        n++;
        struct stat sb;
        if (stat(f->path, &sb) == 0) {
            f->exists = 1;
            f->dev = sb.st_dev;
            f->ino = sb.st_ino;
            f->mode = sb.st_mode;
        } else { /* not there yet: the workdir, resolved once, and its name */
            f->dev = wd.st_dev;
            f->ino = wd.st_ino;
            f->base = f->path + strlen(workdir) + 1;
        }
    }
    *out = u;
    *n_out = n;
    return s;
}

sl_status sl__check_file_identities(const sl_pipeline *p, const char *workdir, sl_error *err)
{
    file_ident *u = NULL;
    size_t n = 0;
    sl_status s = collect_uses(p, workdir, &u, &n, err);
    for (size_t i = 0; s == SL_OK && i < n; i++)
        if (u[i].role == USE_WRITES && u[i].exists && !S_ISREG(u[i].mode) && !S_ISDIR(u[i].mode))
            s = sl_stage_error(u[i].st, err, SL_ERR_CONFIG, u[i].param,
                               "'%s', which stage '%s' writes, is %s, not a regular file; sluice replaces only "
                               "regular files: write to a file",
                               u[i].path, u[i].st->name, sl__file_kind(u[i].mode));
    if (s == SL_OK)
        qsort(u, n, sizeof *u, by_identity); /* the same file: neighbours, in O(n log n) */
    for (size_t a = 0; s == SL_OK && a < n;) {
        size_t b = a + 1;
        while (b < n && by_identity(&u[a], &u[b]) == 0)
            b++;
        const file_ident *w = NULL, *other = NULL;
        for (size_t k = a; k < b; k++)
            if (!w && (u[k].role == USE_WRITES || u[k].role == USE_CHECKPOINT))
                w = &u[k];
        for (size_t k = a; w && k < b; k++)
            if (&u[k] != w && (!other || other->role == USE_WRITES || other->role == USE_CHECKPOINT))
                other = &u[k]; /* a reader when there is one */
        if (w && other)
            s = same_file_error(w, other, err);
        a = b;
    }
    for (size_t k = 0; k < n; k++)
        free(u[k].owned);
    free(u);
    return s;
}

static sl_status build(sl_pipeline *p, const char *text, size_t len, sl_error *err)
{
    const sl__ynode *root = NULL, *stages_node = NULL;
    sl_status s = sl__ydoc_parse(text, len, p->path, &p->doc, &root, err);
    if (s)
        return s;
    if ((s = parse_settings(p, root, &stages_node, err)))
        return s;
    p->n = stages_node->n;
    sl_stage *stages = calloc(p->n, sizeof *stages);
    if (!stages)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n && s == SL_OK; i++)
        s = parse_stage(p, stages_node->keys[i], stages_node->vals[i], &stages[i], err);
    if (s == SL_OK)
        s = sl__expand(p, &stages, &p->n, err);
    if (s == SL_OK)
        s = resolve_inputs(p, stages, err);
    if (s == SL_OK)
        s = sl__expand_link(p, stages, p->n, err);
    if (s == SL_OK)
        s = order_stages(p, stages, err);
    if (s != SL_OK) {
        for (size_t i = 0; i < p->n; i++) {
            sl__params_free(stages[i].params);
            free(stages[i].inputs);
        }
        free(stages);
        p->n = 0;
        return s;
    }
    free(stages);
    if (!p->graph_only)
        s = check_files(p, err);
    if (s == SL_OK)
        s = plan_stages(p, err);
    if (s == SL_OK)
        s = decide_checkpoints(p, err);
    if (s == SL_OK && !p->graph_only)
        s = sl__check_file_identities(p, p->workdir, err);
    return s;
}

static char *base_name_of(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strcspn(b, ".");
    char *s = malloc(n + 1 > SL_NAME_MAX ? SL_NAME_MAX : n + 1);
    if (!s)
        return NULL;
    if (n >= SL_NAME_MAX)
        n = SL_NAME_MAX - 1;
    memcpy(s, b, n);
    s[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            s[i] = '_';
    return s;
}

static sl_status load(const char *text, size_t len, const char *name, const char *base_dir, int graph_only,
                      sl__binding *bindings, size_t n_bindings, sl_pipeline **out, sl_error *err)
{
    sl_error_clear(err);
    *out = NULL;
    sl_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    p->path = dup_or_null(name ? name : "<string>");
    p->base_dir = dup_or_null(base_dir ? base_dir : ".");
    p->name_owned = base_name_of(p->path ? p->path : "pipeline");
    p->name = p->name_owned && p->name_owned[0] ? p->name_owned : "pipeline";
    p->chunk_rows = SL_DEFAULT_CHUNK_ROWS;
    p->memory = SL__DEFAULT_MEMORY;
    p->graph_only = graph_only;
    p->bindings = bindings;
    p->n_bindings = n_bindings;
    if (!p->path || !p->base_dir || !p->name_owned) {
        p->bindings = NULL;
        p->n_bindings = 0;
        sl_pipeline_free(p);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    sl_status s = build(p, text, len, err);
    if (s) {
        if (err && !err->file[0]) /* e.g. out of memory while planning: at least say which file */
            snprintf(err->file, sizeof err->file, "%s", p->path);
        p->bindings = NULL; /* the caller's */
        p->n_bindings = 0;
        sl_pipeline_free(p);
        return s;
    }
    *out = p;
    return SL_OK;
}

sl_status sl_pipeline_load_string(const char *yaml, size_t len, const char *name, const char *base_dir,
                                  sl_pipeline **out, sl_error *err)
{
    if (!yaml || !out)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_load_string needs text and an output pointer");
    return load(yaml, len, name, base_dir, 0, NULL, 0, out, err);
}

sl_status sl__pipeline_load_bound(const char *text, size_t len, const char *name, const char *base_dir,
                                  sl__binding *bindings, size_t n_bindings, sl_pipeline **out, sl_error *err)
{
    return load(text, len, name, base_dir, 0, bindings, n_bindings, out, err);
}

static sl_status load_file(const char *path, int graph_only, sl_pipeline **out, sl_error *err)
{
    sl_error_clear(err);
    if ((!path || !out) && graph_only)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_read_file needs a path and an output pointer");
    if (!path || !out)
        return sl__error_set(err, SL_ERR_USAGE, "sl_pipeline_load_file needs a path and an output pointer");
    *out = NULL;
    /* a regular file only (links followed): a FIFO would block the read, a
     * device (a link to /dev/zero) never end it */
    struct stat sb;
    char why[256];
    FILE *f = sl__fopen_read(path, &sb, why, sizeof why);
    if (!f)
        return sl__error_set(err, SL_ERR_IO, "cannot open pipeline file '%s': %s", path, why);
    if (sb.st_size > (off_t)SL_YAML_MAX_BYTES) {
        fclose(f);
        return sl__error_at(err, SL_ERR_CONFIG, path, 0, 0,
                            "pipeline file is %lld bytes; at most %u are accepted", (long long)sb.st_size,
                            SL_YAML_MAX_BYTES);
    }
    size_t cap = (size_t)sb.st_size + 1, len = 0;
    char *text = malloc(cap);
    if (!text) {
        fclose(f);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    len = fread(text, 1, cap - 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return sl__error_set(err, SL_ERR_IO, "cannot read pipeline file '%s'", path);
    }
    text[len] = '\0';
    char *dir = strdup(path);
    if (!dir) {
        free(text);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        slash == dir ? (void)(slash[1] = '\0') : (void)(*slash = '\0');
    /* paths in the file resolve against its folder, as an absolute path: the
     * cache keys (which hold resolved paths) must not depend on where sluice
     * was started from */
    char *abs_dir = sl__path_normalize(slash ? dir : ".");
    sl_status s = abs_dir ? load(text, len, path, abs_dir, graph_only, NULL, 0, out, err)
                          : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    free(abs_dir);
    free(dir);
    free(text);
    return s;
}

sl_status sl_pipeline_load_file(const char *path, sl_pipeline **out, sl_error *err)
{
    return load_file(path, 0, out, err);
}

sl_status sl_pipeline_read_file(const char *path, sl_pipeline **out, sl_error *err)
{
    return load_file(path, 1, out, err);
}

int sl__workdir_is_memory(const char *workdir)
{
    return workdir && strcmp(workdir, ":memory:") == 0;
}

int sl_pipeline_planned(const sl_pipeline *p)
{
    return p && !p->graph_only && !p->draft;
}

void sl_pipeline_free(sl_pipeline *p)
{
    if (!p)
        return;
    sl__draft_free(p->draft);
    sl__bindings_free(p);
    for (size_t i = 0; p->stages && i < p->n; i++) {
        sl_stage *st = &p->stages[i];
        if (st->state && st->op->free_state)
            st->op->free_state(st->state);
        sl__params_free(st->params);
        sl_frame_free(st->output);
        free(st->inputs);
        free(st->results);
        free(st->sources);
        free(st->warnings);
        for (size_t k = 0; k < st->n_linked; k++)
            free(st->linked[k]);
        free(st->linked);
    }
    free(p->stages);
    sl__expansion_free(p->expansion);
    sl__ydoc_free(p->doc);
    free(p->path);
    free(p->base_dir);
    free(p->name_owned);
    free(p->workdir);
    free(p);
}

/* The getters answer NULL, 0 or SIZE_MAX for a NULL pipeline or an index
 * out of range, never crash (c-api.md, "Reading results"). */
const char *sl_pipeline_name(const sl_pipeline *p) { return p ? p->name : NULL; }
const char *sl_pipeline_workdir(const sl_pipeline *p) { return p ? p->workdir : NULL; }
int64_t sl_pipeline_chunk_rows(const sl_pipeline *p) { return p ? p->chunk_rows : 0; }
int sl_pipeline_threads(const sl_pipeline *p) { return p ? p->threads : 0; }
int sl_pipeline_report(const sl_pipeline *p) { return p ? p->report : 0; }
const sl_slurm_settings *sl_pipeline_slurm(const sl_pipeline *p) { return p ? &p->slurm : NULL; }
static int has_stage(const sl_pipeline *p, size_t i) { return p && i < p->n; }
int sl_pipeline_stage_stored(const sl_pipeline *p, size_t i)
{
    return has_stage(p, i) && p->stages[i].checkpoint == SL__CKPT_STORE;
}
size_t sl_pipeline_stage_count(const sl_pipeline *p) { return p ? p->n : 0; }
const char *sl_pipeline_stage_name(const sl_pipeline *p, size_t i) { return has_stage(p, i) ? p->stages[i].name : NULL; }
const sl_op *sl_pipeline_stage_op(const sl_pipeline *p, size_t i) { return has_stage(p, i) ? p->stages[i].op : NULL; }

size_t sl_pipeline_stage_find(const sl_pipeline *p, const char *name)
{
    for (size_t i = 0; p && name && i < p->n; i++)
        if (strcmp(p->stages[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

size_t sl_pipeline_stage_input_count(const sl_pipeline *p, size_t i)
{
    return has_stage(p, i) ? p->stages[i].n_inputs : 0;
}

size_t sl_pipeline_stage_input(const sl_pipeline *p, size_t i, size_t j, const char **param)
{
    if (param)
        *param = NULL;
    if (!has_stage(p, i) || j >= p->stages[i].n_inputs)
        return SIZE_MAX;
    const sl__input *in = &p->stages[i].inputs[j];
    if (param)
        *param = in->param;
    return in->stage;
}

const sl_frame *sl_pipeline_stage_output(const sl_pipeline *p, size_t i)
{
    return has_stage(p, i) ? p->stages[i].output : NULL;
}

size_t sl_pipeline_stage_result_count(const sl_pipeline *p, size_t i)
{
    return has_stage(p, i) ? p->stages[i].n_results : 0;
}

const char *sl_pipeline_stage_result(const sl_pipeline *p, size_t i, size_t k, double *value)
{
    if (!has_stage(p, i) || k >= p->stages[i].n_results)
        return NULL;
    if (value)
        *value = p->stages[i].results[k].value;
    return p->stages[i].results[k].key;
}

int sl_pipeline_stage_result_find(const sl_pipeline *p, size_t i, const char *key, double *value)
{
    for (size_t k = 0; has_stage(p, i) && key && k < p->stages[i].n_results; k++)
        if (strcmp(p->stages[i].results[k].key, key) == 0) {
            if (value)
                *value = p->stages[i].results[k].value;
            return 1;
        }
    return 0;
}

/* ---- the stage API ops see ---- */

const char *sl_stage_name(const sl_stage *st) { return st->name; }
const char *sl_stage_op_name(const sl_stage *st) { return st->op->name; }
void *sl_stage_op_user(const sl_stage *st) { return st ? sl__op_user(st->op) : NULL; }
const sl_params *sl_stage_params(const sl_stage *st) { return st->params; }
sl_frame *sl_stage_output(sl_stage *st) { return st->output; }
void sl_stage_set_state(sl_stage *st, void *state) { st->state = state; }
void *sl_stage_state(const sl_stage *st) { return st->state; }

int64_t sl_stage_chunk_rows(const sl_stage *st)
{
    return st->exec ? st->exec->chunk_rows : st->pipe->chunk_rows;
}

int64_t sl_stage_chunk_count(const sl_stage *st, int64_t rows)
{
    int64_t cr = sl_stage_chunk_rows(st);
    return rows > 0 ? (rows + cr - 1) / cr : 0;
}

int64_t sl_stage_input_chunks(const sl_stage *st, const sl_frame *in)
{
    return sl__frame_chunks(in, sl_stage_chunk_rows(st));
}

const sl_frame *sl_stage_input(const sl_stage *st, const char *param)
{
    for (size_t j = 0; j < st->n_inputs; j++)
        if (strcmp(st->inputs[j].param, param) == 0)
            return st->pipe->stages[st->inputs[j].stage].output;
    return NULL;
}

sl_status sl__stage_add_linked_file(sl_stage *st, const char *path, sl_error *err)
{
    for (size_t k = 0; k < st->n_linked; k++)
        if (strcmp(st->linked[k], path) == 0)
            return SL_OK;
    char **l = realloc(st->linked, (st->n_linked + 1) * sizeof *l);
    char *copy = l ? strdup(path) : NULL;
    if (l)
        st->linked = l;
    if (!copy)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    st->linked[st->n_linked++] = copy;
    return SL_OK;
}

sl_status sl_stage_set_result(sl_stage *st, const char *key, double value, sl_error *err)
{
    if (!sl__name_ok(key))
        return sl__error_set(err, SL_ERR_USAGE, "result name '%s' is not valid", key ? key : "");
    for (size_t k = 0; k < st->n_results; k++)
        if (strcmp(st->results[k].key, key) == 0) {
            st->results[k].value = value;
            return SL_OK;
        }
    sl__result *r = realloc(st->results, (st->n_results + 1) * sizeof *r);
    if (!r)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    st->results = r;
    snprintf(r[st->n_results].key, sizeof r[st->n_results].key, "%s", key);
    r[st->n_results].value = value;
    st->n_results++;
    return SL_OK;
}

sl_status sl__stage_locate(const sl_stage *st, sl_error *err, const char *param)
{
    if (!err)
        return SL_ERR_INTERNAL;
    int line = 0, col = 0;
    if (param)
        sl__params_pos(st->params, param, &line, &col);
    if (line == 0) {
        line = st->line;
        col = st->col;
    }
    snprintf(err->file, sizeof err->file, "%s", st->pipe->path);
    err->line = line;
    err->col = col;
    snprintf(err->stage, sizeof err->stage, "%s", st->name);
    return err->code;
}

sl_status sl_stage_error(const sl_stage *st, sl_error *err, sl_status code, const char *param, const char *fmt, ...)
{
    if (!err)
        return code;
    sl__stage_locate(st, err, param);
    va_list ap;
    va_start(ap, fmt);
    sl__error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}
