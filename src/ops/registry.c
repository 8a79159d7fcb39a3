#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "config/params_int.h"
#include "core/frame_int.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"
#include "sluice/plugin.h"

static const sl_op *const builtin_ops[] = {
    &sl__op_load_hdf5,
    &sl__op_load_csv,
    &sl__op_save_hdf5,
    &sl__op_convert,
    &sl__op_describe,
    &sl__op_clean,
    &sl__op_scale,
    &sl__op_poly,
    &sl__op_join,
    &sl__op_normalize,
    &sl__op_encode,
    &sl__op_split,
    &sl__op_linreg,
    &sl__op_logreg,
    &sl__op_predict,
    &sl__op_metrics,
    &sl__op_select,
    &sl__op_input,
};
#define N_BUILTIN (sizeof builtin_ops / sizeof builtin_ops[0])

#define MAX_USER_OPS 256
typedef struct user_op {
    const sl_op *op;
    void *user;
    void (*destroy)(void *);
    const sl_plugin *plugin; /* the plugin that added it, or NULL */
} user_op;
static user_op user_ops[MAX_USER_OPS];
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
    const sl_op *op = i - N_BUILTIN < n_user_ops ? user_ops[i - N_BUILTIN].op : NULL;
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

unsigned sl__op_flags(const sl_op *op)
{
    for (size_t i = 0; i < N_BUILTIN; i++)
        if (builtin_ops[i] == op)
            return op->flags;
    return op->flags & (SL_OP_SOURCE | SL_OP_SINK | SL_OP_STREAMABLE);
}

static int op_name_ok(const char *name)
{
    return sl__name_ok(name);
}

sl_status sl__abi_check(int abi, const char *what, sl_error *err)
{
    if (abi < 1)
        return sl__error_set(err, SL_ERR_USAGE,
                             "%s sets no ABI version: add .abi = SL_ABI_VERSION (from <sluice/version.h>) to it",
                             what);
    if (abi > SL_ABI_VERSION)
        return sl__error_set(err, SL_ERR_USAGE,
                             "%s was built for sluice ABI %d, but this libsluice %s supports ABI 1 to %d: build it "
                             "against this sluice's headers or install a newer libsluice",
                             what, abi, sl_version(), SL_ABI_VERSION);
    return SL_OK;
}

/* The registry's entry of a user op (a copy: the array may move), or zeros. */
static user_op user_entry(const sl_op *op)
{
    user_op e = {0};
    pthread_mutex_lock(&registry_mu);
    for (size_t i = 0; i < n_user_ops; i++)
        if (user_ops[i].op == op)
            e = user_ops[i];
    pthread_mutex_unlock(&registry_mu);
    return e;
}

const sl_plugin *sl_op_plugin(const sl_op *op)
{
    return user_entry(op).plugin;
}

void *sl__op_user(const sl_op *op)
{
    return user_entry(op).user;
}

static sl_status check_table(const sl_op *op, sl_error *err)
{
    if (!op || !op->name || !op_name_ok(op->name))
        return sl__error_set(err, SL_ERR_USAGE, "an op needs a name of letters, digits, '_', '.' or '-'");
    char what[SL_NAME_MAX + 8];
    snprintf(what, sizeof what, "op '%s'", op->name);
    sl_status abi = sl__abi_check(op->abi, what, err);
    if (abi)
        return abi;
    if (!op->run)
        return sl__error_set(err, SL_ERR_USAGE, "op '%s' has no run function", op->name);
    if (op->n_params && !op->params)
        return sl__error_set(err, SL_ERR_USAGE, "op '%s' declares %zu parameters but no table", op->name,
                             op->n_params);
    for (size_t i = 0; i < op->n_params; i++) {
        const sl_param_spec *p = &op->params[i];
        if (!p->name || !p->name[0] || strcmp(p->name, "op") == 0 || strcmp(p->name, "description") == 0 ||
            strcmp(p->name, "verify") == 0 || strcmp(p->name, "checkpoint") == 0 || strcmp(p->name, "sweep") == 0)
            return sl__error_set(err, SL_ERR_USAGE, "op '%s': parameter %zu has no name or a reserved one", op->name,
                                 i);
        if (p->type == SL_PARAM_CHOICE && !p->choices)
            return sl__error_set(err, SL_ERR_USAGE, "op '%s': choice parameter '%s' lists no choices", op->name,
                                 p->name);
        sl_status s = sl__param_default_check(op, i, err);
        if (s)
            return s;
    }
    return SL_OK;
}

/* Why `op` cannot join the registry under its name (registry_mu held):
 * the message names the op that has it, and for a plugin's op both origins. */
