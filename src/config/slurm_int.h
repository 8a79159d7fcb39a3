/* Private: parsing a pipeline file's `slurm:` map. */
#ifndef SL_SLURM_INT_H
#define SL_SLURM_INT_H

#include "sluice/slurm.h"
#include "config/params_int.h"
#include "config/yaml_doc.h"

/* Fills *out from the `slurm:` node; errors are at the offending key or value
 * of `file`. */
sl_status sl__slurm_parse(const sl__ynode *map, const char *file, sl_slurm_settings *out, sl_error *err);

#endif
