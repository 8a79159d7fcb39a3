/* encode: class labels to their index 0..K-1 among the sorted distinct
 * values (scikit-learn's LabelEncoder), and columns to one 0/1 column per
 * category (OneHotEncoder). Fitted here, or applied from another encode stage
 * (`fit:`) as normalize applies statistics: the tables go with the output as
 * attributes of the encoded arrays. A label array keeps its one column, so
 * its output is known at plan time and its classes are fitted by a pass in
 * run(); a one-hot array's columns are its categories, so a stage that fits
 * one plans again in the run, once its input is computed, and reads the
 * categories off the input's data there. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "io/checkpoint.h"
#include "kernels/encode.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame is encoded"},
    {"labels", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "arrays of one column of class labels: each value becomes its index 0..K-1 among the sorted distinct values "
     "(int64), as scikit-learn's LabelEncoder"},
    {"onehot", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "arrays whose columns become one 0/1 column per category (sorted distinct values), as scikit-learn's "
     "OneHotEncoder"},
    {"columns", SL_PARAM_STRING_MAP, 0, NULL, NULL, 0, 0,
     "onehot array -> the columns of it to encode, names or 0-based indices (a list, or separated by commas); the "
     "others pass through after the encoded ones (default: every column)"},
    {"fit", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0,
     "an encode stage whose fitted classes and categories are applied instead of fitting on this input (fit on "
     "train, apply to test)"},
    {"drop", SL_PARAM_CHOICE, 0, NULL, "none|first|if_binary", 0, 0,
     "one-hot: the category that gets no column: none, the first of each column, or the first of each column of "
     "exactly two categories (default none; with fit, the fit stage's)"},
    {"unknown", SL_PARAM_CHOICE, 0, "error", "error|ignore", 0, 0,
     "with fit: a one-hot value the fit stage did not see is an error, or (ignore) gets all-zero columns"},
    {"dtype", SL_PARAM_CHOICE, 0, "float64", "int8|int16|int32|int64|uint8|uint16|uint32|uint64|float32|float64", 0,
     0, "element type of the one-hot arrays (their pass-through columns are converted to it)"},
    {"max_classes", SL_PARAM_INT, 0, "1000", NULL, 1, 65536,
     "most distinct values a label array or an encoded column may have when fitting"},
};

enum { M_PASS, M_LABELS, M_ONEHOT };
enum { DROP_UNSET = -1, DROP_NONE, DROP_FIRST, DROP_IF_BINARY };
static const char *const drop_names[] = {"none", "first", "if_binary"};

/* One encoded column: its table of classes or categories. */
typedef struct enc_table {
    int64_t col;  /* its column in the input array */
    int64_t k;    /* values in cats */
    double *cats; /* ascending, NaN last; NULL until fitted or loaded */
    int64_t drop; /* index of the category that gets no column, or -1 */
    int64_t off;  /* its first column in the output array */
} enc_table;

typedef struct enc_array {
    int mode;          /* M_* */
    int64_t n_enc;     /* encoded columns (labels: 1) */
    enc_table *t;      /* n_enc, in output order */
    int64_t n_pass;    /* one-hot: columns passing through, after the encoded ones */
    int64_t *pass;     /* their input columns, in order */
    int64_t out_cols;
    sl_dtype out_t;
} enc_array;

typedef struct enc_state {
    const sl_frame *in;
    size_t n;        /* arrays of the input */
    enc_array *a;    /* one per input array */
    int drop;        /* DROP_* (never unset once planned) */
    int ignore;      /* unknown: ignore */
    int64_t cap;     /* max_classes */
    const sl_stage *fit;  /* the stage whose tables are applied, or NULL */
    const char **labels;  /* NULL-terminated names of the label arrays, for the fit pass */
    size_t n_labels;
    size_t n_tables;      /* encoded columns of every array, for the unknown counts */
    int fitted_at_plan;   /* every table was fitted by the plan made in the run */
} enc_state;

static void free_state(void *p)
{
    enc_state *s = p;
    if (!s)
        return;
    for (size_t i = 0; s->a && i < s->n; i++) {
        for (int64_t j = 0; s->a[i].t && j < s->a[i].n_enc; j++)
            free(s->a[i].t[j].cats);
        free(s->a[i].t);
        free(s->a[i].pass);
    }
    free(s->a);
    free(s->labels);
    free(s);
}

/* Digits and exponent of the shortest decimal that reads back as v (as a
 * float32 when single): "15" and 0 for 1.5. */
static void shortest_digits(double v, int single, char *digits, size_t size, int *exp10)
{
    char buf[40];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, v);
        double back = strtod(buf, NULL);
        if (single ? (float)back == (float)v : back == v)
            break;
    }
    const char *p = buf + (buf[0] == '-');
    size_t n = 0;
    for (; *p && *p != 'e' && n + 1 < size; p++)
        if (*p != '.')
            digits[n++] = *p;
    digits[n] = '\0';
    *exp10 = *p == 'e' ? atoi(p + 1) : 0;
}

/* A category as NumPy's str() prints a scalar of the array's type, which
 * scikit-learn's get_feature_names_out puts in its names: integers as
 * integers; floats by their shortest round-trip digits, positional from 1e-4
 * up to 1e16 (with ".0" on whole numbers), in scientific notation with an
 * exponent of at least two digits outside. */
static void category_text(double v, sl_dtype t, char *buf, size_t size)
{
    if (!sl_dtype_is_float(t)) {
        if (t == SL_UINT64)
            snprintf(buf, size, "%llu", (unsigned long long)v);
        else
            snprintf(buf, size, "%lld", (long long)v);
        return;
    }
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, "%sinf", v < 0 ? "-" : "");
        return;
    }
    if (v == 0) {
        snprintf(buf, size, "%s0.0", signbit(v) ? "-" : "");
        return;
    }
    char d[24], body[48];
    int e;
    shortest_digits(v, t == SL_FLOAT32, d, sizeof d, &e);
    int nd = (int)strlen(d);
    double a = fabs(v);
    if (a >= 1e-4 && a < 1e16 && e >= 0) /* digits, zeros up to the point, then the fraction or 0 */
        snprintf(body, sizeof body, "%.*s%.*s.%s", nd < e + 1 ? nd : e + 1, d, nd < e + 1 ? e + 1 - nd : 0,
                 "0000000000000000", nd > e + 1 ? d + e + 1 : "0");
    else if (a >= 1e-4 && a < 1e16)
        snprintf(body, sizeof body, "0.%.*s%s", -e - 1, "0000", d);
    else
        snprintf(body, sizeof body, "%c%s%se%c%02d", d[0], nd > 1 ? "." : "", d + 1, e < 0 ? '-' : '+',
                 e < 0 ? -e : e);
    snprintf(buf, size, "%s%s", v < 0 ? "-" : "", body);
}

