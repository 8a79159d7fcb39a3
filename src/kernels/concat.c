#include <string.h>
#include "kernels/cast.h"
#include "kernels/concat.h"

sl_dtype sl__dtype_common(sl_dtype a, sl_dtype b)
{
    if (a == b)
        return a;
    int fa = sl_dtype_is_float(a), fb = sl_dtype_is_float(b);
    if (fa && fb)
        return a == SL_FLOAT64 || b == SL_FLOAT64 ? SL_FLOAT64 : SL_FLOAT32;
    if (fa || fb) {
        sl_dtype f = fa ? a : b, i = fa ? b : a;
        /* float32 has 24 bits of mantissa: exact for 16-bit integers only */
        return f == SL_FLOAT32 && sl_dtype_size(i) <= 2 ? SL_FLOAT32 : SL_FLOAT64;
    }
    int sa = sl_dtype_is_signed(a), sb = sl_dtype_is_signed(b);
    size_t za = sl_dtype_size(a), zb = sl_dtype_size(b);
    if (sa == sb)
        return za >= zb ? a : b;
    size_t zs = sa ? za : zb, zu = sa ? zb : za;
    if (zu < zs)
        return sa ? a : b;
    /* a signed type twice the unsigned one's size holds both */
    switch (zu) {
    case 1: return SL_INT16;
    case 2: return SL_INT32;
    case 4: return SL_INT64;
    default: return SL_FLOAT64;
    }
}

void sl__concat_cols(void *dst, sl_dtype dst_t, int64_t dst_cols, int64_t col0, const void *src, sl_dtype src_t,
                     int64_t src_cols, int64_t rows)
{
    const size_t dz = sl_dtype_size(dst_t), sz = sl_dtype_size(src_t);
    char *d = (char *)dst + (size_t)col0 * dz;
    const char *s = src;
    for (int64_t r = 0; r < rows; r++) {
        if (dst_t == src_t)
            memcpy(d, s, (size_t)src_cols * sz);
        else
            sl__cast(d, dst_t, s, src_t, (size_t)src_cols);
        d += (size_t)dst_cols * dz;
        s += (size_t)src_cols * sz;
    }
}
