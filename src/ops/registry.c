#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "config/params_int.h"
#include "core/frame_int.h"
#include "ops/ops_int.h"

static const sl_op *const builtin_ops[] = {
    &sl__op_load_hdf5,
    &sl__op_load_csv,
    &sl__op_save_hdf5,
    &sl__op_convert,
    &sl__op_describe,
    &sl__op_clean,
    &sl__op_scale,
    &sl__op_normalize,
    &sl__op_split,
    &sl__op_linreg,
    &sl__op_logreg,
    &sl__op_predict,
    &sl__op_metrics,
};
#define N_BUILTIN (sizeof builtin_ops / sizeof builtin_ops[0])

#define MAX_USER_OPS 256
static const sl_op *user_ops[MAX_USER_OPS];
static size_t n_user_ops;
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;

size_t sl_op_count(void)
{
    pthread_mutex_lock(&registry_mu);
    size_t n = N_BUILTIN + n_user_ops;
    pthread_mutex_unlock(&registry_mu);
    return n;
}

const sl_op *sl_op_at(size_t i)
{
    if (i < N_BUILTIN)
        return builtin_ops[i];
    pthread_mutex_lock(&registry_mu);
    const sl_op *op = i - N_BUILTIN < n_user_ops ? user_ops[i - N_BUILTIN] : NULL;
    pthread_mutex_unlock(&registry_mu);
    return op;
}

const sl_op *sl_op_find(const char *name)
{
    if (!name)
        return NULL;
    size_t n = sl_op_count();
    for (size_t i = 0; i < n; i++) {
        const sl_op *op = sl_op_at(i);
        if (op && strcmp(op->name, name) == 0)
            return op;
    }
    return NULL;
}

static int op_name_ok(const char *name)
{
    return sl__name_ok(name);
}

sl_status sl_op_register(const sl_op *op, sl_error *err)
{
    if (!op || !op->name || !op_name_ok(op->name))
        return sl__error_set(err, SL_ERR_USAGE, "an op needs a name of letters, digits, '_', '.' or '-'");
    if (!op->run)
        return sl__error_set(err, SL_ERR_USAGE, "op '%s' has no run function", op->name);
    if (op->n_params && !op->params)
        return sl__error_set(err, SL_ERR_USAGE, "op '%s' declares %zu parameters but no table", op->name,
                             op->n_params);
    for (size_t i = 0; i < op->n_params; i++) {
        const sl_param_spec *p = &op->params[i];
        if (!p->name || !p->name[0] || strcmp(p->name, "op") == 0 || strcmp(p->name, "description") == 0 ||
            strcmp(p->name, "verify") == 0 || strcmp(p->name, "checkpoint") == 0)
            return sl__error_set(err, SL_ERR_USAGE, "op '%s': parameter %zu has no name or a reserved one", op->name,
                                 i);
        if (p->type == SL_PARAM_CHOICE && !p->choices)
            return sl__error_set(err, SL_ERR_USAGE, "op '%s': choice parameter '%s' lists no choices", op->name,
                                 p->name);
        sl_status s = sl__param_default_check(op, i, err);
        if (s)
            return s;
    }
    pthread_mutex_lock(&registry_mu);
    sl_status s = SL_OK;
    for (size_t i = 0; i < N_BUILTIN + n_user_ops && s == SL_OK; i++) {
        const sl_op *o = i < N_BUILTIN ? builtin_ops[i] : user_ops[i - N_BUILTIN];
        if (strcmp(o->name, op->name) == 0)
            s = sl__error_set(err, SL_ERR_USAGE, "an op named '%s' is already registered", op->name);
    }
    if (s == SL_OK && n_user_ops == MAX_USER_OPS)
        s = sl__error_set(err, SL_ERR_USAGE, "at most %d user ops can be registered", MAX_USER_OPS);
    if (s == SL_OK)
        user_ops[n_user_ops++] = op;
    pthread_mutex_unlock(&registry_mu);
    return s;
}

void sl__describe_frame(const sl_frame *f, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sl_frame_count(f) && used < size; i++) {
        const sl_array_info *a = sl_frame_array(f, i);
        int w = snprintf(buf + used, size - used, "%s%s (%s, %lld column%s)", i ? ", " : "", a->name,
                         sl_dtype_name(a->dtype), (long long)a->cols, a->cols == 1 ? "" : "s");
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (sl_frame_count(f) == 0)
        snprintf(buf, size, "no arrays");
}

sl_status sl__select_arrays(const sl_stage *st, const char *param, const sl_frame *in, unsigned char *want,
                            sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    size_t n = sl_frame_count(in);
    if (!sl_params_has(p, param)) {
        memset(want, 1, n);
        return SL_OK;
    }
    memset(want, 0, n);
    for (size_t k = 0; k < sl_params_len(p, param); k++) {
        const char *name = sl_params_list_string(p, param, k);
        long i = sl_frame_find(in, name);
        if (i < 0) {
            char have[512];
            sl__describe_frame(in, have, sizeof have);
            return sl_stage_error(st, err, SL_ERR_CONFIG, param, "'%s' names array '%s', which the input lacks; it has %s",
                                  param, name, have);
        }
        want[i] = 1;
    }
    return SL_OK;
}
