/* The `slurm:` settings of a pipeline file: what each key accepts, and the
 * map parsed into sl_slurm_settings with errors at the YAML node. The same
 * checks serve `sluice submit`'s options, so a value is valid in the file
 * exactly when it is valid on the command line. Every accepted value is made
 * of characters that are safe in an #SBATCH line and in a shell word: the
 * job script is written from them. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/slurm_int.h"
#include "core/error_int.h"

const char *const sl_slurm_keys[] = {"nodes", "ntasks_per_node", "cpus_per_task", "time",
                                     "partition", "account", "mem", NULL};

enum { K_NODES, K_NTASKS, K_CPUS, K_TIME, K_PARTITION, K_ACCOUNT, K_MEM, K_N };

/* Bounds: nodes as large as any cluster; tasks and threads as sluice's own
 * thread limit (a task runs -j cpus_per_task threads). */
#define MAX_NODES 100000
#define MAX_PER_NODE 4096

static int key_index(const char *key)
{
    for (int i = 0; key && sl_slurm_keys[i]; i++)
        if (strcmp(key, sl_slurm_keys[i]) == 0)
            return i;
    return -1;
}

static int parse_count(const char *t, long long max, int64_t *out)
{
    if (!t[0] || !isdigit((unsigned char)t[0]))
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (errno || *end || v < 1 || v > max)
        return 0;
    *out = v;
    return 1;
}

/* Up to 3 fields of digits separated by ':'; fields after the first below 60. */
static int clock_fields(const char *t, long long f[3], int *n)
{
    *n = 0;
    while (*n < 3) {
        if (!isdigit((unsigned char)*t))
            return 0;
        char *end;
        errno = 0;
        long long v = strtoll(t, &end, 10);
        if (errno || end - t > 9)
            return 0;
        if (*n > 0 && v >= 60)
            return 0;
        f[(*n)++] = v;
        t = end;
        if (*t == '\0')
            return 1;
        if (*t != ':')
            return 0;
        t++;
    }
    return 0;
}

/* Slurm's time formats: minutes, minutes:seconds, hours:minutes:seconds,
 * days-hours, days-hours:minutes, days-hours:minutes:seconds; or UNLIMITED.
 * A zero limit is refused: Slurm reads 0 as "no limit", which is better said
 * as UNLIMITED. */
static int time_ok(const char *t)
{
    if (strcasecmp(t, "UNLIMITED") == 0 || strcasecmp(t, "INFINITE") == 0)
        return 1;
    long long f[3] = {0, 0, 0}, days = 0;
    int n;
    const char *dash = strchr(t, '-');
    if (dash) {
        if (dash == t || dash - t > 5)
            return 0;
        for (const char *c = t; c < dash; c++)
            if (!isdigit((unsigned char)*c))
                return 0;
        days = strtoll(t, NULL, 10);
        if (!clock_fields(dash + 1, f, &n) || f[0] >= 24)
            return 0;
    } else if (!clock_fields(t, f, &n)) {
        return 0;
    }
    return days + f[0] + f[1] + f[2] > 0;
}

/* A size in Slurm's --mem format: an integer of megabytes, or with a unit
 * K, M, G or T. */
static int mem_ok(const char *t)
{
    size_t d = strspn(t, "0123456789");
    if (d == 0 || d > 12)
        return 0;
    if (strtoll(t, NULL, 10) < 1)
        return 0;
    if (t[d] == '\0')
        return 1;
    return strchr("KMGTkmgt", t[d]) && t[d + 1] == '\0';
}

/* Partition and account names: letters, digits, '_', '-', '.' (and ',' in a
 * partition list, which Slurm accepts). */
static int name_ok(const char *t, int allow_comma)
{
    size_t n = strlen(t);
    if (n == 0 || n >= SL_SLURM_TEXT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.' || (allow_comma && c == ',')))
            return 0;
    }
    return t[0] != '-' && t[0] != ',' && t[n - 1] != ',';
}

