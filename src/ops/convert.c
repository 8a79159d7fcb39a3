/* convert: casts arrays to another element type, chunk by chunk, and selects,
 * reorders or drops the columns of one array, or splits a label column off
 * it into an array of its own. Integer targets are checked: a NaN, an
 * infinity or a value out of range is an error naming its row and column,
 * never a silent wrap-around. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "core/frame_int.h"
#include "kernels/cast.h"
#include "ops/ops_int.h"
#include "plan/exec_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame is converted"},
    {"dtype", SL_PARAM_CHOICE, 0, NULL, "int8|int16|int32|int64|uint8|uint16|uint32|uint64|float32|float64", 0, 0,
     "element type to convert to (default: keep each array's type)"},
    {"arrays", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "arrays to convert to dtype (default: all); the others keep their type"},
    {"columns", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "columns of column_array to keep, in the order wanted: names or 0-based indices (negative: from the end)"},
    {"drop_columns", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "columns of column_array to drop (names or indices); the others are kept in order"},
    {"column_array", SL_PARAM_STRING, 0, NULL, NULL, 0, 0,
     "array that columns, drop_columns and label refer to (default: the only array with more than one column)"},
    {"label", SL_PARAM_STRING, 0, NULL, NULL, 0, 0,
     "a column (name or index) moved out of column_array into an array of its own, label_array"},
    {"label_array", SL_PARAM_STRING, 0, "y", NULL, 0, 0, "name of the array the label column goes to"},
};

/* One output array: made from input array src, whole or some columns. */
typedef struct out_array {
    size_t src;
    int64_t cols;
    int64_t *sel; /* input column of each output column; NULL: all, in order */
    sl_dtype to;
} out_array;

typedef struct convert_state {
    size_t n; /* output arrays */
    out_array *out;
} convert_state;

static void free_state(void *p)
{
    convert_state *s = p;
    if (s) {
        for (size_t i = 0; s->out && i < s->n; i++)
            free(s->out[i].sel);
        free(s->out);
        free(s);
    }
}

/* ---- planning -------------------------------------------------------------------- */

static void list_arrays(const sl_frame *f, char *buf, size_t size)
{
    sl__describe_frame(f, buf, size);
}

static sl_status array_param(sl_stage *st, const sl_frame *in, const char *param, const char *name, long *idx,
                             sl_error *err)
{
    *idx = sl_frame_find(in, name);
    if (*idx >= 0)
        return SL_OK;
    char have[512];
    list_arrays(in, have, sizeof have);
    const char *cand[256];
    size_t nc = 0;
    for (size_t j = 0; j < sl_frame_count(in) && nc < 256; j++)
        cand[nc++] = sl_frame_array(in, j)->name;
    const char *hint = sl__suggest(name, cand, nc);
    sl_stage_error(st, err, SL_ERR_CONFIG, param, "'%s' names array '%s', which the input lacks; it has %s", param,
                   name, have);
    if (hint)
        sl__error_append(err, "; did you mean '%s'?", hint);
    return SL_ERR_CONFIG;
}

/* The array the column parameters refer to. */
static sl_status pick_column_array(sl_stage *st, const sl_frame *in, long *idx, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    if (sl_params_has(p, "column_array"))
        return array_param(st, in, "column_array", sl_params_string(p, "column_array"), idx, err);
    long found = -1;
    int many = 0;
    for (size_t i = 0; i < sl_frame_count(in); i++)
        if (sl_frame_array(in, i)->cols > 1) {
            many += found >= 0;
            found = (long)i;
        }
    const char *param = sl_params_has(p, "columns")        ? "columns"
                        : sl_params_has(p, "drop_columns") ? "drop_columns"
                                                           : "label";
    if (found >= 0 && !many) {
        *idx = found;
        return SL_OK;
    }
    char have[512];
    list_arrays(in, have, sizeof have);
    return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                          "'%s' needs to know which array's columns it means: the input has %s array with more "
                          "than one column (%s); set column_array",
                          param, found >= 0 ? "more than one" : "no", have);
}

