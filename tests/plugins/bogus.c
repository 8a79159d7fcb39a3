/* Shared objects that are wrong as sluice plugins, one per define, for the
 * error tests of test_plugins.py:
 *   BOGUS_NO_ENTRY     a shared object exporting no sluice_plugin
 *   BOGUS_ABI=N        a plugin built for ABI N (999: a future sluice)
 *   BOGUS_DUP_BUILTIN  a plugin adding an op named "describe", a built-in op's name
 *   BOGUS_DUP_PLUGIN   a plugin adding "example.clip_abs", the clipper plugin's op
 *   BOGUS_INIT_FAILS   a plugin whose init adds an op, then fails with its own message
 *   BOGUS_TWICE        a plugin adding its op twice, and returning SL_OK all the same */
#include <stdio.h>
#include <sluice/plugin.h>

#ifdef BOGUS_NO_ENTRY
/* something exported, so that the object is a valid shared object */
int bogus_answer(void);
int bogus_answer(void)
{
    return 42;
}
#else

static sl_status bogus_run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    (void)st, (void)ex, (void)err;
    return SL_OK;
}

static const sl_op bogus_op = {
    .abi = SL_ABI_VERSION,
#if defined(BOGUS_DUP_BUILTIN)
    .name = "describe",
#elif defined(BOGUS_DUP_PLUGIN)
    .name = "example.clip_abs",
#else
    .name = "bogus.noop",
#endif
    .summary = "does nothing",
    .run = bogus_run,
};

static sl_status bogus_init(sl_plugin *pl, sl_error *err)
{
#ifdef BOGUS_INIT_FAILS
    /* an op added, then a failure: the op must be gone again */
    if (sl_plugin_add_op(pl, &bogus_op, NULL, NULL, err) != SL_OK)
        return err->code;
    err->code = SL_ERR_CONFIG;
    snprintf(err->message, sizeof err->message, "needs BOGUS_LICENSE to be set");
    return SL_ERR_CONFIG;
#elif defined(BOGUS_TWICE)
    sl_plugin_add_op(pl, &bogus_op, NULL, NULL, err);
    sl_plugin_add_op(pl, &bogus_op, NULL, NULL, NULL); /* fails; and the plugin does not look */
    return SL_OK;
#else
    return sl_plugin_add_op(pl, &bogus_op, NULL, NULL, err);
#endif
}

#ifdef BOGUS_ABI
/* what SL_PLUGIN would give with the headers of another sluice */
SL_PLUGIN_EXPORT extern const sl_plugin_info sluice_plugin;
SL_PLUGIN_EXPORT const sl_plugin_info sluice_plugin = {BOGUS_ABI, "future", "9.0", bogus_init};
#else
SL_PLUGIN(BOGUS_NAME, "0.1", bogus_init);
#endif
#endif
