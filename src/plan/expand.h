/* Private: stages expanded over axes (plan/expand.c) and parameters that
 * take a select stage's choice (plan/best.c).
 *
 * An axis is a parameter and its list of values: `sweep: { l2: [...] }`
 * makes one, and so does a split's `folds: k` (the axis `fold`, 0..k-1). A
 * stage of the file with axes becomes its members, one stage per
 * combination of values, named `stage[axis=value,...]`; a stage reading
 * expanded stages has the union of their axes (axes of one name are one
 * axis: read member by member). */
#ifndef SL_EXPAND_H
#define SL_EXPAND_H

#include "plan/pipeline_int.h"

typedef struct sl__axis {
    const char *name;       /* the parameter it sets: "fold", "l2" */
    size_t n;               /* its values */
    const sl__ynode **vals; /* the value nodes, in the order given */
    const char **labels;    /* each value as the member names show it ("0.1") */
    const double *nums;     /* each value, when numeric */
    int numeric;            /* the parameter is an integer or a number */
} sl__axis;

/* A stage of the file expanded into members. Member m's value on axis a is
 * (m / stride_a) % axes[a]->n, the first axis varying slowest. */
typedef struct sl__group {
    const char *name;
    size_t n_axes;
    const sl__axis *const *axes;
    size_t n_members;
    const char *const *members; /* their names */
} sl__group;

/* A parameter of a stage given as { best: STAGE }: STAGE is a select stage,
 * and the parameter is one of the axes it chose among. */
typedef struct sl__best {
    const char *param;
    const char *from;     /* the select stage's name */
    size_t input;         /* the stage's input (index in st->inputs) that is the select stage */
    const sl__axis *axis; /* the select stage's axis of this parameter */
    size_t stride;        /* the select's settings per value of the axis */
    sl__ynode *value;     /* the parameter's value in the stage's mapping: it becomes the chosen value */
} sl__best;

typedef struct sl__expansion sl__expansion;

/* Turns the stages of the file (stages[0..*n), heads made by parse_stage:
 * op, name, node, settings; no parameters yet) into the stages to plan:
 * each stage once, or its members; parameters built and checked, values
 * of `{ best: ... }` set to the first value swept, INPUT values naming the
 * member read. The array is replaced (*stages, *n). Errors are located at
 * the node they are about. */
sl_status sl__expand(sl_pipeline *p, sl_stage **stages, size_t *n, sl_error *err);
/* 1 when name is a stage of the file that was expanded into members. */
int sl__expand_is_group(const sl_pipeline *p, const char *name);
/* After the INPUT parameters are resolved (stages in the file's order):
 * the edges that are not one parameter to one stage, added to each
 * stage's inputs: a gathering parameter reads every member of the stage it
 * names, in member order; a { best: STAGE } value orders the stage after
 * STAGE (an input with best = 1). */
sl_status sl__expand_link(sl_pipeline *p, sl_stage *stages, size_t n, sl_error *err);
void sl__expansion_free(sl__expansion *x);

/* Value index of member m of g on axis a. */
size_t sl__group_value(const sl__group *g, size_t m, size_t a);
/* 1 when the stage is called name, or is a member of the stage of the file
 * called name (so that --force fit, clean fit, ... mean every member). */
int sl__stage_is(const sl_stage *st, const char *name);

/* For an op that gathers (SL__OP_GATHER): how many stages its INPUT
 * parameter `param` reads, and (out not NULL) those stages, in member
 * order. */
size_t sl__stage_gathered(const sl_stage *st, const char *param, const sl_stage **out);

/* Sets each { best: STAGE } parameter of st to the value its select stage
 * chose (the stage's result best_index, computed in this run or reused)
 * and rebuilds st's parameters; errors are located at the { best: ... }.
 * Nothing to do for a stage without such parameters. */
sl_status sl__best_apply(sl_stage *st, sl_error *err);
/* The same for sl_pipeline_status, which computes nothing: the choice is
 * read from each select stage's checkpoint in workdir (its frame in an
 * in-memory run). A select stage with no choice recorded leaves the value
 * as it was. */
sl_status sl__best_apply_stored(sl_stage *st, const char *workdir, sl_error *err);

#endif