/* "a, b, c" (cut short), or "" when the array has no column names. */
static void column_names(const sl_frame *f, size_t i, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    const sl_array_info *a = sl_frame_array(f, i);
    for (int64_t c = 0; c < a->cols && used + 8 < size; c++) {
        const char *name = sl_frame_column(f, i, c);
        if (!name)
            return;
        int w = snprintf(buf + used, size - used, "%s%s", c ? ", " : "", name);
        if (w < 0 || used + (size_t)w >= size - 8) {
            snprintf(buf + used, size - used, ", ...");
            return;
        }
        used += (size_t)w;
    }
}

/* Parses an integer column index; 0 when text is not one. */
static int parse_index(const char *text, long long *v)
{
    if (!text[0])
        return 0;
    char *end;
    errno = 0;
    *v = strtoll(text, &end, 10);
    return *end == '\0' && errno == 0;
}

/* Resolves a column reference (a name, or an index) of array i (ops_int.h). */
sl_status sl__resolve_column(sl_stage *st, const sl_frame *in, size_t i, const char *param, const char *text,
                             int64_t *col, sl_error *err)
{
    const sl_array_info *a = sl_frame_array(in, i);
    int named = sl_frame_column(in, i, 0) != NULL;
    for (int64_t c = 0; named && c < a->cols; c++)
        if (strcmp(sl_frame_column(in, i, c), text) == 0) {
            *col = c;
            return SL_OK;
        }
    long long v;
    if (parse_index(text, &v)) {
        if (v < 0)
            v += a->cols;
        if (v >= 0 && v < a->cols) {
            *col = v;
            return SL_OK;
        }
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "'%s' names column %s of array '%s', which has %lld column%s (indices 0 to %lld, or "
                              "-1 for the last)",
                              param, text, a->name, (long long)a->cols, a->cols == 1 ? "" : "s",
                              (long long)(a->cols - 1));
    }
    if (!named)
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "'%s' names column '%s' of array '%s', which has no column names (the source dataset "
                              "has no 'columns' attribute); give 0-based indices 0 to %lld",
                              param, text, a->name, (long long)(a->cols - 1));
    char names[600];
    column_names(in, i, names, sizeof names);
    const char **cand = malloc((size_t)a->cols * sizeof *cand);
    if (!cand)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < a->cols; c++)
        cand[c] = sl_frame_column(in, i, c);
    const char *hint = sl__suggest(text, cand, (size_t)a->cols);
    sl_stage_error(st, err, SL_ERR_CONFIG, param, "'%s' names column '%s', which array '%s' lacks", param, text,
                   a->name);
    if (hint)
        sl__error_append(err, "; did you mean '%s'?", hint);
    sl__error_append(err, " (its columns: %s)", names);
    free(cand);
    return SL_ERR_CONFIG;
}

/* Output columns of array ci: from columns / drop_columns, minus the label. */
static sl_status select_columns(sl_stage *st, const sl_frame *in, size_t ci, int64_t label, out_array *o,
                                sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_array_info *a = sl_frame_array(in, ci);
    unsigned char *mark = calloc((size_t)a->cols, 1);
    o->sel = malloc((size_t)a->cols * sizeof *o->sel);
    if (!mark || !o->sel) {
        free(mark);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    sl_status rc = SL_OK;
    o->cols = 0;
    if (sl_params_has(p, "columns")) {
        for (size_t k = 0; k < sl_params_len(p, "columns") && rc == SL_OK; k++) {
            const char *text = sl_params_list_string(p, "columns", k);
            int64_t c;
            rc = sl__resolve_column(st, in, ci, "columns", text, &c, err);
            if (rc)
                break;
            if (mark[c])
                rc = sl_stage_error(st, err, SL_ERR_CONFIG, "columns", "'columns' lists column %lld ('%s') twice",
                                    (long long)c, text);
            else if (c == label)
                rc = sl_stage_error(st, err, SL_ERR_CONFIG, "columns",
                                    "'columns' lists column '%s', which is the label; the label moves to its own "
                                    "array and cannot also stay a feature",
                                    text);
            if (rc)
                break;
            mark[c] = 1;
            if (o->cols >= a->cols) /* cannot happen: duplicates are rejected */
                break;
            o->sel[o->cols++] = c;
        }
    } else {
        for (size_t k = 0; k < sl_params_len(p, "drop_columns") && rc == SL_OK; k++) {
            int64_t c;
            rc = sl__resolve_column(st, in, ci, "drop_columns", sl_params_list_string(p, "drop_columns", k), &c,
                                    err);
            if (rc == SL_OK)
                mark[c] = 1;
        }
        for (int64_t c = 0; c < a->cols && rc == SL_OK; c++)
            if (!mark[c] && c != label)
                o->sel[o->cols++] = c;
    }
    free(mark);
    if (rc == SL_OK && o->cols == 0)
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, sl_params_has(p, "columns") ? "columns" : "drop_columns",
                            "no column of array '%s' is left; keep at least one", a->name);
    return rc;
}

