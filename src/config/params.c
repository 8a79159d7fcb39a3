/* Stage parameters: a stage's YAML mapping checked against an op's schema and
 * turned into typed values. Every error points at the offending key or value
 * and says what was expected. */
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"
#include "core/error_int.h"

typedef struct pval {
    int present;
    int line, col; /* of the value; 0 when defaulted */
    int64_t i;     /* INT */
    double d;      /* NUMBER */
    int b;         /* BOOL */
    char *s;       /* STRING, CHOICE, INPUT, PATH (resolved) */
    size_t n;      /* STRING_LIST, NUMBER_LIST, STRING_MAP */
    char **strs;   /* STRING_LIST items; STRING_MAP keys, sorted */
    char **vals;   /* STRING_MAP values, in the order of strs */
    double *nums;  /* NUMBER_LIST items */
} pval;

struct sl_params {
    const sl_op *op;
    pval *v; /* one per op->params entry, in schema order */
};

typedef struct pctx {
    const sl_op *op;
    const sl_param_spec *spec;
    const char *base_dir;
    const char *filename;
    sl_error *err;
} pctx;

/* ---- small helpers ------------------------------------------------------------ */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static int is_null_scalar(const sl__ynode *n)
{
    const char *s = n->text;
    return n->plain && (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"));
}

/* Values shown in messages are cut short and kept on one line. */
static void quote_text(const char *s, char *buf, size_t size)
{
    const size_t max_chars = 60;
    size_t o = 0, i = 0;
    buf[o++] = '\'';
    for (; s[i] && i < max_chars && o + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    }
    if (s[i]) {
        /* Do not leave half of a UTF-8 sequence before the ellipsis. */
        while (o > 1 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
            o--;
        if (o > 1 && ((unsigned char)buf[o - 1] & 0xC0) == 0xC0)
            o--;
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
}

/* "'abc'", "the quoted string '5'", "a list", "an empty value". */
static void describe_found(const sl__ynode *n, char *buf, size_t size)
{
    if (!n || n->kind != SL_Y_SCALAR || is_null_scalar(n)) {
        snprintf(buf, size, "%s", sl__ynode_kind_name(n));
        return;
    }
    char q[96];
    quote_text(n->text, q, sizeof q);
    snprintf(buf, size, "%s%s", n->plain ? "" : "the quoted string ", q);
}

/* The decimal point of the C library's current locale is not necessarily '.',
 * and a library must not call setlocale; these convert around it. */
static const char *locale_point(void)
{
    const struct lconv *lc = localeconv();
    return lc && lc->decimal_point && lc->decimal_point[0] ? lc->decimal_point : ".";
}

/* Returns 0, or -1 when the magnitude overflows a double, -2 without memory. */
static int parse_double(const char *s, double *out)
{
    const char *dp = locale_point();
    char *copy = NULL;
    if (strcmp(dp, ".") != 0) {
        size_t ldp = strlen(dp), n = strlen(s);
        copy = malloc(n * ldp + 1);
        if (!copy)
            return -2;
        size_t o = 0;
        for (const char *p = s; *p; p++) {
            if (*p == '.') {
                memcpy(copy + o, dp, ldp);
                o += ldp;
            } else {
                copy[o++] = *p;
            }
        }
        copy[o] = '\0';
    }
    errno = 0;
    double v = strtod(copy ? copy : s, NULL);
    int range = errno == ERANGE;
    free(copy);
    *out = v;
    return range && fabs(v) > 1.0 ? -1 : 0;
}

static void format_double(double v, int precision, char *buf, size_t size)
{
    snprintf(buf, size, "%.*g", precision, v);
    const char *dp = locale_point();
    char *at;
    if (strcmp(dp, ".") != 0 && (at = strstr(buf, dp)) != NULL) {
        size_t ldp = strlen(dp);
        *at = '.';
        memmove(at + 1, at + ldp, strlen(at + ldp) + 1);
    }
}

/* Shortest text that reads back as v, for messages ("0.1", not "0.10000000000000001"). */
static void format_short(double v, char *buf, size_t size)
{
    for (int prec = 15; prec < 17; prec++) {
        double back;
        format_double(v, prec, buf, size);
        if (parse_double(buf, &back) == 0 && back == v)
            return;
    }
    format_double(v, 17, buf, size);
}

static size_t skip_digits(const char **p)
{
    size_t n = 0;
    while (**p >= '0' && **p <= '9') {
        (*p)++;
        n++;
    }
    return n;
}

/* [-+]?[0-9]+ */
static int is_int_text(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    return skip_digits(&s) > 0 && *s == '\0';
}

/* YAML 1.2 core float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float_text(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (*s == '.') {
        s++;
        if (skip_digits(&s) == 0)
            return 0;
    } else {
        if (skip_digits(&s) == 0)
            return 0;
        if (*s == '.') {
            s++;
            skip_digits(&s);
        }
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (skip_digits(&s) == 0)
            return 0;
    }
    return *s == '\0';
}

/* .inf, -.Inf, +.INF, .nan, .NaN, .NAN as YAML spells them. */
static int special_float(const char *s, double *v)
{
    double sign = 1.0;
    const char *t = s;
    if (*t == '-' || *t == '+')
        sign = *t++ == '-' ? -1.0 : 1.0;
    if (!strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF")) {
        *v = sign * HUGE_VAL;
        return 1;
    }
    if (t == s && (!strcmp(t, ".nan") || !strcmp(t, ".NaN") || !strcmp(t, ".NAN"))) {
        *v = NAN;
        return 1;
    }
    return 0;
}

/* ---- errors --------------------------------------------------------------------- */

static sl_status fail_at(const pctx *c, const sl__ynode *n, const char *fmt, ...) SL_PRINTF(3, 4);
static sl_status fail_at(const pctx *c, const sl__ynode *n, const char *fmt, ...)
{
    sl__error_at(c->err, SL_ERR_CONFIG, c->filename, n ? n->line : 0, n ? n->col : 0, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    sl__error_vset(c->err, SL_ERR_CONFIG, fmt, ap);
    va_end(ap);
    return SL_ERR_CONFIG;
}

static sl_status fail_nomem(const pctx *c)
{
    return sl__error_at(c->err, SL_ERR_NOMEM, c->filename, 0, 0, "out of memory while reading parameters");
}

/* "a, b, c" from "a|b|c". */
static void choices_text(const char *choices, char *buf, size_t size)
{
    size_t o = 0;
    for (const char *p = choices ? choices : ""; *p && o + 3 < size; p++) {
        if (*p == '|') {
            buf[o++] = ',';
            buf[o++] = ' ';
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
}

/* What a value of the parameter (or one item of it) looks like. */
static void expect_text(const sl_param_spec *s, int item, char *buf, size_t size)
{
    switch (s->type) {
    case SL_PARAM_INT: snprintf(buf, size, "an integer"); return;
    case SL_PARAM_NUMBER: snprintf(buf, size, "a number"); return;
    case SL_PARAM_BOOL: snprintf(buf, size, "true or false"); return;
    case SL_PARAM_STRING: snprintf(buf, size, "a string"); return;
    case SL_PARAM_INPUT: snprintf(buf, size, "a stage name"); return;
    case SL_PARAM_PATH: snprintf(buf, size, "a file path"); return;
    case SL_PARAM_CHOICE: {
        char list[512];
        choices_text(s->choices, list, sizeof list);
        snprintf(buf, size, "one of %s", list);
        return;
    }
    case SL_PARAM_STRING_LIST: snprintf(buf, size, item ? "a string" : "a string or a list of strings"); return;
    case SL_PARAM_NUMBER_LIST: snprintf(buf, size, item ? "a number" : "a number or a list of numbers"); return;
    case SL_PARAM_STRING_MAP: snprintf(buf, size, item ? "a string" : "a mapping of names to strings"); return;
    }
    snprintf(buf, size, "a value");
}

/* `where` is "" for the value itself, or " (item 2 of the list)" etc. */
static sl_status fail_type(const pctx *c, const sl__ynode *n, const char *where)
{
    char want[600], found[160];
    expect_text(c->spec, where[0] != '\0', want, sizeof want);
    describe_found(n, found, sizeof found);
    return fail_at(c, n, "parameter '%s' expects %s, found %s%s", c->spec->name, want, found, where);
}

static sl_status check_bounds(const pctx *c, const sl__ynode *n, double v, const char *where)
{
    const sl_param_spec *s = c->spec;
    if (!(s->min < s->max) || (v >= s->min && v <= s->max))
        return SL_OK;
    char lo[40], hi[40], found[96];
    format_short(s->min, lo, sizeof lo);
    format_short(s->max, hi, sizeof hi);
    quote_text(n->text, found, sizeof found);
    return fail_at(c, n, "parameter '%s' must be between %s and %s, found %s%s", s->name, lo, hi, found, where);
}

/* Rejects lists, maps and empty values where one scalar is needed. */
static sl_status need_scalar(const pctx *c, const sl__ynode *n, const char *where)
{
    if (n->kind != SL_Y_SCALAR || is_null_scalar(n))
        return fail_type(c, n, where);
    return SL_OK;
}

/* A quoted "5" given for a number: say that the quotes are the problem. */
static sl_status fail_quoted(const pctx *c, const sl__ynode *n, const char *where, int would_parse)
{
    sl_status st = fail_type(c, n, where);
    if (would_parse)
        sl__error_append(c->err, "; remove the quotes");
    return st;
}

/* ---- scalar conversions ----------------------------------------------------------- */

static sl_status to_int(const pctx *c, const sl__ynode *n, const char *where, int64_t *out)
{
    sl_status st = need_scalar(c, n, where);
    if (st != SL_OK)
        return st;
    if (!n->plain || !is_int_text(n->text))
        return n->plain ? fail_type(c, n, where) : fail_quoted(c, n, where, is_int_text(n->text));
    errno = 0;
    long long v = strtoll(n->text, NULL, 10);
    if (errno == ERANGE) {
        char found[96];
        quote_text(n->text, found, sizeof found);
        return fail_at(c, n, "parameter '%s' expects an integer that fits in 64 bits, found %s%s", c->spec->name,
                       found, where);
    }
    if ((st = check_bounds(c, n, (double)v, where)) != SL_OK)
        return st;
    *out = (int64_t)v;
    return SL_OK;
}

static sl_status to_number(const pctx *c, const sl__ynode *n, const char *where, double *out)
{
    sl_status st = need_scalar(c, n, where);
    if (st != SL_OK)
        return st;
    double v;
    int numeric = is_float_text(n->text) || special_float(n->text, &v);
    if (!n->plain || !numeric)
        return n->plain ? fail_type(c, n, where) : fail_quoted(c, n, where, numeric);
    if (!special_float(n->text, &v)) {
        int r = parse_double(n->text, &v);
        if (r == -2)
            return fail_nomem(c);
        if (r == -1) {
            char found[96];
            quote_text(n->text, found, sizeof found);
            return fail_at(c, n, "parameter '%s' expects a number within the range of a double, found %s%s",
                           c->spec->name, found, where);
        }
    }
    /* NaN fails every comparison, so check_bounds rejects it when bounded. */
    if ((st = check_bounds(c, n, v, where)) != SL_OK)
        return st;
    *out = v;
    return SL_OK;
}

static int bool_text(const char *s, int *v)
{
    static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < 3; i++) {
        if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
            *v = !strcmp(s, yes[i]);
            return 1;
        }
    }
    return 0;
}

static sl_status to_bool(const pctx *c, const sl__ynode *n, const char *where, int *out)
{
    sl_status st = need_scalar(c, n, where);
    if (st != SL_OK)
        return st;
    int v = 0, valid = bool_text(n->text, &v);
    if (n->plain && valid) {
        *out = v;
        return SL_OK;
    }
    if (!n->plain && valid)
        return fail_quoted(c, n, where, 1);
    fail_type(c, n, where);
    sl__error_append(c->err, " (accepted: true, false, True, False, TRUE, FALSE)");
    return SL_ERR_CONFIG;
}

static int in_choices(const char *choices, const char *s)
{
    size_t ls = strlen(s);
    for (const char *p = choices; p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == ls && strncmp(p, s, len) == 0)
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static sl_status fail_choice(const pctx *c, const sl__ynode *n)
{
    char *copy = xstrdup(c->spec->choices);
    const char *cand[64];
    size_t nc = 0;
    if (copy)
        for (char *p = copy; p && nc < 64;) {
            cand[nc++] = p;
            char *bar = strchr(p, '|');
            if (bar)
                *bar++ = '\0';
            p = bar;
        }
    const char *hint = sl__suggest(n->text, cand, nc);
    fail_type(c, n, "");
    if (hint)
        sl__error_append(c->err, "; did you mean '%s'?", hint);
    free(copy);
    return SL_ERR_CONFIG;
}

static sl_status join_path(const pctx *c, const char *s, char **out)
{
    const char *base = c->base_dir;
    if (s[0] == '/' || !base || !base[0]) {
        *out = xstrdup(s);
    } else {
        size_t lb = strlen(base), ls = strlen(s);
        int slash = base[lb - 1] != '/';
        *out = malloc(lb + (size_t)slash + ls + 1);
        if (*out) {
            memcpy(*out, base, lb);
            if (slash)
                (*out)[lb] = '/';
            memcpy(*out + lb + slash, s, ls + 1);
        }
    }
    return *out ? SL_OK : fail_nomem(c);
}

/* STRING, CHOICE, INPUT and PATH. */
static sl_status to_text(const pctx *c, const sl__ynode *n, char **out)
{
    sl_status st = need_scalar(c, n, "");
    if (st != SL_OK)
        return st;
    sl_param_type t = c->spec->type;
    if ((t == SL_PARAM_INPUT || t == SL_PARAM_PATH) && !n->text[0])
        return fail_at(c, n, "parameter '%s' expects %s, found an empty string", c->spec->name,
                       t == SL_PARAM_PATH ? "a file path" : "a stage name");
    if (t == SL_PARAM_CHOICE && c->spec->choices && !in_choices(c->spec->choices, n->text))
        return fail_choice(c, n);
    if (t == SL_PARAM_PATH)
        return join_path(c, n->text, out);
    *out = xstrdup(n->text);
    return *out ? SL_OK : fail_nomem(c);
}

/* ---- lists and maps ------------------------------------------------------------------ */

/* A single scalar stands for a list of one. */
static void list_items(const sl__ynode *n, const sl__ynode *const **items, size_t *count)
{
    if (n->kind == SL_Y_SEQ) {
        *items = n->vals;
        *count = n->n;
    } else {
        *items = NULL;
        *count = 1;
    }
}

static sl_status check_list_node(const pctx *c, const sl__ynode *n)
{
    if (n->kind == SL_Y_MAP || (n->kind == SL_Y_SCALAR && is_null_scalar(n)))
        return fail_type(c, n, "");
    return SL_OK;
}

static sl_status to_string_list(const pctx *c, const sl__ynode *n, pval *v)
{
    const sl__ynode *const *items;
    size_t count;
    sl_status st = check_list_node(c, n);
    if (st != SL_OK)
        return st;
    list_items(n, &items, &count);
    if (count && !(v->strs = calloc(count, sizeof *v->strs)))
        return fail_nomem(c);
    for (size_t i = 0; i < count; i++) {
        const sl__ynode *it = items ? items[i] : n;
        char where[48] = "";
        if (items)
            snprintf(where, sizeof where, " (item %zu of the list)", i + 1);
        if ((st = need_scalar(c, it, where)) != SL_OK)
            return st;
        if (!(v->strs[i] = xstrdup(it->text)))
            return fail_nomem(c);
        v->n = i + 1;
    }
    return SL_OK;
}

static sl_status to_number_list(const pctx *c, const sl__ynode *n, pval *v)
{
    const sl__ynode *const *items;
    size_t count;
    sl_status st = check_list_node(c, n);
    if (st != SL_OK)
        return st;
    list_items(n, &items, &count);
    if (count && !(v->nums = calloc(count, sizeof *v->nums)))
        return fail_nomem(c);
    for (size_t i = 0; i < count; i++) {
        char where[48] = "";
        if (items)
            snprintf(where, sizeof where, " (item %zu of the list)", i + 1);
        if ((st = to_number(c, items ? items[i] : n, where, &v->nums[i])) != SL_OK)
            return st;
    }
    v->n = count;
    return SL_OK;
}

typedef struct kv {
    const char *k, *v;
} kv;

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv *)a)->k, ((const kv *)b)->k);
}

/* Keys are kept sorted: everything an op can read then depends only on the
 * canonical text, which the cache key hashes. */
/* A map value given as a list of names, [a, b]: the names joined with ','
 * (the form an op reads them in, as it would "a,b"), so a name may not
 * hold a ','. NULL after an error or out of memory. */
static char *joined_list(const pctx *c, const sl__ynode *n, const char *where)
{
    size_t len = 1;
    for (size_t k = 0; k < n->n; k++) {
        if (need_scalar(c, n->vals[k], where) != SL_OK)
            return NULL;
        if (strchr(n->vals[k]->text, ',')) {
            fail_at(c, n->vals[k], "parameter '%s': the list item '%s'%s holds a ',', which separates names; "
                    "name it another way (a column by its index)", c->spec->name, n->vals[k]->text, where);
            return NULL;
        }
        len += strlen(n->vals[k]->text) + 1;
    }
    if (n->n == 0) {
        fail_at(c, n, "parameter '%s': an empty list%s names nothing", c->spec->name, where);
        return NULL;
    }
    char *s = malloc(len);
    if (!s) {
        fail_nomem(c);
        return NULL;
    }
    s[0] = '\0';
    for (size_t k = 0; k < n->n; k++) {
        if (k)
            strcat(s, ",");
        strcat(s, n->vals[k]->text);
    }
    return s;
}

static sl_status to_string_map(const pctx *c, const sl__ynode *n, pval *v)
{
    if (n->kind != SL_Y_MAP)
        return fail_type(c, n, "");
    char **lists = calloc(n->n ? n->n : 1, sizeof *lists);
    if (!lists)
        return fail_nomem(c);
    sl_status st = SL_OK;
    for (size_t i = 0; i < n->n && st == SL_OK; i++) {
        char where[160], key[96];
        quote_text(n->keys[i]->text, key, sizeof key);
        snprintf(where, sizeof where, " (value of key %s)", key);
        if (n->vals[i]->kind == SL_Y_SEQ)
            st = (lists[i] = joined_list(c, n->vals[i], where)) ? SL_OK : c->err ? c->err->code : SL_ERR_CONFIG;
        else
            st = need_scalar(c, n->vals[i], where);
    }
    if (st != SL_OK) {
        for (size_t i = 0; i < n->n; i++)
            free(lists[i]);
        free(lists);
        return st;
    }
    if (n->n == 0) {
        free(lists);
        return SL_OK;
    }
    kv *pairs = malloc(n->n * sizeof *pairs);
    v->strs = calloc(n->n, sizeof *v->strs);
    v->vals = calloc(n->n, sizeof *v->vals);
    for (size_t i = 0; pairs && i < n->n; i++)
        pairs[i] = (kv){n->keys[i]->text, lists[i] ? lists[i] : n->vals[i]->text};
    if (pairs)
        qsort(pairs, n->n, sizeof *pairs, kv_cmp);
    for (size_t i = 0; pairs && v->strs && v->vals && i < n->n && st == SL_OK; i++) {
        v->strs[i] = xstrdup(pairs[i].k);
        v->vals[i] = xstrdup(pairs[i].v);
        v->n = i + 1;
        if (!v->strs[i] || !v->vals[i])
            st = SL_ERR_NOMEM;
    }
    if (!pairs || !v->strs || !v->vals)
        st = SL_ERR_NOMEM;
    free(pairs);
    for (size_t i = 0; i < n->n; i++)
        free(lists[i]);
    free(lists);
    return st == SL_ERR_NOMEM ? fail_nomem(c) : st;
}

static sl_status convert(const pctx *c, const sl__ynode *n, pval *v)
{
    switch (c->spec->type) {
    case SL_PARAM_INT: return to_int(c, n, "", &v->i);
    case SL_PARAM_NUMBER: return to_number(c, n, "", &v->d);
    case SL_PARAM_BOOL: return to_bool(c, n, "", &v->b);
    case SL_PARAM_STRING:
    case SL_PARAM_CHOICE:
    case SL_PARAM_INPUT:
    case SL_PARAM_PATH: return to_text(c, n, &v->s);
    case SL_PARAM_STRING_LIST: return to_string_list(c, n, v);
    case SL_PARAM_NUMBER_LIST: return to_number_list(c, n, v);
    case SL_PARAM_STRING_MAP: return to_string_map(c, n, v);
    }
    return sl__error_set(c->err, SL_ERR_INTERNAL, "parameter '%s' has an unknown type %d", c->spec->name,
                         (int)c->spec->type);
}

/* ---- building --------------------------------------------------------------------------- */

static void pval_clear(pval *v)
{
    free(v->s);
    for (size_t i = 0; i < v->n; i++) {
        if (v->strs)
            free(v->strs[i]);
        if (v->vals)
            free(v->vals[i]);
    }
    free(v->strs);
    free(v->vals);
    free(v->nums);
    memset(v, 0, sizeof *v);
}

void sl__params_free(sl_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->v && i < p->op->n_params; i++)
        pval_clear(&p->v[i]);
    free(p->v);
    free(p);
}

