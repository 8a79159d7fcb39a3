/* Expanding the stages of a file over their axes, before anything is
 * planned. A member is an ordinary stage whose mapping is made of the
 * file's own nodes (the sweep's values, a made node for a fold, the names
 * of the members it reads in place of the stages' names), so its
 * parameters are checked, positioned in errors and hashed into its cache
 * key exactly as a stage written out by hand would be. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "ops/ops_int.h"
#include "plan/expand.h"

/* With its NUL: sl_error.stage and a checkpoint's recorded stage hold this
 * much, and a member's name is also its checkpoint file's. */
#define MEMBER_NAME_MAX 128

struct sl__expansion {
    void **blocks; /* everything made here, freed with the pipeline */
    size_t n_blocks, cap_blocks;
    const sl__group **groups; /* sorted by name */
    size_t n_groups;
};

static void *take(sl__expansion *x, size_t size)
{
    if (x->n_blocks == x->cap_blocks) {
        size_t cap = x->cap_blocks ? 2 * x->cap_blocks : 64;
        void **b = realloc(x->blocks, cap * sizeof *b);
        if (!b)
            return NULL;
        x->blocks = b;
        x->cap_blocks = cap;
    }
    void *m = calloc(1, size ? size : 1);
    if (m)
        x->blocks[x->n_blocks++] = m;
    return m;
}

static char *take_text(sl__expansion *x, const char *s)
{
    char *t = take(x, strlen(s) + 1);
    if (t)
        strcpy(t, s);
    return t;
}

void sl__expansion_free(sl__expansion *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_blocks; i++)
        free(x->blocks[i]);
    free(x->blocks);
    free(x->groups);
    free(x);
}

/* ---- the stages of the file, while they are expanded ---- */

typedef struct in_ref { /* an INPUT parameter naming a stage of the file */
    const sl_param_spec *spec;
    const sl__ynode *node; /* its value */
    size_t target;
    int gathers;
} in_ref;

typedef struct best_ref { /* a parameter given as { best: STAGE } */
    const sl__ynode *key, *node, *target_node;
    size_t target;
    const sl__axis *axis;
    size_t stride;
    sl__ynode *placeholder; /* its value in the stage's own mapping */
} best_ref;

typedef struct own_axis { /* an axis the stage itself makes */
    sl__axis *axis;
    const sl__ynode *key; /* the key its values go under (a sweep's key, or a made `fold`) */
    const sl__ynode *at;  /* where errors about it point */
} own_axis;

typedef struct base {
    const sl_stage *head;
    const sl__ynode *map, *sweep;
    in_ref *in;
    size_t n_in;
    best_ref *best;
    size_t n_best;
    own_axis *own;
    size_t n_own;
    const sl__axis **axes; /* the union, inherited axes first */
    size_t n_axes;
    const sl__group *group; /* NULL: one stage, not expanded */
    sl_stage *members;
    size_t n_members;
} base;

typedef struct ctx {
    sl_pipeline *p;
    sl__expansion *x;
    base *b;
    size_t n;
    const char **names;
    struct name_at *sorted;
    size_t total; /* members made so far */
} ctx;

struct name_at {
    const char *name;
    size_t i;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct name_at *)a)->name, ((const struct name_at *)b)->name);
}

static long find(const struct name_at *sorted, size_t n, const char *name)
{
    struct name_at key = {name, 0};
    const struct name_at *hit = bsearch(&key, sorted, n, sizeof *sorted, by_name);
    return hit ? (long)hit->i : -1;
}

/* Errors at node n of stage b's mapping (the format is the fifth argument,
 * as for the other at_node of plan/, which the error catalogue reads). */
static sl_status at_node(const base *b, const sl__ynode *n, sl_error *err, sl_status code, const char *fmt, ...)
    SL_PRINTF(5, 6);
static sl_status at_node(const base *b, const sl__ynode *n, sl_error *err, sl_status code, const char *fmt, ...)
{
    if (!err)
        return code;
    snprintf(err->file, sizeof err->file, "%s", b->head->pipe->path);
    err->line = n ? n->line : b->head->line;
    err->col = n ? n->col : b->head->col;
    va_list ap;
    va_start(ap, fmt);
    sl__error_vset(err, code, fmt, ap);
    va_end(ap);
    sl__error_stage(err, b->head->name);
    return code;
}

static sl_status nomem(sl_error *err)
{
    return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
}

static const sl_param_spec *spec_of(const sl_op *op, const char *name)
{
    for (size_t i = 0; i < op->n_params; i++)
        if (op->params[i].name && strcmp(op->params[i].name, name) == 0)
            return &op->params[i];
    return NULL;
}

static int is_reserved(const char *key)
{
    for (const char *const *r = sl__stage_reserved; *r; r++)
        if (strcmp(*r, key) == 0)
            return 1;
    return 0;
}

static int is_best(const sl__ynode *n)
{
    return n && n->kind == SL_Y_MAP && n->n == 1 && strcmp(n->keys[0]->text, "best") == 0;
}