/* A value for a message: integers as integers, floats in full. */
static void value_text(double v, sl_dtype t, char *buf, size_t size)
{
    if (!sl_dtype_is_float(t) || isnan(v) || isinf(v)) {
        category_text(v, t, buf, size);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* "1, 2.5, 7" (cut short) of a table, for messages. */
static void table_text(const double *t, int64_t k, sl_dtype dt, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int64_t j = 0; j < k; j++) {
        char v[64];
        value_text(t[j], dt, v, sizeof v);
        if (used + strlen(v) + 8 >= size) {
            snprintf(buf + used, size - used, ", ...");
            return;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%s", j ? ", " : "", v);
    }
}

/* ---- planning ------------------------------------------------------------ */

/* The arrays named by `param` get mode `mode`. */
static sl_status mark_arrays(sl_stage *st, enc_state *s, const char *param, int mode, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    if (!sl_params_has(p, param))
        return SL_OK;
    unsigned char *want = calloc(s->n + 1, 1);
    if (!want)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = sl__select_arrays(st, param, s->in, want, err);
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        if (!want[i])
            continue;
        const sl_array_info *a = sl_frame_array(s->in, i);
        if (s->a[i].mode != M_PASS && s->a[i].mode != mode)
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, param,
                                "array '%s' is in both 'labels' and 'onehot'; encode it one way", a->name);
        else if (mode == M_LABELS && a->cols != 1)
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, param,
                                "'labels' names array '%s', which has %lld columns; a label array has one column "
                                "(move the label column into an array of its own with convert's 'label')",
                                a->name, (long long)a->cols);
        else
            s->a[i].mode = mode;
    }
    free(want);
    return rc;
}

/* Encoded and pass-through columns of one-hot array i: `columns`' list for
 * it, or every column. */
static sl_status plan_columns(sl_stage *st, enc_state *s, size_t i, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_array_info *a = sl_frame_array(s->in, i);
    enc_array *e = &s->a[i];
    unsigned char *mark = calloc((size_t)a->cols, 1);
    e->t = calloc((size_t)a->cols, sizeof *e->t);
    e->pass = calloc((size_t)a->cols, sizeof *e->pass);
    if (!mark || !e->t || !e->pass) {
        free(mark);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    const char *list = NULL;
    for (size_t k = 0; k < sl_params_len(p, "columns"); k++)
        if (strcmp(sl_params_map_key(p, "columns", k), a->name) == 0)
            list = sl_params_map_value(p, "columns", k);
    sl_status rc = SL_OK;
    for (const char *q = list; q && rc == SL_OK;) {
        const char *end = strchr(q, ',');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        while (len && *q == ' ') {
            q++;
            len--;
        }
        while (len && q[len - 1] == ' ')
            len--;
        char ref[256];
        snprintf(ref, sizeof ref, "%.*s", (int)len, q);
        int64_t c = 0;
        if (len)
            rc = sl__resolve_column(st, s->in, i, "columns", ref, &c, err);
        if (rc == SL_OK && len && mark[c])
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "columns",
                                "'columns' lists column %lld ('%s') of array '%s' twice", (long long)c, ref, a->name);
        if (rc == SL_OK && len) {
            mark[c] = 1;
            e->t[e->n_enc++].col = c;
        }
        q = end ? end + 1 : NULL;
    }
    if (rc == SL_OK && list && e->n_enc == 0)
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, "columns",
                            "'columns' names no column of array '%s'; list at least one", a->name);
    for (int64_t c = 0; c < a->cols && rc == SL_OK; c++) {
        if (!list)
            e->t[e->n_enc++].col = c;
        else if (!mark[c])
            e->pass[e->n_pass++] = c;
    }
    free(mark);
    return rc;
}

/* labels, onehot and columns of a stage that fits its own tables. */
static sl_status plan_own(sl_stage *st, enc_state *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    sl_status rc = mark_arrays(st, s, "labels", M_LABELS, err);
    if (rc == SL_OK)
        rc = mark_arrays(st, s, "onehot", M_ONEHOT, err);
    if (rc)
        return rc;
    size_t any = 0;
    for (size_t i = 0; i < s->n; i++)
        any += s->a[i].mode != M_PASS;
    if (!any)
        return sl_stage_error(st, err, SL_ERR_CONFIG, NULL,
                              "encode needs 'labels: [...]' (arrays of class labels to number 0..K-1) or 'onehot: "
                              "[...]' (arrays whose columns become one-hot columns), or 'fit: <stage>' to apply "
                              "another encode stage's tables");
    for (size_t k = 0; k < sl_params_len(p, "columns"); k++) {
        const char *name = sl_params_map_key(p, "columns", k);
        long i = sl_frame_find(s->in, name);
        if (i < 0 || s->a[i].mode != M_ONEHOT)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "columns",
                                  "'columns' names array '%s', which 'onehot' does not list; add it to 'onehot', "
                                  "or remove it from 'columns'",
                                  name);
    }
    if (s->drop == DROP_UNSET)
        s->drop = DROP_NONE;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        enc_array *e = &s->a[i];
        if (e->mode == M_ONEHOT) {
            rc = plan_columns(st, s, i, err);
        } else if (e->mode == M_LABELS) {
            e->n_enc = 1;
            if (!(e->t = calloc(1, sizeof *e->t)))
                rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        }
    }
    return rc;
}

