/* The plugin functions of the C API, from a program linked with libsluice.so
 * (as a plugin's host must be: the plugin's sl_ calls bind to it).
 *
 *   plugin_api CLIPPER.so INIT_FAILS.so NO_ENTRY.so
 *
 * Prints "ok ..." per check, or "FAIL ..." and exits 1. */
#include <stdio.h>
#include <string.h>
#include <sluice/sluice.h>

static int failures;

static void check(int cond, const char *what, const sl_error *err)
{
    char buf[2048];
    if (cond) {
        printf("ok %s\n", what);
    } else {
        printf("FAIL %s%s%s\n", what, err ? ": " : "", err ? sl_error_format(err, buf, sizeof buf) : "");
        failures++;
    }
}

static sl_status noop_run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    (void)st, (void)ex, (void)err;
    return SL_OK;
}

static const sl_op program_op = {.abi = SL_ABI_VERSION, .name = "example.clip_abs", .run = noop_run};

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: plugin_api CLIPPER.so INIT_FAILS.so NO_ENTRY.so\n");
        return 2;
    }
    const char *clipper = argv[1], *init_fails = argv[2], *no_entry = argv[3];
    sl_error err;
    const sl_plugin *pl = NULL, *again = NULL;
    size_t ops0 = sl_op_count();

    check(sl_op_plugin(sl_op_find("describe")) == NULL, "a built-in op has no plugin", NULL);
    check(sl_plugin_count() == 0 && sl_plugin_at(0) == NULL, "no plugin loaded at first", NULL);

    /* an init that adds an op and then fails: nothing of it stays */
    check(sl_plugin_load(init_fails, &pl, &err) == SL_ERR_CONFIG && pl == NULL, "a failing init fails the load",
          NULL);
    check(strstr(err.message, "needs BOGUS_LICENSE to be set") != NULL, "with the plugin's own message", &err);
    check(sl_op_find("bogus.noop") == NULL && sl_op_count() == ops0 && sl_plugin_count() == 0,
          "and leaves no op and no plugin", NULL);

    check(sl_plugin_load(no_entry, NULL, &err) == SL_ERR_CONFIG && strstr(err.message, "exports no 'sluice_plugin'"),
          "a shared object without the entry is refused", &err);
    check(sl_plugin_load("no-such-plugin", NULL, &err) == SL_ERR_CONFIG &&
              strstr(err.message, "plugin 'no-such-plugin' not found: no no-such-plugin.so or "
                                  "libsluice-no-such-plugin.so in SLUICE_PLUGIN_PATH") != NULL,
          "a bare name is looked for in SLUICE_PLUGIN_PATH only", &err);

    /* a name the program took first */
    check(sl_op_register(&program_op, NULL, NULL, &err) == SL_OK, "the program registers example.clip_abs", &err);
    check(sl_plugin_load(clipper, &pl, &err) == SL_ERR_CONFIG &&
              strstr(err.message, "adds op 'example.clip_abs', which is an op the program registered") != NULL,
          "the plugin's op of that name is refused", &err);
    check(sl_op_unregister("example.clip_abs", &err) == SL_OK, "the program's op unregistered", &err);

    check(sl_plugin_load(clipper, &pl, &err) == SL_OK && pl != NULL, "the clipper plugin loads", &err);
    const sl_op *op = sl_op_find("example.clip_abs");
    check(op && sl_op_plugin(op) == pl, "its op has it as origin", NULL);
    check(strcmp(sl_plugin_name(pl), "clipper") == 0 && strcmp(sl_plugin_version(pl), "1.0.0") == 0 &&
              sl_plugin_path(pl)[0] == '/',
          "name, version and absolute path", NULL);
    check(sl_plugin_count() == 1 && sl_plugin_at(0) == pl, "listed once", NULL);
    check(sl_plugin_load(clipper, &again, &err) == SL_OK && again == pl && sl_plugin_count() == 1,
          "loading the same file again returns the same plugin", &err);
    check(sl_plugin_add_op((sl_plugin *)pl, &program_op, NULL, NULL, &err) == SL_ERR_USAGE &&
              strstr(err.message, "is for a plugin's init function") != NULL,
          "sl_plugin_add_op outside init is refused", &err);
    check(sl_plugin_name(NULL) == NULL && sl_plugin_version(NULL) == NULL && sl_plugin_path(NULL) == NULL &&
              sl_op_plugin(NULL) == NULL,
          "the getters take NULL", NULL);
    if (failures)
        printf("%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