static const char *best_name(const sl__ynode *n)
{
    return n->vals[0]->kind == SL_Y_SCALAR ? n->vals[0]->text : "...";
}

/* A { best: ... } anywhere inside n. */
static const sl__ynode *find_best(const sl__ynode *n)
{
    if (is_best(n))
        return n;
    for (size_t i = 0; n->kind != SL_Y_SCALAR && i < n->n; i++) {
        const sl__ynode *hit = find_best(n->vals[i]);
        if (hit)
            return hit;
    }
    return NULL;
}

static sl_status unknown_stage(const ctx *c, const base *b, const sl__ynode *at, const char *param,
                               const char *target, sl_error *err)
{
    const char *sug = sl__suggest(target, c->names, c->n);
    return at_node(b, at, err, SL_ERR_CONFIG, "'%s' names stage '%s', which the pipeline does not have%s%s%s", param,
                   target, sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
}

/* What the stage's mapping says about axes and edges: its sweep (checked
 * for shape), its INPUT parameters, its { best: ... } values. */
static sl_status scan(ctx *c, base *b, sl_error *err)
{
    const sl_op *op = b->head->op;
    b->map = b->head->node;
    b->sweep = sl__ynode_get(b->map, "sweep");
    const sl__ynode *sw = b->sweep;
    if (sw && (sw->kind != SL_Y_MAP || sw->n == 0))
        return at_node(b, sw, err, SL_ERR_CONFIG,
                       "'sweep' must be a mapping of parameters to lists of values, such as sweep: { l2: [0.01, "
                       "0.1, 1] }, found %s",
                       sw->kind == SL_Y_MAP ? "an empty mapping" : sl__ynode_kind_name(sw));
    for (size_t k = 0; sw && k < sw->n; k++) {
        const sl__ynode *list = sw->vals[k];
        if (list->kind == SL_Y_SEQ && list->n == 0)
            return at_node(b, list, err, SL_ERR_CONFIG, "'sweep' gives no values for '%s'; list at least one",
                           sw->keys[k]->text);
        size_t count = list->kind == SL_Y_SEQ ? list->n : 1;
        for (size_t i = 0; i < count; i++) {
            const sl__ynode *item = list->kind == SL_Y_SEQ ? list->vals[i] : list;
            if (is_best(item))
                return at_node(b, item, err, SL_ERR_CONFIG,
                               "a swept value cannot be { best: %s }: a select stage's choice is the whole value of "
                               "a parameter, such as l2: { best: %s }",
                               best_name(item), best_name(item));
            if (item->kind != SL_Y_SCALAR)
                return at_node(b, item, err, SL_ERR_CONFIG, "a swept value of '%s' must be a single value, found %s",
                               sw->keys[k]->text, sl__ynode_kind_name(item));
        }
        const sl_param_spec *ps = spec_of(op, sw->keys[k]->text);
        if (ps && ps->type == SL_PARAM_INPUT)
            return at_node(b, sw->keys[k], err, SL_ERR_CONFIG,
                           "'%s' names a stage; a stage's inputs cannot be swept (give each input a stage of its own)",
                           ps->name);
    }
    b->best = calloc(b->map->n ? b->map->n : 1, sizeof *b->best);
    b->in = calloc(op->n_params ? op->n_params : 1, sizeof *b->in);
    if (!b->best || !b->in)
        return nomem(err);
    for (size_t k = 0; k < b->map->n; k++) {
        const sl__ynode *key = b->map->keys[k], *val = b->map->vals[k];
        if (is_reserved(key->text))
            continue;
        const sl_param_spec *ps = spec_of(op, key->text);
        if (ps && is_best(val) && ps->type == SL_PARAM_INPUT)
            return at_node(b, val, err, SL_ERR_CONFIG,
                           "'%s' names a stage; { best: %s } gives a parameter the value a select stage chose, not "
                           "a stage",
                           ps->name, best_name(val));
        if (ps && is_best(val) && ps->type != SL_PARAM_STRING_MAP) {
            /* (a string map { best: ... } maps the name best: an array called best) */
            const sl__ynode *t = val->vals[0];
            if (t->kind != SL_Y_SCALAR || !t->text[0])
                return at_node(b, t, err, SL_ERR_CONFIG, "{ best: ... } must name a select stage, found %s",
                               t->kind == SL_Y_SCALAR ? "an empty value" : sl__ynode_kind_name(t));
            long target = find(c->sorted, c->n, t->text);
            if (target < 0)
                return unknown_stage(c, b, t, "best", t->text, err);
            b->best[b->n_best++] = (best_ref){.key = key, .node = val, .target_node = t, .target = (size_t)target};
            continue;
        }
        const sl__ynode *inner = val->kind == SL_Y_SCALAR ? NULL : find_best(val);
        if (inner && inner == val && ps && ps->type == SL_PARAM_STRING_MAP)
            inner = NULL;
        for (size_t i = 0; !inner && val->kind == SL_Y_MAP && i < val->n; i++)
            inner = find_best(val->vals[i]);
        if (inner && ps)
            return at_node(b, inner, err, SL_ERR_CONFIG,
                           "{ best: %s } must be the whole value of a parameter, such as l2: { best: %s }, not part "
                           "of one",
                           best_name(inner), best_name(inner));
    }
    /* inputs in the op's order: the order of the axes a stage inherits */
    for (size_t j = 0; j < op->n_params; j++) {
        const sl_param_spec *ps = &op->params[j];
        const sl__ynode *v = ps->type == SL_PARAM_INPUT ? sl__ynode_get(b->map, ps->name) : NULL;
        if (!v || v->kind != SL_Y_SCALAR || !v->text[0] || is_best(v))
            continue; /* not a stage's name: the parameters say what is wrong */
        long target = find(c->sorted, c->n, v->text);
        if (target < 0)
            return unknown_stage(c, b, v, ps->name, v->text, err);
        b->in[b->n_in++] = (in_ref){ps, v, (size_t)target, (sl__op_flags(op) & SL__OP_GATHER) != 0};
    }
    return SL_OK;
}

/* The file's stages in an order where each comes after what it reads and
 * the select stages its { best: ... } values name. */
static sl_status order(ctx *c, size_t *ord, sl_error *err)
{
    size_t *n_in = calloc(c->n, sizeof *n_in);
    size_t **in = calloc(c->n, sizeof *in);
    sl_status s = n_in && in ? SL_OK : nomem(err);
    for (size_t i = 0; s == SL_OK && i < c->n; i++) {
        const base *b = &c->b[i];
        if (!(in[i] = malloc((b->n_in + b->n_best + 1) * sizeof **in))) {
            s = nomem(err);
            break;
        }
        for (size_t j = 0; j < b->n_in; j++)
            in[i][n_in[i]++] = b->in[j].target;
        for (size_t j = 0; j < b->n_best; j++)
            in[i][n_in[i]++] = b->best[j].target;
    }
    size_t cycle_at = 0;
    if (s == SL_OK) {
        s = sl__dag_sort(c->n, n_in, (const size_t *const *)in, c->names, ord, &cycle_at, err);
        if (s == SL_ERR_CONFIG) {
            err->line = c->b[cycle_at].head->line;
            err->col = c->b[cycle_at].head->col;
            snprintf(err->file, sizeof err->file, "%s", c->p->path);
        }
    }
    for (size_t i = 0; in && i < c->n; i++)
        free(in[i]);
    free(in);
    free(n_in);
    return s;
}

/* ---- axes ---- */

/* "fold = [0, 1, 2]", cut short. */
static void describe_axis(const sl__axis *a, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s = [", a->name);
    for (size_t i = 0; i < a->n && used + 8 < size; i++) {
        if (used + strlen(a->labels[i]) + 8 >= size) {
            used += (size_t)snprintf(buf + used, size - used, "%s...", i ? ", " : "");
            break;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", a->labels[i]);
    }
    if (used + 2 < size)
        snprintf(buf + used, size - used, "]");
}

static int same_values(const sl__axis *a, const sl__axis *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->labels[i], b->labels[i]) != 0)
            return 0;
    return 1;
}

static long axis_index(const base *b, const char *name)
{
    for (size_t a = 0; a < b->n_axes; a++)
        if (strcmp(b->axes[a]->name, name) == 0)
            return (long)a;
    return -1;
}

/* A value as a member's name shows it: letters, digits and _ . + - stay,
 * anything else (a path's '/') becomes '_'. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '.' || *s == '+' || *s == '-'))
            *s = '_';
}

/* The axes the stage makes itself: a split's folds, then its sweep's
 * parameters in the order of their names (scikit-learn's ParameterGrid
 * takes them so, which decides the order of the settings). */
static sl_status own_axes(ctx *c, base *b, const sl_params *params, sl_error *err)
{
    const sl_op *op = b->head->op;
    const sl__ynode *sw = b->sweep;
    b->own = calloc((sw ? sw->n : 0) + 1, sizeof *b->own);
    if (!b->own)
        return nomem(err);
    /* (a swept `folds` gives each member folds without a fold: split says so) */
    if ((sl__op_flags(op) & SL__OP_FOLDS) && sl__ynode_get(b->map, "folds") && sl_params_has(params, "folds") &&
        !sl__ynode_get(b->map, "fold") && !(sw && (sl__ynode_get(sw, "fold") || sl__ynode_get(sw, "folds")))) {
        const sl__ynode *fk = NULL, *fv = sl__ynode_get(b->map, "folds");
        for (size_t k = 0; k < b->map->n; k++)
            if (strcmp(b->map->keys[k]->text, "folds") == 0)
                fk = b->map->keys[k];
        size_t k = (size_t)sl_params_int(params, "folds");
        sl__axis *a = take(c->x, sizeof *a);
        sl__ynode *key = take(c->x, sizeof *key), *vals = take(c->x, k * sizeof *vals);
        const sl__ynode **vp = take(c->x, k * sizeof *vp);
        const char **labels = take(c->x, k * sizeof *labels);
        double *nums = take(c->x, k * sizeof *nums);
        if (!a || !key || !vals || !vp || !labels || !nums)
            return nomem(err);
        *key = (sl__ynode){.kind = SL_Y_SCALAR, .line = fk->line, .col = fk->col, .text = "fold", .plain = 1};
        for (size_t i = 0; i < k; i++) {
            char t[32];
            snprintf(t, sizeof t, "%zu", i);
            if (!(labels[i] = take_text(c->x, t)))
                return nomem(err);
            vals[i] = (sl__ynode){.kind = SL_Y_SCALAR, .line = fv->line, .col = fv->col, .text = labels[i], .plain = 1};
            vp[i] = &vals[i];
            nums[i] = (double)i;
        }
        *a = (sl__axis){.name = "fold", .n = k, .vals = vp, .labels = labels, .nums = nums, .numeric = 1};
        b->own[b->n_own++] = (own_axis){a, key, fv};
    }
    size_t *ord = calloc(sw ? sw->n : 1, sizeof *ord);
    if (!ord)
        return nomem(err);
    for (size_t k = 0; sw && k < sw->n; k++) { /* insertion sort: a handful of keys */
        size_t j = k;
        while (j > 0 && strcmp(sw->keys[ord[j - 1]]->text, sw->keys[k]->text) > 0) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = k;
    }
    sl_status s = SL_OK;
    for (size_t o = 0; sw && o < sw->n && s == SL_OK; o++) {
        size_t k = ord[o];
        const sl__ynode *list = sw->vals[k];
        size_t n = list->kind == SL_Y_SEQ ? list->n : 1;
        sl__axis *a = take(c->x, sizeof *a);
        const sl__ynode **vp = take(c->x, n * sizeof *vp);
        const char **labels = take(c->x, n * sizeof *labels);
        double *nums = take(c->x, n * sizeof *nums);
        if (!a || !vp || !labels || !nums) {
            s = nomem(err);
            break;
        }
        int numeric = 0;
        for (size_t i = 0; i < n && s == SL_OK; i++) {
            vp[i] = list->kind == SL_Y_SEQ ? list->vals[i] : list;
            char t[MEMBER_NAME_MAX + 1]; /* cut short, it makes too long a name: an error below */
            s = sl__param_value(op, sw->keys[k], vp[i], sl__stage_reserved, c->p->base_dir, c->p->path, t, sizeof t,
                                &nums[i], &numeric, err);
            if (s) {
                sl__error_stage(err, b->head->name);
                break;
            }
            sanitize(t);
            if (!(labels[i] = take_text(c->x, t)))
                s = nomem(err);
            for (size_t j = 0; s == SL_OK && j < i; j++)
                if (strcmp(labels[j], labels[i]) == 0)
                    s = at_node(b, vp[i], err, SL_ERR_CONFIG,
                                "items %zu and %zu of the sweep of '%s' name the same member ('%s'); list each value "
                                "once (values differing only in characters other than letters, digits and _ . + - "
                                "name the same member)",
                                j + 1, i + 1, sw->keys[k]->text, labels[i]);
        }
        *a = (sl__axis){.name = sw->keys[k]->text, .n = n, .vals = vp, .labels = labels, .nums = nums,
                        .numeric = numeric};
        b->own[b->n_own++] = (own_axis){a, sw->keys[k], sw->keys[k]};
    }
    free(ord);
    return s;
}

/* The union of the axes of the stages b reads (those it does not gather)
 * and of its own: inputs that share an axis must agree on its values. */
static sl_status union_axes(ctx *c, base *b, sl_error *err)
{
    size_t cap = b->n_own;
    for (size_t j = 0; j < b->n_in; j++) {
        const sl__group *g = c->b[b->in[j].target].group;
        cap += !b->in[j].gathers && g ? g->n_axes : 0;
    }
    b->axes = take(c->x, (cap ? cap : 1) * sizeof *b->axes);
    if (!b->axes)
        return nomem(err);
    char one[512], two[512];
    for (size_t j = 0; j < b->n_in; j++) {
        const base *t = &c->b[b->in[j].target];
        if (b->in[j].gathers || !t->group)
            continue;
        for (size_t a = 0; a < t->group->n_axes; a++) {
            const sl__axis *ax = t->group->axes[a];
            long have = axis_index(b, ax->name);
            if (have < 0) {
                b->axes[b->n_axes++] = ax;
                continue;
            }
            if (same_values(b->axes[have], ax))
                continue;
            size_t first = 0; /* the input the axis came from */
            while (first < j && (b->in[first].gathers || !c->b[b->in[first].target].group ||
                                 axis_index(&c->b[b->in[first].target], ax->name) < 0))
                first++;
            describe_axis(ax, one, sizeof one);
            describe_axis(b->axes[have], two, sizeof two);
            return at_node(b, b->in[j].node, err, SL_ERR_CONFIG,
                           "input '%s' (stage '%s') is expanded over %s, but input '%s' (stage '%s') over %s: inputs "
                           "that share an axis are read member by member on it, so they need the same values (the "
                           "same folds)",
                           b->in[j].spec->name, t->head->name, one, b->in[first].spec->name,
                           c->b[b->in[first].target].head->name, two);
        }
    }
    for (size_t o = 0; o < b->n_own; o++) {
        const sl__axis *ax = b->own[o].axis;
        long have = axis_index(b, ax->name);
        if (have < 0) {
            b->axes[b->n_axes++] = ax;
            continue;
        }
        if (same_values(b->axes[have], ax))
            continue; /* the same axis: the member with value v reads the input's member with v */
        size_t j = 0;
        while (j < b->n_in && (b->in[j].gathers || !c->b[b->in[j].target].group ||
                               axis_index(&c->b[b->in[j].target], ax->name) < 0))
            j++;
        describe_axis(ax, one, sizeof one);
        describe_axis(b->axes[have], two, sizeof two);
        return at_node(b, b->own[o].at, err, SL_ERR_CONFIG,
                       "this stage is expanded over %s, but its input '%s' (stage '%s') over %s: an axis has one list "
                       "of values in a pipeline; give both the same values",
                       one, j < b->n_in ? b->in[j].spec->name : "?",
                       j < b->n_in ? c->b[b->in[j].target].head->name : "?", two);
    }
    return SL_OK;
}

/* The select stage each { best: ... } names, and its axis of the parameter. */
static sl_status link_best(ctx *c, base *b, sl_error *err)
{
    for (size_t k = 0; k < b->n_best; k++) {
        best_ref *r = &b->best[k];
        const base *t = &c->b[r->target];
        const char *param = r->key->text;
        if (t->head->op != &sl__op_select)
            return at_node(b, r->target_node, err, SL_ERR_CONFIG,
                           "{ best: %s } names stage '%s' of op '%s', which is not a select stage; name a select "
                           "stage, which chooses the best value of a swept parameter",
                           t->head->name, t->head->name, t->head->op->name);
        if (t->group)
            return at_node(b, r->target_node, err, SL_ERR_CONFIG,
                           "{ best: %s } names stage '%s', which is expanded into members; a select stage that "
                           "gives a choice must be one stage: do not sweep it",
                           t->head->name, t->head->name);
        const sl__group *g = NULL;
        for (size_t j = 0; j < t->n_in; j++)
            if (t->in[j].gathers)
                g = c->b[t->in[j].target].group;
        char among[512] = "";
        size_t used = 0;
        r->stride = 1;
        for (size_t a = g ? g->n_axes : 0; a-- > 0;) { /* from the last: the stride of the axes after it */
            const sl__axis *ax = g->axes[a];
            if (strcmp(ax->name, "fold") == 0)
                continue; /* averaged over, not chosen */
            if (strcmp(ax->name, param) == 0)
                r->axis = ax;
            else if (!r->axis)
                r->stride *= ax->n;
        }
        for (size_t a = 0; g && a < g->n_axes; a++)
            if (strcmp(g->axes[a]->name, "fold") != 0 && used + strlen(g->axes[a]->name) + 8 < sizeof among)
                used += (size_t)snprintf(among + used, sizeof among - used, "%s%s", used ? ", " : "",
                                         g->axes[a]->name);
        if (!r->axis)
            return at_node(b, r->node, err, SL_ERR_CONFIG,
                           "{ best: %s } for '%s': stage '%s' did not sweep '%s' (it chose among %s); sweep '%s' in "
                           "a stage that '%s' reads, or take '%s' from another select stage",
                           t->head->name, param, t->head->name, param, used ? among : "no swept parameter", param,
                           t->head->name, param);
        sl__ynode *ph = take(c->x, sizeof *ph);
        if (!ph)
            return nomem(err);
        /* until the run chooses: the first value, so that the stage's
         * parameters are checked and it can be drawn and checked now */
        *ph = *r->axis->vals[0];
        ph->line = r->node->line;
        ph->col = r->node->col;
        r->placeholder = ph;
    }
    return SL_OK;
}

/* ---- members ---- */

static size_t product(const base *b, size_t from)
{
    size_t n = 1;
    for (size_t a = from; a < b->n_axes; a++)
        n *= b->axes[a]->n;
    return n;
}

/* Stage b's mapping for the member at coords (NULL: the stage not
 * expanded, or the first values for checking the stage as a whole). */
static sl__ynode *member_map(ctx *c, const base *b, const size_t *coords, sl__best *bests, sl_error *err)
{
    const sl__ynode *m = b->map;
    size_t n = m->n + b->n_own;
    sl__ynode *map = take(c->x, sizeof *map);
    const sl__ynode **keys = take(c->x, n * sizeof *keys), **vals = take(c->x, n * sizeof *vals);
    if (!map || !keys || !vals) {
        nomem(err);
        return NULL;
    }
    *map = (sl__ynode){.kind = SL_Y_MAP, .line = m->line, .col = m->col, .n = 0, .keys = keys, .vals = vals};
    /* by key: an alias may give two keys one value node */
    for (size_t k = 0; k < m->n; k++) {
        const sl__ynode *v = m->vals[k];
        const char *key = m->keys[k]->text;
        for (size_t j = 0; coords && j < b->n_in; j++) {
            const base *t = &c->b[b->in[j].target];
            if (strcmp(b->in[j].spec->name, key) != 0 || b->in[j].gathers || !t->group)
                continue;
            size_t member = 0; /* the input's member with this member's values on the input's axes */
            for (size_t a = 0; a < t->group->n_axes; a++)
                member = member * t->group->axes[a]->n + coords[axis_index(b, t->group->axes[a]->name)];
            sl__ynode *name = take(c->x, sizeof *name);
            if (!name) {
                nomem(err);
                return NULL;
            }
            *name = (sl__ynode){.kind = SL_Y_SCALAR, .line = v->line, .col = v->col,
                                .text = t->group->members[member], .plain = 1};
            v = name;
        }
        for (size_t r = 0; r < b->n_best; r++) {
            if (strcmp(b->best[r].key->text, key) != 0)
                continue;
            sl__ynode *ph = b->best[r].placeholder;
            if (coords && !(ph = take(c->x, sizeof *ph))) {
                nomem(err);
                return NULL;
            }
            *ph = *b->best[r].placeholder;
            if (bests)
                bests[r] = (sl__best){.param = b->best[r].key->text, .from = b->best[r].target_node->text,
                                      .axis = b->best[r].axis, .stride = b->best[r].stride, .value = ph};
            v = ph;
        }
        keys[map->n] = m->keys[k];
        vals[map->n++] = v;
    }
    for (size_t o = 0; o < b->n_own; o++) {
        const sl__axis *a = b->own[o].axis;
        keys[map->n] = b->own[o].key;
        vals[map->n++] = a->vals[coords ? coords[axis_index(b, a->name)] : 0];
    }
    return map;
}

static sl_status build_params(const ctx *c, const base *b, const sl__ynode *map, sl_params **out, sl_error *err)
{
    sl_status s = sl__params_build(b->head->op, map, sl__stage_reserved, c->p->base_dir, c->p->path, out, err);
    if (s)
        sl__error_stage(err, b->head->name);
    return s;
}

static sl_status members(ctx *c, base *b, sl_error *err)
{
    size_t count = 1;
    for (size_t a = 0; a < b->n_axes; a++) {
        if (count > SL_MAX_STAGES / b->axes[a]->n) {
            count = SL_MAX_STAGES + 1;
            break;
        }
        count *= b->axes[a]->n;
    }
    if (b->n_axes && (count > SL_MAX_STAGES || c->total + count > SL_MAX_STAGES))
        return at_node(b, NULL, err, SL_ERR_CONFIG,
                       "expanding the stages makes more than %d stages (stage '%s' alone has %s%zu members); sweep "
                       "fewer values",
                       SL_MAX_STAGES, b->head->name, count > SL_MAX_STAGES ? "more than " : "",
                       count > SL_MAX_STAGES ? (size_t)SL_MAX_STAGES : count);
    b->members = calloc(count, sizeof *b->members);
    size_t *coords = calloc(b->n_axes + 1, sizeof *coords);
    const char **names = take(c->x, count * sizeof *names);
    if (!b->members || !coords || !names) {
        free(coords);
        return nomem(err);
    }
    sl_status s = SL_OK;
    for (size_t m = 0; m < count && s == SL_OK; m++) {
        sl_stage *st = &b->members[m];
        *st = *b->head;
        char name[MEMBER_NAME_MAX + 1];
        size_t used = (size_t)snprintf(name, sizeof name, "%s", b->head->name);
        for (size_t a = 0; a < b->n_axes; a++) {
            coords[a] = (m / product(b, a + 1)) % b->axes[a]->n;
            used += (size_t)snprintf(name + used, used < sizeof name ? sizeof name - used : 0, "%s%s=%s",
                                     a ? "," : "[", b->axes[a]->name, b->axes[a]->labels[coords[a]]);
            if (used >= sizeof name)
                used = sizeof name;
        }
        if (b->n_axes && used < sizeof name)
            used += (size_t)snprintf(name + used, sizeof name - used, "]");
        if (used >= MEMBER_NAME_MAX) {
            s = at_node(b, NULL, err, SL_ERR_CONFIG,
                        "the name of a member of stage '%s', '%.40s...', is longer than %d characters; sweep fewer "
                        "parameters, or give the stage or its values shorter names",
                        b->head->name, name, MEMBER_NAME_MAX - 1);
            break;
        }
        if (b->n_axes && !(st->name = names[m] = take_text(c->x, name))) {
            s = nomem(err);
            break;
        }
        if (b->n_best && !(st->best = take(c->x, b->n_best * sizeof *st->best))) {
            s = nomem(err);
            break;
        }
        st->n_best = b->n_best;
        sl__ynode *map = b->n_axes || b->n_best ? member_map(c, b, b->n_axes ? coords : NULL, st->best, err)
                                                : (sl__ynode *)NULL;
        if ((b->n_axes || b->n_best) && !map) {
            s = err ? err->code : SL_ERR_NOMEM;
            break;
        }
        if (map)
            st->node = map;
        st->member = m;
        s = build_params(c, b, st->node, &st->params, err);
    }
    free(coords);
    b->n_members = count;
    if (s == SL_OK && b->n_axes) {
        sl__group *g = take(c->x, sizeof *g);
        if (!g)
            return nomem(err);
        *g = (sl__group){.name = b->head->name, .n_axes = b->n_axes, .axes = b->axes, .n_members = count,
                         .members = names};
        b->group = g;
        for (size_t m = 0; m < count; m++)
            b->members[m].group = g;
    }
    c->total += count;
    return s;
}

/* One stage of the file, its inputs done: its axes and members. */
static sl_status expand_one(ctx *c, base *b, sl_error *err)
{
    sl_status s = link_best(c, b, err);
    /* the stage as a whole, with the first value of each sweep: its
     * parameters are checked where they are written, and `folds` read */
    sl__ynode *whole = NULL;
    sl_params *params = NULL;
    if (s == SL_OK && !b->sweep && !b->n_best) {
        s = build_params(c, b, b->map, &params, err); /* as written: nothing to put in */
    } else if (s == SL_OK) {
        const sl__ynode *sw = b->sweep;
        size_t n = b->map->n + (sw ? sw->n : 0);
        whole = take(c->x, sizeof *whole);
        const sl__ynode **keys = take(c->x, (n ? n : 1) * sizeof *keys), **vals = take(c->x, (n ? n : 1) * sizeof *vals);
        if (!whole || !keys || !vals)
            return nomem(err);
        *whole = (sl__ynode){.kind = SL_Y_MAP, .line = b->map->line, .col = b->map->col, .keys = keys, .vals = vals};
        for (size_t k = 0; k < b->map->n; k++) {
            const sl__ynode *v = b->map->vals[k];
            for (size_t r = 0; r < b->n_best; r++)
                if (strcmp(b->best[r].key->text, b->map->keys[k]->text) == 0)
                    v = b->best[r].placeholder;
            keys[whole->n] = b->map->keys[k];
            vals[whole->n++] = v;
        }
        for (size_t k = 0; sw && k < sw->n; k++) {
            keys[whole->n] = sw->keys[k];
            vals[whole->n++] = sw->vals[k]->kind == SL_Y_SEQ ? sw->vals[k]->vals[0] : sw->vals[k];
        }
        s = build_params(c, b, whole, &params, err);
    }
    if (s == SL_OK)
        s = own_axes(c, b, params, err);
    if (s == SL_OK)
        s = union_axes(c, b, err);
    if (s == SL_OK && !b->n_axes && !b->n_best) { /* one stage, as written */
        if (!(b->members = calloc(1, sizeof *b->members)))
            s = nomem(err);
        if (s == SL_OK) {
            b->members[0] = *b->head;
            b->members[0].params = params;
            b->n_members = 1;
            c->total++;
            return SL_OK;
        }
    }
    sl__params_free(params);
    if (s == SL_OK)
        s = members(c, b, err);
    return s;
}

sl_status sl__expand(sl_pipeline *p, sl_stage **stages, size_t *n, sl_error *err)
{
    if (!p->expansion && !(p->expansion = calloc(1, sizeof *p->expansion)))
        return nomem(err);
    ctx c = {.p = p, .x = p->expansion, .n = *n};
    c.b = calloc(c.n, sizeof *c.b);
    c.names = malloc(c.n * sizeof *c.names);
    c.sorted = malloc(c.n * sizeof *c.sorted);
    size_t *ord = malloc(c.n * sizeof *ord);
    sl_status s = c.b && c.names && c.sorted && ord ? SL_OK : nomem(err);
    for (size_t i = 0; s == SL_OK && i < c.n; i++) {
        c.b[i].head = &(*stages)[i];
        c.names[i] = (*stages)[i].name;
        c.sorted[i] = (struct name_at){(*stages)[i].name, i};
    }
    if (s == SL_OK)
        qsort(c.sorted, c.n, sizeof *c.sorted, by_name);
    for (size_t i = 0; s == SL_OK && i < c.n; i++)
        s = scan(&c, &c.b[i], err);
    if (s == SL_OK)
        s = order(&c, ord, err);
    for (size_t k = 0; s == SL_OK && k < c.n; k++)
        s = expand_one(&c, &c.b[ord[k]], err);
    sl_stage *out = s == SL_OK ? calloc(c.total ? c.total : 1, sizeof *out) : NULL;
    if (s == SL_OK && !out)
        s = nomem(err);
    size_t made = 0, groups = 0;
    for (size_t i = 0; s == SL_OK && i < c.n; i++) {
        memcpy(out + made, c.b[i].members, c.b[i].n_members * sizeof *out);
        made += c.b[i].n_members;
        groups += c.b[i].group != NULL;
    }
    sl__expansion *x = p->expansion;
    if (s == SL_OK && groups && !(x->groups = malloc(groups * sizeof *x->groups)))
        s = nomem(err);
    for (size_t i = 0; s == SL_OK && i < c.n; i++)
        if (c.b[i].group)
            x->groups[x->n_groups++] = c.b[i].group;
    for (size_t i = 1; s == SL_OK && i < x->n_groups; i++) { /* sorted by name, for lookups */
        const sl__group *g = x->groups[i];
        size_t j = i;
        for (; j > 0 && strcmp(x->groups[j - 1]->name, g->name) > 0; j--)
            x->groups[j] = x->groups[j - 1];
        x->groups[j] = g;
    }
    for (size_t i = 0; i < c.n && c.b; i++) {
        if (s != SL_OK)
            for (size_t m = 0; m < c.b[i].n_members; m++)
                sl__params_free(c.b[i].members[m].params);
        free(c.b[i].members);
        free(c.b[i].in);
        free(c.b[i].best);
        free(c.b[i].own);
    }
    free(c.b);
    free(c.names);
    free(c.sorted);
    free(ord);
    if (s != SL_OK) {
        free(out);
        return s;
    }
    free(*stages);
    *stages = out;
    *n = made;
    return SL_OK;
}

static const sl__group *group_named(const sl_pipeline *p, const char *name)
{
    const sl__expansion *x = p->expansion;
    size_t lo = 0, hi = x ? x->n_groups : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(x->groups[mid]->name, name);
        if (cmp == 0)
            return x->groups[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int sl__expand_is_group(const sl_pipeline *p, const char *name)
{
    return name && group_named(p, name) != NULL;
}

/* The group a gathering stage's INPUT parameter j names, or NULL. */
static const sl__group *gathered_group(const sl_pipeline *p, const sl_stage *st, size_t j)
{
    const sl_param_spec *ps = &st->op->params[j];
    if (!(sl__op_flags(st->op) & SL__OP_GATHER) || ps->type != SL_PARAM_INPUT)
        return NULL;
    return group_named(p, sl_params_string(st->params, ps->name));
}

sl_status sl__expand_link(sl_pipeline *p, sl_stage *stages, size_t n, sl_error *err)
{
    if (!p->expansion)
        return SL_OK;
    struct name_at *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return nomem(err);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (struct name_at){stages[i].name, i};
    qsort(sorted, n, sizeof *sorted, by_name);
    sl_status s = SL_OK;
    for (size_t i = 0; i < n && s == SL_OK; i++) {
        sl_stage *st = &stages[i];
        size_t extra = st->n_best;
        for (size_t j = 0; j < st->op->n_params; j++) {
            const sl__group *g = gathered_group(p, st, j);
            extra += g ? g->n_members : 0;
        }
        if (!extra)
            continue;
        /* at once: a member at a time would copy the inputs once per member */
        sl__input *in = realloc(st->inputs, (st->n_inputs + extra) * sizeof *in);
        if (!in) {
            s = nomem(err);
            break;
        }
        st->inputs = in;
        for (size_t j = 0; j < st->op->n_params && s == SL_OK; j++) {
            const sl__group *g = gathered_group(p, st, j);
            for (size_t m = 0; g && m < g->n_members && s == SL_OK; m++) {
                long k = find(sorted, n, g->members[m]);
                if (k >= 0)
                    in[st->n_inputs++] = (sl__input){st->op->params[j].name, (size_t)k, 0};
                else
                    s = sl__error_set(err, SL_ERR_INTERNAL, "member '%s' of stage '%s' is missing", g->members[m],
                                      g->name);
            }
        }
        for (size_t r = 0; r < st->n_best && s == SL_OK; r++) {
            long k = find(sorted, n, st->best[r].from);
            st->best[r].input = st->n_inputs;
            if (k >= 0)
                in[st->n_inputs++] = (sl__input){"best", (size_t)k, 1};
            else
                s = sl__error_set(err, SL_ERR_INTERNAL, "select stage '%s' is missing", st->best[r].from);
        }
    }
    free(sorted);
    return s;
}

size_t sl__group_value(const sl__group *g, size_t m, size_t a)
{
    size_t stride = 1;
    for (size_t k = a + 1; k < g->n_axes; k++)
        stride *= g->axes[k]->n;
    return (m / stride) % g->axes[a]->n;
}

int sl__stage_is(const sl_stage *st, const char *name)
{
    return strcmp(st->name, name) == 0 || (st->group && strcmp(st->group->name, name) == 0);
}

size_t sl__stage_gathered(const sl_stage *st, const char *param, const sl_stage **out)
{
    size_t n = 0;
    for (size_t j = 0; j < st->n_inputs; j++)
        if (!st->inputs[j].best && strcmp(st->inputs[j].param, param) == 0) {
            if (out)
                out[n] = &st->pipe->stages[st->inputs[j].stage];
            n++;
        }
    return n;
}
