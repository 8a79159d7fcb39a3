/* Private: one loop body per element type. SL_DISPATCH_DTYPE(t, M) expands
 * M(ctype) for the C type of dtype t, so each kernel compiles to a tight loop
 * per type instead of converting element by element. */
#ifndef SL_DISPATCH_H
#define SL_DISPATCH_H

#include <stdint.h>
#include "sluice/frame.h"

#define SL_DISPATCH_DTYPE(t, M)                                                                             \
    switch (t) {                                                                                           \
    case SL_INT8: M(int8_t); break;                                                                        \
    case SL_INT16: M(int16_t); break;                                                                      \
    case SL_INT32: M(int32_t); break;                                                                      \
    case SL_INT64: M(int64_t); break;                                                                      \
    case SL_UINT8: M(uint8_t); break;                                                                      \
    case SL_UINT16: M(uint16_t); break;                                                                    \
    case SL_UINT32: M(uint32_t); break;                                                                    \
    case SL_UINT64: M(uint64_t); break;                                                                    \
    case SL_FLOAT32: M(float); break;                                                                      \
    case SL_FLOAT64: M(double); break;                                                                     \
    default: break;                                                                                        \
    }

#endif