/* "labels: y; onehot: X" of what a stage's state encodes, for messages. */
static void encoded_text(const enc_state *s, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int mode = M_LABELS; mode <= M_ONEHOT; mode++) {
        int first = 1;
        for (size_t i = 0; i < s->n && used + 1 < size; i++) {
            if (s->a[i].mode != mode)
                continue;
            int w = snprintf(buf + used, size - used, "%s%s%s", first ? (used ? "; " : "") : ", ",
                             first ? (mode == M_LABELS ? "labels: " : "onehot: ") : "", sl_frame_array(s->in, i)->name);
            if (w > 0)
                used += (size_t)w;
            first = 0;
        }
    }
}

/* Takes the arrays, columns and drop of the `fit` stage, and checks this
 * input against its input. */
static sl_status plan_fit(sl_stage *st, enc_state *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_stage *o = sl__input_stage(st, "fit");
    if (!o)
        return sl_stage_error(st, err, SL_ERR_INTERNAL, "fit", "the 'fit' stage was not resolved");
    if (o->op != &sl__op_encode)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "fit",
                              "'fit' names stage '%s', a '%s' stage; it must name an encode stage, whose fitted "
                              "classes and categories this stage applies (fit on the training part, apply to the "
                              "test part)",
                              o->name, o->op->name);
    const enc_state *os = o->state;
    if (!os)
        return sl_stage_error(st, err, SL_ERR_INTERNAL, "fit", "stage '%s' has no plan", o->name);
    if (sl_params_has(p, "columns"))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "columns",
                              "the columns to encode come from stage '%s' (named by 'fit'); remove 'columns' here",
                              o->name);
    if (s->drop != DROP_UNSET && s->drop != os->drop)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "drop",
                              "this stage's drop is %s but stage '%s' (named by 'fit') encoded with drop %s; leave "
                              "'drop' out to use that stage's",
                              drop_names[s->drop], o->name, drop_names[os->drop]);
    s->drop = os->drop;
    char had[512];
    encoded_text(os, had, sizeof had);
    int named = sl_params_has(p, "labels") || sl_params_has(p, "onehot");
    sl_status rc = SL_OK;
    if (named) {
        rc = mark_arrays(st, s, "labels", M_LABELS, err);
        if (rc == SL_OK)
            rc = mark_arrays(st, s, "onehot", M_ONEHOT, err);
    }
    for (size_t k = 0; k < os->n && rc == SL_OK && !named; k++) {
        if (os->a[k].mode == M_PASS)
            continue;
        const char *name = sl_frame_array(os->in, k)->name;
        long i = sl_frame_find(s->in, name);
        if (i < 0) {
            char have[512];
            sl__describe_frame(s->in, have, sizeof have);
            return sl_stage_error(st, err, SL_ERR_CONFIG, "fit",
                                  "stage '%s' (named by 'fit') encoded array '%s', which this stage's input lacks; "
                                  "it has %s; name the arrays to encode with 'labels' and 'onehot'",
                                  o->name, name, have);
        }
        s->a[i].mode = os->a[k].mode;
    }
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        enc_array *e = &s->a[i];
        if (e->mode == M_PASS)
            continue;
        const sl_array_info *a = sl_frame_array(s->in, i);
        long k = sl_frame_find(os->in, a->name);
        if (k < 0 || os->a[k].mode != e->mode)
            return sl_stage_error(st, err, SL_ERR_CONFIG, e->mode == M_LABELS ? "labels" : "onehot",
                                  "'%s' names array '%s', which stage '%s' (named by 'fit') did not encode %s; that "
                                  "stage encoded %s",
                                  e->mode == M_LABELS ? "labels" : "onehot", a->name, o->name,
                                  e->mode == M_LABELS ? "as labels" : "one-hot", had);
        const sl_array_info *b = sl_frame_array(os->in, (size_t)k);
        if (a->cols != b->cols)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "fit",
                                  "array '%s' has %lld columns here but %lld in stage '%s' (named by 'fit'); the "
                                  "tables of one cannot be applied to the other",
                                  a->name, (long long)a->cols, (long long)b->cols, o->name);
        for (int64_t c = 0; c < a->cols; c++) {
            const char *x = sl_frame_column(s->in, i, c), *y = sl_frame_column(os->in, (size_t)k, c);
            if (x && y && strcmp(x, y) != 0)
                return sl_stage_error(st, err, SL_ERR_CONFIG, "fit",
                                      "array '%s' column %lld is '%s' here but '%s' in stage '%s' (named by 'fit'); "
                                      "the columns must be the same, in the same order",
                                      a->name, (long long)c, x, y, o->name);
        }
        const enc_array *f = &os->a[k];
        e->n_enc = f->n_enc;
        e->n_pass = f->n_pass;
        e->t = calloc((size_t)f->n_enc, sizeof *e->t);
        e->pass = calloc((size_t)f->n_pass + 1, sizeof *e->pass);
        if (!e->t || !e->pass)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t j = 0; j < f->n_enc; j++)
            e->t[j].col = f->t[j].col;
        if (f->n_pass)
            memcpy(e->pass, f->pass, (size_t)f->n_pass * sizeof *e->pass);
    }
    s->fit = o;
    return rc;
}

/* Checks a table the `fit` stage holds: sorted, NaN last, labels without NaN. */
static int table_ok(const double *v, size_t n, int mode)
{
    for (size_t j = 0; j < n; j++) {
        if (isnan(v[j]) && (mode == M_LABELS || j + 1 != n))
            return 0;
        if (j && !isnan(v[j]) && !(v[j - 1] < v[j]))
            return 0;
    }
    return 1;
}

/* Reads the tables of array i from the `fit` stage's output attributes:
 * `classes` of a label array, `categories.<column>` of a one-hot one. */
static sl_status load_tables(const sl_stage *st, enc_state *s, size_t i, sl_error *err)
{
    enc_array *e = &s->a[i];
    const char *name = sl_frame_array(s->in, i)->name;
    for (int64_t j = 0; j < e->n_enc; j++) {
        enc_table *t = &e->t[j];
        char key[SL_NAME_MAX];
        if (e->mode == M_LABELS)
            snprintf(key, sizeof key, "classes");
        else
            snprintf(key, sizeof key, "categories.%lld", (long long)t->col);
        size_t k = 0;
        const double *v = sl_frame_attr(s->fit->output, name, key, &k);
        if (!v || k == 0 || !table_ok(v, k, e->mode))
            return sl_stage_error(st, err, SL_ERR_DATA, "fit",
                                  "stage '%s' (named by 'fit') holds no fitted '%s' for array '%s' (a sorted list "
                                  "of the values it encoded); rerun it",
                                  s->fit->name, key, name);
        free(t->cats);
        if (!(t->cats = malloc(k * sizeof *t->cats)))
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        memcpy(t->cats, v, k * sizeof *t->cats);
        t->k = (int64_t)k;
    }
    return SL_OK;
}