static sl_status add_output(sl_frame *out, const sl_frame *in, const out_array *o, const char *name, sl_error *err)
{
    /* float32 values made float64: a checkpoint may store them as float32 */
    int exact = o->to == SL_FLOAT64 &&
                (sl_frame_array(in, o->src)->dtype == SL_FLOAT32 || sl__frame_f32_exact(in, o->src));
    sl_status rc = o->sel ? sl_frame_add(out, name, o->to, o->cols, err)
                          : sl_frame_add_like(out, in, o->src, o->to, err);
    if (rc == SL_OK && exact)
        sl__frame_set_f32_exact(out, sl_frame_count(out) - 1);
    if (rc || !o->sel || !sl_frame_column(in, o->src, 0))
        return rc;
    const char **names = malloc((size_t)o->cols * sizeof *names);
    if (!names)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < o->cols; c++)
        names[c] = sl_frame_column(in, o->src, o->sel[c]);
    rc = sl_frame_set_columns(out, name, names, err);
    free(names);
    return rc;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    const sl_params *p = sl_stage_params(st);
    sl_frame *out = sl_stage_output(st);
    convert_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    size_t nin = sl_frame_count(in);
    s->out = calloc(nin + 2, sizeof *s->out);
    unsigned char *conv = calloc(nin + 1, 1);
    if (!s->out || !conv) {
        free(conv);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    int has_cols = sl_params_has(p, "columns"), has_drop = sl_params_has(p, "drop_columns"),
        has_label = sl_params_has(p, "label"), has_dtype = sl_params_has(p, "dtype");
    sl_status rc = SL_OK;
    if (!has_dtype && sl_params_has(p, "arrays"))
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, "arrays", "'arrays' says which arrays to convert, but no dtype "
                                                              "is given");
    else if (!has_dtype && !has_cols && !has_drop && !has_label)
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, NULL,
                            "convert has nothing to do: give dtype, columns, drop_columns or label");
    else if (has_cols && has_drop)
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, "drop_columns",
                            "give either 'columns' (the columns to keep) or 'drop_columns', not both");
    else if (sl_params_has(p, "column_array") && !has_cols && !has_drop && !has_label)
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, "column_array",
                            "'column_array' is given but no columns, drop_columns or label refer to it");
    if (rc == SL_OK)
        rc = sl__select_arrays(st, "arrays", in, conv, err);
    sl_dtype to = has_dtype ? sl_dtype_from_name(sl_params_string(p, "dtype")) : SL_DTYPE_NONE;
    long ci = -1;
    int64_t label = -1;
    const char *label_name = sl_params_string(p, "label_array");
    if (rc == SL_OK && (has_cols || has_drop || has_label))
        rc = pick_column_array(st, in, &ci, err);
    if (rc == SL_OK && has_label) {
        rc = sl__resolve_column(st, in, (size_t)ci, "label", sl_params_string(p, "label"), &label, err);
        if (rc == SL_OK && sl_frame_find(in, label_name) >= 0)
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "label_array",
                                "the label goes to array '%s', but the input already has an array of that name; set "
                                "label_array to another name",
                                label_name);
        else if (rc == SL_OK && sl_frame_array(in, (size_t)ci)->cols < 2)
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "label",
                                "array '%s' has one column: moving it to the label would leave no features",
                                sl_frame_array(in, (size_t)ci)->name);
    }
    for (size_t i = 0; i < nin && rc == SL_OK; i++) {
        out_array *o = &s->out[s->n];
        const sl_array_info *a = sl_frame_array(in, i);
        o->src = i;
        o->cols = a->cols;
        o->to = conv[i] && has_dtype ? to : a->dtype;
        if ((long)i == ci && (has_cols || has_drop || has_label))
            rc = select_columns(st, in, i, label, o, err);
        if (rc == SL_OK)
            rc = add_output(out, in, o, a->name, err);
        s->n++;
        if (rc == SL_OK && (long)i == ci && has_label) {
            out_array *l = &s->out[s->n++];
            l->src = i;
            l->cols = 1;
            l->to = o->to;
            l->sel = malloc(sizeof *l->sel);
            if (!l->sel)
                rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            else {
                l->sel[0] = label;
                rc = add_output(out, in, l, label_name, err);
                if (rc)
                    sl__stage_locate(st, err, "label_array");
            }
        }
    }
    free(conv);
    sl_frame_set_rows(out, sl_frame_rows(in));
    return rc;
}

