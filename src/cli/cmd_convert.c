/* sluice convert-csv IN.csv OUT.h5: the one-stage pipeline load.csv ->
 * save.hdf5, built as YAML text and run through the library like any
 * pipeline file, in a temporary workdir removed afterwards. The load is
 * streamed (checkpoint: false), so the text is parsed once, on all threads,
 * straight into the HDF5 file. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"

static const char convert_usage[] =
    "usage: sluice convert-csv IN.csv OUT.h5 [options]\n"
    "  writes the columns of a CSV (or TSV) file to an HDF5 file, one 2-D dataset per array;\n"
    "  the same as the pipeline  load: { op: load.csv, ... }  ->  save: { op: save.hdf5, ... }\n"
    "  --arrays NAME=COLS  array NAME holds the columns COLS (header names or 0-based indices,\n"
    "                      separated by commas); repeatable (default: one array X of every column)\n"
    "  --delimiter C       the field delimiter (default: a tab for .tsv, ',' otherwise)\n"
    "  --dtype NAME=TYPE   array NAME as float64, float32, int64 or int32 (repeatable)\n"
    "  --no-header         the first record is data; columns are named 0, 1, ...\n"
    "  --comment C         skip records starting with C\n"
    "  --skip-bad-rows     leave out bad records (counted) instead of failing\n"
    "  -j, --threads N     threads (default: all cores)\n";

/* Appends s to buf as a single-quoted YAML scalar. */
static int put_quoted(char *buf, size_t size, size_t *len, const char *s)
{
    if (*len + 1 >= size)
        return 0;
    buf[(*len)++] = '\'';
    for (; *s; s++) {
        if (*len + 3 >= size)
            return 0;
        if (*s == '\'')
            buf[(*len)++] = '\'';
        buf[(*len)++] = *s;
    }
    buf[(*len)++] = '\'';
    buf[*len] = '\0';
    return 1;
}

static int put(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 >= size)
        return 0;
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return 1;
}

/* "NAME=VALUE" items as a YAML flow mapping { 'NAME': 'VALUE', ... }. */
static int put_map(char *buf, size_t size, size_t *len, const char *key, char **items, int n)
{
    int ok = put(buf, size, len, ", ") && put(buf, size, len, key) && put(buf, size, len, ": { ");
    for (int i = 0; ok && i < n; i++) {
        char *eq = strchr(items[i], '=');
        *eq = '\0';
        ok = (i == 0 || put(buf, size, len, ", ")) && put_quoted(buf, size, len, items[i]) &&
             put(buf, size, len, ": ") && put_quoted(buf, size, len, eq + 1);
        *eq = '=';
    }
    return ok && put(buf, size, len, " }");
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return NULL;
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", cwd, path);
    return out;
}

