/* join: the columns of several arrays side by side in one array, from the
 * input frame and optionally from a second frame with the same rows (`with`),
 * in the arrays' common type. One map pass over the input; the second
 * frame's rows are read by range inside each chunk (io/checkpoint.c's row
 * reader), so that frame is always stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "io/checkpoint.h"
#include "kernels/concat.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame holds the arrays to join"},
    {"arrays", SL_PARAM_STRING_LIST, 1, NULL, NULL, 0, 0, "arrays of 'input' to join, in the order wanted"},
    {"with", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0,
     "a second stage with the same rows, whose arrays 'with_arrays' are joined after those of 'input'"},
    {"with_arrays", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "arrays of 'with' to join, in order (default: all of them)"},
    {"output", SL_PARAM_STRING, 0, NULL, NULL, 0, 0, "name of the joined array (default: the first of 'arrays')"},
    {"keep", SL_PARAM_BOOL, 0, "false", NULL, 0, 0,
     "keep the joined arrays too (default: the joined array replaces them)"},
};

/* One array joined: of the input, or of `with`. */
typedef struct part {
    int with;
    long idx;
    int64_t col0; /* its first column in the joined array */
} part;

typedef struct join_state {
    const sl_frame *in, *with;
    size_t n_parts;
    part *parts;
    sl_dtype dtype;
    int64_t cols;
    size_t n_out;
    long *from;               /* per output array: an input array, JOINED, or WITH_ARRAY(k) */
    unsigned char *with_read; /* per array of `with`: read in each chunk */
    sl__row_reader wr;
} join_state;

#define JOINED (-1)
#define WITH_ARRAY(k) (-2 - (long)(k))

static void free_state(void *p)
{
    join_state *s = p;
    if (s) {
        sl__row_reader_close(&s->wr);
        free(s->parts);
        free(s->from);
        free(s->with_read);
        free(s);
    }
}

static const sl_frame *part_frame(const join_state *s, const part *pt)
{
    return pt->with ? s->with : s->in;
}

/* Adds the arrays named by list parameter `param` of frame f to the parts. */
static sl_status add_parts(sl_stage *st, join_state *s, const char *param, const sl_frame *f, int with,
                           sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    size_t n = sl_params_has(p, param) ? sl_params_len(p, param) : sl_frame_count(f);
    for (size_t k = 0; k < n; k++) {
        long i = (long)k;
        if (sl_params_has(p, param)) {
            const char *name = sl_params_list_string(p, param, k);
            i = sl_frame_find(f, name);
            if (i < 0) {
                char have[512];
                sl__describe_frame(f, have, sizeof have);
                return sl_stage_error(st, err, SL_ERR_CONFIG, param, "'%s' names array '%s', which %s lacks; it has %s",
                                      param, name, with ? "the 'with' stage" : "the input", have);
            }
            for (size_t j = 0; j < s->n_parts; j++)
                if (s->parts[j].with == with && s->parts[j].idx == i)
                    return sl_stage_error(st, err, SL_ERR_CONFIG, param, "'%s' lists array '%s' twice", param, name);
        }
        s->parts[s->n_parts++] = (part){with, i, s->cols};
        s->cols += sl_frame_array(f, (size_t)i)->cols;
    }
    return SL_OK;
}

/* A column of the joined array: its name, and where it comes from. */
typedef struct colname {
    const char *name;
    size_t part;
    int64_t col;
} colname;

static int by_name(const void *a, const void *b)
{
    const colname *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->part != y->part ? (x->part < y->part ? -1 : 1) : (x->col > y->col) - (x->col < y->col);
}

/* "array 'X'", or "'with' array 'X'" for an array of the second frame. */
static void part_label(const join_state *s, size_t k, char *buf, size_t size)
{
    const part *pt = &s->parts[k];
    snprintf(buf, size, "%sarray '%s'", pt->with ? "'with' " : "",
             sl_frame_array(part_frame(s, pt), (size_t)pt->idx)->name);
}

/* The joined array's column names: each array's own, or "<array>[<j>]"
 * for an array without names; they must be unique. */