static int find_spec(const sl_op *op, const char *name, size_t *idx)
{
    for (size_t i = 0; i < op->n_params; i++) {
        if (op->params[i].name && strcmp(op->params[i].name, name) == 0) {
            *idx = i;
            return 1;
        }
    }
    return 0;
}

static int is_reserved(const char *const *reserved, const char *name)
{
    for (; reserved && *reserved; reserved++)
        if (strcmp(*reserved, name) == 0)
            return 1;
    return 0;
}

static sl_status fail_unknown(const pctx *c, const sl__ynode *key, const char *const *reserved)
{
    const sl_op *op = c->op;
    size_t nres = 0;
    while (reserved && reserved[nres])
        nres++;
    const char **cand = malloc((op->n_params + nres + 1) * sizeof *cand);
    if (!cand)
        return fail_nomem(c);
    for (size_t i = 0; i < op->n_params; i++)
        cand[i] = op->params[i].name;
    for (size_t i = 0; i < nres; i++)
        cand[op->n_params + i] = reserved[i];
    const char *hint = sl__suggest(key->text, cand, op->n_params + nres);
    free(cand);
    char name[96];
    quote_text(key->text, name, sizeof name);
    fail_at(c, key, "unknown parameter %s for op '%s'", name, op->name);
    if (hint)
        sl__error_append(c->err, "; did you mean '%s'?", hint);
    if (op->n_params == 0) {
        sl__error_append(c->err, " (op '%s' takes no parameters)", op->name);
        return SL_ERR_CONFIG;
    }
    for (size_t i = 0; i < op->n_params; i++)
        sl__error_append(c->err, "%s%s", i ? ", " : " (parameters: ", op->params[i].name);
    sl__error_append(c->err, ")");
    return SL_ERR_CONFIG;
}

