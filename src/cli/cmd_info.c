/* sluice check / graph / ops: everything that reads a pipeline or the op
 * registry without running anything. */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

/* `graph` reads the file's structure only (sl_pipeline_read_file), so it
 * draws a pipeline whose data does not exist yet; `check` plans it. */
static int load_one(int argc, char **argv, const char *cmd, int structure_only, int *mermaid, sl_pipeline **p)
{
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: sluice %s FILE%s\n", cmd, mermaid ? " [--mermaid]" : "");
            return -1;
        }
        if (mermaid && strcmp(argv[i], "--mermaid") == 0)
            *mermaid = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("unknown option '%s' for %s", argv[i], cmd);
        else if (!file)
            file = argv[i];
        else
            return cli_usage_error("%s takes one pipeline file; '%s' is extra", cmd, argv[i]);
    }
    if (!file)
        return cli_usage_error("%s needs a pipeline file: sluice %s FILE", cmd, cmd);
    sl_error err;
    sl_status s = structure_only ? sl_pipeline_read_file(file, p, &err) : sl_pipeline_load_file(file, p, &err);
    if (s != SL_OK)
        return cli_fail(&err);
    return EXIT_OK;
}

static void print_frame(const sl_frame *f)
{
    long long rows = sl_frame_rows(f);
    for (size_t i = 0; i < sl_frame_count(f); i++) {
        const sl_array_info *a = sl_frame_array(f, i);
        if (rows >= 0)
            printf("%s%s %lldx%lld %s", i ? ", " : "", a->name, rows, (long long)a->cols, sl_dtype_name(a->dtype));
        else
            printf("%s%s ?x%lld %s", i ? ", " : "", a->name, (long long)a->cols, sl_dtype_name(a->dtype));
    }
    if (sl_frame_count(f) == 0)
        printf("(no arrays)");
}

int cmd_check(int argc, char **argv)
{
    sl_pipeline *p = NULL;
    int rc = load_one(argc, argv, "check", 0, NULL, &p);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    size_t n = sl_pipeline_stage_count(p);
    printf("pipeline '%s': %zu stage%s, workdir %s\n", sl_pipeline_name(p), n, n == 1 ? "" : "s",
           sl_pipeline_workdir(p));
    int w = cli_name_width(p);
    for (size_t i = 0; i < n; i++) {
        printf("  %-*s %-12s -> ", w, sl_pipeline_stage_name(p, i), sl_pipeline_stage_op(p, i)->name);
        print_frame(sl_pipeline_stage_output(p, i));
        putchar('\n');
    }
    puts("ok");
    sl_pipeline_free(p);
    return EXIT_OK;
}

/* Members of expanded stages, fit[fold=0,l2=0.1], sorted by the stage of
 * the file they come from (the name before '['), then by index. */
static const sl_pipeline *sort_p;

static int by_group(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const char *x = sl_pipeline_stage_name(sort_p, i), *y = sl_pipeline_stage_name(sort_p, j);
    size_t lx = strcspn(x, "["), ly = strcspn(y, "[");
    int c = strncmp(x, y, lx < ly ? lx : ly);
    if (c == 0 && lx != ly)
        c = lx < ly ? -1 : 1;
    return c ? c : (i > j) - (i < j);
}

/* One box (a DOT cluster, a Mermaid subgraph) around the members of each
 * expanded stage, labelled with the stage's name as the file has it. */
static void draw_groups(const sl_pipeline *p, int mermaid)
{
    size_t n = sl_pipeline_stage_count(p), m = 0;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return; /* the boxes only help reading: the graph is whole without them */
    for (size_t i = 0; i < n; i++)
        if (strchr(sl_pipeline_stage_name(p, i), '['))
            idx[m++] = i;
    sort_p = p;
    qsort(idx, m, sizeof *idx, by_group);
    for (size_t a = 0, g = 0; a < m; g++) {
        const char *first = sl_pipeline_stage_name(p, idx[a]);
        int len = (int)strcspn(first, "[");
        size_t b = a;
        while (b < m && strncmp(sl_pipeline_stage_name(p, idx[b]), first, (size_t)len + 1) == 0)
            b++;
        if (mermaid)
            printf("  subgraph g%zu [\"%.*s\"]\n", g, len, first);
        else
            printf("  subgraph \"cluster_%.*s\" {\n    label=\"%.*s\"; style=dashed;\n", len, first, len, first);
        for (; a < b; a++)
            if (mermaid)
                printf("    s%zu\n", idx[a]);
            else
                printf("    \"%s\";\n", sl_pipeline_stage_name(p, idx[a]));
        puts(mermaid ? "  end" : "  }");
    }
    free(idx);
}