static sl_status set_names(sl_stage *st, join_state *s, sl_frame *out, const char *name, sl_error *err)
{
    size_t n = (size_t)s->cols;
    char **owned = calloc(n ? n : 1, sizeof *owned);
    const char **names = calloc(n ? n : 1, sizeof *names);
    colname *sorted = calloc(n ? n : 1, sizeof *sorted);
    sl_status rc = owned && names && sorted ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < s->n_parts && rc == SL_OK; k++) {
        const part *pt = &s->parts[k];
        const sl_frame *f = part_frame(s, pt);
        const sl_array_info *a = sl_frame_array(f, (size_t)pt->idx);
        for (int64_t c = 0; c < a->cols && rc == SL_OK; c++) {
            size_t j = (size_t)(pt->col0 + c);
            names[j] = sl_frame_column(f, (size_t)pt->idx, c);
            if (!names[j]) {
                char buf[SL_NAME_MAX + 24];
                snprintf(buf, sizeof buf, "%s[%lld]", a->name, (long long)c);
                if (!(owned[j] = strdup(buf)))
                    rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
                names[j] = owned[j];
            }
            sorted[j] = (colname){names[j], k, c};
        }
    }
    if (rc == SL_OK) {
        qsort(sorted, n, sizeof *sorted, by_name);
        size_t dup = 0, first = 0;
        for (size_t j = 1; j < n; j++) {
            if (strcmp(sorted[j].name, sorted[j - 1].name) != 0)
                continue;
            if (j >= 2 && strcmp(sorted[j - 1].name, sorted[j - 2].name) == 0)
                continue; /* the same name a third time */
            if (dup++ == 0)
                first = j;
        }
        if (dup) {
            char la[SL_NAME_MAX + 24], lb[SL_NAME_MAX + 24], more[64] = "";
            part_label(s, sorted[first - 1].part, la, sizeof la);
            part_label(s, sorted[first].part, lb, sizeof lb);
            if (dup > 1)
                snprintf(more, sizeof more, " (and %zu more names used twice)", dup - 1);
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "arrays",
                                "the joined array would have two columns named '%s' (%s column %lld and %s column "
                                "%lld)%s; column names must be unique: join arrays whose columns are named "
                                "differently, or drop one of them first (convert's drop_columns)",
                                sorted[first].name, la, (long long)sorted[first - 1].col, lb,
                                (long long)sorted[first].col, more);
        }
    }
    if (rc == SL_OK)
        rc = sl_frame_set_columns(out, name, names, err);
    for (size_t j = 0; owned && j < n; j++)
        free(owned[j]);
    free(owned);
    free(names);
    free(sorted);
    return rc;
}