int sl_slurm_set(sl_slurm_settings *s, const char *key, const char *text)
{
    int k = key_index(key);
    if (k < 0)
        return -1;
    if (!text || strlen(text) >= SL_SLURM_TEXT_MAX)
        return 0;
    switch (k) {
    case K_NODES: return parse_count(text, MAX_NODES, &s->nodes);
    case K_NTASKS: return parse_count(text, MAX_PER_NODE, &s->ntasks_per_node);
    case K_CPUS: return parse_count(text, MAX_PER_NODE, &s->cpus_per_task);
    case K_TIME:
        if (!time_ok(text))
            return 0;
        snprintf(s->time, sizeof s->time, "%s", text);
        return 1;
    case K_PARTITION:
    case K_ACCOUNT:
        if (!name_ok(text, k == K_PARTITION))
            return 0;
        snprintf(k == K_PARTITION ? s->partition : s->account, SL_SLURM_TEXT_MAX, "%s", text);
        return 1;
    default:
        if (!mem_ok(text))
            return 0;
        snprintf(s->mem, sizeof s->mem, "%s", text);
        return 1;
    }
}

const char *sl_slurm_expects(const char *key)
{
    switch (key_index(key)) {
    case K_NODES: return "a node count from 1 to 100000";
    case K_NTASKS: return "a task count from 1 to 4096";
    case K_CPUS: return "a CPU count from 1 to 4096 (the threads of each task)";
    case K_TIME:
        return "a time limit in Slurm's format: minutes, minutes:seconds, hours:minutes:seconds, days-hours, "
               "days-hours:minutes, days-hours:minutes:seconds (e.g. 90, 2:00:00, 1-12:00:00) or UNLIMITED";
    case K_PARTITION: return "a partition name (letters, digits, '_', '-', '.'; several separated by ',')";
    case K_ACCOUNT: return "an account name (letters, digits, '_', '-', '.')";
    case K_MEM: return "a memory size per node in Slurm's format: megabytes, or a number with K, M, G or T (e.g. 4G)";
    default: return "?";
    }
}

sl_status sl__slurm_parse(const sl__ynode *map, const char *file, sl_slurm_settings *out, sl_error *err)
{
    if (map->kind != SL_Y_MAP)
        return sl__error_at(err, SL_ERR_CONFIG, file, map->line, map->col,
                            "'slurm' must be a mapping of Slurm settings (nodes, ntasks_per_node, cpus_per_task, "
                            "time, partition, account, mem), found %s",
                            sl__ynode_kind_name(map));
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i]->text;
        const sl__ynode *v = map->vals[i];
        if (key_index(k) < 0) {
            const char *s = sl__suggest(k, sl_slurm_keys, K_N);
            return sl__error_at(err, SL_ERR_CONFIG, file, map->keys[i]->line, map->keys[i]->col,
                                "unknown key '%s' under 'slurm'%s%s%s; expected nodes, ntasks_per_node, "
                                "cpus_per_task, time, partition, account or mem",
                                k, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        /* quoted numbers are strings everywhere else in the file too */
        int numeric = key_index(k) <= K_CPUS;
        if (v->kind != SL_Y_SCALAR || (numeric && !v->plain) || sl_slurm_set(out, k, v->text) != 1)
            return sl__error_at(err, SL_ERR_CONFIG, file, v->line, v->col, "'slurm.%s' must be %s, found %s%s%s%s",
                                k, sl_slurm_expects(k), v->kind == SL_Y_SCALAR ? "'" : "",
                                v->kind == SL_Y_SCALAR ? v->text : sl__ynode_kind_name(v),
                                v->kind == SL_Y_SCALAR ? "'" : "",
                                v->kind == SL_Y_SCALAR && numeric && !v->plain ? " (remove the quotes)" : "");
    }
    return SL_OK;
}
