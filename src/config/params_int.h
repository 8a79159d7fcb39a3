/* Private: turning a stage's YAML mapping into validated sl_params against an
 * op's parameter schema. */
#ifndef SL_PARAMS_INT_H
#define SL_PARAMS_INT_H

#include "sluice/op.h"
#include "config/yaml_doc.h"

/* Builds the parameters of one stage. `stage` is the stage's mapping; keys in
 * `reserved` (NULL-terminated, e.g. "op") are not parameters and are skipped.
 * Errors carry `filename`, line and column of the offending key or value:
 *   unknown parameter (with a did-you-mean suggestion and the list of valid ones),
 *   missing required parameter (at the stage's position),
 *   wrong type (what was found, what was expected), out of bounds, bad choice.
 * PATH values that are relative are joined to base_dir (when base_dir is not
 * NULL and not ""). */
sl_status sl__params_build(const sl_op *op, const sl__ynode *stage, const char *const *reserved,
                           const char *base_dir, const char *filename, sl_params **out, sl_error *err);
void sl__params_free(sl_params *p);
/* Checks that parameter i's default text is a valid value of its type
 * (sl_op_register: an op's table is checked before any stage uses it). */
sl_status sl__param_default_check(const sl_op *op, size_t i, sl_error *err);

/* Checks one value of parameter key->text of op as sl__params_build would
 * (an unknown parameter is an error at key, with the same suggestions; a
 * bad value an error at value), and writes into text the short form that
 * shows it: integers and numbers as the canonical text reads them ("0.1"
 * for 1e-1), booleans true or false, anything else as written. *numeric
 * is 1 for an integer or a number, whose value goes to *number. */
sl_status sl__param_value(const sl_op *op, const sl__ynode *key, const sl__ynode *value, const char *const *reserved,
                          const char *base_dir, const char *filename, char *text, size_t size, double *number,
                          int *numeric, sl_error *err);

/* Position (1-based) of a parameter's value in the file; 0 when it was defaulted. */
void sl__params_pos(const sl_params *p, const char *name, int *line, int *col);

/* Canonical JSON text of all parameters in schema order, defaults included,
 * numbers in a canonical form: equal for files that differ only in key order
 * or formatting. malloc'd; NULL on allocation failure. */
char *sl__params_canonical(const sl_params *p);

/* The closest of `candidates` (n of them) to `word` by edit distance, or NULL
 * when none is close enough to suggest. */
const char *sl__suggest(const char *word, const char *const *candidates, size_t n);

#endif
