/* Private: the built-in ops and helpers they share. */
#ifndef SL_OPS_INT_H
#define SL_OPS_INT_H

#include "sluice/op.h"

extern const sl_op sl__op_load_hdf5;
extern const sl_op sl__op_load_csv;
extern const sl_op sl__op_save_hdf5;
extern const sl_op sl__op_convert;
extern const sl_op sl__op_describe;
extern const sl_op sl__op_clean;
extern const sl_op sl__op_scale;
extern const sl_op sl__op_poly;
extern const sl_op sl__op_join;
extern const sl_op sl__op_normalize;
extern const sl_op sl__op_encode;
extern const sl_op sl__op_split;
extern const sl_op sl__op_linreg;
extern const sl_op sl__op_logreg;
extern const sl_op sl__op_predict;
extern const sl_op sl__op_metrics;
extern const sl_op sl__op_input;
extern const sl_op sl__op_select;

/* Flags only built-in ops set: the expansion of stages over axes
 * (plan/expand.c) reads them through sl__op_flags, which keeps them from
 * user ops (their tables may use any bits of flags). */
enum {
    /* Its INPUT parameters gather: naming an expanded stage, such a
     * parameter reads every member of it (sl__stage_gathered), and the
     * stage is not expanded with it. */
    SL__OP_GATHER = 1u << 16,
    /* It has INT parameters `folds` and `fold`: a stage that gives `folds`
     * but neither gives nor sweeps `fold` is expanded over the axis `fold`,
     * 0 .. folds-1. */
    SL__OP_FOLDS = 1u << 17
};
/* op->flags, without the bits above for an op that is not built in. */
unsigned sl__op_flags(const sl_op *op);

/* Refuses an ABI version (SL_ABI_VERSION of a caller-filled struct) this
 * library cannot read; `what` names the struct in the message. */
sl_status sl__abi_check(int abi, const char *what, sl_error *err);
/* What identifies the data of an input stage's bound frame in its cache
 * key (sl__frame_content_id). */
sl_status sl__input_identity(const sl_stage *st, char *out, size_t size, sl_error *err);
/* The user data op was registered with, or NULL. */
void *sl__op_user(const sl_op *op);
struct sl_plugin;
/* The checks of sl__op_register_from (table, name free), registering nothing. */
sl_status sl__op_check(const sl_op *op, const struct sl_plugin *pl, sl_error *err);
/* sl_op_register for an op added by plugin pl (NULL: by the program). */
sl_status sl__op_register_from(const sl_op *op, void *user, void (*destroy)(void *), const struct sl_plugin *pl,
                               sl_error *err);

/* Reads the STRING_LIST parameter `param` (array names) against frame `in`:
 * fills want[i] = 1 for each named array (all arrays when the parameter is
 * absent). Errors name the missing array and list the frame's arrays. */
sl_status sl__select_arrays(const sl_stage *st, const char *param, const sl_frame *in, unsigned char *want,
                            sl_error *err);

/* For the ops that change values by a statistic or a transform of the data
 * (normalize, scale, clean's clipping): the arrays the STRING_LIST parameter
 * `param` names, or, when it is absent, only the array that the op's STRING
 * parameter `features` names, so that a target such as y is never changed
 * unless a user names it (a z-scored y made least squares fit in z-units and
 * logistic regression fail on labels that were no longer 0 and 1). A frame
 * without that array is a config error that gives the rule, the frame's
 * arrays and what to write. `changes` ("normalize changes") and `verb`
 * ("normalize") word the message. */
/* The stage named by st's INPUT parameter `param` (the stage, where
 * sl_stage_input gives its frame), or NULL. */
sl_stage *sl__input_stage(const sl_stage *st, const char *param);

/* " ('age')" when column col of array i of f has a name, "" otherwise: for
 * messages that name a column by its index. */
void sl__column_name_label(const sl_frame *f, size_t i, int64_t col, char *buf, size_t size);

sl_status sl__select_features(const sl_stage *st, const char *param, const sl_frame *in, unsigned char *want,
                              const char *changes, const char *verb, sl_error *err);

/* 1 when op reads the frame of its INPUT parameter `param` by row range
 * inside its own chunks (join's `with`), not chunk by chunk in a pass: that
 * stage is then stored whatever its `checkpoint` says, since a streamed
 * frame is made only inside the passes that read it and has no rows to read
 * by range. Known from the op and the parameter alone, so it holds before
 * any plan (sluice graph, stages planned in the run). */
int sl__op_reads_by_range(const sl_op *op, const char *param);

/* Resolves a column reference `text` of array i of `in` (a column name, or
 * a 0-based index, negative from the end) given in parameter `param`
 * (convert's columns, scale's columns). Errors name the array's columns and
 * suggest the nearest name. */
sl_status sl__resolve_column(sl_stage *st, const sl_frame *in, size_t i, const char *param, const char *text,
                             int64_t *col, sl_error *err);

/* "X (float32, 16 columns), y (float32, 1 column)" for error messages. */
void sl__describe_frame(const sl_frame *f, char *buf, size_t size);

#endif