static sl_status read_given(pctx *c, sl_params *p, const sl__ynode *stage, const char *const *reserved)
{
    for (size_t i = 0; i < stage->n; i++) {
        const sl__ynode *key = stage->keys[i], *val = stage->vals[i];
        size_t idx;
        if (is_reserved(reserved, key->text))
            continue;
        if (!find_spec(c->op, key->text, &idx))
            return fail_unknown(c, key, reserved);
        pval *v = &p->v[idx];
        c->spec = &c->op->params[idx];
        if (v->present)
            return fail_at(c, key, "parameter '%s' is given twice", c->spec->name);
        sl_status st = convert(c, val, v);
        if (st != SL_OK)
            return st;
        v->present = 1;
        v->line = val->line;
        v->col = val->col;
    }
    return SL_OK;
}

/* A bad default is a bug in the op's table, not in the user's file. */
static sl_status read_default(const pctx *c, pval *v)
{
    const sl_param_spec *s = c->spec;
    sl_error inner;
    sl_error_clear(&inner);
    pctx dc = *c;
    dc.err = &inner;
    dc.filename = "";
    sl__ydoc *doc;
    const sl__ynode *root;
    sl_status st = sl__ydoc_parse(s->default_text, strlen(s->default_text), "", &doc, &root, &inner);
    if (st == SL_OK) {
        st = convert(&dc, root, v);
        sl__ydoc_free(doc);
    }
    if (st == SL_ERR_NOMEM)
        return fail_nomem(c);
    if (st != SL_OK)
        return sl__error_at(c->err, SL_ERR_INTERNAL, "", 0, 0,
                            "op '%s' has an invalid default for parameter '%s' ('%s'): %s", c->op->name,
                            s->name, s->default_text, inner.message);
    v->present = 1;
    return SL_OK;
}