/* ---- running --------------------------------------------------------------------- */

/* Gathers the selected columns of rows x src_cols elements into dst
 * (rows x cols elements of the same type). */
static void gather(void *dst, const void *src, size_t size, int64_t rows, int64_t src_cols, const int64_t *sel,
                   int64_t cols, size_t e0, size_t n)
{
    (void)rows;
#define GATHER(T)                                                                                           \
    do {                                                                                                   \
        T *d = dst;                                                                                        \
        const T *s = src;                                                                                  \
        for (size_t e = 0; e < n; e++) {                                                                   \
            size_t k = e0 + e;                                                                             \
            d[e] = s[(k / (size_t)cols) * (size_t)src_cols + (size_t)sel[k % (size_t)cols]];               \
        }                                                                                                  \
    } while (0)
    switch (size) {
    case 1: GATHER(uint8_t); break;
    case 2: GATHER(uint16_t); break;
    case 4: GATHER(uint32_t); break;
    default: GATHER(uint64_t); break;
    }
#undef GATHER
}

static sl_status cast_error(const sl_chunk *in, const out_array *o, sl_dtype to, size_t first_bad, size_t bad,
                            sl_error *err)
{
    const sl_array_info *a = in->arrays[o->src].info;
    int64_t row = (int64_t)(first_bad / (size_t)o->cols);
    int64_t col = o->sel ? o->sel[first_bad % (size_t)o->cols] : (int64_t)(first_bad % (size_t)o->cols);
    double v = 0;
    sl__cast(&v, SL_FLOAT64,
             (const char *)in->arrays[o->src].data + (size_t)(row * a->cols + col) * sl_dtype_size(a->dtype),
             a->dtype, 1);
    return sl__error_set(err, SL_ERR_DATA,
                         "array '%s' row %lld column %lld: value %.17g does not fit in %s (%zu such values "
                         "in this chunk); clean or clip the data first, or convert to a float type",
                         a->name, (long long)(in->row0 + row), (long long)col, v, sl_dtype_name(to), bad);
}

static sl_status convert_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)partial;
    const convert_state *s = ctx;
    for (size_t i = 0; i < s->n; i++) {
        const out_array *o = &s->out[i];
        const sl_array_info *a = in->arrays[o->src].info;
        const void *src = in->arrays[o->src].data;
        void *dst = out->arrays[i].data;
        size_t n = (size_t)(in->rows * o->cols);
        if (!o->sel) {
            sl__cast_result r = sl__cast(dst, o->to, src, a->dtype, n);
            if (r.bad)
                return cast_error(in, o, o->to, r.first_bad, r.bad, err);
            continue;
        }
        size_t size = sl_dtype_size(a->dtype);
        if (o->to == a->dtype) {
            gather(dst, src, size, in->rows, a->cols, o->sel, o->cols, 0, n);
            continue;
        }
        /* gather a block in the source type, then cast it */
        uint64_t buf[4096];
        size_t bad = 0, first_bad = 0, osize = sl_dtype_size(o->to);
        for (size_t e0 = 0; e0 < n; e0 += 4096) {
            size_t m = n - e0 < 4096 ? n - e0 : 4096;
            gather(buf, src, size, in->rows, a->cols, o->sel, o->cols, e0, m);
            sl__cast_result r = sl__cast((char *)dst + e0 * osize, o->to, buf, a->dtype, m);
            if (r.bad && bad == 0)
                first_bad = e0 + r.first_bad;
            bad += r.bad;
        }
        if (bad)
            return cast_error(in, o, o->to, first_bad, bad, err);
    }
    out->rows = in->rows;
    return SL_OK;
}

