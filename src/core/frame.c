#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/hash.h"
#include "sluice/op.h"
#include "io/h5util.h"
#include "kernels/cast.h"

typedef struct frame_attr {
    char key[SL_NAME_MAX];
    size_t n;
    double *values;
} frame_attr;

typedef struct attr_list {
    size_t n;
    frame_attr *items;
} attr_list;

struct sl_frame {
    int64_t rows;
    size_t n, cap;
    sl_array_info *arrays;
    attr_list *attrs; /* per array */
    char ***columns;  /* per array: cols names, or NULL */
    struct sl_pass *gen; /* streamed frames: what computes their chunks */
    int gen_partial;     /* gen's read() leaves the arrays without a buffer alone */
    int gen_row_local;   /* gen's chunk() may run on any run of a chunk's rows (sl__frame_set_row_local) */
    int gen_widens;      /* gen only widens float32 to float64, value for value (sl__frame_set_widening) */
    int gen_any_float;   /* gen's chunk() takes float32 input as the float64 it widens to (sl__frame_set_any_float) */
    void **mem;
    unsigned char *borrowed; /* per array: mem[i] is the caller's (sl_frame_borrow_data), not ours to free */
    unsigned char *f32_exact; /* per array: every value a float32's (sl__frame_set_f32_exact) */
    char *version;           /* the caller's name for the data's content (sl_frame_set_version) */
    char *path;
    char *old_path; /* the path before sl__frame_move_path_locked: callers may still hold it */
    char **dsets; /* per array: its dataset in path when not named as the array; NULL: all are */
    struct sl__ckpt_writer *writer;
    int64_t *layout;   /* rows per chunk (sl__frame_set_layout), or NULL */
    int64_t *layout_end; /* row after each chunk */
    int64_t nlayout;
    /* Names -> index, open addressing with linear probing: a slot holds
     * index + 1, 0 when empty; nslots is 0 or a power of two at least twice
     * n. Ops add arrays by the thousand (describe of describe), and a linear
     * name check made planning such a frame quadratic. */
    uint32_t *slots;
    size_t nslots;
};

static void index_put(uint32_t *slots, size_t nslots, const char *name, size_t i)
{
    size_t mask = nslots - 1, h = sl__name_hash(name) & mask;
    while (slots[h])
        h = (h + 1) & mask;
    slots[h] = (uint32_t)(i + 1);
}

/* Makes room in the index for one more name; 0 or -1 (out of memory, the
 * frame unchanged). */
static int index_reserve(sl_frame *f)
{
    if ((f->n + 1) * 2 <= f->nslots)
        return 0;
    size_t nslots = f->nslots ? 2 * f->nslots : 16;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < f->n; i++)
        index_put(slots, nslots, f->arrays[i].name, i);
    free(f->slots);
    f->slots = slots;
    f->nslots = nslots;
    return 0;
}

sl_frame *sl_frame_new(void)
{
    sl_frame *f = calloc(1, sizeof *f);
    if (f)
        f->rows = -1;
    return f;
}

static void clear_attrs(attr_list *l)
{
    for (size_t k = 0; k < l->n; k++)
        free(l->items[k].values);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void sl__frame_drop_data(sl_frame *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->borrowed[i])
            free(f->mem[i]);
        f->mem[i] = NULL;
        f->borrowed[i] = 0;
        clear_attrs(&f->attrs[i]);
    }
    free(f->path);
    free(f->old_path);
    f->path = f->old_path = NULL;
    for (size_t i = 0; f->dsets && i < f->n; i++)
        free(f->dsets[i]);
    free(f->dsets);
    f->dsets = NULL;
    free(f->gen);
    f->gen = NULL;
    f->gen_partial = 0;
    f->gen_row_local = 0;
    f->gen_widens = 0;
    f->gen_any_float = 0;
    free(f->layout);
    free(f->layout_end);
    f->layout = f->layout_end = NULL;
    f->nlayout = 0;
}

static void free_columns(char **names, int64_t cols)
{
    if (!names)
        return;
    for (int64_t c = 0; c < cols; c++)
        free(names[c]);
    free(names);
}