sl_status sl__param_default_check(const sl_op *op, size_t i, sl_error *err)
{
    const sl_param_spec *s = &op->params[i];
    if (!s->default_text)
        return SL_OK;
    pctx c = {.op = op, .spec = s, .base_dir = ".", .filename = "", .err = err};
    pval v;
    memset(&v, 0, sizeof v);
    sl_status st = read_default(&c, &v);
    pval_clear(&v);
    if (st == SL_ERR_INTERNAL) /* the caller's table, not sluice's: a usage error */
        st = err ? (err->code = SL_ERR_USAGE) : SL_ERR_USAGE;
    return st;
}

static sl_status fail_missing(const pctx *c, const sl__ynode *stage)
{
    const sl_param_spec *s = c->spec;
    char type[600];
    if (s->type == SL_PARAM_CHOICE)
        expect_text(s, 0, type, sizeof type);
    else
        snprintf(type, sizeof type, "%s", sl_param_type_name(s->type));
    if (s->doc && s->doc[0])
        return fail_at(c, stage, "stage is missing required parameter '%s' of op '%s' (%s: %s)", s->name,
                       c->op->name, type, s->doc);
    return fail_at(c, stage, "stage is missing required parameter '%s' of op '%s' (%s)", s->name, c->op->name,
                   type);
}