static sl_status nan_label_error(const sl_frame *in, size_t i, int64_t row, int64_t count, const char *scope,
                                 sl_error *err)
{
    return sl__error_set(err, SL_ERR_DATA,
                         "array '%s' row %lld holds NaN (%lld NaN label%s%s); class labels must be numbers: drop or "
                         "impute those rows first (op clean)",
                         sl_frame_array(in, i)->name, (long long)row, (long long)count, count == 1 ? "" : "s", scope);
}

static sl_status inexact_error(const sl_frame *in, size_t i, const void *data, int64_t row, int64_t col,
                               int64_t rows_from, sl_error *err)
{
    const sl_array_info *a = sl_frame_array(in, i);
    char v[32];
    size_t at = (size_t)(row * a->cols + col);
    if (a->dtype == SL_UINT64)
        snprintf(v, sizeof v, "%llu", (unsigned long long)((const uint64_t *)data)[at]);
    else
        snprintf(v, sizeof v, "%lld", (long long)((const int64_t *)data)[at]);
    return sl__error_set(err, SL_ERR_DATA,
                         "array '%s' row %lld column %lld holds %s, beyond 2^53 (9007199254740992): encode keeps "
                         "classes and categories as float64, which cannot tell such integers apart; map them to "
                         "smaller values first",
                         a->name, (long long)(rows_from + row), (long long)col, v);
}

/* The checks of a fitted column: NaN labels, too many values, no rows. A
 * one-hot column's NaNs are one more category. */
static sl_status check_fitted(const sl_stage *st, const enc_state *s, size_t i, int64_t j, const sl__distinct *d,
                              sl_error *err)
{
    const sl_array_info *a = sl_frame_array(s->in, i);
    int64_t k = (int64_t)d->n + (d->nan_count > 0);
    sl_status rc = SL_OK;
    if (s->a[i].mode == M_LABELS && d->nan_count > 0)
        rc = nan_label_error(s->in, i, d->nan_row, d->nan_count, "", err);
    else if (d->over || k > s->cap) {
        int64_t col = s->a[i].t[j].col;
        char label[SL_NAME_MAX + 8];
        sl__column_name_label(s->in, i, col, label, sizeof label);
        rc = sl__error_set(err, SL_ERR_DATA,
                           "array '%s' column %lld%s has more than %lld distinct values (max_classes) within its "
                           "first %lld rows; if they are classes or categories, raise max_classes, otherwise leave "
                           "the column out",
                           a->name, (long long)col, label, (long long)s->cap,
                           (long long)(d->over ? d->over_row : d->end_row));
    } else if (k == 0) {
        rc = sl__error_set(err, SL_ERR_DATA, "the input has no rows, so there are no classes or categories to fit");
    }
    if (rc)
        sl__stage_locate(st, err, NULL);
    return rc;
}

/* Keeps a fitted column's values as its table: its numbers, then NaN. */
static sl_status take_table(enc_table *t, const sl__distinct *d, sl_error *err)
{
    int64_t k = (int64_t)d->n + (d->nan_count > 0);
    free(t->cats);
    if (!(t->cats = malloc((size_t)k * sizeof *t->cats)))
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    memcpy(t->cats, d->v, d->n * sizeof *t->cats);
    if (d->nan_count > 0)
        t->cats[d->n] = NAN;
    t->k = k;
    return SL_OK;
}

/* Fits the tables of the label and one-hot arrays on the input's data, read
 * a chunk at a time (the plan made in the run, once the input is computed),
 * in row order: the checks name the same rows as a fit pass would. */
static sl_status fit_at_plan(sl_stage *st, enc_state *s, sl_error *err)
{
    int64_t rows = sl_frame_rows(s->in), block = sl_stage_chunk_rows(st);
    size_t dsize = sl__distinct_size(s->cap);
    char *acc = calloc(s->n_tables + 1, dsize);
    double *x = malloc((size_t)block * sizeof *x);
    unsigned char *want = calloc(s->n + 1, 1);
    sl_chunk_array *arrays = calloc(s->n + 1, sizeof *arrays);
    sl_status rc = acc && x && want && arrays ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        const sl_array_info *a = sl_frame_array(s->in, i);
        arrays[i].info = a;
        want[i] = s->a[i].mode != M_PASS;
        if (want[i] && !(arrays[i].data = malloc((size_t)(block * a->cols) * sl_dtype_size(a->dtype))))
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    sl__row_reader rr;
    int open = rc == SL_OK && (rc = sl__row_reader_open(&rr, s->in, want, err)) == SL_OK;
    sl_chunk c = {.n_arrays = s->n, .arrays = arrays};
    for (c.row0 = 0; c.row0 < rows && rc == SL_OK; c.row0 += block, c.index++) {
        c.rows = rows - c.row0 < block ? rows - c.row0 : block;
        rc = sl__row_reader_read(&rr, &c, err);
        size_t tab = 0;
        for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
            const sl_array_info *a = arrays[i].info;
            for (int64_t j = 0; j < s->a[i].n_enc && rc == SL_OK; j++, tab++) {
                int64_t col = s->a[i].t[j].col, first = 0;
                if (sl__column_f64(x, arrays[i].data, a->dtype, c.rows, a->cols, col, &first))
                    rc = inexact_error(s->in, i, arrays[i].data, first, col, c.row0, err);
                else
                    sl__distinct_add((sl__distinct *)(acc + tab * dsize), s->cap, x, c.rows, c.row0);
            }
        }
    }
    if (open)
        sl__row_reader_close(&rr);
    if (rc)
        sl__stage_locate(st, err, NULL);
    size_t tab = 0;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++)
        for (int64_t j = 0; j < s->a[i].n_enc && rc == SL_OK; j++, tab++) {
            const sl__distinct *d = (const sl__distinct *)(acc + tab * dsize);
            rc = check_fitted(st, s, i, j, d, err);
            if (rc == SL_OK)
                rc = take_table(&s->a[i].t[j], d, err);
        }
    for (size_t i = 0; arrays && i < s->n; i++)
        free(arrays[i].data);
    free(arrays);
    free(want);
    free(x);
    free(acc);
    return rc;
}

