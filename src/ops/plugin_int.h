/* Private: loading plugins for a pipeline file. */
#ifndef SL_PLUGIN_INT_H
#define SL_PLUGIN_INT_H

#include "sluice/plugin.h"

/* sl_plugin_load, with base_dir (may be NULL) as the folder a relative path
 * is relative to and the first folder a bare name is looked for in (a
 * pipeline's `plugins:` resolve against the pipeline file's folder). */
sl_status sl__plugin_load(const char *spec, const char *base_dir, const sl_plugin **out, sl_error *err);

/* Nonzero: sl__plugin_load refuses every plugin (the pipeline fuzzer: a
 * `plugins:` item it makes up must not dlopen the machine's libraries). */
extern int sl__plugins_refused;

#endif