static sl_status fill_missing(pctx *c, sl_params *p, const sl__ynode *stage)
{
    for (size_t i = 0; i < c->op->n_params; i++) {
        pval *v = &p->v[i];
        c->spec = &c->op->params[i];
        if (v->present)
            continue;
        sl_status st = SL_OK;
        if (c->spec->required)
            st = fail_missing(c, stage);
        else if (c->spec->default_text)
            st = read_default(c, v);
        if (st != SL_OK)
            return st;
    }
    return SL_OK;
}

sl_status sl__params_build(const sl_op *op, const sl__ynode *stage, const char *const *reserved,
                           const char *base_dir, const char *filename, sl_params **out, sl_error *err)
{
    *out = NULL;
    pctx c = {op, NULL, base_dir, filename ? filename : "", err};
    if (stage && stage->kind != SL_Y_MAP)
        return fail_at(&c, stage, "a stage must be a mapping of parameters, found %s",
                       sl__ynode_kind_name(stage));
    sl_params *p = calloc(1, sizeof *p);
    if (!p)
        return fail_nomem(&c);
    p->op = op;
    if (op->n_params && !(p->v = calloc(op->n_params, sizeof *p->v))) {
        free(p);
        return fail_nomem(&c);
    }
    sl_status st = stage ? read_given(&c, p, stage, reserved) : SL_OK;
    if (st == SL_OK)
        st = fill_missing(&c, p, stage);
    if (st != SL_OK) {
        sl__params_free(p);
        return st;
    }
    *out = p;
    return SL_OK;
}

