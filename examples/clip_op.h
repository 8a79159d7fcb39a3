/* The example op "example.clip_abs" (clip_op.c). */
#ifndef EXAMPLE_CLIP_OP_H
#define EXAMPLE_CLIP_OP_H

#include <sluice/op.h>

extern const sl_op example_clip_op;

#endif