/* Column names of one-hot array i: the categories of each encoded column
 * after its name ("color_1.0", or "x2_1.0" when the input has no names),
 * then the pass-through columns' names: get_feature_names_out of a
 * ColumnTransformer([(OneHotEncoder, columns)], remainder='passthrough',
 * verbose_feature_names_out=False). */
static sl_status onehot_names(sl_frame *out, const enc_state *s, size_t i, sl_error *err)
{
    const enc_array *e = &s->a[i];
    const sl_array_info *a = sl_frame_array(s->in, i);
    char **names = calloc((size_t)e->out_cols + 1, sizeof *names);
    if (!names)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = SL_OK;
    int64_t o = 0;
    for (int64_t j = 0; j < e->n_enc; j++) {
        const enc_table *t = &e->t[j];
        char prefix[256], cat[64];
        const char *cn = sl_frame_column(s->in, i, t->col);
        if (cn)
            snprintf(prefix, sizeof prefix, "%s", cn);
        else
            snprintf(prefix, sizeof prefix, "x%lld", (long long)t->col);
        for (int64_t c = 0; c < t->k; c++) {
            if (c == t->drop)
                continue;
            category_text(t->cats[c], a->dtype, cat, sizeof cat);
            size_t len = strlen(prefix) + strlen(cat) + 2;
            if (!(names[o] = malloc(len)))
                break;
            snprintf(names[o++], len, "%s_%s", prefix, cat);
        }
    }
    for (int64_t j = 0; j < e->n_pass; j++) {
        char x[32];
        const char *cn = sl_frame_column(s->in, i, e->pass[j]);
        if (!cn) {
            snprintf(x, sizeof x, "x%lld", (long long)e->pass[j]);
            cn = x;
        }
        if (!(names[o++] = strdup(cn)))
            break;
    }
    if (o != e->out_cols || !names[o - 1])
        rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (rc == SL_OK)
        rc = sl_frame_set_columns(out, a->name, (const char *const *)names, err);
    for (int64_t c = 0; c < e->out_cols; c++)
        free(names[c]);
    free(names);
    return rc;
}

/* Drop and output columns of a one-hot array whose tables are known. */
static sl_status layout_onehot(const sl_stage *st, enc_state *s, size_t i, sl_error *err)
{
    enc_array *e = &s->a[i];
    int64_t off = 0;
    for (int64_t j = 0; j < e->n_enc; j++) {
        enc_table *t = &e->t[j];
        t->drop = s->drop == DROP_FIRST || (s->drop == DROP_IF_BINARY && t->k == 2) ? 0 : -1;
        t->off = off;
        off += t->k - (t->drop >= 0);
    }
    e->out_cols = off + e->n_pass;
    if (e->out_cols == 0)
        return sl_stage_error(st, err, SL_ERR_DATA, "drop",
                              "array '%s' would have no columns: each encoded column has one category, which drop: "
                              "first leaves without a column, and no column passes through; use drop: if_binary "
                              "or none",
                              sl_frame_array(s->in, i)->name);
    return SL_OK;
}

static sl_status declare_output(sl_stage *st, enc_state *s, sl_dtype onehot_t, sl_error *err)
{
    sl_frame *out = sl_stage_output(st);
    sl_status rc = SL_OK;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        enc_array *e = &s->a[i];
        const sl_array_info *a = sl_frame_array(s->in, i);
        if (e->mode == M_PASS) {
            e->out_t = a->dtype;
            rc = sl_frame_add_like(out, s->in, i, SL_DTYPE_NONE, err);
        } else if (e->mode == M_LABELS) {
            e->out_t = SL_INT64;
            e->out_cols = 1;
            rc = sl_frame_add_like(out, s->in, i, SL_INT64, err);
        } else {
            e->out_t = onehot_t;
            rc = layout_onehot(st, s, i, err);
            if (rc == SL_OK)
                rc = sl_frame_add(out, a->name, onehot_t, e->out_cols, err);
            if (rc == SL_OK)
                rc = onehot_names(out, s, i, err);
        }
    }
    sl_frame_set_rows(out, sl_frame_rows(s->in));
    return rc;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    enc_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->in = sl_stage_input(st, "input");
    s->n = sl_frame_count(s->in);
    s->a = calloc(s->n + 1, sizeof *s->a);
    s->labels = calloc(s->n + 1, sizeof *s->labels);
    if (!s->a || !s->labels)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    s->drop = DROP_UNSET;
    for (int d = DROP_NONE; d <= DROP_IF_BINARY && sl_params_has(p, "drop"); d++)
        if (strcmp(sl_params_string(p, "drop"), drop_names[d]) == 0)
            s->drop = d;
    s->ignore = strcmp(sl_params_string(p, "unknown"), "ignore") == 0;
    s->cap = sl_params_int(p, "max_classes");
    sl_status rc = sl_params_has(p, "fit") ? plan_fit(st, s, err) : plan_own(st, s, err);
    if (rc)
        return rc;
    int onehot = 0;
    for (size_t i = 0; i < s->n; i++) {
        onehot |= s->a[i].mode == M_ONEHOT;
        if (s->a[i].mode == M_LABELS)
            s->labels[s->n_labels++] = sl_frame_array(s->in, i)->name;
        s->n_tables += (size_t)s->a[i].n_enc;
    }
    if (onehot && !s->fit) {
        /* the categories are the input's data: read them once it is computed */
        if (sl_stage_plan_later(st))
            return SL_OK;
        rc = fit_at_plan(st, s, err);
        s->fitted_at_plan = rc == SL_OK;
    }
    for (size_t i = 0; i < s->n && rc == SL_OK && s->fit; i++)
        if (s->a[i].mode == M_ONEHOT)
            rc = load_tables(st, s, i, err);
    if (rc == SL_OK)
        rc = declare_output(st, s, sl_dtype_from_name(sl_params_string(p, "dtype")), err);
    return rc;
}