/* Adds an output array that some array must not already have the name of. */
static sl_status add_kept(sl_stage *st, join_state *s, sl_frame *out, const sl_frame *f, size_t i, long from,
                          const char *joined, sl_error *err)
{
    const char *name = sl_frame_array(f, i)->name;
    if (strcmp(name, joined) == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, sl_params_has(sl_stage_params(st), "output") ? "output" : "keep",
                              "the joined array is named '%s', and so is an array the output keeps; set 'output' to "
                              "another name",
                              joined);
    if (sl_frame_find(out, name) >= 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "keep",
                              "keep: true keeps array '%s' of both the input and the 'with' stage, and a frame has "
                              "one array of a name; set keep: false",
                              name);
    s->from[s->n_out++] = from;
    return sl_frame_add_like(out, f, i, SL_DTYPE_NONE, err);
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    sl_frame *out = sl_stage_output(st);
    join_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->in = sl_stage_input(st, "input");
    s->with = sl_params_has(p, "with") ? sl_stage_input(st, "with") : NULL;
    size_t nin = sl_frame_count(s->in), nwith = s->with ? sl_frame_count(s->with) : 0;
    s->parts = calloc(nin + nwith + 1, sizeof *s->parts);
    s->from = calloc(nin + nwith + 2, sizeof *s->from);
    s->with_read = calloc(nwith + 1, 1);
    if (!s->parts || !s->from || !s->with_read)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (!s->with && sl_params_has(p, "with_arrays"))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "with_arrays",
                              "'with_arrays' names arrays of a second stage, but no 'with' stage is given");
    if (sl_params_len(p, "arrays") == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "arrays",
                              "'arrays' is empty; name the arrays of 'input' to join");
    sl_status rc = add_parts(st, s, "arrays", s->in, 0, err);
    if (rc == SL_OK && s->with)
        rc = add_parts(st, s, "with_arrays", s->with, 1, err);
    if (rc != SL_OK)
        return rc;
    if (s->with) {
        int64_t a = sl_frame_rows(s->in), b = sl_frame_rows(s->with);
        if (a >= 0 && b >= 0 && a != b)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "with",
                                  "the 'with' stage has %lld rows and the input %lld; join puts the columns of the "
                                  "same row side by side, so both must have the same rows",
                                  (long long)b, (long long)a);
    }
    s->dtype = sl_frame_array(s->in, (size_t)s->parts[0].idx)->dtype;
    for (size_t k = 0; k < s->n_parts; k++) {
        const part *pt = &s->parts[k];
        s->dtype = sl__dtype_common(s->dtype, sl_frame_array(part_frame(s, pt), (size_t)pt->idx)->dtype);
        if (pt->with)
            s->with_read[pt->idx] = 1;
    }
    int keep = sl_params_bool(p, "keep");
    const char *joined =
        sl_params_has(p, "output") ? sl_params_string(p, "output") : sl_params_list_string(p, "arrays", 0);
    for (size_t i = 0; i < nin && rc == SL_OK; i++) {
        int is_part = 0;
        for (size_t k = 0; k < s->n_parts; k++)
            is_part |= !s->parts[k].with && s->parts[k].idx == (long)i;
        if (is_part && !keep) {
            /* the joined array takes the place of the first */
            if ((long)i == s->parts[0].idx) {
                s->from[s->n_out++] = JOINED;
                rc = sl_frame_add(out, joined, s->dtype, s->cols, err);
                if (rc)
                    sl__stage_locate(st, err, "output");
            }
            continue;
        }
        rc = add_kept(st, s, out, s->in, i, (long)i, joined, err);
    }
    for (size_t k = 0; keep && k < s->n_parts && rc == SL_OK; k++)
        if (s->parts[k].with)
            rc = add_kept(st, s, out, s->with, (size_t)s->parts[k].idx, WITH_ARRAY(s->parts[k].idx), joined, err);
    if (rc == SL_OK && keep) {
        s->from[s->n_out++] = JOINED;
        rc = sl_frame_add(out, joined, s->dtype, s->cols, err);
        if (rc)
            sl__stage_locate(st, err, "output");
    }
    if (rc == SL_OK)
        rc = set_names(st, s, out, joined, err);
    sl_frame_set_rows(out, sl_frame_rows(s->in));
    return rc;
}

static sl_status join_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)partial;
    join_state *s = ctx;
    const int64_t rows = in->rows;
    sl_chunk w = {.index = in->index, .row0 = in->row0, .rows = rows};
    sl_status rc = SL_OK;
    if (s->with) {
        /* the same rows of the second frame: its chunks need not be these */
        w.n_arrays = sl_frame_count(s->with);
        w.arrays = calloc(w.n_arrays ? w.n_arrays : 1, sizeof *w.arrays);
        if (!w.arrays)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < w.n_arrays && rc == SL_OK; i++) {
            const sl_array_info *a = sl_frame_array(s->with, i);
            w.arrays[i].info = a;
            if (s->with_read[i] && !(w.arrays[i].data = malloc((size_t)(rows * a->cols) * sl_dtype_size(a->dtype) + 1)))
                rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        }
        if (rc == SL_OK)
            rc = sl__row_reader_read(&s->wr, &w, err);
    }
    for (size_t j = 0; j < s->n_out && rc == SL_OK; j++) {
        if (s->from[j] == JOINED) {
            for (size_t k = 0; k < s->n_parts; k++) {
                const part *pt = &s->parts[k];
                const sl_chunk_array *src = pt->with ? &w.arrays[pt->idx] : &in->arrays[pt->idx];
                sl__concat_cols(out->arrays[j].data, s->dtype, s->cols, pt->col0, src->data, src->info->dtype,
                                src->info->cols, rows);
            }
            continue;
        }
        const sl_chunk_array *src = s->from[j] >= 0 ? &in->arrays[s->from[j]] : &w.arrays[-2 - s->from[j]];
        memcpy(out->arrays[j].data, src->data, (size_t)(rows * src->info->cols) * sl_dtype_size(src->info->dtype));
    }
    for (size_t i = 0; i < w.n_arrays; i++)
        free(w.arrays[i].data);
    free(w.arrays);
    out->rows = rows;
    return rc;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    join_state *s = sl_stage_state(st);
    sl__row_reader_close(&s->wr);
    sl_status rc = SL_OK;
    if (s->with) {
        int64_t a = sl_frame_rows(s->in), b = sl_frame_rows(s->with);
        if (a != b)
            return sl_stage_error(st, err, SL_ERR_DATA, "with",
                                  "the 'with' stage has %lld rows and the input %lld; join puts the columns of the "
                                  "same row side by side, so both must have the same rows",
                                  (long long)b, (long long)a);
        rc = sl__row_reader_open(&s->wr, s->with, s->with_read, err);
    }
    sl_pass pass = {.name = "join",
                    .input = s->in,
                    .output = sl_stage_output(st),
                    .ctx = s,
                    .chunk = join_chunk};
    if (rc == SL_OK)
        rc = sl_exec_pass(ex, st, &pass, NULL, err);
    /* a streamed join reads `with` in its readers' passes, until the next run */
    if (!sl_exec_streaming(ex) || rc != SL_OK)
        sl__row_reader_close(&s->wr);
    return rc;
}