/* Whether the stage keeps every array and column in place and only makes
 * float32 arrays float64 (the others unchanged): a level the executor may
 * skip under a reader that widens as it reads (sl__exec_widening_next). */
static int widens_only(const convert_state *s, const sl_frame *in)
{
    if (s->n != sl_frame_count(in))
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        const out_array *o = &s->out[i];
        sl_dtype from = sl_frame_array(in, i)->dtype;
        if (o->src != i || o->sel || (o->to != from && !(from == SL_FLOAT32 && o->to == SL_FLOAT64)))
            return 0;
    }
    return 1;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    sl_pass pass = {.name = "convert",
                    .input = sl_stage_input(st, "input"),
                    .output = sl_stage_output(st),
                    .ctx = sl_stage_state(st),
                    .chunk = convert_chunk};
    sl__exec_row_local_next(ex); /* element by element */
    if (widens_only(sl_stage_state(st), pass.input))
        sl__exec_widening_next(ex);
    return sl_exec_pass(ex, st, &pass, NULL, err);
}

static const char doc[] =
    "Casts arrays to another element type, and selects, reorders or drops the columns of\n"
    "one array, or moves one column of it into an array of its own (features and label).\n"
    "What it does, in NumPy terms:\n"
    "\n"
    "```python\n"
    "X = X[:, [2, 0, 5]]                      # columns: [2, 0, 5]  (or names)\n"
    "X = np.delete(X, [1, 3], axis=1)         # drop_columns: [1, 3]\n"
    "y = X[:, [7]]; X = np.delete(X, 7, axis=1)   # label: 7  (label_array: y)\n"
    "X = X.astype(np.float64)                 # dtype: float64\n"
    "```\n"
    "\n"
    "**Columns**: `columns`, `drop_columns` and `label` refer to the columns of\n"
    "`column_array` (default: the only array with more than one column; when there are\n"
    "none or several, set it). A column is given by name, when the array has column names\n"
    "(from a `columns` string attribute of the source dataset), or by 0-based index\n"
    "(negative indices count from the end, -1 being the last); a name wins over an index\n"
    "when a column is called \"3\". `columns` keeps the listed columns in the listed order\n"
    "(each at most once); `drop_columns` keeps all the others in their order. `label` moves\n"
    "one column out of the array into a new n x 1 array `label_array` (default `y`),\n"
    "placed right after it in the frame; the label is never also a feature. Column names\n"
    "follow the columns.\n"
    "\n"
    "**Types**: `dtype` converts the arrays named in `arrays` (default: all; a label array\n"
    "follows the array it comes from). Floats go to integers by truncation toward zero, as\n"
    "NumPy's `astype` does, but checked: NaN, +-Inf or a value out of the target's range is\n"
    "an error naming the array, row (numbered as in the input), column and value, never a\n"
    "silent wrap-around. float64 -> float32 rounds to nearest (overflow gives +-Inf, as in\n"
    "NumPy). A float32 array made float64 holds float32 values only: its checkpoint stores\n"
    "it as float32, half the bytes, with the dataset attribute `sluice_dtype` = `float64`\n"
    "(docs/guide.md, section 4); stages reading it get the float64 values.\n"
    "\n"
    "**Output**: the input's arrays in order, the column array with its selected columns,\n"
    "and the label array after it; rows as in the input. One map pass; results do not\n"
    "depend on chunk size or thread count.\n"
    "\n"
    "**Errors** (all before any data moves, so `sluice check` finds them): nothing to do\n"
    "(no dtype, columns, drop_columns or label); both `columns` and `drop_columns`; an\n"
    "unknown array (`arrays`, `column_array`) or column (with a did-you-mean and the\n"
    "column names), an index out of range, a name on an array without names; a column\n"
    "listed twice; the label among `columns`; no column left; an ambiguous column array;\n"
    "`label_array` naming an array the input has. At run time: a value that does not fit\n"
    "an integer target.\n";

const sl_op sl__op_convert = {
    .abi = SL_ABI_VERSION,
    .name = "convert",
    .summary = "cast arrays to another element type (checked for integer targets); select, drop or split columns",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .flags = SL_OP_STREAMABLE,
    .run = run,
    .free_state = free_state,
};