/* ---- fit (label arrays, in run) ------------------------------------------ */

static sl_status fit_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const enc_state *s = ctx;
    size_t dsize = sl__distinct_size(s->cap);
    double *x = malloc((size_t)(in->rows > 0 ? in->rows : 1) * sizeof *x);
    if (!x)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = SL_OK;
    size_t k = 0;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        if (s->a[i].mode != M_LABELS)
            continue;
        int64_t first = 0;
        if (sl__column_f64(x, in->arrays[i].data, in->arrays[i].info->dtype, in->rows, 1, 0, &first))
            rc = inexact_error(s->in, i, in->arrays[i].data, first, 0, in->row0, err);
        else
            sl__distinct_add((sl__distinct *)((char *)partial + k * dsize), s->cap, x, in->rows, in->row0);
        k++;
    }
    free(x);
    return rc;
}

static sl_status fit_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const enc_state *s = ctx;
    size_t dsize = sl__distinct_size(s->cap);
    for (size_t k = 0; k < s->n_labels; k++)
        sl__distinct_merge((sl__distinct *)((char *)acc + k * dsize),
                           (const sl__distinct *)((const char *)partial + k * dsize), s->cap);
    return SL_OK;
}

static sl_status fit_labels(sl_stage *st, sl_exec *ex, enc_state *s, sl_error *err)
{
    size_t dsize = sl__distinct_size(s->cap), size = s->n_labels * dsize;
    char *acc = calloc(1, size);
    if (!acc)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_pass pass = {.name = "fit",
                    .input = s->in,
                    .input_arrays = s->labels,
                    .partial_size = size,
                    .ctx = s,
                    .chunk = fit_chunk,
                    .merge = fit_merge};
    sl_status rc = sl_exec_pass(ex, st, &pass, acc, err);
    size_t k = 0;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        if (s->a[i].mode != M_LABELS)
            continue;
        const sl__distinct *d = (const sl__distinct *)(acc + k++ * dsize);
        rc = check_fitted(st, s, i, 0, d, err);
        if (rc == SL_OK)
            rc = take_table(&s->a[i].t[0], d, err);
    }
    free(acc);
    return rc;
}

/* ---- apply --------------------------------------------------------------- */

/* A value this stage's own fit did not see: only a file changing between
 * the reads can make one. */
static sl_status changed_error(const sl_chunk *in, size_t i, int64_t col, double v, int64_t at, sl_error *err)
{
    char val[64];
    value_text(v, in->arrays[i].info->dtype, val, sizeof val);
    return sl__error_set(err, SL_ERR_DATA,
                         "array '%s' row %lld column %lld holds %s, which the fit of this stage did not see: the "
                         "input changed between two reads of it; run the stage again",
                         in->arrays[i].info->name, (long long)(in->row0 + at), (long long)col, val);
}

static sl_status unknown_label_error(const enc_state *s, size_t i, const sl_chunk *in, const double *x, int64_t at,
                                     int64_t count, sl_error *err)
{
    const enc_table *t = &s->a[i].t[0];
    sl_dtype dt = in->arrays[i].info->dtype;
    double v = x[at];
    if (!s->fit && !isnan(v))
        return changed_error(in, i, 0, v, at, err);
    if (isnan(v)) {
        int64_t nans = 0;
        for (int64_t r = at; r < in->rows; r++)
            nans += isnan(x[r]);
        return nan_label_error(s->in, i, in->row0 + at, nans, " in this chunk", err);
    }
    char val[64], have[256];
    value_text(v, dt, val, sizeof val);
    table_text(t->cats, t->k, dt, have, sizeof have);
    return sl__error_set(err, SL_ERR_DATA,
                         "array '%s' row %lld holds label %s, which stage '%s' (named by 'fit') did not see (%lld "
                         "unknown label%s in this chunk); its classes are %s",
                         in->arrays[i].info->name, (long long)(in->row0 + at), val, s->fit->name, (long long)count,
                         count == 1 ? "" : "s", have);
}

static sl_status unknown_category_error(const enc_state *s, size_t i, const sl_chunk *in, int64_t col, double v,
                                        int64_t at, int64_t count, sl_error *err)
{
    if (!s->fit)
        return changed_error(in, i, col, v, at, err);
    char val[64], label[SL_NAME_MAX + 8];
    value_text(v, in->arrays[i].info->dtype, val, sizeof val);
    sl__column_name_label(s->in, i, col, label, sizeof label);
    return sl__error_set(err, SL_ERR_DATA,
                         "array '%s' row %lld column %lld%s holds %s, a category stage '%s' (named by 'fit') did not "
                         "see (%lld such value%s in this chunk); set unknown: ignore to give such values all-zero "
                         "columns, or fit on data that has it",
                         in->arrays[i].info->name, (long long)(in->row0 + at), (long long)col, label, val,
                         s->fit->name, (long long)count, count == 1 ? "" : "s");
}

static sl_status pass_through(const enc_state *s, size_t i, const sl_chunk *in, void *y, sl_error *err)
{
    const enc_array *e = &s->a[i];
    const sl_array_info *a = in->arrays[i].info;
    for (int64_t j = 0; j < e->n_pass; j++) {
        int64_t col = e->pass[j];
        sl__cast_result r = sl__cast_column(y, e->out_t, e->out_cols, e->out_cols - e->n_pass + j,
                                            in->arrays[i].data, a->dtype, a->cols, col, in->rows);
        if (r.bad) {
            char val[64], label[SL_NAME_MAX + 8];
            double v = 0;
            sl__cast(&v, SL_FLOAT64, (const char *)in->arrays[i].data +
                                         (r.first_bad * (size_t)a->cols + (size_t)col) * sl_dtype_size(a->dtype),
                     a->dtype, 1);
            value_text(v, a->dtype, val, sizeof val);
            sl__column_name_label(s->in, i, col, label, sizeof label);
            return sl__error_set(err, SL_ERR_DATA,
                                 "array '%s' row %lld column %lld%s passes through the one-hot encoding, but its "
                                 "value %s does not fit in %s (%zu such value%s in this chunk); set dtype to a float "
                                 "type, or clean the column first",
                                 a->name, (long long)(in->row0 + (int64_t)r.first_bad), (long long)col, label, val,
                                 sl_dtype_name(e->out_t), r.bad, r.bad == 1 ? "" : "s");
        }
    }
    return SL_OK;
}