sl_status sl__param_value(const sl_op *op, const sl__ynode *key, const sl__ynode *value, const char *const *reserved,
                          const char *base_dir, const char *filename, char *text, size_t size, double *number,
                          int *numeric, sl_error *err)
{
    pctx c = {op, NULL, base_dir, filename ? filename : "", err};
    size_t idx;
    if (!find_spec(op, key->text, &idx))
        return fail_unknown(&c, key, reserved);
    c.spec = &op->params[idx];
    pval v;
    memset(&v, 0, sizeof v);
    sl_status st = convert(&c, value, &v);
    *numeric = st == SL_OK && (c.spec->type == SL_PARAM_INT || c.spec->type == SL_PARAM_NUMBER);
    *number = c.spec->type == SL_PARAM_INT ? (double)v.i : c.spec->type == SL_PARAM_NUMBER ? v.d : 0.0;
    if (st == SL_OK) {
        /* the value as the canonical text reads it, so that 0.1 and 1e-1 are
         * one value; text (paths as written, not as resolved) otherwise */
        if (c.spec->type == SL_PARAM_INT)
            snprintf(text, size, "%" PRId64, v.i);
        else if (c.spec->type == SL_PARAM_NUMBER)
            format_short(v.d, text, size);
        else if (c.spec->type == SL_PARAM_BOOL)
            snprintf(text, size, "%s", v.b ? "true" : "false");
        else
            snprintf(text, size, "%s", value->kind == SL_Y_SCALAR ? value->text : "");
    }
    pval_clear(&v);
    return st;
}