int cmd_convert_csv(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL}, *delim = NULL, *comment = NULL;
    char **arrays = calloc((size_t)argc, sizeof *arrays), **dtypes = calloc((size_t)argc, sizeof *dtypes);
    int n_arrays = 0, n_dtypes = 0, n_files = 0, header = 1, skip = 0, rc = -1;
    sl_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.abi = SL_ABI_VERSION;
    if (!arrays || !dtypes)
        rc = cli_usage_error("out of memory");
    for (int i = 1; rc < 0 && i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            fputs(convert_usage, stdout);
            rc = EXIT_OK;
        } else if (strcmp(o, "-j") == 0 || strcmp(o, "--threads") == 0) {
            if (!cli_parse_count(val, 4096, &v))
                rc = cli_usage_error("%s needs a thread count from 1 to 4096", o);
            opt.threads = (int)v;
            i++;
        } else if (strcmp(o, "--arrays") == 0 || strcmp(o, "--dtype") == 0) {
            if (!val || !strchr(val, '=') || val[0] == '=')
                rc = cli_usage_error("%s needs NAME=VALUE, e.g. --arrays X=a,b,c or --dtype X=float32", o);
            else if (o[2] == 'a')
                arrays[n_arrays++] = argv[++i];
            else
                dtypes[n_dtypes++] = argv[++i];
        } else if (strcmp(o, "--delimiter") == 0 || strcmp(o, "--comment") == 0) {
            if (!val)
                rc = cli_usage_error("%s needs one character", o);
            else if (o[2] == 'd')
                delim = argv[++i];
            else
                comment = argv[++i];
        } else if (strcmp(o, "--no-header") == 0) {
            header = 0;
        } else if (strcmp(o, "--skip-bad-rows") == 0) {
            skip = 1;
        } else if (o[0] == '-' && o[1]) {
            rc = cli_usage_error("unknown option '%s' for %s", o, "convert-csv");
        } else if (n_files < 2) {
            files[n_files++] = o;
        } else {
            rc = cli_usage_error("convert-csv takes an input and an output file; '%s' is extra", o);
        }
    }
    if (rc < 0 && n_files < 2)
        rc = cli_usage_error("convert-csv needs an input CSV file and an output HDF5 file: sluice convert-csv "
                             "IN.csv OUT.h5");
    char *in = rc < 0 ? absolute(files[0]) : NULL, *out = rc < 0 ? absolute(files[1]) : NULL;
    char tmpl[4096];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/sluice-convert-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (rc < 0 && (!in || !out || !mkdtemp(tmpl))) {
        fprintf(stderr, "sluice: convert-csv: cannot make a temporary workdir '%s': %s\n", tmpl, strerror(errno));
        rc = EXIT_IO;
    }
    size_t size = 65536, len = 0;
    char *yaml = rc < 0 ? malloc(size) : NULL;
    if (rc < 0) {
        yaml[0] = '\0';
        int ok = put(yaml, size, &len, "pipeline: convert-csv\nworkdir: ") && put_quoted(yaml, size, &len, tmpl) &&
                 put(yaml, size, &len, "\nstages:\n  load: { op: load.csv, checkpoint: false, file: ") &&
                 put_quoted(yaml, size, &len, in);
        if (ok && delim)
            ok = put(yaml, size, &len, ", delimiter: ") && put_quoted(yaml, size, &len, delim);
        if (ok && comment)
            ok = put(yaml, size, &len, ", comment: ") && put_quoted(yaml, size, &len, comment);
        if (ok && !header)
            ok = put(yaml, size, &len, ", header: false");
        if (ok && skip)
            ok = put(yaml, size, &len, ", on_bad_row: skip");
        if (ok && n_arrays)
            ok = put_map(yaml, size, &len, "arrays", arrays, n_arrays);
        if (ok && n_dtypes)
            ok = put_map(yaml, size, &len, "dtypes", dtypes, n_dtypes);
        ok = ok && put(yaml, size, &len, " }\n  save: { op: save.hdf5, input: load, file: ") &&
             put_quoted(yaml, size, &len, out) && put(yaml, size, &len, " }\n");
        if (!ok)
            rc = cli_usage_error("convert-csv: the arguments are too long");
    }
    if (rc < 0) {
        sl_pipeline *p = NULL;
        sl_error err = {0};
        opt.cancel = cli_stop_flag();
        cli_catch_stop_signals();
        sl_status s = sl_pipeline_load_string(yaml, len, "convert-csv", NULL, &p, &err);
        if (s == SL_OK)
            s = sl_pipeline_run(p, &opt, &err);
        if (s == SL_OK) {
            const sl_frame *f = sl_pipeline_stage_output(p, 0);
            printf("wrote %s: %lld rows,", out, (long long)sl_frame_rows(f));
            for (size_t i = 0; i < sl_frame_count(f); i++)
                printf(" %s (%s, %lld column%s)", sl_frame_array(f, i)->name, sl_dtype_name(sl_frame_array(f, i)->dtype),
                       (long long)sl_frame_array(f, i)->cols, sl_frame_array(f, i)->cols == 1 ? "" : "s");
            putchar('\n');
        }
        rc = s == SL_OK ? EXIT_OK : cli_fail(&err);
        sl_pipeline_free(p);
        nftw(tmpl, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(yaml);
    free(in);
    free(out);
    free(arrays);
    free(dtypes);
    return rc;
}