static sl_status apply_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    const enc_state *s = ctx;
    int64_t rows = in->rows, *unknown = partial;
    double *x = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *x);
    int64_t *codes = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *codes);
    sl_status rc = x && codes ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    size_t tab = 0;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        const enc_array *e = &s->a[i];
        const sl_array_info *a = in->arrays[i].info;
        void *y = out->arrays[i].data;
        if (e->mode == M_PASS) {
            memcpy(y, in->arrays[i].data, (size_t)(rows * a->cols) * sl_dtype_size(a->dtype));
            continue;
        }
        if (e->mode == M_ONEHOT)
            memset(y, 0, (size_t)(rows * e->out_cols) * sl_dtype_size(e->out_t));
        for (int64_t j = 0; j < e->n_enc && rc == SL_OK; j++, tab++) {
            const enc_table *t = &e->t[j];
            int64_t first = 0, missing;
            if (sl__column_f64(x, in->arrays[i].data, a->dtype, rows, a->cols, t->col, &first)) {
                rc = inexact_error(s->in, i, in->arrays[i].data, first, t->col, in->row0, err);
                break;
            }
            if (e->mode == M_LABELS) {
                missing = sl__encode_codes(y, x, rows, t->cats, t->k, &first);
                if (missing)
                    rc = unknown_label_error(s, i, in, x, first, missing, err);
                continue;
            }
            missing = sl__encode_codes(codes, x, rows, t->cats, t->k, &first);
            if (missing && !s->ignore) {
                rc = unknown_category_error(s, i, in, t->col, x[first], first, missing, err);
                break;
            }
            if (unknown)
                unknown[tab] += missing;
            sl__onehot_set(y, e->out_t, rows, e->out_cols, t->off, codes, t->drop);
        }
        if (rc == SL_OK && e->mode == M_ONEHOT)
            rc = pass_through(s, i, in, y, err);
    }
    free(x);
    free(codes);
    out->rows = rows;
    return rc;
}

static sl_status apply_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const enc_state *s = ctx;
    for (size_t k = 0; k < s->n_tables; k++)
        ((int64_t *)acc)[k] += ((const int64_t *)partial)[k];
    return SL_OK;
}

/* The tables go with the output: `classes` of a label array; of a one-hot
 * array `categories.<column>` of each encoded input column, the encoded
 * columns in output order (`encoded_columns`) and the category each drops
 * (`dropped`, -1: none). */
static sl_status set_attrs(sl_stage *st, const enc_state *s, sl_error *err)
{
    sl_frame *out = sl_stage_output(st);
    sl_status rc = SL_OK;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        const enc_array *e = &s->a[i];
        const char *name = sl_frame_array(s->in, i)->name;
        if (e->mode == M_LABELS) {
            rc = sl_frame_set_attr(out, name, "classes", e->t[0].cats, (size_t)e->t[0].k, err);
            continue;
        }
        if (e->mode != M_ONEHOT)
            continue;
        double *cols = malloc((size_t)e->n_enc * 2 * sizeof *cols);
        if (!cols)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t j = 0; j < e->n_enc && rc == SL_OK; j++) {
            char key[SL_NAME_MAX];
            snprintf(key, sizeof key, "categories.%lld", (long long)e->t[j].col);
            rc = sl_frame_set_attr(out, name, key, e->t[j].cats, (size_t)e->t[j].k, err);
            cols[j] = (double)e->t[j].col;
            cols[e->n_enc + j] = (double)e->t[j].drop;
        }
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, name, "encoded_columns", cols, (size_t)e->n_enc, err);
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, name, "dropped", cols + e->n_enc, (size_t)e->n_enc, err);
        free(cols);
    }
    return rc;
}

/* What the apply pass met that the fit stage did not see, with unknown:
 * ignore: a result, and scikit-learn's warning when a dropped category makes
 * those rows look like it. */
static sl_status report_unknown(sl_stage *st, const enc_state *s, const int64_t *unknown, sl_error *err)
{
    int64_t total = 0;
    for (size_t k = 0; k < s->n_tables; k++)
        total += unknown[k];
    sl_status rc = sl_stage_set_result(st, "unknown_values", (double)total, err);
    size_t tab = 0;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        const enc_array *e = &s->a[i];
        for (int64_t j = 0; j < e->n_enc; j++, tab++)
            if (unknown[tab] && e->t[j].drop >= 0)
                sl_stage_warn(st,
                              "array '%s' column %lld: %lld value%s that stage '%s' (named by 'fit') did not see "
                              "got all-zero columns, the encoding of its dropped category",
                              sl_frame_array(s->in, i)->name, (long long)e->t[j].col, (long long)unknown[tab],
                              unknown[tab] == 1 ? "" : "s", s->fit->name);
    }
    return rc;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    enc_state *s = sl_stage_state(st);
    sl_status rc = SL_OK;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++)
        if (s->a[i].mode == M_LABELS && s->fit)
            rc = load_tables(st, s, i, err);
    /* a stage that fits one-hot columns fitted its labels too, in its plan's read */
    if (rc == SL_OK && !s->fit && s->n_labels && !s->fitted_at_plan)
        rc = fit_labels(st, ex, s, err);
    if (rc == SL_OK)
        rc = set_attrs(st, s, err);
    if (rc)
        return rc;
    int count = s->fit && s->ignore;
    int64_t *unknown = count ? calloc(s->n_tables + 1, sizeof *unknown) : NULL;
    if (count && !unknown)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_pass pass = {.name = "encode",
                    .input = s->in,
                    .output = sl_stage_output(st),
                    .partial_size = count ? s->n_tables * sizeof *unknown : 0,
                    .ctx = s,
                    .chunk = apply_chunk,
                    .merge = count ? apply_merge : NULL};
    rc = sl_exec_pass(ex, st, &pass, unknown, err);
    if (rc == SL_OK && count && !sl_exec_streaming(ex))
        rc = report_unknown(st, s, unknown, err);
    free(unknown);
    return rc;
}

