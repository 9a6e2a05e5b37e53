// Internal to the kernels (not part of the FFI surface): choices made from the CPU at run time that the
// fp32 tile (packed_linear.c) and the AVX-512 bf16 / int8 tiles (lowp_x86.c) share.
#ifndef DISTILBERT_CPU_H
#define DISTILBERT_CPU_H

#include <stdint.h>

// How an AVX-512 tile takes each token's x: 1, broadcast once into a register that the row's two
// multiply-adds share; 0, as an embedded broadcast ({1to16}) in each of them. The same arithmetic and
// results either way; the speed differs by CPU. Each form needs a load per broadcast; the embedded one
// needs two per row, and AMD Zen 5 issues too few loads per cycle for those (a 12 x 32 tile in L1 at ~0.91
// of the FMA peak, 0.99 with one broadcast per row), while on Sapphire Rapids a broadcast into a register
// also takes a shuffle port that the tile then waits on (~0.75). So: 1 on AMD CPUs (measured on Zen 5
// only), 0 elsewhere.
int32_t dbk_x_in_register(void);
// Tests only: 0 or 1 makes dbk_x_in_register return that, -1 goes back to the CPU's choice. Set while no
// kernel runs.
void dbk_force_x_in_register(int32_t mode);

#endif
