/* Plugins: shared objects that add ops. Loading one checks, in this order,
 * that the file exists, that it is a shared object exporting
 * SL_PLUGIN_SYMBOL, and that the struct's first field (the ABI version, the
 * one field whose place no ABI version may move) is one this library reads;
 * only then is anything else of the plugin read or called. Plugins are
 * never unloaded: their op tables and code are used by pipelines that may
 * outlive any caller's notion of "done", and dlclose of a library with
 * thread-local storage or atexit handlers (OpenMP) is not safe in general. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* realpath's PATH_MAX contract, dlopen flags */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sluice/plugin.h"
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/fsutil.h"
#include "ops/ops_int.h"
#include "ops/plugin_int.h"

#define SL_PLUGIN_VERSION_MAX 64
#define MAX_PLUGIN_OPS 256

/* An op the plugin's init added: registered once init has succeeded. */
typedef struct pending_op {
    const sl_op *op;
    void *user;
    void (*destroy)(void *);
} pending_op;

struct sl_plugin {
    char *name;
    char *version;
    char *path;
    void *handle;
    int loading;    /* inside its init: sl_plugin_add_op is allowed */
    int add_failed;     /* sl_plugin_add_op failed: the load fails with add_err */
    sl_error add_err;   /* which names the plugin */
    size_t n_ops;
    /* The ops join the registry together, after init: no pipeline can
     * start using an op of a plugin whose init then fails and which is
     * unloaded. */
    pending_op ops[MAX_PLUGIN_OPS];
};

static sl_plugin **plugins;
static size_t n_plugins;
/* Held for a whole load, init included, so that two threads loading the
 * same file cannot both get past the "already loaded" check. */
static pthread_mutex_t plugin_mu = PTHREAD_MUTEX_INITIALIZER;
/* sl_plugin_count/at read the list without plugin_mu (a load in progress
 * holds it across the plugin's init): list_mu guards only the list. */
static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER;

const char *sl_plugin_name(const sl_plugin *pl) { return pl ? pl->name : NULL; }
const char *sl_plugin_version(const sl_plugin *pl) { return pl ? pl->version : NULL; }
const char *sl_plugin_path(const sl_plugin *pl) { return pl ? pl->path : NULL; }

size_t sl_plugin_count(void)
{
    pthread_mutex_lock(&list_mu);
    size_t n = n_plugins;
    pthread_mutex_unlock(&list_mu);
    return n;
}

const sl_plugin *sl_plugin_at(size_t i)
{
    pthread_mutex_lock(&list_mu);
    const sl_plugin *pl = i < n_plugins ? plugins[i] : NULL;
    pthread_mutex_unlock(&list_mu);
    return pl;
}

static void plugin_free(sl_plugin *pl)
{
    if (!pl)
        return;
    free(pl->name);
    free(pl->version);
    free(pl->path);
    free(pl);
}

sl_status sl_plugin_add_op(sl_plugin *pl, const sl_op *op, void *user, void (*destroy)(void *), sl_error *err_out)
{
    sl_error local, *err = err_out ? err_out : &local; /* the plugin's load needs the error even without err_out */
    sl_error_clear(err);
    sl_status s = SL_OK;
    if (!pl || !pl->loading) {
        s = sl__error_set(err, SL_ERR_USAGE, "sl_plugin_add_op is for a plugin's init function, with the plugin it "
                                             "was given; a program registers its own ops with sl_op_register");
    } else if (pl->n_ops == MAX_PLUGIN_OPS) {
        s = sl__error_set(err, SL_ERR_USAGE, "plugin '%s' adds more than %d ops", pl->name, MAX_PLUGIN_OPS);
    } else {
        s = sl__op_check(op, pl, err);
        if (s == SL_ERR_USAGE) { /* a malformed table: say whose (a taken name already does) */
            char msg[SL_ERROR_MESSAGE_MAX];
            snprintf(msg, sizeof msg, "%s", err->message);
            sl__error_set(err, s, "plugin '%s' (%s): %s", pl->name, pl->path, msg);
        }
        for (size_t i = 0; s == SL_OK && i < pl->n_ops; i++)
            if (strcmp(pl->ops[i].op->name, op->name) == 0)
                s = sl__error_set(err, SL_ERR_CONFIG, "plugin '%s' (%s) adds op '%s' twice", pl->name, pl->path,
                                  op->name);
    }
    if (s) {
        if (pl && pl->loading && !pl->add_failed) {
            pl->add_failed = 1;
            pl->add_err = *err;
        }
        if (destroy) /* handed over, as with sl_op_register */
            destroy(user);
        return s;
    }
    pl->ops[pl->n_ops++] = (pending_op){op, user, destroy};
    return SL_OK;
}

