// The packed fp32 linears' layouts (packed_linear.c), shared with the kernels that write their inputs.
#ifndef DISTILBERT_PACKED_H
#define DISTILBERT_PACKED_H

#include <stdint.h>

#include "vecmath.h"

// Weight panels of PW output features; x in panels of MR tokens (the micro-kernel's tile is MR x PW).
#define PW (2 * DBK_VW)
#if DBK_VW == 16
#define MR 12
#else
#define MR 6
#endif

// Panel q of x in the linears' x layout: xp + q * K * MR = [K, MR], holding x[q * MR + r][k] at k * MR + r,
// rows past M zero. x: [M, K] row-major; xp: dbk_packed_linear_scratch_floats(M, K) floats.
void dbk_pack_x_panel(const float *x, int32_t M, int32_t K, int32_t q, float *xp);

#endif
