/* The op "example.clip_abs" (clip_op.c) as a plugin, so that the sluice
 * command can run it from a pipeline file:
 *
 *   plugins: [clipper]        # libsluice-clipper.so, beside the file or in SLUICE_PLUGIN_PATH
 *   stages:
 *     clip: { op: example.clip_abs, input: load, bound: 2.0 }
 *
 * Built by examples/meson.build as libsluice-clipper.so; outside this tree:
 *
 *   cc -std=c11 -shared -fPIC $(pkg-config --cflags sluice) plugin_clip.c clip_op.c -o libsluice-clipper.so
 *
 * CLIPPER_VERSION is the plugin's version, in the cache key of every stage
 * of its ops: a new version recomputes them. The tests build a second copy
 * with another version to see that. */
#include <sluice/plugin.h>
#include "clip_op.h"

#ifndef CLIPPER_VERSION
#define CLIPPER_VERSION "1.0.0"
#endif

static sl_status clipper_init(sl_plugin *pl, sl_error *err)
{
    return sl_plugin_add_op(pl, &example_clip_op, NULL, NULL, err);
}

SL_PLUGIN("clipper", CLIPPER_VERSION, clipper_init);