static const char doc[] =
    "Encodes class labels and categorical columns as scikit-learn's encoders do.\n"
    "\n"
    "**Labels** (`labels: [y]`, arrays of one column): each value becomes its\n"
    "index 0..K-1 among the sorted distinct values, as `LabelEncoder`: labels\n"
    "`-1, 2.5, 7` become `0, 1, 2`. The output array keeps its name and column\n"
    "name and is int64. Its attribute `classes` holds the K values (float64):\n"
    "code j stands for `classes[j]`, for whoever reads the checkpoint or the\n"
    "frame (a multi-class model, a decoder of predictions). The classes are\n"
    "fitted in a pass that collects each chunk's distinct values and merges them\n"
    "in chunk order (in a stage that also fits one-hot columns, in the read of\n"
    "the input its plan makes, below), then the output pass writes the codes.\n"
    "\n"
    "**One-hot** (`onehot: [X]`): each encoded column becomes one 0/1 column per\n"
    "category (its sorted distinct values), as `OneHotEncoder(sparse_output=False)`.\n"
    "`columns: { X: [color, 3] }` encodes only those columns of X (names or 0-based\n"
    "indices, in the order given); the other columns pass through. The output\n"
    "array keeps the input's name and holds, in this order, the encoded columns'\n"
    "categories (column after column, in the order of `columns`), then the\n"
    "pass-through columns in their input order: what\n"
    "`ColumnTransformer([('onehot', OneHotEncoder(...), columns)],\n"
    "remainder='passthrough')` gives. Its type is `dtype` (float64 by default).\n"
    "Pass-through values are converted to it as `convert` converts (to an\n"
    "integer type: truncated toward zero; NaN or a value out of range is an\n"
    "error naming its row and column).\n"
    "\n"
    "- `drop`: `none` (the default), `first` (the first category of each column\n"
    "  gets no column; a column of one category then gets none at all), or\n"
    "  `if_binary` (only columns of exactly two categories lose their first).\n"
    "- Column names are `get_feature_names_out`'s: the input column's name (or\n"
    "  `x<j>` for column j of an array without names), `_`, and the category as\n"
    "  NumPy prints a value of the array's type: `sex_1` for an integer array,\n"
    "  `sex_1.0` and `dose_2.5` for a float array (shortest round-trip digits;\n"
    "  positional from 1e-4 to 1e16, `1e+16` and `1e-05` outside; float32 values\n"
    "  by float32 digits). Pass-through columns keep their names (`x<j>` without).\n"
    "- NaN is a category of its own, the last one (`color_nan`), as in\n"
    "  scikit-learn. -0 and 0 are one category, 0.\n"
    "- Attributes of the output array: `categories.<j>` for each encoded input\n"
    "  column j (its sorted categories, before any drop), `encoded_columns` (the\n"
    "  input columns encoded, in output order) and `dropped` (for each of them,\n"
    "  the index of the category that got no column, or -1).\n"
    "\n"
    "The output's columns depend on the data, so a stage that fits one-hot\n"
    "columns is planned in the run, once its input has been computed (the input\n"
    "is then stored, not streamed): it reads the input a chunk at a time there\n"
    "and finds the categories, and the stages that read it are planned after\n"
    "it. `sluice check` cannot check those stages' parameters before a run. A\n"
    "run that reuses the stage's checkpoint plans it the same way, so it still\n"
    "reads the input's encoded arrays once (without writing anything).\n"
    "\n"
    "Both at once: `labels: [y], onehot: [X]`. Arrays named in neither pass\n"
    "through unchanged; the output has the input's arrays in the input's order.\n"
    "\n"
    "**Fit on train, apply to test.** `fit: S` names another encode stage; this\n"
    "stage encodes its input with `S`'s classes and categories (read from the\n"
    "attributes of `S`'s output) instead of fitting, with `S`'s columns and\n"
    "`drop`, and its output carries the same attributes. It encodes the arrays\n"
    "`S` encoded, or those named in `labels` and `onehot` (each encoded the same\n"
    "way by `S`). A stage that applies one-hot categories is planned in the run,\n"
    "once `S` has been computed, from `S`'s attributes alone (its own input may be\n"
    "streamed). `columns` comes from `S` and may not be given; `drop` may be\n"
    "left out or must be `S`'s. The input's encoded arrays need `S`'s column\n"
    "counts (and names, where both have them). A label that `S` did not see is an\n"
    "error naming the value, its row and `S`'s classes. A one-hot value that `S`\n"
    "did not see is an error naming the value, its column and row with\n"
    "`unknown: error` (the default); with `unknown: ignore` it gets all-zero\n"
    "columns (`handle_unknown='ignore'`), the run's result `unknown_values`\n"
    "counts them, and when a category of that column is dropped the run warns,\n"
    "as scikit-learn does, that such rows look like the dropped category.\n"
    "\n"
    "**Values.** Any numeric type. Integers beyond 2^53 in magnitude are an\n"
    "error (the tables are float64). A label that is NaN is an error naming its\n"
    "row (`LabelEncoder` would make NaN a class). Fitting stops with an error when\n"
    "a label array or an encoded column has more than `max_classes` (1000)\n"
    "distinct values: a guard against encoding a continuous column. Results are\n"
    "the same for any thread count and chunk size (the tables are sets; each\n"
    "row's codes depend on that row).\n"
    "\n"
    "**Errors:** no `labels`, `onehot` or `fit`; an unknown array; a label array\n"
    "of more than one column; an array in both lists; `columns` naming an array\n"
    "not in `onehot`, an unknown column or one twice; `fit` naming a stage that is\n"
    "not an encode stage, or one that encoded other arrays, other column counts or\n"
    "names, or with another `drop` (configuration errors); at run time an input\n"
    "with no rows, a NaN label, too many distinct values, an unknown label or\n"
    "category, a pass-through value that does not fit `dtype`, and an output\n"
    "array left with no columns (`drop: first` on columns of one category).\n";

const sl_op sl__op_encode = {
    .abi = SL_ABI_VERSION,
    .name = "encode",
    .summary = "class labels to 0..K-1 and one-hot columns, fitted here or applied from another encode stage",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .flags = SL_OP_STREAMABLE,
    .run = run,
    .free_state = free_state,
};
