#include <string.h>
#include "sluice/frame.h"

static const struct {
    const char *name;
    size_t size;
} dtype_table[SL_DTYPE_COUNT] = {
    [SL_DTYPE_NONE] = {"none", 0},      [SL_INT8] = {"int8", 1},       [SL_INT16] = {"int16", 2},
    [SL_INT32] = {"int32", 4},          [SL_INT64] = {"int64", 8},     [SL_UINT8] = {"uint8", 1},
    [SL_UINT16] = {"uint16", 2},        [SL_UINT32] = {"uint32", 4},   [SL_UINT64] = {"uint64", 8},
    [SL_FLOAT32] = {"float32", 4},      [SL_FLOAT64] = {"float64", 8},
};

size_t sl_dtype_size(sl_dtype t)
{
    return (t > SL_DTYPE_NONE && t < SL_DTYPE_COUNT) ? dtype_table[t].size : 0;
}

const char *sl_dtype_name(sl_dtype t)
{
    return (t >= SL_DTYPE_NONE && t < SL_DTYPE_COUNT) ? dtype_table[t].name : "none";
}

sl_dtype sl_dtype_from_name(const char *name)
{
    if (!name)
        return SL_DTYPE_NONE;
    for (int t = SL_INT8; t < SL_DTYPE_COUNT; t++)
        if (strcmp(name, dtype_table[t].name) == 0)
            return (sl_dtype)t;
    /* NumPy's short spellings and C names, as users type them */
    static const struct {
        const char *alias;
        sl_dtype t;
    } aliases[] = {
        {"f4", SL_FLOAT32}, {"f8", SL_FLOAT64}, {"float", SL_FLOAT32}, {"double", SL_FLOAT64},
        {"i1", SL_INT8},    {"i2", SL_INT16},   {"i4", SL_INT32},      {"i8", SL_INT64},
        {"u1", SL_UINT8},   {"u2", SL_UINT16},  {"u4", SL_UINT32},     {"u8", SL_UINT64},
        {"int", SL_INT64},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0)
            return aliases[i].t;
    return SL_DTYPE_NONE;
}

int sl_dtype_is_float(sl_dtype t)
{
    return t == SL_FLOAT32 || t == SL_FLOAT64;
}

int sl_dtype_is_signed(sl_dtype t)
{
    return (t >= SL_INT8 && t <= SL_INT64) || sl_dtype_is_float(t);
}