/* Hands the ops to the registry. If one cannot join (a program registered
 * its name meanwhile), those already in are removed again: destroy runs for
 * every op's user data either way. */
static sl_status register_ops(sl_plugin *pl, sl_error *err)
{
    size_t done = 0;
    sl_status s = SL_OK;
    while (done < pl->n_ops && (s = sl__op_register_from(pl->ops[done].op, pl->ops[done].user,
                                                          pl->ops[done].destroy, pl, err)) == SL_OK)
        done++;
    if (s == SL_OK)
        return SL_OK;
    /* ops[done] failed (and its user data is destroyed); those before it are in */
    for (size_t i = done; i-- > 0;) {
        sl_error ignored;
        sl_op_unregister(pl->ops[i].op->name, &ignored);
    }
    for (size_t i = done + 1; i < pl->n_ops; i++)
        if (pl->ops[i].destroy)
            pl->ops[i].destroy(pl->ops[i].user);
    pl->n_ops = 0;
    return s;
}

/* Frees the user data of ops that never joined the registry. */
static void drop_pending(sl_plugin *pl)
{
    for (size_t i = 0; i < pl->n_ops; i++)
        if (pl->ops[i].destroy)
            pl->ops[i].destroy(pl->ops[i].user);
    pl->n_ops = 0;
}

static int version_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n >= SL_PLUGIN_VERSION_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] <= ' ' || v[i] > '~') /* printable, no spaces: it is shown and stored as one word */
            return 0;
    return 1;
}

/* The entry's fields past `abi`, read once the ABI is known to be ours. */
static sl_status check_info(const sl_plugin_info *info, const char *path, sl_error *err)
{
    if (!info->name || !sl__name_ok(info->name))
        return sl__error_set(err, SL_ERR_CONFIG,
                             "plugin '%s' has no valid name: SL_PLUGIN's name must be 1 to %d letters, digits, '_', "
                             "'.' or '-'",
                             path, SL_NAME_MAX - 1);
    if (!version_ok(info->version))
        return sl__error_set(err, SL_ERR_CONFIG,
                             "plugin '%s' (%s) has no valid version: SL_PLUGIN's version must be 1 to %d printable "
                             "characters without spaces, such as \"1.0.0\"",
                             info->name, path, SL_PLUGIN_VERSION_MAX - 1);
    if (!info->init)
        return sl__error_set(err, SL_ERR_CONFIG, "plugin '%s' (%s) has no init function", info->name, path);
    return SL_OK;
}

static sl_status add_to_list(sl_plugin *pl, sl_error *err)
{
    pthread_mutex_lock(&list_mu);
    sl_plugin **grown = realloc(plugins, (n_plugins + 1) * sizeof *plugins);
    if (grown) {
        plugins = grown;
        plugins[n_plugins++] = pl;
    }
    pthread_mutex_unlock(&list_mu);
    return grown ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
}

static void drop_last_from_list(void)
{
    pthread_mutex_lock(&list_mu);
    n_plugins--;
    pthread_mutex_unlock(&list_mu);
}

