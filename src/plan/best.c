/* Parameters given as { best: STAGE }: the value the select stage STAGE
 * chose, set in the run once it is known (plan/expand.h). The stage's
 * mapping holds a node for the value; choosing points it at the swept
 * value that won, and the parameters are built again from the mapping, so
 * the value is checked against this stage's op and its canonical text,
 * hence the cache key, is the one a file naming it would give. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "plan/cache.h"
#include "plan/expand.h"

static void choose(sl__best *b, double setting)
{
    size_t v = ((size_t)setting / b->stride) % b->axis->n;
    b->value->text = b->axis->vals[v]->text;
    b->value->plain = b->axis->vals[v]->plain;
}

static int setting_ok(double v)
{
    return v >= 0 && v < 1e15 && v == floor(v);
}

static sl_status rebuild(sl_stage *st, sl_error *err)
{
    sl_params *np = NULL;
    sl_status s = sl__params_build(st->op, st->node, sl__stage_reserved, st->pipe->base_dir, st->pipe->path, &np, err);
    if (s) {
        sl__error_stage(err, st->name);
        return s;
    }
    sl__params_free(st->params);
    st->params = np;
    return SL_OK;
}

sl_status sl__best_apply(sl_stage *st, sl_error *err)
{
    for (size_t r = 0; r < st->n_best; r++) {
        sl__best *b = &st->best[r];
        const sl_stage *sel = &st->pipe->stages[st->inputs[b->input].stage];
        double v = -1;
        if (!sl_pipeline_stage_result_find(st->pipe, sel->index, "best_index", &v) || !setting_ok(v))
            return sl_stage_error(st, err, SL_ERR_INTERNAL, b->param,
                                  "select stage '%s' recorded no valid best_index, so '%s' has no value to take",
                                  sel->name, b->param);
        choose(b, v);
    }
    return st->n_best ? rebuild(st, err) : SL_OK;
}

sl_status sl__best_apply_stored(sl_stage *st, const char *workdir, sl_error *err)
{
    int chosen = 0;
    for (size_t r = 0; r < st->n_best; r++) {
        sl__best *b = &st->best[r];
        const sl_stage *sel = &st->pipe->stages[st->inputs[b->input].stage];
        double v = -1;
        int found = 0;
        if (sl__workdir_is_memory(workdir)) {
            found = sl_pipeline_stage_result_find(st->pipe, sel->index, "best_index", &v);
        } else {
            char *path = sl__ckpt_path(workdir, sel->name);
            if (!path)
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            found = sl__ckpt_result_read(path, "best_index", &v);
            free(path);
        }
        if (found && setting_ok(v)) {
            choose(b, v);
            chosen = 1;
        }
    }
    return chosen ? rebuild(st, err) : SL_OK;
}