void sl_frame_free(sl_frame *f)
{
    if (!f)
        return;
    sl__frame_drop_data(f);
    for (size_t i = 0; i < f->n; i++)
        free_columns(f->columns[i], f->arrays[i].cols);
    free(f->columns);
    free(f->mem);
    free(f->borrowed);
    free(f->f32_exact);
    free(f->version);
    free(f->attrs);
    free(f->arrays);
    free(f->slots);
    free(f);
}

int64_t sl_frame_rows(const sl_frame *f)
{
    return f ? f->rows : -1;
}

size_t sl_frame_count(const sl_frame *f)
{
    return f ? f->n : 0;
}

const sl_array_info *sl_frame_array(const sl_frame *f, size_t i)
{
    return f && i < f->n ? &f->arrays[i] : NULL;
}

long sl_frame_find(const sl_frame *f, const char *name)
{
    if (!f || !f->nslots || !name)
        return -1;
    size_t mask = f->nslots - 1;
    for (size_t h = sl__name_hash(name) & mask; f->slots[h]; h = (h + 1) & mask) {
        size_t i = f->slots[h] - 1;
        if (strcmp(f->arrays[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

int sl__name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= SL_NAME_MAX || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

sl_status sl_frame_add(sl_frame *f, const char *name, sl_dtype dtype, int64_t cols, sl_error *err)
{
    if (!f)
        return sl__error_set(err, SL_ERR_USAGE, "sl_frame_add needs a frame");
    if (!sl__name_ok(name))
        return sl__error_set(err, SL_ERR_CONFIG,
                             "array name '%s' is not valid: use 1 to %d letters, digits, '_', '.' or '-', "
                             "not starting with '.' or '-'",
                             name ? name : "", SL_NAME_MAX - 1);
    if (f->n >= SL_MAX_ARRAYS)
        return sl__error_set(err, SL_ERR_CONFIG,
                             "a frame holds at most %d arrays; adding '%s' would exceed that (describe of describe "
                             "multiplies arrays: describe fewer arrays with 'arrays')",
                             SL_MAX_ARRAYS, name);
    if (sl_frame_find(f, name) >= 0)
        return sl__error_set(err, SL_ERR_CONFIG, "the frame already has an array named '%s'", name);
    if (sl_dtype_size(dtype) == 0)
        return sl__error_set(err, SL_ERR_INTERNAL, "array '%s' has no element type", name);
    if (cols < 1)
        return sl__error_set(err, SL_ERR_DATA, "array '%s' has %lld columns; an array needs at least one", name,
                             (long long)cols);
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 4;
        sl_array_info *a = realloc(f->arrays, cap * sizeof *a);
        if (!a)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory adding array '%s'", name);
        f->arrays = a;
        void **m = realloc(f->mem, cap * sizeof *m);
        if (!m)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory adding array '%s'", name);
        f->mem = m;
        unsigned char *b = realloc(f->borrowed, cap);
        if (!b)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory adding array '%s'", name);
        f->borrowed = b;
        unsigned char *x = realloc(f->f32_exact, cap);
        if (!x)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory adding array '%s'", name);
        f->f32_exact = x;
        attr_list *l = realloc(f->attrs, cap * sizeof *l);
        if (!l)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory adding array '%s'", name);
        f->attrs = l;
        char ***cn = realloc(f->columns, cap * sizeof *cn);
        if (!cn)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory adding array '%s'", name);
        f->columns = cn;
        f->cap = cap;
    }
    if (index_reserve(f) != 0)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory adding array '%s'", name);
    sl_array_info *a = &f->arrays[f->n];
    memset(a, 0, sizeof *a);
    strcpy(a->name, name);
    index_put(f->slots, f->nslots, a->name, f->n);
    a->dtype = dtype;
    a->cols = cols;
    f->mem[f->n] = NULL;
    f->borrowed[f->n] = 0;
    f->f32_exact[f->n] = 0;
    f->attrs[f->n] = (attr_list){0, NULL};
    f->columns[f->n] = NULL;
    f->n++;
    return SL_OK;
}

sl_status sl_frame_add_like(sl_frame *f, const sl_frame *src, size_t i, sl_dtype dtype, sl_error *err)
{
    if (!src || i >= src->n)
        return sl__error_set(err, SL_ERR_USAGE, "sl_frame_add_like: the source frame has no array %zu", i);
    const sl_array_info *a = &src->arrays[i];
    sl_status s = sl_frame_add(f, a->name, dtype ? dtype : a->dtype, a->cols, err);
    if (s == SL_OK && src->columns[i])
        s = sl_frame_set_columns(f, a->name, (const char *const *)src->columns[i], err);
    return s;
}

void sl_frame_set_rows(sl_frame *f, int64_t rows)
{
    f->rows = rows;
}

sl_status sl_frame_copy_schema(sl_frame *dst, const sl_frame *src, sl_error *err)
{
    if (dst->n != 0)
        return sl__error_set(err, SL_ERR_USAGE, "sl_frame_copy_schema needs an empty destination frame");
    for (size_t i = 0; i < src->n; i++) {
        sl_status s = sl_frame_add_like(dst, src, i, SL_DTYPE_NONE, err);
        if (s)
            return s;
    }
    dst->rows = src->rows;
    return SL_OK;
}

/* rows * cols * size without overflow; 0 on overflow. */
static size_t array_bytes(int64_t rows, int64_t cols, size_t size)
{
    if (rows < 0 || cols < 0)
        return 0;
    uint64_t r = (uint64_t)rows, c = (uint64_t)cols;
    if (c != 0 && r > SIZE_MAX / c)
        return 0;
    if (size != 0 && r * c > SIZE_MAX / size)
        return 0;
    return (size_t)(r * c * size);
}

sl_status sl_frame_set_data(sl_frame *f, const char *name, const void *data, sl_error *err)
{
    long i = sl_frame_find(f, name);
    if (i < 0)
        return sl__error_set(err, SL_ERR_USAGE, "the frame has no array named '%s'", name);
    if (f->rows < 0)
        return sl__error_set(err, SL_ERR_USAGE, "set the frame's rows before its data (array '%s')", name);
    size_t bytes = array_bytes(f->rows, f->arrays[i].cols, sl_dtype_size(f->arrays[i].dtype));
    if (bytes == 0 && f->rows != 0)
        return sl__error_set(err, SL_ERR_DATA, "array '%s' is too large to hold in memory", name);
    void *copy = malloc(bytes ? bytes : 1);
    if (!copy)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory holding array '%s' (%zu bytes)", name, bytes);
    if (bytes)
        memcpy(copy, data, bytes);
    sl__frame_take_mem(f, (size_t)i, copy);
    return SL_OK;
}

sl_status sl_frame_borrow_data(sl_frame *f, const char *name, const void *data, sl_error *err)
{
    if (!f || !name || !data)
        return sl__error_set(err, SL_ERR_USAGE, "sl_frame_borrow_data needs a frame, an array name and data");
    long i = sl_frame_find(f, name);
    if (i < 0)
        return sl__error_set(err, SL_ERR_USAGE, "the frame has no array named '%s'", name);
    if (f->rows < 0)
        return sl__error_set(err, SL_ERR_USAGE, "set the frame's rows before its data (array '%s')", name);
    sl__frame_take_mem(f, (size_t)i, (void *)data); /* never written through: the frame only reads it */
    f->borrowed[i] = 1;
    return SL_OK;
}

sl_status sl_frame_set_version(sl_frame *f, const char *version, sl_error *err)
{
    if (!f)
        return sl__error_set(err, SL_ERR_USAGE, "sl_frame_set_version needs a frame");
    char *copy = NULL;
    if (version && !(copy = strdup(version)))
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    free(f->version);
    f->version = copy;
    return SL_OK;
}

const char *sl_frame_version(const sl_frame *f)
{
    return f ? f->version : NULL;
}

sl_status sl__frame_content_id(const sl_frame *f, char *out, size_t size, sl_error *err)
{
    sl__hasher *h = sl__hasher_new();
    if (!h)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (f->version) {
        /* hashed: a key must not hold (or cut) a version of any length */
        char hex[SL_HASH_HEX];
        sl__hasher_add_str(h, f->version);
        sl__hasher_hex(h, hex);
        sl__hasher_free(h);
        snprintf(out, size, "version %s", hex);
        return SL_OK;
    }
    sl__hasher_add_i64(h, f->rows);
    for (size_t i = 0; i < f->n; i++) {
        const sl_array_info *a = &f->arrays[i];
        sl__hasher_add_str(h, a->name);
        sl__hasher_add_i64(h, a->dtype);
        sl__hasher_add_i64(h, a->cols);
        for (int64_t c = 0; f->columns[i] && c < a->cols; c++)
            sl__hasher_add_str(h, f->columns[i][c]);
        if (!f->mem[i]) {
            sl__hasher_free(h);
            return sl__error_set(err, SL_ERR_USAGE, "array '%s' of the frame has no data: set or borrow it first",
                                 a->name);
        }
        sl__hasher_add(h, f->mem[i], array_bytes(f->rows, a->cols, sl_dtype_size(a->dtype)));
    }
    char hex[SL_HASH_HEX];
    sl__hasher_hex(h, hex);
    sl__hasher_free(h);
    snprintf(out, size, "content %s", hex);
    return SL_OK;
}

sl_status sl_frame_copy(const sl_frame *src, sl_frame **out, sl_error *err)
{
    if (!src || !out)
        return sl__error_set(err, SL_ERR_USAGE, "sl_frame_copy needs a frame and an output pointer");
    *out = NULL;
    if (src->rows < 0)
        return sl__error_set(err, SL_ERR_USAGE, "the frame has no rows yet (its stage has not run)");
    sl_frame *f = sl_frame_new();
    if (!f)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = sl_frame_copy_schema(f, src, err);
    for (size_t i = 0; s == SL_OK && i < src->n; i++) {
        const sl_array_info *a = &src->arrays[i];
        size_t bytes = array_bytes(src->rows, a->cols, sl_dtype_size(a->dtype));
        void *buf = malloc(bytes ? bytes : 1);
        if (!buf || (bytes == 0 && src->rows != 0)) {
            free(buf);
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory copying array '%s'", a->name);
            break;
        }
        s = sl_frame_read_all(src, a->name, a->dtype, buf, array_bytes(src->rows, a->cols, 1), err);
        if (s == SL_OK)
            sl__frame_take_mem(f, i, buf);
        else
            free(buf);
        for (size_t k = 0; s == SL_OK && k < src->attrs[i].n; k++)
            s = sl_frame_set_attr(f, a->name, src->attrs[i].items[k].key, src->attrs[i].items[k].values,
                                  src->attrs[i].items[k].n, err);
    }
    if (s != SL_OK) {
        sl_frame_free(f);
        return s;
    }
    *out = f;
    return SL_OK;
}

sl_status sl_frame_read_all(const sl_frame *f, const char *name, sl_dtype as, void *buf, size_t buf_elems,
                            sl_error *err)
{
    if (!f || !buf)
        return sl__error_set(err, SL_ERR_USAGE, "sl_frame_read_all needs a frame and a buffer");
    long i = sl_frame_find(f, name);
    if (i < 0)
        return sl__error_set(err, SL_ERR_USAGE, "the frame has no array named '%s'", name);
    const sl_array_info *a = &f->arrays[i];
    size_t elems = array_bytes(f->rows, a->cols, 1);
    if (f->rows < 0 || elems > buf_elems)
        return sl__error_set(err, SL_ERR_USAGE, "array '%s' has %lld x %lld elements; the buffer holds %zu", name,
                             (long long)f->rows, (long long)a->cols, buf_elems);
    if (f->mem[i]) {
        sl__cast_result r = sl__cast(buf, as, f->mem[i], a->dtype, elems);
        if (r.bad)
            return sl__error_set(err, SL_ERR_DATA, "array '%s': value %zu does not fit in %s", name, r.first_bad,
                                 sl_dtype_name(as));
        return SL_OK;
    }
    /* under the lock: a checkpoint being committed moves from its temporary
     * name to its own under it (sl__frame_move_path_locked) */
    sl__h5_lock();
    sl_status s;
    if (!f->path && f->gen)
        s = sl__error_set(err, SL_ERR_USAGE,
                          "array '%s' is streamed, not stored: set 'checkpoint: true' on the stage that makes it "
                          "to read it whole",
                          name);
    else if (!f->path)
        s = sl__error_set(err, SL_ERR_USAGE, "array '%s' has no data yet (its stage has not run)", name);
    else
        s = sl__h5_read_whole_locked(f->path, sl__frame_dataset(f, (size_t)i), as, f->rows, a->cols, buf, err);
    sl__h5_unlock();
    return s;
}

void sl__frame_take_mem(sl_frame *f, size_t i, void *buf)
{
    if (!f->borrowed[i])
        free(f->mem[i]);
    f->mem[i] = buf;
    f->borrowed[i] = 0;
}

const void *sl__frame_mem(const sl_frame *f, size_t i)
{
    return i < f->n ? f->mem[i] : NULL;
}

const char *sl__frame_path(const sl_frame *f)
{
    return f->path;
}

sl_status sl__frame_set_path(sl_frame *f, const char *path, sl_error *err)
{
    char *p = strdup(path);
    if (!p)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    free(f->path);
    f->path = p;
    return SL_OK;
}

void sl__frame_move_path_locked(sl_frame *f, char *path)
{
    free(f->old_path);
    f->old_path = f->path;
    f->path = path;
}

sl_status sl__frame_set_datasets(sl_frame *f, const char *const *names, sl_error *err)
{
    char **d = calloc(f->n ? f->n : 1, sizeof *d);
    if (!d)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < f->n; i++)
        if (!(d[i] = strdup(names[i]))) {
            for (size_t k = 0; k < i; k++)
                free(d[k]);
            free(d);
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        }
    for (size_t i = 0; f->dsets && i < f->n; i++)
        free(f->dsets[i]);
    free(f->dsets);
    f->dsets = d;
    return SL_OK;
}

const char *sl__frame_dataset(const sl_frame *f, size_t i)
{
    return f->dsets && f->dsets[i] ? f->dsets[i] : f->arrays[i].name;
}

void sl__frame_set_writer(sl_frame *f, struct sl__ckpt_writer *w)
{
    f->writer = w;
}

struct sl__ckpt_writer *sl__frame_writer(const sl_frame *f)
{
    return f->writer;
}

sl_status sl_frame_set_attr(sl_frame *f, const char *array, const char *key, const double *values, size_t n,
                            sl_error *err)
{
    long i = sl_frame_find(f, array);
    if (i < 0)
        return sl__error_set(err, SL_ERR_USAGE, "the frame has no array named '%s'", array);
    if (!sl__name_ok(key))
        return sl__error_set(err, SL_ERR_USAGE, "attribute name '%s' is not valid", key ? key : "");
    double *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (n)
        memcpy(copy, values, n * sizeof *copy);
    attr_list *l = &f->attrs[i];
    for (size_t k = 0; k < l->n; k++)
        if (strcmp(l->items[k].key, key) == 0) {
            free(l->items[k].values);
            l->items[k].values = copy;
            l->items[k].n = n;
            return SL_OK;
        }
    frame_attr *items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items) {
        free(copy);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    l->items = items;
    snprintf(items[l->n].key, sizeof items[l->n].key, "%s", key);
    items[l->n].n = n;
    items[l->n].values = copy;
    l->n++;
    return SL_OK;
}

const double *sl_frame_attr(const sl_frame *f, const char *array, const char *key, size_t *n)
{
    long i = sl_frame_find(f, array);
    if (i < 0)
        return NULL;
    const attr_list *l = &f->attrs[i];
    for (size_t k = 0; k < l->n; k++)
        if (strcmp(l->items[k].key, key) == 0) {
            if (n)
                *n = l->items[k].n;
            return l->items[k].values;
        }
    return NULL;
}

size_t sl_frame_attr_count(const sl_frame *f, size_t i)
{
    return i < f->n ? f->attrs[i].n : 0;
}

const char *sl_frame_attr_key(const sl_frame *f, size_t i, size_t k)
{
    return i < f->n && k < f->attrs[i].n ? f->attrs[i].items[k].key : NULL;
}

sl_status sl_frame_set_columns(sl_frame *f, const char *array, const char *const *names, sl_error *err)
{
    long i = sl_frame_find(f, array);
    if (i < 0)
        return sl__error_set(err, SL_ERR_USAGE, "the frame has no array named '%s'", array);
    int64_t cols = f->arrays[i].cols;
    char **copy = calloc((size_t)cols, sizeof *copy);
    if (!copy)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < cols; c++) {
        copy[c] = strdup(names[c] ? names[c] : "");
        if (!copy[c]) {
            free_columns(copy, cols);
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        }
    }
    free_columns(f->columns[i], cols);
    f->columns[i] = copy;
    return SL_OK;
}

const char *sl_frame_column(const sl_frame *f, size_t i, int64_t col)
{
    if (!f || i >= f->n || !f->columns[i] || col < 0 || col >= f->arrays[i].cols)
        return NULL;
    return f->columns[i][col];
}

sl_status sl__frame_set_generator(sl_frame *f, const struct sl_pass *pass, sl_error *err)
{
    struct sl_pass *copy = malloc(sizeof *copy);
    if (!copy)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    memcpy(copy, pass, sizeof *copy);
    free(f->gen);
    f->gen = copy;
    f->gen_partial = 0;
    f->gen_row_local = 0;
    f->gen_widens = 0;
    f->gen_any_float = 0;
    return SL_OK;
}

sl_status sl__frame_set_layout(sl_frame *f, const int64_t *sizes, int64_t n, sl_error *err)
{
    int64_t *copy = NULL, *end = NULL;
    if (sizes && n > 0) {
        copy = malloc((size_t)n * sizeof *copy);
        end = malloc((size_t)n * sizeof *end);
        if (!copy || !end) {
            free(copy);
            free(end);
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory for a layout of %lld chunks", (long long)n);
        }
        int64_t row = 0;
        for (int64_t c = 0; c < n; c++) {
            copy[c] = sizes[c];
            end[c] = row += sizes[c];
        }
    }
    free(f->layout);
    free(f->layout_end);
    f->layout = copy;
    f->layout_end = end;
    f->nlayout = copy ? n : 0;
    return SL_OK;
}

const int64_t *sl__frame_layout(const sl_frame *f, int64_t *n)
{
    *n = f->nlayout;
    return f->layout;
}

int64_t sl__frame_chunks(const sl_frame *f, int64_t chunk_rows)
{
    if (f->layout)
        return f->nlayout;
    return f->rows > 0 ? (f->rows + chunk_rows - 1) / chunk_rows : 0;
}

void sl__frame_chunk_span(const sl_frame *f, int64_t chunk_rows, int64_t c, int64_t *row0, int64_t *rows)
{
    if (f->layout) {
        *row0 = f->layout_end[c] - f->layout[c];
        *rows = f->layout[c];
        return;
    }
    *row0 = c * chunk_rows;
    *rows = f->rows - *row0 < chunk_rows ? f->rows - *row0 : chunk_rows;
}

const struct sl_pass *sl__frame_generator(const sl_frame *f)
{
    return f->gen;
}

void sl__frame_set_partial_source(sl_frame *f)
{
    f->gen_partial = f->gen && !f->gen->input && f->gen->read;
}

int sl__frame_partial_source(const sl_frame *f)
{
    return f->gen_partial;
}

void sl__frame_set_row_local(sl_frame *f)
{
    f->gen_row_local = f->gen && f->gen->input && f->gen->chunk;
}

int sl__frame_row_local(const sl_frame *f)
{
    return f->gen_row_local;
}

void sl__frame_set_f32_exact(sl_frame *f, size_t i)
{
    if (i < f->n && f->arrays[i].dtype == SL_FLOAT64)
        f->f32_exact[i] = 1;
}

int sl__frame_f32_exact(const sl_frame *f, size_t i)
{
    return i < f->n && f->f32_exact[i];
}

void sl__frame_set_widening(sl_frame *f)
{
    f->gen_widens = f->gen_row_local;
}

int sl__frame_widening(const sl_frame *f)
{
    return f->gen_widens;
}

void sl__frame_set_any_float(sl_frame *f)
{
    f->gen_any_float = f->gen_row_local;
}

int sl__frame_any_float(const sl_frame *f)
{
    return f->gen_any_float;
}