static const char doc[] =
    "Puts the columns of several arrays side by side in one array, as `np.hstack`:\n"
    "\n"
    "```python\n"
    "X = np.hstack([X, Z])                    # arrays: [X, Z]\n"
    "X = np.hstack([X, other[\"W\"]])          # arrays: [X], with: other, with_arrays: [W]\n"
    "```\n"
    "\n"
    "`arrays` names arrays of `input`, in the order their columns are wanted. `with` names a\n"
    "second stage with the same rows; the arrays `with_arrays` of it (default: all) are\n"
    "joined after those of `input`. Row i of the output holds row i of each array.\n"
    "\n"
    "**Type**: the arrays' common type, as NumPy's `np.result_type` (and so `np.hstack`) gives\n"
    "it: the larger type of one kind; float64 for floats mixed with 32- or 64-bit integers,\n"
    "float32 with smaller ones; for signed with unsigned integers the signed type that holds\n"
    "both (float64 with uint64). Each value is converted exactly, except integers above 2^53\n"
    "made float64, which are rounded as NumPy rounds them.\n"
    "\n"
    "**Column names**: each array's own column names, or `<array>[<j>]` for an array that has\n"
    "none (`y[0]`). They must be unique: a name used twice is an error naming both columns.\n"
    "\n"
    "**Output**: the arrays of `input` in their order, where the joined array (named `output`,\n"
    "default the first of `arrays`) takes the place of the first joined array and the other\n"
    "joined arrays are dropped; the arrays of `with` not joined are not in the output. With\n"
    "`keep: true` the joined arrays stay, the joined ones of `with` come after those of\n"
    "`input`, and the joined array comes last (its name must then be new).\n"
    "\n"
    "**Streaming**: one map pass over `input`, so the stage streams (`checkpoint: false`).\n"
    "The rows of `with` are read by row range inside each chunk of `input` (the chunks of\n"
    "the two frames need not be the same: after a filter they differ), from its stored\n"
    "data; the `with` stage is therefore always stored, whatever its `checkpoint` says: a\n"
    "streamed stage is made chunk by chunk inside the passes that read it, and has no rows to\n"
    "read by range. Those rows are read into buffers of their own, outside the memory\n"
    "budget's count.\n"
    "\n"
    "**Errors**: an empty `arrays`, an array that is not in its frame or is named twice,\n"
    "`with_arrays` without `with`, column names used twice, a joined array whose name another\n"
    "array kept has, `with` with another row count than `input` (at plan time when both are\n"
    "known, else when the stage runs: the message gives both counts).\n";

const sl_op sl__op_join = {
    .abi = SL_ABI_VERSION,
    .name = "join",
    .summary = "the columns of several arrays side by side in one array (np.hstack), also from a second stage",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .flags = SL_OP_STREAMABLE,
    .run = run,
    .free_state = free_state,
};