/* Stage names are [A-Za-z0-9_.-], and a member's adds [ ] = , +: none needs
 * escaping in DOT's quoted ids or Mermaid's quoted labels. */
int cmd_graph(int argc, char **argv)
{
    sl_pipeline *p = NULL;
    int mermaid = 0;
    int rc = load_one(argc, argv, "graph", 1, &mermaid, &p);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    size_t n = sl_pipeline_stage_count(p);
    if (mermaid) {
        puts("flowchart LR");
        for (size_t i = 0; i < n; i++)
            printf("  s%zu[\"%s<br/><i>%s</i>\"]%s\n", i, sl_pipeline_stage_name(p, i),
                   sl_pipeline_stage_op(p, i)->name, sl_pipeline_stage_stored(p, i) ? "" : ":::streamed");
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < sl_pipeline_stage_input_count(p, i); j++) {
                const char *param;
                size_t from = sl_pipeline_stage_input(p, i, j, &param);
                printf("  s%zu -->|%s| s%zu\n", from, param, i);
            }
        draw_groups(p, 1);
        puts("  classDef streamed stroke-dasharray: 5 5");
    } else {
        printf("digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", sl_pipeline_name(p));
        /* a streamed stage (no checkpoint) is drawn dashed */
        for (size_t i = 0; i < n; i++)
            printf("  \"%s\" [label=\"%s\\n%s\"%s];\n", sl_pipeline_stage_name(p, i), sl_pipeline_stage_name(p, i),
                   sl_pipeline_stage_op(p, i)->name, sl_pipeline_stage_stored(p, i) ? "" : ", style=\"rounded,dashed\"");
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < sl_pipeline_stage_input_count(p, i); j++) {
                const char *param;
                size_t from = sl_pipeline_stage_input(p, i, j, &param);
                printf("  \"%s\" -> \"%s\" [label=\"%s\"];\n", sl_pipeline_stage_name(p, from),
                       sl_pipeline_stage_name(p, i), param);
            }
        draw_groups(p, 0);
        puts("}");
    }
    sl_pipeline_free(p);
    return EXIT_OK;
}

static void print_param(const sl_param_spec *ps)
{
    char type[160];
    if (ps->type == SL_PARAM_CHOICE)
        snprintf(type, sizeof type, "one of %s", ps->choices);
    else
        snprintf(type, sizeof type, "%s", sl_param_type_name(ps->type));
    if ((ps->type == SL_PARAM_INT || ps->type == SL_PARAM_NUMBER) && ps->min < ps->max) {
        size_t u = strlen(type);
        snprintf(type + u, sizeof type - u, " in [%g, %g]", ps->min, ps->max);
    }
    printf("    %-14s %s", ps->name, type);
    if (ps->required)
        printf(", required");
    else if (ps->default_text)
        printf(", default %s", ps->default_text);
    else
        printf(", optional");
    printf("\n      %s\n", ps->doc ? ps->doc : "");
}

static void markdown_param(const sl_param_spec *ps)
{
    char type[160];
    if (ps->type == SL_PARAM_CHOICE) {
        snprintf(type, sizeof type, "one of `%s`", ps->choices);
        for (char *c = type; *c; c++)
            if (*c == '|')
                *c = ',';
    } else {
        snprintf(type, sizeof type, "%s", sl_param_type_name(ps->type));
    }
    if ((ps->type == SL_PARAM_INT || ps->type == SL_PARAM_NUMBER) && ps->min < ps->max) {
        size_t u = strlen(type);
        snprintf(type + u, sizeof type - u, " in [%g, %g]", ps->min, ps->max);
    }
    printf("| `%s` | %s | %s%s%s | %s |\n", ps->name, type, ps->required ? "required" : ps->default_text ? "`" : "optional",
           !ps->required && ps->default_text ? ps->default_text : "", !ps->required && ps->default_text ? "`" : "",
           ps->doc ? ps->doc : "");
}