/* ---- reading ------------------------------------------------------------------------------ */

static const pval *lookup(const sl_params *p, const char *name, sl_param_type *type)
{
    size_t idx;
    if (!p || !name || !find_spec(p->op, name, &idx) || !p->v[idx].present)
        return NULL;
    *type = p->op->params[idx].type;
    return &p->v[idx];
}

void sl__params_pos(const sl_params *p, const char *name, int *line, int *col)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    if (line)
        *line = v ? v->line : 0;
    if (col)
        *col = v ? v->col : 0;
}

int sl_params_has(const sl_params *p, const char *name)
{
    sl_param_type t;
    return lookup(p, name, &t) != NULL;
}

int64_t sl_params_int(const sl_params *p, const char *name)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    if (!v)
        return 0;
    if (t == SL_PARAM_INT)
        return v->i;
    if (t == SL_PARAM_BOOL)
        return v->b;
    /* 2^63 is exact as a double; NaN fails both comparisons. */
    if (t == SL_PARAM_NUMBER && v->d >= -9223372036854775808.0 && v->d < 9223372036854775808.0)
        return (int64_t)v->d;
    return 0;
}

double sl_params_number(const sl_params *p, const char *name)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    if (!v)
        return 0.0;
    if (t == SL_PARAM_NUMBER)
        return v->d;
    if (t == SL_PARAM_INT)
        return (double)v->i;
    return 0.0;
}

