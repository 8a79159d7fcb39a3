/* sluice run FILE */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"

static int want_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

int cmd_run(int argc, char **argv)
{
    if (want_help(argc, argv)) {
        puts("usage: sluice run FILE [-j N] [--chunk-rows N] [--workdir DIR] [-q] [--progress auto|always|never]");
        return EXIT_OK;
    }
    sl_run_options opt = {0};
    const char *file = NULL, *progress = "auto";
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        if (strcmp(a, "-j") == 0 || strcmp(a, "--threads") == 0) {
            if (!cli_parse_count(val, 4096, &v))
                return cli_usage_error("%s needs a thread count from 1 to 4096", a);
            opt.threads = (int)v;
            i++;
        } else if (strcmp(a, "--chunk-rows") == 0) {
            if (!cli_parse_count(val, 1LL << 30, &v))
                return cli_usage_error("--chunk-rows needs a row count from 1 to %lld", 1LL << 30);
            opt.chunk_rows = v;
            i++;
        } else if (strcmp(a, "--workdir") == 0) {
            if (!val || !*val)
                return cli_usage_error("--workdir needs a folder");
            opt.workdir = val;
            i++;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--progress") == 0) {
            if (!val || (strcmp(val, "auto") && strcmp(val, "always") && strcmp(val, "never")))
                return cli_usage_error("--progress needs auto, always or never");
            progress = val;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("unknown option '%s' for run", a);
        } else if (!file) {
            file = a;
        } else {
            return cli_usage_error("run takes one pipeline file; '%s' is extra", a);
        }
    }
    if (!file)
        return cli_usage_error("run needs a pipeline file: sluice run FILE");

    sl_error err;
    sl_pipeline *p = NULL;
    if (sl_pipeline_load_file(file, &p, &err) != SL_OK)
        return cli_fail(&err);
    int live = !quiet && (strcmp(progress, "always") == 0 || (strcmp(progress, "auto") == 0 && isatty(1)));
    cli_progress *pr = cli_progress_new(p, stdout, live, quiet);
    opt.progress = pr ? cli_progress_event : NULL;
    opt.user = pr;
    sl_status s = sl_pipeline_run(p, &opt, &err);
    cli_progress_finish(pr);
    int rc = s == SL_OK ? EXIT_OK : cli_fail(&err);
    if (s == SL_OK && !quiet)
        printf("checkpoints in %s\n", opt.workdir ? opt.workdir : sl_pipeline_workdir(p));
    cli_progress_free(pr);
    sl_pipeline_free(p);
    return rc;
}