/* Calls the plugin's init; its error, if any, names the plugin. */
static sl_status run_init(sl_plugin *pl, const sl_plugin_info *info, sl_error *err)
{
    sl_error e;
    sl_error_clear(&e);
    pl->loading = 1;
    sl_status s = info->init(pl, &e);
    pl->loading = 0;
    if (s == SL_OK && !pl->add_failed)
        return SL_OK;
    drop_pending(pl);
    /* an op that could not be added fails the load, even if init went on:
     * a pipeline would otherwise meet an "unknown op" far from the cause */
    if (pl->add_failed) {
        if (err)
            *err = pl->add_err;
        return pl->add_err.code;
    }
    if (e.code == SL_OK || !e.message[0])
        return sl__error_set(err, SL_ERR_CONFIG, "plugin '%s' (%s) failed to start: its init returned %s", pl->name,
                             pl->path, sl_status_name(s));
    /* its own words, and which plugin said them */
    return sl__error_set(err, e.code, "plugin '%s' (%s): %s", pl->name, pl->path, e.message);
}

/* Loads the plugin at `path`, an absolute path without links; plugin_mu held. */
static sl_status load_resolved_locked(const char *path, sl_plugin **out, sl_error *err)
{
    for (size_t i = 0; i < n_plugins; i++)
        if (strcmp(plugins[i]->path, path) == 0) {
            *out = plugins[i];
            return SL_OK;
        }
    dlerror();
    /* RTLD_NOW: an undefined symbol is an error here, not a crash mid-run;
     * RTLD_LOCAL: two plugins' own symbols cannot collide */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return sl__error_set(err, SL_ERR_CONFIG, "cannot load plugin '%s': %s", path, why ? why : "unknown error");
    }
    const sl_plugin_info *info = dlsym(h, SL_PLUGIN_SYMBOL);
    sl_status s = SL_OK;
    if (!info)
        s = sl__error_set(err, SL_ERR_CONFIG, /* the literal SL_PLUGIN_SYMBOL, for docs/errors.md's check */
                          "plugin '%s' exports no 'sluice_plugin' symbol: is it a sluice plugin? Build it with "
                          "SL_PLUGIN(name, version, init) from <sluice/plugin.h>",
                          path);
    else if (info->abi < 1 || info->abi > SL_ABI_VERSION)
        s = sl__error_set(err, SL_ERR_CONFIG,
                          "plugin '%s' was built for sluice ABI %d, but this libsluice %s supports ABI 1 to %d: "
                          "rebuild it against this sluice's headers",
                          path, info->abi, sl_version(), SL_ABI_VERSION);
    else
        s = check_info(info, path, err);
    for (size_t i = 0; s == SL_OK && i < n_plugins; i++)
        if (strcmp(plugins[i]->name, info->name) == 0)
            s = sl__error_set(err, SL_ERR_CONFIG,
                              "plugin '%s' (%s): a plugin of that name is already loaded, version %s from %s; "
                              "load only one of them",
                              info->name, path, plugins[i]->version, plugins[i]->path);
    sl_plugin *pl = NULL;
    if (s == SL_OK) {
        pl = calloc(1, sizeof *pl);
        if (pl) {
            pl->name = strdup(info->name);
            pl->version = strdup(info->version);
            pl->path = strdup(path);
            pl->handle = h;
        }
        if (!pl || !pl->name || !pl->version || !pl->path)
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (s == SL_OK)
        s = run_init(pl, info, err);
    /* listed first: once its ops are registered, sl_op_plugin hands pl out */
    if (s == SL_OK)
        s = add_to_list(pl, err);
    if (s == SL_OK && (s = register_ops(pl, err)) != SL_OK)
        drop_last_from_list();
    if (s != SL_OK) {
        if (pl)
            drop_pending(pl);
        /* none of its ops is (or was, but in a race with sl_op_register)
         * registered: nothing can reach its code, so it is unloaded */
        plugin_free(pl);
        dlclose(h);
        return s;
    }
    *out = pl;
    return SL_OK;
}

static int regular_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Looks for NAME.so and libsluice-NAME.so (or NAME itself when it ends in
 * .so) in `dir`: 1 and the path in buf when found. */
