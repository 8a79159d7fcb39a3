#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "core/frame_int.h"
#include "io/h5util.h"
#include "kernels/cast.h"

struct sl_frame {
    int64_t rows;
    size_t n, cap;
    sl_array_info *arrays;
    void **mem;
    char *path;
    struct sl__ckpt_writer *writer;
};

sl_frame *sl_frame_new(void)
{
    sl_frame *f = calloc(1, sizeof *f);
    if (f)
        f->rows = -1;
    return f;
}

void sl__frame_drop_data(sl_frame *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->mem[i]);
        f->mem[i] = NULL;
    }
    free(f->path);
    f->path = NULL;
}

void sl_frame_free(sl_frame *f)
{
    if (!f)
        return;
    sl__frame_drop_data(f);
    free(f->mem);
    free(f->arrays);
    free(f);
}

int64_t sl_frame_rows(const sl_frame *f)
{
    return f->rows;
}

size_t sl_frame_count(const sl_frame *f)
{
    return f->n;
}

const sl_array_info *sl_frame_array(const sl_frame *f, size_t i)
{
    return i < f->n ? &f->arrays[i] : NULL;
}

long sl_frame_find(const sl_frame *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->arrays[i].name, name) == 0)
            return (long)i;
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
    if (!sl__name_ok(name))
        return sl__error_set(err, SL_ERR_CONFIG,
                             "array name '%s' is not valid: use 1 to %d letters, digits, '_', '.' or '-', "
                             "not starting with '.' or '-'",
                             name ? name : "", SL_NAME_MAX - 1);
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
        f->cap = cap;
    }
    sl_array_info *a = &f->arrays[f->n];
    memset(a, 0, sizeof *a);
    strcpy(a->name, name);
    a->dtype = dtype;
    a->cols = cols;
    f->mem[f->n] = NULL;
    f->n++;
    return SL_OK;
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
        sl_status s = sl_frame_add(dst, src->arrays[i].name, src->arrays[i].dtype, src->arrays[i].cols, err);
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
    free(f->mem[i]);
    f->mem[i] = copy;
    return SL_OK;
}

sl_status sl_frame_read_all(const sl_frame *f, const char *name, sl_dtype as, void *buf, size_t buf_elems,
                            sl_error *err)
{
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
    if (!f->path)
        return sl__error_set(err, SL_ERR_USAGE, "array '%s' has no data yet (its stage has not run)", name);
    return sl__h5_read_whole(f->path, name, as, f->rows, a->cols, buf, err);
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

void sl__frame_set_writer(sl_frame *f, struct sl__ckpt_writer *w)
{
    f->writer = w;
}

struct sl__ckpt_writer *sl__frame_writer(const sl_frame *f)
{
    return f->writer;
}
