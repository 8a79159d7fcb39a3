/* Unit tests of the `slurm:` values (sl_slurm_set in src/config/slurm.c):
 * Slurm's time formats and their bounds, memory sizes, names that must not
 * break an #SBATCH line or a shell word, counts, and that a refused value
 * leaves the settings as they were; and the map loaded from a pipeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sluice/sluice.h"

static int set(const char *key, const char *text)
{
    sl_slurm_settings s;
    memset(&s, 0, sizeof s);
    return sl_slurm_set(&s, key, text);
}

static void test_time_formats(void **state)
{
    (void)state;
    const char *ok[] = {"90", "1", "30:00", "2:00:00", "1-0", "1-12", "1-12:30", "1-12:30:59", "100-0:0:1",
                        "UNLIMITED", "infinite", "0:1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(set("time", ok[i]), 1);
    /* seconds or minutes of 60, hours of 24 after days, zero, signs, junk */
    const char *bad[] = {"0", "0:0", "1:60", "1:00:60", "1-24", "1-", "-1", "+5", "1h", "1:2:3:4", "", " 5",
                         "5 ", "1--2", "2:00:00;rm", "999999999999", "1-2-3", "0-0:0:0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (set("time", bad[i]) != 0)
            fail_msg("time '%s' accepted", bad[i]);
    }
}

static void test_mem_counts_and_names(void **state)
{
    (void)state;
    assert_int_equal(set("mem", "4G"), 1);
    assert_int_equal(set("mem", "500m"), 1);
    assert_int_equal(set("mem", "1024"), 1);
    assert_int_equal(set("mem", "0"), 0);
    assert_int_equal(set("mem", "4GB"), 0);
    assert_int_equal(set("mem", "G"), 0);
    assert_int_equal(set("nodes", "100000"), 1);
    assert_int_equal(set("nodes", "100001"), 0);
    assert_int_equal(set("nodes", "0"), 0);
    assert_int_equal(set("nodes", "-1"), 0);
    assert_int_equal(set("nodes", "+1"), 0);
    assert_int_equal(set("cpus_per_task", "4096"), 1);
    assert_int_equal(set("cpus_per_task", "4097"), 0);
    assert_int_equal(set("ntasks_per_node", "2x"), 0);
    assert_int_equal(set("partition", "gpu,batch"), 1);
    assert_int_equal(set("partition", "gpu,"), 0);
    assert_int_equal(set("account", "proj-7.a_b"), 1);
    assert_int_equal(set("account", "a,b"), 0);
    const char *unsafe[] = {"a b", "a\"b", "a'b", "a$b", "a`b", "a\nb", "a;b", "-x", "a/b", ""};
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
        if (set("partition", unsafe[i]) != 0 || set("account", unsafe[i]) != 0)
            fail_msg("name '%s' accepted", unsafe[i]);
    char longname[SL_SLURM_TEXT_MAX + 1];
    memset(longname, 'a', SL_SLURM_TEXT_MAX);
    longname[SL_SLURM_TEXT_MAX] = '\0';
    assert_int_equal(set("account", longname), 0);
    assert_int_equal(set("ntasks-per-node", "1"), -1);
    assert_int_equal(set("gpus", "1"), -1);
}

static void test_refused_value_changes_nothing(void **state)
{
    (void)state;
    sl_slurm_settings s;
    memset(&s, 0, sizeof s);
    assert_int_equal(sl_slurm_set(&s, "time", "2:00:00"), 1);
    assert_int_equal(sl_slurm_set(&s, "nodes", "3"), 1);
    assert_int_equal(sl_slurm_set(&s, "time", "2:60:00"), 0);
    assert_int_equal(sl_slurm_set(&s, "nodes", "x"), 0);
    assert_string_equal(s.time, "2:00:00");
    assert_int_equal(s.nodes, 3);
    for (size_t k = 0; sl_slurm_keys[k]; k++)
        assert_non_null(strstr(sl_slurm_expects(sl_slurm_keys[k]), " "));
}

static void test_loaded_from_pipeline(void **state)
{
    (void)state;
    const char *root = getenv("SLUICE_SOURCE_ROOT");
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "slurm: { nodes: 2, ntasks_per_node: 4, cpus_per_task: 8, time: 1-00:00:00,\n"
             "         partition: batch, account: proj, mem: 16G }\n"
             "stages:\n  l: { op: load.hdf5, file: %s/datasets/diabetes.h5, arrays: { X: /X } }\n",
             root ? root : ".");
    sl_pipeline *p = NULL;
    sl_error err;
    if (sl_pipeline_load_string(yaml, strlen(yaml), "p.yaml", NULL, &p, &err) != SL_OK)
        fail_msg("%s", err.message);
    const sl_slurm_settings *s = sl_pipeline_slurm(p);
    assert_int_equal(s->nodes, 2);
    assert_int_equal(s->ntasks_per_node, 4);
    assert_int_equal(s->cpus_per_task, 8);
    assert_string_equal(s->time, "1-00:00:00");
    assert_string_equal(s->partition, "batch");
    assert_string_equal(s->account, "proj");
    assert_string_equal(s->mem, "16G");
    sl_pipeline_free(p);

    /* none: all unset */
    snprintf(yaml, sizeof yaml, "stages:\n  l: { op: load.hdf5, file: %s/datasets/diabetes.h5, arrays: { X: /X } }\n",
             root ? root : ".");
    assert_int_equal(sl_pipeline_load_string(yaml, strlen(yaml), "p.yaml", NULL, &p, &err), SL_OK);
    s = sl_pipeline_slurm(p);
    assert_int_equal(s->nodes + s->ntasks_per_node + s->cpus_per_task, 0);
    assert_string_equal(s->time, "");
    sl_pipeline_free(p);

    /* an error at the value, before the stages are looked at */
    const char *bad = "slurm:\n  mem: 4GB\nstages: {}\n";
    assert_int_equal(sl_pipeline_load_string(bad, strlen(bad), "p.yaml", NULL, &p, &err), SL_ERR_CONFIG);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 8);
    assert_non_null(strstr(err.message, "'slurm.mem' must be a memory size per node"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_mem_counts_and_names),
        cmocka_unit_test(test_refused_value_changes_nothing),
        cmocka_unit_test(test_loaded_from_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