static sl_status name_taken_locked(const sl_op *op, const sl_plugin *pl, sl_error *err)
{
    for (size_t i = 0; i < N_BUILTIN + n_user_ops; i++) {
        const sl_op *o = i < N_BUILTIN ? builtin_ops[i] : user_ops[i - N_BUILTIN].op;
        if (strcmp(o->name, op->name) != 0)
            continue;
        const sl_plugin *other = i < N_BUILTIN ? NULL : user_ops[i - N_BUILTIN].plugin;
        if (!pl)
            return sl__error_set(err, SL_ERR_USAGE, "an op named '%s' is already registered", op->name);
        if (other)
            return sl__error_set(err, SL_ERR_CONFIG,
                                 "plugin '%s' %s (%s) adds op '%s', which plugin '%s' %s (%s) already added: "
                                 "ops of plugins need names of their own; load only one of the two",
                                 sl_plugin_name(pl), sl_plugin_version(pl), sl_plugin_path(pl), op->name,
                                 sl_plugin_name(other), sl_plugin_version(other), sl_plugin_path(other));
        return sl__error_set(err, SL_ERR_CONFIG,
                             "plugin '%s' %s (%s) adds op '%s', which is %s: rename the plugin's op",
                             sl_plugin_name(pl), sl_plugin_version(pl), sl_plugin_path(pl), op->name,
                             i < N_BUILTIN ? "a built-in op" : "an op the program registered");
    }
    return SL_OK;
}

sl_status sl__op_check(const sl_op *op, const sl_plugin *pl, sl_error *err)
{
    sl_status s = check_table(op, err);
    if (s == SL_OK) {
        pthread_mutex_lock(&registry_mu);
        s = name_taken_locked(op, pl, err);
        pthread_mutex_unlock(&registry_mu);
    }
    return s;
}

sl_status sl__op_register_from(const sl_op *op, void *user, void (*destroy)(void *), const sl_plugin *pl,
                               sl_error *err)
{
    sl_error_clear(err);
    sl_status s = check_table(op, err);
    if (s == SL_OK) {
        pthread_mutex_lock(&registry_mu);
        s = name_taken_locked(op, pl, err);
        if (s == SL_OK && n_user_ops == MAX_USER_OPS)
            s = sl__error_set(err, SL_ERR_USAGE, "at most %d user ops can be registered", MAX_USER_OPS);
        if (s == SL_OK)
            user_ops[n_user_ops++] = (user_op){op, user, destroy, pl};
        pthread_mutex_unlock(&registry_mu);
    }
    /* as sqlite3_create_function_v2: the data is the library's once handed over */
    if (s != SL_OK && destroy)
        destroy(user);
    return s;
}

sl_status sl_op_register(const sl_op *op, void *user, void (*destroy)(void *), sl_error *err)
{
    return sl__op_register_from(op, user, destroy, NULL, err);
}

sl_status sl_op_unregister(const char *name, sl_error *err)
{
    sl_error_clear(err);
    if (!name)
        return sl__error_set(err, SL_ERR_USAGE, "sl_op_unregister needs an op name");
    for (size_t i = 0; i < N_BUILTIN; i++)
        if (strcmp(builtin_ops[i]->name, name) == 0)
            return sl__error_set(err, SL_ERR_USAGE, "op '%s' is built in and cannot be unregistered", name);
    user_op gone = {0};
    pthread_mutex_lock(&registry_mu);
    for (size_t i = 0; i < n_user_ops && !gone.op; i++) {
        if (strcmp(user_ops[i].op->name, name) == 0) {
            gone = user_ops[i];
            memmove(&user_ops[i], &user_ops[i + 1], (n_user_ops - i - 1) * sizeof user_ops[0]);
            n_user_ops--;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    if (!gone.op)
        return sl__error_set(err, SL_ERR_USAGE, "no user op named '%s' is registered", name);
    if (gone.destroy)
        gone.destroy(gone.user);
    return SL_OK;
}

int sl__op_reads_by_range(const sl_op *op, const char *param)
{
    return op == &sl__op_join && strcmp(param, "with") == 0;
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

sl_status sl__select_features(const sl_stage *st, const char *param, const sl_frame *in, unsigned char *want,
                              const char *changes, const char *verb, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    if (sl_params_has(p, param))
        return sl__select_arrays(st, param, in, want, err);
    size_t n = sl_frame_count(in);
    memset(want, 0, n);
    const char *features = sl_params_string(p, "features");
    long i = sl_frame_find(in, features);
    if (i >= 0) {
        want[i] = 1;
        return SL_OK;
    }
    char have[512];
    sl__describe_frame(in, have, sizeof have);
    /* the suggestion: features are most often the widest array */
    const char *guess = "NAME";
    int64_t widest = 0;
    for (size_t k = 0; k < n; k++)
        if (sl_frame_array(in, k)->cols > widest) {
            widest = sl_frame_array(in, k)->cols;
            guess = sl_frame_array(in, k)->name;
        }
    return sl_stage_error(st, err, SL_ERR_CONFIG, "features",
                          "without '%s', %s only the features array, named by 'features' (here '%s'), so that a "
                          "target keeps its values; the input has no array '%s' (it has %s): write 'features: %s' "
                          "to name the features array, or '%s: [...]' to name every array to %s, the target too if "
                          "it must",
                          param, changes, features, features, have, guess, param, verb);
}

sl_stage *sl__input_stage(const sl_stage *st, const char *param)
{
    for (size_t j = 0; j < st->n_inputs; j++)
        if (strcmp(st->inputs[j].param, param) == 0)
            return &st->pipe->stages[st->inputs[j].stage];
    return NULL;
}

void sl__column_name_label(const sl_frame *f, size_t i, int64_t col, char *buf, size_t size)
{
    const char *name = sl_frame_column(f, i, col);
    if (name)
        snprintf(buf, size, " ('%s')", name);
    else
        buf[0] = '\0';
}
