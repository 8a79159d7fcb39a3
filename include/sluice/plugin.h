/* sluice: plugins. A plugin is a shared object that adds ops to the sluice
 * command (a pipeline names it under `plugins:`) or to any program using
 * libsluice (sl_plugin_load). It defines one data symbol, `sluice_plugin`,
 * with SL_PLUGIN(name, version, init). The host reads that struct's first
 * field, the ABI version, before anything else: a plugin built for an ABI
 * this library does not know is refused without calling any of its code.
 * docs/c-api.md, "Plugins". */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>
#include "sluice/error.h"
#include "sluice/op.h"
#include "sluice/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A loaded plugin. Plugins stay loaded until the process ends. */
typedef struct sl_plugin sl_plugin;

/* What a plugin exports as SL_PLUGIN_SYMBOL. `abi` is first in every ABI
 * version, so that it can be read from a plugin of any version; the rest of
 * the layout belongs to that version. */
typedef struct sl_plugin_info {
    int abi;             /* SL_ABI_VERSION of the headers the plugin was built with */
    const char *name;    /* letters, digits, '_', '.' or '-' (as stage names) */
    const char *version; /* the plugin's own version ("1.2.0"): in the cache key of its stages */
    /* Called once, when the plugin is loaded: adds its ops with
     * sl_plugin_add_op. They join the registry together when it returns
     * SL_OK. On failure (another status, with err filled), or if an
     * sl_plugin_add_op failed, none of them does, their user data is
     * destroyed and the plugin is unloaded. */
    sl_status (*init)(sl_plugin *pl, sl_error *err);
} sl_plugin_info;

#define SL_PLUGIN_SYMBOL "sluice_plugin"

#if defined(__GNUC__)
#define SL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SL_PLUGIN_EXPORT
#endif

/* Defines the plugin's entry, once in the plugin:
 *     SL_PLUGIN("clipper", "1.0.0", clipper_init);
 * exported even when the plugin is built with -fvisibility=hidden. */
#define SL_PLUGIN(name, version, init)                                                                              \
    SL_PLUGIN_EXPORT extern const sl_plugin_info sluice_plugin;                                                     \
    SL_PLUGIN_EXPORT const sl_plugin_info sluice_plugin = {SL_ABI_VERSION, (name), (version), (init)}

/* Loads a plugin: a path (containing '/') is opened as given; a bare name
 * NAME is looked for as NAME.so, then libsluice-NAME.so, in each folder of
 * SLUICE_PLUGIN_PATH (colon-separated) in turn. Checks the entry symbol and
 * its ABI, calls its init, and records it as the origin of its ops. Loading
 * the same file again does nothing and returns the plugin already loaded.
 * Fails on a missing file, a shared object that is not a sluice plugin, an
 * ABI this library does not support, a plugin name already loaded from
 * another file, an op name already registered, or a failing init. *out (may
 * be NULL) is the plugin. Not from a plugin's init. Thread-safe. */
sl_status sl_plugin_load(const char *name_or_path, const sl_plugin **out, sl_error *err);
/* From the plugin's init only: adds an op of the plugin, with the plugin as
 * its origin. Checks it as sl_op_register does (the table, a name not yet
 * taken) and takes user and destroy likewise; the op is registered when
 * init has succeeded. The table must live as long as the plugin (a static
 * const). */
sl_status sl_plugin_add_op(sl_plugin *pl, const sl_op *op, void *user, void (*destroy)(void *user), sl_error *err);

/* The plugin an op came from; NULL for a built-in op and for one the
 * program registered with sl_op_register. */
const sl_plugin *sl_op_plugin(const sl_op *op);
const char *sl_plugin_name(const sl_plugin *pl);
const char *sl_plugin_version(const sl_plugin *pl);
/* The plugin's file, as an absolute path without symbolic links. */
const char *sl_plugin_path(const sl_plugin *pl);
/* The plugins loaded, in the order they were. */
size_t sl_plugin_count(void);
const sl_plugin *sl_plugin_at(size_t i);

#ifdef __cplusplus
}
#endif
#endif