/* The op reference, docs/ops.md, comes from the op tables themselves. */
static int ops_markdown(void)
{
    puts("# Op reference\n");
    puts("Generated by `sluice ops --markdown` from the op tables in `src/ops/`; do not edit by hand "
         "(`scripts/gen-docs` rewrites it, and a test fails when it is out of date).\n");
    for (size_t i = 0; i < sl_op_count(); i++) {
        const sl_op *op = sl_op_at(i);
        if (!sl_op_plugin(op)) /* the reference is of the built-in ops */
            printf("- [`%s`](#%s): %s\n", op->name, op->name, op->summary ? op->summary : "");
    }
    for (size_t i = 0; i < sl_op_count(); i++) {
        const sl_op *op = sl_op_at(i);
        if (sl_op_plugin(op))
            continue;
        printf("\n<a id=\"%s\"></a>\n## `%s`\n\n%s\n\n", op->name, op->name, op->summary ? op->summary : "");
        if (op->n_params) {
            puts("| parameter | type | default | meaning |\n|---|---|---|---|");
            for (size_t j = 0; j < op->n_params; j++)
                markdown_param(&op->params[j]);
            putchar('\n');
        }
        if (op->doc)
            printf("%s\n", op->doc);
    }
    return EXIT_OK;
}

static int so_file(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
}

/* `sluice ops` loads every *.so of the folders of SLUICE_PLUGIN_PATH, to
 * show what they offer; `run`, `check` and the others load only the plugins
 * a pipeline names in `plugins:`, so that what a pipeline computes does not
 * depend on what else lies in those folders. A folder that is not there is
 * skipped, as in PATH. */
static int load_path_plugins(void)
{
    const char *env = getenv("SLUICE_PLUGIN_PATH");
    for (const char *p = env; p && *p;) {
        size_t n = strcspn(p, ":");
        char dir[PATH_MAX];
        if (n > 0 && n < sizeof dir) {
            memcpy(dir, p, n);
            dir[n] = '\0';
            struct dirent **names = NULL;
            int k = scandir(dir, &names, so_file, alphasort);
            int rc = EXIT_OK;
            for (int i = 0; i < k; i++) {
                char path[PATH_MAX + 256];
                snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
                sl_error err;
                if (rc == EXIT_OK && sl_plugin_load(path, NULL, &err) != SL_OK)
                    rc = cli_fail(&err);
                free(names[i]);
            }
            free(names);
            if (rc)
                return rc;
        }
        p += n + (p[n] == ':');
    }
    return EXIT_OK;
}

int cmd_ops(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--markdown") == 0)
            return ops_markdown();
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: sluice ops [NAME] [--plugin NAME-OR-PATH]... [--markdown]\n"
                 "  lists the built-in ops, those of the plugins in SLUICE_PLUGIN_PATH's folders,\n"
                 "  and those of each --plugin");
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--plugin") == 0) {
            if (i + 1 == argc || !argv[i + 1][0])
                return cli_usage_error("--plugin needs a plugin name or path");
            sl_error err;
            if (sl_plugin_load(argv[++i], NULL, &err) != SL_OK)
                return cli_fail(&err);
            continue;
        }
        if (argv[i][0] == '-')
            return cli_usage_error("unknown option '%s' for ops", argv[i]);
        if (only)
            return cli_usage_error("ops takes at most one op name");
        only = argv[i];
    }
    int rc = load_path_plugins();
    if (rc)
        return rc;
    if (only && !sl_op_find(only))
        return cli_usage_error("unknown op '%s'; run 'sluice ops' to list the ops", only);
    for (size_t i = 0; i < sl_op_count(); i++) {
        const sl_op *op = sl_op_at(i);
        if (only && strcmp(op->name, only) != 0)
            continue;
        const sl_plugin *pl = sl_op_plugin(op);
        if (pl)
            printf("%s   (plugin %s %s from %s)\n", op->name, sl_plugin_name(pl), sl_plugin_version(pl),
                   sl_plugin_path(pl));
        else
            printf("%s\n", op->name);
        printf("  %s\n", op->summary ? op->summary : "");
        for (size_t j = 0; j < op->n_params; j++)
            print_param(&op->params[j]);
        if (!only && i + 1 < sl_op_count())
            putchar('\n');
    }
    return EXIT_OK;
}