static int find_in(const char *dir, const char *name, char *buf, size_t size)
{
    static const char *const forms[] = {"%s/%s.so", "%s/libsluice-%s.so"};
    if (ends_with(name, ".so")) {
        snprintf(buf, size, "%s/%s", dir, name);
        return regular_file(buf);
    }
    for (size_t k = 0; k < 2; k++) {
        if ((size_t)snprintf(buf, size, forms[k], dir, name) < size && regular_file(buf))
            return 1;
    }
    return 0;
}

/* Finds a bare plugin name in base_dir (when not NULL), then in the folders
 * of SLUICE_PLUGIN_PATH. */
static sl_status search(const char *name, const char *base_dir, char *buf, size_t size, sl_error *err)
{
    if (base_dir && find_in(base_dir, name, buf, size))
        return SL_OK;
    const char *env = getenv("SLUICE_PLUGIN_PATH");
    for (const char *p = env; p && *p;) {
        size_t n = strcspn(p, ":");
        if (n > 0 && n < PATH_MAX) {
            char dir[PATH_MAX];
            memcpy(dir, p, n);
            dir[n] = '\0';
            if (find_in(dir, name, buf, size))
                return SL_OK;
        }
        p += n + (p[n] == ':');
    }
    char looked[96];
    if (ends_with(name, ".so"))
        snprintf(looked, sizeof looked, "%s", name);
    else
        snprintf(looked, sizeof looked, "%s.so or libsluice-%s.so", name, name);
    return sl__error_set(err, SL_ERR_CONFIG,
                         "plugin '%s' not found: no %s in %s%s%s; put it there, add its folder to "
                         "SLUICE_PLUGIN_PATH, or give its path",
                         name, looked, base_dir ? base_dir : "",
                         base_dir ? " or in SLUICE_PLUGIN_PATH " : "SLUICE_PLUGIN_PATH ",
                         env && *env ? env : "(not set)");
}

int sl__plugins_refused;

sl_status sl__plugin_load(const char *spec, const char *base_dir, const sl_plugin **out, sl_error *err)
{
    if (sl__plugins_refused)
        return sl__error_set(err, SL_ERR_USAGE, "this program loads no plugins ('%s')", spec ? spec : "");
    sl_error_clear(err);
    if (out)
        *out = NULL;
    if (!spec || !spec[0])
        return sl__error_set(err, SL_ERR_CONFIG, "a plugin needs a name or a path, found an empty one");
    char found[PATH_MAX + 64];
    if (strchr(spec, '/')) {
        /* normalized, so that a message names '/d/lib/x.so', not '/d/./lib/x.so' */
        char joined[PATH_MAX + 64];
        if (spec[0] != '/' && base_dir)
            snprintf(joined, sizeof joined, "%s/%s", base_dir, spec);
        else
            snprintf(joined, sizeof joined, "%s", spec);
        char *norm = sl__path_normalize(joined);
        if (!norm)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        snprintf(found, sizeof found, "%s", norm);
        free(norm);
    } else {
        sl_status s = search(spec, base_dir, found, sizeof found, err);
        if (s)
            return s;
    }
    /* one identity per file, whatever path named it: loading it again is a no-op */
    char real[PATH_MAX];
    if (!realpath(found, real))
        return sl__error_set(err, SL_ERR_IO, "cannot open plugin '%s': %s", found, strerror(errno));
    if (!regular_file(real))
        return sl__error_set(err, SL_ERR_CONFIG, "plugin '%s' is not a regular file", found);
    pthread_mutex_lock(&plugin_mu);
    sl_plugin *pl = NULL;
    sl_status s = load_resolved_locked(real, &pl, err);
    pthread_mutex_unlock(&plugin_mu);
    if (s == SL_OK && out)
        *out = pl;
    return s;
}

sl_status sl_plugin_load(const char *name_or_path, const sl_plugin **out, sl_error *err)
{
    return sl__plugin_load(name_or_path, NULL, out, err);
}
