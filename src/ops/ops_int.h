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
extern const sl_op sl__op_normalize;
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

/* "X (float32, 16 columns), y (float32, 1 column)" for error messages. */
void sl__describe_frame(const sl_frame *f, char *buf, size_t size);

#endif