int sl_params_bool(const sl_params *p, const char *name)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    return v && t == SL_PARAM_BOOL ? v->b : 0;
}

const char *sl_params_string(const sl_params *p, const char *name)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    return v ? v->s : NULL;
}

size_t sl_params_len(const sl_params *p, const char *name)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    return v ? v->n : 0;
}

const char *sl_params_list_string(const sl_params *p, const char *name, size_t i)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    return v && t == SL_PARAM_STRING_LIST && i < v->n ? v->strs[i] : NULL;
}

double sl_params_list_number(const sl_params *p, const char *name, size_t i)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    return v && t == SL_PARAM_NUMBER_LIST && i < v->n ? v->nums[i] : 0.0;
}

const char *sl_params_map_key(const sl_params *p, const char *name, size_t i)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    return v && t == SL_PARAM_STRING_MAP && i < v->n ? v->strs[i] : NULL;
}

const char *sl_params_map_value(const sl_params *p, const char *name, size_t i)
{
    sl_param_type t;
    const pval *v = lookup(p, name, &t);
    return v && t == SL_PARAM_STRING_MAP && i < v->n ? v->vals[i] : NULL;
}

const char *sl_param_type_name(sl_param_type t)
{
    switch (t) {
    case SL_PARAM_INT: return "integer";
    case SL_PARAM_NUMBER: return "number";
    case SL_PARAM_BOOL: return "boolean";
    case SL_PARAM_STRING: return "string";
    case SL_PARAM_CHOICE: return "choice";
    case SL_PARAM_INPUT: return "stage name";
    case SL_PARAM_PATH: return "file path";
    case SL_PARAM_STRING_LIST: return "list of strings";
    case SL_PARAM_NUMBER_LIST: return "list of numbers";
    case SL_PARAM_STRING_MAP: return "map of strings";
    }
    return "unknown";
}

/* ---- canonical text ------------------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void json_string(sbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        switch (c) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\b': sb_puts(b, "\\b"); break;
        case '\f': sb_puts(b, "\\f"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '\t': sb_puts(b, "\\t"); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                sb_puts(b, esc);
            } else {
                sb_put(b, (const char *)s, 1);
            }
        }
    }
    sb_puts(b, "\"");
}

/* JSON has no infinities or NaN: they become strings. */
static void json_number(sbuf *b, double d)
{
    char buf[40];
    if (isnan(d))
        sb_puts(b, "\"nan\"");
    else if (isinf(d))
        sb_puts(b, d > 0 ? "\"inf\"" : "\"-inf\"");
    else {
        format_double(d, 17, buf, sizeof buf);
        sb_puts(b, buf);
    }
}

static void json_value(sbuf *b, sl_param_type t, const pval *v)
{
    char buf[32];
    switch (t) {
    case SL_PARAM_INT:
        snprintf(buf, sizeof buf, "%" PRId64, v->i);
        sb_puts(b, buf);
        return;
    case SL_PARAM_NUMBER: json_number(b, v->d); return;
    case SL_PARAM_BOOL: sb_puts(b, v->b ? "true" : "false"); return;
    case SL_PARAM_STRING:
    case SL_PARAM_CHOICE:
    case SL_PARAM_INPUT:
    case SL_PARAM_PATH: json_string(b, v->s); return;
    case SL_PARAM_STRING_LIST:
    case SL_PARAM_NUMBER_LIST:
        sb_puts(b, "[");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                sb_puts(b, ",");
            if (t == SL_PARAM_STRING_LIST)
                json_string(b, v->strs[i]);
            else
                json_number(b, v->nums[i]);
        }
        sb_puts(b, "]");
        return;
    case SL_PARAM_STRING_MAP:
        sb_puts(b, "{");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                sb_puts(b, ",");
            json_string(b, v->strs[i]);
            sb_puts(b, ":");
            json_string(b, v->vals[i]);
        }
        sb_puts(b, "}");
        return;
    }
    sb_puts(b, "null");
}

char *sl__params_canonical(const sl_params *p)
{
    sbuf b = {0};
    sb_puts(&b, "{");
    int first = 1;
    for (size_t i = 0; p && i < p->op->n_params; i++) {
        if (!p->v[i].present)
            continue;
        if (!first)
            sb_puts(&b, ",");
        first = 0;
        json_string(&b, p->op->params[i].name);
        sb_puts(&b, ":");
        json_value(&b, p->op->params[i].type, &p->v[i]);
    }
    sb_puts(&b, "}");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
