/* sluice: the Slurm settings of a pipeline (`slurm:` in its file), which
 * `sluice submit` turns into #SBATCH lines. The library only checks and
 * keeps them; it never talks to Slurm. */
#ifndef SLUICE_SLURM_H
#define SLUICE_SLURM_H

#include <stdint.h>
#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_SLURM_TEXT_MAX 64

typedef struct sl_slurm_settings {
    int64_t nodes, ntasks_per_node, cpus_per_task; /* 0: not set */
    char time[SL_SLURM_TEXT_MAX];                  /* "": not set; Slurm's own format */
    char partition[SL_SLURM_TEXT_MAX];
    char account[SL_SLURM_TEXT_MAX];
    char mem[SL_SLURM_TEXT_MAX];                   /* per node, Slurm's format: 4G, 500M, 1024 */
} sl_slurm_settings;

/* The keys of `slurm:`, in the order #SBATCH lines are written; NULL-terminated. */
extern const char *const sl_slurm_keys[];

/* Sets one setting from its text; `key` as spelled under `slurm:`
 * (ntasks_per_node, not --ntasks-per-node). Returns 1 when set, 0 when the
 * text is not a valid value (s is unchanged), -1 for an unknown key. Valid
 * values cannot break an #SBATCH line or a shell word. */
int sl_slurm_set(sl_slurm_settings *s, const char *key, const char *text);
/* What a valid value of `key` looks like, for error messages. */
const char *sl_slurm_expects(const char *key);

struct sl_pipeline;
/* The pipeline file's `slurm:` settings (all unset when it has none). */
const sl_slurm_settings *sl_pipeline_slurm(const struct sl_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif
